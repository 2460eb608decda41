# 600_extension_update.pl -- ALTER EXTENSION nadia_bgw UPDATE on an install
# of the released 1.0 that holds history, a rollup and an alert, with the
# worker running: the update reaches the default version, builds the same
# schema as a fresh install, keeps every row (no table is dropped and
# recreated), and the worker goes on cycling without a restart.  Plan
# history (1.1) is skipped without an error on 1.0 and starts after the
# update.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NadiaTest;
use NadiaAlerts;
use NadiaUpgrade;

my $node = nadia_node('ext_update', conf => "nadia_bgw.interval = 3600\n",
	extension => 0);
my $default = $node->safe_psql('postgres',
	q{SELECT default_version FROM pg_available_extensions WHERE name = 'nadia_bgw'});
isnt($default, '1.0', "the default version ($default) is newer than 1.0");

# --- the released 1.0, with history, a rollup and an alert
$node->safe_psql('postgres', 'CREATE EXTENSION pg_stat_statements');
$node->safe_psql('postgres', q{CREATE EXTENSION nadia_bgw VERSION '1.0'});
is($node->safe_psql('postgres',
	q{SELECT extversion FROM pg_extension WHERE extname = 'nadia_bgw'}),
	'1.0', 'version 1.0 installed');
wait_until($node, 'SELECT worker_pid IS NOT NULL FROM nadia_bgw.status LIMIT 1');

nadia_data($node, 'postgres');
ok(wake($node), 'a cycle ran on 1.0');
add_interactions($node, 'postgres', 500, 3);
$node->safe_psql('postgres', 'SELECT count(*) FROM public.interactions WHERE user_id = 3');
$node->safe_psql('postgres', 'SELECT nadia_bgw.take_sample()');
reload_conf($node, "nadia_bgw.debug_alert = 'update:warning:10:2'");
ok(wake_until($node, q{EXISTS (SELECT 1 FROM nadia_bgw.alerts WHERE alert_key = 'debug:update')}),
	'an alert opened on 1.0');
$node->safe_psql('postgres', 'SELECT count(*) FROM public.interactions WHERE user_id = 4');
ok(wake($node), 'another cycle ran on 1.0');

# it really holds history, or the checks below would prove nothing
cmp_ok($node->safe_psql('postgres', 'SELECT count(*) FROM nadia_bgw.samples'),
	'>=', 3, 'samples taken on 1.0');
cmp_ok($node->safe_psql('postgres', 'SELECT count(*) FROM nadia_bgw.statement_samples'),
	'>', 0, 'statement history on 1.0');
cmp_ok($node->safe_psql('postgres', 'SELECT count(*) FROM nadia_bgw.table_samples'),
	'>', 0, 'table history on 1.0');
cmp_ok($node->safe_psql('postgres', 'SELECT count(*) FROM nadia_bgw.history_partitions'),
	'>', 0, 'history partitions made on 1.0');
is($node->safe_psql('postgres',
	q{SELECT missing || '/' || extra FROM nadia_bgw.rollup_check('dashboard_daily_metrics')}),
	'0/0', 'the rollup equals its full query on 1.0');
cmp_ok($node->safe_psql('postgres', 'SELECT count(*) FROM public.dashboard_daily_metrics'),
	'>', 1, 'the rollup has rows');

# the library's plans source has no tables in a 1.0 schema: skipped, not failed
is($node->safe_psql('postgres', q{
	SELECT string_agg(DISTINCT (outcome->>'plans') || ' / ' || failed_sources::text, '; ')
	  FROM nadia_bgw.samples}),
	'skipped: the extension\'s schema has no plan history (ALTER EXTENSION nadia_bgw UPDATE) / {}',
	'on 1.0 the plans source is skipped without an error');

my $pid = $node->safe_psql('postgres', 'SELECT DISTINCT worker_pid FROM nadia_bgw.status');
my $started = $node->safe_psql('postgres', 'SELECT DISTINCT worker_started_at FROM nadia_bgw.status');
my $cycles = status_of($node, 'heartbeat', 'cycles');
my $nsamples = $node->safe_psql('postgres', 'SELECT count(*) FROM nadia_bgw.samples');
my $before = holdings($node, 'postgres');
my @parts = partition_names($node, 'postgres');

# --- the update, with the worker running
my $offset = -s $node->logfile;
$node->safe_psql('postgres', 'ALTER EXTENSION nadia_bgw UPDATE');
is($node->safe_psql('postgres',
	q{SELECT extversion FROM pg_extension WHERE extname = 'nadia_bgw'}),
	$default, 'updated to the default version');

# --- every row, table and partition is still there (1.1 registers history
# tables of its own: plan history, sql/1.1/90_plans.sql, column
# distributions, 98_distribution.sql; the rows naming tables 1.0 did not
# have are the update's)
my $registered_by_update = grep { !exists $before->{$_} } split /\n/,
  $node->safe_psql('postgres', 'SELECT parent::text FROM nadia_bgw.history_tables');
