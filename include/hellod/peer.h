/* peer.h — a client's address, kept compactly in each connection. */
#ifndef HELLOD_PEER_H
#define HELLOD_PEER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct hd_peer {
	uint8_t family; /* AF_INET, AF_INET6, or 0 when unknown */
	uint16_t port;	/* host byte order */
	uint8_t addr[16];
};

#define HD_PEER_TEXT 48 /* room for "[v6 address]:port" */

/* Fills peer from a socket address; unknown families give family 0. */
void hd_peer_from_sockaddr(struct hd_peer *peer, const struct sockaddr *sa);
/* The address alone ("1.2.3.4", "::1", or "-" when unknown). */
void hd_peer_format_addr(const struct hd_peer *peer, char *out, size_t outlen);

#endif
