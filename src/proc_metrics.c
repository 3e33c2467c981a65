/* proc_metrics.c — process_* metrics from /proc/self and getrlimit, in
 * the names and units of the Prometheus client libraries. */
#include "hellod/proc_metrics.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* Reads a small /proc file whole into buf (NUL-terminated). */
static int read_proc(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

/* utime, stime (fields 14, 15) and starttime (22) of /proc/self/stat,
 * in clock ticks. The fields are counted after the ")" that ends the
 * command name, which may itself hold blanks and parentheses. */
static int read_stat(unsigned long long *cpu_ticks,
		     unsigned long long *start_ticks)
{
	char buf[1024];
	if (read_proc("/proc/self/stat", buf, sizeof(buf)))
		return -1;
	const char *p = strrchr(buf, ')');
	unsigned long long utime, stime, start;
	if (!p || sscanf(p + 2,
			 "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu "
			 "%llu %*d %*d %*d %*d %*d %*d %llu",
			 &utime, &stime, &start) != 3)
		return -1;
	*cpu_ticks = utime + stime;
	*start_ticks = start;
	return 0;
}

/* The boot time in seconds since the epoch ("btime" in /proc/stat). */
static int read_boot_time(unsigned long long *btime)
{
	char buf[16384];
	if (read_proc("/proc/stat", buf, sizeof(buf)))
		return -1;
	const char *p = strstr(buf, "\nbtime ");
	return p && sscanf(p + 7, "%llu", btime) == 1 ? 0 : -1;
}

static long long resident_bytes(void)
{
	char buf[256];
	long long pages;
	if (read_proc("/proc/self/statm", buf, sizeof(buf)) ||
	    sscanf(buf, "%*s %lld", &pages) != 1)
		return -1;
	return pages * sysconf(_SC_PAGESIZE);
}

/* Entries of /proc/self/fd, less the one opendir holds to list them. */
static long long open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	long long n = 0;
	for (struct dirent *e; (e = readdir(d)) != NULL;)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;
}

static int family(struct hd_buf *out, const char *name, const char *type,
		  const char *help, const char *value)
{
	char line[512];
	int n = snprintf(line, sizeof(line),
			 "# HELP %s %s\n# TYPE %s %s\n%s %s\n", name, help,
			 name, type, name, value);
	return hd_buf_append(out, line, (size_t)n);
}

int hd_proc_metrics_render(struct hd_buf *out)
{
	char v[64];
	double hz = (double)sysconf(_SC_CLK_TCK);
	unsigned long long cpu, start, btime;
	bool have_stat = read_stat(&cpu, &start) == 0;
	if (have_stat) {
		snprintf(v, sizeof(v), "%.2f", (double)cpu / hz);
		if (family(out, "process_cpu_seconds_total", "counter",
			   "Total user and system CPU time spent in seconds.",
			   v))
			return -1;
	}
	long long rss = resident_bytes();
	snprintf(v, sizeof(v), "%lld", rss);
	if (rss >= 0 && family(out, "process_resident_memory_bytes", "gauge",
			       "Resident memory size in bytes.", v))
		return -1;
	long long fds = open_fds();
	snprintf(v, sizeof(v), "%lld", fds);
	if (fds >= 0 && family(out, "process_open_fds", "gauge",
			       "Number of open file descriptors.", v))
		return -1;
	struct rlimit lim;
	if (getrlimit(RLIMIT_NOFILE, &lim) == 0) {
		snprintf(v, sizeof(v), "%llu",
			 (unsigned long long)lim.rlim_cur);
		if (family(out, "process_max_fds", "gauge",
			   "Maximum number of open file descriptors.", v))
			return -1;
	}
	if (have_stat && read_boot_time(&btime) == 0) {
		snprintf(v, sizeof(v), "%.2f",
			 (double)btime + (double)start / hz);
		if (family(out, "process_start_time_seconds", "gauge",
			   "Start time of the process since unix epoch in "
			   "seconds.",
			   v))
			return -1;
	}
	return 0;
}
