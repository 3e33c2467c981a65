/* test_ladder.c — the rungs of the I/O ladder below select (issue 12):
 * busy polling (src/poller_busy.c) and blocking sockets served one at a
 * time (src/poller_blocking.c), against the real build/hellod.
 *
 * Each test shows the property the rung teaches, with bounded waits:
 * busy polling answers like any other mode but burns a core while idle
 * and counts the reads that found nothing; its sleep trades that CPU for
 * latency. A blocking server makes every client wait for the one it
 * serves. --trace narrates, within its line budget, what the kernel
 * reported and what the server did. */
#include <check.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "harness.h"
#include "hellod/conn.h"
#include "hellod/loop.h"
#include "hellod/poller.h"
#include "suites.h"

#define ANSWER_MS  3000
#define IDLE_MS	   400 /* how long a server sits idle under measurement */
#define MAX_OUTPUT 8192

static struct test_server srv;
static const char get_root[] = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";

static void answer_once(struct reader *r)
{
	struct response resp;
	send_str(r->fd, get_root);
	ck_assert(read_response(r, &resp, ANSWER_MS));
	ck_assert_int_eq(resp.status, 200);
	response_free(&resp);
}

/* A column of the "total" row of --stats (0: waits, 5: eagain, ...). */
static uint64_t total_column(const char *out, int column)
{
	const char *row = strstr(out, "\ntotal ");
	ck_assert_msg(row != NULL, "no stats table in '%s'", out);
	row += 7;
	uint64_t v = 0;
	for (int i = 0; i <= column; i++) {
		char *end;
		v = strtoull(row, &end, 10);
		ck_assert_msg(end != row, "short total row in '%s'", out);
		row = end;
	}
	return v;
}

enum { COL_WAITS = 0, COL_ACCEPTS = 3, COL_READS = 4, COL_EAGAIN = 5 };

struct idle_cost {
	long ticks; /* CPU clock ticks the server used while idle */
	uint64_t waits, eagain;
};

/* Starts hellod with args, answers one request on a keep-alive
 * connection, then leaves it idle for IDLE_MS and measures. */
static struct idle_cost idle_cost(const char *args)
{
	server_start(&srv, args);
	struct reader r;
	client_open(&r, srv.port);
	answer_once(&r);
	long before = proc_cpu_ticks(srv.pid);
	usleep(IDLE_MS * 1000);
	long after = proc_cpu_ticks(srv.pid);
	client_close(&r);
	char out[MAX_OUTPUT];
	ck_assert_int_eq(server_stop_output(&srv, 5000, out, sizeof(out)), 0);
	ck_assert_ptr_nonnull(strstr(out, "cpu: user "));
	printf("%s: %ld ticks idle, %" PRIu64 " waits, %" PRIu64
	       " reads found nothing\n",
	       args, after - before, total_column(out, COL_WAITS),
	       total_column(out, COL_EAGAIN));
	return (struct idle_cost){after - before, total_column(out, COL_WAITS),
				  total_column(out, COL_EAGAIN)};
}

/* Spinning: the one worker tries its socket thousands of times a second
 * and uses most of a core doing it when it has the core to itself; the
 * bound is an eighth of one (under a sanitizer, on a 2-core machine
 * other suites share, it got 27%), while epoll sleeps in epoll_wait. */
START_TEST(busy_polling_burns_a_core_while_idle)
{
	long tick = sysconf(_SC_CLK_TCK);
	long idle_ticks = IDLE_MS * tick / 1000;
	struct idle_cost busy = idle_cost("-w 1 -s --poller busy");
	ck_assert_int_ge(busy.ticks, idle_ticks / 8);
	ck_assert_uint_ge(busy.eagain, 1000);
	ck_assert_uint_ge(busy.waits, busy.eagain);
	struct idle_cost epoll = idle_cost("-w 1 -s --poller epoll");
	ck_assert_int_le(epoll.ticks, 2);
	ck_assert_uint_le(epoll.eagain, 2);
	ck_assert_uint_le(epoll.waits, 10);
}
END_TEST

/* A 10 ms sleep between passes: at most about IDLE_MS / 10 passes, each
 * one wasted read, and almost no CPU — but every answer may wait up to
 * a sleep. */
