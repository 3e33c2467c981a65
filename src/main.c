/* main.c — hellod's entry: flags and config, listening sockets, one worker
 * per CPU, then wait for a signal and stop cleanly. */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hellod/cli.h"
#include "hellod/handoff.h"
#include "hellod/listen_set.h"
#include "hellod/listener.h"
#include "hellod/pid_file.h"
#include "hellod/sd_listen.h"
#include "hellod/supervisor.h"
#include "hellod/pitfalls.h"
#include "hellod/worker.h"

struct server {
	const struct hd_config *cfg;
	struct hd_worker **workers;
	int worker_count;
	struct hd_listen_set set; /* the sockets; their fds are the workers' */
	int log_fd;		  /* shared access log, or -1 */
};

/* The CPUs this process may run on, in order; workers go round them. */
static int allowed_cpus(int *cpus, int max)
{
	cpu_set_t set;
	int n = 0;
	if (sched_getaffinity(0, sizeof(set), &set))
		return 0;
	for (int cpu = 0; cpu < CPU_SETSIZE && n < max; cpu++)
		if (CPU_ISSET(cpu, &set))
			cpus[n++] = cpu;
	return n;
}

/* workers, or its default: one per CPU; for poller threads, one per
 * connection served at once. */
static int worker_count(const struct hd_config *cfg, int ncpu)
{
	if (cfg->workers)
		return cfg->workers;
	if (cfg->poller == HD_POLLER_THREADS)
		return HD_THREADS_DEFAULT;
	return ncpu ? ncpu : 1;
}

/* The sockets passed at exec (socket activation, or a predecessor's on
 * SIGUSR2), matched to the listen entries; the rest bound here. */
static int open_listeners(struct server *s, int count, bool handoff)
{
	char err[HD_ERRLEN];
	int n = hd_sd_listen_fds();
	if (n < 0) {
		fprintf(stderr, "hellod: LISTEN_FDS: %s\n", strerror(-n));
		return -1;
	}
	int fds[n > 0 ? n : 1];
	for (int i = 0; i < n; i++)
		fds[i] = HD_SD_LISTEN_FDS_START + i;
	/* Under socket activation systemd's sockets are all we serve: a
	 * socket bound here would die with this process and reset what
	 * waits in it at the next restart. */
	bool bind_missing = n == 0 || handoff;
	if (hd_listen_set_build(&s->set, s->cfg, fds, n, bind_missing, count,
				err, sizeof(err))) {
		fprintf(stderr, "hellod: %s\n", err);
		return -1;
	}
	return 0;
}

/* Creates every worker first and starts them after, so the list /metrics
 * reads is complete before any worker runs. */
static int start_workers(struct server *s, bool handoff)
{
	int cpus[CPU_SETSIZE];
	int ncpu = allowed_cpus(cpus, CPU_SETSIZE);
	int count = worker_count(s->cfg, ncpu);
	if (open_listeners(s, count, handoff))
		return -1;
	s->workers = calloc((size_t)count, sizeof(*s->workers));
	if (!s->workers)
		return -1;
	for (int id = 0; id < count; id++) {
		struct hd_listener *ls = NULL;
		struct hd_worker *w = calloc(1, sizeof(*w));
		int n = w ? hd_listen_set_worker(&s->set, id, count, &ls)
			  : -ENOMEM;
		if (n < 0) {
			free(w);
			fprintf(stderr, "hellod: worker %d: %s\n", id,
				strerror(-n));
			return -1;
		}
		s->workers[s->worker_count++] = w;
		int err = hd_worker_init(w, id, ncpu ? cpus[id % ncpu] : -1,
					 s->cfg, ls, n);
		free(ls);
		if (err) {
			fprintf(stderr, "hellod: worker %d: %s%s\n", id,
				strerror(-err),
				s->cfg->poller == HD_POLLER_URING
					? " (poller uring: io_uring may be "
					  "forbidden by "
					  "kernel.io_uring_disabled,"
					  " a seccomp filter or the unit's "
					  "SystemCallFilter)"
					: "");
			return -1;
		}
		w->all = s->workers;
		w->all_count = count;
		hd_worker_set_access_log(w, s->log_fd);
	}
	for (int id = 0; id < count; id++) {
		int err = hd_worker_start(s->workers[id]);
		if (err) {
			fprintf(stderr, "hellod: worker %d: %s\n", id,
				strerror(-err));
			return -1;
		}
	}
	return 0;
}

