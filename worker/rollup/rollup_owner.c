/*-------------------------------------------------------------------------
 *
 * rollup_owner.c
 *		Who a rollup runs as: the role switch, every statement of a rollup
 *		run as its owner, and the entry point of the SQL API that passes the
 *		calling role on.
 *
 * A rollup's definition is user SQL (aggregates, group_by, filter) and its
 * table belongs to a user who may put triggers, rules, policies or index
 * expressions on it.  The worker is a superuser, so nothing of that may run
 * as the worker.  As PostgreSQL does for REFRESH MATERIALIZED VIEW
 * (commands/matview.c), every statement of a rollup runs as the rollup's
 * owner (the owner of its table), under SECURITY_RESTRICTED_OPERATION, with
 * search_path pinned to "pg_catalog, pg_temp".  How the definition itself
 * is bound to what its creator meant is rollup_definition.c.
 *
 * The SQL entry points (create_rollup, drop_rollup, refresh_rollup,
 * rollup_check) are this file's nadia_bgw_rollup_api: it passes the
 * calling role (GetUserId(), which a SECURITY DEFINER function could not
 * learn) and its search_path to the SECURITY DEFINER implementation
 * nadia_bgw._api_<name>, which checks explicitly what that role may do.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/pg_list.h"
#include "parser/parse_func.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "core/core.h"
#include "rollup/rollup_internal.h"

PG_FUNCTION_INFO_V1(nadia_bgw_rollup_api);
PG_FUNCTION_INFO_V1(nadia_bgw_rollup_exec);

/*
 * Become "role" under SECURITY_RESTRICTED_OPERATION with the given search
 * path, in a new GUC nest level, exactly as REFRESH MATERIALIZED VIEW
 * becomes the view's owner.  Whatever the role's code SETs is undone by
 * nadia_rollup_leave_role(); an error is undone by the (sub)transaction
 * abort, which restores both the user id and the GUC nest level.
 */
void
nadia_rollup_enter_role(Oid role, const char *path, NadiaRollupRoleSwitch *sw)
{
	if (!OidIsValid(role) || !SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(role)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("role with OID %u does not exist", role),
				 errhint("The owner of the rollup's table was dropped; drop the rollup and create it again.")));

	GetUserIdAndSecContext(&sw->save_userid, &sw->save_sec_context);
	sw->save_nestlevel = NewGUCNestLevel();
	SetUserIdAndSecContext(role,
						   sw->save_sec_context |
						   SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	(void) set_config_option("search_path", path,
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
}

void
nadia_rollup_leave_role(NadiaRollupRoleSwitch *sw)
{
	AtEOXact_GUC(false, sw->save_nestlevel);
	SetUserIdAndSecContext(sw->save_userid, sw->save_sec_context);
}

/* Only our own SECURITY DEFINER code (or a superuser) may switch roles. */
void
nadia_rollup_require_superuser(const char *fname)
{
	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for function %s", fname),
				 errhint("This is an internal function of nadia_bgw.")));
}

/*
 * The public rollup functions.  The role calling is GetUserId() here (a
 * SECURITY INVOKER C function sees the real current user, also under
 * SET ROLE or inside another SECURITY DEFINER function); its search path is
 * needed to resolve the names it gave.  Both are passed, with the
 * arguments, to nadia_bgw._api_<this function's name>, a SECURITY DEFINER
 * function with a pinned search path revoked from PUBLIC.  Calling it
 * through fmgr skips its EXECUTE check, which is the point: only this
 * entry may call it on behalf of others.
 */
