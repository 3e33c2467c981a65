/* access_log.c — common log format or JSON lines, buffered per worker. */
#include "hellod/access_log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define FLUSH_AT (64 * 1024)

int hd_access_log_open(const char *path)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

void hd_access_log_init(struct hd_access_log *log, int fd,
			enum hd_log_format format)
{
	memset(log, 0, sizeof(*log));
	log->fd = fd;
	log->format = format;
	log->stamp_second = -1;
}

static void refresh_stamp(struct hd_access_log *log, time_t now)
{
	struct tm tm;
	if (now == log->stamp_second)
		return;
	log->stamp_second = now;
	gmtime_r(&now, &tm);
	strftime(log->stamp, sizeof(log->stamp),
		 log->format == HD_LOG_JSON ? "%Y-%m-%dT%H:%M:%SZ"
					    : "%d/%b/%Y:%H:%M:%S +0000",
		 &tm);
}

/* Escapes what could break a line or a JSON string: quotes, backslashes
 * and bytes outside printable ASCII become \xHH (\u00HH in JSON). */
static void append_escaped(struct hd_buf *buf, const char *s, size_t len,
			   bool json)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[8];
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
			hd_buf_append(buf, &s[i], 1);
			continue;
		}
		int n = json ? snprintf(esc, sizeof(esc), "\\u%04x", c)
			     : snprintf(esc, sizeof(esc), "\\x%02x", c);
		hd_buf_append(buf, esc, (size_t)n);
	}
}

static void append_str(struct hd_buf *buf, const char *s)
{
	hd_buf_append(buf, s, strlen(s));
}

void hd_access_log_record(struct hd_access_log *log,
			  const struct hd_http_request *req, int status,
			  size_t body_bytes, time_t now)
{
	char addr[HD_PEER_TEXT], tail[128];
	bool json = log->format == HD_LOG_JSON;
	if (log->fd < 0)
		return;
	refresh_stamp(log, now);
	hd_peer_format_addr(req->peer, addr, sizeof(addr));
	const char *target = req->target ? req->target : "-";
	size_t target_len = req->target ? req->target_len : 1;
	/* No method: the request line never completed (a 400 or 408). */
	const char *method = req->method ? req->method : "-";
	char protocol[16] = "-";
	if (req->method)
		snprintf(protocol, sizeof(protocol), "HTTP/%u.%u",
			 req->http_major, req->http_minor);
	if (json) {
		snprintf(tail, sizeof(tail), "{\"time\":\"%s\",\"client\":\"",
			 log->stamp);
		append_str(&log->buf, tail);
		append_str(&log->buf, addr);
		append_str(&log->buf, "\",\"method\":\"");
		append_str(&log->buf, method);
		append_str(&log->buf, "\",\"target\":\"");
		append_escaped(&log->buf, target, target_len, true);
		snprintf(tail, sizeof(tail),
			 "\",\"protocol\":\"%s\",\"status\":%d,"
			 "\"bytes\":%zu}\n",
			 protocol, status, body_bytes);
	} else if (!req->method) {
		append_str(&log->buf, addr);
		snprintf(tail, sizeof(tail), " - - [%s] \"-\" %d %zu\n",
			 log->stamp, status, body_bytes);
	} else {
		append_str(&log->buf, addr);
		snprintf(tail, sizeof(tail), " - - [%s] \"%s ", log->stamp,
			 method);
		append_str(&log->buf, tail);
		append_escaped(&log->buf, target, target_len, false);
		snprintf(tail, sizeof(tail), " %s\" %d %zu\n", protocol, status,
			 body_bytes);
	}
	append_str(&log->buf, tail);
	if (log->buf.len >= FLUSH_AT)
		hd_access_log_flush(log);
}

void hd_access_log_flush(struct hd_access_log *log)
{
	size_t off = 0;
	while (log->fd >= 0 && off < log->buf.len) {
		ssize_t n =
			write(log->fd, log->buf.data + off, log->buf.len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* A full disk must not stop the server: drop the
			 * lines and count it. */
			log->write_errors++;
			break;
		}
		off += (size_t)n;
	}
	log->buf.len = 0;
}

void hd_access_log_free(struct hd_access_log *log)
{
	hd_access_log_flush(log);
	hd_buf_free(&log->buf);
}
