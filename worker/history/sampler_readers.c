/*-------------------------------------------------------------------------
 *
 * sampler_readers.c
 *		Readers of the tracked sources (statements, tables, indexes): one
 *		row per object with the values the column tables of catalog.c
 *		describe, for the engine of tracked_sample.c.
 *
 * Statements are read with one statement over pg_stat_statements (without
 * query texts; versions' column names resolved once).  Tables and indexes
 * are read from the catalogs with one statement each, and their counters
 * straight from the cumulative statistics system
 * (pgstat_fetch_stat_tabentry(), one lookup per relation, which holds both
 * the pg_stat_* and the pg_statio_* counters) instead of through the
 * views, which call one function per column and row.  The values and
 * their meaning are those of pg_stat_user_tables, pg_statio_user_tables,
 * pg_stat_user_indexes and pg_statio_user_indexes.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/stat.h>

#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "common/relpath.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "funcapi.h"
#include "nodes/execnodes.h"
#include "pgstat.h"
#include "storage/lmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/rel.h"
#include "utils/tuplestore.h"
#include "utils/relcache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "core/core.h"
#include "history/history_internal.h"

/* field names of PgStat_StatTabEntry changed in PostgreSQL 16 */
#if PG_VERSION_NUM >= 160000
#define TE_LIVE(t)		((t)->live_tuples)
#define TE_DEAD(t)		((t)->dead_tuples)
#define TE_MOD(t)		((t)->mod_since_analyze)
#define TE_INS(t)		((t)->ins_since_vacuum)
#define TE_VAC_T(t)		((t)->last_vacuum_time)
#define TE_AVAC_T(t)	((t)->last_autovacuum_time)
#define TE_ANA_T(t)		((t)->last_analyze_time)
#define TE_AANA_T(t)	((t)->last_autoanalyze_time)
#define TE_AVAC_N(t)	((t)->autovacuum_count)
#define TE_AANA_N(t)	((t)->autoanalyze_count)
#else
#define TE_LIVE(t)		((t)->n_live_tuples)
#define TE_DEAD(t)		((t)->n_dead_tuples)
#define TE_MOD(t)		((t)->changes_since_analyze)
#define TE_INS(t)		((t)->inserts_since_vacuum)
#define TE_VAC_T(t)		((t)->vacuum_timestamp)
#define TE_AVAC_T(t)	((t)->autovac_vacuum_timestamp)
#define TE_ANA_T(t)		((t)->analyze_timestamp)
#define TE_AANA_T(t)	((t)->autovac_analyze_timestamp)
#define TE_AVAC_N(t)	((t)->autovac_vacuum_count)
#define TE_AANA_N(t)	((t)->autovac_analyze_count)
#endif

/* an entry of zeros for relations the statistics system has not seen */
static const PgStat_StatTabEntry zero_entry;

static const PgStat_StatTabEntry *
tabentry(Oid relid)
{
	PgStat_StatTabEntry *t = pgstat_fetch_stat_tabentry(relid);

	return t ? t : &zero_entry;
}

/* the column numbers of a reader's fields, looked up once */
static void
resolve_columns(const NadiaHistSource *src, const char *const *names, int n, int *cols, bool *done)
{
	int			i;

	if (*done)
		return;
	for (i = 0; i < n; i++)
		cols[i] = nadia_column_index(src, names[i]);
	*done = true;
}

static void
set_val(NadiaTrackedRow *r, int col, Datum d)
{
	r->vals[col] = d;
	r->nulls[col] = false;
}

static void
set_i8(NadiaTrackedRow *r, int col, int64 v)
{
	set_val(r, col, Int64GetDatum(v));
}

static void
set_ts(NadiaTrackedRow *r, int col, TimestampTz t)
{
	if (t != 0)
		set_val(r, col, TimestampTzGetDatum(t));
}

static uint32
hash_add(uint32 h, const char *s)
{
	if (s == NULL)
		s = "\x01";
	return hash_combine(h, hash_bytes((const unsigned char *) s, strlen(s) + 1));
}

/* ---------------------------------------------------------------------
 * Statements
 * ---------------------------------------------------------------------
 */
/*
 * pg_stat_statements(showtext => false) is called directly and its
 * tuplestore read: no executor, no copy into an SPI result.  Its columns
 * are matched by name once per backend ("s.calls"; "@a|b" takes the first
 * that exists, else NULL).  pg_stat_statements_info.stats_reset is the
 * same for every row: read once per sample.
 */
#define PGSS_INFO_RESET	(-2)
typedef struct PgssReader
{
	Oid			fn;
	char	   *schema;
	TupleDesc	desc;
	int			attno[64];		/* column -> attribute index, -1 NULL */
	Oid			atttype[64];
	int			attno2[64];		/* "a+b": attribute added to attno, or -1 */
} PgssReader;

static PgssReader pgss;

