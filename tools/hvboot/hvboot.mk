# hvboot: boot a configuration in QEMU and read back the hypervisor's
# report; `make iso` builds a bootable CD image of config/demo.conf.
HVBOOT_SRCS := tools/hvboot/main.c tools/hvboot/report.c \
	tools/hvboot/output.c tools/hvboot/runner.c tools/hvboot/qemu.c \
	tools/hvboot/iso.c tools/hvboot/files.c

$(B)/bin/hvboot: $(HVBOOT_SRCS:%.c=$(B)/opt/%.o) $(FSCONFIG_LIB_OBJS) \
		$(B)/opt/libportable.a
	@mkdir -p $(@D)
	$(CC) -o $@ $^

ALL_TARGETS += $(B)/bin/hvboot
TEST_DEPS += $(B)/bin/hvboot

# The ISO: GRUB, the hypervisor, every guest image, and a grub.cfg from
# config/demo.conf. GUEST_IMAGES comes from the guests' fragment, which may
# be included after this one, hence the second expansion ($$).
ISO_CONFIG := config/demo.conf
ISO_ROOT := $(B)/iso-root

.SECONDEXPANSION:
$(B)/fairshare.iso: $(ISO_CONFIG) $(B)/bin/fsconfig \
		$(B)/hypervisor/fairshare.bin $$(GUEST_IMAGES)
	@rm -rf $(ISO_ROOT)
	@mkdir -p $(ISO_ROOT)/boot/grub
	$(B)/bin/fsconfig --images $(B)/guests $(ISO_CONFIG) \
		--grub $(ISO_ROOT)/boot/grub/grub.cfg
	cp $(B)/hypervisor/fairshare.bin $(GUEST_IMAGES) $(ISO_ROOT)/boot/
	@grub-mkrescue -o $@ $(ISO_ROOT) >$(B)/grub-mkrescue.log 2>&1 || \
		{ cat $(B)/grub-mkrescue.log >&2; rm -f $@; exit 1; }
	@echo "iso: $@ ($(ISO_CONFIG))"

.PHONY: iso
iso: $(B)/fairshare.iso
