# 410_index_regression.pl -- the headline scenario, driven through the
# worker: a hot indexed query runs every cycle; dropping its index opens a
# latency regression and a sequential-scan surge within two cycles, a
# LISTEN client receives the payloads, and recreating the index resolves
# them.  Real workload (pgbench), real history (the sample task), real
# baselines.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NadiaTest;
use NadiaAlerts;

my $node = nadia_node('index_regression', conf => "nadia_bgw.interval = 3600\n");
$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_stat_statements;
	CREATE TABLE hot (k int NOT NULL, pad text NOT NULL);
	INSERT INTO hot SELECT g, repeat('p', 60) FROM generate_series(1, 300000) g;
	CREATE INDEX hot_k ON hot (k);
	VACUUM ANALYZE hot;
});
my $script = pgbench_script($node, 'hot',
	"\\set k random(1, 300000)\nSELECT pad FROM hot WHERE k = :k;\n");

# one cycle of the application: 60 lookups, then a worker cycle
sub cycle
{
	run_pgbench($node, 'postgres', $script, 60);
	wake($node);
	return;
}

# --- warm up: the baselines learn the indexed lookup
cycle() for 1 .. 8;
my $qid = $node->safe_psql('postgres',
	"SELECT queryid FROM pg_stat_statements WHERE query LIKE 'SELECT pad FROM hot WHERE k = \$1'");
like($qid, qr/^-?\d+$/, 'the hot query is tracked');
cmp_ok($node->safe_psql('postgres',
		"SELECT n FROM nadia_bgw.baselines WHERE objid = $qid AND metric = 'mean_exec_time_ms'"),
	'>=', 5, 'its latency baseline has learned');
is(alert_count($node), 0, 'no alert while the workload is steady');
is(status_of($node, 'regressions', 'outcome'), 'ok', 'the regressions task runs');

# --- drop the index under the workload
my $l = listener($node);
$node->safe_psql('postgres', 'DROP INDEX hot_k');
my $cycles = 0;
while ($cycles < 2)
{
	cycle();
	$cycles++;
	last if alert_count($node, "kind = 'query_latency' AND queryid = $qid AND state = 'open'") > 0;
}
is(alert_count($node, "kind = 'query_latency' AND queryid = $qid AND state = 'open'"), 1,
	"latency regression opened within two cycles (took $cycles)");
if ($cycles < 2 && alert_count($node, "kind = 'seqscan_surge' AND relname = 'public.hot'") == 0)
{
	cycle();
	$cycles++;
}
is(alert_count($node, "kind = 'seqscan_surge' AND relname = 'public.hot' AND state = 'open'"), 1,
	'sequential-scan surge on the table opened within two cycles');
my $row = $node->safe_psql('postgres',
	"SELECT observed > 2 * baseline AND observed - baseline >= 5, ratio > 2, query LIKE '%FROM hot%'"
	  . " FROM nadia_bgw.alerts WHERE kind = 'query_latency' AND queryid = $qid");
is($row, 't|t|t', 'observed mean is well above the baseline; the query text is kept');

my @n = notifications($l);
my ($lat) = grep { $_->{json} && $_->{json}{kind} eq 'query_latency' } @n;
ok($lat, 'LISTEN client received the latency payload')
  or diag(join "\n", map { $_->{raw} } @n);
is($lat->{json}{event}, 'opened', 'event opened');
is($lat->{json}{object}{queryid}, $qid, 'payload names the queryid (as a string)');
ok(!exists $lat->{json}{object}{query}, 'payload carries no statement text (any role can LISTEN)');
like($node->safe_psql('postgres',
	"SELECT query FROM nadia_bgw.alerts WHERE alert_id = $lat->{json}{alert_id}"),
	qr/SELECT pad FROM hot WHERE k = \$1/, 'the alert row carries the normalized query');
is($lat->{json}{object}{database}, 'postgres', 'and the database');
cmp_ok($lat->{json}{ratio}, '>', 2, 'and the ratio');
ok((grep { $_->{json} && $_->{json}{kind} eq 'seqscan_surge' } @n), 'and the seq-scan payload');
cmp_ok(length($_->{raw}), '<', 8000, 'payload under 8000 bytes') for @n;
is(join(',', payload_problems($_->{raw})), '', "$_->{json}{kind} payload has the documented keys and types")
  for @n;

# --- it stays one alert while the index is missing, and the baseline does
# not learn the regression
my $n_before = $node->safe_psql('postgres',
	"SELECT n FROM nadia_bgw.baselines WHERE objid = $qid AND metric = 'mean_exec_time_ms'");
cycle() for 1 .. 2;
is(alert_count($node, "kind = 'query_latency' AND queryid = $qid"), 1, 'not reopened each cycle');
is(scalar(grep { $_->{json}{event} eq 'opened' } notifications($l)), 0, 'no repeated notification');
is( $node->safe_psql('postgres',
		"SELECT n FROM nadia_bgw.baselines WHERE objid = $qid AND metric = 'mean_exec_time_ms'"),
	$n_before, 'baseline frozen while the alert is open');

# --- recreate the index: both resolve
$node->safe_psql('postgres', 'CREATE INDEX hot_k ON hot (k)');
$cycles = 0;
while ($cycles < 6)
{
	cycle();
	$cycles++;
	last if alert_count($node, "state = 'open' AND (queryid = $qid OR relname = 'public.hot')") == 0;
}
is(alert_count($node, "state = 'open' AND (queryid = $qid OR relname = 'public.hot')"), 0,
	"resolved after the index is back ($cycles cycles)");
@n = grep { $_->{json} && $_->{json}{event} eq 'resolved' } notifications($l);
ok((grep { $_->{json}{kind} eq 'query_latency' } @n), 'LISTEN client received the resolution');
is($node->safe_psql('postgres',
		"SELECT string_agg(DISTINCT resolved_by, ',') FROM nadia_bgw.alerts WHERE queryid = $qid OR relname = 'public.hot'"),
	'auto', 'resolved automatically');

is(log_count($node, qr/WARNING:  nadia_bgw: .* failed/), 0, 'no detector or notification failed');

$l->quit;
$node->stop;
done_testing();