START_TEST(busy_sleep_trades_cpu_for_latency)
{
	struct idle_cost c =
		idle_cost("-w 1 -s --poller busy --busy-sleep 10ms");
	ck_assert_int_le(c.ticks, 3);
	ck_assert_uint_ge(c.eagain, IDLE_MS / 10 / 2);
	ck_assert_uint_le(c.eagain, IDLE_MS / 10 + 20);
}
END_TEST

/* The sleep is a knob of busy polling alone: with another poller it is
 * refused at start, naming the flag, not silently ignored. */
START_TEST(busy_sleep_is_refused_with_other_pollers)
{
	char out[1024];
	ck_assert_int_eq(
		run_hellod("--poller poll --busy-sleep 1ms", out, sizeof(out)),
		2);
	ck_assert_ptr_nonnull(strstr(out, "--busy-sleep"));
	ck_assert_ptr_nonnull(strstr(out, "only applies to poller 'busy'"));
}
END_TEST

/* More sockets than one wait delivers (the worker takes 512 events a
 * pass): with every fd "ready" on every pass, the ones past the first 512
 * are served only because delivery resumes where the last pass stopped. */
START_TEST(busy_polling_serves_sockets_past_one_batch)
{
	enum { CONNS = 600 };
	server_start(&srv, "-w 1 --poller busy --busy-sleep 1ms");
	static struct reader r[CONNS];
	for (int i = 0; i < CONNS; i++)
		client_open(&r[i], srv.port);
	/* The last connections hold the highest slots. */
	for (int i = CONNS - 1; i >= CONNS - 10; i--)
		answer_once(&r[i]);
	answer_once(&r[0]);
	for (int i = 0; i < CONNS; i++)
		client_close(&r[i]);
	ck_assert_int_eq(server_stop(&srv, 5000), 0);
}
END_TEST

/* ---- blocking ---------------------------------------------------------- */

#define STALL_MS 500 /* "waits": no answer within this */

/* Whether r gets an answer within ms (none is a stall, not a failure). */
static bool answered_within(struct reader *r, int ms)
{
	struct response resp;
	if (!read_response(r, &resp, ms))
		return false;
	ck_assert_int_eq(resp.status, 200);
	response_free(&resp);
	return true;
}

/* One worker, blocking: while client A is connected — sending its request
 * slowly, then idle on keep-alive — client B's complete request waits,
 * answered only once A closes. The same two clients under epoll: B is
 * answered at once. */
static void slow_client_holds_up(const char *args, bool blocks)
{
	server_start(&srv, args);
	struct reader a, b;
	client_open(&a, srv.port);
	send_str(a.fd, "GET / HTTP/1.1\r\n"); /* the rest comes later */
	client_open(&b, srv.port);
	send_str(b.fd, get_root);
	ck_assert(answered_within(&b, blocks ? STALL_MS : ANSWER_MS) != blocks);
	send_str(a.fd, "Host: t\r\n\r\n");
	ck_assert(answered_within(&a, ANSWER_MS));
	if (blocks) /* A is served and idle, but still connected */
		ck_assert(!answered_within(&b, STALL_MS));
	client_close(&a);
	if (blocks)
		ck_assert(answered_within(&b, ANSWER_MS));
	client_close(&b);
	ck_assert_int_eq(server_stop(&srv, 5000), 0);
}

START_TEST(blocking_slow_client_holds_up_the_next)
{
	slow_client_holds_up("-w 1 --poller blocking", true);
	slow_client_holds_up("-w 1 --poller epoll", false);
}
END_TEST

/* A thread per connection, two threads: a slow client holds up only its
 * own thread, so B is answered at once; with A and B both connected, C
 * waits in the backlog until one of them closes. */
