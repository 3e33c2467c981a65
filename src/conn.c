/* conn.c — a connection's life: read, parse, answer, write, close.
 *
 * Handlers move a connection between the states of enum hd_conn_state
 * through the small transition functions below, each of which asserts
 * where it starts. Every event ends in settle(), the one place that
 * queues the event's output (emit), finishes a close, frees the
 * connection, or fixes what the poller watches and which timeout applies.
 */
#include "hellod/conn.h"

#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "hellod/proxy_protocol.h"

/* Output gathered for one connection is written once it reaches this
 * much, even mid-batch, so a deep pipeline never builds a huge scratch. */
#define SCRATCH_FLUSH (64 * 1024)

/* The steps of a keep-alive exchange (read, feed, emit, send): each is
 * called from several places, so GCC keeps them out of line, and their
 * entries and exits cost about 54 instructions an exchange (callgrind,
 * docs/performance.md). Inlined, they cost some 8 KiB of code. */
#define HOT_INLINE __attribute__((always_inline)) inline

/* ---- the loop's lists ---- */

static void list_link(struct hd_loop *loop, struct hd_conn *c)
{
	c->next = loop->conns;
	if (loop->conns)
		loop->conns->prev = c;
	loop->conns = c;
}

static void list_unlink(struct hd_loop *loop, struct hd_conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		loop->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
}

/* The ready list: connections that spent their read budget, served once
 * each after the batch. Doubly linked, so that leaving it is O(1) however
 * many thousands of connections stream at once. */
static void ready_push(struct hd_loop *loop, struct hd_conn *c)
{
	if (c->flags & HD_CONN_F_READY)
		return;
	c->flags |= HD_CONN_F_READY;
	c->ready_prev = NULL;
	c->ready_next = loop->ready;
	if (loop->ready)
		loop->ready->ready_prev = c;
	loop->ready = c;
}

static void ready_remove(struct hd_loop *loop, struct hd_conn *c)
{
	if (!(c->flags & HD_CONN_F_READY))
		return;
	if (c->ready_prev)
		c->ready_prev->ready_next = c->ready_next;
	else
		loop->ready = c->ready_next;
	if (c->ready_next)
		c->ready_next->ready_prev = c->ready_prev;
	c->ready_prev = c->ready_next = NULL;
	c->flags &= (uint16_t)~HD_CONN_F_READY;
}

/* ---- open and close ---- */

struct hd_conn *hd_conn_open(struct hd_loop *loop, int fd, int *err)
{
	struct hd_conn *c = calloc(1, sizeof(*c));
	if (!c) {
		loop->io->close(loop->io_arg, fd);
		loop->stats.refused++;
		*err = -ENOMEM;
		return NULL;
	}
	c->type = HD_HANDLE_CONN;
	c->state = HD_CONN_READING;
	c->fd = fd;
	hd_http_init(&c->http);
	/* The first request must be complete within header_timeout of the
	 * accept, whether or not a byte of it has come. */
	c->timer.kind = HD_TIMEOUT_HEADER;
	hd_timer_arm(
		&loop->wheel, &c->timer,
		hd_wheel_deadline(&loop->wheel, loop->cfg->header_timeout_ms));
	/* Edge-triggered: registered once for both directions, never
	 * re-armed. Level-triggered: EPOLLOUT only while output waits. */
	c->interest =
		loop->poller->edge ? (HD_EV_READ | HD_EV_WRITE) : HD_EV_READ;
	/* Read at once instead (hd_conn_start): settle() registers c only
	 * if it is still open then. An fd the poller can never watch
	 * (select's FD_SETSIZE) is refused here, before any answer, with
	 * the error the worker logs. */
	const struct hd_poller *p = loop->poller;
	*err = 0;
	if (loop->read_after_accept && !(p->fd_limit && fd >= p->fd_limit))
		c->flags |= HD_CONN_F_UNWATCHED;
	else
		*err = hd_poller_add(loop->poller, fd, c, c->interest);
	if (*err) {
		hd_timer_cancel(&loop->wheel, &c->timer);
		loop->io->close(loop->io_arg, fd);
		free(c);
		loop->stats.refused++;
		return NULL;
	}
	list_link(loop, c);
	loop->open_conns++;
	loop->stats.accepted++;
	return c;
}

