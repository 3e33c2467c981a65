/* poller_select.c — the select(2) backend: level-triggered, and limited to
 * descriptors below FD_SETSIZE (1024). FD_SET on a larger fd writes past
 * the fd_set, so add() refuses such a descriptor and the caller closes the
 * connection; the limit is the lesson select teaches.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>

#include "hellod/poller.h"

struct select_poller {
	struct hd_poller base;
	fd_set want_read, want_write;
	void *owners[FD_SETSIZE];
	int max_fd; /* highest watched fd, -1 when none */
};

static void set_interest(struct select_poller *sp, int fd, void *ptr,
			 uint32_t events)
{
	FD_CLR(fd, &sp->want_read);
	FD_CLR(fd, &sp->want_write);
	if (events & HD_EV_READ)
		FD_SET(fd, &sp->want_read);
	if (events & HD_EV_WRITE)
		FD_SET(fd, &sp->want_write);
	sp->owners[fd] = ptr;
	if (fd > sp->max_fd)
		sp->max_fd = fd;
}

static int select_add(struct hd_poller *p, int fd, void *ptr, uint32_t events)
{
	struct select_poller *sp = (struct select_poller *)p;
	if (fd < 0 || fd >= FD_SETSIZE) {
		p->refused++;
		return -EMFILE;
	}
	if (sp->owners[fd])
		return -EEXIST;
	set_interest(sp, fd, ptr, events);
	p->ctl_calls++;
	return 0;
}

static int select_mod(struct hd_poller *p, int fd, void *ptr, uint32_t events)
{
	struct select_poller *sp = (struct select_poller *)p;
	if (fd < 0 || fd >= FD_SETSIZE || !sp->owners[fd])
		return -ENOENT;
	set_interest(sp, fd, ptr, events);
	p->ctl_calls++;
	return 0;
}

static void select_forget(struct hd_poller *p, int fd)
{
	struct select_poller *sp = (struct select_poller *)p;
	if (fd < 0 || fd >= FD_SETSIZE || !sp->owners[fd])
		return;
	FD_CLR(fd, &sp->want_read);
	FD_CLR(fd, &sp->want_write);
	sp->owners[fd] = NULL;
	while (sp->max_fd >= 0 && !sp->owners[sp->max_fd])
		sp->max_fd--;
	p->ctl_calls++;
}

static int select_wait(struct hd_poller *p, struct hd_event *events, int max,
		       int timeout_ms)
{
	struct select_poller *sp = (struct select_poller *)p;
	/* select overwrites its sets, so it works on copies every call. */
	fd_set rd = sp->want_read, wr = sp->want_write;
	struct timeval tv = {.tv_sec = timeout_ms / 1000,
			     .tv_usec = (timeout_ms % 1000) * 1000};
	p->wait_calls++;
	int ready = select(sp->max_fd + 1, &rd, &wr, NULL,
			   timeout_ms < 0 ? NULL : &tv);
	if (ready < 0)
		return -errno;
	int n = 0;
	for (int fd = 0; fd <= sp->max_fd && n < max && ready > 0; fd++) {
		uint32_t out = 0;
		if (FD_ISSET(fd, &rd)) {
			out |= HD_EV_READ;
			ready--;
		}
		if (FD_ISSET(fd, &wr)) {
			out |= HD_EV_WRITE;
			ready--;
		}
		if (!out)
			continue;
		events[n].ptr = sp->owners[fd];
		events[n].events = out;
		n++;
	}
	p->events += (uint64_t)n;
	return n;
}

static void select_destroy(struct hd_poller *p)
{
	free(p);
}

static const struct hd_poller_ops select_ops = {
	.name = "select",
	.add = select_add,
	.mod = select_mod,
	.forget = select_forget,
	.wait = select_wait,
	.destroy = select_destroy,
};

struct hd_poller *hd_poller_select_new(void)
{
	struct select_poller *sp = calloc(1, sizeof(*sp));
	if (!sp)
		return NULL;
	FD_ZERO(&sp->want_read);
	FD_ZERO(&sp->want_write);
	sp->max_fd = -1;
	sp->base.ops = &select_ops;
	sp->base.fd_limit = FD_SETSIZE;
	return &sp->base;
}
