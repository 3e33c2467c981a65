/* handoff.c — starting a successor with our listening sockets, and the
 * readiness pipe between the two (see handoff.h). */
#include "hellod/handoff.h"

#include "hellod/sd_listen.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define READY_ENV "HELLOD_HANDOFF_FD"

static char exe_path[PATH_MAX];
static char **saved_argv;

int hd_handoff_init(char **argv)
{
	ssize_t n = readlink("/proc/self/exe", exe_path, sizeof(exe_path) - 1);
	if (n < 0)
		return -errno;
	exe_path[n] = '\0';
	saved_argv = argv;
	return 0;
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool is_ours(const char *entry)
{
	static const char *const names[] = {
		"LISTEN_PID=", "LISTEN_FDS=", "LISTEN_FDNAMES=", READY_ENV "="};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strncmp(entry, names[i], strlen(names[i])))
			return true;
	return false;
}

/* Only async-signal-safe calls from here to execve: the parent has
 * threads, and the child may hold a copy of a lock one of them held. */
static void write_decimal(char *out, long value)
{
	char digits[24];
	int n = 0;
	do
		digits[n++] = (char)('0' + value % 10);
	while ((value /= 10) > 0);
	while (n > 0)
		*out++ = digits[--n];
	*out = '\0';
}

static void fail_child(const char *what)
{
	static const char prefix[] = "hellod: successor: ";
	/* Best effort: the exit status tells the old instance anyway. */
	if (write(STDERR_FILENO, prefix, sizeof(prefix) - 1) > 0 &&
	    write(STDERR_FILENO, what, strlen(what)) > 0)
		(void)!write(STDERR_FILENO, "\n", 1);
	_exit(127);
}

/* Puts fds[0..n) at 3.. and the pipe right after them, all without
 * close-on-exec; copies first to descriptors above every target, so no
 * dup2 overwrites a descriptor still to be moved. */
static void child_exec(const int *fds, int n, int pipe_fd, char **envp,
		       char *pid_value, int high)
{
	int moved[n + 1];
	for (int i = 0; i <= n; i++) {
		moved[i] = fcntl(i < n ? fds[i] : pipe_fd, F_DUPFD, high);
		if (moved[i] < 0)
			fail_child("cannot move descriptors");
	}
	for (int i = 0; i <= n; i++) {
		if (dup2(moved[i], HD_SD_LISTEN_FDS_START + i) < 0)
			fail_child("cannot move descriptors");
		close(moved[i]);
	}
	write_decimal(pid_value, (long)getpid());
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	sigaction(SIGPIPE, &dfl, NULL);
	execve(exe_path, saved_argv, envp);
	fail_child("cannot exec the binary");
}

int hd_handoff_spawn(const int *fds, int n, struct hd_successor *s)
{
	if (!saved_argv)
		return -EINVAL;
	static char fds_env[32], ready_env[48], pid_env[40];
	snprintf(fds_env, sizeof(fds_env), "LISTEN_FDS=%d", n);
	snprintf(ready_env, sizeof(ready_env), READY_ENV "=%d",
		 HD_SD_LISTEN_FDS_START + n);
	strcpy(pid_env, "LISTEN_PID=");
	size_t count = 0;
	while (environ[count])
		count++;
	char **envp = calloc(count + 4, sizeof(*envp));
	if (!envp)
		return -ENOMEM;
	size_t k = 0;
	for (size_t i = 0; i < count; i++)
		if (!is_ours(environ[i]))
			envp[k++] = environ[i];
	envp[k++] = fds_env;
	envp[k++] = ready_env;
	envp[k++] = pid_env;
	int high = HD_SD_LISTEN_FDS_START + n + 1;
	for (int i = 0; i < n; i++)
		if (fds[i] >= high)
			high = fds[i] + 1;
	/* pipefd: readiness, passed on. execfd: close-on-exec, so its read
	 * end sees EOF once the child has exec'd (or died): from then on it
	 * holds none of our other descriptors (poller.h). Its write end goes
	 * above every descriptor the child moves, so no dup2 closes it. */
	int pipefd[2], execfd[2];
	if (pipe2(pipefd, O_CLOEXEC)) {
		free(envp);
		return -errno;
	}
	if (pipefd[1] >= high)
		high = pipefd[1] + 1;
	if (pipe2(execfd, O_CLOEXEC)) {
		int err = -errno;
		close(pipefd[0]);
		close(pipefd[1]);
		free(envp);
		return err;
	}
	int exec_w = fcntl(execfd[1], F_DUPFD_CLOEXEC, high);
	close(execfd[1]);
	if (exec_w >= high)
		high = exec_w + 1;
	pid_t pid = exec_w < 0 ? -1 : fork();
	if (pid == 0)
		child_exec(fds, n, pipefd[1], envp,
			   pid_env + strlen("LISTEN_PID="), high);
	int err = pid < 0 ? -errno : 0;
	free(envp);
	close(pipefd[1]);
	if (exec_w >= 0)
		close(exec_w);
	if (!err) {
		struct pollfd pfd = {.fd = execfd[0], .events = POLLIN};
		while (poll(&pfd, 1, 2000) < 0 && errno == EINTR)
			;
	}
	close(execfd[0]);
	if (err) {
		close(pipefd[0]);
		return err;
	}
	*s = (struct hd_successor){.pid = pid,
				   .ready_fd = pipefd[0],
				   .deadline_ms =
					   now_ms() + HD_HANDOFF_TIMEOUT_MS};
	return 0;
}

