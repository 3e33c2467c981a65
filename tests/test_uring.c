/* test_uring.c — the hazards of the io_uring poller (src/poller_uring.c)
 * against the real build/hellod --poller uring: a completion that comes
 * for a socket after its fd number was reused, the provided-buffer ring
 * running dry, sends the kernel takes in pieces, a drain while sends are
 * in flight. The suites of every mode (integration, robust, attacks...)
 * run in uring mode too (tests/modes.c); these are the ones only a
 * completion-based poller can get wrong. */
#include <check.h>
#include <netinet/in.h>
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

static void start(const char *extra_conf)
{
	char conf[1024];
	snprintf(conf, sizeof(conf),
		 "listen 127.0.0.1:0\nworkers 1\npoller uring\nstats on\n%s",
		 extra_conf);
	server_start_conf(&srv, conf, NULL);
}

static int local_port(int fd)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	return ntohs(a.sin_port);
}

/* A short client: a request naming token with Connection: close, then
 * at once a second one (bytes the server receives after it closed, with
 * lingering_time 0: its receive is still armed, cancelled only at the
 * next submit, and the fd number is taken by the next connection). */
static int short_client_open(int port, const char *token)
{
	int fd = connect_port(port);
	char req[512];
	int n = snprintf(req, sizeof(req),
			 "GET /echo HTTP/1.1\r\nHost: t\r\nX-Token: %s\r\n"
			 "Connection: close\r\n\r\n",
			 token);
	send_all(fd, req, (size_t)n);
	n = snprintf(req, sizeof(req),
		     "GET /echo HTTP/1.1\r\nHost: t\r\nX-Token: junk-%s\r\n"
		     "\r\n",
		     token);
	send(fd, req, (size_t)n, MSG_NOSIGNAL);
	return fd;
}

/* Its answer must be to its own first request; then it resets. */
static void short_client_check(int fd, const char *token)
{
	struct reader r;
	reader_init(&r, fd);
	struct response resp;
	ck_assert_msg(read_response(&r, &resp, 5000), "%s: no answer", token);
	ck_assert_int_eq(resp.status, 200);
	char want[600];
	snprintf(want, sizeof(want), "X-Token: %s\n", token);
	ck_assert_msg(strstr(resp.body, want) && !strstr(resp.body, "junk-"),
		      "%s got '%s'", token, resp.body);
	response_free(&resp);
	struct linger lg = {1, 0};
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	reader_free(&r);
	close(fd);
}

/* Keep-alive clients ask for the echo route with their own token
 * between bursts of short clients (above): every answer must carry the
 * asker's token and its own port (the echo shows both), so a completion
 * of a closed socket that reached the connection reusing its fd number
 * shows up as a foreign token. */
START_TEST(fd_reuse_with_completions_in_flight_crosses_nothing)
{
	start("echo_path /echo\nlingering_time 0\n");
	enum { KEEPERS = 6, ROUNDS = 60, RESETS = 15 };
	struct reader keep[KEEPERS];
	for (int k = 0; k < KEEPERS; k++)
		client_open(&keep[k], srv.port);
	for (int round = 0; round < ROUNDS; round++) {
		int fds[RESETS];
		char tokens[RESETS][32];
		for (int i = 0; i < RESETS; i++) {
			snprintf(tokens[i], sizeof(tokens[i]), "short-%d-%d",
				 round, i);
			fds[i] = short_client_open(srv.port, tokens[i]);
		}
		for (int i = 0; i < RESETS; i++)
			short_client_check(fds[i], tokens[i]);
		for (int k = 0; k < KEEPERS; k++) {
			char req[256], token[32], want_port[48];
			snprintf(token, sizeof(token), "keep-%d-%d", k, round);
			int n = snprintf(req, sizeof(req),
					 "GET /echo HTTP/1.1\r\nHost: t\r\n"
					 "X-Token: %s\r\n\r\n",
					 token);
			send_all(keep[k].fd, req, (size_t)n);
			struct response resp;
			ck_assert_msg(read_response(&keep[k], &resp, 5000),
				      "keeper %d round %d: no answer", k,
				      round);
			ck_assert_int_eq(resp.status, 200);
			ck_assert_msg(strstr(resp.body, token) &&
					      !strstr(resp.body, "short-"),
				      "keeper %d round %d got '%s'", k, round,
				      resp.body);
			snprintf(want_port, sizeof(want_port),
				 "client_port: %d\n", local_port(keep[k].fd));
			ck_assert_msg(strstr(resp.body, want_port),
				      "keeper %d: wrong port in '%s'", k,
				      resp.body);
			response_free(&resp);
		}
	}
	for (int k = 0; k < KEEPERS; k++)
		client_close(&keep[k]);
	ck_assert_int_eq(server_stop(&srv, 5000), 0);
}
END_TEST

