/* conn.h — a client connection: reading, feeding the HTTP layer, writing.
 *
 * The read side follows the edge-triggered rule: read until the socket is
 * drained (EAGAIN, or a short read, which epoll(7) allows for stream
 * sockets), because no new event comes for bytes already there — but at
 * most HD_READ_BUDGET reads per event, so one client streaming bytes
 * cannot hold the worker; a connection that spends its budget is served
 * again after the other ready connections (hd_conn_run_ready).
 *
 * The responses of an event leave in one write; what the kernel does not
 * take waits in `out` until the poller says the socket is writable. One
 * function queues output, and no request is parsed while `out` is at
 * max_pending_output, so a connection never holds more than that plus
 * one response: past it, reading pauses and the unparsed rest of the
 * input waits in `in` (at most one read's worth) until `out` drains.
 *
 * A connection is in one state at a time (enum hd_conn_state); the
 * transitions are drawn in docs/architecture.md.
 */
#ifndef HELLOD_CONN_H
#define HELLOD_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include "hellod/buf.h"
#include "hellod/http.h"
#include "hellod/loop.h"
#include "hellod/peer.h"
#include "hellod/timer.h"

/* Reads one connection may make per event before others get a turn
 * (libuv allows 32; 16 reads of 64 KiB is 1 MiB per turn). */
#define HD_READ_BUDGET 16

/* What an epoll data pointer points at: the first member of each owner. */
enum hd_handle_type { HD_HANDLE_CONN, HD_HANDLE_LISTENER, HD_HANDLE_WAKE };

enum hd_conn_state {
	HD_CONN_READING,   /* reading requests and answering them */
	HD_CONN_PAUSED,	   /* output at its bound: input parked in `in`,
			    * reading stopped until `out` drains */
	HD_CONN_PEER_DONE, /* the peer's FIN came: write what is queued,
			    * then close */
	HD_CONN_CLOSING,   /* the last answer is queued: write it, then
			    * linger or close */
	HD_CONN_LINGERING, /* write side shut: discard input until the
			    * peer's FIN or a time or byte limit, then close */
	HD_CONN_DEAD,	   /* an error or a limit: close now, write nothing
			    * (never outlives the event that set it) */
};

/* Facts that hold alongside the state. */
enum {
	HD_CONN_F_WBLOCKED = 1 << 0,  /* the kernel refused output; wait */
	HD_CONN_F_WROTE = 1 << 1,     /* the kernel took output this event */
	HD_CONN_F_UNREAD = 1 << 2,    /* the socket may hold bytes no edge
				       * will announce: read them later */
	HD_CONN_F_EOF = 1 << 3,	      /* the peer's FIN is in */
	HD_CONN_F_LEFTOVER = 1 << 4,  /* input was discarded or may follow
				       * the last answer: linger */
	HD_CONN_F_PROXY = 1 << 5,     /* a PROXY header must come first */
	HD_CONN_F_READY = 1 << 6,     /* on the loop's ready list */
	HD_CONN_F_DRAINED = 1 << 7,   /* this event's reads emptied the
				       * socket */
	HD_CONN_F_HUP = 1 << 8,	      /* the poller saw the peer's FIN: it
				       * waits behind the unread bytes */
	HD_CONN_F_UNWATCHED = 1 << 9, /* not yet registered with the
				       * poller (read_after_accept) */
};

struct hd_conn {
	uint8_t type;	  /* HD_HANDLE_CONN */
	uint8_t interest; /* HD_EV_* registered with the poller */
	uint8_t state;	  /* enum hd_conn_state */
	uint16_t flags;	  /* HD_CONN_F_* */
	int fd;
	uint32_t discard_left;	     /* lingering: bytes still to drop, +1 */
	struct hd_chunk *out;	     /* output the kernel has not taken yet */
	struct hd_chunk *in;	     /* input parked (paused, PROXY header) */
	struct hd_conn *prev, *next; /* the loop's list of connections */
	struct hd_conn *ready_prev, *ready_next; /* the ready list */
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
	HD_TIMEOUT_LINGER,    /* lingering close: lingering_time is up */
};

/* Takes over an accepted, nonblocking fd. Returns NULL (fd closed, the
 * poller's -errno in *err, or -ENOMEM) when it cannot. */
struct hd_conn *hd_conn_open(struct hd_loop *loop, int fd, int *err);
/* Right after hd_conn_open (and the caller's peer and PROXY flag): with
 * loop->read_after_accept, reads c at once as if the poller had said it
 * was readable, answers what came, and registers c with the poller only
 * if it stays open; may close and free c. Without, does nothing. */
void hd_conn_start(struct hd_loop *loop, struct hd_conn *c);
/* Handles the poller's events (HD_EV_*) for c; may close and free c. */
void hd_conn_on_event(struct hd_loop *loop, struct hd_conn *c, uint32_t events);
/* Serves, once each, the connections that spent their read budget; call
 * after each batch of events (and wait for none while loop->ready). */
void hd_conn_run_ready(struct hd_loop *loop);
/* The loop drains (loop->http.force_close): closes c if it is spent,
 * by the closing path (lingering if input may wait); may free c. */
void hd_conn_on_drain(struct hd_loop *loop, struct hd_conn *c);
/* Closes and frees c at once, whatever it holds. */
void hd_conn_close(struct hd_loop *loop, struct hd_conn *c);
/* True between requests with nothing queued: closing it loses nothing. */
bool hd_conn_is_idle(const struct hd_conn *c);
/* Idle, and has answered at least one request (a drain closes these). */
bool hd_conn_is_spent(const struct hd_conn *c);
/* The connection whose timer t is (its hd_timer.kind is not the loop
 * owner's own). */
struct hd_conn *hd_conn_of_timer(struct hd_timer *t);
/* c's timer fired: answers 408 where a request is under way and nothing
 * else is queued, then closes c (lingering, or after it flushes). */
void hd_conn_on_timeout(struct hd_loop *loop, struct hd_conn *c);

#endif
