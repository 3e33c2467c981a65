/* proxy_protocol.h — the PROXY protocol header a load balancer sends
 * before the client's bytes (v1 text, v2 binary), carrying the real
 * client address. See haproxy's doc/proxy-protocol.txt. */
#ifndef HELLOD_PROXY_PROTOCOL_H
#define HELLOD_PROXY_PROTOCOL_H

#include <stddef.h>

#include "hellod/peer.h"

/* Longest header hellod accepts: v1 is at most 107 bytes; v2 is 16 plus
 * its length, and TLVs beyond the addresses are skipped up to this. */
#define HD_PROXY_MAX 536

enum {
	HD_PROXY_NEED_MORE = 0, /* a valid prefix; wait for more bytes */
	HD_PROXY_INVALID = -1,	/* not a PROXY header: close */
};

/* Parses a PROXY header at the start of data. Returns its length (> 0)
 * and fills *peer with the source address (left untouched for LOCAL or
 * UNKNOWN, which mean "use the connection's own address"), or
 * HD_PROXY_NEED_MORE, or HD_PROXY_INVALID. */
int hd_proxy_parse(const char *data, size_t len, struct hd_peer *peer);

#endif
