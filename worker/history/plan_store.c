/*-------------------------------------------------------------------------
 *
 * plan_store.c
 *		The plans source: the capture's store (nadia_bgw._plan_store(),
 *		worker/plans/) read as a tracked source, whether this database can
 *		sample it, and the store's own counters (plans it had no room
 *		for, texts it dropped) turned into stats events.
 *
 * The store counts calls, time, rows and blocks per (queryid, dbid,
 * userid, planid), cumulative since the entry was created; the tracked
 * engine (tracked_*.c) turns them into per-sample deltas exactly as for
 * statements, and tracked_plans.c keeps the nadia_bgw.plans rows.  The
 * store is read through its SQL function, not its shared memory, so this
 * module does not depend on the capture's (history sits beside plans/,
 * not above it; see docs/architecture.md, "Plans (issue 15)").
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <cjson/cJSON.h>

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "core/core.h"
#include "history/history_internal.h"

/*
 * A schema of 1.0 (the library is newer than the installed extension
 * until ALTER EXTENSION UPDATE) has neither the plans tables nor the
 * store's function: the source is skipped, not failed.  Syscache probes
 * only: this runs every sample.
 */
const char *
nadia_plans_unavailable(const NadiaHistSource *src)
{
	Oid			nsp = get_namespace_oid("nadia_bgw", true);
	Oid			argtypes[1] = {BOOLOID};

	if (!OidIsValid(nsp) || !OidIsValid(get_relname_relid("plans", nsp)) ||
		!OidIsValid(get_relname_relid("plan_samples", nsp)))
		return "the extension's schema has no plan history (ALTER EXTENSION nadia_bgw UPDATE)";
	if (!OidIsValid(LookupFuncName(list_make2(makeString("nadia_bgw"), makeString("_plan_store")),
								   1, argtypes, true)) ||
		!OidIsValid(LookupFuncName(list_make2(makeString("nadia_bgw"), makeString("_plan_store_info")),
								   0, argtypes, true)))
		return "the extension's schema has no plan capture functions (ALTER EXTENSION nadia_bgw UPDATE)";
	return NULL;
}

/* SELECT <the source's read columns> FROM the store, its info */
static char *
plans_read_sql(const NadiaHistSource *src)
{
	StringInfoData q;
	int			c,
				n = 0;

	initStringInfo(&q);
	appendStringInfoString(&q, "SELECT ");
	for (c = 0; c < src->ncols; c++)
	{
		if (src->cols[c].flags & HC_LATE)
			continue;
		appendStringInfo(&q, "%s%s", n++ ? ", " : "", src->cols[c].expr);
	}
	appendStringInfoString(&q, " FROM nadia_bgw._plan_store(false) s"
						   " CROSS JOIN nadia_bgw._plan_store_info() i");
	return q.data;
}

/*
 * The reader: one row per plan of the store, without texts.  Every value
 * is a by-value type (bigint, oid, double, timestamptz), so the Datums
 * outlive SPI's tuple table.
 */
void
nadia_read_plans(const NadiaHistSource *src, NadiaTrackedRows *rows, const char *pgss_schema)
{
	static char *sql = NULL;
	int			k_query = nadia_column_index(src, "queryid"),
				k_db = nadia_column_index(src, "dbid"),
				k_user = nadia_column_index(src, "userid"),
				k_plan = nadia_column_index(src, "planid");
	uint64		i;

	if (sql == NULL)
		sql = MemoryContextStrdup(TopMemoryContext, plans_read_sql(src));
	nadia_spi_check(nadia_spi_exec(sql, 0, NULL, NULL, NULL, true, 0),
					SPI_OK_SELECT, "reading the plan store");
	for (i = 0; i < SPI_processed; i++)
	{
		NadiaTrackedRow *r;
		int			c,
					a = 0;

		CHECK_FOR_INTERRUPTS();
		NADIA_DEBUG_OBJECT("read", src->name, rows->n);
		r = nadia_tracked_add(src, rows);
		for (c = 0; c < src->ncols; c++)
		{
			if (src->cols[c].flags & HC_LATE)
				continue;
			r->vals[c] = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc,
									   ++a, &r->nulls[c]);
		}
		if (r->nulls[k_query] || r->nulls[k_plan])
		{
			rows->n--;			/* no statement to file it under */
			continue;
		}
		r->k1 = DatumGetInt64(r->vals[k_query]);
		r->k2 = DatumGetObjectId(r->vals[k_db]);
		r->k3 = DatumGetObjectId(r->vals[k_user]);
		r->k4 = DatumGetInt64(r->vals[k_plan]);
	}
}

/* the store's figures, for an event's details */
static char *
store_details(int64 not_tracked, int64 texts_dropped, int entries, int max_entries,
			  int64 text_bytes, int64 max_text_bytes)
{
	cJSON	   *root = cJSON_CreateObject();

	cJSON_AddNumberToObject(root, "not_tracked", (double) not_tracked);
	cJSON_AddNumberToObject(root, "texts_dropped", (double) texts_dropped);
	cJSON_AddNumberToObject(root, "entries", entries);
	cJSON_AddNumberToObject(root, "max_entries", max_entries);
	cJSON_AddNumberToObject(root, "text_bytes", (double) text_bytes);
	cJSON_AddNumberToObject(root, "max_text_bytes", (double) max_text_bytes);
	return nadia_json_print(root);
}

