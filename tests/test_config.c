/* test_config.c — tests for src/config.c and src/cli.c */
#include <check.h>
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
	const char *src = getenv("HELLOD_SRCDIR");
	char path[512];
	snprintf(path, sizeof(path), "%s/conf/hellod.conf", src ? src : ".");
	ck_assert_msg(hd_config_load_file(&cfg, path, err, sizeof(err)) == 0,
		      "%s", err);
	ck_assert_msg(hd_config_finish(&cfg, err, sizeof(err)) == 0, "%s", err);
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
	tcase_add_test(tc, loads_files_and_reports_missing_ones);
	tcase_add_test(tc, shipped_config_file_loads);
	tcase_add_test(tc, operator_keys);
	tcase_add_test(tc, poll_and_select_default_to_level);
	tcase_add_test(tc, flags_override_the_file);
	tcase_add_test(tc, bad_flags_are_errors_naming_the_flag);
	tcase_add_test(tc, teaching_keys_default_off_and_parse);
	suite_add_tcase(s, tc);
	return s;
}