static void print_banner(const struct server *s)
{
	char line[1024];
	size_t n = (size_t)snprintf(line, sizeof(line),
				    "hellod %s: listening on", HD_VERSION);
	for (int i = 0; i < s->set.count; i++) {
		const struct hd_listen_group *g = &s->set.groups[i];
		char addr[96];
		hd_listener_format(&g->spec, g->spec.port, addr, sizeof(addr));
		n += (size_t)snprintf(line + n, sizeof(line) - n, "%s %s",
				      i ? "," : "", addr);
	}
	fprintf(stderr, "%s; %d worker%s, trigger %s, poller %s\n", line,
		s->worker_count, s->worker_count == 1 ? "" : "s",
		s->cfg->poller == HD_POLLER_URING
			? "completions" /* no readiness at all */
			: hd_trigger_name(s->cfg->trigger),
		hd_poller_name(s->cfg->poller));
}

static void stop_workers(struct server *s)
{
	for (int i = 0; i < s->worker_count; i++)
		if (s->workers[i]->thread)
			hd_worker_stop(s->workers[i]);
	for (int i = 0; i < s->worker_count; i++)
		if (s->workers[i]->thread)
			hd_worker_join(s->workers[i]);
}

static void free_workers(struct server *s)
{
	for (int i = 0; i < s->worker_count; i++) {
		hd_worker_free(s->workers[i]);
		free(s->workers[i]);
	}
	free(s->workers);
}

static int open_access_log(const struct hd_config *cfg)
{
	if (!cfg->access_log[0])
		return -1;
	int fd = hd_access_log_open(cfg->access_log);
	if (fd < 0)
		fprintf(stderr, "hellod: access_log %s: %s\n", cfg->access_log,
			strerror(errno));
	return fd;
}

/* Serving now: the pid file names us (a successor rewrites the old
 * instance's), and a predecessor waiting on SIGUSR2 may stop accepting. */
static int announce(const struct hd_config *cfg, int ready_fd)
{
	if (cfg->pid_file[0]) {
		int err = hd_pid_file_write(cfg->pid_file);
		if (err) {
			fprintf(stderr, "hellod: pid_file %s: %s\n",
				cfg->pid_file, strerror(-err));
			return -1;
		}
	}
	if (ready_fd >= 0)
		hd_handoff_report_ready(ready_fd);
	return 0;
}

int main(int argc, char **argv)
{
	struct hd_config cfg;
	char err[HD_ERRLEN];
	/* Before anything can fail: a successor that exits at a bad flag
	 * must not leave its readiness pipe to be inherited. */
	int ready_fd = hd_handoff_ready_fd();
	enum hd_cli_result r = hd_cli_parse(argc, argv, &cfg, err, sizeof(err));
	if (r != HD_CLI_RUN) {
		if (r == HD_CLI_ERROR)
			fprintf(stderr, "hellod: %s\n", err); /* one line */
		hd_config_free(&cfg);
		return r == HD_CLI_ERROR ? 2 : 0;
	}
	int herr = hd_handoff_init(argv);
	if (herr)
		fprintf(stderr,
			"hellod: /proc/self/exe: %s (SIGUSR2 will not work)\n",
			strerror(-herr));

	/* Blocked in every thread (workers inherit the mask), so only the
	 * supervisor's sigwait sees them. */
	sigset_t set;
	hd_supervisor_signals(&set);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct server s = {.cfg = &cfg, .log_fd = open_access_log(&cfg)};
	int status = 0;
	bool announced = false;
	if (cfg.access_log[0] && s.log_fd < 0) {
		status = 1;
	} else if (start_workers(&s, ready_fd >= 0)) {
		status = 1;
	} else if (announce(&cfg, ready_fd)) {
		status = 1;
	} else {
		/* After the pid file: whoever waits for this line finds it. */
		hd_pitfalls_warn(stderr, &cfg);
		print_banner(&s);
		announced = true;
		ready_fd = -1;
		struct hd_supervisor sv = {.cfg = &cfg,
					   .workers = s.workers,
					   .worker_count = s.worker_count,
					   .sockets = &s.set,
					   .log_fd = s.log_fd,
					   .signals = &set};
		hd_supervise(&sv);
	}
	if (ready_fd >= 0)
		close(ready_fd);
	stop_workers(&s);
	if (cfg.stats && status == 0)
		hd_stats_print(stderr, s.workers, s.worker_count);
	free_workers(&s);
	hd_listen_set_free(&s.set);
	if (s.log_fd >= 0)
		close(s.log_fd);
	if (announced && cfg.pid_file[0])
		hd_pid_file_remove_own(cfg.pid_file);
	hd_config_free(&cfg);
	return status;
}
