/* config.c — embedded defaults, the config file parser and the setters the
 * command line shares with it. */
#include "hellod/config.h"
#include "hellod/response.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
	strcpy(cfg->health_path, "/health");
	strcpy(cfg->metrics_path, "/metrics");
	cfg->drain_grace_ms = 5000;
	cfg->drain_timeout_ms = 15000;
	cfg->max_uri = 8 * 1024;
	cfg->max_header_size = 16 * 1024;
	cfg->max_headers = 100;
	cfg->max_body = 1024 * 1024;
	cfg->header_timeout_ms = 10 * 1000;
	cfg->keepalive_timeout_ms = 60 * 1000;
	cfg->write_timeout_ms = 30 * 1000;
	cfg->lingering_time_ms = 5 * 1000;
	cfg->lingering_bytes = 1024 * 1024;
	cfg->max_connections = 10000;
	cfg->read_size = 64 * 1024;
	cfg->read_after_accept = true;
	return 0;
}

void hd_config_free(struct hd_config *cfg)
{
	free(cfg->body);
	cfg->body = NULL;
	free(cfg->extra_headers);
	cfg->extra_headers = NULL;
	for (int i = 0; i < cfg->route_count; i++) {
		free(cfg->routes[i].body);
		cfg->routes[i].body = NULL;
	}
	cfg->route_count = 0;
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
	case HD_POLLER_BUSY: return "busy";
	case HD_POLLER_BLOCKING: return "blocking";
	case HD_POLLER_THREADS: return "threads";
	case HD_POLLER_URING: return "uring";
	}
	return "?";
}

/* ---- value parsers ---- */

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

/* ---- setters ---- */

static int parse_listen_addr(struct hd_config *cfg, const char *value,
			     char *err, size_t errlen);

/* "ADDR:PORT" optionally followed by " proxy_protocol". */
int hd_config_set_listen(struct hd_config *cfg, const char *value, char *err,
			 size_t errlen)
{
	char addr[96];
	const char *option = value + strcspn(value, " \t");
	size_t addrlen = (size_t)(option - value);
	if (addrlen >= sizeof(addr))
		return fail(err, errlen, "address too long: '%s'", value);
	memcpy(addr, value, addrlen);
	addr[addrlen] = '\0';
	option += strspn(option, " \t");
	bool proxy = false;
	if (!strcmp(option, "proxy_protocol"))
		proxy = true;
	else if (*option)
		return fail(err, errlen,
			    "unknown listen option '%s' (known: "
			    "proxy_protocol)",
			    option);
	if (parse_listen_addr(cfg, addr, err, errlen))
		return -1;
	cfg->listen[cfg->listen_count - 1].proxy_protocol = proxy;
	return 0;
}

static int parse_listen_addr(struct hd_config *cfg, const char *value,
			     char *err, size_t errlen)
{
	struct hd_listen_spec spec;
	memset(&spec, 0, sizeof(spec)); /* padding too: configs compare whole */
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
	else if (!strcmp(value, "busy"))
		cfg->poller = HD_POLLER_BUSY;
	else if (!strcmp(value, "blocking"))
		cfg->poller = HD_POLLER_BLOCKING;
	else if (!strcmp(value, "threads"))
		cfg->poller = HD_POLLER_THREADS;
	else if (!strcmp(value, "uring"))
		cfg->poller = HD_POLLER_URING;
	else
		return fail(err, errlen,
			    "expected 'epoll', 'poll', 'select', 'busy', "
			    "'blocking', 'threads' or 'uring', got '%s'",
			    value);
	return 0;
}

/* A status whose responses carry no content (204, 205, 304) cannot go
 * with a body the user chose: refused at whichever of the two keys comes
 * second, so the error names that line. The default body is left out of
 * such responses instead (hd_status_framing). */
static bool status_takes_body(int status)
{
	return hd_status_framing(status) == HD_FRAMING_BODY;
}

static bool body_was_chosen(const struct hd_config *cfg);

static int refuse_body_for_status(const struct hd_config *cfg, char *err,
				  size_t errlen)
{
	return fail(err, errlen,
		    "a %d %s response carries no content, but 'body' or "
		    "'body_file' sets %zu bytes",
		    cfg->status, hd_status_reason(cfg->status), cfg->body_len);
}

