#!/bin/sh
# hvboot as a user meets it: the hypervisor's end-of-run report is read
# exactly (values, shares, exit reasons with spaces), a damaged report is an
# error naming its line, and every way a QEMU run can end maps to its own
# exit status. QEMU itself is replaced by a stand-in script (HVBOOT_QEMU),
# except in the last tests, which boot the real hypervisor when it is built.
. tests/cli/lib.sh
HVBOOT=build/bin/hvboot
FIX=tests/cli/fixtures/hvboot
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# --- parsing a COM1 log ---

cat >"$tmp/good.py" <<'PY'
import json, sys
raw = open(sys.argv[1]).read()
r = json.loads(raw)
assert r["boot"] is None, r["boot"]
assert (r["elapsed_ns"], r["idle_ns"], r["hv_ns"], r["tsc_hz"]) == \
    (5000000000, 123, 456, 1000000000), r
assert r["bench"] == {"native_units": 123456, "native_ns": 100000000,
                      "native_check": 42}, r["bench"]
assert r["refused"] == [
    {"module": 4, "name": None,
     "reason": "memory_mb must be an integer 1..65536"},
    {"module": 3, "name": "huge-2",
     "reason": "out of memory: 64 MiB wanted, 12 MiB free"}], r["refused"]
d = {x["name"]: x for x in r["domains"]}
assert [x["id"] for x in r["domains"]] == [1, 2, 3]
w, v, b = d["web1"], d["voip"], d["bad"]
assert (w["state"], w["sched_state"], w["exit_reason"]) == \
    ("running", "running", None), w
assert (v["state"], v["sched_state"]) == ("running", "blocked"), v
assert (b["state"], b["sched_state"]) == ("killed", "killed"), b
assert b["exit_reason"] == \
    "#GP general protection at rip=0x401234 (privileged instruction?)", b
assert w["report"] == {"units": 123456}, w["report"]
assert v["report"] == {"wakes": 500, "p99_ns": 20000}, v["report"]
assert b["report"] == {}, b["report"]
assert (v["cpu_ns"], v["ready_ns"], v["warped_ns"], v["dispatches"],
        v["wakeups"], v["hypercalls"], v["cpu_weight"]) == \
    (2500000000, 1000, 2400000000, 500, 500, 1003, 256), v
assert b["cpu_weight"] == 512
# six decimals, rounded (not truncated), printed from integers
for s in ('"share":0.142857', '"share":0.500000', '"share":0.357143'):
    assert s in raw, s
assert sum(x["cpu_ns"] for x in r["domains"]) + r["idle_ns"] + r["hv_ns"] \
    == r["elapsed_ns"]
PY
if "$HVBOOT" --parse-log "$FIX/good.log" --json >"$tmp/good.json" &&
	python3 "$tmp/good.py" "$tmp/good.json" 2>"$tmp/py.err"; then
	ok report_values_states_and_shares_read_exactly
else
	not_ok report_values_states_and_shares_read_exactly "$(cat "$tmp/py.err")"
fi

# the hypervisor ends lines with CR LF
sed 's/$/\r/' "$FIX/good.log" >"$tmp/crlf.log"
if "$HVBOOT" --parse-log "$tmp/crlf.log" --json >"$tmp/crlf.json" &&
	cmp -s "$tmp/good.json" "$tmp/crlf.json"; then
	ok crlf_log_reads_the_same
else
	not_ok crlf_log_reads_the_same "$(diff "$tmp/good.json" "$tmp/crlf.json")"
fi

out=$("$HVBOOT" --parse-log "$FIX/good.log")
if printf '%s\n' "$out" | grep -qF \
	'exit: #GP general protection at rip=0x401234 (privileged instruction?)' &&
	printf '%s\n' "$out" | grep -q '^voip  *blocked  *256 .* 50\.00 ' &&
	printf '%s\n' "$out" | grep -q 'every ns accounted exactly'; then
	ok table_shows_states_shares_exit_reason_and_accounting
else
	not_ok table_shows_states_shares_exit_reason_and_accounting "$out"
fi
sed 's/idle_ns=123/idle_ns=124/' "$FIX/good.log" >"$tmp/off.log"
if "$HVBOOT" --parse-log "$tmp/off.log" | grep -q 'MISMATCH'; then
	ok table_flags_time_not_accounted
else
	not_ok table_flags_time_not_accounted "no MISMATCH"
fi

