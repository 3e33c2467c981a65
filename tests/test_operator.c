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
#include <time.h>
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

/* The sum over workers of `name{worker="N"[,labels]}` in a metrics
 * body (what PromQL's sum() makes of it), or -1 when no worker has the
 * series. */
static long long metric(const char *body, const char *name, const char *labels)
{
	char head[128], tail[128];
	snprintf(head, sizeof(head), "\n%s{worker=\"", name);
	snprintf(tail, sizeof(tail), "\"%s%s} ", labels ? "," : "",
		 labels ? labels : "");
	long long sum = -1;
	for (const char *at = strstr(body, head); at;
	     at = strstr(at + 1, head)) {
		const char *p = at + strlen(head);
		p += strspn(p, "0123456789");
		if (strncmp(p, tail, strlen(tail)))
			continue;
		sum = (sum < 0 ? 0 : sum) + atoll(p + strlen(tail));
	}
	return sum;
}

/* The value of an unlabelled series `name`, or -1. */
static double plain_metric(const char *body, const char *name)
{
	char head[128];
	snprintf(head, sizeof(head), "\n%s ", name);
	const char *at = strstr(body, head);
	return at ? atof(at + strlen(head)) : -1;
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
	/* No worker="all" sum: sum() over every series must count once. */
	ck_assert_ptr_null(strstr(resp.body, "worker=\"all\""));
	ck_assert_int_eq(
		metric(resp.body, "hellod_requests_total", "code=\"404\""), 1);
	ck_assert_int_eq(
		metric(resp.body, "hellod_requests_total", "code=\"400\""), 1);
	/* 7 for "/", the metrics request itself is counted after render */
	ck_assert_int_eq(
		metric(resp.body, "hellod_requests_total", "code=\"200\""), 7);
	ck_assert_int_eq(metric(resp.body, "hellod_parse_errors_total", NULL),
			 1);
	ck_assert_int_ge(
		metric(resp.body, "hellod_connections_accepted_total", NULL),
		9);
	ck_assert_int_ge(metric(resp.body, "hellod_connections_open", NULL), 0);
	ck_assert_int_gt(metric(resp.body, "hellod_loop_wakeups_total", NULL),
			 0);
	ck_assert_int_gt(metric(resp.body, "hellod_received_bytes_total", NULL),
			 0);
	ck_assert_int_eq(
		metric(resp.body, "hellod_header_timeouts_total", NULL), 0);
	response_free(&resp);
	ck_assert_int_eq(server_stop(&srv, 5000), 0);
}
END_TEST

/* The exposition as a Prometheus server reads it: a real /metrics body
 * from a running server through `promtool check metrics` (syntax, HELP
 * and TYPE, naming lint), and the process metrics and build info every
 * exporter has, with values that match the process. */
