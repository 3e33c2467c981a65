/* metrics.c — publishing worker counters and rendering /metrics. */
#include "hellod/metrics.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "hellod/proc_metrics.h"
#include "hellod/worker.h"

void hd_metrics_publish(struct hd_worker *w)
{
	uint64_t v[HD_CTR_COUNT];
	const struct hd_loop_stats *st = &w->loop.stats;
	v[HD_CTR_REQUESTS] = w->loop.http.requests;
	v[HD_CTR_PARSE_ERRORS] = w->loop.http.parse_errors;
	v[HD_CTR_ACCEPTED] = st->accepted;
	v[HD_CTR_CLOSED] = st->closed;
	v[HD_CTR_REFUSED] = st->refused;
	v[HD_CTR_OPEN] = w->loop.open_conns;
	v[HD_CTR_BYTES_IN] = st->bytes_in;
	v[HD_CTR_BYTES_OUT] = st->bytes_out;
	v[HD_CTR_WAKEUPS] = w->poller->wait_calls;
	v[HD_CTR_EVENTS] = w->poller->events;
	v[HD_CTR_ACCEPT_CALLS] = st->accepts;
	v[HD_CTR_READS] = st->reads;
	v[HD_CTR_READ_EAGAIN] = st->read_eagain;
	v[HD_CTR_WRITES] = st->writes;
	v[HD_CTR_WRITE_BLOCKED] = st->write_eagain;
	v[HD_CTR_POLLER_CTL] = w->poller->ctl_calls;
	v[HD_CTR_DYNAMIC_OK] = w->loop.http.dynamic_ok;
	v[HD_CTR_DYNAMIC_FAILED] = w->loop.http.dynamic_failed;
	v[HD_CTR_PROXY_ERRORS] = st->proxy_errors;
	v[HD_CTR_TIMEOUTS_HEADER] = st->timeouts_header;
	v[HD_CTR_TIMEOUTS_KEEPALIVE] = st->timeouts_keepalive;
	v[HD_CTR_TIMEOUTS_WRITE] = st->timeouts_write;
	for (int k = 0; k < HD_RESP_KIND_COUNT; k++)
		v[HD_CTR_ANSWERED + k] = w->loop.http.answered[k];
	for (int i = 0; i < HD_MAX_STATIC_ROUTES; i++)
		v[HD_CTR_ROUTE_ANSWERED + i] = w->loop.http.answered_route[i];
	for (int i = 0; i < HD_CTR_COUNT; i++)
		atomic_store_explicit(&w->snapshot.value[i], v[i],
				      memory_order_relaxed);
}

static const struct {
	enum hd_counter id;
	const char *name;
	const char *type;
	const char *help;
} series[] = {
	{HD_CTR_PARSE_ERRORS, "hellod_parse_errors_total", "counter",
	 "Requests refused as malformed or over a limit."},
	{HD_CTR_PROXY_ERRORS, "hellod_proxy_protocol_errors_total", "counter",
	 "Connections closed for a missing or invalid PROXY header."},
	{HD_CTR_TIMEOUTS_HEADER, "hellod_header_timeouts_total", "counter",
	 "Connections closed by header_timeout (slow headers or body)."},
	{HD_CTR_TIMEOUTS_KEEPALIVE, "hellod_keepalive_timeouts_total",
	 "counter", "Idle connections closed by keepalive_timeout."},
	{HD_CTR_TIMEOUTS_WRITE, "hellod_write_timeouts_total", "counter",
	 "Connections closed by write_timeout (client stopped reading)."},
	{HD_CTR_ACCEPTED, "hellod_connections_accepted_total", "counter",
	 "Connections accepted."},
	{HD_CTR_CLOSED, "hellod_connections_closed_total", "counter",
	 "Connections closed."},
	{HD_CTR_REFUSED, "hellod_connections_refused_total", "counter",
	 "Connections closed at once (limits, out of descriptors)."},
	{HD_CTR_OPEN, "hellod_connections_open", "gauge",
	 "Connections open now."},
	{HD_CTR_BYTES_IN, "hellod_received_bytes_total", "counter",
	 "Bytes read from clients."},
	{HD_CTR_BYTES_OUT, "hellod_sent_bytes_total", "counter",
	 "Bytes written to clients."},
	{HD_CTR_WAKEUPS, "hellod_loop_wakeups_total", "counter",
	 "epoll_wait, poll or select calls."},
	{HD_CTR_EVENTS, "hellod_loop_events_total", "counter",
	 "Readiness events delivered by the poller."},
	{HD_CTR_ACCEPT_CALLS, "hellod_accept_calls_total", "counter",
	 "accept4 calls, the one that hit EAGAIN included."},
	{HD_CTR_READS, "hellod_reads_total", "counter", "read calls."},
	{HD_CTR_READ_EAGAIN, "hellod_reads_eagain_total", "counter",
	 "read calls that found nothing (EAGAIN)."},
	{HD_CTR_WRITES, "hellod_writes_total", "counter", "send calls."},
	{HD_CTR_WRITE_BLOCKED, "hellod_writes_blocked_total", "counter",
	 "send calls the kernel did not take whole."},
	{HD_CTR_POLLER_CTL, "hellod_poller_ctl_total", "counter",
	 "epoll_ctl calls (or watch-set changes for poll and select)."},
};

