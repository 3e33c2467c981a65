/* buf.c — growable byte buffers; see buf.h for the two kinds. */
#include "hellod/buf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static size_t grown_capacity(size_t cap, size_t need)
{
	size_t next = cap ? cap : 256;
	while (next < need)
		next *= 2;
	return next;
}

int hd_buf_reserve(struct hd_buf *buf, size_t extra)
{
	size_t need = buf->len + extra;
	if (need > buf->cap) {
		size_t cap = grown_capacity(buf->cap, need);
		char *data = realloc(buf->data, cap);
		if (!data)
			return -ENOMEM;
		buf->data = data;
		buf->cap = cap;
	}
	/* A write follows: the borrowed bytes must be in data before it. */
	if (buf->lent) {
		memcpy(buf->data, buf->lent, buf->len);
		buf->lent = NULL;
	}
	return 0;
}

int hd_buf_append(struct hd_buf *buf, const void *bytes, size_t n)
{
	if (n == 0)
		return 0; /* bytes may be NULL: memcpy(NULL, ..., 0) is UB */
	int err = hd_buf_reserve(buf, n);
	if (err)
		return err;
	memcpy(buf->data + buf->len, bytes, n);
	buf->len += n;
	return 0;
}

void hd_buf_free(struct hd_buf *buf)
{
	free(buf->data);
	buf->data = NULL;
	buf->lent = NULL;
	buf->len = buf->cap = 0;
}

int hd_chunk_append(struct hd_chunk **chunk, const void *bytes, size_t n)
{
	struct hd_chunk *c = *chunk;
	if (c && c->off > 0 && c->off == c->len)
		c->off = c->len = 0;
	if (!c || c->len + n > c->cap) {
		/* Slide out what was consumed before growing, so a chunk that
		 * is drained and refilled in turn does not creep upwards. */
		if (c && c->off > 0) {
			memmove(c->data, c->data + c->off, c->len - c->off);
			c->len -= c->off;
			c->off = 0;
		}
		size_t have = c ? c->len : 0;
		if (!c || have + n > c->cap) {
			size_t cap = grown_capacity(c ? c->cap : 0, have + n);
			struct hd_chunk *bigger = realloc(c, sizeof(*c) + cap);
			if (!bigger)
				return -ENOMEM;
			if (!c)
				bigger->off = bigger->len = 0;
			bigger->cap = cap;
			c = bigger;
			*chunk = c;
		}
	}
	memcpy(c->data + c->len, bytes, n);
	c->len += n;
	return 0;
}

void hd_chunk_consume(struct hd_chunk **chunk, size_t n)
{
	struct hd_chunk *c = *chunk;
	if (!c)
		return;
	c->off += n;
	if (c->off >= c->len)
		hd_chunk_free(chunk);
}

void hd_chunk_free(struct hd_chunk **chunk)
{
	free(*chunk);
	*chunk = NULL;
}
