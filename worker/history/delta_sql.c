/*-------------------------------------------------------------------------
 *
 * delta_sql.c
 *		The generated statement that samples a delta source of few rows
 *		(databases, cluster), and running it.
 *
 * One statement per source, built once per backend from the source's
 * column table (catalog.c): it reads the statistics view, joins it with
 * the source's UNLOGGED "state" table (the last cumulative values seen),
 * writes the per-interval deltas of the rows that changed into the
 * history table and brings the state up to date.  Its cost depends on the
 * number of objects and of changed rows, never on history size.
 *
 * A row whose counters went backwards, or whose reset marker (stats_reset,
 * stats_since) moved, is "restarted": its delta is the current value (what
 * accumulated since the reset), never a negative or inflated difference.
 * The first sample of a source only takes the baseline.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "nodes/parsenodes.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "history/history_internal.h"

/* The generated statements, built once per backend and source. */
typedef struct BuiltSource
{
	char	   *sample_sql;
	SPIPlanPtr	sample_plan;	/* kept for the life of the backend */
	char	   *vanished_sql;
	char	   *pgss_schema;	/* the schema it was built for, or "" */
} BuiltSource;

/* indexed by a source's position in nadia_delta_sources; TopMemoryContext */
static BuiltSource *built = NULL;

/*
 * Column names available in the relations of "rels" (a space-separated
 * list; missing relations are skipped).  Used for "@a|b" expressions.
 */
