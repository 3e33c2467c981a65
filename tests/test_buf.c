/* test_buf.c — tests for src/buf.c */
#include <check.h>
#include <string.h>

#include "hellod/buf.h"
#include "suites.h"

START_TEST(buf_appends_and_grows)
{
	struct hd_buf b = {0};
	char big[10000];
	memset(big, 'x', sizeof(big));
	ck_assert_int_eq(hd_buf_append(&b, "ab", 2), 0);
	ck_assert_int_eq(hd_buf_append(&b, big, sizeof(big)), 0);
	ck_assert_uint_eq(b.len, 10002);
	ck_assert_uint_ge(b.cap, 10002);
	ck_assert_int_eq(memcmp(b.data, "abxx", 4), 0);
	hd_buf_free(&b);
	ck_assert_ptr_null(b.data);
}
END_TEST

START_TEST(chunk_consume_frees_when_drained)
{
	struct hd_chunk *c = NULL;
	ck_assert_uint_eq(hd_chunk_pending(c), 0);
	ck_assert_int_eq(hd_chunk_append(&c, "hello", 5), 0);
	ck_assert_uint_eq(hd_chunk_pending(c), 5);
	hd_chunk_consume(&c, 2);
	ck_assert_uint_eq(hd_chunk_pending(c), 3);
	ck_assert_int_eq(memcmp(c->data + c->off, "llo", 3), 0);
	hd_chunk_consume(&c, 3);
	ck_assert_ptr_null(c);
}
END_TEST

START_TEST(chunk_keeps_order_across_slides)
{
	struct hd_chunk *c = NULL;
	char piece[300];
	size_t expect = 0, seen = 0;
	/* Append and consume in turn: bytes must come out in order and the
	 * chunk must not grow without bound. */
	for (int round = 0; round < 200; round++) {
		for (size_t i = 0; i < sizeof(piece); i++)
			piece[i] = (char)(expect + i);
		expect += sizeof(piece);
		ck_assert_int_eq(hd_chunk_append(&c, piece, sizeof(piece)), 0);
		size_t take = hd_chunk_pending(c) - 100;
		for (size_t i = 0; i < take; i++)
			ck_assert_int_eq((unsigned char)c->data[c->off + i],
					 (unsigned char)(seen + i));
		seen += take;
		hd_chunk_consume(&c, take);
	}
	ck_assert_uint_le(c->cap, 1024);
	hd_chunk_free(&c);
}
END_TEST

Suite *buf_suite(void)
{
	Suite *s = suite_create("buf");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, buf_appends_and_grows);
	tcase_add_test(tc, chunk_consume_frees_when_drained);
	tcase_add_test(tc, chunk_keeps_order_across_slides);
	suite_add_tcase(s, tc);
	return s;
}
