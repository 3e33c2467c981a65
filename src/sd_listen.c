/* sd_listen.c — the receiving side of socket activation (sd_listen_fds),
 * implemented here rather than linking libsystemd for two variables. */
#include "hellod/sd_listen.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

static long parse_positive(const char *s)
{
	char *end;
	errno = 0;
	long n = s ? strtol(s, &end, 10) : -1;
	if (!s || errno || end == s || *end || n < 0)
		return -1;
	return n;
}

int hd_sd_listen_fds(void)
{
	long pid = parse_positive(getenv("LISTEN_PID"));
	const char *fds_text = getenv("LISTEN_FDS");
	long n = parse_positive(fds_text);
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	/* Not meant for us: an ancestor's activation leaked through a
	 * wrapper that did not exec. */
	if (pid <= 0 || pid != (long)getpid())
		return 0;
	if (n < 0 || n > INT_MAX - HD_SD_LISTEN_FDS_START)
		return -EINVAL;
	for (int fd = HD_SD_LISTEN_FDS_START;
	     fd < HD_SD_LISTEN_FDS_START + (int)n; fd++)
		if (fcntl(fd, F_SETFD, FD_CLOEXEC))
			return -errno;
	return (int)n;
}
