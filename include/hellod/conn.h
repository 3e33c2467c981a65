/* conn.h — a client connection: reading, feeding the HTTP layer, writing.
 *
 * The read side follows the edge-triggered rule: read until the socket is
 * drained (EAGAIN, or a short read, which epoll(7) allows for stream
 * sockets), because no new event comes for bytes already there. The
 * responses of a read batch leave in one write; what the kernel does not
 * take waits in `out` until the poller says the socket is writable. When
 * `out` passes max_pending_output the connection stops reading (and keeps
 * the unparsed rest in `in`) until it drains: backpressure.
 */
#ifndef HELLOD_CONN_H
#define HELLOD_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include "hellod/buf.h"
#include "hellod/http.h"
#include "hellod/peer.h"
#include "hellod/timer.h"

/* What an epoll data pointer points at: the first member of each owner. */
enum hd_handle_type { HD_HANDLE_CONN, HD_HANDLE_LISTENER, HD_HANDLE_WAKE };

struct hd_conn {
	uint8_t type;	  /* HD_HANDLE_CONN */
	uint8_t interest; /* HD_EV_* registered with the poller */
	uint16_t flags;	  /* HD_CONN_F_* */
	int fd;
	struct hd_chunk *out;	     /* output the kernel has not taken yet */
	struct hd_chunk *in;	     /* input parked while output drains */
	struct hd_conn *prev, *next; /* the worker's list of connections */
	struct hd_http http;
	struct hd_peer peer;   /* the client (from the PROXY header if any) */
	struct hd_timer timer; /* the one timeout that applies now */
};

/* Which timeout a connection's timer stands for (hd_timer.kind). */
enum hd_conn_timeout {
	HD_TIMEOUT_NONE,
	HD_TIMEOUT_HEADER,    /* a request must complete (header_timeout) */
	HD_TIMEOUT_BODY,      /* body bytes must keep coming (header_timeout) */
	HD_TIMEOUT_KEEPALIVE, /* idle between requests */
	HD_TIMEOUT_WRITE,     /* the kernel takes none of our output */
};

enum {
	HD_CONN_F_CLOSING = 1 << 0,   /* close once output is written */
	HD_CONN_F_PEER_DONE = 1 << 1, /* the peer will send nothing more */
	HD_CONN_F_BLOCKED = 1 << 2,   /* reading paused: output too large */
	HD_CONN_F_UNREAD = 1 << 3,    /* the socket may hold unread bytes */
	HD_CONN_F_WBLOCKED = 1 << 4,  /* the kernel refused output; wait */
	HD_CONN_F_PROXY = 1 << 6,     /* a PROXY header must come first */
	HD_CONN_F_WROTE = 1 << 5,     /* the kernel took output this event */
};

struct hd_worker;

/* Takes over an accepted, nonblocking fd. Returns NULL (fd closed) when it
 * cannot. */
struct hd_conn *hd_conn_open(struct hd_worker *w, int fd);
/* Handles the poller's events (HD_EV_*) for c; may close and free c. */
void hd_conn_on_event(struct hd_worker *w, struct hd_conn *c, uint32_t events);
void hd_conn_close(struct hd_worker *w, struct hd_conn *c);
/* True between requests with nothing queued: closing it loses nothing. */
bool hd_conn_is_idle(const struct hd_conn *c);
/* Idle, and has answered at least one request (a drain closes these). */
bool hd_conn_is_spent(const struct hd_conn *c);
/* c's timer fired: answers 408 where a request is under way and nothing
 * else is queued, then closes c (or lets it flush first). Counts it. */
void hd_conn_on_timeout(struct hd_worker *w, struct hd_conn *c);

#endif
