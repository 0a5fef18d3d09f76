# The portable core, built three ways from PORTABLE_SRCS (filled in by
# sched/sched.mk and accounting/accounting.mk).
#
# The freestanding objects are linked into one relocatable object, and the
# build fails if it references any symbol the hypervisor will not provide:
# see tools/check-freestanding.sh for the allowed list.

PORTABLE_FREE := $(PORTABLE_SRCS:%.c=$(B)/free/%.o)
PORTABLE_SAN := $(PORTABLE_SRCS:%.c=$(B)/san/%.o)
PORTABLE_OPT := $(PORTABLE_SRCS:%.c=$(B)/opt/%.o)

# Host-side glue every hosted program links: fs_panic() that aborts, and
# the "FILE:LINE: " error format of the parsers.
HOST_GLUE := tools/common/panic_host.c tools/common/err_at.c

$(B)/free/portable.o: $(PORTABLE_FREE) tools/check-freestanding.sh
	ld -r -o $@ $(PORTABLE_FREE)
	tools/check-freestanding.sh $@

$(B)/san/libportable.a: $(PORTABLE_SAN) $(HOST_GLUE:%.c=$(B)/san/%.o)
	@rm -f $@
	ar rcs $@ $^

$(B)/opt/libportable.a: $(PORTABLE_OPT) $(HOST_GLUE:%.c=$(B)/opt/%.o)
	@rm -f $@
	ar rcs $@ $^

ALL_TARGETS += $(B)/free/portable.o $(B)/san/libportable.a \
	$(B)/opt/libportable.a
