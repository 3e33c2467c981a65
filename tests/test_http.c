/* test_http.c — the HTTP layer (src/http.c) fed bytes directly: whole,
 * split at every byte, pipelined, malformed. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hellod/host.h"
#include "hellod/http.h"
#include "suites.h"

static const char date[] = "Sun, 06 Nov 1994 08:49:37 GMT";
static struct hd_config cfg;
static struct hd_responses rs;
static struct hd_http_ctx ctx;
static struct hd_http http;
static struct hd_buf out;

static void setup(void)
{
	ck_assert_int_eq(hd_config_defaults(&cfg), 0);
	ck_assert_int_eq(hd_responses_init(&rs, &cfg, date), 0);
	hd_http_ctx_init(&ctx, &cfg, &rs);
	hd_http_init(&http);
	memset(&out, 0, sizeof(out));
}

static void teardown(void)
{
	hd_buf_free(&out);
	hd_responses_free(&rs);
	hd_config_free(&cfg);
}

static const struct hd_response *resp(enum hd_resp_kind k, enum hd_conn_mode m)
{
	return hd_responses_get(&rs, k, m);
}

/* Feeds everything (as a loop would, re-feeding after FULL). */
static enum hd_feed_status feed(const char *data, size_t len)
{
	enum hd_feed_status st;
	size_t used;
	do {
		st = hd_http_feed(&http, &ctx, data, len, &out, (size_t)-1,
				  &used);
		data += used;
		len -= used;
	} while (st == HD_FEED_FULL && len);
	return st;
}

static enum hd_feed_status feed_str(const char *s)
{
	return feed(s, strlen(s));
}

/* Asserts out holds exactly these responses, in order. */
static void expect_out(const struct hd_response *const *list, int n,
		       const bool *head_only)
{
	size_t off = 0;
	for (int i = 0; i < n; i++) {
		size_t len = head_only && head_only[i] ? list[i]->head_len
						       : list[i]->total_len;
		ck_assert_uint_ge(out.len, off + len);
		ck_assert_msg(memcmp(out.data + off, list[i]->bytes, len) == 0,
			      "response %d differs: got '%.*s'", i,
			      (int)(out.len - off), out.data + off);
		off += len;
	}
	ck_assert_msg(off == out.len, "extra output: '%.*s'",
		      (int)(out.len - off), out.data + off);
}

