/*-------------------------------------------------------------------------
 *
 * alerts_internal.h
 *		What the files of the alerts module share, file by file:
 *
 *		alerts_guc.c		the settings (thresholds, channel, test hooks)
 *		detect.c			the detection run, the task, detect_regressions()
 *		baselines.c			the learned baselines (EWMA per object and metric)
 *		detectors.c			the detectors: candidates from history or state
 *		detector_rollup.c	the "rollup_broken" state detector
 *		alert.c				the alert life cycle in nadia_bgw.alerts
 *		notify.c			sending the queued NOTIFYs
 *		payload.c			the JSON payload of a notification
 *
 * The detectors hand NadiaCandidates to the life cycle, which returns
 * NadiaAlertEvents; nothing else crosses between them.
 *
 * The .c file that includes this must include postgres.h first.
 *
 *-------------------------------------------------------------------------
 */
#ifndef NADIA_ALERTS_INTERNAL_H
#define NADIA_ALERTS_INTERNAL_H

#include "datatype/timestamp.h"
#include "nodes/pg_list.h"

/* Severities, in rising order. */
typedef enum NadiaSeverity
{
	NADIA_SEV_INFO = 0,
	NADIA_SEV_WARNING,
	NADIA_SEV_CRITICAL
} NadiaSeverity;

/*
 * What a detector found: one condition on one object.  The alert key
 * (kind + object identity) decides whether it is the same alert as an open
 * one.  Strings may be NULL where they do not apply.
 */
typedef struct NadiaCandidate
{
	char	   *kind;
	char	   *alert_key;
	char	   *object;			/* human-readable name of the object */
	char	   *object_type;	/* statement, table, database, backend, ... */
	Oid			dbid;
	char	   *datname;
	Oid			relid;
	char	   *relname;
	bool		has_queryid;
	int64		queryid;
	Oid			userid;
	char	   *query;
	char	   *metric;
	bool		has_baseline;
	double		baseline;
	double		observed;
	NadiaSeverity severity;
	char	   *details;		/* jsonb text, or NULL */
} NadiaCandidate;

/* One thing that happened to an alert during a detection run. */
typedef struct NadiaAlertEvent
{
	int64		alert_id;
	char	   *event;			/* opened, updated, escalated, resolved */
	char	   *kind;
	char	   *severity;
	char	   *object;
	char	   *metric;
	bool		has_baseline;
	double		baseline;
	double		observed;
} NadiaAlertEvent;

/* alerts_guc.c ----------------------------------------------------------*/

/* life cycle and notifications */
extern char *nadia_notify_channel;
extern int	nadia_alert_resolve_cycles;
extern int	nadia_payload_query_bytes;

/* baselines and windows */
extern int	nadia_regression_window;
extern int	nadia_baseline_samples;
extern int	nadia_baseline_min_samples;

/* statements */
extern double nadia_latency_ratio;
extern double nadia_latency_critical_ratio;
extern double nadia_latency_min_increase_ms;
extern int	nadia_latency_min_calls;
extern double nadia_latency_sigma;
extern double nadia_plan_change_slowdown;
extern double nadia_plan_change_ratio;
extern double nadia_plan_change_min_blocks;
extern double nadia_plan_change_min_rows;
extern double nadia_new_statement_share;
extern double nadia_new_statement_min_ms;

/* tables */
extern int	nadia_seqscan_min_rows;
extern int	nadia_seqscan_min_scans;
extern double nadia_seqscan_share_increase;
extern double nadia_dead_tuple_ratio;
extern int	nadia_dead_tuple_min;

/* databases */
extern double nadia_cache_hit_ratio;
extern double nadia_cache_hit_drop;
extern double nadia_cache_hit_sigma;
extern int	nadia_cache_min_blocks;
extern int	nadia_temp_spill_min;	/* kB */
extern double nadia_temp_spill_ratio;
extern int	nadia_deadlocks;
extern int	nadia_xid_age_warning;
extern int	nadia_xid_age_critical;

/* server state */
extern double nadia_connections_share;
extern int	nadia_long_running_seconds;
extern int	nadia_idle_in_transaction_seconds;
extern int	nadia_lock_wait_seconds;
extern int	nadia_replication_lag_seconds;
extern int	nadia_retained_wal;		/* MB */

/* test builds only (make NADIA_TEST=1); the defaults elsewhere */
extern char *nadia_debug_alert;
extern bool nadia_debug_fail_notify;

