/*-------------------------------------------------------------------------
 *
 * alert.c
 *		The alert life cycle in nadia_bgw.alerts and its NOTIFY payloads.
 *
 * The detectors (regression.c) hand over a list of candidates: conditions
 * that hold now.  For each, the open alert with the same key is updated
 * (and escalated when its severity exceeds its peak so far), or a new
 * alert is opened.  Open alerts of the kinds that were evaluated but did
 * not fire count one normal cycle; after nadia_bgw.alert_resolve_cycles
 * of them they are resolved.  Opening, escalating and resolving queue a
 * notification in the alert row (notify_pending) and the same run sends
 * what is queued.
 *
 * A NOTIFY never costs an alert row: each one is sent in a subtransaction
 * that only clears notify_pending, so a failure (a full notification
 * queue, an injected fault) rolls back that subtransaction, records the
 * error in the row and leaves it pending for the next run.  While the
 * queue is more than half full we do not even try, since the queue-full
 * error would only come at commit and take the alert rows with it.
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

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "core/core.h"
#include "alerts/alerts.h"

PG_FUNCTION_INFO_V1(nadia_bgw_alert_payload);

/* The server refuses payloads of 8000 bytes or more. */
#define NADIA_PAYLOAD_MAX		7999
#define NADIA_PAYLOAD_VERSION	2
/* where the whole alert is, for those allowed to read it */
#define NADIA_ALERT_TABLE		"nadia_bgw.alerts"
/* Notifications sent per run at most; the rest wait for the next run. */
#define NADIA_NOTIFY_BATCH		200
/* Above this share of the notification queue, sending waits. */
#define NADIA_NOTIFY_QUEUE_LIMIT 0.5

char	   *nadia_bgw_notify_channel = NULL;
int			nadia_bgw_alert_resolve_cycles = 3;
int			nadia_bgw_payload_query_bytes = 1000;
bool		nadia_bgw_debug_fail_notify = false;

static const char *const severity_names[] = {"info", "warning", "critical"};

const char *
nadia_severity_name(NadiaSeverity s)
{
	return severity_names[s];
}

NadiaSeverity
nadia_severity_from_name(const char *name)
{
	int			i;

	for (i = 0; i < (int) lengthof(severity_names); i++)
		if (name != NULL && strcmp(name, severity_names[i]) == 0)
			return (NadiaSeverity) i;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown alert severity \"%s\"", name ? name : ""),
			 errhint("Use info, warning or critical.")));
	return NADIA_SEV_INFO;		/* keep compiler quiet */
}

/*
 * The channel must be something NOTIFY accepts: non-empty and shorter than
 * NAMEDATALEN.  Checking here turns a typo into an error at SET or reload
 * time instead of a failed notification in the worker.
 */
static bool
check_notify_channel(char **newval, void **extra, GucSource source)
{
	if (*newval == NULL || (*newval)[0] == '\0')
	{
		GUC_check_errcode(ERRCODE_INVALID_PARAMETER_VALUE);
		GUC_check_errmsg("nadia_bgw.notify_channel must not be empty");
		GUC_check_errhint("Set it to the channel that LISTEN clients use, for example nadia_bgw_alerts.");
		return false;
	}
	if (strlen(*newval) >= NAMEDATALEN)
	{
		GUC_check_errcode(ERRCODE_NAME_TOO_LONG);
		GUC_check_errmsg("nadia_bgw.notify_channel is longer than %d bytes",
						 NAMEDATALEN - 1);
		return false;
	}
	return true;
}