START_TEST(threads_slow_client_holds_up_only_its_thread)
{
	server_start(&srv, "-w 2 --poller threads");
	struct reader a, b, c;
	client_open(&a, srv.port);
	send_str(a.fd, "GET / HTTP/1.1\r\n"); /* the rest comes later */
	client_open(&b, srv.port);
	send_str(b.fd, get_root);
	ck_assert(answered_within(&b, ANSWER_MS));
	client_open(&c, srv.port);
	send_str(c.fd, get_root);
	ck_assert(!answered_within(&c, STALL_MS));
	send_str(a.fd, "Host: t\r\n\r\n");
	ck_assert(answered_within(&a, ANSWER_MS));
	ck_assert(!answered_within(&c, STALL_MS)); /* A idles, still there */
	client_close(&b);
	ck_assert(answered_within(&c, ANSWER_MS));
	client_close(&a);
	client_close(&c);
	ck_assert_int_eq(server_stop(&srv, 5000), 0);
}
END_TEST

/* Blocked in read() with nothing coming, the worker still stops within
 * a slice or two: the sockets' receive timeout brings it back. */
START_TEST(blocking_worker_stops_while_a_client_idles)
{
	server_start(&srv, "-w 1 --poller blocking");
	struct reader r;
	client_open(&r, srv.port);
	answer_once(&r);
	long long t0 = now_ms();
	ck_assert_int_eq(server_stop(&srv, 2000), 0);
	ck_assert_int_lt(now_ms() - t0, 1000);
	client_close(&r);
}
END_TEST

/* ---- uring -------------------------------------------------------------- */

/* The provided-buffer ring runs dry: with the server stopped, 600
 * connections each send a request (their receives are armed; the
 * completions wait until it runs again), more than the ring's 256
 * buffers. Receives that find it empty must wait for a buffer and then
 * complete: every client is answered, none twice, none another's. */
START_TEST(uring_buffer_ring_running_dry_loses_nothing)
{
	enum { CLIENTS = 600 };
	server_start(&srv, "-w 1 --poller uring");
	static struct reader r[CLIENTS];
	for (int i = 0; i < CLIENTS; i++) {
		client_open(&r[i], srv.port);
		answer_once(&r[i]); /* each one's receive is now armed */
	}
	ck_assert_int_eq(kill(srv.pid, SIGSTOP), 0);
	for (int i = 0; i < CLIENTS; i++) {
		char req[64];
		snprintf(req, sizeof(req),
			 "GET /%d HTTP/1.1\r\nHost: t\r\n\r\n", i);
		send_str(r[i].fd, req);
	}
	ck_assert_int_eq(kill(srv.pid, SIGCONT), 0);
	for (int i = 0; i < CLIENTS; i++) {
		struct response resp;
		ck_assert_msg(read_response(&r[i], &resp, 5000),
			      "client %d of %d not answered", i, CLIENTS);
		response_free(&resp);
	}
	for (int i = 0; i < CLIENTS; i++)
		client_close(&r[i]);
	ck_assert_int_eq(server_stop(&srv, 5000), 0);
}
END_TEST

/* A connection to 127.0.0.1:port whose kernel buffers are small: a tiny
 * receive buffer and MSS (set before connect, so the handshake carries
 * them; mss 0: the default), so a client that stops reading backs the server's
 * output up after a few tens of kilobytes. */
static int connect_small(int port, int mss)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	int rcv = 4096;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	if (mss)
		setsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof(mss));
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Clients that stop reading cannot take the ring from the others: 300
 * of them (more than its 256 buffers) each get conn.c to pause for
 * backpressure, then send one more request, whose receive completes
 * into a provided buffer that nobody reads while paused. A polite
 * client that comes next must still be answered at once, not after
 * write_timeout frees the ring. */
