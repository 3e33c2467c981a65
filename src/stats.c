/* stats.c — the --stats table printed at exit. */
#include "hellod/stats.h"

#include <inttypes.h>
#include <sys/resource.h>

#include "hellod/worker.h"

struct row {
	uint64_t waits, events, ctl, accepts, reads, eagain, writes, bytes_in,
		bytes_out, requests, accepted, accept_empty;
};

static struct row row_of(const struct hd_worker *w)
{
	return (struct row){
		.waits = w->poller->wait_calls,
		.events = w->poller->events,
		.ctl = w->poller->ctl_calls,
		.accepts = w->loop.stats.accepts,
		.reads = w->loop.stats.reads,
		.eagain = w->loop.stats.read_eagain,
		.writes = w->loop.stats.writes,
		.bytes_in = w->loop.stats.bytes_in,
		.bytes_out = w->loop.stats.bytes_out,
		.requests = w->loop.http.requests,
		.accepted = w->loop.stats.accepted,
		.accept_empty = w->loop.stats.accept_empty,
	};
}

static void print_row(FILE *f, const char *name, const struct row *r)
{
	fprintf(f,
		"%-8s %10" PRIu64 " %10" PRIu64 " %8" PRIu64 " %8" PRIu64
		" %10" PRIu64 " %8" PRIu64 " %10" PRIu64 " %12" PRIu64
		" %12" PRIu64 " %10" PRIu64 " %9" PRIu64 " %9" PRIu64 "\n",
		name, r->waits, r->events, r->ctl, r->accepts, r->reads,
		r->eagain, r->writes, r->bytes_in, r->bytes_out, r->requests,
		r->accepted, r->accept_empty);
}

/* Connections ended by timeouts and limits, summed over the workers. */
static void print_robustness(FILE *f, struct hd_worker *const *workers,
			     int count)
{
	uint64_t header = 0, keepalive = 0, write = 0, refused = 0;
	uint64_t lingered = 0, yields = 0;
	for (int i = 0; i < count; i++) {
		const struct hd_loop_stats *st = &workers[i]->loop.stats;
		header += st->timeouts_header;
		keepalive += st->timeouts_keepalive;
		write += st->timeouts_write;
		refused += st->refused;
		lingered += st->lingered;
		yields += st->read_yields;
	}
	fprintf(f,
		"timeouts: header %" PRIu64 ", keepalive %" PRIu64
		", write %" PRIu64 "; refused connections: %" PRIu64
		"; lingering closes: %" PRIu64 "; read budget spent: %" PRIu64
		"\n",
		header, keepalive, write, refused, lingered, yields);
}

/* The CPU the whole process used, so the modes' costs can be compared,
 * busy polling's idle spin above all (the workers are joined by now). */
static void print_cpu(FILE *f)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru))
		return;
	long user = ru.ru_utime.tv_sec * 1000L + ru.ru_utime.tv_usec / 1000;
	long sys = ru.ru_stime.tv_sec * 1000L + ru.ru_stime.tv_usec / 1000;
	fprintf(f, "cpu: user %ld ms, system %ld ms\n", user, sys);
}

void hd_stats_print(FILE *f, struct hd_worker *const *workers, int count)
{
	struct row total = {0};
	/* The last two columns come after the older ones, which scripts
	 * read by position: connections each worker won, and its wakeups
	 * for a listener that found none (nonzero with shared_listener,
	 * where every worker is woken for every connection). */
	fprintf(f,
		"%-8s %10s %10s %8s %8s %10s %8s %10s %12s %12s %10s %9s %9s\n",
		"worker", "waits", "events", "ctl", "accepts", "reads",
		"eagain", "writes", "bytes_in", "bytes_out", "requests",
		"accepted", "acc_empty");
	for (int i = 0; i < count; i++) {
		char name[16];
		struct row r = row_of(workers[i]);
		snprintf(name, sizeof(name), "%d", workers[i]->id);
		print_row(f, name, &r);
		total.waits += r.waits;
		total.events += r.events;
		total.ctl += r.ctl;
		total.accepts += r.accepts;
		total.reads += r.reads;
		total.eagain += r.eagain;
		total.writes += r.writes;
		total.bytes_in += r.bytes_in;
		total.bytes_out += r.bytes_out;
		total.requests += r.requests;
		total.accepted += r.accepted;
		total.accept_empty += r.accept_empty;
	}
	print_row(f, "total", &total);
	print_robustness(f, workers, count);
	print_cpu(f);
}
