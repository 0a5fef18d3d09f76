/*
 * Every static limit of the hypervisor, with the arithmetic behind it.
 */
#ifndef CORE_PARAM_H
#define CORE_PARAM_H

/* Domains: the Xen paper ran 128; a 2 GiB host holds about 1900 domains of
 * 1 MiB (each also needs 4 page-table frames). 4096 leaves room for larger
 * hosts. struct domain is about 2 KiB (the FXSAVE area, the scheduler
 * entity, report slots), so the pool is about 8 MiB of .bss. */
#define MAX_DOMAINS 4096

/* Boot modules: one per domain line (a line may create many domains with
 * count=N). */
#define MAX_MODULES 1024

/* Boot strings (command lines of the hypervisor and every module) are copied
 * out of the loader's memory before the frame allocator hands it out:
 * MAX_MODULES lines of up to DOMCFG_CMDLINE_MAX bytes would be 1 MiB, real
 * ones are ~150 bytes; the pool is 256 KiB and overflow is a boot error. */
#define BOOT_STRPOOL (256 * 1024)

/* Memory map entries kept from the loader. */
#define MAX_MEM_RANGES 64

#endif
