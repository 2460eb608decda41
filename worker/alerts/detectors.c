/*-------------------------------------------------------------------------
 *
 * detectors.c
 *		The detectors: each turns the recent history window, or the
 *		server's current state, into alert candidates.
 *
 * Most detectors are one query and the settings it is given as
 * parameters: a row of the table at the end of this file.  Its rows are
 * read the same way for all (read_candidates()).  A detector a query
 * cannot express is a C function in the same table (the "rollup_broken"
 * one in detector_rollup.c, the "debug" one of the tests here).  The run
 * that calls them is in detect.c.
 *
 * To add a detector: write its query returning the candidate columns
 * below, add a row to nadia_detectors[] with its kinds and parameters, its
 * settings to alerts_guc.c, and describe it in docs/alerts.md.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/float.h"

#include "core/core.h"
#include "alerts/alerts_internal.h"

/*
 * Kinds whose alerts count a normal cycle only when the detector judged
 * their object and found it normal (enough calls, scans or blocks in the
 * window), not merely because the object was quiet: a slow query that ran
 * too few times in one interval has not recovered.  Such an alert with no
 * evidence either way for alert_resolve_cycles x 10 runs is resolved as
 * "stale" (the statement stopped running, the table is no longer read).
 * For the other kinds, an object that does not fire is normal.
 */
const char *const nadia_judged_kinds[] = {
	"query_latency", "plan_change", "seqscan_surge", "cache_hit_drop"
};
const int	nadia_njudged_kinds = lengthof(nadia_judged_kinds);

/* ---------------------------------------------------------------------
 * Reading candidates
 * ---------------------------------------------------------------------
 */

static Oid
get_oid(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	return isnull ? InvalidOid : DatumGetObjectId(d);
}

/*
 * Read the candidates a detector query returns.  Every detector query
 * returns the same columns, in this order:
 *	kind, alert_key, object, object_type, dbid, datname, relid, relname,
 *	queryid, userid, query, metric, baseline, observed, severity, details
 * and optionally "firing": a row with firing = false is an object that was
 * judged and found normal; only its key is kept, in ctx->judged_keys.
 */
static List *
read_candidates(NadiaDetectContext *ctx, const char *sql, int nargs,
				Oid *types, Datum *vals)
{
	uint64		i;
	List	   *result = NIL;

	nadia_spi_check(SPI_execute_with_args(sql, nargs, types, vals, NULL, true, 0),
					SPI_OK_SELECT, "detector query");
	if (SPI_tuptable == NULL ||
		(SPI_tuptable->tupdesc->natts != 16 && SPI_tuptable->tupdesc->natts != 17))
		elog(ERROR, "detector query must return 16 or 17 columns");

	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		NadiaCandidate *c;
		bool		isnull;

		if (desc->natts == 17 &&
			!DatumGetBool(SPI_getbinval(tup, desc, 17, &isnull)))
		{
			ctx->judged_keys = lappend(ctx->judged_keys, SPI_getvalue(tup, desc, 2));
			continue;
		}
		c = palloc0(sizeof(NadiaCandidate));
		c->kind = SPI_getvalue(tup, desc, 1);
		c->alert_key = SPI_getvalue(tup, desc, 2);
		c->object = SPI_getvalue(tup, desc, 3);
		c->object_type = SPI_getvalue(tup, desc, 4);
		c->dbid = get_oid(tup, desc, 5);
		c->datname = SPI_getvalue(tup, desc, 6);
		c->relid = get_oid(tup, desc, 7);
		c->relname = SPI_getvalue(tup, desc, 8);
		c->queryid = nadia_spi_getint8(i, 9, &isnull);
		c->has_queryid = !isnull;
		c->userid = get_oid(tup, desc, 10);
		c->query = SPI_getvalue(tup, desc, 11);
		c->metric = SPI_getvalue(tup, desc, 12);
		c->has_baseline = nadia_spi_getfloat8(i, 13, &c->baseline);
		if (!nadia_spi_getfloat8(i, 14, &c->observed))
			c->observed = NAN;
		c->severity = nadia_severity_from_name(SPI_getvalue(tup, desc, 15));
		c->details = SPI_getvalue(tup, desc, 16);
		if (c->kind == NULL || c->alert_key == NULL || c->object == NULL ||
			c->object_type == NULL || c->metric == NULL)
			elog(ERROR, "detector returned a candidate without kind, key, object or metric");
		result = lappend(result, c);
	}
	return result;
}

/* Run a query detector: its parameters from the context and the settings. */
static List *
run_query(const NadiaDetector *det, NadiaDetectContext *ctx)
{
	Oid			types[NADIA_DETECTOR_MAX_PARAMS];
	Datum		vals[NADIA_DETECTOR_MAX_PARAMS];
	int			n;

	for (n = 0; n < NADIA_DETECTOR_MAX_PARAMS; n++)
	{
		const NadiaDetectorParam *p = &det->params[n];

		switch (p->kind)
		{
			case NADIA_PARAM_END:
				return read_candidates(ctx, det->sql, n, types, vals);
			case NADIA_PARAM_WINDOW:
			case NADIA_PARAM_WIDE_WINDOW:
				types[n] = TIMESTAMPTZARRAYOID;
				vals[n] = p->kind == NADIA_PARAM_WINDOW ? ctx->window : ctx->wide_window;
				break;
			case NADIA_PARAM_REAL:
				types[n] = FLOAT8OID;
				vals[n] = Float8GetDatum(*(const double *) p->setting);
				break;
			case NADIA_PARAM_INT:
				types[n] = FLOAT8OID;
				vals[n] = Float8GetDatum((double) *(const int *) p->setting *
										 (p->scale != 0 ? p->scale : 1.0));
				break;
			case NADIA_PARAM_COUNT:
				types[n] = INT8OID;
				vals[n] = Int64GetDatum(*(const int *) p->setting);
				break;
		}
	}
	return read_candidates(ctx, det->sql, n, types, vals);
}

/*
 * The candidates of one detector this run (SPI connected; the caller runs
 * it in a subtransaction).
 */
List *
nadia_detector_run(const NadiaDetector *det, NadiaDetectContext *ctx)
{
	if (det->applies != NULL && !det->applies(ctx))
		return NIL;
	if (det->run != NULL)
		return det->run(ctx);
	return run_query(det, ctx);
}

/* ---------------------------------------------------------------------
 * Statement detectors (statement history against statement baselines)
 * ---------------------------------------------------------------------
 */

/*
 * The recent window per statement, joined to its baselines: shared by the
 * latency, plan-change and new-statement detectors.
 */
#define STATEMENT_WINDOW_SQL \
	"WITH w AS (" \
	"  SELECT h.dbid, h.userid, h.queryid," \
	"         pg_catalog.max(h.datname::text) AS datname," \
	"         pg_catalog.max(h.username::text) AS username," \
	"         pg_catalog.max(h.query) AS query," \
	"         pg_catalog.sum(h.calls)::float8 AS calls," \
	"         pg_catalog.sum(h.total_exec_time_ms)::float8 AS total_ms," \
	"         pg_catalog.sum(h.rows)::float8 AS nrows," \
	"         pg_catalog.sum(h.shared_blks_hit + h.shared_blks_read)::float8 AS blks" \
	"    FROM nadia_bgw.statement_history h" \
	"   WHERE h.sampled_at = ANY ($1)" \
	"   GROUP BY h.dbid, h.userid, h.queryid)," \
	" o AS (" \
	"  SELECT w.*, w.total_ms / w.calls AS mean_ms," \
	"         w.blks / w.calls AS blks_pc, w.nrows / w.calls AS rows_pc" \
	"    FROM w WHERE w.calls > 0) "

