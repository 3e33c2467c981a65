/* handoff.h — SIGUSR2: start a successor that inherits the listening
 * sockets, and learn when it serves.
 *
 * The successor is the same binary path (resolved at start, so a new
 * build installed over it is what runs) with the same arguments. It is
 * forked and exec'd with the sockets at descriptors 3.. under systemd's
 * protocol (LISTEN_FDS, LISTEN_PID: sd_listen.h) and the write end of a
 * pipe in HELLOD_HANDOFF_FD, on which it writes one byte once every
 * worker is accepting. Inheritance rather than SCM_RIGHTS: the old
 * instance is the one starting the new one, so the sockets simply stay
 * open across fork and exec, and no socket path, permissions or
 * connection protocol is needed (docs/operators.md). */
#ifndef HELLOD_HANDOFF_H
#define HELLOD_HANDOFF_H

#include <stddef.h>
#include <sys/types.h>

#define HD_HANDOFF_TIMEOUT_MS                                                  \
	10000 /* a successor not serving by then is                            \
	       * stopped */

/* Remembers the binary (/proc/self/exe, resolved now) and the arguments
 * a successor gets. Call once at start. Returns 0, or -errno. */
int hd_handoff_init(char **argv);

struct hd_successor {
	pid_t pid;
	int ready_fd; /* read end of the readiness pipe */
	long long deadline_ms;
};

/* Forks and execs the successor with fds[0..n) as its inherited
 * listeners. Returns 0, or -errno (nothing started). */
int hd_handoff_spawn(const int *fds, int n, struct hd_successor *s);
/* Waits up to wait_ms for the successor. Returns 1 once it serves, 0 when
 * it is still starting, -1 when it failed, with why (one phrase) in why:
 * it exited or was killed before serving, or missed the deadline (then it
 * is killed). After 1 or -1 the successor's pipe is closed. */
int hd_handoff_wait(struct hd_successor *s, int wait_ms, char *why,
		    size_t whylen);
/* Kills a successor that has not reported, and reaps it. */
void hd_handoff_abort(struct hd_successor *s);

/* Successor side: the descriptor HELLOD_HANDOFF_FD names, made
 * close-on-exec, or -1 when this process was not started by a handoff.
 * Unsets the variable. */
int hd_handoff_ready_fd(void);
/* Tells the predecessor that this process serves; closes fd. */
void hd_handoff_report_ready(int fd);

#endif
