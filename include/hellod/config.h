/* config.h — hellod's settings: embedded defaults, the config file, flags.
 *
 * The file is line based: `key value`; a line whose first non-blank is `#`
 * is a comment, blank lines are ignored. Every key, its default and its meaning
 * is documented in conf/hellod.conf. Errors are reported as one line, written
 * into the caller's buffer: "FILE:LINE: key 'KEY': what is wrong".
 */
#ifndef HELLOD_CONFIG_H
#define HELLOD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HD_MAX_LISTEN  8
#define HD_MAX_WORKERS 1024
#define HD_ERRLEN      256

enum hd_trigger { HD_TRIGGER_EDGE, HD_TRIGGER_LEVEL };
enum hd_poller_kind {
	HD_POLLER_EPOLL,
	HD_POLLER_POLL,
	HD_POLLER_SELECT,
	HD_POLLER_BUSY,	    /* no readiness call: try every socket each pass */
	HD_POLLER_BLOCKING, /* blocking sockets, one connection at a time */
	HD_POLLER_THREADS,  /* blocking, a thread per connection (a pool) */
	HD_POLLER_URING,    /* io_uring: submit receives and sends, reap */
};
/* Threads of poller 'threads' unless workers says otherwise: the most
 * connections it serves at once. */
#define HD_THREADS_DEFAULT 64

struct hd_listen_spec {
	char host[64];	     /* numeric IPv4 or IPv6 address, no brackets */
	uint16_t port;	     /* 0 asks the kernel for any free port */
	bool proxy_protocol; /* clients start with a PROXY v1/v2 header */
};

enum hd_log_format { HD_LOG_COMMON, HD_LOG_JSON };

/* Keys the file parser knows (hd_config_key_name lists them). */
#define HD_CONFIG_KEYS 40

/* Where a key's value came from, so that a check across keys after
 * parsing (hd_config_finish) can name the file, line and key, or the
 * flag, like an error found while parsing. */
struct hd_config_origin {
	const char *file; /* the name given to the parser; NULL: none */
	int line;	  /* > 0: that line of file; HD_FROM_FLAG; 0: default */
};
#define HD_FROM_FLAG (-1)

#define HD_PATH_MAX	     128
#define HD_MAX_STATIC_ROUTES 16

/* A `route` line: a fixed answer for one path, or for every path that
 * starts with it. Precomputed at start like the main response. */
struct hd_route_spec {
	char path[HD_PATH_MAX]; /* without a prefix route's trailing '*' */
	bool prefix;		/* also answers paths that start with it */
	int status;
	char content_type[128];
	char *body; /* heap, body_len bytes */
	size_t body_len;
};

struct hd_config {
	struct hd_listen_spec listen[HD_MAX_LISTEN];
	int listen_count;
	int workers; /* 0 means one per online CPU */
	enum hd_trigger trigger;
	bool trigger_set; /* chosen by the user, not defaulted */
	enum hd_poller_kind poller;
	int status; /* status of the configured response */
	char *body; /* heap, body_len bytes, may hold NULs */
	size_t body_len;
	char content_type[128];
	char server_name[64];
	bool catch_all; /* every path answers the body, not only "/" */
	size_t max_pending_output; /* per connection, then reading pauses */
	bool stats;		   /* print loop counters on exit */
	/* operators: routes, drain, logging, extra headers */
	char health_path[HD_PATH_MAX];			   /* "" when off */
	char metrics_path[HD_PATH_MAX];			   /* "" when off */
	char echo_path[HD_PATH_MAX];			   /* "" when off */
	struct hd_route_spec routes[HD_MAX_STATIC_ROUTES]; /* `route` lines */
	int route_count;
	unsigned drain_grace_ms;   /* health says 503 this long */
	unsigned drain_timeout_ms; /* from SIGTERM to forced exit */
	char access_log[512];	   /* "" when off */
	char pid_file[512];	   /* "" when off */
	enum hd_log_format access_log_format;
	char *extra_headers; /* heap: "Name: value\r\n" lines, or NULL */
	size_t extra_headers_len;
	/* Request limits: each answered with its status and a close. */
	size_t max_uri;		/* request target bytes, else 414 */
	size_t max_header_size; /* request line + header bytes, else 431 */
	unsigned max_headers;	/* header fields, else 431 */
	size_t max_body;	/* request body bytes, else 413 */
	/* Timeouts in milliseconds (see conf/hellod.conf). */
	unsigned header_timeout_ms;
	unsigned keepalive_timeout_ms;
	unsigned write_timeout_ms;
	/* Lingering close: after a last answer with input left unread, read
	 * and discard for at most this long and this many bytes, so the
	 * close does not reset the answer away. 0 ms: close at once. */
	unsigned lingering_time_ms;
	size_t lingering_bytes;
	unsigned max_connections; /* per worker */
	/* TCP_DEFER_ACCEPT on the listeners hellod binds: the kernel queues
	 * a connection for accept once data came, or after this. 0: off. */
	unsigned defer_accept_s;
	/* Read each accepted connection at once, and register with the
	 * poller only one that stays open (not with poller blocking). */
	bool read_after_accept;
	/* Teaching pitfalls (docs/edge-vs-level.md), all off by default: */
	bool read_once;	  /* one read per readiness event, not until drained */
	bool accept_once; /* one accept per readiness event */
	size_t read_size; /* bytes asked of each read() */
	/* The teaching rungs below select (docs/edge-vs-level.md): */
	unsigned busy_sleep_ms;	   /* poller busy: sleep between passes */
	unsigned long trace_lines; /* --trace: worker 0 narrates; 0: off */
	/* One listening socket per address for all workers instead of one
	 * SO_REUSEPORT socket each: every worker is woken for every
	 * connection (the thundering herd --stats then shows). */
	bool shared_listener;
	/* Per key of hd_config_key_name, where its value was set. */
	struct hd_config_origin origin[HD_CONFIG_KEYS];
};

