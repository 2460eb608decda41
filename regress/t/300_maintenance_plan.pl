# 300_maintenance_plan.pl -- the maintenance scheduler decides right: a
# churned table over threshold is vacuumed within two cycles and its dead
# tuples fall; below threshold, outside the window, excluded or in cooldown
# nothing runs; freeze emergencies run outside the window (unless told
# not to); caps on jobs per cycle and concurrent jobs hold; requests are
# served; a failing job is recorded and the scheduler carries on.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NadiaTest;

# every cycle below is one we ask for; autovacuum stays out of the way
my $node = nadia_node('maint_plan', conf => <<'CONF');
nadia_bgw.interval = 3600
autovacuum = off
nadia_bgw.maintenance_cooldown = 0
nadia_bgw.maintenance_analyze_interval = 0
nadia_bgw.maintenance_max_concurrent = 4
nadia_bgw.maintenance_max_jobs_per_cycle = 4
CONF

sub sql { return $node->safe_psql('postgres', $_[0]); }

sub set_conf
{
	my (%kv) = @_;
	sql("ALTER SYSTEM SET $_ = '$kv{$_}'") for sort keys %kv;
	sql('SELECT pg_reload_conf()');
	for my $k (sort keys %kv)
	{
		wait_until($node, "SELECT setting = '$kv{$k}' FROM pg_settings WHERE name = '$k'");
	}
}

sub reset_conf
{
	sql("ALTER SYSTEM RESET $_") for @_;
	sql('SELECT pg_reload_conf()');
}

