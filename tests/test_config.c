/* test_config.c — tests for src/config.c and src/cli.c */
#include <check.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hellod/cli.h"
#include "hellod/config.h"
#include "harness.h"
#include "suites.h"

static struct hd_config cfg;
static char err[HD_ERRLEN];
static enum hd_cli_result parse_argv(int argc, const char **argv);

static void setup(void)
{
	ck_assert_int_eq(hd_config_defaults(&cfg), 0);
	err[0] = '\0';
}

static void teardown(void)
{
	hd_config_free(&cfg);
}

START_TEST(defaults_are_documented_ones)
{
	ck_assert_int_eq(cfg.listen_count, 1);
	ck_assert_str_eq(cfg.listen[0].host, "127.0.0.1");
	ck_assert_uint_eq(cfg.listen[0].port, 8080);
	ck_assert_int_eq(cfg.workers, 0);
	ck_assert_int_eq(cfg.trigger, HD_TRIGGER_EDGE);
	ck_assert_int_eq(cfg.poller, HD_POLLER_EPOLL);
	ck_assert_int_eq(cfg.status, 200);
	ck_assert_str_eq(cfg.body, "Hello, World!");
	ck_assert_str_eq(cfg.content_type, "text/plain");
	ck_assert(!cfg.catch_all);
	ck_assert_str_eq(cfg.health_path, "/health");
	ck_assert_str_eq(cfg.metrics_path, "/metrics");
	ck_assert_str_eq(cfg.echo_path, "");
	ck_assert_uint_eq(cfg.drain_grace_ms, 5000);
	ck_assert_uint_eq(cfg.drain_timeout_ms, 15000);
	ck_assert_str_eq(cfg.access_log, "");
	ck_assert_str_eq(cfg.pid_file, "");
	ck_assert_ptr_null(cfg.extra_headers);
}
END_TEST

START_TEST(limit_and_timeout_defaults_and_keys)
{
	ck_assert_uint_eq(cfg.max_uri, 8 * 1024);
	ck_assert_uint_eq(cfg.max_header_size, 16 * 1024);
	ck_assert_uint_eq(cfg.max_headers, 100);
	ck_assert_uint_eq(cfg.max_body, 1024 * 1024);
	ck_assert_uint_eq(cfg.header_timeout_ms, 10000);
	ck_assert_uint_eq(cfg.keepalive_timeout_ms, 60000);
	ck_assert_uint_eq(cfg.write_timeout_ms, 30000);
	ck_assert_uint_eq(cfg.max_connections, 10000);
	ck_assert_uint_eq(cfg.lingering_time_ms, 5000);
	ck_assert_uint_eq(cfg.lingering_bytes, 1024 * 1024);
	const char *text = "max_uri 1k\nmax_header_size 2k\nmax_headers 7\n"
			   "max_body 0\nheader_timeout 500ms\n"
			   "keepalive_timeout 2m\nwrite_timeout 3\n"
			   "max_connections 5\nlingering_time 0\n"
			   "lingering_bytes 64k\n";
	ck_assert_int_eq(
		hd_config_parse_text(&cfg, "t.conf", text, err, sizeof(err)),
		0);
	ck_assert_uint_eq(cfg.max_uri, 1024);
	ck_assert_uint_eq(cfg.max_header_size, 2048);
	ck_assert_uint_eq(cfg.max_headers, 7);
	ck_assert_uint_eq(cfg.max_body, 0);
	ck_assert_uint_eq(cfg.header_timeout_ms, 500);
	ck_assert_uint_eq(cfg.keepalive_timeout_ms, 120000);
	ck_assert_uint_eq(cfg.write_timeout_ms, 3000);
	ck_assert_uint_eq(cfg.max_connections, 5);
	ck_assert_uint_eq(cfg.lingering_time_ms, 0);
	ck_assert_uint_eq(cfg.lingering_bytes, 64 * 1024);
}
END_TEST

