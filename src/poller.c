/* poller.c — picks the backend named in the config. */
#include "hellod/poller.h"

#include <errno.h>

atomic_int hd_poller_forking;
atomic_uint hd_poller_fork_gen;

struct hd_poller *hd_poller_new(enum hd_poller_kind kind, bool edge)
{
	switch (kind) {
	case HD_POLLER_EPOLL: return hd_poller_epoll_new(edge);
	case HD_POLLER_POLL:
		return edge ? (errno = EINVAL, NULL) : hd_poller_poll_new();
	case HD_POLLER_SELECT:
		return edge ? (errno = EINVAL, NULL) : hd_poller_select_new();
	}
	errno = EINVAL;
	return NULL;
}
