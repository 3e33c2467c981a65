/* test_date_cache.c — tests for src/date_cache.c */
#include <check.h>
#include <locale.h>
#include <string.h>

#include "hellod/date_cache.h"
#include "suites.h"

START_TEST(formats_imf_fixdate)
{
	char out[HD_DATE_LEN + 1];
	hd_date_format(784111777, out); /* RFC 9110's example */
	ck_assert_str_eq(out, "Sun, 06 Nov 1994 08:49:37 GMT");
	hd_date_format(0, out);
	ck_assert_str_eq(out, "Thu, 01 Jan 1970 00:00:00 GMT");
	hd_date_format(951782400, out); /* a leap day */
	ck_assert_str_eq(out, "Tue, 29 Feb 2000 00:00:00 GMT");
	ck_assert_uint_eq(strlen(out), HD_DATE_LEN);
}
END_TEST

START_TEST(formats_once_per_second)
{
	struct hd_date_cache c;
	hd_date_cache_init(&c);
	ck_assert(hd_date_cache_update(&c, 1000));
	for (int i = 0; i < 1000; i++)
		ck_assert(!hd_date_cache_update(&c, 1000));
	ck_assert_uint_eq(c.formats, 1);
	ck_assert(hd_date_cache_update(&c, 1001));
	ck_assert_uint_eq(c.formats, 2);
	ck_assert_str_eq(c.text, "Thu, 01 Jan 1970 00:16:41 GMT");
}
END_TEST

START_TEST(ignores_the_locale)
{
	char out[HD_DATE_LEN + 1];
	/* Day and month names must stay English whatever the locale. */
	setlocale(LC_ALL, "C.UTF-8");
	hd_date_format(784111777, out);
	ck_assert_str_eq(out, "Sun, 06 Nov 1994 08:49:37 GMT");
}
END_TEST

Suite *date_cache_suite(void)
{
	Suite *s = suite_create("date_cache");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, formats_imf_fixdate);
	tcase_add_test(tc, formats_once_per_second);
	tcase_add_test(tc, ignores_the_locale);
	suite_add_tcase(s, tc);
	return s;
}
