/* harness.c — start and stop the real server; a tiny HTTP/1.1 client. */
#include "harness.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <dirent.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *server_binary(void)
{
	const char *bin = getenv("HELLOD_BIN");
	return bin ? bin : "build/hellod";
}

static int split_args(char *copy, char **argv, int max)
{
	int n = 0;
	for (char *tok = strtok(copy, " "); tok && n < max;
	     tok = strtok(NULL, " "))
		argv[n++] = tok;
	return n;
}

bool server_under_valgrind(void)
{
	const char *v = getenv("HELLOD_VALGRIND");
	return v && *v;
}

/* Reads the server's stderr until the banner line names the port. */
static void wait_for_banner(struct test_server *s)
{
	size_t len = 0;
	long long deadline =
		now_ms() + (server_under_valgrind() ? 60000 : 5000);
	while (now_ms() < deadline && len < sizeof(s->banner) - 1) {
		struct pollfd pfd = {.fd = s->stderr_fd, .events = POLLIN};
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		ssize_t n = read(s->stderr_fd, s->banner + len,
				 sizeof(s->banner) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		s->banner[len] = '\0';
		const char *at = strstr(s->banner, "listening on 127.0.0.1:");
		if (at && strchr(at, '\n')) {
			s->port = atoi(at + strlen("listening on 127.0.0.1:"));
			return;
		}
	}
	kill(s->pid, SIGKILL);
	waitpid(s->pid, NULL, 0);
	ck_abort_msg("hellod did not start: '%s'", s->banner);
}

static const char *const valgrind_argv[] = {"valgrind",
					    "--quiet",
					    "--error-exitcode=99",
					    "--leak-check=full",
					    "--show-leak-kinds=all",
					    "--errors-for-leak-kinds=all",
					    "--track-fds=no"};
#define VALGRIND_ARGC (int)(sizeof(valgrind_argv) / sizeof(valgrind_argv[0]))

static void start_server(struct test_server *s, const char *args, int nofile,
			 bool listen_flag, const char *wrapper,
			 int activate_fd);

void server_start(struct test_server *s, const char *args)
{
	start_server(s, args, 0, true, NULL, -1);
}

void server_start_nofile(struct test_server *s, const char *args, int nofile)
{
	start_server(s, args, nofile, true, NULL, -1);
}

static void start_conf(struct test_server *s, const char *conf_text,
		       const char *args, const char *wrapper, int activate_fd)
{
	char all[512];
	snprintf(all, sizeof(all), "-c %s %s", temp_file(conf_text),
		 args ? args : "");
	start_server(s, all, 0, false, wrapper, activate_fd);
}

void server_start_conf(struct test_server *s, const char *conf_text,
		       const char *args)
{
	start_conf(s, conf_text, args, NULL, -1);
}

void server_start_conf_wrapped(struct test_server *s, const char *conf_text,
			       const char *args, const char *wrapper)
{
	start_conf(s, conf_text, args, wrapper, -1);
}

void server_start_activated(struct test_server *s, int sock,
			    const char *conf_text, const char *args)
{
	start_conf(s, conf_text, args, NULL, sock);
}

/* sd_listen_fds(3): the sockets from descriptor 3, LISTEN_PID the pid
 * of the process that is to take them; sh's $$ is that pid after exec. */
static const char *const activate_argv[] = {
	"/bin/sh", "-c", "export LISTEN_FDS=1 LISTEN_PID=$$; exec \"$@\"",
	"sh"};
#define ACTIVATE_ARGC (int)(sizeof(activate_argv) / sizeof(activate_argv[0]))

static void start_server(struct test_server *s, const char *args, int nofile,
			 bool listen_flag, const char *wrapper, int activate_fd)
{
	char copy[512] = "", wrap_copy[256] = "";
	char *argv[48 + VALGRIND_ARGC + ACTIVATE_ARGC];
	int argc = 0;
	if (activate_fd >= 0)
		for (; argc < ACTIVATE_ARGC; argc++)
			argv[argc] = (char *)activate_argv[argc];
	if (wrapper) {
		snprintf(wrap_copy, sizeof(wrap_copy), "%s", wrapper);
		argc += split_args(wrap_copy, argv + argc, 8);
	} else if (server_under_valgrind()) {
		for (int i = 0; i < VALGRIND_ARGC; i++)
			argv[argc++] = (char *)valgrind_argv[i];
	}
	argv[argc++] = (char *)server_binary();
	if (listen_flag) {
		argv[argc++] = "-l";
		argv[argc++] = "127.0.0.1:0";
	}
	if (args)
		snprintf(copy, sizeof(copy), "%s", args);
	argc += split_args(copy, argv + argc, 35);
	const char *mode = getenv("HELLOD_TEST_MODE_ARGS");
	char mode_copy[256] = "";
	if (mode) {
		snprintf(mode_copy, sizeof(mode_copy), "%s", mode);
		argc += split_args(mode_copy, argv + argc,
				   39 + VALGRIND_ARGC - argc);
	}
	argv[argc] = NULL;
	int pipefd[2];
	ck_assert_int_eq(pipe2(pipefd, O_CLOEXEC), 0);
	memset(s, 0, sizeof(*s));
	s->pid = fork();
	/* No Check call in the child before exec: Check's asserts take a
	 * mutex another test thread (a load generator) may hold at fork. */
	if (s->pid == 0) {
		/* A test that fails (Check's child _exits) or times out
		 * (SIGKILL) must not leave its server running. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(pipefd[1], STDERR_FILENO);
		/* dup2 onto itself would keep close-on-exec */
		if (activate_fd == 3)
			fcntl(3, F_SETFD, 0);
		else if (activate_fd >= 0 && dup2(activate_fd, 3) < 0)
			_exit(125);
		struct rlimit lim = {(rlim_t)nofile, (rlim_t)nofile};
		if (nofile > 0 && setrlimit(RLIMIT_NOFILE, &lim))
			_exit(126);
		execvp(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	ck_assert_int_ge(s->pid, 0);
	close(pipefd[1]);
	s->stderr_fd = pipefd[0];
	wait_for_banner(s);
}

void server_startf(struct test_server *s, const char *fmt, ...)
{
	char args[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	server_start(s, args);
}

int server_stop(struct test_server *s, int timeout_ms)
{
	return server_stop_output(s, timeout_ms, NULL, 0);
}

/* Appends what the server's stderr holds now to out (if any). */
static void drain_stderr(struct test_server *s, char *out, size_t outlen,
			 size_t *len)
{
	char sink[4096];
	for (;;) {
		struct pollfd pfd = {.fd = s->stderr_fd, .events = POLLIN};
		if (poll(&pfd, 1, 0) <= 0)
			return;
		char *to = out && *len + 1 < outlen ? out + *len : sink;
		size_t room = out && *len + 1 < outlen ? outlen - 1 - *len
						       : sizeof(sink);
		ssize_t n = read(s->stderr_fd, to, room);
		if (n <= 0)
			return;
		if (to != sink) {
			*len += (size_t)n;
			out[*len] = '\0';
		}
	}
}

int server_stop_output(struct test_server *s, int timeout_ms, char *out,
		       size_t outlen)
{
	int status = -1;
	size_t len = 0;
	if (out && outlen)
		out[0] = '\0';
	if (server_under_valgrind())
		timeout_ms += 30000;
	/* SIGINT stops at once; SIGTERM would drain for drain_grace first
	 * (tests of draining send it themselves). */
	kill(s->pid, SIGINT);
	long long deadline = now_ms() + timeout_ms;
	while (now_ms() < deadline) {
		drain_stderr(s, out, outlen, &len);
		pid_t r = waitpid(s->pid, &status, WNOHANG);
		if (r == s->pid) {
			drain_stderr(s, out, outlen, &len);
			close(s->stderr_fd);
			return WIFEXITED(status) ? WEXITSTATUS(status)
						 : 128 + WTERMSIG(status);
		}
		usleep(10 * 1000);
	}
	kill(s->pid, SIGKILL);
	waitpid(s->pid, NULL, 0);
	close(s->stderr_fd);
	return -1;
}

int loopback_listener(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	int on = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on));
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 4096), 0);
	return fd;
}