/* details shared by the statement candidates */
#define STATEMENT_DETAILS_SQL \
	"pg_catalog.jsonb_build_object('calls', o.calls, 'user', o.username," \
	" 'baseline_stddev', pg_catalog.round(pg_catalog.sqrt(b.var)::numeric, 3)," \
	" 'baseline_samples', b.n, 'window_samples', pg_catalog.cardinality($1))"

/*
 * A statement whose mean execution time rose well above its baseline, by
 * a ratio, an absolute amount and a number of standard deviations.
 */
static const char *const query_latency_sql =
	STATEMENT_WINDOW_SQL
	"SELECT 'query_latency', pg_catalog.format('query_latency:%s:%s:%s', o.dbid, o.userid, o.queryid),"
	"       pg_catalog.format('query %s in %s', o.queryid, o.datname), 'statement',"
	"       o.dbid, o.datname, NULL::oid, NULL::text, o.queryid, o.userid, o.query,"
	"       'mean_exec_time_ms', b.mean, o.mean_ms,"
	"       CASE WHEN o.mean_ms >= $6 * b.mean THEN 'critical' ELSE 'warning' END,"
	STATEMENT_DETAILS_SQL ","
	"       o.mean_ms >= $3 * b.mean"
	"       AND o.mean_ms - b.mean >= $4"
	"       AND o.mean_ms >= b.mean + $5 * pg_catalog.sqrt(b.var) AS firing"
	"  FROM o JOIN nadia_bgw.baselines b"
	"    ON b.scope = 'statement' AND b.dbid = o.dbid AND b.objid = o.queryid"
	"   AND b.userid = o.userid AND b.metric = 'mean_exec_time_ms'"
	" WHERE o.calls >= $2 AND b.n >= $7"
	" ORDER BY firing DESC, o.total_ms DESC";

/*
 * The first sample of the window ($1) and just after its last: the range
 * given to nadia_bgw._plan_rows(), which reads plan history as explicit
 * rows and rows implied by statement history (a statement's figures while
 * it had one plan, sql/1.1/92_plan_history.sql), so that it plans the
 * read with the range known and prunes partitions.
 */
#define WINDOW_START_SQL "(SELECT pg_catalog.min(t) FROM pg_catalog.unnest($1) t)"
#define WINDOW_END_SQL \
	"(SELECT pg_catalog.max(t) + interval '1 microsecond' FROM pg_catalog.unnest($1) t)"

/*
 * A statement whose dominant plan (the plan with the most calls) in the
 * recent window is not the one it had before, and is slower per call by
 * plan_change_slowdown.  "Before" is the reference: while an alert of the
 * statement is open, the old plan it recorded (frozen, like the baselines
 * of an object with an open alert); otherwise the dominant plan over the
 * baseline_samples samples preceding the window, judged only with enough
 * calls there and in baseline_min_samples of them (the warm-up).  A plan
 * accepted by resolving its alert by hand (the new plan of the latest
 * alert of the statement, if resolved_by = 'manual') does not fire again.
 * Both sides count implied rows: a statement that ran one plan until the
 * window has its reference (calls, samples) from statement history.
 * Rows with firing = false are statements judged normal: the old plan
 * dominant again, or the new one no longer slower.
 *
 * Parameters: $1 window, $2 latency_min_calls, $3 plan_change_slowdown,
 * $4 baseline_samples, $5 baseline_min_samples, $6 latency_critical_ratio.
 */
