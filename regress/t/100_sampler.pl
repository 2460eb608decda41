# 100_sampler.pl -- the worker's "sample" task: it samples every cycle,
# keeps its own statements out of statement history (even with
# pg_stat_statements.track = all), isolates a failing source, downsamples
# and purges; without pg_stat_statements it warns once and samples the rest.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NadiaTest;

my $node = nadia_node('sampler',
	conf => "nadia_bgw.interval = 3600\npg_stat_statements.track = all\n");
$node->safe_psql('postgres', 'CREATE EXTENSION pg_stat_statements');
$node->safe_psql('postgres', 'CREATE TABLE t (id int PRIMARY KEY, v int)');
# forget the extension script's own (nested) statements: what is tracked
# from now on comes from the worker or from this test
$node->safe_psql('postgres', 'SELECT pg_stat_statements_reset()');

# --- a cycle takes a sample, through the worker
ok(wake($node), 'cycle ran');
is(status_of($node, 'sample', 'outcome'), 'ok', 'sample task ok');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM nadia_bgw.samples WHERE taken_by = 'worker'"),
	'1', 'one worker sample');

# --- a workload between two cycles shows up with exact counts
$node->safe_psql('postgres', "INSERT INTO t VALUES ($_, $_)") for 1 .. 4;
$node->safe_psql('postgres', 'SELECT pg_stat_force_next_flush()');
ok(wake($node), 'second cycle ran');
is( $node->safe_psql('postgres',
		"SELECT sum(calls) FROM nadia_bgw.statement_history WHERE query LIKE 'INSERT INTO t VALUES%'"),
	'4', 'statement calls of the interval');
is( $node->safe_psql('postgres',
		"SELECT n_tup_ins FROM nadia_bgw.table_history WHERE relname = 't'"),
	'4', 'table inserts of the interval');
is( $node->safe_psql('postgres',
		"SELECT outcome->>'maintenance' FROM nadia_bgw.samples ORDER BY sample_id DESC LIMIT 1"),
	'ok', 'the task downsamples and purges after sampling');

# --- the worker's own statements never enter pg_stat_statements or history
my $own = "(query LIKE '%WITH cur AS%' OR query LIKE '%ensure_partitions(%' OR query LIKE '%nadia_bgw.source_state%'"
  . " OR query LIKE 'INSERT INTO nadia_bgw.samples%' OR query LIKE 'UPDATE nadia_bgw.heartbeat%'"
  . " OR query LIKE '%date_trunc(\$1, sampled_at%')";
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_stat_statements WHERE $own"),
	'0', 'worker statements are not tracked');
is($node->safe_psql('postgres', "SELECT count(*) FROM nadia_bgw.statement_history WHERE $own"),
	'0', 'no sampler statement in history');
# ... while the same statements run by a session are tracked (the check can fail)
$node->safe_psql('postgres', "UPDATE nadia_bgw.heartbeat SET beats = beats WHERE id = 1");
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_stat_statements WHERE $own"),
	'1', 'a session running one of them is tracked');

# --- a failing source in the worker: recorded, the others land, task ok
$node->safe_psql('postgres', "ALTER SYSTEM SET nadia_bgw.debug_fail_source = 'indexes'");
$node->safe_psql('postgres', 'SELECT pg_reload_conf()');
$node->safe_psql('postgres', "INSERT INTO t VALUES (5, 5)");
$node->safe_psql('postgres', 'SELECT pg_stat_force_next_flush()');
# the worker re-reads its configuration when it wakes
ok(wake($node), 'cycle with a failing source ran');
is( $node->safe_psql('postgres',
		"SELECT failed_sources::text || ' ' || (outcome->>'tables')"
		  . " FROM nadia_bgw.samples ORDER BY sample_id DESC LIMIT 1"),
	'{indexes} ok', 'only the failing source failed');
is(status_of($node, 'sample', 'outcome'), 'ok', 'task outcome stays ok');
like(slurp_file($node->logfile), qr/sampling source "indexes" failed/, 'failure logged');
$node->safe_psql('postgres', 'ALTER SYSTEM RESET nadia_bgw.debug_fail_source');
$node->safe_psql('postgres', 'SELECT pg_reload_conf()');

# --- an error of the whole task (not a source) is isolated by the scheduler
$node->safe_psql('postgres', "ALTER SYSTEM SET nadia_bgw.debug_fail_task = 'sample'");
$node->safe_psql('postgres', 'SELECT pg_reload_conf()');
ok(wake($node), 'cycle with a failing task ran');
is(status_of($node, 'sample', 'outcome'), 'error', 'task error recorded');
is(status_of($node, 'heartbeat', 'outcome'), 'ok', 'other tasks unaffected');
$node->safe_psql('postgres', 'ALTER SYSTEM RESET nadia_bgw.debug_fail_task');
$node->safe_psql('postgres', 'SELECT pg_reload_conf()');
ok(wake($node), 'recovered');
is(status_of($node, 'sample', 'outcome'), 'ok', 'task ok again');

