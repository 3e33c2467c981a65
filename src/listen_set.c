/* listen_set.c — matching inherited sockets to the listen entries,
 * binding the rest, and spreading them over the workers. */
#include "hellod/listen_set.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct inherited {
	int fd;
	struct sockaddr_storage addr;
	bool claimed;
};

/* A passed descriptor must be a listening TCP socket; it is made
 * nonblocking (systemd passes blocking ones unless NonBlocking=yes) and
 * gets TCP_NODELAY for the connections accepted from it. Its
 * TCP_DEFER_ACCEPT is left as it came: the socket unit's DeferAcceptSec=
 * owns it, and a handoff's sockets keep what their first owner set. */
static int inspect(int fd, struct sockaddr_storage *addr, char *err,
		   size_t errlen)
{
	int type = 0, listening = 0, on = 1;
	socklen_t len = sizeof(type);
	socklen_t alen = sizeof(*addr);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) ||
	    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) ||
	    getsockname(fd, (struct sockaddr *)addr, &alen) ||
	    type != SOCK_STREAM || !listening ||
	    (addr->ss_family != AF_INET && addr->ss_family != AF_INET6)) {
		snprintf(err, errlen,
			 "inherited fd %d is not a listening TCP socket", fd);
		return -1;
	}
	int flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK)) {
		snprintf(err, errlen, "inherited fd %d: %s", fd,
			 strerror(errno));
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	return 0;
}