static const char *const plan_change_sql =
	"WITH win AS ("
	"  SELECT p.dbid, p.userid, p.queryid, p.planid,"
	"         pg_catalog.sum(s.calls)::float8 AS calls,"
	"         pg_catalog.sum(s.total_exec_time)::float8 AS total_ms"
	"    FROM nadia_bgw._plan_rows('raw', " WINDOW_START_SQL ", " WINDOW_END_SQL ") s"
	"    JOIN nadia_bgw.plans p ON p.plan_ref = s.plan_ref"
	"   WHERE s.sampled_at = ANY ($1)"
	"   GROUP BY p.dbid, p.userid, p.queryid, p.planid"
	"  HAVING pg_catalog.sum(s.calls) > 0),"
	" st AS ("
	"  SELECT w.dbid, w.userid, w.queryid, pg_catalog.sum(w.calls) AS calls,"
	"         pg_catalog.format('plan_change:%s:%s:%s', w.dbid, w.userid, w.queryid) AS alert_key"
	"    FROM win w GROUP BY w.dbid, w.userid, w.queryid"
	"  HAVING pg_catalog.sum(w.calls) >= $2),"
	" nw AS ("
	"  SELECT DISTINCT ON (w.dbid, w.userid, w.queryid) w.*, w.total_ms / w.calls AS mean_ms"
	"    FROM win w"
	"   ORDER BY w.dbid, w.userid, w.queryid, w.calls DESC, w.total_ms DESC, w.planid),"
	" bounds AS ("
	"  SELECT " WINDOW_START_SQL " AS hi,"
	"         (SELECT pg_catalog.min(r.sampled_at) FROM ("
	"            SELECT x.sampled_at FROM nadia_bgw.samples x"
	"             WHERE x.sampled_at < " WINDOW_START_SQL
	"             ORDER BY x.sampled_at DESC LIMIT $4) r) AS lo),"
	" ref AS ("
	"  SELECT p.dbid, p.userid, p.queryid, p.planid,"
	"         pg_catalog.sum(s.calls)::float8 AS calls,"
	"         pg_catalog.sum(s.total_exec_time)::float8 AS total_ms,"
	"         pg_catalog.count(DISTINCT s.sampled_at) AS samples"
	"    FROM st JOIN nadia_bgw.plans p"
	"      ON p.dbid = st.dbid AND p.userid = st.userid AND p.queryid = st.queryid"
	/* only the plans of the window's statements: implied rows are not free */
	"    JOIN nadia_bgw._plan_rows('raw', (SELECT b.lo FROM bounds b),"
	"                              (SELECT b.hi FROM bounds b),"
	"           (SELECT COALESCE(pg_catalog.array_agg(q.plan_ref), '{}')"
	"              FROM st JOIN nadia_bgw.plans q ON q.dbid = st.dbid"
	"                   AND q.userid = st.userid AND q.queryid = st.queryid)) s"
	"      ON s.plan_ref = p.plan_ref"
	"   GROUP BY p.dbid, p.userid, p.queryid, p.planid"
	"  HAVING pg_catalog.sum(s.calls) > 0),"
	" od AS ("
	"  SELECT DISTINCT ON (r.dbid, r.userid, r.queryid) r.* FROM ref r"
	"   ORDER BY r.dbid, r.userid, r.queryid, r.calls DESC, r.total_ms DESC, r.planid),"
	" j AS ("
	"  SELECT st.*, nw.planid AS new_planid, nw.calls AS new_calls, nw.mean_ms AS new_ms,"
	"         CASE WHEN a.alert_id IS NOT NULL THEN (a.details->>'old_planid')::int8"
	"              ELSE od.planid END AS old_planid,"
	/* the alert's baseline: the old plan's mean, unrounded */
	"         CASE WHEN a.alert_id IS NOT NULL THEN a.baseline"
	"              ELSE od.total_ms / od.calls END AS old_ms,"
	"         CASE WHEN a.alert_id IS NOT NULL THEN (a.details->>'old_calls')::float8"
	"              ELSE od.calls END AS old_calls,"
	"         CASE WHEN a.alert_id IS NOT NULL THEN (a.details->>'reference_samples')::int8"
	"              ELSE od.samples END AS ref_samples,"
	"         (SELECT (l.details->>'new_planid')::int8 FROM nadia_bgw.alerts l"
	"           WHERE l.alert_key = st.alert_key ORDER BY l.alert_id DESC LIMIT 1)"
	"           AS last_planid,"
	"         (SELECT l.resolved_by = 'manual' FROM nadia_bgw.alerts l"
	"           WHERE l.alert_key = st.alert_key ORDER BY l.alert_id DESC LIMIT 1)"
	"           AS last_accepted"
	"    FROM st JOIN nw USING (dbid, userid, queryid)"
	"    LEFT JOIN od USING (dbid, userid, queryid)"
	"    LEFT JOIN nadia_bgw.alerts a"
	"      ON a.alert_key = st.alert_key AND a.state = 'open' AND a.details ? 'old_planid'"
	"     AND a.baseline IS NOT NULL"
	"   WHERE a.alert_id IS NOT NULL OR (od.calls >= $2 AND od.samples >= $5)),"
	" f AS ("
	"  SELECT j.*, COALESCE(j.new_planid <> j.old_planid AND j.new_ms >= $3 * j.old_ms"
	"                       AND NOT (COALESCE(j.last_accepted, false)"
	"                                AND COALESCE(j.last_planid = j.new_planid, false)),"
	"                       false) AS firing"
	"    FROM j)"
	"SELECT 'plan_change', f.alert_key,"
	"       pg_catalog.format('query %s in %s', f.queryid, COALESCE(d.datname::text, q.datname::text)),"
	"       'statement', f.dbid, COALESCE(d.datname::text, q.datname::text),"
	"       NULL::oid, NULL::text, f.queryid, f.userid, q.query,"
	"       'plan_mean_exec_time_ms', f.old_ms, f.new_ms,"
	"       CASE WHEN f.new_ms >= $6 * f.old_ms THEN 'critical' ELSE 'warning' END,"
	"       CASE WHEN f.firing THEN pg_catalog.jsonb_build_object("
	"           'old_planid', f.old_planid::text, 'new_planid', f.new_planid::text,"
	"           'old_mean_exec_time_ms', pg_catalog.round(f.old_ms::numeric, 3),"
	"           'new_mean_exec_time_ms', pg_catalog.round(f.new_ms::numeric, 3),"
	"           'old_calls', f.old_calls, 'new_calls', f.new_calls, 'calls', f.calls,"
	"           'change_summary', nadia_bgw._plan_change_summary(po.plan_nodes, pn.plan_nodes),"
	"           'user', COALESCE(r.rolname::text, q.username::text),"
	"           'reference_samples', f.ref_samples,"
	"           'window_samples', pg_catalog.cardinality($1)) END,"
	"       f.firing"
	"  FROM f"
	"  LEFT JOIN nadia_bgw.statements q"
	"    ON q.dbid = f.dbid AND q.userid = f.userid AND q.queryid = f.queryid"
	"  LEFT JOIN pg_catalog.pg_database d ON d.oid = f.dbid"
	"  LEFT JOIN pg_catalog.pg_roles r ON r.oid = f.userid"
	"  LEFT JOIN nadia_bgw.plans po ON f.firing AND po.dbid = f.dbid"
	"   AND po.userid = f.userid AND po.queryid = f.queryid AND po.planid = f.old_planid"
	"  LEFT JOIN nadia_bgw.plans pn ON f.firing AND pn.dbid = f.dbid"
	"   AND pn.userid = f.userid AND pn.queryid = f.queryid AND pn.planid = f.new_planid"
	" ORDER BY f.firing DESC, f.calls DESC";

/*
 * The fallback for statements without plan history (the capture off, in a
 * session or for the server, or a database whose extension is still at
 * 1.0): shared blocks or rows per call jumping by an order of magnitude is
 * the footprint of a new plan (an index gone, a join order flipped).  A
 * statement with plan rows in the window (explicit or implied: a captured
 * plan) is left to the detector above, under the same alert key, so one
 * plan change is one alert.
 */
#define PLAN_CHANGE_BLOCKS_SQL(extra_where) \
	STATEMENT_WINDOW_SQL \
	", m AS (" \
	"  SELECT o.*, v.metric, v.value, v.min_increase, v.ord" \
	"    FROM o CROSS JOIN LATERAL (VALUES" \
	"      ('shared_blks_per_call', o.blks_pc, $4, 1)," \
	"      ('rows_per_call', o.rows_pc, $5, 2)) v(metric, value, min_increase, ord))" \
	"SELECT 'plan_change', pg_catalog.format('plan_change:%s:%s:%s', o.dbid, o.userid, o.queryid)," \
	"       pg_catalog.format('query %s in %s', o.queryid, o.datname), 'statement'," \
	"       o.dbid, o.datname, NULL::oid, NULL::text, o.queryid, o.userid, o.query," \
	"       o.metric, b.mean, o.value, 'warning'," \
	STATEMENT_DETAILS_SQL "," \
	"       o.value >= $3 * b.mean AND o.value - b.mean >= o.min_increase AS firing" \
	"  FROM m o JOIN nadia_bgw.baselines b" \
	"    ON b.scope = 'statement' AND b.dbid = o.dbid AND b.objid = o.queryid" \
	"   AND b.userid = o.userid AND b.metric = o.metric" \
	" WHERE o.calls >= $2 AND b.n >= $6" extra_where \
	" ORDER BY firing DESC, o.ord, o.total_ms DESC"

/* a database whose extension is at 1.0: no plan history at all */
static const char *const plan_change_blocks_sql = PLAN_CHANGE_BLOCKS_SQL("");

/* with plan history: only the statements that have none in the window */
static const char *const plan_change_blocks_rest_sql =
	PLAN_CHANGE_BLOCKS_SQL(
						   "   AND NOT EXISTS (SELECT 1 FROM nadia_bgw.plans p"
						   "                     JOIN nadia_bgw._plan_rows('raw', " WINDOW_START_SQL ","
						   "                              " WINDOW_END_SQL ") s ON s.plan_ref = p.plan_ref"
						   "                    WHERE p.dbid = o.dbid AND p.userid = o.userid"
						   "                      AND p.queryid = o.queryid AND s.sampled_at = ANY ($1))");

static bool
have_plans(NadiaDetectContext *ctx)
{
	return ctx->have_plans;
}

static bool
no_plans(NadiaDetectContext *ctx)
{
	return !ctx->have_plans;
}

/*
 * A statement never seen before that at once takes a large share of the
 * execution time.  Judged only after the detector has seen
 * baseline_min_samples runs (after_warm_up()), so that installing the
 * extension on a busy server does not flag every statement as new.
 */