void hd_conn_close(struct hd_loop *loop, struct hd_conn *c)
{
	HD_TRACE(loop->trace, "close(fd %d)", c->fd);
	ready_remove(loop, c);
	if (!(c->flags & HD_CONN_F_UNWATCHED))
		hd_poller_forget(loop->poller, c->fd);
	loop->io->close(loop->io_arg, c->fd);
	list_unlink(loop, c);
	hd_http_release(&c->http);
	hd_timer_cancel(&loop->wheel, &c->timer);
	hd_chunk_free(&c->out);
	hd_chunk_free(&c->in);
	free(c);
	loop->open_conns--;
	loop->stats.closed++;
}

bool hd_conn_is_idle(const struct hd_conn *c)
{
	/* Input known to wait (a spent read budget, a FIN behind bytes)
	 * is requests to answer, not idleness. */
	return c->state == HD_CONN_READING && !c->out && !c->in &&
	       !(c->flags & (HD_CONN_F_PROXY | HD_CONN_F_UNREAD |
			     HD_CONN_F_READY | HD_CONN_F_HUP)) &&
	       hd_http_is_idle(&c->http);
}

bool hd_conn_is_spent(const struct hd_conn *c)
{
	return hd_conn_is_idle(c) && hd_http_has_answered(&c->http);
}

struct hd_conn *hd_conn_of_timer(struct hd_timer *t)
{
	return (struct hd_conn *)((char *)t - offsetof(struct hd_conn, timer));
}

/* ---- state transitions ---- */

/* Any state: an error or a limit. settle() closes c without writing. */
static void fail(struct hd_conn *c)
{
	c->state = HD_CONN_DEAD;
}

/* READING → PAUSED: output is at its bound; the rest of this read (at
 * most one read buffer) waits in `in` until `out` drains. */
static void pause_reading(struct hd_conn *c, const char *rest, size_t len)
{
	assert(c->state == HD_CONN_READING && !c->in && c->out);
	if (len && hd_chunk_append(&c->in, rest, len)) {
		fail(c);
		return;
	}
	c->state = HD_CONN_PAUSED;
}

/* READING → CLOSING: the parser produced its last answer, or the
 * connection is closed between requests (idle timeout, drain); the close
 * itself comes once the output is written. `leftover`: input after the
 * answer was dropped, or the request was cut short (an error, a timeout),
 * so the client may still be sending. */
static void begin_closing(struct hd_conn *c, bool leftover)
{
	assert(c->state == HD_CONN_READING);
	c->state = HD_CONN_CLOSING;
	if (leftover)
		c->flags |= HD_CONN_F_LEFTOVER;
}

/* The peer's FIN is in: nothing more will be read. */
static void peer_finished(struct hd_conn *c)
{
	c->flags |= HD_CONN_F_EOF;
	if (c->state == HD_CONN_READING)
		c->state = HD_CONN_PEER_DONE;
	else if (c->state == HD_CONN_LINGERING)
		c->state = HD_CONN_DEAD; /* lingering is over */
	/* PAUSED: taken up when reading resumes; CLOSING: no linger. */
}

/* ---- writing ---- */

/* Sends what it can. Returns bytes taken (0 when the socket is full,
 * which also sets WBLOCKED), or -1 after an error (c is then DEAD). A
 * CLOSING connection's bytes are its last: settle() shuts or closes it
 * before the loop waits again, so they may wait for the FIN (loop.h). */
HOT_INLINE static ssize_t send_some(struct hd_loop *loop, struct hd_conn *c,
				    const char *data, size_t len)
{
	int flags = c->state == HD_CONN_CLOSING ? HD_SEND_LAST : 0;
	ssize_t n;
	do {
		loop->stats.writes++;
		n = loop->io->send(loop->io_arg, c->fd, data, len, flags);
	} while (n == -EINTR);
	if (n < 0) {
		if (n != -EAGAIN && n != -EWOULDBLOCK) {
			fail(c);
			return -1;
		}
		n = 0;
	}
	HD_TRACE(loop->trace, "send(fd %d, %zu) = %zd%s", c->fd, len, n,
		 (size_t)n < len ? " (the kernel took less: wait for OUT)"
				 : "");
	loop->stats.bytes_out += (uint64_t)n;
	if (n > 0)
		c->flags |= HD_CONN_F_WROTE;
	if ((size_t)n < len) {
		loop->stats.write_eagain++;
		c->flags |= HD_CONN_F_WBLOCKED;
	}
	return n;
}

