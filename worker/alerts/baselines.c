/*-------------------------------------------------------------------------
 *
 * baselines.c
 *		The learned baselines in nadia_bgw.baselines: what is normal for
 *		each statement, table and database metric, folded in from each new
 *		sample at the end of a detection run.
 *
 * Baselines are exponentially weighted means and variances (West's
 * incremental form), one row per object and metric, updated from each new
 * sample only, so a run costs the same with a day or a month of history.
 * Until an object has nadia_bgw.baseline_min_samples observations nothing
 * is judged against it (the detectors check that).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"

#include "core/core.h"
#include "alerts/alerts_internal.h"

/*
 * One scope of baselines: "obs_sql" returns (scope, dbid, objid, userid,
 * metric, value, keys) from the new samples ($1), "keys" being the alert
 * keys that freeze the object's baselines while open.
 */
typedef struct BaselineScope
{
	const char *what;			/* in the WARNING when it fails */
	const char *obs_sql;
} BaselineScope;

static const BaselineScope scopes[] = {
	/* per-call figures of each statement that ran in the new samples */
	{"updating statement baselines",
	 "SELECT 'statement', w.dbid, w.queryid, w.userid, v.metric, v.value,"
	 "       ARRAY[pg_catalog.format('query_latency:%s:%s:%s', w.dbid, w.userid, w.queryid),"
	 "             pg_catalog.format('plan_change:%s:%s:%s', w.dbid, w.userid, w.queryid)]"
	 "  FROM (SELECT h.dbid, h.userid, h.queryid,"
	 "               pg_catalog.sum(h.calls)::float8 AS calls,"
	 "               pg_catalog.sum(h.total_exec_time_ms)::float8 AS total_ms,"
	 "               pg_catalog.sum(h.rows)::float8 AS nrows,"
	 "               pg_catalog.sum(h.shared_blks_hit + h.shared_blks_read)::float8 AS blks"
	 "          FROM nadia_bgw.statement_history h"
	 "         WHERE h.sampled_at = ANY ($1)"
	 "         GROUP BY h.dbid, h.userid, h.queryid"
	 "        HAVING pg_catalog.sum(h.calls) > 0) w"
	 " CROSS JOIN LATERAL (VALUES"
	 "    ('mean_exec_time_ms', w.total_ms / w.calls),"
	 "    ('shared_blks_per_call', w.blks / w.calls),"
	 "    ('rows_per_call', w.nrows / w.calls)) v(metric, value)"},

	/* the sequential share of the scans of each table scanned */
	{"updating table baselines",
	 "SELECT 'table', (SELECT oid FROM pg_catalog.pg_database"
	 "                  WHERE datname = pg_catalog.current_database()),"
	 "       h.relid::int8, 0::oid, 'seq_scan_share',"
	 "       pg_catalog.sum(h.seq_scan)::float8"
	 "         / pg_catalog.sum(h.seq_scan + h.idx_scan),"
	 "       ARRAY[pg_catalog.format('seqscan_surge:%s', h.relid)]"
	 "  FROM nadia_bgw.table_history h"
	 " WHERE h.sampled_at = ANY ($1)"
	 " GROUP BY h.relid"
	 " HAVING pg_catalog.sum(h.seq_scan + h.idx_scan) > 0"
	 " UNION ALL "
	 "SELECT 'table', (SELECT oid FROM pg_catalog.pg_database"
	 "                  WHERE datname = pg_catalog.current_database()),"
	 "       t.relid::int8, 0::oid, 'dead_tuple_ratio',"
	 "       t.n_dead_tup::float8 / NULLIF(t.n_live_tup + t.n_dead_tup, 0),"
	 "       '{}'::text[]"
	 "  FROM nadia_bgw.table_stats_latest t"},

	/* hit ratio and temporary bytes per sample of each database */
	{"updating database baselines",
	 "SELECT 'database', h.datid, 0::int8, 0::oid, 'temp_bytes_per_sample',"
	 "       pg_catalog.sum(h.temp_bytes)::float8 / pg_catalog.count(DISTINCT h.sampled_at),"
	 "       ARRAY[pg_catalog.format('temp_spill:%s', h.datid)]"
	 "  FROM nadia_bgw.database_history h"
	 " WHERE h.sampled_at = ANY ($1)"
	 " GROUP BY h.datid"
	 " UNION ALL "
	 "SELECT 'database', h.dbid, 0::int8, 0::oid, 'cache_hit_ratio',"
	 "       pg_catalog.sum(h.shared_blks_hit)::float8"
	 "         / NULLIF(pg_catalog.sum(h.shared_blks_hit + h.shared_blks_read), 0),"
	 "       ARRAY[pg_catalog.format('cache_hit_drop:%s', h.dbid)]"
	 "  FROM nadia_bgw.statement_history h"
	 " WHERE h.sampled_at = ANY ($1)"
	 " GROUP BY h.dbid"},
};

