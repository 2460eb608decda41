/*-------------------------------------------------------------------------
 *
 * db.c
 *		The database side of nadia-mcp: one libpq connection, set up so that
 *		nothing a tool runs can write, wait forever or be redirected, and
 *		used only while it has passed the privilege check.
 *
 * Session: search_path is pg_catalog only (tool queries name every
 * nadia_bgw object with its schema, so no application schema can shadow
 * them), default_transaction_read_only is on, DateStyle ISO and TimeZone
 * UTC fix the text form of timestamps that results.c converts.
 *
 * The privilege check (security.c) runs on every connection, the first one
 * and every reconnection: with a multi-host connection string
 * (host=a,b) a reconnection may land on another server, where the same
 * role name may be anything.  Until a connection has passed the check no
 * tool query is sent on it; a call made meanwhile reconnects from the
 * first host and checks again, and is answered "refused" when that check
 * fails too.
 *
 * Each tool call is one transaction:
 *
 *	BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY
 *	SET LOCAL statement_timeout = <limit>
 *	take a free concurrency slot, or answer busy
 *	the tool's fixed query with bound parameters
 *	ROLLBACK
 *
 * The concurrency slots (nadia_bgw 1.1, sql/1.1/70_mcp_slots.sql) are the
 * views nadia_bgw.mcp_slot_1..MCP_MAX_SLOTS, taken with LOCK ... IN SHARE
 * UPDATE EXCLUSIVE MODE NOWAIT by nadia_bgw.mcp_take_slot(): that lock
 * mode conflicts with itself, so one call holds a slot at a time, for every
 * nadia-mcp process connected to the same database; it is a
 * transaction-level lock, freed when the transaction ends whatever happens
 * to the process; and LOCK checks privileges before it waits or locks, so
 * only nadia_bgw_reader (which has UPDATE on the views, which cannot be
 * written through) and superusers can take a slot.  Advisory locks, which
 * 1.0 used, can be taken by any role: a role with no grant at all could
 * hold every key and make every tool answer "rate limited" forever.  On a
 * database still at 1.0, and on a standby (where no lock mode that
 * conflicts with itself can be taken), the slots fall back to those
 * advisory locks (class CONCURRENCY_LOCK_CLASS, keys 1..max_concurrent),
 * with a warning on stderr.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "nadia_mcp.h"
#include "security.h"

/* the class of the advisory locks used as slots on 1.0 or a standby ("NADI") */
#define CONCURRENCY_LOCK_CLASS		1312899145

/* how the concurrency slots are taken on the current connection */
typedef enum SlotKind
{
	SLOTS_VIEWS,				/* LOCK on nadia_bgw.mcp_slot_N (1.1) */
	SLOTS_ADVISORY				/* advisory locks (1.0, or a standby) */
} SlotKind;

