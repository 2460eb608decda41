/*-------------------------------------------------------------------------
 *
 * statement_texts.c
 *		The statement text dictionary (nadia_bgw.statements): the text of
 *		each statement seen for the first time, as much of it as may be
 *		stored.
 *
 * Only what core/statement_text.c lets through is stored: the normalized
 * text of optimizable statements, the command tag and object names of
 * every other one ("redacted"), cut at nadia_bgw.query_text_max.  The text
 * file of pg_stat_statements is read only when there is a new entry.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "history/history_internal.h"

int			nadia_bgw_query_text_max = 4096;

void
nadia_statement_texts_define_gucs(void)
{
	DefineCustomIntVariable("nadia_bgw.query_text_max",
							"Longest query text stored in statement history, in characters.",
							"Longer texts are cut; the original length is kept in nadia_bgw.statements.query_len.",
							&nadia_bgw_query_text_max,
							4096, 64, 1048576,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);
}

/* a new entry of pg_stat_statements, copied out of SPI's result */
typedef struct NewStatement
{
	Datum		queryid;
	Datum		dbid;
	Datum		userid;
	char	   *datname;
	char	   *username;
	char	   *query;
	int32		query_len;
	bool		excluded;
} NewStatement;

/*
 * Store the text of statements seen for the first time, once per
 * (queryid, dbid, userid).  Returns the number of texts stored.
 */
int64
nadia_sample_statement_texts(const char *schema, TimestampTz ts)
{
	char	   *q;
	uint64		n,
				i;
	NewStatement *rows;
	SPIPlanPtr	plan;
	Oid			types[10] = {INT8OID, OIDOID, OIDOID, TEXTOID, TEXTOID, TEXTOID,
		INT4OID, BOOLOID, BOOLOID, TIMESTAMPTZOID};
	int64		stored = 0;

	q = psprintf("SELECT DISTINCT ON (s.queryid, s.dbid, s.userid) s.queryid, s.dbid, s.userid,"
				 " db.datname::text, r.rolname::text, s.query, pg_catalog.octet_length(s.query),"
				 " s.query ~ 'nadia_bgw\\.(take_sample|maintain_history)\\s*\\('"
				 " FROM %s.pg_stat_statements(true) s"
				 " LEFT JOIN pg_catalog.pg_database db ON db.oid = s.dbid"
				 " LEFT JOIN pg_catalog.pg_roles r ON r.oid = s.userid"
				 " WHERE s.queryid IS NOT NULL AND NOT EXISTS (SELECT 1 FROM nadia_bgw.statements t"
				 "  WHERE t.queryid = s.queryid AND t.dbid = s.dbid AND t.userid = s.userid)"
				 " ORDER BY s.queryid, s.dbid, s.userid",
				 schema);
	if (SPI_execute(q, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading new statement texts failed");
	n = SPI_processed;
	if (n == 0)
		return 0;

	/* copy the rows out: classifying a text runs a subtransaction */
	rows = palloc0(sizeof(NewStatement) * n);
	for (i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		d;

		rows[i].queryid = SPI_getbinval(tup, desc, 1, &isnull);
		rows[i].dbid = SPI_getbinval(tup, desc, 2, &isnull);
		rows[i].userid = SPI_getbinval(tup, desc, 3, &isnull);
		rows[i].datname = SPI_getvalue(tup, desc, 4);
		rows[i].username = SPI_getvalue(tup, desc, 5);
		rows[i].query = SPI_getvalue(tup, desc, 6);
		d = SPI_getbinval(tup, desc, 7, &isnull);
		rows[i].query_len = isnull ? 0 : DatumGetInt32(d);
		d = SPI_getbinval(tup, desc, 8, &isnull);
		rows[i].excluded = !isnull && DatumGetBool(d);
	}

	plan = SPI_prepare("INSERT INTO nadia_bgw.statements"
					   " (queryid, dbid, userid, datname, username, query, query_len,"
					   "  redacted, excluded, first_seen)"
					   " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
					   " ON CONFLICT DO NOTHING",
					   10, types);
	if (plan == NULL)
		elog(ERROR, "preparing the statement text insert failed: %s",
			 SPI_result_code_string(SPI_result));
	for (i = 0; i < n; i++)
	{
		Datum		values[10];
		char		nulls[10];
		bool		reduced = false;
		char	   *text;

		CHECK_FOR_INTERRUPTS();
		text = nadia_safe_statement_text(rows[i].query, nadia_bgw_query_text_max,
										 &reduced);
		memset(nulls, ' ', sizeof(nulls));
		values[0] = rows[i].queryid;
		values[1] = rows[i].dbid;
		values[2] = rows[i].userid;
		values[3] = rows[i].datname ? CStringGetTextDatum(rows[i].datname) : (Datum) 0;
		nulls[3] = rows[i].datname ? ' ' : 'n';
		values[4] = rows[i].username ? CStringGetTextDatum(rows[i].username) : (Datum) 0;
		nulls[4] = rows[i].username ? ' ' : 'n';
		values[5] = text ? CStringGetTextDatum(text) : (Datum) 0;
		nulls[5] = text ? ' ' : 'n';
		values[6] = Int32GetDatum(rows[i].query_len);
		nulls[6] = rows[i].query ? ' ' : 'n';
		values[7] = BoolGetDatum(reduced);
		values[8] = BoolGetDatum(rows[i].excluded);
		values[9] = TimestampTzGetDatum(ts);
		if (SPI_execute_plan(plan, values, nulls, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "storing statement texts failed");
		stored += SPI_processed;
	}
	SPI_freeplan(plan);
	return stored;
}
