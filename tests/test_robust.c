/* test_robust.c — limits, timeouts, backpressure and descriptor
 * exhaustion against the real build/hellod, once per way of multiplexing
 * (like test_integration.c). Every wait is bounded. */
#include <check.h>
#include <errno.h>
#include <poll.h>
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

static const char get_root[] = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";

/* Starts the server with `conf` as its config file (NULL: none). */
static void start_conf(const char *conf, const char *extra)
{
	char args[512], path[64] = "";
	if (conf)
		snprintf(path, sizeof(path), "%s", temp_file(conf));
	snprintf(args, sizeof(args), "-w 2 -s %s %s%s %s", test_mode_args,
		 conf ? "-c " : "", path, extra ? extra : "");
	server_start(&srv, args);
	if (conf)
		unlink(path);
}

/* Stops the server (clean exit expected) and returns its --stats text. */
static const char *stop_with_stats(void)
{
	static char out[64 * 1024]; /* poller threads: a row per thread */
	ck_assert_int_eq(server_stop_output(&srv, 5000, out, sizeof(out)), 0);
	return out;
}

static void stop_expect_clean_exit(void)
{
	ck_assert_int_eq(server_stop(&srv, 5000), 0);
}

/* Sends req on a new connection; expects `status`, Connection: close and
 * then the close. */
static void expect_status_and_close(const char *req, size_t len, int status)
{
	struct reader r;
	int fd = client_open(&r, srv.port);
	send_all(fd, req, len);
	struct response resp;
	ck_assert_msg(read_response(&r, &resp, 3000), "no answer, want %d",
		      status);
	ck_assert_int_eq(resp.status, status);
	char v[32];
	ck_assert_ptr_nonnull(header_value(&resp, "Connection", v, sizeof(v)));
	ck_assert_str_eq(v, "close");
	response_free(&resp);
	ck_assert(peer_closed(&r, 3000));
	client_close(&r);
}

static char *repeat(const char *head, char c, size_t n, const char *tail)
{
	size_t hl = strlen(head), tl = strlen(tail);
	char *s = malloc(hl + n + tl + 1);
	memcpy(s, head, hl);
	memset(s + hl, c, n);
	memcpy(s + hl + n, tail, tl + 1);
	return s;
}

START_TEST(configured_limits_get_their_status_and_a_close)
{
	start_conf("max_uri 100\nmax_header_size 300\nmax_headers 5\n"
		   "max_body 10\n",
		   NULL);
	char *uri = repeat("GET /", 'a', 120, " HTTP/1.1\r\nHost: t\r\n\r\n");
	expect_status_and_close(uri, strlen(uri), 414);
	free(uri);
	char *big = repeat("GET / HTTP/1.1\r\nHost: t\r\nX-Big: ", 'b', 300,
			   "\r\n\r\n");
	expect_status_and_close(big, strlen(big), 431);
	free(big);
	const char *many = "GET / HTTP/1.1\r\nHost: t\r\nA: 1\r\nB: 2\r\n"
			   "C: 3\r\nD: 4\r\nE: 5\r\n\r\n";
	expect_status_and_close(many, strlen(many), 431);
	const char *cl = "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 11"
			 "\r\n\r\nhello world";
	expect_status_and_close(cl, strlen(cl), 413);
	const char *chunked =
		"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: "
		"chunked\r\n\r\n8\r\n12345678\r\n8\r\n12345678"
		"\r\n0\r\n\r\n";
	expect_status_and_close(chunked, strlen(chunked), 413);
	/* Just within every limit: answered, and the connection stays. */
	struct reader r;
	int fd = client_open(&r, srv.port);
	char *ok = repeat("POST /", 'a', 90,
			  " HTTP/1.1\r\nHost: t\r\nB: 2\r\nC: 3\r\nD: 4\r\n"
			  "Content-Length: 10\r\n\r\n0123456789");
	send_str(fd, ok);
	send_str(fd, get_root);
	struct response resp;
	ck_assert(read_response(&r, &resp, 3000));
	ck_assert_int_eq(resp.status, 404);
	response_free(&resp);
	ck_assert(read_response(&r, &resp, 3000));
	ck_assert_int_eq(resp.status, 200);
	response_free(&resp);
	free(ok);
	client_close(&r);
	stop_expect_clean_exit();
}
END_TEST

/* Waits until fd is readable (data or EOF); returns ms waited or -1. */
static long long wait_readable(int fd, int timeout_ms)
{
	long long start = now_ms();
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	if (poll(&pfd, 1, timeout_ms) != 1)
		return -1;
	return now_ms() - start;
}

