# Randomized rollup test: several seeds, >= 1,000 random operations each,
# from two writer sessions and a refreshing session (see rollup_random.sql);
# after every quiescent point and at the end each rollup must equal its
# full query, compared with EXCEPT both ways.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use NadiaTest;

my $ops = $ENV{ROLLUP_RANDOM_OPS} // 1200;
my @seeds = split /,/, ($ENV{ROLLUP_RANDOM_SEEDS} // '11,23,47,101');

# the worker stays paused: every refresh comes from the driver, so a seed
# replays the same interleaving
my $node = nadia_node('rollup_random', conf => "nadia_bgw.enabled = off\n");
my $root = $ENV{NADIA_ROOT};
my $conninfo = sprintf('host=%s port=%d dbname=postgres', $node->host, $node->port);

for my $seed (@seeds)
{
	$node->safe_psql('postgres', "DROP DATABASE IF EXISTS rnd");
	$node->safe_psql('postgres', "CREATE DATABASE rnd");
	$node->safe_psql('rnd', 'CREATE EXTENSION nadia_bgw');
	$node->safe_psql('rnd', slurp_file("$root/t/rollup_random.sql"));
	(my $ci = $conninfo) =~ s/dbname=postgres/dbname=rnd/;
	$node->safe_psql('rnd', q{
		SELECT nadia_bgw.create_rollup(name => 'r_daily', source => 'rt', time_column => 'at',
		    bucket => '1 day', bucket_column => 'date', timezone => 'UTC', horizon => '30 days',
		    aggregates => ARRAY['count(*) AS n', 'count(DISTINCT user_id) AS users',
		                        'avg(score) AS avg_score', 'count(*) FILTER (WHERE score >= 4) AS high']);
		SELECT nadia_bgw.create_rollup(name => 'r_model', source => 'rt', time_column => 'at',
		    bucket => '1 day', timezone => 'America/New_York', group_by => ARRAY['model'],
		    aggregates => ARRAY['count(*) AS n', 'sum(score) AS score']);
		SELECT nadia_bgw.create_rollup(name => 'r_hourly', source => 'rt', time_column => 'at',
		    bucket => '1 hour', timezone => 'Asia/Kolkata', filter => 'score > 1',
		    aggregates => ARRAY['count(DISTINCT user_id) AS active']);
		SELECT nadia_bgw.create_rollup(name => 'r_weekly', source => 'rt', time_column => 'at',
		    bucket => '7 days', timezone => 'Europe/Madrid',
		    aggregates => ARRAY['count(*) AS n', 'max(score) AS best']);
	});
	my ($ret, $out, $err) = $node->psql('rnd',
		"CALL nadia_rollup_random($seed, $ops, '$ci')");
	is($ret, 0, "seed $seed: $ops random operations, rollups equal their queries")
	  or diag($err);
	my ($checks) = $out =~ /(\d+)\s*$/;
	ok(defined $checks && $checks >= 2, "seed $seed: compared at " . ($checks // 0) . " quiescent points");
	my $rows = $node->safe_psql('rnd', 'SELECT count(*) FROM rt');
	my $buckets = $node->safe_psql('rnd', 'SELECT sum(buckets_recomputed) FROM nadia_bgw.rollup');
	note("seed $seed: $rows rows left, $buckets buckets recomputed");
	ok($buckets > 0, "seed $seed: refreshes recomputed buckets");
}

$node->stop;
done_testing();
