/* fs_panic() for host programs: print the reason and abort, so a broken
 * invariant in the portable core stops a test or hvsim with a core dump and
 * (under ASan) a stack trace. */
#include <stdio.h>
#include <stdlib.h>

#include "fs_assert.h"

void fs_panic(const char *file, int line, const char *why)
{
	fprintf(stderr, "fs_panic: %s:%d: %s\n", file, line, why);
	fflush(stderr);
	abort();
}
