/*-------------------------------------------------------------------------
 *
 * ratelimit.c
 *		Request-rate limits of nadia-mcp: tool calls per minute and heavy
 *		tool calls per hour.
 *
 * Each limit is a sliding window kept as a ring of the admission times of
 * the last N admitted calls: a call is admitted when fewer than N calls
 * were admitted during the window, and otherwise the wait until the
 * oldest of them leaves the window is the retry-after.  Refused calls are
 * not recorded, so a client that keeps hammering gets in as soon as the
 * window allows.  The limits are per server process (one MCP client); the
 * limit on concurrent calls is per database and lives in db.c.
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ratelimit.h"

static void
window_init(RateWindow *w, int cap, double span)
{
	memset(w, 0, sizeof(*w));
	w->span = span;
	if (cap > 0)
	{
		w->stamps = calloc(cap, sizeof(double));
		if (w->stamps != NULL)
			w->cap = cap;
	}
}

/* seconds to wait before the window has room, 0 when it has room now */
static double
window_wait(const RateWindow *w, double now)
{
	double		oldest;

	if (w->cap == 0 || w->count < w->cap)
		return 0;
	oldest = w->stamps[w->head];
	if (now - oldest >= w->span)
		return 0;
	return w->span - (now - oldest);
}

static void
window_record(RateWindow *w, double now)
{
	if (w->cap == 0)
		return;
	if (w->count < w->cap)
	{
		w->stamps[(w->head + w->count) % w->cap] = now;
		w->count++;
	}
	else
	{
		/* the oldest leaves, the newest takes its slot */
		w->stamps[w->head] = now;
		w->head = (w->head + 1) % w->cap;
	}
}

void
ratelimit_init(RateLimiter *rl, int per_minute, int heavy_per_hour)
{
	window_init(&rl->calls, per_minute, 60.0);
	window_init(&rl->heavy, heavy_per_hour, 3600.0);
}

void
ratelimit_free(RateLimiter *rl)
{
	free(rl->calls.stamps);
	free(rl->heavy.stamps);
	memset(rl, 0, sizeof(*rl));
}

/*
 * Admit one call at time 'now' (seconds, monotonic).  On refusal, says
 * which limit refused it, its value, and how long to wait.  A heavy call
 * must fit both windows; it is recorded in both or in neither.
 */
bool
ratelimit_admit(RateLimiter *rl, bool heavy, double now,
				const char **which, int *limit, double *retry_after)
{
	double		wait;

	wait = window_wait(&rl->calls, now);
	if (wait > 0)
	{
		*which = "rate_per_minute";
		*limit = rl->calls.cap;
		*retry_after = wait;
		return false;
	}
	if (heavy)
	{
		wait = window_wait(&rl->heavy, now);
		if (wait > 0)
		{
			*which = "heavy_per_hour";
			*limit = rl->heavy.cap;
			*retry_after = wait;
			return false;
		}
		window_record(&rl->heavy, now);
	}
	window_record(&rl->calls, now);
	return true;
}

double
ratelimit_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}
