/*-------------------------------------------------------------------------
 *
 * tiers.c
 *		Downsampling and retention of statistics history, and their
 *		settings (nadia_bgw.raw_retention, hourly_retention,
 *		daily_retention).
 *
 * Raw samples are aggregated into an hourly tier once an hour is over,
 * and hourly rows into a daily tier once a (UTC) day is over: deltas are
 * summed, minima and maxima kept, gauges keep their maximum, and "samples"
 * counts the raw rows behind an aggregate.  Progress is kept in
 * nadia_bgw.tier_state, so each hour and day is aggregated exactly once.
 *
 * Every history table is partitioned by time; retention drops whole
 * partitions (nadia_bgw.drop_old_partitions), so a purge costs the same
 * whatever the history size and leaves no dead rows behind.  Plans rows
 * (nadia_bgw.plans) unused for the daily retention go too.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <cjson/cJSON.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "core/core.h"
#include "history/history_internal.h"

int			nadia_bgw_raw_retention = 1440;
int			nadia_bgw_hourly_retention = 28 * 1440;
int			nadia_bgw_daily_retention = 365 * 1440;

void
nadia_tiers_define_gucs(void)
{
	DefineCustomIntVariable("nadia_bgw.raw_retention",
							"How long raw samples are kept.",
							"Older raw partitions are dropped once downsampled into the hourly tier.",
							&nadia_bgw_raw_retention,
							1440, 10, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_MIN,
							NULL, NULL, NULL);
	DefineCustomIntVariable("nadia_bgw.hourly_retention",
							"How long hourly aggregates of history are kept.",
							NULL,
							&nadia_bgw_hourly_retention,
							28 * 1440, 1440, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_MIN,
							NULL, NULL, NULL);
	DefineCustomIntVariable("nadia_bgw.daily_retention",
							"How long daily aggregates of history are kept.",
							NULL,
							&nadia_bgw_daily_retention,
							365 * 1440, 1440, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_MIN,
							NULL, NULL, NULL);
}

/* aggregation statement of one source from one tier into the next */
static char *
build_rollup_sql(const NadiaHistSource *src, const char *from_table, const char *to_table,
				 const char *unit, bool from_raw)
{
	StringInfoData q;
	StringInfoData keys;
	int			i;

	initStringInfo(&q);
	initStringInfo(&keys);
	appendStringInfo(&q, "INSERT INTO %s (sampled_at", to_table);
	for (i = 0; i < src->ncols; i++)
		if (src->cols[i].flags & HC_HIST)
			appendStringInfo(&q, ", %s", src->cols[i].name);
	appendStringInfo(&q, ", samples) SELECT pg_catalog.date_trunc('%s', sampled_at AT TIME ZONE 'UTC')"
					 " AT TIME ZONE 'UTC'", unit);
	for (i = 0; i < src->ncols; i++)
	{
		const NadiaHistColumn *col = &src->cols[i];

		if (!(col->flags & HC_HIST))
			continue;
		if (col->flags & HC_HKEY)
		{
			appendStringInfo(&q, ", %s", col->name);
			appendStringInfo(&keys, ", %s", col->name);
		}
		else if (col->flags & HC_DELTA)
			appendStringInfo(&q, ", sum(%s)::%s", col->name, col->type);
		else if (col->flags & HC_MIN)
			appendStringInfo(&q, ", min(%s)", col->name);
		else
			appendStringInfo(&q, ", max(%s)", col->name);
	}
	appendStringInfo(&q, ", %s FROM %s WHERE sampled_at >= $1 AND sampled_at < $2 GROUP BY 1%s",
					 from_raw ? "count(*)" : "sum(samples)::integer", from_table, keys.data);
	return q.data;
}

/*
 * Has the source tiers to downsample into?  Not a source of a newer schema
 * than the one installed (plans before ALTER EXTENSION UPDATE).
 */
static bool
downsampled(const NadiaHistSource *src)
{
	return src->hourly_table != NULL &&
		(src->unavailable == NULL || src->unavailable(src) == NULL);
}

static TimestampTz
get_ts(int row, int col, bool *isnull)
{
	Datum		d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, isnull);

	return *isnull ? 0 : DatumGetTimestampTz(d);
}

