/* test_operator.c — what operators behind a load balancer rely on: health
 * and graceful drain, /metrics, the echo route, the access log, PROXY
 * protocol listeners, several listeners, custom responses, and a
 * zero-downtime restart through the listener handoff (SIGUSR2). */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "suites.h"

static struct test_server srv;

/* One request on a new connection; returns the status (0: no answer). */
static int request(int port, const char *req, struct response *out)
{
	struct reader r;
	struct response resp;
	client_open(&r, port);
	send_str(r.fd, req);
	int status = read_response(&r, &resp, 3000) ? resp.status : 0;
	client_close(&r);
	if (out && status)
		*out = resp;
	else if (status)
		response_free(&resp);
	return status;
}

static int get(int port, const char *path, struct response *out)
{
	char req[512];
	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path);
	return request(port, req, out);
}

/* The value of `name{worker="all"...}` in a metrics body, or -1. */
static long long metric(const char *body, const char *series)
{
	const char *at = strstr(body, series);
	return at ? atoll(at + strlen(series)) : -1;
}

/* Waits for the server process to exit; returns its status or -1. */
static int wait_exit(int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	int status;
	while (now_ms() < deadline) {
		if (waitpid(srv.pid, &status, WNOHANG) == srv.pid) {
			close(srv.stderr_fd);
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		}
		usleep(10000);
	}
	return -1;
}

START_TEST(health_answers_200)
{
	server_start(&srv, "-w 2");
	struct response resp;
	ck_assert_int_eq(get(srv.port, "/health", &resp), 200);
	ck_assert_str_eq(resp.body, "OK\n");
	response_free(&resp);
	ck_assert_int_eq(server_stop(&srv, 5000), 0);
}
END_TEST

START_TEST(metrics_count_requests)
{
	server_start(&srv, "-w 2");
	for (int i = 0; i < 7; i++)
		ck_assert_int_eq(get(srv.port, "/", NULL), 200);
	ck_assert_int_eq(get(srv.port, "/nope", NULL), 404);
	ck_assert_int_eq(request(srv.port, "BAD\r\n\r\n", NULL), 400);
	/* Snapshots are published after each loop iteration; give the
	 * other worker a moment to wake and publish. */
	usleep(100 * 1000);
	struct response resp;
	ck_assert_int_eq(get(srv.port, "/metrics", &resp), 200);
	char ct[128];
	ck_assert_str_eq(header_value(&resp, "Content-Type", ct, sizeof(ct)),
			 "text/plain; version=0.0.4; charset=utf-8");
	ck_assert_ptr_nonnull(strstr(resp.body, "# TYPE hellod_requests_total "
						"counter\n"));
	ck_assert_int_eq(metric(resp.body,
				"hellod_requests_total{worker=\"all\","
				"code=\"404\"} "),
			 1);
	ck_assert_int_eq(metric(resp.body,
				"hellod_requests_total{worker=\"all\","
				"code=\"400\"} "),
			 1);
	/* 7 for "/", the metrics request itself is counted after render */
	ck_assert_int_ge(metric(resp.body,
				"hellod_requests_total{worker=\"all\","
				"code=\"200\"} "),
			 7);
	ck_assert_int_eq(
		metric(resp.body, "hellod_parse_errors_total{worker=\"all\"} "),
		1);
	ck_assert_int_ge(
		metric(resp.body,
		       "hellod_connections_accepted_total{worker=\"all\"} "),
		9);
	ck_assert_int_ge(
		metric(resp.body, "hellod_connections_open{worker=\"0\"} "), 0);
	ck_assert_int_gt(
		metric(resp.body, "hellod_loop_wakeups_total{worker=\"all\"} "),
		0);
	ck_assert_int_gt(metric(resp.body,
				"hellod_received_bytes_total{worker=\"all\"} "),
			 0);
	ck_assert_int_eq(
		metric(resp.body,
		       "hellod_header_timeouts_total{worker=\"all\"} "),
		0);
	response_free(&resp);
	ck_assert_int_eq(server_stop(&srv, 5000), 0);
}
END_TEST

/* SIGTERM: during drain_grace health says 503 and "/" still works; then
 * idle connections close, a request in flight is finished with
 * Connection: close, and the process exits 0. */