$before->{'nadia_bgw.history_tables'} =~ s/(\d+) rows$/($1 + $registered_by_update) . ' rows'/e;
compare_holdings($before, holdings($node, 'postgres'), 'after the update');
is(join(',', partition_names($node, 'postgres')), join(',', @parts),
	'the same history partitions are registered');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM nadia_bgw.history_partitions h
	 WHERE NOT EXISTS (SELECT 1 FROM pg_inherits i
	                    WHERE i.inhrelid = h.child AND i.inhparent = h.parent)}),
	'0', 'every registered partition is still attached to its parent');
is($node->safe_psql('postgres',
	q{SELECT missing || '/' || extra FROM nadia_bgw.rollup_check('dashboard_daily_metrics')}),
	'0/0', 'the rollup still equals its full query');
is($node->safe_psql('postgres',
	q{SELECT state FROM nadia_bgw.alerts WHERE alert_key = 'debug:update'}),
	'open', 'the alert is still open');

# --- the same schema as a fresh install in another database
$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('fresh', 'CREATE EXTENSION nadia_bgw');
is($node->safe_psql('fresh',
	q{SELECT extversion FROM pg_extension WHERE extname = 'nadia_bgw'}),
	$default, 'a fresh install has the default version');
my @updated = schema_entries($node, 'postgres', @parts);
my @fresh = schema_entries($node, 'fresh');
cmp_ok(scalar @fresh, '>', 100, 'the dump spells out the extension\'s objects');
my %in_fresh = map { $_ => 1 } @fresh;
my %in_updated = map { $_ => 1 } @updated;
my @only_updated = grep { !$in_fresh{$_} } @updated;
my @only_fresh = grep { !$in_updated{$_} } @fresh;
is(scalar @only_updated + scalar @only_fresh, 0,
	'the updated schema equals a fresh install')
  or diag("only in the updated database:\n" . join("\n", @only_updated)
	  . "\nonly in the fresh database:\n" . join("\n", @only_fresh));

# --- the worker goes on: same process, more cycles, every task fine
ok(wake($node), 'a cycle ran after the update');
add_interactions($node, 'postgres', 200, 2);
ok(wake($node), 'another cycle ran after the update');
is($node->safe_psql('postgres', 'SELECT DISTINCT worker_pid FROM nadia_bgw.status'),
	$pid, 'the worker was not restarted');
is($node->safe_psql('postgres', 'SELECT DISTINCT worker_started_at FROM nadia_bgw.status'),
	$started, 'worker start time unchanged');
cmp_ok(status_of($node, 'heartbeat', 'cycles'), '>=', $cycles + 2, 'the cycle count moved');
is($node->safe_psql('postgres',
	q{SELECT string_agg(task || ': ' || coalesce(last_error, outcome), ', ' ORDER BY task)
	    FROM nadia_bgw.status WHERE outcome = 'error'}),
	'', 'no task failed after the update');
is($node->safe_psql('postgres',
	q{SELECT missing || '/' || extra FROM nadia_bgw.rollup_check('dashboard_daily_metrics')}),
	'0/0', 'the worker keeps the rollup exact after the update');
cmp_ok($node->safe_psql('postgres', 'SELECT count(*) FROM nadia_bgw.samples'),
	'>=', $nsamples + 2, 'the worker sampled after the update');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM nadia_bgw.stats_events
	 WHERE kind = 'state_lost' AND sampled_at > (SELECT max(sampled_at) FROM nadia_bgw.samples) - interval '1 hour'
	   AND sample_id > (SELECT max(sample_id) - 2 FROM nadia_bgw.samples)}),
	'0', 'the samples after the update continued from the last-seen values');
# plan history starts with the update: the first sample after it takes
# the baseline (a plans row per plan of the store), the next one deltas
is($node->safe_psql('postgres', q{
	SELECT (SELECT count(*) FROM nadia_bgw.plans) > 0,
	       (SELECT count(*) FROM nadia_bgw.plan_history) > 0,
	       (SELECT initialized_at IS NOT NULL FROM nadia_bgw.source_state WHERE source = 'plans'),
	       (SELECT outcome->>'plans' FROM nadia_bgw.samples ORDER BY sample_id DESC LIMIT 1)}),
	't|t|t|ok', 'plan history starts after ALTER EXTENSION UPDATE');
is($node->safe_psql('postgres',
	q{SELECT firing_cycles > 1 AND state = 'open' FROM nadia_bgw.alerts WHERE alert_key = 'debug:update'}),
	't', 'the alert goes on being evaluated');
is(log_count($node, qr/(ERROR|FATAL|PANIC):/, $offset), 0, 'no error in the log during and after the update');

done_testing();
