/* poller_uring.c — the top rung: io_uring, completions instead of
 * readiness.
 *
 * The other pollers ask "which sockets are ready?" and the connection
 * code then calls read and send itself. Here the worker hands the kernel
 * the work — receive on this socket, send these bytes — as submission
 * queue entries, and reaps completions: "received 27 bytes into buffer
 * 12", "sent 131 bytes". One io_uring_enter per turn of the loop both
 * submits everything queued since the last one and waits for what
 * completed; no send system call is made for a watched socket, and a
 * read only after a receive filled its whole buffer (see below).
 *
 * How it fits conn.c, which reads and sends through struct hd_io_ops:
 *
 * - Receives use provided buffers: one ring of RECV_BUFS buffers per
 *   worker, registered with the kernel, from which each receive takes a
 *   buffer only when data arrives, so an idle connection holds none.
 *   Each socket has at most one receive armed and at most one completed
 *   buffer queued (the next receive is armed when the queued one has
 *   been read whole): a connection that stops reading (conn.c paused for
 *   backpressure) stops taking buffers, and the kernel's window closes.
 *   When the ring runs low, buffers that such connections sit on are
 *   copied out to memory of their own and given back (spill_held), so
 *   clients that do not read cannot starve the others of receives.
 *   hd_uring_io's read copies from the queued buffer, returns it to the
 *   ring, and says EAGAIN when nothing is queued; a completion reports
 *   HD_EV_READ, edge-style (conn.c reads until EAGAIN or a short read).
 *   A short read must still mean a drained socket: after a receive that
 *   filled its buffer the socket is read with read(2) until a read
 *   comes back short, and only then is a receive armed again.
 * - Sends: hd_uring_io's send copies into the socket's own send buffer
 *   (SEND_CAP bytes, allocated while output is pending) and submits one
 *   send for what is there; bytes the buffer cannot take get EAGAIN, as
 *   from a full kernel socket buffer, and the completion that frees room
 *   reports HD_EV_WRITE. A send's error is kept and returned by the next
 *   send and read, so conn.c drops the connection as it would on EPIPE.
 * - shutdown and close wait for the socket's pending sends (an answer
 *   followed by a close must not be cut) until the kernel has taken
 *   nothing for write_timeout (as conn.c counts it, so a connection it
 *   dropped for that goes at once); then the armed receive is cancelled
 *   and the descriptor closed, after every queued entry was submitted:
 *   an entry is resolved to a file at submission, and one naming a
 *   closed number would act on the socket that reuses it.
 * - Listeners and the wake eventfd stay readiness-based: a multishot
 *   poll reports them and the worker accepts until EAGAIN as in every
 *   mode (so EMFILE shedding and the accept counters stay the same).
 * - A socket not (yet) watched — read_after_accept reads a connection
 *   before it joins the ring — is read and written with plain read(2)
 *   and send(2).
 *
 * The rule that keeps one client's bytes from another's: every entry's
 * user_data is the address of the socket's own state (struct usock) with
 * the operation in its low bits, never the descriptor. A closed socket's
 * state lives on, detached from the fd table, until its last completion
 * has come back, so a completion can never be taken for the connection
 * that reuses the descriptor number. Debug builds assert the bookkeeping
 * (owners of buffers, operations in flight, states alive at the end).
 */
#include <assert.h>
#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "hellod/conn.h"
#include "hellod/loop.h"
#include "hellod/poller.h"

#define RING_ENTRIES 4096
#define RECV_BUFS    256 /* per worker: 4 MiB */
#define RECV_BUF_LEN (16 * 1024)
#define SEND_CAP     (16 * 1024) /* a socket's bytes in our hands */
#define BGID	     1

enum op { OP_RECV = 1, OP_SEND = 2, OP_POLL = 3, OP_CANCEL = 4 };
#define OP_MASK 7u

