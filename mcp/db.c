/*-------------------------------------------------------------------------
 *
 * db.c
 *		The database side of nadia-mcp: one libpq connection, set up so that
 *		nothing a tool runs can write, wait forever or be redirected.
 *
 * Session: search_path is pg_catalog only (tool queries name every
 * nadia_bgw object with its schema, so no application schema can shadow
 * them), default_transaction_read_only is on, DateStyle ISO and TimeZone
 * UTC fix the text form of timestamps that results.c converts.
 *
 * Each tool call is one transaction:
 *
 *	BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY
 *	SET LOCAL statement_timeout = <limit>
 *	take a free concurrency slot (pg_try_advisory_xact_lock), or answer busy
 *	the tool's fixed query with bound parameters
 *	ROLLBACK
 *
 * The concurrency slots are transaction-level advisory locks (class
 * CONCURRENCY_LOCK_CLASS, keys 1..max_concurrent), so the limit holds for
 * every nadia-mcp process connected to the same database and a slot is
 * freed when its transaction ends, whatever happens to the process.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nadia_mcp.h"

struct McpDb
{
	PGconn	   *conn;
	char	   *dbname;
	char	   *user;
};

static const char *session_setup =
"SET search_path = pg_catalog; "
"SET default_transaction_read_only = on; "
"SET DateStyle = 'ISO, YMD'; "
"SET IntervalStyle = 'postgres'; "
"SET TimeZone = 'UTC'; "
"SET extra_float_digits = 1";

static bool
setup_session(PGconn *conn, char **errmsg)
{
	PGresult   *res = PQexec(conn, session_setup);
	bool		ok = PQresultStatus(res) == PGRES_COMMAND_OK;

	if (!ok && errmsg)
		*errmsg = strdup(PQerrorMessage(conn));
	PQclear(res);
	return ok;
}

/*
 * Connect with the caller's connection string (or the PG* environment when
 * it is empty).  fallback_application_name lets pg_stat_activity show us
 * unless the string names another.
 */
McpDb *
db_connect(const char *conninfo, char **errmsg)
{
	const char *keys[] = {"dbname", "fallback_application_name", NULL};
	const char *vals[] = {conninfo, NADIA_MCP_NAME, NULL};
	PGconn	   *conn;
	McpDb	   *db;

	conn = PQconnectdbParams(keys, vals, 1);
	if (conn == NULL || PQstatus(conn) != CONNECTION_OK)
	{
		*errmsg = strdup(conn ? PQerrorMessage(conn) : "out of memory");
		PQfinish(conn);
		return NULL;
	}
	if (!setup_session(conn, errmsg))
	{
		PQfinish(conn);
		return NULL;
	}
	db = calloc(1, sizeof(McpDb));
	db->conn = conn;
	db->dbname = strdup(PQdb(conn));
	db->user = strdup(PQuser(conn));
	return db;
}

void
db_close(McpDb *db)
{
	if (db == NULL)
		return;
	PQfinish(db->conn);
	free(db->dbname);
	free(db->user);
	free(db);
}

const char *
db_name(McpDb *db)
{
	return db->dbname;
}

const char *
db_user(McpDb *db)
{
	return db->user;
}

PGconn *
db_conn(McpDb *db)
{
	return db->conn;
}

/* a lost connection is re-established once per call, then given up */
static bool
ensure_connected(McpDb *db, char *errbuf, size_t errlen)
{
	char	   *err = NULL;

	if (PQstatus(db->conn) == CONNECTION_OK)
		return true;
	mcp_log("connection lost, reconnecting");
	PQreset(db->conn);
	if (PQstatus(db->conn) != CONNECTION_OK)
	{
		snprintf(errbuf, errlen, "%s", PQerrorMessage(db->conn));
		return false;
	}
	if (!setup_session(db->conn, &err))
	{
		snprintf(errbuf, errlen, "%s", err ? err : "session setup failed");
		free(err);
		return false;
	}
	return true;
}

static void
copy_error(const PGresult *res, PGconn *conn, char *errbuf, size_t errlen)
{
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;

	snprintf(errbuf, errlen, "%s", msg ? msg : PQerrorMessage(conn));
	/* libpq messages end with a newline: not in ours */
	for (size_t n = strlen(errbuf); n > 0 && errbuf[n - 1] == '\n'; n--)
		errbuf[n - 1] = '\0';
}

/* the class of a failed statement, from its SQLSTATE */
static DbOutcome
classify(const PGresult *res, PGconn *conn)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	if (PQstatus(conn) != CONNECTION_OK)
		return DB_UNAVAILABLE;
	if (state == NULL)
		return DB_ERROR;
	if (strcmp(state, "57014") == 0)	/* query_canceled */
		return DB_TIMEOUT;
	if (strcmp(state, "42P01") == 0 ||	/* undefined_table */
		strcmp(state, "42703") == 0 ||	/* undefined_column */
		strcmp(state, "42883") == 0 ||	/* undefined_function */
		strcmp(state, "3F000") == 0)	/* invalid_schema_name */
		return DB_MISSING;
	if (strcmp(state, "42501") == 0)	/* insufficient_privilege */
		return DB_DENIED;
	if (strncmp(state, "08", 2) == 0)	/* connection exceptions */
		return DB_UNAVAILABLE;
	return DB_ERROR;
}

static void
end_transaction(PGconn *conn)
{
	PGresult   *res;

	if (PQtransactionStatus(conn) == PQTRANS_IDLE ||
		PQtransactionStatus(conn) == PQTRANS_UNKNOWN)
		return;
	res = PQexec(conn, "ROLLBACK");
	PQclear(res);
}

DbOutcome
db_run_tool(McpDb *db, const McpLimits *limits, const char *sql,
			int nparams, const char *const *values, PGresult **result,
			char *errbuf, size_t errlen)
{
	PGconn	   *conn;
	PGresult   *res;
	char		begin[512];
	DbOutcome	outcome;

	*result = NULL;
	if (!ensure_connected(db, errbuf, errlen))
		return DB_UNAVAILABLE;
	conn = db->conn;

	/*
	 * One round trip opens the transaction, sets the timeout and takes a
	 * slot; the result of the last statement says whether we got one.
	 */
	if (limits->max_concurrent > 0)
		snprintf(begin, sizeof(begin),
				 "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; "
				 "SET LOCAL statement_timeout = %d; "
				 "SELECT s FROM pg_catalog.generate_series(1, %d) AS s "
				 "WHERE pg_catalog.pg_try_advisory_xact_lock(%d, s) LIMIT 1",
				 limits->statement_timeout_ms, limits->max_concurrent,
				 CONCURRENCY_LOCK_CLASS);
	else
		snprintf(begin, sizeof(begin),
				 "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; "
				 "SET LOCAL statement_timeout = %d; SELECT 1",
				 limits->statement_timeout_ms);
	res = PQexec(conn, begin);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		copy_error(res, conn, errbuf, errlen);
		outcome = classify(res, conn);
		PQclear(res);
		end_transaction(conn);
		return outcome == DB_OK ? DB_ERROR : outcome;
	}
	if (PQntuples(res) == 0)
	{
		PQclear(res);
		end_transaction(conn);
		snprintf(errbuf, errlen, "all %d concurrency slots are taken",
				 limits->max_concurrent);
		return DB_BUSY;
	}
	PQclear(res);

	res = PQexecParams(conn, sql, nparams, NULL, values, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		copy_error(res, conn, errbuf, errlen);
		outcome = classify(res, conn);
		PQclear(res);
		end_transaction(conn);
		return outcome;
	}
	end_transaction(conn);
	*result = res;
	return DB_OK;
}
