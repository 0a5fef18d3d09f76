#!/bin/sh
# Runs every benchmark program given on the command line; each prints its
# table and writes build/bench/NAME.json (NAME = program name less "bench_").
# Every bench/bench_*.py other than those given runs after them.
# Timings are reported, never judged here: compare ratios within one run.
set -eu
mkdir -p build/bench
py=""
for s in bench/bench_*.py; do
	case " $* " in *" $s "*) ;; *) py="$py $s" ;; esac
done
# shellcheck disable=SC2086
for b in "$@" $py; do
	name=$(basename "$b")
	name=${name#bench_}
	name=${name%.py}
	echo "== $name =="
	"$b" "build/bench/$name.json"
	echo
done
echo "JSON: $(ls build/bench/*.json | tr '\n' ' ')"
