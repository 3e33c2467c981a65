/* test_systemd.c — conf/hellod.service: systemd accepts the unit, and its
 * system-call filter allows every call hellod makes while it starts,
 * serves, reopens its log and drains, traced with strace (run by
 * tests/syscall_filter_check.sh, which expands the filter the way
 * systemd does). systemd itself cannot start the unit here (no systemd
 * as PID 1 in the test environment), so this is as far as we can go. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "suites.h"

static char dir[] = "/tmp/hellod-unit-XXXXXX";

static void setup(void)
{
	strcpy(dir, "/tmp/hellod-unit-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* The shipped unit with ExecStart on this build's binary and config, so
 * systemd-analyze verify finds the files it names. */
static const char *unit_copy(void)
{
	static char path[128];
	char cmd[2048], out[512], bin[512];
	ck_assert_ptr_nonnull(realpath(
		getenv("HELLOD_BIN") ? getenv("HELLOD_BIN") : "build/hellod",
		bin));
	snprintf(path, sizeof(path), "%s/hellod.service", dir);
	snprintf(cmd, sizeof(cmd),
		 "sed -e 's|/usr/local/bin/hellod|%s|' "
		 "-e 's|/usr/local/etc/hellod/hellod.conf|%s|' %s > %s",
		 bin, src_path("conf/hellod.conf"),
		 src_path("conf/hellod.service"), path);
	ck_assert_msg(run_capture(cmd, out, sizeof(out)) == 0, "%s", out);
	return path;
}

/* Nothing to warn about either: verify exits 0 even for unknown keys or
 * system-call groups, which it reports on stderr. Documentation=
 * man:hellod(8) must find docs/hellod.8. */
START_TEST(unit_verifies_cleanly)
{
	const char *unit = unit_copy();
	char cmd[1024], out[4096];
	/* The service requires hellod.socket: verify both, side by side. */
	snprintf(cmd, sizeof(cmd),
		 "mkdir -p %s/man/man8 && cp %s %s/man/man8/ && cp %s %s/ && "
		 "MANPATH=%s/man systemd-analyze verify %s %s/hellod.socket",
		 dir, src_path("docs/hellod.8"), dir,
		 src_path("conf/hellod.socket"), dir, dir, unit, dir);
	int rc = run_capture(cmd, out, sizeof(out));
	ck_assert_msg(rc == 0 && out[0] == '\0', "verify: %d: %s", rc, out);
}
END_TEST

static int exchange(int port, const char *req, int answers)
{
	struct reader r;
	struct response resp;
	client_open(&r, port);
	send_str(r.fd, req);
	int status = 0;
	for (int i = 0; i < answers; i++) {
		ck_assert(read_response(&r, &resp, 5000));
		status = resp.status;
		response_free(&resp);
	}
	client_close(&r);
	return status;
}

/* A failing check ends the test process with exit(): the traced server,
 * whose parent is strace, would outlive it, so it is killed then. */
static pid_t traced_pid;

static void kill_traced(void)
{
	if (traced_pid > 0)
		kill(traced_pid, SIGKILL);
}

#define GET(path, extra) "GET " path " HTTP/1.1\r\nHost: t\r\n" extra "\r\n"

/* Everything an operator's hellod does, under strace: start (two workers
 * pinned to CPUs), keep-alive, Connection: close, pipelining, an error,
 * /metrics (the process metrics read /proc), health, SIGUSR1 reopening
 * the access log, SIGTERM's drain, exit. */
static void trace_a_life(const char *trace)
{
	char conf[512], wrapper[256], log[256], moved[300];
	snprintf(log, sizeof(log), "%s/access.log", dir);
	snprintf(moved, sizeof(moved), "%s.1", log);
	snprintf(conf, sizeof(conf),
		 "listen 127.0.0.1:0\nworkers 2\naccess_log %s\n"
		 "drain_grace 300ms\ndrain_timeout 5s\n",
		 log);
	snprintf(wrapper, sizeof(wrapper), "strace -f -qq -o %s", trace);
	struct test_server srv;
	server_start_conf_wrapped(&srv, conf, NULL, wrapper);
	pid_t pid = child_pid(srv.pid);
	traced_pid = pid;
	atexit(kill_traced);
	int port = srv.port;
	ck_assert_int_eq(exchange(port, GET("/", "") GET("/", ""), 2), 200);
	ck_assert_int_eq(exchange(port, GET("/", "Connection: close\r\n"), 1),
			 200);
	ck_assert_int_eq(
		exchange(port, GET("/", "") GET("/x", "") GET("/", ""), 3),
		200);
	ck_assert_int_eq(exchange(port, "BAD\r\n\r\n", 1), 400);
	ck_assert_int_eq(exchange(port, GET("/metrics", ""), 1), 200);
	ck_assert_int_eq(exchange(port, GET("/health", ""), 1), 200);
	ck_assert_int_eq(rename(log, moved), 0);
	kill(pid, SIGUSR1);
	usleep(300 * 1000);
	ck_assert_int_eq(exchange(port, GET("/", ""), 1), 200);
	kill(pid, SIGTERM);
	usleep(100 * 1000);
	ck_assert_int_eq(exchange(port, GET("/health", ""), 1), 503);
	int status = -1;
	for (int i = 0; i < 500; i++) {
		if (waitpid(srv.pid, &status, WNOHANG) == srv.pid)
			break;
		usleep(20 * 1000);
	}
	close(srv.stderr_fd);
	traced_pid = 0;
	/* strace exits with the status of the command it ran */
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "hellod under strace: status %d", status);
	ck_assert_int_eq(access(log, R_OK), 0); /* reopened */
}

START_TEST(filter_allows_every_call_hellod_makes)
{
	if (getenv("HELLOD_SANITIZED") || server_under_valgrind()) {
		/* A sanitizer's or valgrind's runtime makes calls of its
		 * own; the unit runs the release binary. */
		printf("SKIPPED: system-call trace (sanitized or valgrind "
		       "build)\n");
		return;
	}
	char trace[128], cmd[1024], out[4096];
	snprintf(trace, sizeof(trace), "%s/trace", dir);
	trace_a_life(trace);
	const char *check = src_path("tests/syscall_filter_check.sh");
	snprintf(cmd, sizeof(cmd), "%s %s %s", check,
		 src_path("conf/hellod.service"), trace);
	int rc = run_capture(cmd, out, sizeof(out));
	ck_assert_msg(rc == 0, "shipped unit: %d: %s", rc, out);
	/* The check can fail: the filter systemd 252 killed hellod with
	 * (no SystemCallErrorNumber=, @resources denied) must be caught. */
	char old[160];
	snprintf(old, sizeof(old), "%s/old.service", dir);
	snprintf(cmd, sizeof(cmd),
		 "grep -v '^SystemCallFilter=' %s > %s && printf '%%s\\n' "
		 "'SystemCallFilter=@system-service' "
		 "'SystemCallFilter=~@privileged @resources' >> %s && %s %s %s",
		 src_path("conf/hellod.service"), old, old, check, old, trace);
	rc = run_capture(cmd, out, sizeof(out));
	ck_assert_msg(rc == 1 && strstr(out, "SystemCallFilter: "
					     "sched_setaffinity"),
		      "old filter: %d: %s", rc, out);
}
END_TEST

Suite *systemd_suite(void)
{
	Suite *s = suite_create("systemd");
	TCase *tc = tcase_create("unit");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, unit_verifies_cleanly);
	tcase_add_test(tc, filter_allows_every_call_hellod_makes);
	suite_add_tcase(s, tc);
	return s;
}
