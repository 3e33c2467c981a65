/* resp_check.c — see resp_check.h. */
#include "resp_check.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static struct resp_check *check_of(llhttp_t *p)
{
	return p->data;
}

static int violation(struct resp_check *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int violation(struct resp_check *c, const char *fmt, ...)
{
	int n = snprintf(c->error, sizeof(c->error),
			 "response %lu (in the bytes from %zu on): ",
			 c->responses + 1, c->offset);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->error + n, sizeof(c->error) - (size_t)n, fmt, ap);
	va_end(ap);
	c->failed = true;
	return -1;
}

static int on_message_begin(llhttp_t *p)
{
	struct resp_check *c = check_of(p);
	c->length_fields = c->coding_fields = c->date_fields = 0;
	return 0;
}

static int on_status_complete(llhttp_t *p)
{
	struct resp_check *c = check_of(p);
	if (p->http_major != 1 || p->http_minor != 1)
		return violation(c, "version HTTP/%d.%d, not HTTP/1.1",
				 p->http_major, p->http_minor);
	if (p->status_code < 100 || p->status_code > 599)
		return violation(c, "status %d", p->status_code);
	return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
	struct resp_check *c = check_of(p);
	for (size_t i = 0; i < len; i++, c->name_len++)
		if (c->name_len < sizeof(c->name) - 1) {
			char ch = at[i];
			c->name[c->name_len] =
				ch >= 'A' && ch <= 'Z' ? (char)(ch + 32) : ch;
		}
	return 0;
}

static bool name_is(const struct resp_check *c, const char *name)
{
	return c->name_len == strlen(name) &&
	       !memcmp(c->name, name, c->name_len);
}

static int on_header_field_complete(llhttp_t *p)
{
	struct resp_check *c = check_of(p);
	if (c->name_len < sizeof(c->name))
		c->name[c->name_len] = '\0';
	c->length_fields += name_is(c, "content-length");
	c->coding_fields += name_is(c, "transfer-encoding");
	c->date_fields += name_is(c, "date");
	c->value_len = 0;
	return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
	struct resp_check *c = check_of(p);
	for (size_t i = 0; i < len; i++, c->value_len++)
		if (c->value_len < sizeof(c->value) - 1)
			c->value[c->value_len] = at[i];
	return 0;
}

/* IMF-fixdate (RFC 9110 5.6.7): "Sun, 06 Nov 1994 08:49:37 GMT". */
static bool is_imf_fixdate(const char *v, size_t len)
{
	static const char shape[] = "Aaa, 00 Aaa 0000 00:00:00 GMT";
	if (len != sizeof(shape) - 1)
		return false;
	for (size_t i = 0; i < len; i++) {
		char s = shape[i], ch = v[i];
		bool ok = s == '0'   ? ch >= '0' && ch <= '9'
			  : s == 'A' ? ch >= 'A' && ch <= 'Z'
			  : s == 'a' ? ch >= 'a' && ch <= 'z'
				     : ch == s;
		if (!ok)
			return false;
	}
	return memmem("Mon Tue Wed Thu Fri Sat Sun", 27, v, 3) &&
	       memmem("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec", 47,
		      v + 8, 3);
}

static int on_header_value_complete(llhttp_t *p)
{
	struct resp_check *c = check_of(p);
	size_t kept = c->value_len < sizeof(c->value) ? c->value_len
						      : sizeof(c->value);
	/* A cut value is longer than any date, so it fails as it should. */
	if (name_is(c, "date") && !is_imf_fixdate(c->value, c->value_len))
		return violation(c, "Date '%.*s' is not an IMF-fixdate",
				 (int)kept, c->value);
	c->name_len = 0;
	return 0;
}

static bool status_has_no_content(int status)
{
	return status < 200 || status == 204 || status == 304;
}

