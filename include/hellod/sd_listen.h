/* sd_listen.h — sockets passed at exec: systemd socket activation, and a
 * predecessor's listeners on SIGUSR2 (handoff.c), which uses the same
 * protocol.
 *
 * The protocol (sd_listen_fds(3)): LISTEN_PID is the receiving process's
 * pid, LISTEN_FDS the number of descriptors, which start at 3;
 * LISTEN_FDNAMES (optional) names them. */
#ifndef HELLOD_SD_LISTEN_H
#define HELLOD_SD_LISTEN_H

#define HD_SD_LISTEN_FDS_START 3

/* Returns how many descriptors were passed to this process (0 when none,
 * or when LISTEN_PID names another process), and marks them
 * close-on-exec. Unsets LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES in
 * every case, so nothing this process starts mistakes them for its own.
 * Returns -EINVAL for a malformed LISTEN_FDS, -EBADF when a descriptor
 * it names is not open. Call before any thread starts (it changes the
 * environment). */
int hd_sd_listen_fds(void);

#endif