# expect_bad NAME LINE PATTERN SED  (SED: edit of good.log making it bad)
expect_bad() {
	name=$1 line=$2 pattern=$3
	sed "$4" "$FIX/good.log" >"$tmp/$name.log"
	out=$("$HVBOOT" --parse-log "$tmp/$name.log" --json 2>&1)
	rc=$?
	if [ "$rc" -ne 5 ]; then
		not_ok "$name" "exit status $rc, want 5; output: $out"
	elif ! printf '%s' "$out" | grep -qF "$tmp/$name.log:$line: "; then
		not_ok "$name" "message lacks file:$line: $out"
	elif ! printf '%s' "$out" | grep -qF -- "$pattern"; then
		not_ok "$name" "message lacks '$pattern': $out"
	else
		ok "$name"
	fi
}

out=$("$HVBOOT" --parse-log "$FIX/truncated.log" --json 2>&1); rc=$?
if [ $rc -eq 5 ] && printf '%s' "$out" | grep -qF "report truncated"; then
	ok truncated_report_is_an_error
else
	not_ok truncated_report_is_an_error "rc=$rc out=$out"
fi
out=$("$HVBOOT" --parse-log "$FIX/panic.log" 2>&1); rc=$?
if [ $rc -eq 5 ] && printf '%s' "$out" | grep -qF "no report"; then
	ok log_without_report_is_an_error
else
	not_ok log_without_report_is_an_error "rc=$rc out=$out"
fi
expect_bad bad_number_rejected 12 "cpu_ns=7142x is not a 64-bit unsigned integer" \
	'12s/cpu_ns=714285714/cpu_ns=7142x/'
expect_bad overflowing_number_rejected 11 "is not a 64-bit unsigned integer" \
	'11s/elapsed_ns=5000000000/elapsed_ns=18446744073709551616/'
expect_bad unknown_field_rejected 11 "unknown field 'extra'" \
	'11s/$/ extra=1/'
expect_bad missing_field_rejected 12 "missing field 'hypercalls'" \
	'12s/ hypercalls=3//'
expect_bad field_after_exit_reason_rejected 12 "exit_reason= must be the last field" \
	'12s/ mem_page_ns=\([0-9]*\) exit_reason=-/ exit_reason=- mem_page_ns=\1/'
expect_bad field_twice_rejected 12 "field 'wakeups' given twice" \
	'12s/wakeups=1/wakeups=1 wakeups=2/'
expect_bad unknown_state_rejected 12 "state=zombie is not" \
	'12s/state=running/state=zombie/'
expect_bad domain_count_mismatch_rejected 18 "announced 4 domains, 3 reported" \
	'11s/domains=3/domains=4/'
expect_bad kv_for_unknown_domain_rejected 13 "id=9, which no earlier @domain" \
	'13s/id=1/id=9/'
expect_bad duplicate_domain_id_rejected 14 "domain id=1 reported twice" \
	'14s/id=2/id=1/'
expect_bad unknown_report_line_rejected 3 "unknown report line '@benchmark'" \
	'3s/@bench/@benchmark/'
expect_bad bench_value_not_a_number_rejected 3 "bench native_check=4x is not a number" \
	'3s/native_check=42/native_check=4x/'
expect_bad report_line_after_end_rejected 20 "after @report end" \
	'$a @kv id=1 key=late value=1'
expect_bad domain_outside_report_rejected 3 "@domain outside @report begin .. end" \
	'3s/.*/@domain id=1/'
expect_bad empty_exit_reason_rejected 17 "exit_reason is empty" \
	'17s/exit_reason=.*/exit_reason=/'

# --- booting: QEMU replaced by a stand-in ---

img=$tmp/images
mkdir -p "$img" "$tmp/t"
: >"$img/cpuhog.elf"
printf 'not a real kernel\n' >"$tmp/k.bin"
cat >"$tmp/a.conf" <<'EOF'
[domain a]
image = cpuhog
[domain b]
image = cpuhog
cpu_weight = 512
EOF
export HVBOOT_QEMU="$PWD/$FIX/fake-qemu.sh" TMPDIR="$tmp/t"
boot() {
	"$HVBOOT" --config "$tmp/a.conf" --kernel "$tmp/k.bin" \
		--images "$img" "$@"
}

