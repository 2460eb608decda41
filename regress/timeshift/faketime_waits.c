/*
 * faketime_waits.c -- companion of libfaketime for the time-shift suite.
 *
 * libfaketime wraps every blocking wait (select, poll, epoll_wait,
 * nanosleep, ...) so that it can scale timeouts when the fake clock runs
 * at another speed, and while the real call blocks it sets a flag that
 * makes every clock read of that thread return the real time.  A signal
 * handler that runs during the wait therefore reads the real clock, and
 * so does, forever, a process forked from such a handler: PostgreSQL 15's
 * postmaster starts background workers (ours included) from its SIGCHLD
 * handler while it sleeps in select(), and every backend's SIGALRM
 * handler (statement, lock and deadlock timeouts) runs inside
 * epoll_wait().  Such a worker would silently test today's date, and a
 * timeout computed on the fake clock but checked on the real one would
 * never fire.
 *
 * Preloaded before libfaketime, this library takes those waits and calls
 * the C library's own functions, so libfaketime never sees them.  The time
 * shift suite runs the clock at normal speed, where libfaketime's wrappers
 * have nothing to scale: nothing else changes.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

/* the C library's definition of "name", not the next preloaded one */
static void *
libc_symbol(const char *name)
{
	static void *libc;
	void	   *sym;

	if (libc == NULL)
		libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
	sym = libc ? dlsym(libc, name) : NULL;
	if (sym == NULL)
		abort();
	return sym;
}

#define PASS(ret, name, params, args) \
ret \
name params \
{ \
	static ret (*real) params; \
	if (real == NULL) \
		real = (ret (*) params) libc_symbol(#name); \
	return real args; \
}

PASS(int, select,
	 (int n, fd_set *r, fd_set *w, fd_set *e, struct timeval *t),
	 (n, r, w, e, t))
PASS(int, pselect,
	 (int n, fd_set *r, fd_set *w, fd_set *e, const struct timespec *t,
	  const sigset_t *m),
	 (n, r, w, e, t, m))
PASS(int, poll, (struct pollfd *f, nfds_t n, int t), (f, n, t))
PASS(int, ppoll,
	 (struct pollfd *f, nfds_t n, const struct timespec *t, const sigset_t *m),
	 (f, n, t, m))
PASS(int, epoll_wait, (int fd, struct epoll_event *ev, int n, int t),
	 (fd, ev, n, t))
PASS(int, epoll_pwait,
	 (int fd, struct epoll_event *ev, int n, int t, const sigset_t *m),
	 (fd, ev, n, t, m))
PASS(int, nanosleep, (const struct timespec *req, struct timespec *rem),
	 (req, rem))
PASS(int, usleep, (useconds_t us), (us))
PASS(unsigned int, sleep, (unsigned int s), (s))
