#!/bin/sh
# hvsim as a user meets it: bad scenario files are refused with file, line
# and reason (exit 2); good ones produce the documented table and JSON.
. tests/cli/lib.sh
HVSIM=build/bin/hvsim
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# expect_error NAME LINE PATTERN TEXT  (TEXT: printf format of the file)
expect_error() {
	name=$1 line=$2 pattern=$3
	# shellcheck disable=SC2059
	printf "$4" "$good" >"$tmp/$name.scn"
	out=$("$HVSIM" "$tmp/$name.scn" 2>&1)
	rc=$?
	if [ "$rc" -ne 2 ]; then
		not_ok "$name" "exit status $rc, want 2; output: $out"
	elif ! printf '%s' "$out" | grep -qF "$tmp/$name.scn:$line: "; then
		not_ok "$name" "message lacks file:$line: $out"
	elif ! printf '%s' "$out" | grep -qF "$pattern"; then
		not_ok "$name" "message lacks '$pattern': $out"
	else
		ok "$name"
	fi
}

good='domain name=a cpu_weight=256 workload=cpu'

expect_error unknown_key_rejected 2 "unknown key 'cpu_wieght'" \
	'%s\ndomain name=b cpu_wieght=256 workload=cpu\n'
expect_error bad_number_rejected 1 "cpu_weight: '25x' is not" \
	'domain name=b cpu_weight=25x workload=cpu\n'
expect_error negative_number_rejected 1 "is not a non-negative" \
	'domain name=b cpu_weight=-5 workload=cpu\n'
expect_error overflowing_number_rejected 1 "is not a non-negative" \
	'domain name=b warp_us=99999999999999999999999 workload=cpu\n'
expect_error weight_zero_out_of_range 1 "cpu_weight=0 out of range 1..65535" \
	'domain name=b cpu_weight=0 workload=cpu\n'
expect_error weight_too_big_out_of_range 1 "out of range 1..65535" \
	'domain name=b cpu_weight=65536 workload=cpu\n'
expect_error cap_over_100_out_of_range 1 "cpu_cap_pct=101 out of range" \
	'domain name=b cpu_cap_pct=101 workload=cpu\n'
expect_error duplicate_name_rejected 3 "duplicate domain name 'a' (first defined on line 1)" \
	'%s\n# a comment line\ndomain name=a workload=cpu\n'
expect_error key_given_twice_rejected 1 "key 'cpu_weight' given twice" \
	'domain name=b cpu_weight=1 cpu_weight=2 workload=cpu\n'
expect_error key_for_other_workload_rejected 1 "'period_us' does not apply to workload cpu" \
	'domain name=b workload=cpu period_us=100\n'
expect_error missing_required_key_rejected 1 "workload periodic needs burst_us=" \
	'domain name=b workload=periodic period_us=100\n'
expect_error burst_longer_than_period_rejected 1 "burst_us (200) exceeds period_us (100)" \
	'domain name=b workload=periodic period_us=100 burst_us=200\n'
expect_error unknown_workload_rejected 1 "unknown workload 'gpu'" \
	'domain name=b workload=gpu\n'
expect_error bad_name_rejected 1 "must be 1..31 characters" \
	'domain name=b/c workload=cpu\n'
expect_error unknown_directive_rejected 2 "unknown directive 'duration'" \
	'%s\nduration 5\n'
expect_error duplicate_directive_rejected 2 "duration_ms given twice" \
	'duration_ms 5\nduration_ms 6\n%s\n'
expect_error empty_scenario_rejected 1 "no domain lines" \
	'# nothing here\n'

out=$("$HVSIM" "$tmp/does-not-exist.scn" 2>&1); rc=$?
if [ $rc -eq 2 ] && printf '%s' "$out" | grep -q "No such file"; then
	ok missing_file_exit_2
else
	not_ok missing_file_exit_2 "rc=$rc out=$out"
fi
"$HVSIM" --bogus x >/dev/null 2>&1; rc=$?
if [ $rc -eq 2 ]; then ok unknown_option_exit_2; else not_ok unknown_option_exit_2 "rc=$rc"; fi

# the demo scenario: JSON has every documented field, time adds up exactly
cat >"$tmp/check.py" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
for k in ("duration_ns", "idle_ns", "decisions", "domains"):
    assert k in r, k
total = r["idle_ns"]
for d in r["domains"]:
    for k in ("name", "cpu_weight", "cpu_ns", "share", "ready_ns",
              "dispatches", "wakeups"):
        assert k in d, (d["name"], k)
    total += d["cpu_ns"]
    blocks = d["workload"] != "cpu"
    assert ("wake_latency_ns" in d) == blocks, d["name"]
    if blocks:
        assert set(d["wake_latency_ns"]) >= {"p50", "p99", "max"}
