/* poller_busy.c — busy polling, the rung below select: no readiness call.
 *
 * The tutorial loop "for each socket: try it; sleep a little; repeat" is
 * poll's watched set (poller_poll.c) with a probe that asks the kernel
 * nothing and calls every fd ready for what it was registered for. The
 * owner then tries the socket (accept, read, send) and the kernel's
 * EAGAIN says there was nothing: those wasted calls are counted by the
 * owner (the eagain column of --stats), the passes by wait_calls. The
 * connection code takes this like spurious level-triggered readiness,
 * which it must tolerate anyway (tests/sim.c injects such events).
 */
#include <stdint.h>
#include <time.h>

#include "hellod/poller.h"

/* arg is the sleep between passes in ms, carried in the pointer so the
 * probe needs no state of its own. */
static int busy_probe(void *arg, struct pollfd *fds, int count, int timeout_ms)
{
	unsigned sleep_ms = (unsigned)(uintptr_t)arg;
	/* A 0 timeout means work is waiting (a spent read budget): go on
	 * at once. Otherwise sleep, but not past the loop's next timer. */
	if (timeout_ms > 0 && (unsigned)timeout_ms < sleep_ms)
		sleep_ms = (unsigned)timeout_ms;
	if (sleep_ms && timeout_ms != 0) {
		struct timespec ts = {.tv_sec = sleep_ms / 1000,
				      .tv_nsec = (long)(sleep_ms % 1000) *
						 1000000L};
		nanosleep(&ts, NULL);
	}
	int ready = 0;
	for (int i = 0; i < count; i++) {
		fds[i].revents = fds[i].events & (POLLIN | POLLOUT);
		if (fds[i].revents)
			ready++;
	}
	return ready;
}

struct hd_poller *hd_poller_busy_new(unsigned sleep_ms)
{
	return hd_poller_probe_new("busy", busy_probe,
				   (void *)(uintptr_t)sleep_ms);
}
