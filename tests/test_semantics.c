/* test_semantics.c — HTTP semantics against the real server, in every
 * way of multiplexing: request-target forms, Host, Expect, statuses
 * without content, versions, limits with the access log on. The
 * harness's response checker reads every byte; these tests add what
 * only the request tells (a 1xx to an HTTP/1.0 client, say). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "suites.h"

static struct test_server srv;

/* Starts hellod with conf_lines after a loopback listen line. */
static void start_conf_lines(const char *conf_lines)
{
	char conf[1024], args[256];
	snprintf(conf, sizeof(conf), "listen 127.0.0.1:0\n%s",
		 conf_lines ? conf_lines : "");
	snprintf(args, sizeof(args), "-w 2 %s", test_mode_args);
	server_start_conf(&srv, conf, args);
}

static void stop(void)
{
	ck_assert_int_eq(server_stop(&srv, 5000), 0);
}

/* One request on a new connection; its response in resp. When closes,
 * the server must close after it. */
static void exchange(const char *request, bool head, bool closes,
		     struct response *resp)
{
	struct reader r;
	int fd = client_open(&r, srv.port);
	r.head = head;
	send_str(fd, request);
	ck_assert_msg(read_response(&r, resp, 3000), "no answer to '%s'",
		      request);
	if (closes)
		ck_assert_msg(peer_closed(&r, 3000), "not closed after %d",
			      resp->status);
	client_close(&r);
}

static int status_of(const char *request, bool closes)
{
	struct response resp;
	exchange(request, false, closes, &resp);
	response_free(&resp);
	return resp.status;
}

START_TEST(absolute_form_is_routed_by_its_path)
{
	start_conf_lines(NULL);
	struct response resp;
	exchange("GET http://example.com/ HTTP/1.1\r\nHost: other\r\n\r\n",
		 false, false, &resp);
	ck_assert_int_eq(resp.status, 200);
	ck_assert_str_eq(resp.body, "Hello, World!");
	response_free(&resp);
	ck_assert_int_eq(status_of("GET HTTP://h:80?x HTTP/1.1\r\nHost: h\r\n"
				   "\r\n",
				   false),
			 200);
	ck_assert_int_eq(status_of("GET http://h/health HTTP/1.1\r\nHost: h\r\n"
				   "\r\n",
				   false),
			 200);
	ck_assert_int_eq(status_of("GET http://h/nope HTTP/1.1\r\nHost: h\r\n"
				   "\r\n",
				   false),
			 404);
	ck_assert_int_eq(status_of("GET http://u@h/ HTTP/1.1\r\nHost: h\r\n"
				   "\r\n",
				   true),
			 400);
	stop();
}
END_TEST

/* "OPTIONS *" is about the server: 200, no content, and the connection
 * goes on; any other method with "*" is 400. */
