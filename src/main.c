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
#include "hellod/listener.h"
#include "hellod/supervisor.h"
#include "hellod/pitfalls.h"
#include "hellod/worker.h"

struct server {
	const struct hd_config *cfg;
	struct hd_worker **workers;
	int worker_count;
	uint16_t ports[HD_MAX_LISTEN]; /* real ports, port 0 resolved */
	int log_fd;		       /* shared access log, or -1 */
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

/* Opens worker `id`'s listening sockets. The first worker binds the
 * configured ports and learns the real ones, so that with port 0 every
 * worker's SO_REUSEPORT socket joins the same port. */
static int open_listeners(struct server *s, int id, int *fds)
{
	char err[HD_ERRLEN];
	for (int i = 0; i < s->cfg->listen_count; i++) {
		const struct hd_listen_spec *spec = &s->cfg->listen[i];
		uint16_t port = id == 0 ? spec->port : s->ports[i];
		fds[i] = hd_listener_open(spec, port, err, sizeof(err));
		if (fds[i] < 0) {
			fprintf(stderr, "hellod: %s\n", err);
			while (i-- > 0)
				close(fds[i]);
			return -1;
		}
		if (id == 0)
			s->ports[i] = hd_listener_port(fds[i]);
	}
	return 0;
}

/* Creates every worker first and starts them after, so the list /metrics
 * reads is complete before any worker runs. */
static int start_workers(struct server *s)
{
	int cpus[CPU_SETSIZE];
	int ncpu = allowed_cpus(cpus, CPU_SETSIZE);
	int count = s->cfg->workers ? s->cfg->workers : (ncpu ? ncpu : 1);
	s->workers = calloc((size_t)count, sizeof(*s->workers));
	if (!s->workers)
		return -1;
	for (int id = 0; id < count; id++) {
		int fds[HD_MAX_LISTEN];
		struct hd_worker *w = calloc(1, sizeof(*w));
		if (!w || open_listeners(s, id, fds)) {
			free(w);
			return -1;
		}
		s->workers[s->worker_count++] = w;
		int err = hd_worker_init(w, id, ncpu ? cpus[id % ncpu] : -1,
					 s->cfg, fds, s->cfg->listen_count);
		if (err) {
			fprintf(stderr, "hellod: worker %d: %s\n", id,
				strerror(-err));
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
	for (int i = 0; i < s->cfg->listen_count; i++) {
		char addr[96];
		hd_listener_format(&s->cfg->listen[i], s->ports[i], addr,
				   sizeof(addr));
		n += (size_t)snprintf(line + n, sizeof(line) - n, "%s %s",
				      i ? "," : "", addr);
	}
	fprintf(stderr, "%s; %d worker%s, trigger %s, poller %s\n", line,
		s->worker_count, s->worker_count == 1 ? "" : "s",
		hd_trigger_name(s->cfg->trigger),
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

int main(int argc, char **argv)
{
	struct hd_config cfg;
	char err[HD_ERRLEN];
	enum hd_cli_result r = hd_cli_parse(argc, argv, &cfg, err, sizeof(err));
	if (r != HD_CLI_RUN) {
		if (r == HD_CLI_ERROR)
			fprintf(stderr, "hellod: %s\n", err); /* one line */
		hd_config_free(&cfg);
		return r == HD_CLI_ERROR ? 2 : 0;
	}

	/* Blocked in every thread (workers inherit the mask), so only the
	 * supervisor's sigwait sees them. */
	sigset_t set;
	hd_supervisor_signals(&set);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct server s = {.cfg = &cfg, .log_fd = open_access_log(&cfg)};
	int status = 0;
	if (cfg.access_log[0] && s.log_fd < 0) {
		status = 1;
	} else if (start_workers(&s)) {
		status = 1;
	} else {
		hd_pitfalls_warn(stderr, &cfg);
		print_banner(&s);
		struct hd_supervisor sv = {.cfg = &cfg,
					   .workers = s.workers,
					   .worker_count = s.worker_count,
					   .log_fd = s.log_fd,
					   .signals = &set};
		hd_supervise(&sv);
	}
	stop_workers(&s);
	if (cfg.stats && status == 0)
		hd_stats_print(stderr, s.workers, s.worker_count);
	free_workers(&s);
	if (s.log_fd >= 0)
		close(s.log_fd);
	hd_config_free(&cfg);
	return status;
}
