/*-------------------------------------------------------------------------
 *
 * advice.c
 *		The "advice" task: index advice with evidence, from the captured
 *		plans, verified by what-if planning when hypopg is installed.
 *
 * Every nadia_bgw.advice_interval the task:
 *	1. finds the candidates (nadia_bgw._advice_candidates(), SQL): per
 *	   table of at least nadia_bgw.advice_min_rows rows and column list,
 *	   the statements whose plans test those columns in a way a btree
 *	   serves and that no existing valid index leads with;
 *	2. for each, when hypopg is installed in the worker's database, plans
 *	   each affected statement without and with the candidate as a
 *	   hypothetical index, as the statement's role (advice_whatif.c), and
 *	   weighs the cost ratio by the statement's execution time in the
 *	   window (calls x mean time, statement history);
 *	3. replaces nadia_bgw.index_advice with the candidates that were
 *	   verified and save at least nadia_bgw.advice_min_gain of their
 *	   statements' time, and those that could not be verified, labelled
 *	   so with the reason.
 *
 * Only the worker's database is advised: what-if planning has to run in
 * the database the statements ran in.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include <cjson/cJSON.h>

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "core/core.h"
#include "advice/advice.h"
#include "advice/advice_internal.h"

/* when this process last ran the advice (0: not yet) */
static TimestampTz last_run = 0;

/* the window's start, as SQL: $2 is nadia_bgw.advice_window in minutes */
#define SINCE_SQL "pg_catalog.now() - $2 * interval '1 minute'"

/* candidate columns (nadia_bgw._advice_candidates()) */
enum
{
	CAND_RELID = 1, CAND_SCHEMA, CAND_REL, CAND_COLUMNS, CAND_REASONS,
	CAND_SKIPPED, CAND_QUERYIDS
};

/* One candidate: its row of the candidates' result, and what was found. */
typedef struct Candidate
{
	SPITupleTable *tab;
	uint64		row;
	const char *hypopg_schema;	/* NULL: hypopg is not installed */
	char	   *create_sql;
	cJSON	   *checks;
	int			planned;
	int64		calls;
	double		before_ms;		/* statements' time in the window */
	double		after_ms;		/* the same scaled by the cost ratio */
	double		cost_before;	/* planner costs, summed */
	double		cost_after;
	int64		index_bytes;
} Candidate;

static Datum
cand_value(Candidate *c, int col, bool *isnull)
{
	return SPI_getbinval(c->tab->vals[c->row], c->tab->tupdesc, col, isnull);
}

/* CREATE INDEX ON schema.table (col, ...), every name quoted. */
static char *
create_statement(Candidate *c)
{
	StringInfoData s;
	bool		isnull;
	Datum	   *cols;
	int			ncols;
	int			i;

	deconstruct_array(DatumGetArrayTypeP(cand_value(c, CAND_COLUMNS, &isnull)),
					  TEXTOID, -1, false, TYPALIGN_INT, &cols, NULL, &ncols);
	initStringInfo(&s);
	appendStringInfo(&s, "CREATE INDEX ON %s (",
					 quote_qualified_identifier(SPI_getvalue(c->tab->vals[c->row], c->tab->tupdesc, CAND_SCHEMA),
												SPI_getvalue(c->tab->vals[c->row], c->tab->tupdesc, CAND_REL)));
	for (i = 0; i < ncols; i++)
		appendStringInfo(&s, "%s%s", i > 0 ? ", " : "",
						 quote_identifier(TextDatumGetCString(cols[i])));
	appendStringInfoChar(&s, ')');
	return s.data;
}

