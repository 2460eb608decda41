/*-------------------------------------------------------------------------
 *
 * quality.c
 *		The tasks of the quality module that are one SQL function each:
 *		column distributions, business-metric anomalies and capacity
 *		forecasts (the catalog checks' task is quality_checks.c).
 *
 * Each is a SQL function of the extension, nadia_bgw._quality_<step>(now),
 * that reads the history the sample just wrote and
 * stores what it found; the worker calls it once per cycle as a task of
 * its own, so each has its own transaction, its own row in
 * nadia_bgw.status and its own error isolation.  The time is passed in
 * (the cycle's transaction start), so the tests give the functions any
 * instant they like.  A schema without the function (an extension still
 * at 1.0, before ALTER EXTENSION UPDATE) skips the step: the task's
 * outcome is then "ok" with nothing done.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "core/core.h"
#include "quality/quality.h"

/* Run nadia_bgw._quality_<step>(now) when the schema has it. */
static void
run_step(const char *step)
{
	Oid			types[1] = {TIMESTAMPTZOID};
	Datum		vals[1];

	if (!nadia_function_exists(psprintf("nadia_bgw._quality_%s(timestamp with time zone)", step)))
		return;
	vals[0] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	nadia_spi_check(nadia_spi_exec(psprintf("SELECT nadia_bgw._quality_%s($1)", step),
								   1, types, vals, NULL, false, 0),
					SPI_OK_SELECT, "quality step");
}

void
nadia_distribution_task(void)
{
	run_step("distribution");
}

void
nadia_anomalies_task(void)
{
	run_step("anomalies");
}

void
nadia_capacity_task(void)
{
	run_step("capacity");
}
