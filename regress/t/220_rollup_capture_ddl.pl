# Change capture against the application's DDL and replication settings
# (issue 13, section 4): our trigger never makes an application write fail,
# follows renames, fires under session_replication_role = replica, and a
# write that escaped it (trigger disabled) or a rollup that can no longer be
# maintained (trigger, source or table dropped) is recomputed or reported
# as broken, never silently wrong.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use NadiaTest;

my $node = nadia_node('rollup_capture_ddl', conf => "nadia_bgw.interval = 3600\n");

$node->safe_psql('postgres', q{
	CREATE TABLE msgs (id bigserial PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now(),
	                   user_id integer, quality_score integer, note text);
	INSERT INTO msgs (created_at, user_id, quality_score)
	SELECT now() - d * interval '1 day' - i * interval '1 minute', i % 13, 1 + i % 5
	  FROM generate_series(0, 10) d, generate_series(1, 20) i;
	SELECT nadia_bgw.create_rollup(name => 'msgs_daily', source => 'msgs',
	    time_column => 'created_at', bucket => '1 day', bucket_column => 'day',
	    timezone => 'UTC',
	    aggregates => ARRAY['count(*) AS n', 'sum(quality_score) AS q']);
});
my $check = q{SELECT missing || '/' || extra FROM nadia_bgw.rollup_check('msgs_daily')};
my $refresh = q{SELECT nadia_bgw.refresh_rollup('msgs_daily')};
my $state = q{SELECT broken || ' ' || coalesce(broken_reason, '-') FROM nadia_bgw.rollups WHERE name = 'public.msgs_daily'};
my $trig = $node->safe_psql('postgres',
	q{SELECT tgname FROM pg_trigger WHERE tgrelid = 'msgs'::regclass AND tgname ~ '^zz_nadia_bgw_rollup_\d+$'});
my $enabled = qq{SELECT string_agg(tgenabled::text, '' ORDER BY tgname) FROM pg_trigger
                  WHERE tgrelid = 'msgs'::regclass AND tgname LIKE 'zz_nadia_bgw_rollup_%'};
my $old_rows = q{INSERT INTO msgs (created_at, user_id, quality_score)
	SELECT now() - interval '4 days' - i * interval '1 minute', 50 + i, 5 FROM generate_series(1, 7) i};

$node->safe_psql('postgres', $refresh);
is($node->safe_psql('postgres', $check), '0/0', 'rollup exact after creation');
is($node->safe_psql('postgres', $enabled), 'AA', 'both capture triggers are ENABLE ALWAYS');
is($node->safe_psql('postgres', $state), 'false -', 'a healthy rollup is not broken');

# --- writes under session_replication_role = replica (a logical-replication
# subscriber's apply worker, pg_restore --disable-triggers) are captured:
# cold rows, hot rows, an UPDATE moving a row to another day, a DELETE
$node->safe_psql('postgres', qq{
	SET session_replication_role = replica;
	$old_rows;
	INSERT INTO msgs (user_id, quality_score) VALUES (1, 4), (2, 3);
	UPDATE msgs SET created_at = created_at - interval '2 days' WHERE id IN (SELECT min(id) FROM msgs);
	DELETE FROM msgs WHERE id IN (SELECT max(id) - 3 FROM msgs);
});
$node->safe_psql('postgres', $refresh);
is($node->safe_psql('postgres', $check), '0/0', 'writes under session_replication_role = replica were captured');

# --- a disabled capture trigger: the rollup says so, and once the trigger
# is enabled again (a plain ENABLE, which would fire on origin only) it is
# ALWAYS again and the next refresh recomputes what was missed
my ($ret, $out, $err) = $node->psql('postgres', "ALTER TABLE msgs DISABLE TRIGGER $trig");
is($ret, 0, 'DISABLE TRIGGER on our trigger succeeds');
like($err, qr/change capture of rollup "public.msgs_daily" is disabled/, 'the DDL is warned that capture stops');
is($node->safe_psql('postgres', $state), 'true capture trigger disabled', 'reported as broken while disabled');
$node->safe_psql('postgres', $old_rows);
$node->safe_psql('postgres', q{UPDATE msgs SET quality_score = 1 WHERE created_at < now() - interval '8 days'});
$node->safe_psql('postgres', $refresh);
isnt($node->safe_psql('postgres', $check), '0/0', 'writes while disabled were not captured');
$node->safe_psql('postgres', "ALTER TABLE msgs ENABLE TRIGGER $trig");
is($node->safe_psql('postgres', $enabled), 'AA', 'plain ENABLE TRIGGER is turned back into ENABLE ALWAYS');
is($node->safe_psql('postgres', $state), 'false -', 'no longer broken');
$node->safe_psql('postgres', $refresh);
is($node->safe_psql('postgres', $check), '0/0', 'the refresh after re-enabling recomputed what was missed');