/* Check one affected statement (row "row" of SPI_tuptable) and add it up. */
static void
check_statement(Candidate *c, SPITupleTable *tab, uint64 row)
{
	NadiaAdviceCheck k;
	bool		isnull;
	int64		calls;
	double		total_ms = 0;
	cJSON	   *o;

#define STMT_COL(n) SPI_getbinval(tab->vals[row], tab->tupdesc, n, &isnull)
	memset(&k, 0, sizeof(k));
	k.queryid = DatumGetInt64(STMT_COL(1));
	k.userid = DatumGetObjectId(STMT_COL(2));
	k.rolname = SPI_getvalue(tab->vals[row], tab->tupdesc, 3);
	k.rolsuper = DatumGetBool(STMT_COL(4)) && !isnull;
	k.query = SPI_getvalue(tab->vals[row], tab->tupdesc, 5);
	k.cut = DatumGetBool(STMT_COL(6));
	if (DatumGetBool(STMT_COL(7)))	/* redacted: the text is not the statement */
		k.query = NULL;
	calls = DatumGetInt64(STMT_COL(8));
	total_ms = DatumGetFloat8(STMT_COL(9));
#undef STMT_COL
	k.create_sql = c->create_sql;
	k.hypopg_schema = c->hypopg_schema;

	c->calls += calls;
	c->before_ms += total_ms;
	if (c->hypopg_schema == NULL)
	{
		/* nothing to plan with: the weight still says what is at stake */
		c->after_ms += total_ms;
		return;
	}
	nadia_advice_whatif(&k);

	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "queryid", psprintf(INT64_FORMAT, k.queryid));
	if (k.rolname)
		cJSON_AddStringToObject(o, "role", k.rolname);
	cJSON_AddStringToObject(o, "outcome", k.outcome);
	if (k.reason)
		cJSON_AddStringToObject(o, "reason", k.reason);
	if (strcmp(k.outcome, "planned") == 0)
	{
		cJSON_AddNumberToObject(o, "cost_before", k.cost_before);
		cJSON_AddNumberToObject(o, "cost_after", k.cost_after);
		c->planned++;
		c->cost_before += k.cost_before;
		c->cost_after += k.cost_after;
		c->after_ms += k.cost_before > 0 ? total_ms * k.cost_after / k.cost_before : total_ms;
		c->index_bytes = Max(c->index_bytes, k.index_bytes);
	}
	else
		c->after_ms += total_ms;	/* not planned: assume no gain */
	cJSON_AddItemToArray(c->checks, o);
}

/* Check every affected statement of a candidate. */
static void
check_statements(Candidate *c)
{
	bool		isnull;
	Oid			types[2] = {INT8ARRAYOID, INT4OID};
	Datum		values[2] = {cand_value(c, CAND_QUERYIDS, &isnull),
	Int32GetDatum(nadia_advice_window)};
	SPITupleTable *tab;
	uint64		n,
				i;

	nadia_spi_check(nadia_spi_exec("SELECT * FROM nadia_bgw._advice_statements($1, " SINCE_SQL ")",
								   2, types, values, NULL, true, 0),
					SPI_OK_SELECT, "reading the statements of an index candidate");
	tab = SPI_tuptable;
	n = SPI_processed;
	for (i = 0; i < n; i++)
	{
		CHECK_FOR_INTERRUPTS();
		check_statement(c, tab, i);
	}
}

/* Store the candidate (row of nadia_bgw.index_advice), unless verified and not worth it. */
static void
store_candidate(Candidate *c)
{
	bool		verified = c->hypopg_schema != NULL && c->planned > 0;
	double		gain_ms = c->before_ms - c->after_ms;
	double		ratio;
	const char *why_not = NULL;
	bool		isnull;
	Oid			types[19] = {OIDOID, OIDOID, NAMEOID, NAMEOID, TEXTARRAYOID, TEXTOID,
		TEXTARRAYOID, INT8ARRAYOID, INT8OID, FLOAT8OID, FLOAT8OID, FLOAT8OID,
	FLOAT8OID, INT8OID, INT4OID, BOOLOID, TEXTOID, JSONBOID, TEXTOID};
	Datum		values[19];
	char		nulls[20] = "                   ";

	/* the share saved: of the time when there is some, else of the cost */
	if (c->before_ms > 0)
		ratio = gain_ms / c->before_ms;
	else
		ratio = c->cost_before > 0 ? 1.0 - c->cost_after / c->cost_before : 0;
	if (verified && ratio < nadia_advice_min_gain)
		return;
	if (c->hypopg_schema == NULL)
		why_not = "hypopg is not installed in this database: the candidate was not planned";
	else if (!verified)
		why_not = "no affected statement could be planned (see checks)";

	values[0] = ObjectIdGetDatum(MyDatabaseId);
	values[1] = cand_value(c, CAND_RELID, &isnull);
	values[2] = cand_value(c, CAND_SCHEMA, &isnull);
	values[3] = cand_value(c, CAND_REL, &isnull);
	values[4] = cand_value(c, CAND_COLUMNS, &isnull);
	values[5] = CStringGetTextDatum(c->create_sql);
	values[6] = cand_value(c, CAND_REASONS, &isnull);
	values[7] = cand_value(c, CAND_QUERYIDS, &isnull);
	values[8] = Int64GetDatum(c->calls);
	values[9] = Float8GetDatum(c->before_ms);
	values[10] = Float8GetDatum(c->after_ms);
	values[11] = Float8GetDatum(gain_ms);
	values[12] = Float8GetDatum(ratio);
	values[13] = Int64GetDatum(c->index_bytes);
	values[14] = Int32GetDatum(nadia_advice_window);
	values[15] = BoolGetDatum(verified);
	values[16] = why_not ? CStringGetTextDatum(why_not) : (Datum) 0;
	values[17] = cand_value(c, CAND_SKIPPED, &isnull);
	values[18] = CStringGetTextDatum(nadia_json_print(c->checks));
	if (!verified)
		nulls[10] = nulls[11] = nulls[12] = nulls[13] = 'n';
	if (why_not == NULL)
		nulls[16] = 'n';

	nadia_spi_check(nadia_spi_exec("INSERT INTO nadia_bgw.index_advice"
								   " (computed_at, dbid, relid, schemaname, relname, columns,"
								   "  create_statement, reasons, queryids, calls, cost_before_ms,"
								   "  cost_after_ms, est_gain_ms, gain_ratio, index_bytes,"
								   "  writes_per_hour, verified, why_not, skipped_columns, checks)"
								   " VALUES (pg_catalog.now(), $1, $2, $3, $4, $5, $6, $7, $8, $9,"
								   "  $10, $11, $12, $13, $14,"
								   "  nadia_bgw._advice_write_rate($2, pg_catalog.now() - $15 * interval '1 minute'),"
								   "  $16, $17, $18, $19::jsonb)",
								   19, types, values, nulls, false, 0),
					SPI_OK_INSERT, "storing an index candidate");
}

