/*-------------------------------------------------------------------------
 *
 * evictions.c
 *		pg_stat_statements evictions: entries thrown out to make room lose
 *		their history, so each rise is recorded and warned about.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "history/history_internal.h"

/*
 * Evictions: pg_stat_statements_info.dealloc counts entries thrown out to
 * make room.  A rise is recorded and warned about (the worker warns at most
 * once an hour), since evicted statements lose their history.
 */
void
nadia_check_pgss_evictions(const char *schema, TimestampTz ts, int64 sample_id,
						   bool from_worker, int64 entries)
{
	char	   *q;
	bool		isnull;
	int64		dealloc,
				prev;
	bool		prev_null;
	bool		warn_due;

	q = psprintf("SELECT i.dealloc, st.dealloc,"
				 " st.last_warning_at IS NULL OR st.last_warning_at < $1 - interval '1 hour'"
				 " FROM %s.pg_stat_statements_info i"
				 " LEFT JOIN nadia_bgw.source_state st ON st.source = 'statements'", schema);
	if (nadia_spi_exec(q, 1, (Oid[]) {TIMESTAMPTZOID}, (Datum[]) {TimestampTzGetDatum(ts)},
					   NULL, false, 0) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "reading pg_stat_statements_info failed");
	dealloc = nadia_spi_getint8(0, 1, &isnull);
	prev = nadia_spi_getint8(0, 2, &prev_null);
	warn_due = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));

	if (!prev_null && dealloc > prev)
	{
		const char *max = GetConfigOption("pg_stat_statements.max", true, false);

		nadia_record_event(sample_id, ts, "statements", "dealloc", dealloc - prev,
						   nadia_event_details(NULL, NULL, "entries", entries, "max", max));
		if (!from_worker || warn_due)
		{
			ereport(WARNING,
					(errcode(ERRCODE_WARNING),
					 errmsg("pg_stat_statements evicted " INT64_FORMAT " entries since the previous sample",
							dealloc - prev),
					 errdetail(INT64_FORMAT " entries are tracked, pg_stat_statements.max is %s; evicted statements lose their history.",
							   entries, max ? max : "unknown"),
					 errhint("Raise pg_stat_statements.max.")));
			if (nadia_spi_exec("UPDATE nadia_bgw.source_state SET last_warning_at = $1"
									  " WHERE source = 'statements'", 1,
									  (Oid[]) {TIMESTAMPTZOID}, (Datum[]) {TimestampTzGetDatum(ts)},
									  NULL, false, 0) != SPI_OK_UPDATE)
				elog(ERROR, "writing nadia_bgw.source_state failed");
		}
	}
	if (nadia_spi_exec("UPDATE nadia_bgw.source_state SET dealloc = $1 WHERE source = 'statements'",
							  1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(dealloc)},
							  NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "writing nadia_bgw.source_state failed");
}
