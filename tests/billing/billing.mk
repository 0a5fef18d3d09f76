# The billing library's tests (issue 7, docs/billing.md): cmocka programs
# built with ASan/UBSan against a real SQLite store. Each links billingd's
# store, rollups, desired state and billing code (not main.c, session.c or
# web-api/), the management-link key table and the sanitised portable
# core. tools/run-tests.sh runs them as TAP with the rest of TEST_BINS.
#
# The invoice benchmark's generator (tests/billing/bench_invoice.c) is an
# optimised program: bench/bench_invoice.py builds and runs it.

BILLING_LIB_SRCS := billingd/store.c billingd/rollup.c billingd/desired.c \
	billingd/apierr.c $(sort $(wildcard billingd/billing*.c)) \
	billingd/ownership.c billingd/quota.c billingd/usage.c tools/link/kv.c
BILLING_TEST_SRCS := $(sort $(wildcard tests/billing/test_*.c))
BILLING_TEST_BINS := $(BILLING_TEST_SRCS:tests/billing/%.c=$(B)/tests/billing/%)
BILLING_SAN_OBJS := $(BILLING_LIB_SRCS:%.c=$(B)/san/%.o) \
	$(B)/san/tests/billing/helpers.o
BILLING_OPT_OBJS := $(BILLING_LIB_SRCS:%.c=$(B)/opt/%.o) \
	$(B)/opt/tests/billing/helpers.o

$(BILLING_SAN_OBJS) $(BILLING_TEST_SRCS:%.c=$(B)/san/%.o): \
	SAN_CFLAGS += $(SQLITE_CFLAGS) $(API_CFLAGS)
$(BILLING_OPT_OBJS) $(B)/opt/tests/billing/bench_invoice.o: \
	OPT_CFLAGS += $(SQLITE_CFLAGS) $(API_CFLAGS)

$(BILLING_TEST_BINS): $(B)/tests/billing/%: $(B)/san/tests/billing/%.o \
		$(BILLING_SAN_OBJS) $(B)/san/libportable.a
	@mkdir -p $(@D)
	$(CC) $(SAN_FLAGS) -o $@ $^ $(SQLITE_LIBS) $(API_LIBS) $(CMOCKA_LIBS)

$(B)/bench/bin/billing/bench_invoice: $(B)/opt/tests/billing/bench_invoice.o \
		$(BILLING_OPT_OBJS) $(B)/opt/libportable.a
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(SQLITE_LIBS) $(API_LIBS)

.PHONY: billing-tests
billing-tests: $(BILLING_TEST_BINS)

TEST_BINS += $(BILLING_TEST_BINS)
