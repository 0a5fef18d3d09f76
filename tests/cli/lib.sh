# Tiny TAP helper for shell tests: source it, call `check NAME CMD...` or
# `ok NAME` / `not_ok NAME WHY`, then `done_testing`.
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $1"; shift; echo "# $*"; }
done_testing() { echo "1..$n"; }