static const char get_root[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

START_TEST(answers_a_whole_request)
{
	ck_assert_int_eq(feed_str(get_root), HD_FEED_MORE);
	const struct hd_response *r = resp(HD_RESP_MAIN, HD_MODE_KEEP);
	expect_out(&r, 1, NULL);
	ck_assert_uint_eq(ctx.requests, 1);
	ck_assert(hd_http_is_idle(&http));
}
END_TEST

/* The request split in two at every byte position gives the same answer,
 * and none before the last byte. */
START_TEST(answers_a_request_split_anywhere)
{
	const char *req = "POST /?q=1 HTTP/1.1\r\nHost: example\r\n"
			  "Expect: 100-continue\r\nContent-Length: 5\r\n"
			  "X-Long-Header-Name: some value here\r\n\r\nhello";
	size_t len = strlen(req);
	for (size_t cut = 0; cut <= len; cut++) {
		hd_http_init(&http);
		out.len = 0;
		ck_assert_int_eq(feed(req, cut), HD_FEED_MORE);
		ck_assert_int_eq(feed(req + cut, len - cut), HD_FEED_MORE);
		const char *cont = HD_CONTINUE_100;
		ck_assert_msg(out.len > strlen(cont) &&
				      !memcmp(out.data, cont, strlen(cont)),
			      "cut %zu: no 100 Continue first", cut);
		const struct hd_response *r = resp(HD_RESP_MAIN, HD_MODE_KEEP);
		ck_assert_uint_eq(out.len, strlen(cont) + r->total_len);
		ck_assert_int_eq(
			memcmp(out.data + strlen(cont), r->bytes, r->total_len),
			0);
	}
}
END_TEST

START_TEST(byte_at_a_time)
{
	for (const char *p = get_root; *p; p++) {
		ck_assert_uint_eq(out.len, 0);
		ck_assert_int_eq(feed(p, 1), HD_FEED_MORE);
	}
	const struct hd_response *r = resp(HD_RESP_MAIN, HD_MODE_KEEP);
	expect_out(&r, 1, NULL);
}
END_TEST

START_TEST(pipelined_requests_answered_in_order)
{
	const char *reqs =
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
		"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
		"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n"
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
		"POST / HTTP/1.1\r\nHost: x\r\n"
		"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
		"GET /?a=b HTTP/1.1\r\nHost: x\r\n\r\n";
	ck_assert_int_eq(feed_str(reqs), HD_FEED_MORE);
	const struct hd_response *main_r = resp(HD_RESP_MAIN, HD_MODE_KEEP);
	const struct hd_response *list[] = {
		main_r, resp(HD_RESP_NOT_FOUND, HD_MODE_KEEP),
		main_r, main_r,
		main_r, main_r,
	};
	const bool head[] = {false, false, true, false, false, false};
	expect_out(list, 6, head);
	ck_assert_uint_eq(ctx.requests, 6);
}
END_TEST

START_TEST(stops_at_out_limit_and_resumes)
{
	char reqs[10 * sizeof(get_root)] = "";
	for (int i = 0; i < 10; i++)
		strcat(reqs, get_root);
	const struct hd_response *r = resp(HD_RESP_MAIN, HD_MODE_KEEP);
	size_t used, len = strlen(reqs);
	enum hd_feed_status st = hd_http_feed(&http, &ctx, reqs, len, &out,
					      2 * r->total_len, &used);
	ck_assert_int_eq(st, HD_FEED_FULL);
	ck_assert_uint_eq(used, 2 * strlen(get_root));
	ck_assert_uint_eq(out.len, 2 * r->total_len);
	ck_assert_int_eq(feed(reqs + used, len - used), HD_FEED_MORE);
	ck_assert_uint_eq(out.len, 10 * r->total_len);
}
END_TEST

/* Idle means no request byte waits in the parser: true exactly where a
 * request ends (or only blank lines follow one), false from a request's
 * first byte, whether the parser stopped at the end (the output limit)
 * or ran on. Fed a byte at a time, then all at once under a limit that
 * stops after every answer. */
START_TEST(idle_exactly_between_requests)
{
	static const char reqs[] =
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
		"\r\n"
		"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
		"HEAD /health HTTP/1.1\r\nHost: x\r\n\r\n";
	size_t len = strlen(reqs), answers = 0;
	for (size_t i = 0; i < len; i++) {
		size_t used;
		enum hd_feed_status st =
			hd_http_feed(&http, &ctx, reqs + i, 1, &out, 1, &used);
		ck_assert_uint_eq(used, 1);
		bool ended = ctx.requests > answers;
		answers = ctx.requests;
		ck_assert_int_eq(st, ended ? HD_FEED_FULL : HD_FEED_MORE);
		bool blank = reqs[i] == '\r' || reqs[i] == '\n';
		bool between = ended || (blank && hd_http_is_idle(&http));
		ck_assert_msg(hd_http_is_idle(&http) == between,
			      "byte %zu ('%c'): idle %d", i, reqs[i],
			      hd_http_is_idle(&http));
	}
	ck_assert_uint_eq(answers, 3);
	hd_http_init(&http);
	ctx.requests = 0;
	for (size_t off = 0, n = 0; off < len; off += n) {
		ck_assert(off == 0 || hd_http_is_idle(&http));
		enum hd_feed_status st = hd_http_feed(&http, &ctx, reqs + off,
						      len - off, &out, 1, &n);
		ck_assert_int_eq(st, HD_FEED_FULL);
	}
	ck_assert_uint_eq(ctx.requests, 3);
	ck_assert(hd_http_is_idle(&http));
	ck_assert_int_eq(feed_str("G"), HD_FEED_MORE); /* one byte in */
	ck_assert(!hd_http_is_idle(&http));
}
END_TEST

/* What one request counts (target and header bytes, header fields, Host
 * lines, its route) starts afresh with the next: two requests, each
 * within every limit but over them together, are both answered. */
START_TEST(each_request_counts_from_zero)
{
	cfg.max_headers = 3;
	cfg.max_uri = 40;
	hd_http_ctx_init(&ctx, &cfg, &rs);
	const char one[] = "GET /nope/xxxxxxxxxxxxxxxxxxxxxxxx HTTP/1.1\r\n"
			   "Host: x\r\nA: 1\r\nB: 2\r\n\r\n";
	char two[2 * sizeof(one)];
	snprintf(two, sizeof(two), "%s%s", one, one);
	ck_assert_int_eq(feed_str(two), HD_FEED_MORE);
	const struct hd_response *r = resp(HD_RESP_NOT_FOUND, HD_MODE_KEEP);
	const struct hd_response *list[] = {r, r};
	expect_out(list, 2, NULL);
	ck_assert_int_eq(feed_str(get_root), HD_FEED_MORE);
	ck_assert_uint_eq(out.len,
			  2 * r->total_len +
				  resp(HD_RESP_MAIN, HD_MODE_KEEP)->total_len);
}
END_TEST

START_TEST(http10_keep_alive_and_close)
{
	ck_assert_int_eq(
		feed_str("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"),
		HD_FEED_MORE);
	ck_assert_int_eq(
		feed_str("GET / HTTP/1.0\r\n\r\nGET / HTTP/1.0\r\n\r\n"),
		HD_FEED_CLOSE);
	const struct hd_response *list[] = {
		resp(HD_RESP_MAIN, HD_MODE_KEEP_10),
		resp(HD_RESP_MAIN, HD_MODE_CLOSE),
	};
	expect_out(list, 2, NULL);
}
END_TEST

START_TEST(connection_close_closes)
{
	ck_assert_int_eq(feed_str("GET / HTTP/1.1\r\nHost: x\r\n"
				  "Connection: close\r\n\r\n" /* rest ignored */
				  "GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
			 HD_FEED_CLOSE);
	const struct hd_response *r = resp(HD_RESP_MAIN, HD_MODE_CLOSE);
	expect_out(&r, 1, NULL);
}
END_TEST

START_TEST(catch_all_answers_every_path)
{
	ctx.catch_all = true;
	feed_str("GET /anything/at/all HTTP/1.1\r\nHost: x\r\n\r\n");
	const struct hd_response *r = resp(HD_RESP_MAIN, HD_MODE_KEEP);
	expect_out(&r, 1, NULL);
}
END_TEST

START_TEST(paths_must_match_exactly)
{
	feed_str("GET // HTTP/1.1\r\nHost: x\r\n\r\n"
		 "GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n"
		 "GET /#frag HTTP/1.1\r\nHost: x\r\n\r\n");
	const struct hd_response *nf = resp(HD_RESP_NOT_FOUND, HD_MODE_KEEP);
	const struct hd_response *list[] = {nf, nf,
					    resp(HD_RESP_MAIN, HD_MODE_KEEP)};
	expect_out(list, 3, NULL);
}
END_TEST

/* A request literal and its length, for those that hold a NUL. */
#define WITH_NUL(lit) .request = lit, .len = sizeof(lit) - 1

static const struct {
	const char *name;
	const char *request;
	enum hd_resp_kind kind;
	size_t len; /* 0: strlen(request) */
} malformed[] = {
	{.name = "garbage",
	 .request = "HELLO THERE\r\n\r\n",
	 .kind = HD_RESP_BAD_REQUEST},
	{.name = "no host in 1.1",
	 .request = "GET / HTTP/1.1\r\n\r\n",
	 .kind = HD_RESP_BAD_REQUEST},
	{.name = "two hosts",
	 .request = "GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n",
	 .kind = HD_RESP_BAD_REQUEST},
	{.name = "empty header name",
	 .request = "GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n",
	 .kind = HD_RESP_BAD_REQUEST},
	{.name = "obs-fold",
	 .request = "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n",
	 .kind = HD_RESP_BAD_REQUEST},
	{.name = "obs-fold after empty value",
	 .request = "GET / HTTP/1.1\r\nHost: a\r\nX:\r\n\tb\r\n\r\n",
	 .kind = HD_RESP_BAD_REQUEST},
	{.name = "HTTP/2.0",
	 .request = "GET / HTTP/2.0\r\nHost: a\r\n\r\n",
	 .kind = HD_RESP_VERSION},
	{.name = "HTTP/0.9 line",
	 .request = "GET /\r\n\r\n",
	 .kind = HD_RESP_BAD_REQUEST},
	{.name = "HTTP/0.9 version",
	 .request = "GET / HTTP/0.9\r\nHost: a\r\n\r\n",
	 .kind = HD_RESP_VERSION},
	{.name = "HTTP/1.2 (llhttp refuses it)",
	 .request = "GET / HTTP/1.2\r\nHost: a\r\n\r\n",
	 .kind = HD_RESP_BAD_REQUEST},
	{.name = "method llhttp does not know",
	 .request = "FROB / HTTP/1.1\r\nHost: a\r\n\r\n",
	 .kind = HD_RESP_BAD_REQUEST},
	{.name = "whitespace before the first field",
	 .request = "GET / HTTP/1.1\r\n Host: a\r\n\r\n",
	 .kind = HD_RESP_BAD_REQUEST},
	{.name = "HTTP/3.0",
	 .request = "GET / HTTP/3.0\r\nHost: a\r\n\r\n",
	 .kind = HD_RESP_VERSION},
	/* Host: uri-host [ ":" port ] (RFC 9112 3.2) */
	{.name = "Host with blanks",
	 .request = "GET / HTTP/1.1\r\nHost: bad host name\r\n\r\n",
	 .kind = HD_RESP_BAD_REQUEST},
	{.name = "Host with userinfo",
	 .request = "GET / HTTP/1.1\r\nHost: user@h\r\n\r\n",
	 .kind = HD_RESP_BAD_REQUEST},
	{.name = "Host with a path",
	 .request = "GET / HTTP/1.1\r\nHost: h/x\r\n\r\n",
	 .kind = HD_RESP_BAD_REQUEST},
	{.name = "Host port not digits",
	 .request = "GET / HTTP/1.1\r\nHost: h:http\r\n\r\n",
	 .kind = HD_RESP_BAD_REQUEST},
	{.name = "Host two ports",
	 .request = "GET / HTTP/1.1\r\nHost: h:80:81\r\n\r\n",
	 .kind = HD_RESP_BAD_REQUEST},
	{.name = "Host bad percent",
	 .request = "GET / HTTP/1.1\r\nHost: h%4g\r\n\r\n",
	 .kind = HD_RESP_BAD_REQUEST},
	{.name = "Host percent cut short",
	 .request = "GET / HTTP/1.1\r\nHost: h%4\r\n\r\n",
	 .kind = HD_RESP_BAD_REQUEST},
	{.name = "Host IP-literal unclosed",
	 .request = "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n",
	 .kind = HD_RESP_BAD_REQUEST},
	{.name = "Host IP-literal empty",
	 .request = "GET / HTTP/1.1\r\nHost: []\r\n\r\n",
	 .kind = HD_RESP_BAD_REQUEST},
	{.name = "Host text after IP-literal",
	 .request = "GET / HTTP/1.1\r\nHost: [::1]x\r\n\r\n",
	 .kind = HD_RESP_BAD_REQUEST},
	{.name = "Host bracket inside name",
	 .request = "GET / HTTP/1.1\r\nHost: a[::1]\r\n\r\n",
	 .kind = HD_RESP_BAD_REQUEST},
	{.name = "Host non-ASCII",
	 .request = "GET / HTTP/1.1\r\nHost: caf\xc3\xa9\r\n\r\n",
	 .kind = HD_RESP_BAD_REQUEST},
	{.name = "bad Host in HTTP/1.0",
	 .request = "GET / HTTP/1.0\r\nHost: a b\r\n\r\n",
	 .kind = HD_RESP_BAD_REQUEST},
	/* request-target forms (RFC 9112 3.2) */
	{.name = "absolute form with userinfo",
	 .request = "GET http://u@h/ HTTP/1.1\r\nHost: h\r\n\r\n",
	 .kind = HD_RESP_BAD_REQUEST},
	{.name = "absolute form without host",
	 .request = "GET http:///a HTTP/1.1\r\nHost: h\r\n\r\n",
	 .kind = HD_RESP_BAD_REQUEST},
	{.name = "absolute form with only a port",
	 .request = "GET http://:80/ HTTP/1.1\r\nHost: h\r\n\r\n",
	 .kind = HD_RESP_BAD_REQUEST},
	{.name = "absolute form, bad port",
	 .request = "GET http://h:8x/ HTTP/1.1\r\nHost: h\r\n\r\n",
	 .kind = HD_RESP_BAD_REQUEST},
	{.name = "absolute form, other scheme",
	 .request = "GET ftp://h/ HTTP/1.1\r\nHost: h\r\n\r\n",
	 .kind = HD_RESP_BAD_REQUEST},
	{.name = "absolute form, scheme prefix",
	 .request = "GET httpx://h/ HTTP/1.1\r\nHost: h\r\n\r\n",
	 .kind = HD_RESP_BAD_REQUEST},
	{.name = "absolute form, still needs Host",
	 .request = "GET http://h/ HTTP/1.1\r\n\r\n",
	 .kind = HD_RESP_BAD_REQUEST},
	{.name = "asterisk form for GET",
	 .request = "GET * HTTP/1.1\r\nHost: h\r\n\r\n",
	 .kind = HD_RESP_BAD_REQUEST},
	{.name = "asterisk and more",
	 .request = "OPTIONS *x HTTP/1.1\r\nHost: h\r\n\r\n",
	 .kind = HD_RESP_BAD_REQUEST},
	/* Expect (RFC 9110 10.1.1): 100-continue is the only one known */
	{.name = "unknown expectation",
	 .request = "GET / HTTP/1.1\r\nHost: h\r\nExpect: tea\r\n\r\n",
	 .kind = HD_RESP_EXPECTATION},
	{.name = "unknown expectation in a list",
	 .request = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n"
		    "Expect: 100-continue, tea\r\n\r\nx",
	 .kind = HD_RESP_EXPECTATION},
	{.name = "expectation with a suffix",
	 .request = "GET / HTTP/1.1\r\nHost: h\r\n"
		    "Expect: 100-continues\r\n\r\n",
	 .kind = HD_RESP_EXPECTATION},
	{.name = "expectation with a parameter",
	 .request = "GET / HTTP/1.1\r\nHost: h\r\n"
		    "Expect: 100-continue;q=1\r\n\r\n",
	 .kind = HD_RESP_EXPECTATION},
	{.name = "expectation of two words",
	 .request = "GET / HTTP/1.1\r\nHost: h\r\n"
		    "Expect: 100-continue x\r\n\r\n",
	 .kind = HD_RESP_EXPECTATION},
	{.name = "unknown expectation in a second field",
	 .request = "GET / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
		    "Expect: 200-ok\r\n\r\n",
	 .kind = HD_RESP_EXPECTATION},
	{.name = "bare CR",
	 .request = "GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n",
	 .kind = HD_RESP_BAD_REQUEST},
	{.name = "space before colon",
	 .request = "GET / HTTP/1.1\r\nHost : a\r\n\r\n",
	 .kind = HD_RESP_BAD_REQUEST},
	{.name = "CL and TE",
	 .request = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	 .kind = HD_RESP_BAD_REQUEST},
	{.name = "two CLs",
	 .request = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
		    "Content-Length: 4\r\n\r\nabcd",
	 .kind = HD_RESP_BAD_REQUEST},
	{.name = "bad CL",
	 .request = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3x\r\n\r\n",
	 .kind = HD_RESP_BAD_REQUEST},
	{.name = "NUL in header",
	 WITH_NUL("GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n"),
	 .kind = HD_RESP_BAD_REQUEST},
	{.name = "NUL in target",
	 WITH_NUL("GET /\0 HTTP/1.1\r\nHost: a\r\n\r\n"),
	 .kind = HD_RESP_BAD_REQUEST},
	{.name = "NUL in method",
	 WITH_NUL("G\0T / HTTP/1.1\r\nHost: a\r\n\r\n"),
	 .kind = HD_RESP_BAD_REQUEST},
	{.name = "NUL in chunk data is fine but bad size",
	 WITH_NUL("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
		  "chunked\r\n\r\n3\0\r\nabc\r\n0\r\n\r\n"),
	 .kind = HD_RESP_BAD_REQUEST},
	/* Transfer-Encoding: only "chunked", alone, in HTTP/1.1 */
	{.name = "TE chunked not last",
	 .request = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, "
		    "gzip\r\n"
		    "\r\n",
	 .kind = HD_RESP_BAD_REQUEST},
	{.name = "TE unknown coding before chunked",
	 .request = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, "
		    "chunked\r\n"
		    "\r\n0\r\n\r\n",
	 .kind = HD_RESP_BAD_REQUEST},
	{.name = "TE unknown coding in its own header",
	 .request = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	 .kind = HD_RESP_BAD_REQUEST},
	{.name = "TE identity",
	 .request = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
		    "identity\r\n\r\n",
	 .kind = HD_RESP_BAD_REQUEST},
	{.name = "TE xchunked",
	 .request = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
		    "xchunked\r\n\r\n"
		    "0\r\n\r\n",
	 .kind = HD_RESP_BAD_REQUEST},
	{.name = "TE chunked twice",
	 .request =
		 "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
		 "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	 .kind = HD_RESP_BAD_REQUEST},
	{.name = "TE in HTTP/1.0",
	 .request = "POST / HTTP/1.0\r\nTransfer-Encoding: "
		    "chunked\r\n\r\n0\r\n\r\n",
	 .kind = HD_RESP_BAD_REQUEST},
	/* Content-Length: digits only, once */
	{.name = "CL list",
	 .request =
		 "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\n",
	 .kind = HD_RESP_BAD_REQUEST},
	{.name = "CL sign",
	 .request = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\n",
	 .kind = HD_RESP_BAD_REQUEST},
	{.name = "CL negative",
	 .request = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
	 .kind = HD_RESP_BAD_REQUEST},
	{.name = "CL empty",
	 .request = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n",
	 .kind = HD_RESP_BAD_REQUEST},
	{.name = "CL hex",
	 .request = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x3\r\n\r\n",
	 .kind = HD_RESP_BAD_REQUEST},
	{.name = "CL overflow",
	 .request = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: "
		    "99999999999999999999999\r\n\r\n",
	 .kind = HD_RESP_BAD_REQUEST},
	{.name = "CL repeated, same value",
	 .request = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
		    "Content-Length: 3\r\n\r\nabc",
	 .kind = HD_RESP_BAD_REQUEST},
	/* control characters */
	{.name = "CTL in value",
	 .request = "GET / HTTP/1.1\r\nHost: a\x01b\r\n\r\n",
	 .kind = HD_RESP_BAD_REQUEST},
	{.name = "DEL in value",
	 .request = "GET / HTTP/1.1\r\nHost: a\x7f\r\n\r\n",
	 .kind = HD_RESP_BAD_REQUEST},
	{.name = "CTL in name",
	 .request = "GET / HTTP/1.1\r\nHo\x01st: a\r\n\r\n",
	 .kind = HD_RESP_BAD_REQUEST},
	{.name = "CTL in target",
	 .request = "GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n",
	 .kind = HD_RESP_BAD_REQUEST},
	{.name = "tab in target",
	 .request = "GET /\t HTTP/1.1\r\nHost: a\r\n\r\n",
	 .kind = HD_RESP_BAD_REQUEST},
	{.name = "CTL in method",
	 .request = "G\x01T / HTTP/1.1\r\nHost: a\r\n\r\n",
	 .kind = HD_RESP_BAD_REQUEST},
	{.name = "tab before colon",
	 .request = "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n",
	 .kind = HD_RESP_BAD_REQUEST},
	{.name = "bare LF in value",
	 .request = "GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n",
	 .kind = HD_RESP_BAD_REQUEST},
	{.name = "space after version",
	 .request = "GET / HTTP/1.1 \r\nHost: a\r\n\r\n",
	 .kind = HD_RESP_BAD_REQUEST},
	/* chunked framing */
	{.name = "chunk size overflow",
	 .request = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
		    "chunked\r\n\r\n"
		    "fffffffffffffffffff\r\n",
	 .kind = HD_RESP_BAD_REQUEST},
	{.name = "chunk size not hex",
	 .request = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
		    "chunked\r\n\r\n"
		    "zz\r\n",
	 .kind = HD_RESP_BAD_REQUEST},
	{.name = "chunk data longer than its size",
	 .request = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
		    "chunked\r\n\r\n"
		    "3\r\nabcX\r\n0\r\n\r\n",
	 .kind = HD_RESP_BAD_REQUEST},
	{.name = "chunk size with LF only",
	 .request = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
		    "chunked\r\n\r\n"
		    "3\nabc\r\n0\r\n\r\n",
	 .kind = HD_RESP_BAD_REQUEST},
	{.name = "LF only",
	 .request = "GET / HTTP/1.1\nHost: a\n\n",
	 .kind = HD_RESP_BAD_REQUEST},
	{.name = "body too large",
	 .request = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: "
		    "99999999\r\n\r\n",
	 .kind = HD_RESP_TOO_LARGE},
};

static size_t malformed_len(int i)
{
	return malformed[i].len ? malformed[i].len
				: strlen(malformed[i].request);
}

START_TEST(malformed_gets_error_and_close)
{
	/* A good request first: its answer must still come out, then the
	 * error, then nothing (the connection closes). */
	char buf[512];
	size_t glen = strlen(get_root);
	memcpy(buf, get_root, glen);
	const char *req = malformed[_i].request;
	size_t rlen = malformed_len(_i);
	memcpy(buf + glen, req, rlen);
	ck_assert_msg(feed(buf, glen + rlen) == HD_FEED_CLOSE, "%s",
		      malformed[_i].name);
	const struct hd_response *list[] = {
		resp(HD_RESP_MAIN, HD_MODE_KEEP),
		resp(malformed[_i].kind, HD_MODE_CLOSE),
	};
	expect_out(list, 2, NULL);
	ck_assert_uint_eq(ctx.parse_errors, 1);
}
END_TEST

/* Each malformed request split in two at every byte position still gets
 * the same error: the checks must not depend on how bytes arrive. */
START_TEST(malformed_split_anywhere)
{
	const char *req = malformed[_i].request;
	size_t len = malformed_len(_i);
	for (size_t cut = 0; cut <= len; cut++) {
		hd_http_init(&http);
		out.len = 0;
		enum hd_feed_status st = feed(req, cut);
		if (st != HD_FEED_CLOSE)
			st = feed(req + cut, len - cut);
		ck_assert_msg(st == HD_FEED_CLOSE, "%s, cut %zu",
			      malformed[_i].name, cut);
		const struct hd_response *r =
			resp(malformed[_i].kind, HD_MODE_CLOSE);
		expect_out(&r, 1, NULL);
	}
}
END_TEST

/* Strictness must not refuse what is well-formed. */
static const char *const strict_but_fine[] = {
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: CHUNKED\r\n\r\n"
	"0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked \r\n\r\n"
	"0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
	"3;ext=1\r\nabc\r\n0\r\nTrailer: x\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX: caf\xc3\xa9\tb\r\n\r\n",
	"GET / HTTP/1.0\r\nContent-Length: 2\r\nConnection: keep-alive\r\n"
	"\r\nab",
};

START_TEST(strict_but_well_formed_is_answered)
{
	const char *req = strict_but_fine[_i];
	size_t len = strlen(req);
	for (size_t cut = 0; cut <= len; cut++) {
		hd_http_init(&http);
		out.len = 0;
		ck_assert_int_eq(feed(req, cut), HD_FEED_MORE);
		ck_assert_msg(feed(req + cut, len - cut) == HD_FEED_MORE,
			      "case %d cut %zu: '%.*s'", _i, cut, (int)out.len,
			      out.data);
		ck_assert_int_eq(memcmp(out.data, "HTTP/1.1 200", 12), 0);
	}
}
END_TEST

/* Requests that are fine and the one answer each gets, fed whole and
 * split in two at every byte. */
static const struct {
	const char *name;
	const char *request;
	enum hd_resp_kind kind;
	enum hd_conn_mode mode;
	bool continue_100; /* "100 Continue" comes first */
} answered[] = {
	{"empty line before the request",
	 "\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", HD_RESP_MAIN, HD_MODE_KEEP,
	 false},
	{"absolute form", "GET http://h/ HTTP/1.1\r\nHost: h\r\n\r\n",
	 HD_RESP_MAIN, HD_MODE_KEEP, false},
	{"absolute form, scheme in capitals",
	 "GET HTTPS://h:8080/ HTTP/1.1\r\nHost: other\r\n\r\n", HD_RESP_MAIN,
	 HD_MODE_KEEP, false},
	{"absolute form, empty path",
	 "GET http://h:8080 HTTP/1.1\r\nHost: h\r\n\r\n", HD_RESP_MAIN,
	 HD_MODE_KEEP, false},
	{"absolute form, empty path and a query",
	 "GET http://h?x=/health HTTP/1.1\r\nHost: h\r\n\r\n", HD_RESP_MAIN,
	 HD_MODE_KEEP, false},
	{"absolute form routes by path",
	 "GET http://h/health?x HTTP/1.1\r\nHost: h\r\n\r\n", HD_RESP_HEALTH_OK,
	 HD_MODE_KEEP, false},
	{"absolute form, unknown path",
	 "GET http://h/nope HTTP/1.1\r\nHost: h\r\n\r\n", HD_RESP_NOT_FOUND,
	 HD_MODE_KEEP, false},
	{"absolute form, host is not a path",
	 "GET http://health/ HTTP/1.1\r\nHost: h\r\n\r\n", HD_RESP_MAIN,
	 HD_MODE_KEEP, false},
	{"absolute form, IP-literal",
	 "GET http://[::1]:80/ HTTP/1.1\r\nHost: [::1]:80\r\n\r\n",
	 HD_RESP_MAIN, HD_MODE_KEEP, false},
	{"absolute form in HTTP/1.0", "GET http://h/ HTTP/1.0\r\n\r\n",
	 HD_RESP_MAIN, HD_MODE_CLOSE, false},
	{"asterisk form", "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
	 HD_RESP_OPTIONS, HD_MODE_KEEP, false},
	{"CONNECT", "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n",
	 HD_RESP_NOT_IMPLEMENTED, HD_MODE_CLOSE, false},
	{"empty Host", "GET / HTTP/1.1\r\nHost:\r\n\r\n", HD_RESP_MAIN,
	 HD_MODE_KEEP, false},
	{"Host IPv4 and port", "GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n",
	 HD_RESP_MAIN, HD_MODE_KEEP, false},
	{"Host IPv6", "GET / HTTP/1.1\r\nHost: [fe80::1]\r\n\r\n", HD_RESP_MAIN,
	 HD_MODE_KEEP, false},
	{"Host IPvFuture", "GET / HTTP/1.1\r\nHost: [v1.x:y]:1\r\n\r\n",
	 HD_RESP_MAIN, HD_MODE_KEEP, false},
	{"Host with sub-delims and percent",
	 "GET / HTTP/1.1\r\nHost: a-b_c~d!$&'()*+,;=%41\r\n\r\n", HD_RESP_MAIN,
	 HD_MODE_KEEP, false},
	{"Host with empty port", "GET / HTTP/1.1\r\nHost: h:\r\n\r\n",
	 HD_RESP_MAIN, HD_MODE_KEEP, false},
	{"Host with trailing blanks",
	 "GET / HTTP/1.1\r\nHost: h:80 \t \r\n\r\n", HD_RESP_MAIN, HD_MODE_KEEP,
	 false},
	{"Expect 100-continue in HTTP/1.0 is ignored",
	 "POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: "
	 "2\r\n\r\nab",
	 HD_RESP_MAIN, HD_MODE_CLOSE, false},
	{"unknown expectation in HTTP/1.0 is ignored",
	 "GET / HTTP/1.0\r\nExpect: tea\r\n\r\n", HD_RESP_MAIN, HD_MODE_CLOSE,
	 false},
	{"Expect in capitals",
	 "POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-CONTINUE\r\n"
	 "Content-Length: 1\r\n\r\nx",
	 HD_RESP_MAIN, HD_MODE_KEEP, true},
	{"Expect as a list with empty members",
	 "POST / HTTP/1.1\r\nHost: h\r\nExpect: , 100-continue ,\r\n"
	 "Content-Length: 1\r\n\r\nx",
	 HD_RESP_MAIN, HD_MODE_KEEP, true},
	{"empty Expect", "GET / HTTP/1.1\r\nHost: h\r\nExpect:\r\n\r\n",
	 HD_RESP_MAIN, HD_MODE_KEEP, false},
	{"Expect 100-continue without a body",
	 "GET / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n",
	 HD_RESP_MAIN, HD_MODE_KEEP, false},
};

START_TEST(answered_whole_and_split_anywhere)
{
	const char *req = answered[_i].request;
	size_t len = strlen(req);
	const struct hd_response *r =
		resp(answered[_i].kind, answered[_i].mode);
	const char *cont = answered[_i].continue_100 ? HD_CONTINUE_100 : "";
	size_t clen = strlen(cont);
	for (size_t cut = 0; cut <= len; cut++) {
		hd_http_init(&http);
		out.len = 0;
		enum hd_feed_status st = feed(req, cut);
		if (st != HD_FEED_CLOSE)
			st = feed(req + cut, len - cut);
		ck_assert_int_eq(st, answered[_i].mode == HD_MODE_CLOSE
					     ? HD_FEED_CLOSE
					     : HD_FEED_MORE);
		ck_assert_msg(out.len == clen + r->total_len &&
				      !memcmp(out.data, cont, clen) &&
				      !memcmp(out.data + clen, r->bytes,
					      r->total_len),
			      "%s, cut %zu: got '%.*s'", answered[_i].name, cut,
			      (int)out.len, out.data);
	}
}
END_TEST

/* 65,535 fields are allowed when max_headers says so; the next is 431,
 * not a counter that wraps to 0. */
START_TEST(header_count_does_not_wrap)
{
	ctx.max_header_count = 65535;
	ctx.max_header_bytes = 1u << 20;
	feed_str("GET / HTTP/1.1\r\nHost: a\r\n");
	char fields[4 * 1024 + 1] = "";
	for (int i = 0; i < 1024; i++)
		strcat(fields, "a:\r\n");
	enum hd_feed_status st = HD_FEED_MORE;
	for (int i = 0; i < 64 && st == HD_FEED_MORE; i++)
		st = feed_str(fields);
	ck_assert_int_eq(st, HD_FEED_CLOSE); /* 1 + 65,536 fields */
	const struct hd_response *r =
		resp(HD_RESP_HEADERS_TOO_LARGE, HD_MODE_CLOSE);
	expect_out(&r, 1, NULL);
}
END_TEST

/* With the access log on, a long target still gets 414 past max_uri and
 * an answer below it: the log's copy of the target is what is cut. */
START_TEST(logged_long_target_is_414_not_413)
{
	ctx.log_requests = true;
	ctx.max_url = 100 * 1000;
	ctx.max_header_bytes = 1u << 20;
	size_t n = 70 * 1000;
	char *req = malloc(n + 64);
	memcpy(req, "GET /", 5);
	memset(req + 5, 'a', n);
	strcpy(req + 5 + n, " HTTP/1.1\r\nHost: a\r\n\r\n");
	ck_assert_int_eq(feed_str(req), HD_FEED_MORE);
	const struct hd_response *nf = resp(HD_RESP_NOT_FOUND, HD_MODE_KEEP);
	expect_out(&nf, 1, NULL);
	out.len = 0;
	ctx.max_url = 50 * 1000;
	ck_assert_int_eq(feed_str(req), HD_FEED_CLOSE);
	const struct hd_response *r = resp(HD_RESP_URI_TOO_LONG, HD_MODE_CLOSE);
	expect_out(&r, 1, NULL);
	/* Refused by the on_url span callback: hellod's hook reports it as
	 * llhttp's own wrapper would. */
	ck_assert_int_eq(llhttp_get_errno(&http.parser), HPE_USER);
	ck_assert_str_eq(llhttp_get_error_reason(&http.parser),
			 "Span callback error in on_url");
	free(req);
}
END_TEST

static struct {
	int calls, status;
	char method[16], target[64];
} logged;

static void record_log(void *arg, const struct hd_http_request *req, int status,
		       size_t body_bytes)
{
	(void)arg, (void)body_bytes;
	logged.calls++;
	logged.status = status;
	snprintf(logged.method, sizeof(logged.method), "%s",
		 req->method ? req->method : "(none)");
	snprintf(logged.target, sizeof(logged.target), "%.*s",
		 (int)req->target_len, req->target ? req->target : "");
}

/* A 408 is logged like any other answer; what of the request line had
 * not arrived is logged as missing, not made up. */
START_TEST(timeout_is_logged)
{
	ctx.log = record_log;
	ctx.log_requests = true;
	memset(&logged, 0, sizeof(logged));
	feed_str("GET /slow HTTP/1.1\r\nHo");
	hd_http_answer_timeout(&ctx, &http, &out);
	ck_assert_int_eq(logged.calls, 1);
	ck_assert_int_eq(logged.status, 408);
	ck_assert_str_eq(logged.method, "GET");
	ck_assert_str_eq(logged.target, "/slow");
	const struct hd_response *r = resp(HD_RESP_TIMEOUT, HD_MODE_CLOSE);
	expect_out(&r, 1, NULL);
	ck_assert_uint_eq(ctx.parse_errors, 0);

	hd_http_release(&http);
	hd_http_init(&http);
	out.len = 0;
	feed_str("GET /sl");
	hd_http_answer_timeout(&ctx, &http, &out);
	ck_assert_int_eq(logged.calls, 2);
	ck_assert_str_eq(logged.method, "(none)");
	ck_assert_str_eq(logged.target, "");
	hd_http_release(&http);
}
END_TEST

/* Routes from `route` lines: exact beats prefix, the longest prefix
 * wins, a prefix route of "/" catches what nothing else does; each
 * answer is the route's precomputed one, whole or split anywhere, for
 * GET and HEAD and the absolute form alike. */
static const struct {
	const char *target;
	int route; /* index of the route line, or -1 for the main answer */
} routed[] = {
	{"/robots.txt", 0},
	{"/robots.txt?x", 0},
	{"/static/a/b", 1},
	{"/static/", 1},
	{"/static/deep/x", 2},
	{"/static/deep", 1},
	{"/static", 3},
	{"/nope", 3},
	{"/", -1},
	{"http://h/static/deep/", 2},
};

static void setup_routes(void)
{
	const char *text = "route /robots.txt 200 text/plain no robots\n"
			   "route /static/* 200 text/html static\n"
			   "route /static/deep/* 204\n"
			   "route /* 410 text/plain gone\n";
	char err[HD_ERRLEN];
	hd_responses_free(&rs);
	ck_assert_msg(hd_config_parse_text(&cfg, "t", text, err, sizeof(err)) ==
			      0,
		      "%s", err);
	ck_assert_int_eq(hd_responses_init(&rs, &cfg, date), 0);
	hd_http_ctx_init(&ctx, &cfg, &rs);
}

START_TEST(routes_answer_their_paths)
{
	setup_routes();
	uint64_t answers = 0;
	for (int head = 0; head < 2; head++) {
		char req[256];
		snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: h\r\n\r\n",
			 head ? "HEAD" : "GET", routed[_i].target);
		size_t len = strlen(req);
		const struct hd_response *r =
			routed[_i].route < 0
				? resp(HD_RESP_MAIN, HD_MODE_KEEP)
				: hd_responses_route(&rs, routed[_i].route,
						     HD_MODE_KEEP);
		for (size_t cut = 0; cut <= len; cut++) {
			hd_http_init(&http);
			out.len = 0;
			feed(req, cut);
			feed(req + cut, len - cut);
			bool only_head = head;
			expect_out(&r, 1, &only_head);
			answers++;
		}
	}
	if (routed[_i].route >= 0)
		ck_assert_uint_eq(ctx.answered_route[routed[_i].route],
				  answers);
}
END_TEST

/* hd_host_scan is hd_host_step over each byte, only faster: the same
 * state for any bytes (random ones over an alphabet that reaches every
 * state), whole and in pieces. */
START_TEST(host_scan_equals_step)
{
	static const char alphabet[] = "aZ09.-_~!$&'()*+,;=%:[]@/ \tv\x80";
	unsigned seed = 12345;
	for (int round = 0; round < 20000; round++) {
		char value[24];
		size_t len = (seed = seed * 1103515245u + 12345u) >> 16 & 15;
		for (size_t i = 0; i < len; i++)
			value[i] = alphabet
				[((seed = seed * 1103515245u + 12345u) >> 16) %
				 (sizeof(alphabet) - 1)];
		uint8_t stepped = HD_HOST_INIT;
		for (size_t i = 0; i < len; i++)
			stepped =
				hd_host_step(stepped, (unsigned char)value[i]);
		size_t cut = len ? round % (len + 1) : 0;
		uint8_t scanned = hd_host_scan(HD_HOST_INIT, value, cut);
		scanned = hd_host_scan(scanned, value + cut, len - cut);
		ck_assert_msg(stepped == scanned, "'%.*s': %u != %u", (int)len,
			      value, stepped, scanned);
	}
}
END_TEST

static unsigned next_rand(unsigned *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return *seed >> 16;
}

/* hd_host_scan_memo is hd_host_scan: the same state for random values
 * (most of them repeats of a few, so the memo answers often, and others
 * those with one byte changed, so it must see the change), whole and in
 * two pieces, over an alphabet that reaches every state. */
START_TEST(host_memo_equals_scan)
{
	static const char alphabet[] = "aZ09.-_~!$&'()*+,;=%:[]@/ \tv\x80";
	char recent[4][24] = {{0}};
	size_t recent_len[4] = {0};
	struct hd_host_memo memo;
	memset(&memo, 0, sizeof(memo));
	/* A valid value, then the same with any one byte made bad: the memo
	 * must tell them apart at every position of every length. */
	for (size_t len = 1; len <= HD_HOST_MEMO_MAX; len++)
		for (size_t at = 0; at < len; at++) {
			char good[HD_HOST_MEMO_MAX], bad[HD_HOST_MEMO_MAX];
			memset(good, 'a', len);
			memcpy(bad, good, len);
			bad[at] = '@';
			ck_assert_uint_eq(
				hd_host_scan_memo(&memo, HD_HOST_INIT, good,
						  len),
				hd_host_scan(HD_HOST_INIT, good, len));
			ck_assert_uint_eq(hd_host_scan_memo(&memo, HD_HOST_INIT,
							    bad, len),
					  hd_host_scan(HD_HOST_INIT, bad, len));
		}
	unsigned seed = 777;
	for (int round = 0; round < 20000; round++) {
		unsigned pick = next_rand(&seed) % 8;
		char *value = recent[pick % 4];
		size_t *len = &recent_len[pick % 4];
		if (pick >= 6 && *len) { /* one byte of it changed */
			value[next_rand(&seed) % *len] =
				alphabet[next_rand(&seed) %
					 (sizeof(alphabet) - 1)];
		} else if (pick >= 4) { /* a new value in that slot */
			*len = next_rand(&seed) % 24;
			for (size_t i = 0; i < *len; i++)
				value[i] = alphabet[next_rand(&seed) %
						    (sizeof(alphabet) - 1)];
		}
		size_t cut = next_rand(&seed) % 2
				     ? *len
				     : next_rand(&seed) % (*len + 1);
		uint8_t want = hd_host_scan(HD_HOST_INIT, value, cut);
		want = hd_host_scan(want, value + cut, *len - cut);
		uint8_t got =
			hd_host_scan_memo(&memo, HD_HOST_INIT, value, cut);
		got = hd_host_scan_memo(&memo, got, value + cut, *len - cut);
		ck_assert_msg(want == got, "round %d '%.*s' cut %zu: %u != %u",
			      round, (int)*len, value, cut, want, got);
	}
}
END_TEST

/* hd_http_match_first_slash is hd_http_match_byte(..., '/') at a path's
 * start: the same routes left and the same prefix route, for random
 * route tables (prefix routes, duplicates, "/" and the empty path). */
START_TEST(first_slash_equals_byte)
{
	static const char alphabet[] = "/ab";
	static char paths[HD_MAX_ROUTES][8];
	unsigned seed = 4242;
	for (int round = 0; round < 20000; round++) {
		struct hd_http_ctx routes;
		memset(&routes, 0, sizeof(routes));
		int count = 1 + (int)(next_rand(&seed) % 8);
		for (int r = 0; r < count; r++) {
			size_t len = next_rand(&seed) % 4;
			for (size_t i = 0; i < len; i++)
				paths[r][i] = alphabet[next_rand(&seed) % 3];
			paths[r][len] = '\0';
			hd_http_ctx_add_route(&routes, paths[r],
					      HD_ROUTE_STATIC,
					      next_rand(&seed) % 2, 0);
		}
		struct hd_http byte, fast;
		memset(&byte, 0, sizeof(byte));
		byte.route_mask = routes.route_mask_all;
		byte.prefix_route = HD_ROUTE_NONE;
		fast = byte;
		hd_http_match_byte(&byte, &routes, '/');
		hd_http_match_first_slash(&fast, &routes);
		ck_assert_msg(byte.route_mask == fast.route_mask &&
				      byte.prefix_route == fast.prefix_route &&
				      byte.url_len == fast.url_len,
			      "round %d: mask %x/%x prefix %u/%u", round,
			      byte.route_mask, fast.route_mask,
			      byte.prefix_route, fast.prefix_route);
	}
}
END_TEST

START_TEST(long_uri_gets_414)
{
	char *req = malloc(20000);
	strcpy(req, "GET /");
	memset(req + 5, 'a', 9000);
	strcpy(req + 9005, " HTTP/1.1\r\nHost: a\r\n\r\n");
	ck_assert_int_eq(feed_str(req), HD_FEED_CLOSE);
	const struct hd_response *r = resp(HD_RESP_URI_TOO_LONG, HD_MODE_CLOSE);
	expect_out(&r, 1, NULL);
	/* Refused by the on_url span callback: hellod's hook reports it as
	 * llhttp's own wrapper would. */
	ck_assert_int_eq(llhttp_get_errno(&http.parser), HPE_USER);
	ck_assert_str_eq(llhttp_get_error_reason(&http.parser),
			 "Span callback error in on_url");
	free(req);
}
END_TEST

START_TEST(huge_headers_get_431)
{
	char req[4096];
	strcpy(req, "GET / HTTP/1.1\r\nHost: a\r\n");
	feed_str(req);
	enum hd_feed_status st = HD_FEED_MORE;
	for (int i = 0; i < 200 && st == HD_FEED_MORE; i++)
		st = feed_str("X-Filler: "
			      "0123456789012345678901234567890123456789\r\n");
	ck_assert_int_eq(st, HD_FEED_CLOSE);
	const struct hd_response *r =
		resp(HD_RESP_HEADERS_TOO_LARGE, HD_MODE_CLOSE);
	expect_out(&r, 1, NULL);
}
END_TEST

START_TEST(upgrade_is_answered_then_closed)
{
	ck_assert_int_eq(
		feed_str("GET / HTTP/1.1\r\nHost: a\r\n"
			 "Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
			 "\x81\x05hello"),
		HD_FEED_CLOSE);
	const struct hd_response *r = resp(HD_RESP_MAIN, HD_MODE_CLOSE);
	expect_out(&r, 1, NULL);
}
END_TEST

/* The rule behind the split tests above: however a stream of requests
 * is cut (here in three pieces, after a good request, so that the parser
 * runs from one request into the next within one feed), it gets the
 * answers it gets whole, and the parser is idle after a piece exactly
 * when the piece ends where a request does. */
static const char *const pipelined_after_good[] = {
	"GET / HTTP/1.1\r\nHost: x\r\nX: abc\r\n\r\n",
	"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
	"GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n\t b\r\n\r\n",
};

enum {
	MALFORMED_COUNT = sizeof(malformed) / sizeof(malformed[0]),
	FINE_COUNT = sizeof(strict_but_fine) / sizeof(strict_but_fine[0]),
	AFTER_GOOD_COUNT =
		sizeof(pipelined_after_good) / sizeof(pipelined_after_good[0]),
};

static size_t stream_for(int i, char *buf, size_t cap)
{
	const char *second;
	size_t second_len;
	if (i < MALFORMED_COUNT) {
		second = malformed[i].request;
		second_len = malformed_len(i);
	} else if (i < MALFORMED_COUNT + FINE_COUNT) {
		second = strict_but_fine[i - MALFORMED_COUNT];
		second_len = strlen(second);
	} else {
		second = pipelined_after_good[i - MALFORMED_COUNT - FINE_COUNT];
		second_len = strlen(second);
	}
	size_t first_len = strlen(get_root);
	ck_assert_uint_le(first_len + second_len, cap);
	memcpy(buf, get_root, first_len);
	memcpy(buf + first_len, second, second_len);
	return first_len + second_len;
}

/* Feeds one piece; checks idleness against where requests end (ends[k]
 * is true when a request ends after byte k-1). */
static enum hd_feed_status feed_piece(const char *stream, size_t from,
				      size_t to, const bool *ends, size_t cut1,
				      size_t cut2)
{
	enum hd_feed_status st = feed(stream + from, to - from);
	if (st == HD_FEED_MORE)
		ck_assert_msg(hd_http_is_idle(&http) == ends[to],
			      "cuts %zu, %zu: after byte %zu idle is %d", cut1,
			      cut2, to, hd_http_is_idle(&http));
	return st;
}

START_TEST(answers_and_idle_however_a_stream_is_cut)
{
	char stream[512];
	size_t len = stream_for(_i, stream, sizeof(stream));
	/* Where requests end, and the answers, from the stream whole: a
	 * request ends where the answer count grows, fed a byte at a time
	 * (which the byte_at_a_time test holds to the whole answers). */
	bool ends[513] = {true};
	uint64_t answers = ctx.requests;
	for (size_t k = 0; k < len; k++) {
		if (feed(stream + k, 1) == HD_FEED_CLOSE)
			break;
		ends[k + 1] = ctx.requests > answers;
		answers = ctx.requests;
	}
	hd_http_init(&http);
	out.len = 0;
	enum hd_feed_status whole_st = feed(stream, len);
	char *whole = malloc(out.len + 1);
	ck_assert_ptr_nonnull(whole);
	memcpy(whole, out.data, out.len);
	size_t whole_len = out.len;
	for (size_t cut1 = 0; cut1 <= len; cut1++)
		for (size_t cut2 = cut1; cut2 <= len; cut2++) {
			hd_http_init(&http);
			out.len = 0;
			enum hd_feed_status st =
				feed_piece(stream, 0, cut1, ends, cut1, cut2);
			if (st != HD_FEED_CLOSE)
				st = feed_piece(stream, cut1, cut2, ends, cut1,
						cut2);
			if (st != HD_FEED_CLOSE)
				st = feed(stream + cut2, len - cut2);
			ck_assert_msg(
				st == whole_st && out.len == whole_len &&
					!memcmp(out.data, whole, whole_len),
				"case %d, cuts %zu, %zu: '%.*s', whole "
				"'%.*s'",
				_i, cut1, cut2, (int)out.len, out.data,
				(int)whole_len, whole);
		}
	free(whole);
}
END_TEST

/* Another request parser in the same program, with its own settings:
 * http.c takes llhttp's callback calls (llhttp__on_url, ...) for its own
 * parsers, and must hand every other parser's to that parser's settings,
 * as llhttp's api.c would, for the callbacks hellod sets and for those it
 * does not. */
struct seen {
	char spans[160];
	size_t len;
	int begins, completes, resets, url_done, version_done, fields_done;
	int values_done, heads_done, method_done;
};

static struct seen *seen_of(llhttp_t *p)
{
	return p->data;
}

static int note_span(llhttp_t *p, char tag, const char *at, size_t n)
{
	struct seen *s = seen_of(p);
	if (s->len + n + 1 >= sizeof(s->spans))
		return -1;
	s->spans[s->len++] = tag;
	memcpy(s->spans + s->len, at, n);
	s->len += n;
	return 0;
}

static int o_method(llhttp_t *p, const char *at, size_t n)
{
	return note_span(p, 'M', at, n);
}
static int o_url(llhttp_t *p, const char *at, size_t n)
{
	return note_span(p, 'U', at, n);
}
static int o_version(llhttp_t *p, const char *at, size_t n)
{
	return note_span(p, 'V', at, n);
}
static int o_field(llhttp_t *p, const char *at, size_t n)
{
	return note_span(p, 'F', at, n);
}
static int o_value(llhttp_t *p, const char *at, size_t n)
{
	return note_span(p, 'v', at, n);
}
static int o_body(llhttp_t *p, const char *at, size_t n)
{
	return note_span(p, 'B', at, n);
}
static int o_begin(llhttp_t *p)
{
	seen_of(p)->begins++;
	return 0;
}
static int o_method_done(llhttp_t *p)
{
	seen_of(p)->method_done++;
	return 0;
}
static int o_url_done(llhttp_t *p)
{
	seen_of(p)->url_done++;
	return 0;
}
static int o_version_done(llhttp_t *p)
{
	seen_of(p)->version_done++;
	return 0;
}
static int o_field_done(llhttp_t *p)
{
	seen_of(p)->fields_done++;
	return 0;
}
static int o_value_done(llhttp_t *p)
{
	seen_of(p)->values_done++;
	return 0;
}
static int o_heads_done(llhttp_t *p)
{
	seen_of(p)->heads_done++;
	return 0;
}
static int o_complete(llhttp_t *p)
{
	seen_of(p)->completes++;
	return 0;
}
static int o_reset(llhttp_t *p)
{
	seen_of(p)->resets++;
	return 0;
}

static const llhttp_settings_t other_settings = {
	.on_message_begin = o_begin,
	.on_method = o_method,
	.on_method_complete = o_method_done,
	.on_url = o_url,
	.on_url_complete = o_url_done,
	.on_version = o_version,
	.on_version_complete = o_version_done,
	.on_header_field = o_field,
	.on_header_field_complete = o_field_done,
	.on_header_value = o_value,
	.on_header_value_complete = o_value_done,
	.on_headers_complete = o_heads_done,
	.on_body = o_body,
	.on_message_complete = o_complete,
	.on_reset = o_reset,
};

START_TEST(another_parser_gets_its_own_callbacks)
{
	static const char two[] = "POST /a HTTP/1.1\r\nHost: x\r\n"
				  "Content-Length: 2\r\n\r\nhi"
				  "GET /b HTTP/1.0\r\n\r\n";
	struct seen s = {0};
	llhttp_t p;
	llhttp_init(&p, HTTP_REQUEST, &other_settings);
	p.data = &s;
	uint64_t hellod_answers = ctx.requests;
	ck_assert_int_eq(llhttp_execute(&p, two, sizeof(two) - 1), HPE_OK);
	static const char want[] = "MPOSTU/aV1.1FHostvxFContent-Lengthv2Bhi"
				   "MGETU/bV1.0";
	ck_assert_msg(s.len == sizeof(want) - 1 &&
			      !memcmp(s.spans, want, s.len),
		      "spans '%.*s'", (int)s.len, s.spans);
	ck_assert_int_eq(s.begins, 2);
	ck_assert_int_eq(s.method_done, 2);
	ck_assert_int_eq(s.url_done, 2);
	ck_assert_int_eq(s.version_done, 2);
	ck_assert_int_eq(s.fields_done, 2);
	ck_assert_int_eq(s.values_done, 2);
	ck_assert_int_eq(s.heads_done, 2);
	ck_assert_int_eq(s.completes, 2);
	ck_assert_int_ge(s.resets, 1);
	/* None of it reached hellod's callbacks. */
	ck_assert_uint_eq(ctx.requests, hellod_answers);
	/* A span callback's -1 is HPE_USER, as llhttp's own would make it. */
	s.len = sizeof(s.spans) - 4;
	llhttp_init(&p, HTTP_REQUEST, &other_settings);
	p.data = &s;
	ck_assert_int_eq(llhttp_execute(&p, two, sizeof(two) - 1), HPE_USER);
	/* And hellod's own parser still answers beside it. */
	ck_assert_int_eq(feed_str(get_root), HD_FEED_MORE);
	ck_assert_uint_eq(ctx.requests, hellod_answers + 1);
}
END_TEST

Suite *http_suite(void)
{
	Suite *s = suite_create("http");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, answers_a_whole_request);
	tcase_add_test(tc, answers_a_request_split_anywhere);
	tcase_add_test(tc, byte_at_a_time);
	tcase_add_test(tc, pipelined_requests_answered_in_order);
	tcase_add_test(tc, stops_at_out_limit_and_resumes);
	tcase_add_test(tc, idle_exactly_between_requests);
	tcase_add_test(tc, each_request_counts_from_zero);
	tcase_add_test(tc, http10_keep_alive_and_close);
	tcase_add_test(tc, connection_close_closes);
	tcase_add_test(tc, catch_all_answers_every_path);
	tcase_add_test(tc, paths_must_match_exactly);
	tcase_add_loop_test(tc, malformed_gets_error_and_close, 0,
			    sizeof(malformed) / sizeof(malformed[0]));
	tcase_add_loop_test(tc, malformed_split_anywhere, 0,
			    sizeof(malformed) / sizeof(malformed[0]));
	tcase_add_loop_test(tc, strict_but_well_formed_is_answered, 0,
			    sizeof(strict_but_fine) /
				    sizeof(strict_but_fine[0]));
	tcase_add_loop_test(tc, answers_and_idle_however_a_stream_is_cut, 0,
			    MALFORMED_COUNT + FINE_COUNT + AFTER_GOOD_COUNT);
	tcase_add_loop_test(tc, answered_whole_and_split_anywhere, 0,
			    sizeof(answered) / sizeof(answered[0]));
	tcase_add_test(tc, header_count_does_not_wrap);
	tcase_add_test(tc, host_scan_equals_step);
	tcase_add_test(tc, first_slash_equals_byte);
	tcase_add_test(tc, host_memo_equals_scan);
	tcase_add_loop_test(tc, routes_answer_their_paths, 0,
			    sizeof(routed) / sizeof(routed[0]));
	tcase_add_test(tc, logged_long_target_is_414_not_413);
	tcase_add_test(tc, timeout_is_logged);
	tcase_add_test(tc, long_uri_gets_414);
	tcase_add_test(tc, huge_headers_get_431);
	tcase_add_test(tc, upgrade_is_answered_then_closed);
	tcase_add_test(tc, another_parser_gets_its_own_callbacks);
	suite_add_tcase(s, tc);
	return s;
}
