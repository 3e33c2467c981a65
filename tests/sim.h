/* sim.h — a deterministic simulation of many clients on one loop.
 *
 * The real conn.c and http.c run against a simulated socket layer (struct
 * hd_io_ops) and poller, with no kernel. A schedule drawn from a seed
 * (tests/test_sim.c) or from fuzzer input (tests/fuzz/fuzz_sim.c) opens
 * connections, delivers their bytes in pieces of any size, shrinks and
 * grows their send windows, half-closes, resets, injects EINTR, fires
 * timers and delivers poller events (edge or level semantics, spurious
 * ones too). After every step it checks the rules conn.c promises:
 *
 *   - each client has received exactly a prefix of the answers hellod's
 *     HTTP layer gives to that client's own bytes (plus a final 408 where
 *     a timeout fired), never a byte meant for another;
 *   - the scratch is empty between events; queued output stays under
 *     max_pending_output plus one response; parked input under one read;
 *   - nothing is sent after the write side was shut, and nothing is read
 *     or written after close;
 *   - a connection that answered and closes does not leave input unread
 *     while its client still has answers to read (the reset would
 *     destroy them), unless it lingered to the limit;
 *   - no event is wasted in a row without progress while the poller
 *     would report it again (a spin), and nothing is left stuck: once
 *     the clients behave, every connection finishes its answers, and
 *     once time passes, every connection is closed, every timer gone.
 *
 * A broken rule prints what broke, and the seed or input replays it.
 */
#ifndef HELLOD_TESTS_SIM_H
#define HELLOD_TESTS_SIM_H

#include <stddef.h>
#include <stdint.h>

/* Where the schedule's choices come from: the fuzzer's bytes while they
 * last, then (or only) a xorshift generator. */
struct sim_rng {
	const uint8_t *data;
	size_t len, pos;
	uint64_t state;
};

/* Runs one whole simulation. Returns 0 when every rule held; else 1
 * with what broke in msg. `steps` bounds the hostile phase. */
int sim_run(struct sim_rng *rng, int steps, char *msg, size_t msglen);

#endif
