/* suites.h — every Check suite the runner knows, one per source file. */
#ifndef HELLOD_TESTS_SUITES_H
#define HELLOD_TESTS_SUITES_H

#include <check.h>
#include <stdbool.h>

Suite *buf_suite(void);
Suite *config_suite(void);
Suite *date_cache_suite(void);
Suite *response_suite(void);
Suite *http_suite(void);
Suite *resp_check_suite(void);
Suite *proxy_protocol_suite(void);
Suite *operator_suite(void);
Suite *haproxy_suite(void);
Suite *handoff_suite(void);
Suite *listen_set_suite(void);
Suite *timer_suite(void);
Suite *teaching_suite(void);
/* The I/O ladder's rungs below select (busy, blocking) and --trace. */
Suite *ladder_suite(void);
/* Every exercise of docs/lab.md, as the sheet runs it. */
Suite *lab_suite(void);
Suite *sim_suite(void);
/* The io_uring poller's own hazards (fd reuse, dry ring, partial sends). */
Suite *uring_suite(void);
Suite *systemd_suite(void);
enum hd_test_mode {
	HD_TEST_EPOLL_EDGE,
	HD_TEST_EPOLL_LEVEL,
	HD_TEST_POLL,
	HD_TEST_SELECT,
	HD_TEST_BUSY,
	HD_TEST_BLOCKING,
	HD_TEST_THREADS,
	HD_TEST_URING,
	HD_TEST_MODE_COUNT
};
/* A mode's name ("epoll-edge") and the fixture that sets its flags in
 * test_mode_args. */
struct test_mode {
	const char *name;
	void (*setup)(void);
};
extern const struct test_mode test_modes[HD_TEST_MODE_COUNT];
/* Whether a mode serves several connections at once (blocking does not:
 * a second client waits until the first closes). */
bool test_mode_concurrent(enum hd_test_mode mode);
/* Whether one worker holds several connections at once (blocking and
 * threads do not: each thread serves one until it closes, so limits per
 * worker and descriptor exhaustion do not arise the same way). */
bool test_mode_multiplexed(enum hd_test_mode mode);
/* Prints "SKIPPED: <suite> <test>: ..." for a test left out of a mode. */
void test_mode_skip(enum hd_test_mode mode, const char *test);
/* The same for a test that needs one worker holding several. */
void test_mode_skip_multiplexed(enum hd_test_mode mode, const char *test);
/* Adds a test that needs several connections served at once, or, for a
 * mode that serves one at a time, leaves it out (not counted as passed)
 * and says so. */
#define TCASE_ADD_CONCURRENT(tc, mode, test)                                   \
	do {                                                                   \
		if (test_mode_concurrent(mode))                                \
			tcase_add_test(tc, test);                              \
		else                                                           \
			test_mode_skip(mode, #test);                           \
	} while (0)
#define TCASE_ADD_MULTIPLEXED(tc, mode, test)                                  \
	do {                                                                   \
		if (test_mode_multiplexed(mode))                               \
			tcase_add_test(tc, test);                              \
		else                                                           \
			test_mode_skip_multiplexed(mode, #test);               \
	} while (0)
extern const char *test_mode_args;
/* The same integration tests, against a server in the given mode. */
Suite *integration_suite(enum hd_test_mode mode);
/* HTTP semantics (test_semantics.c), added to each integration suite. */
void semantics_tests_add(TCase *tc);
/* Real clients from Debian (curl, http.client, ab, h2load). */
Suite *clients_suite(enum hd_test_mode mode);
/* Limits, timeouts, backpressure, fd exhaustion, in the given mode. */
Suite *robust_suite(enum hd_test_mode mode);
/* Attacks on the connection layer (leaks between clients, unbounded
 * output, timeouts, resets, lost FINs, busy loops), in the given mode. */
Suite *attack_suite(enum hd_test_mode mode);

#endif