static void write_pending(struct hd_loop *loop, struct hd_conn *c)
{
	size_t pending = hd_chunk_pending(c->out);
	if (!pending || (c->flags & HD_CONN_F_WBLOCKED))
		return;
	ssize_t n = send_some(loop, c, c->out->data + c->out->off, pending);
	if (n > 0)
		hd_chunk_consume(&c->out, (size_t)n);
}

/* The one place output is queued. The event's responses (the scratch)
 * go to the kernel behind whatever already waits, and what it does not
 * take joins `out`. The scratch is empty afterwards whatever happened:
 * a dead connection's responses are dropped here, so they can never
 * reach the next connection the scratch serves. */
HOT_INLINE static void emit(struct hd_loop *loop, struct hd_conn *c)
{
	struct hd_buf *scratch = &loop->scratch;
	if (!scratch->len || c->state == HD_CONN_DEAD) {
		hd_buf_clear(scratch);
		return;
	}
	/* Requests are parsed only while the queue is under its bound, so
	 * it ends at most one response past it (see feed_http). */
	assert(hd_chunk_pending(c->out) < loop->cfg->max_pending_output);
	const char *bytes = hd_buf_bytes(scratch);
	size_t sent = 0;
	if (!c->out && !(c->flags & HD_CONN_F_WBLOCKED)) {
		ssize_t n = send_some(loop, c, bytes, scratch->len);
		sent = n > 0 ? (size_t)n : 0;
	}
	if (c->state != HD_CONN_DEAD && sent < scratch->len &&
	    hd_chunk_append(&c->out, bytes + sent, scratch->len - sent))
		fail(c);
	hd_buf_clear(scratch);
}

/* ---- parsing ---- */

/* Room left under max_pending_output for new responses. */
static size_t output_room(const struct hd_loop *loop, const struct hd_conn *c)
{
	size_t used = hd_chunk_pending(c->out) + loop->scratch.len;
	size_t bound = loop->cfg->max_pending_output;
	return used < bound ? bound - used : 0;
}

/* Feeds HTTP bytes to the parser while there is room for the answers;
 * llhttp stops at the first request boundary past the room, so the
 * queue ends at most one response over its bound. What cannot be
 * parsed yet is parked and reading pauses. */
HOT_INLINE static void feed_http(struct hd_loop *loop, struct hd_conn *c,
				 const char *data, size_t len)
{
	struct hd_buf *scratch = &loop->scratch;
	loop->http.peer = &c->peer;
	while (len > 0 && c->state == HD_CONN_READING) {
		size_t room = output_room(loop, c);
		if (!room) {
			if (!scratch->len) {
				pause_reading(c, data, len);
				return;
			}
			emit(loop, c);
			continue;
		}
		size_t limit = scratch->len +
			       (room < SCRATCH_FLUSH ? room : SCRATCH_FLUSH);
		size_t used;
		enum hd_feed_status st =
			hd_http_feed(&c->http, &loop->http, data, len, scratch,
				     limit, &used);
		data += used;
		len -= used;
		if (st == HD_FEED_CLOSE)
			begin_closing(c, len > 0 || !hd_http_is_idle(&c->http));
		else if (st == HD_FEED_FULL)
			emit(loop, c);
	}
}

/* A PROXY listener's connection: the header comes before any HTTP, maybe
 * in pieces, which wait in c->in (bounded by HD_PROXY_MAX plus a read).
 * Returns true when *data and *len now point at the HTTP bytes after it;
 * false when they are used up (parked, fed, or c failed). */