START_TEST(parses_a_good_file)
{
	const char *text = "# comment\n"
			   "\n"
			   "  listen 0.0.0.0:9000\n"
			   "listen [::1]:9001\r\n"
			   "workers 3\n"
			   "trigger level\n"
			   "body Hi # not a comment\\n\n"
			   "content_type text/html; charset=utf-8\n"
			   "catch_all on\n"
			   "max_pending_output 2m\n"
			   "status 201\n";
	ck_assert_int_eq(
		hd_config_parse_text(&cfg, "t.conf", text, err, sizeof(err)),
		0);
	ck_assert_int_eq(cfg.listen_count, 2);
	ck_assert_str_eq(cfg.listen[0].host, "0.0.0.0");
	ck_assert_uint_eq(cfg.listen[0].port, 9000);
	ck_assert_str_eq(cfg.listen[1].host, "::1");
	ck_assert_uint_eq(cfg.listen[1].port, 9001);
	ck_assert_int_eq(cfg.workers, 3);
	ck_assert_int_eq(cfg.trigger, HD_TRIGGER_LEVEL);
	ck_assert_str_eq(cfg.body, "Hi # not a comment\n");
	ck_assert_uint_eq(cfg.body_len, strlen("Hi # not a comment\n"));
	ck_assert_str_eq(cfg.content_type, "text/html; charset=utf-8");
	ck_assert(cfg.catch_all);
	ck_assert_uint_eq(cfg.max_pending_output, 2u << 20);
	ck_assert_int_eq(cfg.status, 201);
}
END_TEST

static const struct {
	const char *text;
	const char *expect; /* a part of the one-line message */
} bad_files[] = {
	{"workers 0\n", "t.conf:1: key 'workers'"},
	{"\n\nworkers lots\n", "t.conf:3: key 'workers'"},
	{"frobnicate 1\n", "t.conf:1: key 'frobnicate': unknown key"},
	{"listen 127.0.0.1\n", "key 'listen': expected ADDR:PORT"},
	{"listen 127.0.0.1:70000\n", "port must be 0..65535"},
	{"listen localhost:80\n", "not a numeric IPv4 or IPv6"},
	{"listen [::1:80\n", "expected [IPV6]:PORT"},
	{"trigger sideways\n", "key 'trigger': expected 'edge' or 'level'"},
	{"poller kqueue\n", "key 'poller'"},
	{"catch_all maybe\n", "key 'catch_all'"},
	{"status 99\n", "key 'status'"},
	{"body\n", "key 'body': missing value"},
	{"body bad \\q escape\n", "unknown escape"},
	{"content_type a\x01b\n", "control characters"},
	{"max_pending_output 12q\n", "key 'max_pending_output'"},
	{"max_pending_output 1\n", "key 'max_pending_output'"},
	{"health_path health\n", "key 'health_path': expected 'off' or a path"},
	{"metrics_path /a b\n", "key 'metrics_path'"},
	{"echo_path /x?y\n", "key 'echo_path'"},
	{"drain_grace soon\n", "key 'drain_grace': expected a duration"},
	{"drain_timeout 2h\n", "key 'drain_timeout'"},
	{"access_log_format xml\n", "key 'access_log_format'"},
	{"header X-Only\n", "key 'header': expected NAME VALUE"},
	{"header Bad:Name v\n", "is not a header name"},
	{"header Content-Length 5\n", "is set by hellod itself"},
	{"header X-A a\x01b\n", "control characters"},
	{"body_file /nonexistent/body\n", "key 'body_file': cannot open"},
	{"listen 127.0.0.1:80 proxy\n", "unknown listen option 'proxy'"},
	{"max_uri 8\n", "key 'max_uri': expected a size 16..1m"},
	{"max_header_size 2m\n", "key 'max_header_size'"},
	{"max_headers 0\n", "key 'max_headers': expected 1..65535"},
	{"max_body -1\n", "key 'max_body'"},
	{"header_timeout 5ms\n", "key 'header_timeout': expected a duration"},
	{"keepalive_timeout 10h\n", "key 'keepalive_timeout'"},
	{"write_timeout soon\n", "key 'write_timeout'"},
	{"write_timeout 2000m\n", "key 'write_timeout'"},
	{"max_connections 0\n", "key 'max_connections'"},
	{"lingering_time 5ms\n", "key 'lingering_time': expected a duration"},
	{"lingering_bytes lots\n", "key 'lingering_bytes': expected a size"},
	/* statuses without content cannot go with a chosen body, whichever
	 * key comes second is named */
	{"status 204\nbody x\n", "t.conf:2: key 'body': a 204 No Content"},
	{"body x\nstatus 304\n", "t.conf:2: key 'status': a 304 Not Modified"},
	{"status 205\nbody_file /etc/hostname\n", "t.conf:2: key 'body_file'"},
	/* "/" is the main route's */
	{"health_path /\n", "key 'health_path': '/' is the main route's"},
	{"metrics_path /\n", "key 'metrics_path': '/' is the main route's"},
	{"echo_path /\n", "key 'echo_path': '/' is the main route's"},
	/* route PATH[*] STATUS [TYPE [BODY | @FILE]] */
	{"route /x\n", "key 'route': expected PATH STATUS"},
	{"route /x 99\n", "key 'route': expected PATH STATUS"},
	{"route x 200\n", "key 'route': expected a path starting with '/'"},
	{"route / 200\n", "key 'route': '/' is the main route's"},
	{"route /a?b 200\n", "key 'route': path '/a?b' has"},
	{"route /a 200\nroute /a 404\n", "t.conf:2: key 'route': route '/a' "
					 "is given twice"},
	{"route /a 204 text/plain\n", "key 'route': a 204 No Content response "
				      "carries no content"},
	{"route /a 304 text/plain x\n", "key 'route': a 304"},
	{"route /a 200 text/plain \\q\n", "key 'route': unknown escape"},
	{"route /a 200 text/plain @/nonexistent\n", "key 'route': cannot open"},
	{"route /a 200 a\x01b\n", "key 'route': control characters"},
};