assert total == r["duration_ns"], (total, r["duration_ns"])
by = {d["name"]: d for d in r["domains"]}
assert by["batch"]["share"] <= 0.255, by["batch"]
assert by["voip"]["wake_latency_ns"]["p99"] <= 100000
PY
if "$HVSIM" --json --check config/demo.scenario >"$tmp/out.json" &&
	python3 "$tmp/check.py" "$tmp/out.json" 2>"$tmp/py.err"; then
	ok demo_json_complete_and_time_accounted_exactly
else
	not_ok demo_json_complete_and_time_accounted_exactly "$(cat "$tmp/py.err")"
fi
if "$HVSIM" config/demo.scenario | grep -q '^voip .*periodic'; then
	ok demo_table_lists_domains
else
	not_ok demo_table_lists_domains "no voip row"
fi

# io workload: bad keys are refused like the others
expect_error io_unknown_key_rejected 1 "unknown key 'io_bsp'" \
	'domain name=b workload=io req_bytes=4096 io_bsp=1000\n'
expect_error io_rate_out_of_range 1 "io_bps=12500000001 out of range 0..12500000000" \
	'domain name=b workload=io req_bytes=4096 io_bps=12500000001\n'
expect_error io_burst_out_of_range 1 "io_burst_bytes=1099511627777 out of range" \
	'domain name=b workload=io req_bytes=4096 io_bps=1000000 io_burst_bytes=1099511627777\n'
expect_error io_queue_depth_zero_out_of_range 1 "queue_depth=0 out of range 1..256" \
	'domain name=b workload=io req_bytes=4096 queue_depth=0\n'
expect_error io_mix_over_100_out_of_range 1 "io_mix=101 out of range 0..100" \
	'domain name=b workload=io req_bytes=4096 io_mix=101\n'
expect_error io_req_bytes_not_sector_multiple 2 "req_bytes=1000 is not a multiple of 512" \
	'%s\ndomain name=b workload=io req_bytes=1000\n'
expect_error io_req_bytes_too_big 1 "req_bytes=4194816 out of range 512..4194304" \
	'domain name=b workload=io req_bytes=4194816\n'
expect_error io_req_bytes_required 1 "workload io needs req_bytes=" \
	'domain name=b workload=io io_bps=1000000\n'
expect_error io_key_on_cpu_workload_rejected 1 "'io_bps' does not apply to workload cpu" \
	'domain name=b workload=cpu io_bps=1000000\n'
expect_error io_burst_without_rate_rejected 1 "io_burst_ops needs io_iops" \
	'domain name=b workload=io req_bytes=4096 io_burst_ops=10\n'

# io domains: JSON carries the I/O figures, achieved rates match the limit
cat >"$tmp/io.scn" <<'SCN'
duration_ms 2000
domain name=web cpu_weight=256 workload=cpu
domain name=db cpu_weight=256 workload=io req_bytes=4096 io_bps=10000000 queue_depth=16 io_mix=70
SCN
cat >"$tmp/io.py" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
by = {d["name"]: d for d in r["domains"]}
db = by["db"]
for k in ("io_bytes", "io_ops", "io_throttled_ns", "io_bps", "io_iops",
          "io_read_ops", "io_write_ops", "io_queued", "io_inflight"):
    assert k in db, k
assert "io_bytes" not in by["web"], "io fields on a cpu domain"
assert abs(db["io_bps"] / 10e6 - 1) < 0.01, db["io_bps"]
assert db["io_throttled_ns"] > 0, db
assert db["io_issued"] == db["io_ops"] + db["io_queued"] + db["io_inflight"]
assert r["idle_ns"] + sum(d["cpu_ns"] for d in r["domains"]) == r["duration_ns"]
PY
if "$HVSIM" --json --check "$tmp/io.scn" >"$tmp/io.json" &&
	python3 "$tmp/io.py" "$tmp/io.json" 2>"$tmp/py.err"; then
	ok io_json_reports_bytes_ops_throttling_and_rates
else
	not_ok io_json_reports_bytes_ops_throttling_and_rates "$(cat "$tmp/py.err")"
fi
if "$HVSIM" "$tmp/io.scn" | grep -q '^db .* 10\.000 '; then
	ok io_table_lists_io_domain_with_limit
else
	not_ok io_table_lists_io_domain_with_limit "no db row in the io table"
fi
done_testing
