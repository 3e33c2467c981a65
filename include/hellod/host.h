/* host.h — the grammar of a Host field value and of the authority of an
 * absolute-form request target (RFC 9112 3.2, 3.2.2; RFC 3986 3.2.2):
 *
 *	uri-host [ ":" port ]
 *	uri-host = IP-literal / IPv4address / reg-name
 *
 * checked one byte at a time, so a value may arrive in any number of
 * pieces. Userinfo ("user@host") does not match: RFC 9110 4.2.4 has a
 * recipient treat it as an error. An IP-literal is checked for its
 * characters (hex digits, ':', '.', IPvFuture's), not for the shape of an
 * IPv6 address.
 */
#ifndef HELLOD_HOST_H
#define HELLOD_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HD_HOST_INIT 0 /* the state before the first byte */

/* The state after byte c. A bad state stays bad. */
uint8_t hd_host_step(uint8_t state, unsigned char c);
/* The state after len bytes: hd_host_step over each, faster. */
uint8_t hd_host_scan(uint8_t state, const char *data, size_t len);

/* The last span hd_host_scan_memo scanned from HD_HOST_INIT, and the
 * state it left. Zeroed, it holds the empty span (state HD_HOST_INIT). */
#define HD_HOST_MEMO_MAX 64
struct hd_host_memo {
	uint8_t len;
	uint8_t state;
	char bytes[HD_HOST_MEMO_MAX];
};

/* hd_host_scan, remembered: a span scanned from HD_HOST_INIT that equals
 * the memo's bytes gets the memo's state without a scan (a client sends
 * the same Host on every request); any other span is scanned, and one
 * from HD_HOST_INIT of at most HD_HOST_MEMO_MAX bytes replaces the memo.
 * hd_host_scan is a function of its arguments, so the result is always
 * hd_host_scan's. */
uint8_t hd_host_scan_memo(struct hd_host_memo *memo, uint8_t state,
			  const char *data, size_t len);

/* True when the bytes fed so far are a whole, valid value. A Host field
 * may have an empty uri-host (RFC 9110 7.2); an http URI may not (RFC
 * 9110 4.2.1), so need_host refuses that. Trailing blanks are allowed:
 * they are the field's optional whitespace. */
bool hd_host_is_valid(uint8_t state, bool need_host);

#endif
