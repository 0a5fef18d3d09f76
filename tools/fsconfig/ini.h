/*
 * The Fairshare configuration file: an INI file with one [hypervisor]
 * section and one [domain NAME] section per domain (or per group of
 * identical domains, with `count`). It is read into the same structures the
 * hypervisor fills from its multiboot command lines (domcfg.h), so every
 * key is validated by the one definition in hypervisor/common/domcfg.c and a
 * config that loads here boots there.
 *
 *     # comment; "; comment" too, also after a value
 *     [hypervisor]
 *     ctx_allow_us = 2000
 *     [domain voip]
 *     image = waker                  # required: IMAGES/waker.elf must exist
 *     warp_us = 20000
 *     args = period_us=10000 burst_us=800
 *     [domain small]
 *     image = cpuhog
 *     count = 128                    # small-001 .. small-128
 *
 * A section with `count = N` stays one entry (one module line with
 * count=N); the hypervisor names its domains NAME-001..NAME-N (zero-padded
 * to the digits of N; count 1 is just NAME), and the loader checks that
 * every such name is unique in the file.
 *
 * Strict on purpose: any problem is an error naming FILE:LINE and the
 * reason, and the whole load fails (no partial config).
 */
#ifndef FSCONFIG_INI_H
#define FSCONFIG_INI_H

#include <stddef.h>

#include "hypervisor/common/domcfg.h"

struct fs_config {
	struct hv_settings hv;
	struct domain_settings *doms; /* n [domain] sections in file order */
	unsigned *lines;              /* line of each [domain] header */
	size_t n;                     /* sections: one module line each */
	size_t n_domains;             /* domains, the counts summed */
	size_t cap;                   /* allocated entries of doms, lines */
};

/*
 * Load `path` into *cfg (which need not be initialised). `images_dir`, if
 * not NULL, is where IMAGE.elf must exist for every `image = IMAGE`.
 * Returns 0, or a negative FS_E* code with a one-line "FILE:LINE: reason"
 * (or "FILE: reason" for an unreadable file) in err; on error *cfg holds
 * nothing that needs freeing. At least one domain is required.
 */
int fs_config_load(struct fs_config *cfg, const char *path,
                   const char *images_dir, char *err, size_t errlen);

/* Free what fs_config_load allocated; safe on a zeroed config. */
void fs_config_free(struct fs_config *cfg);

#endif