START_TEST(sigterm_drains_gracefully)
{
	server_start_conf(&srv,
			  "listen 127.0.0.1:0\nworkers 2\n"
			  "drain_grace 700ms\ndrain_timeout 5s\n",
			  NULL);
	struct reader idle, busy;
	client_open(&idle, srv.port);
	client_open(&busy, srv.port);
	send_str(idle.fd, "GET / HTTP/1.1\r\nHost: t\r\n\r\n");
	struct response resp;
	ck_assert(read_response(&idle, &resp, 3000));
	response_free(&resp);
	send_str(busy.fd, "GET / HTTP/1.1\r\nHost: t\r\n"); /* in flight */
	usleep(100 * 1000);
	kill(srv.pid, SIGTERM);
	usleep(200 * 1000);
	ck_assert_int_eq(get(srv.port, "/health", NULL), 503);
	ck_assert_int_eq(get(srv.port, "/", NULL), 200);
	/* After the grace: the idle keep-alive connection is closed... */
	ck_assert(peer_closed(&idle, 3000));
	/* ...the one in flight gets its answer, with Connection: close. */
	send_str(busy.fd, "\r\n");
	ck_assert(read_response(&busy, &resp, 3000));
	ck_assert_int_eq(resp.status, 200);
	char v[32];
	ck_assert_str_eq(header_value(&resp, "Connection", v, sizeof(v)),
			 "close");
	response_free(&resp);
	ck_assert(peer_closed(&busy, 3000));
	client_close(&idle);
	client_close(&busy);
	ck_assert_int_eq(wait_exit(5000), 0);
}
END_TEST

START_TEST(second_sigterm_stops_at_once)
{
	server_start_conf(&srv,
			  "listen 127.0.0.1:0\ndrain_grace 30s\n"
			  "drain_timeout 60s\n",
			  NULL);
	kill(srv.pid, SIGTERM);
	usleep(200 * 1000);
	ck_assert_int_eq(get(srv.port, "/health", NULL), 503);
	long long start = now_ms();
	kill(srv.pid, SIGTERM);
	ck_assert_int_eq(wait_exit(5000), 0);
	ck_assert_int_lt(now_ms() - start, 3000);
}
END_TEST

START_TEST(drain_timeout_bounds_the_drain)
{
	server_start_conf(&srv,
			  "listen 127.0.0.1:0\ndrain_grace 0ms\n"
			  "drain_timeout 1s\nheader_timeout 60s\n",
			  NULL);
	struct reader r;
	client_open(&r, srv.port);
	send_str(r.fd, "GET / HTTP/1.1\r\n"); /* never finished */
	usleep(100 * 1000);
	long long start = now_ms();
	kill(srv.pid, SIGTERM);
	ck_assert_int_eq(wait_exit(5000), 0);
	long long took = now_ms() - start;
	ck_assert_int_ge(took, 900);
	ck_assert_int_lt(took, 4000);
	client_close(&r);
}
END_TEST

START_TEST(echo_shows_the_request)
{
	server_start_conf(&srv, "listen 127.0.0.1:0\necho_path /echo\n", NULL);
	struct response resp;
	ck_assert_int_eq(
		request(srv.port,
			"POST /echo?x=1 HTTP/1.1\r\nHost: t\r\n"
			"X-Trace: abc\r\nContent-Length: 5\r\n\r\nhello",
			&resp),
		200);
	ck_assert_ptr_nonnull(strstr(resp.body, "POST /echo?x=1 HTTP/1.1\n"));
	ck_assert_ptr_nonnull(strstr(resp.body, "client: 127.0.0.1\n"));
	ck_assert_ptr_nonnull(strstr(resp.body, "X-Trace: abc\n"));
	ck_assert_ptr_nonnull(strstr(resp.body, "body: 5 bytes\nhello"));
	response_free(&resp);
	/* Bounded: a body over the capture limit gets 413. */
	char *big = malloc(70000 + 200);
	int n = sprintf(big, "POST /echo HTTP/1.1\r\nHost: t\r\n"
			     "Content-Length: 70000\r\n\r\n");
	memset(big + n, 'b', 70000);
	big[n + 70000] = '\0';
	ck_assert_int_eq(request(srv.port, big, NULL), 413);
	free(big);
	ck_assert_int_eq(server_stop(&srv, 5000), 0);
}
END_TEST