/* The other way a closed socket's bytes could reach the next: input
 * queued on a connection when it closes. A client asks for a big body
 * (written in many sends: the connection waits to write, not reading)
 * and sends more while it is written; with lingering_time 0 the server
 * closes with that input queued. Each next connection, likely on the
 * same fd number, asks the echo route with its token: its answer must be
 * its own. */
static char *big_body_file(size_t size);

START_TEST(input_queued_at_close_never_reaches_the_next)
{
	char *path = big_body_file(200 * 1024);
	char conf[512];
	snprintf(conf, sizeof(conf),
		 "echo_path /echo\nlingering_time 0\nbody_file %s\n", path);
	start(conf);
	for (int i = 0; i < 40; i++) {
		struct reader big;
		client_open(&big, srv.port);
		send_str(big.fd, "GET / HTTP/1.1\r\nHost: t\r\n"
				 "Connection: close\r\n\r\n");
		char buf[4096];
		ck_assert_int_gt(recv(big.fd, buf, sizeof(buf), 0), 0);
		send_str(big.fd, "GET /echo HTTP/1.1\r\nHost: t\r\n"
				 "X-Token: junk\r\n\r\n");
		while (recv(big.fd, buf, sizeof(buf), 0) > 0)
			;
		reader_free(&big);
		close(big.fd);
		char token[32];
		snprintf(token, sizeof(token), "next-%d", i);
		int fd = short_client_open(srv.port, token);
		short_client_check(fd, token);
	}
	ck_assert_int_eq(server_stop(&srv, 5000), 0);
	unlink(path);
	free(path);
}
END_TEST

/* More bytes arrive at once than the worker's buffer ring holds (256
 * buffers of 16 KiB): receives end with ENOBUFS and must be re-armed as
 * buffers come back, without spinning and without losing a byte. Each
 * client sends a 48 KiB body; every one must get its answer, and the
 * ring may run dry on the way. */
START_TEST(dry_buffer_ring_loses_no_byte)
{
	start("max_body 1m\n");
	enum { CLIENTS = 60, BODY = 48 * 1024 };
	static char body[BODY];
	memset(body, 'b', sizeof(body));
	struct reader r[CLIENTS];
	char head[128];
	int hn = snprintf(head, sizeof(head),
			  "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: "
			  "%d\r\n\r\n",
			  BODY);
	for (int i = 0; i < CLIENTS; i++)
		client_open(&r[i], srv.port);
	for (int i = 0; i < CLIENTS; i++) {
		send_all(r[i].fd, head, (size_t)hn);
		send_all(r[i].fd, body, sizeof(body));
	}
	for (int i = 0; i < CLIENTS; i++) {
		struct response resp;
		ck_assert_msg(read_response(&r[i], &resp, 10000),
			      "client %d: no answer", i);
		ck_assert_int_eq(resp.status, 200);
		response_free(&resp);
		client_close(&r[i]);
	}
	/* That the ring really runs dry here is shown by the ladder
	 * suite's uring_buffer_ring_running_dry_loses_nothing, which fails
	 * when starved receives are not re-armed. */
	ck_assert_int_eq(server_stop(&srv, 5000), 0);
}
END_TEST

