/* sim.c — the deterministic connection simulator; see sim.h. */
#include "sim.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hellod/config.h"
#include "hellod/conn.h"
#include "hellod/echo.h"
#include "hellod/loop.h"
#include "hellod/proxy_protocol.h"
#include "hellod/response.h"

#define MAX_SOCKS  6
#define FD_BASE	   1000
#define END_ROUNDS 20000

/* SIM_TRACE=1 narrates a run (with SIM_SEED, one). */
static bool tracing;
#define TRACE(...)                                                             \
	do {                                                                   \
		if (tracing)                                                   \
			fprintf(stderr, __VA_ARGS__);                          \
	} while (0)

static const char sim_date[] = "Wed, 02 Dec 2026 00:00:00 GMT";

/* One client and the server's socket for it, as the kernel would hold. */
struct sim_sock {
	bool used; /* accepted */
	bool open; /* the server has not closed it */
	struct hd_conn *conn;
	uint32_t interest; /* as registered with the poller */
	uint32_t pending;  /* edge-triggered events not yet delivered */
	/* client -> server */
	struct hd_buf script; /* every byte this client will send */
	size_t limit;	      /* it sends this much of it */
	size_t delivered;     /* in the server's receive queue so far */
	size_t consumed;      /* read by the server */
	bool fin_planned, fin, reset;
	bool faulted; /* the poller refused a change: closed at once */
	/* server -> client */
	struct hd_buf received; /* what the server sent */
	size_t client_read;	/* what the client has read of it */
	size_t sndbuf;		/* bytes in flight the socket holds */
	bool hostile_reader;	/* reads next to nothing until the end */
	bool shut_wr;
	bool held; /* its last send may wait for a FIN (HD_SEND_LAST) */
	size_t read_after_shut; /* discarded while closing, lingering */
	bool cut_by_timer;	/* a header, body or write timeout fired */
	/* what its bytes deserve */
	struct hd_buf reference;
	size_t largest_answer; /* of the answers in reference */
	size_t proxy_len;      /* PROXY header bytes before the HTTP */
	size_t ends[512];      /* where its first requests end in script */
	size_t end_count, ends_passed;
	uint64_t request_began; /* when the server read into the current */
	size_t checked;		/* received[0, checked) matches reference */
	int stale;		/* level events in a row that changed nothing */
};

struct sim {
	struct sim_rng *rng;
	struct hd_config cfg;
	struct hd_responses responses;
	struct hd_poller poller;
	struct hd_loop loop;
	struct hd_http_ctx ref_ctx;
	struct sim_sock socks[MAX_SOCKS];
	int planned; /* connections this run opens */
	uint64_t now_ms;
	bool in_timer;	   /* a write or lingering timeout is firing */
	bool tearing_down; /* the run is over: closes are the test's */
	int stale_rounds;  /* ready-list rounds that changed nothing */
	int drain_step;	   /* the step at which a drain starts, or -1 */
	bool draining;	   /* answers close from then on */
	int reads;	   /* reads of the event being handled */
	int reads_fd;	   /* and whose they are */
	jmp_buf failed;
	char *msg;
	size_t msglen;
};

static void fail_run(struct sim *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));

static void fail_run(struct sim *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->msg, s->msglen, fmt, ap);
	va_end(ap);
	longjmp(s->failed, 1);
}

/* ---- choices ---- */

static uint32_t draw(struct sim_rng *r, int bytes)
{
	if (r->pos + (size_t)bytes <= r->len) {
		uint32_t v = 0;
		for (int i = 0; i < bytes; i++)
			v = v << 8 | r->data[r->pos++];
		return v;
	}
	r->state ^= r->state << 13;
	r->state ^= r->state >> 7;
	r->state ^= r->state << 17;
	return (uint32_t)(r->state >> 16);
}

/* A number in [0, n). */
static size_t below(struct sim *s, size_t n)
{
	if (n <= 1)
		return 0;
	return draw(s->rng, n <= 256 ? 1 : n <= 65536 ? 2 : 4) % n;
}

/* None, READ, WRITE or both, whatever the HD_EV_* values are. */
static uint32_t spurious_events(struct sim *s)
{
	size_t pick_bits = below(s, 4);
	return (pick_bits & 1 ? HD_EV_READ : 0u) |
	       (pick_bits & 2 ? HD_EV_WRITE : 0u);
}

static bool chance(struct sim *s, unsigned one_in)
{
	return below(s, one_in) == 0;
}

static size_t pick(struct sim *s, const size_t *values, size_t count)
{
	return values[below(s, count)];
}

/* ---- the fake kernel ---- */

static struct sim_sock *sock_of(struct sim *s, int fd)
{
	int i = fd - FD_BASE;
	if (i < 0 || i >= MAX_SOCKS || !s->socks[i].used)
		fail_run(s, "fd %d is no connection of the simulation", fd);
	return &s->socks[i];
}

static int index_of(const struct sim *s, const struct sim_sock *k)
{
	return (int)(k - s->socks);
}

