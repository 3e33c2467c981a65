/* poller_poll.c — the poll(2) backend: level-triggered, no fd limit.
 *
 * The watched set is a dense pollfd array (what poll wants) with a parallel
 * array of owner pointers, plus an fd -> slot map so add, mod and forget
 * are O(1). Every wait still hands the whole array to the kernel, which is
 * the O(n) cost the C10K experiment shows.
 *
 * The question asked of the set is a hook (the probe): poll(2) here, and
 * poller_busy.c's "every fd is ready" for the busy-polling rung, which
 * shares this set and only changes how readiness is learnt.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "hellod/poller.h"

struct poll_poller {
	struct hd_poller base;
	struct hd_poller_ops ops; /* poll's, named after the probe */
	hd_poll_probe_fn probe;
	void *probe_arg;
	struct pollfd *fds;
	void **owners;
	int count, cap;
	int *slot_of; /* by fd; -1 when not watched */
	int slot_cap;
	int start; /* the slot the next wait delivers first */
};

static short to_poll(uint32_t events)
{
	short e = 0;
	if (events & HD_EV_READ)
		e |= POLLIN | POLLRDHUP;
	if (events & HD_EV_WRITE)
		e |= POLLOUT;
	return e;
}

static int grow_slots(struct poll_poller *pp, int fd)
{
	if (fd < pp->slot_cap)
		return 0;
	int cap = pp->slot_cap ? pp->slot_cap : 64;
	while (cap <= fd)
		cap *= 2;
	int *map = realloc(pp->slot_of, (size_t)cap * sizeof(*map));
	if (!map)
		return -ENOMEM;
	for (int i = pp->slot_cap; i < cap; i++)
		map[i] = -1;
	pp->slot_of = map;
	pp->slot_cap = cap;
	return 0;
}

static int grow_fds(struct poll_poller *pp)
{
	if (pp->count < pp->cap)
		return 0;
	int cap = pp->cap ? pp->cap * 2 : 64;
	struct pollfd *fds = realloc(pp->fds, (size_t)cap * sizeof(*fds));
	if (!fds)
		return -ENOMEM;
	pp->fds = fds;
	void **owners = realloc(pp->owners, (size_t)cap * sizeof(*owners));
	if (!owners)
		return -ENOMEM;
	pp->owners = owners;
	pp->cap = cap;
	return 0;
}

static int poll_add(struct hd_poller *p, int fd, void *ptr, uint32_t events)
{
	struct poll_poller *pp = (struct poll_poller *)p;
	if (grow_slots(pp, fd) || grow_fds(pp))
		return -ENOMEM;
	if (pp->slot_of[fd] >= 0)
		return -EEXIST;
	int slot = pp->count++;
	pp->fds[slot] = (struct pollfd){.fd = fd, .events = to_poll(events)};
	pp->owners[slot] = ptr;
	pp->slot_of[fd] = slot;
	p->ctl_calls++;
	return 0;
}

static int poll_mod(struct hd_poller *p, int fd, void *ptr, uint32_t events)
{
	struct poll_poller *pp = (struct poll_poller *)p;
	if (fd >= pp->slot_cap || pp->slot_of[fd] < 0)
		return -ENOENT;
	int slot = pp->slot_of[fd];
	pp->fds[slot].events = to_poll(events);
	pp->owners[slot] = ptr;
	p->ctl_calls++;
	return 0;
}

/* Moves the last slot into the freed one to keep the array dense. */
static void poll_forget(struct hd_poller *p, int fd)
{
	struct poll_poller *pp = (struct poll_poller *)p;
	if (fd >= pp->slot_cap || pp->slot_of[fd] < 0)
		return;
	int slot = pp->slot_of[fd], last = --pp->count;
	if (slot != last) {
		pp->fds[slot] = pp->fds[last];
		pp->owners[slot] = pp->owners[last];
		pp->slot_of[pp->fds[slot].fd] = slot;
	}
	pp->slot_of[fd] = -1;
	p->ctl_calls++;
}

static int poll_wait(struct hd_poller *p, struct hd_event *events, int max,
		     int timeout_ms)
{
	struct poll_poller *pp = (struct poll_poller *)p;
	p->wait_calls++;
	int ready = pp->probe(pp->probe_arg, pp->fds, pp->count, timeout_ms);
	if (ready < 0)
		return ready;
	/* Delivery starts where the last wait stopped: when more fds are
	 * ready than fit in `max`, the ones past it come first next time
	 * (the busy probe reports every fd on every pass, so without this
	 * the fds past the first `max` would never be served). */
	int n = 0, k = 0;
	for (; k < pp->count && n < ready && n < max; k++) {
		int i = (pp->start + k) % pp->count;
		short re = pp->fds[i].revents;
		if (!re)
			continue;
		uint32_t out = 0;
		if (re & (POLLIN | POLLPRI))
			out |= HD_EV_READ;
		if (re & POLLOUT)
			out |= HD_EV_WRITE;
		/* As in poller_epoll.c: a hang-up or error comes whatever
		 * was asked for, so both sides get to meet it. */
		if (re & POLLRDHUP)
			out |= HD_EV_HUP | HD_EV_READ;
		if (re & (POLLHUP | POLLERR | POLLNVAL))
			out |= HD_EV_HUP | HD_EV_READ | HD_EV_WRITE;
		events[n].ptr = pp->owners[i];
		events[n].events = out;
		n++;
	}
	if (pp->count)
		pp->start = (pp->start + k) % pp->count;
	p->events += (uint64_t)n;
	return n;
}

static void poll_destroy(struct hd_poller *p)
{
	struct poll_poller *pp = (struct poll_poller *)p;
	free(pp->fds);
	free(pp->owners);
	free(pp->slot_of);
	free(pp);
}

static const struct hd_poller_ops poll_ops = {
	.name = "poll",
	.add = poll_add,
	.mod = poll_mod,
	.forget = poll_forget,
	.wait = poll_wait,
	.destroy = poll_destroy,
};

static int poll_probe(void *arg, struct pollfd *fds, int count, int timeout_ms)
{
	(void)arg;
	int ready = poll(fds, (nfds_t)count, timeout_ms);
	return ready < 0 ? -errno : ready;
}

struct hd_poller *hd_poller_probe_new(const char *name, hd_poll_probe_fn probe,
				      void *arg)
{
	struct poll_poller *pp = calloc(1, sizeof(*pp));
	if (!pp)
		return NULL;
	pp->ops = poll_ops;
	pp->ops.name = name;
	pp->probe = probe;
	pp->probe_arg = arg;
	pp->base.ops = &pp->ops;
	return &pp->base;
}

struct hd_poller *hd_poller_poll_new(void)
{
	return hd_poller_probe_new("poll", poll_probe, NULL);
}
