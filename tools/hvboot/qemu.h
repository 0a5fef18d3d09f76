/*
 * The QEMU machine hvboot boots: one TCG CPU with deterministic virtual
 * time (-icount shift=0: one instruction per virtual nanosecond, sleep=off:
 * idle time is skipped, not waited for), COM1 into a file, COM2 unused
 * (reserved for the management link), and the isa-debug-exit device the
 * hypervisor uses to end the run with a status:
 *
 *   hypervisor writes   QEMU exits   meaning
 *   0                   1            normal end, report printed
 *   1                   3            hypervisor panic
 *   (nothing)           0            e.g. a triple fault with -no-reboot
 *
 * QEMU_HVBOOT_ENV names an environment variable that replaces the QEMU
 * binary (tests use a stand-in script).
 */
#ifndef HVBOOT_QEMU_H
#define HVBOOT_QEMU_H

#include <stdbool.h>
#include <stddef.h>

#define QEMU_BINARY "qemu-system-x86_64"
#define QEMU_HVBOOT_ENV "HVBOOT_QEMU"
#define QEMU_MEMORY_MB_DEFAULT 256u
#define QEMU_ARGV_MAX 40

/* Strings are borrowed and must outlive the argv. */
struct qemu_boot {
	char *kernel; /* multiboot kernel for -kernel, or NULL with iso */
	char *append; /* hypervisor command line (-append) */
	char *initrd; /* modules (-initrd) */
	char *iso;    /* -cdrom image, instead of the three above */
	char *log;    /* COM1 log file */
	const char *link; /* COM2 as a listening UNIX socket, or NULL */
	bool realtime;    /* no -icount: for interactive use */
	unsigned memory_mb;
};

/* Scratch strings the argv points into. */
struct qemu_argv {
	char *argv[QEMU_ARGV_MAX];
	char memory[16];
	char serial[4096 + 8];
	char serial2[4096 + 32];
};

/* Build the command line; returns -1 if the log path is too long. */
int qemu_argv_build(const struct qemu_boot *b, struct qemu_argv *q);

enum qemu_end {
	QEMU_END_NORMAL, /* the hypervisor ended the run */
	QEMU_END_PANIC,  /* the hypervisor panicked */
	QEMU_END_OTHER,  /* anything else: a crash, a reset, a QEMU error */
};

/* Classify a waitpid() status; `what` gets a description of it. */
enum qemu_end qemu_end_of(int status, char *what, size_t len);

#endif
