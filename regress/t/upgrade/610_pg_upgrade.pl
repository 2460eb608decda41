# 610_pg_upgrade.pl -- pg_upgrade of a cluster that preloads nadia_bgw and
# holds history, a rollup and an alert, from the PostgreSQL installation in
# NADIA_OLD_INSTALL to the one in NADIA_NEW_INSTALL (each with nadia_bgw
# built for it; regress/run-tests.sh runs this for each pair of consecutive
# versions of PG_CONFIGS).  After the upgrade: the worker runs (a new
# process, cycling), every history row, the rollup and the alert are
# there, the rollup still equals its full query, and the first sample is a
# clean baseline: the deltas recorded after the upgrade are exactly the
# activity generated after it, never the old cluster's counters against
# the new one's.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NadiaTest;
use NadiaAlerts;
use NadiaUpgrade;

my $old_inst = $ENV{NADIA_OLD_INSTALL} or die "NADIA_OLD_INSTALL is not set";
my $new_inst = $ENV{NADIA_NEW_INSTALL} or die "NADIA_NEW_INSTALL is not set";

# data checksums on both sides: 18's initdb turns them on by default and
# pg_upgrade wants old and new to agree
my $old = PostgreSQL::Test::Cluster->new('old', install_path => $old_inst);
$old->init(extra => ['--data-checksums']);
$old->append_conf('postgresql.conf', "nadia_bgw.interval = 3600\n");
$old->start;
my $old_version = $old->safe_psql('postgres', 'SHOW server_version_num');

# pg_upgrade restores every column's options (attoptions): an option its
# successor does not know makes the upgrade of any cluster fail, whatever
# the extensions.  Debian's PostgreSQL 15.20 package (15.20-0+deb12u1) adds
# "pg_attver=N" to every column it creates, which 17 rejects
# ("unrecognized parameter"), so a plain 15.20 cluster without nadia_bgw
# cannot be pg_upgraded either.  That is not what this test is about: the
# option is stripped from the old catalog just before pg_upgrade (see
# strip_unknown_attoptions below and docs/operations.md), said in the log.
$old->safe_psql('postgres', 'CREATE TABLE public.plain_probe (a integer)');
my $invented = $old->safe_psql('postgres',
	q{SELECT coalesce(string_agg(o, ','), '') FROM pg_attribute, unnest(attoptions) o
	   WHERE attrelid = 'public.plain_probe'::regclass AND attnum > 0});
diag("the old server gives a plain column the options '$invented': stripped before pg_upgrade")
  if $invented ne '';

$old->safe_psql('postgres', 'CREATE EXTENSION pg_stat_statements');
$old->safe_psql('postgres', 'CREATE EXTENSION nadia_bgw');
wait_until($old, 'SELECT worker_pid IS NOT NULL FROM nadia_bgw.status LIMIT 1');
my $extversion = $old->safe_psql('postgres',
	q{SELECT extversion FROM pg_extension WHERE extname = 'nadia_bgw'});

# --- history, a rollup and an alert on the old cluster
nadia_data($old, 'postgres');
$old->safe_psql('postgres', q{
	CREATE TABLE public.upgrade_probe (id bigserial PRIMARY KEY, note text);
	INSERT INTO public.upgrade_probe (note) SELECT 'before ' || i FROM generate_series(1, 300) i});
my $probe = 'SELECT count(*) AS upgrade_probe FROM public.upgrade_probe WHERE id > 0';
ok(wake($old), 'a cycle ran on the old cluster');
$old->safe_psql('postgres', $probe) for 1 .. 7;
add_interactions($old, 'postgres', 400, 2);
ok(wake($old), 'another cycle ran on the old cluster');
reload_conf($old, "nadia_bgw.debug_alert = 'upgrade:warning:10:2'");
ok(wake_until($old, q{EXISTS (SELECT 1 FROM nadia_bgw.alerts WHERE alert_key = 'debug:upgrade')}),
	'an alert opened on the old cluster');
$old->safe_psql('postgres', $probe) for 1 .. 5;
$old->safe_psql('postgres', 'SELECT nadia_bgw.take_sample()');

cmp_ok($old->safe_psql('postgres', 'SELECT count(*) FROM nadia_bgw.statement_samples'),
	'>', 0, 'statement history on the old cluster');
cmp_ok($old->safe_psql('postgres', 'SELECT count(*) FROM nadia_bgw.table_samples'),
	'>', 0, 'table history on the old cluster');
cmp_ok($old->safe_psql('postgres', 'SELECT count(*) FROM nadia_bgw.database_samples'),
	'>', 0, 'database history on the old cluster');
is($old->safe_psql('postgres',
	q{SELECT missing || '/' || extra FROM nadia_bgw.rollup_check('dashboard_daily_metrics')}),
	'0/0', 'the rollup equals its full query on the old cluster');

my $old_pid = $old->safe_psql('postgres', 'SELECT DISTINCT worker_pid FROM nadia_bgw.status');
my $before = holdings($old, 'postgres');
my @parts = partition_names($old, 'postgres');
my $last_sample = $old->safe_psql('postgres', 'SELECT max(sample_id) FROM nadia_bgw.samples');
my $old_end = $old->safe_psql('postgres', 'SELECT clock_timestamp()');
strip_unknown_attoptions($old) if $invented ne '';
$old->stop;