struct usock {
	int fd;
	void *ptr;	  /* conn, listener or wake handle */
	bool is_conn;	  /* else a listener or the wake fd: polled */
	bool recv_armed;  /* a receive is in flight */
	bool send_armed;  /* a send is in flight */
	bool poll_armed;  /* (listener, wake) the multishot poll */
	bool poll_wanted; /* and whether it should be (mod pauses it) */
	bool recv_cancelled, send_cancelled;
	bool detached;	       /* closed by the owner; freed when idle */
	bool fd_open;	       /* fd still ours to close (after the sends) */
	bool want_shutdown;    /* shutdown(SHUT_WR) once the sends are done */
	bool eof;	       /* a receive returned 0 */
	bool starved;	       /* in the list waiting for a buffer */
	bool write_blocked;    /* a send said EAGAIN: report WRITE on room */
	int err;	       /* a failed receive or send: -errno */
	int queued_bid;	       /* the completed buffer, or -1 */
	char *spill;	       /* or its bytes, copied out of the ring */
	uint64_t queued_batch; /* the wait() that queued it */
	bool queued_full; /* the receive filled its buffer: more may wait */
	bool plain;	  /* so read(2) until a short read, then arm again */
	uint32_t queued_off, queued_len;
	char *sbuf; /* SEND_CAP bytes while output is pending */
	uint32_t shead, stail,
		sflight;      /* sent up to, filled up to, in flight */
	uint64_t progress_ms; /* the kernel last took a byte (or began to wait)
			       */
	uint32_t pend_ev;     /* events to report, HD_EV_* */
	bool pending;	      /* in the list of them */
	struct usock *next_pending;
	struct usock *next_starved;
	struct usock *next_closing;
	struct usock *prev_all, *next_all; /* every state not yet freed */
};

struct uring_poller {
	struct hd_poller base;
	struct io_uring ring;
	struct io_uring_buf_ring *br;
	char *bufs;
	int buf_mask;
	int buf_owner[RECV_BUFS]; /* fd + 1 of the socket holding it, 0 free */
	struct usock **by_fd;
	int by_fd_len;
	struct usock *starved, *closing, *all;
	struct usock *pending, **pending_tail; /* completions to report */
	uint8_t *preblocked; /* by fd: a plain send before add was short */
	int preblocked_len;
	bool preblocked_lost; /* out of memory once: report WRITE at add */
	unsigned write_timeout_ms;
	uint64_t batch; /* wait() calls */
	int free_bufs;	/* buffers in the kernel's ring */
	unsigned live;	/* states not yet freed */
	unsigned pending_sqes;
};

static void report(struct uring_poller *up, struct usock *s, uint32_t ev);
static bool take_preblocked(struct uring_poller *up, int fd);

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- submission ---- */

static struct io_uring_sqe *get_sqe(struct uring_poller *up)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&up->ring);
	if (!sqe) { /* the queue is full: hand it over now */
		io_uring_submit(&up->ring);
		sqe = io_uring_get_sqe(&up->ring);
	}
	if (sqe)
		up->base.ctl_calls++;
	return sqe;
}

static bool has_queued(const struct usock *s)
{
	return s->queued_bid >= 0 || s->spill;
}

static uint64_t tag(struct usock *s, enum op op)
{
	return (uint64_t)(uintptr_t)s | op;
}

