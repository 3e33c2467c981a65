/* test_lab.c — every exercise of docs/lab.md, run as the sheet says
 * (the same flags, the same curl or python3 command, on an ephemeral
 * loopback port instead of 8080), checking what the sheet says the
 * student should see. Each test is named after its exercise (lab_<n>_),
 * so a failure here points at the paragraph of the sheet that went
 * stale. Every wait is bounded: curl runs with -m, clients with
 * timeouts, loops with counts. */
#include <check.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "suites.h"

#define MAX_OUTPUT     65536
#define HERD_CONNS     40 /* sequential connections in the herd exercise */
#define CURL	       "curl -s -m 1 http://127.0.0.1:$PORT/"
#define HELLO	       "Hello, World!"
#define CURL_TIMED_OUT 28 /* curl's exit status after -m ran out */

static struct test_server srv;

/* Runs a shell command of the sheet with PORT set to the server's port
 * (the sheet's commands say $PORT, 8080 in class). */
__attribute__((format(printf, 3, 4))) static int sheet(char *out, size_t outlen,
						       const char *fmt, ...)
{
	char body[2048], cmd[2300];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "PORT=%d; %s", srv.port, body);
	return run_capture(cmd, out, outlen);
}

static void stop_and_collect(char *out, size_t outlen)
{
	ck_assert_int_eq(server_stop_output(&srv, 5000, out, outlen), 0);
}

/* Column `column` (0: waits) of the --stats row whose first word is
 * `name` ("0", "1", "total"). */
static uint64_t stats_cell(const char *out, const char *name, int column)
{
	char key[24];
	snprintf(key, sizeof(key), "\n%s ", name);
	const char *row = strstr(out, key);
	ck_assert_msg(row != NULL, "no stats row '%s' in '%s'", name, out);
	row += strlen(key);
	uint64_t v = 0;
	for (int i = 0; i <= column; i++) {
		char *end;
		v = strtoull(row, &end, 10);
		ck_assert_msg(end != row, "short row '%s' in '%s'", name, out);
		row = end;
	}
	return v;
}

enum {
	COL_WAITS = 0,
	COL_CTL = 2,
	COL_ACCEPTS = 3,
	COL_REQUESTS = 9,
	COL_ACCEPTED = 10,
	COL_EMPTY = 11,
};

/* ---- exercise 1: blocking, one client at a time -------------------------- */

START_TEST(lab_1_blocking_serves_one_client_at_a_time)
{
	char out[MAX_OUTPUT];
	server_startf(&srv, "-w 1 --poller blocking");
	/* Terminal 2: a client that connects and says nothing (nc). */
	int idle = connect_port(srv.port);
	ck_assert_int_eq(sheet(out, sizeof(out), CURL), CURL_TIMED_OUT);
	/* Closing it lets the next one in. */
	close(idle);
	ck_assert_int_eq(sheet(out, sizeof(out), CURL), 0);
	ck_assert_ptr_nonnull(strstr(out, HELLO));
	ck_assert_int_eq(server_stop(&srv, 5000), 0);
}
END_TEST

/* ---- exercise 1b: a thread per connection -------------------------------- */

START_TEST(lab_1b_threads_serve_one_client_each)
{
	char out[MAX_OUTPUT];
	server_startf(&srv, "-w 2 --poller threads");
	/* Terminal 2: one silent client holds one thread of the two. */
	int idle = connect_port(srv.port);
	ck_assert_int_eq(sheet(out, sizeof(out), CURL), 0);
	ck_assert_ptr_nonnull(strstr(out, HELLO));
	/* A second silent client holds the other: curl waits. */
	int idle2 = connect_port(srv.port);
	ck_assert_int_eq(sheet(out, sizeof(out), CURL), CURL_TIMED_OUT);
	close(idle2);
	ck_assert_int_eq(sheet(out, sizeof(out), CURL), 0);
	close(idle);
	ck_assert_int_eq(server_stop(&srv, 5000), 0);
}
END_TEST

/* ---- exercise 2: busy polling, the cost of asking ------------------------ */

