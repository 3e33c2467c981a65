/* test_attacks.c — attacks on the connection layer, against the real
 * build/hellod, once per way of multiplexing (like test_robust.c).
 *
 * Each test is one thing a client (or two) can do to make the server
 * misbehave: answers of one connection leaking into the next, output
 * queued without bound, a header timeout that is not per request,
 * answers destroyed by a reset on close, a lost end of input, a busy
 * loop on a half-closed peer. The server runs one worker (-w 1), so every
 * connection shares that worker's buffers. Every wait and every loop is
 * bounded, in count and in time.
 *
 * Where the attack needs bytes to arrive while the server is not looking
 * (data and a reset, or data and a FIN, seen by one read batch), the test
 * stops the server with SIGSTOP while it sends and resumes it with
 * SIGCONT: the kernel queues what arrives meanwhile, and the server finds
 * it all at once, as a busy server would. That makes the race lose every
 * time instead of now and then. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "suites.h"

static struct test_server srv;

/* One worker; `conf` (NULL: none) is the config file. */
static void start(const char *conf)
{
	char args[512], path[64] = "";
	if (conf)
		snprintf(path, sizeof(path), "%s", temp_file(conf));
	snprintf(args, sizeof(args), "-w 1 %s %s%s", test_mode_args,
		 conf ? "-c " : "", path);
	server_start(&srv, args);
	if (conf)
		unlink(path);
}

static void stop_expect_clean_exit(void)
{
	ck_assert_int_eq(server_stop(&srv, 5000), 0);
}

/* ---- controlling when the server looks ---- */

/* True when every thread of pid is stopped (state T in its stat). */
static bool all_threads_stopped(pid_t pid)
{
	char dir[64];
	snprintf(dir, sizeof(dir), "/proc/%d/task", (int)pid);
	DIR *d = opendir(dir);
	if (!d)
		return false;
	int threads = 0;
	bool stopped = true;
	for (struct dirent *e; stopped && (e = readdir(d)) != NULL;) {
		if (e->d_name[0] == '.')
			continue;
		char path[128], buf[512];
		snprintf(path, sizeof(path), "%s/%.32s/stat", dir, e->d_name);
		FILE *f = fopen(path, "r");
		size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
		if (f)
			fclose(f);
		buf[n] = '\0';
		const char *p = strrchr(buf, ')');
		stopped = p && p[1] == ' ' && (p[2] == 'T' || p[2] == 't');
		threads++;
	}
	closedir(d);
	return stopped && threads > 0;
}

/* SIGSTOP, and wait until the server really is stopped. */
static void server_pause(void)
{
	ck_assert_int_eq(kill(srv.pid, SIGSTOP), 0);
	long long deadline = now_ms() + 2000;
	while (!all_threads_stopped(srv.pid) && now_ms() < deadline)
		usleep(500);
	ck_assert_msg(all_threads_stopped(srv.pid), "hellod did not stop");
}

static void server_resume(void)
{
	ck_assert_int_eq(kill(srv.pid, SIGCONT), 0);
}

/* Waits until the server holds `count` descriptors (a connection was
 * accepted, or closed). */
static void wait_server_fds(int count)
{
	long long deadline = now_ms() + 3000;
	while (proc_fd_count(srv.pid) != count && now_ms() < deadline)
		usleep(1000);
	ck_assert_int_eq(proc_fd_count(srv.pid), count);
}

/* Waits until the peer's kernel has acknowledged everything fd sent
 * (the server need not have read it). */
static void wait_delivered(int fd)
{
	long long deadline = now_ms() + 2000;
	int queued = -1;
	while (ioctl(fd, SIOCOUTQ, &queued) == 0 && queued > 0 &&
	       now_ms() < deadline)
		usleep(200);
	ck_assert_msg(queued == 0, "%d bytes not delivered to the server",
		      queued);
}

/* close() that sends a reset instead of a FIN. */
static void reset_close(int fd)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)),
			 0);
	close(fd);
}

/* How a connection's input ended. */
enum ending { END_EOF, END_RESET, END_TIMEOUT };

/* Everything fd yields until EOF, a reset or timeout_ms (heap, NUL
 * terminated). */
struct received {
	char *data;
	size_t len;
	enum ending end;
};

