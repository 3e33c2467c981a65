/* worker.h — one thread per core, each with its own poller, listening
 * sockets (SO_REUSEPORT), buffers and counters; nothing shared on the hot
 * path. */
#ifndef HELLOD_WORKER_H
#define HELLOD_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "hellod/access_log.h"
#include "hellod/buf.h"
#include "hellod/config.h"
#include "hellod/conn.h"
#include "hellod/date_cache.h"
#include "hellod/http.h"
#include "hellod/listener.h"
#include "hellod/loop.h"
#include "hellod/metrics.h"
#include "hellod/poller.h"
#include "hellod/response.h"
#include "hellod/stats.h"
#include "hellod/timer.h"

/* Where a worker is in its life; the main thread moves it forward. */
enum hd_phase {
	HD_PHASE_RUN,
	HD_PHASE_GRACE, /* SIGTERM: health answers 503, all else as usual */
	HD_PHASE_DRAIN, /* listeners closed, every answer closes, idle
			 * connections closed; exit when none is left */
	HD_PHASE_STOP,	/* close everything and exit now */
};

struct hd_worker {
	int id;
	int cpu; /* pinned to this CPU, or -1 */
	pthread_t thread;
	const struct hd_config *cfg;
	struct hd_listener *listeners; /* owned, with their fds */
	int listener_count;
	uint8_t wake_type; /* HD_HANDLE_WAKE: the eventfd's poller pointer */
	int wake_fd;	   /* eventfd the main thread writes to stop us */
	struct hd_poller *poller; /* owned; also loop.poller */
	struct hd_date_cache date;
	struct hd_responses responses;
	struct hd_loop loop; /* what connections run in: wheel, HTTP
			      * context, buffers, connections, counters */
	int reserve_fd;	     /* spare fd, given up to shed on EMFILE */
	/* operators: drain, metrics, access log */
	atomic_int phase;	  /* enum hd_phase, set by the main thread */
	int seen_phase;		  /* the phase this worker has acted on */
	atomic_bool exited;	  /* the loop has returned */
	atomic_uint fork_seen;	  /* hd_poller_fork_gen acknowledged */
	unsigned fork_seen_local; /* the same, for the worker itself */
	struct hd_worker *const *all; /* every worker, for /metrics */
	int all_count;
	struct hd_metrics_snapshot snapshot;
	uint64_t published_ms; /* when snapshot was last written */
	bool publish_due;      /* counters changed since */
	struct hd_access_log log;
	uint64_t now_ms;	      /* monotonic, read once per wakeup */
	uint64_t date_due_ms;	      /* now_ms at which the Date may change */
	struct hd_timer accept_timer; /* resumes accepting after EMFILE */
	bool accept_paused;
	struct hd_trace trace; /* --trace: worker 0 narrates */
};

/* hd_timer.kind of the worker's own timer (connections use
 * enum hd_conn_timeout). */
enum { HD_TIMER_ACCEPT = 0xff };

/* Sets w up (poller, responses, buffers) for listening sockets already
 * bound; w owns their fds from here on, even on failure (hd_worker_free
 * closes them). Returns 0, or -errno. */
int hd_worker_init(struct hd_worker *w, int id, int cpu,
		   const struct hd_config *cfg,
		   const struct hd_listener *listeners, int listen_count);
int hd_worker_start(struct hd_worker *w);
/* Asks the worker to stop; safe from any thread. */
void hd_worker_stop(struct hd_worker *w);
/* Wakes the worker's loop (it then runs its top: phase, fork_seen). */
void hd_worker_wake(struct hd_worker *w);
/* Moves the worker to a later phase and wakes it; any thread. */
void hd_worker_set_phase(struct hd_worker *w, enum hd_phase phase);
/* Logs requests to the shared descriptor log_fd; call before start. */
void hd_worker_set_access_log(struct hd_worker *w, int log_fd);
void hd_worker_join(struct hd_worker *w);
void hd_worker_free(struct hd_worker *w);

/* Logs that the poller refused connection fd (select: fd >= FD_SETSIZE)
 * and it was closed; err is the poller's -errno. At most one line a
 * second per worker. */
void hd_worker_log_refused(struct hd_worker *w, int fd, int err);

/* The loop itself; hd_worker_start runs it on a new thread. */
void *hd_worker_run(void *arg);

#endif
