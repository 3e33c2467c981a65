/* buf.h — growable byte buffers.
 *
 * Two kinds live here. hd_buf is a plain {data, len, cap} triple used for
 * the per-worker scratch output and in tests. hd_chunk is a single heap
 * block (header + bytes) that a connection holds only while it has output
 * the kernel did not take or input it could not parse yet; an idle
 * connection holds none, so it costs one NULL pointer per direction.
 */
#ifndef HELLOD_BUF_H
#define HELLOD_BUF_H

#include <stddef.h>

struct hd_buf {
	char *data;
	size_t len;
	size_t cap;
};

/* Makes room for at least `extra` more bytes. Returns 0, or -ENOMEM. */
int hd_buf_reserve(struct hd_buf *buf, size_t extra);
/* Appends bytes. Returns 0, or -ENOMEM (buffer unchanged). */
int hd_buf_append(struct hd_buf *buf, const void *bytes, size_t n);
void hd_buf_free(struct hd_buf *buf);

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
