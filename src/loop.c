/* loop.c — the context connections run in, and the kernel's socket calls
 * behind struct hd_io_ops. */
#include "hellod/loop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "hellod/conn.h"
#include "hellod/sys.h"

#define READ_BUFFER (64 * 1024)

/* The hot socket calls are made directly (sys.h): read(2) and send(2)
 * are cancellation points, dearer than the call itself here. */
static ssize_t kernel_read(void *io, int fd, void *buf, size_t len)
{
	(void)io;
	return hd_sys_read(fd, buf, len);
}

static ssize_t kernel_send(void *io, int fd, const void *buf, size_t len,
			   int flags)
{
	(void)io;
	return hd_sys_send(fd, buf, len, flags & HD_SEND_LAST ? MSG_MORE : 0);
}

static int kernel_shutdown_write(void *io, int fd)
{
	(void)io;
	return shutdown(fd, SHUT_WR) ? -errno : 0;
}

static void kernel_close(void *io, int fd)
{
	(void)io;
	close(fd);
}

const struct hd_io_ops hd_kernel_io = {
	.read = kernel_read,
	.send = kernel_send,
	.shutdown_write = kernel_shutdown_write,
	.close = kernel_close,
};

static void clock_now(struct hd_loop *loop)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	hd_wheel_set_clock(&loop->wheel,
			   (uint64_t)ts.tv_sec * 1000 +
				   (uint64_t)ts.tv_nsec / 1000000);
}

static ssize_t blocking_read(void *io, int fd, void *buf, size_t len)
{
	ssize_t n = kernel_read(NULL, fd, buf, len);
	clock_now(io);
	return n;
}

static ssize_t blocking_send(void *io, int fd, const void *buf, size_t len,
			     int flags)
{
	ssize_t n = kernel_send(NULL, fd, buf, len, flags);
	clock_now(io);
	return n;
}

const struct hd_io_ops hd_blocking_io = {
	.read = blocking_read,
	.send = blocking_send,
	.shutdown_write = kernel_shutdown_write,
	.close = kernel_close,
};

int hd_loop_init(struct hd_loop *loop, const struct hd_config *cfg,
		 struct hd_poller *poller, const struct hd_responses *responses,
		 uint64_t now_ms)
{
	memset(loop, 0, sizeof(*loop));
	loop->cfg = cfg;
	loop->poller = poller;
	loop->io = &hd_kernel_io;
	/* The read_once pitfall shows the guide's loop: the ADD after an
	 * early read reports the bytes left as one more edge, which would
	 * hide the stall it is there to show. */
	loop->read_after_accept = cfg->read_after_accept && !cfg->read_once;
	hd_wheel_init(&loop->wheel, now_ms);
	hd_http_ctx_init(&loop->http, cfg, responses);
	loop->rbuf_size = cfg->read_size ? cfg->read_size : READ_BUFFER;
	loop->rbuf = malloc(loop->rbuf_size);
	if (!loop->rbuf || hd_buf_reserve(&loop->scratch, 2 * READ_BUFFER))
		return -ENOMEM;
	loop->scratch.lendable = true; /* emptied by every event's end */
	return 0;
}

void hd_loop_free(struct hd_loop *loop)
{
	while (loop->conns)
		hd_conn_close(loop, loop->conns);
	hd_buf_free(&loop->scratch);
	free(loop->rbuf);
	loop->rbuf = NULL;
}