static void receive_all(int fd, struct received *got, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	size_t cap = 1 << 16;
	memset(got, 0, sizeof(*got));
	got->data = malloc(cap + 1);
	ck_assert_ptr_nonnull(got->data);
	got->end = END_TIMEOUT;
	for (long long left; (left = deadline - now_ms()) > 0;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		if (cap - got->len < 4096) {
			cap *= 2;
			got->data = realloc(got->data, cap + 1);
			ck_assert_ptr_nonnull(got->data);
		}
		ssize_t n = recv(fd, got->data + got->len, cap - got->len, 0);
		if (n > 0) {
			got->len += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		got->end = n == 0 ? END_EOF : END_RESET;
		break;
	}
	got->data[got->len] = '\0';
}

/* ---- 1. one client's answers sent to the next ---------------------------
 *
 * Client A sends exactly 64 KiB of complete pipelined requests (one full
 * read of the worker's 64 KiB buffer) and resets the connection without
 * reading. The server's first read takes all of it and answers it into
 * the worker's scratch buffer; the read that follows gets ECONNRESET.
 * Those answers belong to A and must be dropped with it. Client B then
 * asks for /nope: it must get exactly its own 404, nothing before it and
 * nothing after. A and B are repeated ROUNDS times. */
enum { A_BYTES = 64 * 1024, A_REQUEST = 500, ROUNDS = 30 };

/* A's requests, ~A_REQUEST bytes each (padded with X-Pad), exactly
 * A_BYTES in all. With echo, every 4th goes to /echo: its answer repeats
 * A's headers, X-Secret included. (Not all of them: the answers must stay
 * under the 64 KiB at which the server writes mid-batch, or that write
 * would meet the reset and clear the scratch first.) */
static char *build_a_requests(bool echo)
{
	enum { COUNT = A_BYTES / A_REQUEST };
	char *all = malloc(A_BYTES + 1);
	ck_assert_ptr_nonnull(all);
	size_t len = 0;
	for (int i = 0; i < COUNT; i++) {
		size_t want = i < COUNT - 1 ? A_REQUEST : A_BYTES - len;
		const char *path = echo && i % 4 == 0 ? "/echo" : "/";
		int head = snprintf(all + len, A_BYTES + 1 - len,
				    "GET %s HTTP/1.1\r\nHost: t\r\n"
				    "X-Secret: from-A\r\nX-Pad: ",
				    path);
		size_t pad = want - (size_t)head - 4;
		memset(all + len + head, 'a', pad);
		memcpy(all + len + (size_t)head + pad, "\r\n\r\n", 4);
		len += want;
	}
	ck_assert_uint_eq(len, A_BYTES);
	all[len] = '\0';
	return all;
}

static void a_then_b(bool echo)
{
	start(echo ? "echo_path /echo\n" : NULL);
	char *a_requests = build_a_requests(echo);
	int idle_fds = proc_fd_count(srv.pid);
	for (int round = 0; round < ROUNDS; round++) {
		wait_server_fds(idle_fds); /* the last B is gone */
		int a = connect_port(srv.port);
		wait_server_fds(idle_fds + 1); /* accepted */
		/* All of A, then the reset, while the server sleeps: its
		 * first read takes the 64 KiB, its second meets the reset. */
		server_pause();
		send_all(a, a_requests, A_BYTES);
		wait_delivered(a);
		reset_close(a);
		server_resume();

		struct reader r;
		int b = client_open(&r, srv.port);
		send_str(b, "GET /nope HTTP/1.1\r\nHost: t\r\n\r\n");
		struct response resp;
		ck_assert_msg(read_response(&r, &resp, 3000),
			      "round %d: no whole response for B", round);
		/* Then 50 ms for anything more. */
		struct received more;
		receive_all(b, &more, 50);
		bool a_bytes =
			memmem(resp.head, strlen(resp.head), "from-A", 6) ||
			memmem(resp.body, resp.body_len, "from-A", 6) ||
			(r.len && memmem(r.buf, r.len, "from-A", 6)) ||
			memmem(more.data, more.len, "from-A", 6);
		ck_assert_msg(resp.status == 404 && !r.len && !more.len &&
				      !a_bytes,
			      "round %d: B's first response is a %d, then "
			      "%zu more bytes (%s A's headers); want only its "
			      "own 404: A's answers leaked to B",
			      round, resp.status, r.len + more.len,
			      a_bytes ? "with" : "without");
		response_free(&resp);
		free(more.data);
		client_close(&r);
	}
	free(a_requests);
	stop_expect_clean_exit();
}

START_TEST(reset_client_answers_do_not_reach_the_next_client)
{
	a_then_b(false);
}
END_TEST

START_TEST(reset_client_echo_does_not_reach_the_next_client)
{
	a_then_b(true);
}
END_TEST

Suite *attack_suite(enum hd_test_mode mode)
{
	/* Check keeps the pointer: the name must outlive the suite. */
	static char names[HD_TEST_MODE_COUNT][64];
	snprintf(names[mode], sizeof(names[mode]), "attack-%s",
		 test_modes[mode].name);
	Suite *s = suite_create(names[mode]);
	TCase *tc = tcase_create("server");
	tcase_add_checked_fixture(tc, test_modes[mode].setup, NULL);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, reset_client_answers_do_not_reach_the_next_client);
	tcase_add_test(tc, reset_client_echo_does_not_reach_the_next_client);
	suite_add_tcase(s, tc);
	return s;
}