START_TEST(uring_paused_clients_do_not_starve_the_ring)
{
	enum { HOSTILE = 300 };
	static char body[32 * 1024 + 1];
	memset(body, 'x', sizeof(body) - 1);
	char body_path[64], conf[256];
	snprintf(body_path, sizeof(body_path), "%s", temp_file(body));
	snprintf(conf, sizeof(conf),
		 "body_file %s\nmax_pending_output 4k\nwrite_timeout 30s\n",
		 body_path);
	const char *conf_path = temp_file(conf);
	server_startf(&srv, "-w 1 --poller uring -c %s", conf_path);
	static int fds[HOSTILE];
	for (int i = 0; i < HOSTILE; i++) {
		fds[i] = connect_small(srv.port, 536);
		for (int k = 0; k < 4; k++)
			send_str(fds[i], get_root);
	}
	usleep(300 * 1000); /* each one's answers back up: paused */
	for (int i = 0; i < HOSTILE; i++)
		send_str(fds[i], get_root);
	usleep(300 * 1000); /* and each one's last receive completes */
	struct reader r;
	client_open(&r, srv.port);
	usleep(100 * 1000);
	struct response resp;
	send_str(r.fd, get_root);
	long long t0 = now_ms();
	bool answered = read_response(&r, &resp, 3000);
	printf("uring: a polite client after %d paused ones: %s in %lld ms\n",
	       HOSTILE, answered ? "answered" : "not answered", now_ms() - t0);
	ck_assert_msg(answered, "the ring ran dry for the polite client");
	ck_assert_int_eq(resp.status, 200);
	response_free(&resp);
	client_close(&r);
	for (int i = 0; i < HOSTILE; i++)
		close(fds[i]);
	ck_assert_int_eq(server_stop(&srv, 5000), 0);
	unlink(conf_path);
	unlink(body_path);
}
END_TEST

/* A receive queued for a closed connection must not take the next
 * connection's bytes. Connection A lingers (lingering_bytes 0); with the
 * server stopped, A sends more and B connects and sends its request; on
 * resume one batch reads A's bytes (re-arming its receive: an SQE that
 * names A's descriptor number, not yet submitted), closes A (its
 * lingering bytes are spent) and accepts B, which gets A's number. If
 * that SQE goes to the kernel after the close, it receives on B's
 * socket and B's request vanishes: B must be answered, every round. */
START_TEST(uring_queued_receive_does_not_take_a_reused_descriptor)
{
	enum { ROUNDS = 10 };
	static const char closing[] = "GET / HTTP/1.1\r\nHost: t\r\n"
				      "Connection: close\r\n\r\nXX";
	char conf[64];
	snprintf(conf, sizeof(conf), "%s",
		 temp_file("read_after_accept off\nlingering_bytes 0\n"));
	server_startf(&srv, "-w 1 --poller uring -c %s", conf);
	int lost = 0;
	for (int round = 0; round < ROUNDS; round++) {
		struct reader a, b;
		struct response resp;
		client_open(&a, srv.port);
		send_str(a.fd, closing);
		ck_assert(read_response(&a, &resp, ANSWER_MS));
		response_free(&resp);
		usleep(50 * 1000); /* A lingers, its receive armed */
		ck_assert_int_eq(kill(srv.pid, SIGSTOP), 0);
		send_str(a.fd, "more");
		client_open(&b, srv.port);
		send_str(b.fd, get_root);
		usleep(50 * 1000);
		ck_assert_int_eq(kill(srv.pid, SIGCONT), 0);
		if (read_response(&b, &resp, 2000)) {
			ck_assert_int_eq(resp.status, 200);
			response_free(&resp);
		} else {
			lost++;
		}
		client_close(&a);
		client_close(&b);
	}
	printf("uring: %d of %d requests lost to a reused descriptor\n", lost,
	       ROUNDS);
	ck_assert_int_eq(lost, 0);
	ck_assert_int_eq(server_stop(&srv, 5000), 0);
	unlink(conf);
}
END_TEST

/* A read shorter than asked means the socket was drained (epoll(7)),
 * which conn.c relies on: a Connection: close answered with the socket
 * drained closes without lingering. A receive fills at most one
 * provided buffer (16 KiB) of a 64 KiB read, so here the last request,
 * Connection: close, ends exactly at a buffer's end and 40,000 more
 * bytes follow in the same write. The server must not take the buffer
 * for all there was: closing with those bytes unread would reset the
 * connection and destroy the answers a client with a small window has
 * not taken in yet. */
