/* pitfalls.h — the teaching switches that break hellod on purpose.
 *
 * read_once and accept_once make the edge-triggered loop stop before the
 * socket or the backlog is drained, the classic edge-triggered bug; under
 * level triggering they only cost extra wakeups. read_size makes each
 * read() small so the effect shows with ordinary requests. See
 * docs/edge-vs-level.md.
 */
#ifndef HELLOD_PITFALLS_H
#define HELLOD_PITFALLS_H

#include <stdbool.h>
#include <stdio.h>

#include "hellod/config.h"

/* True when read_once or accept_once is on. */
bool hd_pitfalls_on(const struct hd_config *cfg);
/* Writes one warning line to f when a pitfall is on, and one note when
 * read_size is not the default; nothing otherwise. */
void hd_pitfalls_warn(FILE *f, const struct hd_config *cfg);

#endif
