/* poller_blocking.c — the first rung: blocking sockets, one connection
 * served at a time.
 *
 * Nothing is asked of the kernel here. wait() names the oldest open
 * connection (for writing while it has output queued, else for reading),
 * or, when there is none, the next listener; the owner then blocks inside
 * accept, read or send, as the first server of every tutorial does. A
 * second client waits in the listen backlog until the first one closes.
 *
 * Each socket is made blocking with a receive and send timeout of
 * HD_BLOCKING_SLICE_MS (SO_RCVTIMEO, SO_SNDTIMEO; accept honours the
 * first), so a blocked call comes back at least that often with EAGAIN:
 * that is how this mode keeps header, keep-alive, write and lingering
 * timeouts, drains and stops — the worker's loop runs between slices.
 * The wake eventfd is not watched (the loop looks at the phase every
 * slice anyway), and it must stay nonblocking.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "hellod/conn.h"
#include "hellod/poller.h"

#define MAX_WATCHED 64 /* listeners, plus connections waiting their turn */

struct watched {
	int fd;
	void *ptr;
	uint32_t events;
};

struct blocking_poller {
	struct hd_poller base;
	struct watched conns[MAX_WATCHED]; /* oldest first */
	int conn_count;
	struct watched listeners[MAX_WATCHED];
	int listener_count;
	int next_listener; /* round robin over several listen addresses */
};

/* Blocking, with the slice as timeout both ways. */
static int make_blocking(struct hd_poller *p, int fd)
{
	struct timeval tv = {.tv_sec = 0,
			     .tv_usec = HD_BLOCKING_SLICE_MS * 1000};
	p->ctl_calls += 4; /* the calls below */
	int flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)))
		return -errno;
	return 0;
}

static struct watched *find(struct watched *set, int count, int fd)
{
	for (int i = 0; i < count; i++)
		if (set[i].fd == fd)
			return &set[i];
	return NULL;
}

static int blocking_add(struct hd_poller *p, int fd, void *ptr, uint32_t events)
{
	struct blocking_poller *bp = (struct blocking_poller *)p;
	uint8_t type = *(const uint8_t *)ptr;
	if (type == HD_HANDLE_WAKE)
		return 0;
	bool conn = type == HD_HANDLE_CONN;
	struct watched *set = conn ? bp->conns : bp->listeners;
	int *count = conn ? &bp->conn_count : &bp->listener_count;
	if (*count == MAX_WATCHED) {
		p->refused++;
		return -EMFILE;
	}
	int err = make_blocking(p, fd);
	if (err)
		return err;
	set[(*count)++] = (struct watched){fd, ptr, events};
	return 0;
}

static int blocking_mod(struct hd_poller *p, int fd, void *ptr, uint32_t events)
{
	struct blocking_poller *bp = (struct blocking_poller *)p;
	struct watched *w = find(bp->conns, bp->conn_count, fd);
	if (!w)
		w = find(bp->listeners, bp->listener_count, fd);
	if (!w)
		return -ENOENT;
	w->ptr = ptr;
	w->events = events;
	p->ctl_calls++;
	return 0;
}

/* Keeps the order: the next connection in line is served next. */
static void drop(struct watched *set, int *count, struct watched *w)
{
	int i = (int)(w - set);
	for (; i + 1 < *count; i++)
		set[i] = set[i + 1];
	(*count)--;
}

static void blocking_forget(struct hd_poller *p, int fd)
{
	struct blocking_poller *bp = (struct blocking_poller *)p;
	struct watched *w = find(bp->conns, bp->conn_count, fd);
	if (w) {
		drop(bp->conns, &bp->conn_count, w);
		return;
	}
	w = find(bp->listeners, bp->listener_count, fd);
	if (w)
		drop(bp->listeners, &bp->listener_count, w);
}

/* The next listener that accepts, or NULL (paused after EMFILE, or the
 * listeners are closed by a drain). */
static struct watched *next_listener(struct blocking_poller *bp)
{
	for (int k = 0; k < bp->listener_count; k++) {
		int i = (bp->next_listener + k) % bp->listener_count;
		if (bp->listeners[i].events & HD_EV_READ) {
			bp->next_listener = i + 1;
			return &bp->listeners[i];
		}
	}
	return NULL;
}

static int blocking_wait(struct hd_poller *p, struct hd_event *events, int max,
			 int timeout_ms)
{
	struct blocking_poller *bp = (struct blocking_poller *)p;
	p->wait_calls++;
	if (max < 1)
		return 0;
	if (bp->conn_count) {
		/* Writing first: a blocking server finishes its answer
		 * before it reads the next request. */
		struct watched *c = &bp->conns[0];
		events[0].ptr = c->ptr;
		events[0].events =
			c->events & HD_EV_WRITE ? HD_EV_WRITE : HD_EV_READ;
		p->events++;
		return 1;
	}
	struct watched *l = next_listener(bp);
	if (!l) {
		/* Nothing to block on: wait the slice (or the timer). */
		unsigned ms = HD_BLOCKING_SLICE_MS;
		if (timeout_ms >= 0 && (unsigned)timeout_ms < ms)
			ms = (unsigned)timeout_ms;
		struct timespec ts = {0, (long)ms * 1000000L};
		nanosleep(&ts, NULL);
		return 0;
	}
	events[0].ptr = l->ptr;
	events[0].events = HD_EV_READ;
	p->events++;
	return 1;
}

static void blocking_destroy(struct hd_poller *p)
{
	free(p);
}

static const struct hd_poller_ops blocking_ops = {
	.name = "blocking",
	.add = blocking_add,
	.mod = blocking_mod,
	.forget = blocking_forget,
	.wait = blocking_wait,
	.destroy = blocking_destroy,
};

struct hd_poller *hd_poller_blocking_new(void)
{
	struct blocking_poller *bp = calloc(1, sizeof(*bp));
	if (!bp)
		return NULL;
	bp->base.ops = &blocking_ops;
	bp->base.blocking = true;
	return &bp->base;
}