void
nadia_alert_define_gucs(void)
{
	DefineCustomStringVariable("nadia_bgw.notify_channel",
							   "Channel on which alerts are announced with NOTIFY.",
							   "Clients receive the JSON payloads with LISTEN on this channel.",
							   &nadia_bgw_notify_channel,
							   "nadia_bgw_alerts",
							   PGC_SUSET,
							   0,
							   check_notify_channel, NULL, NULL);

	DefineCustomIntVariable("nadia_bgw.alert_resolve_cycles",
							"Normal detection cycles after which an open alert resolves itself.",
							NULL,
							&nadia_bgw_alert_resolve_cycles,
							3,
							1,
							10000,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	/*
	 * Payload version 2 carries no statement text.  The setting stays so
	 * that configurations written for 1.0 still load; it has no effect.
	 */
	DefineCustomIntVariable("nadia_bgw.payload_query_bytes",
							"No longer used: NOTIFY payloads carry no query text.",
							"Kept so that existing configurations load; the value is ignored.",
							&nadia_bgw_payload_query_bytes,
							1000,
							0,
							6000,
							PGC_SUSET,
							GUC_UNIT_BYTE,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("nadia_bgw.debug_fail_notify",
							 "Testing only: makes every alert notification fail.",
							 "Used by the test suite to check that a failed NOTIFY keeps the alert.",
							 &nadia_bgw_debug_fail_notify,
							 false,
							 PGC_SUSET,
							 GUC_NOT_IN_SAMPLE,
							 NULL, NULL, NULL);
}

/* ---------------------------------------------------------------------
 * SPI helpers
 * ---------------------------------------------------------------------
 */

static char *
get_text(HeapTuple tup, TupleDesc desc, int col)
{
	return SPI_getvalue(tup, desc, col);
}

static bool
get_float(HeapTuple tup, TupleDesc desc, int col, double *out)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	if (isnull)
		return false;
	*out = DatumGetFloat8(d);
	return true;
}

static Datum
text_or_null(const char *s, char *nulls, int i)
{
	if (s == NULL)
	{
		nulls[i] = 'n';
		return (Datum) 0;
	}
	return CStringGetTextDatum(s);
}

/* ---------------------------------------------------------------------
 * Life cycle
 * ---------------------------------------------------------------------
 */

static NadiaAlertEvent *
make_event(int64 id, const char *event, NadiaCandidate *c, const char *severity)
{
	NadiaAlertEvent *e = palloc0(sizeof(NadiaAlertEvent));

	e->alert_id = id;
	e->event = pstrdup(event);
	e->kind = pstrdup(c->kind);
	e->severity = pstrdup(severity);
	e->object = pstrdup(c->object);
	e->metric = pstrdup(c->metric);
	e->has_baseline = c->has_baseline;
	e->baseline = c->baseline;
	e->observed = c->observed;
	return e;
}

/* ratio observed / baseline, or NULL when there is no positive baseline */
static Datum
ratio_datum(NadiaCandidate *c, char *nulls, int i)
{
	if (!c->has_baseline || c->baseline <= 0 || isnan(c->observed))
	{
		nulls[i] = 'n';
		return (Datum) 0;
	}
	return Float8GetDatum(c->observed / c->baseline);
}

/*
 * Open a new alert, or update the open one with the same key.  Returns the
 * event, or NULL for a plain update.
 */
static NadiaAlertEvent *
apply_candidate(NadiaCandidate *c)
{
	Oid			sel_types[1] = {TEXTOID};
	Datum		sel_vals[1];
	int			rc;
	const char *sev = nadia_severity_name(c->severity);

	sel_vals[0] = CStringGetTextDatum(c->alert_key);
	rc = SPI_execute_with_args("SELECT alert_id, peak_severity, muted,"
							   "       acknowledged_at IS NOT NULL"
							   "  FROM nadia_bgw.alerts"
							   " WHERE alert_key = $1 AND state = 'open'"
							   "   FOR UPDATE",
							   1, sel_types, sel_vals, NULL, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "looking up open alert failed: %s", SPI_result_code_string(rc));

	if (SPI_processed == 0)
	{
		/* open: the mute check is part of the INSERT, so it is atomic */
		Oid			types[17] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
			OIDOID, TEXTOID, OIDOID, TEXTOID, INT8OID, OIDOID, TEXTOID,
		TEXTOID, FLOAT8OID, FLOAT8OID, FLOAT8OID, TEXTOID};
		Datum		vals[17];
		char		nulls[18];
		bool		isnull;
		int64		id;
		bool		muted;

		memset(nulls, ' ', sizeof(nulls));
		nulls[17] = '\0';
		vals[0] = CStringGetTextDatum(c->alert_key);
		vals[1] = CStringGetTextDatum(c->kind);
		vals[2] = CStringGetTextDatum(sev);
		vals[3] = CStringGetTextDatum(c->object);
		vals[4] = CStringGetTextDatum(c->object_type);
		vals[5] = ObjectIdGetDatum(c->dbid);
		if (!OidIsValid(c->dbid))
			nulls[5] = 'n';
		vals[6] = text_or_null(c->datname, nulls, 6);
		vals[7] = ObjectIdGetDatum(c->relid);
		if (!OidIsValid(c->relid))
			nulls[7] = 'n';
		vals[8] = text_or_null(c->relname, nulls, 8);
		vals[9] = Int64GetDatum(c->queryid);
		if (!c->has_queryid)
			nulls[9] = 'n';
		vals[10] = ObjectIdGetDatum(c->userid);
		if (!OidIsValid(c->userid))
			nulls[10] = 'n';
		vals[11] = text_or_null(c->query, nulls, 11);
		vals[12] = CStringGetTextDatum(c->metric);
		vals[13] = Float8GetDatum(c->baseline);
		if (!c->has_baseline)
			nulls[13] = 'n';
		vals[14] = Float8GetDatum(c->observed);
		vals[15] = ratio_datum(c, nulls, 15);
		vals[16] = text_or_null(c->details ? c->details : "{}", nulls, 16);

		rc = SPI_execute_with_args(
								   "INSERT INTO nadia_bgw.alerts AS a"
								   " (alert_key, kind, severity, peak_severity, object, object_type,"
								   "  dbid, datname, relid, relname, queryid, userid, query, metric,"
								   "  baseline, observed, ratio, details, muted, notify_pending)"
								   " SELECT $1, $2, $3, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,"
								   "        $14, $15, $16, $17::jsonb, m.muted,"
								   "        CASE WHEN m.muted THEN NULL ELSE 'opened' END"
								   "   FROM (SELECT EXISTS ("
								   "          SELECT 1 FROM nadia_bgw.alert_mutes u"
								   "           WHERE (u.until IS NULL OR u.until > pg_catalog.now())"
								   "             AND (u.kind IS NULL OR u.kind = $2)"
								   "             AND (u.queryid IS NULL OR u.queryid = $10)"
								   "             AND (u.object IS NULL OR u.object = $4)) AS muted) m"
								   " RETURNING a.alert_id, a.muted",
								   17, types, vals, nulls, false, 0);
		if (rc != SPI_OK_INSERT_RETURNING || SPI_processed != 1)
			elog(ERROR, "opening alert failed: %s", SPI_result_code_string(rc));
		id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
										 SPI_tuptable->tupdesc, 1, &isnull));
		muted = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
										   SPI_tuptable->tupdesc, 2, &isnull));
		return make_event(id, muted ? "opened (muted)" : "opened", c, sev);
	}
	else
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		int64		id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		NadiaSeverity peak = nadia_severity_from_name(get_text(tup, desc, 2));
		bool		muted = DatumGetBool(SPI_getbinval(tup, desc, 3, &isnull));
		bool		acked = DatumGetBool(SPI_getbinval(tup, desc, 4, &isnull));
		bool		escalate = c->severity > peak;
		bool		notify = escalate && !muted && !acked;
		Oid			types[7] = {INT8OID, TEXTOID, FLOAT8OID, FLOAT8OID, FLOAT8OID,
		TEXTOID, BOOLOID};
		Datum		vals[7];
		char		nulls[8];

		memset(nulls, ' ', sizeof(nulls));
		nulls[7] = '\0';
		vals[0] = Int64GetDatum(id);
		vals[1] = CStringGetTextDatum(sev);
		vals[2] = Float8GetDatum(c->baseline);
		if (!c->has_baseline)
			nulls[2] = 'n';
		vals[3] = Float8GetDatum(c->observed);
		vals[4] = ratio_datum(c, nulls, 4);
		vals[5] = text_or_null(c->details ? c->details : "{}", nulls, 5);
		vals[6] = BoolGetDatum(escalate);

		/* an escalation replaces a notification still waiting to go */
		rc = SPI_execute_with_args(
								   "UPDATE nadia_bgw.alerts"
								   "   SET severity = $2,"
								   "       peak_severity = CASE WHEN $7 THEN $2 ELSE peak_severity END,"
								   "       escalated_at = CASE WHEN $7 THEN pg_catalog.now() ELSE escalated_at END,"
								   "       baseline = $3, observed = $4, ratio = $5, details = $6::jsonb,"
								   "       updated_at = pg_catalog.now(),"
								   "       firing_cycles = firing_cycles + 1, normal_cycles = 0"
								   " WHERE alert_id = $1",
								   7, types, vals, nulls, false, 0);
		if (rc != SPI_OK_UPDATE)
			elog(ERROR, "updating alert failed: %s", SPI_result_code_string(rc));
		if (notify)
		{
			Oid			t1[1] = {INT8OID};
			Datum		v1[1];

			v1[0] = Int64GetDatum(id);
			rc = SPI_execute_with_args("UPDATE nadia_bgw.alerts"
									   "   SET notify_pending = 'escalated'"
									   " WHERE alert_id = $1",
									   1, t1, v1, NULL, false, 0);
			if (rc != SPI_OK_UPDATE)
				elog(ERROR, "queueing notification failed: %s",
					 SPI_result_code_string(rc));
		}
		return make_event(id, escalate ? "escalated" : "updated", c, sev);
	}
}

