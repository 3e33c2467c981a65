/* access_log.h — one line per request, buffered per worker.
 *
 * Each worker appends lines to its own buffer and writes it with one
 * write() when it passes 64 KiB, once a second, and at exit: never a
 * write per request. All workers share one O_APPEND descriptor, so each
 * write lands whole at the end of the file. On SIGUSR1 the main thread
 * opens the file anew and dup2()s it over that descriptor: the workers
 * carry on writing, now to the new file (logrotate's "create" mode).
 */
#ifndef HELLOD_ACCESS_LOG_H
#define HELLOD_ACCESS_LOG_H

#include <time.h>

#include "hellod/buf.h"
#include "hellod/config.h"
#include "hellod/http.h"

struct hd_access_log {
	int fd; /* shared; -1 when logging is off */
	enum hd_log_format format;
	struct hd_buf buf;
	time_t stamp_second; /* the second `stamp` shows */
	char stamp[40];	     /* "23/Nov/2026:11:21:41 +0000" or ISO 8601 */
	unsigned long write_errors;
};

void hd_access_log_init(struct hd_access_log *log, int fd,
			enum hd_log_format format);
/* Appends one line; writes the buffer out once it is large. */
void hd_access_log_record(struct hd_access_log *log,
			  const struct hd_http_request *req, int status,
			  size_t body_bytes, time_t now);
/* Writes out whatever is buffered. */
void hd_access_log_flush(struct hd_access_log *log);
void hd_access_log_free(struct hd_access_log *log);

/* Opens the log file for appending. Returns the fd, or -1 (errno set). */
int hd_access_log_open(const char *path);

#endif
