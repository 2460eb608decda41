# Change capture disabled where the event triggers cannot see it (issue 13,
# section 4): DDL in single-user mode (every version), with event_triggers
# = off (a superuser, 17+), an UPDATE of pg_trigger by hand, a partition
# attached with rows in it, a partition truncated.  Writes made while
# capture was off must lead to a recompute, never to a silently wrong
# rollup; and what does not change
# the capture triggers (VACUUM FREEZE or VACUUM FULL of pg_trigger, a new
# partition, a plain refresh) must not cost a recompute.
use strict;
use warnings;
use IPC::Run;
use PostgreSQL::Test::Utils;
use Test::More;
use NadiaTest;

my $node = nadia_node('rollup_capture_offline', conf => "nadia_bgw.interval = 3600\n");

$node->safe_psql('postgres', q{
	CREATE TABLE msgs (id bigserial PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now(),
	                   user_id integer, quality_score integer);
	INSERT INTO msgs (created_at, user_id, quality_score)
	SELECT now() - d * interval '1 day' - i * interval '1 minute', i % 13, 1 + i % 5
	  FROM generate_series(0, 10) d, generate_series(1, 20) i;
	SELECT nadia_bgw.create_rollup(name => 'msgs_daily', source => 'msgs',
	    time_column => 'created_at', bucket => '1 day', bucket_column => 'day',
	    timezone => 'UTC', aggregates => ARRAY['count(*) AS n', 'sum(quality_score) AS q']);
});
my $trig = $node->safe_psql('postgres',
	q{SELECT tgname FROM pg_trigger WHERE tgrelid = 'msgs'::regclass AND tgname ~ '^zz_nadia_bgw_rollup_\d+$'});
my $check = q{SELECT missing || '/' || extra FROM nadia_bgw.rollup_check('msgs_daily')};
my $bypasses = q{SELECT capture_bypasses FROM nadia_bgw.rollups WHERE name = 'public.msgs_daily'};
my $state = q{SELECT broken || ' ' || coalesce(broken_reason, '-') FROM nadia_bgw.rollups WHERE name = 'public.msgs_daily'};
my $enabled = q{SELECT string_agg(tgenabled::text, '' ORDER BY tgname) FROM pg_trigger
                 WHERE tgrelid = 'msgs'::regclass AND tgname LIKE 'zz_nadia_bgw_rollup_%'};
# writes of every kind below the threshold: what capture must not miss
my $writes = q{INSERT INTO msgs (created_at, user_id, quality_score)
	SELECT now() - interval '4 days' - i * interval '1 minute', 50 + i, 5 FROM generate_series(1, 7) i;
UPDATE msgs SET quality_score = quality_score + 1 WHERE created_at < now() - interval '8 days' AND user_id = 2;
DELETE FROM msgs WHERE created_at < now() - interval '6 days' AND user_id = 3;};

# refresh(DB, NAME): (buckets recomputed, stderr) of refresh_rollup()
sub refresh
{
	my ($db, $name) = @_;
	my ($ret, $out, $err) = $node->psql($db, "SELECT nadia_bgw.refresh_rollup('$name')");
	die "refresh_rollup('$name') failed: $err" if $ret != 0;
	return ($out, $err);
}

# single_user(SQL): stop the server and run SQL (one statement a line) in
# single-user mode, where no event trigger fires; start again with the
# worker paused, so that the test refreshes when it chooses
sub single_user
{
	my ($sql) = @_;
	my ($out, $err) = ('', '');
	$node->append_conf('postgresql.conf', "nadia_bgw.enabled = off\n");
	$node->stop;
	IPC::Run::run([ 'postgres', '--single', '-D', $node->data_dir, 'postgres' ],
		'<', \$sql, '>', \$out, '2>', \$err);
	$node->start;
	return "$out$err";
}

sub resume_worker
{
	$node->append_conf('postgresql.conf', "nadia_bgw.enabled = on\n");
	$node->reload;
}