START_TEST(echo_is_off_by_default)
{
	server_start(&srv, NULL);
	ck_assert_int_eq(get(srv.port, "/echo", NULL), 404);
	ck_assert_int_eq(server_stop(&srv, 5000), 0);
}
END_TEST

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	char *text = calloc(1, 65536);
	size_t n = fread(text, 1, 65535, f);
	text[n] = '\0';
	fclose(f);
	return text;
}

/* Waits until `path` contains `needle`; returns its text (to free). */
static char *wait_for_text(const char *path, const char *needle, int ms)
{
	long long deadline = now_ms() + ms;
	for (;;) {
		char *text = read_file(path);
		if (text && strstr(text, needle))
			return text;
		free(text);
		if (now_ms() > deadline)
			return NULL;
		usleep(50 * 1000);
	}
}

START_TEST(access_log_common_and_reopen)
{
	char path[] = "/tmp/hellod-log-XXXXXX", moved[64], conf[256];
	close(mkstemp(path));
	snprintf(moved, sizeof(moved), "%s.1", path);
	snprintf(conf, sizeof(conf), "listen 127.0.0.1:0\naccess_log %s\n",
		 path);
	server_start_conf(&srv, conf, NULL);
	ck_assert_int_eq(get(srv.port, "/?q=\"x\"", NULL), 200);
	ck_assert_int_eq(get(srv.port, "/missing", NULL), 404);
	/* Buffered, but out within about a second. The two requests may
	 * have met different workers, each flushing on its own. */
	char *text = wait_for_text(path, "/missing", 3000);
	ck_assert_msg(text != NULL, "no log line within 3 s");
	free(text);
	text = wait_for_text(path, "/?q=", 3000);
	ck_assert_msg(text != NULL, "no log line within 3 s");
	ck_assert_ptr_nonnull(strstr(text, "127.0.0.1 - - ["));
	ck_assert_ptr_nonnull(
		strstr(text, "\"GET /?q=\\x22x\\x22 HTTP/1.1\" 200 13\n"));
	ck_assert_ptr_nonnull(
		strstr(text, "\"GET /missing HTTP/1.1\" 404 10\n"));
	free(text);
	/* logrotate: move the file, SIGUSR1, new lines go to a new file. */
	ck_assert_int_eq(rename(path, moved), 0);
	kill(srv.pid, SIGUSR1);
	usleep(200 * 1000);
	ck_assert_int_eq(get(srv.port, "/after-rotate", NULL), 404);
	text = wait_for_text(path, "/after-rotate", 3000);
	ck_assert_msg(text != NULL, "no line in the reopened log");
	ck_assert_ptr_null(strstr(text, "/missing"));
	free(text);
	ck_assert_int_eq(server_stop(&srv, 5000), 0);
	unlink(path);
	unlink(moved);
}
END_TEST

START_TEST(access_log_json)
{
	char path[] = "/tmp/hellod-log-XXXXXX", conf[256];
	close(mkstemp(path));
	snprintf(conf, sizeof(conf),
		 "listen 127.0.0.1:0\naccess_log %s\naccess_log_format json\n",
		 path);
	server_start_conf(&srv, conf, NULL);
	ck_assert_int_eq(get(srv.port, "/", NULL), 200);
	/* At exit the buffer is flushed too. */
	ck_assert_int_eq(server_stop(&srv, 5000), 0);
	char *text = read_file(path);
	ck_assert_ptr_nonnull(text);
	ck_assert_ptr_nonnull(strstr(text, "{\"time\":\""));
	ck_assert_ptr_nonnull(
		strstr(text, "\"client\":\"127.0.0.1\",\"method\":"
			     "\"GET\",\"target\":\"/\",\"protocol\":"
			     "\"HTTP/1.1\",\"status\":200,\"bytes\":13}\n"));
	free(text);
	unlink(path);
}
END_TEST

/* Second listener's port, from "listening on A, 127.0.0.1:P; ...". */
static int second_port(void)
{
	const char *comma = strstr(srv.banner, ", 127.0.0.1:");
	ck_assert_ptr_nonnull(comma);
	return atoi(comma + strlen(", 127.0.0.1:"));
}

