/* worker.c — a worker thread: its loop, accepting, and dispatch.
 *
 * The loop is the classic one: wait for events; for a listener, accept
 * until EAGAIN; for a connection, hand the events to conn.c. The Date
 * header is refreshed once per wakeup at most, and reformatted only when
 * the second changed.
 */
#include "hellod/worker.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define READ_BUFFER (64 * 1024)
#define MAX_EVENTS  512
#define WAKE_MS	    1000 /* wake at least this often to refresh the date */

static time_t now_seconds(void)
{
	struct timespec ts;
	/* The coarse clock is read from the vDSO without a system call; its
	 * few milliseconds of lag do not matter for a one-second date. */
	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
	return ts.tv_sec;
}

static void refresh_date(struct hd_worker *w)
{
	if (hd_date_cache_update(&w->date, now_seconds()))
		hd_responses_set_date(&w->responses, w->date.text);
}

int hd_worker_init(struct hd_worker *w, int id, int cpu,
		   const struct hd_config *cfg, const int *listen_fds,
		   int listen_count)
{
	int err;
	memset(w, 0, sizeof(*w));
	w->id = id;
	w->cpu = cpu;
	w->cfg = cfg;
	w->wake_fd = w->reserve_fd = -1;
	atomic_init(&w->stop, false);
	/* The worker owns the listening fds from here on, even on failure:
	 * hd_worker_free closes them. */
	for (int i = 0; i < listen_count; i++)
		w->listeners[i] =
			(struct hd_listener){HD_HANDLE_LISTENER, listen_fds[i]};
	w->listener_count = listen_count;
	hd_date_cache_init(&w->date);
	hd_date_cache_update(&w->date, now_seconds());
	err = hd_responses_init(&w->responses, cfg, w->date.text);
	if (err)
		return err;
	hd_http_ctx_init(&w->http, cfg, &w->responses);
	w->rbuf_size = cfg->read_size ? cfg->read_size : READ_BUFFER;
	w->rbuf = malloc(w->rbuf_size);
	if (!w->rbuf || hd_buf_reserve(&w->scratch, 2 * READ_BUFFER))
		return -ENOMEM;
	w->poller = hd_poller_new(cfg->poller, cfg->trigger == HD_TRIGGER_EDGE);
	if (!w->poller)
		return -errno;
	w->wake_type = HD_HANDLE_WAKE;
	w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->wake_fd < 0)
		return -errno;
	err = hd_poller_add(w->poller, w->wake_fd, &w->wake_type, HD_EV_READ);
	if (err)
		return err;
	for (int i = 0; i < listen_count; i++) {
		struct hd_listener *l = &w->listeners[i];
		err = hd_poller_add(w->poller, l->fd, l, HD_EV_READ);
		if (err)
			return err;
	}
	/* Kept open to be given up when accept fails with EMFILE, so the
	 * worker can accept and close the waiting connection instead of
	 * being woken for it again and again. */
	w->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return 0;
}

static void log_rate_limited(struct hd_worker *w, time_t *last,
			     const char *what, int err)
{
	time_t now = now_seconds();
	if (now == *last)
		return;
	*last = now;
	fprintf(stderr, "hellod: worker %d: %s: %s\n", w->id, what,
		strerror(err));
}

void hd_worker_log_refused(struct hd_worker *w, int fd, int err)
{
	static _Thread_local time_t last_log;
	const struct hd_poller *p = w->poller;
	char what[160];
	if (p->fd_limit && fd >= p->fd_limit)
		snprintf(what, sizeof(what),
			 "%s cannot watch fd %d (only fds below %d); "
			 "connection closed",
			 p->ops->name, fd, p->fd_limit);
	else
		snprintf(what, sizeof(what),
			 "%s cannot watch fd %d; connection closed",
			 p->ops->name, fd);
	log_rate_limited(w, &last_log, what, -err);
}

