/* test_teaching.c — the teaching switches (src/pitfalls.c, read_once and
 * accept_once in src/conn.c and src/worker.c), select's FD_SETSIZE
 * refusal, and the --stats counters (src/stats.c), against the real
 * build/hellod.
 *
 * The pitfall tests show each edge-triggered stall with a bounded wait
 * ("no answer within 500 ms"), then what clears it, and that level
 * triggering with the same settings answers at once. */
#include <check.h>
#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "hellod/pitfalls.h"
#include "suites.h"

#define STALL_MS   500	/* "stalled": no answer within this */
#define PROMPT_MS  1000 /* "prompt": an answer within this */
#define ANSWER_MS  3000 /* generous bound for answers that must come */
#define READ_SIZE  "256"
#define BURST	   10 /* connections in the accept burst */
#define MAX_OUTPUT 8192

static struct test_server srv;

static const char get_root[] = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";

/* The level-triggered ways of running hellod; each must recover. */
static const char *const level_modes[] = {
	"--poller epoll --trigger level",
	"--poller poll",
	"--poller select",
};
#define LEVEL_MODES (int)(sizeof(level_modes) / sizeof(level_modes[0]))

/* A request of about 400 bytes: more than READ_SIZE, less than twice. */
static const char *big_request(void)
{
	static char req[512];
	char pad[321];
	memset(pad, 'x', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	snprintf(req, sizeof(req),
		 "GET / HTTP/1.1\r\nHost: t\r\nX-Pad: %s\r\n\r\n", pad);
	ck_assert_uint_gt(strlen(req), 256);
	ck_assert_uint_lt(strlen(req), 512);
	return req;
}

static bool answered(struct reader *r, int timeout_ms)
{
	struct response resp;
	bool got = read_response(r, &resp, timeout_ms);
	if (got) {
		ck_assert_int_eq(resp.status, 200);
		ck_assert_str_eq(resp.body, "Hello, World!");
		response_free(&resp);
	}
	return got;
}

/* Stops the server (expecting exit 0) and returns all it wrote to stderr
 * after the banner, the --stats table included. */
static void stop_and_collect(char *out, size_t outlen)
{
	ck_assert_int_eq(server_stop_output(&srv, 5000, out, outlen), 0);
}

struct totals {
	uint64_t waits, events, ctl, accepts, reads, eagain, writes, bytes_in,
		bytes_out, requests;
};

/* The "total" row of the --stats table in out. */
static struct totals parse_totals(const char *out)
{
	struct totals t;
	const char *row = strstr(out, "\ntotal ");
	ck_assert_msg(row != NULL, "no stats table in '%s'", out);
	int got = sscanf(
		row + 7,
		"%" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
		" %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64,
		&t.waits, &t.events, &t.ctl, &t.accepts, &t.reads, &t.eagain,
		&t.writes, &t.bytes_in, &t.bytes_out, &t.requests);
	ck_assert_int_eq(got, 10);
	return t;
}

/* ---- read_once ----------------------------------------------------------- */

START_TEST(read_once_stalls_under_edge)
{
	server_startf(&srv, "-w 1 --trigger edge --read-once --read-size %s",
		      READ_SIZE);
	ck_assert_ptr_nonnull(strstr(srv.banner, "deliberately broken"));
	struct reader r;
	int fd = client_open(&r, srv.port);
	/* One packet, bigger than one read: the first read takes 256 bytes
	 * and the loop stops; the kernel has no new edge to report. */
	send_str(fd, big_request());
	ck_assert_msg(!answered(&r, STALL_MS), "edge + read_once answered");
	/* More bytes arrive: a new edge, one more read, and that read gets
	 * the rest of the first request along with the second. */
	send_str(fd, get_root);
	ck_assert(answered(&r, ANSWER_MS));
	ck_assert(answered(&r, ANSWER_MS));
	client_close(&r);
	ck_assert_int_eq(server_stop(&srv, 5000), 0);
}
END_TEST

/* Sends one big request to the started server, expects a prompt answer,
 * stops the server and returns its counters. */
static struct totals serve_one_big_request(void)
{
	struct reader r;
	int fd = client_open(&r, srv.port);
	send_str(fd, big_request());
	ck_assert(answered(&r, PROMPT_MS));
	client_close(&r);
	char out[MAX_OUTPUT];
	stop_and_collect(out, sizeof(out));
	struct totals t = parse_totals(out);
	ck_assert_uint_eq(t.requests, 1);
	return t;
}

START_TEST(small_read_size_alone_is_correct_under_edge)
{
	/* Reading until a short read or EAGAIN drains the socket whatever
	 * the buffer size: small reads cost syscalls, not correctness. */
	server_startf(&srv, "-w 1 --trigger edge --stats --read-size %s",
		      READ_SIZE);
	ck_assert_ptr_null(strstr(srv.banner, "deliberately broken"));
	struct totals t = serve_one_big_request();
	ck_assert_uint_ge(t.reads, 2); /* 256 + the rest */
}
END_TEST

START_TEST(read_once_only_costs_wakeups_under_level)
{
	server_startf(&srv, "-w 1 --stats --read-once --read-size %s %s",
		      READ_SIZE, level_modes[_i]);
	ck_assert_ptr_nonnull(strstr(srv.banner, "extra wakeups only"));
	struct totals t = serve_one_big_request();
	/* The level-triggered poller reported the socket again for the
	 * bytes the first read left: two reads, two wakeups at least. */
	ck_assert_uint_ge(t.reads, 2);
	ck_assert_uint_ge(t.waits, 3); /* accept, read, read */
}
END_TEST

/* ---- accept_once --------------------------------------------------------- */

/* Stops the server, connects BURST clients that each send a request, and
 * lets it run: the listener becomes ready once for the whole burst. */
static void connect_burst(struct reader *readers)
{
	int status;
	ck_assert_int_eq(kill(srv.pid, SIGSTOP), 0);
	/* Every thread stopped, so none can take an event mid-burst. */
	ck_assert_int_eq(waitpid(srv.pid, &status, WUNTRACED), srv.pid);
	ck_assert(WIFSTOPPED(status));
	for (int i = 0; i < BURST; i++) {
		int fd = client_open(&readers[i], srv.port);
		send_str(fd, get_root);
	}
	ck_assert_int_eq(kill(srv.pid, SIGCONT), 0);
}

START_TEST(accept_once_stalls_under_edge)
{
	struct reader readers[BURST + 1];
	server_startf(&srv, "-w 1 --trigger edge --accept-once");
	ck_assert_ptr_nonnull(strstr(srv.banner, "deliberately broken"));
	connect_burst(readers);
	/* One edge for the burst, one accept: the first client is served,
	 * the rest wait in the backlog. */
	ck_assert(answered(&readers[0], ANSWER_MS));
	ck_assert_msg(!answered(&readers[1], STALL_MS),
		      "edge + accept_once served a second client");
	for (int i = 2; i < BURST; i++)
		ck_assert(!answered(&readers[i], 10));
	/* A new connection is a new edge: one more accept, which takes the
	 * oldest waiting connection. */
	client_open(&readers[BURST], srv.port);
	ck_assert(answered(&readers[1], ANSWER_MS));
	ck_assert(!answered(&readers[2], STALL_MS));
	for (int i = 0; i <= BURST; i++)
		client_close(&readers[i]);
	ck_assert_int_eq(server_stop(&srv, 5000), 0);
}
END_TEST

START_TEST(accept_once_only_costs_wakeups_under_level)
{
	struct reader readers[BURST];
	server_startf(&srv, "-w 1 --stats --accept-once %s", level_modes[_i]);
	connect_burst(readers);
	for (int i = 0; i < BURST; i++)
		ck_assert_msg(answered(&readers[i], PROMPT_MS),
			      "client %d not served", i);
	for (int i = 0; i < BURST; i++)
		client_close(&readers[i]);
	char out[MAX_OUTPUT];
	stop_and_collect(out, sizeof(out));
	struct totals t = parse_totals(out);
	/* One accept per wakeup: never the accept that hits EAGAIN. */
	ck_assert_uint_eq(t.accepts, BURST);
	ck_assert_uint_eq(t.requests, BURST);
}
END_TEST

/* ---- select and FD_SETSIZE ----------------------------------------------- */

static void raise_fd_limit(rlim_t want)
{
	struct rlimit rl;
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur < want) {
		rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
		ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	}
	ck_assert_msg(rl.rlim_cur >= want, "fd limit %ju < %ju",
		      (uintmax_t)rl.rlim_cur, (uintmax_t)want);
}

