/*
 * Child processes with a deadline (see runner.h). The parent polls
 * waitpid() every few milliseconds instead of using SIGCHLD: one child at
 * a time, runs of seconds to minutes, so the simplest correct loop wins.
 * exec failures travel back through a close-on-exec pipe, so "QEMU is not
 * installed" is reported as such and not as a strange exit status.
 */
#include "runner.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define POLL_MS 5

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

static void catch_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

/* In the child: never returns. */
static void child(char *const argv[], int out, int errpipe, pid_t parent)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127); /* hvboot died before prctl took effect */
	int null = open("/dev/null", O_RDONLY);
	if (null < 0 || dup2(null, 0) < 0 || dup2(out, 1) < 0 ||
	    dup2(out, 2) < 0)
		goto fail;
	execvp(argv[0], argv);
fail:;
	int e = errno;
	ssize_t w = write(errpipe, &e, sizeof(e));
	(void)w;
	_exit(127);
}

/* Poll for the child's end until deadline (ms, monotonic) or a signal. */
static bool wait_until(pid_t pid, long long deadline, int *status,
                       bool stop_on_signal)
{
	for (;;) {
		pid_t w = waitpid(pid, status, WNOHANG);
		if (w == pid || (w < 0 && errno != EINTR))
			return true;
		if (now_ms() >= deadline || (stop_on_signal && got_signal))
			return false;
		sleep_ms(POLL_MS);
	}
}

static void stop_child(pid_t pid, int *status)
{
	kill(pid, SIGTERM);
	if (wait_until(pid, now_ms() + RUNNER_KILL_GRACE_MS, status, false))
		return;
	kill(pid, SIGKILL);
	while (waitpid(pid, status, 0) < 0 && errno == EINTR)
		;
}

int runner_run(char *const argv[], const char *out_path, unsigned timeout_s,
               struct run_result *res, char *err, size_t errlen)
{
	memset(res, 0, sizeof(*res));
	int out =
	    open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0) {
		snprintf(err, errlen, "%s: %s", out_path, strerror(errno));
		return -1;
	}
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC)) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		close(out);
		return -1;
	}
	catch_signals();
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid == 0)
		child(argv, out, pfd[1], parent);
	int fork_errno = errno;
	close(out);
	close(pfd[1]);
	if (pid < 0) {
		close(pfd[0]);
		snprintf(err, errlen, "fork: %s", strerror(fork_errno));
		return -1;
	}
	int e = 0;
	ssize_t n;
	while ((n = read(pfd[0], &e, sizeof(e))) < 0 && errno == EINTR)
		;
	close(pfd[0]);
	if (n == (ssize_t)sizeof(e)) {
		while (waitpid(pid, &res->status, 0) < 0 && errno == EINTR)
			;
		snprintf(err, errlen, "cannot run %s: %s", argv[0],
		         strerror(e));
		return -1;
	}
	long long deadline = now_ms() + (long long)timeout_s * 1000;
	if (!wait_until(pid, deadline, &res->status, true)) {
		res->interrupted = got_signal;
		res->timed_out = !got_signal;
		stop_child(pid, &res->status);
	}
	return 0;
}
