/*-------------------------------------------------------------------------
 *
 * session.c
 *		Settings every session of ours (the worker, a maintenance job
 *		worker) takes right after it connects, before it runs any SQL.
 *
 * A background worker that connects to a database gets that database's
 * and its role's settings (ALTER DATABASE / ALTER ROLE ... SET), like any
 * session.  The database owner, who need not be a superuser, may so set
 * search_path = evil, pg_catalog: every unqualified function or operator
 * in our SQL (text = text included) would then resolve to the owner's
 * objects and run with the worker's superuser rights.  Our sessions
 * therefore pin search_path to pg_catalog, pg_temp with the priority of
 * a SET in the session, above the database and role settings; pg_temp
 * last, since a temporary schema searched first (its default place)
 * could shadow tables.  Code that must run under another path (a
 * rollup's definition) sets it locally and gets ours back after.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/guc.h"

#include "core/core.h"

void
nadia_session_pin(void)
{
	SetConfigOption("search_path", NADIA_SAFE_SEARCH_PATH, PGC_SUSET, PGC_S_SESSION);
}