/* detect.c, detectors.c -------------------------------------------------*/

/*
 * The hit ratio is judged over at least this many samples: one interval's
 * cold reads are noise, a cache that no longer holds the working set
 * shows over several.
 */
#define CACHE_WINDOW 3

/* What every detector of a run may look at. */
typedef struct NadiaDetectContext
{
	bool		have_history;	/* nadia_bgw.samples exists */
	bool		have_plans;		/* plan history readable (1.1: _plan_rows()) */
	bool		fresh;			/* a sample newer than the last run's */
	int64		last_seen;		/* newest sample of the previous run, or 0 */
	TimestampTz last_seen_at;	/* its sampled_at, or 0 */
	int64		newest;			/* newest sample now, or 0 */
	TimestampTz newest_at;
	Datum		window;			/* timestamptz[]: sampled_at of the recent window */
	Datum		wide_window;	/* the window, at least CACHE_WINDOW samples */
	Datum		new_samples;	/* timestamptz[]: samples not folded in yet */
	int64		runs;			/* detection runs before this one */
	/*
	 * Alert keys of the objects a detector judged without finding them
	 * firing: evidence they are normal (see nadia_judged_kinds).
	 */
	List	   *judged_keys;
} NadiaDetectContext;

typedef List *(*NadiaDetectorFn) (NadiaDetectContext *ctx);

/* What a parameter ($1, $2, ...) of a detector query is. */
typedef enum NadiaDetectorParamKind
{
	NADIA_PARAM_END = 0,		/* no more parameters */
	NADIA_PARAM_WINDOW,			/* timestamptz[]: ctx->window */
	NADIA_PARAM_WIDE_WINDOW,	/* timestamptz[]: ctx->wide_window */
	NADIA_PARAM_REAL,			/* float8: a real setting */
	NADIA_PARAM_INT,			/* float8: an integer setting, times "scale" */
	NADIA_PARAM_COUNT			/* int8: an integer setting */
} NadiaDetectorParamKind;

typedef struct NadiaDetectorParam
{
	NadiaDetectorParamKind kind;
	const void *setting;		/* double * or int *, or NULL */
	double		scale;			/* NADIA_PARAM_INT: 0 means 1 */
} NadiaDetectorParam;

#define NADIA_DETECTOR_MAX_PARAMS 10

/*
 * A detector: a query over history or the statistics views whose rows are
 * candidates (see detectors.c for its columns), or a C function for what
 * a query cannot say.
 */
typedef struct NadiaDetector
{
	const char *name;			/* in the WARNING when it fails */
	const char *kinds;			/* alert kinds it judges, comma-separated */
	bool		needs_history;	/* runs only on a fresh sample */
	/* NULL, or false when the detector has nothing to judge this run */
	bool		(*applies) (NadiaDetectContext *ctx);
	const char *sql;			/* a query detector ... */
	NadiaDetectorParam params[NADIA_DETECTOR_MAX_PARAMS];
	NadiaDetectorFn run;		/* ... or one in C */
} NadiaDetector;

/* detectors.c */
extern const NadiaDetector nadia_detectors[];
extern const int nadia_ndetectors;
extern const char *const nadia_judged_kinds[];
extern const int nadia_njudged_kinds;
extern List *nadia_detector_run(const NadiaDetector *det, NadiaDetectContext *ctx);

/* detector_rollup.c */
extern List *nadia_detect_rollups(NadiaDetectContext *ctx);

/* baselines.c -----------------------------------------------------------*/

extern void nadia_baselines_update(NadiaDetectContext *ctx, const char *hint);

/* detect.c --------------------------------------------------------------*/

extern List *nadia_detect_regressions(void);

/* alert.c ---------------------------------------------------------------*/

extern const char *nadia_severity_name(NadiaSeverity s);
extern NadiaSeverity nadia_severity_from_name(const char *name);
extern List *nadia_alert_apply(List *candidates, List *evaluated_kinds,
							   List *judged_kinds, List *judged_keys);
extern void nadia_alert_set(const char *sql, int64 alert_id, const char *text,
							const char *what);

/* notify.c --------------------------------------------------------------*/

extern int	nadia_alert_send_pending(void);

/* payload.c -------------------------------------------------------------*/

extern char *nadia_alert_payload(int64 alert_id, const char *event);

#endif							/* NADIA_ALERTS_INTERNAL_H */