/* Accept calls made with no client at all, in 300 ms, by `args`. */
static uint64_t idle_accepts(const char *args)
{
	char out[MAX_OUTPUT];
	server_startf(&srv, "-w 1 --stats %s", args);
	usleep(300 * 1000);
	stop_and_collect(out, sizeof(out));
	ck_assert_uint_eq(stats_cell(out, "total", COL_ACCEPTED), 0);
	return stats_cell(out, "total", COL_ACCEPTS);
}

START_TEST(lab_2_busy_polling_asks_while_idle)
{
	/* A pass every millisecond or so, each with its accept4 → EAGAIN;
	 * loose, for a loaded machine. */
	ck_assert_uint_ge(idle_accepts("--poller busy --busy-sleep 1ms"), 20);
	/* epoll waits in the kernel: not one call. */
	ck_assert_uint_eq(idle_accepts("--poller epoll"), 0);
}
END_TEST

/* ---- exercises 3 to 6: who tells the server a socket is ready ------------ */

/* One curl against `args` with --trace, the narration in out. */
static void traced_request(const char *args, char *out, size_t outlen)
{
	char answer[MAX_OUTPUT];
	server_startf(&srv, "-w 1 --trace 60 %s", args);
	ck_assert_int_eq(sheet(answer, sizeof(answer), CURL), 0);
	ck_assert_ptr_nonnull(strstr(answer, HELLO));
	stop_and_collect(out, outlen);
	ck_assert_ptr_nonnull(strstr(out, "1 request parsed and answered"));
}

static void rung_names_its_call(const char *args, const char *report)
{
	char out[MAX_OUTPUT];
	traced_request(args, out, sizeof(out));
	ck_assert_msg(strstr(out, report) != NULL, "no '%s' in: %s", report,
		      out);
}

START_TEST(lab_3_select_reports_readiness)
{
	rung_names_its_call("--poller select", "trace: select → fd");
}
END_TEST

START_TEST(lab_4_poll_reports_readiness)
{
	rung_names_its_call("--poller poll", "trace: poll → fd");
}
END_TEST

/* The next traced read from `from` on that took bytes: the read made
 * straight after accept (read_after_accept) may come before the request
 * and find nothing, which says nothing about the trigger. */
static const char *next_full_read(const char *from)
{
	for (const char *at = strstr(from, "trace: read(fd"); at;
	     at = strstr(at + 1, "trace: read(fd")) {
		const char *eq = strstr(at, ") = ");
		const char *nl = strchr(at, '\n');
		if (eq && (!nl || eq < nl) && eq[4] >= '1' && eq[4] <= '9')
			return at;
	}
	return NULL;
}

/* Whether the trace shows a wakeup between the first two reads of the
 * request that took bytes (curl's request, about 80 bytes, read 16 at a
 * time). */
static bool woken_between_reads(const char *trigger)
{
	char out[MAX_OUTPUT], args[64];
	snprintf(args, sizeof(args), "--trigger %s --read-size 16", trigger);
	traced_request(args, out, sizeof(out));
	const char *first = next_full_read(out);
	ck_assert_msg(first != NULL, "no read in: %s", out);
	const char *second = next_full_read(first + 1);
	ck_assert_msg(second != NULL, "one read only in: %s", out);
	const char *wake = strstr(first, "trace: epoll_wait → fd");
	return wake && wake < second;
}

START_TEST(lab_5_level_reads_once_per_wakeup)
{
	ck_assert(woken_between_reads("level"));
}
END_TEST

START_TEST(lab_6_edge_reads_until_drained)
{
	ck_assert(!woken_between_reads("edge"));
}
END_TEST

/* ---- exercise 6b: io_uring ----------------------------------------------- */

/* Calls named `name` in an strace -c table (0 if none). */
static long strace_calls(const char *table, const char *name)
{
	char key[64];
	snprintf(key, sizeof(key), " %s\n", name);
	for (const char *p = table; (p = strstr(p, key)) != NULL; p++) {
		const char *line = p;
		while (line > table && line[-1] != '\n')
			line--;
		double pct, secs;
		long usecs, calls;
		if (sscanf(line, "%lf %lf %ld %ld", &pct, &secs, &usecs,
			   &calls) == 4)
			return calls;
	}
	return 0;
}

