/* cli.c — getopt_long flags on top of the config file. */
#include "hellod/cli.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static const char usage[] =
	"Usage: hellod [OPTION]...\n"
	"A small, fast HTTP/1.1 server that answers with one fixed response.\n"
	"\n"
	"  -c, --config FILE       read settings from FILE (see "
	"conf/hellod.conf)\n"
	"  -l, --listen ADDR:PORT  listen here instead of the config's "
	"address;\n"
	"                          repeat for more; port 0 picks a free port\n"
	"  -w, --workers N|auto    worker threads (default: one per CPU; "
	"64 with\n"
	"                          --poller threads)\n"
	"  -t, --trigger edge|level  epoll triggering (default: edge)\n"
	"  -p, --poller epoll|poll|select|busy|blocking|threads|uring  I/O "
	"multiplexer\n"
	"                          (default: epoll; busy, blocking, threads "
	"and uring\n"
	"                          are teaching rungs)\n"
	"      --busy-sleep D      poller busy: sleep between passes (0, "
	"1ms, ...)\n"
	"  -s, --stats             print per-worker loop counters on exit\n"
	"      --trace N           worker 0 narrates its first N steps to "
	"stderr\n"
	"      --read-once         TEACHING, breaks edge mode: one read per "
	"event\n"
	"      --accept-once       TEACHING, breaks edge mode: one accept per "
	"event\n"
	"      --read-size N       bytes per read() (default 64k)\n"
	"      --shared-listener   TEACHING: one listening socket for all "
	"workers,\n"
	"                          not one SO_REUSEPORT socket each (the "
	"herd)\n"
	"      --pid-file FILE     write the pid to FILE (kill -USR2 hands "
	"over\n"
	"                          the listeners to a new hellod)\n"
	"  -h, --help              show this help and exit\n"
	"  -V, --version           show the version and exit\n"
	"\n"
	"Without -c, hellod runs on its embedded defaults: 127.0.0.1:8080,\n"
	"one worker per CPU, \"Hello, World!\" on /.\n";

/* Long-only flags: values past any short option's character. */
enum {
	OPT_READ_ONCE = 0x200,
	OPT_ACCEPT_ONCE,
	OPT_READ_SIZE,
	OPT_PID_FILE,
	OPT_BUSY_SLEEP,
	OPT_TRACE,
	OPT_SHARED_LISTENER,
};

static const struct option options[] = {
	{"config", required_argument, NULL, 'c'},
	{"listen", required_argument, NULL, 'l'},
	{"workers", required_argument, NULL, 'w'},
	{"trigger", required_argument, NULL, 't'},
	{"poller", required_argument, NULL, 'p'},
	{"stats", no_argument, NULL, 's'},
	{"read-once", no_argument, NULL, OPT_READ_ONCE},
	{"accept-once", no_argument, NULL, OPT_ACCEPT_ONCE},
	{"read-size", required_argument, NULL, OPT_READ_SIZE},
	{"pid-file", required_argument, NULL, OPT_PID_FILE},
	{"busy-sleep", required_argument, NULL, OPT_BUSY_SLEEP},
	{"trace", required_argument, NULL, OPT_TRACE},
	{"shared-listener", no_argument, NULL, OPT_SHARED_LISTENER},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};
static const char short_options[] = ":c:l:w:t:p:shV";

const char *hd_cli_flag_name(int i)
{
	int n = (int)(sizeof(options) / sizeof(options[0])) - 1;
	return i >= 0 && i < n ? options[i].name : NULL;
}

static const char *flag_name(int opt)
{
	for (const struct option *o = options; o->name; o++)
		if (o->val == opt)
			return o->name;
	return "?";
}

/* First pass: only find -c, -h, -V and flag syntax errors, so the file is
 * loaded before the other flags override it. */
