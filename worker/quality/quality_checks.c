/*-------------------------------------------------------------------------
 *
 * quality_checks.c
 *		The "quality_checks" task: the catalog facts of the quality module,
 *		read only for the relations whose catalog entries changed.
 *
 * nadia_bgw._quality_checks(now, relids) compares the facts the catalogs
 * show (NOT VALID constraints, invalid indexes, disabled triggers, foreign
 * keys without an index) with the open rows of nadia_bgw.quality_facts.
 * Reading every relation each cycle costs tens of milliseconds at 1,000
 * tables, for a schema that rarely changes; so the task passes only the
 * relations PostgreSQL itself said changed.  Every change of a relation's
 * catalog entries (its pg_class row, constraints, indexes, triggers) sends
 * a relation cache invalidation, which this process receives at its next
 * transaction start; the callback below keeps their OIDs.  Changes that do
 * not name one relation (a schema renamed, a constraint's or index's own
 * row changed, the invalidation queue overflowing, more relations than the
 * list holds) ask for a full check instead, as does the process's first
 * check.  One fact changes without any catalog write: a CREATE INDEX
 * CONCURRENTLY that fails leaves its index invalid, as it was during the
 * build; so the tables with an index build under way are checked again at
 * the next cycle, until no build is.
 *
 * The list is consumed only when the check's transaction commits: a check
 * that fails leaves it for the next cycle, and invalidations that arrive
 * during a check stay for the next one.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "core/core.h"
#include "quality/quality.h"

/*
 * Relations changed since the last check.  Beyond this many a full check
 * is as cheap as the list (the scope query reads each one's keys).
 */
#define MAX_CHANGED 1024

static Oid	changed[MAX_CHANGED];
static int	nchanged = 0;

/* a full check is due while full_wanted != full_done */
static uint64 full_wanted = 1;
static uint64 full_done = 0;
static bool callbacks_registered = false;

/* what the check of the current transaction consumes if it commits */
static bool consume_at_commit = false;
static uint64 consume_want;
static int	consume_n;

static void
want_full(void)
{
	full_wanted++;
}

static void
relation_changed(Datum arg, Oid relid)
{
	int			i;

	if (!OidIsValid(relid))
	{
		/* every relation (a reset of this process's caches) */
		want_full();
		return;
	}
	for (i = nchanged - 1; i >= 0 && i >= nchanged - 8; i--)
		if (changed[i] == relid)
			return;				/* a burst of the same relation */
	if (nchanged < MAX_CHANGED)
		changed[nchanged++] = relid;
	else
		want_full();
}

static void
catalog_changed(Datum arg, int cacheid, uint32 hashvalue)
{
	want_full();
}

static void
check_xact_end(XactEvent event, void *arg)
{
	if (!consume_at_commit)
		return;
	if (event == XACT_EVENT_COMMIT)
	{
		full_done = consume_want;
		memmove(changed, changed + consume_n, sizeof(Oid) * (nchanged - consume_n));
		nchanged -= consume_n;
		consume_at_commit = false;
	}
	else if (event == XACT_EVENT_ABORT)
		consume_at_commit = false;
}

static void
register_callbacks(void)
{
	if (callbacks_registered)
		return;
	RegisterXactCallback(check_xact_end, NULL);
	CacheRegisterRelcacheCallback(relation_changed, (Datum) 0);
	/* a schema renamed: the names of every fact in it */
	CacheRegisterSyscacheCallback(NAMESPACEOID, catalog_changed, (Datum) 0);
	/* a constraint's or index's own row: validated, attached, dropped */
	CacheRegisterSyscacheCallback(CONSTROID, catalog_changed, (Datum) 0);
	CacheRegisterSyscacheCallback(INDEXRELID, catalog_changed, (Datum) 0);
	callbacks_registered = true;
}

/* the tables of this database with an index build under way */
static void
keep_building_tables(void)
{
	Oid			types[1] = {OIDOID};
	Datum		vals[1] = {ObjectIdGetDatum(MyDatabaseId)};
	uint64		i;

	nadia_spi_check(nadia_spi_exec("SELECT DISTINCT relid FROM pg_catalog.pg_stat_progress_create_index"
								   " WHERE datid = $1 AND relid <> 0",
								   1, types, vals, NULL, true, 0),
					SPI_OK_SELECT, "index builds");
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Oid			relid = (Oid) nadia_spi_getint8(i, 1, &isnull);

		if (!isnull)
			relation_changed((Datum) 0, relid);
	}
}

void
nadia_quality_checks_task(void)
{
	Oid			types[2] = {TIMESTAMPTZOID, OIDARRAYOID};
	Datum		vals[2];
	char		nulls[2] = {' ', ' '};
	uint64		want;
	int			n;

	register_callbacks();

	/*
	 * What changed up to now.  A change's invalidation is sent after its
	 * commit became visible, and the check's statements take their
	 * snapshots after this point (READ COMMITTED: one per statement), so
	 * they see every change whose OID is taken below.  Under a transaction
	 * snapshot (default_transaction_isolation above READ COMMITTED) the
	 * snapshot predates this, and only a full check is safe.
	 */
	AcceptInvalidationMessages();

	if (!nadia_function_exists("nadia_bgw._quality_checks(timestamp with time zone, oid[])"))
		return;					/* a 1.0 schema */

	want = full_wanted;
	n = nchanged;
	vals[0] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	if (want != full_done || IsolationUsesXactSnapshot())
		nulls[1] = 'n';
	else
	{
		Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));
		int			i;

		for (i = 0; i < n; i++)
			elems[i] = ObjectIdGetDatum(changed[i]);
		vals[1] = PointerGetDatum(construct_array(elems, n, OIDOID, sizeof(Oid), true, TYPALIGN_INT));
	}
	nadia_spi_check(nadia_spi_exec("SELECT nadia_bgw._quality_checks($1, $2)",
								   2, types, vals, nulls, false, 0),
					SPI_OK_SELECT, "quality step");
	keep_building_tables();

	/* what was asked before the check is done once it commits */
	consume_want = want;
	consume_n = n;
	consume_at_commit = true;
}
