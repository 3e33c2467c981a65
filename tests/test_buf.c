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

/* The borrowing rule: a lendable buffer's first stable bytes are the
 * caller's own, and any later write copies them in first, so what the
 * buffer holds is always what was appended, in order, whoever changes
 * the borrowed bytes afterwards. */
START_TEST(lendable_buf_borrows_only_while_nothing_follows)
{
	char answer[] = "HTTP/1.1 200 OK\r\n\r\n";
	size_t n = strlen(answer);
	struct hd_buf b = {.lendable = true};
	ck_assert_int_eq(hd_buf_reserve(&b, 64), 0);
	ck_assert_int_eq(hd_buf_append_stable(&b, answer, n), 0);
	ck_assert_ptr_eq(hd_buf_bytes(&b), answer); /* not copied */
	ck_assert_uint_eq(b.len, n);

	/* A second answer copies the first in, then follows it. */
	ck_assert_int_eq(hd_buf_append_stable(&b, "XY", 2), 0);
	ck_assert_ptr_eq(hd_buf_bytes(&b), b.data);
	ck_assert_ptr_null(b.lent);
	answer[0] = '!'; /* the table changes: the buffer does not */
	ck_assert_uint_eq(b.len, n + 2);
	ck_assert_int_eq(memcmp(b.data, "HTTP/1.1 200", 12), 0);
	ck_assert_int_eq(memcmp(b.data + n, "XY", 2), 0);

	/* Emptied, it borrows again; any other write copies too. */
	hd_buf_clear(&b);
	answer[0] = 'H';
	ck_assert_int_eq(hd_buf_append_stable(&b, answer, n), 0);
	ck_assert_ptr_eq(hd_buf_bytes(&b), answer);
	ck_assert_int_eq(hd_buf_append(&b, "Z", 1), 0);
	answer[0] = '!';
	ck_assert_ptr_eq(hd_buf_bytes(&b), b.data);
	ck_assert_int_eq(memcmp(b.data, "HTTP", 4), 0);
	ck_assert_int_eq(b.data[n], 'Z');

	/* Reserving alone copies too: the caller writes next. */
	hd_buf_clear(&b);
	answer[0] = 'H';
	ck_assert_int_eq(hd_buf_append_stable(&b, answer, n), 0);
	ck_assert_int_eq(hd_buf_reserve(&b, 1), 0);
	ck_assert_ptr_null(b.lent);
	answer[0] = '!';
	ck_assert_int_eq(memcmp(b.data, "HTTP", 4), 0);
	hd_buf_free(&b);
	ck_assert_ptr_null(b.lent);
	ck_assert_uint_eq(b.len, 0);
}
END_TEST

START_TEST(plain_buf_never_borrows)
{
	char answer[] = "hello";
	struct hd_buf b = {0};
	ck_assert_int_eq(hd_buf_append_stable(&b, answer, 0), 0);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_int_eq(hd_buf_append_stable(&b, answer, 5), 0);
	ck_assert_ptr_null(b.lent);
	answer[0] = '!';
	ck_assert_int_eq(memcmp(hd_buf_bytes(&b), "hello", 5), 0);
	ck_assert_int_eq(hd_buf_append_stable(&b, answer, 5), 0);
	ck_assert_int_eq(memcmp(b.data, "hello!ello", 10), 0);
	hd_buf_free(&b);
}
END_TEST

Suite *buf_suite(void)
{
	Suite *s = suite_create("buf");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, buf_appends_and_grows);
	tcase_add_test(tc, chunk_consume_frees_when_drained);
	tcase_add_test(tc, chunk_keeps_order_across_slides);
	tcase_add_test(tc, lendable_buf_borrows_only_while_nothing_follows);
	tcase_add_test(tc, plain_buf_never_borrows);
	suite_add_tcase(s, tc);
	return s;
}
