/* peer.c — client addresses: from sockaddr, to text. */
#include "hellod/peer.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

void hd_peer_from_sockaddr(struct hd_peer *peer, const struct sockaddr *sa)
{
	memset(peer, 0, sizeof(*peer));
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in4 = (const struct sockaddr_in *)sa;
		peer->family = AF_INET;
		peer->port = ntohs(in4->sin_port);
		memcpy(peer->addr, &in4->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 =
			(const struct sockaddr_in6 *)sa;
		peer->family = AF_INET6;
		peer->port = ntohs(in6->sin6_port);
		memcpy(peer->addr, &in6->sin6_addr, 16);
	}
}

void hd_peer_format_addr(const struct hd_peer *peer, char *out, size_t outlen)
{
	if (!peer || !peer->family ||
	    !inet_ntop(peer->family, peer->addr, out, (socklen_t)outlen))
		snprintf(out, outlen, "-");
}
