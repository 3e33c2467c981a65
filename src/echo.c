/* echo.c — renders a captured request as plain text. The capture is
 * bounded by max_capture in the HTTP layer, so this output is too. */
#include "hellod/echo.h"

#include <stdio.h>

int hd_echo_render(const struct hd_http_request *req, struct hd_buf *out)
{
	char addr[HD_PEER_TEXT], line[256];
	hd_peer_format_addr(req->peer, addr, sizeof(addr));
	int n = snprintf(line, sizeof(line), "%s ", req->method);
	if (hd_buf_append(out, line, (size_t)n) ||
	    hd_buf_append(out, req->target, req->target_len))
		return -1;
	n = snprintf(line, sizeof(line),
		     " HTTP/%u.%u\nclient: %s\nclient_port: %u\n\n",
		     req->http_major, req->http_minor, addr,
		     req->peer ? req->peer->port : 0);
	if (hd_buf_append(out, line, (size_t)n) ||
	    hd_buf_append(out, req->headers, req->headers_len))
		return -1;
	n = snprintf(line, sizeof(line), "\nbody: %zu bytes\n", req->body_len);
	if (hd_buf_append(out, line, (size_t)n) ||
	    hd_buf_append(out, req->body, req->body_len))
		return -1;
	return 0;
}
