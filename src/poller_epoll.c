/* poller_epoll.c — the epoll backend, edge- or level-triggered. */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "hellod/poller.h"
#include "hellod/sys.h"

#define EPOLL_BATCH 512

struct epoll_poller {
	struct hd_poller base;
	int epfd;
	struct epoll_event ready[EPOLL_BATCH];
};

static uint32_t to_epoll(const struct hd_poller *p, uint32_t events)
{
	/* RDHUP only while reading is wanted: level-triggered, a half-closed
	 * peer would otherwise be reported again and again while the
	 * connection waits to write (reading paused, or the peer done). */
	uint32_t e = 0;
	if (events & HD_EV_READ)
		e |= EPOLLIN | EPOLLRDHUP;
	if (events & HD_EV_WRITE)
		e |= EPOLLOUT;
	if (p->edge)
		e |= EPOLLET;
	return e;
}

static int ctl(struct hd_poller *p, int op, int fd, void *ptr, uint32_t events)
{
	struct epoll_poller *ep = (struct epoll_poller *)p;
	struct epoll_event ev = {.events = to_epoll(p, events),
				 .data.ptr = ptr};
	p->ctl_calls++;
	return epoll_ctl(ep->epfd, op, fd, &ev) ? -errno : 0;
}

static int epoll_add(struct hd_poller *p, int fd, void *ptr, uint32_t events)
{
	return ctl(p, EPOLL_CTL_ADD, fd, ptr, events);
}

static int epoll_mod(struct hd_poller *p, int fd, void *ptr, uint32_t events)
{
	return ctl(p, EPOLL_CTL_MOD, fd, ptr, events);
}

static void epoll_remove(struct hd_poller *p, int fd)
{
	struct epoll_poller *ep = (struct epoll_poller *)p;
	p->ctl_calls++;
	epoll_ctl(ep->epfd, EPOLL_CTL_DEL, fd, NULL);
}

/* close() drops the fd from every epoll set it is in when it is the last
 * descriptor of its socket (connections are never dup()ed), so
 * forgetting costs no system call; except while a fork child may hold
 * copies of every descriptor (poller.h). */
static void epoll_forget(struct hd_poller *p, int fd)
{
	if (atomic_load_explicit(&hd_poller_forking, memory_order_acquire))
		epoll_remove(p, fd);
}

/* Made directly (sys.h), not epoll_wait(3), which is a cancellation
 * point: see kernel_read in loop.c. Architectures without epoll_wait
 * (arm64) have epoll_pwait, the same call with no signal mask. */
static int sys_epoll_wait(int epfd, struct epoll_event *events, int max,
			  int timeout_ms)
{
#ifdef SYS_epoll_wait
	return (int)hd_sys4(SYS_epoll_wait, epfd, (long)events, max,
			    timeout_ms);
#else
	return (int)hd_sys6(SYS_epoll_pwait, epfd, (long)events, max,
			    timeout_ms, 0, 0);
#endif
}

static_assert((int)HD_EV_READ == (int)EPOLLIN &&
		      (int)HD_EV_WRITE == (int)EPOLLOUT,
	      "a plain IN or OUT report passes through as it is");

/* A report beyond IN and OUT. */
static uint32_t events_of(uint32_t e)
{
	uint32_t out = e & (EPOLLIN | EPOLLOUT);
	if (e & EPOLLPRI)
		out |= HD_EV_READ;
	/* The peer's FIN is also reported as readable, so the owner reads
	 * and learns what happened from read(). An error or a full hang-up
	 * comes whatever was asked for: reported as readable and writable,
	 * so whichever side the owner waits on meets the error in its next
	 * call instead of being woken for it forever (level-triggered). */
	if (e & EPOLLRDHUP)
		out |= HD_EV_HUP | HD_EV_READ;
	if (e & (EPOLLHUP | EPOLLERR))
		out |= HD_EV_HUP | HD_EV_READ | HD_EV_WRITE;
	return out;
}

static int epoll_wait_events(struct hd_poller *p, struct hd_event *events,
			     int max, int timeout_ms)
{
	struct epoll_poller *ep = (struct epoll_poller *)p;
	if (max > EPOLL_BATCH)
		max = EPOLL_BATCH;
	p->wait_calls++;
	int n = sys_epoll_wait(ep->epfd, ep->ready, max, timeout_ms);
	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		uint32_t e = ep->ready[i].events;
		events[i].ptr = ep->ready[i].data.ptr;
		events[i].events =
			e & ~(uint32_t)(EPOLLIN | EPOLLOUT) ? events_of(e) : e;
	}
	p->events += (uint64_t)n;
	return n;
}

static void epoll_destroy(struct hd_poller *p)
{
	struct epoll_poller *ep = (struct epoll_poller *)p;
	close(ep->epfd);
	free(ep);
}

static const struct hd_poller_ops epoll_ops = {
	.name = "epoll",
	.add = epoll_add,
	.mod = epoll_mod,
	.forget = epoll_forget,
	.remove = epoll_remove,
	.wait = epoll_wait_events,
	.destroy = epoll_destroy,
};

struct hd_poller *hd_poller_epoll_new(bool edge)
{
	struct epoll_poller *ep = calloc(1, sizeof(*ep));
	if (!ep)
		return NULL;
	ep->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (ep->epfd < 0) {
		free(ep);
		return NULL;
	}
	ep->base.ops = &epoll_ops;
	ep->base.edge = edge;
	return &ep->base;
}
