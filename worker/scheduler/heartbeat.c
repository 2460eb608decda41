/*-------------------------------------------------------------------------
 *
 * heartbeat.c
 *		The heartbeat task: records in nadia_bgw.heartbeat that the worker
 *		committed a write this cycle.
 *
 * It is the cheapest proof that the worker is alive and can write, which
 * operators and the test suite both use (a standby must never move it).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"

#include "scheduler/scheduler.h"

void
nadia_heartbeat_task(void)
{
	int			rc;

	rc = SPI_execute("UPDATE nadia_bgw.heartbeat"
					 "   SET beat_at = pg_catalog.now(), beats = beats + 1"
					 " WHERE id = 1",
					 false, 0);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "heartbeat update failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("nadia_bgw.heartbeat has no row"),
				 errhint("Recreate the extension to restore its tables.")));
}
