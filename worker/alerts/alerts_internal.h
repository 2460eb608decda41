/*-------------------------------------------------------------------------
 *
 * regression_detect.h
 *		What the detection run (regression.c) and the detectors
 *		(regression_detectors.c) share.
 *
 *-------------------------------------------------------------------------
 */
#ifndef NADIA_REGRESSION_DETECT_H
#define NADIA_REGRESSION_DETECT_H


#include "datatype/timestamp.h"
#include "nodes/pg_list.h"

/*
 * The hit ratio is judged over at least this many samples: one interval's
 * cold reads are noise, a cache that no longer holds the working set
 * shows over several.
 */
#define CACHE_WINDOW 3

/* What every detector of a run may look at. */
typedef struct DetectContext
{
	bool		have_history;	/* nadia_bgw.samples exists */
	bool		fresh;			/* a sample newer than the last run's */
	int64		last_seen;		/* newest sample of the previous run, or 0 */
	TimestampTz last_seen_at;	/* its sampled_at, or 0 */
	int64		newest;			/* newest sample now, or 0 */
	TimestampTz newest_at;
	Datum		window;			/* timestamptz[]: sampled_at of the recent window */
	Datum		wide_window;	/* the window, at least CACHE_WINDOW samples */
	Datum		new_samples;	/* timestamptz[]: samples not folded in yet */
	int64		runs;			/* detection runs before this one */
} DetectContext;

typedef List *(*DetectorFn) (DetectContext *ctx);

typedef struct Detector
{
	const char *name;
	const char *kinds;			/* alert kinds it judges, comma-separated */
	bool		needs_history;	/* runs only on a fresh sample */
	DetectorFn	run;
} Detector;

/* regression_detectors.c */
extern int	nadia_regression_window;
extern int	nadia_baseline_samples;
extern const Detector nadia_detectors[];
extern const int nadia_ndetectors;
extern const char *const nadia_judged_kinds[];
extern const int nadia_njudged_kinds;
extern List *nadia_judged_keys;

#endif							/* NADIA_REGRESSION_DETECT_H */