# --- a crash empties the unlogged state: a new baseline, no inflated deltas
$node->safe_psql('postgres', "INSERT INTO t SELECT g, g FROM generate_series(100, 199) g");
$node->safe_psql('postgres', 'SELECT pg_stat_force_next_flush()');
ok(wake($node), 'cycle before the crash');
my $before = $node->safe_psql('postgres', "SELECT max(sample_id) FROM nadia_bgw.samples");
$node->stop('immediate');
$node->start;
# the restarted worker's first cycle takes the new baseline
wait_until($node, "SELECT runs >= 1 FROM nadia_bgw.status WHERE task = 'sample'");
$node->safe_psql('postgres', "INSERT INTO t VALUES (1000, 1)");
$node->safe_psql('postgres', 'SELECT pg_stat_force_next_flush()');
ok(wake($node), 'cycle after the crash');
is( $node->safe_psql('postgres',
		"SELECT string_agg(DISTINCT source, ',' ORDER BY source) FROM nadia_bgw.stats_events"
		  . " WHERE kind = 'state_lost' AND sample_id > $before"),
	'cluster,databases,indexes,plans,statements,tables', 'every source took a new baseline');
is( $node->safe_psql('postgres',
		"SELECT coalesce(sum(n_tup_ins), 0) FROM nadia_bgw.table_history WHERE relname = 't' AND sample_id > $before"),
	'1', 'no delta against the lost state');
$node->safe_psql('postgres', "INSERT INTO t VALUES (1001, 1)");
$node->safe_psql('postgres', 'SELECT pg_stat_force_next_flush()');
ok(wake($node), 'next cycle');
is( $node->safe_psql('postgres',
		"SELECT string_agg(n_tup_ins::text, ',' ORDER BY sample_id) FROM nadia_bgw.table_history"
		  . " WHERE relname = 't' AND sample_id > $before"),
	'1,1', 'deltas resume from the new baseline');

$node->stop;

# --- without pg_stat_statements loaded: one warning, other sources sampled
my $bare = nadia_node('bare',
	conf => "shared_preload_libraries = 'nadia_bgw'\nnadia_bgw.interval = 3600\n");
my $offset = -s $bare->logfile;
wake($bare) for 1 .. 3;
is( $bare->safe_psql('postgres',
		"SELECT outcome->>'statements' FROM nadia_bgw.samples ORDER BY sample_id DESC LIMIT 1"),
	'skipped: pg_stat_statements is not loaded', 'statements skipped');
is( $bare->safe_psql('postgres',
		"SELECT failed_sources = '{}' AND outcome->>'tables' = 'ok' FROM nadia_bgw.samples"
		  . " ORDER BY sample_id DESC LIMIT 1"),
	't', 'other sources sampled');
is(log_count($bare, qr/statement history is not sampled/, $offset), 1,
	'the worker warns once, not every cycle');
$bare->stop;

# --- pg_stat_statements evicting entries: recorded, warned, no inflated deltas
my $small = nadia_node('small',
	conf => "nadia_bgw.interval = 3600\npg_stat_statements.max = 100\n");
$small->safe_psql('postgres', 'CREATE EXTENSION pg_stat_statements');
$small->safe_psql('postgres', 'CREATE TABLE e (id int)');
ok(wake($small), 'baseline');
# 150 distinct statements (1 to 150 OR'ed conditions) overflow 100
# entries; not IN lists, which 18 merges into one entry whatever their length
$small->safe_psql('postgres',
	join('', map { "SELECT id FROM e WHERE " . join(' OR ', map { "id = $_" } 1 .. $_) . ";\n" } 1 .. 150));
$offset = -s $small->logfile;
ok(wake($small), 'cycle after the evictions');
cmp_ok( $small->safe_psql('postgres',
		"SELECT sum(count) FROM nadia_bgw.stats_events WHERE source = 'statements' AND kind = 'dealloc'"),
	'>', 0, 'evictions recorded');
is(log_count($small, qr/pg_stat_statements evicted \d+ entries since the previous sample/, $offset), 1,
	'evictions warned about');
is( $small->safe_psql('postgres',
		"SELECT count(*) FROM nadia_bgw.statement_history WHERE (calls < 0 OR calls > 1)"
		  . " AND query LIKE 'SELECT id FROM e WHERE id =%'"),
	'0', 'no negative or inflated delta for the churned statements');
$small->stop;

done_testing();
