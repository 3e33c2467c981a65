/* test_listen_set.c — tests for src/listen_set.c and src/sd_listen.c:
 * which inherited sockets serve which listen entry, how they are spread
 * over workers, and the LISTEN_* environment. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hellod/listen_set.h"
#include "hellod/sd_listen.h"
#include "harness.h"
#include "suites.h"

static void config(struct hd_config *cfg, const char *text)
{
	char err[HD_ERRLEN];
	ck_assert_int_eq(hd_config_defaults(cfg), 0);
	ck_assert_msg(!hd_config_parse_text(cfg, "t", text, err, sizeof(err)),
		      "%s", err);
}

/* A predecessor's two sockets on one port, a port-0 entry: both adopted
 * as one group; one worker takes both, three share (the third a dup). */
START_TEST(inherited_sockets_are_adopted_and_spread)
{
	int a = loopback_listener(0);
	int b = loopback_listener(socket_port(a));
	int fds[] = {a, b};
	struct hd_config cfg;
	config(&cfg, "listen 127.0.0.1:0 proxy_protocol\n");
	struct hd_listen_set set;
	char err[HD_ERRLEN];
	ck_assert_int_eq(hd_listen_set_build(&set, &cfg, fds, 2, true, 3, err,
					     sizeof(err)),
			 0);
	ck_assert_int_eq(set.count, 1);
	ck_assert(set.groups[0].inherited);
	ck_assert_int_eq(set.groups[0].count, 2);
	ck_assert_int_eq(set.groups[0].spec.port, socket_port(a));
	struct hd_listener *ls;
	ck_assert_int_eq(hd_listen_set_worker(&set, 0, 1, &ls), 2);
	ck_assert(ls[0].fd == a && ls[1].fd == b && ls[0].proxy);
	free(ls);
	ck_assert_int_eq(hd_listen_set_worker(&set, 2, 3, &ls), 1);
	ck_assert(ls[0].fd != a && ls[0].fd != b);
	ck_assert_int_eq(socket_port(ls[0].fd),
			 socket_port(a)); /* a dup of a */
	close(ls[0].fd);
	free(ls);
	int *all;
	ck_assert_int_eq(hd_listen_set_fds(&set, &all), 2);
	free(all);
	hd_listen_set_free(&set);
	hd_config_free(&cfg);
	close(a);
	close(b);
}
END_TEST

/* Under activation an entry without a passed socket is not bound; a
 * passed socket no entry claims is served as its own group. */
START_TEST(activation_binds_nothing_and_serves_all_passed)
{
	int a = loopback_listener(0);
	int fds[] = {a};
	struct hd_config cfg;
	config(&cfg, "listen 127.0.0.2:0\n");
	struct hd_listen_set set;
	char err[HD_ERRLEN];
	ck_assert_int_eq(hd_listen_set_build(&set, &cfg, fds, 1, false, 2, err,
					     sizeof(err)),
			 0);
	ck_assert_int_eq(set.count, 1);
	ck_assert_str_eq(set.groups[0].spec.host, "127.0.0.1");
	ck_assert_int_eq(set.groups[0].spec.port, socket_port(a));
	ck_assert(!set.groups[0].spec.proxy_protocol);
	hd_listen_set_free(&set);
	/* A descriptor that is not a listening socket is refused. */
	int notsock[] = {STDIN_FILENO};
	ck_assert_int_eq(hd_listen_set_build(&set, &cfg, notsock, 1, false, 1,
					     err, sizeof(err)),
			 -1);
	ck_assert_ptr_nonnull(strstr(err, "not a listening TCP socket"));
	hd_listen_set_free(&set);
	hd_config_free(&cfg);
	close(a);
}
END_TEST

static int defer_of(int fd)
{
	int v = -1;
	socklen_t len = sizeof(v);
	ck_assert_int_eq(
		getsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &v, &len), 0);
	return v;
}

/* defer_accept sets TCP_DEFER_ACCEPT on every socket hellod binds (one
 * per worker) and leaves an inherited one as it came: the socket unit's
 * DeferAcceptSec= owns that. */
