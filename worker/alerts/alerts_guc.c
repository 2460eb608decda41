/*-------------------------------------------------------------------------
 *
 * alerts_guc.c
 *		Every setting of the alerts module (nadia_bgw.*): the thresholds of
 *		the detectors, the baselines' memory, the alert life cycle and its
 *		NOTIFY channel, and the two hooks of the test build.
 *
 * Every setting is PGC_SUSET: set in postgresql.conf for the worker
 * (reloadable), and by a superuser in a session for a manual
 * nadia_bgw.detect_regressions().  docs/gucs.md describes them.  Each
 * variable is named after its setting.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "utils/guc.h"

#include "alerts/alerts.h"
#include "alerts/alerts_internal.h"

/* life cycle and notifications */
char	   *nadia_notify_channel = NULL;
int			nadia_alert_resolve_cycles = 3;
int			nadia_payload_query_bytes = 1000;

/* baselines and windows */
int			nadia_regression_window = 1;
int			nadia_baseline_samples = 60;
int			nadia_baseline_min_samples = 5;

/* statements */
double		nadia_latency_ratio = 2.0;
double		nadia_latency_critical_ratio = 10.0;
double		nadia_latency_min_increase_ms = 5.0;
int			nadia_latency_min_calls = 20;
double		nadia_latency_sigma = 3.0;
double		nadia_plan_change_slowdown = 1.5;
double		nadia_plan_change_ratio = 10.0;
double		nadia_plan_change_min_blocks = 100.0;
double		nadia_plan_change_min_rows = 1000.0;
double		nadia_new_statement_share = 0.3;
double		nadia_new_statement_min_ms = 1000.0;

/* tables */
int			nadia_seqscan_min_rows = 10000;
int			nadia_seqscan_min_scans = 10;
double		nadia_seqscan_share_increase = 0.3;
double		nadia_dead_tuple_ratio = 0.2;
int			nadia_dead_tuple_min = 10000;

/* databases */
double		nadia_cache_hit_ratio = 0.99;
double		nadia_cache_hit_drop = 0.02;
double		nadia_cache_hit_sigma = 3.0;
int			nadia_cache_min_blocks = 1000;
int			nadia_temp_spill_min = 16384;
double		nadia_temp_spill_ratio = 4.0;
int			nadia_deadlocks = 1;
int			nadia_xid_age_warning = 500000000;
int			nadia_xid_age_critical = 1500000000;

/* server state */
double		nadia_connections_share = 0.8;
int			nadia_long_running_seconds = 60;
int			nadia_idle_in_transaction_seconds = 60;
int			nadia_lock_wait_seconds = 5;
int			nadia_replication_lag_seconds = 60;
int			nadia_retained_wal = 1024;

/* test builds only: a normal build keeps these defaults */
char	   *nadia_debug_alert = NULL;
bool		nadia_debug_fail_notify = false;

/*
 * The channel must be something NOTIFY accepts: non-empty and shorter than
 * NAMEDATALEN.  Checking here turns a typo into an error at SET or reload
 * time instead of a failed notification in the worker.
 */
static bool
check_notify_channel(char **newval, void **extra, GucSource source)
{
	if (*newval == NULL || (*newval)[0] == '\0')
	{
		GUC_check_errcode(ERRCODE_INVALID_PARAMETER_VALUE);
		GUC_check_errmsg("nadia_bgw.notify_channel must not be empty");
		GUC_check_errhint("Set it to the channel that LISTEN clients use, for example nadia_bgw_alerts.");
		return false;
	}
	if (strlen(*newval) >= NAMEDATALEN)
	{
		GUC_check_errcode(ERRCODE_NAME_TOO_LONG);
		GUC_check_errmsg("nadia_bgw.notify_channel is longer than %d bytes",
						 NAMEDATALEN - 1);
		return false;
	}
	return true;
}

/*
 * The numeric settings, in the order of docs/gucs.md.  Each one's default
 * is the initial value of its variable above.
 */
typedef struct NumericSetting
{
	const char *name;
	const char *desc;
	int		   *int_var;		/* an integer setting ... */
	double	   *real_var;		/* ... or a real one */
	double		min;
	double		max;
	int			flags;			/* GUC_UNIT_* */
} NumericSetting;

#define INT_SETTING(name, desc, var, min, max, flags) \
	{name, desc, &(var), NULL, (min), (max), (flags)}
#define REAL_SETTING(name, desc, var, min, max) \
	{name, desc, NULL, &(var), (min), (max), 0}

