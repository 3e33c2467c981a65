/* supervisor.h — the main thread once workers run: it waits for signals
 * and walks the workers through graceful drain.
 *
 *   SIGTERM  drain: health answers 503 for drain_grace, then listeners
 *            close, every answer carries Connection: close, idle
 *            connections close; exit once none is left or drain_timeout
 *            (from the SIGTERM) has passed.
 *   SIGINT, or a second SIGTERM: stop at once (still cleanly).
 *   SIGUSR1  reopen the access log (after logrotate moved it).
 *   SIGUSR2  hand over: start a successor with our listening sockets
 *            (handoff.h); once it serves, drain without the grace (the
 *            address never stops answering, so no balancer needs to
 *            notice) and exit. A successor that fails changes nothing
 *            but one log line.
 */
#ifndef HELLOD_SUPERVISOR_H
#define HELLOD_SUPERVISOR_H

#include <signal.h>

#include "hellod/listen_set.h"
#include "hellod/worker.h"

struct hd_supervisor {
	const struct hd_config *cfg;
	struct hd_worker **workers;
	int worker_count;
	const struct hd_listen_set *sockets; /* what a successor inherits */
	int log_fd; /* the shared access log descriptor, or -1 */
	const sigset_t *signals;
};

/* The signals hd_supervise waits for; block them in every thread. */
void hd_supervisor_signals(sigset_t *set);
/* Returns when the workers should be stopped and joined. */
void hd_supervise(struct hd_supervisor *sv);

#endif
