/*-------------------------------------------------------------------------
 *
 * history_internal.h
 *		What the files of the history module share among themselves;
 *		history.h is what the other modules see.
 *
 *		sampler.c			one sample: each source in turn, guarded (the top)
 *		catalog.c			the delta sources and their column tables
 *		delta_sql.c			the generated SQL of the databases and cluster sources
 *		sampler_readers.c	readers of the tracked sources
 *		tracked_*.c			last-seen values of the tracked sources (tracked.h)
 *		plan_source.c		plans: the capture's store read as a tracked source
 *		statement_texts.c	texts of statements seen for the first time
 *		evictions.c			pg_stat_statements evictions
 *		gauges.c			activity, lock waits, replication
 *		events.c			a source's baseline and reset, stats events
 *		sampler_debug.c		the per-object delay of the test build
 *		tiers.c				downsampling and retention
 *
 * Calls go one way: sampler.c calls the sources; the sources call
 * catalog.c, events.c, statement_texts.c and sampler_debug.c, none of
 * which calls a source back; nothing calls sampler.c.
 * Each file group defines its own settings in one function, all called
 * from nadia_history_define_gucs() (sampler.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef NADIA_HISTORY_INTERNAL_H
#define NADIA_HISTORY_INTERNAL_H

#include "datatype/timestamp.h"
#include "lib/stringinfo.h"

#include "core/core.h"

/* sampler_debug.c -------------------------------------------------------*/

extern int	nadia_bgw_debug_object_delay;	/* ms; 0 = off */
extern void nadia_sampler_debug_define_gucs(void);

/*
 * Testing only (nadia_bgw.debug_object_delay): each object of a sampler
 * loop logs its number and waits, so that a test can count in objects how
 * far a sample goes after a cancel, or what another backend did meanwhile.
 * Off, it costs one test of an int per object.
 */
extern void nadia_debug_object(const char *loop, const char *source, int64 n);

#define NADIA_DEBUG_OBJECT(loop, source, n) \
	do { \
		if (unlikely(nadia_bgw_debug_object_delay > 0)) \
			nadia_debug_object((loop), (source), (n)); \
	} while (0)

/* catalog.c: what a source is ------------------------------------------*/

/*
 * Column flags of a delta source (see delta_sql.c for how each is turned
 * into SQL, tracked_*.c for the tracked sources).
 */
#define HC_KEY		0x0001		/* key of the state table */
#define HC_HKEY		0x0002		/* key of the history table */
#define HC_STATE	0x0004		/* stored in the state table */
#define HC_HIST		0x0008		/* stored in the history table */
#define HC_DETECT	0x0010		/* a change of it makes the row "changed" */
#define HC_DELTA	0x0020		/* cumulative counter: history gets the delta */
#define HC_MIN		0x0040		/* cumulative minimum: history gets it when it fell */
#define HC_MAX		0x0080		/* cumulative maximum: history gets it when it rose */
#define HC_RESTART	0x0100		/* reset marker: a change restarts the row's counters */
#define HC_LATE		0x0200		/* computed for changed rows only */
#define HC_KEEP		0x0400		/* late column: NULL keeps the previous value */
#define HC_TRIGGER	0x0800		/* a change of it recomputes the lazy columns */
#define HC_WHENCHANGED 0x4000	/* history gets it only when it changed */
#define HC_NOUPDATE	0x2000		/* state column written when the row is created only */
#define HC_LAZY		0x1000		/* late column computed only when a trigger
								 * column changed (or the row is new); else
								 * NULL in history, previous value in state */
#define HC_CATALOG	0x8000		/* tracked sources: a catalog property (name,
								 * definition), kept in a *_catalog table */
#define HC_DICT		0x10000		/* tracked sources: from the statement text
								 * dictionary (stmt_id, excluded) */
#define HC_AGE		0x20000		/* lazy column that moves by itself (an age):
								 * a new measurement of it alone is no change */

typedef struct NadiaHistColumn
{
	const char *name;
	const char *expr;			/* SQL; "@a|b" = first existing column a or b */
	const char *type;			/* SQL type the value is cast to */
	int			flags;

	/*
	 * Counters reset together (one view of a row that joins several): a
	 * marker of the group that moved, or a counter of it that went
	 * backwards, restarts that group's counters only.  0: the whole row.
	 */
	int			group;
} NadiaHistColumn;

struct NadiaTrackedRows;
struct NadiaHistSource;

/*
 * Readers of the tracked sources (sampler_readers.c): fill one row per
 * object with the values of the source's non-late columns; "measure" fills
 * the lazy columns (sizes) of the rows that need them.
 */
