/* config.c — embedded defaults, the config file parser and the setters the
 * command line shares with it. */
#include "hellod/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_BODY "Hello, World!"

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

int hd_config_defaults(struct hd_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	strcpy(cfg->listen[0].host, "127.0.0.1");
	cfg->listen[0].port = 8080;
	cfg->listen_count = 1;
	cfg->workers = 0;
	cfg->trigger = HD_TRIGGER_EDGE;
	cfg->poller = HD_POLLER_EPOLL;
	cfg->status = 200;
	cfg->body = strdup(DEFAULT_BODY);
	if (!cfg->body)
		return -ENOMEM;
	cfg->body_len = strlen(DEFAULT_BODY);
	strcpy(cfg->content_type, "text/plain");
	strcpy(cfg->server_name, "hellod");
	cfg->catch_all = false;
	cfg->max_pending_output = 1024 * 1024;
	cfg->read_size = 64 * 1024;
	return 0;
}

void hd_config_free(struct hd_config *cfg)
{
	free(cfg->body);
	cfg->body = NULL;
}

const char *hd_trigger_name(enum hd_trigger trigger)
{
	return trigger == HD_TRIGGER_EDGE ? "edge" : "level";
}

const char *hd_poller_name(enum hd_poller_kind kind)
{
	switch (kind) {
	case HD_POLLER_EPOLL: return "epoll";
	case HD_POLLER_POLL: return "poll";
	case HD_POLLER_SELECT: return "select";
	}
	return "?";
}

/* ---- value parsers --------------------------------------------------------
 */

static int parse_long(const char *value, long min, long max, long *out)
{
	char *end;
	errno = 0;
	long n = strtol(value, &end, 10);
	if (errno || end == value || *end != '\0' || n < min || n > max)
		return -1;
	*out = n;
	return 0;
}

/* Sizes accept a k, m or g suffix (powers of 1024). */
static int parse_size(const char *value, size_t min, size_t max, size_t *out)
{
	char *end;
	errno = 0;
	if (!isdigit((unsigned char)value[0]))
		return -1;
	unsigned long long n = strtoull(value, &end, 10);
	if (errno || end == value)
		return -1;
	unsigned shift = 0;
	switch (tolower((unsigned char)*end)) {
	case 'k':
		shift = 10;
		end++;
		break;
	case 'm':
		shift = 20;
		end++;
		break;
	case 'g':
		shift = 30;
		end++;
		break;
	}
	if (*end != '\0' || n > (ULLONG_MAX >> shift))
		return -1;
	n <<= shift;
	if (n < min || n > max)
		return -1;
	*out = (size_t)n;
	return 0;
}

static int parse_bool(const char *value, bool *out)
{
	if (!strcmp(value, "on") || !strcmp(value, "yes") ||
	    !strcmp(value, "true") || !strcmp(value, "1")) {
		*out = true;
		return 0;
	}
	if (!strcmp(value, "off") || !strcmp(value, "no") ||
	    !strcmp(value, "false") || !strcmp(value, "0")) {
		*out = false;
		return 0;
	}
	return -1;
}

/* Header values must not be able to inject lines or control bytes. */
static bool is_header_safe(const char *value)
{
	for (const unsigned char *p = (const unsigned char *)value; *p; p++)
		if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
			return false;
	return true;
}

/* ---- setters --------------------------------------------------------------
 */

int hd_config_set_listen(struct hd_config *cfg, const char *value, char *err,
			 size_t errlen)
{
	struct hd_listen_spec spec = {0};
	const char *colon;
	size_t hostlen;
	if (value[0] == '[') {
		const char *close = strchr(value, ']');
		if (!close || close[1] != ':')
			return fail(err, errlen,
				    "expected [IPV6]:PORT, got '%s'", value);
		hostlen = (size_t)(close - value - 1);
		value++;
		colon = close + 1;
	} else {
		colon = strrchr(value, ':');
		if (!colon)
			return fail(err, errlen, "expected ADDR:PORT, got '%s'",
				    value);
		hostlen = (size_t)(colon - value);
	}
	if (hostlen == 0 || hostlen >= sizeof(spec.host))
		return fail(err, errlen, "bad address in '%s'", value);
	memcpy(spec.host, value, hostlen);
	if (!strcmp(spec.host, "*"))
		strcpy(spec.host, "0.0.0.0");
	unsigned char probe[sizeof(struct in6_addr)];
	if (inet_pton(AF_INET, spec.host, probe) != 1 &&
	    inet_pton(AF_INET6, spec.host, probe) != 1)
		return fail(err, errlen,
			    "'%s' is not a numeric IPv4 or IPv6 address",
			    spec.host);
	long port;
	if (parse_long(colon + 1, 0, 65535, &port))
		return fail(err, errlen, "port must be 0..65535, got '%s'",
			    colon + 1);
	spec.port = (uint16_t)port;
	if (cfg->listen_count >= HD_MAX_LISTEN)
		return fail(err, errlen, "at most %d listen addresses",
			    HD_MAX_LISTEN);
	cfg->listen[cfg->listen_count++] = spec;
	return 0;
}

