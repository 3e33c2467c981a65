/* metrics.h — the Prometheus endpoint.
 *
 * Each worker keeps plain counters that only it writes. At most every
 * 10 ms, after a loop iteration, it publishes a copy into its snapshot
 * with relaxed atomic stores (plain moves on x86, no lock, no
 * read-modify-write); whichever worker answers /metrics reads every
 * snapshot with relaxed loads. A worker with unpublished counters sleeps
 * no longer than 10 ms, so /metrics lags a worker by about that much.
 */
#ifndef HELLOD_METRICS_H
#define HELLOD_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#include "hellod/buf.h"
#include "hellod/response.h"

enum hd_counter {
	HD_CTR_REQUESTS,
	HD_CTR_PARSE_ERRORS,
	HD_CTR_ACCEPTED,
	HD_CTR_CLOSED,
	HD_CTR_REFUSED,
	HD_CTR_OPEN, /* a gauge */
	HD_CTR_BYTES_IN,
	HD_CTR_BYTES_OUT,
	HD_CTR_WAKEUPS,
	HD_CTR_EVENTS,
	HD_CTR_ACCEPT_CALLS,
	HD_CTR_READS,
	HD_CTR_READ_EAGAIN,
	HD_CTR_WRITES,
	HD_CTR_WRITE_BLOCKED,
	HD_CTR_POLLER_CTL,
	HD_CTR_DYNAMIC_OK,     /* 200s of /metrics and echo */
	HD_CTR_DYNAMIC_FAILED, /* their 500s */
	HD_CTR_PROXY_ERRORS,
	HD_CTR_TIMEOUTS_HEADER,
	HD_CTR_TIMEOUTS_KEEPALIVE,
	HD_CTR_TIMEOUTS_WRITE,
	HD_CTR_ANSWERED, /* + enum hd_resp_kind: answers by kind */
	/* + the index of a `route` line: its answers */
	HD_CTR_ROUTE_ANSWERED = HD_CTR_ANSWERED + HD_RESP_KIND_COUNT,
	HD_CTR_COUNT = HD_CTR_ROUTE_ANSWERED + HD_MAX_STATIC_ROUTES
};

struct hd_metrics_snapshot {
	_Atomic uint64_t value[HD_CTR_COUNT];
};

struct hd_worker;
/* Copies w's counters into w's snapshot; only w's thread calls it. */
void hd_metrics_publish(struct hd_worker *w);
/* Renders every worker's snapshot in the Prometheus text format, one
 * series per worker (worker="N") and no sum of them (sum() in PromQL
 * makes it), then hellod_build_info and the process_* metrics. Returns
 * 0, or -1 when out of memory. */
int hd_metrics_render(struct hd_worker *const *workers, int count,
		      struct hd_buf *out);

#define HD_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
