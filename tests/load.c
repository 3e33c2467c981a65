/* load.c — see load.h. Every step is bounded: connections time out after
 * CONN_TIMEOUT_MS, the run after max_ms plus the final wait.
 *
 * The thread makes no Check call: each passing ck_assert takes a mutex
 * inside Check, and a child the test forks meanwhile (a server start)
 * would inherit it locked. Broken plumbing aborts instead. */
#include "load.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

#define CONN_TIMEOUT_MS 5000
#define MAX_INFLIGHT	256

enum slot_state { FREE, CONNECTING, SENT };

struct slot {
	int fd;
	enum slot_state state;
	long long started_ms;
	size_t len;
	char buf[64];		 /* the status line's start, for the 200 */
	struct resp_check check; /* and the whole answer, strictly */
};

static const char request[] =
	"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";

static void count_failure(struct load *l, long *kind, const char *what, int err)
{
	(*kind)++;
	if (l->failed++ == 0)
		snprintf(l->first_failure, sizeof(l->first_failure),
			 "%.200s: %.100s", what, err ? strerror(err) : "-");
}

static void finish_slot(int ep, struct slot *s)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, s->fd, NULL);
	close(s->fd);
	s->state = FREE;
}

static void open_slot(struct load *l, int ep, struct slot *s, long long now)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)l->port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		count_failure(l, &l->bad, "socket", errno);
		return;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) &&
	    errno != EINPROGRESS) {
		count_failure(l, errno == ECONNREFUSED ? &l->refused : &l->bad,
			      "connect", errno);
		close(fd);
		return;
	}
	*s = (struct slot){.fd = fd, .state = CONNECTING, .started_ms = now};
	resp_check_init(&s->check);
	struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.ptr = s};
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev))
		abort();
}

static void on_connected(struct load *l, int ep, struct slot *s)
{
	int err = 0;
	socklen_t len = sizeof(err);
	getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len);
	if (!err && send(s->fd, request, sizeof(request) - 1, MSG_NOSIGNAL) !=
			    (ssize_t)sizeof(request) - 1)
		err = errno ? errno : EIO;
	if (err) {
		count_failure(l,
			      err == ECONNREFUSED ? &l->refused
			      : err == ECONNRESET ? &l->reset
						  : &l->bad,
			      "connect/send", err);
		finish_slot(ep, s);
		return;
	}
	s->state = SENT;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = s};
	epoll_ctl(ep, EPOLL_CTL_MOD, s->fd, &ev);
}

/* Reads until the server's close; the answer must be a well-formed 200
 * (resp_check.h), and nothing after it. */
static void on_readable(struct load *l, int ep, struct slot *s)
{
	for (;;) {
		char sink[4096];
		ssize_t n = recv(s->fd, sink, sizeof(sink), 0);
		if (n > 0 && !resp_check_feed(&s->check, sink, (size_t)n)) {
			count_failure(l, &l->bad, s->check.error, 0);
			finish_slot(ep, s);
			return;
		}
		if (n > 0) {
			size_t take = sizeof(s->buf) - s->len;
			if (take > (size_t)n)
				take = (size_t)n;
			memcpy(s->buf + s->len, sink, take);
			s->len += take;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n < 0)
			count_failure(l,
				      errno == ECONNRESET ? &l->reset : &l->bad,
				      "recv", errno);
		else if (!resp_check_eof(&s->check))
			count_failure(l, &l->bad, s->check.error, 0);
		else if (s->len >= 13 && !memcmp(s->buf, "HTTP/1.1 200 ", 13))
			l->ok++;
		else
			count_failure(l, &l->bad,
				      s->len ? "not a 200" : "EOF, no answer",
				      0);
		finish_slot(ep, s);
		return;
	}
}

static void *run(void *arg)
{
	struct load *l = arg;
	struct slot *slots = calloc((size_t)l->inflight, sizeof(*slots));
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (!slots || ep < 0)
		abort();
	long long start = now_ms(), stopped_at = -1;
	long launched = 0;
	for (;;) {
		long long now = now_ms();
		bool launching = !atomic_load(&l->stop) &&
				 now - start < l->max_ms &&
				 launched < l->max_conns;
		if (!launching && stopped_at < 0)
			stopped_at = now;
		int active = 0;
		for (int i = 0; i < l->inflight; i++) {
			struct slot *s = &slots[i];
			if (s->state == FREE && launching) {
				open_slot(l, ep, s, now);
				launched++;
			}
			if (s->state != FREE &&
			    now - s->started_ms > CONN_TIMEOUT_MS) {
				count_failure(l, &l->timeout,
					      "no answer in time", 0);
				finish_slot(ep, s);
			}
			active += s->state != FREE;
		}
		if (!launching && (!active || now - stopped_at > 5000)) {
			for (int i = 0; i < l->inflight; i++)
				if (slots[i].state != FREE) {
					count_failure(l, &l->timeout,
						      "unfinished", 0);
					finish_slot(ep, &slots[i]);
				}
			break;
		}
		struct epoll_event evs[MAX_INFLIGHT];
		int n = epoll_wait(ep, evs, MAX_INFLIGHT, 10);
		for (int i = 0; i < n; i++) {
			struct slot *s = evs[i].data.ptr;
			if (s->state == CONNECTING)
				on_connected(l, ep, s);
			else if (s->state == SENT)
				on_readable(l, ep, s);
		}
	}
	l->elapsed_ms = now_ms() - start;
	close(ep);
	free(slots);
	return NULL;
}

void load_start(struct load *l, int port, int inflight, long long max_ms,
		long max_conns)
{
	memset(l, 0, sizeof(*l));
	l->port = port;
	l->inflight = inflight < MAX_INFLIGHT ? inflight : MAX_INFLIGHT;
	l->max_ms = max_ms;
	l->max_conns = max_conns;
	atomic_init(&l->stop, false);
	if (pthread_create(&l->thread, NULL, run, l))
		abort();
}

void load_finish(struct load *l)
{
	atomic_store(&l->stop, true);
	pthread_join(l->thread, NULL);
}

double load_rate(const struct load *l)
{
	return l->elapsed_ms > 0 ? (double)(l->ok + l->failed) * 1000.0 /
					   (double)l->elapsed_ms
				 : 0;
}

void load_report(const struct load *l, const char *name)
{
	printf("%s: %ld requests in %.1f s (%.0f new connections/s), %ld "
	       "failed (refused %ld, reset %ld, bad %ld, timeout %ld)%s%s\n",
	       name, l->ok + l->failed, (double)l->elapsed_ms / 1000.0,
	       load_rate(l), l->failed, l->refused, l->reset, l->bad,
	       l->timeout, l->failed ? "; first: " : "", l->first_failure);
	fflush(stdout);
}