static void arm_recv(struct uring_poller *up, struct usock *s)
{
	assert(!s->recv_armed && !has_queued(s) && !s->detached);
	if (s->eof || s->err)
		return;
	struct io_uring_sqe *sqe = get_sqe(up);
	if (!sqe) {
		s->err = -ENOMEM;
		return;
	}
	io_uring_prep_recv(sqe, s->fd, NULL, RECV_BUF_LEN, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = BGID;
	io_uring_sqe_set_data64(sqe, tag(s, OP_RECV));
	s->recv_armed = true;
}

static void arm_send(struct uring_poller *up, struct usock *s)
{
	assert(!s->send_armed && s->stail > s->shead);
	struct io_uring_sqe *sqe = get_sqe(up);
	if (!sqe) {
		s->err = -ENOMEM;
		return;
	}
	if (!s->shead)
		s->progress_ms = now_ms(); /* from here the wait counts */
	s->sflight = s->stail - s->shead;
	io_uring_prep_send(sqe, s->fd, s->sbuf + s->shead, s->sflight,
			   MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, tag(s, OP_SEND));
	s->send_armed = true;
	if (HD_TRACING(up->base.trace))
		hd_trace_say(up->base.trace, "send SQE fd %d, %u bytes", s->fd,
			     s->sflight);
}

static void arm_poll(struct uring_poller *up, struct usock *s)
{
	assert(!s->poll_armed);
	struct io_uring_sqe *sqe = get_sqe(up);
	if (!sqe)
		return;
	io_uring_prep_poll_multishot(sqe, s->fd, POLLIN);
	io_uring_sqe_set_data64(sqe, tag(s, OP_POLL));
	s->poll_armed = true;
}

/* Cancels s's operation op (by its user_data: the fd may be closed). */
static void cancel(struct uring_poller *up, struct usock *s, enum op op)
{
	struct io_uring_sqe *sqe = get_sqe(up);
	if (!sqe)
		return;
	io_uring_prep_cancel64(sqe, tag(s, op), 0);
	io_uring_sqe_set_data64(sqe, OP_CANCEL); /* no state: ignored */
}

/* ---- buffers ---- */

static void give_back(struct uring_poller *up, int bid)
{
	assert(up->buf_owner[bid] != 0);
	up->buf_owner[bid] = 0;
	up->free_bufs++;
	io_uring_buf_ring_add(up->br, up->bufs + (size_t)bid * RECV_BUF_LEN,
			      RECV_BUF_LEN, (unsigned short)bid, up->buf_mask,
			      0);
	io_uring_buf_ring_advance(up->br, 1);
	/* A socket that found the ring empty gets the buffer's turn. */
	struct usock *s = up->starved;
	if (s) {
		up->starved = s->next_starved;
		s->starved = false;
		if (!s->detached && !s->recv_armed && !has_queued(s))
			arm_recv(up, s);
	}
}

static void drop_queued(struct uring_poller *up, struct usock *s)
{
	if (s->queued_bid >= 0) {
		give_back(up, s->queued_bid);
		s->queued_bid = -1;
	}
	free(s->spill);
	s->spill = NULL;
}

/* The ring runs low while connections sit on buffers they do not read
 * (conn.c paused them: their client does not read its answers): their
 * bytes move to memory of their own (at most one buffer's worth each)
 * and the buffers go back, so a few hundred such clients cannot starve
 * every other connection of receives. */
static void spill_held(struct uring_poller *up)
{
	for (struct usock *s = up->all; s; s = s->next_all) {
		if (s->queued_bid < 0 || s->queued_batch == up->batch)
			continue;
		uint32_t n = s->queued_len - s->queued_off;
		char *copy = malloc(n ? n : 1);
		if (!copy)
			return; /* they wait for the buffers instead */
		memcpy(copy,
		       up->bufs + (size_t)s->queued_bid * RECV_BUF_LEN +
			       s->queued_off,
		       n);
		give_back(up, s->queued_bid);
		s->queued_bid = -1;
		s->spill = copy;
		s->queued_off = 0;
		s->queued_len = n;
	}
}

/* ---- socket states ---- */

static struct usock *lookup(struct uring_poller *up, int fd)
{
	return fd >= 0 && fd < up->by_fd_len ? up->by_fd[fd] : NULL;
}

static int attach(struct uring_poller *up, struct usock *s)
{
	if (s->fd >= up->by_fd_len) {
		int len = up->by_fd_len ? up->by_fd_len : 1024;
		while (len <= s->fd)
			len *= 2;
		struct usock **t = realloc(up->by_fd, sizeof(*t) * (size_t)len);
		if (!t)
			return -ENOMEM;
		memset(t + up->by_fd_len, 0,
		       sizeof(*t) * (size_t)(len - up->by_fd_len));
		up->by_fd = t;
		up->by_fd_len = len;
	}
	assert(up->by_fd[s->fd] == NULL);
	up->by_fd[s->fd] = s;
	return 0;
}

/* Frees s once nothing in flight can name it. */
static void maybe_free(struct uring_poller *up, struct usock *s)
{
	if (!s->detached || s->recv_armed || s->send_armed || s->poll_armed ||
	    s->fd_open || s->starved || s->pending)
		return;
	assert(!has_queued(s));
	if (s->prev_all)
		s->prev_all->next_all = s->next_all;
	else
		up->all = s->next_all;
	if (s->next_all)
		s->next_all->prev_all = s->prev_all;
	free(s->sbuf);
	free(s);
	up->live--;
}

static void unlink_closing(struct uring_poller *up, struct usock *s)
{
	for (struct usock **p = &up->closing; *p; p = &(*p)->next_closing)
		if (*p == s) {
			*p = s->next_closing;
			return;
		}
}

/* Hands the kernel every entry queued so far. Done before a descriptor
 * is closed: an entry is resolved to a file when it is submitted, not
 * when it is prepared, so one still queued that names the number (a
 * receive re-armed in this very event) would go to whatever socket
 * takes the number next, in any worker (descriptors are the process's),
 * and take that client's bytes. */
static void submit_before_close(struct uring_poller *up)
{
	if (io_uring_sq_ready(&up->ring))
		io_uring_submit(&up->ring);
}

/* The descriptor goes now: what was to be sent is sent, or given up. */
static void close_now(struct uring_poller *up, struct usock *s)
{
	if (s->recv_armed && !s->recv_cancelled) {
		cancel(up, s, OP_RECV);
		s->recv_cancelled = true;
	}
	if (s->send_armed && !s->send_cancelled) {
		cancel(up, s, OP_SEND);
		s->send_cancelled = true;
	}
	if (s->fd_open) {
		unlink_closing(up, s);
		submit_before_close(up);
		close(s->fd);
		s->fd_open = false;
	}
	maybe_free(up, s);
}

static bool sends_pending(const struct usock *s)
{
	return s->stail > s->shead && !s->err;
}

/* ---- hd_poller_ops ---- */

static int uring_add(struct hd_poller *p, int fd, void *ptr, uint32_t events)
{
	struct uring_poller *up = (struct uring_poller *)p;
	struct usock *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->fd = fd;
	s->ptr = ptr;
	s->fd_open = true;
	s->queued_bid = -1;
	s->is_conn = *(const uint8_t *)ptr == HD_HANDLE_CONN;
	if (attach(up, s)) {
		free(s);
		return -ENOMEM;
	}
	up->live++;
	s->next_all = up->all;
	if (up->all)
		up->all->prev_all = s;
	up->all = s;
	if (s->is_conn) {
		arm_recv(up, s);
		if (take_preblocked(up, fd))
			report(up, s, HD_EV_WRITE);
	} else if (events & HD_EV_READ) {
		s->poll_wanted = true;
		arm_poll(up, s);
	}
	return 0;
}

static int uring_mod(struct hd_poller *p, int fd, void *ptr, uint32_t events)
{
	struct uring_poller *up = (struct uring_poller *)p;
	struct usock *s = lookup(up, fd);
	if (!s)
		return -ENOENT;
	s->ptr = ptr;
	/* Connections are registered for both directions once (edge); a
	 * listener is paused (0) and resumed (READ) by the worker. */
	if (!s->is_conn) {
		s->poll_wanted = events & HD_EV_READ;
		if (!s->poll_wanted && s->poll_armed)
			cancel(up, s, OP_POLL);
		else if (s->poll_wanted && !s->poll_armed)
			arm_poll(up, s);
	}
	return 0;
}

/* A listener or the wake fd, right before its close: stop polling. For a
 * connection the io ops' close does the work (it may have to wait). */
static void uring_forget(struct hd_poller *p, int fd)
{
	struct uring_poller *up = (struct uring_poller *)p;
	struct usock *s = lookup(up, fd);
	if (!s || s->is_conn)
		return;
	up->by_fd[fd] = NULL;
	s->detached = true;
	s->fd_open = false; /* the owner closes it */
	s->poll_wanted = false;
	if (s->poll_armed)
		cancel(up, s, OP_POLL);
	submit_before_close(up); /* the owner closes fd next */
	maybe_free(up, s);
}

/* s has something to report: queued in arrival order, one entry per
 * socket however many completions came (epoll, too, names a socket once
 * per wait), handed out by wait(). */
static void report(struct uring_poller *up, struct usock *s, uint32_t ev)
{
	if (s->detached)
		return;
	s->pend_ev |= ev;
	if (s->pending)
		return;
	s->pending = true;
	s->next_pending = NULL;
	*up->pending_tail = s;
	up->pending_tail = &s->next_pending;
}

static void on_recv(struct uring_poller *up, struct usock *s,
		    const struct io_uring_cqe *cqe)
{
	s->recv_armed = false;
	if (cqe->flags & IORING_CQE_F_BUFFER) {
		int bid = (int)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
		assert(bid >= 0 && bid < RECV_BUFS && up->buf_owner[bid] == 0);
		up->buf_owner[bid] = s->fd + 1;
		up->free_bufs--;
		if (s->detached || cqe->res <= 0) {
			give_back(up, bid);
		} else {
			s->queued_bid = bid;
			s->queued_batch = up->batch;
			s->queued_off = 0;
			s->queued_len = (uint32_t)cqe->res;
			s->queued_full = cqe->res == RECV_BUF_LEN;
		}
	}
	if (HD_TRACING(up->base.trace))
		hd_trace_say(up->base.trace, "recv CQE fd %d = %d", s->fd,
			     cqe->res);
	if (s->detached) {
		maybe_free(up, s);
		return;
	}
	if (cqe->res == -ENOBUFS) { /* the ring is empty: wait our turn */
		if (!s->starved) {
			s->starved = true;
			s->next_starved = up->starved;
			up->starved = s;
		}
		return;
	}
	if (cqe->res == 0)
		s->eof = true;
	else if (cqe->res < 0 && cqe->res != -ECANCELED)
		s->err = cqe->res;
	report(up, s, HD_EV_READ);
}

static void on_send(struct uring_poller *up, struct usock *s,
		    const struct io_uring_cqe *cqe)
{
	s->send_armed = false;
	if (HD_TRACING(up->base.trace))
		hd_trace_say(up->base.trace, "send CQE fd %d = %d", s->fd,
			     cqe->res);
	if (cqe->res < 0) {
		if (!s->err)
			s->err = cqe->res == -ECANCELED ? -EPIPE : cqe->res;
		s->shead = s->stail = 0;
	} else {
		s->shead += (uint32_t)cqe->res;
		if (cqe->res > 0)
			s->progress_ms = now_ms();
	}
	s->sflight = 0;
	if (s->shead == s->stail) {
		s->shead = s->stail = 0;
		free(s->sbuf);
		s->sbuf = NULL;
	} else if (!s->detached || s->fd_open) {
		arm_send(up, s); /* a short send: the rest */
	}
	if (!s->send_armed && s->want_shutdown && s->fd_open && !s->err) {
		shutdown(s->fd, SHUT_WR);
		s->want_shutdown = false;
	}
	if (s->detached) {
		if (!s->send_armed)
			close_now(up, s);
		else
			maybe_free(up, s);
		return;
	}
	if (s->err || s->write_blocked) {
		s->write_blocked = false;
		report(up, s, HD_EV_WRITE | (s->err ? HD_EV_READ : 0));
	}
}

static void on_cqe(struct uring_poller *up, const struct io_uring_cqe *cqe)
{
	uint64_t data = io_uring_cqe_get_data64(cqe);
	enum op op = (enum op)(data & OP_MASK);
	struct usock *s =
		(struct usock *)(uintptr_t)(data & ~(uint64_t)OP_MASK);
	if (op == OP_CANCEL || !s)
		return;
	if (op == OP_RECV) {
		on_recv(up, s, cqe);
	} else if (op == OP_SEND) {
		on_send(up, s, cqe);
	} else if (op == OP_POLL) {
		if (!(cqe->flags & IORING_CQE_F_MORE))
			s->poll_armed = false;
		if (s->detached) {
			maybe_free(up, s);
			return;
		}
		if (cqe->res > 0)
			report(up, s, HD_EV_READ);
		/* A multishot poll may end (an overflow, or the cancel of a
		 * mod(0) whose mod(READ) came before this completion). */
		if (!s->poll_armed && s->poll_wanted)
			arm_poll(up, s);
	}
}

/* Detached sockets whose sends never finished (a client that stopped
 * reading): given up once the kernel has taken nothing for write_timeout,
 * however long the answer has been going out. */
static void expire_closing(struct uring_poller *up, uint64_t now)
{
	for (struct usock *s = up->closing, *next; s; s = next) {
		next = s->next_closing;
		if (now >= s->progress_ms + up->write_timeout_ms)
			close_now(up, s);
	}
}

/* Takes in every completion the kernel has posted (no system call: the
 * completion queue is shared memory). */
static unsigned absorb(struct uring_poller *up)
{
	struct io_uring_cqe *cqe;
	unsigned reaped = 0;
	while (io_uring_peek_cqe(&up->ring, &cqe) == 0) {
		on_cqe(up, cqe);
		io_uring_cqe_seen(&up->ring, cqe);
		reaped++;
	}
	return reaped;
}

static int uring_wait(struct hd_poller *p, struct hd_event *events, int max,
		      int timeout_ms)
{
	struct uring_poller *up = (struct uring_poller *)p;
	up->batch++;
	if (up->free_bufs < RECV_BUFS / 4)
		spill_held(up);
	if (up->closing) {
		expire_closing(up, now_ms());
		if (up->closing && (timeout_ms < 0 || timeout_ms > 100))
			timeout_ms = 100; /* look at the deadlines again */
	}
	unsigned submitting = io_uring_sq_ready(&up->ring);
	struct __kernel_timespec ts = {.tv_sec = timeout_ms / 1000,
				       .tv_nsec =
					       (timeout_ms % 1000) * 1000000L};
	p->wait_calls++;
	int ret;
	if (up->pending || io_uring_cq_ready(&up->ring) || timeout_ms == 0) {
		ret = submitting ? io_uring_submit(&up->ring) : 0;
	} else {
		struct io_uring_cqe *cqe;
		ret = io_uring_submit_and_wait_timeout(
			&up->ring, &cqe, 1, timeout_ms < 0 ? NULL : &ts, NULL);
	}
	if (ret < 0 && ret != -ETIME && ret != -EINTR && ret != -EBUSY)
		return ret;
	unsigned reaped = absorb(up);
	if (HD_TRACING(p->trace))
		hd_trace_say(p->trace,
			     "io_uring_enter: submitted %u, reaped %u",
			     submitting, reaped);
	int n = 0;
	while (n < max && up->pending) {
		struct usock *s = up->pending;
		up->pending = s->next_pending;
		if (!up->pending)
			up->pending_tail = &up->pending;
		s->pending = false;
		uint32_t ev = s->pend_ev;
		s->pend_ev = 0;
		if (s->detached) {
			maybe_free(up, s);
			continue;
		}
		events[n].ptr = s->ptr;
		events[n].events = ev;
		n++;
	}
	p->events += (uint64_t)n;
	return n == 0 && ret == -EINTR ? -EINTR : n;
}

static void uring_destroy(struct hd_poller *p)
{
	struct uring_poller *up = (struct uring_poller *)p;
	/* What was handed over but not yet submitted (the answers of the
	 * last batch, when a stop ends the loop right after it) goes to the
	 * kernel first: a send to a socket with room completes at once, as
	 * send(2) would have, and its bytes go out after the close. What
	 * must still wait is cancelled, synchronously, before the memory
	 * it names is freed; then no state can be named. */
	if (io_uring_sq_ready(&up->ring))
		io_uring_submit(&up->ring);
	struct io_uring_sync_cancel_reg every = {
		.fd = -1,
		.flags = IORING_ASYNC_CANCEL_ANY,
		.timeout = {.tv_sec = -1, .tv_nsec = -1}};
	io_uring_register_sync_cancel(&up->ring, &every);
	io_uring_queue_exit(&up->ring);
	for (struct usock *s = up->all, *next; s; s = next) {
		next = s->next_all;
		if (s->detached && s->fd_open)
			close(s->fd); /* its answer was still going out */
		free(s->spill);
		free(s->sbuf);
		free(s);
		up->live--;
	}
	assert(up->live == 0);
	free(up->by_fd);
	free(up->preblocked);
	free(up->bufs);
	free(up->br);
	free(up);
}

static bool uring_flushing(const struct hd_poller *p)
{
	return ((const struct uring_poller *)p)->closing != NULL;
}

static const struct hd_poller_ops uring_ops = {
	.name = "uring",
	.flushing = uring_flushing,
	.add = uring_add,
	.mod = uring_mod,
	.forget = uring_forget,
	.wait = uring_wait,
	.destroy = uring_destroy,
};

/* ---- hd_io_ops: what conn.c calls instead of read, send, close ---- */

/* A socket conn.c wrote to before it joined the ring (read_after_accept)
 * and the kernel refused part of it: conn.c waits for WRITE, which epoll
 * would report on ADD. uring_add reports it. */
static void mark_preblocked(struct uring_poller *up, int fd)
{
	if (fd >= up->preblocked_len) {
		int len = up->preblocked_len ? up->preblocked_len : 1024;
		while (len <= fd)
			len *= 2;
		uint8_t *t = realloc(up->preblocked, (size_t)len);
		if (!t) {
			up->preblocked_lost = true;
			return;
		}
		memset(t + up->preblocked_len, 0,
		       (size_t)(len - up->preblocked_len));
		up->preblocked = t;
		up->preblocked_len = len;
	}
	up->preblocked[fd] = 1;
}

static bool take_preblocked(struct uring_poller *up, int fd)
{
	if (fd >= up->preblocked_len)
		return up->preblocked_lost;
	bool was = up->preblocked[fd];
	up->preblocked[fd] = 0;
	return was;
}

/* A receive that filled its buffer says nothing of what is left: conn.c
 * takes a read shorter than it asked for as a drained socket (epoll(7)),
 * and closes without lingering on it, which would reset a connection
 * with bytes still unread. So after a full buffer the socket is read
 * with read(2), no receive in flight to race it, until a read comes
 * back short; then the receive is armed again. got bytes are in buf. */
static ssize_t read_plain(struct uring_poller *up, struct usock *s, char *buf,
			  size_t len, size_t got)
{
	ssize_t n;
	do
		n = read(s->fd, buf + got, len - got);
	while (n < 0 && errno == EINTR);
	if (n == 0)
		s->eof = true;
	else if (n < 0 && errno != EAGAIN)
		s->err = -errno;
	if (n < (ssize_t)(len - got)) { /* drained (or ended) */
		s->plain = false;
		arm_recv(up, s);
	}
	if (n > 0)
		return (ssize_t)got + n;
	if (got)
		return (ssize_t)got;
	return n == 0 ? 0 : s->err ? s->err : -EAGAIN;
}

static ssize_t uring_read(void *io, int fd, void *buf, size_t len)
{
	struct uring_poller *up = io;
	struct usock *s = lookup(up, fd);
	if (!s) { /* not watched yet (read_after_accept) */
		ssize_t n = read(fd, buf, len);
		return n < 0 ? -errno : n;
	}
	size_t got = 0;
	if (has_queued(s)) {
		uint32_t left = s->queued_len - s->queued_off;
		got = len < left ? len : left;
		const char *from = s->spill ? s->spill
					    : up->bufs + (size_t)s->queued_bid *
								 RECV_BUF_LEN;
		memcpy(buf, from + s->queued_off, got);
		s->queued_off += (uint32_t)got;
		if (s->queued_off < s->queued_len)
			return (ssize_t)got;
		s->plain = s->queued_full;
		drop_queued(up, s);
		/* conn.c may stop at this short read: the next receive
		 * goes out now, not at its EAGAIN. */
		if (!s->plain)
			arm_recv(up, s);
	}
	if (s->plain && got < len)
		return read_plain(up, s, buf, len, got);
	if (got)
		return (ssize_t)got;
	if (s->recv_armed && io_uring_cq_ready(&up->ring)) {
		/* EAGAIN must mean "nothing came", as from a socket: a
		 * completion already posted is taken in first (conn.c closes
		 * a draining connection whose read says EAGAIN). */
		absorb(up);
		if (has_queued(s))
			return uring_read(io, fd, buf, len);
	}
	if (s->err)
		return s->err;
	if (s->eof)
		return 0;
	if (!s->recv_armed && !s->starved)
		arm_recv(up, s);
	return -EAGAIN;
}

/* HD_SEND_LAST is not passed on: a submitted send completes on its own
 * time, and uring_close waits for it anyway. */
static ssize_t uring_send(void *io, int fd, const void *buf, size_t len,
			  int flags)
{
	(void)flags;
	struct uring_poller *up = io;
	struct usock *s = lookup(up, fd);
	if (!s) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < (ssize_t)len)
			mark_preblocked(up, fd);
		return n < 0 ? -errno : n;
	}
	if (s->err)
		return s->err;
	if (!s->sbuf) {
		s->sbuf = malloc(SEND_CAP);
		if (!s->sbuf)
			return -ENOMEM;
	}
	/* Room after what is in flight; what is sent can be moved out. */
	if (!s->send_armed && s->shead > 0) {
		memmove(s->sbuf, s->sbuf + s->shead, s->stail - s->shead);
		s->stail -= s->shead;
		s->shead = 0;
	}
	size_t room = SEND_CAP - s->stail;
	size_t n = len < room ? len : room;
	if (n == 0) {
		s->write_blocked = true;
		return -EAGAIN;
	}
	memcpy(s->sbuf + s->stail, buf, n);
	s->stail += (uint32_t)n;
	if (!s->send_armed)
		arm_send(up, s);
	if (n < len)
		s->write_blocked = true;
	return (ssize_t)n;
}

