# 310_maintenance_jobs.pl -- maintenance jobs never block anyone: a table
# held in ACCESS EXCLUSIVE is skipped without waiting and recorded; a
# session that needs a lock our VACUUM holds gets it (the job is
# cancelled); a table dropped between planning and execution is handled;
# a long VACUUM does not shift the worker's cycles; pg_terminate_backend
# and pg_ctl stop -m fast during a running job end it promptly, recorded.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use NadiaTest;
use NadiaMaint;

my $node = nadia_node('maint_jobs', conf => <<'CONF');
nadia_bgw.interval = 3600
autovacuum = off
deadlock_timeout = 200ms
nadia_bgw.maintenance_cooldown = 0
nadia_bgw.maintenance_max_concurrent = 2
CONF

sub sql { return $node->safe_psql('postgres', $_[0]); }

sub churn { my ($name, $n) = @_; churn_rows($node, $name, 1, $n); }

sub job_pids
{
	return sql("SELECT string_agg(pid::text, ',') FROM pg_stat_activity
	             WHERE backend_type = 'nadia_bgw maintenance'");
}

# --- ACCESS EXCLUSIVE held by another session: skipped without waiting
make_table($node, 'locked', 10000);
churn('locked', 5000);
# the sample that sees the churn is taken before the lock: the sampler
# measures the size of a table whose statistics moved, which would wait
# for the lock (the sampler's business, not this test's)
set_conf($node, 'nadia_bgw.maintenance_enabled' => 'off');
wake($node);
my $holder = $node->background_psql('postgres');
$holder->query_safe('BEGIN');
$holder->query_safe('LOCK TABLE locked IN ACCESS EXCLUSIVE MODE');
set_conf($node, 'nadia_bgw.maintenance_enabled' => 'on');
wake($node);
is(wait_job_end($node, 'locked'), 'skipped-locked', 'locked table: job skipped');
like(last_job($node, 'locked', 'error'), qr/^55P03: skipping vacuum of "locked" --- lock not available/,
	'the skip is recorded with its reason');
is( sql("SELECT count(*) FROM pg_locks WHERE relation = 'locked'::regclass
          AND mode = 'AccessExclusiveLock' AND granted"),
	1, 'recorded while the lock is still held: the job did not wait');
is(last_job($node, 'locked', 'dead_tuples_before = dead_tuples_after'), 't', 'nothing was removed');
$holder->query_safe('COMMIT');
# skipped-locked does not count for the cooldown: retried at once
wake($node);
is(wait_job_end($node, 'locked'), 'done', 'once the lock is gone the next cycle vacuums it');

# --- a long VACUUM: slow cost settings make it last for minutes
make_table($node, 'big', 60000);
churn('big', 30000);
set_conf($node, 'nadia_bgw.maintenance_cost_delay' => '100',
	'nadia_bgw.maintenance_cost_limit' => '1');
wake($node);
wait_until($node,
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'nadia_bgw maintenance'
	    AND query LIKE 'VACUUM%big' AND wait_event = 'VacuumDelay'");
pass('a long VACUUM is running');

# an application session that needs the table gets it: the job yields
my $app = $node->background_psql('postgres');
$app->query_safe("SET lock_timeout = '60s'");
$app->query_safe('BEGIN');
$app->query_safe('LOCK TABLE big IN ACCESS EXCLUSIVE MODE');
pass('an application LOCK TABLE got through a running maintenance VACUUM');
$app->query_safe('COMMIT');
is(wait_job_end($node, 'big'), 'cancelled', 'the job yielded and is recorded as cancelled');
like(last_job($node, 'big', 'error'), qr/^57014/, 'with the cancel as its error');

# --- cycles are not shifted by a long job
set_conf($node, 'nadia_bgw.interval' => '5');
wake($node);
wait_until($node,
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'nadia_bgw maintenance'
	    AND query LIKE 'VACUUM%big'");
my $running_pid = job_pids();
# lateness of each regular cycle = its start - the time it was due
my ($cycles, $due) = split /\|/, sql('SELECT cycles, next_cycle_at FROM nadia_bgw.status LIMIT 1');
my @late;
while (@late < 3)
{
	wait_until($node, "SELECT cycles > $cycles FROM nadia_bgw.status LIMIT 1");
	my ($c, $start, $next, $lateness) = split /\|/, sql(
		"SELECT cycles, last_cycle_start, next_cycle_at,
		        extract(epoch FROM last_cycle_start - '$due'::timestamptz)
		   FROM nadia_bgw.status LIMIT 1");
	push @late, $lateness;
	($cycles, $due) = ($c, $next);
}
is(job_pids(), $running_pid, 'the same job ran throughout');
my @bad = grep { abs($_) > 0.5 } @late;
is(scalar @bad, 0,
	'cycles start within 10% of the 5 s interval of their slot while the job runs (lateness: '
	  . join(', ', map { sprintf '%.3f s', $_ } @late) . ')');
is(sql("SELECT count(*) FROM nadia_bgw.maintenance_history WHERE relname = 'big' AND outcome IN ('queued', 'running')"),
	1, 'the running table is not planned twice');
is(sql("SELECT state FROM nadia_bgw.maintenance_plan WHERE relname = 'big'"), 'running',
	'plan shows it as running');
set_conf($node, 'nadia_bgw.interval' => '3600');

# --- pg_terminate_backend of the job: recorded as cancelled
sql("SELECT pg_terminate_backend($running_pid)");
is(wait_job_end($node, 'big'), 'cancelled', 'terminated job recorded as cancelled');
like(last_job($node, 'big', 'error'), qr/terminated during the job/, 'with the reason');

# --- a table dropped between planning and execution
make_table($node, 'doomed', 10000);
churn('doomed', 5000);
reset_conf($node, 'nadia_bgw.maintenance_cost_delay', 'nadia_bgw.maintenance_cost_limit');
set_conf($node, 'nadia_bgw.debug_maintenance_job_delay' => '60000');
wake($node);
wait_until($node,
	"SELECT count(*) = 1 FROM nadia_bgw.maintenance_history WHERE relname = 'doomed' AND outcome = 'running'");
sql('DROP TABLE doomed');
reset_conf($node, 'nadia_bgw.debug_maintenance_job_delay');    # the job re-reads it on reload
is(wait_job_end($node, 'doomed'), 'skipped-dropped', 'dropped table: skipped-dropped');
like(last_job($node, 'doomed', 'error'), qr/^42P01/, 'with the error');
is(status_of($node, 'maintenance', 'outcome'), 'ok', 'maintenance task fine');
wake($node);
is(sql("SELECT count(*) FROM nadia_bgw.maintenance_plan WHERE relname = 'doomed'"), 0,
	'the dropped table leaves the plan');

# --- pg_ctl stop -m fast during a running job completes promptly
make_table($node, 'last', 60000);
churn('last', 30000);
set_conf($node, 'nadia_bgw.maintenance_cost_delay' => '100',
	'nadia_bgw.maintenance_cost_limit' => '1');
wake($node);
wait_until($node,
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'nadia_bgw maintenance'
	    AND query LIKE 'VACUUM%last' AND wait_event = 'VacuumDelay'");
my $last_id = last_job($node, 'last', 'id');
# no new job at the next start
sql('ALTER SYSTEM SET nadia_bgw.maintenance_enabled = off');
# the job would run for many minutes; pg_ctl gives up after 20 s
{
	local $ENV{PGCTLTIMEOUT} = 20;
	ok($node->stop('fast', fail_ok => 1), 'pg_ctl stop -m fast completes while a VACUUM runs');
}
$node->start;
# the job may not have recorded its own outcome before the server stopped:
# then the worker's first cycle after the start settles it; wait for that
# rather than read once (CI read 'running' here before the settle)
wait_until($node,
	"SELECT outcome NOT IN ('queued', 'running') FROM nadia_bgw.maintenance_history WHERE id = $last_id");
is(sql("SELECT outcome FROM nadia_bgw.maintenance_history WHERE id = $last_id"),
	'cancelled', 'the interrupted job is recorded as cancelled');
like(sql("SELECT error FROM nadia_bgw.maintenance_history WHERE id = $last_id"),
	qr/server shutdown/, 'with the reason');

$node->stop('fast');
done_testing();
