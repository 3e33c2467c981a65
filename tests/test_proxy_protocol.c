/* test_proxy_protocol.c — tests for src/proxy_protocol.c */
#include <arpa/inet.h>
#include <check.h>
#include <string.h>

#include "hellod/proxy_protocol.h"
#include "suites.h"

static struct hd_peer peer;

static void setup(void)
{
	memset(&peer, 0, sizeof(peer));
}

static void expect_v4(const char *addr, unsigned port)
{
	char text[HD_PEER_TEXT];
	ck_assert_int_eq(peer.family, AF_INET);
	hd_peer_format_addr(&peer, text, sizeof(text));
	ck_assert_str_eq(text, addr);
	ck_assert_uint_eq(peer.port, port);
}

START_TEST(v1_tcp4)
{
	const char *h = "PROXY TCP4 192.0.2.7 198.51.100.1 56324 443\r\nGET";
	ck_assert_int_eq(hd_proxy_parse(h, strlen(h), &peer),
			 (int)strlen(h) - 3);
	expect_v4("192.0.2.7", 56324);
}
END_TEST

START_TEST(v1_tcp6_and_unknown)
{
	const char *h = "PROXY TCP6 2001:db8::1 2001:db8::2 1000 80\r\n";
	ck_assert_int_eq(hd_proxy_parse(h, strlen(h), &peer), (int)strlen(h));
	char text[HD_PEER_TEXT];
	hd_peer_format_addr(&peer, text, sizeof(text));
	ck_assert_str_eq(text, "2001:db8::1");
	ck_assert_uint_eq(peer.port, 1000);
	memset(&peer, 0, sizeof(peer));
	const char *u = "PROXY UNKNOWN\r\n";
	ck_assert_int_eq(hd_proxy_parse(u, strlen(u), &peer), (int)strlen(u));
	ck_assert_int_eq(peer.family, 0); /* untouched: keep the socket's */
}
END_TEST

START_TEST(v1_every_prefix_needs_more)
{
	const char *h = "PROXY TCP4 192.0.2.7 198.51.100.1 56324 443\r\n";
	for (size_t n = 0; n < strlen(h); n++)
		ck_assert_msg(hd_proxy_parse(h, n, &peer) == HD_PROXY_NEED_MORE,
			      "prefix %zu", n);
}
END_TEST

static const char *const bad_v1[] = {
	"GET / HTTP/1.1\r\n",
	"PROXY TCP4 192.0.2.7 198.51.100.1 56324\r\n",
	"PROXY TCP4 192.0.2.7 198.51.100.1 56324 443 9\r\n",
	"PROXY TCP4 300.0.2.7 198.51.100.1 56324 443\r\n",
	"PROXY TCP4 192.0.2.7 198.51.100.1 65536 443\r\n",
	"PROXY TCP4 192.0.2.7 198.51.100.1 0123 443\r\n",
	"PROXY TCP5 192.0.2.7 198.51.100.1 1 2\r\n",
	"PROXY TCP6 192.0.2.7 198.51.100.1 1 2\r\n",
	"PROXY TCP4  192.0.2.7 198.51.100.1 1 2\r\n",
	"PROXY TCP4 192.0.2.7 198.51.100.1 1 2\rX",
	"PROXY TCP4 192.0.2.7 198.51.100.1 1 2\n",
};

START_TEST(v1_malformed)
{
	const char *h = bad_v1[_i];
	ck_assert_msg(hd_proxy_parse(h, strlen(h), &peer) == HD_PROXY_INVALID,
		      "%s", h);
}
END_TEST

START_TEST(v1_too_long_without_crlf)
{
	char h[200];
	memset(h, '1', sizeof(h));
	memcpy(h, "PROXY TCP4 ", 11);
	ck_assert_int_eq(hd_proxy_parse(h, sizeof(h), &peer), HD_PROXY_INVALID);
}
END_TEST

static size_t v2_header(unsigned char *buf, unsigned char ver_cmd,
			unsigned char family, const unsigned char *addrs,
			size_t addrs_len)
{
	memcpy(buf, "\r\n\r\n\0\r\nQUIT\n", 12);
	buf[12] = ver_cmd;
	buf[13] = family;
	buf[14] = (unsigned char)(addrs_len >> 8);
	buf[15] = (unsigned char)addrs_len;
	if (addrs_len)
		memcpy(buf + 16, addrs, addrs_len);
	return 16 + addrs_len;
}