FAKE_QEMU_ARGS=$tmp/args FAKE_QEMU_LOG=$FIX/good.log FAKE_QEMU_STATUS=1 \
	boot --run-ms 250 --json --append loglevel=3 >"$tmp/boot.json" 2>"$tmp/err"
rc=$?
if [ $rc -eq 0 ] && grep -q '^{"boot":"kernel","elapsed_ns":5000000000,' "$tmp/boot.json"; then
	ok normal_end_prints_report
else
	not_ok normal_end_prints_report "rc=$rc $(cat "$tmp/err" "$tmp/boot.json")"
fi
want="-accel tcg -cpu max -m 256 -smp 1 -display none -no-reboot -nodefaults"
want="$want -icount shift=0,sleep=off"
want="$want -device isa-debug-exit,iobase=0xf4,iosize=0x04"
got=$(paste -sd' ' "$tmp/args")
case $got in
"$want -serial file:"*" -serial null -kernel $tmp/k.bin -append ctx_allow_us=2000 run_ms=250 loglevel=2 loglevel=3 -initrd $img/cpuhog.elf name=a "*",$img/cpuhog.elf name=b "*)
	ok qemu_runs_deterministic_tcg_machine_with_config ;;
*) not_ok qemu_runs_deterministic_tcg_machine_with_config "args: $got" ;;
esac

FAKE_QEMU_LOG=$FIX/panic.log FAKE_QEMU_STATUS=3 boot --run-ms 5 \
	>"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -eq 3 ] && grep -q "panicked" "$tmp/err" &&
	grep -qF "PANIC: sched.c:120" "$tmp/err" && [ ! -s "$tmp/out" ]; then
	ok panic_exits_3_with_log_tail
else
	not_ok panic_exits_3_with_log_tail "rc=$rc $(cat "$tmp/err")"
fi

FAKE_QEMU_LOG=$FIX/panic.log FAKE_QEMU_STATUS=0 boot --run-ms 5 \
	>/dev/null 2>"$tmp/err"
rc=$?
if [ $rc -eq 5 ] && grep -q "triple fault" "$tmp/err"; then
	ok reset_without_debug_exit_is_failure
else
	not_ok reset_without_debug_exit_is_failure "rc=$rc $(cat "$tmp/err")"
fi

FAKE_QEMU_LOG=$FIX/truncated.log FAKE_QEMU_STATUS=1 boot --run-ms 5 \
	>/dev/null 2>"$tmp/err"
rc=$?
if [ $rc -eq 5 ] && grep -q "report truncated" "$tmp/err"; then
	ok truncated_report_after_normal_end_is_failure
else
	not_ok truncated_report_after_normal_end_is_failure "rc=$rc $(cat "$tmp/err")"
fi

start=$(date +%s)
FAKE_QEMU_PID=$tmp/pid FAKE_QEMU_LOG=$FIX/panic.log FAKE_QEMU_SLEEP=60 \
	boot --run-ms 5 --timeout 1 >/dev/null 2>"$tmp/err"
rc=$?
took=$(($(date +%s) - start))
pid=$(cat "$tmp/pid")
if [ $rc -eq 4 ] && grep -q "timeout" "$tmp/err" && [ "$took" -lt 10 ] &&
	! kill -0 "$pid" 2>/dev/null; then
	ok timeout_kills_qemu_and_exits_4
else
	not_ok timeout_kills_qemu_and_exits_4 "rc=$rc took=${took}s $(cat "$tmp/err")"
	kill "$pid" 2>/dev/null
fi

HVBOOT_QEMU=$tmp/no-such-qemu boot --run-ms 5 >/dev/null 2>"$tmp/err"
rc=$?
if [ $rc -eq 5 ] && grep -q "cannot run .*no-such-qemu" "$tmp/err"; then
	ok missing_qemu_reported
else
	not_ok missing_qemu_reported "rc=$rc $(cat "$tmp/err")"
fi

FAKE_QEMU_LOG=$FIX/good.log FAKE_QEMU_STATUS=1 boot --run-ms 5 \
	--log "$tmp/kept.log" --show-log >/dev/null 2>"$tmp/err"
if cmp -s "$FIX/good.log" "$tmp/kept.log" &&
	grep -qF "I run: run_ms reached" "$tmp/err"; then
	ok log_kept_and_shown
else
	not_ok log_kept_and_shown "$(cat "$tmp/err")"
fi

if [ -z "$(ls -A "$tmp/t")" ]; then
	ok temporary_files_removed
