/* test_timer.c — the timer wheel (src/timer.c) on a fake clock. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "hellod/timer.h"
#include "suites.h"

#define T0 1000000 /* the fake clock starts here (ms) */

static struct hd_wheel *wh;
static struct hd_timer timers[64];
static int fired[64];	  /* how often each timer fired */
static uint64_t clock_ms; /* when the last fire happened */
static uint64_t fired_at[64];

static void setup(void)
{
	wh = malloc(sizeof(*wh));
	hd_wheel_init(wh, T0);
	memset(timers, 0, sizeof(timers));
	memset(fired, 0, sizeof(fired));
	memset(fired_at, 0, sizeof(fired_at));
	clock_ms = T0;
}

static void teardown(void)
{
	free(wh);
}

static void on_fire(void *arg, struct hd_timer *t)
{
	(void)arg;
	int i = (int)(t - timers);
	ck_assert(!hd_timer_armed(t));
	fired[i]++;
	fired_at[i] = clock_ms;
}

/* Runs the clock to `to` in steps of step_ms, as a loop would. */
static void run_until(uint64_t to, uint64_t step_ms)
{
	while (clock_ms < to) {
		clock_ms += step_ms;
		if (clock_ms > to)
			clock_ms = to;
		hd_wheel_set_clock(wh, clock_ms);
		hd_wheel_expire(wh, on_fire, NULL);
	}
}

static void arm_ms(int i, uint32_t ms)
{
	hd_timer_arm(wh, &timers[i], hd_wheel_deadline(wh, ms));
}

START_TEST(fires_at_or_after_the_deadline_within_two_ticks)
{
	arm_ms(0, 1000);
	arm_ms(1, 1);
	arm_ms(2, 5000);
	run_until(T0 + 10000, 7);
	ck_assert_int_eq(fired[0], 1);
	ck_assert_int_eq(fired[1], 1);
	ck_assert_int_eq(fired[2], 1);
	ck_assert_uint_ge(fired_at[0], T0 + 1000);
	ck_assert_uint_le(fired_at[0], T0 + 1000 + 2 * HD_WHEEL_TICK_MS + 7);
	ck_assert_uint_ge(fired_at[2], T0 + 5000);
	ck_assert_uint_le(fired_at[2], T0 + 5000 + 2 * HD_WHEEL_TICK_MS + 7);
	ck_assert_uint_eq(wh->count, 0);
	ck_assert_int_eq(hd_wheel_timeout_ms(wh, clock_ms), -1);
}
END_TEST

/* Longer than one turn of the wheel (51.2 s): moved on, not fired early. */
START_TEST(deadlines_beyond_one_turn)
{
	arm_ms(0, 180 * 1000);
	run_until(T0 + 179 * 1000, 1000);
	ck_assert_int_eq(fired[0], 0);
	run_until(T0 + 181 * 1000, 10);
	ck_assert_int_eq(fired[0], 1);
	ck_assert_uint_ge(fired_at[0], T0 + 180 * 1000);
}
END_TEST

START_TEST(later_rearm_is_lazy_earlier_rearm_relinks)
{
	arm_ms(0, 1000);
	struct hd_tlink *where = timers[0].link.prev;
	arm_ms(0, 3000); /* later: no list work */
	ck_assert_ptr_eq(timers[0].link.prev, where);
	run_until(T0 + 2900, 10);
	ck_assert_int_eq(fired[0], 0); /* its old slot came, it moved on */
	run_until(T0 + 3200, 10);
	ck_assert_int_eq(fired[0], 1);
	arm_ms(1, 5000);
	arm_ms(1, 200); /* earlier: relinked at once */
	run_until(T0 + 3200 + 400, 10);
	ck_assert_int_eq(fired[1], 1);
}
END_TEST

START_TEST(cancel_and_rearm_many)
{
	for (int i = 0; i < 64; i++)
		arm_ms(i, (uint32_t)(100 + 37 * i));
	ck_assert_uint_eq(wh->count, 64);
	for (int i = 0; i < 64; i += 2)
		hd_timer_cancel(wh, &timers[i]);
	hd_timer_cancel(wh, &timers[0]); /* twice is harmless */
	ck_assert_uint_eq(wh->count, 32);
	run_until(T0 + 5000, 3);
	for (int i = 0; i < 64; i++)
		ck_assert_int_eq(fired[i], i % 2);
	for (int i = 0; i < HD_WHEEL_SLOTS / 64; i++)
		ck_assert_uint_eq(wh->busy[i], 0);
}
END_TEST

/* After a long sleep every due timer fires in one expire call. */
START_TEST(a_long_sleep_fires_everything_due)
{
	arm_ms(0, 100);
	arm_ms(1, 30 * 1000);
	arm_ms(2, 200 * 1000);
	run_until(T0 + 100 * 1000, 100 * 1000);
	ck_assert_int_eq(fired[0], 1);
	ck_assert_int_eq(fired[1], 1);
	ck_assert_int_eq(fired[2], 0);
	run_until(T0 + 300 * 1000, 100 * 1000);
	ck_assert_int_eq(fired[2], 1);
}
END_TEST

START_TEST(timeout_points_at_the_next_busy_tick)
{
	ck_assert_int_eq(hd_wheel_timeout_ms(wh, T0), -1);
	arm_ms(0, 1000);
	int ms = hd_wheel_timeout_ms(wh, T0);
	ck_assert_int_ge(ms, 1000);
	ck_assert_int_le(ms, 1000 + 2 * HD_WHEEL_TICK_MS);
	arm_ms(1, 300);
	ms = hd_wheel_timeout_ms(wh, T0);
	ck_assert_int_ge(ms, 300);
	ck_assert_int_le(ms, 300 + 2 * HD_WHEEL_TICK_MS);
	hd_timer_cancel(wh, &timers[1]);
	ck_assert_int_ge(hd_wheel_timeout_ms(wh, T0), 1000);
	/* Past due but not yet expired: wake at once. */
	ck_assert_int_eq(hd_wheel_timeout_ms(wh, T0 + 5000), 0);
}
END_TEST

/* A fire callback may cancel a timer due in the same tick. */
static void cancel_next(void *arg, struct hd_timer *t)
{
	on_fire(arg, t);
	int i = (int)(t - timers);
	hd_timer_cancel(wh, &timers[i ^ 1]);
}

START_TEST(fire_may_cancel_others_due_now)
{
	arm_ms(0, 500);
	arm_ms(1, 500);
	clock_ms = T0 + 1000;
	hd_wheel_set_clock(wh, clock_ms);
	hd_wheel_expire(wh, cancel_next, NULL);
	ck_assert_int_eq(fired[0] + fired[1], 1);
	ck_assert_uint_eq(wh->count, 0);
}
END_TEST

Suite *timer_suite(void)
{
	Suite *s = suite_create("timer");
	TCase *tc = tcase_create("wheel");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, fires_at_or_after_the_deadline_within_two_ticks);
	tcase_add_test(tc, deadlines_beyond_one_turn);
	tcase_add_test(tc, later_rearm_is_lazy_earlier_rearm_relinks);
	tcase_add_test(tc, cancel_and_rearm_many);
	tcase_add_test(tc, a_long_sleep_fires_everything_due);
	tcase_add_test(tc, timeout_points_at_the_next_busy_tick);
	tcase_add_test(tc, fire_may_cancel_others_due_now);
	suite_add_tcase(s, tc);
	return s;
}