typedef void (*NadiaTrackedReader) (const struct NadiaHistSource *src, struct NadiaTrackedRows *rows,
							   const char *pgss_schema);
typedef void (*NadiaTrackedMeasure) (const struct NadiaHistSource *src, struct NadiaTrackedRows *rows,
								int row);
typedef void (*NadiaTrackedCatalog) (const struct NadiaHistSource *src, TimestampTz ts,
								Datum changed_keys, Datum dropped_keys);
typedef bool (*NadiaTrackedCatalogReady) (const struct NadiaHistSource *src, struct NadiaTrackedRows *rows,
									 int row);

/*
 * The dictionary of a tracked source whose history rows are keyed by a
 * row of its own table (statements: stmt_id; plans: plan_ref): fills
 * r->stmt_id and r->excluded of the rows read; a row left without one
 * (r->skip) is tried again by the next sample.  "all": a baseline, every
 * row is looked up.
 */
typedef void (*NadiaTrackedDictionary) (const struct NadiaHistSource *src, struct NadiaTrackedRows *rows,
										const char *pgss_schema, TimestampTz ts, bool all);

/* why a source cannot be sampled in this database now, or NULL */
typedef const char *(*NadiaSourceUnavailable) (const struct NadiaHistSource *src);

/* what a source checks after its sample (counters of the source itself) */
typedef void (*NadiaSourceAfter) (const struct NadiaHistSource *src, TimestampTz ts, int64 sample_id,
								  bool from_worker, int64 seen);

typedef struct NadiaHistSource
{
	const char *name;			/* "statements", "tables", ... */
	const char *state_table;
	const char *hist_table;
	const char *hourly_table;	/* NULL = no downsampling tier */
	const char *daily_table;
	const char *from;			/* FROM clause; "%s" = pg_stat_statements schema */
	const char *where;			/* WHERE clause of the source query, or NULL */
	const char *detect_rels;	/* relations whose columns "@" expressions may use */
	const char *reset_query;	/* source-wide stats_reset, or NULL */
	const NadiaHistColumn *cols;
	int			ncols;
	/* tracked sources: last-seen values in shared memory (tracked_*.c) */
	NadiaTrackedReader reader;		/* NULL: the generated SQL of delta_sql.c */
	NadiaTrackedMeasure measure;
	NadiaTrackedCatalog catalog;		/* writes the *_catalog table, or NULL */
	NadiaTrackedCatalogReady catalog_ready;	/* can a row's catalog entry be
										 * written now? NULL: always */
	NadiaTrackedDictionary dictionary;	/* history keyed by a dictionary row,
										 * or NULL */
	NadiaSourceUnavailable unavailable;	/* NULL: always sampled */
	NadiaSourceAfter after;				/* NULL: nothing to check */
} NadiaHistSource;

/* the statements source comes first: the sampler runs it only with pgss */
extern const NadiaHistSource nadia_delta_sources[];
extern const int nadia_n_delta_sources;
extern int	nadia_column_index(const NadiaHistSource *src, const char *name);
extern Oid	nadia_column_type(const NadiaHistColumn *col);

/* one object read by a tracked source's reader */
typedef struct NadiaTrackedRow
{
	int64		k1;				/* queryid, relid, indexrelid */
	Oid			k2;				/* statements, plans: dbid */
	Oid			k3;				/* statements, plans: userid */
	int64		k4;				/* plans: planid */
	uint16		extra;			/* statements: toplevel */
	uint32		cat_hash;		/* hash of the catalog columns */
	int			cat_index;		/* reader's own: its catalog entry */
	Datum	   *vals;			/* one per column of the source */
	bool	   *nulls;
	void	   *entry;			/* engine: the shared entry, or NULL */
	bool		measure;		/* engine: the lazy columns are read now */
	bool		still_due;		/* engine: written, sizes measured later */
	bool		restart;
	bool		changed;
	bool		skip;			/* not tracked: no history, no state */
	bool		cat_changed;
	int32		stmt_id;		/* the dictionary row (stmt_id, plan_ref) */
	bool		excluded;
	bool		no_history;		/* dictionary's: entry kept, no history row
								 * (plans of a single-plan statement) */
} NadiaTrackedRow;

typedef struct NadiaTrackedRows
{
	NadiaTrackedRow *rows;
	int			n;
	int			max;
	MemoryContext cxt;
} NadiaTrackedRows;

/* tracked_sample.c: a new row of a reader's result */
extern NadiaTrackedRow *nadia_tracked_add(const NadiaHistSource *src, NadiaTrackedRows *rows);