# the pg_restore --disable-triggers sequence: DISABLE TRIGGER ALL, data
# under replica, ENABLE TRIGGER ALL (which sets every trigger to origin only)
$node->safe_psql('postgres', qq{
	SET session_replication_role = replica;
	ALTER TABLE msgs DISABLE TRIGGER ALL;
	$old_rows;
	DELETE FROM msgs WHERE created_at < now() - interval '9 days' AND user_id = 3;
	ALTER TABLE msgs ENABLE TRIGGER ALL;
});
is($node->safe_psql('postgres', $enabled), 'AA', 'ENABLE TRIGGER ALL leaves capture ALWAYS');
$node->safe_psql('postgres', $refresh);
is($node->safe_psql('postgres', $check), '0/0', 'exact after DISABLE/ENABLE TRIGGER ALL');

# DISABLE TRIGGER USER, refreshed in between, then ENABLE ALWAYS TRIGGER
$node->safe_psql('postgres', 'ALTER TABLE msgs DISABLE TRIGGER USER');
$node->safe_psql('postgres', $old_rows);
$node->safe_psql('postgres', $refresh);
$node->safe_psql('postgres', $old_rows);
$node->safe_psql('postgres', "ALTER TABLE msgs ENABLE ALWAYS TRIGGER $trig, ENABLE ALWAYS TRIGGER ${trig}_truncate");
$node->safe_psql('postgres', $refresh);
is($node->safe_psql('postgres', $check), '0/0', 'exact after DISABLE TRIGGER USER / ENABLE ALWAYS TRIGGER');

# --- RENAME COLUMN of the time column: every application write succeeds
# and is still captured (bound by attnum, not by name)
$node->safe_psql('postgres', 'ALTER TABLE msgs RENAME COLUMN created_at TO created');
($ret, $out, $err) = $node->psql('postgres', q{
	INSERT INTO msgs (created, user_id, quality_score) VALUES (now() - interval '6 days', 77, 2);
	UPDATE msgs SET created = created - interval '1 day' WHERE user_id = 77;
	DELETE FROM msgs WHERE user_id = 51;
});
is($ret, 0, 'INSERT, UPDATE, DELETE succeed after the time column was renamed');
unlike($err, qr/ERROR|WARNING/, 'without an error or warning');
isnt($node->safe_psql('postgres', q{SELECT pending_invalidations FROM nadia_bgw.rollups WHERE name = 'public.msgs_daily'}),
	'0', 'and were captured');
$node->safe_psql('postgres', 'ALTER TABLE msgs RENAME COLUMN created TO created_at');
$node->safe_psql('postgres', $refresh);
is($node->safe_psql('postgres', $check), '0/0', 'exact: nothing written under the new name was missed');

# --- the trigger never fails a write, even when it cannot make sense of
# its arguments (a trigger made by hand) or of the log table
$node->safe_psql('postgres', q{
	CREATE TABLE other (at timestamptz, v integer);
	CREATE TRIGGER by_hand BEFORE INSERT ON other FOR EACH ROW EXECUTE FUNCTION nadia_bgw.rollup_capture('x');
});
($ret, $out, $err) = $node->psql('postgres', q{INSERT INTO other VALUES (now(), 1) RETURNING v});
is("$ret $out", '0 1', 'a capture trigger with bad arguments lets the row through');
like($err, qr/WARNING:.*change capture/, 'with a warning');

# a heap insert would not maintain an index added to the log table: capture
# refuses to write there instead of corrupting it, counts it, the write goes on
$node->safe_psql('postgres', 'CREATE INDEX inval_idx ON nadia_bgw.rollup_invalidation (rollup_id)');
($ret, $out, $err) = $node->psql('postgres', $old_rows);
is($ret, 0, 'a write succeeds while the log table has an index');
like($err, qr/has an index/, 'with a warning naming the index');
is($node->safe_psql('postgres', q{
	SET enable_seqscan = off; SET enable_bitmapscan = off;
	SELECT count(*) FROM nadia_bgw.rollup_invalidation WHERE rollup_id > 0}),
	$node->safe_psql('postgres', q{SELECT count(*) FROM nadia_bgw.rollup_invalidation}),
	'the index agrees with the table');
isnt($node->safe_psql('postgres', q{SELECT capture_errors FROM nadia_bgw.rollups WHERE name = 'public.msgs_daily'}),
	'0', 'the failed capture is counted in nadia_bgw.rollups');
$node->safe_psql('postgres', 'DROP INDEX nadia_bgw.inval_idx');

