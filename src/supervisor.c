/* supervisor.c — signals, graceful drain, handing over to a successor,
 * access log reopening. */
#include "hellod/supervisor.h"

#include "hellod/handoff.h"
#include "hellod/pid_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
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
	sigaddset(set, SIGUSR2);
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

/* Waits for SIGTERM or SIGINT (and SIGUSR2 when usr2 is set; otherwise
 * it is ignored with a line) until deadline_ms (-1: forever; a deadline
 * already passed still takes a signal that is pending), reopening the
 * log on SIGUSR1 meanwhile. Returns the signal, or 0 at the deadline. */
static int wait_signal(struct hd_supervisor *sv, long long deadline_ms,
		       bool usr2)
{
	for (;;) {
		int sig;
		if (deadline_ms < 0) {
			if (sigwait(sv->signals, &sig))
				continue;
		} else {
			long long left = deadline_ms - now_ms();
			if (left < 0)
				left = 0;
			struct timespec ts = {.tv_sec = left / 1000,
					      .tv_nsec =
						      (left % 1000) * 1000000};
			sig = sigtimedwait(sv->signals, NULL, &ts);
			if (sig < 0 && now_ms() >= deadline_ms)
				return 0;
			if (sig < 0)
				continue; /* EINTR: the loop rechecks time */
		}
		if (sig == SIGUSR1) {
			reopen_log(sv);
			continue;
		}
		if (sig == SIGUSR2 && !usr2) {
			fprintf(stderr, "hellod: SIGUSR2 ignored: already "
					"handing over or draining\n");
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

/* Listeners closed (after accepting what waits), answers close, idle
 * connections close; returns once every worker is done, at deadline, or
 * at SIGINT or another SIGTERM. */
static void finish(struct hd_supervisor *sv, long long deadline)
{
	set_phase_all(sv, HD_PHASE_DRAIN);
	while (!all_exited(sv)) {
		long long next = now_ms() + POLL_MS;
		if (next > deadline)
			next = deadline;
		if (wait_signal(sv, next, false))
			return;
		if (now_ms() >= deadline) {
			fprintf(stderr,
				"hellod: drain_timeout reached; closing "
				"the connections left\n");
			return;
		}
	}
}

static void drain(struct hd_supervisor *sv)
{
	long long start = now_ms();
	fprintf(stderr,
		"hellod: SIGTERM: draining (health 503 for %ums, exit within "
		"%ums; SIGINT or SIGTERM again to stop now)\n",
		sv->cfg->drain_grace_ms, sv->cfg->drain_timeout_ms);
	set_phase_all(sv, HD_PHASE_GRACE);
	if (wait_signal(sv, start + sv->cfg->drain_grace_ms, false))
		return;
	finish(sv, start + sv->cfg->drain_timeout_ms);
}

/* The failed successor may have got as far as writing the pid file. */
static void still_serving(struct hd_supervisor *sv, const char *why)
{
	fprintf(stderr, "hellod: SIGUSR2: successor %s; still serving\n", why);
	if (sv->cfg->pid_file[0])
		hd_pid_file_write(sv->cfg->pid_file);
}

/* Before the fork: every worker must have seen hd_poller_forking, so
 * each close from now on also takes the socket out of its epoll set
 * (poller.h). Returns false when a worker does not answer within 1 s. */
static bool fence_workers(struct hd_supervisor *sv)
{
	atomic_store(&hd_poller_forking, 1);
	unsigned gen = atomic_fetch_add(&hd_poller_fork_gen, 1) + 1;
	for (int i = 0; i < sv->worker_count; i++)
		hd_worker_wake(sv->workers[i]);
	long long deadline = now_ms() + 1000;
	for (int i = 0; i < sv->worker_count; i++)
		while (atomic_load(&sv->workers[i]->fork_seen) != gen) {
			if (now_ms() > deadline)
				return false;
			usleep(200);
		}
	return true;
}

/* Forks and execs the successor; returns once the child has exec'd. */
static int spawn(struct hd_supervisor *sv, struct hd_successor *s)
{
	int *fds;
	int n = hd_listen_set_fds(sv->sockets, &fds);
	if (n < 0)
		return n;
	int err = fence_workers(sv) ? hd_handoff_spawn(fds, n, s) : -EBUSY;
	atomic_store(&hd_poller_forking, 0);
	free(fds);
	return err;
}

/* SIGUSR2. Returns 1 once a successor serves (we drain), 0 when it
 * failed (we go on serving), or the SIGTERM or SIGINT that came while
 * it started (it is stopped; the signal is acted on as usual). */
static int hand_over(struct hd_supervisor *sv)
{
	char why[160];
	struct hd_successor s;
	int err = spawn(sv, &s);
	if (err) {
		snprintf(why, sizeof(why), "cannot start: %s", strerror(-err));
		still_serving(sv, why);
		return 0;
	}
	for (;;) {
		char what[128];
		int r = hd_handoff_wait(&s, POLL_MS, what, sizeof(what));
		if (r > 0)
			break;
		if (r < 0) {
			snprintf(why, sizeof(why), "%d %s", (int)s.pid, what);
			still_serving(sv, why);
			return 0;
		}
		int sig = wait_signal(sv, now_ms(), false);
		if (sig) {
			hd_handoff_abort(&s);
			snprintf(why, sizeof(why), "%d stopped by signal %d",
				 (int)s.pid, sig);
			still_serving(sv, why);
			return sig;
		}
	}
	fprintf(stderr,
		"hellod: SIGUSR2: successor %d serves; draining (exit within "
		"%ums)\n",
		(int)s.pid, sv->cfg->drain_timeout_ms);
	return 1;
}

void hd_supervise(struct hd_supervisor *sv)
{
	for (;;) {
		int sig = wait_signal(sv, -1, true);
		if (sig == SIGUSR2) {
			sig = hand_over(sv);
			if (sig == 0)
				continue;
			if (sig == 1) {
				/* No grace: the successor answers on the
				 * same sockets, health included. */
				finish(sv,
				       now_ms() + sv->cfg->drain_timeout_ms);
				return;
			}
		}
		if (sig == SIGTERM)
			drain(sv);
		return;
	}
}
