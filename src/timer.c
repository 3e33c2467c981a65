/* timer.c — the hashed timer wheel; see timer.h for the contract.
 *
 * Each slot is a circular doubly linked list with a sentinel, so a timer
 * can be unlinked in O(1) without knowing its slot. A timer is linked in
 * the slot of tick min(expires, now + SLOTS - 1): within one turn, so the
 * slot is visited exactly at that tick. A visit fires what is due and
 * relinks what was re-armed later in the meantime (lazy re-arming) or is
 * more than a turn away.
 */
#include "hellod/timer.h"

#include <assert.h>
#include <stddef.h>
#include <string.h>

#define MASK (HD_WHEEL_SLOTS - 1)

static void slot_mark(struct hd_wheel *wh, uint32_t slot, bool busy)
{
	uint64_t bit = (uint64_t)1 << (slot % 64);
	wh->hint_valid = false;
	if (busy)
		wh->busy[slot / 64] |= bit;
	else
		wh->busy[slot / 64] &= ~bit;
}

/* The slot index of a sentinel, or -1 for a timer or a private list. */
static long slot_of(const struct hd_wheel *wh, const struct hd_tlink *l)
{
	uintptr_t p = (uintptr_t)l, base = (uintptr_t)wh->slots;
	if (p < base || p >= base + sizeof(wh->slots))
		return -1;
	return (long)((p - base) / sizeof(wh->slots[0]));
}

static void list_init(struct hd_tlink *head)
{
	head->prev = head->next = head;
}

static void list_add(struct hd_tlink *head, struct hd_tlink *l)
{
	l->next = head->next;
	l->prev = head;
	head->next->prev = l;
	head->next = l;
}

static void unlink_timer(struct hd_wheel *wh, struct hd_timer *t)
{
	struct hd_tlink *prev = t->link.prev, *next = t->link.next;
	prev->next = next;
	next->prev = prev;
	t->link.prev = t->link.next = NULL;
	wh->count--;
	/* The slot went empty: clear its bit so the loop does not wake for
	 * it. Only a sentinel can be its own neighbour. */
	if (prev == next && prev->next == prev) {
		long slot = slot_of(wh, prev);
		if (slot >= 0)
			slot_mark(wh, (uint32_t)slot, false);
	}
}

static void link_timer(struct hd_wheel *wh, struct hd_timer *t)
{
	uint32_t when = t->expires;
	if ((int32_t)(when - wh->now) >= HD_WHEEL_SLOTS)
		when = wh->now + HD_WHEEL_SLOTS - 1;
	if ((int32_t)(when - wh->done) <= 0)
		when = wh->done + 1; /* already due: the next visit fires it */
	uint32_t slot = when & MASK;
	list_add(&wh->slots[slot], &t->link);
	slot_mark(wh, slot, true);
	wh->count++;
}

void hd_wheel_init(struct hd_wheel *wh, uint64_t now_ms)
{
	memset(wh, 0, sizeof(*wh));
	wh->start_ms = now_ms;
	for (int i = 0; i < HD_WHEEL_SLOTS; i++)
		list_init(&wh->slots[i]);
}

void hd_wheel_set_clock(struct hd_wheel *wh, uint64_t now_ms)
{
	/* The coarse clock moves every few ms: most wakeups under load
	 * bring the same reading, and nothing to do. */
	if (now_ms == wh->clock_ms)
		return;
	wh->clock_ms = now_ms;
	uint32_t tick = (uint32_t)((now_ms - wh->start_ms) / HD_WHEEL_TICK_MS);
	if ((int32_t)(tick - wh->now) > 0)
		wh->now = tick;
	if (!wh->count)
		wh->done = wh->now; /* nothing to visit: skip the idle ticks */
}

void hd_timer_arm(struct hd_wheel *wh, struct hd_timer *t, uint32_t expires)
{
	if (hd_timer_armed(t)) {
		if ((int32_t)(expires - t->expires) >= 0) {
			t->expires = expires; /* later: moved when visited */
			return;
		}
		unlink_timer(wh, t);
	}
	t->expires = expires;
	link_timer(wh, t);
}

void hd_timer_cancel(struct hd_wheel *wh, struct hd_timer *t)
{
	if (hd_timer_armed(t))
		unlink_timer(wh, t);
}

/* Visits one slot: takes its whole list aside first, so that timers
 * linked back into the same slot wait for its next visit. */
static void visit(struct hd_wheel *wh, uint32_t slot, hd_timer_fire_fn fire,
		  void *arg)
{
	struct hd_tlink *head = &wh->slots[slot], aside;
	if (head->next == head)
		return;
	aside.next = head->next;
	aside.prev = head->prev;
	aside.next->prev = &aside;
	aside.prev->next = &aside;
	list_init(head);
	slot_mark(wh, slot, false);
	while (aside.next != &aside) {
		struct hd_timer *t = (struct hd_timer *)aside.next;
		unlink_timer(wh, t);
		if ((int32_t)(t->expires - wh->now) <= 0)
			fire(arg, t);
		else
			link_timer(wh, t);
	}
}

void hd_wheel_expire(struct hd_wheel *wh, hd_timer_fire_fn fire, void *arg)
{
	if (wh->now == wh->done)
		return; /* this tick is expired already */
	uint32_t ticks = wh->now - wh->done;
	if (ticks > HD_WHEEL_SLOTS)
		ticks = HD_WHEEL_SLOTS; /* one visit of every slot will do */
	uint32_t first = wh->now - ticks + 1;
	wh->done = wh->now;
	for (uint32_t i = 0; i < ticks && wh->count; i++) {
		uint32_t slot = (first + i) & MASK;
		if (wh->busy[slot / 64] & ((uint64_t)1 << (slot % 64)))
			visit(wh, slot, fire, arg);
	}
}

/* Ticks from `from` to the next busy slot, looking one turn ahead. */
static long next_busy(const struct hd_wheel *wh, uint32_t from)
{
	for (uint32_t d = 0; d < HD_WHEEL_SLOTS;) {
		uint32_t slot = (from + d) & MASK;
		uint64_t word = wh->busy[slot / 64] >> (slot % 64);
		if (word)
			return (long)d + __builtin_ctzll(word);
		d += 64 - slot % 64;
	}
	return -1;
}

int hd_wheel_timeout_ms(struct hd_wheel *wh, uint64_t now_ms)
{
	if (!wh->count)
		return -1;
	uint32_t from = wh->done + 1;
	if (!wh->hint_valid || wh->hint_from != from) {
		long d = next_busy(wh, from);
		wh->hint_d = (int32_t)d;
		wh->hint_at_ms = wh->start_ms +
				 (uint64_t)(uint32_t)(from + (uint32_t)d) *
					 HD_WHEEL_TICK_MS;
		wh->hint_from = from;
		wh->hint_valid = true;
	}
	if (wh->hint_d < 0)
		return -1;
	uint64_t at = wh->hint_at_ms;
	if (at <= now_ms)
		return 0;
	uint64_t ms = at - now_ms;
	return ms > 60000 ? 60000 : (int)ms;
}