static bool take_proxy_header(struct hd_loop *loop, struct hd_conn *c,
			      const char **data, size_t *len)
{
	if (c->in && hd_chunk_append(&c->in, *data, *len)) {
		fail(c);
		return false;
	}
	const char *text = c->in ? c->in->data + c->in->off : *data;
	size_t text_len = c->in ? hd_chunk_pending(c->in) : *len;
	int n = hd_proxy_parse(text, text_len, &c->peer);
	if (n == HD_PROXY_NEED_MORE) {
		if (!c->in && hd_chunk_append(&c->in, *data, *len))
			fail(c);
		return false;
	}
	if (n < 0) {
		loop->stats.proxy_errors++;
		fail(c);
		return false;
	}
	c->flags &= (uint16_t)~HD_CONN_F_PROXY;
	if (!c->in) {
		*data += n;
		*len -= (size_t)n;
		return true;
	}
	struct hd_chunk *parked = c->in;
	c->in = NULL;
	feed_http(loop, c, text + n, text_len - (size_t)n);
	free(parked);
	return false;
}

HOT_INLINE static void feed_input(struct hd_loop *loop, struct hd_conn *c,
				  const char *data, size_t len)
{
	if ((c->flags & HD_CONN_F_PROXY) &&
	    !take_proxy_header(loop, c, &data, &len))
		return;
	feed_http(loop, c, data, len);
}

/* ---- reading ---- */

static void trace_read(struct hd_loop *loop, const struct hd_conn *c, ssize_t n)
{
	if (n >= 0)
		hd_trace_say(loop->trace, "read(fd %d, %zu) = %zd%s", c->fd,
			     loop->rbuf_size, n, n ? "" : " (the peer's FIN)");
	else if (n == -EAGAIN || n == -EWOULDBLOCK)
		hd_trace_say(loop->trace, "read(fd %d) → EAGAIN", c->fd);
	else
		hd_trace_say(loop->trace, "read(fd %d) → %s", c->fd,
			     strerror((int)-n));
}

HOT_INLINE static ssize_t read_some(struct hd_loop *loop, struct hd_conn *c)
{
	ssize_t n;
	loop->reads_left--;
	do {
		loop->stats.reads++;
		n = loop->io->read(loop->io_arg, c->fd, loop->rbuf,
				   loop->rbuf_size);
	} while (n == -EINTR);
	if (n > 0)
		loop->stats.bytes_in += (uint64_t)n;
	else if (n == -EAGAIN || n == -EWOULDBLOCK)
		loop->stats.read_eagain++;
	if (HD_TRACING(loop->trace))
		trace_read(loop, c, n);
	return n;
}

/* What one read told: go on reading, or stop (and whether the socket is
 * known to be drained then). */
enum read_outcome { READ_MORE, READ_DRAINED, READ_STOPPED };

/* The socket is empty: if the poller reported the FIN earlier, all the
 * peer sent is now read. */
static enum read_outcome drained(struct hd_conn *c)
{
	if (c->flags & HD_CONN_F_HUP)
		peer_finished(c);
	return READ_DRAINED;
}

/* After a read that returned data: a short read drains a stream socket
 * (epoll(7)); a full one may have left bytes. Level-triggered reads
 * once per event, and the poller reports the rest. */
HOT_INLINE static enum read_outcome after_data(const struct hd_loop *loop,
					       struct hd_conn *c, size_t n,
					       enum hd_conn_state keep_reading)
{
	if (n < loop->rbuf_size)
		return drained(c);
	/* A full read while reading goes on: edge-triggered, read again;
	 * level-triggered, the poller reports the rest (no UNREAD, which
	 * would keep c from looking idle). */
	if (c->state == keep_reading && !loop->cfg->read_once)
		return loop->poller->edge ? READ_MORE : READ_STOPPED;
	/* Reading stopped (paused, closing) or the teaching pitfall: bytes
	 * may wait that no edge will announce. */
	c->flags |= HD_CONN_F_UNREAD;
	return READ_STOPPED;
}

HOT_INLINE static enum read_outcome after_nothing(struct hd_conn *c, ssize_t n)
{
	if (n == 0) {
		peer_finished(c);
		return READ_DRAINED;
	}
	if (n == -EAGAIN || n == -EWOULDBLOCK)
		return drained(c);
	fail(c); /* ECONNRESET and the like */
	return READ_STOPPED;
}

