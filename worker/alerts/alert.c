/*-------------------------------------------------------------------------
 *
 * alert.c
 *		The alert life cycle in nadia_bgw.alerts: open, update, escalate,
 *		resolve.
 *
 * The detectors (detectors.c) hand over a list of candidates: conditions
 * that hold now.  For each, the open alert with the same key is updated
 * (and escalated when its severity exceeds its peak so far), or a new
 * alert is opened.  Open alerts of the kinds that were evaluated but did
 * not fire count one normal cycle; after nadia_bgw.alert_resolve_cycles
 * of them they are resolved.  Opening, escalating and resolving queue a
 * notification in the alert row (notify_pending), which notify.c sends
 * before the run ends.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "core/core.h"
#include "alerts/alerts_internal.h"

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

/* ---------------------------------------------------------------------
 * SPI helpers of the module
 * ---------------------------------------------------------------------
 */

/*
 * Run an UPDATE of one alert row: "sql" has the alert id as $1 and, when
 * "text" is not NULL, that text as $2.  "what" names it in an error.
 */
void
nadia_alert_set(const char *sql, int64 alert_id, const char *text,
				const char *what)
{
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		vals[2];

	vals[0] = Int64GetDatum(alert_id);
	if (text != NULL)
		vals[1] = CStringGetTextDatum(text);
	nadia_spi_check(SPI_execute_with_args(sql, text != NULL ? 2 : 1, types, vals,
										  NULL, false, 0),
					SPI_OK_UPDATE, what);
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

/* ---------------------------------------------------------------------
 * Open, update, escalate
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

/* a new alert; the mute check is part of the INSERT, so it is atomic */
static const char *const open_sql =
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
	" RETURNING a.alert_id, a.muted";

static NadiaAlertEvent *
open_alert(NadiaCandidate *c)
{
	const char *sev = nadia_severity_name(c->severity);
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

	nadia_spi_check(SPI_execute_with_args(open_sql, 17, types, vals, nulls, false, 0),
					SPI_OK_INSERT_RETURNING, "opening alert");
	if (SPI_processed != 1)
		elog(ERROR, "opening alert failed: " UINT64_FORMAT " rows", SPI_processed);
	id = nadia_spi_getint8(0, 1, &isnull);
	muted = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
									   SPI_tuptable->tupdesc, 2, &isnull));
	return make_event(id, muted ? "opened (muted)" : "opened", c, sev);
}

/* the figures of a firing alert; an escalation also raises its peak */
static const char *const update_sql =
	"UPDATE nadia_bgw.alerts"
	"   SET severity = $2,"
	"       peak_severity = CASE WHEN $7 THEN $2 ELSE peak_severity END,"
	"       escalated_at = CASE WHEN $7 THEN pg_catalog.now() ELSE escalated_at END,"
	"       baseline = $3, observed = $4, ratio = $5, details = $6::jsonb,"
	"       updated_at = pg_catalog.now(),"
	"       firing_cycles = firing_cycles + 1, normal_cycles = 0"
	" WHERE alert_id = $1";

/*
 * Update the open alert "id" with the candidate's figures; escalate it
 * when the severity is above its peak so far (notifying unless muted or
 * acknowledged).
 */
static NadiaAlertEvent *
update_alert(NadiaCandidate *c, int64 id, NadiaSeverity peak, bool muted,
			 bool acked)
{
	const char *sev = nadia_severity_name(c->severity);
	bool		escalate = c->severity > peak;
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

	nadia_spi_check(SPI_execute_with_args(update_sql, 7, types, vals, nulls, false, 0),
					SPI_OK_UPDATE, "updating alert");
	/* an escalation replaces a notification still waiting to go */
	if (escalate && !muted && !acked)
		nadia_alert_set("UPDATE nadia_bgw.alerts SET notify_pending = 'escalated'"
						" WHERE alert_id = $1",
						id, NULL, "queueing notification");
	return make_event(id, escalate ? "escalated" : "updated", c, sev);
}

/*
 * Open a new alert, or update the open one with the same key.  Returns the
 * event.
 */
static NadiaAlertEvent *
apply_candidate(NadiaCandidate *c)
{
	Oid			types[1] = {TEXTOID};
	Datum		vals[1];
	bool		isnull;

	vals[0] = CStringGetTextDatum(c->alert_key);
	nadia_spi_check(SPI_execute_with_args("SELECT alert_id, peak_severity, muted,"
										  "       acknowledged_at IS NOT NULL"
										  "  FROM nadia_bgw.alerts"
										  " WHERE alert_key = $1 AND state = 'open'"
										  "   FOR UPDATE",
										  1, types, vals, NULL, false, 1),
					SPI_OK_SELECT, "looking up open alert");
	if (SPI_processed == 0)
		return open_alert(c);
	return update_alert(c, nadia_spi_getint8(0, 1, &isnull),
						nadia_severity_from_name(nadia_spi_getstring(0, 2)),
						DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
												   SPI_tuptable->tupdesc, 3, &isnull)),
						DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
												   SPI_tuptable->tupdesc, 4, &isnull)));
}

/* ---------------------------------------------------------------------
 * Resolve
 * ---------------------------------------------------------------------
 */

/* counts a cycle of each open alert that did not fire; resolves some */
static const char *const count_sql =
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
	"           a.metric, a.baseline, a.observed";

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
	uint64		r;

	if (evaluated_kinds == NIL)
		return events;

	vals[0] = text_array(evaluated_kinds);
	vals[1] = text_array(fired_keys);
	vals[2] = Int32GetDatum(nadia_alert_resolve_cycles);
	vals[3] = text_array(judged_kinds);
	vals[4] = text_array(judged_keys);

	nadia_spi_check(SPI_execute_with_args(count_sql, 5, types, vals, NULL, false, 0),
					SPI_OK_UPDATE_RETURNING, "counting normal cycles");

	for (r = 0; r < SPI_processed; r++)
	{
		NadiaAlertEvent *e;
		bool		isnull;

		if (strcmp(nadia_spi_getstring(r, 2), "resolved") != 0)
			continue;
		e = palloc0(sizeof(NadiaAlertEvent));
		e->alert_id = nadia_spi_getint8(r, 1, &isnull);
		e->event = pstrdup("resolved");
		e->kind = nadia_spi_getstring(r, 3);
		e->severity = nadia_spi_getstring(r, 4);
		e->object = nadia_spi_getstring(r, 5);
		e->metric = nadia_spi_getstring(r, 6);
		e->has_baseline = nadia_spi_getfloat8(r, 7, &e->baseline);
		if (!nadia_spi_getfloat8(r, 8, &e->observed))
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

		/* a key fires once per run; the first (most severe) one wins */
		foreach(lc2, fired)
			if (strcmp((char *) lfirst(lc2), c->alert_key) == 0)
				dup = true;
		if (dup)
			continue;
		fired = lappend(fired, c->alert_key);
		events = lappend(events, apply_candidate(c));
	}
	events = count_normal_cycles(evaluated_kinds, fired, judged_kinds,
								 judged_keys, events);
	(void) nadia_alert_send_pending();
	return events;
}