static size_t window(const struct sim_sock *k)
{
	size_t in_flight = k->received.len - k->client_read;
	return in_flight < k->sndbuf ? k->sndbuf - in_flight : 0;
}

/* What the poller would report for k now, whatever was asked for. */
static uint32_t readiness(const struct sim_sock *k)
{
	if (k->reset || (k->fin && k->shut_wr))
		return HD_EV_READ | HD_EV_WRITE | HD_EV_HUP; /* ERR, HUP */
	uint32_t r = 0;
	if (k->delivered > k->consumed || k->fin)
		r |= HD_EV_READ;
	if (k->fin)
		r |= HD_EV_HUP; /* RDHUP */
	if (window(k))
		r |= HD_EV_WRITE;
	return r;
}

/* Level-triggered: what a wait would return for k. RDHUP is only asked
 * for along with reading; errors and full hang-ups come regardless. */
static uint32_t level_events(const struct sim_sock *k)
{
	uint32_t r = readiness(k);
	if (k->reset || (k->fin && k->shut_wr))
		return r;
	uint32_t want = k->interest;
	if (want & HD_EV_READ)
		want |= HD_EV_HUP;
	return r & want;
}

static ssize_t sim_read(void *io, int fd, void *buf, size_t len)
{
	struct sim *s = io;
	struct sim_sock *k = sock_of(s, fd);
	if (!k->open)
		fail_run(s, "conn %d: read after close", index_of(s, k));
	if (chance(s, 16))
		return -EINTR; /* retried: not counted */
	/* Fairness: one event reads at most the budget. */
	if (s->reads_fd != fd) {
		s->reads_fd = fd;
		s->reads = 0;
	}
	if (++s->reads > HD_READ_BUDGET)
		fail_run(s, "conn %d: %d reads in one event", index_of(s, k),
			 s->reads);
	/* Bytes that came before a reset can still be read; then the
	 * reset is reported. */
	size_t avail = k->delivered - k->consumed;
	if (!avail)
		return k->reset ? -(index_of(s, k) % 2 ? ETIMEDOUT : ECONNRESET)
		       : k->fin ? 0
				: -EAGAIN;
	size_t n = avail < len ? avail : len;
	memcpy(buf, k->script.data + k->consumed, n);
	k->consumed += n;
	/* Reading past a request's end begins the next one. */
	while (k->ends_passed < k->end_count &&
	       k->consumed > k->ends[k->ends_passed]) {
		k->ends_passed++;
		k->request_began = s->now_ms;
	}
	/* Read while closing (the probe) or lingering: thrown away. */
	if (k->shut_wr || k->conn->state == HD_CONN_CLOSING)
		k->read_after_shut += n;
	return (ssize_t)n;
}

/* A send flagged HD_SEND_LAST that the kernel took whole may wait for
 * the FIN: the shutdown or close must come before the next event, or
 * the client waits (check_conn). */
static ssize_t sim_send(void *io, int fd, const void *buf, size_t len,
			int flags)
{
	struct sim *s = io;
	struct sim_sock *k = sock_of(s, fd);
	k->held = false;
	if (!k->open)
		fail_run(s, "conn %d: send after close", index_of(s, k));
	if (k->shut_wr)
		fail_run(s, "conn %d: send after shutdown", index_of(s, k));
	if (chance(s, 16))
		return -EINTR;
	if (k->reset)
		return chance(s, 2) ? -EPIPE : -ECONNRESET;
	size_t n = window(k);
	if (!n)
		return -EAGAIN;
	if (n > len)
		n = len;
	if (chance(s, 4)) {
		/* A short write anywhere: the window closes there, as a
		 * kernel's does when its buffer fills. */
		size_t cut = 1 + below(s, n);
		k->sndbuf -= window(k) - cut;
		n = cut;
	}
	if (hd_buf_append(&k->received, buf, n))
		abort();
	k->held = (flags & HD_SEND_LAST) && n == len;
	return (ssize_t)n;
}

static int sim_shutdown_write(void *io, int fd)
{
	struct sim *s = io;
	struct sim_sock *k = sock_of(s, fd);
	if (k->shut_wr)
		fail_run(s, "conn %d: shut down twice", index_of(s, k));
	if (k->reset)
		return -ENOTCONN; /* as a reset socket answers */
	k->shut_wr = true;
	k->held = false;
	return 0;
}

/* A close with input unread makes the kernel send a reset, and the
 * reset makes the client's kernel drop answers it has not read. */
