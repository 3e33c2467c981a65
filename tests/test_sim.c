/* test_sim.c — src/conn.c and src/http.c against the deterministic
 * socket simulator (tests/sim.c), over many seeds.
 *
 * SIM_SEEDS=N runs N seeds (default 3000); SIM_SEED=S replays seed S
 * alone, which is what a failure message asks for. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "sim.h"
#include "suites.h"

#define STEPS 400

static int run_seed(unsigned seed, char *msg, size_t msglen)
{
	struct sim_rng rng = {.state = seed * 0x9E3779B97F4A7C15ull + 1};
	return sim_run(&rng, STEPS, msg, msglen);
}

static unsigned env_number(const char *name, unsigned fallback)
{
	const char *v = getenv(name);
	return v && *v ? (unsigned)strtoul(v, NULL, 10) : fallback;
}

START_TEST(every_seed_keeps_every_rule)
{
	char msg[512];
	unsigned only = env_number("SIM_SEED", 0);
	unsigned first = only ? only : 1;
	unsigned last = only ? only : env_number("SIM_SEEDS", 3000);
	for (unsigned seed = first; seed <= last; seed++)
		if (run_seed(seed, msg, sizeof(msg)))
			ck_abort_msg("seed %u (replay: SIM_SEED=%u "
				     "CK_RUN_SUITE=sim make test): %s",
				     seed, seed, msg);
}
END_TEST

Suite *sim_suite(void)
{
	Suite *s = suite_create("sim");
	TCase *tc = tcase_create("seeds");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, every_seed_keeps_every_rule);
	suite_add_tcase(s, tc);
	return s;
}
