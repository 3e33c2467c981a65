/* poller.c — picks the backend named in the config. */
#include "hellod/poller.h"

#include <errno.h>

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
	case HD_POLLER_BLOCKING: return hd_poller_blocking_new();
	}
	errno = EINVAL;
	return NULL;
}