/* Fills cfg with the embedded defaults. Returns 0, or -ENOMEM. */
int hd_config_defaults(struct hd_config *cfg);
void hd_config_free(struct hd_config *cfg);

/* Applies the settings in `text` (the contents of `name`) on top of cfg.
 * cfg keeps the pointer `name` (for hd_config_finish's errors): it must
 * outlive cfg. Returns 0, or -1 with one line in err. */
int hd_config_parse_text(struct hd_config *cfg, const char *name,
			 const char *text, char *err, size_t errlen);
/* Reads and applies a config file. Returns 0, or -1 with one line in err. */
int hd_config_load_file(struct hd_config *cfg, const char *path, char *err,
			size_t errlen);

/* Single-value setters shared by the file parser and the flags. Each
 * returns 0, or -1 with what is wrong (no location) in err. */
int hd_config_set_listen(struct hd_config *cfg, const char *value, char *err,
			 size_t errlen);
int hd_config_set_workers(struct hd_config *cfg, const char *value, char *err,
			  size_t errlen);
int hd_config_set_trigger(struct hd_config *cfg, const char *value, char *err,
			  size_t errlen);
int hd_config_set_poller(struct hd_config *cfg, const char *value, char *err,
			 size_t errlen);
/* pid_file: a path, or "off". */
int hd_config_set_pid_file(struct hd_config *cfg, const char *value, char *err,
			   size_t errlen);
/* read_size: 1 byte .. 1 MiB, k/m suffixes (a teaching knob). */
int hd_config_set_read_size(struct hd_config *cfg, const char *value, char *err,
			    size_t errlen);

/* busy_sleep: 0 or a duration up to 1s (poller busy only). */
int hd_config_set_busy_sleep(struct hd_config *cfg, const char *value,
			     char *err, size_t errlen);

/* trace: how many lines worker 0 narrates, 0 (off) .. 1000000. */
int hd_config_set_trace(struct hd_config *cfg, const char *value, char *err,
			size_t errlen);

/* Records that the command line set `key` (a hd_config_key_name). */
void hd_config_note_flag(struct hd_config *cfg, const char *key);

/* Resolves defaults that depend on other keys and checks combinations the
 * single setters cannot see. Call once, after the file and the flags.
 * Returns 0, or -1 with one line in err naming the key that was set last
 * of those in conflict, as "FILE:LINE: key 'KEY': ..." or "--FLAG: ...". */
int hd_config_finish(struct hd_config *cfg, char *err, size_t errlen);

/* The keys of the file, in the parser's order: i < HD_CONFIG_KEYS. */
const char *hd_config_key_name(int i);

const char *hd_trigger_name(enum hd_trigger trigger);
const char *hd_poller_name(enum hd_poller_kind kind);

#endif
