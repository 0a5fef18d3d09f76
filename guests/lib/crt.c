/*
 * The guest C runtime: what runs between _start (crt0.S) and main().
 *
 * The hypervisor passes nothing in registers; the domain asks for its
 * settings with FS_HC_DOMAIN_INFO. They go into a static, so main() and
 * anything it hands `info` to may keep the pointer for the domain's life.
 * main()'s result becomes the shutdown code: 0 is FS_SHUTDOWN_DONE, anything
 * else FS_SHUTDOWN_ERROR with the value in the message.
 *
 * fs_panic() is the guest's end for a broken invariant (fs_assert.h): the
 * domain shuts down with FS_SHUTDOWN_ERROR and the reason, so the kit's
 * portable pieces (hist.c) can use FS_BUG_ON exactly as the hypervisor does.
 */
#include "fs.h"
#include "printf.h"

#include "fs_assert.h"

static struct fs_domain_info fs_info;

_Noreturn void fs_main(void)
{
	char msg[64];
	int64_t err;
	int r;

	err = fs_domain_info(&fs_info);
	if (err < 0) {
		fs_snprintf(msg, sizeof(msg), "crt: domain info refused (%lld)",
		            (long long)err);
		fs_shutdown(FS_SHUTDOWN_ERROR, msg);
	}
	r = main(&fs_info);
	if (r == 0)
		fs_shutdown(FS_SHUTDOWN_DONE, "finished");
	fs_snprintf(msg, sizeof(msg), "main returned %d", r);
	fs_shutdown(FS_SHUTDOWN_ERROR, msg);
}

_Noreturn void fs_panic(const char *file, int line, const char *why)
{
	char msg[160];

	fs_snprintf(msg, sizeof(msg), "panic: %s:%d: %s", file, line, why);
	fs_printf("%s\n", msg);
	fs_shutdown(FS_SHUTDOWN_ERROR, msg);
}