/* Out of descriptors: free the reserve, accept and drop one connection,
 * take the reserve back. Returns false when even that failed. */
static bool shed_connection(struct hd_worker *w, int listen_fd)
{
	if (w->reserve_fd < 0)
		return false;
	close(w->reserve_fd);
	int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd >= 0) {
		close(fd);
		w->stats.refused++;
	}
	w->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return fd >= 0;
}

static void accept_ready(struct hd_worker *w, struct hd_listener *l)
{
	static _Thread_local time_t last_log;
	for (;;) {
		w->stats.accepts++;
		int fd = accept4(l->fd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			hd_conn_open(w, fd);
			/* Teaching pitfall: the rest of the backlog waits for
			 * an event that edge mode will not send. */
			if (w->cfg->accept_once)
				return;
			continue;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno == EMFILE || errno == ENFILE) {
			log_rate_limited(w, &last_log, "accept", errno);
			if (shed_connection(w, l->fd))
				continue;
		} else {
			log_rate_limited(w, &last_log, "accept", errno);
		}
		return;
	}
}

static void dispatch(struct hd_worker *w, const struct hd_event *ev)
{
	switch (*(const uint8_t *)ev->ptr) {
	case HD_HANDLE_CONN: hd_conn_on_event(w, ev->ptr, ev->events); break;
	case HD_HANDLE_LISTENER: accept_ready(w, ev->ptr); break;
	case HD_HANDLE_WAKE: {
		uint64_t value;
		if (read(w->wake_fd, &value, sizeof(value)) < 0 &&
		    errno != EAGAIN)
			perror("hellod: eventfd");
		break;
	}
	}
}

static void pin_to_cpu(struct hd_worker *w)
{
	if (w->cpu < 0)
		return;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(w->cpu, &set);
	int err = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	if (err)
		fprintf(stderr, "hellod: worker %d: cannot pin to CPU %d: %s\n",
			w->id, w->cpu, strerror(err));
}

void *hd_worker_run(void *arg)
{
	struct hd_worker *w = arg;
	struct hd_event events[MAX_EVENTS];
	pin_to_cpu(w);
	while (!atomic_load_explicit(&w->stop, memory_order_relaxed)) {
		int n = hd_poller_wait(w->poller, events, MAX_EVENTS, WAKE_MS);
		if (n < 0) {
			if (n == -EINTR)
				continue;
			fprintf(stderr, "hellod: worker %d: %s: %s\n", w->id,
				w->poller->ops->name, strerror(-n));
			break;
		}
		refresh_date(w);
		for (int i = 0; i < n; i++)
			dispatch(w, &events[i]);
	}
	while (w->conns)
		hd_conn_close(w, w->conns);
	return NULL;
}

int hd_worker_start(struct hd_worker *w)
{
	return -pthread_create(&w->thread, NULL, hd_worker_run, w);
}

void hd_worker_stop(struct hd_worker *w)
{
	uint64_t one = 1;
	atomic_store(&w->stop, true);
	if (write(w->wake_fd, &one, sizeof(one)) < 0)
		perror("hellod: eventfd");
}

void hd_worker_join(struct hd_worker *w)
{
	pthread_join(w->thread, NULL);
}

void hd_worker_free(struct hd_worker *w)
{
	while (w->conns)
		hd_conn_close(w, w->conns);
	for (int i = 0; i < w->listener_count; i++) {
		if (w->poller)
			hd_poller_forget(w->poller, w->listeners[i].fd);
		close(w->listeners[i].fd);
	}
	w->listener_count = 0;
	if (w->wake_fd >= 0)
		close(w->wake_fd);
	if (w->reserve_fd >= 0)
		close(w->reserve_fd);
	hd_poller_destroy(w->poller);
	hd_responses_free(&w->responses);
	hd_buf_free(&w->scratch);
	free(w->rbuf);
	memset(w, 0, sizeof(*w));
}
