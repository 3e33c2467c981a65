/* load.h — a load generator for restart tests: short Connection: close
 * requests, each on a new loopback connection, kept `inflight` at a time
 * by one thread with nonblocking sockets, so a loaded 2-core machine
 * still makes thousands of new connections a second. Bounded in time and
 * in count. */
#ifndef HELLOD_TESTS_LOAD_H
#define HELLOD_TESTS_LOAD_H

#include <pthread.h>
#include <stdatomic.h>

struct load {
	int port, inflight;
	long long max_ms; /* stops starting connections after this */
	long max_conns;	  /* ... or after this many */
	atomic_bool stop;
	pthread_t thread;
	/* results, valid after load_finish */
	long ok, failed;
	long refused, reset, bad, timeout; /* failed, by kind */
	long long elapsed_ms;
	char first_failure[320];
};

void load_start(struct load *l, int port, int inflight, long long max_ms,
		long max_conns);
/* Stops starting connections, waits (at most 5 s) for those in flight;
 * one still unanswered then counts as a timeout. */
void load_finish(struct load *l);
/* Completed connections (answered or failed) per second. */
double load_rate(const struct load *l);
/* "N requests in T s (R conn/s), F failed (refused a, reset b, bad c,
 * timeout d)" to stdout, prefixed by name. */
void load_report(const struct load *l, const char *name);

#endif
