/* listen_set.h — every address hellod serves and the sockets behind each,
 * whether inherited (systemd socket activation, or a predecessor's on
 * SIGUSR2) or bound here, and how they are spread over the workers.
 *
 * The rule (docs/operators.md): each `listen` entry adopts the inherited
 * sockets bound to its address (port 0 in the entry: the same host, any
 * port), in order; an entry with none is bound afresh, one SO_REUSEPORT
 * socket per worker, after a handoff or without inheritance, but not
 * under socket activation, where the sockets systemd passed are all that
 * is served. An inherited socket no entry claims is served too, as plain
 * HTTP: closing it would reset the connections queued on it. */
#ifndef HELLOD_LISTEN_SET_H
#define HELLOD_LISTEN_SET_H

#include <stdbool.h>

#include "hellod/config.h"
#include "hellod/listener.h"

#define HD_MAX_GROUPS (2 * HD_MAX_LISTEN)

struct hd_listen_group {
	struct hd_listen_spec spec; /* host, the real port, options */
	int *fds;		    /* the distinct sockets (heap) */
	int count;
	bool inherited;
};

struct hd_listen_set {
	struct hd_listen_group groups[HD_MAX_GROUPS];
	int count;
};

/* Builds the set from cfg's listen entries and the inherited sockets
 * fds[0..n), binding sockets for `workers` workers where needed
 * (bind_missing: see above). Returns 0, or -1 with one line in err. */
int hd_listen_set_build(struct hd_listen_set *set, const struct hd_config *cfg,
			const int *fds, int n, bool bind_missing, int workers,
			char *err, size_t errlen);
/* Worker `id`'s listeners (of `workers`), in *out (heap, to free): its
 * share of each group's sockets when a group has as many as workers or
 * more, else one of them dup()ed, so every worker accepts from every
 * address and owns the fds it closes. Returns the count, or -errno. */
int hd_listen_set_worker(const struct hd_listen_set *set, int id, int workers,
			 struct hd_listener **out);
/* The distinct sockets, for a successor; *out is heap, to free. Returns
 * the count, or -ENOMEM. */
int hd_listen_set_fds(const struct hd_listen_set *set, int **out);
/* Frees the arrays; the fds belong to the workers by then. */
void hd_listen_set_free(struct hd_listen_set *set);

#endif
