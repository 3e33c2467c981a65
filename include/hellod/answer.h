/* answer.h — choosing and writing the answer to a parsed request: a
 * precomputed response, or a dynamic one (metrics, echo); counting it and
 * handing it to the access log. Used by http.c only. */
#ifndef HELLOD_ANSWER_H
#define HELLOD_ANSWER_H

#include "hellod/http.h"

/* Appends the answer to the complete request http->parser just parsed.
 * Returns 0, or -1 when out of memory. */
int hd_answer_request(struct hd_http_ctx *ctx, struct hd_http *http,
		      enum hd_conn_mode mode, struct hd_buf *out);
/* Appends the error answer (http->error_kind, else 400), closing. */
void hd_answer_error(struct hd_http_ctx *ctx, struct hd_http *http,
		     struct hd_buf *out);

#endif
