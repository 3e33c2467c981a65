/* conn.c — a connection's life: read, parse, answer, write, close.
 *
 * Every handler only sets flags; settle() at the end of each event looks at
 * them once and closes the connection or adjusts what the poller watches.
 * That keeps "who frees the connection" in one place.
 */
#include "hellod/conn.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hellod/proxy_protocol.h"
#include "hellod/worker.h"

/* Output gathered for one connection is written once it reaches this
 * much, even mid-batch, so a deep pipeline never builds a huge scratch. */
#define SCRATCH_FLUSH (64 * 1024)

enum { HD_CONN_F_DEAD = 1 << 15 }; /* fatal error: close without writing */

static void conn_unlink(struct hd_worker *w, struct hd_conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
}

struct hd_conn *hd_conn_open(struct hd_worker *w, int fd)
{
	struct hd_conn *c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		w->stats.refused++;
		return NULL;
	}
	c->type = HD_HANDLE_CONN;
	c->fd = fd;
	hd_http_init(&c->http);
	/* The first request must be complete within header_timeout of the
	 * accept, whether or not a byte of it has come. */
	c->timer.kind = HD_TIMEOUT_HEADER;
	hd_timer_arm(&w->wheel, &c->timer,
		     hd_wheel_deadline(&w->wheel, w->cfg->header_timeout_ms));
	/* Edge-triggered: registered once for both directions, never
	 * re-armed. Level-triggered: EPOLLOUT only while output waits. */
	c->interest = w->poller->edge ? (HD_EV_READ | HD_EV_WRITE) : HD_EV_READ;
	int err = hd_poller_add(w->poller, fd, c, c->interest);
	if (err) {
		hd_timer_cancel(&w->wheel, &c->timer);
		hd_worker_log_refused(w, fd, err);
		close(fd);
		free(c);
		w->stats.refused++;
		return NULL;
	}
	c->next = w->conns;
	if (w->conns)
		w->conns->prev = c;
	w->conns = c;
	w->open_conns++;
	w->stats.accepted++;
	return c;
}

void hd_conn_close(struct hd_worker *w, struct hd_conn *c)
{
	hd_poller_forget(w->poller, c->fd);
	close(c->fd);
	conn_unlink(w, c);
	hd_http_release(&c->http);
	hd_timer_cancel(&w->wheel, &c->timer);
	hd_chunk_free(&c->out);
	hd_chunk_free(&c->in);
	free(c);
	w->open_conns--;
	w->stats.closed++;
}

bool hd_conn_is_idle(const struct hd_conn *c)
{
	return !c->out && !c->in && !(c->flags & HD_CONN_F_PROXY) &&
	       hd_http_is_idle(&c->http);
}

bool hd_conn_is_spent(const struct hd_conn *c)
{
	return hd_conn_is_idle(c) && hd_http_has_answered(&c->http);
}

/* ---- writing ---- */

/* Sends what it can. Returns bytes taken (0 when the socket is full, which
 * also sets WBLOCKED), or -1 on a fatal error. */
