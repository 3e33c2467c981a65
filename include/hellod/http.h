/* http.h — the HTTP/1.1 layer: llhttp glue and the choice of response.
 *
 * It knows nothing of sockets. The connection layer hands it whatever bytes
 * arrived; it parses them with llhttp (strict mode) and appends a response
 * per complete request to an output buffer. Nothing of the input is kept:
 * llhttp is a streaming parser, and the little hellod needs to remember
 * about a request in progress (how much of the path matched a route, which
 * header is being read) lives in struct hd_http, so an idle connection
 * holds no read buffer at all.
 */
#ifndef HELLOD_HTTP_H
#define HELLOD_HTTP_H

#include <llhttp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hellod/buf.h"
#include "hellod/host.h"
#include "hellod/peer.h"
#include "hellod/response.h"

/* "/", health, metrics, echo and the `route` lines: one bit each. */
#define HD_MAX_ROUTES 32
#define HD_ROUTE_NONE 0xff
_Static_assert(HD_MAX_ROUTES >= 4 + HD_MAX_STATIC_ROUTES,
	       "every route needs a bit of the route masks");

/* What a route answers with. */
enum hd_route_kind {
	HD_ROUTE_MAIN,	  /* the configured response */
	HD_ROUTE_HEALTH,  /* 200, or 503 while draining */
	HD_ROUTE_METRICS, /* rendered by ctx->render */
	HD_ROUTE_ECHO,	  /* rendered by ctx->render from the request */
	HD_ROUTE_STATIC,  /* a `route` line's precomputed answer */
};

/* A request as dynamic routes and the access log see it. Only the echo
 * route captures headers and body; the log sees method, target, version. */
struct hd_http_request {
	const char *method; /* NULL: the request line never completed */
	const char *target; /* as sent, query included */
	size_t target_len;
	uint8_t http_major, http_minor;
	const char *headers; /* "Name: value\n" lines (echo only) */
	size_t headers_len;
	const char *body; /* (echo only) */
	size_t body_len;
	const struct hd_peer *peer;
};

/* Builds a dynamic route's body into `body`; sets *content_type. Returns
 * 0, or -1 to answer 500. */
typedef int (*hd_render_fn)(void *arg, enum hd_route_kind kind,
			    const struct hd_http_request *req,
			    struct hd_buf *body, const char **content_type);
/* Called once per answered request when access logging is on. */
typedef void (*hd_log_fn)(void *arg, const struct hd_http_request *req,
			  int status, size_t body_bytes);

struct hd_route {
	const char *path;
	uint16_t path_len;
	uint8_t kind;	/* enum hd_route_kind */
	bool prefix;	/* matches every path that starts with path */
	uint8_t answer; /* HD_ROUTE_STATIC: its index in responses->routes */
};

/* Per-worker HTTP settings and counters, shared by all its connections. */
struct hd_http_ctx {
	const struct hd_responses *responses;
	struct hd_route routes[HD_MAX_ROUTES];
	uint8_t route_count;
	uint32_t route_mask_all;       /* one bit per route */
	uint32_t echo_mask;	       /* the echo route's bit, if any */
	uint32_t slash_mask;	       /* routes whose path begins with '/' */
	uint32_t slash_prefix_mask;    /* prefix routes whose path is "/" */
	struct hd_host_memo host_memo; /* the last Host value checked */
	bool catch_all;		       /* unmatched paths answer like "/" */
	bool force_close;	       /* every response closes (drain) */
	uint32_t max_url;	       /* longer request targets get 414 */
	uint32_t max_header_bytes;     /* larger header sections get 431 */
	uint32_t max_header_count;     /* more fields get 431 */
	uint64_t max_body;	       /* larger bodies get 413 */
	uint32_t max_capture;	       /* echo: request bytes kept, else 413 */
	bool health_failing;	       /* health route answers 503 (drain) */
	bool log_requests;	       /* capture targets for ctx->log */
	const char *date;	       /* the worker's current Date text */
	const char *server_name;
	const char *extra_headers;
	const struct hd_peer *peer; /* the connection being fed */
	hd_render_fn render;
	void *render_arg;
	hd_log_fn log;
	void *log_arg;
	/* counters, plain: only the owning worker writes them */
	uint64_t requests;
	uint64_t parse_errors;
	uint64_t answered[HD_RESP_KIND_COUNT]; /* precomputed ones, by kind */
	uint64_t answered_route[HD_MAX_STATIC_ROUTES]; /* `route` answers */
	uint64_t dynamic_ok;	 /* 200s of dynamic routes */
	uint64_t dynamic_failed; /* 500s of dynamic routes */
};

/* Which form of request target (RFC 9112 3.2) is being read, and where
 * in it the parser is. The path of the origin and absolute forms is
 * matched against the routes; the authority of the absolute form is the
 * request's host. */