static const char *const new_statement_sql =
	STATEMENT_WINDOW_SQL
	", t AS (SELECT pg_catalog.sum(o.total_ms) AS all_ms FROM o)"
	"SELECT 'new_statement', pg_catalog.format('new_statement:%s:%s:%s', o.dbid, o.userid, o.queryid),"
	"       pg_catalog.format('query %s in %s', o.queryid, o.datname), 'statement',"
	"       o.dbid, o.datname, NULL::oid, NULL::text, o.queryid, o.userid, o.query,"
	"       'share_of_exec_time', NULL::float8, o.total_ms / t.all_ms, 'warning',"
	"       pg_catalog.jsonb_build_object('calls', o.calls, 'user', o.username,"
	"           'total_exec_time_ms', pg_catalog.round(o.total_ms::numeric, 3),"
	"           'mean_exec_time_ms', pg_catalog.round(o.mean_ms::numeric, 3))"
	"  FROM o, t"
	" WHERE t.all_ms > 0 AND o.total_ms >= $3"
	"   AND o.total_ms / t.all_ms >= $2"
	"   AND NOT EXISTS (SELECT 1 FROM nadia_bgw.baselines b"
	"                    WHERE b.scope = 'statement' AND b.dbid = o.dbid"
	"                      AND b.objid = o.queryid AND b.userid = o.userid)"
	" ORDER BY o.total_ms DESC";

static bool
after_warm_up(NadiaDetectContext *ctx)
{
	return ctx->runs >= nadia_baseline_min_samples;
}

/* ---------------------------------------------------------------------
 * Table and database detectors (table and database history)
 * ---------------------------------------------------------------------
 */

/*
 * A large table whose scans turn sequential: the signature of a missing or
 * dropped index.  The sequential share of scans does not depend on how
 * long the window is, unlike a count of scans.
 */
static const char *const seqscan_surge_sql =
	"WITH w AS ("
	"  SELECT h.relid, pg_catalog.sum(h.seq_scan)::float8 AS seq,"
	"         pg_catalog.sum(h.idx_scan)::float8 AS idx,"
	"         pg_catalog.sum(h.seq_tup_read)::float8 AS tup"
	"    FROM nadia_bgw.table_history h"
	"   WHERE h.sampled_at = ANY ($1)"
	"   GROUP BY h.relid),"
	" d AS (SELECT oid FROM pg_catalog.pg_database"
	"        WHERE datname = pg_catalog.current_database())"
	"SELECT 'seqscan_surge', pg_catalog.format('seqscan_surge:%s', w.relid),"
	"       pg_catalog.format('table %I.%I', t.schemaname, t.relname), 'table',"
	"       d.oid, pg_catalog.current_database()::text, w.relid,"
	"       pg_catalog.format('%I.%I', t.schemaname, t.relname),"
	"       NULL::int8, NULL::oid, NULL::text,"
	"       'seq_scan_share', b.mean, w.seq / (w.seq + w.idx),"
	"       CASE WHEN w.seq / (w.seq + w.idx) - b.mean >= 0.9 THEN 'critical' ELSE 'warning' END,"
	"       pg_catalog.jsonb_build_object('seq_scan', w.seq, 'idx_scan', w.idx,"
	"           'seq_tup_read', w.tup, 'n_live_tup', t.n_live_tup,"
	"           'rows_per_seq_scan', pg_catalog.round((w.tup / NULLIF(w.seq, 0))::numeric),"
	"           'baseline_samples', b.n),"
	"       w.seq >= $2 AND w.seq / (w.seq + w.idx) - b.mean >= $4 AS firing"
	"  FROM w CROSS JOIN d"
	"  JOIN nadia_bgw.table_stats_latest t ON t.relid = w.relid"
	"  JOIN nadia_bgw.baselines b"
	"    ON b.scope = 'table' AND b.dbid = d.oid AND b.objid = w.relid"
	"   AND b.userid = 0 AND b.metric = 'seq_scan_share'"
	" WHERE w.seq + w.idx >= $2 AND t.n_live_tup >= $3 AND b.n >= $5"
	" ORDER BY firing DESC, w.tup DESC";

/*
 * A table whose dead share is high and not falling: vacuum does not keep
 * up.  The baseline is the recent level of the ratio; a ratio at or above
 * it means no vacuum brought it down lately.
 */
static const char *const dead_tuples_sql =
	"WITH d AS (SELECT oid FROM pg_catalog.pg_database"
	"            WHERE datname = pg_catalog.current_database()),"
	" t AS (SELECT t.*, t.n_dead_tup::float8"
	"               / NULLIF(t.n_live_tup + t.n_dead_tup, 0) AS ratio"
	"         FROM nadia_bgw.table_stats_latest t)"
	"SELECT 'dead_tuples', pg_catalog.format('dead_tuples:%s', t.relid),"
	"       pg_catalog.format('table %I.%I', t.schemaname, t.relname), 'table',"
	"       d.oid, pg_catalog.current_database()::text, t.relid,"
	"       pg_catalog.format('%I.%I', t.schemaname, t.relname),"
	"       NULL::int8, NULL::oid, NULL::text,"
	"       'dead_tuple_ratio', b.mean, t.ratio,"
	"       CASE WHEN t.ratio >= 0.5 THEN 'critical' ELSE 'warning' END,"
	"       pg_catalog.jsonb_build_object('n_dead_tup', t.n_dead_tup,"
	"           'n_live_tup', t.n_live_tup, 'last_vacuum', t.last_vacuum,"
	"           'last_autovacuum', t.last_autovacuum)"
	"  FROM t CROSS JOIN d"
	"  LEFT JOIN nadia_bgw.baselines b"
	"    ON b.scope = 'table' AND b.dbid = d.oid AND b.objid = t.relid"
	"   AND b.userid = 0 AND b.metric = 'dead_tuple_ratio'"
	" WHERE t.n_dead_tup >= $1 AND t.ratio >= $2"
	"   AND (b.mean IS NULL OR t.ratio >= b.mean)"
	" ORDER BY t.n_dead_tup DESC";

/*
 * Cache hit ratio drop, temporary file growth and deadlocks, per database.
 * The hit ratio is that of the statements (pg_stat_statements' shared
 * blocks), not pg_stat_database's: autovacuum and other maintenance reads
 * would otherwise pass for a cache problem of the application.
 */
