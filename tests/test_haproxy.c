/* test_haproxy.c — the proof with a real balancer: HAProxy (with the
 * shipped conf/haproxy.cfg) in front of two hellod instances; a bounded
 * load runs for about 10 s while each instance in turn is sent SIGTERM
 * and started again on its port. Not one request may fail or get a
 * non-2xx answer. The runner adds this suite only when haproxy is
 * installed (make deps installs it) and says so when it is not. */
#include <arpa/inet.h>
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

enum { CLIENTS = 4, LOAD_MS = 10000 };

static const char backend_conf[] = "workers 1\ndrain_grace 1500ms\n"
				   "drain_timeout 10s\n";

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

static void start_backend(struct test_server *s, int port)
{
	char conf[256];
	snprintf(conf, sizeof(conf), "listen 127.0.0.1:%d\n%s", port,
		 backend_conf);
	server_start_conf(s, conf, NULL);
}

static pid_t start_haproxy(int port, int a, int b)
{
	const char *src = getenv("HELLOD_SRCDIR");
	char cfg[512], bind_addr[64], addr_a[64], addr_b[64];
	snprintf(cfg, sizeof(cfg), "%s/conf/haproxy.cfg", src ? src : ".");
	snprintf(bind_addr, sizeof(bind_addr), "127.0.0.1:%d", port);
	snprintf(addr_a, sizeof(addr_a), "127.0.0.1:%d", a);
	snprintf(addr_b, sizeof(addr_b), "127.0.0.1:%d", b);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		setenv("HAPROXY_BIND", bind_addr, 1);
		setenv("HELLOD_A", addr_a, 1);
		setenv("HELLOD_B", addr_b, 1);
		freopen("/tmp/hellod-haproxy-test.log", "w", stderr);
		freopen("/dev/null", "w", stdout);
		execlp("haproxy", "haproxy", "-db", "-f", cfg, (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* Waits until HAProxy answers 200 through both backends' checks. */
static void wait_ready(int port)
{
	long long deadline = now_ms() + 10000;
	while (now_ms() < deadline) {
		usleep(100 * 1000);
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct sockaddr_in sa = {.sin_family = AF_INET,
					 .sin_port = htons((uint16_t)port)};
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		bool up = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		close(fd);
		if (up) {
			usleep(800 * 1000); /* rise 2 at 250 ms */
			return;
		}
	}
	ck_abort_msg("haproxy did not come up");
}

struct tally {
	long ok, failed, non2xx;
};

/* One client: keep-alive requests until the deadline; reconnects when the
 * balancer closes. Writes its tally to `out`. */
static void run_client(int port, long long until, int out)
{
	struct tally t = {0};
	struct reader r;
	bool open = false;
	while (now_ms() < until) {
		if (!open) {
			client_open(&r, port);
			open = true;
		}
		send_str(r.fd, "GET / HTTP/1.1\r\nHost: lb\r\n\r\n");
		struct response resp;
		if (!read_response(&r, &resp, 5000)) {
			t.failed++;
			client_close(&r);
			open = false;
			continue;
		}
		if (resp.status >= 200 && resp.status < 300)
			t.ok++;
		else
			t.non2xx++;
		char v[32];
		if (header_value(&resp, "Connection", v, sizeof(v)) &&
		    !strcmp(v, "close")) {
			client_close(&r);
			open = false;
		}
		response_free(&resp);
	}
	if (open)
		client_close(&r);
	if (write(out, &t, sizeof(t)) != sizeof(t))
		_exit(1);
	_exit(0);
}

/* SIGTERM, wait for the drain to end (exit 0), start again. */
static void roll(struct test_server *s, int port)
{
	kill(s->pid, SIGTERM);
	int status;
	ck_assert_int_eq(waitpid(s->pid, &status, 0), s->pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(s->stderr_fd);
	start_backend(s, port);
}

START_TEST(rolling_restart_loses_nothing)
{
	struct test_server a, b;
	int port_a = free_port(), port_b = free_port(), lb = free_port();
	start_backend(&a, port_a);
	start_backend(&b, port_b);
	pid_t haproxy = start_haproxy(lb, port_a, port_b);
	wait_ready(lb);
	int pipefd[2];
	ck_assert_int_eq(pipe(pipefd), 0);
	long long start = now_ms(), until = start + LOAD_MS;
	pid_t clients[CLIENTS];
	for (int i = 0; i < CLIENTS; i++) {
		clients[i] = fork();
		ck_assert_int_ge(clients[i], 0);
		if (clients[i] == 0)
			run_client(lb, until, pipefd[1]);
	}
	usleep(1500 * 1000);
	roll(&a, port_a); /* about 1.5 s of drain */
	usleep(2000 * 1000);
	roll(&b, port_b);
	struct tally total = {0};
	for (int i = 0; i < CLIENTS; i++) {
		struct tally t;
		ck_assert_int_eq(read(pipefd[0], &t, sizeof(t)), sizeof(t));
		waitpid(clients[i], NULL, 0);
		total.ok += t.ok;
		total.failed += t.failed;
		total.non2xx += t.non2xx;
	}
	kill(haproxy, SIGTERM);
	waitpid(haproxy, NULL, 0);
	ck_assert_int_eq(server_stop(&a, 5000), 0);
	ck_assert_int_eq(server_stop(&b, 5000), 0);
	printf("haproxy rolling restart: %ld requests in %lld ms, %ld failed, "
	       "%ld non-2xx\n",
	       total.ok + total.failed + total.non2xx, now_ms() - start,
	       total.failed, total.non2xx);
	fflush(stdout);
	ck_assert_int_gt(total.ok, 1000);
	ck_assert_int_eq(total.failed, 0);
	ck_assert_int_eq(total.non2xx, 0);
}
END_TEST

Suite *haproxy_suite(void)
{
	Suite *s = suite_create("haproxy");
	TCase *tc = tcase_create("rolling");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, rolling_restart_loses_nothing);
	suite_add_tcase(s, tc);
	return s;
}
