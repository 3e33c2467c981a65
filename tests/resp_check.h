/* resp_check.h — a strict checker of the bytes hellod sends back.
 *
 * Every response stream a server test reads goes through one (the
 * harness's reader feeds it), so a malformed answer fails whichever test
 * provoked it, not only the tests that look for it. It parses with llhttp
 * in response mode (strict, as hellod is built) and adds what a response
 * parser takes on trust:
 *   - the status line is "HTTP/1.1 NNN reason" (hellod speaks 1.1 only);
 *   - framing: 1xx, 204 and 304 carry no Content-Length and no
 *     Transfer-Encoding; every other status exactly one Content-Length
 *     (hellod never chunks), 205's being 0 (RFC 9110 6.4.1, 8.6, 15.3.6);
 *   - the body is as long as framed; the stream never ends inside one;
 *   - a response to HEAD is framed as the GET's would be, and has no body;
 *   - every final response has exactly one Date, an IMF-fixdate;
 *   - after a response that closes the connection, no byte follows.
 */
#ifndef HELLOD_TESTS_RESP_CHECK_H
#define HELLOD_TESTS_RESP_CHECK_H

#include <llhttp.h>
#include <stdbool.h>
#include <stddef.h>

struct resp_check {
	llhttp_t parser;
	bool head;	/* the responses answer HEAD requests */
	bool closed;	/* a response closed the connection */
	bool failed;	/* error[] says why; nothing more is checked */
	bool in_body;	/* between a head and the end of its body */
	char last_byte; /* of the bytes fed so far */
	unsigned length_fields, coding_fields, date_fields;
	char name[32];	 /* the current header name, lower case, cut */
	size_t name_len; /* its whole length */
	char value[40];	 /* the current value, for Date, cut */
	size_t value_len;
	unsigned long responses; /* complete responses so far */
	size_t offset;		 /* bytes fed so far */
	char error[256];
};

void resp_check_init(struct resp_check *c);
/* Checks the next bytes of the stream. Returns false, with c->error
 * saying where and what, at the first violation (and on every call
 * after it). */
bool resp_check_feed(struct resp_check *c, const char *data, size_t len);
/* The server closed the stream: false when a response was cut short. */
bool resp_check_eof(struct resp_check *c);

#endif