static int uring_shutdown_write(void *io, int fd)
{
	struct uring_poller *up = io;
	struct usock *s = lookup(up, fd);
	if (s && sends_pending(s)) {
		s->want_shutdown = true; /* after the answer, not before */
		return 0;
	}
	return shutdown(fd, SHUT_WR) ? -errno : 0;
}

static void uring_close(void *io, int fd)
{
	struct uring_poller *up = io;
	struct usock *s = lookup(up, fd);
	if (!s) {
		take_preblocked(up, fd);
		close(fd); /* never watched: no entry names it */
		return;
	}
	up->by_fd[fd] = NULL;
	s->detached = true;
	drop_queued(up, s);
	if (s->starved) { /* out of the list: it will never be armed */
		for (struct usock **q = &up->starved; *q;
		     q = &(*q)->next_starved)
			if (*q == s) {
				*q = s->next_starved;
				break;
			}
		s->starved = false;
	}
	if (s->recv_armed) {
		cancel(up, s, OP_RECV);
		s->recv_cancelled = true;
	}
	/* Keep the descriptor (so its number is not reused) until the
	 * answer is out or write_timeout gives up on it, counted as conn.c
	 * counts it: from the last byte the kernel took. A connection
	 * conn.c dropped for its write timeout is past it already and goes
	 * now, not a second write_timeout later. */
	if (sends_pending(s) &&
	    now_ms() < s->progress_ms + up->write_timeout_ms) {
		s->next_closing = up->closing;
		up->closing = s;
		return;
	}
	close_now(up, s);
}

