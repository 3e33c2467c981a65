/* test_integration.c — the real build/hellod on an ephemeral loopback
 * port, driven over raw sockets. The runner builds one suite per way of
 * multiplexing; each test starts its own server with those flags. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "suites.h"

static struct test_server srv;

static void start(const char *extra)
{
	char args[512];
	snprintf(args, sizeof(args), "-w 2 %s %s", test_mode_args,
		 extra ? extra : "");
	server_start(&srv, args);
}

static void stop_expect_clean_exit(void)
{
	ck_assert_int_eq(server_stop(&srv, 5000), 0);
}

static const char get_root[] = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";

static void expect_hello(struct reader *r)
{
	struct response resp;
	ck_assert(read_response(r, &resp, 3000));
	ck_assert_int_eq(resp.status, 200);
	ck_assert_str_eq(resp.body, "Hello, World!");
	char v[64];
	ck_assert_ptr_nonnull(header_value(&resp, "Date", v, sizeof(v)));
	ck_assert_uint_eq(strlen(v), 29);
	ck_assert_str_eq(header_value(&resp, "Server", v, sizeof(v)), "hellod");
	ck_assert_str_eq(header_value(&resp, "Content-Type", v, sizeof(v)),
			 "text/plain");
	ck_assert_str_eq(header_value(&resp, "Content-Length", v, sizeof(v)),
			 "13");
	response_free(&resp);
}

START_TEST(banner_names_the_real_port)
{
	start(NULL);
	ck_assert_int_gt(srv.port, 0);
	/* -w 2, unless the mode's own -w comes after (threads: its pool) */
	const char *w = strstr(test_mode_args, "-w ");
	char workers[32];
	snprintf(workers, sizeof(workers), "%d workers", w ? atoi(w + 3) : 2);
	ck_assert_msg(strstr(srv.banner, workers), "no '%s' in '%s'", workers,
		      srv.banner);
	ck_assert_ptr_nonnull(strstr(srv.banner, "trigger"));
	stop_expect_clean_exit();
}
END_TEST

START_TEST(keep_alive_serves_many_requests)
{
	start(NULL);
	struct reader r;
	int fd = client_open(&r, srv.port);
	for (int i = 0; i < 50; i++) {
		send_str(fd, get_root);
		expect_hello(&r);
	}
	client_close(&r);
	stop_expect_clean_exit();
}
END_TEST

START_TEST(hundred_pipelined_requests)
{
	start(NULL);
	int fd = connect_port(srv.port);
	char *reqs = malloc(100 * sizeof(get_root));
	reqs[0] = '\0';
	for (int i = 0; i < 100; i++)
		strcat(reqs, get_root);
	send_str(fd, reqs);
	struct reader r;
	reader_init(&r, fd);
	for (int i = 0; i < 100; i++)
		expect_hello(&r);
	free(reqs);
	client_close(&r);
	stop_expect_clean_exit();
}
END_TEST

START_TEST(byte_at_a_time_request)
{
	start(NULL);
	int fd = connect_port(srv.port);
	for (const char *p = get_root; *p; p++) {
		send_all(fd, p, 1);
		usleep(2000);
	}
	struct reader r;
	reader_init(&r, fd);
	expect_hello(&r);
	client_close(&r);
	stop_expect_clean_exit();
}
END_TEST

START_TEST(head_has_headers_but_no_body)
{
	start(NULL);
	struct reader r;
	int fd = client_open(&r, srv.port);
	r.head = true;
	send_str(fd, "HEAD / HTTP/1.1\r\nHost: t\r\n\r\n");
	struct response resp;
	ck_assert(read_response(&r, &resp, 3000));
	ck_assert_int_eq(resp.status, 200);
	char v[32];
	ck_assert_str_eq(header_value(&resp, "Content-Length", v, sizeof(v)),
			 "13");
	response_free(&resp);
	/* The next response must start right away: no stray body bytes. */
	r.head = false;
	send_str(fd, get_root);
	expect_hello(&r);
	client_close(&r);
	stop_expect_clean_exit();
}
END_TEST