static uint64_t load(const struct hd_worker *w, int id)
{
	return atomic_load_explicit(&w->snapshot.value[id],
				    memory_order_relaxed);
}

/* One metric family: HELP, TYPE, a line per worker. No line sums the
 * workers: PromQL's sum() over every series would count it twice. */
static int render_family(struct hd_worker *const *workers, int count, int id,
			 const char *name, const char *type, const char *help,
			 struct hd_buf *out)
{
	char line[256];
	int n = snprintf(line, sizeof(line), "# HELP %s %s\n# TYPE %s %s\n",
			 name, help, name, type);
	if (hd_buf_append(out, line, (size_t)n))
		return -1;
	for (int i = 0; i < count; i++) {
		n = snprintf(line, sizeof(line),
			     "%s{worker=\"%d\"} %" PRIu64 "\n", name,
			     workers[i]->id, load(workers[i], id));
		if (hd_buf_append(out, line, (size_t)n))
			return -1;
	}
	return 0;
}

/* Sums a worker's answers by status code: several kinds share a code. */
/* Adds v answers of status code to the distinct codes seen so far. */
static void add_code(int code, uint64_t v, int *codes, uint64_t *counts,
		     int *distinct)
{
	int j = 0;
	while (j < *distinct && codes[j] != code)
		j++;
	if (j == *distinct) {
		codes[j] = code;
		counts[(*distinct)++] = 0;
	}
	counts[j] += v;
}

/* Sums a worker's answers by status code: several kinds and routes
 * share a code. */
static int codes_of(const struct hd_worker *w, int *codes, uint64_t *counts)
{
	int distinct = 0;
	for (int k = 0; k < HD_RESP_KIND_COUNT; k++)
		add_code(hd_resp_kind_status(w->cfg, k),
			 load(w, HD_CTR_ANSWERED + k), codes, counts,
			 &distinct);
	add_code(200, load(w, HD_CTR_DYNAMIC_OK), codes, counts, &distinct);
	add_code(500, load(w, HD_CTR_DYNAMIC_FAILED), codes, counts, &distinct);
	for (int i = 0; i < w->cfg->route_count; i++)
		add_code(w->cfg->routes[i].status,
			 load(w, HD_CTR_ROUTE_ANSWERED + i), codes, counts,
			 &distinct);
	return distinct;
}

static int render_requests(struct hd_worker *const *workers, int count,
			   struct hd_buf *out)
{
	enum { MAX_CODES = HD_RESP_KIND_COUNT + 2 + HD_MAX_STATIC_ROUTES };
	char line[256];
	const char *name = "hellod_requests_total";
	int n = snprintf(line, sizeof(line),
			 "# HELP %s Requests answered, by status code.\n"
			 "# TYPE %s counter\n",
			 name, name);
	if (hd_buf_append(out, line, (size_t)n))
		return -1;
	for (int i = 0; i < count; i++) {
		int codes[MAX_CODES];
		uint64_t counts[MAX_CODES];
		int distinct = codes_of(workers[i], codes, counts);
		for (int c = 0; c < distinct; c++) {
			n = snprintf(line, sizeof(line),
				     "%s{worker=\"%d\",code=\"%d\"} %" PRIu64
				     "\n",
				     name, workers[i]->id, codes[c], counts[c]);
			if (hd_buf_append(out, line, (size_t)n))
				return -1;
		}
	}
	return 0;
}

/* A constant 1 whose labels say what runs, the usual *_build_info. */
static int render_build_info(const struct hd_config *cfg, struct hd_buf *out)
{
	char line[256];
	const char *name = "hellod_build_info";
	int n = snprintf(line, sizeof(line),
			 "# HELP %s hellod's version and the poller and "
			 "trigger it runs with.\n# TYPE %s gauge\n"
			 "%s{version=\"%s\",poller=\"%s\",trigger=\"%s\"} 1\n",
			 name, name, name, HD_VERSION,
			 hd_poller_name(cfg->poller),
			 hd_trigger_name(cfg->trigger));
	return hd_buf_append(out, line, (size_t)n);
}

int hd_metrics_render(struct hd_worker *const *workers, int count,
		      struct hd_buf *out)
{
	if (count < 1 || render_build_info(workers[0]->cfg, out) ||
	    render_requests(workers, count, out))
		return -1;
	for (size_t i = 0; i < sizeof(series) / sizeof(series[0]); i++)
		if (render_family(workers, count, series[i].id, series[i].name,
				  series[i].type, series[i].help, out))
			return -1;
	return hd_proc_metrics_render(out);
}