static void sim_close(void *io, int fd)
{
	struct sim *s = io;
	struct sim_sock *k = sock_of(s, fd);
	if (!k->open)
		fail_run(s, "conn %d: closed twice", index_of(s, k));
	k->open = false;
	k->held = false;
	TRACE("  close conn %d state %d flags %#x\n", index_of(s, k),
	      k->conn ? k->conn->state : -1, k->conn ? k->conn->flags : 0);
	k->conn = NULL;
	bool unread_input = k->delivered > k->consumed;
	bool unread_answers = k->received.len > k->client_read;
	bool excused = s->tearing_down || s->in_timer || k->reset ||
		       k->faulted || !s->cfg.lingering_time_ms ||
		       k->read_after_shut >= s->cfg.lingering_bytes;
	if (unread_input && unread_answers && !excused)
		fail_run(s,
			 "conn %d: closed with %zu input bytes unread while "
			 "its client had %zu bytes of answers to read: the "
			 "reset would destroy them",
			 index_of(s, k), k->delivered - k->consumed,
			 k->received.len - k->client_read);
}

static const struct hd_io_ops sim_io = {
	.read = sim_read,
	.send = sim_send,
	.shutdown_write = sim_shutdown_write,
	.close = sim_close,
};

/* The poller: conn.c's calls are recorded; the simulation delivers. */
static struct sim *poller_sim(struct hd_poller *p)
{
	return (struct sim *)((char *)p - offsetof(struct sim, poller));
}

static int fp_set(struct hd_poller *p, int fd, void *ptr, uint32_t events)
{
	(void)ptr;
	struct sim *s = poller_sim(p);
	struct sim_sock *k = sock_of(s, fd);
	k->interest = events;
	/* Edge-triggered epoll reports the current state on ADD and MOD. */
	if (p->edge)
		k->pending |= readiness(k) & (events | HD_EV_HUP);
	p->ctl_calls++;
	return 0;
}

/* Now and then the poller refuses a change (epoll_ctl's ENOMEM): the
 * connection must be closed, not left unwatched. */
static int fp_mod(struct hd_poller *p, int fd, void *ptr, uint32_t events)
{
	struct sim *s = poller_sim(p);
	if (chance(s, 100)) {
		sock_of(s, fd)->faulted = true;
		return -ENOMEM;
	}
	return fp_set(p, fd, ptr, events);
}

static void fp_forget(struct hd_poller *p, int fd)
{
	sock_of(poller_sim(p), fd)->interest = 0;
}

static int fp_wait(struct hd_poller *p, struct hd_event *events, int max,
		   int timeout_ms)
{
	(void)p;
	(void)events;
	(void)max;
	(void)timeout_ms;
	return 0;
}

static void fp_destroy(struct hd_poller *p)
{
	(void)p;
}

static const struct hd_poller_ops fake_poller_ops = {
	.name = "sim",
	.add = fp_set,
	.mod = fp_mod,
	.forget = fp_forget,
	.wait = fp_wait,
	.destroy = fp_destroy,
};

/* ---- clients ---- */

static int render(void *arg, enum hd_route_kind kind,
		  const struct hd_http_request *req, struct hd_buf *body,
		  const char **content_type)
{
	(void)arg;
	(void)content_type;
	return kind == HD_ROUTE_ECHO ? hd_echo_render(req, body) : -1;
}

static void addf(struct hd_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void addf(struct hd_buf *b, const char *fmt, ...)
{
	char text[4096];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(text) ||
	    hd_buf_append(b, text, (size_t)n))
		abort();
}

/* One request of a client's script; each carries the client's id where
 * its answer can show it (echo), so a misdelivered answer is caught. */