static const char *const database_sql =
	"WITH w AS ("
	"  SELECT h.datid, pg_catalog.max(h.datname::text) AS datname,"
	"         pg_catalog.sum(h.blks_hit)::float8 AS hit,"
	"         pg_catalog.sum(h.blks_read)::float8 AS rd,"
	"         pg_catalog.sum(h.temp_bytes)::float8"
	"           / pg_catalog.count(DISTINCT h.sampled_at) AS temp,"
	"         pg_catalog.sum(h.temp_files)::float8 AS temp_files,"
	"         pg_catalog.sum(h.deadlocks)::float8 AS deadlocks"
	"    FROM nadia_bgw.database_history h"
	"   WHERE h.sampled_at = ANY ($1)"
	"   GROUP BY h.datid),"
	" s AS ("
	"  SELECT h.dbid AS datid, pg_catalog.max(h.datname::text) AS datname,"
	"         pg_catalog.sum(h.shared_blks_hit)::float8 AS hit,"
	"         pg_catalog.sum(h.shared_blks_read)::float8 AS rd"
	"    FROM nadia_bgw.statement_history h"
	"   WHERE h.sampled_at = ANY ($10)"
	"   GROUP BY h.dbid),"
	" b AS (SELECT b.dbid, b.metric, b.mean, b.var, b.n FROM nadia_bgw.baselines b"
	"        WHERE b.scope = 'database')"
	"SELECT 'cache_hit_drop', pg_catalog.format('cache_hit_drop:%s', s.datid),"
	"       pg_catalog.format('database %s', s.datname), 'database',"
	"       s.datid, s.datname, NULL::oid, NULL::text, NULL::int8, NULL::oid, NULL::text,"
	"       'cache_hit_ratio', b.mean, s.hit / (s.hit + s.rd),"
	"       CASE WHEN s.hit / (s.hit + s.rd) < b.mean - 5 * $3 THEN 'critical' ELSE 'warning' END,"
	"       pg_catalog.jsonb_build_object('shared_blks_hit', s.hit, 'shared_blks_read', s.rd,"
	"           'baseline_samples', b.n),"
	"       s.hit / (s.hit + s.rd) < $2 AND s.hit / (s.hit + s.rd) < b.mean - $3"
	"       AND s.hit / (s.hit + s.rd) < b.mean - $9 * pg_catalog.sqrt(b.var)"
	"  FROM s JOIN b ON b.dbid = s.datid AND b.metric = 'cache_hit_ratio'"
	" WHERE s.hit + s.rd >= $4 AND b.n >= $8"
	" UNION ALL "
	"SELECT 'temp_spill', pg_catalog.format('temp_spill:%s', w.datid),"
	"       pg_catalog.format('database %s', w.datname), 'database',"
	"       w.datid, w.datname, NULL::oid, NULL::text, NULL::int8, NULL::oid, NULL::text,"
	"       'temp_bytes_per_sample', b.mean, w.temp,"
	"       CASE WHEN w.temp >= 10 * $6 * GREATEST(b.mean, $5 / $6) THEN 'critical' ELSE 'warning' END,"
	"       pg_catalog.jsonb_build_object('temp_files', w.temp_files,"
	"           'baseline_samples', b.n), true"
	"  FROM w JOIN b ON b.dbid = w.datid AND b.metric = 'temp_bytes_per_sample'"
	" WHERE w.temp >= $5 AND w.temp >= $6 * b.mean AND b.n >= $8"
	" UNION ALL "
	"SELECT 'deadlocks', pg_catalog.format('deadlocks:%s', w.datid),"
	"       pg_catalog.format('database %s', w.datname), 'database',"
	"       w.datid, w.datname, NULL::oid, NULL::text, NULL::int8, NULL::oid, NULL::text,"
	"       'deadlocks', $7::float8, w.deadlocks,"
	"       CASE WHEN w.deadlocks >= 10 * $7 THEN 'critical' ELSE 'warning' END,"
	"       '{}'::jsonb, true"
	"  FROM w WHERE w.deadlocks >= $7";

/* ---------------------------------------------------------------------
 * Server-state detectors: what is true right now
 * ---------------------------------------------------------------------
 */

/* Client backends near max_connections. */
static const char *const connections_sql =
	"WITH c AS ("
	"  SELECT pg_catalog.count(*)::float8 AS n,"
	"         pg_catalog.current_setting('max_connections')::float8 AS max"
	"    FROM pg_catalog.pg_stat_activity WHERE backend_type = 'client backend')"
	"SELECT 'connections', 'connections', 'server', 'server',"
	"       NULL::oid, NULL::text, NULL::oid, NULL::text, NULL::int8, NULL::oid, NULL::text,"
	"       'connections', c.max * $1, c.n,"
	"       CASE WHEN c.n >= 0.95 * c.max THEN 'critical' ELSE 'warning' END,"
	"       pg_catalog.jsonb_build_object('max_connections', c.max,"
	"           'share', pg_catalog.round((c.n / c.max)::numeric, 3),"
	"           'by_state', (SELECT pg_catalog.jsonb_object_agg(s.state, s.n) FROM ("
	"               SELECT COALESCE(a.state, 'unknown') AS state, pg_catalog.count(*) AS n"
	"                 FROM pg_catalog.pg_stat_activity a"
	"                WHERE a.backend_type = 'client backend' GROUP BY 1) s))"
	"  FROM c WHERE c.n >= c.max * $1";

/*
 * The text of backend "a"'s current statement, as statement history holds
 * it (normalized, or reduced to its command tag and object names by
 * statement_text.c), found by its query id; NULL when history has not
 * stored it yet.  Never pg_stat_activity.query: that is the raw text, with
 * its literals, of a session the reader role may not see.
 */
#define STATEMENT_TEXT_SQL \
	"(SELECT st.query FROM nadia_bgw.statements st" \
	"  WHERE st.queryid = a.query_id AND st.dbid = a.datid AND st.userid = a.usesysid)"

/*
 * Long transactions and sessions idle in a transaction.  The key carries
 * the transaction's start, so a new transaction in the same backend is a
 * new alert and the old one resolves.
 */
static const char *const long_transactions_sql =
	"SELECT k.kind,"
	"       pg_catalog.format('%s:%s:%s', k.kind, a.pid,"
	"           pg_catalog.to_char(a.xact_start, 'YYYYMMDDHH24MISSUS')),"
	"       pg_catalog.format('backend %s (%s in %s)', a.pid, a.usename, a.datname), 'backend',"
	"       a.datid, a.datname::text, NULL::oid, NULL::text, a.query_id, a.usesysid,"
	STATEMENT_TEXT_SQL ","
	"       k.metric, k.limit_s, k.age_s,"
	"       CASE WHEN k.age_s >= 5 * k.limit_s THEN 'critical' ELSE 'warning' END,"
	"       pg_catalog.jsonb_build_object('pid', a.pid, 'user', a.usename,"
	"           'application_name', a.application_name, 'state', a.state,"
	"           'xact_start', a.xact_start, 'backend_xid', a.backend_xid::text,"
	"           'backend_xmin', a.backend_xmin::text)"
	"  FROM pg_catalog.pg_stat_activity a"
	" CROSS JOIN LATERAL (VALUES"
	"   (CASE WHEN a.state LIKE 'idle in transaction%' THEN 'idle_in_transaction'"
	"         ELSE 'long_transaction' END,"
	"    CASE WHEN a.state LIKE 'idle in transaction%'"
	"         THEN 'idle_in_transaction_seconds' ELSE 'transaction_seconds' END,"
	"    CASE WHEN a.state LIKE 'idle in transaction%' THEN $2 ELSE $1 END,"
	"    CASE WHEN a.state LIKE 'idle in transaction%'"
	"         THEN pg_catalog.date_part('epoch', pg_catalog.now() - a.state_change)"
	"         ELSE pg_catalog.date_part('epoch', pg_catalog.now() - a.xact_start) END)"
	"   ) k(kind, metric, limit_s, age_s)"
	" WHERE a.backend_type = 'client backend' AND a.pid <> pg_catalog.pg_backend_pid()"
	"   AND a.xact_start IS NOT NULL AND k.age_s >= k.limit_s"
	" ORDER BY k.age_s DESC";