struct McpDb
{
	PGconn	   *conn;
	char	   *dbname;
	char	   *user;
	bool		checked;		/* this connection passed security_check() */
	SlotKind	slots;
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

/* "role "u" in database "d" on host h port p", for messages */
void
db_where(McpDb *db, char *buf, size_t len)
{
	const char *host = PQhost(db->conn);
	const char *port = PQport(db->conn);

	snprintf(buf, len, "role \"%s\" in database \"%s\" on host %s port %s",
			 db->user, db->dbname, host && *host ? host : "(default)",
			 port && *port ? port : "(default)");
}

/*
 * How this connection takes concurrency slots: the slot views when the
 * database has them and is not a standby, advisory locks otherwise (said
 * on stderr when a limit is set, since anyone can take those).  Called for
 * each new connection, and with "again" before each call while the slots
 * are advisory locks: a standby promoted, or a database updated to 1.1,
 * keeps the connection, and advisory locks there would leave the limit to
 * any role until a reconnection that may never come.  The warning is given
 * once per connection.
 */
static void
detect_slots(McpDb *db, int max_concurrent, bool again)
{
	PGresult   *res;
	bool		has_views = false;
	bool		standby = false;

	res = PQexec(db->conn,
				 "SELECT to_regprocedure('nadia_bgw.mcp_take_slot(integer)') IS NOT NULL, "
				 "pg_is_in_recovery()");
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
	{
		has_views = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
		standby = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	}
	PQclear(res);
	db->slots = has_views && !standby ? SLOTS_VIEWS : SLOTS_ADVISORY;
	if (db->slots == SLOTS_VIEWS && again)
		mcp_log("the slot views can be locked now (server promoted, or extension updated): "
				"the concurrency limit uses them from this call on");
	if (db->slots == SLOTS_VIEWS || max_concurrent == 0 || again)
		return;
	if (standby)
		mcp_log("warning: the server is a standby, where the slot views cannot be locked: "
				"the concurrency limit falls back to advisory locks, which any role "
				"connected to the standby can take");
	else
		mcp_log("warning: database \"%s\" has nadia_bgw 1.0 (no nadia_bgw.mcp_take_slot): "
				"the concurrency limit falls back to advisory locks, which any role can take "
				"to make every tool call wait; run ALTER EXTENSION nadia_bgw UPDATE",
				db->dbname);
}

/*
 * Run the privilege check on the current connection.  Returns what
 * security_check() returns; the connection is used for tool calls only
 * when that is 0.
 */
int
db_check(McpDb *db, int max_concurrent, char ***problems)
{
	int			n = security_check(db->conn, problems);

	db->checked = (n == 0);
	if (db->checked)
		detect_slots(db, max_concurrent, false);
	return n;
}

/*
 * A connection that passed the check, or DB_UNAVAILABLE / DB_REFUSED.  A
 * lost connection, or one that failed its check, is re-established once
 * per call (PQreset tries the hosts of the connection string from the
 * first) and checked before anything else is sent on it.
 */
static DbOutcome
ensure_ready(McpDb *db, int max_concurrent, char *errbuf, size_t errlen)
{
	char	   *err = NULL;
	char		where[512];
	char	  **problems;
	int			n;

	if (PQstatus(db->conn) == CONNECTION_OK && db->checked)
		return DB_OK;
	if (PQstatus(db->conn) != CONNECTION_OK)
		mcp_log("connection lost, reconnecting");
	else
		mcp_log("connecting again: the current connection has not passed the privilege check");
	db->checked = false;
	PQreset(db->conn);
	if (PQstatus(db->conn) != CONNECTION_OK)
	{
		snprintf(errbuf, errlen, "%s", PQerrorMessage(db->conn));
		return DB_UNAVAILABLE;
	}
	if (!setup_session(db->conn, &err))
	{
		snprintf(errbuf, errlen, "%s", err ? err : "session setup failed");
		free(err);
		return DB_UNAVAILABLE;
	}
	db_where(db, where, sizeof(where));
	n = db_check(db, max_concurrent, &problems);
	if (n != 0)
	{
		security_report(where, problems, n);
		security_free(problems, n < 0 ? 1 : n);
		snprintf(errbuf, errlen,
				 "the new connection (%s) did not pass nadia-mcp's privilege check "
				 "(the reasons are in the server's log)", where);
		return DB_REFUSED;
	}
	mcp_log("reconnected: %s, checks passed", where);
	return DB_OK;
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

static DbOutcome
run_once(McpDb *db, const McpLimits *limits, const char *sql,
		 int nparams, const char *const *values, PGresult **result,
		 char *errbuf, size_t errlen)
{
	PGconn	   *conn;
	PGresult   *res;
	char		begin[512];
	DbOutcome	outcome;

	*result = NULL;
	outcome = ensure_ready(db, limits->max_concurrent, errbuf, errlen);
	if (outcome != DB_OK)
		return outcome;
	conn = db->conn;
	if (limits->max_concurrent > 0 && db->slots == SLOTS_ADVISORY)
		detect_slots(db, limits->max_concurrent, true);

	/*
	 * One round trip opens the transaction, sets the timeout and takes a
	 * slot; the result of the last statement says whether we got one.
	 */
	if (limits->max_concurrent > 0 && db->slots == SLOTS_VIEWS)
		snprintf(begin, sizeof(begin),
				 "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; "
				 "SET LOCAL statement_timeout = %d; "
				 "SELECT s FROM nadia_bgw.mcp_take_slot(%d) AS s WHERE s IS NOT NULL",
				 limits->statement_timeout_ms, limits->max_concurrent);
	else if (limits->max_concurrent > 0)
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

/*
 * Run one tool query.  When the connection turns out to be lost (libpq
 * learns it only when it next uses the socket, e.g. after the server
 * restarted or failed over), the call is tried once more on a new
 * connection, which ensure_ready() checks first: the query is read-only,
 * so running it again is harmless.
 */
DbOutcome
db_run_tool(McpDb *db, const McpLimits *limits, const char *sql,
			int nparams, const char *const *values, PGresult **result,
			char *errbuf, size_t errlen)
{
	DbOutcome	outcome;

	outcome = run_once(db, limits, sql, nparams, values, result, errbuf, errlen);
	if (outcome == DB_UNAVAILABLE && db->checked &&
		PQstatus(db->conn) != CONNECTION_OK)
		outcome = run_once(db, limits, sql, nparams, values, result, errbuf, errlen);
	return outcome;
}
