/*-------------------------------------------------------------------------
 *
 * tracked_plans.c
 *		The plans source's dictionary: the nadia_bgw.plans row of each
 *		plan a sample reads (plan_ref, kept in its entry so a plan is
 *		looked up only when the sampler has no current plan_ref for it),
 *		made the first time a plan is seen, its last use and latest
 *		instrumented execution refreshed when the store has newer ones.
 *
 * Texts (plan text, summary, nodes, sampled nodes) are read from the
 * store (nadia_bgw._plan_store(true)) only when a plan is new or was
 * instrumented again since the previous sample: the store copies every
 * text it holds on such a call, so it is not made for counters.  The
 * wide ones are stored compressed (nadia_bgw._compressed(),
 * plan_compress.c: a plans row is too small for PostgreSQL to compress
 * them itself), the node facts without their null keys and with costs
 * rounded (nadia_bgw._plan_nodes_stored(), sql/1.1/90_plans.sql).
 *
 * Storage rule (docs/history.md, "Plans"): a plan gets plan_samples rows
 * only while its statement has two plans or more in nadia_bgw.plans
 * (counting those made by this sample).  A single-plan statement's plan
 * has its plans row and its entry (the cumulative values, so the delta
 * written the day a second plan appears is the executions since the
 * previous sample) but no history row: its figures are the statement's,
 * which statement history holds already; readers derive them
 * (nadia_bgw.plan_history's implied rows).
 *
 * A plan of a statement marked "excluded" in the statement dictionary
 * (nadia_bgw's own calls, tracked_dict.c: the statements source runs
 * first in a sample) gets no plans row and no history, like the
 * statement.
 *
 * Everything here is written in the sample's transaction: a sample
 * rolled back leaves no plans row, and its entries are undone
 * (tracked_undo.c), so the next sample makes them again.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/timestamp.h"

#include "core/core.h"
#include "history/history.h"
#include "history/tracked.h"

/* plans (keys, and the row each key came from) a statement works on */
typedef struct PlanKeys
{
	int			n;
	int		   *row;			/* index in rows->rows */
	Datum	   *queryid;
	Datum	   *dbid;
	Datum	   *userid;
	Datum	   *planid;
} PlanKeys;

static void
keys_init(PlanKeys *k, int max)
{
	k->n = 0;
	k->row = palloc((max + 1) * sizeof(int));
	k->queryid = palloc((max + 1) * sizeof(Datum));
	k->dbid = palloc((max + 1) * sizeof(Datum));
	k->userid = palloc((max + 1) * sizeof(Datum));
	k->planid = palloc((max + 1) * sizeof(Datum));
}

static void
keys_add(PlanKeys *k, const NadiaTrackedRow *r, int row)
{
	k->row[k->n] = row;
	k->queryid[k->n] = Int64GetDatum(r->k1);
	k->dbid[k->n] = ObjectIdGetDatum(r->k2);
	k->userid[k->n] = ObjectIdGetDatum(r->k3);
	k->planid[k->n] = Int64GetDatum(r->k4);
	k->n++;
}

/* the four key arrays as arguments $1..$4 */
static void
keys_args(const PlanKeys *k, Oid *types, Datum *args)
{
	types[0] = INT8ARRAYOID;
	types[1] = OIDARRAYOID;
	types[2] = OIDARRAYOID;
	types[3] = INT8ARRAYOID;
	args[0] = PointerGetDatum(construct_array(k->queryid, k->n, INT8OID, 8, true, TYPALIGN_DOUBLE));
	args[1] = PointerGetDatum(construct_array(k->dbid, k->n, OIDOID, 4, true, TYPALIGN_INT));
	args[2] = PointerGetDatum(construct_array(k->userid, k->n, OIDOID, 4, true, TYPALIGN_INT));
	args[3] = PointerGetDatum(construct_array(k->planid, k->n, INT8OID, 8, true, TYPALIGN_DOUBLE));
}

/* run sql with the four key arrays as $1..$4; rc: the result expected */
static void
keys_exec(const PlanKeys *k, const char *sql, int rc, const char *what)
{
	Oid			types[4];
	Datum		args[4];

	keys_args(k, types, args);
	nadia_spi_check(nadia_spi_exec(sql, 4, types, args, NULL, false, 0), rc, what);
}

