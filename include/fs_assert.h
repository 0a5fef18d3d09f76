/*
 * Assertions and panics for the portable core (sched/, accounting/).
 *
 * The portable code cannot know whether it runs inside the hypervisor or in a
 * host process, so it calls fs_panic(), which each environment provides: the
 * hypervisor prints the reason and halts the machine; host programs print it
 * and abort() (tools/common/panic_host.c).
 *
 * FS_ASSERT is compiled in when FS_DEBUG is set (debug and test builds) and
 * costs nothing otherwise; FS_BUG_ON is always on and is for broken
 * invariants whose consequences would be worse than stopping.
 */
#ifndef FS_ASSERT_H
#define FS_ASSERT_H

_Noreturn void fs_panic(const char *file, int line, const char *why);

#define FS_BUG_ON(cond)                                                        \
	do {                                                                   \
		if (__builtin_expect(!!(cond), 0))                             \
			fs_panic(__FILE__, __LINE__, "BUG: " #cond);           \
	} while (0)

#ifdef FS_DEBUG
#define FS_ASSERT(cond)                                                        \
	do {                                                                   \
		if (__builtin_expect(!(cond), 0))                              \
			fs_panic(__FILE__, __LINE__, "assert: " #cond);        \
	} while (0)
#else
#define FS_ASSERT(cond) ((void)0)
#endif

#endif