START_TEST(http10_closes_unless_keep_alive)
{
	start(NULL);
	struct reader r;
	int fd = client_open(&r, srv.port);
	struct response resp;
	char v[32];
	send_str(fd, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
	ck_assert(read_response(&r, &resp, 3000));
	ck_assert_str_eq(header_value(&resp, "Connection", v, sizeof(v)),
			 "keep-alive");
	response_free(&resp);
	send_str(fd, "GET / HTTP/1.0\r\n\r\n");
	ck_assert(read_response(&r, &resp, 3000));
	ck_assert_int_eq(resp.status, 200);
	ck_assert_str_eq(header_value(&resp, "Connection", v, sizeof(v)),
			 "close");
	response_free(&resp);
	ck_assert(peer_closed(&r, 3000));
	client_close(&r);
	stop_expect_clean_exit();
}
END_TEST

START_TEST(garbage_gets_400_then_close)
{
	start(NULL);
	struct reader r;
	int fd = client_open(&r, srv.port);
	send_str(fd, "THIS IS NOT HTTP\r\n\r\n");
	struct response resp;
	ck_assert(read_response(&r, &resp, 3000));
	ck_assert_int_eq(resp.status, 400);
	char v[32];
	ck_assert_str_eq(header_value(&resp, "Connection", v, sizeof(v)),
			 "close");
	response_free(&resp);
	ck_assert(peer_closed(&r, 3000));
	client_close(&r);
	/* The workers carry on. */
	fd = client_open(&r, srv.port);
	send_str(fd, get_root);
	expect_hello(&r);
	client_close(&r);
	stop_expect_clean_exit();
}
END_TEST

START_TEST(connection_close_is_honoured)
{
	start(NULL);
	struct reader r;
	int fd = client_open(&r, srv.port);
	send_str(fd, "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
	expect_hello(&r);
	ck_assert(peer_closed(&r, 3000));
	client_close(&r);
	stop_expect_clean_exit();
}
END_TEST

START_TEST(expect_100_continue)
{
	start(NULL);
	struct reader r;
	int fd = client_open(&r, srv.port);
	send_str(fd, "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n"
		     "Expect: 100-continue\r\n\r\n");
	struct response resp;
	ck_assert(read_response(&r, &resp, 3000));
	ck_assert_int_eq(resp.status, 100);
	response_free(&resp);
	send_str(fd, "body");
	expect_hello(&r);
	client_close(&r);
	stop_expect_clean_exit();
}
END_TEST

START_TEST(half_closed_client_gets_its_answer)
{
	start(NULL);
	struct reader r;
	int fd = client_open(&r, srv.port);
	send_str(fd, get_root);
	shutdown(fd, SHUT_WR);
	expect_hello(&r);
	ck_assert(peer_closed(&r, 3000));
	client_close(&r);
	stop_expect_clean_exit();
}
END_TEST

/* A client pipelines 10,000 requests and reads nothing for a second;
 * then every response arrives intact and in order. Paths alternate so
 * that order is visible: every third request asks for a missing page. */
START_TEST(ten_thousand_pipelined_unread_for_a_second)
{
	enum { N = 10000 };
	start(NULL);
	int fd = connect_port(srv.port);
	pid_t sender = fork();
	ck_assert_int_ge(sender, 0);
	if (sender == 0) {
		for (int i = 0; i < N; i++)
			send_str(fd, i % 3 ? get_root
					   : "GET /missing HTTP/1.1\r\nHost: "
					     "t\r\n\r\n");
		_exit(0);
	}
	sleep(1);
	struct reader r;
	reader_init(&r, fd);
	for (int i = 0; i < N; i++) {
		struct response resp;
		ck_assert_msg(read_response(&r, &resp, 5000),
			      "response %d missing", i);
		ck_assert_int_eq(resp.status, i % 3 ? 200 : 404);
		if (i % 3)
			ck_assert_str_eq(resp.body, "Hello, World!");
		response_free(&resp);
	}
	int status;
	ck_assert_int_eq(waitpid(sender, &status, 0), sender);
	ck_assert_int_eq(r.len, 0);
	client_close(&r);
	stop_expect_clean_exit();
}
END_TEST

START_TEST(many_connections_across_workers)
{
	enum { CONNS = 64 };
	start(NULL);
	int fds[CONNS];
	struct reader readers[CONNS];
	for (int i = 0; i < CONNS; i++) {
		fds[i] = connect_port(srv.port);
		reader_init(&readers[i], fds[i]);
		send_str(fds[i], get_root);
	}
	for (int i = 0; i < CONNS; i++) {
		expect_hello(&readers[i]);
		reader_free(&readers[i]);
		close(fds[i]);
	}
	stop_expect_clean_exit();
}
END_TEST

START_TEST(sigint_also_stops_cleanly)
{
	start(NULL);
	int fd = connect_port(srv.port); /* an idle connection stays open */
	kill(srv.pid, SIGINT);
	int status;
	long long deadline = now_ms() + 5000;
	pid_t r;
	while ((r = waitpid(srv.pid, &status, WNOHANG)) == 0 &&
	       now_ms() < deadline)
		usleep(10000);
	ck_assert_int_eq(r, srv.pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	close(fd);
	close(srv.stderr_fd);
}
END_TEST

START_TEST(bad_flags_and_config_exit_2)
{
	char out[1024];
	ck_assert_int_eq(run_hellod("--workers nope", out, sizeof(out)), 2);
	ck_assert_ptr_nonnull(strstr(out, "--workers"));
	ck_assert_int_eq(run_hellod("--no-such-flag", out, sizeof(out)), 2);
	char path[] = "/tmp/hellod-bad-XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	const char *text = "workers 1\nlisten 127.0.0.1:0\nbogus_key 1\n";
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	char args[128];
	snprintf(args, sizeof(args), "-c %s", path);
	ck_assert_int_eq(run_hellod(args, out, sizeof(out)), 2);
	char expect[128];
	snprintf(expect, sizeof(expect), "%s:3: key 'bogus_key'", path);
	ck_assert_msg(strstr(out, expect) != NULL, "got '%s'", out);
	unlink(path);
	ck_assert_int_eq(run_hellod("--version", out, sizeof(out)), 0);
	ck_assert_ptr_nonnull(strstr(out, "hellod "));
}
END_TEST

Suite *integration_suite(enum hd_test_mode mode)
{
	/* Check keeps the pointer: the name must outlive the suite. */
	static char names[HD_TEST_MODE_COUNT][64];
	snprintf(names[mode], sizeof(names[mode]), "integration-%s",
		 test_modes[mode].name);
	Suite *s = suite_create(names[mode]);
	TCase *tc = tcase_create("server");
	tcase_add_checked_fixture(tc, test_modes[mode].setup, NULL);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, banner_names_the_real_port);
	tcase_add_test(tc, keep_alive_serves_many_requests);
	tcase_add_test(tc, hundred_pipelined_requests);
	tcase_add_test(tc, byte_at_a_time_request);
	tcase_add_test(tc, head_has_headers_but_no_body);
	tcase_add_test(tc, http10_closes_unless_keep_alive);
	tcase_add_test(tc, garbage_gets_400_then_close);
	tcase_add_test(tc, connection_close_is_honoured);
	tcase_add_test(tc, expect_100_continue);
	tcase_add_test(tc, half_closed_client_gets_its_answer);
	tcase_add_test(tc, ten_thousand_pipelined_unread_for_a_second);
	tcase_add_test(tc, many_connections_across_workers);
	tcase_add_test(tc, sigint_also_stops_cleanly);
	tcase_add_test(tc, bad_flags_and_config_exit_2);
	semantics_tests_add(tc);
	suite_add_tcase(s, tc);
	return s;
}
