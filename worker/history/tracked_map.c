/*-------------------------------------------------------------------------
 *
 * tracked_map.c
 *		How the columns of a tracked source map onto the slots of its
 *		entries in the shared hash, and which of them go to history.
 *
 * A column stored in the state (HC_STATE) that is neither a key nor a
 * catalog property nor from the statement dictionary gets a slot; the
 * conversion of a value to and from a slot is in tracked.h.  The map is
 * computed once per process and source.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "history/history.h"
#include "history/tracked.h"

/* indexed by the source's position in nadia_delta_sources */
static NadiaSourceMap maps[MAX_SOURCES];

static bool
is_slot(const NadiaHistColumn *col)
{
	return (col->flags & HC_STATE) && !(col->flags & (HC_KEY | HC_CATALOG | HC_DICT));
}

NadiaSourceMap *
nadia_tracked_source_map(const NadiaHistSource *src)
{
	int			pos = src - nadia_delta_sources;
	NadiaSourceMap  *m;
	int			i;

	if (pos < 0 || pos >= MAX_SOURCES || pos >= nadia_n_delta_sources)
		elog(ERROR, "source \"%s\" is not one of the first %d delta sources", src->name, MAX_SOURCES);
	m = &maps[pos];
	if (m->done)
		return m;
	if (src->ncols > MAX_COLUMNS)
		elog(ERROR, "source \"%s\" has too many columns", src->name);
	m->nslots = 0;
	m->nhist = 0;
	for (i = 0; i < src->ncols; i++)
	{
		m->type_of[i] = nadia_column_type(&src->cols[i]);
		m->slot_of[i] = is_slot(&src->cols[i]) ? m->nslots++ : -1;
		if (src->cols[i].flags & HC_HIST)
			m->hist_cols[m->nhist++] = i;
	}
	if (m->nslots > TRACK_SLOTS)
		elog(ERROR, "source \"%s\" has more than %d state columns", src->name, TRACK_SLOTS);
	m->done = true;
	return m;
}