START_TEST(rejects_bad_files_naming_line_and_key)
{
	int rc = hd_config_parse_text(&cfg, "t.conf", bad_files[_i].text, err,
				      sizeof(err));
	ck_assert_int_eq(rc, -1);
	ck_assert_msg(strstr(err, bad_files[_i].expect) != NULL,
		      "'%s' lacks '%s'", err, bad_files[_i].expect);
	ck_assert_ptr_null(strchr(err, '\n'));
}
END_TEST

START_TEST(routes_parse)
{
	const char *text =
		"route /robots.txt 200 text/plain User-agent: *\\nDisallow: /\n"
		"route /favicon.ico 204\n"
		"route /static/* 200 text/html @/dev/null\n"
		"route /* 404 text/plain gone\n"
		"route /json 200 application/json {\"message\":\"Hello\"}\n";
	ck_assert_msg(hd_config_parse_text(&cfg, "t.conf", text, err,
					   sizeof(err)) == 0,
		      "%s", err);
	ck_assert_msg(hd_config_finish(&cfg, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(cfg.route_count, 5);
	const struct hd_route_spec *r = cfg.routes;
	ck_assert_str_eq(r[0].path, "/robots.txt");
	ck_assert(!r[0].prefix);
	ck_assert_int_eq(r[0].status, 200);
	ck_assert_uint_eq(r[0].body_len, strlen("User-agent: *\nDisallow: /"));
	ck_assert_int_eq(
		memcmp(r[0].body, "User-agent: *\nDisallow: /", r[0].body_len),
		0);
	ck_assert_int_eq(r[1].status, 204);
	ck_assert_uint_eq(r[1].body_len, 0);
	ck_assert_str_eq(r[2].path, "/static/");
	ck_assert(r[2].prefix);
	ck_assert_str_eq(r[2].content_type, "text/html");
	ck_assert_str_eq(r[3].path, "/");
	ck_assert(r[3].prefix);
	ck_assert_str_eq(r[4].content_type, "application/json");
}
END_TEST

/* A route on a special route's path, whichever came first, and more
 * routes than fit. */
START_TEST(routes_conflict_and_limit)
{
	ck_assert_int_eq(hd_config_parse_text(&cfg, "t.conf",
					      "route /health 200\n", err,
					      sizeof(err)),
			 0);
	ck_assert_int_eq(hd_config_finish(&cfg, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "t.conf:1: key 'route': path '/health' is "
				  "used by two routes (health_path too)"),
		      "%s", err);
	hd_config_free(&cfg);
	hd_config_defaults(&cfg);
	char text[2048] = "";
	for (int i = 0; i <= HD_MAX_STATIC_ROUTES; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text),
			 "route /r%d 200\n", i);
	ck_assert_int_eq(
		hd_config_parse_text(&cfg, "t.conf", text, err, sizeof(err)),
		-1);
	ck_assert_msg(strstr(err, ":17: key 'route': at most 16 routes"), "%s",
		      err);
}
END_TEST

/* A bodiless status with the default body is fine: the body is left
 * out of its responses; so is an explicitly empty one. */
START_TEST(bodiless_status_with_default_body)
{
	ck_assert_int_eq(hd_config_parse_text(&cfg, "t.conf", "status 204\n",
					      err, sizeof(err)),
			 0);
	ck_assert_int_eq(cfg.status, 204);
	ck_assert_int_eq(hd_config_parse_text(&cfg, "t.conf",
					      "body_file /dev/null\n"
					      "status 304\n",
					      err, sizeof(err)),
			 0);
}
END_TEST

START_TEST(loads_files_and_reports_missing_ones)
{
	const char *path = temp_file("workers 2\nbody from file\n");
	ck_assert_int_eq(hd_config_load_file(&cfg, path, err, sizeof(err)), 0);
	ck_assert_int_eq(cfg.workers, 2);
	ck_assert_str_eq(cfg.body, "from file");
	unlink(path);
	ck_assert_int_eq(hd_config_load_file(&cfg, "/nonexistent/x.conf", err,
					     sizeof(err)),
			 -1);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/x.conf: cannot open"));
}
END_TEST

START_TEST(shipped_config_file_loads)
{
	const char *path = src_path("conf/hellod.conf");
	ck_assert_msg(hd_config_load_file(&cfg, path, err, sizeof(err)) == 0,
		      "%s", err);
	ck_assert_msg(hd_config_finish(&cfg, err, sizeof(err)) == 0, "%s", err);
}
END_TEST

/* conf/hellod.conf says "without -c, hellod runs on exactly these
 * defaults": loading it must change nothing at all. The whole struct is
 * compared (both start zeroed, setters write fields only), so a field
 * added later is covered too; only where values came from and the body's
 * heap pointer may differ. */
START_TEST(shipped_config_equals_the_defaults)
{
	struct hd_config loaded;
	ck_assert_int_eq(hd_config_defaults(&loaded), 0);
	const char *path = src_path("conf/hellod.conf");
	ck_assert_msg(hd_config_load_file(&loaded, path, err, sizeof(err)) == 0,
		      "%s", err);
	ck_assert_uint_eq(loaded.body_len, cfg.body_len);
	ck_assert_int_eq(memcmp(loaded.body, cfg.body, cfg.body_len), 0);
	char *body = loaded.body;
	loaded.body = cfg.body;
	memset(loaded.origin, 0, sizeof(loaded.origin));
	memset(cfg.origin, 0, sizeof(cfg.origin));
	const unsigned char *a = (const void *)&loaded, *b = (const void *)&cfg;
	size_t at = 0;
	while (at < sizeof(cfg) && a[at] == b[at])
		at++;
	loaded.body = body;
	hd_config_free(&loaded);
	ck_assert_msg(at == sizeof(cfg),
		      "conf/hellod.conf differs from the defaults at byte %zu "
		      "of struct hd_config (trigger_set is at %zu)",
		      at, offsetof(struct hd_config, trigger_set));
}
END_TEST

/* A line of `text` that starts with `word` (after "# " when commented),
 * followed by a blank or the end of the line. */
static bool has_line_starting(const char *text, const char *prefix,
			      const char *word)
{
	char want[128];
	size_t n = (size_t)snprintf(want, sizeof(want), "\n%s%s", prefix, word);
	for (const char *at = strstr(text, want); at; at = strstr(at + 1, want))
		if (strchr(" \n", at[n]))
			return true;
	return false;
}

/* Every key of the parser's own table is in conf/hellod.conf (set, or
 * commented out with its default) and in the man page's CONFIGURATION. */
START_TEST(every_key_is_documented)
{
	char *conf = slurp(src_path("conf/hellod.conf"));
	char *man = slurp(src_path("docs/hellod.8"));
	ck_assert_ptr_nonnull(conf);
	ck_assert_ptr_nonnull(man);
	for (int i = 0; i < HD_CONFIG_KEYS; i++) {
		const char *key = hd_config_key_name(i);
		ck_assert_ptr_nonnull(key);
		ck_assert_msg(has_line_starting(conf, "", key) ||
				      has_line_starting(conf, "# ", key),
			      "key '%s' is not in conf/hellod.conf", key);
		ck_assert_msg(has_line_starting(man, ".B ", key),
			      "key '%s' has no '.B %s' in docs/hellod.8", key,
			      key);
	}
	ck_assert_ptr_null(hd_config_key_name(HD_CONFIG_KEYS));
	free(conf);
	free(man);
}
END_TEST

/* Every long flag of cli.c's table is named in conf/hellod.conf's
 * header and in the man page (roff writes '-' as "\-"). */
START_TEST(every_flag_is_documented)
{
	char *conf = slurp(src_path("conf/hellod.conf"));
	char *man = slurp(src_path("docs/hellod.8"));
	ck_assert_ptr_nonnull(conf);
	ck_assert_ptr_nonnull(man);
	int count = 0;
	for (const char *flag; (flag = hd_cli_flag_name(count)) != NULL;
	     count++) {
		char plain[64], roff[128] = "\\-\\-";
		snprintf(plain, sizeof(plain), "--%s", flag);
		for (const char *p = flag; *p; p++) {
			size_t n = strlen(roff);
			if (*p == '-')
				snprintf(roff + n, sizeof(roff) - n, "\\-");
			else
				snprintf(roff + n, sizeof(roff) - n, "%c", *p);
		}
		ck_assert_msg(strstr(conf, plain) != NULL,
			      "%s is not in conf/hellod.conf", plain);
		ck_assert_msg(strstr(man, roff) != NULL,
			      "%s (%s) is not in docs/hellod.8", plain, roff);
	}
	ck_assert_int_ge(count, 11);
	free(conf);
	free(man);
}
END_TEST

/* The shipped file leaves trigger and shared_listener unset, so another
 * poller works with it (an explicit "trigger edge" made --poller poll
 * exit 2, "shared_listener off" --poller threads). */
static void shipped_config_starts_with(const char *poller)
{
	struct test_server srv;
	char args[600], banner[64];
	snprintf(args, sizeof(args), "-c %s --poller %s -w 1",
		 src_path("conf/hellod.conf"), poller);
	server_start(&srv, args);
	snprintf(banner, sizeof(banner), "trigger level, poller %s", poller);
	ck_assert_ptr_nonnull(strstr(srv.banner, banner));
	struct reader r;
	struct response resp;
	client_open(&r, srv.port);
	send_str(r.fd, "GET / HTTP/1.1\r\nHost: t\r\n\r\n");
	ck_assert(read_response(&r, &resp, 3000));
	ck_assert_int_eq(resp.status, 200);
	response_free(&resp);
	client_close(&r);
	ck_assert_int_eq(server_stop(&srv, 5000), 0);
}

START_TEST(shipped_config_starts_with_poll)
{
	shipped_config_starts_with("poll");
	shipped_config_starts_with("threads");
}
END_TEST

/* Checks across keys, after parsing, name the file, line and key of the
 * value set last, or its flag, like the errors found while parsing. */
START_TEST(cross_key_errors_name_file_line_and_key)
{
	const char *text = "drain_timeout 2s\n# x\ndrain_grace 3s\n";
	ck_assert_int_eq(
		hd_config_parse_text(&cfg, "t.conf", text, err, sizeof(err)),
		0);
	ck_assert_int_eq(hd_config_finish(&cfg, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "t.conf:3: key 'drain_grace': drain_timeout "
			      "(2000ms) is shorter than drain_grace (3000ms)");
	text = "echo_path /x\nmetrics_path /x\ndrain_grace 1s\n";
	ck_assert_int_eq(
		hd_config_parse_text(&cfg, "u.conf", text, err, sizeof(err)),
		0);
	ck_assert_int_eq(hd_config_finish(&cfg, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "u.conf:2: key 'metrics_path': path '/x' is "
			      "used by two routes (echo_path too)");
	const char *conf = temp_file("trigger edge\n");
	const char *argv[] = {"hellod", "-c", conf, "--poller", "poll", NULL};
	ck_assert_int_eq(parse_argv(5, argv), HD_CLI_ERROR);
	char expect[HD_ERRLEN];
	snprintf(expect, sizeof(expect),
		 "%s:1: key 'trigger': 'edge' is not available with poller "
		 "'poll', which is level-triggered only: use 'level' or leave "
		 "trigger unset",
		 conf);
	ck_assert_str_eq(err, expect);
	const char *flags[] = {"hellod", "-p", "select", "-t", "edge", NULL};
	ck_assert_int_eq(parse_argv(5, flags), HD_CLI_ERROR);
	ck_assert_ptr_nonnull(strstr(err, "--trigger: 'edge' is not"));
	unlink(conf);
}
END_TEST

/* What the binary prints for a bad file: exactly one line, "hellod: "
 * and the file, line and key, for a parse error and a cross-key one. */
START_TEST(config_error_is_one_line_on_stderr)
{
	static const struct {
		const char *text, *expect;
	} cases[] = {
		{"workers 1\nbogus_key 1\n",
		 "%s:2: key 'bogus_key': unknown key"},
		{"poller poll\ntrigger edge\n",
		 "%s:2: key 'trigger': 'edge' is not available with poller "
		 "'poll', which is level-triggered only: use 'level' or leave "
		 "trigger unset"},
		{"poller threads\nshared_listener off\n",
		 "%s:2: key 'shared_listener': poller 'threads' needs one "
		 "shared listening socket: leave it unset or on"},
		{"drain_grace 1m\n", "%s:1: key 'drain_grace': drain_timeout "
				     "(15000ms) is shorter than drain_grace "
				     "(60000ms)"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *path = temp_file(cases[i].text);
		char args[128], out[1024], want[512], line[400];
		snprintf(args, sizeof(args), "-c %s", path);
		snprintf(line, sizeof(line), cases[i].expect, path);
		snprintf(want, sizeof(want), "hellod: %s\n", line);
		ck_assert_int_eq(run_hellod(args, out, sizeof(out)), 2);
		ck_assert_str_eq(out, want);
		unlink(path);
	}
}
END_TEST

START_TEST(operator_keys)
{
	const char *text = "listen 127.0.0.1:9000 proxy_protocol\n"
			   "health_path /healthz\nmetrics_path off\n"
			   "echo_path /echo\ndrain_grace 250ms\n"
			   "drain_timeout 2m\naccess_log /tmp/a.log\n"
			   "access_log_format json\nheader X-A 1\n"
			   "header Cache-Control no-store, max-age=0\n"
			   "pid_file /run/h.pid\n";
	ck_assert_msg(hd_config_parse_text(&cfg, "t", text, err, sizeof(err)) ==
			      0,
		      "%s", err);
	ck_assert(cfg.listen[0].proxy_protocol);
	ck_assert_str_eq(cfg.health_path, "/healthz");
	ck_assert_str_eq(cfg.metrics_path, "");
	ck_assert_str_eq(cfg.echo_path, "/echo");
	ck_assert_uint_eq(cfg.drain_grace_ms, 250);
	ck_assert_uint_eq(cfg.drain_timeout_ms, 120000);
	ck_assert_str_eq(cfg.access_log, "/tmp/a.log");
	ck_assert_int_eq(cfg.access_log_format, HD_LOG_JSON);
	ck_assert_str_eq(cfg.pid_file, "/run/h.pid");
	ck_assert_str_eq(cfg.extra_headers,
			 "X-A: 1\r\nCache-Control: no-store, max-age=0\r\n");
	ck_assert_int_eq(hd_config_finish(&cfg, err, sizeof(err)), 0);
	/* drain_timeout must cover drain_grace; paths must differ */
	ck_assert_int_eq(hd_config_parse_text(&cfg, "t", "drain_grace 5m\n",
					      err, sizeof(err)),
			 0);
	ck_assert_int_eq(hd_config_finish(&cfg, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "drain_timeout"));
	ck_assert_int_eq(hd_config_parse_text(&cfg, "t",
					      "drain_grace 1s\n"
					      "metrics_path /echo\n",
					      err, sizeof(err)),
			 0);
	ck_assert_int_eq(hd_config_finish(&cfg, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "two routes"));
}
END_TEST

START_TEST(poll_and_select_default_to_level)
{
	ck_assert_int_eq(hd_config_parse_text(&cfg, "t", "poller poll\n", err,
					      sizeof(err)),
			 0);
	ck_assert_int_eq(hd_config_finish(&cfg, err, sizeof(err)), 0);
	ck_assert_int_eq(cfg.trigger, HD_TRIGGER_LEVEL);
	ck_assert_int_eq(hd_config_parse_text(&cfg, "t", "trigger edge\n", err,
					      sizeof(err)),
			 0);
	ck_assert_int_eq(hd_config_finish(&cfg, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "level-triggered only"));
}
END_TEST

static enum hd_cli_result parse_argv(int argc, const char **argv)
{
	hd_config_free(&cfg);
	return hd_cli_parse(argc, (char **)argv, &cfg, err, sizeof(err));
}

START_TEST(flags_override_the_file)
{
	const char *path = temp_file("workers 3\nlisten 127.0.0.1:9000\n");
	const char *argv[] = {"hellod", "-c",	    path,	   "-w",
			      "1",	"--listen", "127.0.0.1:0", "--trigger",
			      "level",	NULL};
	ck_assert_int_eq(parse_argv(9, argv), HD_CLI_RUN);
	ck_assert_int_eq(cfg.workers, 1);
	ck_assert_int_eq(cfg.listen_count, 1);
	ck_assert_uint_eq(cfg.listen[0].port, 0);
	ck_assert_int_eq(cfg.trigger, HD_TRIGGER_LEVEL);
	unlink(path);
	const char *pid[] = {"hellod", "--pid-file", "/tmp/x.pid", NULL};
	ck_assert_int_eq(parse_argv(3, pid), HD_CLI_RUN);
	ck_assert_str_eq(cfg.pid_file, "/tmp/x.pid");
	const char *no_value[] = {"hellod", "--pid-file", NULL};
	ck_assert_int_eq(parse_argv(2, no_value), HD_CLI_ERROR);
}
END_TEST

START_TEST(bad_flags_are_errors_naming_the_flag)
{
	const char *bad_workers[] = {"hellod", "--workers", "x", NULL};
	ck_assert_int_eq(parse_argv(3, bad_workers), HD_CLI_ERROR);
	ck_assert_ptr_nonnull(strstr(err, "--workers"));
	const char *unknown[] = {"hellod", "--frob", NULL};
	ck_assert_int_eq(parse_argv(2, unknown), HD_CLI_ERROR);
	ck_assert_ptr_nonnull(strstr(err, "--frob"));
	const char *missing[] = {"hellod", "-l", NULL};
	ck_assert_int_eq(parse_argv(2, missing), HD_CLI_ERROR);
	const char *stray[] = {"hellod", "extra", NULL};
	ck_assert_int_eq(parse_argv(2, stray), HD_CLI_ERROR);
}
END_TEST

START_TEST(teaching_keys_default_off_and_parse)
{
	ck_assert(!cfg.read_once);
	ck_assert(!cfg.accept_once);
	ck_assert_uint_eq(cfg.read_size, 64 * 1024);
	const char *text = "read_once on\naccept_once yes\nread_size 1k\n";
	ck_assert_int_eq(
		hd_config_parse_text(&cfg, "t.conf", text, err, sizeof(err)),
		0);
	ck_assert(cfg.read_once);
	ck_assert(cfg.accept_once);
	ck_assert_uint_eq(cfg.read_size, 1024);
	ck_assert_int_eq(hd_config_parse_text(&cfg, "t", "read_size 0\n", err,
					      sizeof(err)),
			 -1);
	ck_assert_ptr_nonnull(strstr(err, "key 'read_size'"));
	ck_assert_int_eq(hd_config_parse_text(&cfg, "t", "read_once maybe\n",
					      err, sizeof(err)),
			 -1);
	ck_assert_ptr_nonnull(strstr(err, "key 'read_once'"));
	const char *argv[] = {"hellod", "--read-size", "7", "--accept-once",
			      NULL};
	ck_assert_int_eq(parse_argv(4, argv), HD_CLI_RUN);
	ck_assert_uint_eq(cfg.read_size, 7);
	ck_assert(cfg.accept_once);
	ck_assert(!cfg.read_once);
	const char *bad[] = {"hellod", "--read-size", "2m", NULL};
	ck_assert_int_eq(parse_argv(3, bad), HD_CLI_ERROR);
	ck_assert_ptr_nonnull(strstr(err, "--read-size"));
}
END_TEST

Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, defaults_are_documented_ones);
	tcase_add_test(tc, limit_and_timeout_defaults_and_keys);
	tcase_add_test(tc, parses_a_good_file);
	tcase_add_loop_test(tc, rejects_bad_files_naming_line_and_key, 0,
			    sizeof(bad_files) / sizeof(bad_files[0]));
	tcase_add_test(tc, bodiless_status_with_default_body);
	tcase_add_test(tc, routes_parse);
	tcase_add_test(tc, routes_conflict_and_limit);
	tcase_add_test(tc, loads_files_and_reports_missing_ones);
	tcase_add_test(tc, shipped_config_file_loads);
	tcase_add_test(tc, shipped_config_equals_the_defaults);
	tcase_add_test(tc, every_key_is_documented);
	tcase_add_test(tc, every_flag_is_documented);
	tcase_add_test(tc, shipped_config_starts_with_poll);
	tcase_add_test(tc, cross_key_errors_name_file_line_and_key);
	tcase_add_test(tc, config_error_is_one_line_on_stderr);
	tcase_add_test(tc, operator_keys);
	tcase_add_test(tc, poll_and_select_default_to_level);
	tcase_add_test(tc, flags_override_the_file);
	tcase_add_test(tc, bad_flags_are_errors_naming_the_flag);
	tcase_add_test(tc, teaching_keys_default_off_and_parse);
	suite_add_tcase(s, tc);
	return s;
}
