# Tests. Every tests/unit/test_*.c is a cmocka program linked with the
# sanitised portable core and the simulator engine; every tests/cli/*.sh is a
# TAP-printing script. tools/run-tests.sh runs them all and prints the
# closing "N passed, N failed" line.

CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null || echo -lcmocka)

UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(B)/tests/%)

$(B)/tests/%: $(B)/san/tests/unit/%.o $(SIM_SAN_OBJS) $(B)/san/libportable.a
	@mkdir -p $(@D)
	$(CC) $(SAN_FLAGS) -o $@ $^ $(CMOCKA_LIBS)

TEST_BINS += $(UNIT_BINS)
TEST_SCRIPTS += $(sort $(wildcard tests/cli/test_*.sh))

# System tests: the real hypervisor booted in QEMU (TCG, -icount) through
# build/bin/hvboot; Python for the JSON arithmetic (tests/system/hvtest.py).
# (The kernel, the guest images and hvboot are part of `all`.)
TEST_SCRIPTS += $(sort $(wildcard tests/system/test_*.py))