int hd_config_set_workers(struct hd_config *cfg, const char *value, char *err,
			  size_t errlen)
{
	long n;
	if (!strcmp(value, "auto")) {
		cfg->workers = 0;
		return 0;
	}
	if (parse_long(value, 1, HD_MAX_WORKERS, &n))
		return fail(err, errlen, "expected 'auto' or 1..%d, got '%s'",
			    HD_MAX_WORKERS, value);
	cfg->workers = (int)n;
	return 0;
}

int hd_config_set_trigger(struct hd_config *cfg, const char *value, char *err,
			  size_t errlen)
{
	if (!strcmp(value, "edge"))
		cfg->trigger = HD_TRIGGER_EDGE;
	else if (!strcmp(value, "level"))
		cfg->trigger = HD_TRIGGER_LEVEL;
	else
		return fail(err, errlen, "expected 'edge' or 'level', got '%s'",
			    value);
	cfg->trigger_set = true;
	return 0;
}

int hd_config_set_poller(struct hd_config *cfg, const char *value, char *err,
			 size_t errlen)
{
	if (!strcmp(value, "epoll"))
		cfg->poller = HD_POLLER_EPOLL;
	else if (!strcmp(value, "poll"))
		cfg->poller = HD_POLLER_POLL;
	else if (!strcmp(value, "select"))
		cfg->poller = HD_POLLER_SELECT;
	else
		return fail(err, errlen,
			    "expected 'epoll', 'poll' or 'select', got '%s'",
			    value);
	return 0;
}

static int set_status(struct hd_config *cfg, const char *value, char *err,
		      size_t errlen)
{
	long n;
	if (parse_long(value, 200, 599, &n))
		return fail(err, errlen, "expected a status 200..599, got '%s'",
			    value);
	cfg->status = (int)n;
	return 0;
}

/* The body is the rest of the line; \n, \r, \t and \\ are unescaped so a
 * multi-line body fits on one config line. */
static int set_body(struct hd_config *cfg, const char *value, char *err,
		    size_t errlen)
{
	size_t n = strlen(value);
	char *body = malloc(n + 1);
	if (!body)
		return fail(err, errlen, "out of memory");
	size_t len = 0;
	for (size_t i = 0; i < n; i++) {
		char c = value[i];
		if (c == '\\' && i + 1 < n) {
			char e = value[++i];
			c = e == 'n'   ? '\n'
			    : e == 'r' ? '\r'
			    : e == 't' ? '\t'
				       : e;
			if (!strchr("nrt\\", e)) {
				free(body);
				return fail(err, errlen,
					    "unknown escape '\\%c' (use \\n, "
					    "\\r, \\t or \\\\)",
					    e);
			}
		}
		body[len++] = c;
	}
	body[len] = '\0';
	free(cfg->body);
	cfg->body = body;
	cfg->body_len = len;
	return 0;
}

static int set_header_string(char *dst, size_t dstlen, const char *value,
			     char *err, size_t errlen)
{
	if (!is_header_safe(value))
		return fail(err, errlen, "control characters are not allowed");
	if (strlen(value) >= dstlen)
		return fail(err, errlen, "longer than %zu bytes", dstlen - 1);
	strcpy(dst, value);
	return 0;
}

static int set_content_type(struct hd_config *cfg, const char *value, char *err,
			    size_t errlen)
{
	return set_header_string(cfg->content_type, sizeof(cfg->content_type),
				 value, err, errlen);
}

static int set_server_name(struct hd_config *cfg, const char *value, char *err,
			   size_t errlen)
{
	return set_header_string(cfg->server_name, sizeof(cfg->server_name),
				 value, err, errlen);
}

static int set_catch_all(struct hd_config *cfg, const char *value, char *err,
			 size_t errlen)
{
	if (parse_bool(value, &cfg->catch_all))
		return fail(err, errlen, "expected 'on' or 'off', got '%s'",
			    value);
	return 0;
}

static int set_stats(struct hd_config *cfg, const char *value, char *err,
		     size_t errlen)
{
	if (parse_bool(value, &cfg->stats))
		return fail(err, errlen, "expected 'on' or 'off', got '%s'",
			    value);
	return 0;
}

static int set_max_pending_output(struct hd_config *cfg, const char *value,
				  char *err, size_t errlen)
{
	if (parse_size(value, 4096, (size_t)1 << 30, &cfg->max_pending_output))
		return fail(err, errlen,
			    "expected a size 4k..1g (k, m, g suffixes), got "
			    "'%s'",
			    value);
	return 0;
}

static int set_on_off(bool *flag, const char *value, char *err, size_t errlen)
{
	if (parse_bool(value, flag))
		return fail(err, errlen, "expected 'on' or 'off', got '%s'",
			    value);
	return 0;
}

static int set_read_once(struct hd_config *cfg, const char *value, char *err,
			 size_t errlen)
{
	return set_on_off(&cfg->read_once, value, err, errlen);
}

static int set_accept_once(struct hd_config *cfg, const char *value, char *err,
			   size_t errlen)
{
	return set_on_off(&cfg->accept_once, value, err, errlen);
}

