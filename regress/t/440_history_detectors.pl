# 440_history_detectors.pl -- detectors that judge statistics history
# against learned baselines: plan change (plan ids, or rows per call), new heavy
# statement, dead tuples, temporary file spill, cache hit ratio drop and
# deadlocks.  A steady warm-up must open none of them; each is then
# triggered by a real cause.  A "cycle" here is what the worker does:
# nadia_bgw.take_sample() then nadia_bgw.detect_regressions(), run in a
# session so that thresholds can be lowered for the test.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NadiaTest;
use NadiaAlerts;
use Time::HiRes qw(usleep);

my $node = nadia_node('history_detectors',
	conf => "nadia_bgw.interval = 3600\nshared_buffers = 16MB\ndeadlock_timeout = 100ms\n");
$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_stat_statements;
	CREATE TABLE big (k int NOT NULL, grp int NOT NULL, pad text NOT NULL);
	INSERT INTO big SELECT g, g, repeat('b', 100) FROM generate_series(1, 250000) g;
	CREATE INDEX big_k ON big (k);
	CREATE INDEX big_grp ON big (grp);
	CREATE TABLE dt (id int, pad text) WITH (autovacuum_enabled = off);
	INSERT INTO dt SELECT g, 'x' FROM generate_series(1, 20000) g;
	CREATE TABLE dt_calm (id int, pad text) WITH (autovacuum_enabled = off);
	INSERT INTO dt_calm SELECT g, 'x' FROM generate_series(1, 20000) g;
	CREATE TABLE dl (id int PRIMARY KEY, v int);
	INSERT INTO dl VALUES (1, 0), (2, 0);
	VACUUM ANALYZE;
});
my $script = pgbench_script($node, 'lookups', q{\set k random(1, 250000)
SELECT pad FROM big WHERE k = :k;
SELECT k FROM big WHERE grp = 7;
});

my $settings = join ";\n",
  "SET nadia_bgw.dead_tuple_min = 5000",
  "SET nadia_bgw.new_statement_min_ms = 50",
  "SET nadia_bgw.temp_spill_min = '1MB'",
  "SET nadia_bgw.latency_min_increase_ms = 1000";
my @kinds = qw(plan_change new_statement dead_tuples temp_spill cache_hit_drop deadlocks);
my $kinds_sql = join ',', map { "'$_'" } @kinds;

# one cycle: the application's lookups, a sample, a detection run
sub cycle
{
	run_pgbench($node, 'postgres', $script, 40);
	$node->safe_psql('postgres', 'SELECT nadia_bgw.take_sample()');
	return detect($node, $settings);
}

# cycles until an alert of KIND (on OBJECT, if given) is open; statistics
# reach the cumulative views when the backend flushes them (within a
# second), so allow a few cycles
sub cycle_until_open
{
	my ($kind, $object) = @_;
	my $where = "kind = '$kind' AND state = 'open'" . ($object ? " AND object = '$object'" : '');
	for (1 .. 50)
	{
		cycle();
		return 1 if alert_count($node, $where) > 0;
		usleep(200_000);
	}
	return 0;
}

# --- warm-up: nothing fires while the workload is steady
cycle() for 1 .. 8;
is(alert_count($node, "kind IN ($kinds_sql)"), 0, 'steady warm-up opens none of these alerts')
  or diag($node->safe_psql('postgres', 'SELECT kind, object FROM nadia_bgw.alerts'));

# --- dead tuples: 5% dead is fine, 50% dead without vacuum is not
$node->safe_psql('postgres', 'DELETE FROM dt_calm WHERE id % 20 = 0');
$node->safe_psql('postgres', 'DELETE FROM dt WHERE id % 2 = 0');
ok(cycle_until_open('dead_tuples', 'table public.dt'), 'half the table dead opens a dead-tuple alert');
is(alert_count($node, "kind = 'dead_tuples' AND object = 'table public.dt_calm'"), 0,
	'a table with 5% dead tuples is not flagged');
is( $node->safe_psql('postgres',
		"SELECT observed BETWEEN 0.2 AND 0.6 AND (details->>'n_dead_tup')::int >= 5000"
		  . " FROM nadia_bgw.alerts WHERE kind = 'dead_tuples' AND object = 'table public.dt'"),
	't', 'observed ratio is the dead share, with the dead tuple count');