typedef struct BaselineCall
{
	NadiaDetectContext *ctx;
	const BaselineScope *scope;
} BaselineCall;

/*
 * Fold the observations of one scope into its baselines: one EWMA step
 * per object and metric.  An object whose alert key is among the open
 * alerts is skipped, so a regression does not become the new normal while
 * it is reported.  alpha is 1/(n+1) while a baseline is young (a plain
 * mean and variance) and 2/(span+1) once it is older.
 */
static void
update_scope(void *arg)
{
	BaselineCall *call = (BaselineCall *) arg;
	char	   *sql = psprintf(
							   "WITH obs (scope, dbid, objid, userid, metric, value, keys) AS (%s)"
							   "INSERT INTO nadia_bgw.baselines AS b"
							   "       (scope, dbid, objid, userid, metric, mean, var, n)"
							   "SELECT o.scope, o.dbid, o.objid, o.userid, o.metric, o.value, 0, 1"
							   "  FROM obs o"
							   " WHERE o.value IS NOT NULL AND o.value <> 'NaN'"
							   "   AND NOT EXISTS (SELECT 1 FROM nadia_bgw.alerts a"
							   "                    WHERE a.state = 'open' AND a.alert_key = ANY (o.keys))"
							   " ORDER BY 1, 2, 3, 4, 5 "
							   "ON CONFLICT (scope, dbid, objid, userid, metric) DO UPDATE"
							   "   SET mean = b.mean + GREATEST(1.0 / (b.n + 1), 2.0 / ($2 + 1))"
							   "                     * (excluded.mean - b.mean),"
							   "       var = (1 - GREATEST(1.0 / (b.n + 1), 2.0 / ($2 + 1)))"
							   "             * (b.var + GREATEST(1.0 / (b.n + 1), 2.0 / ($2 + 1))"
							   "                        * (excluded.mean - b.mean) ^ 2),"
							   "       n = b.n + 1,"
							   "       updated_at = pg_catalog.now()",
							   call->scope->obs_sql);
	Oid			types[2] = {TIMESTAMPTZARRAYOID, FLOAT8OID};
	Datum		vals[2];

	vals[0] = call->ctx->new_samples;
	vals[1] = Float8GetDatum(nadia_baseline_samples);
	nadia_spi_check(SPI_execute_with_args(sql, 2, types, vals, NULL, false, 0),
					SPI_OK_INSERT, "updating baselines");
}

/*
 * Fold the run's new samples into every scope, each in its own
 * subtransaction: a scope that fails (a history view missing) leaves its
 * baselines as they were, with a WARNING ending in "hint".
 */
void
nadia_baselines_update(NadiaDetectContext *ctx, const char *hint)
{
	int			i;

	for (i = 0; i < (int) lengthof(scopes); i++)
	{
		BaselineCall call = {ctx, &scopes[i]};

		(void) nadia_guarded_call(scopes[i].what, hint, update_scope, &call, 0, NULL);
	}
}