# --- pg_upgrade, with nadia_bgw preloaded on both sides (TEMP_CONFIG)
my $new = PostgreSQL::Test::Cluster->new('new', install_path => $new_inst);
$new->init(extra => ['--data-checksums']);
$new->append_conf('postgresql.conf', "nadia_bgw.interval = 3600\n");
my $new_version = $new->config_data('--version');
note("pg_upgrade from $old_version to $new_version");
# pg_upgrade writes its logs into the current directory on 15-
chdir $new->basedir;
$new->command_ok(
	[
		'pg_upgrade', '--no-sync',
		'-d', $old->data_dir, '-D', $new->data_dir,
		'-b', "$old_inst/bin", '-B', "$new_inst/bin",
		'-s', $new->host, '-p', $old->port, '-P', $new->port,
		'--copy'
	],
	'pg_upgrade succeeds');
# (the node's command_ok returns nothing on some versions: ask Test::More)
my $upgraded = (Test::More->builder->summary)[-1];
if (!$upgraded)
{
	# pg_upgrade's own logs say why; there is no new cluster to test
	for my $f (glob($new->data_dir . '/pg_upgrade_output.d/*/log/*'), glob($new->basedir . '/*.log'))
	{
		diag("--- $f\n" . slurp_file($f));
	}
	done_testing();
	exit;
}
# the new server starts paused (nadia_bgw.enabled = off), so that what the
# upgrade carried across can be compared row for row before the worker
# adds to it; it is enabled below
$new->append_conf('postgresql.conf', "nadia_bgw.enabled = off\n");
my $offset = 0;
$new->start;
is($new->safe_psql('postgres', 'SHOW server_version_num') > $old_version, 1,
	'the new cluster runs a newer major');

# --- the worker is back, as a new process, and cycles
wait_until($new, 'SELECT worker_pid IS NOT NULL FROM nadia_bgw.status LIMIT 1');
my $new_pid = $new->safe_psql('postgres', 'SELECT DISTINCT worker_pid FROM nadia_bgw.status');
is($new_pid, worker_pid($new), 'status shows the running worker');
is($new->safe_psql('postgres',
	"SELECT DISTINCT worker_started_at > '$old_end' FROM nadia_bgw.status"),
	't', 'the worker is a process started after the upgrade');
is($new->safe_psql('postgres',
	q{SELECT extversion FROM pg_extension WHERE extname = 'nadia_bgw'}),
	$extversion, 'the extension version is kept');

# --- everything held before is there
compare_holdings($before, holdings($new, 'postgres'), 'after pg_upgrade');
is(join(',', partition_names($new, 'postgres')), join(',', @parts),
	'the same history partitions are registered');
is($new->safe_psql('postgres',
	q{SELECT missing || '/' || extra FROM nadia_bgw.rollup_check('dashboard_daily_metrics')}),
	'0/0', 'the rollup still equals its full query');
is($new->safe_psql('postgres',
	q{SELECT state FROM nadia_bgw.alerts WHERE alert_key = 'debug:upgrade'}),
	'open', 'the alert is still open');

# --- the first sample is a baseline, the next ones hold what happened since
my $cycles = status_of($new, 'heartbeat', 'cycles');
reload_conf($new, 'nadia_bgw.enabled = on');
ok(wake_until($new, q{(SELECT worker_state = 'running' FROM nadia_bgw.status LIMIT 1)}),
	'the worker runs its tasks once enabled');
ok(wake($new), 'a cycle ran after the upgrade');
cmp_ok(status_of($new, 'heartbeat', 'cycles'), '>', $cycles, 'the cycle count moved');
is($new->safe_psql('postgres',
	q{SELECT string_agg(task || ': ' || coalesce(last_error, outcome), ', ' ORDER BY task)
	    FROM nadia_bgw.status WHERE outcome = 'error'}),
	'', 'no task failed after the upgrade');
my $first = $new->safe_psql('postgres',
	"SELECT min(sample_id) FROM nadia_bgw.samples WHERE sample_id > $last_sample");
ok($first ne '', 'the worker sampled after the upgrade');
is($new->safe_psql('postgres', qq{
	SELECT string_agg(s.source, ',' ORDER BY s.source)
	  FROM unnest(ARRAY['cluster', 'databases', 'indexes', 'plans', 'statements', 'tables']) s(source)
	 WHERE NOT EXISTS (SELECT 1 FROM nadia_bgw.stats_events e
	                    WHERE e.sample_id = $first AND e.source = s.source AND e.kind = 'state_lost')}),
	'', 'the first sample after the upgrade records lost state for every delta source');
is($new->safe_psql('postgres', qq{
	SELECT string_agg(source, ',' ORDER BY source) FROM nadia_bgw.stats_events
	 WHERE sample_id = $first AND kind = 'state_lost'
	   AND details->>'reason' LIKE 'other cluster%'}),
	'cluster,databases,indexes,plans,statements,tables',
	'each says its baseline belonged to another cluster');