static int set_status(struct hd_config *cfg, const char *value, char *err,
		      size_t errlen)
{
	long n;
	if (parse_long(value, 200, 599, &n))
		return fail(err, errlen, "expected a status 200..599, got '%s'",
			    value);
	cfg->status = (int)n;
	if (body_was_chosen(cfg) && cfg->body_len &&
	    !status_takes_body(cfg->status))
		return refuse_body_for_status(cfg, err, errlen);
	return 0;
}

/* Replaces the configured body (heap, len bytes). */
static int take_body(struct hd_config *cfg, char *body, size_t len, char *err,
		     size_t errlen)
{
	free(cfg->body);
	cfg->body = body;
	cfg->body_len = len;
	if (len && !status_takes_body(cfg->status))
		return refuse_body_for_status(cfg, err, errlen);
	return 0;
}

/* A body given on a config line: \n, \r, \t and \\ are unescaped so a
 * multi-line body fits on one line. Sets *out (heap) and *len. */
static int unescape_body(const char *value, char **out, size_t *len, char *err,
			 size_t errlen)
{
	size_t n = strlen(value);
	char *body = malloc(n + 1);
	if (!body)
		return fail(err, errlen, "out of memory");
	size_t used = 0;
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
		body[used++] = c;
	}
	body[used] = '\0';
	*out = body;
	*len = used;
	return 0;
}

/* A body read from a file, once, at load time (at most 1 MiB). */
static int read_body_file(const char *path, char **out, size_t *len, char *err,
			  size_t errlen)
{
	enum { MAX_BODY_FILE = 1 << 20 };
	FILE *f = fopen(path, "rb");
	if (!f)
		return fail(err, errlen, "cannot open '%s': %s", path,
			    strerror(errno));
	char *body = malloc(MAX_BODY_FILE + 1);
	size_t n = body ? fread(body, 1, MAX_BODY_FILE + 1, f) : 0;
	bool bad = !body || ferror(f) || n > MAX_BODY_FILE;
	fclose(f);
	if (bad) {
		free(body);
		return fail(err, errlen, "'%s': unreadable or over 1 MiB",
			    path);
	}
	*out = body;
	*len = n;
	return 0;
}

