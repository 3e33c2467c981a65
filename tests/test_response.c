/* test_response.c — tests for src/response.c */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "hellod/response.h"
#include "suites.h"

static const char date1[] = "Sun, 06 Nov 1994 08:49:37 GMT";
static const char date2[] = "Mon, 07 Nov 1994 09:50:38 GMT";

static struct hd_buf out;
static size_t date_off, head_len;

static int build(int status, enum hd_conn_mode mode, const char *body,
		 const char *extra)
{
	struct hd_response_spec spec = {
		.status = status,
		.server = "hellod",
		.content_type = "text/plain",
		.extra_headers = extra,
		.body = body,
		.body_len = strlen(body),
	};
	out.len = 0;
	return hd_response_build(&out, &spec, mode, date1, &date_off,
				 &head_len);
}

static bool out_has(const char *text)
{
	return memmem(out.data, out.len, text, strlen(text)) != NULL;
}

static void free_out(void)
{
	hd_buf_free(&out);
}

START_TEST(builds_a_complete_response)
{
	ck_assert_int_eq(build(200, HD_MODE_KEEP, "Hello", NULL), 0);
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
}
END_TEST

START_TEST(modes_set_the_connection_header)
{
	build(404, HD_MODE_CLOSE, "", NULL);
	ck_assert(out_has("\r\nConnection: close\r\n\r\n"));
	ck_assert(out_has("404 Not Found"));
	build(200, HD_MODE_KEEP_10, "", NULL);
	ck_assert(out_has("\r\nConnection: keep-alive\r\n\r\n"));
	build(200, HD_MODE_KEEP, "", NULL);
	ck_assert(!out_has("Connection:"));
}
END_TEST

/* RFC 9110 6.4.1, 8.6, 15.3.5, 15.3.6, 15.4.5: what each status may say
 * about its content, whatever body the spec carries. */
static const struct {
	int status;
	const char *framing; /* the one framing line, or NULL for none */
	bool typed;	     /* carries Content-Type */
	size_t body_len;
} framings[] = {
	{100, NULL, false, 0}, {200, "Content-Length: 3\r\n", true, 3},
	{204, NULL, false, 0}, {205, "Content-Length: 0\r\n", false, 0},
	{304, NULL, false, 0}, {404, "Content-Length: 3\r\n", true, 3},
};

START_TEST(framing_follows_the_status)
{
	ck_assert_int_eq(build(framings[_i].status, HD_MODE_KEEP, "abc", NULL),
			 0);
	ck_assert_uint_eq(out.len, head_len + framings[_i].body_len);
	if (framings[_i].framing)
		ck_assert(out_has(framings[_i].framing));
	else
		ck_assert_msg(!out_has("Content-Length"),
			      "%d carries Content-Length", framings[_i].status);
	ck_assert(!out_has("Transfer-Encoding"));
	ck_assert_int_eq(out_has("Content-Type"), framings[_i].typed);
}
END_TEST

START_TEST(no_content_type_without_one)
{
	struct hd_response_spec spec = {.status = 200, .server = "hellod"};
	out.len = 0;
	ck_assert_int_eq(hd_response_build(&out, &spec, HD_MODE_KEEP, date1,
					   &date_off, &head_len),
			 0);
	ck_assert(!out_has("Content-Type"));
	ck_assert(out_has("Content-Length: 0\r\n"));
}
END_TEST

START_TEST(extra_headers_come_before_the_blank_line)
{
	build(200, HD_MODE_CLOSE, "x", "X-A: 1\r\nCache-Control: no-store\r\n");
	ck_assert(out_has("Connection: close\r\nX-A: 1\r\n"
			  "Cache-Control: no-store\r\n\r\nx"));
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
	tcase_add_checked_fixture(tc, NULL, free_out);
	tcase_add_test(tc, builds_a_complete_response);
	tcase_add_test(tc, modes_set_the_connection_header);
	tcase_add_loop_test(tc, framing_follows_the_status, 0,
			    (int)(sizeof(framings) / sizeof(framings[0])));
	tcase_add_test(tc, no_content_type_without_one);
	tcase_add_test(tc, extra_headers_come_before_the_blank_line);
	tcase_add_test(tc, table_is_patched_with_new_date);
	tcase_add_test(tc, reason_phrases);
	suite_add_tcase(s, tc);
	return s;
}