static void add_request(struct sim *s, struct hd_buf *b, int id, int seq)
{
	static const char host[] = "Host: h\r\n";
	size_t kind = below(s, 100);
	if (kind < 30) {
		addf(b, "GET / HTTP/1.1\r\n%sX-Conn: %d-%d\r\n\r\n", host, id,
		     seq);
	} else if (kind < 40) {
		addf(b, "GET /echo?c=%d HTTP/1.1\r\n%sX-Conn: %d-%d\r\n\r\n",
		     id, host, id, seq);
	} else if (kind < 46) {
		size_t n = 1 + below(s, 300);
		addf(b, "POST /echo HTTP/1.1\r\n%sContent-Length: %zu\r\n\r\n",
		     host, n);
		for (size_t i = 0; i < n; i++)
			addf(b, "%c", 'a' + id);
	} else if (kind < 52) {
		addf(b, "HEAD / HTTP/1.1\r\n%s\r\n", host);
	} else if (kind < 58) {
		addf(b, "GET /nope/%d HTTP/1.1\r\n%s\r\n", id, host);
	} else if (kind < 64) {
		addf(b,
		     "POST / HTTP/1.1\r\n%sTransfer-Encoding: chunked\r\n\r\n"
		     "5\r\nhello\r\n0\r\n\r\n",
		     host);
	} else if (kind < 70) {
		addf(b,
		     "POST / HTTP/1.1\r\n%sExpect: 100-continue\r\n"
		     "Content-Length: 3\r\n\r\nabc",
		     host);
	} else if (kind < 82) {
		/* Large requests make full reads and parked input. */
		size_t pad = below(s, 3000);
		addf(b, "GET /health HTTP/1.1\r\n%sX-Pad: ", host);
		for (size_t i = 0; i < pad; i++)
			addf(b, "p");
		addf(b, "\r\n\r\n");
	} else if (kind < 88) {
		addf(b, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
	} else if (kind < 90) {
		addf(b, "GET / HTTP/1.1\r\n%sConnection: close\r\n\r\n", host);
	} else if (kind < 92) {
		addf(b, "GET / HTTP/1.0\r\n\r\n");
	} else if (kind < 94) {
		addf(b, "GET / HTTP/1.1\r\n%sBad Header\r\n\r\n", host);
	} else if (kind < 96) {
		addf(b, "POST / HTTP/1.1\r\n%sContent-Length: 99999\r\n\r\n",
		     host);
		for (size_t i = below(s, 2000); i > 0; i--)
			addf(b, "b");
	} else if (kind < 98) {
		for (size_t i = 1 + below(s, 20); i > 0; i--)
			addf(b, "%c", (char)(1 + below(s, 255)));
	} else {
		/* A request that never ends (the script stops in it). */
		addf(b, "GET / HTTP/1.1\r\n%sX-Slow: ", host);
	}
}

/* The answers hellod's HTTP layer gives to these bytes, one request at
 * a time (an output limit of one byte more stops after each). */
static void compute_reference(struct sim *s, struct sim_sock *k)
{
	struct hd_http http;
	hd_http_init(&http);
	const char *p = k->script.data + k->proxy_len;
	size_t left = k->limit > k->proxy_len ? k->limit - k->proxy_len : 0;
	while (left > 0) {
		size_t used, before = k->reference.len;
		enum hd_feed_status st =
			hd_http_feed(&http, &s->ref_ctx, p, left, &k->reference,
				     before + 1, &used);
		size_t answer = k->reference.len - before;
		if (answer > k->largest_answer)
			k->largest_answer = answer;
		p += used;
		left -= used;
		if (st == HD_FEED_FULL &&
		    k->end_count < sizeof(k->ends) / sizeof(k->ends[0]))
			k->ends[k->end_count++] = k->limit - left;
		if (st == HD_FEED_CLOSE)
			break;
	}
	hd_http_release(&http);
}

static void client_sends(struct sim *s, struct sim_sock *k);

static void open_client(struct sim *s)
{
	int i = 0;
	while (i < MAX_SOCKS && s->socks[i].used)
		i++;
	if (i == MAX_SOCKS)
		return;
	struct sim_sock *k = &s->socks[i];
	/* Mostly small: backpressure is where the trouble is. */
	static const size_t sndbufs[] = {0,    1,    7,	    100,
					 1000, 4096, 65536, 1 << 20};
	k->used = k->open = true;
	k->sndbuf = pick(s, sndbufs, sizeof(sndbufs) / sizeof(sndbufs[0]));
	k->hostile_reader = chance(s, 2);
	/* A PROXY listener's client: v1 UNKNOWN or a v2 LOCAL header. */
	bool proxy = chance(s, 4);
	if (proxy && chance(s, 2)) {
		addf(&k->script, "PROXY UNKNOWN\r\n");
	} else if (proxy) {
		static const char v2[16] =
			"\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00";
		if (hd_buf_append(&k->script, v2, sizeof(v2)))
			abort();
	}
	k->proxy_len = k->script.len;
	static const size_t lengths[] = {1, 5, 40, 300};
	int requests = 1 + (int)below(s, pick(s, lengths, 4));
	for (int seq = 0; seq < requests; seq++)
		add_request(s, &k->script, i, seq);
	k->limit = k->script.len;
	if (chance(s, 4)) /* the client stops anywhere */
		k->limit = below(s, k->script.len + 1);
	k->fin_planned = chance(s, 2);
	compute_reference(s, k);
	int err;
	k->request_began = s->now_ms;
	TRACE("open conn %d at %llu\n", i, (unsigned long long)s->now_ms);
	k->conn = hd_conn_open(&s->loop, FD_BASE + i, &err);
	if (!k->conn)
		fail_run(s, "conn %d: hd_conn_open failed: %d", i, err);
	if (proxy)
		k->conn->flags |= HD_CONN_F_PROXY;
	/* read_after_accept: the first read comes at once, often with the
	 * request already there (TCP_DEFER_ACCEPT), before any event. */
	if (s->loop.read_after_accept) {
		if (chance(s, 2))
			client_sends(s, k);
		s->reads_fd = -1;
		hd_conn_start(&s->loop, k->conn);
	}
}

/* ---- the rules ---- */

static const struct hd_response *timeout_answer(const struct sim *s)
{
	return hd_responses_get(&s->responses, HD_RESP_TIMEOUT, HD_MODE_CLOSE);
}

/* received is reference[0, j) and then the start of a 408. */
static bool ends_in_timeout_answer(const struct sim *s,
				   const struct sim_sock *k, size_t m)
{
	const struct hd_response *r = timeout_answer(s);
	size_t from = m > r->total_len ? m - r->total_len : 0;
	for (size_t j = m + 1; j-- > from;) {
		size_t rest = k->received.len - j;
		if (rest <= r->total_len &&
		    !memcmp(k->received.data + j, r->bytes, rest))
			return true;
	}
	return false;
}

static void check_output(struct sim *s, struct sim_sock *k)
{
	size_t m = k->checked;
	size_t end = k->received.len < k->reference.len ? k->received.len
							: k->reference.len;
	while (m < end && k->received.data[m] == k->reference.data[m])
		m++;
	k->checked = m;
	/* After a drain began, answers say Connection: close. */
	if (m == k->received.len || s->draining)
		return;
	if (k->cut_by_timer && ends_in_timeout_answer(s, k, m))
		return;
	fail_run(s,
		 "conn %d: output byte %zu is not its own answer: got "
		 "'%.60s', want '%.60s'",
		 index_of(s, k), m, k->received.data + m,
		 m < k->reference.len ? k->reference.data + m : "(nothing)");
}

static void check_conn(struct sim *s, struct sim_sock *k)
{
	const struct hd_conn *c = k->conn;
	size_t out = hd_chunk_pending(c->out);
	size_t close_header = s->draining ? 64 : 0;
	if (out > s->cfg.max_pending_output + k->largest_answer + close_header)
		fail_run(s,
			 "conn %d: %zu bytes queued, bound %zu + one answer "
			 "(%zu)",
			 index_of(s, k), out, s->cfg.max_pending_output,
			 k->largest_answer);
	if (hd_chunk_pending(c->in) > s->loop.rbuf_size + HD_PROXY_MAX)
		fail_run(s, "conn %d: %zu bytes of input parked",
			 index_of(s, k), hd_chunk_pending(c->in));
	if (!hd_timer_armed(&c->timer))
		fail_run(s, "conn %d: no timer armed", index_of(s, k));
	if (k->held)
		fail_run(s,
			 "conn %d: a last send left waiting for a FIN "
			 "that does not come",
			 index_of(s, k));
}

static void check_all(struct sim *s)
{
	if (s->loop.scratch.len)
		fail_run(s, "the scratch holds %zu bytes between events",
			 s->loop.scratch.len);
	if (s->loop.scratch.lent)
		fail_run(s, "the scratch still borrows between events");
	for (int i = 0; i < MAX_SOCKS; i++) {
		struct sim_sock *k = &s->socks[i];
		if (!k->used)
			continue;
		check_output(s, k);
		if (k->open)
			check_conn(s, k);
	}
}

/* What an event could have changed. */
struct signature {
	size_t consumed, sent;
	uint8_t state, interest;
	uint16_t flags;
	bool open;
};

static struct signature signature_of(const struct sim_sock *k)
{
	struct signature g;
	memset(&g, 0, sizeof(g)); /* padding too: compared with memcmp */
	g.consumed = k->consumed;
	g.sent = k->received.len;
	g.open = k->open;
	if (k->conn) {
		g.state = k->conn->state;
		g.flags = k->conn->flags;
		g.interest = k->conn->interest;
	}
	return g;
}

static bool same(const struct signature *a, const struct signature *b)
{
	return !memcmp(a, b, sizeof(*a));
}

/* ---- steps ---- */

static void deliver(struct sim *s, struct sim_sock *k, uint32_t events)
{
	struct signature before = signature_of(k);
	s->reads_fd = -1;
	TRACE("event conn %d %#x (state %d, avail %zu, fin %d, window %zu)\n",
	      index_of(s, k), events, k->conn->state,
	      k->delivered - k->consumed, k->fin, window(k));
	hd_conn_on_event(&s->loop, k->conn, events);
	struct signature after = signature_of(k);
	if (s->poller.edge || !k->open)
		return;
	/* Level-triggered: an event that changed nothing while the poller
	 * would report it again is a busy loop. */
	if (same(&before, &after) && level_events(k)) {
		if (++k->stale > 3)
			fail_run(s,
				 "conn %d: woken %d times in a row for events "
				 "%#x, nothing changes (state %d): a spin",
				 index_of(s, k), k->stale, level_events(k),
				 after.state);
	} else {
		k->stale = 0;
	}
}

/* The poller hands out one connection's events. */
static bool deliver_one(struct sim *s, int i)
{
	struct sim_sock *k = &s->socks[i];
	if (!k->open)
		return false;
	uint32_t events;
	if (s->poller.edge) {
		events = k->pending;
		k->pending = 0;
	} else {
		events = level_events(k);
	}
	if (!events)
		return false;
	deliver(s, k, events);
	return true;
}

static void fire(void *arg, struct hd_timer *t)
{
	struct sim *s = arg;
	struct hd_conn *c = hd_conn_of_timer(t);
	struct sim_sock *k = sock_of(s, c->fd);
	/* A request gets header_timeout from when the server first read
	 * of it (or accepted the connection), never less. */
	if (t->kind == HD_TIMEOUT_HEADER &&
	    s->now_ms - k->request_began < s->cfg.header_timeout_ms)
		fail_run(s,
			 "conn %d: header_timeout (%u ms) fired %llu ms after "
			 "its request began (read %zu, request ends at %zu)",
			 index_of(s, k), s->cfg.header_timeout_ms,
			 (unsigned long long)(s->now_ms - k->request_began),
			 k->consumed,
			 k->ends_passed ? k->ends[k->ends_passed - 1] : 0);
	/* Idle and lingering timeouts come after every answer went out;
	 * the others, or any that strikes before the client sent all it
	 * meant to, cut the answers short. */
	uint32_t told = s->poller.edge ? k->pending : level_events(k);
	if (c->state == HD_CONN_READING && k->delivered > k->consumed &&
	    !(c->flags & HD_CONN_F_READY) && !(told & HD_EV_READ))
		fail_run(s,
			 "conn %d: timer %d fires with %zu bytes unread that "
			 "no event will announce (lost edge)",
			 index_of(s, k), t->kind, k->delivered - k->consumed);
	if (t->kind == HD_TIMEOUT_HEADER || t->kind == HD_TIMEOUT_BODY ||
	    t->kind == HD_TIMEOUT_WRITE || k->delivered < k->limit ||
	    k->delivered > k->consumed) /* a request raced the timer */
		k->cut_by_timer = true;
	TRACE("timer conn %d kind %d at %llu\n", index_of(s, k), t->kind,
	      (unsigned long long)s->now_ms);
	s->reads_fd = -1;
	/* Only a client that takes no output, or one lingered on to the
	 * limit, may be closed with input unread. */
	s->in_timer =
		t->kind == HD_TIMEOUT_WRITE || t->kind == HD_TIMEOUT_LINGER;
	hd_conn_on_timeout(&s->loop, c);
	s->in_timer = false;
}

static uint64_t progress_total(const struct sim *s)
{
	uint64_t total = 0;
	for (int i = 0; i < MAX_SOCKS; i++)
		total += s->socks[i].consumed + s->socks[i].received.len +
			 s->socks[i].open;
	return total;
}

static bool deliver_one(struct sim *s, int i);
static void race_timers(struct sim *s);

/* The loop sleeps only when nothing is ready: epoll_wait returns at once
 * while events wait, and the ready list makes it not wait at all. */
static void run_until_idle(struct sim *s)
{
	for (int round = 0; round < END_ROUNDS; round++) {
		bool busy = false;
		for (int i = 0; i < MAX_SOCKS; i++)
			busy |= deliver_one(s, i);
		s->reads_fd = -1;
		hd_conn_run_ready(&s->loop);
		check_all(s);
		if (!busy && !s->loop.ready)
			return;
	}
	fail_run(s, "the loop never goes idle");
}

/* The end of a batch of events, as the worker's loop runs it; time
 * passes only while it sleeps. */
static void end_batch(struct sim *s, uint64_t advance_ms)
{
	if (advance_ms) {
		run_until_idle(s);
		race_timers(s);
	}
	s->now_ms += advance_ms;
	hd_wheel_set_clock(&s->loop.wheel, s->now_ms);
	hd_wheel_expire(&s->loop.wheel, fire, s);
	uint64_t before = progress_total(s);
	s->reads_fd = -1;
	hd_conn_run_ready(&s->loop);
	if (!s->loop.ready || progress_total(s) != before)
		s->stale_rounds = 0;
	else if (++s->stale_rounds > 3)
		fail_run(s, "the ready list goes round without progress");
}

static void client_sends(struct sim *s, struct sim_sock *k);

/* Bytes that arrive as the loop wakes for its timers: the timers fire
 * before the events are handled. */
static void race_timers(struct sim *s)
{
	struct sim_sock *k = &s->socks[below(s, MAX_SOCKS)];
	if (k->open && chance(s, 3))
		client_sends(s, k);
}

static void client_sends(struct sim *s, struct sim_sock *k)
{
	static const size_t sizes[] = {1, 3, 16, 100, 600, 5000, 70000};
	size_t left = k->limit - k->delivered;
	if (left) {
		size_t n = 1 + below(s, pick(s, sizes, 7));
		/* Often up to the end of a request exactly: a connection
		 * between requests with more to come is where races are. */
		for (size_t e = 0; e < k->end_count && chance(s, 2); e++)
			if (k->ends[e] > k->delivered) {
				n = k->ends[e] - k->delivered;
				break;
			}
		k->delivered += n < left ? n : left;
		k->pending |= HD_EV_READ;
		/* The last bytes and the FIN often come together. */
		if (k->delivered == k->limit && k->fin_planned &&
		    chance(s, 2)) {
			k->fin = true;
			k->pending |= HD_EV_HUP;
		}
	} else if (k->fin_planned && !k->fin) {
		k->fin = true;
		k->pending |= HD_EV_READ | HD_EV_HUP;
	}
}

static void client_reads(struct sim *s, struct sim_sock *k, bool all)
{
	size_t unread = k->received.len - k->client_read;
	size_t n = all ? unread : below(s, unread + 1);
	if (!all && k->hostile_reader && n)
		n = 1; /* a byte now and then keeps write_timeout away */
	k->client_read += n;
	if (n)
		k->pending |= HD_EV_WRITE;
}

static void client_resets(struct sim_sock *k)
{
	k->reset = true;
	k->pending |= HD_EV_READ | HD_EV_WRITE | HD_EV_HUP;
}

static void hostile_step(struct sim *s)
{
	int i = (int)below(s, MAX_SOCKS);
	struct sim_sock *k = &s->socks[i];
	size_t action = below(s, 100);
	if (action < 5) {
		if (i < s->planned && !k->used)
			open_client(s);
		return;
	}
	if (!k->open)
		return;
	if (action < 35)
		client_sends(s, k);
	else if (action < 50)
		client_reads(s, k, false);
	else if (action < 51)
		client_resets(k);
	else if (action < 85)
		deliver_one(s, i);
	else if (action < 88)
		/* Spurious readiness, as epoll may give; a hang-up is
		 * never made up. */
		deliver(s, k, spurious_events(s) | (readiness(k) & HD_EV_HUP));
	else {
		static const size_t advances[] = {0, 1, 10, 50, 300, 3000};
		end_batch(s, pick(s, advances, 6));
	}
}

/* The clients behave: they send the rest, read all, and the loop runs
 * until nothing more happens. Then nothing may be left half done. */
static void settle_down(struct sim *s)
{
	for (int i = 0; i < MAX_SOCKS; i++)
		s->socks[i].hostile_reader = false;
	for (int round = 0;; round++) {
		if (round == END_ROUNDS)
			fail_run(s, "the loop never quiets down");
		bool busy = false;
		for (int i = 0; i < MAX_SOCKS; i++) {
			struct sim_sock *k = &s->socks[i];
			if (!k->open)
				continue;
			if (k->sndbuf < 1 << 20) {
				k->sndbuf = 1 << 20;
				k->pending |= HD_EV_WRITE;
			}
			busy |= k->received.len > k->client_read;
			if (k->delivered < k->limit ||
			    (k->fin_planned && !k->fin)) {
				client_sends(s, k);
				busy = true;
			}
			client_reads(s, k, true);
			busy |= deliver_one(s, i);
		}
		end_batch(s, 0);
		check_all(s);
		for (int i = 0; i < MAX_SOCKS; i++)
			busy |= s->socks[i].open && (s->socks[i].received.len >
						     s->socks[i].client_read);
		if (!busy && !s->loop.ready)
			break;
	}
}

static void check_quiet(struct sim *s)
{
	for (int i = 0; i < MAX_SOCKS; i++) {
		struct sim_sock *k = &s->socks[i];
		if (!k->open || k->reset)
			continue;
		const struct hd_conn *c = k->conn;
		if ((c->state == HD_CONN_READING ||
		     c->state == HD_CONN_LINGERING) &&
		    k->delivered > k->consumed)
			fail_run(s,
				 "conn %d: %zu bytes unread and no event will "
				 "come for them (lost edge)",
				 i, k->delivered - k->consumed);
		if (s->draining && c->state == HD_CONN_READING && !c->out &&
		    !c->in && hd_http_is_idle(&c->http) &&
		    hd_http_has_answered(&c->http) &&
		    k->delivered == k->consumed)
			fail_run(s,
				 "conn %d: draining, spent and quiet, yet open "
				 "(flags %#x)",
				 i, c->flags);
		if (c->out)
			fail_run(s,
				 "conn %d: %zu bytes of output queued on a "
				 "writable socket (state %d, flags %#x, "
				 "interest %#x, window %zu)",
				 i, hd_chunk_pending(c->out), c->state,
				 c->flags, c->interest, window(k));
		if (k->fin && k->consumed == k->delivered)
			fail_run(s,
				 "conn %d: its client half-closed and all was "
				 "read, yet it stays open in state %d (lost "
				 "FIN)",
				 i, c->state);
		if (c->state == HD_CONN_READING && !k->cut_by_timer &&
		    !s->draining && k->received.len != k->reference.len)
			fail_run(s, "conn %d: %zu of %zu answer bytes sent", i,
				 k->received.len, k->reference.len);
	}
}

/* Time passes: every connection must end, every timer with it. */
static void run_out_the_clock(struct sim *s)
{
	for (int round = 0; s->loop.open_conns && round < 200; round++) {
		for (int i = 0; i < MAX_SOCKS; i++)
			if (s->socks[i].open) {
				client_reads(s, &s->socks[i], true);
				deliver_one(s, i);
			}
		end_batch(s, 1000);
		check_all(s);
	}
	if (s->loop.open_conns || s->loop.conns)
		fail_run(s, "%llu connections never closed",
			 (unsigned long long)s->loop.open_conns);
	if (s->loop.wheel.count)
		fail_run(s, "%u timers left armed", s->loop.wheel.count);
	for (int i = 0; i < MAX_SOCKS; i++) {
		struct sim_sock *k = &s->socks[i];
		if (k->used && !k->reset && !k->faulted && !k->cut_by_timer &&
		    !s->draining && k->received.len != k->reference.len)
			fail_run(s,
				 "conn %d closed with %zu of %zu answer "
				 "bytes sent",
				 i, k->received.len, k->reference.len);
	}
}

/* ---- a run ---- */

static void configure(struct sim *s)
{
	struct hd_config *cfg = &s->cfg;
	/* Below the config's 4 KiB minimum too: pauses come often. */
	static const size_t pending[] = {256, 1000, 4096, 16384};
	static const size_t read_sizes[] = {7, 16, 100, 512, 4096, 65536};
	static const size_t times[] = {0, 100, 500, 2000, 10000};
	static const size_t bytes[] = {0, 10, 4096, 100000};
	if (hd_config_defaults(cfg))
		abort();
	snprintf(cfg->health_path, sizeof(cfg->health_path), "/health");
	snprintf(cfg->echo_path, sizeof(cfg->echo_path), "/echo");
	cfg->max_uri = 200;
	cfg->max_header_size = 8192;
	cfg->max_body = 1000;
	cfg->max_pending_output = pick(s, pending, 4);
	cfg->read_size = pick(s, read_sizes, 6);
	cfg->header_timeout_ms = 100 + (unsigned)below(s, 3000);
	cfg->keepalive_timeout_ms = 100 + (unsigned)below(s, 5000);
	cfg->write_timeout_ms = 100 + (unsigned)below(s, 5000);
	cfg->lingering_time_ms = (unsigned)pick(s, times, 5);
	cfg->lingering_bytes = pick(s, bytes, 4);
	cfg->trigger = chance(s, 2) ? HD_TRIGGER_EDGE : HD_TRIGGER_LEVEL;
	cfg->read_after_accept = chance(s, 2);
}

static void setup(struct sim *s)
{
	configure(s);
	if (hd_responses_init(&s->responses, &s->cfg, sim_date))
		abort();
	s->poller.ops = &fake_poller_ops;
	s->poller.edge = s->cfg.trigger == HD_TRIGGER_EDGE;
	s->now_ms = 1000;
	if (hd_loop_init(&s->loop, &s->cfg, &s->poller, &s->responses,
			 s->now_ms))
		abort();
	s->loop.io = &sim_io;
	s->loop.io_arg = s;
	s->loop.http.date = sim_date;
	s->loop.http.render = render;
	hd_http_ctx_init(&s->ref_ctx, &s->cfg, &s->responses);
	s->ref_ctx.date = sim_date;
	s->ref_ctx.render = render;
	s->planned = 1 + (int)below(s, MAX_SOCKS);
}

static void teardown(struct sim *s)
{
	s->tearing_down = true;
	hd_loop_free(&s->loop);
	for (int i = 0; i < MAX_SOCKS; i++) {
		hd_buf_free(&s->socks[i].script);
		hd_buf_free(&s->socks[i].received);
		hd_buf_free(&s->socks[i].reference);
	}
	hd_responses_free(&s->responses);
	hd_config_free(&s->cfg);
}

/* The run itself, apart so that nothing of sim_run's lives across the
 * longjmp a broken rule makes. */
/* SIGTERM's drain, as worker.c starts it at the top of its loop. */
static void start_drain(struct sim *s)
{
	TRACE("drain\n");
	/* Requests that race the drain: sent, not yet announced. */
	for (int i = 0; i < MAX_SOCKS; i++)
		if (s->socks[i].open && chance(s, 2))
			client_sends(s, &s->socks[i]);
	s->draining = true;
	s->loop.http.force_close = true;
	for (struct hd_conn *c = s->loop.conns, *next; c; c = next) {
		next = c->next;
		s->reads_fd = -1;
		if (hd_conn_is_spent(c))
			hd_conn_on_drain(&s->loop, c);
	}
}

static int run(struct sim *s, int steps)
{
	if (setjmp(s->failed))
		return 1;
	setup(s);
	s->drain_step = chance(s, 4) ? (int)below(s, (size_t)steps) : -1;
	open_client(s);
	for (int step = 0; step < steps; step++) {
		if (step == s->drain_step)
			start_drain(s);
		hostile_step(s);
		check_all(s);
	}
	settle_down(s);
	check_quiet(s);
	run_out_the_clock(s);
	return 0;
}

int sim_run(struct sim_rng *rng, int steps, char *msg, size_t msglen)
{
	struct sim *s = calloc(1, sizeof(*s));
	if (!s)
		abort();
	tracing = getenv("SIM_TRACE") != NULL;
	s->rng = rng;
	s->msg = msg;
	s->msglen = msglen;
	int failed = run(s, steps);
	/* After a failure the loop may be mid-event: leak it rather than
	 * free what conn.c may still point into. */
	if (!failed)
		teardown(s);
	free(s);
	return failed;
}
