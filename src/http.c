/* http.c — llhttp callbacks, hellod's own strictness checks, and the
 * choice of a precomputed response for each request.
 *
 * Pipelining: on_message_complete appends the response and lets llhttp
 * go straight on to the next request, in the same llhttp_execute call.
 * It returns HPE_PAUSED only when the feed must stop there: the response
 * closes the connection, or the output reached its limit (backpressure).
 * The feed loop then resumes past the pause point or stops. Pausing after
 * every request cost a pause, resume and re-execute per pipelined
 * request (about 150 instructions, callgrind).
 */
#include "hellod/http.h"

#include "hellod/answer.h"
#include "hellod/host.h"

#include <assert.h>
#include <string.h>

enum {
	HD_HTTP_F_AT_END = 1 << 0,	 /* paused at a request's end (idle) */
	HD_HTTP_F_LINE_DONE = 1 << 1,	 /* its request line is complete */
	HD_HTTP_F_VALUE_OK = 1 << 2,	 /* watched value matches so far */
	HD_HTTP_F_EXPECT_100 = 1 << 3,	 /* this request has Expect: 100-... */
	HD_HTTP_F_CLOSE = 1 << 4,	 /* the last response closes */
	HD_HTTP_F_IN_BODY = 1 << 5,	 /* headers done, reading the body */
	HD_HTTP_F_EXPECT_OTHER = 1 << 6, /* an expectation hellod can't meet */
	HD_HTTP_F_ECHO = 1 << 7,	 /* the route chosen is echo */
};

/* Header names hellod has to look at; the rest llhttp handles. */
enum {
	NAME_HOST = 1 << 0,
	NAME_EXPECT = 1 << 1,
	NAME_TE = 1 << 2,
	NAME_ALL = 7,
	NAME_COUNT = 3
};
static const char *const watched_names[NAME_COUNT] = {"host", "expect",
						      "transfer-encoding"};
static const uint8_t watched_len[NAME_COUNT] = {4, 6, 17};
/* OR-ed into a name's bytes before they are compared with the watched
 * name: 0x20 where the watched byte is a letter (so 'H' and 'h' both
 * become 'h', and no other byte can), 0 at "transfer-encoding"'s '-',
 * which only '-' matches. Exactly lower(c) == want, without a test and
 * a branch per byte. */
static const char watched_fold[NAME_COUNT][17] = {
	"\x20\x20\x20\x20",
	"\x20\x20\x20\x20\x20\x20",
	"\x20\x20\x20\x20\x20\x20\x20\x20\0\x20\x20\x20\x20\x20\x20\x20\x20",
};
/* The values hellod compares, case-insensitively, for the names that
 * have one: the only expectation hellod knows is 100-continue (RFC 9110
 * 10.1.1); the only Transfer-Encoding it accepts is chunked, alone (RFC
 * 9112 6.1: an unknown coding could frame the body differently from what
 * a proxy in front assumed). Host has a grammar instead (host.c). */
static const char expect_100[] = "100-continue";
static const char chunked[] = "chunked";

/* What a feed call lends to the callbacks through parser->data. */
struct feed_run {
	struct hd_http_ctx *ctx;
	struct hd_buf *out;
	size_t out_limit;  /* pause once out->len reaches it */
	const char *chunk; /* the input of this feed call */
};

static struct hd_http *http_of(llhttp_t *parser)
{
	/* parser is the first member of struct hd_http */
	return (struct hd_http *)parser;
}

static struct feed_run *run_of(llhttp_t *parser)
{
	return parser->data;
}

static int reject(struct hd_http *http, enum hd_resp_kind kind)
{
	http->error_kind = (uint8_t)kind;
	return -1;
}

static char lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
}

/* ---- capture: the request text echo and the access log need ---- */

/* Set once the route is chosen (on_url_complete); the header and body
 * callbacks test it several times a request. */
static bool is_echo(const struct hd_http *http)
{
	return http->flags & HD_HTTP_F_ECHO;
}

/* hd_chunk_free, without a call to free(NULL) for the requests (most)
 * that captured nothing. */
static void drop_capture(struct hd_http *http)
{
	if (http->capture)
		hd_chunk_free(&http->capture);
}

/* Keeps request bytes while the echo route still matches, or always when
 * access logging is on. Bounded by max_capture: beyond it echo answers
 * 413, while the log keeps the first max_capture bytes of a target (its
 * length is max_uri's to limit, with 414). */
static int capture(struct hd_http *http, const struct hd_http_ctx *ctx,
		   const char *at, size_t len)
{
	if (hd_chunk_pending(http->capture) + len > ctx->max_capture)
		return reject(http, HD_RESP_TOO_LARGE);
	return hd_chunk_append(&http->capture, at, len) ? -1 : 0;
}