static int count_lines_with(const char *text, const char *needle)
{
	int n = 0;
	for (const char *p = text; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

START_TEST(select_refuses_fds_past_fd_setsize)
{
	enum { CONNS = 1100 };
	raise_fd_limit(CONNS + 256); /* the server inherits it */
	server_startf(&srv, "-w 1 --poller select");
	static struct reader readers[CONNS];
	long long t0 = now_ms();
	for (int i = 0; i < CONNS; i++)
		client_open(&readers[i], srv.port);
	int served = 0, closed = 0;
	for (int i = 0; i < CONNS; i++) {
		/* A refused connection may already be reset: ignore errors. */
		(void)send(readers[i].fd, get_root, strlen(get_root),
			   MSG_NOSIGNAL);
		if (answered(&readers[i], ANSWER_MS))
			served++;
		else if (peer_closed(&readers[i], 100))
			closed++;
		reader_free(&readers[i]);
	}
	long long elapsed = now_ms() - t0;
	ck_assert_int_eq(served + closed, CONNS);
	/* Descriptors 3..1023 at most can be watched; a few are taken by
	 * the listener, the eventfd and the spare. */
	ck_assert_int_le(served, 1024 - 3);
	ck_assert_int_ge(served, 1000);
	ck_assert_int_ge(closed, CONNS - (1024 - 3));
	for (int i = 0; i < CONNS; i++)
		close(readers[i].fd);
	/* With the descriptors free again the server serves as before. */
	struct reader r;
	int fd = client_open(&r, srv.port);
	send_str(fd, get_root);
	ck_assert(answered(&r, ANSWER_MS));
	client_close(&r);
	static char out[65536];
	stop_and_collect(out, sizeof(out));
	int lines = count_lines_with(out, "select cannot watch fd");
	ck_assert_msg(lines >= 1, "no refusal logged: '%s'", out);
	ck_assert_ptr_nonnull(strstr(out, "only fds below 1024"));
	/* Rate-limited: at most one line per second, not one per refusal. */
	ck_assert_int_le(lines, elapsed / 1000 + 2);
	ck_assert_int_lt(lines, closed);
}
END_TEST

/* ---- counters ------------------------------------------------------------ */

START_TEST(counters_add_up_for_keep_alive)
{
	enum { N = 100 };
	server_startf(&srv, "-w 1 --stats --trigger edge");
	struct reader r;
	int fd = client_open(&r, srv.port);
	uint64_t bytes_out = 0;
	for (int i = 0; i < N; i++) {
		send_str(fd, get_root);
		struct response resp;
		ck_assert(read_response(&r, &resp, ANSWER_MS));
		bytes_out += strlen(resp.head) + resp.body_len;
		response_free(&resp);
	}
	client_close(&r);
	char out[MAX_OUTPUT];
	stop_and_collect(out, sizeof(out));
	struct totals t = parse_totals(out);
	ck_assert_uint_eq(t.requests, N);
	ck_assert_uint_eq(t.bytes_in, N * strlen(get_root));
	ck_assert_uint_eq(t.bytes_out, bytes_out);
	ck_assert_uint_eq(t.writes, N); /* one send per answered batch */
	ck_assert_uint_ge(t.reads, N);
	ck_assert_uint_le(t.eagain, t.reads);
	ck_assert_uint_ge(t.waits, N);
	ck_assert_uint_ge(t.events, N);
	/* accept, then the accept that finds the backlog empty. */
	ck_assert_uint_eq(t.accepts, 2);
	/* Edge-triggered registers the eventfd, the listener and the
	 * connection once each, and never touches them again. */
	ck_assert_uint_eq(t.ctl, 3);
}
END_TEST

/* A connection whose receive window is tiny, so the server's output
 * backs up quickly. */
static int connect_small_window(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	int size = 4096;
	ck_assert_int_eq(
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)), 0);
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* 100,000 pipelined requests, unread for 300 ms: the kernel refuses output,
 * so a level-triggered server must start and stop watching EPOLLOUT with
 * epoll_ctl, while the edge-triggered one never calls it again. */
START_TEST(level_pays_ctl_for_pending_output_edge_does_not)
{
	enum { N = 100000 };
	static const char *const modes[] = {"edge", "level"};
	server_startf(&srv, "-w 1 --stats --trigger %s", modes[_i]);
	int fd = connect_small_window(srv.port);
	pid_t sender = fork();
	ck_assert_int_ge(sender, 0);
	if (sender == 0) {
		enum { BATCH = 1000 };
		static char batch[BATCH * sizeof(get_root)];
		for (int i = 0; i < BATCH; i++)
			strcat(batch, get_root);
		for (int i = 0; i < N / BATCH; i++)
			send_str(fd, batch);
		_exit(0);
	}
	usleep(300 * 1000);
	struct reader r;
	reader_init(&r, fd);
	for (int i = 0; i < N; i++)
		ck_assert_msg(answered(&r, ANSWER_MS), "response %d missing",
			      i);
	int status;
	ck_assert_int_eq(waitpid(sender, &status, 0), sender);
	client_close(&r);
	char out[MAX_OUTPUT];
	stop_and_collect(out, sizeof(out));
	struct totals t = parse_totals(out);
	ck_assert_uint_eq(t.requests, N);
	if (_i == 0)
		ck_assert_uint_eq(t.ctl, 3);
	else
		ck_assert_uint_ge(t.ctl, 3 + 2); /* + watch, unwatch EPOLLOUT */
}
END_TEST

/* ---- the start-up warning (src/pitfalls.c) ------------------------------- */

static void warning_for(const struct hd_config *cfg, char *out, size_t len)
{
	memset(out, 0, len);
	FILE *f = fmemopen(out, len, "w");
	ck_assert_ptr_nonnull(f);
	hd_pitfalls_warn(f, cfg);
	fclose(f);
}

START_TEST(warns_only_when_a_pitfall_is_on)
{
	struct hd_config cfg;
	char out[512];
	ck_assert_int_eq(hd_config_defaults(&cfg), 0);
	warning_for(&cfg, out, sizeof(out));
	ck_assert_str_eq(out, "");
	cfg.accept_once = true;
	warning_for(&cfg, out, sizeof(out));
	ck_assert_ptr_nonnull(strstr(out, "deliberately broken for teaching"));
	ck_assert_ptr_nonnull(strstr(out, "accept_once"));
	ck_assert_ptr_nonnull(strstr(out, "will stall"));
	cfg.trigger = HD_TRIGGER_LEVEL;
	warning_for(&cfg, out, sizeof(out));
	ck_assert_ptr_nonnull(strstr(out, "extra wakeups only"));
	cfg.accept_once = false;
	cfg.read_size = 256;
	warning_for(&cfg, out, sizeof(out));
	ck_assert_ptr_null(strstr(out, "broken"));
	ck_assert_ptr_nonnull(strstr(out, "read_size 256"));
	hd_config_free(&cfg);
}
END_TEST

Suite *teaching_suite(void)
{
	Suite *s = suite_create("teaching");
	TCase *tc = tcase_create("warning");
	tcase_add_test(tc, warns_only_when_a_pitfall_is_on);
	suite_add_tcase(s, tc);
	tc = tcase_create("pitfalls");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, read_once_stalls_under_edge);
	tcase_add_test(tc, small_read_size_alone_is_correct_under_edge);
	tcase_add_loop_test(tc, read_once_only_costs_wakeups_under_level, 0,
			    LEVEL_MODES);
	tcase_add_test(tc, accept_once_stalls_under_edge);
	tcase_add_loop_test(tc, accept_once_only_costs_wakeups_under_level, 0,
			    LEVEL_MODES);
	suite_add_tcase(s, tc);
	tc = tcase_create("select-limit");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, select_refuses_fds_past_fd_setsize);
	suite_add_tcase(s, tc);
	tc = tcase_create("counters");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, counters_add_up_for_keep_alive);
	tcase_add_loop_test(tc, level_pays_ctl_for_pending_output_edge_does_not,
			    0, 2);
	suite_add_tcase(s, tc);
	return s;
}
