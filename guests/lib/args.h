/*
 * Guest arguments: info->args is "k=v k=v ..." (space-separated tokens, at
 * most FS_ARGS_MAX characters), built by the hypervisor from the domain's
 * `arg.K=V` settings. Values never contain spaces (domcfg allows only
 * [A-Za-z0-9_.:/+-]). A token without '=' is a key with an empty value; if a
 * key appears twice, the last one wins, so appended arguments override.
 */
#ifndef GUEST_ARGS_H
#define GUEST_ARGS_H

#include <stddef.h>
#include <stdint.h>

#include "hypercall.h"

/* The decimal value of key, or dflt if key is absent. A present but
 * malformed value (empty, a non-digit, more than UINT64_MAX) also gives
 * dflt, with a warning on the console so a typo does not go unnoticed. */
uint64_t fs_arg_u64(const struct fs_domain_info *info, const char *key,
                    uint64_t dflt);

/* A duration argument in ns: fs_arg_u64(info, key, dflt) * unit_ns (e.g.
 * key "period_us", unit NS_PER_US). A value whose product would overflow
 * is malformed: warning, and dflt * unit_ns. */
uint64_t fs_arg_ns(const struct fs_domain_info *info, const char *key,
                   uint64_t dflt, uint64_t unit_ns);

/* Copies key's value (or dflt if absent) into buf, truncated to buf_len - 1
 * characters and NUL-terminated, and returns buf. With buf_len == 0 returns
 * dflt untouched. */
const char *fs_arg_str(const struct fs_domain_info *info, const char *key,
                       const char *dflt, char *buf, size_t buf_len);

#endif