/* Reads while c stays in `state`, feeding what comes to the parser
 * (take) or dropping it, counted against lingering_bytes. Edge-triggered
 * it reads until the socket is drained, but an event makes at most
 * HD_READ_BUDGET reads: then the connection goes on the ready list and
 * waits its turn behind the others. Returns true when the socket was
 * left drained. */
HOT_INLINE static bool read_while(struct hd_loop *loop, struct hd_conn *c,
				  enum hd_conn_state state, bool take)
{
	c->flags &= (uint16_t)~HD_CONN_F_UNREAD;
	while (c->state == state) {
		if (!loop->reads_left) {
			c->flags |= HD_CONN_F_UNREAD;
			ready_push(loop, c);
			loop->stats.read_yields++;
			return false;
		}
		ssize_t n = read_some(loop, c);
		enum read_outcome next;
		if (n > 0) {
			if (take) {
				feed_input(loop, c, loop->rbuf, (size_t)n);
			} else if (c->discard_left <= (size_t)n) {
				fail(c); /* lingering_bytes are used up */
			} else {
				c->discard_left -= (uint32_t)n;
			}
			next = after_data(loop, c, (size_t)n, state);
		} else {
			next = after_nothing(c, n);
		}
		if (next == READ_DRAINED)
			c->flags |= HD_CONN_F_DRAINED;
		if (next != READ_MORE)
			return next == READ_DRAINED;
	}
	return false;
}

/* CLOSING → LINGERING, once the answer is written. Closing a socket with
 * unread input makes the kernel send a reset, which can destroy the
 * answer before the client has read it; so the write side is shut (the
 * FIN goes out behind the answer) and what the client still sends is
 * read and dropped until its own FIN, lingering_time or lingering_bytes. */
static void begin_lingering(struct hd_loop *loop, struct hd_conn *c,
			    size_t discarded)
{
	assert(c->state == HD_CONN_CLOSING && !c->out);
	size_t budget = loop->cfg->lingering_bytes;
	if (discarded > budget ||
	    loop->io->shutdown_write(loop->io_arg, c->fd) < 0) {
		fail(c);
		return;
	}
	c->state = HD_CONN_LINGERING;
	loop->stats.lingered++;
	c->discard_left = (uint32_t)(budget - discarded) + 1;
	/* Edge-triggered, bytes that came before now announce themselves
	 * no more; level-triggered, the poller reports them. */
	if (c->flags & HD_CONN_F_UNREAD)
		read_while(loop, c, HD_CONN_LINGERING, false);
}

/* Whether input may wait unread on c's socket, which a close would
 * answer with a reset. Known when this event's reads emptied the socket
 * (the cheap case of a short Connection: close exchange) or input was
 * dropped; otherwise one read tells (level-triggered, the poller was
 * not asked about reading while the answer was written). */
static bool input_may_wait(struct hd_loop *loop, struct hd_conn *c,
			   size_t *probed)
{
	if (c->flags & HD_CONN_F_EOF)
		return false;
	if (c->flags & (HD_CONN_F_LEFTOVER | HD_CONN_F_UNREAD))
		return true;
	if (c->flags & HD_CONN_F_DRAINED)
		return false;
	if (!loop->reads_left) {
		c->flags |= HD_CONN_F_UNREAD; /* lingering reads in its turn */
		return true;
	}
	ssize_t n = read_some(loop, c);
	if (n == 0)
		c->flags |= HD_CONN_F_EOF;
	if (n > 0)
		*probed = (size_t)n; /* dropped: counts against lingering */
	if ((size_t)n == loop->rbuf_size)
		c->flags |= HD_CONN_F_UNREAD; /* and more may wait */
	return n > 0;
}

/* CLOSING with the answer written: linger if the client may still be
 * sending, else close. */
static void finish_closing(struct hd_loop *loop, struct hd_conn *c)
{
	size_t probed = 0;
	if (loop->cfg->lingering_time_ms && input_may_wait(loop, c, &probed))
		begin_lingering(loop, c, probed);
	else
		c->state = HD_CONN_DEAD;
}

/* PAUSED → READING once `out` is empty: parse what was parked, then take
 * the FIN that came meanwhile, or read what the socket may still hold
 * (edge-triggered gives no new event for it). */
