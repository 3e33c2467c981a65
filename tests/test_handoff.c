/* test_handoff.c — restarts that lose nothing, with clients connecting
 * straight to the port (no balancer): SIGUSR2 handing the listening
 * sockets to a successor, and systemd socket activation (the test plays
 * systemd: it holds the socket and starts one hellod after another on
 * it). Also the pid file, a successor that fails, and a successor with
 * another worker count.
 *
 * HELLOD_TEST_RESTART=reuseport restarts the old way instead (a second
 * hellod binds the port with SO_REUSEPORT, then the first drains; for
 * activation: each hellod binds the port itself), to watch the restart
 * tests fail without the handoff. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "load.h"
#include "suites.h"

#define RESTARTS 20
#define INFLIGHT 48

static bool old_way(void)
{
	const char *v = getenv("HELLOD_TEST_RESTART");
	return v && !strcmp(v, "reuseport");
}

/* Successors are children of the instance they replace; once it exits
 * they are ours, so the test can wait for them and stop them. */
static void become_subreaper(void)
{
	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
}

static pid_t read_pid(const char *path)
{
	FILE *f = fopen(path, "r");
	long pid = 0;
	if (f) {
		if (fscanf(f, "%ld", &pid) != 1)
			pid = 0;
		fclose(f);
	}
	return (pid_t)pid;
}

/* Waits until the pid file names another process than `old`. */
static pid_t wait_pid_change(const char *path, pid_t old, int ms)
{
	long long deadline = now_ms() + ms;
	while (now_ms() < deadline) {
		pid_t pid = read_pid(path);
		if (pid > 0 && pid != old)
			return pid;
		usleep(5000);
	}
	return 0;
}

/* Waits for our child (or adopted orphan) pid; its exit status, or -1. */
static int wait_exit_of(pid_t pid, int ms)
{
	long long deadline = now_ms() + ms;
	int status;
	while (now_ms() < deadline) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status)
						 : 128 + WTERMSIG(status);
		usleep(5000);
	}
	return -1;
}

static int get_status(int port)
{
	struct reader r;
	struct response resp;
	client_open(&r, port);
	send_str(r.fd, "GET / HTTP/1.1\r\nHost: t\r\n\r\n");
	int status = read_response(&r, &resp, 3000) ? resp.status : 0;
	if (status)
		response_free(&resp);
	client_close(&r);
	return status;
}

/* Everything the server wrote to stderr within ms (appended to out). */
static void read_stderr(int fd, char *out, size_t outlen, int ms)
{
	size_t len = strlen(out);
	long long deadline = now_ms() + ms;
	while (now_ms() < deadline && len + 1 < outlen) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (poll(&pfd, 1, 10) <= 0)
			continue;
		ssize_t n = read(fd, out + len, outlen - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		out[len] = '\0';
	}
}