/* The sheet's two servers under strace -c, 100 requests from one curl. */
static void count_calls(const char *poller, char *table, size_t len)
{
	char path[] = "/tmp/hellod-lab-strace-XXXXXX", wrapper[128], out[256];
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	close(fd);
	snprintf(wrapper, sizeof(wrapper), "strace -f -c -o %s", path);
	char args[64];
	snprintf(args, sizeof(args), "-w 1 --poller %s", poller);
	server_start_conf_wrapped(&srv, "listen 127.0.0.1:0\ndrain_grace 0ms\n",
				  args, wrapper);
	pid_t server = child_pid(srv.pid);
	ck_assert_int_eq(
		sheet(out, sizeof(out),
		      "curl -s -m 10 $(for i in $(seq 100); do printf "
		      "'http://127.0.0.1:%%s/ ' $PORT; done) >/dev/null"),
		0);
	kill(server, SIGTERM);
	int status = -1;
	for (int i = 0; i < 250; i++) {
		if (waitpid(srv.pid, &status, WNOHANG) == srv.pid)
			break;
		usleep(20 * 1000);
	}
	close(srv.stderr_fd);
	/* strace exits with the status of the command it ran */
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "hellod --poller %s under strace: status %d", poller,
		      status);
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	size_t n = fread(table, 1, len - 1, f);
	table[n] = '\0';
	fclose(f);
	unlink(path);
}

START_TEST(lab_6b_uring_replaces_read_and_send_by_completions)
{
	if (getenv("HELLOD_SANITIZED") || server_under_valgrind()) {
		printf("SKIPPED: lab_6b (a sanitizer's or valgrind's runtime "
		       "makes system calls of its own)\n");
		return;
	}
	static char epoll[16384], uring[16384];
	count_calls("epoll", epoll, sizeof(epoll));
	count_calls("uring", uring, sizeof(uring));
	ck_assert_msg(strace_calls(epoll, "read") >= 100 &&
			      strace_calls(epoll, "sendto") >= 100 &&
			      strace_calls(epoll, "epoll_wait") >= 50,
		      "epoll:\n%s", epoll);
	/* read_after_accept answers the first request with read and
	 * sendto, before the socket joins the ring */
	ck_assert_msg(strace_calls(uring, "sendto") <= 1 &&
			      strace_calls(uring, "read") < 20 &&
			      strace_calls(uring, "io_uring_enter") >= 50,
		      "uring:\n%s", uring);
}
END_TEST

/* ---- exercise 7: --read-once ----------------------------------------------
 */

/* The sheet's request: curl with a 300-byte header, more than one
 * 256-byte read. Returns curl's exit status. */
static int big_curl(const char *args)
{
	char out[MAX_OUTPUT];
	server_startf(&srv, "-w 1 --read-once --read-size 256 %s", args);
	int rc = sheet(out, sizeof(out),
		       "curl -s -m 1 -H \"X-Pad: $(printf %%300s | tr ' ' "
		       "a)\" http://127.0.0.1:$PORT/");
	ck_assert(rc != 0 || strstr(out, HELLO));
	ck_assert_int_eq(server_stop(&srv, 5000), 0);
	return rc;
}

START_TEST(lab_7_read_once_stalls_edge_not_level)
{
	ck_assert_int_eq(big_curl("--trigger edge"), CURL_TIMED_OUT);
	ck_assert_int_eq(big_curl("--trigger level"), 0);
}
END_TEST

/* ---- exercise 8: --accept-once --------------------------------------------
 */

/* The sheet's burst: the server stopped, three curls connect, the
 * server goes on; returns how many were answered within -m 1. The
 * sheet sleeps 0.3 s before the CONT; here the shell waits (up to 2 s)
 * until the listener's accept queue holds all three (its rx_queue in
 * /proc/net/tcp). A loaded CI machine once answered 2, not 1; a curl
 * connecting after the CONT is the likely cause, not reproduced. */
#define BURST_QUEUED                                                           \
	"hex=$(printf %%04X $PORT); for j in $(seq 40); do "                   \
	"q=$(awk -v p=\":$hex\" '$2 ~ p\"$\" && $4 == \"0A\" "                 \
	"{split($5, a, \":\"); print a[2]; exit}' /proc/net/tcp); "            \
	"[ -n \"$q\" ] && [ $((0x$q)) -ge 3 ] && break; sleep 0.05; done; "
