/* fuzz_hellod.c — libFuzzer target for hellod's HTTP and connection
 * layers (make fuzz).
 *
 * Input: byte 0 seeds the split points, the rest is what a client sends.
 * The bytes are fed, in pieces of pseudo-random size, twice:
 *   1. to hd_http_feed directly, with a small output limit so the
 *      HD_FEED_FULL path (backpressure) is taken as conn.c takes it;
 *   2. through a real connection (hd_conn_open on one end of a
 *      socketpair, hd_conn_on_event as the loop calls it, then a
 *      half-close from the client).
 * Invariants checked: the output is a sequence of hellod's own
 * responses, each starting "HTTP/1.1 "; at most one says
 * "Connection: close" and nothing follows it; a close-mode response and
 * the end of the connection go together; no more final responses than
 * the input could hold requests; and both layers produce the very same
 * bytes (the connection layer loses, reorders and adds nothing).
 */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hellod/conn.h"
#include "hellod/http.h"
#include "hellod/worker.h"

#define MIN_REQUEST 16 /* "GET / HTTP/1.0\r\n\r\n" is 18 bytes */

static struct hd_config cfg;
static struct hd_worker worker;

#define CHECK(cond, ...)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "invariant failed: %s: ", #cond);      \
			fprintf(stderr, __VA_ARGS__);                          \
			fputc('\n', stderr);                                   \
			abort();                                               \
		}                                                              \
	} while (0)

static void init_once(void)
{
	static int done;
	if (done)
		return;
	done = 1;
	if (hd_config_defaults(&cfg))
		abort();
	/* Small limits, so short inputs can reach every error. */
	cfg.max_uri = 64;
	cfg.max_header_size = 512;
	cfg.max_headers = 8;
	cfg.max_body = 256;
	cfg.max_pending_output = 4096;
	if (hd_worker_init(&worker, 0, -1, &cfg, NULL, 0))
		abort();
}

/* Pseudo-random piece sizes from a one-byte seed (xorshift). */
struct splitter {
	uint32_t state;
};

static size_t next_piece(struct splitter *sp, size_t left)
{
	sp->state ^= sp->state << 13;
	sp->state ^= sp->state >> 17;
	sp->state ^= sp->state << 5;
	size_t n = 1 + sp->state % ((sp->state >> 8) % 4 == 0 ? 7 : 200);
	return n < left ? n : left;
}

/* Length of the response at out, if it is one of the worker's. Sets
 * *closes when it is a Connection: close one, *final unless 100. */
static size_t match_response(const char *out, size_t len, int *closes,
			     int *final)
{
	static const char cont[] = HD_CONTINUE_100;
	CHECK(len >= 9 && !memcmp(out, "HTTP/1.1 ", 9),
	      "response does not start with HTTP/1.1: '%.*s'",
	      (int)(len < 40 ? len : 40), out);
	if (len >= sizeof(cont) - 1 && !memcmp(out, cont, sizeof(cont) - 1)) {
		*closes = 0;
		*final = 0;
		return sizeof(cont) - 1;
	}
	const struct hd_responses *rs = &worker.responses;
	for (int k = 0; k < HD_RESP_KIND_COUNT; k++)
		for (int m = 0; m < HD_MODE_COUNT; m++) {
			const struct hd_response *r = &rs->table[k][m];
			if (len < r->head_len ||
			    memcmp(out, r->bytes, r->head_len))
				continue;
			*closes = m == HD_MODE_CLOSE;
			*final = 1;
			size_t body = r->total_len - r->head_len;
			/* A HEAD answer is the head alone. */
			if (body && len >= r->total_len &&
			    !memcmp(out + r->head_len, r->bytes + r->head_len,
				    body))
				return r->total_len;
			return r->head_len;
		}
	CHECK(0, "unknown response: '%.*s'", (int)(len < 60 ? len : 60), out);
	return 0;
}

/* Walks a whole output stream; returns whether its last response closes. */
static int check_stream(const char *out, size_t len, size_t input_len)
{
	size_t off = 0, finals = 0;
	int closed = 0;
	while (off < len) {
		CHECK(!closed, "bytes after a Connection: close response");
		int closes, final;
		off += match_response(out + off, len - off, &closes, &final);
		finals += (size_t) final;
		closed = closes;
	}
	CHECK(finals <= input_len / MIN_REQUEST + 1,
	      "%zu responses for %zu input bytes", finals, input_len);
	return closed;
}

