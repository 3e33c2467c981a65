/* timer.h — a per-worker hashed timer wheel for connection timeouts.
 *
 * Timers are intrusive (a struct hd_timer lives inside its owner) and cost
 * O(1) to arm, re-arm and cancel. The wheel has HD_WHEEL_SLOTS slots of
 * HD_WHEEL_TICK_MS each; a timer further away than one turn sits in the
 * last slot it can reach and is moved on when that slot comes round.
 *
 * Re-arming to a later deadline, which a keep-alive connection does on
 * every request, touches no list: it stores the new deadline, and the
 * timer is moved lazily when its old slot comes due. Only a deadline
 * that moves earlier relinks at once.
 *
 * Timers fire at or after their deadline, never before: at most two ticks
 * (100 ms) late, one for rounding the deadline up to a tick and one for
 * the tick the clock is in when it is armed (tests/test_timer.c). Time is the
 * caller's: a monotonic clock in milliseconds.
 */
#ifndef HELLOD_TIMER_H
#define HELLOD_TIMER_H

#include <stdbool.h>
#include <stdint.h>

#define HD_WHEEL_SLOTS	 1024 /* a power of two */
#define HD_WHEEL_TICK_MS 50

struct hd_tlink {
	struct hd_tlink *prev, *next; /* NULL when the timer is not armed */
};

struct hd_timer {
	struct hd_tlink link; /* first member */
	uint32_t expires;     /* deadline, in ticks */
	uint8_t kind;	      /* for the owner: which timeout this is */
};

struct hd_wheel {
	uint64_t start_ms; /* the clock at tick 0 */
	uint64_t clock_ms; /* the last hd_wheel_set_clock reading */
	uint32_t now;	   /* the current tick */
	uint32_t done;	   /* ticks up to this one have been expired */
	uint32_t count;	   /* armed timers */
	uint64_t busy[HD_WHEEL_SLOTS / 64]; /* one bit per non-empty slot */
	/* hd_wheel_timeout_ms's last scan, kept until a busy bit changes or
	 * `done` moves: asked once per wakeup, it cost about 70
	 * instructions a keep-alive request to scan anew (callgrind). */
	uint32_t hint_from;  /* the tick the scan started at */
	int32_t hint_d;	     /* its result: -1 none, else ticks ahead */
	uint64_t hint_at_ms; /* and the clock at that tick */
	bool hint_valid;
	struct hd_tlink slots[HD_WHEEL_SLOTS];
};

typedef void (*hd_timer_fire_fn)(void *arg, struct hd_timer *t);

void hd_wheel_init(struct hd_wheel *wh, uint64_t now_ms);
/* Moves the wheel's clock to now_ms (which never goes backwards) without
 * firing anything; timers armed after this count from now_ms. */
void hd_wheel_set_clock(struct hd_wheel *wh, uint64_t now_ms);
/* Fires, in no particular order, every timer whose deadline has passed.
 * The timer is disarmed before fire(arg, t) is called, so fire may free
 * its owner, and arm or cancel any timer. */
void hd_wheel_expire(struct hd_wheel *wh, hd_timer_fire_fn fire, void *arg);
/* Milliseconds from now_ms until the next tick that holds a timer, for
 * epoll_wait: 0 when one is due, -1 when the wheel is empty. */
int hd_wheel_timeout_ms(struct hd_wheel *wh, uint64_t now_ms);

/* The deadline `ms` from the wheel's clock, in ticks, rounded so the
 * timer never fires early. */
static inline uint32_t hd_wheel_deadline(const struct hd_wheel *wh, uint32_t ms)
{
	return wh->now + (ms + HD_WHEEL_TICK_MS - 1) / HD_WHEEL_TICK_MS + 1;
}

static inline bool hd_timer_armed(const struct hd_timer *t)
{
	return t->link.next != 0;
}

/* Arms t for deadline `expires` (from hd_wheel_deadline), or moves it.
 * O(1); no list work when the deadline only moves later. */
void hd_timer_arm(struct hd_wheel *wh, struct hd_timer *t, uint32_t expires);
/* Disarms t if it is armed. O(1). */
void hd_timer_cancel(struct hd_wheel *wh, struct hd_timer *t);

#endif
