/* loop.h — the context a connection runs in.
 *
 * A worker embeds one struct hd_loop and hands it to conn.c; conn.c knows
 * nothing else of the worker (no back-pointer, no callback into it), so a
 * test can drive connections with a loop of its own: a fake poller and a
 * simulated socket layer behind `io` (tests/test_sim.c does).
 *
 * Everything here belongs to one thread. The scratch buffer holds the
 * responses of the event being handled, for the one connection that event
 * is about: it is empty between events (conn.c asserts it).
 */
#ifndef HELLOD_LOOP_H
#define HELLOD_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "hellod/buf.h"
#include "hellod/config.h"
#include "hellod/http.h"
#include "hellod/poller.h"
#include "hellod/stats.h"
#include "hellod/timer.h"
#include "hellod/trace.h"

/* The socket calls a connection makes. Each returns what the system call
 * returns, or -errno instead of -1 (EINTR included: the caller retries). */
struct hd_io_ops {
	ssize_t (*read)(void *io, int fd, void *buf, size_t len);
	ssize_t (*send)(void *io, int fd, const void *buf, size_t len,
			int flags);
	int (*shutdown_write)(void *io, int fd);
	void (*close)(void *io, int fd);
};

/* send's flags. HD_SEND_LAST: the connection's last bytes, and its
 * shutdown or close follows before the loop waits again, so the kernel
 * may hold them back (MSG_MORE) and send them in one segment with the
 * FIN: a Connection: close exchange costs a packet less each way. */
enum { HD_SEND_LAST = 1 };

/* The kernel's: read(2), send(2) with MSG_NOSIGNAL, shutdown(2), close(2). */
extern const struct hd_io_ops hd_kernel_io;
/* The same for blocking sockets, with io_arg the struct hd_loop: after
 * each read or send, which may have blocked, the wheel's clock is moved
 * on, so the deadlines armed next count from now, not from the wakeup. */
extern const struct hd_io_ops hd_blocking_io;
/* poller uring's (poller_uring.c), with io_arg the poller: reads take the
 * completed receives, sends are submitted, close waits for them. */
extern const struct hd_io_ops hd_uring_io;

struct hd_conn;

struct hd_loop {
	const struct hd_config *cfg;
	struct hd_poller *poller; /* not owned */
	const struct hd_io_ops *io;
	void *io_arg;
	struct hd_wheel wheel; /* every connection's timeout */
	struct hd_http_ctx http;
	struct hd_buf scratch; /* the current event's responses */
	char *rbuf;	       /* read buffer, shared by all connections */
	size_t rbuf_size;
	struct hd_conn *conns; /* every open connection */
	struct hd_conn *ready; /* read budget spent with input left (edge) */
	uint64_t open_conns;
	int reads_left;		/* the current event's read budget */
	bool read_after_accept; /* new connections: hd_conn_start reads */
	struct hd_trace *trace; /* --trace narrates reads, sends; NULL: off */
	struct hd_loop_stats stats;
};

/* Sets loop up for cfg on poller (kept, not owned) with the kernel's
 * sockets; responses must outlive it. Returns 0, or -ENOMEM. */
int hd_loop_init(struct hd_loop *loop, const struct hd_config *cfg,
		 struct hd_poller *poller, const struct hd_responses *responses,
		 uint64_t now_ms);
/* Closes every connection and frees the buffers (not the poller). */
void hd_loop_free(struct hd_loop *loop);

#endif
