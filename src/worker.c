/* worker.c — a worker thread: its loop, accepting, and dispatch.
 *
 * The loop is the classic one: wait for events; for a listener, accept
 * until EAGAIN; for a connection, hand the events to conn.c. The Date
 * header is refreshed once per wakeup at most, and reformatted only when
 * the second changed.
 */
#include "hellod/worker.h"

#include "hellod/echo.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS	512
#define ACCEPT_PAUSE_MS 100  /* out of descriptors: accept again after */
#define PUBLISH_MS	10   /* /metrics lags a worker by at most this */
#define LOG_FLUSH_MS	1000 /* longest sleep while log lines wait */

/* The coarse clock is read from the vDSO without a system call; its few
 * milliseconds of lag do not matter for a one-second date. */
static struct timespec now_real(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
	return ts;
}

static uint64_t now_monotonic_ms(void)
{
	struct timespec ts;
	/* Coarse again: timeouts tick at HD_WHEEL_TICK_MS, far above its
	 * resolution (a few ms). */
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Once a second: the Date header, and the access log goes out. The date
 * can change only at the real clock's next whole second, so each read
 * of it says how far on the monotonic clock the next read is due: a
 * wakeup before that reads one clock, not two (about 15 instructions a
 * keep-alive request, callgrind). Read a millisecond early, it finds the
 * same second and sets the next read a millisecond on; a step of the
 * real clock shows within a second. */
static void refresh_date(struct hd_worker *w)
{
	if (w->now_ms < w->date_due_ms)
		return;
	struct timespec real = now_real();
	w->date_due_ms = w->now_ms + 1000 - (uint64_t)real.tv_nsec / 1000000;
	if (!hd_date_cache_update(&w->date, real.tv_sec))
		return;
	/* The scratch may have borrowed these bytes; it is empty between
	 * events, so nothing sends them half rewritten. */
	assert(!w->loop.scratch.len && !w->loop.scratch.lent);
	hd_responses_set_date(&w->responses, w->date.text);
	hd_access_log_flush(&w->log);
}

/* The body of /metrics or the echo route. */
static int render_route(void *arg, enum hd_route_kind kind,
			const struct hd_http_request *req, struct hd_buf *body,
			const char **content_type)
{
	struct hd_worker *w = arg;
	if (kind == HD_ROUTE_METRICS) {
		*content_type = HD_METRICS_CONTENT_TYPE;
		return hd_metrics_render(w->all, w->all_count, body);
	}
	if (kind == HD_ROUTE_ECHO)
		return hd_echo_render(req, body);
	return -1;
}

static void log_request(void *arg, const struct hd_http_request *req,
			int status, size_t body_bytes)
{
	struct hd_worker *w = arg;
	hd_access_log_record(&w->log, req, status, body_bytes, w->date.second);
}

void hd_worker_set_access_log(struct hd_worker *w, int log_fd)
{
	w->log.fd = log_fd;
	w->loop.http.log = log_fd >= 0 ? log_request : NULL;
	w->loop.http.log_arg = w;
	w->loop.http.log_requests = log_fd >= 0;
}

int hd_worker_init(struct hd_worker *w, int id, int cpu,
		   const struct hd_config *cfg,
		   const struct hd_listener *listeners, int listen_count)
{
	int err;
	memset(w, 0, sizeof(*w));
	w->id = id;
	w->cpu = cpu;
	w->cfg = cfg;
	w->wake_fd = w->reserve_fd = -1;
	atomic_init(&w->phase, HD_PHASE_RUN);
	atomic_init(&w->exited, false);
	w->fork_seen_local = atomic_load(&hd_poller_fork_gen);
	atomic_init(&w->fork_seen, w->fork_seen_local);
	hd_access_log_init(&w->log, -1, cfg->access_log_format);
	/* The worker owns the listening fds from here on, even on failure:
	 * hd_worker_free closes them. */
	if (listen_count > 0) {
		w->listeners =
			calloc((size_t)listen_count, sizeof(*w->listeners));
		if (!w->listeners) {
			for (int i = 0; i < listen_count; i++)
				close(listeners[i].fd);
			return -ENOMEM;
		}
	}
	for (int i = 0; i < listen_count; i++) {
		w->listeners[i] = listeners[i];
		w->listeners[i].type = HD_HANDLE_LISTENER;
	}
	w->listener_count = listen_count;
	w->now_ms = now_monotonic_ms();
	w->accept_timer.kind = HD_TIMER_ACCEPT;
	hd_date_cache_init(&w->date);
	hd_date_cache_update(&w->date, now_real().tv_sec);
	err = hd_responses_init(&w->responses, cfg, w->date.text);
	if (err)
		return err;
	w->poller = hd_poller_new(cfg);
	if (!w->poller)
		return -errno;
	err = hd_loop_init(&w->loop, cfg, w->poller, &w->responses, w->now_ms);
	if (err)
		return err;
	if (cfg->poller == HD_POLLER_URING) {
		w->loop.io = &hd_uring_io;
		w->loop.io_arg = w->poller;
	}
	if (w->poller->blocking) {
		w->loop.io = &hd_blocking_io;
		w->loop.io_arg = &w->loop;
		/* It serves one client at a time anyway, and a read on a
		 * blocking socket that sent nothing would wait a slice. */
		w->loop.read_after_accept = false;
	}
	/* One worker narrates: two would interleave their stories. */
	if (cfg->trace_lines && id == 0) {
		w->trace.left = cfg->trace_lines;
		w->poller->trace = w->loop.trace = &w->trace;
	}
	w->loop.http.date = w->date.text;
	w->loop.http.render = render_route;
	w->loop.http.render_arg = w;
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
	time_t now = now_real().tv_sec;
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
		w->loop.stats.refused++;
	}
	w->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return fd >= 0;
}