static int capture_for_log(struct hd_http *http, const struct hd_http_ctx *ctx,
			   const char *at, size_t len)
{
	size_t kept = hd_chunk_pending(http->capture);
	size_t room = kept < ctx->max_capture ? ctx->max_capture - kept : 0;
	return capture(http, ctx, at, len < room ? len : room);
}

static int capture_if_echo(struct hd_http *http, llhttp_t *parser,
			   const char *at, size_t len)
{
	return is_echo(http) ? capture(http, run_of(parser)->ctx, at, len) : 0;
}

/* ---- callbacks ---- */

/* The per-request state, made ready for the next request once one is
 * answered (and by hd_http_init): there is no on_message_begin, whose
 * call cost more than these stores (callgrind). The route mask is set by
 * the target's first span (on_url), which needs the context. */
static void start_next_request(struct hd_http *http)
{
	http->url_len = 0;
	http->header_bytes = 0;
	http->header_count = 0;
	http->host_count = 0;
	http->route = HD_ROUTE_NONE;
	http->prefix_route = HD_ROUTE_NONE;
	http->target = HD_TARGET_START;
	http->body_bytes = 0;
}

/* Narrows the set of routes whose path matches the path so far by one
 * byte: the path may arrive in pieces, so the match is kept per byte.
 * Only routes still in the mask are looked at, so once every route has
 * missed a byte costs a test of the mask. A prefix route whose whole
 * path has matched is remembered; later ones are longer. */
void hd_http_match_byte(struct hd_http *http, const struct hd_http_ctx *ctx,
			char c)
{
	for (uint32_t m = http->route_mask; m; m &= m - 1) {
		unsigned r = (unsigned)__builtin_ctz(m);
		const struct hd_route *route = &ctx->routes[r];
		if (http->url_len >= route->path_len ||
		    route->path[http->url_len] != c)
			http->route_mask &= ~(1u << r);
		else if (route->prefix && http->url_len + 1u == route->path_len)
			http->prefix_route = (uint8_t)r;
	}
	http->url_len++;
}

/* Every origin-form path begins with '/', which every route's path does
 * too, so the byte-wise loop would spend a pass over the routes to drop
 * none: the masks say at once what it would leave (tests/test_http.c
 * compares the two). */
void hd_http_match_first_slash(struct hd_http *http,
			       const struct hd_http_ctx *ctx)
{
	http->route_mask &= ctx->slash_mask;
	if (ctx->slash_prefix_mask)
		http->prefix_route =
			(uint8_t)(31 - __builtin_clz(ctx->slash_prefix_mask));
	http->url_len++;
}

/* The end of an absolute form's authority: it must name a host, and an
 * empty path is "/" (RFC 9110 4.2.3). */
static int end_authority(struct hd_http *http, const struct hd_http_ctx *ctx,
			 enum hd_target_state next)
{
	if (!hd_host_is_valid(http->host_state, true))
		return reject(http, HD_RESP_BAD_REQUEST);
	hd_http_match_byte(http, ctx, '/');
	http->target = (uint8_t)next;
	return 0;
}

/* One byte of a target that is not (yet) in its path or query: the
 * start, which decides the form, and the absolute form's scheme and
 * authority. hellod serves http and https URIs only; llhttp has already
 * refused bytes no target may hold. */
static int target_prefix_byte(struct hd_http *http, llhttp_t *parser, char c)
{
	static const char https[] = "https";
	const struct hd_http_ctx *ctx = run_of(parser)->ctx;
	switch (http->target) {
	case HD_TARGET_START:
		if (parser->method == HTTP_CONNECT) {
			http->target = HD_TARGET_CONNECT;
		} else if (c == '/') {
			http->target = HD_TARGET_PATH;
			hd_http_match_first_slash(http, ctx);
		} else if (c == '*') {
			http->target = HD_TARGET_ASTERISK;
		} else {
			http->target = HD_TARGET_SCHEME;
			http->scheme_len = 0;
			return target_prefix_byte(http, parser, c);
		}
		return 0;
	case HD_TARGET_SCHEME:
		if (c == ':' && http->scheme_len >= 4) {
			http->target = HD_TARGET_SLASHES;
			http->scheme_len = 0;
			return 0;
		}
		if (http->scheme_len >= 5 ||
		    lower(c) != https[http->scheme_len])
			return reject(http, HD_RESP_BAD_REQUEST);
		http->scheme_len++;
		return 0;
	case HD_TARGET_SLASHES:
		if (c != '/')
			return reject(http, HD_RESP_BAD_REQUEST);
		if (++http->scheme_len == 2) {
			http->target = HD_TARGET_AUTHORITY;
			http->host_state = HD_HOST_INIT;
		}
		return 0;
	case HD_TARGET_AUTHORITY:
		if (c == '/') {
			if (!hd_host_is_valid(http->host_state, true))
				return reject(http, HD_RESP_BAD_REQUEST);
			http->target = HD_TARGET_PATH;
			hd_http_match_byte(http, ctx, c);
			return 0;
		}
		if (c == '?' || c == '#')
			return end_authority(http, ctx, HD_TARGET_QUERY);
		http->host_state =
			hd_host_step(http->host_state, (unsigned char)c);
		return 0;
	case HD_TARGET_ASTERISK: return reject(http, HD_RESP_BAD_REQUEST);
	default: return 0; /* CONNECT: answered 501 whatever it names */
	}
}