else
	not_ok temporary_files_removed "left: $(ls -A "$tmp/t")"
fi

boot >/dev/null 2>"$tmp/err"; rc=$?
if [ $rc -eq 2 ] && grep -q "give --run-ms" "$tmp/err"; then
	ok run_without_end_refused
else
	not_ok run_without_end_refused "rc=$rc $(cat "$tmp/err")"
fi
boot --run-ms 5 --append bogus=1 >/dev/null 2>"$tmp/err"; rc=$?
if [ $rc -eq 2 ] && grep -q "unknown hypervisor key" "$tmp/err"; then
	ok bad_append_refused
else
	not_ok bad_append_refused "rc=$rc $(cat "$tmp/err")"
fi
printf '[domain a]\nimage = cpuhog\ncpu_weight = 0\n' >"$tmp/bad.conf"
"$HVBOOT" --config "$tmp/bad.conf" --kernel "$tmp/k.bin" --images "$img" \
	--run-ms 5 >/dev/null 2>"$tmp/err"
rc=$?
if [ $rc -eq 2 ] && grep -qF "$tmp/bad.conf:3: " "$tmp/err"; then
	ok bad_config_refused_with_line
else
	not_ok bad_config_refused_with_line "rc=$rc $(cat "$tmp/err")"
fi
boot --run-ms 5 --kernel "$tmp/none.bin" >/dev/null 2>"$tmp/err"; rc=$?
if [ $rc -eq 2 ] && grep -q "no hypervisor at" "$tmp/err"; then
	ok missing_kernel_refused
else
	not_ok missing_kernel_refused "rc=$rc $(cat "$tmp/err")"
fi

if command -v grub-mkrescue >/dev/null; then
	FAKE_QEMU_ARGS=$tmp/args FAKE_QEMU_LOG=$FIX/good.log FAKE_QEMU_STATUS=1 \
		boot --run-ms 5 --iso --json >"$tmp/iso.json" 2>"$tmp/err"
	rc=$?
	if [ $rc -eq 0 ] && grep -q '^{"boot":"iso"' "$tmp/iso.json" &&
		grep -qx -- -cdrom "$tmp/args" && ! grep -qx -- -kernel "$tmp/args"; then
		ok iso_boot_uses_cdrom
	else
		not_ok iso_boot_uses_cdrom "rc=$rc $(cat "$tmp/err")"
	fi
else
	ok "iso_boot_uses_cdrom # SKIP grub-mkrescue not installed"
fi
unset HVBOOT_QEMU

# --- the real hypervisor, when it and the cpuhog guest are built ---

if [ -f build/hypervisor/fairshare.bin ] && [ -f build/guests/cpuhog.elf ] &&
	command -v qemu-system-x86_64 >/dev/null; then
	cat >"$tmp/real.py" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))
b = json.load(open(sys.argv[2]))
assert a["boot"] == "kernel" and b["boot"] == "iso"
assert a["elapsed_ns"] >= 100000000, a["elapsed_ns"]
assert sum(d["cpu_ns"] for d in a["domains"]) + a["idle_ns"] + a["hv_ns"] \
    == a["elapsed_ns"], a
assert [d["name"] for d in a["domains"]] == ["a", "b"]
strip = lambda r: [{k: v for k, v in d.items()} for d in r["domains"]]
assert strip(a) == strip(b), (strip(a), strip(b))
PY
	"$HVBOOT" --config "$tmp/a.conf" --images build/guests --run-ms 100 \
		--json --timeout 120 >"$tmp/real-kernel.json" 2>"$tmp/err1"
	rc1=$?
	"$HVBOOT" --config "$tmp/a.conf" --images build/guests --run-ms 100 \
		--json --iso --timeout 120 >"$tmp/real-iso.json" 2>"$tmp/err2"
	rc2=$?
	if [ $rc1 -eq 0 ] && [ $rc2 -eq 0 ] &&
		python3 "$tmp/real.py" "$tmp/real-kernel.json" "$tmp/real-iso.json" \
			2>"$tmp/py.err"; then
		ok real_boot_kernel_and_iso_give_identical_report
	else
		not_ok real_boot_kernel_and_iso_give_identical_report \
			"rc=$rc1/$rc2 $(cat "$tmp/err1" "$tmp/err2" "$tmp/py.err")"
	fi
else
	ok "real_boot_kernel_and_iso_give_identical_report # SKIP not built"
fi
done_testing