START_TEST(uring_a_full_buffer_is_not_a_drained_socket)
{
	enum { REQS = 64, REQ_LEN = 256, JUNK = 40000 };
	static char data[REQS * REQ_LEN + JUNK + 1];
	size_t off = 0;
	for (int i = 0; i < REQS; i++) {
		const char *head =
			i == REQS - 1 ? "GET / HTTP/1.1\r\nHost: t\r\n"
					"Connection: close\r\nX-Pad: "
				      : "GET / HTTP/1.1\r\nHost: t\r\nX-Pad: ";
		size_t hl = strlen(head), pad = REQ_LEN - hl - 4;
		memcpy(data + off, head, hl);
		memset(data + off + hl, 'p', pad);
		memcpy(data + off + hl + pad, "\r\n\r\n", 4);
		off += REQ_LEN;
	}
	memset(data + off, 'x', JUNK);
	server_start(&srv, "-w 1 --poller uring");
	int fd = connect_small(srv.port, 0);
	struct reader r;
	reader_init(&r, fd);
	usleep(100 * 1000); /* accepted, its receive armed */
	send_all(fd, data, sizeof(data) - 1);
	usleep(300 * 1000); /* the server answers, closes or lingers */
	int answered = 0;
	struct response resp;
	while (answered < REQS && read_response(&r, &resp, 2000)) {
		response_free(&resp);
		answered++;
	}
	printf("uring: %d of %d answers before a close with input unread\n",
	       answered, REQS);
	ck_assert_int_eq(answered, REQS);
	client_close(&r);
	ck_assert_int_eq(server_stop(&srv, 5000), 0);
}
END_TEST

/* SIGINT stops a worker at the top of its loop, right after a batch
 * whose answers conn.c handed to the poller's send; the loop closes its
 * connections and the poller is destroyed. With epoll those answers are
 * in the kernel already and go out; here they were only queued, and
 * must not be dropped with the ring. The poller alone, on a socket
 * pair: an answer sent, the socket closed, the poller destroyed. */