/* slowloris: one header byte every 100 ms does not buy more time. */
START_TEST(header_timeout_answers_slowloris_with_408)
{
	start_conf("header_timeout 1s\n", NULL);
	struct reader r;
	int fd = client_open(&r, srv.port);
	send_str(fd, "GET / HTTP/1.1\r\nHost: t\r\n");
	long long start = now_ms(), answered = -1;
	const char *trickle = "X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	for (int i = 0; trickle[i] && answered < 0; i++) {
		send(fd, trickle + i, 1, MSG_NOSIGNAL);
		if (wait_readable(fd, 100) >= 0)
			answered = now_ms() - start;
	}
	ck_assert_msg(answered >= 0, "no answer within 4 s");
	ck_assert_int_ge(answered, 950);
	ck_assert_int_le(answered, 2500);
	struct response resp;
	ck_assert(read_response(&r, &resp, 3000));
	ck_assert_int_eq(resp.status, 408);
	response_free(&resp);
	ck_assert(peer_closed(&r, 3000));
	client_close(&r);
	/* A connection that never sends a byte is closed, silently. */
	fd = client_open(&r, srv.port);
	long long waited = wait_readable(fd, 4000);
	ck_assert_int_ge(waited, 900);
	ck_assert(peer_closed(&r, 1000));
	ck_assert_uint_eq(r.len, 0);
	client_close(&r);
	ck_assert_ptr_nonnull(strstr(stop_with_stats(), "timeouts: header 2,"));
}
END_TEST

/* A request begun in the read that ended the one before is under way,
 * not idle: it keeps header_timeout (a 408 after 1 s), not the shorter
 * keepalive_timeout (a silent close after 300 ms). */
START_TEST(request_begun_behind_an_answered_one_keeps_header_timeout)
{
	start_conf("header_timeout 1s\nkeepalive_timeout 300ms\n", NULL);
	struct reader r;
	int fd = client_open(&r, srv.port);
	long long start = now_ms();
	send_str(fd, "GET / HTTP/1.1\r\nHost: t\r\n\r\n"
		     "GET / HTTP/1.1\r\nHost: t\r\n");
	struct response resp;
	ck_assert(read_response(&r, &resp, 3000));
	ck_assert_int_eq(resp.status, 200);
	response_free(&resp);
	ck_assert_msg(read_response(&r, &resp, 3000),
		      "closed after %lld ms without a 408", now_ms() - start);
	long long answered = now_ms() - start;
	ck_assert_int_eq(resp.status, 408);
	response_free(&resp);
	ck_assert_int_ge(answered, 950);
	ck_assert(peer_closed(&r, 3000));
	client_close(&r);
	ck_assert_ptr_nonnull(strstr(stop_with_stats(), "timeouts: header 1,"));
}
END_TEST

/* defer_accept: the kernel holds a client that sends nothing and passes
 * it on after the defer time; header_timeout counts from the accept, so
 * it closes after about both. A client with a request is served at once
 * meanwhile. Without TCP_DEFER_ACCEPT the close comes at 500 ms. */
START_TEST(defer_accept_holds_a_silent_client_then_header_timeout)
{
	start_conf("defer_accept 1s\nheader_timeout 500ms\n", NULL);
	struct reader silent, r;
	long long start = now_ms();
	int quiet = client_open(&silent, srv.port);
	int fd = client_open(&r, srv.port);
	send_str(fd, get_root);
	struct response resp;
	ck_assert(read_response(&r, &resp, 3000));
	ck_assert_int_eq(resp.status, 200);
	ck_assert_int_lt(now_ms() - start, 500);
	response_free(&resp);
	client_close(&r);
	ck_assert_int_ge(wait_readable(quiet, 5000), 0);
	long long closed = now_ms() - start;
	ck_assert_msg(closed >= 1400 && closed <= 3500,
		      "silent client closed after %lld ms, want ~1500", closed);
	ck_assert(peer_closed(&silent, 1000));
	ck_assert_uint_eq(silent.len, 0);
	client_close(&silent);
	ck_assert_ptr_nonnull(strstr(stop_with_stats(), "timeouts: header 1,"));
}
END_TEST

/* The total row's ctl column of --stats: poller set changes. */
static long long total_ctl(const char *stats)
{
	const char *row = strstr(stats, "\ntotal ");
	unsigned long long waits, events, ctl;
	ck_assert_ptr_nonnull(row);
	ck_assert_int_eq(
		sscanf(row, " total %llu %llu %llu", &waits, &events, &ctl), 3);
	return (long long)ctl;
}