START_TEST(metrics_pass_promtool_with_process_metrics)
{
	server_start(&srv, "-w 2");
	ck_assert_int_eq(get(srv.port, "/", NULL), 200);
	struct response resp;
	ck_assert_int_eq(get(srv.port, "/metrics", &resp), 200);
	const char *path = temp_file(resp.body);
	char cmd[256], out[4096];
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s", path);
	int status = run_capture(cmd, out, sizeof(out));
	unlink(path);
	ck_assert_msg(status == 0 && out[0] == '\0',
		      "promtool check metrics: status %d: %s", status, out);
	char build[128];
	snprintf(build, sizeof(build),
		 "\nhellod_build_info{version=\"%s\",poller=\"epoll\","
		 "trigger=\"edge\"} 1\n",
		 HD_VERSION);
	ck_assert_msg(strstr(resp.body, build), "no %s", build + 1);
	/* The scrape's own connection is open while it is rendered, and
	 * maybe the first request's: read_after_accept answers the scrape
	 * at its accept, which can come before the worker has read that
	 * connection's FIN. */
	int fds = proc_fd_count(srv.pid);
	double open = plain_metric(resp.body, "process_open_fds");
	ck_assert_msg(open >= fds && open <= fds + 2, "open_fds %g, /proc %d",
		      open, fds);
	ck_assert(plain_metric(resp.body, "process_max_fds") >= open);
	long rss_kb = proc_status_kb(srv.pid, "VmRSS");
	double rss = plain_metric(resp.body, "process_resident_memory_bytes");
	ck_assert_msg(rss > rss_kb * 1024.0 / 2 && rss < rss_kb * 1024.0 * 2,
		      "rss %g, VmRSS %ld kB", rss, rss_kb);
	double cpu = plain_metric(resp.body, "process_cpu_seconds_total");
	ck_assert(cpu >= 0 && cpu < 60);
	double start = plain_metric(resp.body, "process_start_time_seconds");
	double now = (double)time(NULL);
	ck_assert_msg(start > now - 30 && start <= now + 1, "start %f, now %f",
		      start, now);
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
	char *text = wait_for_file_text(path, "/missing", 3000);
	ck_assert_msg(text != NULL, "no log line within 3 s");
	free(text);
	text = wait_for_file_text(path, "/?q=", 3000);
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
	text = wait_for_file_text(path, "/after-rotate", 3000);
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
	char *text = slurp(path);
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

/* Marks each "GET /?n=N " line of a log file in seen[]; returns the
 * line count. A line twice, or an N out of range, counts in *bad. */
static int count_log(const char *path, unsigned char *seen, int max, int *bad)
{
	char *text = slurp(path);
	ck_assert_msg(text != NULL, "cannot read %s", path);
	int lines = 0;
	for (char *line = text; *line;) {
		char *nl = strchr(line, '\n');
		ck_assert_msg(nl != NULL, "%s ends in a partial line", path);
		/* One line at a time: ASan's strstr measures all it is given,
		 * which over the whole rest of the file made this quadratic. */
		*nl = '\0';
		const char *at = strstr(line, "\"GET /?n=");
		int n = at ? atoi(at + 9) : -1;
		if (n < 0 || n >= max || seen[n]++)
			(*bad)++;
		lines++;
		line = nl + 1;
	}
	free(text);
	return lines;
}

/* Pipelines `batch` requests /?n=first.. on r and reads their answers. */
static void send_batch(struct reader *r, int first, int batch)
{
	char req[64 * 64];
	size_t len = 0;
	for (int i = 0; i < batch; i++)
		len += (size_t)snprintf(
			req + len, sizeof(req) - len,
			"GET /?n=%d HTTP/1.1\r\nHost: t\r\n\r\n", first + i);
	send_all(r->fd, req, len);
	for (int i = 0; i < batch; i++) {
		struct response resp;
		ck_assert(read_response(r, &resp, 3000));
		ck_assert_int_eq(resp.status, 200);
		response_free(&resp);
	}
}

/* conf/hellod.logrotate, pointed at a temporary directory, run with
 * `logrotate -f` while two clients keep both workers busy: every request
 * is in the rotated file or the new one, exactly once, and both have
 * lines (the rotation happened under load and hellod reopened the log).
 * The pid file holds hellod's pid, as pid_file will write it. */
START_TEST(logrotate_under_load_loses_no_line)
{
	enum { MAX = 100000, BATCH = 32 };
	char dir[] = "/tmp/hellod-rot-XXXXXX", conf[512], cmd[1024], out[1024];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(conf, sizeof(conf),
		 "listen 127.0.0.1:0\nworkers 2\naccess_log %s/access.log\n",
		 dir);
	server_start_conf(&srv, conf, NULL);
	snprintf(cmd, sizeof(cmd),
		 "echo %d > %s/hellod.pid && sed -e 's|/var/log/hellod|%s|' "
		 "-e 's|/run/hellod/hellod.pid|%s/hellod.pid|' %s > "
		 "%s/logrotate.conf && chmod 0644 %s/logrotate.conf",
		 (int)srv.pid, dir, dir, dir, src_path("conf/hellod.logrotate"),
		 dir, dir);
	ck_assert_msg(run_capture(cmd, out, sizeof(out)) == 0, "%s", out);
	struct reader clients[2];
	client_open(&clients[0], srv.port);
	client_open(&clients[1], srv.port);
	pid_t rotate = 0;
	int sent = 0, rotate_status = -1;
	long long start = now_ms(), rotated_at = 0;
	while (now_ms() - start < 10000) {
		if (sent + BATCH <= MAX) {
			send_batch(&clients[(sent / BATCH) % 2], sent, BATCH);
			sent += BATCH;
		} else {
			usleep(10 * 1000); /* enough sent: wait for logrotate */
		}
		if (!rotate && now_ms() - start > 300) {
			rotate = fork();
			ck_assert_int_ge(rotate, 0);
			if (rotate == 0) {
				char state[64], file[64];
				snprintf(state, sizeof(state), "%s/state", dir);
				snprintf(file, sizeof(file),
					 "%s/logrotate.conf", dir);
				execlp("logrotate", "logrotate", "-f", "-s",
				       state, file, (char *)NULL);
				_exit(127);
			}
		}
		if (rotate > 0 && !rotated_at &&
		    waitpid(rotate, &rotate_status, WNOHANG) == rotate)
			rotated_at = now_ms();
		/* Load goes on a while after the reopen, into the new file. */
		if (rotated_at && now_ms() - rotated_at > 1500)
			break;
	}
	ck_assert_msg(rotated_at, "logrotate did not finish within 10 s");
	ck_assert_msg(WIFEXITED(rotate_status) &&
			      WEXITSTATUS(rotate_status) == 0,
		      "logrotate: status %d", rotate_status);
	client_close(&clients[0]);
	client_close(&clients[1]);
	ck_assert_int_eq(server_stop(&srv, 5000), 0); /* flushes the logs */
	unsigned char *seen = calloc(MAX, 1);
	int bad = 0;
	char path[128];
	snprintf(path, sizeof(path), "%s/access.log.1", dir);
	int old_lines = count_log(path, seen, MAX, &bad);
	snprintf(path, sizeof(path), "%s/access.log", dir);
	int new_lines = count_log(path, seen, MAX, &bad);
	free(seen);
	printf("logrotate_under_load: %d requests, %d lines rotated, %d in "
	       "the new file\n",
	       sent, old_lines, new_lines);
	ck_assert_int_eq(bad, 0);
	ck_assert_int_eq(old_lines + new_lines, sent);
	ck_assert_int_gt(old_lines, 0);
	ck_assert_int_gt(new_lines, 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
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
	ck_assert_int_eq(
		metric(resp.body, "hellod_proxy_protocol_errors_total", NULL),
		1);
	response_free(&resp);
	ck_assert_int_eq(server_stop(&srv, 5000), 0);
	char *text = slurp(path);
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

/* The routes operators ask for, each its own status, type and body,
 * exact or by prefix, with / and health as before, counted by code. */
START_TEST(static_routes)
{
	const char *file = temp_file("<p>static</p>\n");
	char conf[1024];
	snprintf(
		conf, sizeof(conf),
		"listen 127.0.0.1:0\n"
		"route /livez 200 text/plain ok\\n\n"
		"route /robots.txt 200 text/plain User-agent: *\\nDisallow: /\n"
		"route /favicon.ico 204\n"
		"route /json 200 application/json {\"message\":\"Hello, "
		"World!\"}\n"
		"route /static/* 200 text/html @%s\n"
		"route /* 410 text/plain gone\\n\n",
		file);
	server_start_conf(&srv, conf, NULL);
	static const struct {
		const char *path;
		int status;
		const char *type, *body;
	} want[] = {
		{"/livez", 200, "text/plain", "ok\n"},
		{"/robots.txt?x=1", 200, "text/plain",
		 "User-agent: *\nDisallow: /"},
		{"/favicon.ico", 204, NULL, ""},
		{"/json", 200, "application/json",
		 "{\"message\":\"Hello, World!\"}"},
		{"/static/a/b.html", 200, "text/html", "<p>static</p>\n"},
		{"/elsewhere", 410, "text/plain", "gone\n"},
		{"/", 200, "text/plain", "Hello, World!"},
		{"/health", 200, "text/plain", "OK\n"},
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		struct response resp;
		ck_assert_int_eq(get(srv.port, want[i].path, &resp),
				 want[i].status);
		char v[64];
		const char *type =
			header_value(&resp, "Content-Type", v, sizeof(v));
		if (want[i].type)
			ck_assert_str_eq(type, want[i].type);
		else
			ck_assert_ptr_null(type);
		ck_assert_str_eq(resp.body, want[i].body);
		response_free(&resp);
	}
	usleep(200 * 1000); /* workers publish their counters every 10 ms */
	struct response m;
	ck_assert_int_eq(get(srv.port, "/metrics", &m), 200);
	ck_assert_int_eq(
		metric(m.body, "hellod_requests_total", "code=\"410\""), 1);
	ck_assert_int_eq(
		metric(m.body, "hellod_requests_total", "code=\"204\""), 1);
	response_free(&m);
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
	tcase_add_test(tc, metrics_pass_promtool_with_process_metrics);
	tcase_add_test(tc, sigterm_drains_gracefully);
	tcase_add_test(tc, second_sigterm_stops_at_once);
	tcase_add_test(tc, drain_timeout_bounds_the_drain);
	tcase_add_test(tc, echo_shows_the_request);
	tcase_add_test(tc, echo_is_off_by_default);
	tcase_add_test(tc, access_log_common_and_reopen);
	tcase_add_test(tc, access_log_json);
	tcase_add_test(tc, logrotate_under_load_loses_no_line);
	tcase_add_test(tc, proxy_protocol_listener);
	tcase_add_test(tc, several_listeners_and_ipv6);
	tcase_add_test(tc, custom_status_headers_and_body_file);
	tcase_add_test(tc, static_routes);
	tcase_add_test(tc, zero_downtime_restart);
	suite_add_tcase(s, tc);
	return s;
}
