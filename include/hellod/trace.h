/* trace.h — --trace: one worker narrates each step, one line to stderr.
 *
 * What the kernel reported (`epoll_wait → fd 7 IN`) and what the server
 * did about it (`read(fd 7, 65536) = 27`, `1 request answered`,
 * `send(fd 7, 131) = 131`, `epoll_ctl MOD fd 7 IN|OUT`), so a student
 * can run one client against two modes and read the difference. A line
 * budget bounds it. When tracing is off the owners' trace pointers are
 * NULL, and each step pays one well-predicted branch (HD_TRACE).
 */
#ifndef HELLOD_TRACE_H
#define HELLOD_TRACE_H

#include <stddef.h>
#include <stdint.h>

struct hd_trace {
	unsigned long left; /* lines still to print */
};

/* Prints one "trace: ..." line if the budget allows; the last one says
 * the budget is spent. */
__attribute__((format(printf, 2, 3))) void hd_trace_say(struct hd_trace *t,
							const char *fmt, ...);

/* Whether t narrates: one branch on a pointer that is NULL unless
 * --trace is on. -DHD_NO_TRACE compiles every such branch out, to
 * measure what they cost (docs/edge-vs-level.md, section 11). */
#ifdef HD_NO_TRACE
#define HD_TRACING(t) ((void)(t), 0)
#else
#define HD_TRACING(t) __builtin_expect((t) != NULL, 0)
#endif

#define HD_TRACE(t, ...)                                                       \
	do {                                                                   \
		if (HD_TRACING(t))                                             \
			hd_trace_say((t), __VA_ARGS__);                        \
	} while (0)

/* HD_EV_* as "IN|OUT|HUP" ("-" for none), in buf. */
const char *hd_trace_events(uint32_t events, char *buf, size_t len);

#endif
