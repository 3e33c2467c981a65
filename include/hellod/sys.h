/* sys.h — the hot path's system calls, made directly.
 *
 * read(2), send(2) and epoll_wait(2) are thread cancellation points, so
 * in a threaded process glibc turns asynchronous cancellation on and off
 * around each (about 40 instructions); syscall(2) avoids that but still
 * shifts every argument one register along and goes through errno. On
 * x86-64 these make the `syscall` instruction themselves, as musl's
 * internal __syscall does, and return -errno in the result (the kernel's
 * own convention): about 15 instructions a call less again (callgrind,
 * docs/performance.md). Elsewhere they are syscall(2). hellod never
 * cancels a thread, so skipping the cancellation points loses nothing.
 */
#ifndef HELLOD_SYS_H
#define HELLOD_SYS_H

#include <errno.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#if defined(__x86_64__)

/* The kernel returns -4095..-1 for an error, the value itself otherwise;
 * it clobbers rcx and r11, and may read or write the memory the
 * arguments point at. */
static inline long hd_sys3(long nr, long a, long b, long c)
{
	long ret;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a), "S"(b), "d"(c)
			 : "rcx", "r11", "memory");
	return ret;
}

static inline long hd_sys4(long nr, long a, long b, long c, long d)
{
	long ret;
	register long r10 __asm__("r10") = d;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10)
			 : "rcx", "r11", "memory");
	return ret;
}

static inline long hd_sys6(long nr, long a, long b, long c, long d, long e,
			   long f)
{
	long ret;
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8),
			   "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

#else

static inline long hd_sys_result(long r)
{
	return r < 0 ? -errno : r;
}

static inline long hd_sys3(long nr, long a, long b, long c)
{
	return hd_sys_result(syscall(nr, a, b, c));
}

static inline long hd_sys4(long nr, long a, long b, long c, long d)
{
	return hd_sys_result(syscall(nr, a, b, c, d));
}

static inline long hd_sys6(long nr, long a, long b, long c, long d, long e,
			   long f)
{
	return hd_sys_result(syscall(nr, a, b, c, d, e, f));
}

#endif

/* The socket calls behind struct hd_io_ops's kernel table (loop.h). */
static inline ssize_t hd_sys_read(int fd, void *buf, size_t len)
{
	return hd_sys3(SYS_read, fd, (long)buf, (long)len);
}

static inline ssize_t hd_sys_send(int fd, const void *buf, size_t len,
				  int flags)
{
	return hd_sys6(SYS_sendto, fd, (long)buf, (long)len,
		       MSG_NOSIGNAL | flags, 0, 0);
}

#endif
