# 001_worker.pl -- the worker's life cycle on a primary: start, wake,
# reload, pause, error isolation, slow tasks, SIGTERM, crash restart.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NadiaTest;
use Time::HiRes qw(usleep);

# a long interval: every cycle below is one we asked for
my $node = nadia_node('worker',
	conf => "nadia_bgw.interval = 3600\nrestart_after_crash = on\n");

# --- it starts and shows itself
my $pid = worker_pid($node);
like($pid, qr/^\d+$/, 'worker is in pg_stat_activity');
is( $node->safe_psql('postgres',
		"SELECT application_name FROM pg_stat_activity WHERE pid = $pid"),
	'nadia_bgw',
	'application_name is nadia_bgw');
is($node->safe_psql('postgres', 'SELECT DISTINCT worker_pid FROM nadia_bgw.status'),
	$pid, 'status shows the worker pid');
like(slurp_file($node->logfile), qr/nadia_bgw: worker started in database "postgres"/,
	'start is logged');

# --- between cycles it waits on its own wait event (custom ones from 17 on)
my $own_events = $node->safe_psql('postgres', 'SHOW server_version_num') >= 170000;
my $idle_event = $own_events ? 'NadiaBgwMain' : 'Extension';
wait_until($node,
	"SELECT wait_event_type = 'Extension' AND wait_event = '$idle_event'"
	  . " FROM pg_stat_activity WHERE pid = $pid");
pass("between cycles the worker waits on $idle_event");

# --- wake() runs a cycle now
my $beats = $node->safe_psql('postgres', 'SELECT beats FROM nadia_bgw.heartbeat');
my $cycles = status_of($node, 'heartbeat', 'cycles');
ok(wake($node), 'wake(wait) returns true');
cmp_ok(status_of($node, 'heartbeat', 'cycles'), '>', $cycles, 'cycle count moved');
cmp_ok($node->safe_psql('postgres', 'SELECT beats FROM nadia_bgw.heartbeat'),
	'>', $beats, 'heartbeat task wrote');
is(status_of($node, 'heartbeat', 'outcome'), 'ok', 'heartbeat outcome ok');
is(status_of($node, 'heartbeat', 'worker_state'), 'running', 'state is running');
is( $node->safe_psql('postgres',
		"SELECT next_cycle_at > now() + interval '50 minutes' FROM nadia_bgw.status LIMIT 1"),
	't', 'next regular cycle is an interval away');

# --- reload changes the interval: cycles come by themselves
$cycles = status_of($node, 'heartbeat', 'cycles');
$node->safe_psql('postgres', 'ALTER SYSTEM SET nadia_bgw.interval = 1');
$node->safe_psql('postgres', 'SELECT pg_reload_conf()');
wait_until($node, "SELECT cycles >= $cycles + 3 FROM nadia_bgw.status LIMIT 1");
pass('after reload to 1 s, cycles run without wake()');
is( $node->safe_psql('postgres',
		"SELECT next_cycle_at <= clock_timestamp() + interval '1 second' FROM nadia_bgw.status LIMIT 1"),
	't', 'schedule follows the new interval');

# --- enabled = off pauses every task
$node->safe_psql('postgres', 'ALTER SYSTEM SET nadia_bgw.enabled = off');
$node->safe_psql('postgres', 'SELECT pg_reload_conf()');
wait_until($node, "SELECT worker_state = 'paused' FROM nadia_bgw.status LIMIT 1");
my $runs = status_of($node, 'heartbeat', 'runs');
wake($node) for 1 .. 3;
is(status_of($node, 'heartbeat', 'runs'), $runs, 'no task runs while paused');
like(slurp_file($node->logfile), qr/tasks are paused/, 'pause is logged');
$node->safe_psql('postgres', 'ALTER SYSTEM RESET nadia_bgw.enabled');
$node->safe_psql('postgres', 'SELECT pg_reload_conf()');
wait_until($node, "SELECT worker_state = 'running' FROM nadia_bgw.status LIMIT 1");
wake($node);
cmp_ok(status_of($node, 'heartbeat', 'runs'), '>', $runs, 'tasks resume when enabled');

# --- an ERROR in a task is isolated and recorded
my $offset = -s $node->logfile;
$node->safe_psql('postgres', "ALTER SYSTEM SET nadia_bgw.debug_fail_task = 'heartbeat'");
$node->safe_psql('postgres', 'SELECT pg_reload_conf()');
wait_until($node, "SELECT current_setting('nadia_bgw.debug_fail_task') = 'heartbeat'");
wake($node);
wait_until($node, "SELECT outcome = 'error' FROM nadia_bgw.status WHERE task = 'heartbeat'");
is(status_of($node, 'heartbeat', 'last_error'), '09000: triggered action exception (message in the server log)',
	'error recorded in status as its SQLSTATE (the message is in the log)');