enum hd_target_state {
	HD_TARGET_START,     /* nothing of the target yet */
	HD_TARGET_SCHEME,    /* absolute form: "http" or "https" */
	HD_TARGET_SLASHES,   /* absolute form: the "//" after "scheme:" */
	HD_TARGET_AUTHORITY, /* absolute form: host [ ":" port ] */
	HD_TARGET_PATH,	     /* the path, matched against the routes */
	HD_TARGET_QUERY,     /* "?" or "#" and what follows: not matched */
	HD_TARGET_ASTERISK,  /* "*", the asterisk form: OPTIONS only */
	HD_TARGET_CONNECT,   /* a CONNECT request's (authority form) */
};

/* Per-connection parser state. */
struct hd_http {
	llhttp_t parser;
	/* The seven fields from url_len to target are reset for every
	 * request (start_next_request); side by side, so the compiler
	 * merges the stores. */
	uint32_t url_len;      /* bytes of the path seen (query excluded) */
	uint32_t header_bytes; /* bytes of this request's header section */
	uint16_t header_count; /* never above max_header_count (<= 65535) */
	uint8_t host_count;
	uint8_t route;	       /* matched route, or HD_ROUTE_NONE */
	uint8_t prefix_route;  /* longest prefix route matched, or NONE */
	uint8_t target;	       /* enum hd_target_state */
	uint32_t route_mask;   /* routes whose path still matches */
	uint8_t name_len;      /* bytes of the current header name seen */
	uint8_t name_mask;     /* which watched header names still match */
	uint8_t value_len;     /* bytes of a watched header value seen */
	uint8_t value_state;   /* Expect: where in a list member */
	uint8_t host_state;    /* hd_host_step state of Host or authority */
	uint8_t scheme_len;    /* bytes of the scheme matched */
	uint8_t flags;	       /* HD_HTTP_F_* */
	uint8_t error_kind;    /* enum hd_resp_kind to answer an error with */
	uint8_t last_nonblank; /* last non-blank byte of earlier feeds */
	bool answered;	       /* at least one request was answered */
	uint64_t body_bytes;
	struct hd_chunk *capture; /* request text for echo and the log */
};

enum hd_feed_status {
	HD_FEED_MORE,  /* all input consumed; waiting for more */
	HD_FEED_FULL,  /* stopped because output reached out_limit */
	HD_FEED_CLOSE, /* a response ended the connection; flush, then close */
};

/* Sets up ctx for cfg; responses must outlive ctx. */
void hd_http_ctx_init(struct hd_http_ctx *ctx, const struct hd_config *cfg,
		      const struct hd_responses *responses);
/* Adds a route answering path exactly (or, with prefix, every path that
 * starts with it); answer is a static route's index in the responses.
 * Returns the route's index, or -1 when the table is full. */
int hd_http_ctx_add_route(struct hd_http_ctx *ctx, const char *path,
			  enum hd_route_kind kind, bool prefix, int answer);

void hd_http_init(struct hd_http *http);
/* Frees what a connection's parser may hold (a partial capture). */
void hd_http_release(struct hd_http *http);

/* Parses up to len bytes, appending one response per complete request to
 * out. Stops early, returning HD_FEED_FULL, once out->len reaches out_limit
 * at a request boundary; the caller feeds the rest (from *consumed) later.
 * After HD_FEED_CLOSE the rest of the input is to be discarded. */
enum hd_feed_status hd_http_feed(struct hd_http *http, struct hd_http_ctx *ctx,
				 const char *data, size_t len,
				 struct hd_buf *out, size_t out_limit,
				 size_t *consumed);

/* True when the connection is between requests (nothing half-parsed), so
 * closing it loses nothing (idle timeout, drain). */
bool hd_http_is_idle(const struct hd_http *http);
/* True once a request on this connection has been answered. */
bool hd_http_has_answered(const struct hd_http *http);
/* Appends the 408 response (with Connection: close) for the request
 * under way on http that took too long; counts and logs it. */
void hd_http_answer_timeout(struct hd_http_ctx *ctx, struct hd_http *http,
			    struct hd_buf *out);

/* Route matching, public for tests/test_http.c: narrows the routes whose
 * path still matches the path so far (http->route_mask, and the longest
 * prefix route matched, http->prefix_route) by byte c of the path.
 * hd_http_match_first_slash is hd_http_match_byte(http, ctx, '/') for a
 * path's first byte (route_mask still ctx->route_mask_all), from masks
 * hd_http_ctx_add_route keeps. */
void hd_http_match_byte(struct hd_http *http, const struct hd_http_ctx *ctx,
			char c);
void hd_http_match_first_slash(struct hd_http *http,
			       const struct hd_http_ctx *ctx);

/* True once the request under way has a complete request line. */
bool hd_http_request_line_done(const struct hd_http *http);
/* True while a request's body is being read (its headers are done). */
bool hd_http_in_body(const struct hd_http *http);

#endif
