/*-------------------------------------------------------------------------
 *
 * rollup.c
 *		The worker's "rollup" task: refresh every rollup of the database.
 *
 * The refresh itself is SQL (nadia_bgw._rollup_task() and
 * nadia_bgw.refresh_rollup() in sql/nadia_bgw--1.0.sql) so that the worker
 * and a user calling refresh_rollup() run exactly the same code.  The task
 * function runs it at READ COMMITTED, which the refresh requires: every
 * recompute statement must see at least what the shared-state check
 * before it saw.  One rollup's error is caught per rollup (a
 * subtransaction in _rollup_task), recorded in nadia_bgw.rollup.last_error
 * and does not stop the others.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"

#include "core/core.h"
#include "rollup/rollup.h"

void
nadia_rollup_task(void)
{
	nadia_spi_check(SPI_execute("SELECT nadia_bgw._rollup_task()", false, 0),
					SPI_OK_SELECT, "rollup task");
}