/* tracked_hash.c: the tracked sources' settings */
extern void nadia_tracked_define_gucs(void);
extern int	nadia_bgw_debug_tracked_undo_limit;	/* records; 0 = 64 MB */

/* tracked_dict.c: the statements' dictionary (stmt_id, excluded) */
extern void nadia_tracked_dictionary(const NadiaHistSource *src, NadiaTrackedRows *rows,
									 const char *schema, TimestampTz ts, bool all);

/* tracked_*.c: the tracked sources' engine (internals: tracked.h) */
extern int	nadia_bgw_max_tracked_objects;
extern bool nadia_tracked_has_baseline(const NadiaHistSource *src);
extern int64 nadia_sample_tracked_source(const NadiaHistSource *src, TimestampTz ts, int64 sample_id,
										 bool initialized, const char *pgss_schema, int64 *seen);

/* sampler_readers.c -----------------------------------------------------*/

extern void nadia_read_statements(const NadiaHistSource *src, NadiaTrackedRows *rows, const char *pgss_schema);
extern void nadia_read_tables(const NadiaHistSource *src, NadiaTrackedRows *rows, const char *pgss_schema);
extern void nadia_read_indexes(const NadiaHistSource *src, NadiaTrackedRows *rows, const char *pgss_schema);
extern void nadia_measure_table(const NadiaHistSource *src, NadiaTrackedRows *rows, int row);
extern void nadia_measure_index(const NadiaHistSource *src, NadiaTrackedRows *rows, int row);
extern void nadia_catalog_tables(const NadiaHistSource *src, TimestampTz ts, Datum changed, Datum dropped);
extern void nadia_catalog_indexes(const NadiaHistSource *src, TimestampTz ts, Datum changed, Datum dropped);
extern bool nadia_index_catalog_ready(const NadiaHistSource *src, NadiaTrackedRows *rows, int row);

/* plan_source.c, tracked_plans.c: the plans source ------------------------*/

extern void nadia_read_plans(const NadiaHistSource *src, NadiaTrackedRows *rows, const char *pgss_schema);
extern const char *nadia_plans_unavailable(const NadiaHistSource *src);
extern void nadia_check_plan_store(const NadiaHistSource *src, TimestampTz ts, int64 sample_id,
								   bool from_worker, int64 seen);
extern void nadia_plan_dictionary(const NadiaHistSource *src, NadiaTrackedRows *rows,
								  const char *pgss_schema, TimestampTz ts, bool all);

/* delta_sql.c -----------------------------------------------------------*/

extern int64 nadia_sample_sql_source(const NadiaHistSource *src, TimestampTz ts,
									 int64 sample_id, const char *pgss_schema,
									 int64 *seen);

/* events.c --------------------------------------------------------------*/

typedef bool (*NadiaHasBaseline) (const NadiaHistSource *src);
extern bool nadia_source_bookkeeping(const NadiaHistSource *src, TimestampTz ts, int64 sample_id,
									 const char *schema, NadiaHasBaseline has_baseline);
extern void nadia_source_initialized(const NadiaHistSource *src, TimestampTz ts);
extern char *nadia_event_details(const char *str_key, const char *str_value,
								 const char *num_key, int64 num_value,
								 const char *num2_key, const char *num2_text);
extern void nadia_record_event(int64 sample_id, TimestampTz ts, const char *source,
							   const char *kind, int64 count, const char *details_json);

/* statement_texts.c -----------------------------------------------------*/

extern int	nadia_bgw_query_text_max;	/* bytes */
extern void nadia_statement_texts_define_gucs(void);
extern int64 nadia_sample_statement_texts(const char *pgss_schema, TimestampTz ts);

/* evictions.c -----------------------------------------------------------*/

extern void nadia_check_pgss_evictions(const char *pgss_schema, TimestampTz ts,
									   int64 sample_id, bool from_worker, int64 entries);

/* gauges.c --------------------------------------------------------------*/

extern int64 nadia_sample_activity(TimestampTz ts);
extern int64 nadia_sample_lock_waits(TimestampTz ts);
extern int64 nadia_sample_replication(TimestampTz ts);

/* tiers.c ---------------------------------------------------------------*/

extern int	nadia_bgw_raw_retention;	/* minutes */
extern int	nadia_bgw_hourly_retention; /* minutes */
extern int	nadia_bgw_daily_retention;	/* minutes */
extern void nadia_tiers_define_gucs(void);

struct cJSON;
extern struct cJSON *nadia_maintain_history(TimestampTz now);

#endif							/* NADIA_HISTORY_INTERNAL_H */