/* Layer 1: the HTTP layer alone. Returns 1 if it ended with a close. */
static int feed_http(const uint8_t *data, size_t size, uint8_t seed,
		     struct hd_buf *all)
{
	struct hd_http http;
	struct hd_buf out = {0};
	struct splitter sp = {seed * 2654435761u + 1};
	const size_t limit = 600;
	int closed = 0;
	hd_http_init(&http);
	for (size_t off = 0; off < size && !closed;) {
		size_t piece = next_piece(&sp, size - off);
		const char *p = (const char *)data + off;
		off += piece;
		while (piece > 0) {
			size_t used;
			out.len = 0;
			enum hd_feed_status st =
				hd_http_feed(&http, &worker.loop.http, p, piece,
					     &out, limit, &used);
			CHECK(used <= piece, "consumed %zu of %zu", used,
			      piece);
			CHECK(st != HD_FEED_MORE || used == piece,
			      "MORE with input left");
			CHECK(st != HD_FEED_FULL || out.len >= limit,
			      "FULL below the limit");
			/* One request can add at most 100 Continue plus the
			 * largest response beyond the limit. */
			CHECK(out.len < limit + 4096, "output %zu", out.len);
			if (hd_buf_append(all, out.data, out.len))
				abort();
			p += used;
			piece -= used;
			if (st == HD_FEED_CLOSE) {
				closed = 1;
				break;
			}
		}
	}
	hd_buf_free(&out);
	return closed;
}

/* Reads what the server end wrote; returns 0 at EOF, 1 otherwise. */
static int drain_client(int fd, struct hd_buf *all)
{
	char buf[16384];
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n > 0) {
			if (hd_buf_append(all, buf, (size_t)n))
				abort();
			continue;
		}
		if (n == 0)
			return 0;
		if (errno == EINTR)
			continue;
		CHECK(errno == EAGAIN || errno == ECONNRESET, "read: %s",
		      strerror(errno));
		return errno == EAGAIN;
	}
}

/* Delivers an event as the loop would; returns 1 while c still serves
 * (a lingering connection has answered for the last time). */
static int deliver(struct hd_conn *c, uint32_t events)
{
	hd_conn_on_event(&worker.loop, c, events);
	return worker.loop.conns == c && c->state != HD_CONN_LINGERING;
}

/* Layer 2: a real connection over a socketpair. Returns 1 if the server
 * closed the connection before the client's half-close. */
static int feed_conn(const uint8_t *data, size_t size, uint8_t seed,
		     struct hd_buf *all)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv))
		abort();
	int err;
	struct hd_conn *c = hd_conn_open(&worker.loop, sv[0], &err);
	if (!c)
		abort();
	struct splitter sp = {seed * 2654435761u + 1};
	int open = 1;
	for (size_t off = 0; off < size && open;) {
		size_t piece = next_piece(&sp, size - off);
		ssize_t n = write(sv[1], data + off, piece);
		if (n < 0)
			break; /* the server closed its end */
		off += (size_t)n;
		open = deliver(c, HD_EV_READ | HD_EV_WRITE);
		/* Read, and tell the server it may write, until quiet. */
		for (int round = 0; open && round < 64; round++) {
			size_t before = all->len;
			drain_client(sv[1], all);
			if (all->len == before && !c->out && !c->in)
				break;
			open = deliver(c, HD_EV_WRITE | HD_EV_READ);
		}
	}
	int closed_early = !open;
	if (open) {
		shutdown(sv[1], SHUT_WR);
		open = deliver(c, HD_EV_READ | HD_EV_HUP);
		for (int round = 0; open && round < 64; round++) {
			drain_client(sv[1], all);
			open = deliver(c, HD_EV_WRITE);
		}
	}
	if (worker.loop.conns)
		hd_conn_close(&worker.loop, worker.loop.conns);
	drain_client(sv[1], all);
	CHECK(worker.loop.conns == NULL, "connection not freed");
	close(sv[1]);
	return closed_early;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	init_once();
	if (size < 1)
		return 0;
	uint8_t seed = data[0];
	data++;
	size--;
	struct hd_buf via_http = {0}, via_conn = {0};
	int http_closed = feed_http(data, size, seed, &via_http);
	int stream_closed = check_stream(via_http.data, via_http.len, size);
	CHECK(http_closed == stream_closed,
	      "feed said close %d, last response close %d", http_closed,
	      stream_closed);
	int conn_closed = feed_conn(data, size, seed, &via_conn);
	CHECK(conn_closed >= http_closed, "a close response left it open");
	CHECK(via_conn.len == via_http.len &&
		      (!via_http.len ||
		       !memcmp(via_conn.data, via_http.data, via_http.len)),
	      "connection layer wrote %zu bytes, HTTP layer %zu", via_conn.len,
	      via_http.len);
	hd_buf_free(&via_http);
	hd_buf_free(&via_conn);
	return 0;
}
