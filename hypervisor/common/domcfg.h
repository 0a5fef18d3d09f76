/*
 * Domain and hypervisor settings: one definition of every key, its range and
 * its error message, shared by the config tool (tools/fsconfig, which reads
 * the INI file) and the hypervisor (which reads the same keys from multiboot
 * command lines). Portable: freestanding, no libc, caller-owned memory.
 *
 * A module command line is a list of space-separated `key=value` tokens:
 *
 *     name=voip image=waker memory_mb=4 cpu_weight=256 warp_us=20000
 *     arg.period_us=10000 arg.burst_us=800
 *
 * Tokens without '=' (the module path GRUB or QEMU may put first) are
 * skipped. `arg.K=V` tokens are the guest's arguments, handed to it as
 * "K=V K=V" in struct fs_domain_info. Values are [A-Za-z0-9_.:/+-] only, so a
 * command line survives GRUB's and QEMU's quoting (QEMU splits -initrd on
 * commas). The hypervisor's own command line uses the [hypervisor] keys.
 */
#ifndef DOMCFG_H
#define DOMCFG_H

#include <stddef.h>
#include <stdint.h>

#include "hypercall.h"
#include "sched/sched.h"

#define DOMCFG_MEMORY_MB_MIN 1u
#define DOMCFG_MEMORY_MB_MAX 65536u
#define DOMCFG_MEMORY_MB_DEFAULT 4u
#define DOMCFG_CMDLINE_MAX 1024u
#define DOMCFG_COUNT_MAX 4096u
#define DOMCFG_DISK_MB_MAX 65536u

/* A domain's block I/O limits: two token buckets (accounting/tb.h), bytes
 * and operations; 0 = unlimited. The bursts are one-time credits. */
struct io_limits {
	uint64_t io_bps, io_iops, io_burst_bytes, io_burst_ops;
};

/* A domain's memory limits. memory_max_mb 0 = no ceiling but the host's
 * free memory; growth rate 0 = unlimited. */
struct mem_limits {
	uint64_t memory_max_mb;
	uint64_t mem_growth_pages_per_s, mem_growth_burst_pages;
};

struct domain_settings {
	char name[FS_NAME_MAX + 1];
	char image[FS_NAME_MAX + 1]; /* image name, informational in the hv */
	uint32_t memory_mb;
	uint32_t count; /* this many domains NAME-001.. from one line; 1: NAME */
	struct sched_params sp;
	uint32_t disk_mb;                 /* 0: no disk */
	char disk_image[FS_NAME_MAX + 1]; /* blob initialising the disk, or "" */
	struct io_limits io;
	struct mem_limits mem;
	uint32_t memory_max_set; /* memory_max_mb given; else = memory_mb */
	char args[FS_ARGS_MAX + 1]; /* "k=v k=v", no leading/trailing space */
};

struct hv_settings {
	struct sched_config sc;   /* ctx_allow_us */
	uint64_t run_ms;          /* 0: run until shut down */
	uint32_t loglevel;        /* 0 error .. 3 debug; default 2 (info) */
	uint32_t bench_native_ms; /* >0: time the native work loop first */
	uint32_t poison_free;     /* 1: fill free RAM with 0xa5 at boot */
	uint32_t meter_interval_ms; /* METER period on the management link */
	uint32_t replay_kb;         /* unacknowledged records kept, KiB */
};

#define HVCFG_METER_MS_DEFAULT 1000u
#define HVCFG_REPLAY_KB_DEFAULT 1024u
#define HVCFG_REPLAY_KB_MAX 4096u

void domcfg_default(struct domain_settings *d);
void hvcfg_default(struct hv_settings *h);

/* Apply one key (klen bytes) = value (vlen bytes). 0, or a negative FS_E*
 * with *why set to a static message naming the problem. `arg.K` keys append
 * to args. The name key is "name"; "image" sets the image name. */
int domcfg_set(struct domain_settings *d, const char *key, size_t klen,
               const char *val, size_t vlen, const char **why);
int hvcfg_set(struct hv_settings *h, const char *key, size_t klen,
              const char *val, size_t vlen, const char **why);

/* Range checks shared with the management link's SET_IO_LIMITS and
 * SET_MEM_LIMITS: 0, or FS_ERANGE with *why naming the key. */
int domcfg_io_check(const struct io_limits *io, const char **why);
int domcfg_mem_check(const struct mem_limits *m, const char **why);

/* Cross-field checks once all keys are set (a name is required). */
int domcfg_check(const struct domain_settings *d, const char **why);

/* Parse a whole command line into `d` (already defaulted) or `h`. On error,
 * *why says what and *bad_off is the offset of the offending token. */
int domcfg_parse_cmdline(struct domain_settings *d, const char *line,
                         const char **why, size_t *bad_off);
int hvcfg_parse_cmdline(struct hv_settings *h, const char *line,
                        const char **why, size_t *bad_off);

/* Format `d` as a module command line (every key, canonical order) into
 * buf; returns the length, or FS_E2BIG if it does not fit. */
int domcfg_format_cmdline(const struct domain_settings *d, char *buf,
                          size_t len);
int hvcfg_format_cmdline(const struct hv_settings *h, char *buf, size_t len);

/* The name of the k-th (1-based) domain a settings line creates: NAME when
 * count is 1, else NAME-K with K zero-padded to the width of count
 * (web-001 .. web-128). Returns the length, FS_ERANGE if it would exceed
 * FS_NAME_MAX, FS_E2BIG if buf is too small. The one definition used by
 * domcfg_check, the hypervisor and fsconfig. */
int domcfg_instance_name(const struct domain_settings *d, uint32_t k,
                         char *buf, size_t len);

/* Whether c may appear in a value / a name. */
int domcfg_value_char(char c);
int domcfg_name_char(char c);

#endif