/*
 * Sessions waiting for a lock, with who blocks them: pids, query ids,
 * states, users and transaction starts, never their statement texts.  A
 * relation is named (regclass) only when the lock is in this database: an
 * OID of another database would name whatever relation has that OID here.
 */
static const char *const lock_waits_sql =
	"WITH w AS ("
	"  SELECT l.pid, pg_catalog.min(l.waitstart) AS waitstart,"
	"         pg_catalog.max(l.locktype) AS locktype, pg_catalog.max(l.mode) AS mode,"
	"         pg_catalog.max(l.relation) FILTER (WHERE l.database = ("
	"             SELECT d.oid FROM pg_catalog.pg_database d"
	"              WHERE d.datname = pg_catalog.current_database())) AS relation"
	"    FROM pg_catalog.pg_locks l WHERE NOT l.granted AND l.waitstart IS NOT NULL"
	"   GROUP BY l.pid)"
	"SELECT 'lock_wait',"
	"       pg_catalog.format('lock_wait:%s:%s', w.pid,"
	"           pg_catalog.to_char(w.waitstart, 'YYYYMMDDHH24MISSUS')),"
	"       pg_catalog.format('backend %s waiting for %s', w.pid,"
	"           COALESCE(w.relation::regclass::text, w.locktype)), 'backend',"
	"       a.datid, a.datname::text, w.relation, w.relation::regclass::text,"
	"       a.query_id, a.usesysid, " STATEMENT_TEXT_SQL ","
	"       'lock_wait_seconds', $1::float8,"
	"       pg_catalog.date_part('epoch', pg_catalog.now() - w.waitstart),"
	"       CASE WHEN pg_catalog.now() - w.waitstart >= $1 * 5 * interval '1 second'"
	"            THEN 'critical' ELSE 'warning' END,"
	"       pg_catalog.jsonb_build_object('pid', w.pid, 'mode', w.mode,"
	"           'locktype', w.locktype, 'blocked_queryid', a.query_id::text,"
	"           'blockers', (SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object("
	"                'pid', b.pid, 'queryid', b.query_id::text, 'state', b.state,"
	"                'user', b.usename, 'xact_start', b.xact_start))"
	"              FROM pg_catalog.pg_stat_activity b"
	"             WHERE b.pid = ANY (pg_catalog.pg_blocking_pids(w.pid))))"
	"  FROM w JOIN pg_catalog.pg_stat_activity a ON a.pid = w.pid"
	" WHERE pg_catalog.now() - w.waitstart >= $1 * interval '1 second'"
	" ORDER BY w.waitstart";

/*
 * Standbys that lag and slots that hold back WAL.  Not on a standby
 * (not_in_recovery()): it has no current WAL position to compare with.
 */
static const char *const replication_sql =
	"SELECT 'replication_lag',"
	"       pg_catalog.format('replication_lag:%s:%s', r.application_name, r.client_addr),"
	"       pg_catalog.format('standby %s', r.application_name), 'standby',"
	"       NULL::oid, NULL::text, NULL::oid, NULL::text, NULL::int8, NULL::oid, NULL::text,"
	"       'replay_lag_seconds', $1::float8,"
	"       pg_catalog.date_part('epoch', r.replay_lag),"
	"       CASE WHEN r.replay_lag >= $1 * 5 * interval '1 second' THEN 'critical' ELSE 'warning' END,"
	"       pg_catalog.jsonb_build_object('pid', r.pid, 'state', r.state,"
	"           'client_addr', r.client_addr::text, 'sync_state', r.sync_state,"
	"           'replay_lag_bytes', pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), r.replay_lsn))"
	"  FROM pg_catalog.pg_stat_replication r"
	" WHERE r.replay_lag >= $1 * interval '1 second'"
	" UNION ALL "
	"SELECT 'retained_wal', pg_catalog.format('retained_wal:%s', s.slot_name),"
	"       pg_catalog.format('replication slot %s', s.slot_name), 'slot',"
	"       s.datoid, s.database::text, NULL::oid, NULL::text, NULL::int8, NULL::oid, NULL::text,"
	"       'retained_wal_bytes', $2::float8 * 1048576,"
	"       pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), s.restart_lsn)::float8,"
	"       CASE WHEN pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), s.restart_lsn)"
	"                 >= $2::float8 * 1048576 * 5 OR s.wal_status = 'unreserved'"
	"            THEN 'critical' ELSE 'warning' END,"
	"       pg_catalog.jsonb_build_object('slot_type', s.slot_type, 'active', s.active,"
	"           'wal_status', s.wal_status, 'restart_lsn', s.restart_lsn::text)"
	"  FROM pg_catalog.pg_replication_slots s"
	" WHERE s.restart_lsn IS NOT NULL"
	"   AND pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), s.restart_lsn)"
	"       >= $2::float8 * 1048576";

static bool
not_in_recovery(NadiaDetectContext *ctx)
{
	return !RecoveryInProgress();
}

/*
 * Transaction ID and multixact age of each database; the oldest tables of
 * this database are named in the details because that is what needs a
 * VACUUM FREEZE.  Critical from the larger of the two thresholds.
 */
static const char *const wraparound_sql =
	"WITH d AS ("
	"  SELECT d.oid, d.datname, pg_catalog.age(d.datfrozenxid)::float8 AS xid_age,"
	"         pg_catalog.mxid_age(d.datminmxid)::float8 AS mxid_age"
	"    FROM pg_catalog.pg_database d WHERE d.datallowconn)"
	"SELECT 'wraparound', pg_catalog.format('wraparound:%s', d.oid),"
	"       pg_catalog.format('database %s', d.datname), 'database',"
	"       d.oid, d.datname::text, NULL::oid, NULL::text, NULL::int8, NULL::oid, NULL::text,"
	"       CASE WHEN d.xid_age >= d.mxid_age THEN 'xid_age' ELSE 'mxid_age' END,"
	"       $1::float8, GREATEST(d.xid_age, d.mxid_age),"
	"       CASE WHEN GREATEST(d.xid_age, d.mxid_age) >= GREATEST($1, $2) THEN 'critical' ELSE 'warning' END,"
	"       pg_catalog.jsonb_build_object('xid_age', d.xid_age, 'mxid_age', d.mxid_age,"
	"           'xids_left', 2147483647 - d.xid_age,"
	"           'oldest_tables', CASE WHEN d.oid = (SELECT oid FROM pg_catalog.pg_database"
	"                                               WHERE datname = pg_catalog.current_database())"
	"             THEN (SELECT pg_catalog.jsonb_agg(t) FROM ("
	"                 SELECT c.oid::regclass::text AS relation,"
	"                        pg_catalog.age(c.relfrozenxid) AS xid_age"
	"                   FROM pg_catalog.pg_class c"
	"                  WHERE c.relkind IN ('r', 't', 'm') AND c.relfrozenxid <> '0'"
	"                  ORDER BY pg_catalog.age(c.relfrozenxid) DESC LIMIT 5) t) END)"
	"  FROM d WHERE GREATEST(d.xid_age, d.mxid_age) >= $1"
	" ORDER BY 14 DESC";

