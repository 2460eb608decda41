/*-------------------------------------------------------------------------
 *
 * spi_util.c
 *		The SPI helpers every module uses: statements run through plans
 *		kept for the life of the process, one check of a result code, and
 *		getters of a result's columns.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "core/core.h"

/*
 * Plans of the statements run each cycle, prepared once per process: the
 * worker runs the same few dozen statements every interval, and parsing
 * and planning them again each time would cost more than running some.
 * The number is bounded; a statement past it runs unkept.
 */
#define MAX_KEPT_PLANS 128

typedef struct KeptPlan
{
	char	   *sql;
	int			nargs;
	SPIPlanPtr	plan;
} KeptPlan;

static KeptPlan *kept = NULL;
static int	n_kept = 0;

int
nadia_spi_exec(const char *sql, int nargs, Oid *types, Datum *values,
			   const char *nulls, bool read_only, long count)
{
	int			i;
	SPIPlanPtr	plan = NULL;

	for (i = 0; i < n_kept; i++)
	{
		if (kept[i].nargs == nargs && strcmp(kept[i].sql, sql) == 0)
		{
			plan = kept[i].plan;
			break;
		}
	}
	if (plan == NULL)
	{
		plan = SPI_prepare(sql, nargs, types);
		if (plan == NULL)
			elog(ERROR, "preparing a statement of nadia_bgw failed: %s",
				 SPI_result_code_string(SPI_result));
		if (n_kept >= MAX_KEPT_PLANS)
			return SPI_execute_plan(plan, values, nulls, read_only, count);
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "SPI_keepplan failed");
		if (kept == NULL)
			kept = MemoryContextAlloc(TopMemoryContext,
									  MAX_KEPT_PLANS * sizeof(KeptPlan));
		kept[n_kept].sql = MemoryContextStrdup(TopMemoryContext, sql);
		kept[n_kept].nargs = nargs;
		kept[n_kept].plan = plan;
		n_kept++;
	}
	return SPI_execute_plan(plan, values, nulls, read_only, count);
}

/* An SPI result code other than the expected one is an internal error. */
void
nadia_spi_check(int rc, int expected, const char *what)
{
	if (rc != expected)
		elog(ERROR, "%s failed: %s", what, SPI_result_code_string(rc));
}

char *
nadia_spi_getstring(int row, int col)
{
	return SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col);
}

int64
nadia_spi_getint8(int row, int col, bool *isnull)
{
	Datum		d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, isnull);

	return *isnull ? 0 : DatumGetInt64(d);
}

/*
 * Whether the function of "signature" (schema-qualified, with argument
 * types) exists: a task whose SQL came with the 1.1 update does nothing on
 * a schema still at 1.0.
 */
bool
nadia_function_exists(const char *signature)
{
	Oid			types[1] = {TEXTOID};
	Datum		vals[1] = {CStringGetTextDatum(signature)};
	bool		isnull;

	nadia_spi_check(nadia_spi_exec("SELECT pg_catalog.to_regprocedure($1) IS NOT NULL",
								   1, types, vals, NULL, true, 1),
					SPI_OK_SELECT, "function lookup");
	return DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/* A float8 column of SPI_tuptable's row "row"; false when NULL. */
bool
nadia_spi_getfloat8(int row, int col, double *out)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc,
								  col, &isnull);

	if (isnull)
		return false;
	*out = DatumGetFloat8(d);
	return true;
}

/* A backend-local hash table in the current memory context. */
HTAB *
nadia_local_hash(const char *name, Size keysize, Size entrysize, uint64 n)
{
	HASHCTL		info;

	memset(&info, 0, sizeof(info));
	info.keysize = keysize;
	info.entrysize = entrysize;
	info.hcxt = CurrentMemoryContext;
	return hash_create(name, (long) Max(n, 16), &info, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}