/*
 * After the plans source's sample: executions of plans that found the
 * store full (not_tracked) and plans whose text did not fit
 * (texts_dropped) are cumulative in the store since it was set up
 * (created_at).  Their growth since the previous sample is one
 * 'not_tracked' event with both counts; a store set up again since then
 * counted from zero.  The values seen are kept in
 * nadia_bgw.plan_store_state, in the sample's transaction, so a sample
 * rolled back reports its growth again next time.  The worker warns at
 * most once an hour (source_state.last_warning_at).
 */
void
nadia_check_plan_store(const NadiaHistSource *src, TimestampTz ts, int64 sample_id,
					   bool from_worker, int64 seen)
{
	bool		isnull,
				first;
	int64		not_tracked,
				texts_dropped,
				grown_nt,
				grown_td;
	int			entries,
				max_entries;
	int64		text_bytes,
				max_text_bytes;
	bool		warn_due;
	Datum		created_at;

	nadia_spi_check(nadia_spi_exec("SELECT i.not_tracked, i.texts_dropped, i.created_at,"
								   " i.entries, i.max_entries, i.text_bytes, i.max_text_bytes,"
								   " st.created_at IS NULL,"
								   " CASE WHEN st.created_at = i.created_at THEN i.not_tracked - st.not_tracked"
								   "      ELSE i.not_tracked END,"
								   " CASE WHEN st.created_at = i.created_at THEN i.texts_dropped - st.texts_dropped"
								   "      ELSE i.texts_dropped END,"
								   " ss.last_warning_at IS NULL OR ss.last_warning_at < $1 - interval '1 hour'"
								   " FROM nadia_bgw._plan_store_info() i"
								   " LEFT JOIN nadia_bgw.plan_store_state st ON true"
								   " LEFT JOIN nadia_bgw.source_state ss ON ss.source = 'plans'",
								   1, (Oid[]) {TIMESTAMPTZOID}, (Datum[]) {TimestampTzGetDatum(ts)},
								   NULL, false, 0),
					SPI_OK_SELECT, "reading the plan store's counters");
	if (SPI_processed != 1)
		elog(ERROR, "nadia_bgw._plan_store_info() returned " UINT64_FORMAT " rows", SPI_processed);
	not_tracked = nadia_spi_getint8(0, 1, &isnull);
	texts_dropped = nadia_spi_getint8(0, 2, &isnull);
	created_at = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull);
	entries = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4, &isnull));
	max_entries = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 5, &isnull));
	text_bytes = nadia_spi_getint8(0, 6, &isnull);
	max_text_bytes = nadia_spi_getint8(0, 7, &isnull);
	first = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 8, &isnull));
	grown_nt = nadia_spi_getint8(0, 9, &isnull);
	grown_td = nadia_spi_getint8(0, 10, &isnull);
	warn_due = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 11, &isnull));

	/* the first look is a baseline: what came before is not this history's */
	if (!first && (grown_nt > 0 || grown_td > 0))
	{
		nadia_record_event(sample_id, ts, src->name, "not_tracked", grown_nt,
						   store_details(grown_nt, grown_td, entries, max_entries,
										 text_bytes, max_text_bytes));
		if (!from_worker || warn_due)
		{
			ereport(WARNING,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("nadia_bgw: the plan store is full: " INT64_FORMAT " executions of new plans not tracked, " INT64_FORMAT " plan texts dropped since the previous sample",
							grown_nt, grown_td),
					 errdetail("%d of %d plan entries and " INT64_FORMAT " of " INT64_FORMAT " text bytes are used; plans without an entry get no history, plans without a text keep their counters.",
							   entries, max_entries, text_bytes, max_text_bytes),
					 errhint("Raise nadia_bgw.plan_max or nadia_bgw.plan_text_max and restart the server.")));
			nadia_spi_check(nadia_spi_exec("UPDATE nadia_bgw.source_state SET last_warning_at = $1"
										   " WHERE source = 'plans'", 1,
										   (Oid[]) {TIMESTAMPTZOID}, (Datum[]) {TimestampTzGetDatum(ts)},
										   NULL, false, 0),
							SPI_OK_UPDATE, "writing nadia_bgw.source_state");
		}
	}
	nadia_spi_check(nadia_spi_exec("INSERT INTO nadia_bgw.plan_store_state AS st"
								   " (id, created_at, not_tracked, texts_dropped) VALUES (true, $1, $2, $3)"
								   " ON CONFLICT (id) DO UPDATE SET created_at = $1, not_tracked = $2,"
								   " texts_dropped = $3"
								   " WHERE (st.created_at, st.not_tracked, st.texts_dropped)"
								   "   IS DISTINCT FROM ($1, $2, $3)",
								   3, (Oid[]) {TIMESTAMPTZOID, INT8OID, INT8OID},
								   (Datum[]) {created_at, Int64GetDatum(not_tracked), Int64GetDatum(texts_dropped)},
								   NULL, false, 0),
					SPI_OK_INSERT, "writing nadia_bgw.plan_store_state");
}
