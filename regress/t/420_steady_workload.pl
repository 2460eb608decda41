# 420_steady_workload.pl -- false alerts: a steady mixed workload (lookups,
# updates, range counts, inserts) for 200 worker cycles opens no alert,
# while every detector runs each cycle and the baselines keep learning.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NadiaTest;
use NadiaAlerts;

my $cycles = 200;
my $node = nadia_node('steady', conf => "nadia_bgw.interval = 3600\n");
$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_stat_statements;
	CREATE TABLE steady (k int PRIMARY KEY, n int NOT NULL DEFAULT 0, pad text NOT NULL);
	INSERT INTO steady SELECT g, 0, repeat('s', 80) FROM generate_series(1, 50000) g;
	CREATE TABLE steady_log (k int, at timestamptz);
	VACUUM ANALYZE steady;
});
my $script = pgbench_script($node, 'steady', q{\set k random(1, 49900)
SELECT pad FROM steady WHERE k = :k;
UPDATE steady SET n = n + 1 WHERE k = :k;
SELECT count(*) FROM steady WHERE k BETWEEN :k AND :k + 100;
INSERT INTO steady_log VALUES (:k, now());
});

my $runs0 = $node->safe_psql('postgres', 'SELECT runs FROM nadia_bgw.detector_state');
for my $i (1 .. $cycles)
{
	run_pgbench($node, 'postgres', $script, 30);
	wake($node);
}

is(alert_count($node), 0, "no alert in $cycles cycles of a steady workload")
  or diag($node->safe_psql('postgres',
	'SELECT kind, object, metric, baseline, observed, firing_cycles FROM nadia_bgw.alerts'));
cmp_ok($node->safe_psql('postgres', 'SELECT runs FROM nadia_bgw.detector_state') - $runs0,
	'>=', $cycles, 'detection ran every cycle');
cmp_ok( $node->safe_psql('postgres',
		"SELECT count(*) FROM nadia_bgw.baselines b JOIN pg_stat_statements s"
		  . " ON s.queryid = b.objid WHERE s.query LIKE '%steady%'"
		  . " AND b.metric = 'mean_exec_time_ms' AND b.n >= $cycles - 10"),
	'>=', 4, 'the workload statements were judged against learned baselines');
cmp_ok( $node->safe_psql('postgres',
		"SELECT n FROM nadia_bgw.baselines WHERE scope = 'table' AND metric = 'seq_scan_share'"
		  . " AND objid = 'steady'::regclass::oid"),
	'>=', $cycles - 10, 'the table baseline learned too');
is(status_of($node, 'regressions', 'failures'), 0, 'the regressions task never failed');
is(log_count($node, qr/WARNING:  nadia_bgw: .* failed/), 0, 'no detector failed');

$node->stop;
done_testing();
