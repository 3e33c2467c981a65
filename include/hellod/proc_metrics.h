/* proc_metrics.h — the process_* metrics every Prometheus client library
 * exports (CPU time, resident memory, descriptors, start time).
 *
 * Read from /proc and getrlimit when /metrics is asked for, never on the
 * hot path: a scrape costs a handful of small reads.
 */
#ifndef HELLOD_PROC_METRICS_H
#define HELLOD_PROC_METRICS_H

#include "hellod/buf.h"

/* Appends the families it could read, each with HELP and TYPE; one that
 * cannot be read (no /proc, say) is left out rather than made up.
 * Returns 0, or -1 when out of memory. */
int hd_proc_metrics_render(struct hd_buf *out);

#endif