static enum hd_cli_result first_pass(int argc, char **argv,
				     const char **config_path, char *err,
				     size_t errlen)
{
	int opt;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, short_options, options, NULL)) !=
	       -1) {
		switch (opt) {
		case 'c': *config_path = optarg; break;
		case 'h': fputs(usage, stdout); return HD_CLI_EXIT;
		case 'V': printf("hellod %s\n", HD_VERSION); return HD_CLI_EXIT;
		case ':':
			snprintf(err, errlen,
				 "option '%s' needs a value (see hellod "
				 "--help)",
				 argv[optind - 1]);
			return HD_CLI_ERROR;
		case '?':
			snprintf(err, errlen,
				 "unknown option '%s' (see hellod --help)",
				 argv[optind - 1]);
			return HD_CLI_ERROR;
		}
	}
	if (optind < argc) {
		snprintf(err, errlen,
			 "unexpected argument '%s' (see hellod --help)",
			 argv[optind]);
		return HD_CLI_ERROR;
	}
	return HD_CLI_RUN;
}

static int apply_flag(struct hd_config *cfg, int opt, const char *value,
		      bool *listen_seen, char *msg, size_t msglen)
{
	switch (opt) {
	case 'l':
		if (!*listen_seen) {
			cfg->listen_count = 0;
			*listen_seen = true;
		}
		return hd_config_set_listen(cfg, value, msg, msglen);
	case 'w': return hd_config_set_workers(cfg, value, msg, msglen);
	case 't': return hd_config_set_trigger(cfg, value, msg, msglen);
	case 'p': return hd_config_set_poller(cfg, value, msg, msglen);
	case 's': cfg->stats = true; return 0;
	case OPT_READ_ONCE: cfg->read_once = true; return 0;
	case OPT_ACCEPT_ONCE: cfg->accept_once = true; return 0;
	case OPT_READ_SIZE:
		return hd_config_set_read_size(cfg, value, msg, msglen);
	case OPT_PID_FILE:
		return hd_config_set_pid_file(cfg, value, msg, msglen);
	case OPT_BUSY_SLEEP:
		return hd_config_set_busy_sleep(cfg, value, msg, msglen);
	case OPT_TRACE: return hd_config_set_trace(cfg, value, msg, msglen);
	case OPT_SHARED_LISTENER: cfg->shared_listener = true; return 0;
	}
	return 0;
}

/* Every flag but -c, -h and -V sets the config key of its name with '_'
 * for '-'; errors found across keys then name the flag. */
static void note_flag(struct hd_config *cfg, int opt)
{
	char key[32];
	snprintf(key, sizeof(key), "%s", flag_name(opt));
	for (char *p = key; *p; p++)
		if (*p == '-')
			*p = '_';
	hd_config_note_flag(cfg, key);
}

enum hd_cli_result hd_cli_parse(int argc, char **argv, struct hd_config *cfg,
				char *err, size_t errlen)
{
	const char *config_path = NULL;
	if (hd_config_defaults(cfg)) {
		snprintf(err, errlen, "out of memory");
		return HD_CLI_ERROR;
	}
	enum hd_cli_result r =
		first_pass(argc, argv, &config_path, err, errlen);
	if (r != HD_CLI_RUN)
		return r;
	if (config_path && hd_config_load_file(cfg, config_path, err, errlen))
		return HD_CLI_ERROR;
	int opt;
	bool listen_seen = false;
	optind = 1;
	while ((opt = getopt_long(argc, argv, short_options, options, NULL)) !=
	       -1) {
		char msg[HD_ERRLEN];
		if (apply_flag(cfg, opt, optarg, &listen_seen, msg,
			       sizeof(msg))) {
			snprintf(err, errlen, "--%s: %s", flag_name(opt), msg);
			return HD_CLI_ERROR;
		}
		note_flag(cfg, opt);
	}
	if (hd_config_finish(cfg, err, errlen))
		return HD_CLI_ERROR;
	return HD_CLI_RUN;
}