/*
 * Count a normal cycle for each open alert of an evaluated kind that did
 * not fire, and resolve those that reached the configured count.
 */
static Datum
text_array(List *strings)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(list_length(strings), 1));
	ListCell   *lc;
	int			i = 0;

	foreach(lc, strings)
		elems[i++] = CStringGetTextDatum((char *) lfirst(lc));
	return PointerGetDatum(construct_array(elems, i, TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * For each open alert of an evaluated kind that did not fire: count a
 * normal cycle when there is evidence it is normal (its kind is not one of
 * "judged_kinds", or its key is among "judged_keys"), an idle cycle
 * otherwise.  Resolve after alert_resolve_cycles normal cycles in a row
 * ("auto"), or after ten times as many cycles without evidence ("stale").
 */
static List *
count_normal_cycles(List *evaluated_kinds, List *fired_keys,
					List *judged_kinds, List *judged_keys, List *events)
{
	Oid			types[5] = {TEXTARRAYOID, TEXTARRAYOID, INT4OID, TEXTARRAYOID, TEXTARRAYOID};
	Datum		vals[5];
	int			rc;
	uint64		r;

	if (evaluated_kinds == NIL)
		return events;

	vals[0] = text_array(evaluated_kinds);
	vals[1] = text_array(fired_keys);
	vals[2] = Int32GetDatum(nadia_bgw_alert_resolve_cycles);
	vals[3] = text_array(judged_kinds);
	vals[4] = text_array(judged_keys);

	rc = SPI_execute_with_args(
							   "WITH n AS ("
							   "  SELECT a.alert_id, c.evidence,"
							   "         CASE WHEN c.evidence AND a.normal_cycles + 1 >= $3 THEN 'auto'"
							   "              WHEN NOT c.evidence AND a.idle_cycles + 1 >= $3 * 10 THEN 'stale'"
							   "         END AS resolution"
							   "    FROM nadia_bgw.alerts a"
							   "   CROSS JOIN LATERAL (SELECT NOT (a.kind = ANY ($4))"
							   "                              OR a.alert_key = ANY ($5) AS evidence) c"
							   "   WHERE a.state = 'open'"
							   "     AND a.kind = ANY ($1)"
							   "     AND a.alert_key <> ALL ($2))"
							   "UPDATE nadia_bgw.alerts a"
							   "   SET normal_cycles = CASE WHEN n.evidence THEN a.normal_cycles + 1"
							   "                            ELSE a.normal_cycles END,"
							   "       idle_cycles = CASE WHEN n.evidence THEN 0 ELSE a.idle_cycles + 1 END,"
							   "       state = CASE WHEN n.resolution IS NOT NULL"
							   "                    THEN 'resolved' ELSE 'open' END,"
							   "       resolved_at = CASE WHEN n.resolution IS NOT NULL"
							   "                          THEN pg_catalog.now() END,"
							   "       resolved_by = n.resolution,"
							   "       notify_pending = CASE WHEN n.resolution IS NOT NULL AND NOT a.muted"
							   "                             THEN 'resolved'"
							   "                             ELSE a.notify_pending END,"
							   "       updated_at = pg_catalog.now()"
							   "  FROM n WHERE a.alert_id = n.alert_id"
							   " RETURNING a.alert_id, a.state, a.kind, a.severity, a.object,"
							   "           a.metric, a.baseline, a.observed",
							   5, types, vals, NULL, false, 0);
	if (rc != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "counting normal cycles failed: %s", SPI_result_code_string(rc));

	for (r = 0; r < SPI_processed; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		NadiaAlertEvent *e;
		bool		isnull;
		char	   *state = get_text(tup, desc, 2);

		if (strcmp(state, "resolved") != 0)
			continue;
		e = palloc0(sizeof(NadiaAlertEvent));
		e->alert_id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		e->event = pstrdup("resolved");
		e->kind = get_text(tup, desc, 3);
		e->severity = get_text(tup, desc, 4);
		e->object = get_text(tup, desc, 5);
		e->metric = get_text(tup, desc, 6);
		e->has_baseline = get_float(tup, desc, 7, &e->baseline);
		if (!get_float(tup, desc, 8, &e->observed))
			e->observed = NAN;
		events = lappend(events, e);
	}
	return events;
}

/*
 * Apply one detection run's findings to nadia_bgw.alerts.  "candidates"
 * are the conditions that hold now; "evaluated_kinds" the alert kinds
 * whose detectors had fresh data (only those count normal cycles, so that
 * running detection twice on the same sample resolves nothing);
 * "judged_kinds" the kinds that need evidence ("judged_keys") to count a
 * normal cycle.  Returns the list of NadiaAlertEvent; queued notifications
 * are sent before returning.
 */
List *
nadia_alert_apply(List *candidates, List *evaluated_kinds,
				  List *judged_kinds, List *judged_keys)
{
	List	   *events = NIL;
	List	   *fired = NIL;
	ListCell   *lc;

	foreach(lc, candidates)
	{
		NadiaCandidate *c = (NadiaCandidate *) lfirst(lc);
		ListCell   *lc2;
		bool		dup = false;
		NadiaAlertEvent *e;

		/* a key fires once per run; the first (most severe) one wins */
		foreach(lc2, fired)
			if (strcmp((char *) lfirst(lc2), c->alert_key) == 0)
				dup = true;
		if (dup)
			continue;
		fired = lappend(fired, c->alert_key);
		e = apply_candidate(c);
		if (e != NULL)
			events = lappend(events, e);
	}
	events = count_normal_cycles(evaluated_kinds, fired, judged_kinds,
								 judged_keys, events);
	(void) nadia_alert_send_pending();
	return events;
}

/* ---------------------------------------------------------------------
 * Payload
 * ---------------------------------------------------------------------
 */

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

static bool
add_string(cJSON *obj, const char *name, const char *value)
{
	if (value == NULL)
		return cJSON_AddNullToObject(obj, name) != NULL;
	return cJSON_AddStringToObject(obj, name, value) != NULL;
}

static bool
add_number(cJSON *obj, const char *name, bool has, double value)
{
	if (!has || isnan(value) || isinf(value))
		return cJSON_AddNullToObject(obj, name) != NULL;
	return cJSON_AddNumberToObject(obj, name, value) != NULL;
}

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
	"last_vacuum", "last_autovacuum"
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

/*
 * A copy of "src" (details or a part of them) with only what a payload
 * may carry: numbers, booleans, nulls, the allowed string fields, and
 * objects and arrays of those.  NULL when cJSON runs out of memory.
 */
static cJSON *
payload_details(const cJSON *src)
{
	cJSON	   *dst;
	const cJSON *item;

	dst = cJSON_IsArray(src) ? cJSON_CreateArray() : cJSON_CreateObject();
	if (dst == NULL)
		return NULL;
	cJSON_ArrayForEach(item, src)
	{
		cJSON	   *copy = NULL;

		if (cJSON_IsNumber(item) || cJSON_IsBool(item) || cJSON_IsNull(item))
			copy = cJSON_Duplicate(item, false);
		else if (cJSON_IsString(item))
		{
			if (!payload_string_key(item->string))
				continue;
			copy = cJSON_Duplicate(item, false);
		}
		else if (cJSON_IsObject(item) || cJSON_IsArray(item))
			copy = payload_details(item);
		else
			continue;
		if (copy == NULL)
		{
			cJSON_Delete(dst);
			return NULL;
		}
		if (cJSON_IsArray(dst))
			cJSON_AddItemToArray(dst, copy);
		else
			cJSON_AddItemToObject(dst, item->string, copy);
	}
	return dst;
}

/*
 * Fill "root" with one version of the payload: details included or not,
 * or only the identifying fields ("minimal").  False if cJSON ran out of
 * memory.
 */
static bool
fill_payload(cJSON *root, PayloadRow *row, const char *event, bool details,
			 bool minimal)
{
	cJSON	   *obj;
	bool		ok = true;
	bool		truncated = minimal || (!details && row->details != NULL);

	ok = ok && cJSON_AddNumberToObject(root, "version", NADIA_PAYLOAD_VERSION);
	ok = ok && cJSON_AddNumberToObject(root, "alert_id", (double) row->alert_id);
	ok = ok && add_string(root, "alert_table", NADIA_ALERT_TABLE);
	ok = ok && add_string(root, "event", event);
	ok = ok && add_string(root, "state", row->state);
	ok = ok && add_string(root, "kind", row->kind);
	ok = ok && add_string(root, "severity", row->severity);
	if (!minimal)
	{
		obj = ok ? cJSON_AddObjectToObject(root, "object") : NULL;
		ok = ok && obj != NULL;
		ok = ok && add_string(obj, "type", row->object_type);
		ok = ok && add_string(obj, "name", row->object);
		ok = ok && add_string(obj, "database", row->datname);
		if (row->relname)
			ok = ok && add_string(obj, "relation", row->relname);
		if (row->queryid)
		{
			/* a string: 64-bit ids do not survive JSON numbers in most clients */
			ok = ok && add_string(obj, "queryid", row->queryid);
			ok = ok && add_string(obj, "user", row->username);
		}
		ok = ok && add_string(root, "metric", row->metric);
		ok = ok && add_number(root, "baseline", row->has_baseline, row->baseline);
		ok = ok && add_number(root, "observed", row->has_observed, row->observed);
		ok = ok && add_number(root, "ratio", row->has_ratio, row->ratio);
		ok = ok && add_string(root, "opened_at", row->opened_at);
		ok = ok && add_string(root, "resolved_at", row->resolved_at);
		if (ok && details && row->details)
		{
			cJSON	   *all = cJSON_Parse(row->details);

			if (all != NULL)
			{
				cJSON	   *d = payload_details(all);

				cJSON_Delete(all);
				ok = (d != NULL);
				if (ok)
					cJSON_AddItemToObject(root, "details", d);
			}
		}
	}
	ok = ok && add_string(root, "time", row->now);
	ok = ok && cJSON_AddBoolToObject(root, "truncated", truncated) != NULL;
	return ok;
}

/*
 * Print one version of the payload; a palloc'd string, or NULL if memory
 * ran out.  cJSON allocates with malloc: its tree and printed text are
 * freed on every path out, an ERROR included (PG_FINALLY), and the copy
 * is allocated without raising one.
 */
static char *
print_payload(PayloadRow *row, const char *event, bool details, bool minimal)
{
	cJSON	   *volatile root = cJSON_CreateObject();
	char	   *volatile printed = NULL;
	char	   *volatile result = NULL;

	if (root == NULL)
		return NULL;
	PG_TRY();
	{
		if (fill_payload(root, row, event, details, minimal))
			printed = cJSON_PrintUnformatted(root);
		if (printed != NULL)
		{
			size_t		len = strlen(printed);

			result = MemoryContextAllocExtended(CurrentMemoryContext, len + 1,
												MCXT_ALLOC_NO_OOM);
			if (result != NULL)
				memcpy(result, printed, len + 1);
		}
	}
	PG_FINALLY();
	{
		if (printed != NULL)
			cJSON_free(printed);
		cJSON_Delete(root);
	}
	PG_END_TRY();
	return result;
}

static char *
build_payload(PayloadRow *row, const char *event)
{
	bool		details;
	char	   *p;

	/* the details go first when the payload is too long */
	for (details = true;; details = false)
	{
		p = print_payload(row, event, details, false);
		if (p == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory while building the alert payload")));
		if (strlen(p) <= NADIA_PAYLOAD_MAX)
			return p;
		pfree(p);
		if (!details)
			break;
	}
	p = print_payload(row, event, false, true);
	if (p == NULL || strlen(p) > NADIA_PAYLOAD_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("alert payload does not fit into a notification")));
	return p;
}

static bool
fetch_payload_row(int64 alert_id, PayloadRow *row)
{
	Oid			types[1] = {INT8OID};
	Datum		vals[1];
	int			rc;
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;

	vals[0] = Int64GetDatum(alert_id);
	rc = SPI_execute_with_args(
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
							   " WHERE a.alert_id = $1",
							   1, types, vals, NULL, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading alert failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
		return false;
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	memset(row, 0, sizeof(*row));
	row->alert_id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
	row->kind = get_text(tup, desc, 2);
	row->state = get_text(tup, desc, 3);
	row->severity = get_text(tup, desc, 4);
	row->object = get_text(tup, desc, 5);
	row->object_type = get_text(tup, desc, 6);
	row->datname = get_text(tup, desc, 7);
	row->relname = get_text(tup, desc, 8);
	row->queryid = get_text(tup, desc, 9);
	row->username = get_text(tup, desc, 10);
	row->metric = get_text(tup, desc, 11);
	row->has_baseline = get_float(tup, desc, 12, &row->baseline);
	row->has_observed = get_float(tup, desc, 13, &row->observed);
	row->has_ratio = get_float(tup, desc, 14, &row->ratio);
	row->opened_at = get_text(tup, desc, 15);
	row->resolved_at = get_text(tup, desc, 16);
	row->now = get_text(tup, desc, 17);
	row->details = get_text(tup, desc, 18);
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

/* ---------------------------------------------------------------------
 * Sending
 * ---------------------------------------------------------------------
 */

static double
notify_queue_usage(void)
{
	bool		isnull;
	int			rc;

	rc = SPI_execute("SELECT pg_catalog.pg_notification_queue_usage()", true, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "reading notification queue usage failed");
	return DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[0],
										SPI_tuptable->tupdesc, 1, &isnull));
}

static void
set_notify_error(int64 alert_id, const char *message)
{
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		vals[2];
	int			rc;

	vals[0] = Int64GetDatum(alert_id);
	vals[1] = CStringGetTextDatum(message);
	rc = SPI_execute_with_args("UPDATE nadia_bgw.alerts SET notify_error = $2"
							   " WHERE alert_id = $1",
							   2, types, vals, NULL, false, 0);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "recording notification error failed: %s",
			 SPI_result_code_string(rc));
}

typedef struct NotifyCall
{
	int64		alert_id;
	const char *event;
} NotifyCall;

/* NOTIFY one alert and clear its pending notification. */
static void
notify_one(void *arg)
{
	NotifyCall *call = (NotifyCall *) arg;
	char	   *payload;
	Oid			types[1] = {INT8OID};
	Datum		vals[1];
	int			rc;

	if (nadia_bgw_debug_fail_notify)
		ereport(ERROR,
				(errcode(ERRCODE_TRIGGERED_ACTION_EXCEPTION),
				 errmsg("injected notification failure"),
				 errhint("Reset nadia_bgw.debug_fail_notify to stop it.")));
	payload = nadia_alert_payload(call->alert_id, call->event);
	if (payload != NULL)
		Async_Notify(nadia_bgw_notify_channel, payload);
	vals[0] = Int64GetDatum(call->alert_id);
	rc = SPI_execute_with_args("UPDATE nadia_bgw.alerts"
							   "   SET notify_pending = NULL, notify_error = NULL,"
							   "       notified_at = pg_catalog.now()"
							   " WHERE alert_id = $1",
							   1, types, vals, NULL, false, 0);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "clearing notification failed: %s",
			 SPI_result_code_string(rc));
}

