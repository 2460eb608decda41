/*-------------------------------------------------------------------------
 *
 * detector_rollup.c
 *		The "rollup_broken" alert: a rollup that can no longer be kept up
 *		to date (its source, table or capture trigger dropped, capture
 *		disabled), or whose capture failed in a writer.
 *
 * A state detector in C (its row in detectors.c's table has no query):
 * it judges what is true now, every detection run, from
 * nadia_bgw.rollups (broken / broken_reason read from the catalogs,
 * capture_errors from shared memory).  The alert resolves by itself once
 * the rollup is dropped or capture is enabled again.  A database whose
 * extension is still at 1.0 has no such columns: nothing to judge.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/dbcommands.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "core/core.h"
#include "alerts/alerts_internal.h"

List *
nadia_detect_rollups(NadiaDetectContext *ctx)
{
	const char *sql =
		"SELECT r.name, r.broken_reason, r.capture_errors,"
		"       pg_catalog.jsonb_build_object('reason', r.broken_reason,"
		"           'capture_errors', r.capture_errors, 'source', r.source::text)::text"
		"  FROM nadia_bgw.rollups r"
		" WHERE r.broken OR r.capture_errors > 0"
		" ORDER BY r.name";
	List	   *result = NIL;
	uint64		i;
	bool		isnull;

	/* a schema still at 1.0 has no broken-rollup facts */
	if (!nadia_function_exists("nadia_bgw._rollup_broken_reason(integer)"))
		return NIL;

	nadia_spi_check(SPI_execute(sql, true, 0), SPI_OK_SELECT, "rollup detector query");
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		NadiaCandidate *c = palloc0(sizeof(NadiaCandidate));
		char	   *name = SPI_getvalue(tup, desc, 1);
		char	   *reason = SPI_getvalue(tup, desc, 2);
		Datum		errors = SPI_getbinval(tup, desc, 3, &isnull);

		c->kind = "rollup_broken";
		c->alert_key = psprintf("rollup_broken:%s", name);
		c->object = psprintf("rollup %s", name);
		c->object_type = "rollup";
		c->dbid = MyDatabaseId;
		c->datname = get_database_name(MyDatabaseId);
		c->metric = reason != NULL ? "broken" : "capture_errors";
		c->has_baseline = true;
		c->baseline = 0;
		c->observed = reason != NULL ? 1 : (double) DatumGetInt64(errors);
		/* not maintained at all is critical; rows missed is a warning */
		c->severity = reason != NULL ? NADIA_SEV_CRITICAL : NADIA_SEV_WARNING;
		c->details = SPI_getvalue(tup, desc, 4);
		result = lappend(result, c);
	}
	return result;
}
