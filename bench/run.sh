#!/bin/sh
# Runs every benchmark program given on the command line; each prints its
# table and writes build/bench/NAME.json (NAME = program name less "bench_").
# Timings are reported, never judged here: compare ratios within one run.
set -eu
mkdir -p build/bench
for b in "$@" bench/bench_billingd.py; do
	name=$(basename "$b")
	name=${name#bench_}
	name=${name%.py}
	echo "== $name =="
	"$b" "build/bench/$name.json"
	echo
done
echo "JSON: $(ls build/bench/*.json | tr '\n' ' ')"
