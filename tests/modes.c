/* modes.c — the ways of multiplexing every server suite runs in. Each
 * mode's fixture sets the flags before its tests run (Check runs every
 * test in a forked child, after the fixture). */
#include "suites.h"

#include <stdio.h>

const char *test_mode_args = ""; /* e.g. "--poller poll" */

static void mode_epoll_edge(void)
{
	test_mode_args = "--poller epoll --trigger edge";
}
static void mode_epoll_level(void)
{
	test_mode_args = "--poller epoll --trigger level";
}
static void mode_poll(void)
{
	test_mode_args = "--poller poll";
}
static void mode_select(void)
{
	test_mode_args = "--poller select";
}

/* Busy polling sleeps 1 ms between passes here: spinning would burn both
 * cores of a shared machine for the whole suite (test_teaching.c shows
 * the spin on its own, briefly). */
static void mode_busy(void)
{
	test_mode_args = "--poller busy --busy-sleep 1ms";
}

static void mode_blocking(void)
{
	test_mode_args = "--poller blocking";
}

/* A thread per connection, 64 of them: after a test's own -w, which
 * counts CPUs' workers, so the pool serves the clients it opens. */
static void mode_threads(void)
{
	test_mode_args = "--poller threads -w 64";
}

static void mode_uring(void)
{
	test_mode_args = "--poller uring";
}

const struct test_mode test_modes[HD_TEST_MODE_COUNT] = {
	[HD_TEST_EPOLL_EDGE] = {"epoll-edge", mode_epoll_edge},
	[HD_TEST_EPOLL_LEVEL] = {"epoll-level", mode_epoll_level},
	[HD_TEST_POLL] = {"poll", mode_poll},
	[HD_TEST_SELECT] = {"select", mode_select},
	[HD_TEST_BUSY] = {"busy", mode_busy},
	[HD_TEST_BLOCKING] = {"blocking", mode_blocking},
	[HD_TEST_THREADS] = {"threads", mode_threads},
	[HD_TEST_URING] = {"uring", mode_uring},
};

bool test_mode_concurrent(enum hd_test_mode mode)
{
	return mode != HD_TEST_BLOCKING;
}

bool test_mode_multiplexed(enum hd_test_mode mode)
{
	return mode != HD_TEST_BLOCKING && mode != HD_TEST_THREADS;
}

void test_mode_skip_multiplexed(enum hd_test_mode mode, const char *test)
{
	printf("SKIPPED: %s in mode %s (it needs one worker holding several "
	       "connections; each thread of this mode serves one at a "
	       "time)\n",
	       test, test_modes[mode].name);
}

void test_mode_skip(enum hd_test_mode mode, const char *test)
{
	printf("SKIPPED: %s in mode %s (it needs several connections served "
	       "at once; this mode serves one at a time)\n",
	       test, test_modes[mode].name);
}
