# Fairshare top-level Makefile.
#
# One Makefile, small per-directory fragments (*.mk). Every object lands under
# build/. The portable core (sched/, accounting/) is compiled twice on every
# `make`: freestanding, exactly as the hypervisor will link it, and hosted
# with ASan/UBSan for the unit tests. See mk/flags.mk for the flag sets.
#
#   make          build everything (default)
#   make run      install missing packages, build, run the whole system:
#                 the hypervisor in QEMU, billingd, the REST API (Ctrl-C stops)
#   make run-demo the demo host for 5 s of virtual time, then its usage table
#   make run-sim  the same slices in the simulator (hvsim)
#   make iso      build/fairshare.iso: GRUB + hypervisor + demo guests
#   make test     install missing packages, build, run every suite
#   make bench    benchmarks: tables on stdout, JSON under build/bench/
#   make clean    remove build/

.DEFAULT_GOAL := all
.SUFFIXES:
.DELETE_ON_ERROR:

B := build

include mk/flags.mk
include sched/sched.mk
include accounting/accounting.mk
include hypervisor/common/common.mk
include mk/portable.mk
include hypervisor/hypervisor.mk
include guests/guests.mk
include tools/hvsim/hvsim.mk
include tools/fsconfig/fsconfig.mk
include tools/hvboot/hvboot.mk
include billingd/billingd.mk
include tests/tests.mk
-include tests/billing/billing.mk
include bench/bench.mk
-include fuzz/fuzz.mk

.PHONY: all deps run test bench clean format

all: $(ALL_TARGETS)

deps:
	@tools/deps.sh

run: deps
	@$(MAKE) --no-print-directory all
	@tools/run-system.sh

test: deps
	@$(MAKE) --no-print-directory all $(TEST_BINS) $(TEST_DEPS)
	@tools/run-tests.sh $(TEST_BINS) $(TEST_SCRIPTS)

# The demo host: the real hypervisor booted in QEMU (TCG, -icount, so the
# figures are the same on any machine), its log, then the usage table.
.PHONY: run-demo
run-demo:
	@echo "== Fairshare in QEMU: config/demo.conf, 5 s of virtual time =="
	@$(B)/bin/hvboot --config config/demo.conf --show-log

clean:
	rm -rf $(B)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

-include $(shell find $(B) -name '*.d' 2>/dev/null)