START_TEST(defer_accept_on_bound_sockets_only)
{
	int a = loopback_listener(0);
	int fds[] = {a};
	struct hd_config cfg;
	config(&cfg, "listen 127.0.0.1:0\nlisten 127.0.0.1:0\n"
		     "defer_accept 3s\n");
	struct hd_listen_set set;
	char err[HD_ERRLEN];
	ck_assert_int_eq(hd_listen_set_build(&set, &cfg, fds, 1, true, 2, err,
					     sizeof(err)),
			 0);
	ck_assert_int_eq(set.count, 2);
	ck_assert(set.groups[0].inherited && !set.groups[1].inherited);
	ck_assert_int_eq(defer_of(a), 0);
	ck_assert_int_eq(set.groups[1].count, 2);
	for (int i = 0; i < set.groups[1].count; i++) {
		ck_assert_int_eq(defer_of(set.groups[1].fds[i]), 3);
		close(set.groups[1].fds[i]);
	}
	hd_listen_set_free(&set);
	hd_config_free(&cfg);
	/* Off by default: no option set at all. */
	config(&cfg, "listen 127.0.0.1:0\n");
	ck_assert_int_eq(hd_listen_set_build(&set, &cfg, NULL, 0, true, 1, err,
					     sizeof(err)),
			 0);
	ck_assert_int_eq(defer_of(set.groups[0].fds[0]), 0);
	close(set.groups[0].fds[0]);
	hd_listen_set_free(&set);
	hd_config_free(&cfg);
	close(a);
}
END_TEST

START_TEST(listen_env_for_another_pid_is_ignored_and_unset)
{
	char pid[32];
	snprintf(pid, sizeof(pid), "%d", (int)getpid() + 1);
	setenv("LISTEN_PID", pid, 1);
	setenv("LISTEN_FDS", "1", 1);
	setenv("LISTEN_FDNAMES", "http", 1);
	ck_assert_int_eq(hd_sd_listen_fds(), 0);
	ck_assert_ptr_null(getenv("LISTEN_PID"));
	ck_assert_ptr_null(getenv("LISTEN_FDS"));
	ck_assert_ptr_null(getenv("LISTEN_FDNAMES"));
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	setenv("LISTEN_PID", pid, 1);
	setenv("LISTEN_FDS", "two", 1);
	ck_assert_int_eq(hd_sd_listen_fds(), -EINVAL);
	ck_assert_int_eq(hd_sd_listen_fds(), 0); /* unset by the first */
}
END_TEST

/* shared_listener: one socket bound for two workers, and each worker
 * gets its own descriptor of that one socket (the same port, so the
 * same socket: a second bind of the port without SO_REUSEPORT would
 * have failed). Without it, one socket per worker. */
START_TEST(shared_listener_binds_one_socket_for_all)
{
	struct hd_config cfg;
	config(&cfg, "listen 127.0.0.1:0\nshared_listener on\n");
	struct hd_listen_set set;
	char err[HD_ERRLEN];
	ck_assert_int_eq(hd_listen_set_build(&set, &cfg, NULL, 0, true, 2, err,
					     sizeof(err)),
			 0);
	ck_assert_int_eq(set.count, 1);
	ck_assert_int_eq(set.groups[0].count, 1);
	struct hd_listener *a, *b;
	ck_assert_int_eq(hd_listen_set_worker(&set, 0, 2, &a), 1);
	ck_assert_int_eq(hd_listen_set_worker(&set, 1, 2, &b), 1);
	ck_assert_int_ne(a[0].fd, b[0].fd);
	ck_assert_int_eq(socket_port(a[0].fd), socket_port(b[0].fd));
	close(a[0].fd);
	close(b[0].fd);
	free(a);
	free(b);
	hd_listen_set_free(&set);
	hd_config_free(&cfg);
	config(&cfg, "listen 127.0.0.1:0\n");
	ck_assert_int_eq(hd_listen_set_build(&set, &cfg, NULL, 0, true, 2, err,
					     sizeof(err)),
			 0);
	ck_assert_int_eq(set.groups[0].count, 2);
	int *all;
	ck_assert_int_eq(hd_listen_set_fds(&set, &all), 2);
	for (int i = 0; i < 2; i++)
		close(all[i]);
	free(all);
	hd_listen_set_free(&set);
	hd_config_free(&cfg);
}
END_TEST

Suite *listen_set_suite(void)
{
	Suite *s = suite_create("listen_set");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, inherited_sockets_are_adopted_and_spread);
	tcase_add_test(tc, shared_listener_binds_one_socket_for_all);
	tcase_add_test(tc, activation_binds_nothing_and_serves_all_passed);
	tcase_add_test(tc, listen_env_for_another_pid_is_ignored_and_unset);
	tcase_add_test(tc, defer_accept_on_bound_sockets_only);
	suite_add_tcase(s, tc);
	return s;
}