static const NumericSetting numeric_settings[] = {
	INT_SETTING("nadia_bgw.alert_resolve_cycles",
				"Normal detection cycles after which an open alert resolves itself.",
				nadia_alert_resolve_cycles, 1, 10000, 0),
	/* baselines and windows */
	INT_SETTING("nadia_bgw.regression_window",
				"Number of newest samples judged against the baselines.",
				nadia_regression_window, 1, 100, 0),
	INT_SETTING("nadia_bgw.baseline_samples",
				"Samples a baseline effectively remembers (EWMA span).",
				nadia_baseline_samples, 2, 1000000, 0),
	INT_SETTING("nadia_bgw.baseline_min_samples",
				"Observations a baseline needs before anything is judged against it.",
				nadia_baseline_min_samples, 1, 100000, 0),
	/* statements */
	REAL_SETTING("nadia_bgw.latency_ratio",
				 "Mean execution time over baseline that flags a latency regression.",
				 nadia_latency_ratio, 1.01, 1e9),
	REAL_SETTING("nadia_bgw.latency_critical_ratio",
				 "Mean execution time over baseline that makes a latency regression critical.",
				 nadia_latency_critical_ratio, 1.01, 1e9),
	REAL_SETTING("nadia_bgw.latency_min_increase_ms",
				 "Smallest increase of the mean execution time, in ms, that is flagged.",
				 nadia_latency_min_increase_ms, 0.0, 1e9),
	INT_SETTING("nadia_bgw.latency_min_calls",
				"Calls a statement needs in the recent window to be judged.",
				nadia_latency_min_calls, 1, INT_MAX, 0),
	REAL_SETTING("nadia_bgw.latency_sigma",
				 "Standard deviations above the baseline mean an observation must also exceed.",
				 nadia_latency_sigma, 0.0, 1000.0),
	REAL_SETTING("nadia_bgw.plan_change_slowdown",
				 "Mean time per call of a statement's new dominant plan, over its old plan's, that flags a plan change.",
				 nadia_plan_change_slowdown, 1.01, 1e9),
	REAL_SETTING("nadia_bgw.plan_change_ratio",
				 "Fallback without plan history: jump of shared blocks or rows per call, over baseline, that flags a plan change.",
				 nadia_plan_change_ratio, 1.01, 1e9),
	REAL_SETTING("nadia_bgw.plan_change_min_blocks",
				 "Smallest increase of shared blocks per call that is flagged.",
				 nadia_plan_change_min_blocks, 0.0, 1e12),
	REAL_SETTING("nadia_bgw.plan_change_min_rows",
				 "Smallest increase of rows per call that is flagged.",
				 nadia_plan_change_min_rows, 0.0, 1e12),
	REAL_SETTING("nadia_bgw.new_statement_share",
				 "Share of the window's execution time that flags a statement never seen before.",
				 nadia_new_statement_share, 0.001, 1.0),
	REAL_SETTING("nadia_bgw.new_statement_min_ms",
				 "Smallest execution time, in ms over the window, of a flagged new statement.",
				 nadia_new_statement_min_ms, 0.0, 1e12),
	/* tables */
	INT_SETTING("nadia_bgw.seqscan_min_rows",
				"Live rows a table needs for a sequential-scan surge to be flagged.",
				nadia_seqscan_min_rows, 0, INT_MAX, 0),
	INT_SETTING("nadia_bgw.seqscan_min_scans",
				"Sequential scans in the recent window needed for a surge.",
				nadia_seqscan_min_scans, 1, INT_MAX, 0),
	REAL_SETTING("nadia_bgw.seqscan_share_increase",
				 "Rise of the sequential share of a table's scans, over baseline, that is flagged.",
				 nadia_seqscan_share_increase, 0.01, 1.0),
	REAL_SETTING("nadia_bgw.dead_tuple_ratio",
				 "Dead share of a table's tuples that is flagged when it keeps growing.",
				 nadia_dead_tuple_ratio, 0.001, 1.0),
	INT_SETTING("nadia_bgw.dead_tuple_min",
				"Dead tuples a table needs before its dead share is judged.",
				nadia_dead_tuple_min, 0, INT_MAX, 0),
	/* databases */
	REAL_SETTING("nadia_bgw.cache_hit_ratio",
				 "Buffer cache hit ratio below which a drop is flagged.",
				 nadia_cache_hit_ratio, 0.0, 1.0),
	REAL_SETTING("nadia_bgw.cache_hit_drop",
				 "Fall of the hit ratio below its baseline that is flagged.",
				 nadia_cache_hit_drop, 0.0, 1.0),
	REAL_SETTING("nadia_bgw.cache_hit_sigma",
				 "Standard deviations below the baseline hit ratio an observation must also fall.",
				 nadia_cache_hit_sigma, 0.0, 1000.0),
	INT_SETTING("nadia_bgw.cache_min_blocks",
				"Blocks accessed in the recent window needed to judge the hit ratio.",
				nadia_cache_min_blocks, 1, INT_MAX, 0),
	INT_SETTING("nadia_bgw.temp_spill_min",
				"Temporary file bytes in the recent window below which spills are not flagged.",
				nadia_temp_spill_min, 1, INT_MAX, GUC_UNIT_KB),
	REAL_SETTING("nadia_bgw.temp_spill_ratio",
				 "Temporary file bytes over baseline that flag spill growth.",
				 nadia_temp_spill_ratio, 1.01, 1e9),
	INT_SETTING("nadia_bgw.deadlocks",
				"Deadlocks in the recent window that open an alert.",
				nadia_deadlocks, 1, INT_MAX, 0),
	INT_SETTING("nadia_bgw.xid_age_warning",
				"Transaction ID (or multixact) age of a database that opens a wraparound warning.",
				nadia_xid_age_warning, 1000, 2000000000, 0),
	INT_SETTING("nadia_bgw.xid_age_critical",
				"Transaction ID (or multixact) age of a database that makes it critical.",
				nadia_xid_age_critical, 1000, 2000000000, 0),
	/* server state */
	REAL_SETTING("nadia_bgw.connections_share",
				 "Share of max_connections in use that is flagged.",
				 nadia_connections_share, 0.001, 1.0),
	INT_SETTING("nadia_bgw.long_running_seconds",
				"Age of an active transaction that is flagged.",
				nadia_long_running_seconds, 1, INT_MAX, GUC_UNIT_S),
	INT_SETTING("nadia_bgw.idle_in_transaction_seconds",
				"Time a session may sit idle in a transaction before it is flagged.",
				nadia_idle_in_transaction_seconds, 1, INT_MAX, GUC_UNIT_S),
	INT_SETTING("nadia_bgw.lock_wait_seconds",
				"Time a session may wait for a lock before it is flagged.",
				nadia_lock_wait_seconds, 1, INT_MAX, GUC_UNIT_S),
	INT_SETTING("nadia_bgw.replication_lag_seconds",
				"Replay lag of a standby that is flagged.",
				nadia_replication_lag_seconds, 1, INT_MAX, GUC_UNIT_S),
	INT_SETTING("nadia_bgw.retained_wal",
				"WAL retained by a replication slot that is flagged.",
				nadia_retained_wal, 1, INT_MAX, GUC_UNIT_MB),
};

