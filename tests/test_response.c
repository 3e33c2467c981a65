/* test_response.c — tests for src/response.c */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "hellod/response.h"
#include "suites.h"

static const char date1[] = "Sun, 06 Nov 1994 08:49:37 GMT";
static const char date2[] = "Mon, 07 Nov 1994 09:50:38 GMT";

START_TEST(builds_a_complete_response)
{
	struct hd_buf out = {0};
	size_t date_off, head_len;
	ck_assert_int_eq(hd_response_build(&out, 200, HD_MODE_KEEP, "hellod",
					   "text/plain", "Hello", 5, date1,
					   &date_off, &head_len),
			 0);
	const char *expect = "HTTP/1.1 200 OK\r\n"
			     "Server: hellod\r\n"
			     "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
			     "Content-Type: text/plain\r\n"
			     "Content-Length: 5\r\n"
			     "\r\n"
			     "Hello";
	ck_assert_uint_eq(out.len, strlen(expect));
	ck_assert_int_eq(memcmp(out.data, expect, out.len), 0);
	ck_assert_uint_eq(head_len, strlen(expect) - 5);
	ck_assert_int_eq(memcmp(out.data + date_off, date1, HD_DATE_LEN), 0);
	hd_buf_free(&out);
}
END_TEST

START_TEST(modes_set_the_connection_header)
{
	struct hd_buf out = {0};
	size_t date_off, head_len;
	hd_response_build(&out, 404, HD_MODE_CLOSE, "s", "text/plain", "", 0,
			  date1, &date_off, &head_len);
	ck_assert_ptr_nonnull(
		memmem(out.data, out.len, "\r\nConnection: close\r\n\r\n", 23));
	ck_assert_ptr_nonnull(memmem(out.data, out.len, "404 Not Found", 13));
	out.len = 0;
	hd_response_build(&out, 200, HD_MODE_KEEP_10, "s", "text/plain", "", 0,
			  date1, &date_off, &head_len);
	ck_assert_ptr_nonnull(memmem(out.data, out.len,
				     "\r\nConnection: keep-alive\r\n", 26));
	hd_buf_free(&out);
}
END_TEST

START_TEST(no_body_for_204)
{
	struct hd_buf out = {0};
	size_t date_off, head_len;
	hd_response_build(&out, 204, HD_MODE_KEEP, "s", "text/plain", "abc", 3,
			  date1, &date_off, &head_len);
	ck_assert_uint_eq(out.len, head_len);
	ck_assert_ptr_nonnull(
		memmem(out.data, out.len, "Content-Length: 0", 17));
	hd_buf_free(&out);
}
END_TEST

START_TEST(table_is_patched_with_new_date)
{
	struct hd_config cfg;
	struct hd_responses rs;
	ck_assert_int_eq(hd_config_defaults(&cfg), 0);
	ck_assert_int_eq(hd_responses_init(&rs, &cfg, date1), 0);
	hd_responses_set_date(&rs, date2);
	for (int k = 0; k < HD_RESP_KIND_COUNT; k++)
		for (int m = 0; m < HD_MODE_COUNT; m++) {
			const struct hd_response *r =
				hd_responses_get(&rs, k, m);
			ck_assert_ptr_nonnull(memmem(r->bytes, r->total_len,
						     "Date: Mon, 07 Nov 1994 "
						     "09:50:38 GMT\r\n",
						     37));
			ck_assert_ptr_null(memmem(r->bytes, r->total_len,
						  "1994 08:49:37", 13));
			ck_assert_int_eq(memcmp(r->bytes, "HTTP/1.1 ", 9), 0);
			ck_assert_int_eq(memcmp(r->bytes + r->head_len - 4,
						"\r\n\r\n", 4),
					 0);
		}
	const struct hd_response *main_r =
		hd_responses_get(&rs, HD_RESP_MAIN, HD_MODE_KEEP);
	ck_assert_int_eq(
		memcmp(main_r->bytes + main_r->head_len, "Hello, World!", 13),
		0);
	ck_assert_uint_eq(main_r->total_len, main_r->head_len + 13);
	hd_responses_free(&rs);
	hd_config_free(&cfg);
}
END_TEST

START_TEST(reason_phrases)
{
	ck_assert_str_eq(hd_status_reason(200), "OK");
	ck_assert_str_eq(hd_status_reason(431),
			 "Request Header Fields Too Large");
	ck_assert_str_eq(hd_status_reason(299), "OK");
	ck_assert_str_eq(hd_status_reason(599), "Server Error");
}
END_TEST

Suite *response_suite(void)
{
	Suite *s = suite_create("response");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, builds_a_complete_response);
	tcase_add_test(tc, modes_set_the_connection_header);
	tcase_add_test(tc, no_body_for_204);
	tcase_add_test(tc, table_is_patched_with_new_date);
	tcase_add_test(tc, reason_phrases);
	suite_add_tcase(s, tc);
	return s;
}
