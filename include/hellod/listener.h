/* listener.h — listening sockets. */
#ifndef HELLOD_LISTENER_H
#define HELLOD_LISTENER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hellod/config.h"

/* A listening socket as a worker's poller sees it. */
struct hd_listener {
	uint8_t type; /* HD_HANDLE_LISTENER */
	bool proxy;   /* clients send a PROXY protocol header first */
	int fd;
};

/* Opens a nonblocking SO_REUSEPORT listening socket on spec's address and
 * `port` (which may differ from spec->port once port 0 was resolved),
 * with TCP_DEFER_ACCEPT of defer_accept_s seconds unless 0.
 * Returns the fd, or -1 with one line in err. */
int hd_listener_open(const struct hd_listen_spec *spec, uint16_t port,
		     unsigned defer_accept_s, char *err, size_t errlen);
/* The port a bound socket got. Returns 0 on failure. */
uint16_t hd_listener_port(int fd);
/* "127.0.0.1:8080" or "[::1]:8080" */
void hd_listener_format(const struct hd_listen_spec *spec, uint16_t port,
			char *out, size_t outlen);

#endif