$node->safe_psql('postgres', 'VACUUM dt');
my $resolved = 0;
for (1 .. 20)
{
	cycle();
	$resolved = alert_count($node, "kind = 'dead_tuples' AND object = 'table public.dt' AND state = 'resolved'");
	last if $resolved;
	usleep(200_000);
}
is($resolved, 1, 'VACUUM resolves it');

# --- plan change: the same statement suddenly returns thousands of rows,
# and, once analyzed, through another plan.  With plan history (the
# capture on) the new plan's id and its time per call open the alert;
# without it, the rows or blocks per call (the fallback)
# half the table: the same plan returning 5000 rows would not be a plan
# change (its plan id stays); half the table makes the planner switch
$node->safe_psql('postgres', 'UPDATE big SET grp = 7 WHERE k <= 125000');
$node->safe_psql('postgres', 'ANALYZE big');
ok(cycle_until_open('plan_change'), 'a new, slower plan opens a plan-change alert');
like( $node->safe_psql('postgres',
		"SELECT metric || ' ' || query FROM nadia_bgw.alerts WHERE kind = 'plan_change'"),
	qr/^(plan_mean_exec_time_ms|rows_per_call|shared_blks_per_call) SELECT k FROM big WHERE grp = \$1/,
	'on the statement whose rows changed');
# the old data back, so the sequential scans of half the table stop
# taking most of the time before the next check
$node->safe_psql('postgres', 'UPDATE big SET grp = k WHERE k <= 125000');
$node->safe_psql('postgres', 'ANALYZE big');

# --- new heavy statement; a new cheap one is not flagged
$node->safe_psql('postgres', 'SELECT 40 + 2 AS cheap_new_statement');
$node->safe_psql('postgres',
	'SELECT count(DISTINCT pad || k) AS heavy_new_statement FROM big') for 1 .. 3;
ok(cycle_until_open('new_statement'), 'a new statement taking most of the time is flagged');
like( $node->safe_psql('postgres',
		"SELECT string_agg(query, ' | ') FROM nadia_bgw.alerts WHERE kind = 'new_statement'"),
	qr/heavy_new_statement/, 'the heavy one');
unlike( $node->safe_psql('postgres',
		"SELECT string_agg(query, ' | ') FROM nadia_bgw.alerts WHERE kind = 'new_statement'"),
	qr/cheap_new_statement/, 'not the cheap one');

# --- temporary file spill
$node->safe_psql('postgres',
	"SET work_mem = '64kB'; SELECT count(*) FROM (SELECT * FROM big ORDER BY pad, k DESC) s");
ok(cycle_until_open('temp_spill'), 'a sort spilling to disk opens a temp-spill alert');

# --- cache hit ratio: large scans through 16MB of shared buffers
$node->safe_psql('postgres', 'SELECT count(*) FROM big') for 1 .. 4;
ok(cycle_until_open('cache_hit_drop'), 'reading a table larger than the cache drops the hit ratio');
is( $node->safe_psql('postgres',
		"SELECT observed < baseline AND observed < 0.99 AND (details->>'shared_blks_read')::float8 > 0"
		  . " FROM nadia_bgw.alerts WHERE kind = 'cache_hit_drop' ORDER BY alert_id DESC LIMIT 1"),
	't', 'observed ratio below baseline and 99%, with the blocks read');

# --- deadlocks
my $a = $node->background_psql('postgres', on_error_stop => 0);
my $b = $node->background_psql('postgres', on_error_stop => 0);
$a->query_safe('BEGIN; UPDATE dl SET v = 1 WHERE id = 1');
$b->query_safe('BEGIN; UPDATE dl SET v = 1 WHERE id = 2');
$a->query_until(qr/waiting/, "\\echo waiting\nUPDATE dl SET v = 2 WHERE id = 2;\n");
$b->query('UPDATE dl SET v = 2 WHERE id = 1');
$a->query('ROLLBACK');
$b->query('ROLLBACK');
$a->quit;
$b->quit;
ok(cycle_until_open('deadlocks'), 'a deadlock opens an alert');

is(log_count($node, qr/WARNING:  nadia_bgw: .* failed/), 0, 'no detector failed');
$node->stop;
done_testing();