static void resume_reading(struct hd_loop *loop, struct hd_conn *c)
{
	assert(c->state == HD_CONN_PAUSED && !c->out);
	struct hd_chunk *parked = c->in;
	c->in = NULL;
	c->state = HD_CONN_READING;
	if (parked) {
		feed_http(loop, c, parked->data + parked->off,
			  hd_chunk_pending(parked));
		free(parked);
	}
	if (c->state != HD_CONN_READING)
		return;
	if (c->flags & HD_CONN_F_EOF)
		c->state = HD_CONN_PEER_DONE;
	else if (c->flags & HD_CONN_F_UNREAD)
		read_while(loop, c, HD_CONN_READING, true);
}

/* ---- events ---- */

static void on_writable(struct hd_loop *loop, struct hd_conn *c)
{
	c->flags &= (uint16_t)~HD_CONN_F_WBLOCKED;
	write_pending(loop, c);
	if (c->state == HD_CONN_PAUSED && !c->out)
		resume_reading(loop, c);
}

/* Returns true when this event left the socket drained. */
static bool on_readable(struct hd_loop *loop, struct hd_conn *c)
{
	switch (c->state) {
	case HD_CONN_READING: return read_while(loop, c, HD_CONN_READING, true);
	case HD_CONN_LINGERING:
		return read_while(loop, c, HD_CONN_LINGERING, false);
	case HD_CONN_DEAD: return false;
	default:
		/* Not reading now (paused, closing, peer done): the bytes
		 * wait, and no edge will come for them again. */
		c->flags |= HD_CONN_F_UNREAD;
		return false;
	}
}

/* Edge-triggered RDHUP (or HUP, ERR): the peer sends no more, and no
 * new edge will say so again. If this event's reads drained the socket,
 * all it sent is in, and the FIN is taken as read (saving the read that
 * returns 0); otherwise bytes still wait before the FIN, and the read
 * that drains them later takes it (HUP), however many turns that takes. */
static void on_hangup(struct hd_conn *c, bool emptied)
{
	if (c->state == HD_CONN_DEAD || (c->flags & HD_CONN_F_EOF))
		return;
	c->flags |= HD_CONN_F_HUP;
	if (emptied)
		peer_finished(c);
	else
		c->flags |= HD_CONN_F_UNREAD;
}

/* Level-triggered only: watch for writability while output waits, and
 * for readability only while reading, or the poller would report the
 * same readiness forever. */
static uint8_t level_interest(const struct hd_conn *c)
{
	uint8_t want = 0;
	if (c->state == HD_CONN_READING || c->state == HD_CONN_LINGERING)
		want |= HD_EV_READ;
	if (c->out)
		want |= HD_EV_WRITE;
	return want;
}

/* Read straight after accept, c outlived its first event: only now does
 * it join the poller (a Connection: close answered whole never does,
 * which saves an epoll_ctl per short connection). Edge-triggered epoll
 * reports on ADD what is ready already, and level-triggered pollers
 * report it anyway, so bytes that came after the first read's EAGAIN
 * are not missed. */
static void watch(struct hd_loop *loop, struct hd_conn *c)
{
	c->flags &= (uint16_t)~HD_CONN_F_UNWATCHED;
	if (!loop->poller->edge)
		c->interest = level_interest(c);
	assert(c->interest); /* else nothing could ever wake c */
	if (hd_poller_add(loop->poller, c->fd, c, c->interest)) {
		c->flags |= HD_CONN_F_UNWATCHED; /* nothing to forget */
		loop->stats.refused++;
		fail(c);
	}
}

static void update_interest(struct hd_loop *loop, struct hd_conn *c)
{
	if (loop->poller->edge)
		return;
	uint8_t want = level_interest(c);
	assert(want); /* else nothing could ever wake c */
	if (want != c->interest) {
		if (hd_poller_mod(loop->poller, c->fd, c, want))
			fail(c);
		c->interest = want;
	}
}

/* ---- timeouts ---- */

/* What an event changed, for choosing the timeout that applies next. */
struct progress {
	uint64_t requests; /* the loop's request count before the event */
	uint64_t bytes_in; /* and its input byte count */
};

static struct progress progress_now(const struct hd_loop *loop)
{
	return (struct progress){loop->http.requests, loop->stats.bytes_in};
}

