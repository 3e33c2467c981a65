/* host.c — a byte-at-a-time check of uri-host [ ":" port ]. */
#include "hellod/host.h"

#include <string.h>

enum {
	S_START,     /* nothing yet */
	S_NAME,	     /* in a reg-name or IPv4address */
	S_PCT1,	     /* after '%' */
	S_PCT2,	     /* after '%' and one hex digit */
	S_LIT_START, /* after '[' */
	S_LIT,	     /* inside an IP-literal */
	S_LIT_END,   /* after ']' */
	S_PORT,	     /* after ':' */
	S_OWS,	     /* trailing blanks */
	S_BAD,
	S_MASK = 0x0f,
	HOST_SEEN = 0x80 /* a byte of uri-host was seen */
};

/* Byte classes, looked up once per byte: a Host value is checked on
 * every request, and a table costs a few instructions where tests and a
 * switch cost tens per byte. */
enum { C_NAME = 1, C_HEX = 2, C_DIGIT = 4 };
static const uint8_t byte_class[256] = {
	['0' ... '9'] = C_NAME | C_HEX | C_DIGIT,
	['a' ... 'f'] = C_NAME | C_HEX,
	['A' ... 'F'] = C_NAME | C_HEX,
	['g' ... 'z'] = C_NAME,
	['G' ... 'Z'] = C_NAME,
	/* unreserved */
	['-'] = C_NAME,
	['.'] = C_NAME,
	['_'] = C_NAME,
	['~'] = C_NAME,
	/* sub-delims */
	['!'] = C_NAME,
	['$'] = C_NAME,
	['&'] = C_NAME,
	['\''] = C_NAME,
	['('] = C_NAME,
	[')'] = C_NAME,
	['*'] = C_NAME,
	['+'] = C_NAME,
	[','] = C_NAME,
	[';'] = C_NAME,
	['='] = C_NAME,
};

static bool is_hex(unsigned char c)
{
	return byte_class[c] & C_HEX;
}

/* unreserved / sub-delims: what a reg-name holds besides pct-encoded. */
static bool is_name_char(unsigned char c)
{
	return byte_class[c] & C_NAME;
}

static bool is_blank(unsigned char c)
{
	return c == ' ' || c == '\t';
}

/* The next state, without the HOST_SEEN bit. */
static uint8_t next(uint8_t s, unsigned char c)
{
	switch (s) {
	case S_START:
		if (c == '[')
			return S_LIT_START;
		/* fall through - any other first byte starts a reg-name */
	case S_NAME:
		if (is_name_char(c))
			return S_NAME;
		if (c == '%')
			return S_PCT1;
		if (c == ':')
			return S_PORT;
		return is_blank(c) ? S_OWS : S_BAD;
	case S_PCT1: return is_hex(c) ? S_PCT2 : S_BAD;
	case S_PCT2: return is_hex(c) ? S_NAME : S_BAD;
	case S_LIT_START:
	case S_LIT:
		if (is_name_char(c) || c == ':')
			return S_LIT;
		return c == ']' && s == S_LIT ? S_LIT_END : S_BAD;
	case S_LIT_END:
		if (c == ':')
			return S_PORT;
		return is_blank(c) ? S_OWS : S_BAD;
	case S_PORT:
		if (c >= '0' && c <= '9')
			return S_PORT;
		return is_blank(c) ? S_OWS : S_BAD;
	case S_OWS: return is_blank(c) ? S_OWS : S_BAD;
	}
	return S_BAD;
}

uint8_t hd_host_step(uint8_t state, unsigned char c)
{
	uint8_t s = state & S_MASK;
	uint8_t n = next(s, c);
	bool host_byte = n == S_NAME || n == S_PCT1 || n == S_LIT_START;
	return (uint8_t)(n | (state & HOST_SEEN) | (host_byte ? HOST_SEEN : 0));
}

/* The bytes of a run of class cls from data[i], up to len. */
static size_t run_of(const char *data, size_t i, size_t len, uint8_t cls)
{
	while (i < len && (byte_class[(unsigned char)data[i]] & cls))
		i++;
	return i;
}

uint8_t hd_host_scan(uint8_t state, const char *data, size_t len)
{
	size_t i = 0;
	while (i < len) {
		/* Runs of name bytes and of port digits leave the state as
		 * it is: skip them in a tight loop, step the rest. */
		uint8_t s = state & S_MASK;
		if (s == S_START &&
		    (byte_class[(unsigned char)data[i]] & C_NAME))
			state = S_NAME | HOST_SEEN, s = S_NAME;
		if (s == S_NAME)
			i = run_of(data, i, len, C_NAME);
		else if (s == S_PORT)
			i = run_of(data, i, len, C_DIGIT);
		if (i < len)
			state = hd_host_step(state, (unsigned char)data[i++]);
	}
	return state;
}

/* a[0, len) equals b[0, len): for 8 to 16 bytes (most Host values) two
 * overlapping 8-byte compares instead of a call to memcmp. */
static bool same_bytes(const char *a, const char *b, size_t len)
{
	if (len >= 8 && len <= 16) {
		uint64_t a0, a1, b0, b1;
		memcpy(&a0, a, 8);
		memcpy(&b0, b, 8);
		memcpy(&a1, a + len - 8, 8);
		memcpy(&b1, b + len - 8, 8);
		return ((a0 ^ b0) | (a1 ^ b1)) == 0;
	}
	return memcmp(a, b, len) == 0;
}

/* A compare of about 15 bytes instead of a scan of them: about 120
 * instructions a request less (callgrind, docs/performance.md). */
uint8_t hd_host_scan_memo(struct hd_host_memo *memo, uint8_t state,
			  const char *data, size_t len)
{
	if (state != HD_HOST_INIT || len > HD_HOST_MEMO_MAX)
		return hd_host_scan(state, data, len);
	if (len == memo->len && same_bytes(memo->bytes, data, len))
		return memo->state;
	state = hd_host_scan(state, data, len);
	memo->len = (uint8_t)len;
	memo->state = state;
	if (len)
		memcpy(memo->bytes, data, len);
	return state;
}

/* The states a Host value may end in, one bit each: a test of the bit
 * instead of five compares (S_MASK keeps the shift under 16). */
#define ENDING_STATES                                                          \
	((1u << S_START) | (1u << S_NAME) | (1u << S_LIT_END) |                \
	 (1u << S_PORT) | (1u << S_OWS))

bool hd_host_is_valid(uint8_t state, bool need_host)
{
	if (need_host && !(state & HOST_SEEN))
		return false;
	return (ENDING_STATES >> (state & S_MASK)) & 1u;
}
