/* poller.c — picks the backend named in the config. */
#include "hellod/poller.h"

#include <errno.h>
#include <string.h>

atomic_int hd_poller_forking;
atomic_uint hd_poller_fork_gen;

struct hd_poller *hd_poller_new(const struct hd_config *cfg)
{
	bool edge = cfg->trigger == HD_TRIGGER_EDGE;
	if (edge && cfg->poller != HD_POLLER_EPOLL) {
		errno = EINVAL; /* only epoll has edge triggering */
		return NULL;
	}
	switch (cfg->poller) {
	case HD_POLLER_EPOLL: return hd_poller_epoll_new(edge);
	case HD_POLLER_POLL: return hd_poller_poll_new();
	case HD_POLLER_SELECT: return hd_poller_select_new();
	case HD_POLLER_BUSY: return hd_poller_busy_new(cfg->busy_sleep_ms);
	case HD_POLLER_BLOCKING:
	case HD_POLLER_THREADS: return hd_poller_blocking_new();
	case HD_POLLER_URING: return hd_poller_uring_new(cfg->write_timeout_ms);
	}
	errno = EINVAL;
	return NULL;
}

const char *hd_poller_wait_name(const struct hd_poller *p)
{
	const char *name = p->ops->name;
	if (!strcmp(name, "epoll"))
		return "epoll_wait";
	if (!strcmp(name, "busy"))
		return "busy pass (no system call)";
	if (!strcmp(name, "blocking"))
		return "next socket (no system call)";
	if (!strcmp(name, "uring"))
		return "io_uring_enter";
	return name;
}

void hd_poller_trace_ctl(const struct hd_poller *p, const char *op, int fd,
			 uint32_t events)
{
	char ev[32];
	bool epoll = !strcmp(p->ops->name, "epoll");
	hd_trace_say(p->trace, "%s%s %s fd %d %s%s", p->ops->name,
		     epoll ? "_ctl" : " set", op, fd,
		     hd_trace_events(events, ev, sizeof(ev)),
		     p->edge ? "|ET" : "");
}