/* Picks the one timeout that applies to c now and re-arms its timer. On
 * a keep-alive connection answering whole requests the kind stays
 * KEEPALIVE and the deadline only moves later, which costs the wheel a
 * store (see timer.h): the hot path does no list work. */
static void rearm(struct hd_loop *loop, struct hd_conn *c,
		  const struct progress *before)
{
	const struct hd_config *cfg = loop->cfg;
	bool answered = loop->http.requests != before->requests;
	uint8_t kind;
	uint32_t ms;
	bool refresh;
	if (c->state == HD_CONN_LINGERING) {
		kind = HD_TIMEOUT_LINGER; /* one deadline for the whole */
		ms = cfg->lingering_time_ms;
		refresh = false;
	} else if (c->out) {
		/* Waiting on the kernel: any byte it takes is progress. */
		kind = HD_TIMEOUT_WRITE;
		ms = cfg->write_timeout_ms;
		refresh = c->flags & HD_CONN_F_WROTE;
	} else if (!hd_http_is_idle(&c->http)) {
		bool body = hd_http_in_body(&c->http);
		kind = body ? HD_TIMEOUT_BODY : HD_TIMEOUT_HEADER;
		ms = cfg->header_timeout_ms;
		/* Headers get one deadline from their first byte: when this
		 * event answered a request, the one under way began in it.
		 * A body gets the time again whenever bytes of it come. */
		refresh = body ? loop->stats.bytes_in != before->bytes_in
			       : answered;
	} else {
		/* A new connection keeps its first deadline until it has
		 * been answered once. */
		if (c->timer.kind == HD_TIMEOUT_HEADER && !answered)
			return;
		kind = HD_TIMEOUT_KEEPALIVE;
		ms = cfg->keepalive_timeout_ms;
		refresh = answered;
	}
	c->flags &= (uint16_t)~HD_CONN_F_WROTE;
	if (kind == c->timer.kind && !refresh)
		return;
	c->timer.kind = kind;
	hd_timer_arm(&loop->wheel, &c->timer,
		     hd_wheel_deadline(&loop->wheel, ms));
}

/* The rules every live connection keeps between events. */
static void check_invariants(const struct hd_loop *loop,
			     const struct hd_conn *c)
{
	(void)loop;
	(void)c;
	assert(!loop->scratch.len && !loop->scratch.lent);
	assert(c->state <= HD_CONN_LINGERING);
	assert(c->state != HD_CONN_PAUSED || c->out);
	assert(!c->in || c->state == HD_CONN_PAUSED ||
	       (c->flags & HD_CONN_F_PROXY));
	assert(hd_chunk_pending(c->in) <= loop->rbuf_size + HD_PROXY_MAX);
	assert(c->state != HD_CONN_LINGERING || !c->out);
	assert(hd_timer_armed(&c->timer));
	assert(!(c->flags & HD_CONN_F_UNWATCHED));
}

/* Draining: a connection closes as soon as it is between requests with
 * nothing left to write (one that has not sent its first request yet is
 * given the time to). Unless this event's reads emptied the socket, it
 * reads first, so requests that raced the drain get their answers (with
 * Connection: close) rather than a close; then it closes by the closing
 * path. */
static void drain_if_spent(struct hd_loop *loop, struct hd_conn *c)
{
	if (!loop->http.force_close || !hd_conn_is_spent(c))
		return;
	if (!(c->flags & HD_CONN_F_DRAINED) && loop->reads_left) {
		read_while(loop, c, HD_CONN_READING, true);
		emit(loop, c);
	}
	if (hd_conn_is_spent(c))
		begin_closing(c, false);
}

/* Ends every event: queues its output, closes c when it is done, else
 * fixes the poller interest and the timeout. Returns false when c was
 * freed. */