/*
 * Capacity: a forecast that reaches its limit within
 * nadia_bgw.capacity_alert_days (docs/capacity.md).  The "capacity" task
 * of the quality module stores the forecasts once an hour in
 * nadia_bgw.capacity_forecasts; forecasts older than three hours (the task
 * failing or stopped) judge nothing.  Only hard limits alert: a full
 * filesystem, transaction or multixact wraparound, an exhausted sequence,
 * max_connections; reaching autovacuum_freeze_max_age is routine.
 * Critical under a quarter of the setting.  The setting is the quality
 * module's, read by name.
 */
static const char *const capacity_sql =
	"WITH f AS ("
	"  SELECT f.*, pg_catalog.current_setting('nadia_bgw.capacity_alert_days')::float8 AS days"
	"    FROM nadia_bgw.capacity_forecasts f"
	"   WHERE f.kind IN ('filesystem', 'xid_wraparound', 'mxid_wraparound', 'sequence', 'connections')"
	"     AND f.computed_at > pg_catalog.now() - interval '3 hours')"
	"SELECT 'capacity', pg_catalog.format('capacity:%s:%s', f.kind, f.objid),"
	"       pg_catalog.format('%s %s', f.kind, f.object),"
	"       CASE WHEN f.kind LIKE '%wraparound' THEN 'database'"
	"            WHEN f.kind = 'connections' THEN 'server' ELSE f.kind END,"
	"       CASE WHEN f.kind LIKE '%wraparound' THEN f.objid END,"
	"       CASE WHEN f.kind LIKE '%wraparound' THEN f.object END,"
	"       CASE WHEN f.kind = 'sequence' THEN f.objid END,"
	"       CASE WHEN f.kind = 'sequence' THEN f.object END,"
	"       NULL::int8, NULL::oid, NULL::text,"
	"       'days_to_limit', f.days, f.days_to_limit,"
	"       CASE WHEN f.days_to_limit < f.days / 4 THEN 'critical' ELSE 'warning' END,"
	"       pg_catalog.jsonb_build_object('forecast', f.kind, 'unit', f.unit,"
	"           'current_value', f.current_value, 'limit_value', f.limit_value,"
	"           'slope_7d', f.slope_7d, 'slope_30d', f.slope_30d,"
	"           'fit_7d', f.fit_7d, 'fit_30d', f.fit_30d, 'basis', f.basis,"
	"           'computed_at', f.computed_at)"
	"  FROM f WHERE f.days_to_limit < f.days"
	" ORDER BY f.days_to_limit, 1, 2";

/* a schema still at 1.0 has no forecasts */
static bool
have_capacity(NadiaDetectContext *ctx)
{
	bool		isnull;

	nadia_spi_check(SPI_execute("SELECT pg_catalog.count(*) FROM pg_catalog.pg_class"
								" WHERE oid = pg_catalog.to_regclass('nadia_bgw.capacity_forecasts')",
								true, 1),
					SPI_OK_SELECT, "capacity forecasts lookup");
	return nadia_spi_getint8(0, 1, &isnull) == 1;
}

/* ---------------------------------------------------------------------
 * Quality detectors (the catalog facts of nadia_bgw._quality_checks())
 * ---------------------------------------------------------------------
 */

/*
 * An index left invalid (a failed CREATE INDEX CONCURRENTLY or REINDEX
 * CONCURRENTLY): the open invalid_index facts the quality_checks task
 * stored this cycle (sql/1.1/97_quality_checks.sql).  It resolves once the
 * fact is resolved, the index dropped or rebuilt.  The other catalog
 * facts do not alert (docs/quality.md, "Constraints and integrity").
 */
static const char *const invalid_index_sql =
	"SELECT 'invalid_index', pg_catalog.format('invalid_index:%s', q.objid),"
	"       pg_catalog.format('index %I.%I', q.schemaname, q.objname), 'index',"
	"       d.oid, pg_catalog.current_database()::text, q.relid,"
	"       pg_catalog.format('%I.%I', q.schemaname, q.relname),"
	"       NULL::int8, NULL::oid, NULL::text,"
	"       'invalid_index', NULL::float8, 1::float8, 'warning',"
	"       pg_catalog.jsonb_build_object('index', q.objname, 'schema', q.schemaname,"
	"           'table', q.relname, 'first_seen', q.first_seen, 'fix', q.detail,"
	"           'fact_id', q.fact_id)"
	"  FROM nadia_bgw.quality_facts q"
	"  JOIN pg_catalog.pg_database d ON d.datname = pg_catalog.current_database()"
	" WHERE q.kind = 'invalid_index' AND q.resolved_at IS NULL"
	" ORDER BY q.first_seen, q.objid";

/*
 * Rows breaking a constraint, counted by the quality count worker
 * (worker/quality/quality_count.c): an open NOT VALID CHECK or NOT NULL
 * constraint whose latest count found violating rows
 * (constraint_violation), an open NOT VALID foreign key or one with
 * disabled triggers whose latest count found orphaned rows
 * (orphaned_rows; one alert per key when both facts are open).  A count
 * back to 0, or the fact resolved (the constraint validated or dropped,
 * the triggers enabled), ends the candidate and the alert resolves.  Only
 * counts and names: never a row's value.
 */
static const char *const quality_count_sql =
	"SELECT DISTINCT ON (a.kind, q.objid) a.kind,"
	"       pg_catalog.format('%s:%s', a.kind, q.objid),"
	"       pg_catalog.format('constraint %I on %I.%I', q.objname, q.schemaname, q.relname),"
	"       'constraint', d.oid, pg_catalog.current_database()::text, q.relid,"
	"       pg_catalog.format('%I.%I', q.schemaname, q.relname),"
	"       NULL::int8, NULL::oid, NULL::text,"
	"       a.kind, 0::float8, q.counted_rows::float8, 'warning',"
	"       pg_catalog.jsonb_build_object('constraint', q.objname, 'schema', q.schemaname,"
	"           'table', q.relname, 'fact', q.kind, 'counted_rows', q.counted_rows,"
	"           'count_exact', q.count_exact, 'count_error_bound', q.count_error_bound,"
	"           'counted_at', q.counted_at, 'fix', q.detail, 'fact_id', q.fact_id)"
	"  FROM nadia_bgw.quality_facts q"
	"  CROSS JOIN LATERAL (SELECT CASE WHEN q.kind IN ('not_valid_check', 'not_valid_not_null')"
	"                                  THEN 'constraint_violation' ELSE 'orphaned_rows' END AS kind) a"
	"  JOIN pg_catalog.pg_database d ON d.datname = pg_catalog.current_database()"
	" WHERE q.kind IN ('not_valid_check', 'not_valid_not_null', 'not_valid_foreign_key',"
	"                  'disabled_fk_trigger')"
	"   AND q.resolved_at IS NULL AND q.counted_rows > 0"
	" ORDER BY a.kind, q.objid, q.counted_at DESC";

/* the quality facts exist (1.1; not on a schema still at 1.0) */
static bool
have_quality_facts(NadiaDetectContext *ctx)
{
	bool		isnull;

	nadia_spi_check(nadia_spi_exec("SELECT pg_catalog.count(*) FROM pg_catalog.pg_class c"
								   " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
								   " WHERE n.nspname = 'nadia_bgw' AND c.relname = 'quality_facts'",
								   0, NULL, NULL, NULL, true, 1),
					SPI_OK_SELECT, "quality facts lookup");
	return nadia_spi_getint8(0, 1, &isnull) == 1;
}

