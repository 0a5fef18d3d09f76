/*
 * Running a helper program (QEMU, grub-mkrescue) as a child: fork and exec,
 * no shell, with a wall-clock limit. The child dies with hvboot (SIGKILL
 * via PR_SET_PDEATHSIG) and is stopped when hvboot gets SIGINT, SIGTERM or
 * SIGHUP, so no QEMU is ever left running behind a failed or interrupted
 * run.
 */
#ifndef HVBOOT_RUNNER_H
#define HVBOOT_RUNNER_H

#include <stdbool.h>
#include <stddef.h>

/* Grace between SIGTERM and SIGKILL for a child that must be stopped. */
#define RUNNER_KILL_GRACE_MS 2000

struct run_result {
	int status;      /* waitpid() status of the child */
	bool timed_out;  /* stopped after timeout_s */
	int interrupted; /* the signal that interrupted hvboot, or 0 */
};

/*
 * Run argv (argv[0] looked up in PATH) with stdin from /dev/null and
 * stdout and stderr into out_path (created or truncated). Waits at most
 * timeout_s seconds of wall-clock time, then stops the child. Returns 0
 * with *res filled in, or -1 with the reason in err if the child could
 * not be started.
 */
int runner_run(char *const argv[], const char *out_path, unsigned timeout_s,
               struct run_result *res, char *err, size_t errlen);

#endif