static int on_url(llhttp_t *parser, const char *at, size_t len)
{
	struct hd_http *http = http_of(parser);
	struct hd_http_ctx *ctx = run_of(parser)->ctx;
	if (http->target == HD_TARGET_START)
		http->route_mask = ctx->route_mask_all;
	http->header_bytes += (uint32_t)len;
	if (http->header_bytes > ctx->max_url)
		return reject(http, HD_RESP_URI_TOO_LONG);
	/* Decided before this span narrows the routes: if echo matches in
	 * the end, every span of its target was kept. */
	if ((http->route_mask & ctx->echo_mask) && capture(http, ctx, at, len))
		return -1;
	if (!(http->route_mask & ctx->echo_mask) && ctx->log_requests &&
	    capture_for_log(http, ctx, at, len))
		return -1;
	size_t i = 0;
	/* The origin form's '/', as target_prefix_byte would take it, without
	 * its call and switch: nearly every request begins so. */
	if (http->target == HD_TARGET_START && len && at[0] == '/' &&
	    parser->method != HTTP_CONNECT) {
		http->target = HD_TARGET_PATH;
		hd_http_match_first_slash(http, ctx);
		i = 1;
	}
	for (; i < len && http->target != HD_TARGET_QUERY; i++) {
		char c = at[i];
		if (http->target != HD_TARGET_PATH) {
			if (target_prefix_byte(http, parser, c))
				return -1;
		} else if (c == '?' || c == '#') {
			http->target = HD_TARGET_QUERY;
		} else {
			hd_http_match_byte(http, ctx, c);
		}
	}
	return 0;
}

/* Ends the target: a form left unfinished is refused, the asterisk form
 * is for OPTIONS only (RFC 9112 3.2.4), and the route is chosen. */
static int on_url_complete(llhttp_t *parser)
{
	struct hd_http *http = http_of(parser);
	struct hd_http_ctx *ctx = run_of(parser)->ctx;
	switch (http->target) {
	case HD_TARGET_START:
	case HD_TARGET_SCHEME:
	case HD_TARGET_SLASHES: return reject(http, HD_RESP_BAD_REQUEST);
	case HD_TARGET_AUTHORITY:
		if (end_authority(http, ctx, HD_TARGET_PATH))
			return -1;
		break;
	case HD_TARGET_ASTERISK:
		if (parser->method != HTTP_OPTIONS)
			return reject(http, HD_RESP_BAD_REQUEST);
		break;
	}
	for (uint32_t m = http->route_mask; m; m &= m - 1) {
		unsigned r = (unsigned)__builtin_ctz(m);
		if (!ctx->routes[r].prefix &&
		    ctx->routes[r].path_len == http->url_len) {
			http->route = (uint8_t)r;
			break;
		}
	}
	if (http->route == HD_ROUTE_NONE)
		http->route = http->prefix_route;
	if (http->route != HD_ROUTE_NONE &&
	    ctx->routes[http->route].kind == HD_ROUTE_ECHO)
		http->flags |= HD_HTTP_F_ECHO;
	/* The target ends with a line feed; echo appends headers after. */
	if (is_echo(http))
		return capture(http, ctx, "\n", 1);
	if (ctx->log_requests)
		return capture_for_log(http, ctx, "\n", 1);
	drop_capture(http);
	return 0;
}

/* Strict llhttp 8.1 still takes "HTTP/2.0" or "HTTP/0.9" here: both
 * name a major version hellod does not speak (RFC 9110 15.6.6). */
static int on_version_complete(llhttp_t *parser)
{
	struct hd_http *http = http_of(parser);
	if (parser->http_major != 1)
		return reject(http, HD_RESP_VERSION);
	http->flags |= HD_HTTP_F_LINE_DONE;
	return 0;
}

