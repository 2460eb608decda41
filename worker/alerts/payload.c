/*-------------------------------------------------------------------------
 *
 * payload.c
 *		The JSON payload of an alert's notification, and
 *		nadia_bgw.alert_payload() that shows it.
 *
 * A NOTIFY channel can be listened to by every role, with no grant at
 * all, so a payload carries ids, kinds, figures and object names only:
 * never a statement text, and of the details only numbers, booleans and
 * the string fields named in payload_string_keys (object names, lock
 * modes, states, times).  It names the table where those allowed read the
 * whole alert.  Payloads are built with cJSON and are always shorter than
 * the server's 8000-byte limit: the details are dropped first, and as a
 * last resort only the identifying fields are sent.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <cjson/cJSON.h>
#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "core/core.h"
#include "alerts/alerts_internal.h"

PG_FUNCTION_INFO_V1(nadia_bgw_alert_payload);

/* The server refuses payloads of 8000 bytes or more. */
#define NADIA_PAYLOAD_MAX		7999
#define NADIA_PAYLOAD_VERSION	2
/* where the whole alert is, for those allowed to read it */
#define NADIA_ALERT_TABLE		"nadia_bgw.alerts"

/* The fields of an alert row that go into its payload. */
typedef struct PayloadRow
{
	int64		alert_id;
	char	   *kind;
	char	   *state;
	char	   *severity;
	char	   *object;
	char	   *object_type;
	char	   *datname;
	char	   *relname;
	char	   *queryid;
	char	   *username;
	char	   *metric;
	bool		has_baseline;
	double		baseline;
	bool		has_observed;
	double		observed;
	bool		has_ratio;
	double		ratio;
	char	   *opened_at;
	char	   *resolved_at;
	char	   *now;
	char	   *details;
} PayloadRow;

/*
 * String fields of an alert's details that may go into a payload: names
 * of objects, lock modes, states and times, whose values come from the
 * catalogs and the statistics views, never from what a session typed.
 * Any other string (a client's application_name, an address, a statement
 * text a detector might add) stays in the alert row.
 */
static const char *const payload_string_keys[] = {
	"user", "mode", "locktype", "state", "relation", "queryid",
	"blocked_queryid", "xact_start", "backend_xid", "backend_xmin",
	"wal_status", "slot_type", "sync_state", "restart_lsn",
	"last_vacuum", "last_autovacuum",
	/* plan_change: 64-bit plan ids, and node names built from the catalogs */
	"old_planid", "new_planid", "change_summary"
};

static bool
payload_string_key(const char *key)
{
	int			i;

	for (i = 0; key != NULL && i < (int) lengthof(payload_string_keys); i++)
		if (strcmp(key, payload_string_keys[i]) == 0)
			return true;
	return false;
}

/* ---------------------------------------------------------------------
 * Building the JSON
 *
 * cJSON allocates with palloc (core/json.c): a tree lives in the memory
 * context it was built in, and running out of memory raises an ERROR
 * instead of returning NULL, so no NULL result is checked for here.
 * ---------------------------------------------------------------------
 */

static void
add_string(cJSON *obj, const char *name, const char *value)
{
	if (value == NULL)
		cJSON_AddNullToObject(obj, name);
	else
		cJSON_AddStringToObject(obj, name, value);
}

static void
add_number(cJSON *obj, const char *name, bool has, double value)
{
	if (!has || isnan(value) || isinf(value))
		cJSON_AddNullToObject(obj, name);
	else
		cJSON_AddNumberToObject(obj, name, value);
}

/*
 * A copy of "src" (details or a part of them) with only what a payload
 * may carry: numbers, booleans, nulls, the allowed string fields, and
 * objects and arrays of those.
 */
