/*-------------------------------------------------------------------------
 *
 * gauges.c
 *		The gauge sources: activity, lock waits and replication, inserted
 *		as seen at each sample (no state, no deltas).
 *
 * They read query ids, never the text of other sessions' statements.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/timestamp.h"

#include "history/history_internal.h"

/* Run a gauge's INSERT; $1 is the sample's time. */
static int64
exec_insert(const char *sql, TimestampTz ts)
{
	if (nadia_spi_exec(sql, 1, (Oid[]) {TIMESTAMPTZOID}, (Datum[]) {TimestampTzGetDatum(ts)},
					   NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "sampling failed: %s", sql);
	return (int64) SPI_processed;
}

/*
 * Connections by state against max_connections, the longest query,
 * transaction and idle-in-transaction session, waiting backends by wait
 * event type.  Query ids only: the text of other sessions is never read.
 */
int64
nadia_sample_activity(TimestampTz ts)
{
	return exec_insert(
					   "WITH a AS MATERIALIZED (SELECT * FROM pg_catalog.pg_stat_activity"
					   "  WHERE backend_type = 'client backend' AND pid <> pg_catalog.pg_backend_pid())"
					   " INSERT INTO nadia_bgw.activity_samples SELECT $1,"
					   " pg_catalog.current_setting('max_connections')::integer,"
					   " (SELECT count(*) FROM a),"
					   " (SELECT count(*) FROM a WHERE state = 'active'),"
					   " (SELECT count(*) FROM a WHERE state = 'idle'),"
					   " (SELECT count(*) FROM a WHERE state = 'idle in transaction'),"
					   " (SELECT count(*) FROM a WHERE state = 'idle in transaction (aborted)'),"
					   " (SELECT count(*) FROM a WHERE state = 'active' AND wait_event_type IS NOT NULL"
					   "   AND wait_event_type NOT IN ('Client', 'Activity'))," 
					   " (SELECT count(*) FROM a WHERE wait_event_type = 'Lock'),"
					   " q.s, q.pid, q.query_id, x.s, x.pid, x.query_id, t.s, t.pid,"
					   " (SELECT pg_catalog.jsonb_object_agg(w, n) FROM (SELECT wait_event_type AS w, count(*) AS n"
					   "   FROM a WHERE state = 'active' AND wait_event_type IS NOT NULL GROUP BY 1) z),"
					   " (SELECT pg_catalog.jsonb_object_agg(coalesce(datname, '-'), n) FROM (SELECT datname, count(*) AS n"
					   "   FROM a GROUP BY 1) z)"
					   " FROM (SELECT 1) one"
					   " LEFT JOIN LATERAL (SELECT extract(epoch FROM $1 - query_start)::float8 AS s, pid, query_id"
					   "   FROM a WHERE state = 'active' ORDER BY query_start LIMIT 1) q ON true"
					   " LEFT JOIN LATERAL (SELECT extract(epoch FROM $1 - xact_start)::float8 AS s, pid, query_id"
					   "   FROM a WHERE xact_start IS NOT NULL ORDER BY xact_start LIMIT 1) x ON true"
					   " LEFT JOIN LATERAL (SELECT extract(epoch FROM $1 - state_change)::float8 AS s, pid"
					   "   FROM a WHERE state LIKE 'idle in transaction%' ORDER BY state_change LIMIT 1) t ON true",
					   ts);
}

/*
 * Blocked backends with who blocks them (pg_blocking_pids).  Query ids,
 * never texts.  A relation of another database is recorded as "oid N":
 * regclass would name whatever relation has that OID in this one.
 */
int64
nadia_sample_lock_waits(TimestampTz ts)
{
	return exec_insert(
					   "INSERT INTO nadia_bgw.lock_wait_samples"
					   " SELECT $1, a.pid, a.datname, a.usename, l.locktype, l.mode,"
					   " CASE WHEN l.relation IS NULL THEN NULL"
					   "      WHEN l.database = (SELECT d.oid FROM pg_catalog.pg_database d"
					   "                          WHERE d.datname = pg_catalog.current_database())"
					   "      THEN l.relation::regclass::text"
					   "      ELSE 'oid ' || l.relation END,"
					   " extract(epoch FROM $1 - coalesce(l.waitstart, a.state_change))::float8,"
					   " a.query_id, b.pids,"
					   " (SELECT pg_catalog.array_agg(o.query_id ORDER BY o.pid) FROM pg_catalog.pg_stat_activity o"
					   "   WHERE o.pid = ANY (b.pids))"
					   " FROM pg_catalog.pg_locks l"
					   " JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid"
					   " CROSS JOIN LATERAL (SELECT pg_catalog.pg_blocking_pids(a.pid) AS pids) b"
					   " WHERE NOT l.granted",
					   ts);
}

/* Streaming standbys and replication slots. */
int64
nadia_sample_replication(TimestampTz ts)
{
	return exec_insert(
					   "INSERT INTO nadia_bgw.replication_samples"
					   " SELECT $1, 'standby', r.application_name, r.state, true,"
					   " pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), r.sent_lsn)::bigint,"
					   " pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), r.write_lsn)::bigint,"
					   " pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), r.flush_lsn)::bigint,"
					   " pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), r.replay_lsn)::bigint,"
					   " extract(epoch FROM r.write_lag)::float8, extract(epoch FROM r.flush_lag)::float8,"
					   " extract(epoch FROM r.replay_lag)::float8, NULL"
					   " FROM pg_catalog.pg_stat_replication r"
					   " UNION ALL"
					   " SELECT $1, 'slot', s.slot_name, s.wal_status, s.active,"
					   " NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
					   " pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), s.restart_lsn)::bigint"
					   " FROM pg_catalog.pg_replication_slots s",
					   ts);
}