/* read_after_accept: a Connection: close request that came with the
 * connection (defer_accept makes sure it has) is answered and closed
 * before the connection ever joins the poller. The set changes left are
 * the workers' own (wake fd and listener, each added once): 4 for two
 * workers (6 if a drain removed the listeners), against 24 (edge) or 44
 * (poll: add and remove) with read_after_accept off. */
START_TEST(read_after_accept_closes_without_touching_the_poller)
{
	start_conf("defer_accept 1s\n", NULL);
	static const char req[] =
		"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
	for (int i = 0; i < 20; i++)
		expect_status_and_close(req, sizeof(req) - 1, 200);
	long long ctl = total_ctl(stop_with_stats());
	ck_assert_msg(ctl <= 6, "%lld poller set changes for 20 closes", ctl);
}
END_TEST

START_TEST(keepalive_timeout_closes_idle_connections)
{
	start_conf("keepalive_timeout 1s\n", NULL);
	struct reader r;
	int fd = client_open(&r, srv.port);
	/* Requests every 400 ms keep it open well past 1 s. */
	for (int i = 0; i < 5; i++) {
		send_str(fd, get_root);
		struct response resp;
		ck_assert_msg(read_response(&r, &resp, 3000), "request %d", i);
		ck_assert_int_eq(resp.status, 200);
		response_free(&resp);
		usleep(400 * 1000);
	}
	long long waited = wait_readable(fd, 4000);
	ck_assert_int_ge(waited, 500); /* 1 s after the last answer */
	ck_assert(peer_closed(&r, 1000));
	ck_assert_uint_eq(r.len, 0); /* closed without a word */
	client_close(&r);
	ck_assert_ptr_nonnull(strstr(stop_with_stats(), "keepalive 1,"));
}
END_TEST

/* A client that pipelines and never reads, its sender a child process
 * (bounded: 100,000 requests, 20 s). unread_client_start returns once
 * the server holds the connection (one descriptor more than before). */
struct unread_client {
	int fd;
	pid_t sender;
	int baseline;
};

static void unread_client_start(struct unread_client *u)
{
	u->baseline = proc_fd_count(srv.pid);
	u->fd = connect_port(srv.port);
	u->sender = fork();
	ck_assert_int_ge(u->sender, 0);
	if (u->sender == 0) {
		alarm(20);
		for (int i = 0; i < 100000; i++)
			if (send(u->fd, get_root, sizeof(get_root) - 1,
				 MSG_NOSIGNAL) < 0)
				break;
		_exit(0);
	}
	long long deadline = now_ms() + 3000;
	while (proc_fd_count(srv.pid) == u->baseline && now_ms() < deadline)
		usleep(10 * 1000);
	ck_assert_int_eq(proc_fd_count(srv.pid), u->baseline + 1);
}

/* Milliseconds until the server closed it (at most 8 s), then the
 * client goes too. */
static long long unread_client_dropped_after(struct unread_client *u,
					     int poll_ms)
{
	long long start = now_ms(), deadline = start + 8000;
	while (proc_fd_count(srv.pid) > u->baseline && now_ms() < deadline)
		usleep((useconds_t)poll_ms * 1000);
	long long took = now_ms() - start;
	ck_assert_int_eq(proc_fd_count(srv.pid), u->baseline);
	int status;
	kill(u->sender, SIGKILL);
	waitpid(u->sender, &status, 0);
	close(u->fd);
	return took;
}

/* Once the kernel takes nothing for write_timeout, the server gives up
 * on a client that never reads. */
START_TEST(write_timeout_drops_a_client_that_stops_reading)
{
	start_conf("write_timeout 1s\nmax_pending_output 4k\n", NULL);
	struct unread_client u;
	unread_client_start(&u);
	ck_assert_int_ge(unread_client_dropped_after(&u, 50), 900);
	ck_assert_ptr_nonnull(strstr(stop_with_stats(), "write 1;"));
}
END_TEST

/* The same client, timed: the descriptor goes at write_timeout after the
 * kernel last took a byte, not later. poller uring kept a connection
 * conn.c had given up on open for a second write_timeout, waiting for
 * the answer it had just given up on. */
START_TEST(write_timeout_releases_the_descriptor_in_time)
{
	start_conf("write_timeout 2s\nmax_pending_output 4k\n", NULL);
	struct unread_client u;
	unread_client_start(&u);
	long long took = unread_client_dropped_after(&u, 20);
	printf("%s: descriptor released %lld ms after the accept "
	       "(write_timeout 2 s)\n",
	       test_mode_args, took);
	ck_assert_int_ge(took, 1900);
	ck_assert_int_le(took, 3200);
	stop_expect_clean_exit();
}
END_TEST