static cJSON *
payload_details(const cJSON *src)
{
	cJSON	   *dst;
	const cJSON *item;

	dst = cJSON_IsArray(src) ? cJSON_CreateArray() : cJSON_CreateObject();
	cJSON_ArrayForEach(item, src)
	{
		cJSON	   *copy;

		if (cJSON_IsNumber(item) || cJSON_IsBool(item) || cJSON_IsNull(item) ||
			(cJSON_IsString(item) && payload_string_key(item->string)))
			copy = cJSON_Duplicate(item, false);
		else if (cJSON_IsObject(item) || cJSON_IsArray(item))
			copy = payload_details(item);
		else
			continue;
		if (cJSON_IsArray(dst))
			cJSON_AddItemToArray(dst, copy);
		else
			cJSON_AddItemToObject(dst, item->string, copy);
	}
	return dst;
}

/*
 * Fill "root" with one version of the payload: details included or not,
 * or only the identifying fields ("minimal").
 */
static void
fill_payload(cJSON *root, PayloadRow *row, const char *event, bool details,
			 bool minimal)
{
	cJSON	   *obj;

	cJSON_AddNumberToObject(root, "version", NADIA_PAYLOAD_VERSION);
	cJSON_AddNumberToObject(root, "alert_id", (double) row->alert_id);
	add_string(root, "alert_table", NADIA_ALERT_TABLE);
	add_string(root, "event", event);
	add_string(root, "state", row->state);
	add_string(root, "kind", row->kind);
	add_string(root, "severity", row->severity);
	if (!minimal)
	{
		obj = cJSON_AddObjectToObject(root, "object");
		add_string(obj, "type", row->object_type);
		add_string(obj, "name", row->object);
		add_string(obj, "database", row->datname);
		if (row->relname)
			add_string(obj, "relation", row->relname);
		if (row->queryid)
		{
			/* a string: 64-bit ids do not survive JSON numbers in most clients */
			add_string(obj, "queryid", row->queryid);
			add_string(obj, "user", row->username);
		}
		add_string(root, "metric", row->metric);
		add_number(root, "baseline", row->has_baseline, row->baseline);
		add_number(root, "observed", row->has_observed, row->observed);
		add_number(root, "ratio", row->has_ratio, row->ratio);
		add_string(root, "opened_at", row->opened_at);
		add_string(root, "resolved_at", row->resolved_at);
		if (details && row->details)
		{
			/* NULL only for what jsonb accepts and cJSON does not (nesting) */
			cJSON	   *all = cJSON_Parse(row->details);

			if (all != NULL)
				cJSON_AddItemToObject(root, "details", payload_details(all));
		}
	}
	add_string(root, "time", row->now);
	cJSON_AddBoolToObject(root, "truncated",
						  minimal || (!details && row->details != NULL));
}

/*
 * Print one version of the payload, palloc'd in the caller's context.  The
 * tree, and the parsed details, which may be far larger than what fits in
 * a payload, are built in a context of their own freed at once: a run
 * sends up to 200 notifications.
 */
static char *
print_payload(PayloadRow *row, const char *event, bool details, bool minimal)
{
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext build = AllocSetContextCreate(caller, "nadia_bgw payload",
												ALLOCSET_DEFAULT_SIZES);
	cJSON	   *root;
	char	   *printed;

	MemoryContextSwitchTo(build);
	root = cJSON_CreateObject();
	fill_payload(root, row, event, details, minimal);
	printed = nadia_json_print(root);
	MemoryContextSwitchTo(caller);
	printed = pstrdup(printed);
	MemoryContextDelete(build);
	return printed;
}

/* The longest version of the payload that fits in a notification. */
static char *
build_payload(PayloadRow *row, const char *event)
{
	char	   *p;

	/* the details go first when the payload is too long */
	p = print_payload(row, event, true, false);
	if (strlen(p) <= NADIA_PAYLOAD_MAX)
		return p;
	p = print_payload(row, event, false, false);
	if (strlen(p) <= NADIA_PAYLOAD_MAX)
		return p;
	p = print_payload(row, event, false, true);
	if (strlen(p) > NADIA_PAYLOAD_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("alert payload does not fit into a notification"),
				 errhint("Its identifying fields alone are longer than %d bytes.",
						 NADIA_PAYLOAD_MAX)));
	return p;
}

