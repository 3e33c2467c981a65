/* test_clients.c — the clients people point at hellod must agree with
 * it: curl (keep-alive, HEAD, HTTP/1.0, a POST with Expect:
 * 100-continue), Python's http.client, ab -k (HTTP/1.0 keep-alive) and
 * h2load --h1 with several requests in flight per connection. Each runs
 * under `timeout`, against a server in every way of multiplexing, and
 * must report no error and the bodies hellod serves. The clients come
 * from Debian (make deps); a missing one fails, it is not skipped. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "suites.h"

static struct test_server srv;

static void start(void)
{
	char args[256];
	snprintf(args, sizeof(args), "-w 2 %s", test_mode_args);
	server_start(&srv, args);
}

static void stop(void)
{
	ck_assert_int_eq(server_stop(&srv, 5000), 0);
}

/* Runs a shell command (its stderr joined to stdout), bounded to 30 s;
 * returns its output (to free) and sets *status to its exit status. */
static char *run(const char *command, int *status)
{
	char line[2048];
	snprintf(line, sizeof(line), "timeout 30 %s 2>&1", command);
	FILE *p = popen(line, "r");
	ck_assert_ptr_nonnull(p);
	size_t cap = 1 << 16, len = 0;
	char *out = malloc(cap);
	for (size_t n; (n = fread(out + len, 1, cap - len - 1, p)) > 0;) {
		len += n;
		if (cap - len < 1024)
			out = realloc(out, cap *= 2);
	}
	out[len] = '\0';
	int rc = pclose(p);
	*status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
	return out;
}

static char *run_ok(const char *command)
{
	int status;
	char *out = run(command, &status);
	ck_assert_msg(status == 0, "'%s' exited %d:\n%s", command, status, out);
	return out;
}

static void expect_in(const char *out, const char *text)
{
	ck_assert_msg(strstr(out, text) != NULL, "no '%s' in:\n%s", text, out);
}

START_TEST(curl_keep_alive_head_and_http10)
{
	start();
	char cmd[512], *out;
	/* Two URLs on one connection: the second connects 0 times. */
	snprintf(cmd, sizeof(cmd),
		 "curl -sS --fail-with-body -w ' %%{http_code} "
		 "%%{num_connects}\\n' http://127.0.0.1:%d/ "
		 "http://127.0.0.1:%d/health",
		 srv.port, srv.port);
	out = run_ok(cmd);
	ck_assert_str_eq(out, "Hello, World! 200 1\nOK\n 200 0\n");
	free(out);
	/* HEAD: curl complains of any body after the head. */
	snprintf(cmd, sizeof(cmd), "curl -sS --fail -I http://127.0.0.1:%d/",
		 srv.port);
	out = run_ok(cmd);
	expect_in(out, "HTTP/1.1 200 OK\r\n");
	expect_in(out, "Content-Length: 13\r\n");
	ck_assert_ptr_null(strstr(out, "Hello"));
	free(out);
	snprintf(cmd, sizeof(cmd),
		 "curl -sS --fail --http1.0 -w ' %%{http_version}' "
		 "http://127.0.0.1:%d/",
		 srv.port);
	out = run_ok(cmd);
	ck_assert_str_eq(out, "Hello, World! 1.1");
	free(out);
	stop();
}
END_TEST

/* curl sends Expect: 100-continue and waits up to a second for the 100
 * before it sends the body; the 100 must come at once. */
START_TEST(curl_post_with_expect_100)
{
	start();
	char cmd[512];
	snprintf(cmd, sizeof(cmd),
		 "head -c 4096 /dev/zero | curl -sS --fail -v "
		 "--expect100-timeout 5 -H 'Expect: 100-continue' "
		 "--data-binary @- -w ' %%{time_total}' http://127.0.0.1:%d/",
		 srv.port);
	char *out = run_ok(cmd);
	expect_in(out, "> Expect: 100-continue");
	expect_in(out, "< HTTP/1.1 100 Continue");
	expect_in(out, "Hello, World! ");
	double seconds = atof(strrchr(out, ' ') + 1);
	ck_assert_msg(seconds < 2.0, "took %.2f s: the 100 came late", seconds);
	free(out);
	stop();
}
END_TEST

START_TEST(python_http_client)
{
	start();
	char cmd[1024];
	snprintf(
		cmd, sizeof(cmd),
		"python3 -c '\n"
		"import http.client\n"
		"c = http.client.HTTPConnection(\"127.0.0.1\", %d, timeout=5)\n"
		"for method, path, body, want in [\n"
		"    (\"GET\", \"/\", None, b\"Hello, World!\"),\n"
		"    (\"HEAD\", \"/\", None, b\"\"),\n"
		"    (\"GET\", \"/health\", None, b\"OK\\n\"),\n"
		"    (\"POST\", \"/\", b\"x\" * 5000, b\"Hello, World!\"),\n"
		"    (\"GET\", \"/nope\", None, b\"Not Found\\n\"),\n"
		"    (\"OPTIONS\", \"*\", None, b\"\")]:\n"
		"    c.request(method, path, body)\n"
		"    r = c.getresponse()\n"
		"    got = r.read()\n"
		"    assert got == want, (method, path, got)\n"
		"    assert not r.will_close, (method, path)\n"
		"print(\"ok\")\n'",
		srv.port);
	char *out = run_ok(cmd);
	ck_assert_str_eq(out, "ok\n");
	free(out);
	stop();
}
END_TEST

/* ab -k speaks HTTP/1.0 with Connection: keep-alive. */
START_TEST(ab_keep_alive)
{
	start();
	char cmd[256];
	snprintf(cmd, sizeof(cmd),
		 "ab -q -k -n 5000 -c 10 http://127.0.0.1:%d/", srv.port);
	char *out = run_ok(cmd);
	expect_in(out, "Complete requests:      5000\n");
	expect_in(out, "Failed requests:        0\n");
	expect_in(out, "Keep-Alive requests:    5000\n");
	expect_in(out, "Document Length:        13 bytes\n");
	ck_assert_ptr_null(strstr(out, "Non-2xx"));
	free(out);
	stop();
}
END_TEST

/* HTTP/1.1 with up to 16 requests in flight on each connection. */
START_TEST(h2load_h1_pipelined)
{
	start();
	char cmd[256];
	snprintf(cmd, sizeof(cmd),
		 "h2load --h1 -n 8000 -c 8 -m 16 http://127.0.0.1:%d/",
		 srv.port);
	char *out = run_ok(cmd);
	expect_in(out, "requests: 8000 total, 8000 started, 8000 done, 8000 "
		       "succeeded, 0 failed, 0 errored, 0 timeout");
	expect_in(out, "status codes: 8000 2xx, 0 3xx, 0 4xx, 0 5xx");
	free(out);
	stop();
}
END_TEST

Suite *clients_suite(enum hd_test_mode mode)
{
	static char names[HD_TEST_MODE_COUNT][64];
	snprintf(names[mode], sizeof(names[mode]), "clients-%s",
		 test_modes[mode].name);
	Suite *s = suite_create(names[mode]);
	TCase *tc = tcase_create("clients");
	tcase_add_checked_fixture(tc, test_modes[mode].setup, NULL);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, curl_keep_alive_head_and_http10);
	tcase_add_test(tc, curl_post_with_expect_100);
	tcase_add_test(tc, python_http_client);
	TCASE_ADD_CONCURRENT(tc, mode, ab_keep_alive);
	tcase_add_test(tc, h2load_h1_pipelined);
	suite_add_tcase(s, tc);
	return s;
}