/* The body is the rest of the line (see unescape_body). */
static int set_body(struct hd_config *cfg, const char *value, char *err,
		    size_t errlen)
{
	char *body;
	size_t len;
	if (unescape_body(value, &body, &len, err, errlen))
		return -1;
	return take_body(cfg, body, len, err, errlen);
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

static int set_on_off(bool *flag, const char *value, char *err, size_t errlen)
{
	if (parse_bool(value, flag))
		return fail(err, errlen, "expected 'on' or 'off', got '%s'",
			    value);
	return 0;
}

static int set_catch_all(struct hd_config *cfg, const char *value, char *err,
			 size_t errlen)
{
	return set_on_off(&cfg->catch_all, value, err, errlen);
}

static int set_stats(struct hd_config *cfg, const char *value, char *err,
		     size_t errlen)
{
	return set_on_off(&cfg->stats, value, err, errlen);
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

/* Durations: a number with ms, s or m (a bare number is seconds). */
static int parse_duration_ms(const char *value, unsigned max_ms, unsigned *out)
{
	char *end;
	errno = 0;
	if (!isdigit((unsigned char)value[0]))
		return -1;
	unsigned long long n = strtoull(value, &end, 10);
	unsigned long long scale = 1000;
	if (errno || end == value || n > 86400000)
		return -1;
	if (!strcmp(end, "ms"))
		scale = 1;
	else if (!strcmp(end, "m"))
		scale = 60000;
	else if (*end && strcmp(end, "s"))
		return -1;
	if (n * scale > max_ms)
		return -1;
	*out = (unsigned)(n * scale);
	return 0;
}

/* An absolute path without blanks, controls, '?' or '#'; "/" only when
 * root_ok ("/" exactly is the main route's). */
static int check_path(const char *value, bool root_ok, char *err, size_t errlen)
{
	if (value[0] != '/' || strlen(value) >= HD_PATH_MAX)
		return fail(err, errlen,
			    "expected a path starting with '/' (under %d "
			    "bytes), got '%s'",
			    HD_PATH_MAX, value);
	if (!root_ok && !strcmp(value, "/"))
		return fail(err, errlen,
			    "'/' is the main route's path (body, status, "
			    "content_type); choose another");
	for (const unsigned char *p = (const unsigned char *)value; *p; p++)
		if (*p <= ' ' || *p == 0x7f || *p == '?' || *p == '#')
			return fail(err, errlen,
				    "path '%s' has a blank, control, '?' or "
				    "'#'",
				    value);
	return 0;
}

/* A special route's path: "off", or a path (check_path). */
static int set_path(char *dst, const char *value, char *err, size_t errlen)
{
	if (!strcmp(value, "off")) {
		dst[0] = '\0';
		return 0;
	}
	if (value[0] != '/')
		return fail(err, errlen,
			    "expected 'off' or a path starting with '/', got "
			    "'%s'",
			    value);
	if (check_path(value, false, err, errlen))
		return -1;
	strcpy(dst, value);
	return 0;
}

/* The next blank-separated word of *p into out (cut to outlen - 1);
 * *p moves past it and the blanks after. Returns the word's length. */
static size_t next_word(const char **p, char *out, size_t outlen)
{
	size_t n = strcspn(*p, " \t");
	snprintf(out, outlen, "%.*s", (int)n, *p);
	*p += n;
	*p += strspn(*p, " \t");
	return n;
}

/* "route PATH[*] STATUS [TYPE [BODY | @FILE]]": a fixed answer for PATH,
 * or, with a trailing '*', for every path that starts with PATH (the
 * longest such prefix wins; an exact route beats any prefix). BODY is
 * the rest of the line, unescaped like `body`; "@FILE" reads it from
 * FILE. A 204, 205 or 304 route takes neither TYPE nor BODY. */
static int set_route(struct hd_config *cfg, const char *value, char *err,
		     size_t errlen)
{
	if (cfg->route_count >= HD_MAX_STATIC_ROUTES)
		return fail(err, errlen, "at most %d routes",
			    HD_MAX_STATIC_ROUTES);
	struct hd_route_spec r = {.status = 200, .content_type = "text/plain"};
	char path[HD_PATH_MAX + 1], status[16], type[sizeof(r.content_type)];
	const char *p = value;
	size_t path_len = next_word(&p, path, sizeof(path));
	long code;
	if (!next_word(&p, status, sizeof(status)) ||
	    parse_long(status, 200, 599, &code))
		return fail(err, errlen,
			    "expected PATH STATUS [TYPE [BODY]], STATUS "
			    "200..599, got '%s'",
			    value);
	r.status = (int)code;
	r.prefix = path_len > 1 && path[path_len - 1] == '*';
	if (r.prefix)
		path[path_len - 1] = '\0';
	if (path_len >= HD_PATH_MAX)
		return fail(err, errlen, "path longer than %d bytes",
			    HD_PATH_MAX - 1);
	if (check_path(path, r.prefix, err, errlen))
		return -1;
	strcpy(r.path, path);
	for (int i = 0; i < cfg->route_count; i++)
		if (!strcmp(cfg->routes[i].path, r.path) &&
		    cfg->routes[i].prefix == r.prefix)
			return fail(err, errlen, "route '%s%s' is given twice",
				    r.path, r.prefix ? "*" : "");
	bool has_type = next_word(&p, type, sizeof(type)) > 0;
	if (has_type &&
	    set_header_string(r.content_type, sizeof(r.content_type), type, err,
			      errlen))
		return -1;
	if (!status_takes_body(r.status) && (has_type || *p))
		return fail(err, errlen,
			    "a %d %s response carries no content: give it no "
			    "type or body",
			    r.status, hd_status_reason(r.status));
	int rc = *p == '@'
			 ? read_body_file(p + 1, &r.body, &r.body_len, err,
					  errlen)
			 : unescape_body(p, &r.body, &r.body_len, err, errlen);
	if (rc)
		return -1;
	cfg->routes[cfg->route_count++] = r;
	return 0;
}

static int set_health_path(struct hd_config *cfg, const char *value, char *err,
			   size_t errlen)
{
	return set_path(cfg->health_path, value, err, errlen);
}

static int set_metrics_path(struct hd_config *cfg, const char *value, char *err,
			    size_t errlen)
{
	return set_path(cfg->metrics_path, value, err, errlen);
}

static int set_echo_path(struct hd_config *cfg, const char *value, char *err,
			 size_t errlen)
{
	return set_path(cfg->echo_path, value, err, errlen);
}

#define DURATION_HELP "expected a duration like 500ms, 5s or 2m (max 1h), got"

static int set_drain_grace(struct hd_config *cfg, const char *value, char *err,
			   size_t errlen)
{
	if (parse_duration_ms(value, 3600 * 1000, &cfg->drain_grace_ms))
		return fail(err, errlen, DURATION_HELP " '%s'", value);
	return 0;
}

static int set_drain_timeout(struct hd_config *cfg, const char *value,
			     char *err, size_t errlen)
{
	if (parse_duration_ms(value, 3600 * 1000, &cfg->drain_timeout_ms))
		return fail(err, errlen, DURATION_HELP " '%s'", value);
	return 0;
}

/* A file path, or "off" for none. */
static int set_file_path(char *dst, size_t dstlen, const char *value, char *err,
			 size_t errlen)
{
	if (!strcmp(value, "off")) {
		dst[0] = '\0';
		return 0;
	}
	if (strlen(value) >= dstlen)
		return fail(err, errlen, "path too long");
	strcpy(dst, value);
	return 0;
}

static int set_access_log(struct hd_config *cfg, const char *value, char *err,
			  size_t errlen)
{
	return set_file_path(cfg->access_log, sizeof(cfg->access_log), value,
			     err, errlen);
}

int hd_config_set_pid_file(struct hd_config *cfg, const char *value, char *err,
			   size_t errlen)
{
	return set_file_path(cfg->pid_file, sizeof(cfg->pid_file), value, err,
			     errlen);
}

static int set_access_log_format(struct hd_config *cfg, const char *value,
				 char *err, size_t errlen)
{
	if (!strcmp(value, "common"))
		cfg->access_log_format = HD_LOG_COMMON;
	else if (!strcmp(value, "json"))
		cfg->access_log_format = HD_LOG_JSON;
	else
		return fail(err, errlen,
			    "expected 'common' or 'json', got '%s'", value);
	return 0;
}

static bool is_token_char(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Header names hellod writes itself cannot be set again. */
static bool is_reserved_header(const char *name, size_t len)
{
	static const char *const reserved[] = {
		"server",	  "date",	"content-type",
		"content-length", "connection", "transfer-encoding"};
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (strlen(reserved[i]) == len &&
		    !strncasecmp(reserved[i], name, len))
			return true;
	return false;
}

/* "NAME VALUE": appended to every response as "NAME: VALUE". */
static int set_header(struct hd_config *cfg, const char *value, char *err,
		      size_t errlen)
{
	size_t name_len = strcspn(value, " \t");
	const char *hvalue = value + name_len + strspn(value + name_len, " \t");
	if (name_len == 0 || *hvalue == '\0')
		return fail(err, errlen, "expected NAME VALUE, got '%s'",
			    value);
	for (size_t i = 0; i < name_len; i++)
		if (!is_token_char((unsigned char)value[i]))
			return fail(err, errlen, "'%.*s' is not a header name",
				    (int)name_len, value);
	if (is_reserved_header(value, name_len))
		return fail(err, errlen,
			    "'%.*s' is set by hellod itself (use "
			    "content_type or server_name)",
			    (int)name_len, value);
	if (!is_header_safe(hvalue))
		return fail(err, errlen, "control characters are not allowed");
	size_t add = name_len + 2 + strlen(hvalue) + 2;
	if (cfg->extra_headers_len + add > 4096)
		return fail(err, errlen, "extra headers exceed 4 KiB");
	char *grown =
		realloc(cfg->extra_headers, cfg->extra_headers_len + add + 1);
	if (!grown)
		return fail(err, errlen, "out of memory");
	snprintf(grown + cfg->extra_headers_len, add + 1, "%.*s: %s\r\n",
		 (int)name_len, value, hvalue);
	cfg->extra_headers = grown;
	cfg->extra_headers_len += add;
	return 0;
}

/* The body comes from a file, read once at load time. */
static int set_body_file(struct hd_config *cfg, const char *value, char *err,
			 size_t errlen)
{
	char *body;
	size_t len;
	if (read_body_file(value, &body, &len, err, errlen))
		return -1;
	return take_body(cfg, body, len, err, errlen);
}

/* A size key: n bytes with an optional k, m or g suffix, within bounds. */
static int set_size(size_t *dst, size_t min, size_t max, const char *range,
		    const char *value, char *err, size_t errlen)
{
	if (parse_size(value, min, max, dst))
		return fail(err, errlen,
			    "expected a size %s (k, m, g suffixes), got '%s'",
			    range, value);
	return 0;
}

static int set_max_uri(struct hd_config *cfg, const char *value, char *err,
		       size_t errlen)
{
	return set_size(&cfg->max_uri, 16, 1u << 20, "16..1m", value, err,
			errlen);
}

static int set_max_header_size(struct hd_config *cfg, const char *value,
			       char *err, size_t errlen)
{
	return set_size(&cfg->max_header_size, 64, 1u << 20, "64..1m", value,
			err, errlen);
}

static int set_max_body(struct hd_config *cfg, const char *value, char *err,
			size_t errlen)
{
	return set_size(&cfg->max_body, 0, (size_t)1 << 40, "0..1024g", value,
			err, errlen);
}

static int set_count(unsigned *dst, long min, long max, const char *value,
		     char *err, size_t errlen)
{
	long n;
	if (parse_long(value, min, max, &n))
		return fail(err, errlen, "expected %ld..%ld, got '%s'", min,
			    max, value);
	*dst = (unsigned)n;
	return 0;
}

static int set_max_headers(struct hd_config *cfg, const char *value, char *err,
			   size_t errlen)
{
	return set_count(&cfg->max_headers, 1, 65535, value, err, errlen);
}

static int set_max_connections(struct hd_config *cfg, const char *value,
			       char *err, size_t errlen)
{
	return set_count(&cfg->max_connections, 1, 1 << 24, value, err, errlen);
}

/* A timeout: 10 ms to one day. */
static int set_duration(unsigned *dst, const char *value, char *err,
			size_t errlen)
{
	if (parse_duration_ms(value, 86400000, dst) || *dst < 10)
		return fail(err, errlen,
			    "expected a duration 10ms..24h such as 500ms, 10s "
			    "or 2m, got '%s'",
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

static int set_shared_listener(struct hd_config *cfg, const char *value,
			       char *err, size_t errlen)
{
	return set_on_off(&cfg->shared_listener, value, err, errlen);
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

static int set_header_timeout(struct hd_config *cfg, const char *value,
			      char *err, size_t errlen)
{
	return set_duration(&cfg->header_timeout_ms, value, err, errlen);
}

static int set_keepalive_timeout(struct hd_config *cfg, const char *value,
				 char *err, size_t errlen)
{
	return set_duration(&cfg->keepalive_timeout_ms, value, err, errlen);
}

static int set_write_timeout(struct hd_config *cfg, const char *value,
			     char *err, size_t errlen)
{
	return set_duration(&cfg->write_timeout_ms, value, err, errlen);
}

/* 0 turns lingering off; otherwise a duration like the timeouts. */
static int set_lingering_time(struct hd_config *cfg, const char *value,
			      char *err, size_t errlen)
{
	if (!strcmp(value, "0")) {
		cfg->lingering_time_ms = 0;
		return 0;
	}
	return set_duration(&cfg->lingering_time_ms, value, err, errlen);
}

/* "off" or whole seconds, as TCP_DEFER_ACCEPT takes them. */
static int set_defer_accept(struct hd_config *cfg, const char *value, char *err,
			    size_t errlen)
{
	unsigned ms;
	bool on;
	if (!parse_bool(value, &on) && !on) {
		cfg->defer_accept_s = 0;
		return 0;
	}
	/* Past 30 s the kernel's SYN-ACK retries (tcp_synack_retries 5,
	 * 31 s) run out before the deadline does. */
	if (parse_duration_ms(value, 30 * 1000, &ms) || ms < 1000 || ms % 1000)
		return fail(err, errlen,
			    "expected 'off' or whole seconds 1s..30s, got '%s'",
			    value);
	cfg->defer_accept_s = ms / 1000;
	return 0;
}

static int set_read_after_accept(struct hd_config *cfg, const char *value,
				 char *err, size_t errlen)
{
	return set_on_off(&cfg->read_after_accept, value, err, errlen);
}

static int set_lingering_bytes(struct hd_config *cfg, const char *value,
			       char *err, size_t errlen)
{
	if (parse_size(value, 0, (size_t)1 << 30, &cfg->lingering_bytes))
		return fail(
			err, errlen,
			"expected a size 0..1g (k, m, g suffixes), got '%s'",
			value);
	return 0;
}

/* 0 (spin) up to a second; tutorials sleep a millisecond or so. */
int hd_config_set_busy_sleep(struct hd_config *cfg, const char *value,
			     char *err, size_t errlen)
{
	if (parse_duration_ms(value, 1000, &cfg->busy_sleep_ms))
		return fail(err, errlen,
			    "expected 0 or a duration up to 1s such as 1ms, "
			    "got '%s'",
			    value);
	return 0;
}

int hd_config_set_trace(struct hd_config *cfg, const char *value, char *err,
			size_t errlen)
{
	long n;
	if (parse_long(value, 0, 1000000, &n))
		return fail(err, errlen,
			    "expected a line count 0..1000000 (0: off), got "
			    "'%s'",
			    value);
	cfg->trace_lines = (unsigned long)n;
	return 0;
}

/* ---- the file ---- */

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
	{"health_path", set_health_path},
	{"metrics_path", set_metrics_path},
	{"echo_path", set_echo_path},
	{"drain_grace", set_drain_grace},
	{"drain_timeout", set_drain_timeout},
	{"access_log", set_access_log},
	{"access_log_format", set_access_log_format},
	{"pid_file", hd_config_set_pid_file},
	{"header", set_header},
	{"body_file", set_body_file},
	{"route", set_route},
	{"max_uri", set_max_uri},
	{"max_header_size", set_max_header_size},
	{"max_headers", set_max_headers},
	{"max_body", set_max_body},
	{"header_timeout", set_header_timeout},
	{"keepalive_timeout", set_keepalive_timeout},
	{"write_timeout", set_write_timeout},
	{"lingering_time", set_lingering_time},
	{"lingering_bytes", set_lingering_bytes},
	{"max_connections", set_max_connections},
	{"defer_accept", set_defer_accept},
	{"read_after_accept", set_read_after_accept},
	{"read_once", set_read_once},
	{"accept_once", set_accept_once},
	{"read_size", hd_config_set_read_size},
	{"busy_sleep", hd_config_set_busy_sleep},
	{"trace", hd_config_set_trace},
	{"shared_listener", set_shared_listener},
};

_Static_assert(sizeof(keys) / sizeof(keys[0]) == HD_CONFIG_KEYS,
	       "HD_CONFIG_KEYS in config.h must count the keys table");

const char *hd_config_key_name(int i)
{
	return i >= 0 && i < HD_CONFIG_KEYS ? keys[i].key : NULL;
}

/* The key's index in keys[], or -1. */
static int find_key(const char *key)
{
	for (int i = 0; i < HD_CONFIG_KEYS; i++)
		if (!strcmp(keys[i].key, key))
			return i;
	return -1;
}

/* Set by the file (or a flag), not defaulted. */
static bool key_was_set(const struct hd_config *cfg, const char *key)
{
	int i = find_key(key);
	return i >= 0 && cfg->origin[i].line != 0;
}

static bool body_was_chosen(const struct hd_config *cfg)
{
	return key_was_set(cfg, "body") || key_was_set(cfg, "body_file");
}

void hd_config_note_flag(struct hd_config *cfg, const char *key)
{
	int i = find_key(key);
	if (i >= 0)
		cfg->origin[i] = (struct hd_config_origin){NULL, HD_FROM_FLAG};
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
	int k = find_key(key);
	if (k < 0)
		return fail(msg, msglen, "unknown key");
	if (*value == '\0')
		return fail(msg, msglen, "missing value");
	if (keys[k].set == hd_config_set_listen && !*listen_seen) {
		cfg->listen_count = 0;
		*listen_seen = true;
	}
	return keys[k].set(cfg, value, msg, msglen);
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
		int k = *bad_key ? find_key(bad_key) : -1;
		if (k >= 0)
			cfg->origin[k] =
				(struct hd_config_origin){name, lineno};
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

/* Of two keys in conflict, the one set last: a flag beats a file line, a
 * later line an earlier one, anything the default. */
static int set_last(const struct hd_config *cfg, int a, int b)
{
	int la = cfg->origin[a].line, lb = cfg->origin[b].line;
	if (la == HD_FROM_FLAG || lb == HD_FROM_FLAG)
		return la == HD_FROM_FLAG ? a : b;
	return la >= lb ? a : b;
}

/* A conflict found after parsing, as one line that names where key k was
 * set: "FILE:LINE: key 'KEY': ...", "--FLAG: ..." or "key 'KEY': ...". */
static int conflict(const struct hd_config *cfg, int k, char *err,
		    size_t errlen, const char *fmt, ...)
{
	char where[HD_ERRLEN], msg[HD_ERRLEN];
	const struct hd_config_origin *o = &cfg->origin[k];
	if (o->line == HD_FROM_FLAG) {
		snprintf(where, sizeof(where), "--%s", keys[k].key);
		for (char *p = where; *p; p++)
			if (*p == '_')
				*p = '-';
	} else if (o->line > 0 && o->file) {
		snprintf(where, sizeof(where), "%s:%d: key '%s'", o->file,
			 o->line, keys[k].key);
	} else {
		snprintf(where, sizeof(where), "key '%s'", keys[k].key);
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return fail(err, errlen, "%s: %s", where, msg);
}

int hd_config_finish(struct hd_config *cfg, char *err, size_t errlen)
{
	/* poll and select only know level triggering: they get it unless the
	 * user asked for edge explicitly, which is an error. */
	if (cfg->poller != HD_POLLER_EPOLL) {
		if (cfg->trigger_set && cfg->trigger == HD_TRIGGER_EDGE)
			return conflict(cfg, find_key("trigger"), err, errlen,
					"'edge' is not available with poller "
					"'%s', which is level-triggered only: "
					"use 'level' or leave trigger unset",
					hd_poller_name(cfg->poller));
		cfg->trigger = HD_TRIGGER_LEVEL;
	}
	if (cfg->listen_count == 0)
		return conflict(cfg, find_key("listen"), err, errlen,
				"no listen address");
	/* A knob of one mode is refused with the others, not ignored. */
	if (cfg->poller != HD_POLLER_BUSY && key_was_set(cfg, "busy_sleep"))
		return conflict(cfg, find_key("busy_sleep"), err, errlen,
				"only applies to poller 'busy' (poller is "
				"'%s')",
				hd_poller_name(cfg->poller));
	if (cfg->poller == HD_POLLER_THREADS) {
		/* Each thread serves one connection at a time, so they must
		 * all take the next connection from one queue: with a socket
		 * per thread (SO_REUSEPORT) a client could wait behind a busy
		 * thread while others idle. */
		if (key_was_set(cfg, "shared_listener") &&
		    !cfg->shared_listener)
			return conflict(cfg, find_key("shared_listener"), err,
					errlen,
					"poller 'threads' needs one shared "
					"listening socket: leave it unset or "
					"on");
		cfg->shared_listener = true;
	}
	if (cfg->drain_timeout_ms < cfg->drain_grace_ms)
		return conflict(cfg,
				set_last(cfg, find_key("drain_timeout"),
					 find_key("drain_grace")),
				err, errlen,
				"drain_timeout (%ums) is shorter than "
				"drain_grace (%ums)",
				cfg->drain_timeout_ms, cfg->drain_grace_ms);
	const char *paths[] = {cfg->health_path, cfg->metrics_path,
			       cfg->echo_path};
	const char *path_keys[] = {"health_path", "metrics_path", "echo_path"};
	for (int i = 0; i < 3; i++)
		for (int j = i + 1; j < 3; j++) {
			if (!paths[i][0] || strcmp(paths[i], paths[j]))
				continue;
			int a = find_key(path_keys[i]),
			    b = find_key(path_keys[j]);
			int last = set_last(cfg, a, b);
			return conflict(cfg, last, err, errlen,
					"path '%s' is used by two routes (%s "
					"too)",
					paths[i], keys[last == a ? b : a].key);
		}
	for (int r = 0; r < cfg->route_count; r++)
		for (int i = 0; i < 3; i++)
			if (!cfg->routes[r].prefix &&
			    !strcmp(cfg->routes[r].path, paths[i]))
				return conflict(cfg, find_key("route"), err,
						errlen,
						"path '%s' is used by two "
						"routes (%s too)",
						paths[i], path_keys[i]);
	return 0;
}