static uint16_t port_of(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

static bool same_host(const struct hd_listen_spec *spec,
		      const struct sockaddr_storage *ss)
{
	unsigned char want[sizeof(struct in6_addr)];
	if (ss->ss_family == AF_INET)
		return inet_pton(AF_INET, spec->host, want) == 1 &&
		       !memcmp(want,
			       &((const struct sockaddr_in *)ss)->sin_addr, 4);
	return inet_pton(AF_INET6, spec->host, want) == 1 &&
	       !memcmp(want, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
}

static void spec_of(const struct sockaddr_storage *ss,
		    struct hd_listen_spec *spec)
{
	memset(spec, 0, sizeof(*spec));
	const void *host =
		ss->ss_family == AF_INET
			? (const void *)&((const struct sockaddr_in *)ss)
				  ->sin_addr
			: (const void *)&((const struct sockaddr_in6 *)ss)
				  ->sin6_addr;
	inet_ntop(ss->ss_family, host, spec->host, sizeof(spec->host));
	spec->port = port_of(ss);
}

static struct hd_listen_group *new_group(struct hd_listen_set *set, int cap,
					 char *err, size_t errlen)
{
	if (set->count >= HD_MAX_GROUPS) {
		snprintf(err, errlen, "more than %d listening addresses",
			 HD_MAX_GROUPS);
		return NULL;
	}
	struct hd_listen_group *g = &set->groups[set->count];
	memset(g, 0, sizeof(*g));
	g->fds = calloc((size_t)cap, sizeof(*g->fds));
	if (!g->fds) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	set->count++;
	return g;
}

/* Moves every unclaimed inherited socket bound where `first` is into g. */
static void claim_same(struct inherited *in, int n, int first,
		       struct hd_listen_group *g)
{
	for (int i = first; i < n; i++) {
		if (in[i].claimed ||
		    in[i].addr.ss_family != in[first].addr.ss_family ||
		    port_of(&in[i].addr) != port_of(&in[first].addr))
			continue;
		struct hd_listen_spec probe;
		spec_of(&in[first].addr, &probe);
		if (!same_host(&probe, &in[i].addr))
			continue;
		in[i].claimed = true;
		g->fds[g->count++] = in[i].fd;
	}
	g->inherited = true;
	g->spec.port = port_of(&in[first].addr);
}

/* One socket per worker; the first resolves port 0 for the others. */
static int bind_group(struct hd_listen_group *g, int workers,
		      unsigned defer_accept_s, char *err, size_t errlen)
{
	for (int i = 0; i < workers; i++) {
		int fd = hd_listener_open(&g->spec, g->spec.port,
					  defer_accept_s, err, errlen);
		if (fd < 0)
			return -1;
		g->fds[g->count++] = fd;
		if (i == 0)
			g->spec.port = hd_listener_port(fd);
	}
	return 0;
}

static int adopt_entries(struct hd_listen_set *set, const struct hd_config *cfg,
			 struct inherited *in, int n, bool bind_missing,
			 int workers, char *err, size_t errlen)
{
	for (int e = 0; e < cfg->listen_count; e++) {
		const struct hd_listen_spec *spec = &cfg->listen[e];
		int first = -1;
		for (int i = 0; i < n && first < 0; i++)
			if (!in[i].claimed && same_host(spec, &in[i].addr) &&
			    (!spec->port || port_of(&in[i].addr) == spec->port))
				first = i;
		if (first < 0 && !bind_missing) {
			char name[96];
			hd_listener_format(spec, spec->port, name,
					   sizeof(name));
			fprintf(stderr,
				"hellod: listen %s: not among the activated "
				"sockets; not bound\n",
				name);
			continue;
		}
		/* shared_listener: one socket, which hd_listen_set_worker
		 * dup()s for every worker, so all of them wait on it. */
		int sockets = cfg->shared_listener ? 1 : workers;
		struct hd_listen_group *g =
			new_group(set, first < 0 ? sockets : n, err, errlen);
		if (!g)
			return -1;
		g->spec = *spec;
		if (first >= 0)
			claim_same(in, n, first, g);
		else if (bind_group(g, sockets, cfg->defer_accept_s, err,
				    errlen))
			return -1;
	}
	return 0;
}

int hd_listen_set_build(struct hd_listen_set *set, const struct hd_config *cfg,
			const int *fds, int n, bool bind_missing, int workers,
			char *err, size_t errlen)
{
	memset(set, 0, sizeof(*set));
	struct inherited *in = n ? calloc((size_t)n, sizeof(*in)) : NULL;
	if (n && !in) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	int rc = 0;
	for (int i = 0; i < n && !rc; i++) {
		in[i].fd = fds[i];
		rc = inspect(fds[i], &in[i].addr, err, errlen);
	}
	if (!rc)
		rc = adopt_entries(set, cfg, in, n, bind_missing, workers, err,
				   errlen);
	for (int i = 0; i < n && !rc; i++) {
		if (in[i].claimed)
			continue;
		struct hd_listen_group *g = new_group(set, n, err, errlen);
		if (!g) {
			rc = -1;
			break;
		}
		spec_of(&in[i].addr, &g->spec);
		claim_same(in, n, i, g);
	}
	if (!rc && set->count == 0) {
		snprintf(err, errlen, "no listening socket");
		rc = -1;
	}
	free(in);
	return rc;
}

int hd_listen_set_worker(const struct hd_listen_set *set, int id, int workers,
			 struct hd_listener **out)
{
	int total = 0;
	for (int g = 0; g < set->count; g++)
		total += set->groups[g].count / workers + 1;
	struct hd_listener *ls = calloc((size_t)total, sizeof(*ls));
	if (!ls)
		return -ENOMEM;
	int k = 0;
	for (int gi = 0; gi < set->count; gi++) {
		const struct hd_listen_group *g = &set->groups[gi];
		bool proxy = g->spec.proxy_protocol;
		if (g->count >= workers) {
			for (int j = id; j < g->count; j += workers)
				ls[k++] = (struct hd_listener){.proxy = proxy,
							       .fd = g->fds[j]};
			continue;
		}
		/* Fewer sockets than workers (one activated socket, say):
		 * workers share them, each through its own descriptor. */
		int fd = id < g->count ? g->fds[id]
				       : fcntl(g->fds[id % g->count],
					       F_DUPFD_CLOEXEC, 0);
		if (fd < 0) {
			int err = -errno;
			for (int i = 0; i < k; i++)
				close(ls[i].fd);
			free(ls);
			return err;
		}
		ls[k++] = (struct hd_listener){.proxy = proxy, .fd = fd};
	}
	*out = ls;
	return k;
}

int hd_listen_set_fds(const struct hd_listen_set *set, int **out)
{
	int total = 0;
	for (int g = 0; g < set->count; g++)
		total += set->groups[g].count;
	int *fds = calloc((size_t)total + 1, sizeof(*fds));
	if (!fds)
		return -ENOMEM;
	int k = 0;
	for (int g = 0; g < set->count; g++)
		for (int j = 0; j < set->groups[g].count; j++)
			fds[k++] = set->groups[g].fds[j];
	*out = fds;
	return k;
}

void hd_listen_set_free(struct hd_listen_set *set)
{
	for (int g = 0; g < set->count; g++)
		free(set->groups[g].fds);
	set->count = 0;
}