/* Clients that send pipelined requests and never read: each is paused
 * (its output at max_pending_output) and must stop taking buffers from
 * the worker's shared ring at its bound, or the ring runs dry for good
 * and every other client starves until write_timeout. Meanwhile a
 * polite client must be answered promptly. */
START_TEST(clients_that_never_read_cannot_starve_the_ring)
{
	start("max_pending_output 64k\n");
	enum { FLOODERS = 3, FLOOD_MS = 2000 };
	static const char req[] = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";
	static char burst[64 * (sizeof(req) - 1)];
	for (size_t i = 0; i < 64; i++)
		memcpy(burst + i * (sizeof(req) - 1), req, sizeof(req) - 1);
	int flood[FLOODERS];
	for (int i = 0; i < FLOODERS; i++) {
		/* A small receive buffer: the answers back up at once. */
		flood[i] = socket(AF_INET, SOCK_STREAM, 0);
		int small = 4096;
		setsockopt(flood[i], SOL_SOCKET, SO_RCVBUF, &small,
			   sizeof(small));
		struct sockaddr_in a = {.sin_family = AF_INET,
					.sin_port = htons((uint16_t)srv.port),
					.sin_addr.s_addr =
						htonl(INADDR_LOOPBACK)};
		ck_assert_int_eq(
			connect(flood[i], (struct sockaddr *)&a, sizeof(a)), 0);
		struct timeval tv = {0, 1000};
		setsockopt(flood[i], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	struct reader polite;
	client_open(&polite, srv.port);
	long long start_ms = now_ms();
	int asked = 0;
	while (now_ms() - start_ms < FLOOD_MS) {
		for (int i = 0; i < FLOODERS; i++)
			send(flood[i], burst, sizeof(burst), MSG_NOSIGNAL);
		if (now_ms() - start_ms > 500 * (asked + 1)) {
			send_str(polite.fd,
				 "GET /health HTTP/1.1\r\nHost: t\r\n\r\n");
			struct response resp;
			ck_assert_msg(read_response(&polite, &resp, 1000),
				      "polite client not answered within 1 s "
				      "while %d clients flood",
				      FLOODERS);
			response_free(&resp);
			asked++;
		}
	}
	ck_assert_int_ge(asked, 3);
	for (int i = 0; i < FLOODERS; i++)
		close(flood[i]);
	client_close(&polite);
	ck_assert_int_eq(server_stop(&srv, 5000), 0);
}
END_TEST

/* A body much bigger than the socket's send block (16 KiB) to a client
 * with a tiny receive buffer that reads slowly: the kernel takes each
 * send in pieces (short sends, resubmitted), and every byte must come,
 * in order. Then the same while the server drains (SIGTERM): the sends
 * in flight complete before the close. */
static char *big_body_file(size_t size)
{
	char *text = malloc(size + 1);
	for (size_t i = 0; i < size; i++)
		text[i] = (char)('a' + (i * 7 + i / 977) % 26);
	text[size] = '\0';
	const char *path = temp_file(text);
	free(text);
	return strdup(path);
}

static void read_slowly_and_check(int fd, size_t size, bool drain)
{
	static char head[4096];
	char buf[1500];
	size_t got = 0, body_start = 0, total = 0;
	bool in_body = false;
	int reads = 0;
	while (!in_body || got < size) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		ck_assert_msg(n > 0, "recv %zd after %zu body bytes", n, got);
		for (ssize_t i = 0; i < n; i++, total++) {
			if (!in_body) {
				ck_assert_uint_lt(total, sizeof(head) - 1);
				head[total] = buf[i];
				if (total >= 3 &&
				    !memcmp(head + total - 3, "\r\n\r\n", 4)) {
					in_body = true;
					body_start = total + 1;
				}
				continue;
			}
			char want = (char)('a' + (got * 7 + got / 977) % 26);
			ck_assert_msg(buf[i] == want, "byte %zu differs", got);
			got++;
		}
		if (++reads == 20 && drain)
			kill(srv.pid, SIGTERM);
		if (reads % 8 == 0)
			usleep(2000);
	}
	(void)body_start;
	ck_assert_uint_eq(got, size);
}

static void slow_reader(bool drain)
{
	enum { SIZE = 600 * 1024 };
	char *path = big_body_file(SIZE);
	char conf[512];
	snprintf(conf, sizeof(conf), "body_file %s\ndrain_grace 0\n", path);
	start(conf);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int small = 4096;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)srv.port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	struct timeval tv = {5, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	send_str(fd, "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
	read_slowly_and_check(fd, SIZE, drain);
	char c;
	ck_assert_int_eq(recv(fd, &c, 1, 0), 0); /* then the FIN */
	close(fd);
	if (drain) {
		int status = -1;
		for (int i = 0; i < 250; i++) {
			if (waitpid(srv.pid, &status, WNOHANG) == srv.pid)
				break;
			usleep(20 * 1000);
		}
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			      "status %d", status);
	} else {
		ck_assert_int_eq(server_stop(&srv, 5000), 0);
	}
	unlink(path);
	free(path);
}

START_TEST(partial_sends_to_a_slow_small_reader_arrive_whole)
{
	slow_reader(false);
}
END_TEST

START_TEST(drain_waits_for_the_sends_in_flight)
{
	slow_reader(true);
}
END_TEST

/* FIN in the middle of a request, and a reset while a big answer is in
 * flight: the server neither crashes nor hangs, and serves the next. */
START_TEST(fin_mid_request_and_reset_with_sends_in_flight)
{
	char *path = big_body_file(300 * 1024);
	char conf[512];
	snprintf(conf, sizeof(conf), "body_file %s\n", path);
	start(conf);
	for (int i = 0; i < 20; i++) {
		int fd = connect_port(srv.port);
		send_str(fd, "GET / HTTP/1.1\r\nHo");
		shutdown(fd, SHUT_WR);
		char buf[256];
		while (recv(fd, buf, sizeof(buf), 0) > 0)
			;
		close(fd);
		fd = connect_port(srv.port);
		send_str(fd, "GET / HTTP/1.1\r\nHost: t\r\n\r\n");
		recv(fd, buf, sizeof(buf), 0);
		struct linger lg = {1, 0};
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(fd);
	}
	struct reader r;
	client_open(&r, srv.port);
	send_str(r.fd, "GET /health HTTP/1.1\r\nHost: t\r\n\r\n");
	struct response resp;
	ck_assert(read_response(&r, &resp, 5000));
	ck_assert_int_eq(resp.status, 200);
	response_free(&resp);
	client_close(&r);
	ck_assert_int_eq(server_stop(&srv, 5000), 0);
	unlink(path);
	free(path);
}
END_TEST

Suite *uring_suite(void)
{
	Suite *s = suite_create("uring");
	TCase *tc = tcase_create("hazards");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, fd_reuse_with_completions_in_flight_crosses_nothing);
	tcase_add_test(tc, input_queued_at_close_never_reaches_the_next);
	tcase_add_test(tc, dry_buffer_ring_loses_no_byte);
	tcase_add_test(tc, clients_that_never_read_cannot_starve_the_ring);
	tcase_add_test(tc, partial_sends_to_a_slow_small_reader_arrive_whole);
	tcase_add_test(tc, drain_waits_for_the_sends_in_flight);
	tcase_add_test(tc, fin_mid_request_and_reset_with_sends_in_flight);
	suite_add_tcase(s, tc);
	return s;
}
