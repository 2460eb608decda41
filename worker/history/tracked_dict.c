/*-------------------------------------------------------------------------
 *
 * tracked_dict.c
 *		The statements source and the statement text dictionary: the
 *		stmt_id (and the "excluded" mark) of the statements a sample
 *		reads, stored in their entries so that a statement is looked up
 *		only when the sampler has no current stmt_id for it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/hsearch.h"

#include "core/core.h"
#include "history/history.h"
#include "history/tracked.h"

typedef struct DictKey
{
	int64		queryid;
	Oid			dbid;
	Oid			userid;
} DictKey;

typedef struct DictEntry
{
	DictKey		key;
	int32		stmt_id;
	bool		excluded;
} DictEntry;

static Datum
spi_datum(int row, int col)
{
	bool		isnull;

	return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, &isnull);
}

/*
 * Look the keys up in nadia_bgw.statements: a local hash of the stmt_ids
 * found.
 */
static HTAB *
lookup_statements(Datum *q, Datum *d, Datum *u, int n)
{
	HTAB	   *ids;
	int			i;

	nadia_spi_check(nadia_spi_exec("SELECT t.queryid, t.dbid, t.userid, t.stmt_id, t.excluded"
								   " FROM nadia_bgw.statements t"
								   " JOIN unnest($1::bigint[], $2::oid[], $3::oid[]) AS k(queryid, dbid, userid)"
								   " USING (queryid, dbid, userid)",
								   3, (Oid[]) {INT8ARRAYOID, OIDARRAYOID, OIDARRAYOID},
								   (Datum[]) {
			PointerGetDatum(construct_array(q, n, INT8OID, 8, true, TYPALIGN_DOUBLE)),
			PointerGetDatum(construct_array(d, n, OIDOID, 4, true, TYPALIGN_INT)),
			PointerGetDatum(construct_array(u, n, OIDOID, 4, true, TYPALIGN_INT))
		},
								   NULL, false, 0),
					SPI_OK_SELECT, "looking up statement texts");

	ids = nadia_local_hash("nadia_bgw statement ids", sizeof(DictKey), sizeof(DictEntry), SPI_processed);
	for (i = 0; i < (int) SPI_processed; i++)
	{
		DictKey		k;
		DictEntry  *e;
		bool		isnull;

		memset(&k, 0, sizeof(k));
		k.queryid = nadia_spi_getint8(i, 1, &isnull);
		k.dbid = DatumGetObjectId(spi_datum(i, 2));
		k.userid = DatumGetObjectId(spi_datum(i, 3));
		e = hash_search(ids, &k, HASH_ENTER, NULL);
		e->stmt_id = DatumGetInt32(spi_datum(i, 4));
		e->excluded = DatumGetBool(spi_datum(i, 5));
	}
	return ids;
}

/*
 * New statements, returning ones (or all, for a baseline): store their
 * text and look up their stmt_id.  A row whose text could not be stored
 * stays untracked and is tried again by the next sample.
 */
void
nadia_tracked_dictionary(const NadiaHistSource *src, NadiaTrackedRows *rows, const char *schema,
						 TimestampTz ts, bool all)
{
	int			i,
				n = 0;
	Datum	   *q,
			   *d,
			   *u;
	HTAB	   *ids;

	q = palloc(rows->n * sizeof(Datum));
	d = palloc(rows->n * sizeof(Datum));
	u = palloc(rows->n * sizeof(Datum));
	for (i = 0; i < rows->n; i++)
	{
		NadiaTrackedRow *r = &rows->rows[i];

		if (!tracked_needs_dictionary(r, all))
			continue;
		q[n] = Int64GetDatum(r->k1);
		d[n] = ObjectIdGetDatum(r->k2);
		u[n] = ObjectIdGetDatum(r->k3);
		n++;
	}
	if (n == 0)
		return;

	nadia_sample_statement_texts(schema, ts);
	ids = lookup_statements(q, d, u, n);
	for (i = 0; i < rows->n; i++)
	{
		NadiaTrackedRow *r = &rows->rows[i];
		DictKey		k;
		DictEntry  *e;

		if (!tracked_needs_dictionary(r, all))
			continue;
		memset(&k, 0, sizeof(k));
		k.queryid = r->k1;
		k.dbid = r->k2;
		k.userid = r->k3;
		e = hash_search(ids, &k, HASH_FIND, NULL);
		if (e == NULL)
			r->skip = true;
		else
		{
			r->stmt_id = e->stmt_id;
			r->excluded = e->excluded;
		}
	}
}
