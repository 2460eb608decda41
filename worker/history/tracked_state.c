/*-------------------------------------------------------------------------
 *
 * tracked_state.c
 *		nadia_bgw.tracked_state(source): the last-seen values of this
 *		database's objects of a tracked source, as kept in the shared hash,
 *		for the table_state and index_state views.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/timestamp.h"

#include "history/history.h"
#include "history/tracked.h"

PG_FUNCTION_INFO_V1(nadia_bgw_tracked_state);

/* the tracked source with a catalog table named "name" */
static const NadiaHistSource *
state_source(const char *name)
{
	const NadiaHistSource *src = NULL;
	int			i;

	for (i = 0; i < nadia_n_delta_sources; i++)
		if (nadia_delta_sources[i].catalog != NULL && strcmp(nadia_delta_sources[i].name, name) == 0)
			src = &nadia_delta_sources[i];
	if (src == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"%s\" is not a tracked source", name)));
	return src;
}

/*
 * Copy this database's entries of the source under the shared lock; the
 * rows are built after: a tuplestore may write to disk, which the lock
 * must not wait for.
 */
static NadiaTrackedEntry *
copy_entries(const NadiaHistSource *src, int *n_out)
{
	HASH_SEQ_STATUS hs;
	NadiaTrackedEntry *e;
	NadiaTrackedEntry *copies;
	int			n = 0,
				max = 256;

	nadia_tracked_lock(LW_SHARED);
	copies = palloc(max * sizeof(NadiaTrackedEntry));
	hash_seq_init(&hs, nadia_tracked_hash);
	while ((e = hash_seq_search(&hs)) != NULL)
	{
		if (e->key.db != MyDatabaseId || e->key.source != tracked_source_index(src))
			continue;
		if (n >= max)
		{
			max *= 2;
			copies = repalloc_huge(copies, (Size) max * sizeof(NadiaTrackedEntry));
		}
		memcpy(&copies[n++], e, sizeof(NadiaTrackedEntry));
	}
	nadia_tracked_unlock();
	*n_out = n;
	return copies;
}

/*
 * One row: key columns, slots in column order, changed_at; the number of
 * values set.
 */
static int
state_row(const NadiaHistSource *src, const NadiaSourceMap *m, const NadiaTrackedEntry *e,
		  Datum *values, bool *nulls, int natts)
{
	int			a = 0,
				c;

	for (c = 0; c < src->ncols && a < natts; c++)
	{
		const NadiaHistColumn *col = &src->cols[c];

		if (col->flags & HC_KEY)
		{
			values[a] = ObjectIdGetDatum((Oid) e->key.k1);
			nulls[a++] = false;
		}
		else if (m->slot_of[c] >= 0)
		{
			int			sl = m->slot_of[c];

			nulls[a] = tracked_slot_null(e, sl);
			values[a] = nulls[a] ? (Datum) 0 : tracked_from_slot(m->type_of[c], e->slot[sl]);
			a++;
		}
	}
	if (a < natts)
	{
		nulls[a] = e->changed_at == 0;
		values[a++] = TimestampTzGetDatum(e->changed_at);
	}
	return a;
}

Datum
nadia_bgw_tracked_state(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	const NadiaHistSource *src = state_source(name);
	NadiaSourceMap  *m = nadia_tracked_source_map(src);
	TupleDesc	desc;
	NadiaTrackedEntry *copies;
	int			n_copies,
				j,
				natts;
	Datum	   *values;
	bool	   *nulls;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	desc = rsinfo->setDesc;
	natts = desc->natts;
	values = palloc(natts * sizeof(Datum));
	nulls = palloc(natts * sizeof(bool));
	if (nadia_tracked_hash == NULL)
		PG_RETURN_NULL();

	copies = copy_entries(src, &n_copies);
	for (j = 0; j < n_copies; j++)
	{
		CHECK_FOR_INTERRUPTS();
		NADIA_DEBUG_OBJECT("state", src->name, j);
		if (state_row(src, m, &copies[j], values, nulls, natts) != natts)
			elog(ERROR, "nadia_bgw.tracked_state(%s): the column list does not match the source", name);
		tuplestore_putvalues(rsinfo->setResult, desc, values, nulls);
	}
	return (Datum) 0;
}
