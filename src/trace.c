/* trace.c — the --trace narrator's output (see trace.h). */
#include "hellod/trace.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hellod/poller.h"

void hd_trace_say(struct hd_trace *t, const char *fmt, ...)
{
	if (!t->left)
		return;
	char line[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One fprintf per line: stderr is unbuffered, so one write, and
	 * lines of the traced worker do not interleave mid-line. */
	if (--t->left)
		fprintf(stderr, "trace: %s\n", line);
	else
		fprintf(stderr,
			"trace: %s\ntrace: line budget spent; silent "
			"from here\n",
			line);
}

const char *hd_trace_events(uint32_t events, char *buf, size_t len)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} names[] = {
		{HD_EV_READ, "IN"}, {HD_EV_WRITE, "OUT"}, {HD_EV_HUP, "HUP"}};
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (events & names[i].bit)
			snprintf(buf + strlen(buf), len - strlen(buf), "%s%s",
				 buf[0] ? "|" : "", names[i].name);
	if (!buf[0])
		snprintf(buf, len, "-");
	return buf;
}