int socket_port(int fd)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	return ntohs(sa.sin_port);
}

int connect_port(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_msg(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0,
		      "connect: %s", strerror(errno));
	return fd;
}

void send_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		ck_assert_msg(n > 0, "send: %s", strerror(errno));
		p += n;
		len -= (size_t)n;
	}
}

void send_str(int fd, const char *s)
{
	send_all(fd, s, strlen(s));
}

void reader_init(struct reader *r, int fd)
{
	memset(r, 0, sizeof(*r));
	r->fd = fd;
	resp_check_init(&r->check);
}

void check_received(struct resp_check *c, const char *data, size_t len)
{
	if (!resp_check_feed(c, data, len))
		ck_abort_msg("malformed response from hellod: %s", c->error);
}

void check_received_eof(struct resp_check *c)
{
	if (!resp_check_eof(c))
		ck_abort_msg("malformed response from hellod: %s", c->error);
}

void reader_free(struct reader *r)
{
	free(r->buf);
	r->buf = NULL;
	r->len = r->cap = 0;
}

int client_open(struct reader *r, int port)
{
	int fd = connect_port(port);
	reader_init(r, fd);
	return fd;
}

void client_close(struct reader *r)
{
	close(r->fd);
	reader_free(r);
}

/* Reads more bytes into r within the deadline. 1: got some, 0: EOF,
 * -1: timeout or error. */