/* Even the reserve could not shed a connection (another thread took the
 * freed descriptor, say): stop watching the listeners for a moment, or a
 * level-triggered poller would report them ready in a busy loop. */
static void pause_accepting(struct hd_worker *w)
{
	if (w->accept_paused)
		return;
	for (int i = 0; i < w->listener_count; i++)
		hd_poller_mod(w->poller, w->listeners[i].fd, &w->listeners[i],
			      0);
	w->accept_paused = true;
	hd_timer_arm(&w->loop.wheel, &w->accept_timer,
		     hd_wheel_deadline(&w->loop.wheel, ACCEPT_PAUSE_MS));
}

static int accept_ready(struct hd_worker *w, struct hd_listener *l);

/* Edge-triggered listeners give no new event for connections that came
 * while paused, so accept what is waiting right away. */
static void resume_accepting(struct hd_worker *w)
{
	w->accept_paused = false;
	if (w->reserve_fd < 0)
		w->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	for (int i = 0; i < w->listener_count; i++)
		hd_poller_mod(w->poller, w->listeners[i].fd, &w->listeners[i],
			      HD_EV_READ);
	for (int i = 0; i < w->listener_count && !w->accept_paused; i++)
		accept_ready(w, &w->listeners[i]);
}

/* Past max_connections (per worker) a connection is accepted and closed
 * at once, so it neither waits in the backlog nor wakes us again. */
static struct hd_conn *take_connection(struct hd_worker *w, int fd)
{
	if (w->loop.open_conns >= w->cfg->max_connections) {
		close(fd);
		w->loop.stats.refused++;
		return NULL;
	}
	int err;
	struct hd_conn *c = hd_conn_open(&w->loop, fd, &err);
	if (!c && err != -ENOMEM)
		hd_worker_log_refused(w, fd, err);
	return c;
}

/* Keeps errno, which the caller reads next. */
static void trace_accept(struct hd_worker *w, int listen_fd, int fd)
{
	int err = errno;
	if (fd >= 0)
		hd_trace_say(w->loop.trace, "accept4(fd %d) = %d", listen_fd,
			     fd);
	else
		hd_trace_say(w->loop.trace, "accept4(fd %d) → %s", listen_fd,
			     err == EAGAIN ? "EAGAIN" : strerror(err));
	errno = err;
}

/* Accepts what waits on l. Returns how many accept4 calls returned a
 * connection (taken or refused at once). */