static ssize_t send_some(struct hd_worker *w, struct hd_conn *c,
			 const char *data, size_t len)
{
	ssize_t n;
	do {
		w->stats.writes++;
		n = send(c->fd, data, len, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		n = 0;
	}
	w->stats.bytes_out += (uint64_t)n;
	if (n > 0)
		c->flags |= HD_CONN_F_WROTE;
	if ((size_t)n < len) {
		w->stats.write_eagain++;
		c->flags |= HD_CONN_F_WBLOCKED;
	}
	return n;
}

static void write_pending(struct hd_worker *w, struct hd_conn *c)
{
	size_t pending = hd_chunk_pending(c->out);
	if (!pending || (c->flags & HD_CONN_F_WBLOCKED))
		return;
	ssize_t n = send_some(w, c, c->out->data + c->out->off, pending);
	if (n < 0) {
		c->flags |= HD_CONN_F_DEAD;
		return;
	}
	hd_chunk_consume(&c->out, (size_t)n);
}

/* Writes the worker's scratch (this connection's new responses) in one
 * call. Output already queued goes first, so new bytes join the queue. */
static void flush(struct hd_worker *w, struct hd_conn *c)
{
	struct hd_buf *scratch = &w->scratch;
	if (scratch->len && (c->out || (c->flags & HD_CONN_F_WBLOCKED))) {
		if (hd_chunk_append(&c->out, scratch->data, scratch->len))
			c->flags |= HD_CONN_F_DEAD;
		scratch->len = 0;
	}
	if (!scratch->len) {
		write_pending(w, c);
		return;
	}
	ssize_t n = send_some(w, c, scratch->data, scratch->len);
	if (n < 0)
		c->flags |= HD_CONN_F_DEAD;
	else if ((size_t)n < scratch->len &&
		 hd_chunk_append(&c->out, scratch->data + n,
				 scratch->len - (size_t)n))
		c->flags |= HD_CONN_F_DEAD;
	scratch->len = 0;
}

/* ---- reading ---- */

static bool stop_reading(const struct hd_conn *c)
{
	return c->flags & (HD_CONN_F_CLOSING | HD_CONN_F_DEAD |
			   HD_CONN_F_BLOCKED | HD_CONN_F_PEER_DONE);
}

static void consume_input(struct hd_worker *w, struct hd_conn *c,
			  const char *data, size_t len);

/* A PROXY listener's connection: the header comes before any HTTP, maybe
 * in pieces, which wait in c->in (bounded by HD_PROXY_MAX). Returns true
 * when *data and *len now point at the HTTP bytes after it. */
static bool take_proxy_header(struct hd_worker *w, struct hd_conn *c,
			      const char **data, size_t *len)
{
	if (c->in && hd_chunk_append(&c->in, *data, *len)) {
		c->flags |= HD_CONN_F_DEAD;
		return false;
	}
	const char *text = c->in ? c->in->data + c->in->off : *data;
	size_t text_len = c->in ? hd_chunk_pending(c->in) : *len;
	int n = hd_proxy_parse(text, text_len, &c->peer);
	if (n == HD_PROXY_NEED_MORE) {
		if (!c->in && hd_chunk_append(&c->in, *data, *len))
			c->flags |= HD_CONN_F_DEAD;
		return false;
	}
	if (n < 0) {
		w->stats.proxy_errors++;
		c->flags |= HD_CONN_F_DEAD;
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
	consume_input(w, c, text + n, text_len - (size_t)n);
	free(parked);
	return false;
}

/* Feeds bytes to the HTTP layer, writing whenever a scratch-full of
 * responses is ready. If the queued output grows past the limit, the rest
 * of the input is parked in c->in and reading pauses (backpressure). */
static void consume_input(struct hd_worker *w, struct hd_conn *c,
			  const char *data, size_t len)
{
	if ((c->flags & HD_CONN_F_PROXY) &&
	    !take_proxy_header(w, c, &data, &len))
		return;
	w->http.peer = &c->peer;
	while (len > 0) {
		size_t used;
		enum hd_feed_status st =
			hd_http_feed(&c->http, &w->http, data, len, &w->scratch,
				     SCRATCH_FLUSH, &used);
		data += used;
		len -= used;
		if (st == HD_FEED_CLOSE) {
			c->flags |= HD_CONN_F_CLOSING;
			return;
		}
		if (st != HD_FEED_FULL)
			continue;
		flush(w, c);
		if (c->flags & HD_CONN_F_DEAD)
			return;
		if (hd_chunk_pending(c->out) >= w->cfg->max_pending_output) {
			if (len && hd_chunk_append(&c->in, data, len))
				c->flags |= HD_CONN_F_DEAD;
			c->flags |= HD_CONN_F_BLOCKED;
			return;
		}
	}
}

/* Edge-triggered: reads until the socket is drained, since no new event
 * will come for bytes already waiting. A short read means drained for a
 * stream socket (epoll(7)), which saves the read that would hit EAGAIN.
 * Level-triggered: one read per event; the poller reports the rest. */
static void read_batch(struct hd_worker *w, struct hd_conn *c)
{
	bool edge = w->poller->edge;
	c->flags &= (uint16_t)~HD_CONN_F_UNREAD;
	while (!stop_reading(c)) {
		w->stats.reads++;
		ssize_t n = read(c->fd, w->rbuf, w->rbuf_size);
		if (n > 0) {
			w->stats.bytes_in += (uint64_t)n;
			consume_input(w, c, w->rbuf, (size_t)n);
			if ((size_t)n < w->rbuf_size || !edge)
				break;
			if (w->cfg->read_once) {
				/* Teaching pitfall: stop with bytes maybe
				 * left; edge mode sends no event for them. */
				c->flags |= HD_CONN_F_UNREAD;
				break;
			}
			if (c->flags & HD_CONN_F_BLOCKED)
				c->flags |= HD_CONN_F_UNREAD;
			continue;
		}
		if (n == 0) {
			c->flags |= HD_CONN_F_PEER_DONE;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			w->stats.read_eagain++;
		} else if (errno == EINTR) {
			continue;
		} else {
			c->flags |= HD_CONN_F_DEAD;
		}
		break;
	}
	if (!(c->flags & HD_CONN_F_DEAD))
		flush(w, c);
}

/* Output drained below the limit: parse what was parked, then read what
 * the socket may still hold (edge-triggered gives no new event for it). */
static void unblock(struct hd_worker *w, struct hd_conn *c)
{
	struct hd_chunk *parked = c->in;
	c->in = NULL;
	c->flags &= (uint16_t)~HD_CONN_F_BLOCKED;
	if (parked) {
		consume_input(w, c, parked->data + parked->off,
			      parked->len - parked->off);
		free(parked);
	}
	if (c->flags & HD_CONN_F_UNREAD)
		read_batch(w, c);
	else
		flush(w, c);
}

/* ---- after each event ---- */

/* Level-triggered only: watch for writability while output waits, and
 * stop watching readability while reading is paused, or the poller would
 * report the same readiness forever. */
static void update_interest(struct hd_worker *w, struct hd_conn *c)
{
	if (w->poller->edge)
		return;
	uint8_t want = 0;
	if (!stop_reading(c))
		want |= HD_EV_READ;
	if (c->out)
		want |= HD_EV_WRITE;
	if (want != c->interest) {
		if (hd_poller_mod(w->poller, c->fd, c, want))
			c->flags |= HD_CONN_F_DEAD;
		c->interest = want;
	}
}

/* ---- timeouts -------------------------------------------------------------
 */

/* What an event changed, for choosing the timeout that applies next. */
struct progress {
	uint64_t requests; /* the worker's request count before the event */
	uint64_t bytes_in; /* and its input byte count */
};

static struct progress progress_now(const struct hd_worker *w)
{
	return (struct progress){w->http.requests, w->stats.bytes_in};
}

/* Picks the one timeout that applies to c now and re-arms its timer. On
 * a keep-alive connection answering whole requests the kind stays
 * KEEPALIVE and the deadline only moves later, which costs the wheel a
 * store (see timer.h): the hot path does no list work. */
static void rearm(struct hd_worker *w, struct hd_conn *c,
		  const struct progress *before)
{
	const struct hd_config *cfg = w->cfg;
	uint8_t kind;
	uint32_t ms;
	bool refresh;
	if (c->out) {
		/* Waiting on the kernel: any byte it takes is progress. */
		kind = HD_TIMEOUT_WRITE;
		ms = cfg->write_timeout_ms;
		refresh = c->flags & HD_CONN_F_WROTE;
	} else if (!hd_http_is_idle(&c->http)) {
		bool body = hd_http_in_body(&c->http);
		kind = body ? HD_TIMEOUT_BODY : HD_TIMEOUT_HEADER;
		ms = cfg->header_timeout_ms;
		/* Headers have one deadline from their first byte; a body
		 * gets the time again whenever bytes of it come. */
		refresh = body && w->stats.bytes_in != before->bytes_in;
	} else {
		bool answered = w->http.requests != before->requests;
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
	hd_timer_arm(&w->wheel, &c->timer, hd_wheel_deadline(&w->wheel, ms));
}

/* Closes c when it is done, else fixes the poller interest and the
 * timeout. Returns false when c was freed. */
static bool settle(struct hd_worker *w, struct hd_conn *c,
		   const struct progress *before)
{
	bool done = c->flags & HD_CONN_F_DEAD;
	if (!c->out && (c->flags & HD_CONN_F_CLOSING))
		done = true;
	if (!c->out && !c->in && (c->flags & HD_CONN_F_PEER_DONE) &&
	    !(c->flags & HD_CONN_F_UNREAD))
		done = true;
	/* Draining: a connection closes as soon as it is between requests
	 * with nothing left to write (one that has not sent its first
	 * request yet is given the time to). */
	if (w->http.force_close && hd_conn_is_spent(c))
		done = true;
	if (!done)
		update_interest(w, c);
	if (done || (c->flags & HD_CONN_F_DEAD)) {
		hd_conn_close(w, c);
		return false;
	}
	rearm(w, c, before);
	return true;
}

void hd_conn_on_timeout(struct hd_worker *w, struct hd_conn *c)
{
	struct progress before = progress_now(w);
	switch (c->timer.kind) {
	case HD_TIMEOUT_HEADER:
	case HD_TIMEOUT_BODY:
		w->stats.timeouts_header++;
		/* A request is under way and nothing is queued before it:
		 * it can still be answered, with 408 and a close. */
		if (!hd_http_is_idle(&c->http) && !c->out) {
			hd_http_answer_timeout(&w->http, &w->scratch);
			c->flags |= HD_CONN_F_CLOSING;
			flush(w, c);
		} else {
			c->flags |= HD_CONN_F_DEAD;
		}
		break;
	case HD_TIMEOUT_KEEPALIVE:
		w->stats.timeouts_keepalive++;
		c->flags |= HD_CONN_F_DEAD;
		break;
	default:
		w->stats.timeouts_write++;
		c->flags |= HD_CONN_F_DEAD;
		break;
	}
	/* A 408 the kernel could not take whole is left to write_timeout. */
	c->timer.kind = HD_TIMEOUT_NONE;
	settle(w, c, &before);
}

void hd_conn_on_event(struct hd_worker *w, struct hd_conn *c, uint32_t events)
{
	struct progress before = progress_now(w);
	if (events & HD_EV_WRITE) {
		c->flags &= (uint16_t)~HD_CONN_F_WBLOCKED;
		write_pending(w, c);
		if (!c->out && (c->flags & HD_CONN_F_BLOCKED) &&
		    !(c->flags & HD_CONN_F_DEAD))
			unblock(w, c);
	}
	if ((events & HD_EV_READ) && !(c->flags & HD_CONN_F_DEAD)) {
		if (c->flags & HD_CONN_F_BLOCKED)
			c->flags |= HD_CONN_F_UNREAD;
		else if (!stop_reading(c))
			read_batch(w, c);
	}
	/* Edge-triggered, RDHUP after the reads above drained the socket:
	 * everything the peer sent is in, so skip the read that returns 0.
	 * Level-triggered reads once per event, so it waits for that 0. */
	if ((events & HD_EV_HUP) && w->poller->edge &&
	    !(c->flags & (HD_CONN_F_BLOCKED | HD_CONN_F_UNREAD)))
		c->flags |= HD_CONN_F_PEER_DONE;
	settle(w, c, &before);
}
