/* test_resp_check.c — the response checker the server suites rely on
 * must itself catch each kind of malformed response, however the bytes
 * arrive, and pass everything hellod builds. */
#include <check.h>
#include <string.h>

#include "hellod/response.h"
#include "resp_check.h"
#include "suites.h"

#define DATE "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"

/* Feeds text whole, or a byte at a time; then, if at_eof, ends it. */
static bool check_text(const char *text, bool head, bool bytewise, bool at_eof,
		       struct resp_check *c)
{
	resp_check_init(c);
	c->head = head;
	size_t len = strlen(text);
	bool ok = true;
	if (bytewise)
		for (size_t i = 0; i < len && ok; i++)
			ok = resp_check_feed(c, text + i, 1);
	else
		ok = resp_check_feed(c, text, len);
	return ok && (!at_eof || resp_check_eof(c));
}

static const struct {
	const char *name, *text;
	bool head, at_eof;
} bad[] = {
	{"HTTP/1.0", "HTTP/1.0 200 OK\r\n" DATE "Content-Length: 0\r\n\r\n",
	 false, false},
	{"status of four digits",
	 "HTTP/1.1 2000 OK\r\n" DATE "Content-Length: 0\r\n\r\n", false, false},
	{"204 with Content-Length",
	 "HTTP/1.1 204 No Content\r\n" DATE "Content-Length: 0\r\n\r\n", false,
	 false},
	{"304 with Content-Length",
	 "HTTP/1.1 304 Not Modified\r\n" DATE "Content-Length: 5\r\n\r\n",
	 false, false},
	{"100 with Content-Length",
	 "HTTP/1.1 100 Continue\r\nContent-Length: 0\r\n\r\n", false, false},
	{"205 with content",
	 "HTTP/1.1 205 Reset Content\r\n" DATE "Content-Length: 3\r\n\r\nabc",
	 false, false},
	{"200 without framing", "HTTP/1.1 200 OK\r\n" DATE "\r\n", false,
	 false},
	{"200 chunked",
	 "HTTP/1.1 200 OK\r\n" DATE "Transfer-Encoding: chunked\r\n\r\n"
	 "0\r\n\r\n",
	 false, false},
	{"two Content-Lengths",
	 "HTTP/1.1 200 OK\r\n" DATE "Content-Length: 1\r\n"
	 "Content-Length: 1\r\n\r\nx",
	 false, false},
	{"no Date", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false,
	 false},
	{"two Dates",
	 "HTTP/1.1 200 OK\r\n" DATE DATE "Content-Length: 0\r\n\r\n", false,
	 false},
	{"Date not IMF-fixdate",
	 "HTTP/1.1 200 OK\r\nDate: Sunday, 06-Nov-94 08:49:37 GMT\r\n"
	 "Content-Length: 0\r\n\r\n",
	 false, false},
	{"Date with a bad month",
	 "HTTP/1.1 200 OK\r\nDate: Sun, 06 Nox 1994 08:49:37 GMT\r\n"
	 "Content-Length: 0\r\n\r\n",
	 false, false},
	{"space before colon",
	 "HTTP/1.1 200 OK\r\n" DATE "Server : x\r\nContent-Length: 0\r\n\r\n",
	 false, false},
	{"bare LF", "HTTP/1.1 200 OK\n" DATE "Content-Length: 0\r\n\r\n", false,
	 false},
	{"body longer than framed",
	 "HTTP/1.1 200 OK\r\n" DATE "Content-Length: 2\r\n\r\nabc", false,
	 false},
	{"bytes after Connection: close",
	 "HTTP/1.1 200 OK\r\n" DATE "Content-Length: 1\r\n"
	 "Connection: close\r\n\r\nx"
	 "HTTP/1.1 200 OK\r\n" DATE "Content-Length: 0\r\n\r\n",
	 false, false},
	{"HEAD answered with a body",
	 "HTTP/1.1 200 OK\r\n" DATE "Content-Length: 2\r\n\r\nab", true, false},
	{"HEAD answered without framing", "HTTP/1.1 200 OK\r\n" DATE "\r\n",
	 true, false},
	{"cut inside the body",
	 "HTTP/1.1 200 OK\r\n" DATE "Content-Length: 5\r\n\r\nab", false, true},
	{"cut inside the head", "HTTP/1.1 200 OK\r\nDa", false, true},
};

START_TEST(catches_each_violation)
{
	struct resp_check c;
	for (int bytewise = 0; bytewise < 2; bytewise++) {
		ck_assert_msg(!check_text(bad[_i].text, bad[_i].head, bytewise,
					  bad[_i].at_eof, &c),
			      "%s passed (%s)", bad[_i].name,
			      bytewise ? "a byte at a time" : "whole");
		ck_assert(c.error[0]);
	}
}
END_TEST

/* Every response hellod precomputes passes, alone and in a stream, as
 * does a 100 Continue before a final response. */
START_TEST(passes_what_hellod_builds)
{
	static const char date[] = "Sun, 06 Nov 1994 08:49:37 GMT";
	struct hd_config cfg;
	struct hd_responses rs;
	ck_assert_int_eq(hd_config_defaults(&cfg), 0);
	ck_assert_int_eq(hd_responses_init(&rs, &cfg, date), 0);
	for (int head = 0; head < 2; head++) {
		struct resp_check c;
		resp_check_init(&c);
		c.head = head;
		ck_assert(resp_check_feed(&c, HD_CONTINUE_100,
					  strlen(HD_CONTINUE_100)));
		for (int k = 0; k < HD_RESP_KIND_COUNT; k++) {
			const struct hd_response *r =
				hd_responses_get(&rs, k, HD_MODE_KEEP);
			size_t len = head ? r->head_len : r->total_len;
			ck_assert_msg(resp_check_feed(&c, r->bytes, len),
				      "kind %d: %s", k, c.error);
		}
		const struct hd_response *last =
			hd_responses_get(&rs, HD_RESP_MAIN, HD_MODE_CLOSE);
		ck_assert(resp_check_feed(&c, last->bytes,
					  head ? last->head_len
					       : last->total_len));
		ck_assert(resp_check_eof(&c));
		ck_assert_uint_eq(c.responses, HD_RESP_KIND_COUNT + 2);
	}
	hd_responses_free(&rs);
	hd_config_free(&cfg);
}
END_TEST

START_TEST(passes_bodiless_statuses)
{
	struct resp_check c;
	ck_assert(check_text("HTTP/1.1 204 No Content\r\n" DATE "\r\n"
			     "HTTP/1.1 304 Not Modified\r\n" DATE "\r\n"
			     "HTTP/1.1 205 Reset Content\r\n" DATE
			     "Content-Length: 0\r\n\r\n",
			     false, true, true, &c));
}
END_TEST

Suite *resp_check_suite(void)
{
	Suite *s = suite_create("resp_check");
	TCase *tc = tcase_create("core");
	tcase_add_loop_test(tc, catches_each_violation, 0,
			    sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tc, passes_what_hellod_builds);
	tcase_add_test(tc, passes_bodiless_statuses);
	suite_add_tcase(s, tc);
	return s;
}
