/*-------------------------------------------------------------------------
 *
 * public_error.c
 *		The text of an error as nadia_bgw_reader sees it.
 *
 * An error message can quote a data value: a failed cast in a rollup's
 * aggregate says 'invalid input syntax for type numeric: "card 4111-..."'.
 * What the worker records where the reader role can read it
 * (nadia_bgw.status.last_error, nadia_bgw.rollups.last_error,
 * nadia_bgw.alerts.notify_error) is therefore the SQLSTATE and the name of
 * its class, which never carry data; the whole message goes to the server
 * log only, where the worker reports it when it happens.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"

#include "core/core.h"

PG_FUNCTION_INFO_V1(nadia_bgw_public_error);

/* SQLSTATE classes, as in PostgreSQL's errcodes.txt */
static const struct
{
	const char *cls;
	const char *name;
}			error_classes[] = {
	{"00", "successful completion"},
	{"01", "warning"},
	{"02", "no data"},
	{"03", "SQL statement not yet complete"},
	{"08", "connection exception"},
	{"09", "triggered action exception"},
	{"0A", "feature not supported"},
	{"0B", "invalid transaction initiation"},
	{"0F", "locator exception"},
	{"0L", "invalid grantor"},
	{"0P", "invalid role specification"},
	{"0Z", "diagnostics exception"},
	{"20", "case not found"},
	{"21", "cardinality violation"},
	{"22", "data exception"},
	{"23", "integrity constraint violation"},
	{"24", "invalid cursor state"},
	{"25", "invalid transaction state"},
	{"26", "invalid SQL statement name"},
	{"27", "triggered data change violation"},
	{"28", "invalid authorization specification"},
	{"2B", "dependent privilege descriptors still exist"},
	{"2D", "invalid transaction termination"},
	{"2F", "SQL routine exception"},
	{"34", "invalid cursor name"},
	{"38", "external routine exception"},
	{"39", "external routine invocation exception"},
	{"3B", "savepoint exception"},
	{"3D", "invalid catalog name"},
	{"3F", "invalid schema name"},
	{"40", "transaction rollback"},
	{"42", "syntax error or access rule violation"},
	{"44", "WITH CHECK OPTION violation"},
	{"53", "insufficient resources"},
	{"54", "program limit exceeded"},
	{"55", "object not in prerequisite state"},
	{"57", "operator intervention"},
	{"58", "system error"},
	{"72", "snapshot failure"},
	{"F0", "configuration file error"},
	{"HV", "foreign data wrapper error"},
	{"P0", "PL/pgSQL error"},
	{"XX", "internal error"},
};

static const char *
class_name(const char *sqlstate)
{
	int			i;

	for (i = 0; i < (int) lengthof(error_classes); i++)
		if (strncmp(sqlstate, error_classes[i].cls, 2) == 0)
			return error_classes[i].name;
	return "error";
}

/*
 * "22P02: data exception (message in the server log)" for an error code.
 */
void
nadia_public_error(int sqlerrcode, char *buf, size_t len)
{
	const char *state = unpack_sql_state(sqlerrcode);

	snprintf(buf, len, "%s: %s (message in the server log)",
			 state, class_name(state));
}

/*
 * nadia_bgw._public_error(sqlstate) -- the same for PL/pgSQL, which has
 * SQLSTATE as text.
 */
Datum
nadia_bgw_public_error(PG_FUNCTION_ARGS)
{
	char	   *state = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char		buf[128];

	if (strlen(state) != 5)
		state = "XX000";
	nadia_public_error(MAKE_SQLSTATE(state[0], state[1], state[2], state[3], state[4]),
					   buf, sizeof(buf));
	PG_RETURN_TEXT_P(cstring_to_text(buf));
}