void
nadia_alerts_define_gucs(void)
{
	int			i;

	DefineCustomStringVariable("nadia_bgw.notify_channel",
							   "Channel on which alerts are announced with NOTIFY.",
							   "Clients receive the JSON payloads with LISTEN on this channel.",
							   &nadia_notify_channel, "nadia_bgw_alerts",
							   PGC_SUSET, 0, check_notify_channel, NULL, NULL);

	/*
	 * Payload version 2 carries no statement text.  The setting stays so
	 * that configurations written for 1.0 still load; it has no effect.
	 */
	DefineCustomIntVariable("nadia_bgw.payload_query_bytes",
							"No longer used: NOTIFY payloads carry no query text.",
							"Kept so that existing configurations load; the value is ignored.",
							&nadia_payload_query_bytes, 1000, 0, 6000,
							PGC_SUSET, GUC_UNIT_BYTE, NULL, NULL, NULL);

	for (i = 0; i < (int) lengthof(numeric_settings); i++)
	{
		const NumericSetting *s = &numeric_settings[i];
		if (s->int_var != NULL)
			DefineCustomIntVariable(s->name, s->desc, NULL, s->int_var, *s->int_var,
									(int) s->min, (int) s->max,
									PGC_SUSET, s->flags, NULL, NULL, NULL);
		else
			DefineCustomRealVariable(s->name, s->desc, NULL, s->real_var, *s->real_var,
									 s->min, s->max,
									 PGC_SUSET, s->flags, NULL, NULL, NULL);
	}

#ifdef NADIA_TEST
	DefineCustomStringVariable("nadia_bgw.debug_alert",
							   "Testing only: a condition the \"debug\" detector reports each run.",
							   "Format key:severity:observed[:baseline]; empty reports nothing.",
							   &nadia_debug_alert, "",
							   PGC_SUSET, GUC_NOT_IN_SAMPLE, NULL, NULL, NULL);
	DefineCustomBoolVariable("nadia_bgw.debug_fail_notify",
							 "Testing only: makes every alert notification fail.",
							 "Used by the test suite to check that a failed NOTIFY keeps the alert.",
							 &nadia_debug_fail_notify, false,
							 PGC_SUSET, GUC_NOT_IN_SAMPLE, NULL, NULL, NULL);
#endif
}
