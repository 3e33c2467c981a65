/* supervisor.c — signals, graceful drain, access log reopening. */
#include "hellod/supervisor.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define POLL_MS 50 /* how often a drain checks whether workers are done */

void hd_supervisor_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGUSR1);
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Opens the log file anew and puts it under the shared descriptor, so
 * workers write to the new file from their next flush on. */
static void reopen_log(struct hd_supervisor *sv)
{
	if (sv->log_fd < 0)
		return;
	int fd = hd_access_log_open(sv->cfg->access_log);
	if (fd < 0 || dup2(fd, sv->log_fd) < 0)
		fprintf(stderr, "hellod: reopening %s: %s\n",
			sv->cfg->access_log, strerror(errno));
	if (fd >= 0)
		close(fd);
}

/* Waits for SIGTERM or SIGINT until deadline_ms (-1: forever), reopening
 * the log on SIGUSR1 meanwhile. Returns the signal, or 0 at the deadline. */
static int wait_signal(struct hd_supervisor *sv, long long deadline_ms)
{
	for (;;) {
		int sig;
		if (deadline_ms < 0) {
			if (sigwait(sv->signals, &sig))
				continue;
		} else {
			long long left = deadline_ms - now_ms();
			if (left <= 0)
				return 0;
			struct timespec ts = {.tv_sec = left / 1000,
					      .tv_nsec =
						      (left % 1000) * 1000000};
			sig = sigtimedwait(sv->signals, NULL, &ts);
			if (sig < 0)
				continue; /* EAGAIN: the loop rechecks time */
		}
		if (sig == SIGUSR1) {
			reopen_log(sv);
			continue;
		}
		return sig;
	}
}

/* Every worker sees the new phase before any is woken, so no worker can
 * act on it (close an idle connection, say) while another still answers
 * as before. */
static void set_phase_all(struct hd_supervisor *sv, enum hd_phase phase)
{
	for (int i = 0; i < sv->worker_count; i++)
		atomic_store_explicit(&sv->workers[i]->phase, (int)phase,
				      memory_order_release);
	for (int i = 0; i < sv->worker_count; i++)
		hd_worker_set_phase(sv->workers[i], phase);
}

static bool all_exited(const struct hd_supervisor *sv)
{
	for (int i = 0; i < sv->worker_count; i++)
		if (!atomic_load(&sv->workers[i]->exited))
			return false;
	return true;
}

static void drain(struct hd_supervisor *sv)
{
	long long start = now_ms();
	long long deadline = start + sv->cfg->drain_timeout_ms;
	fprintf(stderr,
		"hellod: SIGTERM: draining (health 503 for %ums, exit within "
		"%ums; SIGINT or SIGTERM again to stop now)\n",
		sv->cfg->drain_grace_ms, sv->cfg->drain_timeout_ms);
	set_phase_all(sv, HD_PHASE_GRACE);
	if (wait_signal(sv, start + sv->cfg->drain_grace_ms))
		return;
	set_phase_all(sv, HD_PHASE_DRAIN);
	while (!all_exited(sv)) {
		long long next = now_ms() + POLL_MS;
		if (next > deadline)
			next = deadline;
		if (wait_signal(sv, next))
			return;
		if (now_ms() >= deadline) {
			fprintf(stderr,
				"hellod: drain_timeout reached; closing "
				"the connections left\n");
			return;
		}
	}
}

void hd_supervise(struct hd_supervisor *sv)
{
	if (wait_signal(sv, -1) == SIGTERM)
		drain(sv);
}
