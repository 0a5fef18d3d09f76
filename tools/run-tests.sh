#!/bin/sh
# Runs every test program and script given on the command line and prints one
# closing line "N passed, N failed" (", N skipped" when any were skipped).
#
# cmocka binaries run with CMOCKA_MESSAGE_OUTPUT=TAP; scripts print TAP too
# (tests/cli/lib.sh). Every "ok"/"not ok" line counts as one test; a "# SKIP"
# directive counts as skipped. A program that crashes or exits non-zero without
# reporting a failure counts as one failed test, so nothing fails silently.
# Each suite's full output goes to build/test-logs/NAME.log; failures are
# echoed to the terminal.
set -u
logdir=build/test-logs
mkdir -p "$logdir"
pass=0 fail=0 skip=0
for t in "$@"; do
	name=$(basename "$t")
	log="$logdir/$name.log"
	CMOCKA_MESSAGE_OUTPUT=TAP "$t" >"$log" 2>&1
	rc=$?
	p=$(grep -E '^ok [0-9]+' "$log" | grep -vc '# SKIP') || true
	s=$(grep -E '^ok [0-9]+' "$log" | grep -c '# SKIP') || true
	f=$(grep -Ec '^not ok [0-9]+' "$log") || true
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
		echo "FAIL $name: exited with status $rc without reporting (see $log)"
		tail -n 20 "$log" | sed 's/^/    /'
	fi
	if [ "$f" -gt 0 ]; then
		echo "FAIL $name: $f failed, $p passed (log: $log)"
		grep -E -A12 '^not ok [0-9]+' "$log" | head -n 60 | sed 's/^/    /'
	else
		printf '%-28s %4d passed%s\n' "$name" "$p" \
			"$([ "$s" -gt 0 ] && echo ", $s skipped")"
	fi
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
done
if [ "$skip" -gt 0 ]; then
	echo "$pass passed, $fail failed, $skip skipped"
else
	echo "$pass passed, $fail failed"
fi
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