Datum
nadia_bgw_rollup_api(PG_FUNCTION_ARGS)
{
	Oid			self = fcinfo->flinfo->fn_oid;
	char	   *proname = get_func_name(self);
	Oid		   *argtypes;
	int			nargs;
	Oid			inner_types[FUNC_MAX_ARGS];
	Oid			inner;
	FmgrInfo	flinfo;
	LOCAL_FCINFO(inner_fcinfo, FUNC_MAX_ARGS);
	Datum		result;
	int			i;

	if (proname == NULL || get_func_namespace(self) != get_namespace_oid("nadia_bgw", false))
		elog(ERROR, "nadia_bgw_rollup_api called through an unexpected function");
	(void) get_func_signature(self, &argtypes, &nargs);
	if (nargs + 2 > FUNC_MAX_ARGS || nargs != PG_NARGS())
		elog(ERROR, "nadia_bgw_rollup_api: unexpected argument count");

	inner_types[0] = OIDOID;
	inner_types[1] = TEXTOID;
	for (i = 0; i < nargs; i++)
		inner_types[i + 2] = argtypes[i];
	inner = LookupFuncName(list_make2(makeString("nadia_bgw"),
									  makeString(psprintf("_api_%s", proname))),
						   nargs + 2, inner_types, false);
	{
		HeapTuple	tp = SearchSysCache1(PROCOID, ObjectIdGetDatum(inner));
		bool		secdef;

		if (!HeapTupleIsValid(tp))
			elog(ERROR, "cache lookup failed for function %u", inner);
		secdef = ((Form_pg_proc) GETSTRUCT(tp))->prosecdef;
		ReleaseSysCache(tp);
		if (!secdef)
			elog(ERROR, "nadia_bgw._api_%s must be SECURITY DEFINER", proname);
	}

	fmgr_info(inner, &flinfo);
	InitFunctionCallInfoData(*inner_fcinfo, &flinfo, nargs + 2,
							 PG_GET_COLLATION(), NULL, NULL);
	inner_fcinfo->args[0].value = ObjectIdGetDatum(GetUserId());
	inner_fcinfo->args[0].isnull = false;
	inner_fcinfo->args[1].value = CStringGetTextDatum(namespace_search_path);
	inner_fcinfo->args[1].isnull = false;
	for (i = 0; i < nargs; i++)
		inner_fcinfo->args[i + 2] = fcinfo->args[i];

	result = FunctionCallInvoke(inner_fcinfo);
	fcinfo->isnull = inner_fcinfo->isnull;
	return result;
}

/*
 * nadia_bgw._rollup_exec(owner oid, sql text, lo timestamptz, hi timestamptz)
 * RETURNS bigint
 *
 * Run one statement of a rollup as its owner ($1 = lo, $2 = hi).  Returns
 * the first column of a SELECT's first row (an integer), or the number of
 * rows a DML statement processed.  Deferred triggers queued meanwhile (a
 * constraint trigger the owner put on the table, or one that its code
 * reached) are fired before switching back: at commit they would run as
 * the worker.
 */
Datum
nadia_bgw_rollup_exec(PG_FUNCTION_ARGS)
{
	Oid			owner;
	char	   *sql;
	Oid			types[2] = {TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[2];
	char		nulls[2];
	NadiaRollupRoleSwitch sw;
	int			rc;
	int64		result = 0;

	nadia_rollup_require_superuser("nadia_bgw._rollup_exec");
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("owner and statement must not be NULL")));
	owner = PG_GETARG_OID(0);
	sql = text_to_cstring(PG_GETARG_TEXT_PP(1));
	values[0] = PG_ARGISNULL(2) ? (Datum) 0 : PG_GETARG_DATUM(2);
	nulls[0] = PG_ARGISNULL(2) ? 'n' : ' ';
	values[1] = PG_ARGISNULL(3) ? (Datum) 0 : PG_GETARG_DATUM(3);
	nulls[1] = PG_ARGISNULL(3) ? 'n' : ' ';

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* what the caller's own statements deferred fires as the caller */
	nadia_spi_check(SPI_execute("SET CONSTRAINTS ALL IMMEDIATE", false, 0),
					SPI_OK_UTILITY, "SET CONSTRAINTS");
	nadia_rollup_enter_role(owner, NADIA_SAFE_SEARCH_PATH, &sw);
	rc = SPI_execute_with_args(sql, 2, types, values, nulls, false, 0);
	if (rc < 0)
		elog(ERROR, "rollup statement failed: %s", SPI_result_code_string(rc));
	if (rc == SPI_OK_SELECT)
	{
		if (SPI_processed > 0 && SPI_tuptable->tupdesc->natts >= 1)
		{
			bool		isnull;
			Oid			t = SPI_gettypeid(SPI_tuptable->tupdesc, 1);
			Datum		d = SPI_getbinval(SPI_tuptable->vals[0],
										  SPI_tuptable->tupdesc, 1, &isnull);

			if (!isnull && t == INT8OID)
				result = DatumGetInt64(d);
			else if (!isnull && t == INT4OID)
				result = DatumGetInt32(d);
		}
	}
	else
		result = (int64) SPI_processed;
	/* nothing is deferred any more, but a trigger may have SET it back */
	nadia_spi_check(SPI_execute("SET CONSTRAINTS ALL IMMEDIATE", false, 0),
					SPI_OK_UTILITY, "SET CONSTRAINTS");
	nadia_rollup_leave_role(&sw);
	SPI_finish();

	PG_RETURN_INT64(result);
}
