/* worker.h — one thread per core, each with its own poller, listening
 * sockets (SO_REUSEPORT), buffers and counters; nothing shared on the hot
 * path. */
#ifndef HELLOD_WORKER_H
#define HELLOD_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "hellod/buf.h"
#include "hellod/config.h"
#include "hellod/conn.h"
#include "hellod/date_cache.h"
#include "hellod/http.h"
#include "hellod/poller.h"
#include "hellod/response.h"
#include "hellod/stats.h"

/* A listening socket as the poller sees it. */
struct hd_listener {
	uint8_t type; /* HD_HANDLE_LISTENER */
	int fd;
};

struct hd_worker {
	int id;
	int cpu; /* pinned to this CPU, or -1 */
	pthread_t thread;
	const struct hd_config *cfg;
	struct hd_listener listeners[HD_MAX_LISTEN];
	int listener_count;
	uint8_t wake_type; /* HD_HANDLE_WAKE: the eventfd's poller pointer */
	int wake_fd;	   /* eventfd the main thread writes to stop us */
	atomic_bool stop;
	struct hd_poller *poller;
	struct hd_date_cache date;
	struct hd_responses responses;
	struct hd_http_ctx http;
	struct hd_buf scratch; /* responses of the batch being handled */
	char *rbuf;	       /* read buffer, shared by all connections */
	size_t rbuf_size;
	int reserve_fd;	       /* spare fd, given up to shed on EMFILE */
	struct hd_conn *conns; /* every open connection */
	uint64_t open_conns;
	struct hd_loop_stats stats;
};

/* Sets w up (poller, responses, buffers) for listening fds already bound.
 * Returns 0, or -errno. */
int hd_worker_init(struct hd_worker *w, int id, int cpu,
		   const struct hd_config *cfg, const int *listen_fds,
		   int listen_count);
int hd_worker_start(struct hd_worker *w);
/* Asks the worker to stop; safe from any thread. */
void hd_worker_stop(struct hd_worker *w);
void hd_worker_join(struct hd_worker *w);
void hd_worker_free(struct hd_worker *w);

/* Logs that the poller refused connection fd (select: fd >= FD_SETSIZE)
 * and it was closed; err is the poller's -errno. At most one line a
 * second per worker. */
void hd_worker_log_refused(struct hd_worker *w, int fd, int err);

/* The loop itself; hd_worker_start runs it on a new thread. */
void *hd_worker_run(void *arg);

#endif