/* One candidate, in a guarded call: a failure costs only this candidate. */
static void
advise_candidate(void *arg)
{
	Candidate  *c = (Candidate *) arg;

	c->create_sql = create_statement(c);
	c->checks = cJSON_CreateArray();
	check_statements(c);
	store_candidate(c);
}

/* The schema of hypopg in this database, NULL when not installed. */
static char *
hypopg_schema(void)
{
	nadia_spi_check(nadia_spi_exec("SELECT n.nspname FROM pg_catalog.pg_extension e"
								   "  JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace"
								   " WHERE e.extname = 'hypopg'",
								   0, NULL, NULL, NULL, true, 0),
					SPI_OK_SELECT, "looking for hypopg");
	return SPI_processed > 0 ? nadia_spi_getstring(0, 1) : NULL;
}

/* One advice run: replace the advice of this database. */
static void
run_advice(void)
{
	Oid			types[2] = {INT8OID, INT4OID};
	Datum		values[2] = {Int64GetDatum((int64) nadia_advice_min_rows),
	Int32GetDatum(nadia_advice_window)};
	char	   *schema = hypopg_schema();
	SPITupleTable *tab;
	uint64		n,
				i;
	int			stored = 0;

	nadia_spi_check(nadia_spi_exec("SELECT relid, schemaname, relname, columns, reasons,"
								   "       skipped_columns, queryids"
								   "  FROM nadia_bgw._advice_candidates($1, " SINCE_SQL ")",
								   2, types, values, NULL, true, 0),
					SPI_OK_SELECT, "finding index candidates");
	tab = SPI_tuptable;
	n = SPI_processed;

	nadia_spi_check(nadia_spi_exec("DELETE FROM nadia_bgw.index_advice",
								   0, NULL, NULL, NULL, false, 0),
					SPI_OK_DELETE, "replacing the index advice");
	for (i = 0; i < n; i++)
	{
		Candidate	c;

		CHECK_FOR_INTERRUPTS();
		memset(&c, 0, sizeof(c));
		c.tab = tab;
		c.row = i;
		c.hypopg_schema = schema;
		if (nadia_guarded_call("index advice for a candidate",
							   "The other candidates are still advised.",
							   advise_candidate, &c, NADIA_GUARD_RETHROW_CANCEL, NULL))
			stored++;
	}
	if (n > 0)
		ereport(DEBUG1,
				(errmsg("nadia_bgw: index advice: " UINT64_FORMAT " candidates%s",
						n, schema ? "" : " (hypopg not installed: not verified)")));
}

/* Whether the 1.1 schema (index_advice and plans) is there. */
static bool
advice_schema_present(void)
{
	bool		isnull;

	nadia_spi_check(nadia_spi_exec("SELECT (pg_catalog.to_regclass('nadia_bgw.index_advice') IS NOT NULL"
								   "   AND pg_catalog.to_regclass('nadia_bgw.plans') IS NOT NULL)::int::int8",
								   0, NULL, NULL, NULL, true, 0),
					SPI_OK_SELECT, "looking for the advice tables");
	return nadia_spi_getint8(0, 1, &isnull) == 1;
}

/* The worker's task: one advice run every nadia_bgw.advice_interval. */
void
nadia_advice_task(void)
{
	TimestampTz now = GetCurrentTimestamp();

	if (nadia_advice_interval < 0)
		return;
	if (last_run != 0 &&
		!TimestampDifferenceExceeds(last_run, now, Min(nadia_advice_interval, INT_MAX / 1000) * 1000))
		return;
	if (!advice_schema_present())
		return;
	last_run = now;
	run_advice();
}