int hd_config_set_read_size(struct hd_config *cfg, const char *value, char *err,
			    size_t errlen)
{
	if (parse_size(value, 1, (size_t)1 << 20, &cfg->read_size))
		return fail(err, errlen,
			    "expected a size 1..1m (k, m suffixes), got '%s'",
			    value);
	return 0;
}

/* ---- the file -------------------------------------------------------------
 */

typedef int (*setter_fn)(struct hd_config *, const char *, char *, size_t);

static const struct {
	const char *key;
	setter_fn set;
} keys[] = {
	{"listen", hd_config_set_listen},
	{"workers", hd_config_set_workers},
	{"trigger", hd_config_set_trigger},
	{"poller", hd_config_set_poller},
	{"status", set_status},
	{"body", set_body},
	{"content_type", set_content_type},
	{"server_name", set_server_name},
	{"catch_all", set_catch_all},
	{"max_pending_output", set_max_pending_output},
	{"stats", set_stats},
	{"read_once", set_read_once},
	{"accept_once", set_accept_once},
	{"read_size", hd_config_set_read_size},
};

static setter_fn find_setter(const char *key)
{
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!strcmp(keys[i].key, key))
			return keys[i].set;
	return NULL;
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	char *end = s + strlen(s);
	while (end > s &&
	       (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		*--end = '\0';
	return s;
}

/* Parses one line in place. Comments are whole lines, so values (a body,
 * say) may hold '#'. The first `listen` in a file replaces the
 * default address instead of adding to it. */
static int parse_line(struct hd_config *cfg, char *line, bool *listen_seen,
		      char *msg, size_t msglen, const char **bad_key)
{
	char *key = trim(line);
	if (*key == '\0' || *key == '#')
		return 0;
	char *value = key + strcspn(key, " \t");
	if (*value)
		*value++ = '\0';
	value = trim(value);
	*bad_key = key;
	setter_fn set = find_setter(key);
	if (!set)
		return fail(msg, msglen, "unknown key");
	if (*value == '\0')
		return fail(msg, msglen, "missing value");
	if (set == hd_config_set_listen && !*listen_seen) {
		cfg->listen_count = 0;
		*listen_seen = true;
	}
	return set(cfg, value, msg, msglen);
}

int hd_config_parse_text(struct hd_config *cfg, const char *name,
			 const char *text, char *err, size_t errlen)
{
	char *copy = strdup(text);
	if (!copy)
		return fail(err, errlen, "%s: out of memory", name);
	bool listen_seen = false;
	int lineno = 0, rc = 0;
	char *next = copy;
	for (char *line; (line = next) != NULL;) {
		char *nl = strchr(line, '\n');
		next = nl ? nl + 1 : NULL;
		if (nl)
			*nl = '\0';
		lineno++;
		char msg[HD_ERRLEN];
		const char *bad_key = "";
		if (parse_line(cfg, line, &listen_seen, msg, sizeof(msg),
			       &bad_key)) {
			fail(err, errlen, "%s:%d: key '%s': %s", name, lineno,
			     bad_key, msg);
			rc = -1;
			break;
		}
	}
	free(copy);
	return rc;
}

int hd_config_load_file(struct hd_config *cfg, const char *path, char *err,
			size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return fail(err, errlen, "%s: cannot open: %s", path,
			    strerror(errno));
	struct {
		char *data;
		size_t len, cap;
	} text = {0};
	char chunk[4096];
	size_t n;
	int rc = 0;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (text.len + n + 1 > (1u << 20)) {
			rc = fail(err, errlen, "%s: larger than 1 MiB", path);
			goto out_free;
		}
		if (text.len + n + 1 > text.cap) {
			size_t cap = (text.len + n + 1) * 2;
			char *grown = realloc(text.data, cap);
			if (!grown) {
				rc = fail(err, errlen, "%s: out of memory",
					  path);
				goto out_free;
			}
			text.data = grown;
			text.cap = cap;
		}
		memcpy(text.data + text.len, chunk, n);
		text.len += n;
	}
	if (ferror(f)) {
		rc = fail(err, errlen, "%s: read error", path);
		goto out_free;
	}
	if (memchr(text.data ? text.data : "", '\0', text.len)) {
		rc = fail(err, errlen, "%s: contains a NUL byte", path);
		goto out_free;
	}
	if (text.data)
		text.data[text.len] = '\0';
	rc = hd_config_parse_text(cfg, path, text.data ? text.data : "", err,
				  errlen);
out_free:
	free(text.data);
	fclose(f);
	return rc;
}

int hd_config_finish(struct hd_config *cfg, char *err, size_t errlen)
{
	/* poll and select only know level triggering: they get it unless the
	 * user asked for edge explicitly, which is an error. */
	if (cfg->poller != HD_POLLER_EPOLL) {
		if (cfg->trigger_set && cfg->trigger == HD_TRIGGER_EDGE)
			return fail(err, errlen,
				    "poller '%s' is level-triggered only: use "
				    "'trigger level' with it",
				    hd_poller_name(cfg->poller));
		cfg->trigger = HD_TRIGGER_LEVEL;
	}
	if (cfg->listen_count == 0)
		return fail(err, errlen, "no listen address");
	return 0;
}