/*
 * Send one alert's notification inside a subtransaction; on failure, roll
 * it back (the queued notification goes with it) and keep the alert
 * pending with the error recorded: its SQLSTATE for the reader, the
 * message in the server log.  Returns true if sent.
 */
static bool
send_one(int64 alert_id, const char *event)
{
	NotifyCall	call = {alert_id, event};
	NadiaGuardError err;
	char	   *what = psprintf("notification for alert " INT64_FORMAT, alert_id);

	if (nadia_guarded_call(what,
						   "The alert is kept and its notification is retried at the next detection run.",
						   notify_one, &call, 0, &err))
		return true;
	set_notify_error(alert_id, err.public_text);
	return false;
}

/*
 * Send the notifications queued in alert rows, oldest first.  Returns how
 * many went out.  Notifications reach listeners when the transaction
 * commits, together with the rows they describe.
 */
int
nadia_alert_send_pending(void)
{
	int			rc;
	uint64		i;
	uint64		n;
	int64	   *ids;
	char	  **events;
	int			sent = 0;

	rc = SPI_execute("SELECT alert_id, notify_pending FROM nadia_bgw.alerts"
					 " WHERE notify_pending IS NOT NULL ORDER BY alert_id",
					 false, NADIA_NOTIFY_BATCH);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading pending notifications failed: %s",
			 SPI_result_code_string(rc));
	n = SPI_processed;
	if (n == 0)
		return 0;
	ids = palloc(sizeof(int64) * n);
	events = palloc(sizeof(char *) * n);
	for (i = 0; i < n; i++)
	{
		bool		isnull;

		ids[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
											 SPI_tuptable->tupdesc, 1, &isnull));
		events[i] = get_text(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);
	}

	if (notify_queue_usage() > NADIA_NOTIFY_QUEUE_LIMIT)
	{
		ereport(WARNING,
				(errmsg("nadia_bgw: the notification queue is more than half full; %llu alert notifications wait",
						(unsigned long long) n),
				 errhint("A session that listens but does not read its notifications holds the queue; pg_notification_queue_usage() shows the fill level.")));
		for (i = 0; i < n; i++)
			set_notify_error(ids[i], "notification queue more than half full");
		return 0;
	}

	for (i = 0; i < n; i++)
		if (send_one(ids[i], events[i]))
			sent++;
	return sent;
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
	char	   *result = NULL;
	MemoryContext caller = CurrentMemoryContext;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	payload = nadia_alert_payload(alert_id, event);
	if (payload != NULL)
	{
		MemoryContext spi = MemoryContextSwitchTo(caller);

		result = pstrdup(payload);
		MemoryContextSwitchTo(spi);
	}
	SPI_finish();
	if (result == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(result));
}