START_TEST(proxy_protocol_listener)
{
	char path[] = "/tmp/hellod-log-XXXXXX", conf[256];
	close(mkstemp(path));
	snprintf(conf, sizeof(conf),
		 "listen 127.0.0.1:0\nlisten 127.0.0.1:0 proxy_protocol\n"
		 "echo_path /echo\naccess_log %s\n",
		 path);
	server_start_conf(&srv, conf, NULL);
	int pport = second_port();
	struct response resp;
	/* v1, sent in two pieces to exercise the partial header path */
	struct reader r;
	client_open(&r, pport);
	send_str(r.fd, "PROXY TCP4 203.0.113.9 10.0.0.1 4567 80");
	usleep(50 * 1000);
	send_str(r.fd, "\r\nGET /echo HTTP/1.1\r\nHost: t\r\n\r\n");
	ck_assert(read_response(&r, &resp, 3000));
	ck_assert_ptr_nonnull(strstr(resp.body, "client: 203.0.113.9\n"));
	ck_assert_ptr_nonnull(strstr(resp.body, "client_port: 4567\n"));
	response_free(&resp);
	client_close(&r);
	/* v2 binary, TCP over IPv4 */
	static const char v2[] =
		"\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0c"
		"\xc6\x33\x64\x07\x0a\x00\x00\x01\x1f\x90\x00\x50"
		"GET /echo HTTP/1.1\r\nHost: t\r\n\r\n";
	client_open(&r, pport);
	send_all(r.fd, v2, sizeof(v2) - 1);
	ck_assert(read_response(&r, &resp, 3000));
	ck_assert_ptr_nonnull(strstr(resp.body, "client: 198.51.100.7\n"));
	response_free(&resp);
	client_close(&r);
	/* No header: closed without an answer, and counted. */
	ck_assert_int_eq(get(pport, "/", NULL), 0);
	/* The plain listener is unaffected. */
	ck_assert_int_eq(get(srv.port, "/", NULL), 200);
	usleep(100 * 1000);
	ck_assert_int_eq(get(srv.port, "/metrics", &resp), 200);
	ck_assert_int_eq(metric(resp.body, "hellod_proxy_protocol_errors_total"
					   "{worker=\"all\"} "),
			 1);
	response_free(&resp);
	ck_assert_int_eq(server_stop(&srv, 5000), 0);
	char *text = read_file(path);
	ck_assert_ptr_nonnull(strstr(text, "203.0.113.9 - - ["));
	free(text);
	unlink(path);
}
END_TEST

/* GET / on a new connection to the IPv4 or IPv6 loopback; a refused or
 * reset connection counts as 0 instead of failing the test. */
static int try_get_family(int family, int port)
{
	struct sockaddr_storage ss = {0};
	socklen_t len;
	if (family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		in6->sin6_addr = in6addr_loopback;
		len = sizeof(*in6);
	} else {
		struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		in4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*in4);
	}
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	if (connect(fd, (struct sockaddr *)&ss, len)) {
		close(fd);
		return 0;
	}
	struct reader r;
	struct response resp;
	static const char req[] = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";
	reader_init(&r, fd);
	int status = 0;
	if (send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) ==
		    (ssize_t)sizeof(req) - 1 &&
	    read_response(&r, &resp, 3000)) {
		status = resp.status;
		response_free(&resp);
	}
	client_close(&r);
	return status;
}

static int try_get(int port)
{
	return try_get_family(AF_INET, port);
}

START_TEST(several_listeners_and_ipv6)
{
	bool v6 = access("/proc/net/if_inet6", R_OK) == 0;
	server_start_conf(&srv,
			  v6 ? "listen 127.0.0.1:0\nlisten 127.0.0.1:0\n"
			       "listen [::1]:0\nworkers 2\n"
			     : "listen 127.0.0.1:0\nlisten 127.0.0.1:0\n"
			       "workers 2\n",
			  NULL);
	ck_assert_int_eq(get(srv.port, "/", NULL), 200);
	ck_assert_int_eq(get(second_port(), "/", NULL), 200);
	if (v6) {
		const char *at = strstr(srv.banner, "[::1]:");
		ck_assert_ptr_nonnull(at);
		ck_assert_int_eq(try_get_family(AF_INET6, atoi(at + 6)), 200);
	}
	ck_assert_int_eq(server_stop(&srv, 5000), 0);
}
END_TEST