static int on_headers_complete(llhttp_t *p)
{
	struct resp_check *c = check_of(p);
	int status = p->status_code;
	if (c->coding_fields)
		return violation(c, "%d with Transfer-Encoding", status);
	if (status_has_no_content(status) && c->length_fields)
		return violation(c, "%d with Content-Length", status);
	if (!status_has_no_content(status) && c->length_fields != 1)
		return violation(c, "%d with %u Content-Length fields", status,
				 c->length_fields);
	if (status == 205 && p->content_length)
		return violation(c, "205 with content");
	if (status >= 200 && c->date_fields != 1)
		return violation(c, "%d with %u Date fields", status,
				 c->date_fields);
	c->in_body = true; /* until on_message_complete, maybe at once */
	/* A HEAD response says what the GET's framing would be, and
	 * carries nothing: 1 tells llhttp there is no body to read. */
	return c->head && status >= 200 ? 1 : 0;
}

static int on_message_complete(llhttp_t *p)
{
	struct resp_check *c = check_of(p);
	c->responses++;
	c->in_body = false;
	if (p->status_code >= 200 && !llhttp_should_keep_alive(p)) {
		c->closed = true;
		return HPE_PAUSED; /* whatever follows is a violation */
	}
	return 0;
}

static const llhttp_settings_t settings = {
	.on_message_begin = on_message_begin,
	.on_status_complete = on_status_complete,
	.on_header_field = on_header_field,
	.on_header_field_complete = on_header_field_complete,
	.on_header_value = on_header_value,
	.on_header_value_complete = on_header_value_complete,
	.on_headers_complete = on_headers_complete,
	.on_message_complete = on_message_complete,
};

void resp_check_init(struct resp_check *c)
{
	memset(c, 0, sizeof(*c));
	llhttp_init(&c->parser, HTTP_RESPONSE, &settings);
	c->parser.data = c;
}

static bool after_close(struct resp_check *c, const char *rest, size_t len)
{
	violation(c,
		  "%zu bytes after a response that closed the connection: "
		  "'%.*s'",
		  len, (int)(len < 60 ? len : 60), rest);
	return false;
}

/* Runs llhttp over len bytes. */
static bool run(struct resp_check *c, const char *data, size_t len)
{
	llhttp_errno_t err = llhttp_execute(&c->parser, data, len);
	if (err == HPE_PAUSED) {
		const char *stop = llhttp_get_error_pos(&c->parser);
		c->offset += (size_t)(stop - data);
		if (stop < data + len)
			return after_close(c, stop,
					   (size_t)(data + len - stop));
		return true;
	}
	if (err != HPE_OK) {
		c->offset += (size_t)(llhttp_get_error_pos(&c->parser) - data);
		if (!c->failed)
			violation(c, "%s: %s", llhttp_errno_name(err),
				  llhttp_get_error_reason(&c->parser));
		return false;
	}
	c->offset += len;
	return true;
}

/* The next line feed in [p, end) that no CR precedes, or NULL. */
static const char *bare_lf(const struct resp_check *c, const char *data,
			   const char *p, const char *end)
{
	while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		char before = p > data ? p[-1] : c->last_byte;
		if (before != '\r')
			return p;
		p++;
	}
	return NULL;
}

bool resp_check_feed(struct resp_check *c, const char *data, size_t len)
{
	if (c->failed || len == 0)
		return !c->failed;
	if (c->closed)
		return after_close(c, data, len);
	/* llhttp lets a bare LF end a line of a response; RFC 9112 2.2
	 * has a sender use CRLF. One in a body is only data. */
	const char *pos = data, *end = data + len;
	while (pos < end && !c->closed) {
		const char *lf = bare_lf(c, data, pos, end);
		const char *stop = lf ? lf : end;
		if (stop > pos && !run(c, pos, (size_t)(stop - pos)))
			return false;
		pos = stop;
		if (lf && !c->closed) {
			if (!c->in_body) {
				violation(c, "a line ends in LF without CR");
				return false;
			}
			if (!run(c, lf, 1))
				return false;
			pos = lf + 1;
		}
	}
	if (pos < end)
		return after_close(c, pos, (size_t)(end - pos));
	c->last_byte = end[-1];
	return true;
}

bool resp_check_eof(struct resp_check *c)
{
	if (c->failed)
		return false;
	if (llhttp_finish(&c->parser) != HPE_OK) {
		violation(c, "the stream ended inside a response");
		return false;
	}
	return true;
}