#define KEYS_UNNEST \
	"unnest($1::bigint[], $2::oid[], $3::oid[], $4::bigint[]) WITH ORDINALITY" \
	" AS k(queryid, dbid, userid, planid, i)"

/*
 * Look the plans up: each one's plan_ref, or 0 when it has no plans row
 * (added to *missing unless its statement is excluded).
 */
static void
lookup_plans(NadiaTrackedRows *rows, const PlanKeys *k, PlanKeys *missing)
{
	uint64		j;

	if (k->n == 0)
		return;
	keys_exec(k, "SELECT k.i, p.plan_ref, coalesce(t.excluded, false)"
			  " FROM " KEYS_UNNEST
			  " LEFT JOIN nadia_bgw.plans p ON (p.queryid, p.dbid, p.userid, p.planid)"
			  "   = (k.queryid, k.dbid, k.userid, k.planid)"
			  " LEFT JOIN nadia_bgw.statements t ON (t.queryid, t.dbid, t.userid)"
			  "   = (k.queryid, k.dbid, k.userid)",
			  SPI_OK_SELECT, "looking up plans");
	for (j = 0; j < SPI_processed; j++)
	{
		bool		isnull,
					no_ref;
		int			i = (int) nadia_spi_getint8(j, 1, &isnull) - 1;
		Datum		ref = SPI_getbinval(SPI_tuptable->vals[j], SPI_tuptable->tupdesc, 2, &no_ref);
		NadiaTrackedRow *r = &rows->rows[k->row[i]];

		r->excluded = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[j], SPI_tuptable->tupdesc, 3, &isnull));
		r->stmt_id = no_ref ? 0 : DatumGetInt32(ref);
		if (r->stmt_id == 0 && !r->excluded && missing)
			keys_add(missing, r, k->row[i]);
	}
}

/*
 * New plans: their plans row, texts copied from the store.  A plan gone
 * from the store meanwhile (reset) stays untracked; the next sample tries
 * again.  first_seen is the store's, but never before the previous
 * sample: the readers take a statement's history from the first_seen of
 * its second plan on from plan_samples (the storage rule, above), and
 * rows are written from this sample on; a store entry older than that (a
 * purged plan back, a plan the sampler could not store before) would
 * leave the samples in between without any plan figures.
 */
static void
insert_plans(NadiaTrackedRows *rows, const PlanKeys *k, TimestampTz ts)
{
	Oid			types[5];
	Datum		args[5];
	int			i;

	if (k->n == 0)
		return;
	keys_args(k, types, args);
	types[4] = TIMESTAMPTZOID;
	args[4] = TimestampTzGetDatum(ts);
	nadia_spi_check(nadia_spi_exec("INSERT INTO nadia_bgw.plans (queryid, dbid, userid, planid,"
								   " first_seen, last_seen, plan_text, plan_nodes, summary,"
								   " sampled_nodes, sampled_at)"
								   " SELECT s.queryid, s.dbid, s.userid, s.planid,"
								   " greatest(coalesce(s.first_seen, $5), prev.at),"
								   " greatest(coalesce(s.last_seen, s.first_seen, $5), prev.at),"
								   " nadia_bgw._compressed(s.plan_text),"
								   " nadia_bgw._compressed(nadia_bgw._plan_nodes_stored(s.plan_nodes)),"
								   " s.summary, nadia_bgw._compressed(s.sampled_nodes),"
								   " CASE WHEN s.sampled_nodes IS NOT NULL THEN s.sampled_at END"
								   " FROM nadia_bgw._plan_store(true) s"
								   " JOIN " KEYS_UNNEST
								   "   ON (s.queryid, s.dbid, s.userid, s.planid)"
								   "    = (k.queryid, k.dbid, k.userid, k.planid)"
								   " CROSS JOIN (SELECT max(sampled_at) + interval '1 microsecond' AS at"
								   "   FROM nadia_bgw.samples WHERE sampled_at < $5) prev"
								   " ON CONFLICT (queryid, dbid, userid, planid) DO NOTHING",
								   5, types, args, NULL, false, 0),
					SPI_OK_INSERT, "storing new plans");
	lookup_plans(rows, k, NULL);
	for (i = 0; i < k->n; i++)
	{
		NadiaTrackedRow *r = &rows->rows[k->row[i]];

		if (r->stmt_id == 0 && !r->excluded)
			r->skip = true;
	}
}