# a table of $rows rows (autovacuum off for it too)
sub make_table
{
	my ($name, $rows) = @_;
	sql("CREATE TABLE $name (id int PRIMARY KEY, v int, pad text)
	       WITH (autovacuum_enabled = off);
	     INSERT INTO $name SELECT g, 0, repeat('x', 50) FROM generate_series(1, $rows) g;");
	# a session of its own, after the insert counts are flushed
	sql("ANALYZE $name");
	sample();
}

# the plan reads the latest sample: take one, as the worker's cycle does
sub sample
{
	sql('SELECT nadia_bgw.take_sample()');
}

# update the first $n rows: $n dead tuples, flushed to the statistics
sub churn
{
	my ($name, $n) = @_;
	sql("UPDATE $name SET v = v + 1 WHERE id <= $n; SELECT pg_stat_force_next_flush();");
	sample();
}

sub jobs_of
{
	my ($name) = @_;
	return sql("SELECT count(*) FROM nadia_bgw.maintenance_history WHERE relname = '$name'");
}

# wait until every job of the table has ended; the last one's outcome
sub last_outcome
{
	my ($name) = @_;
	wait_until($node,
		"SELECT NOT EXISTS (SELECT 1 FROM nadia_bgw.maintenance_history
		                     WHERE relname = '$name' AND outcome IN ('queued', 'running'))");
	return sql("SELECT outcome FROM nadia_bgw.maintenance_history
	             WHERE relname = '$name' ORDER BY id DESC LIMIT 1");
}

make_table('churned', 20000);
make_table('quiet', 20000);
wake($node);

# --- below threshold: nothing is planned, nothing runs
churn('quiet', 100);    # 100 dead < 1000 + 0.05 * 20000
wake($node) for 1 .. 2;
is(sql("SELECT count(*) FROM nadia_bgw.maintenance_plan WHERE relname = 'quiet'"),
	0, 'below threshold: not in the plan');
is(jobs_of('quiet'), 0, 'below threshold: no job');

# --- over threshold: planned with reason and figures, vacuumed, dead tuples fall
churn('churned', 5000);
is( sql("SELECT action || ' | ' || state || ' | ' || reason
           FROM nadia_bgw.maintenance_plan WHERE relname = 'churned'"),
	'vacuum analyze | ready | dead tuples 5000 > 2000; changes since analyze 5000 > 2000',
	'over threshold: planned as vacuum (and analyze: the updates count as changes) with reason');
is(sql("SELECT (figures->>'n_dead_tup')::int FROM nadia_bgw.maintenance_plan WHERE relname = 'churned'"),
	5000, 'plan carries the figures');
my $dead_before = sql("SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'churned'");
wake($node);
wake($node) if jobs_of('churned') == 0;
cmp_ok(jobs_of('churned'), '>=', 1, 'a job was started within two cycles');
is(last_outcome('churned'), 'done', 'the job is done');
my ($before, $after, $action, $stmt, $reason) = split /\|/, sql(
	"SELECT dead_tuples_before, dead_tuples_after, action, statement, reason
	   FROM nadia_bgw.maintenance_history WHERE relname = 'churned' ORDER BY id DESC LIMIT 1");
is($before, 5000, 'dead tuples before recorded');
cmp_ok($after, '<', $before, 'dead tuples fell');
is($action, 'vacuum analyze', 'action recorded');
is($stmt, 'VACUUM (SKIP_LOCKED, ANALYZE, PARALLEL 0) public.churned', 'statement recorded');
like($reason, qr/^dead tuples 5000 > 2000; changes since analyze 5000 > 2000$/, 'reason recorded');
cmp_ok(sql("SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'churned'"),
	'<', $dead_before, 'pg_stat_user_tables shows fewer dead tuples');
is( sql("SELECT started_at >= planned_at AND ended_at >= started_at AND duration IS NOT NULL
	       AND pid IS NOT NULL FROM nadia_bgw.maintenance_history WHERE relname = 'churned'
	     ORDER BY id DESC LIMIT 1"),
	't', 'times, duration and pid recorded');
is(status_of($node, 'maintenance', 'outcome'), 'ok', 'maintenance task ok');

# --- handled by someone else since the sample: its figures are stale
churn('churned', 5000);
sql('VACUUM ANALYZE churned');
is(sql("SELECT state FROM nadia_bgw.maintenance_plan WHERE relname = 'churned'"),
	'cooldown', 'vacuumed after the sample: in cooldown until the next sample');
sample();
is(sql("SELECT count(*) FROM nadia_bgw.maintenance_plan WHERE relname = 'churned'"),
	0, 'the next sample shows it clean');

# --- a VACUUM that cannot remove the dead tuples (an old snapshot holds
# them) is not repeated every cycle: back off for the cooldown
set_conf('nadia_bgw.maintenance_cooldown' => '3600');
my $snap = $node->background_psql('postgres');
$snap->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ');
$snap->query_safe('SELECT count(*) FROM churned');
churn('churned', 5000);
wake($node);
is(last_outcome('churned'), 'done', 'vacuum under an old snapshot runs');
cmp_ok(sql("SELECT dead_tuples_after FROM nadia_bgw.maintenance_history
             WHERE relname = 'churned' ORDER BY id DESC LIMIT 1"),
	'>', 2000, 'but the old snapshot keeps the dead tuples');
sample();
is(sql("SELECT state FROM nadia_bgw.maintenance_plan WHERE relname = 'churned'"),
	'cooldown', 'the table is in cooldown after an ineffective vacuum');
my $jobs = jobs_of('churned');
wake($node) for 1 .. 2;
is(jobs_of('churned'), $jobs, 'no job during the cooldown');
$snap->query_safe('COMMIT');
$snap->quit;
set_conf('nadia_bgw.maintenance_cooldown' => '0');
is(sql("SELECT state FROM nadia_bgw.maintenance_plan WHERE relname = 'churned'"),
	'ready', 'after the cooldown it is ready again');

# --- outside the window nothing runs
my $hour = (gmtime(time))[2];
my $closed = sprintf('%02d:00-%02d:00', ($hour + 2) % 24, ($hour + 3) % 24);
my $open = sprintf('%02d:00-%02d:00', $hour, ($hour + 2) % 24);
set_conf('nadia_bgw.maintenance_window' => $closed,
	'nadia_bgw.maintenance_timezone' => 'UTC');
is(sql('SELECT nadia_bgw.maintenance_window_open()'), 'f', "window $closed UTC is closed now");
is(sql("SELECT state FROM nadia_bgw.maintenance_plan WHERE relname = 'churned'"),
	'outside window', 'plan says outside window');
$jobs = jobs_of('churned');
wake($node) for 1 .. 2;
is(jobs_of('churned'), $jobs, 'outside the window: no job');

# --- ... except a freeze emergency
make_table('old', 1000);
sql('SELECT txid_current()') for 1 .. 5;    # age the table's relfrozenxid
sql("SELECT nadia_bgw.set_maintenance('old', freeze_age => 3)");
is( sql("SELECT action || ' | ' || emergency || ' | ' || state
           FROM nadia_bgw.maintenance_plan WHERE relname = 'old'"),
	'vacuum freeze | true | ready', 'freeze emergency is ready outside the window');
is(sql("SELECT rank FROM nadia_bgw.maintenance_plan WHERE relname = 'old'"), 1,
	'emergency ranks first');
my $age_before = sql("SELECT age(relfrozenxid) FROM pg_class WHERE relname = 'old'");
wake($node);
is(last_outcome('old'), 'done', 'freeze emergency ran outside the window');
is( sql("SELECT action || ' ' || emergency FROM nadia_bgw.maintenance_history
          WHERE relname = 'old' ORDER BY id DESC LIMIT 1"),
	'vacuum freeze true', 'recorded as an emergency freeze');
cmp_ok(sql("SELECT age(relfrozenxid) FROM pg_class WHERE relname = 'old'"), '<', $age_before,
	'relfrozenxid advanced');
is(jobs_of('churned'), $jobs, 'the ordinary candidate still waits for the window');

# emergencies may be kept in the window too
set_conf('nadia_bgw.maintenance_emergency_anytime' => 'off');
sql('SELECT txid_current()') for 1 .. 5;
sample();
is(sql("SELECT state FROM nadia_bgw.maintenance_plan WHERE relname = 'old'"),
	'outside window', 'emergency_anytime off: the emergency waits too');
$jobs = jobs_of('old');
wake($node) for 1 .. 2;
is(jobs_of('old'), $jobs, 'no emergency job outside the window when told so');
reset_conf('nadia_bgw.maintenance_emergency_anytime');
sql("SELECT nadia_bgw.set_maintenance('old', excluded => true)");

# an ANALYZE request is served outside the window (rollups rely on it)
make_table('rollup_like', 30);
sql("UPDATE rollup_like SET v = 1; SELECT pg_stat_force_next_flush();");
sql("SELECT nadia_bgw.request_maintenance('rollup_like', 'analyze', 'rollup refresh')");
is( sql("SELECT action || ' | ' || state || ' | ' || reason FROM nadia_bgw.maintenance_plan
          WHERE relname = 'rollup_like'"),
	'analyze | ready | requested analyze: rollup refresh', 'request planned, ready');
wake($node);
is(last_outcome('rollup_like'), 'done', 'requested analyze done');
is(sql("SELECT count(*) FROM nadia_bgw.maintenance_requests"), 0, 'request consumed');

# the window opens: the waiting candidate runs
set_conf('nadia_bgw.maintenance_window' => $open);
is(sql('SELECT nadia_bgw.maintenance_window_open()'), 't', "window $open UTC is open now");
wake($node);
is(last_outcome('churned'), 'done', 'inside the window the job runs');
reset_conf('nadia_bgw.maintenance_window', 'nadia_bgw.maintenance_timezone');
wait_until($node, "SELECT current_setting('nadia_bgw.maintenance_window') = ''");

# --- per-table overrides: excluded, own thresholds
make_table('excl', 5000);
make_table('tiny', 100);
churn('excl', 4000);
churn('tiny', 20);
sql("SELECT nadia_bgw.set_maintenance('excl', excluded => true)");
sql("SELECT nadia_bgw.set_maintenance('tiny', vacuum_min => 10, vacuum_ratio => 0)");
is(sql("SELECT state FROM nadia_bgw.maintenance_plan WHERE relname = 'excl'"),
	'excluded', 'excluded table shows as excluded');
is(sql("SELECT vacuum_threshold FROM nadia_bgw.maintenance_plan WHERE relname = 'tiny'"),
	10, 'own threshold applies');
wake($node);
is(last_outcome('tiny'), 'done', 'table over its own threshold vacuumed');
wake($node);
is(jobs_of('excl'), 0, 'excluded table never touched');
sql("SELECT nadia_bgw.reset_maintenance('excl')");
is(sql("SELECT state FROM nadia_bgw.maintenance_plan WHERE relname = 'excl'"),
	'ready', 'after reset_maintenance it is a candidate again');
sql("DROP TABLE excl");
wake($node);
is(sql("SELECT count(*) FROM nadia_bgw.maintenance_settings WHERE relname = 'excl'"), 0,
	'overrides of dropped tables are purged');

# --- caps: per cycle and concurrent
make_table("cap$_", 3000) for 1 .. 3;
churn("cap$_", 2000) for 1 .. 3;
set_conf('nadia_bgw.maintenance_max_jobs_per_cycle' => '2');
wake($node);
is( sql("SELECT count(*) FROM nadia_bgw.maintenance_history WHERE relname LIKE 'cap_'
          GROUP BY planned_at ORDER BY 1 DESC LIMIT 1"),
	2, 'no more than max_jobs_per_cycle jobs in one cycle');
last_outcome("cap$_") for 1 .. 3;

# concurrency: slow jobs (cost delay), one at a time
set_conf('nadia_bgw.maintenance_max_concurrent' => '1',
	'nadia_bgw.maintenance_cost_delay' => '100',
	'nadia_bgw.maintenance_cost_limit' => '1');
churn("cap$_", 2000) for 1 .. 3;
wake($node);
wait_until($node, "SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'nadia_bgw maintenance'");
wake($node) for 1 .. 2;
is( sql("SELECT count(*) FROM nadia_bgw.maintenance_history
          WHERE relname LIKE 'cap_' AND outcome IN ('queued', 'running')"),
	1, 'no more than max_concurrent jobs at once');
is(sql("SELECT count(*) FROM nadia_bgw.maintenance_plan WHERE relname LIKE 'cap_' AND state = 'running'"),
	1, 'plan shows the running job');
# stop the slow job: pg_cancel_backend is recorded as cancelled
my $jpid = sql("SELECT pid FROM pg_stat_activity WHERE backend_type = 'nadia_bgw maintenance'");
sql("SELECT pg_cancel_backend($jpid)");
wait_until($node, "SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'nadia_bgw maintenance'");
like( sql("SELECT outcome || ': ' || error FROM nadia_bgw.maintenance_history WHERE pid = $jpid"),
	qr/^cancelled: 57014: canceling statement/, 'a cancelled job is recorded as cancelled');
reset_conf('nadia_bgw.maintenance_cost_delay', 'nadia_bgw.maintenance_cost_limit',
	'nadia_bgw.maintenance_max_concurrent', 'nadia_bgw.maintenance_max_jobs_per_cycle');
wait_until($node, "SELECT current_setting('nadia_bgw.maintenance_cost_limit') = '200'");

# --- a failing job is recorded with its error; the scheduler carries on
make_table('failing', 3000);
churn('failing', 2000);
set_conf('nadia_bgw.debug_fail_task' => 'maintenance job');
wake($node);
is(last_outcome('failing'), 'failed', 'failing job recorded as failed');
like(sql("SELECT error FROM nadia_bgw.maintenance_history WHERE relname = 'failing' ORDER BY id DESC LIMIT 1"),
	qr/^09000: triggered action exception \(message in the server log\)$/,
	'with its SQLSTATE (the message is in the log)');
is(status_of($node, 'maintenance', 'outcome'), 'ok', 'the maintenance task itself is fine');
reset_conf('nadia_bgw.debug_fail_task');
wait_until($node, "SELECT current_setting('nadia_bgw.debug_fail_task') = ''");
# failed counts for the cooldown (0 here), so the next cycle retries
wake($node);
is(last_outcome('failing'), 'done', 'next cycle retries and succeeds');

# --- maintenance_enabled = off: nothing starts
set_conf('nadia_bgw.maintenance_enabled' => 'off');
churn('churned', 5000);
$jobs = jobs_of('churned');
wake($node) for 1 .. 2;
is(jobs_of('churned'), $jobs, 'maintenance_enabled off: no job');
is(sql("SELECT state FROM nadia_bgw.maintenance_plan WHERE relname = 'churned'"),
	'ready', 'but the plan still shows the candidate');
reset_conf('nadia_bgw.maintenance_enabled');

is(log_count($node, qr/server process .* terminated by signal|PANIC/), 0, 'no crash in the log');
$node->stop('fast');
done_testing();
