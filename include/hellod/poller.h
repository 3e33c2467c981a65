/* poller.h — one small interface over epoll, poll and select.
 *
 * The connection code only ever says "tell me when this fd is readable or
 * writable"; each backend is one file implementing these operations. epoll
 * may be edge- or level-triggered; poll and select are level-triggered by
 * nature. The poller counts its own system calls for the teaching stats.
 */
#ifndef HELLOD_POLLER_H
#define HELLOD_POLLER_H

#include <stdatomic.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>

#include "hellod/config.h"
#include "hellod/trace.h"

/* READ and WRITE have epoll's values (EPOLLIN, EPOLLOUT), so the usual
 * report passes through poller_epoll.c unchanged. */
enum {
	HD_EV_READ = 1 << 0,
	HD_EV_HUP = 1 << 1, /* peer closed its side, or the socket errored */
	HD_EV_WRITE = 1 << 2,
};

struct hd_event {
	void *ptr;
	uint32_t events; /* HD_EV_* */
};

struct hd_poller;

struct hd_poller_ops {
	const char *name;
	/* Start watching fd for `events` (HD_EV_READ|HD_EV_WRITE); ptr comes
	 * back in each hd_event. Return 0 or -errno. */
	int (*add)(struct hd_poller *p, int fd, void *ptr, uint32_t events);
	int (*mod)(struct hd_poller *p, int fd, void *ptr, uint32_t events);
	/* Stop watching fd; called right before close(fd). */
	void (*forget)(struct hd_poller *p, int fd);
	/* Stop watching fd even though another descriptor of the same
	 * socket stays open (a dup()ed listener). NULL: forget does. */
	void (*remove)(struct hd_poller *p, int fd);
	/* Waits up to timeout_ms (-1: forever) and fills at most max events.
	 * Returns how many, or -errno (-EINTR included). */
	int (*wait)(struct hd_poller *p, struct hd_event *events, int max,
		    int timeout_ms);
	void (*destroy)(struct hd_poller *p);
	/* Whether output the owner has handed over is still going out on
	 * sockets it has closed (uring); a draining worker waits for it.
	 * NULL: never. */
	bool (*flushing)(const struct hd_poller *p);
};

struct hd_poller {
	const struct hd_poller_ops *ops;
	bool edge; /* edge-triggered (epoll only) */
	/* Blocking sockets, one connection at a time (poller_blocking.c):
	 * accept without SOCK_NONBLOCK, one connection per accept. */
	bool blocking;
	uint64_t
		ctl_calls; /* epoll_ctl calls, or set changes for poll/select */
	uint64_t wait_calls;	/* epoll_wait / poll / select calls */
	uint64_t events;	/* events delivered */
	uint64_t refused;	/* fds a backend could not take (select) */
	int fd_limit;		/* add() refuses fds >= this; 0: no limit */
	struct hd_trace *trace; /* --trace narrates changes; NULL: off */
};

/* The call behind a backend's wait and its set changes, for --trace:
 * "epoll_wait"/"epoll_ctl", "poll"/"poll set", ... */
const char *hd_poller_wait_name(const struct hd_poller *p);
void hd_poller_trace_ctl(const struct hd_poller *p, const char *op, int fd,
			 uint32_t events);

/* Creates the poller cfg names (cfg->poller; edge-triggered only for
 * epoll). NULL with errno set. */
struct hd_poller *hd_poller_new(const struct hd_config *cfg);

struct hd_poller *hd_poller_epoll_new(bool edge);
struct hd_poller *hd_poller_poll_new(void);
struct hd_poller *hd_poller_select_new(void);
/* Busy polling: no readiness call at all. Every wait reports every fd as
 * ready for what it was registered for, so the owner tries each socket
 * in turn and meets EAGAIN when there was nothing; sleeps sleep_ms
 * between passes (0: spins) unless the wait's timeout is 0. */
struct hd_poller *hd_poller_busy_new(unsigned sleep_ms);

/* Blocking sockets: wait() names one connection (or a listener) and the
 * owner blocks in accept, read or send, at most HD_BLOCKING_SLICE_MS at
 * a time (SO_RCVTIMEO, SO_SNDTIMEO) so its timers and phases still run. */
#define HD_BLOCKING_SLICE_MS 50
struct hd_poller *hd_poller_blocking_new(void);

/* io_uring (poller_uring.c): receives and sends are submitted and their
 * completions reaped; the loop must then make its socket calls through
 * hd_uring_io with the poller as io_arg (loop.h). A socket whose answer
 * is still going out at close is kept at most write_timeout_ms. */
struct hd_poller *hd_poller_uring_new(unsigned write_timeout_ms);

/* How a poll-style poller learns readiness: sets fds[i].revents for the
 * count fds and returns how many have any, or -errno. */
typedef int (*hd_poll_probe_fn)(void *arg, struct pollfd *fds, int count,
				int timeout_ms);
/* poll's watched set (poller_poll.c) with readiness from probe; name is
 * the poller's (static). The building block of poll and busy. */
struct hd_poller *hd_poller_probe_new(const char *name, hd_poll_probe_fn probe,
				      void *arg);

static inline int hd_poller_add(struct hd_poller *p, int fd, void *ptr,
				uint32_t events)
{
	if (HD_TRACING(p->trace))
		hd_poller_trace_ctl(p, "ADD", fd, events);
	return p->ops->add(p, fd, ptr, events);
}

static inline int hd_poller_mod(struct hd_poller *p, int fd, void *ptr,
				uint32_t events)
{
	if (HD_TRACING(p->trace))
		hd_poller_trace_ctl(p, "MOD", fd, events);
	return p->ops->mod(p, fd, ptr, events);
}

static inline void hd_poller_forget(struct hd_poller *p, int fd)
{
	p->ops->forget(p, fd);
}

static inline void hd_poller_remove(struct hd_poller *p, int fd)
{
	if (p->ops->remove)
		p->ops->remove(p, fd);
	else
		p->ops->forget(p, fd);
}

/* Nonzero while a child forked by this process may still hold copies of
 * its descriptors (between fork and exec, handoff.c): close() then
 * leaves a socket in the epoll sets it is in, since the child still
 * holds it, and an event could name a freed connection. The epoll
 * backend's forget removes the fd explicitly meanwhile. Set by the main
 * thread; hd_poller_fork_gen is bumped with it, and each worker
 * acknowledges the new generation at the top of its loop before the
 * fork (worker.h: fork_seen), so no close races the change. */
extern atomic_int hd_poller_forking;
extern atomic_uint hd_poller_fork_gen;

static inline int hd_poller_wait(struct hd_poller *p, struct hd_event *events,
				 int max, int timeout_ms)
{
	return p->ops->wait(p, events, max, timeout_ms);
}

static inline bool hd_poller_flushing(const struct hd_poller *p)
{
	return p->ops->flushing && p->ops->flushing(p);
}

static inline void hd_poller_destroy(struct hd_poller *p)
{
	if (p)
		p->ops->destroy(p);
}

#endif