START_TEST(uring_answer_queued_before_stop_goes_out)
{
	int sv[2];
	ck_assert_int_eq(
		socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	struct hd_poller *p = hd_poller_uring_new(1000);
	ck_assert_ptr_nonnull(p);
	uint8_t handle = HD_HANDLE_CONN;
	ck_assert_int_eq(
		hd_poller_add(p, sv[0], &handle, HD_EV_READ | HD_EV_WRITE), 0);
	ck_assert_int_eq(hd_uring_io.send(p, sv[0], "hello", 5, 0), 5);
	hd_uring_io.close(p, sv[0]);
	hd_poller_destroy(p);
	struct pollfd pfd = {.fd = sv[1], .events = POLLIN};
	ck_assert_int_eq(poll(&pfd, 1, 2000), 1);
	char buf[16] = "";
	ssize_t n = read(sv[1], buf, sizeof(buf) - 1);
	ck_assert_msg(n == 5 && !memcmp(buf, "hello", 5),
		      "the queued answer was dropped (read %zd)", n);
	close(sv[1]);
}
END_TEST

/* The completion rung narrates submissions and completions, not
 * readiness: one io_uring_enter per turn, a receive's completion with
 * its byte count, sends as submissions and their completions. */
START_TEST(uring_trace_shows_completions)
{
	static char out[48 * 1024];
	server_start(&srv, "-w 1 --trace 200 --poller uring");
	struct reader r;
	client_open(&r, srv.port);
	answer_once(&r);
	answer_once(&r);
	client_close(&r);
	usleep(100 * 1000);
	ck_assert_int_eq(server_stop_output(&srv, 5000, out, sizeof(out)), 0);
	ck_assert_ptr_nonnull(strstr(out, "trace: io_uring_enter: submitted "));
	ck_assert_ptr_nonnull(strstr(out, "= 27\n"));
	ck_assert_ptr_nonnull(strstr(out, "trace: recv CQE fd "));
	ck_assert_ptr_nonnull(strstr(out, "trace: send SQE fd "));
	ck_assert_ptr_nonnull(strstr(out, "trace: send CQE fd "));
	ck_assert_ptr_null(strstr(out, "epoll"));
}
END_TEST

/* ---- --trace ----------------------------------------------------------- */

/* The narration stays far below a pipe's 64 KiB, so the server never
 * blocks on a stderr nobody reads until it stops. */
#define TRACE_OUTPUT (48 * 1024)

static int count_lines_with(const char *text, const char *needle)
{
	int n = 0;
	for (const char *p = text; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

/* Two requests on one connection, then a close; returns the trace. */
static void trace_two_requests(const char *args, char *out, size_t len)
{
	server_start(&srv, args);
	struct reader r;
	client_open(&r, srv.port);
	answer_once(&r);
	answer_once(&r);
	client_close(&r);
	usleep(100 * 1000); /* the close is narrated before the stop */
	ck_assert_int_eq(server_stop_output(&srv, 5000, out, len), 0);
}

/* The same client, edge then level: both narrate what the kernel said
 * and what was done; edge registers the connection once for both
 * directions (IN|OUT|ET), level for reading only. */
START_TEST(trace_narrates_each_step)
{
	static char out[TRACE_OUTPUT];
	trace_two_requests("-w 1 --trace 200 --trigger edge", out, sizeof(out));
	ck_assert_ptr_nonnull(strstr(out, "trace: epoll_ctl ADD fd "));
	ck_assert_ptr_nonnull(strstr(out, " IN|OUT|ET\n"));
	ck_assert_ptr_nonnull(strstr(out, "trace: epoll_wait → fd "));
	ck_assert_ptr_nonnull(strstr(out, "trace: accept4(fd "));
	ck_assert_int_eq(count_lines_with(out, ", 65536) = 27\n"), 2);
	ck_assert_int_eq(count_lines_with(out, "1 request parsed"), 2);
	ck_assert_int_ge(count_lines_with(out, "trace: send(fd "), 2);
	ck_assert_ptr_nonnull(strstr(out, "= 0 (the peer's FIN)"));
	ck_assert_ptr_nonnull(strstr(out, "trace: close(fd "));
	trace_two_requests("-w 1 --trace 200 --trigger level", out,
			   sizeof(out));
	ck_assert_ptr_null(strstr(out, "|ET"));
	ck_assert_ptr_nonnull(strstr(out, "epoll_ctl ADD fd "));
	ck_assert_int_eq(count_lines_with(out, "1 request parsed"), 2);
}
END_TEST

/* A client with a tiny receive window that pipelines without reading:
 * level-triggered, the trace shows the server asking for OUT while the
 * output waits (epoll_ctl MOD ... IN|OUT or OUT); edge-triggered never
 * changes the registration. */
START_TEST(trace_shows_level_rearming_for_output)
{
	enum { BATCH = 1000, BATCHES = 100 };
	static char out[TRACE_OUTPUT];
	static char batch[BATCH * sizeof(get_root)];
	size_t len = 0;
	for (int i = 0; i < BATCH; i++) {
		memcpy(batch + len, get_root, sizeof(get_root) - 1);
		len += sizeof(get_root) - 1;
	}
	const char *modes[] = {"level", "edge"};
	for (int m = 0; m < 2; m++) {
		char args[128];
		snprintf(args, sizeof(args), "-w 1 --trace 300 --trigger %s",
			 modes[m]);
		server_start(&srv, args);
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		int small = 4096;
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
		struct sockaddr_in a = {.sin_family = AF_INET,
					.sin_port = htons((uint16_t)srv.port)};
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)),
				 0);
		/* A child sends (it blocks once the server stops reading);
		 * nobody reads, so the server's output backs up. */
		pid_t sender = fork();
		ck_assert_int_ge(sender, 0);
		if (sender == 0) {
			for (int i = 0; i < BATCHES; i++)
				send_all(fd, batch, len);
			_exit(0);
		}
		usleep(300 * 1000);
		kill(sender, SIGKILL);
		ck_assert_int_eq(waitpid(sender, NULL, 0), sender);
		close(fd);
		usleep(100 * 1000);
		ck_assert_int_eq(
			server_stop_output(&srv, 5000, out, sizeof(out)), 0);
		ck_assert_ptr_nonnull(strstr(out, "the kernel took less"));
		bool rearmed = strstr(out, "epoll_ctl MOD fd ") != NULL;
		ck_assert_msg(rearmed == (m == 0), "%s: MOD %s in '%s'",
			      modes[m], rearmed ? "seen" : "missing", out);
	}
}
END_TEST

/* --trace N prints N lines and says the budget is spent; without the
 * flag there is no narration at all. */