static const unsigned char v4_addrs[12] = {192, 0, 2,	 9,    10,   0,
					   0,	1, 0x1f, 0x90, 0x00, 0x50};

START_TEST(v2_tcp4_with_tlv)
{
	unsigned char addrs[12 + 7];
	memcpy(addrs, v4_addrs, 12);
	/* a TLV (PP2_TYPE_AUTHORITY, 4 bytes) hellod skips */
	memcpy(addrs + 12, "\x02\x00\x04host", 7);
	unsigned char buf[64];
	size_t n = v2_header(buf, 0x21, 0x11, addrs, sizeof(addrs));
	memcpy(buf + n, "GET", 3);
	ck_assert_int_eq(hd_proxy_parse((char *)buf, n + 3, &peer), (int)n);
	expect_v4("192.0.2.9", 8080);
	for (size_t cut = 0; cut < n; cut++)
		ck_assert_int_eq(hd_proxy_parse((char *)buf, cut, &peer),
				 HD_PROXY_NEED_MORE);
}
END_TEST

START_TEST(v2_tcp6_and_local)
{
	unsigned char addrs[36] = {0x20, 0x01, 0x0d, 0xb8};
	addrs[15] = 5;
	addrs[32] = 0x12;
	addrs[33] = 0x34;
	unsigned char buf[64];
	size_t n = v2_header(buf, 0x21, 0x21, addrs, sizeof(addrs));
	ck_assert_int_eq(hd_proxy_parse((char *)buf, n, &peer), (int)n);
	char text[HD_PEER_TEXT];
	hd_peer_format_addr(&peer, text, sizeof(text));
	ck_assert_str_eq(text, "2001:db8::5");
	ck_assert_uint_eq(peer.port, 0x1234);
	memset(&peer, 0, sizeof(peer));
	n = v2_header(buf, 0x20, 0x00, NULL, 0); /* LOCAL: health check */
	ck_assert_int_eq(hd_proxy_parse((char *)buf, n, &peer), 16);
	ck_assert_int_eq(peer.family, 0);
}
END_TEST

START_TEST(v2_malformed)
{
	unsigned char buf[64];
	size_t n = v2_header(buf, 0x11, 0x11, v4_addrs, 12); /* version 1 */
	ck_assert_int_eq(hd_proxy_parse((char *)buf, n, &peer),
			 HD_PROXY_INVALID);
	n = v2_header(buf, 0x22, 0x11, v4_addrs, 12); /* command 2 */
	ck_assert_int_eq(hd_proxy_parse((char *)buf, n, &peer),
			 HD_PROXY_INVALID);
	n = v2_header(buf, 0x21, 0x11, v4_addrs, 8); /* addresses cut short */
	ck_assert_int_eq(hd_proxy_parse((char *)buf, n, &peer),
			 HD_PROXY_INVALID);
	n = v2_header(buf, 0x21, 0x12, v4_addrs, 12); /* UDP */
	ck_assert_int_eq(hd_proxy_parse((char *)buf, n, &peer),
			 HD_PROXY_INVALID);
	n = v2_header(buf, 0x21, 0x11, v4_addrs, 12);
	buf[15] = 0xff;
	buf[14] = 0x02; /* length beyond HD_PROXY_MAX */
	ck_assert_int_eq(hd_proxy_parse((char *)buf, n, &peer),
			 HD_PROXY_INVALID);
	buf[3] = 'X'; /* broken signature */
	ck_assert_int_eq(hd_proxy_parse((char *)buf, 5, &peer),
			 HD_PROXY_INVALID);
}
END_TEST

Suite *proxy_protocol_suite(void)
{
	Suite *s = suite_create("proxy_protocol");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, v1_tcp4);
	tcase_add_test(tc, v1_tcp6_and_unknown);
	tcase_add_test(tc, v1_every_prefix_needs_more);
	tcase_add_loop_test(tc, v1_malformed, 0,
			    sizeof(bad_v1) / sizeof(bad_v1[0]));
	tcase_add_test(tc, v1_too_long_without_crlf);
	tcase_add_test(tc, v2_tcp4_with_tlv);
	tcase_add_test(tc, v2_tcp6_and_local);
	tcase_add_test(tc, v2_malformed);
	suite_add_tcase(s, tc);
	return s;
}
