/* listener.c — listening sockets, one per worker per address. */
#include "hellod/listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BACKLOG 4096 /* the kernel caps it at net.core.somaxconn */

static int fill_addr(const struct hd_listen_spec *spec, uint16_t port,
		     struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, spec->host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(port);
		*len = sizeof(*in4);
		return AF_INET;
	}
	if (inet_pton(AF_INET6, spec->host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		*len = sizeof(*in6);
		return AF_INET6;
	}
	return -1;
}

int hd_listener_open(const struct hd_listen_spec *spec, uint16_t port,
		     unsigned defer_accept_s, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char name[96];
	hd_listener_format(spec, port, name, sizeof(name));
	int family = fill_addr(spec, port, &ss, &len);
	if (family < 0) {
		snprintf(err, errlen, "%s: not a numeric address", name);
		return -1;
	}
	int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	int on = 1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)))
		goto fail_close;
	/* Accepted sockets inherit TCP_NODELAY from the listener on Linux,
	 * which saves a setsockopt per connection. Nagle would hold back a
	 * batch written while the previous one is still unacknowledged. */
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)))
		goto fail_close;
	/* The kernel holds a connection until its first bytes (or the
	 * deadline) come, so accept finds the request already there and an
	 * accept batch rarely ends in a dear EAGAIN (docs/performance.md). */
	if (defer_accept_s &&
	    setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT,
		       &(int){(int)defer_accept_s}, sizeof(int)))
		goto fail_close;
	if (family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)))
		goto fail_close;
	if (bind(fd, (struct sockaddr *)&ss, len) || listen(fd, BACKLOG))
		goto fail_close;
	return fd;
fail_close:;
	int saved = errno;
	close(fd);
	errno = saved;
fail:
	snprintf(err, errlen, "cannot listen on %s: %s", name, strerror(errno));
	return -1;
}

uint16_t hd_listener_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		return 0;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

void hd_listener_format(const struct hd_listen_spec *spec, uint16_t port,
			char *out, size_t outlen)
{
	bool v6 = strchr(spec->host, ':') != NULL;
	snprintf(out, outlen, v6 ? "[%s]:%u" : "%s:%u", spec->host,
		 (unsigned)port);
}
