/* response.h — precomputed response bytes.
 *
 * Every response hellod sends on the hot path is built once at start, per
 * worker, for each kind (the configured one, 404, 400, ...) and each
 * connection mode. The Date header sits at a known offset in each, and is
 * patched in place when the worker's date cache ticks, so answering a
 * request is one memcpy of a ready buffer.
 */
#ifndef HELLOD_RESPONSE_H
#define HELLOD_RESPONSE_H

#include <stddef.h>
#include <stdint.h>

#include "hellod/buf.h"
#include "hellod/config.h"
#include "hellod/date_cache.h"

enum hd_resp_kind {
	HD_RESP_MAIN,	   /* the configured status and body */
	HD_RESP_NOT_FOUND, /* 404 */
	HD_RESP_BAD_REQUEST,
	HD_RESP_TIMEOUT,   /* 408 */
	HD_RESP_TOO_LARGE, /* 413 */
	HD_RESP_URI_TOO_LONG,
	HD_RESP_HEADERS_TOO_LARGE, /* 431 */
	HD_RESP_UNAVAILABLE,	   /* 503 */
	HD_RESP_VERSION,	   /* 505 */
	HD_RESP_HEALTH_OK,	   /* 200 on health_path */
	HD_RESP_HEALTH_DRAINING,   /* 503 on health_path while draining */
	HD_RESP_OPTIONS,	   /* 200, no content: "OPTIONS *" */
	HD_RESP_EXPECTATION,	   /* 417: an Expect other than 100-continue */
	HD_RESP_NOT_IMPLEMENTED,   /* 501: CONNECT */
	HD_RESP_KIND_COUNT
};

enum hd_conn_mode {
	HD_MODE_KEEP,	 /* HTTP/1.1 keep-alive: no Connection header */
	HD_MODE_KEEP_10, /* HTTP/1.0 keep-alive: "Connection: keep-alive" */
	HD_MODE_CLOSE,	 /* "Connection: close" */
	HD_MODE_COUNT
};

struct hd_response {
	char *bytes;
	uint32_t head_len;  /* status line and headers, up to the blank line */
	uint32_t total_len; /* head_len + body */
	uint32_t date_off;  /* where the HD_DATE_LEN date bytes start */
};

struct hd_responses {
	struct hd_response table[HD_RESP_KIND_COUNT][HD_MODE_COUNT];
	/* the config's `route` lines, in order */
	struct hd_response routes[HD_MAX_STATIC_ROUTES][HD_MODE_COUNT];
	int route_count;
};

#define HD_CONTINUE_100 "HTTP/1.1 100 Continue\r\n\r\n"

/* What a response says; the builder adds Server, Date, the framing the
 * status allows (hd_status_framing) and the Connection header the mode
 * asks for. */
struct hd_response_spec {
	int status;
	const char *server;
	const char *content_type;  /* NULL: none */
	const char *extra_headers; /* "Name: value\r\n"..., or NULL */
	const char *body;
	size_t body_len;
};

/* Appends one response to out. `date` is HD_DATE_LEN bytes. On success
 * sets *date_off to where the date landed in out and *head_len to the
 * length of status line and headers. Returns 0, or -ENOMEM (out is left
 * as it was). */
int hd_response_build(struct hd_buf *out, const struct hd_response_spec *spec,
		      enum hd_conn_mode mode, const char *date,
		      size_t *date_off, size_t *head_len);

const char *hd_status_reason(int status);

/* How a response of this status is framed (RFC 9110 6.4.1, 8.6, 15.3.6):
 * 1xx and 204 carry neither content nor Content-Length; 304 carries no
 * content, and hellod sends no Content-Length with it (a 304's would have
 * to repeat the 200's length); 205 carries no content and says so with
 * "Content-Length: 0"; every other status carries its body and its
 * length. Content-Type goes only with HD_FRAMING_BODY. */
enum hd_framing {
	HD_FRAMING_BODY,     /* Content-Type, Content-Length: N, N bytes */
	HD_FRAMING_EMPTY,    /* Content-Length: 0, nothing */
	HD_FRAMING_NO_FIELD, /* no framing field, nothing */
};
enum hd_framing hd_status_framing(int status);

/* The status code a kind answers with under cfg. */
int hd_resp_kind_status(const struct hd_config *cfg, enum hd_resp_kind kind);

/* Builds the whole table for cfg. Returns 0, or -ENOMEM. */
int hd_responses_init(struct hd_responses *rs, const struct hd_config *cfg,
		      const char *date);
/* Patches every response's Date header with `date` (HD_DATE_LEN bytes). */
void hd_responses_set_date(struct hd_responses *rs, const char *date);
void hd_responses_free(struct hd_responses *rs);

static inline const struct hd_response *
hd_responses_get(const struct hd_responses *rs, enum hd_resp_kind kind,
		 enum hd_conn_mode mode)
{
	return &rs->table[kind][mode];
}

static inline const struct hd_response *
hd_responses_route(const struct hd_responses *rs, int route,
		   enum hd_conn_mode mode)
{
	return &rs->routes[route][mode];
}

#endif