# --- DROP COLUMN ... CASCADE of a column the rollup reads drops the capture
# trigger: the session is told, the rollup is reported broken, writes go on
($ret, $out, $err) = $node->psql('postgres', 'ALTER TABLE msgs DROP COLUMN quality_score CASCADE');
is($ret, 0, 'DROP COLUMN ... CASCADE succeeds');
like($err, qr/rollup "public.msgs_daily" can no longer be maintained: its capture trigger/,
	'the DDL is warned that the rollup can no longer be maintained');
is($node->safe_psql('postgres', $state), 'true capture trigger dropped', 'reported as broken');
($ret, $out, $err) = $node->psql('postgres', q{INSERT INTO msgs (user_id) VALUES (5)});
is($ret, 0, 'writes go on');
ok(wake($node), 'a worker cycle ran');
is($node->safe_psql('postgres', q{SELECT severity || ' ' || metric || ' ' || (details->>'reason') FROM nadia_bgw.alerts
                                   WHERE kind = 'rollup_broken' AND state = 'open' AND object = 'rollup public.msgs_daily'}),
	'critical broken capture trigger dropped', 'a rollup_broken alert is open');

# --- DROP TABLE of the source: broken, and drop_rollup() still works
$node->safe_psql('postgres', q{
	CREATE TABLE src2 (at timestamptz NOT NULL, v integer);
	SELECT nadia_bgw.create_rollup(name => 'src2_hourly', source => 'src2', time_column => 'at',
	    bucket => '1 hour', aggregates => ARRAY['count(*) AS n']);
});
($ret, $out, $err) = $node->psql('postgres', 'DROP TABLE src2');
is($ret, 0, 'DROP TABLE of a source succeeds');
like($err, qr/rollup "public.src2_hourly" can no longer be maintained: its source table/, 'and warns');
is($node->safe_psql('postgres',
	q{SELECT broken || ' ' || broken_reason FROM nadia_bgw.rollups WHERE name = 'public.src2_hourly'}),
	'true source table dropped', 'reported as broken');
($ret, $out, $err) = $node->psql('postgres', q{SELECT nadia_bgw.drop_rollup('src2_hourly')});
is($ret, 0, 'drop_rollup() works after the source was dropped') or diag($err);
unlike($err, qr/WARNING/, 'and drop_rollup() itself is not warned about');
is($node->safe_psql('postgres', q{SELECT count(*) FROM nadia_bgw.rollup WHERE name = 'public.src2_hourly'}),
	'0', 'the rollup is gone');

# a drop_rollup() of a healthy rollup is quiet too
$node->safe_psql('postgres', q{
	CREATE TABLE src3 (at timestamptz NOT NULL, v integer);
	SELECT nadia_bgw.create_rollup(name => 'src3_hourly', source => 'src3', time_column => 'at',
	    bucket => '1 hour', aggregates => ARRAY['count(*) AS n']);
});
($ret, $out, $err) = $node->psql('postgres', q{SELECT nadia_bgw.drop_rollup('src3_hourly')});
is("$ret $err", '0 ', 'drop_rollup() of a healthy rollup raises no warning');

# --- a partitioned source owned by an ordinary role: the cloned triggers of
# the partitions map the time column through the renamed name; the table
# owner's DISABLE/ENABLE of the trigger on one partition is noticed too
$node->safe_psql('postgres', q{
	CREATE ROLE app_owner;
	CREATE TABLE parted (v integer, at timestamptz NOT NULL) PARTITION BY RANGE (at);
	CREATE TABLE parted_old PARTITION OF parted FOR VALUES FROM ('-infinity') TO ('2000-01-01');
	CREATE TABLE parted_new (extra text, v integer, at timestamptz NOT NULL);
	ALTER TABLE parted_new DROP COLUMN extra;
	ALTER TABLE parted ATTACH PARTITION parted_new FOR VALUES FROM ('2000-01-01') TO ('infinity');
	ALTER TABLE parted OWNER TO app_owner;
	ALTER TABLE parted_old OWNER TO app_owner;
	ALTER TABLE parted_new OWNER TO app_owner;
	INSERT INTO parted SELECT i, now() - i * interval '1 day' FROM generate_series(1, 5) i;
	SELECT nadia_bgw.create_rollup(name => 'parted_daily', source => 'parted', time_column => 'at',
	    bucket => '1 day', timezone => 'UTC', aggregates => ARRAY['sum(v) AS s']);
	ALTER TABLE parted RENAME COLUMN at TO at_renamed;
});
my $ptrig = $node->safe_psql('postgres',
	q{SELECT tgname FROM pg_trigger WHERE tgrelid = 'parted'::regclass AND tgname ~ '^zz_nadia_bgw_rollup_\d+$'});
