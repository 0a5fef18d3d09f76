/*
 * A bootable ISO for one configuration: GRUB loads the hypervisor and one
 * module per domain, as a real host's boot loader would (hvboot --iso and
 * `make iso`). The layout is emit.h's FS_ISO_* paths.
 */
#ifndef HVBOOT_ISO_H
#define HVBOOT_ISO_H

#include <stddef.h>

#include "tools/fsconfig/ini.h"

struct iso_inputs {
	const struct fs_config *cfg;
	const char *extra;  /* added to the hypervisor command line, or NULL */
	const char *kernel; /* the hypervisor binary */
	const char *images; /* directory of IMAGE.elf */
	unsigned timeout_s; /* wall-clock limit for grub-mkrescue */
};

/*
 * Build dir/iso/... and dir/fairshare.iso (dir exists and is hvboot's own
 * temporary directory). Returns 0 with the ISO's path in iso, or -1 having
 * printed the reason -- with grub-mkrescue's own output if it failed -- to
 * stderr.
 */
int iso_build(const struct iso_inputs *in, const char *dir, char *iso,
              size_t len);

#endif