/*
 * The plans used since the previous sample: their last use.  A plans row
 * purged meanwhile (tiers.c: unused for the daily retention) is not
 * found: the plan is made again (*missing).
 */
static void
touch_plans(NadiaTrackedRows *rows, const PlanKeys *k, int c_last_seen, TimestampTz ts,
			PlanKeys *missing)
{
	Datum	   *refs = palloc((k->n + 1) * sizeof(Datum));
	Datum	   *seen = palloc((k->n + 1) * sizeof(Datum));
	bool	   *seen_null = palloc((k->n + 1) * sizeof(bool));
	bool	   *found = palloc0((k->n + 1) * sizeof(bool));
	int			dims[1] = {k->n};
	int			lbs[1] = {1};
	uint64		j;
	int			i;

	if (k->n == 0)
		return;
	for (i = 0; i < k->n; i++)
	{
		NadiaTrackedRow *r = &rows->rows[k->row[i]];

		refs[i] = Int32GetDatum(r->stmt_id);
		seen[i] = r->vals[c_last_seen];
		seen_null[i] = r->nulls[c_last_seen];
	}
	nadia_spi_check(nadia_spi_exec("UPDATE nadia_bgw.plans p SET last_seen = coalesce(k.last_seen, $3)"
								   " FROM unnest($1::integer[], $2::timestamptz[]) WITH ORDINALITY AS k(ref, last_seen, i)"
								   " WHERE p.plan_ref = k.ref AND p.last_seen < coalesce(k.last_seen, $3)"
								   " RETURNING k.i",
								   3, (Oid[]) {INT4ARRAYOID, TIMESTAMPTZARRAYOID, TIMESTAMPTZOID},
								   (Datum[]) {
			PointerGetDatum(construct_array(refs, k->n, INT4OID, 4, true, TYPALIGN_INT)),
			PointerGetDatum(construct_md_array(seen, seen_null, 1, dims, lbs, TIMESTAMPTZOID,
											   8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE)),
			TimestampTzGetDatum(ts)},
								   NULL, false, 0),
					SPI_OK_UPDATE_RETURNING, "refreshing the last use of plans");
	for (j = 0; j < SPI_processed; j++)
	{
		bool		isnull;

		found[nadia_spi_getint8(j, 1, &isnull) - 1] = true;
	}
	if (SPI_processed == (uint64) k->n)
		return;

	/* rows not updated: already as recent (nothing to do), or purged */
	nadia_spi_check(nadia_spi_exec("SELECT k.i FROM unnest($1::integer[]) WITH ORDINALITY AS k(ref, i)"
								   " WHERE NOT EXISTS (SELECT 1 FROM nadia_bgw.plans p WHERE p.plan_ref = k.ref)",
								   1, (Oid[]) {INT4ARRAYOID},
								   (Datum[]) {PointerGetDatum(construct_array(refs, k->n, INT4OID, 4, true, TYPALIGN_INT))},
								   NULL, false, 0),
					SPI_OK_SELECT, "looking up plans");
	for (j = 0; j < SPI_processed; j++)
	{
		bool		isnull;
		int			i2 = (int) nadia_spi_getint8(j, 1, &isnull) - 1;
		NadiaTrackedRow *r = &rows->rows[k->row[i2]];

		r->stmt_id = 0;
		keys_add(missing, r, k->row[i2]);
	}
}

/*
 * Plans instrumented again since their entry was written: the latest
 * sampled nodes, when newer than the plans row's.
 */
static void
refresh_sampled(const PlanKeys *k, NadiaTrackedRows *rows)
{
	if (k->n == 0)
		return;
	keys_exec(k, "UPDATE nadia_bgw.plans p SET sampled_nodes = nadia_bgw._compressed(s.sampled_nodes),"
			  " sampled_at = s.sampled_at"
			  " FROM nadia_bgw._plan_store(true) s"
			  " JOIN " KEYS_UNNEST
			  "   ON (s.queryid, s.dbid, s.userid, s.planid)"
			  "    = (k.queryid, k.dbid, k.userid, k.planid)"
			  " WHERE (p.queryid, p.dbid, p.userid, p.planid)"
			  "     = (k.queryid, k.dbid, k.userid, k.planid)"
			  "   AND s.sampled_nodes IS NOT NULL AND s.sampled_at IS NOT NULL"
			  "   AND (p.sampled_at IS NULL OR p.sampled_at < s.sampled_at)",
			  SPI_OK_UPDATE, "refreshing the sampled nodes of plans");
}

