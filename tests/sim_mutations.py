#!/usr/bin/env python3
"""sim_mutations.py — proves the simulator can fail.

Each mutation below undoes one rule of src/conn.c (the bug it once had,
or the one it would have without the rule). For each, this script puts
the mutated conn.c in place, builds the test runner in build/mut (asserts
compiled out, so the simulator's own checks must catch it), runs the
simulator suite over SIM_SEEDS seeds (3000, as make test does) and
restores conn.c. Every mutation must be caught; the script exits 1 if
one is not. Not part of make test: run it after changing conn.c or
tests/sim.c:  python3 tests/sim_mutations.py [NAME-PREFIX ...]
"""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "src", "conn.c")

MUTATIONS = {
 'M1 dead scratch kept': ("""	if (!scratch->len || c->state == HD_CONN_DEAD) {
		hd_buf_clear(scratch);
		return;
	}""","""	if (!scratch->len || c->state == HD_CONN_DEAD)
		return;"""),
 'M2 no output bound': ("	return used < bound ? bound - used : 0;","	(void)used; (void)bound; return SIZE_MAX / 4;"),
 'M3 FIN lost while paused': ("""	c->flags |= HD_CONN_F_HUP;
	if (emptied)""","""	if (c->state == HD_CONN_PAUSED)
		return;
	c->flags |= HD_CONN_F_HUP;
	if (emptied)"""),
 'M8 FIN lost across read turns': ("""	if (c->flags & HD_CONN_F_HUP)
		peer_finished(c);
	return READ_DRAINED;""","""	(void)c;
	return READ_DRAINED;"""),
 'M9 header deadline not renewed': ("""			       : answered;""","""			       : false;"""),
 'M4 no lingering': ("	if (loop->cfg->lingering_time_ms && input_may_wait(loop, c, &probed))","	if (0 && input_may_wait(loop, c, &probed))"),
 'M5 no read budget': ("		if (!loop->reads_left) {","		if (0) {"),
 'M7 level READ while paused': ("	if (c->state == HD_CONN_READING || c->state == HD_CONN_LINGERING)\n		want |= HD_EV_READ;","	if (c->state != HD_CONN_DEAD)\n		want |= HD_EV_READ;"),
 'M16 rest of a borrowed answer taken from data': ("	    hd_chunk_append(&c->out, bytes + sent, scratch->len - sent))","	    hd_chunk_append(&c->out, scratch->data + sent, scratch->len - sent))"),
 'M15 borrow outlives the event': ("	    hd_chunk_append(&c->out, bytes + sent, scratch->len - sent))\n		fail(c);\n	hd_buf_clear(scratch);","	    hd_chunk_append(&c->out, bytes + sent, scratch->len - sent))\n		fail(c);\n	scratch->len = 0;"),
}
MUTATIONS['M10 drain closes at once']=('''	if (!(c->flags & HD_CONN_F_DRAINED) && loop->reads_left) {
		read_while(loop, c, HD_CONN_READING, true);
		emit(loop, c);
	}
	if (hd_conn_is_spent(c))
		begin_closing(c, false);
}''','''	c->state = HD_CONN_DEAD;
}''')
# Rare in the schedule: the simulator needs ~27,000 seeds to meet it
# (tests/test_attacks.c has a direct test for it).
MUTATIONS['M12 level full read marks input unread']=('''	if (c->state == keep_reading && !loop->cfg->read_once)
		return loop->poller->edge ? READ_MORE : READ_STOPPED;''', '''	if (c->state == keep_reading && !loop->cfg->read_once &&
	    loop->poller->edge)
		return READ_MORE;''', 30000)
MUTATIONS['M13 refused poller change ignored']=('''		if (hd_poller_mod(loop->poller, c->fd, c, want))
			fail(c);''', '''		(void)hd_poller_mod(loop->poller, c->fd, c, want);''')
# read_after_accept: a connection that outlives its first read must join
# the poller, or nothing ever wakes it again.
MUTATIONS['M14 read after accept never watched']=('''	if (c->state != HD_CONN_DEAD && (c->flags & HD_CONN_F_UNWATCHED))
		watch(loop, c);''', '''	if (c->state != HD_CONN_DEAD && (c->flags & HD_CONN_F_UNWATCHED))
		c->flags &= (uint16_t)~HD_CONN_F_UNWATCHED, (void)watch;''')
MUTATIONS['M11 keepalive timeout resets']=('''		if (c->state == HD_CONN_READING && !c->out)
			begin_closing(c, false);
		else
			fail(c);''','''		fail(c);''')


def main():
    only = sys.argv[1:]
    seeds = os.environ.get("SIM_SEEDS", "3000")
    orig = open(SRC).read()
    missed = []
    try:
        for name, (before, after, *more) in MUTATIONS.items():
            seeds_here = str(more[0]) if more else seeds
            if only and not any(name.startswith(o) for o in only):
                continue
            if before not in orig:
                print(f"{name}: its code is gone from conn.c; update the table")
                missed.append(name)
                continue
            open(SRC, "w").write(orig.replace(before, after))
            build = subprocess.run(
                ["make", "-C", ROOT, "BUILD=build/mut",
                 "CFLAGS=-O2 -g -DNDEBUG", "build/mut/run_tests"],
                capture_output=True, text=True)
            if build.returncode:
                print(f"{name}: does not build\n{build.stderr[-2000:]}")
                missed.append(name)
                continue
            run = subprocess.run(
                [os.path.join(ROOT, "build/mut/run_tests")],
                env=dict(os.environ, CK_RUN_SUITE="sim", SIM_SEEDS=seeds_here),
                capture_output=True, text=True)
            caught = run.returncode != 0
            last = run.stdout.strip().splitlines()[-1] if run.stdout else ""
            print(f"{name}: {'caught' if caught else 'MISSED'}: {last[:220]}",
                  flush=True)
            if not caught:
                missed.append(name)
    finally:
        open(SRC, "w").write(orig)
    print(f"{len(missed)} missed" if missed else "every mutation caught")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