my ($n, $err) = refresh('postgres', 'msgs_daily');
is($node->safe_psql('postgres', $check), '0/0', 'rollup exact after creation');
($n, $err) = refresh('postgres', 'msgs_daily');
is("$n $err", '0 ', 'a refresh with nothing changed recomputes nothing and says nothing');

# --- single-user mode: no event trigger fires, the worker does not run
my $out = single_user("ALTER TABLE msgs DISABLE TRIGGER $trig\n" . ($writes =~ s/\n\t/ /gr)
	  . "\nALTER TABLE msgs ENABLE ALWAYS TRIGGER $trig\n");
unlike($out, qr/ERROR/, 'single-user session: DISABLE TRIGGER, writes, ENABLE ALWAYS TRIGGER')
  or diag($out);
is($node->safe_psql('postgres', $enabled), 'AA', 'capture is ALWAYS again');
is($node->safe_psql('postgres', $state), 'false -', 'and not reported as broken');
isnt($node->safe_psql('postgres', $check), '0/0', 'the writes made in single-user mode were not captured');
($n, $err) = refresh('postgres', 'msgs_daily');
like($err, qr/capture triggers of rollup "public.msgs_daily" changed with no recompute logged/,
	'the refresh says the capture triggers changed behind its back');
is($node->safe_psql('postgres', $check), '0/0', 'and recomputes: the rollup equals a fresh GROUP BY of the source');
is($node->safe_psql('postgres', $bypasses), '1', 'counted in nadia_bgw.rollup.capture_bypasses');
($n, $err) = refresh('postgres', 'msgs_daily');
unlike($err, qr/no recompute logged/, 'the next refresh does not find it again');
is($node->safe_psql('postgres', $bypasses), '1', 'nor count it again');
resume_worker();

# --- VACUUM FREEZE and VACUUM FULL of pg_trigger: the raw xmin stays
my $xmins = q{SELECT string_agg(xmin::text, ',' ORDER BY oid) FROM pg_trigger WHERE tgname LIKE 'zz_nadia_bgw_rollup_%'};
refresh('postgres', 'msgs_daily');    # the hot bucket the restart left to recompute
($n, $err) = refresh('postgres', 'msgs_daily');
is("$n $err", '0 ', 'a refresh with nothing changed recomputes nothing');
my $before = $node->safe_psql('postgres', $xmins);
$node->safe_psql('postgres', 'VACUUM (FREEZE) pg_catalog.pg_trigger');
is($node->safe_psql('postgres', $xmins), $before, 'VACUUM FREEZE pg_trigger keeps the raw xmin');
($n, $err) = refresh('postgres', 'msgs_daily');
is("$n $err", '0 ', 'no recompute after VACUUM FREEZE pg_trigger');
$node->safe_psql('postgres', 'VACUUM (FULL) pg_catalog.pg_trigger');
($n, $err) = refresh('postgres', 'msgs_daily');
is("$n $err", '0 ', 'no recompute after VACUUM FULL pg_trigger');
ok(wake($node), 'a worker cycle ran');
is($node->safe_psql('postgres', $bypasses), '1', 'nor in the worker\'s refresh');

# --- a superuser's UPDATE of pg_trigger (no DDL at all), and the worker's
# refresh (not refresh_rollup()) finds it
$node->safe_psql('postgres', "UPDATE pg_catalog.pg_trigger SET tgenabled = 'D' WHERE tgname = '$trig'");
$node->safe_psql('postgres', $writes);
$node->safe_psql('postgres', "UPDATE pg_catalog.pg_trigger SET tgenabled = 'A' WHERE tgname = '$trig'");
my $log = -s $node->logfile;
ok(wake($node), 'a worker cycle ran');
is($node->safe_psql('postgres', $check), '0/0', 'pg_trigger edited by hand: the worker recomputed');
is(log_count($node, qr/WARNING:.*capture triggers of rollup "public.msgs_daily" changed/, $log), 1,
	'with one warning in the server log');

