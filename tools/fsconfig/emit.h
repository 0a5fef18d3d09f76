/*
 * What fsconfig produces from a loaded configuration: the hypervisor's
 * command line, a grub.cfg for a boot ISO, and QEMU's -initrd argument for
 * a direct multiboot boot. hvboot uses the same functions, so `fsconfig`
 * shows exactly what `hvboot` boots.
 */
#ifndef FSCONFIG_EMIT_H
#define FSCONFIG_EMIT_H

#include <stddef.h>
#include <stdio.h>

#include "ini.h"

/* Layout of the boot ISO (grub.cfg refers to these paths). */
#define FS_ISO_KERNEL "/boot/fairshare.bin"
#define FS_ISO_IMAGE_FMT "/boot/%s.elf"
#define FS_ISO_BLOB_FMT "/boot/%s.img"
#define FS_ISO_GRUB_CFG "/boot/grub/grub.cfg"

/* Room for the hypervisor command line plus what --append adds. */
#define FS_HV_CMDLINE_MAX 4096u

/* Hypervisor command line: cfg->hv's keys, then `extra` (NULL or "" for
 * none) after a space. Returns the length, or FS_E2BIG if it does not fit
 * in len bytes. */
int fs_emit_hv_cmdline(const struct fs_config *cfg, const char *extra,
                       char *buf, size_t len);

/* Write a grub.cfg that boots cfg from the ISO layout above, `extra` added
 * to the hypervisor command line. Returns 0 or FS_E2BIG (command line too
 * long); write errors are left in f's error flag for the caller. */
int fs_emit_grub(FILE *f, const struct fs_config *cfg, const char *extra);

/* QEMU's -initrd value: "DIR/IMAGE.elf CMDLINE" per domain, joined by ','
 * (commas in DIR doubled, as QEMU's option parser wants). Heap string for
 * the caller to free, or NULL with a reason in err (DIR holds a space,
 * which the module command line cannot express; out of memory). */
char *fs_emit_initrd(const struct fs_config *cfg, const char *images_dir,
                     char *err, size_t errlen);

/* Whether doms[i] is the first to name its disk_image (blobs are loaded
 * once, before the domains, as modules with command line blob=NAME). */
int fs_first_disk_image(const struct fs_config *cfg, size_t i);

#endif