static int
find_att(TupleDesc desc, const char *name)
{
	int			i;

	for (i = 0; i < desc->natts; i++)
		if (!TupleDescAttr(desc, i)->attisdropped &&
			strcmp(NameStr(TupleDescAttr(desc, i)->attname), name) == 0)
			return i;
	return -1;
}

static void
pgss_prepare(const NadiaHistSource *src, const char *schema)
{
	MemoryContext old;
	TupleDesc	desc;
	Oid			fn;
	int			c;

	/*
	 * The function is looked up by name at every sample (a syscache probe):
	 * ALTER EXTENSION pg_stat_statements UPDATE, or dropping and creating
	 * it again, replaces the function by one with a new OID and other
	 * columns, and a mapping kept from the old one would fail every sample
	 * until the worker restarts.
	 */
	fn = DatumGetObjectId(DirectFunctionCall1(regprocedurein,
											  CStringGetDatum(psprintf("%s.pg_stat_statements(boolean)", schema))));
	if (get_func_result_type(fn, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "pg_stat_statements() does not return rows");
	if (pgss.schema && strcmp(pgss.schema, schema) == 0 && pgss.fn == fn &&
		equalTupleDescs(pgss.desc, desc))
		return;
	if (pgss.desc)
		FreeTupleDesc(pgss.desc);
	if (pgss.schema)
		pfree(pgss.schema);
	pgss.schema = NULL;
	pgss.fn = fn;
	old = MemoryContextSwitchTo(TopMemoryContext);
	pgss.desc = CreateTupleDescCopy(desc);
	MemoryContextSwitchTo(old);
	for (c = 0; c < src->ncols; c++)
	{
		const char *e = src->cols[c].expr;

		pgss.attno[c] = -1;
		pgss.attno2[c] = -1;
		if (src->cols[c].flags & HC_LATE)
			continue;
		if (strncmp(e, "s.", 2) == 0)
			pgss.attno[c] = find_att(pgss.desc, e + 2);
		else if (e[0] == '@')
		{
			char	   *copy = pstrdup(e + 1);
			char	   *tok,
					   *save;

			/*
			 * The first alternative whose columns all exist; "a+b" is the sum
			 * of two columns (a counter that a later version split in two).
			 */
			for (tok = strtok_r(copy, "|", &save); tok && pgss.attno[c] < 0; tok = strtok_r(NULL, "|", &save))
			{
				char	   *plus = strchr(tok, '+');

				if (plus == NULL)
					pgss.attno[c] = find_att(pgss.desc, tok);
				else
				{
					int			a2;

					*plus = '\0';
					a2 = find_att(pgss.desc, plus + 1);
					if (a2 >= 0 && (pgss.attno[c] = find_att(pgss.desc, tok)) >= 0)
						pgss.attno2[c] = a2;
				}
			}
		}
		else if (strcmp(src->cols[c].name, "info_reset") == 0)
			pgss.attno[c] = PGSS_INFO_RESET;
		else
			elog(ERROR, "statement column \"%s\" has no reader", src->cols[c].name);
		if (pgss.attno[c] >= 0)
			pgss.atttype[c] = TupleDescAttr(pgss.desc, pgss.attno[c])->atttypid;
		if (pgss.attno2[c] >= 0 &&
			(TupleDescAttr(pgss.desc, pgss.attno2[c])->atttypid != FLOAT8OID ||
			 pgss.atttype[c] != FLOAT8OID))
			elog(ERROR, "pg_stat_statements columns of \"%s\" are not double precision",
				 src->cols[c].name);
	}
	pgss.schema = MemoryContextStrdup(TopMemoryContext, schema);
}

/* a pg_stat_statements value as the history column's type */
static Datum
pgss_value(Oid from, Oid to, Datum d)
{
	if (from == to)
		return d;
	if (from == NUMERICOID && to == INT8OID)
		return DirectFunctionCall1(numeric_int8, d);
	if (from == NUMERICOID && to == FLOAT8OID)
		return DirectFunctionCall1(numeric_float8, d);
	if (from == INT8OID && to == FLOAT8OID)
		return Float8GetDatum((double) DatumGetInt64(d));
	elog(ERROR, "unexpected pg_stat_statements column type %u", from);
	return d;
}

void
nadia_read_statements(const NadiaHistSource *src, NadiaTrackedRows *rows, const char *schema)
{
	int			c;
	int			k_query = nadia_column_index(src, "queryid"),
				k_db = nadia_column_index(src, "dbid"),
				k_user = nadia_column_index(src, "userid"),
				k_top = nadia_column_index(src, "toplevel");
	Oid			types[64];
	Datum		info_reset = (Datum) 0;
	bool		info_null = true;
	FmgrInfo	flinfo;
	ReturnSetInfo rsinfo;
	TupleTableSlot *slot;

	LOCAL_FCINFO(fcinfo, 1);

	pgss_prepare(src, schema);
	for (c = 0; c < src->ncols; c++)
		types[c] = nadia_column_type(&src->cols[c]);

	if (nadia_spi_exec(psprintf("SELECT i.stats_reset FROM %s.pg_stat_statements_info i", schema),
					   0, NULL, NULL, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading pg_stat_statements_info failed");
	if (SPI_processed == 1)
		info_reset = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &info_null);

	fmgr_info(pgss.fn, &flinfo);
	memset(&rsinfo, 0, sizeof(rsinfo));
	rsinfo.type = T_ReturnSetInfo;
	rsinfo.econtext = CreateStandaloneExprContext();
	rsinfo.expectedDesc = pgss.desc;
	rsinfo.allowedModes = (int) SFRM_Materialize;
	rsinfo.returnMode = SFRM_Materialize;
	InitFunctionCallInfoData(*fcinfo, &flinfo, 1, InvalidOid, NULL, (Node *) &rsinfo);
	fcinfo->args[0].value = BoolGetDatum(false);
	fcinfo->args[0].isnull = false;
	(void) FunctionCallInvoke(fcinfo);
	if (rsinfo.returnMode != SFRM_Materialize || rsinfo.setResult == NULL)
		elog(ERROR, "pg_stat_statements() returned no result set");

	slot = MakeSingleTupleTableSlot(rsinfo.setDesc, &TTSOpsMinimalTuple);
	while (tuplestore_gettupleslot(rsinfo.setResult, true, false, slot))
	{
		NadiaTrackedRow *r;

		CHECK_FOR_INTERRUPTS();
		NADIA_DEBUG_OBJECT("read", src->name, rows->n);

		slot_getallattrs(slot);
		if (slot->tts_isnull[pgss.attno[k_query]])
			continue;			/* another user's statement: no query id */
		r = nadia_tracked_add(src, rows);
		for (c = 0; c < src->ncols; c++)
		{
			int			a = pgss.attno[c];

			if (a == PGSS_INFO_RESET)
			{
				r->vals[c] = info_reset;
				r->nulls[c] = info_null;
			}
			else if (a >= 0 && !slot->tts_isnull[a])
			{
				int			a2 = pgss.attno2[c];

				r->vals[c] = pgss_value(pgss.atttype[c], types[c], slot->tts_values[a]);
				if (a2 >= 0 && !slot->tts_isnull[a2])
					r->vals[c] = Float8GetDatum(DatumGetFloat8(r->vals[c]) +
												DatumGetFloat8(slot->tts_values[a2]));
				r->nulls[c] = false;
			}
		}
		r->k1 = DatumGetInt64(r->vals[k_query]);
		r->k2 = DatumGetObjectId(r->vals[k_db]);
		r->k3 = DatumGetObjectId(r->vals[k_user]);
		r->extra = DatumGetBool(r->vals[k_top]) ? 1 : 0;
	}
	ExecDropSingleTupleTableSlot(slot);
	tuplestore_end(rsinfo.setResult);
	FreeExprContext(rsinfo.econtext, true);
}

/* ---------------------------------------------------------------------
 * Tables
 * ---------------------------------------------------------------------
 */
static const char *const table_fields[] = {
	"relid", "relfilenode", "reltoastrelid", "relfrozenxid",
	"seq_scan", "seq_tup_read", "idx_scan", "idx_tup_fetch",
	"n_tup_ins", "n_tup_upd", "n_tup_del", "n_tup_hot_upd",
	"vacuum_count", "autovacuum_count", "analyze_count", "autoanalyze_count",
	"heap_blks_read", "heap_blks_hit", "idx_blks_read", "idx_blks_hit",
	"toast_blks_read", "toast_blks_hit", "tidx_blks_read", "tidx_blks_hit",
	"n_live_tup", "n_dead_tup", "n_mod_since_analyze", "n_ins_since_vacuum",
	"last_vacuum", "last_autovacuum", "last_analyze", "last_autoanalyze",
	"frozenxid_age", "heap_bytes", "index_bytes", "toast_bytes", "total_bytes"
};
enum
{
	T_RELID, T_FILENODE, T_TOAST, T_FROZEN,
	T_SEQ_SCAN, T_SEQ_TUP, T_IDX_SCAN, T_IDX_FETCH,
	T_INS, T_UPD, T_DEL, T_HOT,
	T_VAC_N, T_AVAC_N, T_ANA_N, T_AANA_N,
	T_HEAP_R, T_HEAP_H, T_IDX_R, T_IDX_H,
	T_TOAST_R, T_TOAST_H, T_TIDX_R, T_TIDX_H,
	T_LIVE, T_DEAD, T_MOD, T_INSV,
	T_LVAC, T_LAVAC, T_LANA, T_LAANA,
	T_AGE, T_HEAP_B, T_INDEX_B, T_TOAST_B, T_TOTAL_B,
	T_NFIELDS
};
static int	tcol[T_NFIELDS];
static bool tcol_done = false;

/* sums over the indexes of a relation, as pg_stat_user_tables has them */
typedef struct IndexSums
{
	int64		scans,
				fetched,
				blks_read,
				blks_hit;
	int			n;
} IndexSums;

/*
 * The catalog rows the readers need (relations, their indexes, names) are
 * kept between samples and read again only when the catalogs changed:
 * invalidation callbacks on pg_class, pg_index, pg_namespace and
 * pg_constraint bump catalog_gen.  A steady database costs no catalog
 * query per sample.
 */
static uint64 catalog_gen = 1;
static bool callbacks_done = false;

static void
catalog_changed(Datum arg, int cacheid, uint32 hashvalue)
{
	catalog_gen++;
}

/* where a relation's files are, for its size */
typedef struct RelFile
{
	Oid			filenode;
	Oid			tablespace;
	int			backend;
	char		persistence;
} RelFile;

typedef struct CatTable
{
	Oid			relid;
	Oid			toast;
	RelFile		heap_file;
	RelFile		toast_file;
	Datum		filenode;
	Datum		frozen;
	uint32		cat_hash;
	int			first_ix,		/* its indexes in CatCache.ix */
				n_ix,
				first_tx,		/* its TOAST table's indexes */
				n_tx;
} CatTable;

typedef struct CatIndex
{
	Oid			indexrelid;
	Oid			indrelid;
	Datum		filenode;
	RelFile		file;
	uint32		cat_hash;
} CatIndex;

typedef struct CatCache
{
	uint64		gen;			/* 0: not read yet */
	Oid			db;
	MemoryContext cxt;
	CatTable   *tables;
	int			ntables;
	Oid		   *ix;				/* index oids, grouped by relation */
	RelFile    *ix_file;		/* their files */
	CatIndex   *indexes;
	int			nindexes;
} CatCache;

static CatCache table_cache,
			index_cache;

/* true when the cache must be read again; prepares its memory */
static bool
cache_stale(CatCache *c)
{
	if (!callbacks_done)
	{
		CacheRegisterSyscacheCallback(RELOID, catalog_changed, (Datum) 0);
		CacheRegisterSyscacheCallback(INDEXRELID, catalog_changed, (Datum) 0);
		CacheRegisterSyscacheCallback(NAMESPACEOID, catalog_changed, (Datum) 0);
		CacheRegisterSyscacheCallback(CONSTROID, catalog_changed, (Datum) 0);
		callbacks_done = true;
	}
	AcceptInvalidationMessages();
	if (c->gen == catalog_gen && c->db == MyDatabaseId)
		return false;
	if (c->cxt == NULL)
		c->cxt = AllocSetContextCreate(TopMemoryContext, "nadia_bgw catalog cache", ALLOCSET_DEFAULT_SIZES);
	else
		MemoryContextReset(c->cxt);
	c->gen = 0;
	return true;
}

#if PG_VERSION_NUM >= 170000
#define NO_BACKEND INVALID_PROC_NUMBER
#define GetTempNamespaceBackendId GetTempNamespaceProcNumber
#else
#define NO_BACKEND InvalidBackendId
#endif

static void
set_file(RelFile *f, Datum filenode, Datum tablespace, Datum persistence, Datum nspid)
{
	f->filenode = DatumGetObjectId(filenode);
	f->tablespace = DatumGetObjectId(tablespace);
	f->persistence = DatumGetChar(persistence);
	f->backend = f->persistence == RELPERSISTENCE_TEMP ?
		GetTempNamespaceBackendId(DatumGetObjectId(nspid)) : NO_BACKEND;
}

static void
read_table_catalog(void)
{
	CatCache   *c = &table_cache;
	HTAB	   *groups;
	typedef struct
	{
		Oid			relid;
		int			first;
		int			n;
	} Group;
	int			i;
	Datum		v[11];
	bool		n[11];
	uint64		gen;

	if (!cache_stale(c))
		return;
	gen = catalog_gen;

	/* index oids grouped by relation (TOAST tables included) */
	if (nadia_spi_exec("SELECT x.indrelid, x.indexrelid, i.relfilenode, i.reltablespace,"
					   " i.relpersistence, i.relnamespace"
					   " FROM pg_catalog.pg_index x JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid"
					   " WHERE x.indrelid >= 16384 ORDER BY 1, 2",
					   0, NULL, NULL, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading pg_index failed");
	groups = nadia_local_hash("nadia_bgw index groups", sizeof(Oid), sizeof(Group), SPI_processed);
	c->ix = MemoryContextAlloc(c->cxt, (SPI_processed + 1) * sizeof(Oid));
	c->ix_file = MemoryContextAlloc(c->cxt, (SPI_processed + 1) * sizeof(RelFile));
	for (i = 0; i < (int) SPI_processed; i++)
	{
		bool		found;
		Oid			indrelid;
		Group	   *g;

		heap_deform_tuple(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, v, n);
		indrelid = DatumGetObjectId(v[0]);
		g = hash_search(groups, &indrelid, HASH_ENTER, &found);
		if (!found)
		{
			g->first = i;
			g->n = 0;
		}
		g->n++;
		c->ix[i] = DatumGetObjectId(v[1]);
		set_file(&c->ix_file[i], v[2], v[3], v[4], v[5]);
	}

	if (nadia_spi_exec("SELECT c.oid, n.nspname, c.relname, c.relfilenode, c.reltoastrelid, c.relfrozenxid,"
					   " c.reltablespace, c.relpersistence, c.relnamespace, tc.relfilenode, tc.reltablespace"
					   " FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
					   " LEFT JOIN pg_catalog.pg_class tc ON tc.oid = c.reltoastrelid"
					   " WHERE c.relkind IN ('r', 'm')"
					   " AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'nadia_bgw')"
					   " AND n.nspname !~ '^pg_toast'",
					   0, NULL, NULL, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading the tables failed");
	c->tables = MemoryContextAlloc(c->cxt, (SPI_processed + 1) * sizeof(CatTable));
	c->ntables = SPI_processed;
	for (i = 0; i < c->ntables; i++)
	{
		CatTable   *t = &c->tables[i];
		Group	   *g;

		heap_deform_tuple(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, v, n);
		t->relid = DatumGetObjectId(v[0]);
		t->toast = DatumGetObjectId(v[4]);
		t->filenode = v[3];
		t->frozen = v[5];
		set_file(&t->heap_file, v[3], v[6], v[7], v[8]);
		memset(&t->toast_file, 0, sizeof(RelFile));
		if (!n[9])
			set_file(&t->toast_file, v[9], v[10], v[7], v[8]);
		t->cat_hash = hash_add(hash_add(0, NameStr(*DatumGetName(v[1]))), NameStr(*DatumGetName(v[2])));
		g = hash_search(groups, &t->relid, HASH_FIND, NULL);
		t->first_ix = g ? g->first : 0;
		t->n_ix = g ? g->n : 0;
		g = OidIsValid(t->toast) ? hash_search(groups, &t->toast, HASH_FIND, NULL) : NULL;
		t->first_tx = g ? g->first : 0;
		t->n_tx = g ? g->n : 0;
	}
	c->db = MyDatabaseId;
	c->gen = gen;
}

static IndexSums
index_sums(const Oid *oids, int n)
{
	IndexSums	s;
	int			i;

	memset(&s, 0, sizeof(s));
	s.n = n;
	for (i = 0; i < n; i++)
	{
		const PgStat_StatTabEntry *t = tabentry(oids[i]);

		s.scans += t->numscans;
		s.fetched += t->tuples_fetched;
		s.blks_read += t->blocks_fetched - t->blocks_hit;
		s.blks_hit += t->blocks_hit;
	}
	return s;
}

void
nadia_read_tables(const NadiaHistSource *src, NadiaTrackedRows *rows, const char *schema)
{
	int			i;

	resolve_columns(src, table_fields, T_NFIELDS, tcol, &tcol_done);
	read_table_catalog();
	for (i = 0; i < table_cache.ntables; i++)
	{
		CatTable   *ct = &table_cache.tables[i];
		NadiaTrackedRow *r = nadia_tracked_add(src, rows);
		Oid			relid = ct->relid,
					toast = ct->toast;
		const PgStat_StatTabEntry *t = tabentry(relid);
		IndexSums	ix = index_sums(table_cache.ix + ct->first_ix, ct->n_ix);
		IndexSums	tx = index_sums(table_cache.ix + ct->first_tx, ct->n_tx);

		CHECK_FOR_INTERRUPTS();
		NADIA_DEBUG_OBJECT("read", src->name, i);
		r->k1 = relid;
		r->cat_index = i;
		r->cat_hash = ct->cat_hash;
		set_val(r, tcol[T_RELID], ObjectIdGetDatum(relid));
		set_val(r, tcol[T_FILENODE], ct->filenode);
		set_val(r, tcol[T_TOAST], ObjectIdGetDatum(toast));
		set_val(r, tcol[T_FROZEN], ct->frozen);
		set_i8(r, tcol[T_SEQ_SCAN], t->numscans);
		set_i8(r, tcol[T_SEQ_TUP], t->tuples_returned);
		if (ix.n > 0)
		{
			/* NULL without indexes, as in pg_stat_user_tables */
			set_i8(r, tcol[T_IDX_SCAN], ix.scans);
			set_i8(r, tcol[T_IDX_FETCH], ix.fetched + t->tuples_fetched);
			set_i8(r, tcol[T_IDX_R], ix.blks_read);
			set_i8(r, tcol[T_IDX_H], ix.blks_hit);
		}
		set_i8(r, tcol[T_INS], t->tuples_inserted);
		set_i8(r, tcol[T_UPD], t->tuples_updated);
		set_i8(r, tcol[T_DEL], t->tuples_deleted);
		set_i8(r, tcol[T_HOT], t->tuples_hot_updated);
		set_i8(r, tcol[T_VAC_N], t->vacuum_count);
		set_i8(r, tcol[T_AVAC_N], TE_AVAC_N(t));
		set_i8(r, tcol[T_ANA_N], t->analyze_count);
		set_i8(r, tcol[T_AANA_N], TE_AANA_N(t));
		set_i8(r, tcol[T_HEAP_R], t->blocks_fetched - t->blocks_hit);
		set_i8(r, tcol[T_HEAP_H], t->blocks_hit);
		if (OidIsValid(toast))
		{
			const PgStat_StatTabEntry *tt = tabentry(toast);

			set_i8(r, tcol[T_TOAST_R], tt->blocks_fetched - tt->blocks_hit);
			set_i8(r, tcol[T_TOAST_H], tt->blocks_hit);
		}
		if (tx.n > 0)
		{
			set_i8(r, tcol[T_TIDX_R], tx.blks_read);
			set_i8(r, tcol[T_TIDX_H], tx.blks_hit);
		}
		set_i8(r, tcol[T_LIVE], TE_LIVE(t));
		set_i8(r, tcol[T_DEAD], TE_DEAD(t));
		set_i8(r, tcol[T_MOD], TE_MOD(t));
		set_i8(r, tcol[T_INSV], TE_INS(t));
		set_ts(r, tcol[T_LVAC], TE_VAC_T(t));
		set_ts(r, tcol[T_LAVAC], TE_AVAC_T(t));
		set_ts(r, tcol[T_LANA], TE_ANA_T(t));
		set_ts(r, tcol[T_LAANA], TE_AANA_T(t));
	}
}

/*
 * Bytes of one fork of a relation, as dbsize.c counts them, with one
 * stat() per segment that exists (a segment shorter than RELSEG_SIZE is
 * the last one).  The file is found from the catalog row, without opening
 * (or locking) the relation: a sample never waits behind an application's
 * lock, and fills no relcache entry per table.  A file removed meanwhile
 * (the table was dropped or rewritten) counts as empty; a rewrite changes
 * the relfilenode, so the next sample measures the new file.
 */
static int64
fork_bytes(const RelFile *f, ForkNumber fork)
{
	char	   *path;
	int64		total = 0;
	unsigned int segno;
#if PG_VERSION_NUM >= 160000
	RelFileLocator loc;
#else
	RelFileNode loc;
#endif

	if (!OidIsValid(f->filenode))
		return 0;
#if PG_VERSION_NUM >= 160000
	loc.spcOid = OidIsValid(f->tablespace) ? f->tablespace : MyDatabaseTableSpace;
	loc.dbOid = MyDatabaseId;
	loc.relNumber = f->filenode;
#if PG_VERSION_NUM >= 180000
	/* 18 returns the path in a struct, not palloc'd */
	path = pstrdup(relpathbackend(loc, f->backend, fork).str);
#else
	path = relpathbackend(loc, f->backend, fork);
#endif
#else
	loc.spcNode = OidIsValid(f->tablespace) ? f->tablespace : MyDatabaseTableSpace;
	loc.dbNode = MyDatabaseId;
	loc.relNode = f->filenode;
	path = relpathbackend(loc, f->backend, fork);
#endif

	for (segno = 0;; segno++)
	{
		char		segpath[MAXPGPATH];
		struct stat st;

		CHECK_FOR_INTERRUPTS();	/* a stat() can wait on a slow disk */

		if (segno == 0)
			snprintf(segpath, MAXPGPATH, "%s", path);
		else
			snprintf(segpath, MAXPGPATH, "%s.%u", path, segno);
		if (stat(segpath, &st) < 0)
		{
			if (errno == ENOENT)
				break;
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not stat file \"%s\": %m", segpath)));
		}
		total += st.st_size;
		if (st.st_size < (off_t) RELSEG_SIZE * BLCKSZ)
			break;
	}
	pfree(path);
	return total;
}

/* all forks of a relation (only unlogged relations have an init fork) */
static int64
relation_bytes(const RelFile *f, int64 *main_fork)
{
	int64		main = fork_bytes(f, MAIN_FORKNUM);
	int64		total = main + fork_bytes(f, FSM_FORKNUM) + fork_bytes(f, VISIBILITYMAP_FORKNUM);

	if (f->persistence == RELPERSISTENCE_UNLOGGED)
		total += fork_bytes(f, INIT_FORKNUM);
	if (main_fork)
		*main_fork = main;
	return total;
}

static int64
indexes_bytes(int first, int n)
{
	int64		total = 0;
	int			i;

	for (i = first; i < first + n; i++)
		total += relation_bytes(&table_cache.ix_file[i], NULL);
	return total;
}

/*
 * Sizes and frozen-xid age of one table: heap (main fork), indexes, TOAST
 * (with its index) and total, as pg_relation_size, pg_indexes_size and
 * pg_total_relation_size give them, each file stat()ed once.
 */
void
nadia_measure_table(const NadiaHistSource *src, NadiaTrackedRows *rows, int row)
{
	NadiaTrackedRow *r = &rows->rows[row];
	CatTable   *ct = &table_cache.tables[r->cat_index];
	int64		heap_main,
				heap_all,
				indexes,
				toast_b = 0;

	set_val(r, tcol[T_AGE], DirectFunctionCall1(xid_age, r->vals[tcol[T_FROZEN]]));
	heap_all = relation_bytes(&ct->heap_file, &heap_main);
	indexes = indexes_bytes(ct->first_ix, ct->n_ix);
	if (OidIsValid(ct->toast))
		toast_b = relation_bytes(&ct->toast_file, NULL) + indexes_bytes(ct->first_tx, ct->n_tx);
	set_i8(r, tcol[T_HEAP_B], heap_main);
	set_i8(r, tcol[T_INDEX_B], indexes);
	set_i8(r, tcol[T_TOAST_B], toast_b);
	set_i8(r, tcol[T_TOTAL_B], heap_all + toast_b + indexes);
}

/*
 * The catalog of tables: names, written when a table is new or renamed;
 * dropped tables keep their row (and name) until history no longer
 * mentions them.
 */
void
nadia_catalog_tables(const NadiaHistSource *src, TimestampTz ts, Datum changed, Datum dropped)
{
	Oid			types[3] = {TIMESTAMPTZOID, OIDARRAYOID, OIDARRAYOID};
	Datum		values[3] = {TimestampTzGetDatum(ts), changed, dropped};

	if (SPI_execute_with_args("WITH u AS (INSERT INTO nadia_bgw.table_catalog AS t (relid, schemaname, relname, first_seen)"
							  " SELECT c.oid, n.nspname, c.relname, $1 FROM pg_catalog.pg_class c"
							  " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = ANY ($2)"
							  " ON CONFLICT (relid) DO UPDATE SET schemaname = excluded.schemaname,"
							  " relname = excluded.relname, dropped_at = NULL RETURNING 1)"
							  " UPDATE nadia_bgw.table_catalog SET dropped_at = $1"
							  " WHERE relid = ANY ($3) AND dropped_at IS NULL",
							  3, types, values, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "writing nadia_bgw.table_catalog failed");
}

/* ---------------------------------------------------------------------
 * Indexes
 * ---------------------------------------------------------------------
 */
#define USER_INDEXES \
	" FROM pg_catalog.pg_index x JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid" \
	" JOIN pg_catalog.pg_class t ON t.oid = x.indrelid" \
	" JOIN pg_catalog.pg_namespace n ON n.oid = i.relnamespace" \
	" LEFT JOIN pg_catalog.pg_constraint k ON k.conindid = x.indexrelid AND k.contype IN ('p', 'u', 'x')"
#define USER_INDEXES_WHERE \
	" t.relkind IN ('r', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'nadia_bgw')" \
	" AND n.nspname !~ '^pg_toast'"

static const char *const index_fields[] = {
	"indexrelid", "relfilenode", "table_writes", "idx_scan", "idx_tup_read", "idx_tup_fetch",
	"idx_blks_read", "idx_blks_hit", "index_bytes"
};
enum
{
	I_INDEXRELID, I_FILENODE, I_WRITES, I_SCAN, I_READ, I_FETCH, I_BLKS_R, I_BLKS_H, I_BYTES,
	I_NFIELDS
};
static int	icol[I_NFIELDS];
static bool icol_done = false;

static void
read_index_catalog(void)
{
	CatCache   *c = &index_cache;
	int			i,
				k;
	Datum		v[14];
	bool		n[14];
	uint64		gen;

	if (!cache_stale(c))
		return;
	gen = catalog_gen;
	if (nadia_spi_exec("SELECT x.indexrelid, x.indrelid, i.relfilenode, n.nspname, t.relname, i.relname,"
					   " x.indisvalid, x.indisunique, x.indisprimary, k.conname, k.contype,"
					   " i.reltablespace, i.relpersistence, i.relnamespace"
					   USER_INDEXES " WHERE" USER_INDEXES_WHERE,
					   0, NULL, NULL, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading the indexes failed");
	c->indexes = MemoryContextAlloc(c->cxt, (SPI_processed + 1) * sizeof(CatIndex));
	c->nindexes = SPI_processed;
	for (i = 0; i < c->nindexes; i++)
	{
		CatIndex   *ci = &c->indexes[i];
		uint32		hash;

		heap_deform_tuple(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, v, n);
		ci->indexrelid = DatumGetObjectId(v[0]);
		ci->indrelid = DatumGetObjectId(v[1]);
		ci->filenode = v[2];
		set_file(&ci->file, v[2], v[11], v[12], v[13]);

		/*
		 * Table, relfilenode, names, flags and constraint: a change rewrites
		 * the catalog row (and its definition).
		 */
		hash = hash_combine(hash_uint32(ci->indrelid), hash_uint32(DatumGetObjectId(v[2])));
		for (k = 3; k <= 5; k++)
			hash = hash_add(hash, NameStr(*DatumGetName(v[k])));
		for (k = 6; k <= 8; k++)
			hash = hash_combine(hash, DatumGetBool(v[k]) ? 2 : 1);
		hash = hash_add(hash, n[9] ? NULL : NameStr(*DatumGetName(v[9])));
		hash = hash_combine(hash, n[10] ? 0 : (uint32) DatumGetChar(v[10]));
		ci->cat_hash = hash;
	}
	c->db = MyDatabaseId;
	c->gen = gen;
}

void
nadia_read_indexes(const NadiaHistSource *src, NadiaTrackedRows *rows, const char *schema)
{
	int			i;

	resolve_columns(src, index_fields, I_NFIELDS, icol, &icol_done);
	read_index_catalog();
	for (i = 0; i < index_cache.nindexes; i++)
	{
		CatIndex   *ci = &index_cache.indexes[i];
		NadiaTrackedRow *r = nadia_tracked_add(src, rows);
		const PgStat_StatTabEntry *t = tabentry(ci->indexrelid);
		const PgStat_StatTabEntry *h = tabentry(ci->indrelid);

		CHECK_FOR_INTERRUPTS();
		NADIA_DEBUG_OBJECT("read", src->name, i);
		r->k1 = ci->indexrelid;
		r->cat_index = i;
		r->cat_hash = ci->cat_hash;
		set_val(r, icol[I_INDEXRELID], ObjectIdGetDatum(ci->indexrelid));
		set_val(r, icol[I_FILENODE], ci->filenode);
		set_i8(r, icol[I_WRITES], h->tuples_inserted + h->tuples_updated +
			   h->vacuum_count + TE_AVAC_N(h));
		set_i8(r, icol[I_SCAN], t->numscans);
		set_i8(r, icol[I_READ], t->tuples_returned);
		set_i8(r, icol[I_FETCH], t->tuples_fetched);
		set_i8(r, icol[I_BLKS_R], t->blocks_fetched - t->blocks_hit);
		set_i8(r, icol[I_BLKS_H], t->blocks_hit);
	}
}

void
nadia_measure_index(const NadiaHistSource *src, NadiaTrackedRows *rows, int row)
{
	NadiaTrackedRow *r = &rows->rows[row];
	set_i8(r, icol[I_BYTES], fork_bytes(&index_cache.indexes[r->cat_index].file, MAIN_FORKNUM));
}

/*
 * pg_get_indexdef() locks the index's table: behind an application's
 * ACCESS EXCLUSIVE lock the definition is read by a later sample instead
 * of waiting (and failing the source on lock_timeout).
 */
bool
nadia_index_catalog_ready(const NadiaHistSource *src, NadiaTrackedRows *rows, int row)
{
	Oid			relid = index_cache.indexes[rows->rows[row].cat_index].indrelid;

	if (!ConditionalLockRelationOid(relid, AccessShareLock))
		return false;
	UnlockRelationOid(relid, AccessShareLock);
	return true;
}

/*
 * The catalog of indexes: names, flags, constraint, definition and the
 * key used to find duplicates; written when an index is new, renamed,
 * rebuilt or its constraint changed.
 */
void
nadia_catalog_indexes(const NadiaHistSource *src, TimestampTz ts, Datum changed, Datum dropped)
{
	Oid			types[3] = {TIMESTAMPTZOID, OIDARRAYOID, OIDARRAYOID};
	Datum		values[3] = {TimestampTzGetDatum(ts), changed, dropped};

	if (SPI_execute_with_args("WITH u AS (INSERT INTO nadia_bgw.index_catalog AS c"
							  " (indexrelid, relid, schemaname, relname, indexrelname, is_valid, is_unique,"
							  " is_primary, constraint_name, constraint_type, index_key, indexdef, first_seen)"
							  " SELECT x.indexrelid, x.indrelid, n.nspname, t.relname, i.relname, x.indisvalid,"
							  " x.indisunique, x.indisprimary, k.conname, k.contype,"
							  " concat_ws(' ', x.indrelid, x.indkey::text, x.indclass::text, x.indcollation::text,"
							  " pg_catalog.pg_get_expr(x.indexprs, x.indrelid), 'WHERE',"
							  " pg_catalog.pg_get_expr(x.indpred, x.indrelid)),"
							  " pg_catalog.pg_get_indexdef(x.indexrelid), $1"
							  USER_INDEXES " WHERE x.indexrelid = ANY ($2)"
							  " ON CONFLICT (indexrelid) DO UPDATE SET relid = excluded.relid,"
							  " schemaname = excluded.schemaname, relname = excluded.relname,"
							  " indexrelname = excluded.indexrelname, is_valid = excluded.is_valid,"
							  " is_unique = excluded.is_unique, is_primary = excluded.is_primary,"
							  " constraint_name = excluded.constraint_name,"
							  " constraint_type = excluded.constraint_type, index_key = excluded.index_key,"
							  " indexdef = excluded.indexdef, dropped_at = NULL RETURNING 1)"
							  " UPDATE nadia_bgw.index_catalog SET dropped_at = $1"
							  " WHERE indexrelid = ANY ($3) AND dropped_at IS NULL",
							  3, types, values, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "writing nadia_bgw.index_catalog failed");
}
