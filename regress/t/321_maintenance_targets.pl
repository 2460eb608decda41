# 321_maintenance_targets.pl -- a maintenance job acts on what it was given
# and nothing else.
#
# The speed-up signal (SIGUSR2) reaches only the job worker the
# maintenance task started for that job, found through its
# background-worker handle, never whatever process has the pid written in
# nadia_bgw.maintenance_history.
#
# Two VACUUM jobs are held before their statement (they take signals
# there).  The row of the job that falls behind is given the other job's
# pid, as after a pid reuse (or a write to the table): the process with
# that pid must not be signalled, the job's own worker must.  Each job
# logs how many times its cost limit was raised and records the limit it
# ended with.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NadiaTest;
use NadiaMaint;

my $node = nadia_node('maint_signal', conf => <<'CONF');
nadia_bgw.interval = 3600
autovacuum = off
nadia_bgw.maintenance_cooldown = 0
nadia_bgw.maintenance_duty_cycle = 1
nadia_bgw.maintenance_max_concurrent = 2
nadia_bgw.maintenance_max_jobs_per_cycle = 2
CONF

sub sql { return $node->safe_psql('postgres', $_[0]); }

make_table($node, 'hot', 20000);
make_table($node, 'bystander', 20000);
sql("SELECT nadia_bgw.set_maintenance('hot', vacuum_min => 1000, vacuum_ratio => 0)");
churn_rows($node, 'hot', 1, 2000);
sql('SELECT nadia_bgw.take_sample()');
sql("SELECT nadia_bgw.request_maintenance('bystander', 'vacuum', 'test')");

# both jobs start and wait before their statement
set_conf($node, 'nadia_bgw.debug_maintenance_job_delay' => '600000');
wake($node);
wait_job_held($node, $_) for qw(hot bystander);
my $hot_pid = last_job($node, 'hot', 'pid');
my $other_pid = last_job($node, 'bystander', 'pid');
isnt($hot_pid, $other_pid, 'two job workers');

# the row of the job that will fall behind names the other process
sql("UPDATE nadia_bgw.maintenance_history SET pid = $other_pid
      WHERE id = (SELECT max(id) FROM nadia_bgw.maintenance_history WHERE relname = 'hot')");
churn_rows($node, 'hot', 2001, 4000);
my $log = -s $node->logfile;
wake($node);
is(last_job($node, 'hot', 'cost_limit'), 400, 'the job that falls behind is sped up');
like(log_since($node, $log), qr/maintenance job \d+ on "hot" falls behind/, 'and it is logged');

reset_conf($node, 'nadia_bgw.debug_maintenance_job_delay');
is(wait_job_end($node, 'hot'), 'done', 'the hot job completes');
is(wait_job_end($node, 'bystander'), 'done', 'the bystander job completes');
my $ended = log_since($node, $log);
like($ended, qr/\(VACUUM \([^)]*\) public\.hot\): done, cost limit raised 1 times to 400/,
	'the signal reached the job worker of the job (its handle)');
unlike($ended, qr/public\.bystander\): done, cost limit raised/,
	'the process whose pid the row named was not signalled');
is(last_job($node, 'bystander', 'cost_limit'), 200, 'the bystander ran at its own limit');

# --- the statement is bound to the table's OID: a table renamed after the
# job was claimed, and another created under its old name (a migration),
# is not confused with the new one
make_table($node, 'swap', 5000);
sql("SELECT nadia_bgw.request_maintenance('swap', 'vacuum', 'test')");
set_conf($node, 'nadia_bgw.debug_maintenance_job_delay' => '600000');
wake($node);
wait_job_held($node, 'swap');
sql('ALTER TABLE swap RENAME TO swap_old; CREATE TABLE swap (id int)');
reset_conf($node, 'nadia_bgw.debug_maintenance_job_delay');
is(wait_job_end($node, 'swap'), 'done', 'the job completes');
is( sql("SELECT string_agg(relname || '=' || vacuum_count, ' ' ORDER BY relname)
           FROM pg_stat_user_tables WHERE relname IN ('swap', 'swap_old')"),
	'swap=0 swap_old=1', 'the planned table (renamed) was vacuumed, not the new one under its name');

$node->stop('fast');
done_testing();