static List *
available_columns(const char *rels)
{
	StringInfoData q;
	List	   *cols = NIL;
	uint64		i;
	char	   *copy,
			   *tok,
			   *save;

	if (rels == NULL)
		return NIL;
	initStringInfo(&q);
	appendStringInfoString(&q, "SELECT a.attname::text FROM pg_catalog.pg_attribute a"
						   " WHERE a.attnum > 0 AND NOT a.attisdropped AND a.attrelid IN (");
	copy = pstrdup(rels);
	i = 0;
	for (tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
	{
		if (i++ > 0)
			appendStringInfoString(&q, ", ");
		appendStringInfo(&q, "pg_catalog.to_regclass(%s)", quote_literal_cstr(tok));
	}
	appendStringInfoString(&q, ")");
	if (SPI_execute(q.data, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "column detection failed");
	for (i = 0; i < SPI_processed; i++)
		cols = lappend(cols, nadia_spi_getstring(i, 1));
	return cols;
}

static bool
has_column(List *cols, const char *name)
{
	ListCell   *lc;

	foreach(lc, cols)
	{
		if (strcmp((char *) lfirst(lc), name) == 0)
			return true;
	}
	return false;
}

/* Resolve a column's source expression ("@a|b" alternatives, "%s" schema). */
static void
append_expr(StringInfo buf, const NadiaHistColumn *col, List *avail, const char *schema)
{
	const char *e = col->expr;

	if (e[0] == '@')
	{
		char	   *copy = pstrdup(e + 1);
		char	   *tok,
				   *save;

		for (tok = strtok_r(copy, "|", &save); tok; tok = strtok_r(NULL, "|", &save))
		{
			if (has_column(avail, tok))
			{
				appendStringInfo(buf, "(%s)::%s", quote_identifier(tok), col->type);
				return;
			}
		}
		appendStringInfo(buf, "NULL::%s", col->type);
		return;
	}
	if (strstr(e, "%s") != NULL)
	{
		appendStringInfoString(buf, "(");
		appendStringInfo(buf, e, schema);
		appendStringInfo(buf, ")::%s", col->type);
		return;
	}
	appendStringInfo(buf, "(%s)::%s", e, col->type);
}

/* "first key" of the state table, used to tell whether a row joined */
static const char *
first_key(const NadiaHistSource *src)
{
	int			i;

	for (i = 0; i < src->ncols; i++)
		if (src->cols[i].flags & HC_KEY)
			return src->cols[i].name;
	elog(ERROR, "source \"%s\" has no key", src->name);
	return NULL;
}

static void
append_key_join(StringInfo buf, const NadiaHistSource *src, const char *a, const char *b)
{
	int			i,
				n = 0;

	for (i = 0; i < src->ncols; i++)
	{
		if (!(src->cols[i].flags & HC_KEY))
			continue;
		appendStringInfo(buf, "%s%s.%s = %s.%s", n++ ? " AND " : "",
						 a, src->cols[i].name, b, src->cols[i].name);
	}
}

/* the source query: SELECT <expressions> FROM ... WHERE ... */
static void
append_source_query(StringInfo buf, const NadiaHistSource *src, List *avail,
					const char *schema, bool keys_only)
{
	int			i,
				n = 0;

	appendStringInfoString(buf, "SELECT ");
	for (i = 0; i < src->ncols; i++)
	{
		const NadiaHistColumn *col = &src->cols[i];

		if (col->flags & HC_LATE)
			continue;
		if (keys_only && !(col->flags & HC_KEY))
			continue;
		if (n++ > 0)
			appendStringInfoString(buf, ", ");
		append_expr(buf, col, avail, schema);
		appendStringInfo(buf, " AS %s", col->name);
	}
	appendStringInfoString(buf, " FROM ");
	if (strstr(src->from, "%s") != NULL)
		appendStringInfo(buf, src->from, schema);
	else
		appendStringInfoString(buf, src->from);
	if (src->where)
		appendStringInfo(buf, " WHERE %s", src->where);
}

/*
 * d's flags: whether a row restarts, of the whole row (group 0) or of one
 * group of counters (see NadiaHistColumn).
 */
static void
append_restart_flags(StringInfo q, const NadiaHistSource *src, const char *k0)
{
	int			i,
				g,
				max_group = 0;

	for (i = 0; i < src->ncols; i++)
		max_group = Max(max_group, src->cols[i].group);
	for (g = 0; g <= max_group; g++)
	{
		appendStringInfo(q, ", (p.%s IS NOT NULL AND (p.dropped_at IS NOT NULL", k0);
		for (i = 0; i < src->ncols; i++)
		{
			const NadiaHistColumn *col = &src->cols[i];

			/* the row restarts with any of its groups */
			if (g > 0 && col->group != g)
				continue;
			if (col->flags & HC_DELTA)
				appendStringInfo(q, " OR c.%s < p.%s", col->name, col->name);
			if (col->flags & HC_RESTART)
				appendStringInfo(q, " OR c.%s IS DISTINCT FROM p.%s", col->name, col->name);
		}
		if (g == 0)
			appendStringInfoString(q, ")) AS restart");
		else
			appendStringInfo(q, ")) AS restart_%d", g);
	}
}

/* d's late columns, and the previous values the history and state need */
static void
append_late_columns(StringInfo q, const NadiaHistSource *src, const char *k0)
{
	StringInfoData recompute;
	int			i;

	/* lazy columns are measured again only when a trigger column moved */
	initStringInfo(&recompute);
	appendStringInfo(&recompute, "p.%s IS NULL OR p.dropped_at IS NOT NULL", k0);
	for (i = 0; i < src->ncols; i++)
		if (src->cols[i].flags & HC_TRIGGER)
			appendStringInfo(&recompute, " OR c.%s IS DISTINCT FROM p.%s",
							 src->cols[i].name, src->cols[i].name);
	for (i = 0; i < src->ncols; i++)
	{
		const NadiaHistColumn *col = &src->cols[i];

		if (col->flags & HC_LATE)
		{
			if (col->flags & HC_LAZY)
				appendStringInfo(q, ", CASE WHEN %s THEN (%s)::%s END AS %s",
								 recompute.data, col->expr, col->type, col->name);
			else
				appendStringInfo(q, ", (%s)::%s AS %s", col->expr, col->type, col->name);
			if (col->flags & (HC_KEEP | HC_LAZY))
				appendStringInfo(q, ", p.%s AS p_%s", col->name, col->name);
		}
		if (col->flags & (HC_DELTA | HC_MIN | HC_MAX | HC_WHENCHANGED))
			appendStringInfo(q, ", p.%s AS p_%s", col->name, col->name);
	}
}

/* ROW(<prefix>.c1, ...) of the columns that detect a change */
static void
append_detect_row(StringInfo q, const NadiaHistSource *src, const char *prefix)
{
	int			i,
				n = 0;

	for (i = 0; i < src->ncols; i++)
		if (src->cols[i].flags & HC_DETECT)
			appendStringInfo(q, "%s%s.%s", n++ ? ", " : "ROW(", prefix, src->cols[i].name);
	appendStringInfoString(q, ")");
}

/*
 * "cur", what the statistics say now, and "d", its rows that are new,
 * back or changed, beside their previous state ("p_" columns).
 */
static void
append_changed_rows(StringInfo q, const NadiaHistSource *src, List *avail, const char *schema)
{
	const char *k0 = first_key(src);

	appendStringInfoString(q, "WITH cur AS (");
	append_source_query(q, src, avail, schema, false);
	appendStringInfoString(q, "), d AS (SELECT c.*");
	appendStringInfo(q, ", p.%s IS NULL AS is_new, p.dropped_at IS NOT NULL AS resurrected", k0);
	append_restart_flags(q, src, k0);
	append_late_columns(q, src, k0);
	appendStringInfo(q, " FROM cur c LEFT JOIN %s p ON ", src->state_table);
	append_key_join(q, src, "c", "p");
	appendStringInfo(q, " WHERE p.%s IS NULL OR p.dropped_at IS NOT NULL OR ", k0);
	append_detect_row(q, src, "c");
	appendStringInfoString(q, " IS DISTINCT FROM ");
	append_detect_row(q, src, "p");
}

/* "h": the history rows of d, written when $2 (not for the baseline) */
static void
append_history_insert(StringInfo q, const NadiaHistSource *src)
{
	int			i;

	appendStringInfo(q, "), h AS (INSERT INTO %s (sampled_at", src->hist_table);
	for (i = 0; i < src->ncols; i++)
		if (src->cols[i].flags & HC_HIST)
			appendStringInfo(q, ", %s", src->cols[i].name);
	appendStringInfoString(q, ") SELECT $1");
	for (i = 0; i < src->ncols; i++)
	{
		const NadiaHistColumn *col = &src->cols[i];
		const char *nm = col->name;

		if (!(col->flags & HC_HIST))
			continue;
		if (col->flags & HC_DELTA && col->group > 0)
			appendStringInfo(q, ", CASE WHEN d.is_new OR d.restart_%d THEN nullif(d.%s, 0)"
							 " ELSE nullif(d.%s - d.p_%s, 0) END", col->group, nm, nm, nm);
		else if (col->flags & HC_DELTA)
			appendStringInfo(q, ", CASE WHEN d.is_new OR d.restart THEN nullif(d.%s, 0)"
							 " ELSE nullif(d.%s - d.p_%s, 0) END", nm, nm, nm);
		else if (col->flags & HC_MIN)
			appendStringInfo(q, ", CASE WHEN d.is_new OR d.restart OR d.%s < d.p_%s THEN d.%s END",
							 nm, nm, nm);
		else if (col->flags & HC_MAX)
			appendStringInfo(q, ", CASE WHEN d.is_new OR d.restart OR d.%s > d.p_%s THEN d.%s END",
							 nm, nm, nm);
		else if (col->flags & HC_WHENCHANGED)
			appendStringInfo(q, ", CASE WHEN d.is_new OR d.restart OR d.%s IS DISTINCT FROM d.p_%s"
							 " THEN d.%s END", nm, nm, nm);
		else
			appendStringInfo(q, ", d.%s", nm);
	}
	appendStringInfoString(q, " FROM d WHERE $2");
	appendStringInfoString(q, " RETURNING 1)");
}

/* "u" and "i": the state of the known rows of d, and of its new rows */
static void
append_state_writes(StringInfo q, const NadiaHistSource *src)
{
	int			i;

	appendStringInfo(q, ", u AS (UPDATE %s p SET changed_at = $1, dropped_at = NULL", src->state_table);
	for (i = 0; i < src->ncols; i++)
	{
		const NadiaHistColumn *col = &src->cols[i];

		if (!(col->flags & HC_STATE) || (col->flags & (HC_KEY | HC_NOUPDATE)))
			continue;
		if (col->flags & (HC_KEEP | HC_LAZY))
			appendStringInfo(q, ", %s = coalesce(d.%s, d.p_%s)", col->name, col->name, col->name);
		else
			appendStringInfo(q, ", %s = d.%s", col->name, col->name);
	}
	appendStringInfoString(q, " FROM d WHERE NOT d.is_new AND ");
	append_key_join(q, src, "p", "d");
	appendStringInfoString(q, " RETURNING 1)");

	appendStringInfo(q, ", i AS (INSERT INTO %s (changed_at", src->state_table);
	for (i = 0; i < src->ncols; i++)
		if (src->cols[i].flags & HC_STATE)
			appendStringInfo(q, ", %s", src->cols[i].name);
	appendStringInfoString(q, ") SELECT $1");
	for (i = 0; i < src->ncols; i++)
		if (src->cols[i].flags & HC_STATE)
			appendStringInfo(q, ", d.%s", src->cols[i].name);
	appendStringInfoString(q, " FROM d WHERE d.is_new RETURNING 1)");
}

/*
 * Build the one statement that samples a delta source.  Parameters:
 * $1 sampled_at, $2 "write history" (false for the baseline), $3 sample id.
 * It returns rows seen, rows changed, new rows, restarted rows, history
 * rows written, live rows.  Also the statement that marks the rows gone.
 */
static void
build_source(const NadiaHistSource *src, int idx, const char *schema)
{
	StringInfoData q;
	List	   *avail;
	MemoryContext old;

	avail = available_columns(src->detect_rels ?
							  psprintf(src->detect_rels, schema) : NULL);

	initStringInfo(&q);
	append_changed_rows(&q, src, avail, schema);
	append_history_insert(&q, src);
	append_state_writes(&q, src);
	appendStringInfo(&q, " SELECT (SELECT count(*) FROM cur), (SELECT count(*) FROM d),"
					 " (SELECT count(*) FROM d WHERE is_new), (SELECT count(*) FROM d WHERE restart),"
					 " (SELECT count(*) FROM h),"
					 " (SELECT count(*) FROM %s WHERE dropped_at IS NULL)"
					 " + (SELECT count(*) FROM d WHERE is_new OR resurrected)",
					 src->state_table);

	elog(DEBUG1, "nadia_bgw: sampling SQL of source \"%s\": %s", src->name, q.data);
	old = MemoryContextSwitchTo(TopMemoryContext);
	built[idx].sample_sql = pstrdup(q.data);
	built[idx].pgss_schema = pstrdup(schema ? schema : "");
	MemoryContextSwitchTo(old);

	/* objects that disappeared (dropped tables, evicted statements) */
	resetStringInfo(&q);
	appendStringInfo(&q, "UPDATE %s p SET dropped_at = $1 WHERE p.dropped_at IS NULL"
					 " AND NOT EXISTS (SELECT 1 FROM (", src->state_table);
	append_source_query(&q, src, avail, schema, true);
	appendStringInfoString(&q, ") c WHERE ");
	append_key_join(&q, src, "c", "p");
	appendStringInfoString(&q, ")");
	old = MemoryContextSwitchTo(TopMemoryContext);
	built[idx].vanished_sql = pstrdup(q.data);
	MemoryContextSwitchTo(old);
}

/* The kept plan of a source's statement, built on first use. */
static SPIPlanPtr
source_plan(const NadiaHistSource *src, const char *pgss_schema)
{
	int			idx = src - nadia_delta_sources;
	SPIPlanPtr	plan;

	if (built == NULL)
		built = MemoryContextAllocZero(TopMemoryContext,
									   sizeof(BuiltSource) * nadia_n_delta_sources);
	if (built[idx].sample_plan != NULL &&
		strcmp(built[idx].pgss_schema, pgss_schema ? pgss_schema : "") == 0)
		return built[idx].sample_plan;

	build_source(src, idx, pgss_schema);
	/* a generic plan: the parameters never change its shape */
	plan = SPI_prepare_cursor(built[idx].sample_sql, 3,
							  (Oid[]) {TIMESTAMPTZOID, BOOLOID, INT8OID},
							  CURSOR_OPT_GENERIC_PLAN);
	if (plan == NULL)
		elog(ERROR, "preparing the sampling statement of source \"%s\" failed: %s",
			 src->name, SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed");
	built[idx].sample_plan = plan;
	return plan;
}

/*
 * Sample one delta source of the generated SQL (no reader).  Returns the
 * number of history rows written, and in *seen_out the rows seen.
 */
int64
nadia_sample_sql_source(const NadiaHistSource *src, TimestampTz ts, int64 sample_id,
						const char *pgss_schema, int64 *seen_out)
{
	SPIPlanPtr	plan;
	bool		initialized;
	int64		seen,
				restarted,
				written,
				live;
	bool		isnull;
	Oid			types[3] = {TIMESTAMPTZOID, BOOLOID, INT8OID};
	Datum		values[3];

	Assert(src->reader == NULL);
	plan = source_plan(src, pgss_schema);
	initialized = nadia_source_bookkeeping(src, ts, sample_id, pgss_schema, NULL);

	values[0] = TimestampTzGetDatum(ts);
	values[1] = BoolGetDatum(initialized);
	values[2] = Int64GetDatum(sample_id);
	if (SPI_execute_plan(plan, values, NULL, false, 0) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "sampling source \"%s\" failed", src->name);
	seen = nadia_spi_getint8(0, 1, &isnull);
	restarted = nadia_spi_getint8(0, 4, &isnull);
	written = nadia_spi_getint8(0, 5, &isnull);
	live = nadia_spi_getint8(0, 6, &isnull);
	*seen_out = seen;

	if (restarted > 0 && initialized)
		nadia_record_event(sample_id, ts, src->name, "counters_restarted", restarted, NULL);

	/* objects gone since the last sample: mark them in the state */
	if (live > seen &&
		nadia_spi_exec(built[src - nadia_delta_sources].vanished_sql, 3, types, values,
					   NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "marking vanished objects of source \"%s\" failed", src->name);

	if (!initialized)
		nadia_source_initialized(src, ts);
	return written;
}