const struct hd_io_ops hd_uring_io = {
	.read = uring_read,
	.send = uring_send,
	.shutdown_write = uring_shutdown_write,
	.close = uring_close,
};

/* ---- setup ---- */

static int setup_buffers(struct uring_poller *up)
{
	size_t ring_bytes = RECV_BUFS * sizeof(struct io_uring_buf);
	void *mem;
	if (posix_memalign(&mem, (size_t)sysconf(_SC_PAGESIZE), ring_bytes))
		return -ENOMEM;
	up->br = mem;
	up->bufs = malloc((size_t)RECV_BUFS * RECV_BUF_LEN);
	if (!up->bufs)
		return -ENOMEM;
	struct io_uring_buf_reg reg = {.ring_addr = (uint64_t)(uintptr_t)mem,
				       .ring_entries = RECV_BUFS,
				       .bgid = BGID};
	int err = io_uring_register_buf_ring(&up->ring, &reg, 0);
	if (err)
		return err;
	io_uring_buf_ring_init(up->br);
	up->buf_mask = io_uring_buf_ring_mask(RECV_BUFS);
	for (int i = 0; i < RECV_BUFS; i++)
		io_uring_buf_ring_add(
			up->br, up->bufs + (size_t)i * RECV_BUF_LEN,
			RECV_BUF_LEN, (unsigned short)i, up->buf_mask, i);
	io_uring_buf_ring_advance(up->br, RECV_BUFS);
	up->free_bufs = RECV_BUFS;
	return 0;
}

struct hd_poller *hd_poller_uring_new(unsigned write_timeout_ms)
{
	struct uring_poller *up = calloc(1, sizeof(*up));
	if (!up)
		return NULL;
	up->base.ops = &uring_ops;
	up->base.edge = true; /* a completion is reported once */
	up->write_timeout_ms = write_timeout_ms;
	up->pending_tail = &up->pending;
	int err = io_uring_queue_init(RING_ENTRIES, &up->ring, 0);
	if (err) {
		free(up);
		errno = -err;
		return NULL;
	}
	err = setup_buffers(up);
	if (err) {
		io_uring_queue_exit(&up->ring);
		free(up->bufs);
		free(up->br);
		free(up);
		errno = -err;
		return NULL;
	}
	return &up->base;
}