static int burst_answered(const char *args)
{
	char out[MAX_OUTPUT];
	server_startf(&srv, "-w 1 --accept-once %s", args);
	int rc = sheet(out, sizeof(out),
		       "kill -STOP %d; for i in 1 2 3; do " CURL
		       " & done; " BURST_QUEUED "kill -CONT %d; wait",
		       (int)srv.pid, (int)srv.pid);
	ck_assert_int_ge(rc, 0);
	ck_assert_int_eq(server_stop(&srv, 5000), 0);
	int n = 0;
	for (const char *p = out; (p = strstr(p, HELLO)) != NULL; p++)
		n++;
	return n;
}

START_TEST(lab_8_accept_once_stalls_edge_not_level)
{
	/* One edge for the burst, one accept: the other two wait in the
	 * backlog for an edge that does not come. */
	ck_assert_int_eq(burst_answered("--trigger edge"), 1);
	ck_assert_int_eq(burst_answered("--trigger level"), 3);
}
END_TEST

/* ---- exercise 9: the thundering herd ------------------------------------ */

/* The sheet's client: HERD_CONNS connections one after another. */
static void herd_clients(void)
{
	char out[MAX_OUTPUT];
	int rc = sheet(out, sizeof(out),
		       "for i in $(seq %d); do curl -s -m 2 -o /dev/null "
		       "http://127.0.0.1:$PORT/ || exit 1; sleep 0.01; done",
		       HERD_CONNS);
	ck_assert_msg(rc == 0, "a herd client failed: %s", out);
}

enum { HERD_ROUNDS = 5 };

START_TEST(lab_9_shared_listener_wakes_every_worker)
{
	char out[MAX_OUTPUT];
	/* Both workers wait on the one socket, so a worker is woken for a
	 * connection the other one took. How often it sees that depends on
	 * the scheduler (a late waker finds the queue empty and is not
	 * told at all; once, under ASan, no round of HERD_CONNS showed
	 * it), so the bound is loose: once in up to HERD_ROUNDS runs of
	 * the sheet's client, as a student would run it again. */
	uint64_t empty = 0;
	for (int round = 0; round < HERD_ROUNDS && !empty; round++) {
		server_startf(&srv, "-w 2 --stats --shared-listener");
		herd_clients();
		stop_and_collect(out, sizeof(out));
		uint64_t won0 = stats_cell(out, "0", COL_ACCEPTED);
		uint64_t won1 = stats_cell(out, "1", COL_ACCEPTED);
		ck_assert_uint_eq(won0 + won1, HERD_CONNS);
		ck_assert_uint_eq(stats_cell(out, "total", COL_ACCEPTED),
				  HERD_CONNS);
		empty = stats_cell(out, "total", COL_EMPTY);
	}
	ck_assert_msg(empty >= 1,
		      "no empty wakeup in %d runs of %d connections; the "
		      "last: %s",
		      HERD_ROUNDS, HERD_CONNS, out);
}
END_TEST

START_TEST(lab_9_reuseport_wakes_one_worker)
{
	char out[MAX_OUTPUT];
	server_startf(&srv, "-w 2 --stats");
	herd_clients();
	stop_and_collect(out, sizeof(out));
	ck_assert_uint_eq(stats_cell(out, "total", COL_ACCEPTED), HERD_CONNS);
	/* One SO_REUSEPORT socket per worker: the kernel picks the socket,
	 * and only its worker is woken. */
	ck_assert_uint_eq(stats_cell(out, "total", COL_EMPTY), 0);
}
END_TEST

/* ---- exercises 10 and 11: a client that stops reading ---------------------
 */

/* ---- exercise 10: EPOLLOUT on a socket with nothing to write ------------- */

