# 320_maintenance_adaptive.pl -- a VACUUM job that falls behind the
# application is sped up: while the application makes more dead tuples in
# the table than its vacuum threshold since the job started, each cycle
# doubles the job's cost limit, up to maintenance_cost_limit_max, and the
# job records the limit it ended with; a job that keeps up is left at
# maintenance_cost_limit.  Also: ANALYZE is planned at most once per
# maintenance_analyze_interval (requests aside), and VACUUM jobs run with
# PARALLEL maintenance_parallel_workers.
#
# No timing is asserted: the job is held before its statement by
# debug_maintenance_job_delay (it is then "in its statement" and takes the
# signals), the churn and the cycles are driven by the test.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NadiaTest;
use NadiaMaint;

my $node = nadia_node('maint_adaptive', conf => <<'CONF');
nadia_bgw.interval = 3600
autovacuum = off
nadia_bgw.maintenance_cooldown = 0
# jobs here are made long on purpose and followed at once by the next one:
# no duty-cycle spacing (the regress test maintenance covers it)
nadia_bgw.maintenance_duty_cycle = 1
CONF

sub sql { return $node->safe_psql('postgres', $_[0]); }

sub make_sampled_table
{
	my ($name, $rows) = @_;
	make_table($node, $name, $rows);
	sql('SELECT nadia_bgw.take_sample()');
}

sub churn { churn_rows($node, @_); }

# start the job of $name and hold it before its statement: it then waits
# in debug_delay (wait event "Extension") and takes SIGUSR2
sub start_held_job
{
	my ($name) = @_;
	set_conf($node, 'nadia_bgw.debug_maintenance_job_delay' => '600000');
	wake($node);
	wait_until($node,
		"SELECT EXISTS (SELECT 1 FROM nadia_bgw.maintenance_history h
		                  JOIN pg_stat_activity a ON a.pid = h.pid
		                 WHERE h.relname = '$name' AND h.outcome = 'running'
		                   AND a.wait_event_type = 'Extension')");
}

# let the held job run its statement (it re-reads the setting on reload)
sub release_job
{
	reset_conf($node, 'nadia_bgw.debug_maintenance_job_delay');
}

# --- a job that falls behind: its cost limit doubles each cycle
make_sampled_table('hot', 20000);
# vacuum threshold: 1000 dead tuples
sql("SELECT nadia_bgw.set_maintenance('hot', vacuum_min => 1000, vacuum_ratio => 0)");
churn('hot', 1, 2000);
sql('SELECT nadia_bgw.take_sample()');
start_held_job('hot');
is(last_job($node, 'hot', 'cost_limit'), 200, 'the job starts at maintenance_cost_limit');
like(last_job($node, 'hot', 'statement'), qr/^VACUUM \(SKIP_LOCKED, PARALLEL 0\) public\.hot$/,
	'VACUUM runs with PARALLEL maintenance_parallel_workers (0: like autovacuum)');

# the application keeps up with the job: less than a threshold of new dead tuples
churn('hot', 2001, 2500);
my $log = -s $node->logfile;
wake($node);
is(last_job($node, 'hot', 'cost_limit'), 200, '500 new dead tuples (< 1000): not behind, limit unchanged');

# now more than a threshold of new dead tuples since the job started
churn('hot', 2501, 4000);
wake($node);
is(last_job($node, 'hot', 'cost_limit'), 400, 'behind: the cycle doubles the cost limit');
wake($node);
is(last_job($node, 'hot', 'cost_limit'), 800, 'still behind at the next cycle: doubled again');
is(log_count($node, qr/maintenance job \d+ on "hot" falls behind \(\d+ new dead tuples\): cost limit raised to 400/, $log),
	1, 'the speed-up is logged');
release_job();
is(wait_job_end($node, 'hot'), 'done', 'the sped-up job completes');
is(last_job($node, 'hot', 'cost_limit'), 800, 'the job records the cost limit it ended with (it applied both signals)');
like(log_since($node, $log), qr/maintenance job \d+ \(VACUUM \(SKIP_LOCKED, PARALLEL 0\) public\.hot\): done, cost limit raised 2 times to 800/,
	'the job logs its speed-ups');

# a job on "hot" that starts at 2000 dead tuples and falls behind (2000
# more) for $cycles cycles
sub behind_job
{
	my ($cycles) = @_;
	churn('hot', 1, 2000);
	sql('SELECT nadia_bgw.take_sample()');
	start_held_job('hot');
	churn('hot', 2001, 4000);
	wake($node) for 1 .. $cycles;
}

# --- the ceiling: maintenance_cost_limit_max
set_conf($node, 'nadia_bgw.maintenance_cost_limit_max' => '300');
behind_job(3);
is(last_job($node, 'hot', 'cost_limit'), 300, 'never past maintenance_cost_limit_max');
release_job();
is(wait_job_end($node, 'hot'), 'done', 'job done');
is(last_job($node, 'hot', 'cost_limit'), 300, 'the job ended at the ceiling');

# max = limit: never raised
set_conf($node, 'nadia_bgw.maintenance_cost_limit_max' => '200');
behind_job(2);
release_job();
is(wait_job_end($node, 'hot'), 'done', 'job done');
is(last_job($node, 'hot', 'cost_limit'), 200, 'maintenance_cost_limit_max = maintenance_cost_limit: never raised');
reset_conf($node, 'nadia_bgw.maintenance_cost_limit_max');
wait_until($node, "SELECT current_setting('nadia_bgw.maintenance_cost_limit_max') = '10000'");

# --- an ANALYZE-only job is never sped up (nor a job that keeps up)
make_sampled_table('calm', 20000);
sql("SELECT nadia_bgw.request_maintenance('calm', 'analyze', 'test')");
start_held_job('calm');
churn('calm', 1, 5000);
wake($node);
release_job();
is(wait_job_end($node, 'calm'), 'done', 'analyze done');
is(last_job($node, 'calm', 'action || \' \' || cost_limit'), 'analyze 200', 'an ANALYZE keeps its cost limit');

# --- ANALYZE at most once per maintenance_analyze_interval (default 5 min)
make_sampled_table('fresh', 20000);    # just analyzed
churn('fresh', 1, 5000);
sql('SELECT nadia_bgw.take_sample()');
is( sql("SELECT action || ' | ' || reason FROM nadia_bgw.maintenance_plan WHERE relname = 'fresh'"),
	'vacuum | dead tuples 5000 > 2000',
	'analyzed less than maintenance_analyze_interval ago: vacuum only, though the changes pass the threshold');
sql("SELECT nadia_bgw.request_maintenance('fresh', 'analyze', 'asked')");
like(sql("SELECT action FROM nadia_bgw.maintenance_plan WHERE relname = 'fresh'"),
	qr/^vacuum analyze$/, 'a request is served regardless');
sql("DELETE FROM nadia_bgw.maintenance_requests");
set_conf($node, 'nadia_bgw.maintenance_analyze_interval' => '0');
like(sql("SELECT action || ' | ' || reason FROM nadia_bgw.maintenance_plan WHERE relname = 'fresh'"),
	qr/^vacuum analyze \| dead tuples 5000 > 2000; changes since analyze 5000 > 2000$/,
	'maintenance_analyze_interval = 0: analyzed with the vacuum');
reset_conf($node, 'nadia_bgw.maintenance_analyze_interval');

is(log_count($node, qr/server process .* terminated by signal|PANIC/), 0, 'no crash in the log');
$node->stop('fast');
done_testing();