START_TEST(trace_is_bounded_and_off_by_default)
{
	static char out[TRACE_OUTPUT];
	trace_two_requests("-w 1 --trace 10", out, sizeof(out));
	/* The first 2 lines (the eventfd's and the listener's ADD) come
	 * before the banner, which the harness keeps apart; the budget's
	 * last line is followed by the line that says it is spent. */
	ck_assert_int_eq(count_lines_with(out, "trace: "), 10 - 2 + 1);
	ck_assert_ptr_nonnull(strstr(out, "trace: line budget spent"));
	trace_two_requests("-w 1", out, sizeof(out));
	ck_assert_ptr_null(strstr(out, "trace:"));
}
END_TEST

/* A hang-up the kernel reports alone, without IN or OUT (a pipe whose
 * writer closed, with nothing left in it): a socket's reset comes with IN
 * and OUT as well, which carry a connection to its failing read anyway,
 * so only this path shows that a poller turns a bare HUP or ERR into a
 * wakeup of both sides. The pollers that see hang-ups (epoll edge and
 * level, poll; select reports readiness only), each on its own. */
static struct hd_poller *hangup_poller(int i)
{
	switch (i) {
	case 0: return hd_poller_epoll_new(true);
	case 1: return hd_poller_epoll_new(false);
	default: return hd_poller_poll_new();
	}
}

START_TEST(a_bare_hangup_wakes_both_sides)
{
	int fds[2];
	ck_assert_int_eq(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
	struct hd_poller *p = hangup_poller(_i);
	ck_assert_ptr_nonnull(p);
	uint8_t handle = HD_HANDLE_CONN;
	ck_assert_int_eq(hd_poller_add(p, fds[0], &handle, HD_EV_READ), 0);
	close(fds[1]);
	struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
	ck_assert_int_eq(poll(&pfd, 1, 0), 1);
	ck_assert_msg(pfd.revents == POLLHUP,
		      "the kernel reported %#x, not a bare POLLHUP",
		      (unsigned)pfd.revents);
	struct hd_event ev[4];
	int n = hd_poller_wait(p, ev, 4, 2000);
	ck_assert_int_eq(n, 1);
	ck_assert_ptr_eq(ev[0].ptr, &handle);
	uint32_t all = HD_EV_READ | HD_EV_WRITE | HD_EV_HUP;
	ck_assert_msg(ev[0].events == all, "%s: a bare hang-up gave %#x",
		      p->ops->name, (unsigned)ev[0].events);
	hd_poller_forget(p, fds[0]);
	hd_poller_destroy(p);
	close(fds[0]);
}
END_TEST

Suite *ladder_suite(void)
{
	Suite *s = suite_create("ladder");
	TCase *tc = tcase_create("busy");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, busy_polling_burns_a_core_while_idle);
	tcase_add_test(tc, busy_sleep_trades_cpu_for_latency);
	tcase_add_test(tc, busy_sleep_is_refused_with_other_pollers);
	tcase_add_test(tc, busy_polling_serves_sockets_past_one_batch);
	suite_add_tcase(s, tc);
	tc = tcase_create("blocking");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, blocking_slow_client_holds_up_the_next);
	tcase_add_test(tc, blocking_worker_stops_while_a_client_idles);
	tcase_add_test(tc, threads_slow_client_holds_up_only_its_thread);
	suite_add_tcase(s, tc);
	tc = tcase_create("uring");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, uring_buffer_ring_running_dry_loses_nothing);
	tcase_add_test(tc, uring_trace_shows_completions);
	tcase_add_test(tc, uring_paused_clients_do_not_starve_the_ring);
	tcase_add_test(tc, uring_a_full_buffer_is_not_a_drained_socket);
	tcase_add_test(tc, uring_answer_queued_before_stop_goes_out);
	tcase_add_test(tc,
		       uring_queued_receive_does_not_take_a_reused_descriptor);
	suite_add_tcase(s, tc);
	tc = tcase_create("hangup");
	tcase_add_loop_test(tc, a_bare_hangup_wakes_both_sides, 0, 3);
	suite_add_tcase(s, tc);
	tc = tcase_create("trace");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, trace_narrates_each_step);
	tcase_add_test(tc, trace_shows_level_rearming_for_output);
	tcase_add_test(tc, trace_is_bounded_and_off_by_default);
	suite_add_tcase(s, tc);
	return s;
}