START_TEST(lab_10_level_idle_connection_costs_nothing)
{
	char out[MAX_OUTPUT];
	server_startf(&srv, "-w 1 --stats --trigger level");
	/* The sheet's client: one request on a connection then left open
	 * a second (bash's /dev/tcp). Its socket is writable all along: a
	 * loop that left EPOLLOUT registered with nothing to write would
	 * be woken for it without end, a core spinning. */
	long before = proc_cpu_ticks(srv.pid);
	ck_assert_int_eq(
		sheet(out, sizeof(out),
		      "bash -c 'exec 3<>/dev/tcp/127.0.0.1/'$PORT'; printf "
		      "\"GET / HTTP/1.1\\r\\nHost: lab\\r\\n\\r\\n\" >&3; "
		      "sleep 1; exec 3>&-'"),
		0);
	long spent = proc_cpu_ticks(srv.pid) - before;
	ck_assert_msg(spent <= 15,
		      "%ld ticks for one request and a quiet "
		      "second",
		      spent);
	stop_and_collect(out, sizeof(out));
	ck_assert_uint_eq(stats_cell(out, "total", COL_REQUESTS), 1);
	/* The accept, the request, the close and the stop: a handful. */
	ck_assert_uint_le(stats_cell(out, "total", COL_WAITS), 20);
}
END_TEST

/* ---- exercise 11: a client that stops reading -----------------------------
 */

/* Runs the sheet's docs/lab/slow_reader.py against the server; returns
 * its output stream once it said it stalled (it then holds on for
 * hold_s seconds before it exits). */
static FILE *slow_reader(int hold_s)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "python3 %s %d %d",
		 src_path("docs/lab/slow_reader.py"), srv.port, hold_s);
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	char line[256] = "";
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), p));
	ck_assert_msg(strncmp(line, "stalled after ", 14) == 0, "reader: %s",
		      line);
	return p;
}

START_TEST(lab_11_backpressure_holds_the_client_back)
{
	char out[MAX_OUTPUT];
	server_startf(&srv, "-w 1 --stats --trigger level");
	FILE *p = slow_reader(1);
	/* The reader sent megabytes; hellod holds max_pending_output
	 * (1m) of answers for it, not all of them, and is not woken while
	 * that socket stays full. */
	long rss = proc_status_kb(srv.pid, "VmRSS");
	ck_assert_msg(rss > 0 && rss < 32 * 1024, "VmRSS %ld kB", rss);
	long before = proc_cpu_ticks(srv.pid);
	usleep(500 * 1000);
	ck_assert_int_le(proc_cpu_ticks(srv.pid) - before, 10);
	/* Another client is served at once meanwhile. */
	ck_assert_int_eq(sheet(out, sizeof(out), CURL), 0);
	ck_assert_ptr_nonnull(strstr(out, HELLO));
	int status = pclose(p);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	stop_and_collect(out, sizeof(out));
	/* Level-triggered, hellod watched for OUT while answers waited
	 * (and stopped watching IN): epoll_ctl MOD calls. */
	ck_assert_uint_gt(stats_cell(out, "total", COL_CTL), 0);
}
END_TEST

Suite *lab_suite(void)
{
	Suite *s = suite_create("lab");
	TCase *tc = tcase_create("ladder");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, lab_1_blocking_serves_one_client_at_a_time);
	tcase_add_test(tc, lab_1b_threads_serve_one_client_each);
	tcase_add_test(tc, lab_2_busy_polling_asks_while_idle);
	tcase_add_test(tc, lab_3_select_reports_readiness);
	tcase_add_test(tc, lab_4_poll_reports_readiness);
	tcase_add_test(tc, lab_5_level_reads_once_per_wakeup);
	tcase_add_test(tc, lab_6_edge_reads_until_drained);
	tcase_add_test(tc, lab_6b_uring_replaces_read_and_send_by_completions);
	suite_add_tcase(s, tc);
	tc = tcase_create("pitfalls");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, lab_7_read_once_stalls_edge_not_level);
	tcase_add_test(tc, lab_8_accept_once_stalls_edge_not_level);
	suite_add_tcase(s, tc);
	tc = tcase_create("herd");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, lab_9_shared_listener_wakes_every_worker);
	tcase_add_test(tc, lab_9_reuseport_wakes_one_worker);
	suite_add_tcase(s, tc);
	tc = tcase_create("slow-reader");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, lab_10_level_idle_connection_costs_nothing);
	tcase_add_test(tc, lab_11_backpressure_holds_the_client_back);
	suite_add_tcase(s, tc);
	return s;
}