static int accept_ready(struct hd_worker *w, struct hd_listener *l)
{
	static _Thread_local time_t last_log;
	int got = 0;
	if (w->accept_paused)
		return 0;
	for (;;) {
		w->loop.stats.accepts++;
		struct sockaddr_storage addr;
		socklen_t addrlen = sizeof(addr);
		int fd = accept4(l->fd, (struct sockaddr *)&addr, &addrlen,
				 w->poller->blocking
					 ? SOCK_CLOEXEC
					 : SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (HD_TRACING(w->loop.trace))
			trace_accept(w, l->fd, fd);
		if (fd >= 0) {
			got++;
			struct hd_conn *c = take_connection(w, fd);
			if (c) {
				hd_peer_from_sockaddr(&c->peer,
						      (struct sockaddr *)&addr);
				if (l->proxy)
					c->flags |= HD_CONN_F_PROXY;
				hd_conn_start(&w->loop, c);
			}
			/* Teaching pitfall: the rest of the backlog waits for
			 * an event that edge mode will not send. Blocking:
			 * the rest waits until this client is served. */
			if (w->cfg->accept_once || w->poller->blocking)
				return got;
			continue;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return got;
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno == EMFILE || errno == ENFILE) {
			log_rate_limited(w, &last_log, "accept", errno);
			if (shed_connection(w, l->fd)) {
				got++;
				continue;
			}
			pause_accepting(w);
		} else {
			log_rate_limited(w, &last_log, "accept", errno);
		}
		return got;
	}
}

static void dispatch(struct hd_worker *w, const struct hd_event *ev)
{
	uint8_t kind = *(const uint8_t *)ev->ptr;
	/* Tested first, not through the switch's table: nearly every
	 * event is a connection's. */
	if (kind == HD_HANDLE_CONN) {
		hd_conn_on_event(&w->loop, ev->ptr, ev->events);
		return;
	}
	switch (kind) {
	case HD_HANDLE_LISTENER:
		/* Woken for a connection another worker took: with one
		 * listener shared by all, each connection wakes them all. */
		if (!accept_ready(w, ev->ptr))
			w->loop.stats.accept_empty++;
		break;
	case HD_HANDLE_WAKE: {
		uint64_t value;
		if (read(w->wake_fd, &value, sizeof(value)) < 0 &&
		    errno != EAGAIN)
			perror("hellod: eventfd");
		break;
	}
	}
}

static int fd_of(const struct hd_worker *w, const void *ptr)
{
	switch (*(const uint8_t *)ptr) {
	case HD_HANDLE_CONN: return ((const struct hd_conn *)ptr)->fd;
	case HD_HANDLE_LISTENER: return ((const struct hd_listener *)ptr)->fd;
	}
	return w->wake_fd;
}

/* What the kernel reported: one line per ready fd, or that none was. */
static void trace_wait(struct hd_worker *w, const struct hd_event *events,
		       int n)
{
	const char *call = hd_poller_wait_name(w->poller);
	if (n == 0)
		hd_trace_say(w->loop.trace, "%s → nothing ready", call);
	for (int i = 0; i < n; i++) {
		char ev[32];
		hd_trace_say(w->loop.trace, "%s → fd %d %s", call,
			     fd_of(w, events[i].ptr),
			     hd_trace_events(events[i].events, ev, sizeof(ev)));
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

static void close_listeners(struct hd_worker *w)
{
	for (int i = 0; i < w->listener_count; i++) {
		/* remove, not forget: a listener may be a dup() of another
		 * worker's, so close() alone would leave it in our set. */
		hd_poller_remove(w->poller, w->listeners[i].fd);
		close(w->listeners[i].fd);
	}
	w->listener_count = 0;
}

/* Drain: no new connections, every answer closes, and connections that
 * sit between requests with nothing to write are closed now. Whatever
 * already waits in a listener's accept queue is accepted and served
 * first: closing a listener resets the connections queued on it. (With
 * net.ipv4.tcp_migrate_req=1 the kernel hands them to another process
 * listening on the port instead, which closes the last small window.) */
static void start_drain(struct hd_worker *w)
{
	w->loop.http.force_close = true;
	for (int i = 0; i < w->listener_count; i++)
		accept_ready(w, &w->listeners[i]);
	close_listeners(w);
	for (struct hd_conn *c = w->loop.conns, *next; c; c = next) {
		next = c->next;
		if (hd_conn_is_spent(c))
			hd_conn_on_drain(&w->loop, c);
	}
}

/* Acts on a phase the main thread set. Returns false when the loop
 * should end. */
/* Once per wakeup, before the batch: the answers follow the phase at
 * once (health 503, Connection: close). The rest of a phase change
 * (closing listeners and connections) waits for the top of the loop,
 * where no event of the batch can point at a freed connection. */
static void note_phase(struct hd_worker *w)
{
	int phase = atomic_load_explicit(&w->phase, memory_order_acquire);
	if (phase >= HD_PHASE_GRACE)
		w->loop.http.health_failing = true;
	if (phase >= HD_PHASE_DRAIN)
		w->loop.http.force_close = true;
}

static bool follow_phase(struct hd_worker *w)
{
	int phase = atomic_load_explicit(&w->phase, memory_order_acquire);
	if (phase != w->seen_phase) {
		if (phase >= HD_PHASE_GRACE)
			w->loop.http.health_failing = true;
		if (phase == HD_PHASE_DRAIN)
			start_drain(w);
		w->seen_phase = phase;
	}
	if (phase == HD_PHASE_STOP)
		return false;
	return !(phase == HD_PHASE_DRAIN && !w->loop.conns &&
		 !hd_poller_flushing(w->poller));
}

static void on_timer(void *arg, struct hd_timer *t)
{
	struct hd_worker *w = arg;
	if (t->kind == HD_TIMER_ACCEPT) {
		resume_accepting(w);
		return;
	}
	hd_conn_on_timeout(&w->loop, hd_conn_of_timer(t));
}

/* The loop sleeps until the next event or the wheel's next busy tick
 * (forever when no timer is armed: the Date is refreshed after each
 * wakeup, before any response is made). Timers fire after the events
 * are handled, so no event in the batch can point at a connection a
 * timeout just freed. */
/* Copies the counters for /metrics at most every PUBLISH_MS: under load
 * a worker wakes tens of thousands of times a second, and publishing each
 * time cost about 150 instructions per keep-alive request (callgrind). */
static void publish_metrics(struct hd_worker *w)
{
	if (w->now_ms - w->published_ms < PUBLISH_MS) {
		w->publish_due = true;
		return;
	}
	hd_metrics_publish(w);
	w->published_ms = w->now_ms;
	w->publish_due = false;
}

/* The main thread is about to fork (poller.h): from here on every close
 * of this worker's sees hd_poller_forking set. */
static void acknowledge_fork(struct hd_worker *w)
{
	unsigned gen =
		atomic_load_explicit(&hd_poller_fork_gen, memory_order_acquire);
	if (gen != w->fork_seen_local) {
		w->fork_seen_local = gen;
		atomic_store_explicit(&w->fork_seen, gen, memory_order_release);
	}
}

void *hd_worker_run(void *arg)
{
	struct hd_worker *w = arg;
	struct hd_event events[MAX_EVENTS];
	pin_to_cpu(w);
	while (follow_phase(w)) {
		acknowledge_fork(w);
		int timeout = hd_wheel_timeout_ms(&w->loop.wheel, w->now_ms);
		/* Connections that spent their read budget go on at once. */
		if (w->loop.ready)
			timeout = 0;
		/* Counters not yet published go out soon even if idle. */
		if (w->publish_due && (timeout < 0 || timeout > PUBLISH_MS))
			timeout = PUBLISH_MS;
		/* Buffered access log lines go out within about a second. */
		if (w->log.buf.len && (timeout < 0 || timeout > LOG_FLUSH_MS))
			timeout = LOG_FLUSH_MS;
		int n = hd_poller_wait(w->poller, events, MAX_EVENTS, timeout);
		w->now_ms = now_monotonic_ms();
		hd_wheel_set_clock(&w->loop.wheel, w->now_ms);
		if (n < 0) {
			if (n == -EINTR)
				continue;
			fprintf(stderr, "hellod: worker %d: %s: %s\n", w->id,
				w->poller->ops->name, strerror(-n));
			break;
		}
		if (HD_TRACING(w->loop.trace))
			trace_wait(w, events, n);
		refresh_date(w);
		note_phase(w);
		for (int i = 0; i < n; i++)
			dispatch(w, &events[i]);
		hd_wheel_expire(&w->loop.wheel, on_timer, w);
		if (w->loop.ready)
			hd_conn_run_ready(&w->loop);
		publish_metrics(w);
	}
	while (w->loop.conns)
		hd_conn_close(&w->loop, w->loop.conns);
	hd_access_log_flush(&w->log);
	hd_metrics_publish(w);
	atomic_store(&w->exited, true);
	return NULL;
}

int hd_worker_start(struct hd_worker *w)
{
	return -pthread_create(&w->thread, NULL, hd_worker_run, w);
}

void hd_worker_wake(struct hd_worker *w)
{
	uint64_t one = 1;
	if (write(w->wake_fd, &one, sizeof(one)) < 0)
		perror("hellod: eventfd");
}

void hd_worker_stop(struct hd_worker *w)
{
	hd_worker_set_phase(w, HD_PHASE_STOP);
}

void hd_worker_set_phase(struct hd_worker *w, enum hd_phase phase)
{
	atomic_store_explicit(&w->phase, (int)phase, memory_order_release);
	hd_worker_wake(w);
}

void hd_worker_join(struct hd_worker *w)
{
	pthread_join(w->thread, NULL);
}

void hd_worker_free(struct hd_worker *w)
{
	hd_loop_free(&w->loop);
	for (int i = 0; i < w->listener_count; i++) {
		if (w->poller)
			hd_poller_forget(w->poller, w->listeners[i].fd);
		close(w->listeners[i].fd);
	}
	w->listener_count = 0;
	free(w->listeners);
	hd_access_log_free(&w->log);
	if (w->wake_fd >= 0)
		close(w->wake_fd);
	if (w->reserve_fd >= 0)
		close(w->reserve_fd);
	hd_poller_destroy(w->poller);
	hd_responses_free(&w->responses);
	memset(w, 0, sizeof(*w));
}
