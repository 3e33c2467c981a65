/* date_cache.c — IMF-fixdate formatting, once per second per worker. */
#include "hellod/date_cache.h"

#include <stdio.h>

static const char weekdays[7][4] = {"Sun", "Mon", "Tue", "Wed",
				    "Thu", "Fri", "Sat"};
static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
				   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* Written by hand rather than with strftime: strftime's %a and %b follow
 * the locale, and HTTP dates must be in English whatever LC_TIME says. */
void hd_date_format(time_t t, char out[HD_DATE_LEN + 1])
{
	struct tm tm;
	gmtime_r(&t, &tm);
	snprintf(out, HD_DATE_LEN + 1, "%s, %02d %s %04d %02d:%02d:%02d GMT",
		 weekdays[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
		 (tm.tm_year + 1900) % 10000, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

void hd_date_cache_init(struct hd_date_cache *cache)
{
	cache->second = -1;
	cache->formats = 0;
	cache->text[0] = '\0';
}

bool hd_date_cache_update(struct hd_date_cache *cache, time_t now)
{
	if (now == cache->second)
		return false;
	cache->second = now;
	hd_date_format(now, cache->text);
	cache->formats++;
	return true;
}