/*
 * The storage rule: of the plans used since the previous sample (with a
 * plans row), those whose statement has no other plan in nadia_bgw.plans
 * get no history row (r->no_history); their entry is written as usual.
 * Runs after insert_plans(), so a second plan stored by this sample
 * counts: both plans get rows from this sample on.
 */
static void
mark_single_plans(NadiaTrackedRows *rows, const PlanKeys *k)
{
	uint64		j;

	if (k->n == 0)
		return;
	keys_exec(k, "SELECT k.i FROM " KEYS_UNNEST
			  " WHERE NOT EXISTS (SELECT 1 FROM nadia_bgw.plans p"
			  "   WHERE (p.queryid, p.dbid, p.userid) = (k.queryid, k.dbid, k.userid)"
			  "     AND p.planid <> k.planid)",
			  SPI_OK_SELECT, "counting the plans of statements");
	for (j = 0; j < SPI_processed; j++)
	{
		bool		isnull;
		int			i = (int) nadia_spi_getint8(j, 1, &isnull) - 1;

		rows->rows[k->row[i]].no_history = true;
	}
}

/* has the store instrumented the plan since its entry was written? */
static bool
sampled_again(const NadiaTrackedRow *r, const NadiaSourceMap *m, int c_sampled)
{
	const NadiaTrackedEntry *e = r->entry;
	int			sl = m->slot_of[c_sampled];

	if (r->nulls[c_sampled])
		return false;
	if (e == NULL || e->dropped_at != 0 || tracked_slot_null(e, sl))
		return true;
	return e->slot[sl] != tracked_to_slot(TIMESTAMPTZOID, r->vals[c_sampled]);
}

/*
 * The dictionary of the plans source (NadiaTrackedDictionary): runs after
 * the rows were compared with their entries, before the entries are
 * written (r->entry: the entry as of the previous sample).
 */
void
nadia_plan_dictionary(const NadiaHistSource *src, NadiaTrackedRows *rows,
					  const char *pgss_schema, TimestampTz ts, bool all)
{
	NadiaSourceMap *m = nadia_tracked_source_map(src);
	int			c_last_seen = nadia_column_index(src, "last_seen");
	int			c_sampled = nadia_column_index(src, "sampled_at");
	PlanKeys	need,
				used,
				missing,
				sampled,
				written;
	bool	   *inserted;
	int			i;

	keys_init(&need, rows->n);
	keys_init(&used, rows->n);
	keys_init(&missing, rows->n);
	keys_init(&sampled, rows->n);
	keys_init(&written, rows->n);
	inserted = palloc0((rows->n + 1) * sizeof(bool));

	for (i = 0; i < rows->n; i++)
		if (!rows->rows[i].skip && tracked_needs_dictionary(&rows->rows[i], all))
			keys_add(&need, &rows->rows[i], i);
	lookup_plans(rows, &need, &missing);

	/* used since the previous sample, with a plans row */
	for (i = 0; i < rows->n; i++)
	{
		NadiaTrackedRow *r = &rows->rows[i];

		if (!r->skip && r->changed && r->stmt_id != 0 && !r->excluded)
			keys_add(&used, r, i);
	}
	touch_plans(rows, &used, c_last_seen, ts, &missing);

	insert_plans(rows, &missing, ts);
	for (i = 0; i < missing.n; i++)
		inserted[missing.row[i]] = true;

	for (i = 0; i < rows->n; i++)
	{
		NadiaTrackedRow *r = &rows->rows[i];

		if (r->skip || !r->changed || r->stmt_id == 0 || r->excluded)
			continue;
		keys_add(&written, r, i);
		if (!inserted[i] && sampled_again(r, m, c_sampled))
			keys_add(&sampled, r, i);
	}
	refresh_sampled(&sampled, rows);
	mark_single_plans(rows, &written);
}
