/* fuzz_sim.c — libFuzzer target over the connection simulator
 * (tests/sim.c): the input's bytes choose the schedule and the faults —
 * the configuration, each client's requests, the piece sizes, windows,
 * half-closes, resets, EINTRs, timer firings and poller events — and the
 * simulator's rules are checked after every step (make fuzz-sim).
 * When the input runs out, a generator seeded from its length goes on. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "../sim.h"

#define STEPS 400

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sim_rng rng = {.data = data,
			      .len = size,
			      .state = 0x9E3779B97F4A7C15ull ^ size};
	char msg[512];
	if (sim_run(&rng, STEPS, msg, sizeof(msg))) {
		fprintf(stderr, "simulator: %s\n", msg);
		abort();
	}
	return 0;
}