START_TEST(asterisk_form_is_for_options)
{
	start_conf_lines(NULL);
	struct reader r;
	int fd = client_open(&r, srv.port);
	send_str(fd, "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n"
		     "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
	struct response resp;
	ck_assert(read_response(&r, &resp, 3000));
	ck_assert_int_eq(resp.status, 200);
	ck_assert_uint_eq(resp.body_len, 0);
	char v[32];
	ck_assert_str_eq(header_value(&resp, "Content-Length", v, sizeof(v)),
			 "0");
	response_free(&resp);
	ck_assert(read_response(&r, &resp, 3000));
	ck_assert_str_eq(resp.body, "Hello, World!");
	response_free(&resp);
	client_close(&r);
	ck_assert_int_eq(status_of("GET * HTTP/1.1\r\nHost: h\r\n\r\n", true),
			 400);
	stop();
}
END_TEST

START_TEST(connect_is_not_implemented)
{
	start_conf_lines(NULL);
	ck_assert_int_eq(status_of("CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n"
				   "\r\n",
				   true),
			 501);
	stop();
}
END_TEST

START_TEST(invalid_host_is_400)
{
	start_conf_lines(NULL);
	ck_assert_int_eq(status_of("GET / HTTP/1.1\r\nHost: bad host name\r\n"
				   "\r\n",
				   true),
			 400);
	ck_assert_int_eq(
		status_of("GET / HTTP/1.1\r\nHost: h:8o\r\n\r\n", true), 400);
	ck_assert_int_eq(status_of("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n"
				   "\r\n",
				   false),
			 200);
	stop();
}
END_TEST

/* RFC 9110 10.1.1: no 100 Continue for an HTTP/1.0 client, whatever it
 * sends; the final answer comes once its body is in. */
START_TEST(http10_expect_gets_no_100)
{
	start_conf_lines(NULL);
	struct reader r;
	int fd = client_open(&r, srv.port);
	send_str(fd, "POST / HTTP/1.0\r\nExpect: 100-continue\r\n"
		     "Content-Length: 4\r\n\r\n");
	struct response resp;
	ck_assert_msg(!read_response(&r, &resp, 300),
		      "an HTTP/1.0 client got %d before its body", resp.status);
	response_free(&resp);
	send_str(fd, "body");
	ck_assert(read_response(&r, &resp, 3000));
	ck_assert_int_eq(resp.status, 200);
	response_free(&resp);
	ck_assert(peer_closed(&r, 3000));
	client_close(&r);
	stop();
}
END_TEST

START_TEST(unknown_expectation_is_417)
{
	start_conf_lines(NULL);
	ck_assert_int_eq(status_of("POST / HTTP/1.1\r\nHost: h\r\n"
				   "Expect: 100-continue, tea\r\n"
				   "Content-Length: 4\r\n\r\n",
				   true),
			 417);
	stop();
}
END_TEST

/* A configured 204, 205 or 304 goes out framed as its status requires
 * (the checker holds each to it), to GET and HEAD alike, and the
 * connection goes on: the next answer is where it should be. */
static void expect_bodiless(const char *conf, int status)
{
	start_conf_lines(conf);
	for (int head = 0; head < 2; head++) {
		struct reader r;
		int fd = client_open(&r, srv.port);
		r.head = head;
		const char *req = head ? "HEAD / HTTP/1.1\r\nHost: h\r\n\r\n"
				       : "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
		send_str(fd, req);
		send_str(fd, req);
		for (int i = 0; i < 2; i++) {
			struct response resp;
			ck_assert(read_response(&r, &resp, 3000));
			ck_assert_int_eq(resp.status, status);
			ck_assert_uint_eq(resp.body_len, 0);
			char v[64];
			ck_assert_ptr_null(header_value(&resp, "Content-Type",
							v, sizeof(v)));
			response_free(&resp);
		}
		client_close(&r);
	}
	stop();
}

START_TEST(status_204_has_no_content)
{
	expect_bodiless("status 204\n", 204);
}
END_TEST

START_TEST(status_205_says_it_has_none)
{
	expect_bodiless("status 205\n", 205);
}
END_TEST

START_TEST(status_304_has_no_content)
{
	expect_bodiless("status 304\n", 304);
}
END_TEST

/* A HEAD is framed as its GET: the same Content-Length, no body. */
START_TEST(head_is_framed_like_get)
{
	start_conf_lines(NULL);
	const char *paths[] = {"/", "/health", "/nope"};
	for (int i = 0; i < 3; i++) {
		char req[128];
		struct response get, head;
		char get_len[32], head_len[32];
		snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: h\r\n\r\n",
			 paths[i]);
		exchange(req, false, false, &get);
		snprintf(req, sizeof(req),
			 "HEAD %s HTTP/1.1\r\nHost: h\r\n\r\n", paths[i]);
		exchange(req, true, false, &head);
		ck_assert_int_eq(get.status, head.status);
		ck_assert_str_eq(header_value(&get, "Content-Length", get_len,
					      sizeof(get_len)),
				 header_value(&head, "Content-Length", head_len,
					      sizeof(head_len)));
		ck_assert_uint_eq(head.body_len, 0);
		response_free(&get);
		response_free(&head);
	}
	stop();
}
END_TEST

START_TEST(major_version_0_is_505)
{
	start_conf_lines(NULL);
	ck_assert_int_eq(status_of("GET / HTTP/0.9\r\nHost: h\r\n\r\n", true),
			 505);
	ck_assert_int_eq(status_of("GET / HTTP/2.0\r\nHost: h\r\n\r\n", true),
			 505);
	stop();
}
END_TEST

static char *temp_log_path(void)
{
	static char path[] = "/tmp/hellod-log-XXXXXX";
	strcpy(path, "/tmp/hellod-log-XXXXXX");
	close(mkstemp(path));
	return path;
}

/* With the access log on, a target over its 64 KiB copy is still
 * answered (404 here), and one over max_uri is 414, not 413. */
