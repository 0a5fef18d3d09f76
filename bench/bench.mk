# Benchmarks: every bench/bench_*.c is an optimised program that prints a
# table and writes build/bench/NAME.json; bench/run.sh runs them in order
# (and the callgrind instruction counts). Timings live here, never in tests.
# bench/bench_hv.py boots the hypervisor in QEMU: boot time, hypercall and
# switch cost, virtualization overhead; bench/bench_blk.py (run.sh finds it)
# block requests through the ring and memory grants per second.

BENCH_SRCS := $(sort $(wildcard bench/bench_*.c))
BENCH_BINS := $(BENCH_SRCS:bench/%.c=$(B)/bench/bin/%)

$(B)/bench/bin/%: $(B)/opt/bench/%.o $(SIM_OPT_OBJS) $(B)/opt/libportable.a
	@mkdir -p $(@D)
	$(CC) -o $@ $^

.PHONY: bench-bins
bench-bins: $(BENCH_BINS)

bench: deps
	@$(MAKE) --no-print-directory all bench-bins
	@bench/run.sh $(BENCH_BINS) bench/bench_hv.py
