/* stats.h — per-worker loop counters.
 *
 * Plain integers: only the owning worker thread writes them, and readers
 * (the --stats table at exit) look after the worker is joined, so the hot
 * path pays one increment and no atomic or lock.
 */
#ifndef HELLOD_STATS_H
#define HELLOD_STATS_H

#include <stdint.h>
#include <stdio.h>

struct hd_loop_stats {
	uint64_t accepts;      /* accept4 calls */
	uint64_t accepted;     /* connections accepted */
	uint64_t accept_empty; /* listener wakeups that found no connection
				* (another worker took it: the herd) */
	uint64_t refused;      /* connections closed at once (limits) */
	uint64_t closed;       /* connections closed */
	uint64_t reads;	       /* read calls */
	uint64_t read_eagain;  /* reads that found nothing (EAGAIN) */
	uint64_t writes;       /* write calls */
	uint64_t write_eagain; /* writes the kernel did not take whole */
	uint64_t bytes_in;
	uint64_t bytes_out;
	uint64_t proxy_errors;	     /* PROXY listener connections without a
				      * valid header, closed */
	uint64_t timeouts_header;    /* header_timeout (headers or body) */
	uint64_t timeouts_keepalive; /* keepalive_timeout */
	uint64_t timeouts_write;     /* write_timeout */
	uint64_t read_yields;	     /* read budget spent: served again later */
	uint64_t lingered;	     /* closes that shut down and lingered */
};

struct hd_worker;
/* Prints one row per worker and a total to f. */
void hd_stats_print(FILE *f, struct hd_worker *const *workers, int count);

#endif
