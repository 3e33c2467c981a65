/* response.c — builds response bytes once and patches their Date. */
#include "hellod/response.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *hd_status_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 205: return "Reset Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 417: return "Expectation Failed";
	case 418: return "I'm a teapot";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	}
	if (status >= 200 && status < 300)
		return "OK";
	return status < 500 ? "Client Error" : "Server Error";
}

static const char *const mode_header[HD_MODE_COUNT] = {
	[HD_MODE_KEEP] = "",
	[HD_MODE_KEEP_10] = "Connection: keep-alive\r\n",
	[HD_MODE_CLOSE] = "Connection: close\r\n",
};

enum hd_framing hd_status_framing(int status)
{
	if (status < 200 || status == 204 || status == 304)
		return HD_FRAMING_NO_FIELD;
	return status == 205 ? HD_FRAMING_EMPTY : HD_FRAMING_BODY;
}

/* Appends printf-style text to out. Returns 0, or -ENOMEM/-EINVAL. */
static int append_fmt(struct hd_buf *out, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int append_fmt(struct hd_buf *out, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	if (hd_buf_reserve(out, (size_t)n + 1))
		return -ENOMEM;
	va_start(ap, fmt);
	vsnprintf(out->data + out->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	out->len += (size_t)n;
	return 0;
}

int hd_response_build(struct hd_buf *out, const struct hd_response_spec *spec,
		      enum hd_conn_mode mode, const char *date,
		      size_t *date_off, size_t *head_len)
{
	size_t start = out->len;
	enum hd_framing framing = hd_status_framing(spec->status);
	size_t body_len = framing == HD_FRAMING_BODY ? spec->body_len : 0;
	int err = append_fmt(
		out, "HTTP/1.1 %d %s\r\nServer: %s\r\nDate: ", spec->status,
		hd_status_reason(spec->status), spec->server);
	size_t at_date = out->len;
	if (!err)
		err = append_fmt(out, "%.*s\r\n", HD_DATE_LEN, date);
	if (!err && framing == HD_FRAMING_BODY && spec->content_type)
		err = append_fmt(out, "Content-Type: %s\r\n",
				 spec->content_type);
	if (!err && framing != HD_FRAMING_NO_FIELD)
		err = append_fmt(out, "Content-Length: %zu\r\n", body_len);
	if (!err)
		err = append_fmt(out, "%s%s\r\n", mode_header[mode],
				 spec->extra_headers ? spec->extra_headers
						     : "");
	if (!err)
		err = hd_buf_append(out, spec->body, body_len);
	if (err) {
		out->len = start;
		return err;
	}
	*date_off = at_date;
	*head_len = out->len - start - body_len;
	return 0;
}

static const struct {
	int status;
	const char *body;
} fixed_kinds[HD_RESP_KIND_COUNT] = {
	[HD_RESP_MAIN] = {200, ""}, /* from the config; see build_one */
	[HD_RESP_NOT_FOUND] = {404, "Not Found\n"},
	[HD_RESP_BAD_REQUEST] = {400, "Bad Request\n"},
	[HD_RESP_TIMEOUT] = {408, "Request Timeout\n"},
	[HD_RESP_TOO_LARGE] = {413, "Content Too Large\n"},
	[HD_RESP_URI_TOO_LONG] = {414, "URI Too Long\n"},
	[HD_RESP_HEADERS_TOO_LARGE] = {431,
				       "Request Header Fields Too Large\n"},
	[HD_RESP_UNAVAILABLE] = {503, "Service Unavailable\n"},
	[HD_RESP_VERSION] = {505, "HTTP Version Not Supported\n"},
	[HD_RESP_HEALTH_OK] = {200, "OK\n"},
	[HD_RESP_HEALTH_DRAINING] = {503, "Draining\n"},
	[HD_RESP_OPTIONS] = {200, ""},
	[HD_RESP_EXPECTATION] = {417, "Expectation Failed\n"},
	[HD_RESP_NOT_IMPLEMENTED] = {501, "Not Implemented\n"},
};

/* Builds r from spec, in its own buffer. */
static int build_into(struct hd_response *r,
		      const struct hd_response_spec *spec,
		      enum hd_conn_mode mode, const char *date)
{
	struct hd_buf buf = {0};
	size_t date_off, head_len;
	int err =
		hd_response_build(&buf, spec, mode, date, &date_off, &head_len);
	if (err) {
		hd_buf_free(&buf);
		return err;
	}
	r->bytes = buf.data;
	r->head_len = (uint32_t)head_len;
	r->total_len = (uint32_t)buf.len;
	r->date_off = (uint32_t)date_off;
	return 0;
}

static int build_one(struct hd_response *r, const struct hd_config *cfg,
		     enum hd_resp_kind kind, enum hd_conn_mode mode,
		     const char *date)
{
	struct hd_response_spec spec = {
		.status = fixed_kinds[kind].status,
		.server = cfg->server_name,
		.content_type = "text/plain",
		.extra_headers = cfg->extra_headers,
		.body = fixed_kinds[kind].body,
		.body_len = strlen(fixed_kinds[kind].body),
	};
	if (kind == HD_RESP_OPTIONS)
		spec.content_type = NULL; /* there is no content to type */
	if (kind == HD_RESP_MAIN) {
		spec.status = cfg->status;
		spec.content_type = cfg->content_type;
		spec.body = cfg->body;
		spec.body_len = cfg->body_len;
	}
	return build_into(r, &spec, mode, date);
}

static int build_route(struct hd_response *r, const struct hd_config *cfg,
		       const struct hd_route_spec *route,
		       enum hd_conn_mode mode, const char *date)
{
	struct hd_response_spec spec = {
		.status = route->status,
		.server = cfg->server_name,
		.content_type = route->content_type,
		.extra_headers = cfg->extra_headers,
		.body = route->body,
		.body_len = route->body_len,
	};
	return build_into(r, &spec, mode, date);
}

int hd_resp_kind_status(const struct hd_config *cfg, enum hd_resp_kind kind)
{
	return kind == HD_RESP_MAIN ? cfg->status : fixed_kinds[kind].status;
}

int hd_responses_init(struct hd_responses *rs, const struct hd_config *cfg,
		      const char *date)
{
	memset(rs, 0, sizeof(*rs));
	rs->route_count = cfg->route_count;
	for (int mode = 0; mode < HD_MODE_COUNT; mode++) {
		int err = 0;
		for (int kind = 0; kind < HD_RESP_KIND_COUNT && !err; kind++)
			err = build_one(&rs->table[kind][mode], cfg, kind, mode,
					date);
		for (int i = 0; i < rs->route_count && !err; i++)
			err = build_route(&rs->routes[i][mode], cfg,
					  &cfg->routes[i], mode, date);
		if (err) {
			hd_responses_free(rs);
			return err;
		}
	}
	return 0;
}

static void set_date(struct hd_response *r, const char *date)
{
	memcpy(r->bytes + r->date_off, date, HD_DATE_LEN);
}

void hd_responses_set_date(struct hd_responses *rs, const char *date)
{
	for (int mode = 0; mode < HD_MODE_COUNT; mode++) {
		for (int kind = 0; kind < HD_RESP_KIND_COUNT; kind++)
			set_date(&rs->table[kind][mode], date);
		for (int i = 0; i < rs->route_count; i++)
			set_date(&rs->routes[i][mode], date);
	}
}

void hd_responses_free(struct hd_responses *rs)
{
	for (int mode = 0; mode < HD_MODE_COUNT; mode++) {
		for (int kind = 0; kind < HD_RESP_KIND_COUNT; kind++) {
			free(rs->table[kind][mode].bytes);
			rs->table[kind][mode].bytes = NULL;
		}
		for (int i = 0; i < HD_MAX_STATIC_ROUTES; i++) {
			free(rs->routes[i][mode].bytes);
			rs->routes[i][mode].bytes = NULL;
		}
	}
}
