#!/bin/sh
# A short libFuzzer run of the management-link decoder (fuzz/fuzz_wire.c):
# seeds are valid frames of every message type, op and event kind written
# by build/fuzz/wire_seedgen; the run is bounded in time and in executions so
# `make test` stays quick. `make fuzz` runs the same target for longer.
# Both binaries are built by `make test` through TEST_DEPS (fuzz/fuzz.mk).
. tests/cli/lib.sh

bin=build/fuzz/fuzz_wire
gen=build/fuzz/wire_seedgen
work=build/fuzz/test-run
log=$work/fuzz.log

if [ ! -x "$bin" ] || [ ! -x "$gen" ]; then
	n=$((n + 1))
	echo "ok $n - wire fuzz run # SKIP $bin not built (needs clang + libFuzzer; make $bin)"
	done_testing
	exit 0
fi

rm -rf "$work"
mkdir -p "$work/seeds" "$work/corpus"

if "$gen" "$work/seeds" && [ "$(ls "$work/seeds" | wc -l)" -ge 30 ]; then
	ok "seed generator writes a valid frame of every message type"
else
	not_ok "seed generator writes a valid frame of every message type" \
		"$gen failed or wrote too few seeds"
fi

# Each seed once: valid frames decode, re-encode identically, pass checks.
if "$bin" -runs=0 "$work/seeds" >"$work/seeds.log" 2>&1; then
	ok "every seed frame survives decode and canonical re-encode"
else
	not_ok "every seed frame survives decode and canonical re-encode" \
		"$(tail -n 20 "$work/seeds.log")"
fi

if "$bin" -max_total_time=10 -runs=3000000 -max_len=20000 -seed=1 \
	-artifact_prefix="$work/" -print_final_stats=1 \
	"$work/corpus" "$work/seeds" >"$log" 2>&1; then
	ok "decoder survives a bounded fuzz run without crash or bad frame"
else
	not_ok "decoder survives a bounded fuzz run without crash or bad frame" \
		"$(grep -E 'ERROR|check failed|SUMMARY' "$log" | head -n 5)" \
		"(full log: $log; reproducer under $work/)"
fi
grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' "$log" |
	sed 's/^/# /' | head -n 2
done_testing
