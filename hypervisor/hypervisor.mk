# The hypervisor kernel: hypervisor/arch/x86_64 + hypervisor/core, linked
# with the freestanding build of the portable core ($(B)/free/portable.o,
# the very objects tools/check-freestanding.sh vetted) and libgcc (128-bit
# division helpers; leaf functions, safe without a red zone because the
# hypervisor runs with interrupts off).
#
# Output: $(B)/hypervisor/fairshare.elf (symbols, for gdb and objdump) and
# $(B)/hypervisor/fairshare.bin, the flat image both loaders boot.

HV_SRCS := $(sort $(wildcard hypervisor/core/*.c hypervisor/arch/x86_64/*.c))
HV_ASM := $(sort $(wildcard hypervisor/arch/x86_64/*.S))
HV_OBJS := $(HV_SRCS:%.c=$(B)/hv/%.o) $(HV_ASM:%.S=$(B)/hv/%.o)
HV_CFLAGS := $(FREE_CFLAGS) -Ihypervisor -fno-omit-frame-pointer
HV_LDS := hypervisor/arch/x86_64/link.ld
LIBGCC := $(shell $(CC) -print-libgcc-file-name)

$(B)/hv/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(HV_CFLAGS) $(DEPFLAGS) -c $< -o $@

$(B)/hv/%.o: %.S
	@mkdir -p $(@D)
	$(CC) $(HV_CFLAGS) $(DEPFLAGS) -D__ASSEMBLY__ -c $< -o $@

$(B)/hypervisor/fairshare.elf: $(HV_OBJS) $(B)/free/portable.o $(HV_LDS)
	@mkdir -p $(@D)
	ld -n -nostdlib --no-warn-rwx-segments -z noexecstack -z max-page-size=4096 -T $(HV_LDS) \
		-o $@ $(HV_OBJS) $(B)/free/portable.o $(LIBGCC)

$(B)/hypervisor/fairshare.bin: $(B)/hypervisor/fairshare.elf
	objcopy -O binary $< $@

ALL_TARGETS += $(B)/hypervisor/fairshare.bin