START_TEST(logged_long_target_is_414)
{
	char conf[256];
	const char *log = temp_log_path();
	snprintf(conf, sizeof(conf),
		 "access_log %s\nmax_uri 96k\nmax_header_size 1m\n", log);
	start_conf_lines(conf);
	size_t n = 70 * 1024;
	char *req = malloc(120 * 1024);
	for (int round = 0; round < 2; round++) {
		strcpy(req, "GET /");
		memset(req + 5, 'a', n);
		strcpy(req + 5 + n, " HTTP/1.1\r\nHost: h\r\n\r\n");
		ck_assert_int_eq(status_of(req, round == 1),
				 (round == 0 ? 404 : 414));
		n = 100 * 1024;
	}
	free(req);
	char *text = wait_for_file_text(log, "\" 414 ", 3000);
	ck_assert_msg(text != NULL, "no 414 in the access log");
	ck_assert_ptr_nonnull(strstr(text, "\" 404 "));
	free(text);
	stop();
	unlink(log);
}
END_TEST

START_TEST(timeout_408_is_logged)
{
	char conf[256];
	const char *log = temp_log_path();
	snprintf(conf, sizeof(conf), "access_log %s\nheader_timeout 200ms\n",
		 log);
	start_conf_lines(conf);
	struct reader r;
	int fd = client_open(&r, srv.port);
	send_str(fd, "GET /slow HTTP/1.1\r\nHost: h\r\n");
	struct response resp;
	ck_assert(read_response(&r, &resp, 3000));
	ck_assert_int_eq(resp.status, 408);
	response_free(&resp);
	ck_assert(peer_closed(&r, 3000));
	client_close(&r);
	char *text =
		wait_for_file_text(log, "\"GET /slow HTTP/1.1\" 408 ", 3000);
	ck_assert_msg(text != NULL, "the 408 is not in the access log");
	free(text);
	stop();
	unlink(log);
}
END_TEST

/* max_headers 65535 is a limit like any other: the 65,536th field is
 * 431, not a counter wrapping to 0. */
START_TEST(max_headers_65535_holds)
{
	start_conf_lines("max_headers 65535\nmax_header_size 1m\n");
	struct reader r;
	int fd = client_open(&r, srv.port);
	send_str(fd, "GET / HTTP/1.1\r\nHost: h\r\n");
	char fields[4 * 1024 + 1] = "";
	for (int i = 0; i < 1024; i++)
		strcat(fields, "a:\r\n");
	for (int i = 0; i < 64; i++)
		send_str(fd, fields);
	send_str(fd, "\r\n");
	struct response resp;
	ck_assert(read_response(&r, &resp, 5000));
	ck_assert_int_eq(resp.status, 431);
	response_free(&resp);
	client_close(&r);
	stop();
}
END_TEST

/* A route on "/" could never be reached: "/" is the main route's. */
START_TEST(special_route_on_slash_is_refused)
{
	char path[] = "/tmp/hellod-conf-XXXXXX";
	int fd = mkstemp(path);
	const char *text = "listen 127.0.0.1:0\nhealth_path /\n";
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	char cmd[256];
	const char *bin = getenv("HELLOD_BIN");
	snprintf(cmd, sizeof(cmd), "%s -c %s %s >/dev/null 2>&1",
		 bin ? bin : "build/hellod", path, test_mode_args);
	/* A server that starts would serve: bound it in time. */
	char bounded[320];
	snprintf(bounded, sizeof(bounded), "timeout 3 %s", cmd);
	int status = system(bounded);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 2,
		      "health_path / was not refused (status %d)", status);
	unlink(path);
}
END_TEST

void semantics_tests_add(TCase *tc)
{
	tcase_add_test(tc, absolute_form_is_routed_by_its_path);
	tcase_add_test(tc, asterisk_form_is_for_options);
	tcase_add_test(tc, connect_is_not_implemented);
	tcase_add_test(tc, invalid_host_is_400);
	tcase_add_test(tc, http10_expect_gets_no_100);
	tcase_add_test(tc, unknown_expectation_is_417);
	tcase_add_test(tc, status_204_has_no_content);
	tcase_add_test(tc, status_205_says_it_has_none);
	tcase_add_test(tc, status_304_has_no_content);
	tcase_add_test(tc, head_is_framed_like_get);
	tcase_add_test(tc, major_version_0_is_505);
	tcase_add_test(tc, logged_long_target_is_414);
	tcase_add_test(tc, timeout_408_is_logged);
	tcase_add_test(tc, max_headers_65535_holds);
	tcase_add_test(tc, special_route_on_slash_is_refused);
}
