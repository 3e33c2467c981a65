/* harness.h — helpers for integration tests: run the real build/hellod on
 * an ephemeral loopback port and talk to it over raw sockets. */
#ifndef HELLOD_TESTS_HARNESS_H
#define HELLOD_TESTS_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "resp_check.h"

struct test_server {
	pid_t pid;
	int port;
	int stderr_fd; /* the server's stderr, for tests that read it */
	char banner[512];
};

/* Starts HELLOD_BIN with "-l 127.0.0.1:0" plus the words of `args`
 * (space-separated, may be NULL) and waits for its banner. Fails the test
 * (ck_abort) when it does not start within 5 s. */
void server_start(struct test_server *s, const char *args);
/* server_start with args formatted printf-style. */
__attribute__((format(printf, 2, 3))) void server_startf(struct test_server *s,
							 const char *fmt, ...);
/* The same with RLIMIT_NOFILE set to nofile in the child (0: unchanged).
 * With HELLOD_VALGRIND set, either runs the server under valgrind
 * memcheck, whose errors and leaks turn the exit status into 99. */
void server_start_nofile(struct test_server *s, const char *args, int nofile);
/* Runs with `-c FILE` (conf_text written to a temporary file) and args,
 * without the -l flag: the config's listen lines apply. The first of them
 * must be 127.0.0.1 for s->port. */
void server_start_conf(struct test_server *s, const char *conf_text,
		       const char *args);
/* server_start_conf with the command run under the words of `wrapper`
 * ("strace -f -o FILE", say) instead of valgrind: s->pid is the
 * wrapper's, not the server's. */
void server_start_conf_wrapped(struct test_server *s, const char *conf_text,
			       const char *args, const char *wrapper);
/* Plays systemd's part in socket activation: runs with `-c FILE`
 * (conf_text) and args, with the listening socket `sock` as descriptor
 * 3 and LISTEN_FDS=1, LISTEN_PID set to the server's pid (a /bin/sh
 * wrapper that execs it, so the pid is the server's). */
void server_start_activated(struct test_server *s, int sock,
			    const char *conf_text, const char *args);
/* True when the server runs under valgrind (slow: tests relax timing). */
bool server_under_valgrind(void);
/* The only child of parent: the server a wrapper (strace) started; fails
 * the test after 2 s without one. */
pid_t child_pid(pid_t parent);
/* SIGINT, then waits up to timeout_ms; returns the exit status, or -1
 * when it had to be killed. */
int server_stop(struct test_server *s, int timeout_ms);
/* server_stop, keeping what the server wrote to stderr after its banner
 * (the --stats table, say) in out. */
int server_stop_output(struct test_server *s, int timeout_ms, char *out,
		       size_t outlen);
/* Runs a shell command to its end, its stdout and stderr in out;
 * returns the exit status (-1: killed by a signal). */
int run_capture(const char *cmd, char *out, size_t outlen);
/* Runs HELLOD_BIN with args (a shell command line's words) to its end,
 * its stdout and stderr in out; returns the exit status (-1: killed). */
int run_hellod(const char *args, char *out, size_t outlen);
/* HELLOD_SRCDIR/rel (the source tree, "." when unset), in one of four
 * static buffers used in turn: conf/hellod.conf, docs/hellod.8. */
const char *src_path(const char *rel);
/* A whole file, NUL-terminated, to free; NULL when unreadable. */
char *slurp(const char *path);
/* Writes text to a new temporary file; returns its path (static). */
const char *temp_file(const char *text);
/* Reads a "Key:   value kB" line of /proc/PID/status; -1 if missing. */
long proc_status_kb(pid_t pid, const char *key);
/* Open descriptors of pid (entries of /proc/PID/fd). */
int proc_fd_count(pid_t pid);
/* utime + stime of pid in clock ticks (/proc/PID/stat). */
long proc_cpu_ticks(pid_t pid);

/* A listening socket on 127.0.0.1:port (0: any free port), with
 * SO_REUSEADDR and SO_REUSEPORT, as systemd or a test binds one to pass
 * on; and the port a socket is bound to. */
int loopback_listener(int port);
int socket_port(int fd);

/* A blocking TCP connection to 127.0.0.1:port with a receive timeout. */
int connect_port(int port);
void send_all(int fd, const void *data, size_t len);
void send_str(int fd, const char *s);

struct response {
	int status;
	char head[4096]; /* status line and headers, NUL-terminated */
	char *body;	 /* heap, body_len bytes + NUL */
	size_t body_len;
};

/* Reads one response (Content-Length framed) within timeout_ms. Returns
 * false on timeout, EOF or a malformed response. Responses of one
 * connection must be read with the same reader. Every byte a reader
 * receives goes through its strict checker (resp_check.h) as it
 * arrives; a violation, or a clean EOF inside a response, fails the
 * test there and then. */
struct reader {
	int fd;
	bool head; /* responses answer HEAD: no body despite Content-Length */
	char *buf;
	size_t len, cap;
	struct resp_check check;
};
/* Checks bytes read from hellod some other way than through a reader;
 * fails the test on a violation. */
void check_received(struct resp_check *c, const char *data, size_t len);
/* The stream ended cleanly (EOF): fails the test inside a response. */
void check_received_eof(struct resp_check *c);
void reader_init(struct reader *r, int fd);
void reader_free(struct reader *r);
/* connect_port + reader_init; returns the fd. client_close undoes both. */
int client_open(struct reader *r, int port);
void client_close(struct reader *r);
bool read_response(struct reader *r, struct response *resp, int timeout_ms);
void response_free(struct response *resp);
/* Case-insensitive: the value of header `name` in resp->head, or NULL. */
const char *header_value(const struct response *resp, const char *name,
			 char *out, size_t outlen);
/* True when the peer closed (EOF or reset) within timeout_ms, after any
 * buffered bytes in the reader. */
bool peer_closed(struct reader *r, int timeout_ms);

/* Waits up to ms until the file at path holds needle; returns its text
 * (slurp's, to free), or NULL. */
char *wait_for_file_text(const char *path, const char *needle, int ms);

/* Milliseconds on a monotonic clock. */
long long now_ms(void);

#endif
