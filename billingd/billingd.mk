# billingd (the control domain's daemon: metering into SQLite, desired state
# back to the hypervisor) and hvctl (the operator's tool), both hosted and
# optimised, linking the management-link library (tools/link/link.mk) and
# the portable core. Tests: tests/billingd/*.py, TAP, against hvsim
# --serve-link (the peer is swappable, see tests/billingd/harness.py).
# The REST API (web-api/, issue 7) is part of billingd: libmicrohttpd
# (with GnuTLS for HTTPS) and jansson.
SQLITE_CFLAGS := $(shell pkg-config --cflags sqlite3 2>/dev/null)
SQLITE_LIBS := $(shell pkg-config --libs sqlite3 2>/dev/null || echo -lsqlite3)
API_CFLAGS := $(shell pkg-config --cflags libmicrohttpd jansson 2>/dev/null)
API_LIBS := $(shell pkg-config --libs libmicrohttpd jansson 2>/dev/null || \
	echo -lmicrohttpd -ljansson)

BILLINGD_SRCS := $(sort $(wildcard billingd/*.c web-api/*.c))
BILLINGD_OBJS := $(BILLINGD_SRCS:%.c=$(B)/opt/%.o)

$(BILLINGD_OBJS): OPT_CFLAGS += $(SQLITE_CFLAGS) $(API_CFLAGS)

$(B)/bin/billingd: $(BILLINGD_OBJS) $(LINK_OPT_OBJS) $(B)/opt/libportable.a
	@mkdir -p $(@D)
	$(CC) -pthread -o $@ $^ $(SQLITE_LIBS) $(API_LIBS) -lcrypto

HVCTL_OBJS := $(B)/opt/tools/hvctl/main.o $(B)/opt/tools/hvctl/rest.o
$(HVCTL_OBJS): OPT_CFLAGS += $(API_CFLAGS)

$(B)/bin/hvctl: $(HVCTL_OBJS) $(LINK_OPT_OBJS) $(B)/opt/libportable.a
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(shell pkg-config --libs jansson 2>/dev/null || \
		echo -ljansson)

ALL_TARGETS += $(B)/bin/billingd $(B)/bin/hvctl
TEST_DEPS += $(B)/bin/billingd $(B)/bin/hvctl $(B)/bin/hvsim
TEST_SCRIPTS += $(sort $(wildcard tests/billingd/test_*.py))
TEST_SCRIPTS += $(sort $(wildcard tests/api/test_*.py))