cmp_ok(status_of($node, 'heartbeat', 'failures'), '>=', 1, 'failure counted');
my $log = log_since($node, $offset);
like($log, qr/ERROR:  injected failure in task "heartbeat"/, 'error is logged');
like($log, qr/CONTEXT:  nadia_bgw task "heartbeat"/, 'log names the task');
is(worker_pid($node), $pid, 'worker survived the error');
$cycles = status_of($node, 'heartbeat', 'cycles');
ok(wake($node), 'next cycle still runs after the error');
cmp_ok(status_of($node, 'heartbeat', 'cycles'), '>', $cycles, 'cycle count moved after error');
$node->safe_psql('postgres', 'ALTER SYSTEM RESET nadia_bgw.debug_fail_task');
$node->safe_psql('postgres', 'SELECT pg_reload_conf()');
wait_until($node, "SELECT current_setting('nadia_bgw.debug_fail_task') = ''");
wake($node);
wait_until($node, "SELECT outcome = 'ok' FROM nadia_bgw.status WHERE task = 'heartbeat'");
pass('task recovers once the fault is gone');

# --- a task slower than the interval: missed slots are skipped, not queued
$node->safe_psql('postgres', "ALTER SYSTEM SET nadia_bgw.debug_task_delay = '1500ms'");
$node->safe_psql('postgres', 'SELECT pg_reload_conf()');
$cycles = status_of($node, 'heartbeat', 'cycles');
wait_until($node, "SELECT cycles >= $cycles + 3 FROM nadia_bgw.status LIMIT 1");
my ($piled, $seen) = (0, 0);
for my $i (1 .. 20)
{
	# between cycles, the next slot is after the end of the last cycle
	my $r = $node->safe_psql('postgres',
		"SELECT last_cycle_end >= last_cycle_start, next_cycle_at > last_cycle_end
		   FROM nadia_bgw.status LIMIT 1");
	if ($r =~ /^t\|/)
	{
		$seen++;
		$piled++ if $r ne 't|t';
	}
	last if $seen >= 3;
	usleep(300_000);
}
cmp_ok($seen, '>', 0, 'saw the worker between cycles');
is($piled, 0, 'after a slow cycle the next one is scheduled in the future');
is(worker_pid($node), $pid, 'same worker throughout');

# --- SIGTERM ends it within one second, mid-task and mid-wait
$node->safe_psql('postgres', "ALTER SYSTEM SET nadia_bgw.debug_task_delay = '60s'");
$node->safe_psql('postgres', 'SELECT pg_reload_conf()');
# any task will do: each waits debug_task_delay first.  Waiting for one
# task by name (it was 'heartbeat', the first) could take a whole cycle of
# delayed tasks when the reload landed mid-cycle: 60 s per task, longer
# than wait_until's patience.
wait_until($node,
	"SELECT state = 'active' FROM pg_stat_activity WHERE backend_type = 'nadia_bgw worker'");
is($node->safe_psql('postgres', "SELECT pg_terminate_backend($pid, 1000)"),
	't', 'SIGTERM during a task: gone within 1 s');

# restarted by the postmaster after its restart delay
wait_until($node,
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'nadia_bgw worker' AND pid <> $pid");
my $pid2 = worker_pid($node);
isnt($pid2, $pid, 'worker restarted after SIGTERM');
$node->safe_psql('postgres', 'ALTER SYSTEM RESET nadia_bgw.debug_task_delay');
$node->safe_psql('postgres', 'ALTER SYSTEM SET nadia_bgw.interval = 3600');
$node->safe_psql('postgres', 'SELECT pg_reload_conf()');
wait_until($node, "SELECT current_setting('nadia_bgw.interval') = '1h'");
wake($node);
wait_until($node,
	"SELECT state = 'idle' FROM pg_stat_activity WHERE backend_type = 'nadia_bgw worker'");
is($node->safe_psql('postgres', "SELECT pg_terminate_backend($pid2, 1000)"),
	't', 'SIGTERM while waiting: gone within 1 s');

# --- a crash (SIGKILL) restarts the cluster and the worker with it
wait_until($node,
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'nadia_bgw worker' AND pid <> $pid2");
my $pid3 = worker_pid($node);
kill 'KILL', $pid3;
wait_until($node,
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'nadia_bgw worker' AND pid <> $pid3");
pass('worker back after a crash');
ok(wake($node), 'and it cycles');

# --- fast shutdown is not held up by a running task
$node->safe_psql('postgres', "ALTER SYSTEM SET nadia_bgw.debug_task_delay = '60s'");
$node->safe_psql('postgres', 'SELECT pg_reload_conf()');
$node->safe_psql('postgres', 'SELECT nadia_bgw.wake()');
wait_until($node,
	"SELECT state = 'active' FROM pg_stat_activity WHERE backend_type = 'nadia_bgw worker'");
$node->stop('fast');
pass('pg_ctl stop -m fast completes during a 60 s task');

done_testing();
