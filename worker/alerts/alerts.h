/*-------------------------------------------------------------------------
 *
 * regression.h
 *		Declarations of the regression detectors (regression.c) and the
 *		alert life cycle (alert.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef NADIA_REGRESSION_H
#define NADIA_REGRESSION_H


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

/* alert.c */
extern char *nadia_bgw_notify_channel;
extern int	nadia_bgw_alert_resolve_cycles;
extern int	nadia_bgw_payload_query_bytes;
extern bool nadia_bgw_debug_fail_notify;

extern void nadia_alert_define_gucs(void);
extern const char *nadia_severity_name(NadiaSeverity s);
extern NadiaSeverity nadia_severity_from_name(const char *name);
extern List *nadia_alert_apply(List *candidates, List *evaluated_kinds,
							   List *judged_kinds, List *judged_keys);
extern int	nadia_alert_send_pending(void);
extern char *nadia_alert_payload(int64 alert_id, const char *event);

/* regression.c */
extern void nadia_regression_define_gucs(void);
extern List *nadia_detect_regressions(void);
extern void nadia_regressions_task(void);

#endif							/* NADIA_REGRESSION_H */