static int count_lines_with(const char *text, const char *needle)
{
	int n = 0;
	for (const char *p = text; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static void make_pid_path(char *path, size_t len)
{
	snprintf(path, len, "/tmp/hellod-pid-%d-%lld", (int)getpid(), now_ms());
}

static void rewrite_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

/* Starts srv on a config file (its path in conf_path, to rewrite later)
 * with a pid file (a new path in pid_path). */
static void start_with_files(struct test_server *srv, const char *conf_text,
			     char *conf_path, char *pid_path)
{
	char args[256];
	make_pid_path(pid_path, 96);
	strcpy(conf_path, temp_file(conf_text));
	snprintf(args, sizeof(args), "-c %s --pid-file %s", conf_path,
		 pid_path);
	server_start(srv, args);
}

/* SIGUSR2 to a hellod whose successor is to fail; what it logged, by
 * the time it said it serves on, is in out. */
static void usr2_expecting_failure(struct test_server *srv, char *out,
				   size_t outlen)
{
	ck_assert_int_eq(kill(srv->pid, SIGUSR2), 0);
	out[0] = '\0';
	long long deadline = now_ms() + 10000;
	while (!strstr(out, "still serving") && now_ms() < deadline)
		read_stderr(srv->stderr_fd, out, outlen, 50);
}

/* SIGUSR2 to cur; returns the successor, once cur exited 0. */
static pid_t hand_over(pid_t cur, const char *pid_path)
{
	ck_assert_int_eq(kill(cur, SIGUSR2), 0);
	pid_t next = wait_pid_change(pid_path, cur, 10000);
	ck_assert_msg(next > 0, "no successor wrote the pid file");
	ck_assert_int_eq(wait_exit_of(cur, 10000), 0);
	return next;
}

/* The old way, for comparison: a second hellod binds the same port with
 * SO_REUSEPORT, then the first drains and exits. */
static void restart_reuseport(struct test_server *cur, const char *conf)
{
	struct test_server next;
	server_start_conf(&next, conf, NULL);
	kill(cur->pid, SIGTERM);
	ck_assert_int_eq(wait_exit_of(cur->pid, 10000), 0);
	close(cur->stderr_fd);
	*cur = next;
}

/* 20 restarts under load, the config's lines plus `extra`. */
static void restarts_under_load(const char *extra)
{
	become_subreaper();
	char pid_path[96], conf[320], fixed[320];
	make_pid_path(pid_path, sizeof(pid_path));
	snprintf(conf, sizeof(conf),
		 "listen 127.0.0.1:0\nworkers 2\ndrain_grace 0ms\n"
		 "drain_timeout 5s\npid_file %s\n%s",
		 pid_path, extra);
	struct test_server cur;
	server_start_conf(&cur, conf, NULL);
	snprintf(fixed, sizeof(fixed),
		 "listen 127.0.0.1:%d\nworkers 2\ndrain_grace 0ms\n"
		 "drain_timeout 5s\n%s",
		 cur.port, extra);
	struct load load;
	load_start(&load, cur.port, INFLIGHT, 30000, 2000000);
	usleep(200 * 1000);
	for (int i = 0; i < RESTARTS; i++) {
		if (old_way())
			restart_reuseport(&cur, fixed);
		else
			cur.pid = hand_over(cur.pid, pid_path);
		usleep(100 * 1000);
	}
	usleep(200 * 1000);
	load_finish(&load);
	load_report(&load, "handoff, 20 restarts");
	ck_assert_int_eq(get_status(cur.port), 200);
	ck_assert_int_eq(server_stop(&cur, 5000), 0);
	unlink(pid_path);
	ck_assert_int_gt(load.ok, 1000);
	ck_assert_msg(load.failed == 0, "%ld of %ld requests failed; first: %s",
		      load.failed, load.ok + load.failed, load.first_failure);
}

START_TEST(handoff_20_restarts_under_load)
{
	restarts_under_load("");
}
END_TEST

/* The same with poller uring, whose sends may still be in flight when
 * the drain closes a connection, across the fork of each handoff. */
START_TEST(handoff_20_restarts_under_load_uring)
{
	restarts_under_load("poller uring\n");
}
END_TEST

/* systemctl restart with hellod.socket: stop (SIGTERM, wait for the
 * exit), then start a new one on the socket systemd kept open. */
START_TEST(activation_20_restarts_under_load)
{
	static const char conf[] =
		"listen 127.0.0.1:0\nworkers 2\ndrain_grace 0ms\n"
		"drain_timeout 5s\n";
	int sock = loopback_listener(0);
	int port = socket_port(sock);
	char own[160];
	snprintf(own, sizeof(own), "-l 127.0.0.1:%d", port);
	if (old_way())
		close(sock); /* each hellod binds the port itself */
	struct test_server cur;
	if (old_way())
		server_start_conf(&cur, conf, own);
	else
		server_start_activated(&cur, sock, conf, NULL);
	ck_assert_int_eq(cur.port, port);
	struct load load;
	load_start(&load, port, INFLIGHT, 30000, 2000000);
	usleep(200 * 1000);
	for (int i = 0; i < RESTARTS; i++) {
		kill(cur.pid, SIGTERM);
		ck_assert_int_eq(wait_exit_of(cur.pid, 10000), 0);
		close(cur.stderr_fd);
		if (old_way())
			server_start_conf(&cur, conf, own);
		else
			server_start_activated(&cur, sock, conf, NULL);
		ck_assert_int_eq(cur.port, port);
		usleep(100 * 1000);
	}
	usleep(200 * 1000);
	load_finish(&load);
	load_report(&load, "socket activation, 20 restarts");
	ck_assert_int_eq(server_stop(&cur, 5000), 0);
	if (!old_way())
		close(sock);
	ck_assert_int_gt(load.ok, 1000);
	ck_assert_msg(load.failed == 0, "%ld of %ld requests failed; first: %s",
		      load.failed, load.ok + load.failed, load.first_failure);
}
END_TEST

/* Written at start, rewritten by the successor once it serves, left
 * alone by the old instance when it exits after that, removed by the
 * last one at a clean exit. */
START_TEST(pid_file_written_rewritten_removed)
{
	become_subreaper();
	char pid_path[96], args[160];
	make_pid_path(pid_path, sizeof(pid_path));
	snprintf(args, sizeof(args), "-w 1 --pid-file %s", pid_path);
	struct test_server srv;
	server_start(&srv, args);
	ck_assert_int_eq(read_pid(pid_path), srv.pid);
	pid_t next = hand_over(srv.pid, pid_path);
	/* The old one has exited (hand_over waited): the file is the
	 * successor's still. */
	ck_assert_int_eq(read_pid(pid_path), next);
	ck_assert_int_eq(get_status(srv.port), 200);
	char out[4096] = "";
	read_stderr(srv.stderr_fd, out, sizeof(out), 100);
	ck_assert_msg(strstr(out, "serves; draining"), "old said: %s", out);
	srv.pid = next;
	ck_assert_int_eq(server_stop(&srv, 5000), 0);
	ck_assert_int_eq(access(pid_path, F_OK), -1);
}
END_TEST

/* The config turns invalid between start and SIGUSR2: the successor
 * exits at it, and the old instance serves on, having said why in one
 * line; the pid file still names it. */
START_TEST(failed_successor_leaves_old_serving)
{
	char pid_path[96], conf_path[64], out[4096];
	struct test_server srv;
	start_with_files(&srv, "workers 1\n", conf_path, pid_path);
	rewrite_file(conf_path, "workers many\n");
	usr2_expecting_failure(&srv, out, sizeof(out));
	ck_assert_msg(strstr(out, "hellod: SIGUSR2: successor ") &&
			      strstr(out, " exited with status 2 before "
					  "serving; still serving\n"),
		      "got: %s", out);
	ck_assert_int_eq(count_lines_with(out, "SIGUSR2"), 1);
	ck_assert_int_eq(read_pid(pid_path), srv.pid);
	ck_assert_int_eq(get_status(srv.port), 200);
	ck_assert_int_eq(kill(srv.pid, 0), 0);
	ck_assert_int_eq(server_stop(&srv, 5000), 0);
	ck_assert_int_eq(access(pid_path, F_OK), -1);
	unlink(conf_path);
}
END_TEST

/* The successor runs what is at the binary's path now (a new build),
 * not the old image: here a "build" that exits 3 at once. The old
 * instance logs that and serves on. */
START_TEST(successor_runs_the_new_build)
{
	const char *bin = getenv("HELLOD_BIN");
	char copy[96], next[112], cmd[512];
	snprintf(copy, sizeof(copy), "/tmp/hellod-bin-%d", (int)getpid());
	snprintf(next, sizeof(next), "%s.new", copy);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", bin ? bin : "build/hellod",
		 copy);
	ck_assert_int_eq(system(cmd), 0);
	setenv("HELLOD_BIN", copy, 1);
	struct test_server srv;
	server_start(&srv, "-w 1");
	rewrite_file(next, "#!/bin/sh\nexit 3\n");
	ck_assert_int_eq(chmod(next, 0755), 0);
	ck_assert_int_eq(rename(next, copy), 0); /* as an install does */
	char out[4096];
	usr2_expecting_failure(&srv, out, sizeof(out));
	ck_assert_msg(strstr(out, " exited with status 3 before serving; "
				  "still serving\n"),
		      "got: %s", out);
	ck_assert_int_eq(get_status(srv.port), 200);
	ck_assert_int_eq(server_stop(&srv, 5000), 0);
	unlink(copy);
}
END_TEST

/* Two workers hand their two sockets to one worker (it takes both),
 * that one to three workers (the third shares one), and back to two,
 * under load, with no request lost. */
START_TEST(successor_with_other_worker_count)
{
	become_subreaper();
	char pid_path[96], conf_path[64], text[128];
	struct test_server srv;
	start_with_files(&srv, "workers 2\ndrain_grace 0ms\n", conf_path,
			 pid_path);
	struct load load;
	load_start(&load, srv.port, INFLIGHT, 10000, 500000);
	const int counts[] = {1, 3, 2};
	for (int i = 0; i < 3; i++) {
		usleep(150 * 1000);
		snprintf(text, sizeof(text), "workers %d\ndrain_grace 0ms\n",
			 counts[i]);
		rewrite_file(conf_path, text);
		srv.pid = hand_over(srv.pid, pid_path);
	}
	usleep(150 * 1000);
	load_finish(&load);
	load_report(&load, "worker counts 2 -> 1 -> 3 -> 2");
	char out[8192] = "";
	read_stderr(srv.stderr_fd, out, sizeof(out), 100);
	ck_assert_msg(strstr(out, "; 3 workers,"), "banners: %s", out);
	ck_assert_int_eq(server_stop(&srv, 5000), 0);
	unlink(conf_path);
	ck_assert_msg(load.failed == 0, "%ld of %ld requests failed; first: %s",
		      load.failed, load.ok + load.failed, load.first_failure);
}
END_TEST

Suite *handoff_suite(void)
{
	Suite *s = suite_create("handoff");
	TCase *tc = tcase_create("restart");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, pid_file_written_rewritten_removed);
	tcase_add_test(tc, failed_successor_leaves_old_serving);
	tcase_add_test(tc, successor_runs_the_new_build);
	tcase_add_test(tc, successor_with_other_worker_count);
	tcase_add_test(tc, handoff_20_restarts_under_load);
	tcase_add_test(tc, handoff_20_restarts_under_load_uring);
	tcase_add_test(tc, activation_20_restarts_under_load);
	suite_add_tcase(s, tc);
	return s;
}