/*
 * Aggregate [start, upto) of one tier into the next for every source, and
 * move the tier's progress mark.  Returns rows written.
 */
static int64
rollup_range(const char *tier, TimestampTz start, TimestampTz upto)
{
	int64		rows = 0;
	int			i;
	Oid			types[2] = {TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[2];
	bool		hourly = strcmp(tier, "hourly") == 0;

	values[0] = TimestampTzGetDatum(start);
	values[1] = TimestampTzGetDatum(upto);

	/* partitions of the target tier for the buckets that have data */
	{
		StringInfoData q;
		int			n = 0;

		initStringInfo(&q);
		appendStringInfo(&q, "SELECT nadia_bgw.ensure_partitions('%s', b) FROM (SELECT DISTINCT"
						 " pg_catalog.date_trunc('%s', x.sampled_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS b"
						 " FROM (", tier, hourly ? "hour" : "day");
		for (i = 0; i < nadia_n_delta_sources; i++)
		{
			const NadiaHistSource *src = &nadia_delta_sources[i];

			if (!downsampled(src))
				continue;
			appendStringInfo(&q, "%sSELECT sampled_at FROM %s WHERE sampled_at >= $1 AND sampled_at < $2",
							 n++ ? " UNION ALL " : "",
							 hourly ? src->hist_table : src->hourly_table);
		}
		appendStringInfoString(&q, ") x) y");
		if (SPI_execute_with_args(q.data, 2, types, values, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not create %s partitions", tier);
	}

	for (i = 0; i < nadia_n_delta_sources; i++)
	{
		const NadiaHistSource *src = &nadia_delta_sources[i];
		char	   *sql;

		if (!downsampled(src))
			continue;
		if (hourly)
			sql = build_rollup_sql(src, src->hist_table, src->hourly_table, "hour", true);
		else
			sql = build_rollup_sql(src, src->hourly_table, src->daily_table, "day", false);
		if (SPI_execute_with_args(sql, 2, types, values, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "downsampling %s into the %s tier failed", src->name, tier);
		rows += SPI_processed;
	}
	if (SPI_execute_with_args("UPDATE nadia_bgw.tier_state SET done_until = $2 WHERE tier = $3",
							  3, (Oid[]) {TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID},
							  (Datum[]) {values[0], values[1], CStringGetTextDatum(tier)},
							  NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not record downsampling progress");
	return rows;
}

/*
 * Downsample what is complete and drop what is expired, as of "now" (the
 * clock, or a simulated one for benchmarks and tests).  Returns what was
 * done as a JSON object, in the current memory context.
 */
cJSON *
nadia_maintain_history(TimestampTz now)
{
	cJSON	   *report;
	bool		isnull,
				n1,
				n2;
	TimestampTz h_start,
				h_upto,
				d_start,
				d_upto;
	int64		hourly_rows = 0,
				daily_rows = 0,
				dropped = 0,
				purged;
	Datum		nowd = TimestampTzGetDatum(now);
	const char *tiers[3] = {"raw", "hourly", "daily"};
	int			i;

	/*
	 * Hours are complete two minutes after they end (a sample that started
	 * just before the hour may still be committing); days once their last
	 * hour is in the hourly tier.
	 */
	if (SPI_execute_with_args(
							  "SELECT coalesce(h.done_until, (SELECT pg_catalog.date_trunc('hour', min(s.sampled_at) AT TIME ZONE 'UTC')"
							  "          AT TIME ZONE 'UTC' FROM nadia_bgw.samples s)),"
							  " pg_catalog.date_trunc('hour', ($1 - interval '2 minutes') AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',"
							  " d.done_until"
							  " FROM nadia_bgw.tier_state h, nadia_bgw.tier_state d"
							  " WHERE h.tier = 'hourly' AND d.tier = 'daily'",
							  1, (Oid[]) {TIMESTAMPTZOID}, &nowd, NULL, false, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "reading nadia_bgw.tier_state failed");
	h_start = get_ts(0, 1, &n1);
	h_upto = get_ts(0, 2, &isnull);
	d_start = get_ts(0, 3, &n2);

	if (!n1 && h_start < h_upto)
		hourly_rows = rollup_range("hourly", h_start, h_upto);

	/* days: from the first hour downsampled, up to the last complete day */
	if (!n1)
	{
		if (SPI_execute_with_args("SELECT pg_catalog.date_trunc('day', $1 AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',"
								  " pg_catalog.date_trunc('day', h.done_until AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
								  " FROM nadia_bgw.tier_state h WHERE h.tier = 'hourly'",
								  1, (Oid[]) {TIMESTAMPTZOID},
								  (Datum[]) {TimestampTzGetDatum(h_start)}, NULL, false, 1) != SPI_OK_SELECT ||
			SPI_processed != 1)
			elog(ERROR, "reading nadia_bgw.tier_state failed");
		if (n2)
			d_start = get_ts(0, 1, &isnull);
		d_upto = get_ts(0, 2, &isnull);
		if (!isnull && d_start < d_upto)
			daily_rows = rollup_range("daily", d_start, d_upto);
	}

	/* retention: whole partitions */
	for (i = 0; i < 3; i++)
	{
		if (SPI_execute_with_args("SELECT nadia_bgw.drop_old_partitions($1, $2 - nadia_bgw.retention($1))",
								  2, (Oid[]) {TEXTOID, TIMESTAMPTZOID},
								  (Datum[]) {CStringGetTextDatum(tiers[i]), nowd},
								  NULL, false, 1) != SPI_OK_SELECT)
			elog(ERROR, "dropping expired %s partitions failed", tiers[i]);
		dropped += nadia_spi_getint8(0, 1, &isnull);
	}

	/*
	 * Small tables: samples rows go with the raw partitions holding their
	 * data; events and names of dropped objects outlive them as long as
	 * the daily tier may refer to them.  These deletes touch a bounded
	 * number of rows per cycle and autovacuum reuses the space.
	 */
	if (SPI_execute_with_args(
							  "WITH s AS (DELETE FROM nadia_bgw.samples WHERE sampled_at < coalesce("
							  "   (SELECT min(p.lo) FROM nadia_bgw.history_partitions p"
							  "     JOIN nadia_bgw.history_tables t USING (parent) WHERE t.tier = 'raw'),"
							  "   $1 - nadia_bgw.retention('raw')) RETURNING 1),"
							  " e AS (DELETE FROM nadia_bgw.stats_events WHERE sampled_at < $1 - nadia_bgw.retention('daily') RETURNING 1),"
							  " t AS (DELETE FROM nadia_bgw.table_catalog WHERE dropped_at < $1 - nadia_bgw.retention('daily') RETURNING 1),"
							  " i AS (DELETE FROM nadia_bgw.index_catalog WHERE dropped_at < $1 - nadia_bgw.retention('daily') RETURNING 1)"
							  " SELECT (SELECT count(*) FROM s)",
							  1, (Oid[]) {TIMESTAMPTZOID}, &nowd, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "purging history bookkeeping failed");
	purged = nadia_spi_getint8(0, 1, &isnull);

	/*
	 * Plans unused for as long as the daily tier is kept: no tier refers
	 * to them any more.  (A purged plan that runs again gets a new plans
	 * row: tracked_plans.c.)
	 */
	for (i = 0; i < nadia_n_delta_sources; i++)
		if (strcmp(nadia_delta_sources[i].name, "plans") == 0 && downsampled(&nadia_delta_sources[i]))
			nadia_spi_check(nadia_spi_exec("DELETE FROM nadia_bgw.plans WHERE last_seen < $1 - nadia_bgw.retention('daily')",
										   1, (Oid[]) {TIMESTAMPTZOID}, &nowd, NULL, false, 0),
							SPI_OK_DELETE, "purging unused plans");

	report = cJSON_CreateObject();
	cJSON_AddNumberToObject(report, "hourly_rows", (double) hourly_rows);
	cJSON_AddNumberToObject(report, "daily_rows", (double) daily_rows);
	cJSON_AddNumberToObject(report, "dropped_partitions", (double) dropped);
	cJSON_AddNumberToObject(report, "samples_purged", (double) purged);
	return report;
}