static int fill(struct reader *r, long long deadline)
{
	if (r->cap - r->len < 65536) {
		r->cap = r->cap ? r->cap * 2 : 131072;
		r->buf = realloc(r->buf, r->cap);
		ck_assert_ptr_nonnull(r->buf);
	}
	for (;;) {
		long long left = deadline - now_ms();
		if (left <= 0)
			return -1;
		struct pollfd pfd = {.fd = r->fd, .events = POLLIN};
		int pr = poll(&pfd, 1, (int)left);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0)
			return -1;
		ssize_t n = recv(r->fd, r->buf + r->len, r->cap - r->len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == ECONNRESET ? 0 : -1;
		/* A reset may cut a response short; a clean EOF may not. */
		r->check.head = r->head;
		if (n == 0)
			check_received_eof(&r->check);
		check_received(&r->check, r->buf + r->len, (size_t)n);
		r->len += (size_t)n;
		return n > 0;
	}
}

const char *header_value(const struct response *resp, const char *name,
			 char *out, size_t outlen)
{
	size_t nlen = strlen(name);
	for (const char *line = strstr(resp->head, "\r\n"); line;
	     line = strstr(line + 2, "\r\n")) {
		const char *start = line + 2;
		if (strncasecmp(start, name, nlen) == 0 && start[nlen] == ':') {
			const char *v = start + nlen + 1;
			while (*v == ' ')
				v++;
			size_t vlen = strcspn(v, "\r");
			if (vlen >= outlen)
				vlen = outlen - 1;
			memcpy(out, v, vlen);
			out[vlen] = '\0';
			return out;
		}
	}
	return NULL;
}

/* Parses one complete response at the front of r->buf, if there is one. */
static bool take_response(struct reader *r, struct response *resp)
{
	char *end = r->len ? memmem(r->buf, r->len, "\r\n\r\n", 4) : NULL;
	if (!end)
		return false;
	size_t head_len = (size_t)(end - r->buf) + 4;
	ck_assert_uint_lt(head_len, sizeof(resp->head));
	memcpy(resp->head, r->buf, head_len);
	resp->head[head_len] = '\0';
	char value[64];
	size_t body_len = 0;
	if (header_value(resp, "Content-Length", value, sizeof(value)))
		body_len = strtoul(value, NULL, 10);
	/* A HEAD response says Content-Length but carries no body. */
	if (r->head || strncmp(resp->head, "HTTP/1.1 100", 12) == 0)
		body_len = 0;
	if (r->len < head_len + body_len)
		return false;
	resp->status = atoi(resp->head + 9);
	resp->body = malloc(body_len + 1);
	memcpy(resp->body, r->buf + head_len, body_len);
	resp->body[body_len] = '\0';
	resp->body_len = body_len;
	memmove(r->buf, r->buf + head_len + body_len,
		r->len - head_len - body_len);
	r->len -= head_len + body_len;
	return true;
}