static int count_header_bytes(struct hd_http *http, struct hd_http_ctx *ctx,
			      size_t len)
{
	http->header_bytes += (uint32_t)len;
	if (http->header_bytes > ctx->max_header_bytes)
		return reject(http, HD_RESP_HEADERS_TOO_LARGE);
	return 0;
}

/* Which watched name a header name beginning with c can be: c | 0x20
 * is 'h' only for 'h' and 'H' (and so on). */
static uint8_t first_letter_mask(char c)
{
	switch (c | 0x20) {
	case 'h': return NAME_HOST;
	case 'e': return NAME_EXPECT;
	case 't': return NAME_TE;
	default: return 0;
	}
}

/* The n (at most 8) bytes at `at`, folded, equal want's. */
static bool same_folded_word(const char *want, const char *fold, const char *at,
			     size_t n)
{
	uint64_t a = 0, f = 0, w = 0;
	memcpy(&a, at, n);
	memcpy(&f, fold, n);
	memcpy(&w, want, n);
	return (a | f) == w;
}

/* at[0, len) lowered equals want's first len bytes, where want is
 * lower-case letters and '-' and fold is its watched_fold: eight bytes
 * at a time, then four ("Host" is one step), then one at a time. */
static bool same_lowered(const char *want, const char *fold, const char *at,
			 size_t len)
{
	size_t i = 0;
	for (; i + 8 <= len; i += 8)
		if (!same_folded_word(want + i, fold + i, at + i, 8))
			return false;
	if (i + 4 <= len) {
		if (!same_folded_word(want + i, fold + i, at + i, 4))
			return false;
		i += 4;
	}
	for (; i < len; i++)
		if ((at[i] | fold[i]) != want[i])
			return false;
	return true;
}

static int on_header_field(llhttp_t *parser, const char *at, size_t len)
{
	struct hd_http *http = http_of(parser);
	if (count_header_bytes(http, run_of(parser)->ctx, len) ||
	    capture_if_echo(http, parser, at, len))
		return -1;
	/* The watched names begin with different letters, so the first
	 * byte leaves at most one; that one is compared span by span. Most
	 * names are dropped on their first byte. */
	if (http->name_len == 0 && len)
		http->name_mask = first_letter_mask(at[0]);
	if (http->name_mask) {
		unsigned n = (unsigned)__builtin_ctz(http->name_mask);
		if (http->name_len + len > watched_len[n] ||
		    !same_lowered(watched_names[n] + http->name_len,
				  watched_fold[n] + http->name_len, at, len))
			http->name_mask = 0;
	}
	size_t name_len = http->name_len + len;
	http->name_len = (uint8_t)(name_len < UINT8_MAX ? name_len : UINT8_MAX);
	return 0;
}