START_TEST(custom_status_headers_and_body_file)
{
	const char *body = temp_file("<h1>hi</h1>\n");
	char conf[512];
	snprintf(conf, sizeof(conf),
		 "listen 127.0.0.1:0\nstatus 201\nbody_file %s\n"
		 "content_type text/html\nheader X-Backend blue\n"
		 "header Cache-Control no-store\n",
		 body);
	server_start_conf(&srv, conf, NULL);
	struct response resp;
	ck_assert_int_eq(get(srv.port, "/", &resp), 201);
	ck_assert_str_eq(resp.body, "<h1>hi</h1>\n");
	char v[64];
	ck_assert_str_eq(header_value(&resp, "X-Backend", v, sizeof(v)),
			 "blue");
	ck_assert_str_eq(header_value(&resp, "Cache-Control", v, sizeof(v)),
			 "no-store");
	ck_assert_str_eq(header_value(&resp, "Content-Type", v, sizeof(v)),
			 "text/html");
	response_free(&resp);
	ck_assert_int_eq(server_stop(&srv, 5000), 0);
}
END_TEST

/* kill -USR2: a successor inherits the listening sockets and the old
 * instance drains, with a client making request after request (about
 * 7,000 new connections a second) throughout; not one may fail. (The
 * old way, a second hellod binding the port with SO_REUSEPORT before the
 * first closes its listeners, loses the connections that complete their
 * handshake on the old listener between its last accept and its close:
 * 1 in about a quarter of the runs here. tests/test_handoff.c restarts
 * 20 times under heavier load, and can be run the old way to compare.) */
START_TEST(zero_downtime_restart)
{
	struct test_server old_srv;
	char pid_path[64], conf[256];
	snprintf(pid_path, sizeof(pid_path), "/tmp/hellod-pid-%d",
		 (int)getpid());
	snprintf(conf, sizeof(conf),
		 "listen 127.0.0.1:0\nworkers 1\npid_file %s\n"
		 "drain_grace 500ms\ndrain_timeout 5s\n",
		 pid_path);
	/* The successor is the old one's child; once that exits, ours. */
	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	server_start_conf(&old_srv, conf, NULL);
	int failures = 0, done = 0;
	bool signalled = false;
	long long start = now_ms();
	while (now_ms() - start < 2500) {
		if (now_ms() - start > 300 && !signalled) {
			kill(old_srv.pid, SIGUSR2);
			signalled = true;
		}
		if (try_get(old_srv.port) != 200)
			failures++;
		done++;
	}
	int status;
	ck_assert_int_eq(waitpid(old_srv.pid, &status, 0), old_srv.pid);
	char said[4096] = "";
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		struct pollfd pfd = {.fd = old_srv.stderr_fd, .events = POLLIN};
		ssize_t n = poll(&pfd, 1, 100) > 0
				    ? read(old_srv.stderr_fd, said,
					   sizeof(said) - 1)
				    : 0;
		said[n > 0 ? n : 0] = '\0';
	}
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "old instance: status 0x%x; said: %s", status, said);
	struct test_server new_srv = old_srv; /* shares the stderr pipe */
	FILE *f = fopen(pid_path, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fscanf(f, "%d", &new_srv.pid), 1);
	fclose(f);
	ck_assert_int_ne(new_srv.pid, old_srv.pid);
	ck_assert_int_eq(get(old_srv.port, "/", NULL), 200); /* the new one */
	ck_assert_int_eq(server_stop(&new_srv, 5000), 0);
	printf("zero_downtime_restart: %d requests, %d failed\n", done,
	       failures);
	ck_assert_int_gt(done, 50);
	ck_assert_int_eq(failures, 0);
}
END_TEST

Suite *operator_suite(void)
{
	Suite *s = suite_create("operator");
	TCase *tc = tcase_create("lb");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, health_answers_200);
	tcase_add_test(tc, metrics_count_requests);
	tcase_add_test(tc, sigterm_drains_gracefully);
	tcase_add_test(tc, second_sigterm_stops_at_once);
	tcase_add_test(tc, drain_timeout_bounds_the_drain);
	tcase_add_test(tc, echo_shows_the_request);
	tcase_add_test(tc, echo_is_off_by_default);
	tcase_add_test(tc, access_log_common_and_reopen);
	tcase_add_test(tc, access_log_json);
	tcase_add_test(tc, proxy_protocol_listener);
	tcase_add_test(tc, several_listeners_and_ipv6);
	tcase_add_test(tc, custom_status_headers_and_body_file);
	tcase_add_test(tc, zero_downtime_restart);
	suite_add_tcase(s, tc);
	return s;
}