START_TEST(max_connections_closes_the_extra_at_once)
{
	enum { MAX = 3 };
	start_conf("max_connections 3\n", "-w 1");
	struct reader held[MAX], r;
	for (int i = 0; i < MAX; i++) {
		int fd = client_open(&held[i], srv.port);
		send_str(fd, get_root);
		struct response resp;
		ck_assert(read_response(&held[i], &resp, 3000));
		response_free(&resp);
	}
	client_open(&r, srv.port);
	ck_assert(peer_closed(&r, 3000));
	ck_assert_uint_eq(r.len, 0);
	client_close(&r);
	client_close(&held[0]);
	usleep(200 * 1000); /* the server sees the close */
	int fd = client_open(&r, srv.port);
	send_str(fd, get_root);
	struct response resp;
	ck_assert(read_response(&r, &resp, 3000));
	ck_assert_int_eq(resp.status, 200);
	response_free(&resp);
	client_close(&r);
	for (int i = 1; i < MAX; i++)
		client_close(&held[i]);
	ck_assert_ptr_nonnull(
		strstr(stop_with_stats(), "refused connections: 1;"));
}
END_TEST

/* With RLIMIT_NOFILE at 32 and 100 clients connecting, accept fails with
 * EMFILE; the workers must shed or pause, not spin, and serve again once
 * descriptors are free. */
START_TEST(fd_exhaustion_does_not_busy_loop)
{
	enum { CLIENTS = 100 };
	char args[256];
	snprintf(args, sizeof(args), "-w 2 -s %s", test_mode_args);
	server_start_nofile(&srv, args, 32);
	int fds[CLIENTS];
	for (int i = 0; i < CLIENTS; i++) {
		fds[i] = connect_port(srv.port);
		send_str(fds[i], get_root);
	}
	usleep(300 * 1000);
	long cpu = proc_cpu_ticks(srv.pid);
	usleep(1000 * 1000);
	long spent = proc_cpu_ticks(srv.pid) - cpu;
	/* A busy loop burns ~100 ticks a second per worker. */
	ck_assert_msg(spent < 20, "%ld ticks in 1 s: busy loop", spent);
	for (int i = 0; i < CLIENTS; i++)
		close(fds[i]);
	long long deadline = now_ms() + 5000;
	bool served = false;
	while (!served && now_ms() < deadline) {
		struct reader r;
		int fd = client_open(&r, srv.port);
		send_str(fd, get_root);
		struct response resp;
		served = read_response(&r, &resp, 500) && resp.status == 200;
		response_free(&resp);
		client_close(&r);
	}
	ck_assert_msg(served, "not serving after descriptors were freed");
	/* Some connections met EMFILE and were shed. */
	const char *stats = strstr(stop_with_stats(), "refused connections: ");
	ck_assert_ptr_nonnull(stats);
	ck_assert_int_gt(atoi(stats + strlen("refused connections: ")), 0);
}
END_TEST

/* Scans a response stream for status lines in order; returns how many
 * were seen, failing on one out of order. */
struct status_scan {
	char tail[16];
	size_t tail_len;
	long seen;
};

static void scan_statuses(struct status_scan *sc, const char *data, size_t len)
{
	static const char mark[] = "HTTP/1.1 ";
	char *joined = malloc(sc->tail_len + len + 1);
	memcpy(joined, sc->tail, sc->tail_len);
	memcpy(joined + sc->tail_len, data, len);
	size_t n = sc->tail_len + len, i = 0;
	joined[n] = '\0';
	while (i + sizeof(mark) + 2 <= n) {
		char *at = memmem(joined + i, n - i, mark, sizeof(mark) - 1);
		if (!at || (size_t)(at - joined) + sizeof(mark) + 2 > n)
			break;
		int status = atoi(at + sizeof(mark) - 1);
		int want = sc->seen % 3 ? 200 : 404;
		ck_assert_msg(status == want, "response %ld: %d, want %d",
			      sc->seen, status, want);
		sc->seen++;
		i = (size_t)(at - joined) + sizeof(mark) - 1 + 3;
	}
	size_t keep = n - i < sizeof(sc->tail) ? n - i : sizeof(sc->tail) - 1;
	memcpy(sc->tail, joined + n - keep, keep);
	sc->tail_len = keep;
	free(joined);
}

