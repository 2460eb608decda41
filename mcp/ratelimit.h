/*-------------------------------------------------------------------------
 *
 * ratelimit.h
 *		Per-process request-rate limits of nadia-mcp (ratelimit.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef NADIA_MCP_RATELIMIT_H
#define NADIA_MCP_RATELIMIT_H

#include <stdbool.h>

typedef struct RateWindow
{
	double	   *stamps;			/* ring of the last 'cap' admission times */
	int			cap;
	int			head;			/* index of the oldest stamp */
	int			count;
	double		span;			/* seconds the window covers */
} RateWindow;

typedef struct RateLimiter
{
	RateWindow	calls;			/* every tool call */
	RateWindow	heavy;			/* heavy tool calls */
} RateLimiter;

extern void ratelimit_init(RateLimiter *rl, int per_minute, int heavy_per_hour);
extern void ratelimit_free(RateLimiter *rl);
extern bool ratelimit_admit(RateLimiter *rl, bool heavy, double now,
							const char **which, int *limit,
							double *retry_after);
extern double ratelimit_now(void);

#endif							/* NADIA_MCP_RATELIMIT_H */
