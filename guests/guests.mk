# guests/: the guest kit (guests/lib) and the guest images, static ELF64
# programs that the hypervisor runs in ring 3 at FS_GUEST_BASE.
#
# Each image is guests/NAME.c linked with crt0 and the kit archive into
# build/guests/NAME.elf by guests/lib/guest.ld, then checked by
# guests/check-image.sh (PT_LOAD only, inside [0x400000, +1 MiB), footprint
# <= 512 KiB). Guests may use SSE (the hypervisor keeps FPU/SSE state per
# domain), so unlike the freestanding core they are built without
# -mgeneral-regs-only; they keep the red zone (the CPU never pushes onto a
# ring-3 stack). See guests/README.md.

GUEST_NAMES := cpuhog waker yielder hostile zerocheck hcbench iohog memgrow
GUEST_IMAGES := $(GUEST_NAMES:%=$(B)/guests/%.elf)

GUEST_KIT_SRCS := guests/lib/crt.c guests/lib/printf.c guests/lib/args.c \
	guests/lib/string.c guests/lib/hist.c guests/lib/blk.c
GUEST_KIT_OBJS := $(GUEST_KIT_SRCS:guests/%.c=$(B)/guests/obj/%.o)
GUEST_CRT0 := $(B)/guests/obj/lib/crt0.o
GUEST_KIT := $(B)/guests/libguest.a

GUEST_CFLAGS := -std=c11 -O2 -g $(WARN) $(INC) -Iguests/lib -ffreestanding \
	-nostdlib -nostdinc -isystem $(shell $(CC) -print-file-name=include) \
	-fno-pic -fno-pie -fno-stack-protector -mcmodel=small \
	-fno-asynchronous-unwind-tables -fno-tree-loop-distribute-patterns
GUEST_LDFLAGS := -nostdlib -static -no-pie -Wl,-T,guests/lib/guest.ld \
	-Wl,-z,max-page-size=4096 -Wl,--build-id=none -Wl,-z,noexecstack
# libgcc only as a safety net for compiler helpers; the kit needs none.
GUEST_LIBGCC := $(shell $(CC) -print-libgcc-file-name)

$(B)/guests/obj/%.o: guests/%.c
	@mkdir -p $(@D)
	$(CC) $(GUEST_CFLAGS) -MMD -MP -c $< -o $@

$(B)/guests/obj/%.o: guests/%.S
	@mkdir -p $(@D)
	$(CC) $(GUEST_CFLAGS) -MMD -MP -c $< -o $@

$(GUEST_KIT): $(GUEST_KIT_OBJS)
	@rm -f $@
	ar rcs $@ $^

# An image of more than one file lists the others in GUEST_EXTRA_NAME
# (objects), which become prerequisites below and are linked after NAME.o.
GUEST_EXTRA_hostile := $(B)/guests/obj/hostile_io.o
$(B)/guests/hostile.elf: $(GUEST_EXTRA_hostile)

$(B)/guests/%.elf: $(B)/guests/obj/%.o $(GUEST_CRT0) $(GUEST_KIT) \
		guests/lib/guest.ld guests/check-image.sh
	$(CC) $(GUEST_CFLAGS) $(GUEST_LDFLAGS) -o $@ $(GUEST_CRT0) $< \
		$(GUEST_EXTRA_$*) $(GUEST_KIT) $(GUEST_LIBGCC)
	guests/check-image.sh $@

# work.h is shared with the hypervisor: prove it still compiles with the
# hypervisor's flags (no SSE, no red zone) whenever it changes.
$(B)/guests/work_check.o: guests/lib/work_check.c
	@mkdir -p $(@D)
	$(CC) $(FREE_CFLAGS) -Iguests/lib -MMD -MP -c $< -o $@

# Keep the objects: they are intermediate to make, but rebuilding them on
# every run would relink every image.
.SECONDARY: $(GUEST_NAMES:%=$(B)/guests/obj/%.o) $(GUEST_CRT0) \
	$(GUEST_EXTRA_hostile)

.PHONY: guests
guests: $(GUEST_IMAGES)

ALL_TARGETS += $(GUEST_IMAGES) $(B)/guests/work_check.o