($ret, $out, $err) = $node->psql('postgres', qq{
	SET ROLE app_owner;
	INSERT INTO parted VALUES (10, now() - interval '3 days'), (11, '1999-06-01');
	ALTER TABLE parted_new DISABLE TRIGGER $ptrig;
	INSERT INTO parted VALUES (12, now() - interval '2 days');
	ALTER TABLE parted_new ENABLE TRIGGER $ptrig;
});
is($ret, 0, 'writes into renamed partitions and the owner\'s DISABLE/ENABLE TRIGGER on a partition succeed') or diag($err);
unlike($err, qr/could not check/, 'the event trigger ran for the ordinary role');
like($err, qr/enabled again/, 'capture enabled again on the partition is noticed');
$node->safe_psql('postgres', q{ALTER TABLE parted RENAME COLUMN at_renamed TO at});
$node->safe_psql('postgres', q{SELECT nadia_bgw.refresh_rollup('parted_daily')});
is($node->safe_psql('postgres', q{SELECT missing || '/' || extra FROM nadia_bgw.rollup_check('parted_daily')}),
	'0/0', 'the partitioned rollup is exact');

# --- a database still at 1.0 under the new library: its 7-argument triggers
# (time column by name) never fail a write either, even after a rename;
# the update re-creates them by attnum, ENABLE ALWAYS, and a rollup whose
# trigger was disabled is recomputed in full
$node->safe_psql('postgres', 'CREATE DATABASE upd');
$node->safe_psql('upd', q{
	CREATE EXTENSION nadia_bgw VERSION '1.0';
	CREATE TABLE t1 (at timestamptz NOT NULL, v integer);
	CREATE TABLE t2 (at timestamptz NOT NULL, v integer);
	INSERT INTO t1 SELECT now() - i * interval '1 day', i FROM generate_series(1, 5) i;
	INSERT INTO t2 SELECT now() - i * interval '1 day', i FROM generate_series(1, 5) i;
	SELECT nadia_bgw.create_rollup(name => 't1_daily', source => 't1', time_column => 'at',
	    bucket => '1 day', timezone => 'UTC', aggregates => ARRAY['sum(v) AS s']);
	SELECT nadia_bgw.create_rollup(name => 't2_daily', source => 't2', time_column => 'at',
	    bucket => '1 day', timezone => 'UTC', aggregates => ARRAY['sum(v) AS s']);
});
my $t2trig = $node->safe_psql('upd',
	q{SELECT tgname FROM pg_trigger WHERE tgrelid = 't2'::regclass AND tgname ~ '^zz_nadia_bgw_rollup_\d+$'});
$node->safe_psql('upd', "ALTER TABLE t2 DISABLE TRIGGER $t2trig");
$node->safe_psql('upd', q{INSERT INTO t2 VALUES (now() - interval '3 days', 100)});
$node->safe_psql('upd', 'ALTER TABLE t1 RENAME COLUMN at TO at2');
($ret, $out, $err) = $node->psql('upd', q{INSERT INTO t1 VALUES (now() - interval '2 days', 7) RETURNING v});
is("$ret $out", '0 7', 'on 1.0, a write after renaming the time column succeeds');
like($err, qr/WARNING:.*time column/, 'with a warning');
$node->safe_psql('upd', 'ALTER TABLE t1 RENAME COLUMN at2 TO at');
$node->safe_psql('upd', 'ALTER EXTENSION nadia_bgw UPDATE');
is($node->safe_psql('upd', q{SELECT string_agg(tgenabled || tgnargs, ' ' ORDER BY tgname) FROM pg_trigger
                              WHERE tgname LIKE 'zz_nadia_bgw_rollup_%'}),
	'A9 A9 A9 A9', 'after the update every capture trigger is ALWAYS, bound by attnum');
is($node->safe_psql('upd', q{SELECT string_agg(r.name || ':' || i.lo, ' ' ORDER BY r.name)
                              FROM nadia_bgw.rollup_invalidation i JOIN nadia_bgw.rollup r ON r.id = i.rollup_id
                             WHERE NOT isfinite(i.lo)}),
	'public.t1_daily:-infinity public.t2_daily:-infinity',
	'the rollups that missed writes (disabled trigger; capture failed after the rename) are recomputed in full');
$node->safe_psql('upd', q{SELECT nadia_bgw.refresh_rollup(n) FROM unnest(ARRAY['t1_daily', 't2_daily']) n});
is($node->safe_psql('upd', q{SELECT string_agg(c.missing || '/' || c.extra, ' ') FROM unnest(ARRAY['t1_daily', 't2_daily']) n,
                              LATERAL nadia_bgw.rollup_check(n) c}),
	'0/0 0/0', 'both exact after the update and a refresh');

$node->stop;
done_testing();