bool read_response(struct reader *r, struct response *resp, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	memset(resp, 0, sizeof(*resp));
	while (!take_response(r, resp))
		if (fill(r, deadline) <= 0)
			return false;
	return true;
}

void response_free(struct response *resp)
{
	free(resp->body);
	resp->body = NULL;
}

bool peer_closed(struct reader *r, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	for (;;) {
		int got = fill(r, deadline);
		if (got == 0)
			return true;
		if (got < 0)
			return false;
	}
}

int run_capture(const char *cmd, char *out, size_t outlen)
{
	char full[4096];
	snprintf(full, sizeof(full), "%s 2>&1", cmd);
	FILE *p = popen(full, "r");
	ck_assert_ptr_nonnull(p);
	size_t n = fread(out, 1, outlen - 1, p);
	out[n] = '\0';
	int status = pclose(p);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int run_hellod(const char *args, char *out, size_t outlen)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "%s %s", server_binary(), args);
	return run_capture(cmd, out, outlen);
}

const char *src_path(const char *rel)
{
	/* A few in turn, so that one call may use several. */
	static char paths[4][512];
	static unsigned next;
	char *path = paths[next++ % 4];
	const char *src = getenv("HELLOD_SRCDIR");
	snprintf(path, sizeof(paths[0]), "%s/%s", src ? src : ".", rel);
	return path;
}

char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	size_t cap = 65536, len = 0, n;
	char *text = malloc(cap + 1);
	while (text && (n = fread(text + len, 1, cap - len, f)) > 0) {
		len += n;
		if (len == cap) {
			char *grown = realloc(text, 2 * cap + 1);
			if (!grown) {
				free(text);
				text = NULL;
				break;
			}
			text = grown;
			cap *= 2;
		}
	}
	fclose(f);
	if (text)
		text[len] = '\0';
	return text;
}

const char *temp_file(const char *text)
{
	static char path[64];
	strcpy(path, "/tmp/hellod-test-XXXXXX");
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

char *wait_for_file_text(const char *path, const char *needle, int ms)
{
	long long deadline = now_ms() + ms;
	for (;;) {
		char *text = slurp(path);
		if (text && strstr(text, needle))
			return text;
		free(text);
		if (now_ms() > deadline)
			return NULL;
		usleep(50 * 1000);
	}
}

long proc_status_kb(pid_t pid, const char *key)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	long kb = -1;
	size_t klen = strlen(key);
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen) && line[klen] == ':') {
			kb = strtol(line + klen + 1, NULL, 10);
			break;
		}
	if (f)
		fclose(f);
	return kb;
}

int proc_fd_count(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	ck_assert_ptr_nonnull(d);
	int n = 0;
	for (struct dirent *e; (e = readdir(d)) != NULL;)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

long proc_cpu_ticks(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* Fields after the ")" that ends the command name: state is field
	 * 3, utime 14 and stime 15. */
	char *p = strrchr(buf, ')');
	ck_assert_ptr_nonnull(p);
	unsigned long utime = 0, stime = 0;
	ck_assert_int_eq(sscanf(p + 2,
				"%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u "
				"%*u %lu %lu",
				&utime, &stime),
			 2);
	return (long)(utime + stime);
}

/* The only child of parent (a wrapped server's pid, under strace). */
pid_t child_pid(pid_t parent)
{
	char path[64], text[64] = "";
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)parent,
		 (int)parent);
	for (int i = 0; i < 100 && !text[0]; i++) {
		FILE *f = fopen(path, "r");
		if (f) {
			if (!fgets(text, sizeof(text), f))
				text[0] = '\0';
			fclose(f);
		}
		if (!text[0])
			usleep(20 * 1000);
	}
	ck_assert_msg(text[0], "no child of %d", (int)parent);
	return (pid_t)atoi(text);
}