/* ---------------------------------------------------------------------
 * Reading the alert
 * ---------------------------------------------------------------------
 */

/* the row of the alert $1, and the time the payload is built */
static const char *const payload_row_sql =
	"SELECT a.alert_id, a.kind, a.state, a.severity, a.object,"
	"       a.object_type, a.datname::text, a.relname, a.queryid::text,"
	"       COALESCE(r.rolname::text, a.details->>'user'),"
	"       a.metric, a.baseline, a.observed, a.ratio,"
	"       pg_catalog.to_json(a.opened_at)#>>'{}',"
	"       pg_catalog.to_json(a.resolved_at)#>>'{}',"
	"       pg_catalog.to_json(pg_catalog.clock_timestamp())#>>'{}',"
	"       a.details::text"
	"  FROM nadia_bgw.alerts a"
	"  LEFT JOIN pg_catalog.pg_roles r ON r.oid = a.userid"
	" WHERE a.alert_id = $1";

static bool
fetch_payload_row(int64 alert_id, PayloadRow *row)
{
	Oid			types[1] = {INT8OID};
	Datum		vals[1];
	bool		isnull;

	vals[0] = Int64GetDatum(alert_id);
	nadia_spi_check(SPI_execute_with_args(payload_row_sql, 1, types, vals, NULL,
										  false, 1),
					SPI_OK_SELECT, "reading alert");
	if (SPI_processed == 0)
		return false;
	memset(row, 0, sizeof(*row));
	row->alert_id = nadia_spi_getint8(0, 1, &isnull);
	row->kind = nadia_spi_getstring(0, 2);
	row->state = nadia_spi_getstring(0, 3);
	row->severity = nadia_spi_getstring(0, 4);
	row->object = nadia_spi_getstring(0, 5);
	row->object_type = nadia_spi_getstring(0, 6);
	row->datname = nadia_spi_getstring(0, 7);
	row->relname = nadia_spi_getstring(0, 8);
	row->queryid = nadia_spi_getstring(0, 9);
	row->username = nadia_spi_getstring(0, 10);
	row->metric = nadia_spi_getstring(0, 11);
	row->has_baseline = nadia_spi_getfloat8(0, 12, &row->baseline);
	row->has_observed = nadia_spi_getfloat8(0, 13, &row->observed);
	row->has_ratio = nadia_spi_getfloat8(0, 14, &row->ratio);
	row->opened_at = nadia_spi_getstring(0, 15);
	row->resolved_at = nadia_spi_getstring(0, 16);
	row->now = nadia_spi_getstring(0, 17);
	row->details = nadia_spi_getstring(0, 18);
	return true;
}

/* The payload for an alert (SPI must be connected); NULL if no such alert. */
char *
nadia_alert_payload(int64 alert_id, const char *event)
{
	PayloadRow	row;

	if (!fetch_payload_row(alert_id, &row))
		return NULL;
	return build_payload(&row, event);
}

/*
 * nadia_bgw.alert_payload(alert_id, event) -- the payload a notification
 * for that alert carries, for documentation, tests and clients that want
 * to re-read an alert in the same shape.
 */
Datum
nadia_bgw_alert_payload(PG_FUNCTION_ARGS)
{
	int64		alert_id = PG_GETARG_INT64(0);
	char	   *event = text_to_cstring(PG_GETARG_TEXT_PP(1));
	char	   *payload;
	text	   *result = NULL;
	MemoryContext caller = CurrentMemoryContext;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	payload = nadia_alert_payload(alert_id, event);
	if (payload != NULL)
	{
		MemoryContext spi = MemoryContextSwitchTo(caller);

		result = cstring_to_text(payload);
		MemoryContextSwitchTo(spi);
	}
	SPI_finish();
	if (result == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(result);
}