/* ---------------------------------------------------------------------
 * The "debug" detector of the tests
 * ---------------------------------------------------------------------
 */

/*
 * It reports what nadia_bgw.debug_alert says, so that the life cycle can
 * be tested without staging a real regression.  The setting exists in
 * test builds only; elsewhere it stays empty and this reports nothing.
 */
static List *
detect_debug(NadiaDetectContext *ctx)
{
	NadiaCandidate *c;
	char	   *spec;
	char	   *fields[4] = {NULL, NULL, NULL, NULL};
	char	   *p;
	int			n = 0;

	if (nadia_debug_alert == NULL || nadia_debug_alert[0] == '\0')
		return NIL;
	spec = pstrdup(nadia_debug_alert);
	fields[n++] = spec;
	for (p = spec; *p && n < 4; p++)
		if (*p == ':')
		{
			*p = '\0';
			fields[n++] = p + 1;
		}
	if (n < 3 || fields[0][0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid nadia_bgw.debug_alert \"%s\"", nadia_debug_alert),
				 errhint("Use key:severity:observed[:baseline].")));
	c = palloc0(sizeof(NadiaCandidate));
	c->kind = "debug";
	c->alert_key = psprintf("debug:%s", fields[0]);
	c->object = psprintf("debug object %s", fields[0]);
	c->object_type = "debug";
	c->severity = nadia_severity_from_name(fields[1]);
	c->observed = DatumGetFloat8(DirectFunctionCall1(float8in, CStringGetDatum(fields[2])));
	if (fields[3])
	{
		c->has_baseline = true;
		c->baseline = DatumGetFloat8(DirectFunctionCall1(float8in, CStringGetDatum(fields[3])));
	}
	c->metric = "debug_value";
	return list_make1(c);
}

/* ---------------------------------------------------------------------
 * The detectors, in the order a run calls them
 * ---------------------------------------------------------------------
 */

/*
 * Business-metric anomalies (docs/quality.md, "Business-metric
 * anomalies"): the quality module's "anomalies" task judges rollup buckets
 * and table write rates and keeps what it found in
 * nadia_bgw.metric_anomalies; a series whose latest judged bucket is an
 * anomaly is a candidate, so the alert resolves once later buckets are
 * normal.  The query is a SQL function of the 1.1 schema.
 */
static const char *const metric_anomaly_sql =
	"SELECT * FROM nadia_bgw._anomaly_alerts()";

static bool
have_anomalies(NadiaDetectContext *ctx)
{
	return nadia_function_exists("nadia_bgw._anomaly_alerts()");
}

/* the parameters of a query detector, $1 first */
#define WINDOW			{NADIA_PARAM_WINDOW}
#define WIDE_WINDOW		{NADIA_PARAM_WIDE_WINDOW}
#define REAL(setting)	{NADIA_PARAM_REAL, &(setting)}
#define INT(setting)	{NADIA_PARAM_INT, &(setting)}
#define SCALED(setting, scale) {NADIA_PARAM_INT, &(setting), (scale)}
#define COUNT(setting)	{NADIA_PARAM_COUNT, &(setting)}

/*
 * name, kinds, needs_history, applies, then the query and its parameters
 * ($1 first), or the C function
 */
const NadiaDetector nadia_detectors[] = {
	{"query latency", "query_latency", true, NULL, query_latency_sql,
		{WINDOW, INT(nadia_latency_min_calls), REAL(nadia_latency_ratio),
		 REAL(nadia_latency_min_increase_ms), REAL(nadia_latency_sigma),
		 REAL(nadia_latency_critical_ratio), COUNT(nadia_baseline_min_samples)}},
	{"plan change", "plan_change", true, have_plans, plan_change_sql,
		{WINDOW, INT(nadia_latency_min_calls), REAL(nadia_plan_change_slowdown),
		 COUNT(nadia_baseline_samples), COUNT(nadia_baseline_min_samples),
		 REAL(nadia_latency_critical_ratio)}},
	{"plan change (blocks per call)", "plan_change", true, have_plans,
		plan_change_blocks_rest_sql,
		{WINDOW, INT(nadia_latency_min_calls), REAL(nadia_plan_change_ratio),
		 REAL(nadia_plan_change_min_blocks), REAL(nadia_plan_change_min_rows),
		 COUNT(nadia_baseline_min_samples)}},
	{"plan change (blocks per call)", "plan_change", true, no_plans,
		plan_change_blocks_sql,
		{WINDOW, INT(nadia_latency_min_calls), REAL(nadia_plan_change_ratio),
		 REAL(nadia_plan_change_min_blocks), REAL(nadia_plan_change_min_rows),
		 COUNT(nadia_baseline_min_samples)}},
	{"new statement", "new_statement", true, after_warm_up, new_statement_sql,
		{WINDOW, REAL(nadia_new_statement_share), REAL(nadia_new_statement_min_ms)}},
	{"sequential scans", "seqscan_surge", true, NULL, seqscan_surge_sql,
		{WINDOW, INT(nadia_seqscan_min_scans), INT(nadia_seqscan_min_rows),
		 REAL(nadia_seqscan_share_increase), COUNT(nadia_baseline_min_samples)}},
	{"dead tuples", "dead_tuples", true, NULL, dead_tuples_sql,
		{INT(nadia_dead_tuple_min), REAL(nadia_dead_tuple_ratio)}},
	{"database", "cache_hit_drop,temp_spill,deadlocks", true, NULL, database_sql,
		{WINDOW, REAL(nadia_cache_hit_ratio), REAL(nadia_cache_hit_drop),
		 INT(nadia_cache_min_blocks), SCALED(nadia_temp_spill_min, 1024.0),
		 REAL(nadia_temp_spill_ratio), INT(nadia_deadlocks),
		 COUNT(nadia_baseline_min_samples), REAL(nadia_cache_hit_sigma), WIDE_WINDOW}},
	{"connections", "connections", false, NULL, connections_sql,
		{REAL(nadia_connections_share)}},
	{"long transactions", "long_transaction,idle_in_transaction", false, NULL,
		long_transactions_sql,
		{INT(nadia_long_running_seconds), INT(nadia_idle_in_transaction_seconds)}},
	{"lock waits", "lock_wait", false, NULL, lock_waits_sql,
		{INT(nadia_lock_wait_seconds)}},
	{"replication", "replication_lag,retained_wal", false, not_in_recovery,
		replication_sql,
		{INT(nadia_replication_lag_seconds), INT(nadia_retained_wal)}},
	{"wraparound", "wraparound", false, NULL, wraparound_sql,
		{INT(nadia_xid_age_warning), INT(nadia_xid_age_critical)}},
	{"rollups", "rollup_broken", false, NULL, NULL, {{0}}, nadia_detect_rollups},
	{"debug", "debug", false, NULL, NULL, {{0}}, detect_debug},
	{"invalid index", "invalid_index", false, have_quality_facts, invalid_index_sql, {{0}}},
	{"counted quality facts", "constraint_violation,orphaned_rows", false, have_quality_facts,
		quality_count_sql, {{0}}},
	{"metric anomalies", "metric_anomaly", false, have_anomalies,
		metric_anomaly_sql, {{0}}},
	{"capacity", "capacity", false, have_capacity, capacity_sql, {{0}}},
};

const int	nadia_ndetectors = lengthof(nadia_detectors);