/* The backpressure test: 100,000 pipelined requests, nothing
 * read for 2 s; every response arrives in order, and the server's peak
 * RSS grows by less than 6 MiB. Measured: ~1.3 MB with backpressure,
 * ~9 MB with max_pending_output 1g (the ~13 MB of responses, less what
 * the socket buffers hold). */
START_TEST(hundred_thousand_pipelined_unread_for_two_seconds)
{
	enum { N = 100000 };
	start_conf(NULL, NULL);
	long rss_start = proc_status_kb(srv.pid, "VmRSS");
	int fd = connect_port(srv.port);
	pid_t sender = fork();
	ck_assert_int_ge(sender, 0);
	if (sender == 0) {
		static const char missing[] =
			"GET /missing HTTP/1.1\r\nHost: t\r\n\r\n";
		char *all = malloc((size_t)N * sizeof(missing));
		size_t len = 0;
		for (int i = 0; i < N; i++) {
			const char *req = i % 3 ? get_root : missing;
			size_t rl = strlen(req);
			memcpy(all + len, req, rl);
			len += rl;
		}
		for (size_t off = 0; off < len;) {
			ssize_t n =
				send(fd, all + off, len - off, MSG_NOSIGNAL);
			if (n <= 0 && errno != EINTR)
				_exit(1);
			off += n > 0 ? (size_t)n : 0;
		}
		_exit(0);
	}
	sleep(2);
	struct status_scan sc = {0};
	struct resp_check check;
	resp_check_init(&check);
	char *buf = malloc(1 << 16);
	long long deadline =
		now_ms() + (server_under_valgrind() ? 240000 : 30000);
	while (sc.seen < N && now_ms() < deadline) {
		if (wait_readable(fd, 1000) < 0)
			continue;
		ssize_t n = recv(fd, buf, 1 << 16, 0);
		if (n <= 0)
			break;
		check_received(&check, buf, (size_t)n);
		scan_statuses(&sc, buf, (size_t)n);
	}
	free(buf);
	ck_assert_int_eq(sc.seen, N);
	int status;
	ck_assert_int_eq(waitpid(sender, &status, 0), sender);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	long peak = proc_status_kb(srv.pid, "VmHWM");
	fprintf(stderr, "backpressure: RSS %ld kB at start, peak %ld kB\n",
		rss_start, peak);
	/* Sanitizers and valgrind keep freed memory aside and add shadow
	 * memory: the bound is only meaningful for the plain build. */
	if (!server_under_valgrind() && !getenv("HELLOD_SANITIZED"))
		ck_assert_msg(peak - rss_start < 6 * 1024,
			      "RSS grew from %ld kB to a peak of %ld kB",
			      rss_start, peak);
	close(fd);
	stop_expect_clean_exit();
}
END_TEST

Suite *robust_suite(enum hd_test_mode mode)
{
	/* Check keeps the pointer: the name must outlive the suite. */
	static char names[HD_TEST_MODE_COUNT][64];
	snprintf(names[mode], sizeof(names[mode]), "robust-%s",
		 test_modes[mode].name);
	Suite *s = suite_create(names[mode]);
	TCase *tc = tcase_create("server");
	tcase_add_checked_fixture(tc, test_modes[mode].setup, NULL);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, configured_limits_get_their_status_and_a_close);
	tcase_add_test(tc, header_timeout_answers_slowloris_with_408);
	tcase_add_test(tc, keepalive_timeout_closes_idle_connections);
	tcase_add_test(
		tc, request_begun_behind_an_answered_one_keeps_header_timeout);
	tcase_add_test(tc,
		       defer_accept_holds_a_silent_client_then_header_timeout);
	/* A blocking worker reads each client as it takes it anyway, on a
	 * blocking socket: read_after_accept does not apply. */
	if (test_mode_multiplexed(mode))
		tcase_add_test(
			tc,
			read_after_accept_closes_without_touching_the_poller);
	else
		printf("SKIPPED: read_after_accept_closes_without_touching_"
		       "the_poller in mode %s (read_after_accept does not "
		       "apply)\n",
		       test_modes[mode].name);
	tcase_add_test(tc, write_timeout_drops_a_client_that_stops_reading);
	tcase_add_test(tc, write_timeout_releases_the_descriptor_in_time);
	TCASE_ADD_MULTIPLEXED(tc, mode,
			      max_connections_closes_the_extra_at_once);
	TCASE_ADD_MULTIPLEXED(tc, mode, fd_exhaustion_does_not_busy_loop);
	tcase_add_test(tc, hundred_thousand_pipelined_unread_for_two_seconds);
	suite_add_tcase(s, tc);
	return s;
}
