/*-------------------------------------------------------------------------
 *
 * tracked_history.c
 *		One sample's history rows of a tracked source: for each changed
 *		object, the value of each history column (delta, minimum or
 *		maximum when it moved, gauge, stmt_id) from the row read and the
 *		entry's previous content; all rows inserted with one statement
 *		(INSERT ... SELECT FROM unnest(arrays)).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "core/core.h"
#include "history/history.h"
#include "history/tracked.h"

/*
 * The value history gets for column col of row r; p: the entry's previous
 * content, or NULL (new object).  *isnull: nothing to record (no delta,
 * no new minimum, ...).
 */
static Datum
history_value(const NadiaTrackedSample *s, const NadiaTrackedRow *r, const NadiaTrackedEntry *p,
			  int col, bool *isnull)
{
	int			flags = s->src->cols[col].flags;
	int			sl = s->map->slot_of[col];
	Oid			t = s->map->type_of[col];
	bool		fresh = p == NULL || r->restart;
	bool		pnull = p == NULL || sl < 0 || tracked_slot_null(p, sl);
	Datum		v = r->vals[col];

	*isnull = r->nulls[col];
	if (flags & HC_DICT)
	{
		v = Int32GetDatum(r->stmt_id);
		*isnull = false;
	}
	else if ((flags & HC_LAZY) && !r->measure)
		*isnull = true;
	else if (*isnull)
		;
	else if (flags & HC_DELTA)
	{
		if (!fresh && !pnull)
		{
			if (t == FLOAT8OID)
				v = Float8GetDatum(DatumGetFloat8(v) - tracked_as_double(t, p->slot[sl]));
			else
				v = Int64GetDatum(tracked_to_slot(t, v) - p->slot[sl]);
		}
		*isnull = (t == FLOAT8OID) ? DatumGetFloat8(v) == 0 : DatumGetInt64(v) == 0;
	}
	else if (flags & (HC_MIN | HC_MAX))
	{
		if (!fresh && !pnull)
		{
			double		cur = DatumGetFloat8(v),
						prev = tracked_as_double(t, p->slot[sl]);

			*isnull = (flags & HC_MIN) ? !(cur < prev) : !(cur > prev);
		}
	}
	else if (flags & HC_WHENCHANGED)
	{
		if (!fresh && !pnull && tracked_to_slot(t, v) == p->slot[sl])
			*isnull = true;
	}
	return v;
}

/*
 * INSERT INTO <history> (sampled_at, <history columns>) SELECT $1, u.*
 * FROM unnest($2::type[], ...) AS u
 */
static char *
history_insert_sql(const NadiaHistSource *src, const NadiaSourceMap *m, Oid *types)
{
	StringInfoData q;
	int			i;

	initStringInfo(&q);
	appendStringInfo(&q, "INSERT INTO %s (sampled_at", src->hist_table);
	for (i = 0; i < m->nhist; i++)
		appendStringInfo(&q, ", %s", src->cols[m->hist_cols[i]].name);
	appendStringInfoString(&q, ") SELECT $1, u.* FROM unnest(");
	types[0] = TIMESTAMPTZOID;
	for (i = 0; i < m->nhist; i++)
	{
		const NadiaHistColumn *col = &src->cols[m->hist_cols[i]];

		types[i + 1] = get_array_type(m->type_of[m->hist_cols[i]]);
		appendStringInfo(&q, "%s$%d::%s[]", i ? ", " : "", i + 2, col->type);
	}
	appendStringInfoString(&q, ") AS u");
	return q.data;
}

/* insert nh rows: hv[j]/hn[j] are the values of history column j */
static int64
insert_history(const NadiaTrackedSample *s, Datum **hv, bool **hn, int nh)
{
	const NadiaSourceMap *m = s->map;
	Oid		   *types = palloc((m->nhist + 1) * sizeof(Oid));
	char	   *sql = history_insert_sql(s->src, m, types);
	Datum	   *args = palloc((m->nhist + 1) * sizeof(Datum));
	char	   *argnulls = palloc((m->nhist + 2) * sizeof(char));
	int			j;

	args[0] = TimestampTzGetDatum(s->ts);
	argnulls[0] = ' ';
	for (j = 0; j < m->nhist; j++)
	{
		Oid			t = m->type_of[m->hist_cols[j]];
		int16		len;
		bool		byval;
		char		align;
		int			dims[1] = {nh};
		int			lbs[1] = {1};

		get_typlenbyvalalign(t, &len, &byval, &align);
		args[j + 1] = PointerGetDatum(construct_md_array(hv[j], hn[j], 1, dims, lbs,
														 t, len, byval, align));
		argnulls[j + 1] = ' ';
	}
	argnulls[m->nhist + 1] = '\0';
	nadia_spi_check(nadia_spi_exec(sql, m->nhist + 1, types, args, argnulls, false, 0),
					SPI_OK_INSERT,
					psprintf("writing the history of source \"%s\"", s->src->name));
	return SPI_processed;
}

/*
 * D: the history rows of the objects that changed (statements, plans: not
 * those excluded, without a dictionary row, or that the dictionary keeps
 * out of history: r->no_history); returns how many were written.  The
 * entries are written all the same (tracked_apply.c), so a row written
 * later has its delta since the previous sample.
 */
int64
nadia_tracked_write_history(NadiaTrackedSample *s)
{
	const NadiaSourceMap *m = s->map;
	Datum	  **hv = palloc(m->nhist * sizeof(Datum *));
	bool	  **hn = palloc(m->nhist * sizeof(bool *));
	int			nh = 0,
				i,
				j;

	for (j = 0; j < m->nhist; j++)
	{
		hv[j] = palloc((s->rows.n + 1) * sizeof(Datum));
		hn[j] = palloc((s->rows.n + 1) * sizeof(bool));
	}
	for (i = 0; i < s->rows.n; i++)
	{
		NadiaTrackedRow *r = &s->rows.rows[i];
		NadiaTrackedEntry *p = r->entry;	/* previous values, or NULL */

		CHECK_FOR_INTERRUPTS();
		NADIA_DEBUG_OBJECT("history", s->src->name, i);
		if (r->skip || !r->changed)
			continue;
		if (s->has_dictionary && (r->excluded || r->stmt_id == 0 || r->no_history))
			continue;
		for (j = 0; j < m->nhist; j++)
			hv[j][nh] = history_value(s, r, p, m->hist_cols[j], &hn[j][nh]);
		nh++;
	}
	if (nh == 0)
		return 0;
	return insert_history(s, hv, hn, nh);
}