/* The successor closed the pipe without a word: it is exiting. Reaps it
 * (bounded) and says how it ended. */
static void describe_exit(struct hd_successor *s, char *why, size_t whylen)
{
	int status;
	long long deadline = now_ms() + 2000;
	while (waitpid(s->pid, &status, WNOHANG) == 0) {
		if (now_ms() > deadline) {
			kill(s->pid, SIGKILL);
			waitpid(s->pid, &status, 0);
			snprintf(why, whylen,
				 "closed its pipe but did not exit");
			return;
		}
		usleep(5000);
	}
	if (WIFEXITED(status))
		snprintf(why, whylen, "exited with status %d before serving",
			 WEXITSTATUS(status));
	else
		snprintf(why, whylen, "was killed by signal %d before serving",
			 WTERMSIG(status));
}

int hd_handoff_wait(struct hd_successor *s, int wait_ms, char *why,
		    size_t whylen)
{
	long long left = s->deadline_ms - now_ms();
	if (left < 0)
		left = 0;
	struct pollfd pfd = {.fd = s->ready_fd, .events = POLLIN};
	int r = poll(&pfd, 1, wait_ms < left ? wait_ms : (int)left);
	if (r < 0 && errno != EINTR) {
		snprintf(why, whylen, "poll: %s", strerror(errno));
		hd_handoff_abort(s);
		return -1;
	}
	if (r <= 0) {
		if (now_ms() < s->deadline_ms)
			return 0;
		snprintf(why, whylen,
			 "did not serve within %d ms and was stopped",
			 HD_HANDOFF_TIMEOUT_MS);
		hd_handoff_abort(s);
		return -1;
	}
	char byte;
	ssize_t n = read(s->ready_fd, &byte, 1);
	close(s->ready_fd);
	s->ready_fd = -1;
	if (n == 1)
		return 1;
	describe_exit(s, why, whylen);
	return -1;
}

void hd_handoff_abort(struct hd_successor *s)
{
	/* SIGKILL: it has not said it serves, so it must not linger and
	 * start serving after we gave up on it. */
	kill(s->pid, SIGKILL);
	waitpid(s->pid, NULL, 0);
	if (s->ready_fd >= 0)
		close(s->ready_fd);
	s->ready_fd = -1;
}

int hd_handoff_ready_fd(void)
{
	const char *text = getenv(READY_ENV);
	char *end;
	long fd = text ? strtol(text, &end, 10) : -1;
	unsetenv(READY_ENV);
	if (!text || *end || fd < HD_SD_LISTEN_FDS_START || fd > INT_MAX ||
	    fcntl((int)fd, F_SETFD, FD_CLOEXEC))
		return -1;
	return (int)fd;
}

void hd_handoff_report_ready(int fd)
{
	/* A predecessor that gave up has closed its end: EPIPE, and
	 * SIGPIPE is ignored. Nothing to do then. */
	if (write(fd, "R", 1) < 0)
		fprintf(stderr, "hellod: telling the predecessor: %s\n",
			strerror(errno));
	close(fd);
}
