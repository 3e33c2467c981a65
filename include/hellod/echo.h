/* echo.h — the echo route: the request as hellod saw it, as text, for
 * debugging what a load balancer forwards. */
#ifndef HELLOD_ECHO_H
#define HELLOD_ECHO_H

#include "hellod/buf.h"
#include "hellod/http.h"

/* Writes request line, client address and port, headers and body into
 * out. Returns 0, or -1 when out of memory. */
int hd_echo_render(const struct hd_http_request *req, struct hd_buf *out);

#endif
