/* buf.h — growable byte buffers.
 *
 * Two kinds live here. hd_buf is a {data, len, cap} triple used for the
 * per-worker scratch output and in tests; a lendable one (the scratch)
 * may borrow its first bytes instead of copying them (see below).
 * hd_chunk is a single heap block (header + bytes) that a connection
 * holds only while it has output the kernel did not take or input it
 * could not parse yet; an idle connection holds none, so it costs one
 * NULL pointer per direction.
 */
#ifndef HELLOD_BUF_H
#define HELLOD_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

/* The len bytes are at `lent` when it is set (borrowed, data holds none
 * of them), else at data: read them through hd_buf_bytes. Every write
 * goes through hd_buf_reserve, which copies borrowed bytes in first, so
 * a writer never sees the difference. */
struct hd_buf {
	char *data;
	size_t len;
	size_t cap;
	const char *lent;
	/* Only a buffer that is emptied (hd_buf_clear) before what it
	 * borrowed can change may borrow: the loop's scratch, which lives
	 * for one event, while responses change only between events. */
	bool lendable;
};

/* Makes room for at least `extra` more bytes (copying borrowed bytes in).
 * Returns 0, or -ENOMEM (buffer unchanged). */
int hd_buf_reserve(struct hd_buf *buf, size_t extra);
/* Appends bytes. Returns 0, or -ENOMEM (buffer unchanged). */
int hd_buf_append(struct hd_buf *buf, const void *bytes, size_t n);
void hd_buf_free(struct hd_buf *buf);

static inline const char *hd_buf_bytes(const struct hd_buf *buf)
{
	return buf->lent ? buf->lent : buf->data;
}

/* Empties the buffer, ending any borrow. */
static inline void hd_buf_clear(struct hd_buf *buf)
{
	buf->len = 0;
	buf->lent = NULL;
}

/* Appends bytes that stay unchanged until the buffer is next emptied. An
 * empty lendable buffer borrows them (a keep-alive answer is sent
 * straight from the precomputed response, not copied first); otherwise
 * they are copied, without a call when there is room. */
static inline int hd_buf_append_stable(struct hd_buf *buf, const char *bytes,
				       size_t n)
{
	if (!buf->len) {
		if (!buf->lendable || !n)
			return hd_buf_append(buf, bytes, n);
		buf->lent = bytes;
		buf->len = n;
		return 0;
	}
	/* len > 0 and nothing borrowed: data holds bytes, so is not NULL. */
	if (!buf->lent && buf->cap - buf->len >= n) {
		memcpy(buf->data + buf->len, bytes, n);
		buf->len += n;
		return 0;
	}
	return hd_buf_append(buf, bytes, n);
}

struct hd_chunk {
	size_t off; /* first byte not yet consumed */
	size_t len; /* bytes stored, consumed ones included */
	size_t cap;
	char data[];
};

/* Appends to *chunk, allocating or growing it. Returns 0, or -ENOMEM. */
int hd_chunk_append(struct hd_chunk **chunk, const void *bytes, size_t n);
/* Marks n bytes consumed; frees the chunk (sets NULL) when all are. */
void hd_chunk_consume(struct hd_chunk **chunk, size_t n);
static inline size_t hd_chunk_pending(const struct hd_chunk *chunk)
{
	return chunk ? chunk->len - chunk->off : 0;
}
void hd_chunk_free(struct hd_chunk **chunk);

#endif
