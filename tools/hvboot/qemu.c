/* QEMU command line and exit status (see qemu.h). */
#include "qemu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

int qemu_argv_build(const struct qemu_boot *b, struct qemu_argv *q)
{
	size_t n = 0;
	char **a = q->argv;
	char *bin = getenv(QEMU_HVBOOT_ENV);
	int len = snprintf(q->serial, sizeof(q->serial), "file:%s", b->log);
	if (len < 0 || (size_t)len >= sizeof(q->serial))
		return -1;
	snprintf(q->memory, sizeof(q->memory), "%u", b->memory_mb);
	if (b->link) {
		len = snprintf(q->serial2, sizeof(q->serial2),
		               "unix:%s,server=on,wait=off", b->link);
		if (len < 0 || (size_t)len >= sizeof(q->serial2) ||
		    strchr(b->link, ','))
			return -1;
	}
	a[n++] = bin && *bin ? bin : QEMU_BINARY;
	a[n++] = "-accel";
	a[n++] = "tcg";
	a[n++] = "-cpu";
	a[n++] = "max";
	a[n++] = "-m";
	a[n++] = q->memory;
	a[n++] = "-smp";
	a[n++] = "1";
	a[n++] = "-display";
	a[n++] = "none";
	a[n++] = "-no-reboot";
	a[n++] = "-nodefaults";
	if (!b->realtime) {
		a[n++] = "-icount";
		a[n++] = "shift=0,sleep=off";
	}
	a[n++] = "-device";
	a[n++] = "isa-debug-exit,iobase=0xf4,iosize=0x04";
	a[n++] = "-serial";
	a[n++] = q->serial; /* COM1: the hypervisor's log */
	a[n++] = "-serial";
	a[n++] = b->link ? q->serial2 : "null"; /* COM2: the management link */
	if (b->iso) {
		a[n++] = "-cdrom";
		a[n++] = b->iso;
	} else {
		a[n++] = "-kernel";
		a[n++] = b->kernel;
		a[n++] = "-append";
		a[n++] = b->append;
		a[n++] = "-initrd";
		a[n++] = b->initrd;
	}
	a[n] = NULL;
	return 0;
}

enum qemu_end qemu_end_of(int status, char *what, size_t len)
{
	if (WIFSIGNALED(status)) {
		snprintf(what, len, "QEMU was killed by signal %d",
		         WTERMSIG(status));
		return QEMU_END_OTHER;
	}
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	switch (code) {
	case 1:
		snprintf(what, len, "the hypervisor ended the run");
		return QEMU_END_NORMAL;
	case 3:
		snprintf(what, len,
		         "the hypervisor panicked (QEMU exit "
		         "status 3)");
		return QEMU_END_PANIC;
	case 0:
		snprintf(what, len,
		         "QEMU exited with status 0 without the "
		         "hypervisor ending the run (a triple "
		         "fault or reset?)");
		return QEMU_END_OTHER;
	default:
		snprintf(what, len, "QEMU exited with status %d", code);
		return QEMU_END_OTHER;
	}
}
