/* floor.c — the least an HTTP/1.1 server can do per response, as a yardstick.
 *
 * One thread, one edge-triggered epoll loop, no parser: a read batch is
 * scanned for request ends ("\r\n\r\n") and answered with that many copies
 * of a response of hellod's size, in one send. No Date update, no limits,
 * no backpressure; a request that says "close" closes after its answer.
 * It is not a server to use: bench/run measures it beside hellod so the
 * report can say how far above the machine's floor hellod is.
 *
 *   floor          listens on 127.0.0.1 (a free port, printed on stderr)
 *   floor --eager  also reads right after accept, with TCP_DEFER_ACCEPT on
 *                  the listener, and registers a connection with epoll only
 *                  if it stays open: a Connection: close exchange then costs
 *                  accept4, read, send and close, and no epoll_ctl
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_BATCH 64 /* responses one read may ask for */

#define HEAD                                          \
	"HTTP/1.1 200 OK\r\n"                          \
	"Server: floor\r\n"                            \
	"Date: Mon, 23 Nov 2026 11:57:25 GMT\r\n"      \
	"Content-Type: text/plain\r\n"                 \
	"Content-Length: 13\r\n"
static const char response[] = HEAD "\r\nHello, World!";
static const char response_close[] = HEAD "Connection: close\r\n\r\nHello, World!";
#define RESPONSE_LEN (sizeof(response) - 1)

static char rbuf[64 * 1024];
static char wbuf[MAX_BATCH * RESPONSE_LEN];

/* Per connection: how much of "\r\n\r\n" the last read ended in. */
static unsigned char matched[65536];

static int listen_any(bool eager)
{
	int one = 1;
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (fd < 0 ||
	    (eager && setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &one,
				 sizeof(one))) ||
	    bind(fd, (struct sockaddr *)&sa, len) ||
	    listen(fd, 4096) || getsockname(fd, (struct sockaddr *)&sa, &len))
		return -1;
	fprintf(stderr, "floor: listening on 127.0.0.1:%u\n",
		ntohs(sa.sin_port));
	return fd;
}

/* Counts request ends in buf, carrying a partial match across reads. */
static unsigned count_requests(int fd, const char *buf, size_t n)
{
	static const char end[] = "\r\n\r\n";
	unsigned count = 0, m = matched[fd];
	for (size_t i = 0; i < n; i++) {
		if (buf[i] == end[m])
			m++;
		else
			m = buf[i] == '\r';
		if (m == 4) {
			count++;
			m = 0;
		}
	}
	matched[fd] = (unsigned char)m;
	return count;
}

/* Reads until a short read, answers, and says whether to close. */
static int serve(int fd)
{
	for (;;) {
		ssize_t n = read(fd, rbuf, sizeof(rbuf));
		if (n <= 0)
			return n == 0 || errno != EAGAIN;
		unsigned count = count_requests(fd, rbuf, (size_t)n);
		if (count > MAX_BATCH)
			return 1;
		/* A request that says "close" is answered alone, and closes. */
		if (memmem(rbuf, (size_t)n, "close", 5)) {
			send(fd, response_close, sizeof(response_close) - 1,
			     MSG_NOSIGNAL);
			return 1;
		}
		if (count && send(fd, wbuf, count * RESPONSE_LEN,
				  MSG_NOSIGNAL) != (ssize_t)(count * RESPONSE_LEN))
			return 1;
		if ((size_t)n < sizeof(rbuf))
			return 0;
	}
}

int main(int argc, char **argv)
{
	struct epoll_event events[512];
	bool eager = argc > 1 && !strcmp(argv[1], "--eager");
	int lfd = listen_any(eager), ep = epoll_create1(0);
	if (lfd < 0 || ep < 0) {
		perror("floor");
		return 1;
	}
	for (int i = 0; i < MAX_BATCH; i++)
		memcpy(wbuf + i * RESPONSE_LEN, response, RESPONSE_LEN);
	struct epoll_event lev = { .events = EPOLLIN, .data.fd = lfd };
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);
	for (;;) {
		int n = epoll_wait(ep, events, 512, -1);
		for (int i = 0; i < n; i++) {
			int fd = events[i].data.fd;
			if (fd != lfd) {
				if (serve(fd))
					close(fd);
				continue;
			}
			int c;
			while ((c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
				struct epoll_event ev = { .events = EPOLLIN | EPOLLET,
							  .data.fd = c };
				if (c >= (int)sizeof(matched)) {
					close(c);
					continue;
				}
				matched[c] = 0;
				if ((eager && serve(c)) ||
				    epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev))
					close(c);
			}
		}
	}
}