is($new->safe_psql('postgres', qq{
	SELECT (SELECT count(*) FROM nadia_bgw.statement_samples x, nadia_bgw.samples s
	         WHERE s.sample_id = $first AND x.sampled_at = s.sampled_at)
	     + (SELECT count(*) FROM nadia_bgw.table_samples x, nadia_bgw.samples s
	         WHERE s.sample_id = $first AND x.sampled_at = s.sampled_at)
	     + (SELECT count(*) FROM nadia_bgw.database_samples x, nadia_bgw.samples s
	         WHERE s.sample_id = $first AND x.sampled_at = s.sampled_at)
	     + (SELECT count(*) FROM nadia_bgw.cluster_samples x, nadia_bgw.samples s
	         WHERE s.sample_id = $first AND x.sampled_at = s.sampled_at)}),
	'0', 'the first sample after the upgrade is a baseline: no deltas');

# known activity after the baseline
my $inserted = 40 + int(rand(40));
my $calls = 3 + int(rand(5));
$new->safe_psql('postgres',
	"INSERT INTO public.upgrade_probe (note) SELECT 'after ' || i FROM generate_series(1, $inserted) i");
$new->safe_psql('postgres', $probe) for 1 .. $calls;
add_interactions($new, 'postgres', 100, 1);
ok(wake($new), 'a cycle ran after the activity');
$new->safe_psql('postgres', 'SELECT nadia_bgw.take_sample()');

is($new->safe_psql('postgres', qq{
	SELECT coalesce(sum(x.n_tup_ins), 0) FROM nadia_bgw.table_samples x
	 WHERE x.relid = 'public.upgrade_probe'::regclass
	   AND x.sampled_at >= (SELECT sampled_at FROM nadia_bgw.samples WHERE sample_id = $first)}),
	$inserted, 'table deltas after the upgrade are the rows inserted after it');
is($new->safe_psql('postgres', qq{
	SELECT coalesce(sum(x.calls), 0) FROM nadia_bgw.statement_samples x
	  JOIN nadia_bgw.statements st USING (stmt_id)
	 WHERE st.query LIKE '%AS upgrade_probe FROM%'
	   AND x.sampled_at >= (SELECT sampled_at FROM nadia_bgw.samples WHERE sample_id = $first)}),
	$calls, 'statement deltas after the upgrade are the calls made after it');
is($new->safe_psql('postgres', qq{
	SELECT count(*) FROM nadia_bgw.database_samples x
	  JOIN pg_stat_database d ON d.datid = x.datid
	 WHERE x.sampled_at >= (SELECT sampled_at FROM nadia_bgw.samples WHERE sample_id = $first)
	 GROUP BY d.xact_commit, d.tup_inserted, d.blks_hit
	HAVING sum(x.xact_commit) > d.xact_commit OR sum(x.tup_inserted) > d.tup_inserted
	    OR sum(x.blks_hit) > d.blks_hit OR min(least(x.xact_commit, x.tup_inserted, x.blks_hit)) < 0}),
	'', 'database deltas after the upgrade are never negative nor more than the new cluster counted');
cmp_ok($new->safe_psql('postgres', qq{
	SELECT count(*) FROM nadia_bgw.database_samples x, nadia_bgw.samples s
	 WHERE s.sample_id > $first AND x.sampled_at = s.sampled_at}),
	'>', 0, 'database deltas are recorded again after the baseline');
is($new->safe_psql('postgres',
	q{SELECT missing || '/' || extra FROM nadia_bgw.rollup_check('dashboard_daily_metrics')}),
	'0/0', 'the worker keeps the rollup exact after the upgrade');
is($new->safe_psql('postgres', 'SELECT DISTINCT worker_pid FROM nadia_bgw.status'),
	$new_pid, 'the same worker process served every cycle');
is(log_count($new, qr/nadia_bgw.*(ERROR|FATAL|PANIC):|(ERROR|FATAL|PANIC):.*nadia_bgw/, $offset), 0,
	'no nadia_bgw error in the new cluster\'s log');

$new->stop;
done_testing();

# strip_unknown_attoptions(NODE): remove the "pg_attver" column option that
# Debian's 15.20 package invents (see above) from every database of NODE,
# a catalog update that only a superuser's test cluster should see
sub strip_unknown_attoptions
{
	my ($node) = @_;
	for my $db (split /\n/,
		$node->safe_psql('postgres', 'SELECT datname FROM pg_database WHERE datallowconn'))
	{
		$node->safe_psql($db, q{
			UPDATE pg_catalog.pg_attribute
			   SET attoptions = nullif(ARRAY(SELECT o FROM unnest(attoptions) o
			                                  WHERE o NOT LIKE 'pg_attver=%'), '{}')
			 WHERE EXISTS (SELECT 1 FROM unnest(attoptions) o WHERE o LIKE 'pg_attver=%')});
		is($node->safe_psql($db, q{SELECT count(*) FROM pg_catalog.pg_attribute
			 WHERE EXISTS (SELECT 1 FROM unnest(attoptions) o WHERE o LIKE 'pg_attver=%')}),
			'0', "no column of database $db keeps the invented option");
	}
}