# --- the same with event_triggers = off (17+)
SKIP:
{
	skip 'event_triggers is a setting from PostgreSQL 17 on', 3
	  if $node->safe_psql('postgres', q{SELECT current_setting('server_version_num')::int < 170000}) eq 't';
	$node->safe_psql('postgres', qq{
		SET event_triggers = off;
		ALTER TABLE msgs DISABLE TRIGGER $trig;
		$writes
		ALTER TABLE msgs ENABLE ALWAYS TRIGGER $trig;
	});
	isnt($node->safe_psql('postgres', $check), '0/0', 'event_triggers = off: the writes were not captured');
	($n, $err) = refresh('postgres', 'msgs_daily');
	like($err, qr/changed with no recompute logged/, 'the refresh notices');
	is($node->safe_psql('postgres', $check), '0/0', 'and the rollup is exact');
}

# --- DDL the event triggers see is not counted twice: DISABLE, writes,
# ENABLE logs one full recompute, quietly
$node->safe_psql('postgres', "ALTER TABLE msgs DISABLE TRIGGER $trig");
$node->safe_psql('postgres', $writes);
($n, $err) = refresh('postgres', 'msgs_daily');
unlike($err, qr/no recompute logged/, 'a refresh while capture is disabled (the event trigger saw it) does not warn');
$node->safe_psql('postgres', "ALTER TABLE msgs ENABLE TRIGGER $trig");
($n, $err) = refresh('postgres', 'msgs_daily');
unlike($err, qr/no recompute logged/, 'nor after the event trigger logged the recompute');
is($node->safe_psql('postgres', $check), '0/0', 'exact');

# ... but capture disabled online and enabled again offline is
$node->safe_psql('postgres', "ALTER TABLE msgs DISABLE TRIGGER $trig");
refresh('postgres', 'msgs_daily');
$node->safe_psql('postgres', $writes);
single_user("ALTER TABLE msgs ENABLE ALWAYS TRIGGER $trig\n");
isnt($node->safe_psql('postgres', $check), '0/0', 'disabled online, enabled in single-user mode: writes missed');
($n, $err) = refresh('postgres', 'msgs_daily');
is($node->safe_psql('postgres', $check), '0/0', 'disabled online, enabled in single-user mode: exact');
is($node->safe_psql('postgres', q{SELECT count(*) FROM nadia_bgw.rollup_capture_gap}), '0',
	'and the gap the event trigger remembered is closed');

# --- a partitioned source: a new partition costs no recompute, a table
# attached with rows in it is recomputed, and capture disabled offline on a
# partition made since the last refresh is noticed.  (Partitioned by value,
# so that every row is days old: below the threshold, where only the log
# tells the refresh what changed.)
$node->safe_psql('postgres', q{
	CREATE TABLE parted (v integer NOT NULL, at timestamptz NOT NULL) PARTITION BY RANGE (v);
	CREATE TABLE parted_a PARTITION OF parted FOR VALUES FROM (0) TO (100);
	INSERT INTO parted SELECT i, now() - i * interval '1 day' FROM generate_series(1, 5) i;
	SELECT nadia_bgw.create_rollup(name => 'parted_daily', source => 'parted', time_column => 'at',
	    bucket => '1 day', timezone => 'UTC', aggregates => ARRAY['sum(v) AS s']);
});
my $pcheck = q{SELECT missing || '/' || extra FROM nadia_bgw.rollup_check('parted_daily')};
refresh('postgres', 'parted_daily');
refresh('postgres', 'parted_daily');
$node->safe_psql('postgres', q{CREATE TABLE parted_b PARTITION OF parted FOR VALUES FROM (100) TO (200)});
($n, $err) = refresh('postgres', 'parted_daily');
is("$n $err", '0 ', 'CREATE TABLE ... PARTITION OF: no recompute');
$node->safe_psql('postgres', q{
	CREATE TABLE parted_c (v integer NOT NULL, at timestamptz NOT NULL);
	INSERT INTO parted_c VALUES (250, now() - interval '3 days'), (260, now() - interval '5 days');
	ALTER TABLE parted ATTACH PARTITION parted_c FOR VALUES FROM (200) TO (300);
});
isnt($node->safe_psql('postgres', $pcheck), '0/0', 'ATTACH PARTITION brought rows capture never saw');
refresh('postgres', 'parted_daily');
is($node->safe_psql('postgres', $pcheck), '0/0', 'recomputed: exact');
my $ptrig = $node->safe_psql('postgres',
	q{SELECT tgname FROM pg_trigger WHERE tgrelid = 'parted'::regclass AND tgname ~ '^zz_nadia_bgw_rollup_\d+$'});
