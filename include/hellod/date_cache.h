/* date_cache.h — the IMF-fixdate for the Date header, formatted at most once
 * a second. Each worker owns one, so no lock is needed. */
#ifndef HELLOD_DATE_CACHE_H
#define HELLOD_DATE_CACHE_H

#include <stdbool.h>
#include <time.h>

/* "Sun, 06 Nov 1994 08:49:37 GMT" */
#define HD_DATE_LEN 29

struct hd_date_cache {
	time_t second; /* the second `text` shows; -1 before the first update */
	char text[HD_DATE_LEN + 1];
	unsigned long formats; /* how often text was formatted (for tests) */
};

void hd_date_cache_init(struct hd_date_cache *cache);
/* Brings text up to `now`. Returns true when it changed, so callers patch
 * their precomputed responses only then. */
bool hd_date_cache_update(struct hd_date_cache *cache, time_t now);
/* Formats t as an IMF-fixdate into out (HD_DATE_LEN bytes + NUL). */
void hd_date_format(time_t t, char out[HD_DATE_LEN + 1]);

#endif
