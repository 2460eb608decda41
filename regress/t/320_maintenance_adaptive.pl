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
	wait_job_held($node, $name);
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
like(log_since($node, $log), qr/maintenance job \d+ \(VACUUM \(SKIP_LOCKED, PARALLEL 0\) public\.hot\): done, cost limit raised 2 times to 800, in effect 800$/m,
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

# --- a job sped up while its VACUUM runs.  The signals above reached
# jobs held before their statement; here they reach one inside VACUUM,
# which on 16+ works on a copy of the cost limit taken when it started
# (vacuum_cost_limit).  At 1 per 100 ms the VACUUM would take many minutes
# (far past the TAP timeout); raised a few times it ends at once.  The job
# logs the limit vacuum_delay_point() used at its end ("in effect"), which
# must be the one its history row records.
make_table($node, 'slow', 150000);
sql("SELECT nadia_bgw.set_maintenance('slow', vacuum_min => 1000, vacuum_ratio => 0)");
churn('slow', 1, 75000);
sql('SELECT nadia_bgw.take_sample()');
set_conf($node, 'nadia_bgw.maintenance_cost_delay' => '100',
	'nadia_bgw.maintenance_cost_limit' => '1');
$log = -s $node->logfile;
wake($node);
wait_until($node,
	"SELECT EXISTS (SELECT 1 FROM nadia_bgw.maintenance_history h
	                  JOIN pg_stat_activity a ON a.pid = h.pid
	                 WHERE h.relname = 'slow' AND h.outcome = 'running'
	                   AND a.wait_event = 'VacuumDelay')");
my $job = last_job($node, 'slow', 'id');
is(last_job($node, 'slow', 'cost_limit'), 1, 'the VACUUM runs at maintenance_cost_limit (1)');
# falls behind: 2000 new dead tuples (> 1000) since it started
churn('slow', 75001, 77000);
sub job_col
{
	return sql("SELECT $_[0] FROM nadia_bgw.maintenance_history WHERE id = $job");
}
my $cycles = 0;
while (job_col("outcome = 'running' AND cost_limit < 10000") eq 't' && $cycles < 20)
{
	wake($node);
	$cycles++;
}
# (once done, the next cycle may plan another job on the table: this one
# is followed by its id)
wait_until($node, "SELECT outcome <> 'running' FROM nadia_bgw.maintenance_history WHERE id = $job");
is(job_col('outcome'), 'done', 'the VACUUM sped up while running completes');
my $recorded = job_col('cost_limit');
my ($in_effect) = log_since($node, $log) =~
  /maintenance job $job \(VACUUM \([^)]*\) public\.slow\): done, cost limit raised \d+ times to \d+, in effect (\d+)$/m;
ok(defined $in_effect, 'the job logs the cost limit in effect at its end');
is($recorded, $in_effect // 'none', 'the history records the cost limit that was in effect');
cmp_ok($recorded, '>', 1, 'the raises applied to the running VACUUM');
# no more jobs on it at 1 per 100 ms
sql("SELECT nadia_bgw.set_maintenance('slow', excluded => true)");
reset_conf($node, 'nadia_bgw.maintenance_cost_delay', 'nadia_bgw.maintenance_cost_limit');
wait_until($node, "SELECT current_setting('nadia_bgw.maintenance_cost_limit') = '200'");

is(log_count($node, qr/server process .* terminated by signal|PANIC/), 0, 'no crash in the log');
$node->stop('fast');
done_testing();