$node->safe_psql('postgres', q{CREATE TABLE parted_d PARTITION OF parted FOR VALUES FROM (300) TO (400)});
$out = single_user("ALTER TABLE parted_d DISABLE TRIGGER $ptrig\n"
	  . "INSERT INTO parted VALUES (350, now() - interval '2 days')\n"
	  . "ALTER TABLE parted_d ENABLE ALWAYS TRIGGER $ptrig\n");
unlike($out, qr/ERROR/, 'single-user: DISABLE/ENABLE on a partition made since the last refresh')
  or diag($out);
isnt($node->safe_psql('postgres', $pcheck), '0/0', 'the row written meanwhile was not captured');
refresh('postgres', 'parted_daily');
is($node->safe_psql('postgres', $pcheck), '0/0', 'noticed and recomputed: exact');

# TRUNCATE of one partition fires none of our triggers (statement-level
# triggers are not cloned onto partitions), with event triggers on or off
is($node->safe_psql('postgres', q{SELECT count(*) > 0 FROM parted_a}), 't', 'partition a has rows');
$node->safe_psql('postgres', 'TRUNCATE parted_a');
isnt($node->safe_psql('postgres', $pcheck), '0/0', 'TRUNCATE of a partition: capture saw nothing');
($n, $err) = refresh('postgres', 'parted_daily');
like($err, qr/partition public\.parted_a rewritten/, 'the refresh notices the new relfilenode');
is($node->safe_psql('postgres', $pcheck), '0/0', 'TRUNCATE of a partition: recomputed, exact');
($n, $err) = refresh('postgres', 'parted_daily');
is("$n $err", '0 ', 'and the next refresh recomputes nothing');

# --- the update from 1.0 records existing rollups' capture: no recompute
# from it, and a change after it is noticed
$node->safe_psql('postgres', 'CREATE DATABASE upd');
$node->safe_psql('upd', q{
	CREATE EXTENSION nadia_bgw VERSION '1.0';
	CREATE TABLE t1 (at timestamptz NOT NULL, v integer);
	INSERT INTO t1 SELECT now() - i * interval '1 day', i FROM generate_series(1, 5) i;
	SELECT nadia_bgw.create_rollup(name => 't1_daily', source => 't1', time_column => 'at',
	    bucket => '1 day', timezone => 'UTC', aggregates => ARRAY['sum(v) AS s']);
	SELECT nadia_bgw.refresh_rollup('t1_daily');
	ALTER EXTENSION nadia_bgw UPDATE;
});
is($node->safe_psql('upd', q{SELECT capture_seen IS NOT NULL AND capture_seen <> '{}' FROM nadia_bgw.rollup}),
	't', 'the update recorded the existing rollup\'s capture triggers');
($n, $err) = refresh('upd', 't1_daily');
is("$n $err", '0 ', 'and its first refresh after the update recomputes nothing');
my $t1trig = $node->safe_psql('upd',
	q{SELECT tgname FROM pg_trigger WHERE tgrelid = 't1'::regclass AND tgname ~ '^zz_nadia_bgw_rollup_\d+$'});
$node->safe_psql('upd', "UPDATE pg_catalog.pg_trigger SET tgenabled = 'D' WHERE tgname = '$t1trig'");
$node->safe_psql('upd', q{INSERT INTO t1 VALUES (now() - interval '3 days', 100)});
$node->safe_psql('upd', "UPDATE pg_catalog.pg_trigger SET tgenabled = 'A' WHERE tgname = '$t1trig'");
refresh('upd', 't1_daily');
is($node->safe_psql('upd', q{SELECT missing || '/' || extra FROM nadia_bgw.rollup_check('t1_daily')}),
	'0/0', 'a change after the update is noticed: exact');

$node->stop;
done_testing();
