/*-------------------------------------------------------------------------
 *
 * events.c
 *		A source's bookkeeping (its baseline, its reset time) and the
 *		stats events the sources record.
 *
 * nadia_bgw.source_state holds, per source, when its baseline was taken,
 * the reset time last seen and the cluster it was taken in.  A baseline
 * lost (state tables emptied by a crash, another cluster's state brought
 * by pg_upgrade) or a reset moved is recorded as an event in
 * nadia_bgw.stats_events, beside the other events of the sources
 * (counters restarted, pg_stat_statements evictions, objects not tracked).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <cjson/cJSON.h>

#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "history/history_internal.h"

/*
 * Has a source with a baseline lost it?  The state tables are unlogged:
 * after a crash or a failover they are empty, and so is the tracked
 * sources' shared memory after a restart; deltas against nothing would be
 * whole cumulative values.  Take a new baseline instead.
 *
 * pg_upgrade (or a restored file-level copy of another cluster) brings the
 * unlogged state tables across with the old cluster's counters, while the
 * new cluster counts from zero: deltas against them would be negative or
 * hold the upgrade's own work.  The system identifier tells: a new cluster
 * means a new baseline, as after a crash.
 */
static bool
baseline_lost(const NadiaHistSource *src, bool other_cluster,
			  NadiaHasBaseline has_baseline)
{
	bool		isnull;

	if (other_cluster)
	{
		if (src->state_table &&
			SPI_execute(psprintf("DELETE FROM %s", src->state_table),
						false, 0) != SPI_OK_DELETE)
			elog(ERROR, "clearing %s failed", src->state_table);
		return true;
	}
	if (has_baseline != NULL)
		return !has_baseline(src);
	if (SPI_execute(psprintf("SELECT NOT EXISTS (SELECT 1 FROM %s)", src->state_table),
					false, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading %s failed", src->state_table);
	return DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * Source-wide bookkeeping: true when the source already has a baseline.
 * Also records a 'stats_reset' event when the source's reset time moved.
 * "has_baseline" tells whether a tracked source's values are still there
 * (tracked_*.c); NULL for a source of state tables.
 */
bool
nadia_source_bookkeeping(const NadiaHistSource *src, TimestampTz ts, int64 sample_id,
						 const char *schema, NadiaHasBaseline has_baseline)
{
	StringInfoData q;
	bool		initialized;
	bool		isnull;
	bool		has_sysid;
	Datum		reset = (Datum) 0;
	bool		reset_null = true;
	Oid			types[4] = {TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID, INT8OID};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};

	if (src->reset_query)
	{
		initStringInfo(&q);
		appendStringInfo(&q, src->reset_query, schema);
		if (nadia_spi_exec(q.data, 0, NULL, NULL, NULL, false, 1) != SPI_OK_SELECT)
			elog(ERROR, "reset query of source \"%s\" failed", src->name);
		if (SPI_processed == 1)
		{
			reset = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &reset_null);
		}
	}

	values[0] = CStringGetTextDatum(src->name);
	values[1] = TimestampTzGetDatum(ts);
	values[2] = reset;
	if (reset_null)
		nulls[2] = 'n';
	values[3] = Int64GetDatum((int64) GetSystemIdentifier());

	/*
	 * The cluster the baseline was taken in (1.1: source_state has a
	 * system_identifier column; a 1.0 schema not yet updated has not).  A
	 * syscache probe, not a query: this runs for every source of every
	 * sample.
	 */
	has_sysid = get_attnum(get_relname_relid("source_state",
											 get_namespace_oid("nadia_bgw", false)),
						   "system_identifier") != InvalidAttrNumber;

	/* previous reset time, whether a baseline exists and in which cluster */
	if (nadia_spi_exec(has_sysid ?
					   "SELECT initialized_at IS NOT NULL, initialized_at IS NOT NULL"
					   " AND stats_reset IS DISTINCT FROM $3, stats_reset,"
					   " system_identifier IS NOT NULL AND system_identifier <> $4"
					   " FROM nadia_bgw.source_state WHERE source = $1" :
					   "SELECT initialized_at IS NOT NULL, initialized_at IS NOT NULL"
					   " AND stats_reset IS DISTINCT FROM $3, stats_reset, false"
					   " FROM nadia_bgw.source_state WHERE source = $1",
					   4, types, values, nulls, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading nadia_bgw.source_state failed");
	if (SPI_processed == 0)
	{
		initialized = false;
		if (nadia_spi_exec(has_sysid ?
						   "INSERT INTO nadia_bgw.source_state (source, stats_reset, system_identifier)"
						   " VALUES ($1, $3, $4)" :
						   "INSERT INTO nadia_bgw.source_state (source, stats_reset)"
						   " VALUES ($1, $3)", 4, types, values, nulls, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "writing nadia_bgw.source_state failed");
	}
	else
	{
		bool		moved;
		bool		other_cluster;

		initialized = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		moved = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
		other_cluster = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4, &isnull));

		/* a baseline lost is taken again */
		if (initialized &&
			baseline_lost(src, other_cluster, has_baseline))
		{
			initialized = false;
			nadia_record_event(sample_id, ts, src->name, "state_lost", 0,
							   other_cluster ?
							   nadia_event_details("reason", "other cluster (system identifier changed)",
												   NULL, 0, NULL, NULL) :
							   NULL);
			if (SPI_execute_with_args("UPDATE nadia_bgw.source_state SET initialized_at = NULL"
									  " WHERE source = $1", 3, types, values, nulls,
									  false, 0) != SPI_OK_UPDATE)
				elog(ERROR, "writing nadia_bgw.source_state failed");
		}
		if (moved)
			nadia_record_event(sample_id, ts, src->name, "stats_reset", 0,
							   nadia_event_details("stats_reset",
												   reset_null ? NULL :
												   timestamptz_to_str(DatumGetTimestampTz(reset)),
												   NULL, 0, NULL, NULL));
		if (nadia_spi_exec(has_sysid ?
						   "UPDATE nadia_bgw.source_state SET stats_reset = $3, system_identifier = $4"
						   " WHERE source = $1" :
						   "UPDATE nadia_bgw.source_state SET stats_reset = $3 WHERE source = $1",
						   4, types, values, nulls, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "writing nadia_bgw.source_state failed");
	}
	return initialized;
}

/* The source has its baseline from now on. */
void
nadia_source_initialized(const NadiaHistSource *src, TimestampTz ts)
{
	if (nadia_spi_exec("UPDATE nadia_bgw.source_state SET initialized_at = $2 WHERE source = $1",
					   2, (Oid[]) {TEXTOID, TIMESTAMPTZOID},
					   (Datum[]) {CStringGetTextDatum(src->name), TimestampTzGetDatum(ts)},
					   NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "writing nadia_bgw.source_state failed");
}

/*
 * The details of a stats event as JSON, built with cJSON (never by
 * quoting by hand): each key given (non-NULL) adds a field.  "str_value"
 * NULL is JSON null; "num2_text" is a number in text (a GUC's value), NULL
 * or not a number giving null.
 */
char *
nadia_event_details(const char *str_key, const char *str_value,
					const char *num_key, int64 num_value,
					const char *num2_key, const char *num2_text)
{
	cJSON	   *root = cJSON_CreateObject();

	/* palloc'd tree (core/json.c): an allocation failure raises an ERROR */
	if (str_key)
	{
		if (str_value)
			cJSON_AddStringToObject(root, str_key, str_value);
		else
			cJSON_AddNullToObject(root, str_key);
	}
	if (num_key)
		cJSON_AddNumberToObject(root, num_key, (double) num_value);
	if (num2_key)
	{
		char	   *end = NULL;
		double		v = num2_text ? strtod(num2_text, &end) : 0;

		if (num2_text && end != num2_text && *end == '\0')
			cJSON_AddNumberToObject(root, num2_key, v);
		else
			cJSON_AddNullToObject(root, num2_key);
	}
	return nadia_json_print(root);
}

void
nadia_record_event(int64 sample_id, TimestampTz ts, const char *source,
				   const char *kind, int64 count, const char *details_json)
{
	Oid			types[6] = {INT8OID, TIMESTAMPTZOID, TEXTOID, TEXTOID, INT8OID, TEXTOID};
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};

	values[0] = Int64GetDatum(sample_id);
	values[1] = TimestampTzGetDatum(ts);
	values[2] = CStringGetTextDatum(source);
	values[3] = CStringGetTextDatum(kind);
	values[4] = Int64GetDatum(count);
	/* details: JSON that the caller built with cJSON (nadia_event_details()) */
	if (details_json)
		values[5] = CStringGetTextDatum(details_json);
	else
		nulls[5] = 'n';
	if (nadia_spi_exec("INSERT INTO nadia_bgw.stats_events"
							  " (sample_id, sampled_at, source, kind, count, details)"
							  " VALUES ($1, $2, $3, $4, $5, $6::jsonb)",
							  6, types, values, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "recording a stats event failed");
}
