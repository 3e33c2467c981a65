/* response.c — builds response bytes once and patches their Date. */
#include "hellod/response.h"

#include <errno.h>
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
	case 418: return "I'm a teapot";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
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

/* 1xx, 204 and 304 responses carry no body (RFC 9110, 6.4.1). */
static int status_has_body(int status)
{
	return !(status < 200 || status == 204 || status == 304);
}

int hd_response_build(struct hd_buf *out, int status, enum hd_conn_mode mode,
		      const char *server, const char *content_type,
		      const char *body, size_t body_len, const char *date,
		      size_t *date_off, size_t *head_len)
{
	char head[512];
	if (!status_has_body(status))
		body_len = 0;
	int before_date =
		snprintf(head, sizeof(head),
			 "HTTP/1.1 %d %s\r\nServer: %s\r\nDate: ", status,
			 hd_status_reason(status), server);
	int n = snprintf(head + before_date, sizeof(head) - (size_t)before_date,
			 "%.*s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			 "%s\r\n",
			 HD_DATE_LEN, date, content_type, body_len,
			 mode_header[mode]);
	if (n < 0 || (size_t)(before_date + n) >= sizeof(head))
		return -EINVAL;
	size_t start = out->len;
	if (hd_buf_reserve(out, (size_t)(before_date + n) + body_len))
		return -ENOMEM;
	hd_buf_append(out, head, (size_t)(before_date + n));
	hd_buf_append(out, body, body_len);
	*date_off = start + (size_t)before_date;
	*head_len = (size_t)(before_date + n);
	return 0;
}

static const struct {
	int status;
	const char *body;
} fixed_kinds[HD_RESP_KIND_COUNT] = {
	[HD_RESP_NOT_FOUND] = {404, "Not Found\n"},
	[HD_RESP_BAD_REQUEST] = {400, "Bad Request\n"},
	[HD_RESP_TIMEOUT] = {408, "Request Timeout\n"},
	[HD_RESP_TOO_LARGE] = {413, "Content Too Large\n"},
	[HD_RESP_URI_TOO_LONG] = {414, "URI Too Long\n"},
	[HD_RESP_HEADERS_TOO_LARGE] = {431,
				       "Request Header Fields Too Large\n"},
	[HD_RESP_UNAVAILABLE] = {503, "Service Unavailable\n"},
	[HD_RESP_VERSION] = {505, "HTTP Version Not Supported\n"},
};

static int build_one(struct hd_response *r, const struct hd_config *cfg,
		     enum hd_resp_kind kind, enum hd_conn_mode mode,
		     const char *date)
{
	struct hd_buf buf = {0};
	size_t date_off, head_len;
	int status =
		kind == HD_RESP_MAIN ? cfg->status : fixed_kinds[kind].status;
	const char *body =
		kind == HD_RESP_MAIN ? cfg->body : fixed_kinds[kind].body;
	size_t body_len = kind == HD_RESP_MAIN ? cfg->body_len : strlen(body);
	const char *ctype =
		kind == HD_RESP_MAIN ? cfg->content_type : "text/plain";
	int err = hd_response_build(&buf, status, mode, cfg->server_name, ctype,
				    body, body_len, date, &date_off, &head_len);
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

int hd_responses_init(struct hd_responses *rs, const struct hd_config *cfg,
		      const char *date)
{
	memset(rs, 0, sizeof(*rs));
	for (int kind = 0; kind < HD_RESP_KIND_COUNT; kind++) {
		for (int mode = 0; mode < HD_MODE_COUNT; mode++) {
			int err = build_one(&rs->table[kind][mode], cfg, kind,
					    mode, date);
			if (err) {
				hd_responses_free(rs);
				return err;
			}
		}
	}
	return 0;
}

void hd_responses_set_date(struct hd_responses *rs, const char *date)
{
	for (int kind = 0; kind < HD_RESP_KIND_COUNT; kind++)
		for (int mode = 0; mode < HD_MODE_COUNT; mode++) {
			struct hd_response *r = &rs->table[kind][mode];
			memcpy(r->bytes + r->date_off, date, HD_DATE_LEN);
		}
}

void hd_responses_free(struct hd_responses *rs)
{
	for (int kind = 0; kind < HD_RESP_KIND_COUNT; kind++)
		for (int mode = 0; mode < HD_MODE_COUNT; mode++) {
			free(rs->table[kind][mode].bytes);
			rs->table[kind][mode].bytes = NULL;
		}
}