static int on_header_field_complete(llhttp_t *parser)
{
	struct hd_http *http = http_of(parser);
	struct hd_http_ctx *ctx = run_of(parser)->ctx;
	/* Strict llhttp 8.1 lets ": value" (an empty name) through. */
	if (http->name_len == 0)
		return reject(http, HD_RESP_BAD_REQUEST);
	/* Compared before the count grows, so it never wraps. */
	if (http->header_count >= ctx->max_header_count)
		return reject(http, HD_RESP_HEADERS_TOO_LARGE);
	http->header_count++;
	if (http->name_mask &&
	    http->name_len != watched_len[__builtin_ctz(http->name_mask)])
		http->name_mask = 0;
	if ((http->name_mask & NAME_HOST) && ++http->host_count > 1)
		return reject(http, HD_RESP_BAD_REQUEST);
	if (http->name_mask & NAME_TE)
		http->flags |= HD_HTTP_F_VALUE_OK;
	http->value_len = 0;
	http->value_state = 0;
	http->host_state = HD_HOST_INIT;
	return capture_if_echo(http, parser, ": ", 2);
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* The last non-blank byte before `at`, looking back into the previous
 * feed when the blanks reach the start of this one. */
static char byte_before_blanks(const struct feed_run *run,
			       const struct hd_http *http, const char *at)
{
	/* The usual ": " before a value answers at once. */
	if (at - run->chunk >= 2 && at[-1] == ' ' && at[-2] == ':')
		return ':';
	while (at > run->chunk && is_blank(at[-1]))
		at--;
	return at > run->chunk ? at[-1] : (char)http->last_nonblank;
}

/* Expect is a list (RFC 9110 5.6.1): members separated by commas, each
 * with optional blanks around it; empty members are ignored. value_state
 * says where in a member the value is; value_len counts the member's
 * bytes, and VALUE_OK says they still spell 100-continue. */
enum { MEMBER_NONE, MEMBER_TOKEN, MEMBER_AFTER };

static void end_expect_member(struct hd_http *http)
{
	if (http->value_state != MEMBER_NONE) {
		bool is_100 = (http->flags & HD_HTTP_F_VALUE_OK) &&
			      http->value_len == sizeof(expect_100) - 1;
		http->flags |=
			is_100 ? HD_HTTP_F_EXPECT_100 : HD_HTTP_F_EXPECT_OTHER;
	}
	http->value_state = MEMBER_NONE;
	http->value_len = 0;
}

static void expect_byte(struct hd_http *http, char c)
{
	if (c == ',') {
		end_expect_member(http);
	} else if (is_blank(c)) {
		if (http->value_state == MEMBER_TOKEN)
			http->value_state = MEMBER_AFTER;
	} else if (http->value_state == MEMBER_AFTER) {
		http->flags &= (uint8_t)~HD_HTTP_F_VALUE_OK; /* "a b" */
	} else {
		if (http->value_state == MEMBER_NONE) {
			http->value_state = MEMBER_TOKEN;
			http->flags |= HD_HTTP_F_VALUE_OK;
		}
		if (http->value_len >= sizeof(expect_100) - 1 ||
		    lower(c) != expect_100[http->value_len])
			http->flags &= (uint8_t)~HD_HTTP_F_VALUE_OK;
		if (http->value_len < UINT8_MAX)
			http->value_len++;
	}
}

/* Transfer-Encoding must be exactly "chunked" (trailing blanks aside). */
static void te_byte(struct hd_http *http, char c)
{
	size_t want_len = sizeof(chunked) - 1;
	/* Trailing blanks are optional whitespace, not value. */
	if (http->value_len == want_len && is_blank(c))
		return;
	if (http->value_len >= want_len || lower(c) != chunked[http->value_len])
		http->flags &= (uint8_t)~HD_HTTP_F_VALUE_OK;
	if (http->value_len < UINT8_MAX)
		http->value_len++;
}

static int on_header_value(llhttp_t *parser, const char *at, size_t len)
{
	struct hd_http *http = http_of(parser);
	if (count_header_bytes(http, run_of(parser)->ctx, len))
		return -1;
	/* llhttp 8.1 passes an obs-fold continuation line ("\r\n b") on as
	 * more value. A value span normally follows ':' (and blanks); one
	 * that follows a line feed (and blanks) is a fold, which RFC 9112
	 * 5.2 lets a server reject. */
	if (len > 0 && byte_before_blanks(run_of(parser), http, at) == '\n')
		return reject(http, HD_RESP_BAD_REQUEST);
	if (capture_if_echo(http, parser, at, len))
		return -1;
	/* After the name, at most one watched bit is left: the names
	 * differ in length. */
	if (http->name_mask & NAME_HOST)
		http->host_state =
			hd_host_scan_memo(&run_of(parser)->ctx->host_memo,
					  http->host_state, at, len);
	else if (http->name_mask & NAME_EXPECT)
		for (size_t i = 0; i < len; i++)
			expect_byte(http, at[i]);
	else if (http->name_mask & NAME_TE)
		for (size_t i = 0; i < len; i++)
			te_byte(http, at[i]);
	return 0;
}

static int on_header_value_complete(llhttp_t *parser)
{
	struct hd_http *http = http_of(parser);
	/* RFC 9112 3.2: a Host that is not uri-host [ ":" port ] is 400. */
	if ((http->name_mask & NAME_HOST) &&
	    !hd_host_is_valid(http->host_state, false))
		return reject(http, HD_RESP_BAD_REQUEST);
	if (http->name_mask & NAME_EXPECT)
		end_expect_member(http);
	bool chunked_only = (http->flags & HD_HTTP_F_VALUE_OK) &&
			    http->value_len == sizeof(chunked) - 1;
	http->flags &= (uint8_t)~HD_HTTP_F_VALUE_OK;
	/* Any coding but a lone chunked is 400, where RFC 9112 6.1 would
	 * have 501 for a known last chunked after an unknown coding: one
	 * answer for every framing hellod will not parse (see
	 * docs/http-strictness.md). */
	if ((http->name_mask & NAME_TE) && !chunked_only)
		return reject(http, HD_RESP_BAD_REQUEST);
	http->name_len = 0;
	http->name_mask = NAME_ALL;
	return capture_if_echo(http, parser, "\n", 1);
}

static bool expects_body(const llhttp_t *parser)
{
	return (parser->flags & F_CHUNKED) ||
	       ((parser->flags & F_CONTENT_LENGTH) && parser->content_length);
}

static int on_headers_complete(llhttp_t *parser)
{
	struct hd_http *http = http_of(parser);
	struct feed_run *run = run_of(parser);
	/* An HTTP/0.9-style line ("GET /") skips on_version_complete. */
	if (parser->http_major != 1)
		return reject(http, HD_RESP_BAD_REQUEST);
	if (parser->http_minor == 1 && http->host_count == 0)
		return reject(http, HD_RESP_BAD_REQUEST);
	/* RFC 9110 10.1.1: an HTTP/1.0 request's expectations are ignored
	 * (1.0 has none, and must never get a 1xx); in 1.1 one hellod cannot
	 * meet is answered 417, and the connection closes, as the body the
	 * client may send anyway is not a request. */
	if (parser->http_minor == 0)
		http->flags &= (uint8_t) ~(HD_HTTP_F_EXPECT_100 |
					   HD_HTTP_F_EXPECT_OTHER);
	if (http->flags & HD_HTTP_F_EXPECT_OTHER)
		return reject(http, HD_RESP_EXPECTATION);
	/* HTTP/1.0 has no chunked coding: RFC 9112 6.1 says to treat such
	 * framing as faulty. */
	if (parser->http_minor == 0 && (parser->flags & F_TRANSFER_ENCODING))
		return reject(http, HD_RESP_BAD_REQUEST);
	if ((parser->flags & F_CONTENT_LENGTH) &&
	    parser->content_length > run->ctx->max_body)
		return reject(http, HD_RESP_TOO_LARGE);
	if (capture_if_echo(http, parser, "\n", 1))
		return -1;
	/* The client waits for "100 Continue" before it sends the body; the
	 * final response follows once the body is read. */
	if (expects_body(parser))
		http->flags |= HD_HTTP_F_IN_BODY;
	if ((http->flags & HD_HTTP_F_EXPECT_100) && expects_body(parser) &&
	    hd_buf_append(run->out, HD_CONTINUE_100,
			  sizeof(HD_CONTINUE_100) - 1))
		return -1;
	return 0;
}

/* Bodies are read and thrown away; only their size is checked. */
static int on_body(llhttp_t *parser, const char *at, size_t len)
{
	struct hd_http *http = http_of(parser);
	http->body_bytes += len;
	if (http->body_bytes > run_of(parser)->ctx->max_body)
		return reject(http, HD_RESP_TOO_LARGE);
	return capture_if_echo(http, parser, at, len);
}

/* llhttp_should_keep_alive for a request, without its two calls (about
 * 45 instructions a request, callgrind): a request never needs the EOF
 * to end (llhttp_message_needs_eof), and on_headers_complete refused
 * every major version but 1. */
static bool keeps_alive(const llhttp_t *parser)
{
	if (parser->http_minor > 0)
		return !(parser->flags & F_CONNECTION_CLOSE);
	return parser->flags & F_CONNECTION_KEEP_ALIVE;
}

static enum hd_conn_mode response_mode(llhttp_t *parser,
				       const struct hd_http_ctx *ctx)
{
	/* An Upgrade or CONNECT request hands the connection to another
	 * protocol after the message; hellod speaks none, so it closes. */
	if (ctx->force_close || parser->upgrade || !keeps_alive(parser))
		return HD_MODE_CLOSE;
	return parser->http_minor == 0 ? HD_MODE_KEEP_10 : HD_MODE_KEEP;
}

static int on_message_complete(llhttp_t *parser)
{
	struct hd_http *http = http_of(parser);
	struct feed_run *run = run_of(parser);
	enum hd_conn_mode mode = response_mode(parser, run->ctx);
	int err = hd_answer_request(run->ctx, http, mode, run->out);
	drop_capture(http);
	if (err)
		return -1;
	http->answered = true;
	start_next_request(http);
	if (mode == HD_MODE_CLOSE || run->out->len >= run->out_limit) {
		/* Paused here, llhttp has not yet cleared its mark of a
		 * message under way: AT_END says the message is over. Not
		 * when it runs on: by the next byte the mark is clear, and
		 * the flag would call the next request idle. */
		http->flags = (uint8_t)(HD_HTTP_F_AT_END |
					(mode == HD_MODE_CLOSE ? HD_HTTP_F_CLOSE
							       : 0));
		return HPE_PAUSED;
	}
	http->flags = 0;
	return 0;
}

/* clang-format off */
#define HD_LLHTTP_HOOKS(X)                                                    \
	X(on_url, span)                                                       \
	X(on_header_field, span)                                              \
	X(on_header_value, span)                                              \
	X(on_body, span)                                                      \
	X(on_url_complete, plain)                                             \
	X(on_version_complete, plain)                                         \
	X(on_header_field_complete, plain)                                    \
	X(on_header_value_complete, plain)                                    \
	X(on_headers_complete, plain)                                         \
	X(on_message_complete, plain)                                         \
	X(on_message_begin, none)                                             \
	X(on_method, none)                                                    \
	X(on_method_complete, none)                                           \
	X(on_version, none)                                                   \
	X(on_reset, none)
/* clang-format on */

/* The callbacks hellod sets: the span and plain ones of HD_LLHTTP_HOOKS
 * (above), so the list that says which llhttp calls go straight to them
 * is the one that sets them. */
#define SETTING_span(name)  .name = name,
#define SETTING_plain(name) .name = name,
#define SETTING_none(name)
#define SETTING(name, kind) SETTING_##kind(name)
static const llhttp_settings_t settings = {HD_LLHTTP_HOOKS(SETTING)};

/* ---- the parser's calls ----
 *
 * llhttp's generated parser calls a function for each callback
 * (llhttp__on_url, ...), which api.c defines as a load of the parser's
 * settings, two tests and an indirect call, even for the callbacks
 * hellod does not set. The Makefile renames api.c's own (llhttp_api__*,
 * LLHTTP_HOOKS: HD_LLHTTP_HOOKS above) and these take their place: a parser
 * with hellod's settings calls hellod's callback directly, or returns 0
 * at once for one it does not set (`none`), and LTO inlines most of them
 * into the parser; any other parser (the tests' response parser) goes on
 * through api.c's. Each returns what api.c's would: a span callback's -1
 * becomes HPE_USER. A name in one list and not the other fails the link
 * (undefined, or defined twice). */

static int span_result(llhttp_t *parser, int err, const char *name)
{
	if (err != -1)
		return err;
	llhttp_set_error_reason(parser, name);
	return HPE_USER;
}

#define CALL_span(name, s, p, endp)                                            \
	span_result(s, name(s, p, (size_t)(endp - p)),                         \
		    "Span callback error in " #name)
#define CALL_plain(name, s, p, endp) name(s)
#define CALL_none(name, s, p, endp)  0

#define DEFINE_HOOK(name, kind)                                                \
	int llhttp_api__##name(llhttp_t *s, const char *p, const char *endp);  \
	int llhttp__##name(llhttp_t *s, const char *p, const char *endp);      \
	int llhttp__##name(llhttp_t *s, const char *p, const char *endp)       \
	{                                                                      \
		if (s->settings != &settings)                                  \
			return llhttp_api__##name(s, p, endp);                 \
		(void)p;                                                       \
		(void)endp;                                                    \
		return CALL_##kind(name, s, p, endp);                          \
	}
HD_LLHTTP_HOOKS(DEFINE_HOOK)

/* ---- public ---- */

void hd_http_ctx_init(struct hd_http_ctx *ctx, const struct hd_config *cfg,
		      const struct hd_responses *responses)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->responses = responses;
	ctx->catch_all = cfg->catch_all;
	ctx->max_url = (uint32_t)cfg->max_uri;
	ctx->max_header_bytes = (uint32_t)cfg->max_header_size;
	ctx->max_header_count = cfg->max_headers;
	ctx->max_body = cfg->max_body;
	ctx->max_capture = 64 * 1024;
	ctx->server_name = cfg->server_name;
	ctx->extra_headers = cfg->extra_headers;
	hd_http_ctx_add_route(ctx, "/", HD_ROUTE_MAIN, false, 0);
	if (cfg->health_path[0])
		hd_http_ctx_add_route(ctx, cfg->health_path, HD_ROUTE_HEALTH,
				      false, 0);
	if (cfg->metrics_path[0])
		hd_http_ctx_add_route(ctx, cfg->metrics_path, HD_ROUTE_METRICS,
				      false, 0);
	if (cfg->echo_path[0])
		hd_http_ctx_add_route(ctx, cfg->echo_path, HD_ROUTE_ECHO, false,
				      0);
	for (int i = 0; i < cfg->route_count; i++)
		hd_http_ctx_add_route(ctx, cfg->routes[i].path, HD_ROUTE_STATIC,
				      cfg->routes[i].prefix, i);
}

int hd_http_ctx_add_route(struct hd_http_ctx *ctx, const char *path,
			  enum hd_route_kind kind, bool prefix, int answer)
{
	if (ctx->route_count >= HD_MAX_ROUTES)
		return -1;
	int index = ctx->route_count++;
	ctx->routes[index] =
		(struct hd_route){.path = path,
				  .path_len = (uint16_t)strlen(path),
				  .kind = (uint8_t)kind,
				  .prefix = prefix,
				  .answer = (uint8_t)answer};
	ctx->route_mask_all |= 1u << index;
	if (path[0] == '/')
		ctx->slash_mask |= 1u << index;
	if (prefix && strcmp(path, "/") == 0)
		ctx->slash_prefix_mask |= 1u << index;
	if (kind == HD_ROUTE_ECHO)
		ctx->echo_mask |= 1u << index;
	return index;
}

void hd_http_init(struct hd_http *http)
{
	memset(http, 0, sizeof(*http));
	llhttp_init(&http->parser, HTTP_REQUEST, &settings);
	http->name_mask = NAME_ALL;
	start_next_request(http);
}

void hd_http_release(struct hd_http *http)
{
	hd_chunk_free(&http->capture);
}

bool hd_http_has_answered(const struct hd_http *http)
{
	return http->answered;
}

/* llhttp marks a message's first byte (finish UNSAFE) and clears the
 * mark after its end; paused at the end, it has not cleared it yet, and
 * AT_END says so until the next execute. */
bool hd_http_is_idle(const struct hd_http *http)
{
	return http->parser.finish != HTTP_FINISH_UNSAFE ||
	       (http->flags & HD_HTTP_F_AT_END);
}

bool hd_http_request_line_done(const struct hd_http *http)
{
	return http->flags & HD_HTTP_F_LINE_DONE;
}

bool hd_http_in_body(const struct hd_http *http)
{
	return http->flags & HD_HTTP_F_IN_BODY;
}

void hd_http_answer_timeout(struct hd_http_ctx *ctx, struct hd_http *http,
			    struct hd_buf *out)
{
	http->error_kind = HD_RESP_TIMEOUT;
	hd_answer_error(ctx, http, out);
	hd_chunk_free(&http->capture);
}
static void remember_last_nonblank(struct hd_http *http, const char *data,
				   const char *end)
{
	for (const char *p = end; p > data; p--)
		if (!is_blank(p[-1])) {
			http->last_nonblank = (uint8_t)p[-1];
			return;
		}
}

/* Inlined into the loop's feed_http (conn.c) by LTO: as a call, its seven
 * arguments and six saved registers cost about 23 instructions a
 * keep-alive request (callgrind, docs/performance.md). GCC at -Og will
 * not inline across files and fails the link instead; the Makefile
 * defines HD_NO_CROSS_FILE_INLINE there. */
#ifdef HD_NO_CROSS_FILE_INLINE
#define FEED_INLINE
#else
#define FEED_INLINE __attribute__((always_inline)) inline
#endif
FEED_INLINE enum hd_feed_status
hd_http_feed(struct hd_http *http, struct hd_http_ctx *ctx, const char *data,
	     size_t len, struct hd_buf *out, size_t out_limit, size_t *consumed)
{
	struct feed_run run = {.ctx = ctx, .out = out, .out_limit = out_limit};
	const char *pos = data, *end = data + len;
	enum hd_feed_status status = HD_FEED_MORE;
	http->parser.data = &run;
	run.chunk = data;
	while (pos < end) {
		http->flags &= (uint8_t)~HD_HTTP_F_AT_END;
		llhttp_errno_t err =
			llhttp_execute(&http->parser, pos, (size_t)(end - pos));
		if (err == HPE_OK) {
			pos = end;
			break;
		}
		if (err != HPE_PAUSED) {
			/* llhttp refuses "HTTP/3.0" itself: still 505. */
			if (err == HPE_INVALID_VERSION &&
			    http->parser.http_major != 1 && !http->error_kind)
				http->error_kind = HD_RESP_VERSION;
			hd_answer_error(ctx, http, out);
			hd_chunk_free(&http->capture);
			ctx->parse_errors++;
			status = HD_FEED_CLOSE;
			break;
		}
		pos = llhttp_get_error_pos(&http->parser);
		llhttp_resume(&http->parser);
		if (http->flags & HD_HTTP_F_CLOSE) {
			status = HD_FEED_CLOSE;
			break;
		}
		if (out->len >= out_limit) {
			status = HD_FEED_FULL;
			break;
		}
	}
	http->parser.data = NULL;
	/* Kept for a value that begins in the next feed; between requests
	 * the next feed begins a request line, which needs none. */
	if (!hd_http_is_idle(http))
		remember_last_nonblank(http, data, pos);
	*consumed = (size_t)(pos - data);
	return status;
}