static bool settle(struct hd_loop *loop, struct hd_conn *c,
		   const struct progress *before)
{
	uint64_t answered = loop->http.requests - before->requests;
	if (answered)
		HD_TRACE(loop->trace, "%llu request%s parsed and answered",
			 (unsigned long long)answered,
			 answered == 1 ? "" : "s");
	emit(loop, c);
	drain_if_spent(loop, c);
	if (c->state == HD_CONN_CLOSING && !c->out)
		finish_closing(loop, c);
	if (c->state == HD_CONN_PEER_DONE && !c->out)
		c->state = HD_CONN_DEAD;
	if (c->state != HD_CONN_DEAD && (c->flags & HD_CONN_F_UNWATCHED))
		watch(loop, c);
	else if (c->state != HD_CONN_DEAD)
		update_interest(loop, c);
	if (c->state == HD_CONN_DEAD) {
		hd_conn_close(loop, c);
		return false;
	}
	rearm(loop, c, before);
	check_invariants(loop, c);
	return true;
}

void hd_conn_on_timeout(struct hd_loop *loop, struct hd_conn *c)
{
	assert(!loop->scratch.len);
	struct progress before = progress_now(loop);
	c->flags &= (uint16_t)~HD_CONN_F_DRAINED;
	loop->reads_left = HD_READ_BUDGET;
	switch (c->timer.kind) {
	case HD_TIMEOUT_HEADER:
	case HD_TIMEOUT_BODY:
		loop->stats.timeouts_header++;
		/* A request is under way and nothing is queued before it:
		 * it can still be answered, with 408 and a close. */
		if (c->state != HD_CONN_READING || c->out) {
			fail(c);
		} else if (hd_http_is_idle(&c->http)) {
			begin_closing(c, false); /* it never sent a request */
		} else {
			hd_http_answer_timeout(&loop->http, &c->http,
					       &loop->scratch);
			begin_closing(c, true);
		}
		break;
	case HD_TIMEOUT_KEEPALIVE:
		loop->stats.timeouts_keepalive++;
		/* Closed like any other, so a request that raced in is
		 * lingered away, not reset. */
		if (c->state == HD_CONN_READING && !c->out)
			begin_closing(c, false);
		else
			fail(c);
		break;
	case HD_TIMEOUT_LINGER: fail(c); break;
	default:
		loop->stats.timeouts_write++;
		fail(c);
		break;
	}
	/* A 408 the kernel could not take whole is left to write_timeout. */
	c->timer.kind = HD_TIMEOUT_NONE;
	settle(loop, c, &before);
}

void hd_conn_on_drain(struct hd_loop *loop, struct hd_conn *c)
{
	assert(!loop->scratch.len && loop->http.force_close);
	struct progress before = progress_now(loop);
	c->flags &= (uint16_t)~HD_CONN_F_DRAINED;
	loop->reads_left = HD_READ_BUDGET;
	settle(loop, c, &before);
}

void hd_conn_on_event(struct hd_loop *loop, struct hd_conn *c, uint32_t events)
{
	assert(!loop->scratch.len);
	struct progress before = progress_now(loop);
	/* An event serves a connection on the ready list as its turn
	 * would (it reads on): one budget per round. */
	if (c->flags & HD_CONN_F_READY) {
		ready_remove(loop, c);
		events |= HD_EV_READ;
	}
	c->flags &= (uint16_t)~HD_CONN_F_DRAINED;
	loop->reads_left = HD_READ_BUDGET;
	/* Edge-triggered epoll reports OUT beside nearly every IN; with no
	 * output waiting and no send refused it has nothing to do (PAUSED
	 * has output, by check_invariants). */
	if ((events & HD_EV_WRITE) &&
	    (c->out || (c->flags & HD_CONN_F_WBLOCKED)))
		on_writable(loop, c);
	bool drained = false;
	if (events & HD_EV_READ)
		drained = on_readable(loop, c);
	if ((events & HD_EV_HUP) && loop->poller->edge)
		on_hangup(c, drained);
	settle(loop, c, &before);
}

void hd_conn_start(struct hd_loop *loop, struct hd_conn *c)
{
	if (c->flags & HD_CONN_F_UNWATCHED)
		hd_conn_on_event(loop, c, HD_EV_READ);
}

void hd_conn_run_ready(struct hd_loop *loop)
{
	struct hd_conn *list = loop->ready;
	loop->ready = NULL;
	while (list) {
		struct hd_conn *c = list;
		list = c->ready_next;
		c->ready_prev = c->ready_next = NULL;
		c->flags &= (uint16_t)~HD_CONN_F_READY;
		hd_conn_on_event(loop, c, HD_EV_READ);
	}
}
