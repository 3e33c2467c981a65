/* answer.c — the answer to each request: precomputed bytes for the fixed
 * routes, a rendered body for metrics and echo; counted and logged. */
#include "hellod/answer.h"

#include <string.h>

/* Splits the capture ("target\n" then, for echo, "Name: value\n" lines,
 * "\n" and the body) into req's fields. */
static void describe(const struct hd_http_ctx *ctx, const struct hd_http *http,
		     struct hd_http_request *req)
{
	const llhttp_t *p = &http->parser;
	memset(req, 0, sizeof(*req));
	req->peer = ctx->peer;
	/* A request refused or timed out before its version was read has no
	 * method, target or version to log. */
	if (!hd_http_request_line_done(http))
		return;
	req->method = llhttp_method_name((llhttp_method_t)p->method);
	req->http_major = p->http_major;
	req->http_minor = p->http_minor;
	if (!http->capture)
		return;
	const char *text = http->capture->data + http->capture->off;
	size_t len = hd_chunk_pending(http->capture);
	const char *nl = memchr(text, '\n', len);
	req->target = text;
	req->target_len = nl ? (size_t)(nl - text) : len;
	if (!nl)
		return;
	const char *rest = nl + 1, *end = text + len;
	const char *blank = memmem(nl, (size_t)(end - nl), "\n\n", 2);
	if (!blank)
		return;
	req->headers = rest;
	req->headers_len = (size_t)(blank + 1 - rest);
	req->body = blank + 2;
	req->body_len = (size_t)(end - req->body);
}

static void log_answer(struct hd_http_ctx *ctx, const struct hd_http *http,
		       int status, size_t body_bytes)
{
	struct hd_http_request req;
	if (!ctx->log)
		return;
	describe(ctx, http, &req);
	ctx->log(ctx->log_arg, &req, status, body_bytes);
}

static const char server_error[] = "Internal Server Error\n";

/* Metrics and echo: the body is built now, the head around it. */
static int answer_dynamic(struct hd_http_ctx *ctx, struct hd_http *http,
			  enum hd_route_kind kind, enum hd_conn_mode mode,
			  struct hd_buf *out)
{
	struct hd_http_request req;
	struct hd_buf body = {0};
	const char *content_type = "text/plain";
	describe(ctx, http, &req);
	int rc = ctx->render ? ctx->render(ctx->render_arg, kind, &req, &body,
					   &content_type)
			     : -1;
	struct hd_response_spec spec = {
		.status = rc ? 500 : 200,
		.server = ctx->server_name,
		.content_type = rc ? "text/plain" : content_type,
		.extra_headers = ctx->extra_headers,
		.body = rc ? server_error : body.data,
		.body_len = rc ? sizeof(server_error) - 1 : body.len,
	};
	size_t start = out->len, date_off, head_len;
	int err = hd_response_build(out, &spec, mode, ctx->date, &date_off,
				    &head_len);
	hd_buf_free(&body);
	if (err)
		return -1;
	bool head = http->parser.method == HTTP_HEAD;
	if (head)
		out->len = start + head_len;
	if (rc)
		ctx->dynamic_failed++;
	else
		ctx->dynamic_ok++;
	ctx->requests++;
	log_answer(ctx, http, spec.status, head ? 0 : spec.body_len);
	return 0;
}

static enum hd_resp_kind fixed_kind(const struct hd_http_ctx *ctx,
				    const struct hd_http *http)
{
	/* A static responder is no tunnel (RFC 9110 9.3.6), and "OPTIONS *"
	 * asks about the server, not a route (9.3.7). */
	if (http->target == HD_TARGET_CONNECT)
		return HD_RESP_NOT_IMPLEMENTED;
	if (http->target == HD_TARGET_ASTERISK)
		return HD_RESP_OPTIONS;
	if (http->route == HD_ROUTE_NONE)
		return ctx->catch_all ? HD_RESP_MAIN : HD_RESP_NOT_FOUND;
	if (ctx->routes[http->route].kind == HD_ROUTE_HEALTH)
		return ctx->health_failing ? HD_RESP_HEALTH_DRAINING
					   : HD_RESP_HEALTH_OK;
	return HD_RESP_MAIN;
}

/* "HTTP/1.1 NNN ..." */
static int status_of(const struct hd_response *r)
{
	return (r->bytes[9] - '0') * 100 + (r->bytes[10] - '0') * 10 +
	       (r->bytes[11] - '0');
}

int hd_answer_request(struct hd_http_ctx *ctx, struct hd_http *http,
		      enum hd_conn_mode mode, struct hd_buf *out)
{
	if (http->route != HD_ROUTE_NONE) {
		enum hd_route_kind kind = ctx->routes[http->route].kind;
		if (kind == HD_ROUTE_METRICS || kind == HD_ROUTE_ECHO)
			return answer_dynamic(ctx, http, kind, mode, out);
	}
	/* A `route` line's answer, or a fixed kind's. */
	const struct hd_response *r;
	uint64_t *counter;
	if (http->route != HD_ROUTE_NONE &&
	    ctx->routes[http->route].kind == HD_ROUTE_STATIC) {
		int answer = ctx->routes[http->route].answer;
		r = hd_responses_route(ctx->responses, answer, mode);
		counter = &ctx->answered_route[answer];
	} else {
		enum hd_resp_kind kind = fixed_kind(ctx, http);
		r = hd_responses_get(ctx->responses, kind, mode);
		counter = &ctx->answered[kind];
	}
	bool head = http->parser.method == HTTP_HEAD;
	size_t len = head ? r->head_len : r->total_len;
	/* The precomputed bytes change only between events (the Date), so
	 * the scratch may send them without copying. */
	if (hd_buf_append_stable(out, r->bytes, len))
		return -1;
	(*counter)++;
	ctx->requests++;
	if (ctx->log)
		log_answer(ctx, http, status_of(r),
			   head ? 0 : r->total_len - r->head_len);
	return 0;
}

void hd_answer_error(struct hd_http_ctx *ctx, struct hd_http *http,
		     struct hd_buf *out)
{
	enum hd_resp_kind kind =
		http->error_kind ? http->error_kind : HD_RESP_BAD_REQUEST;
	const struct hd_response *r =
		hd_responses_get(ctx->responses, kind, HD_MODE_CLOSE);
	hd_buf_append(out, r->bytes, r->total_len);
	ctx->answered[kind]++;
	if (ctx->log)
		log_answer(ctx, http, status_of(r), r->total_len - r->head_len);
}
