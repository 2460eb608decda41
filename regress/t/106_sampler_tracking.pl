# 106_sampler_tracking.pl -- the shared memory that holds the last-seen
# values of statements, tables and indexes: when nadia_bgw.max_tracked_objects
# is reached the objects beyond it are not tracked (WARNING, 'not_tracked'
# event, no history for them, never inflated deltas), and a restart empties
# it: the next sample takes a new baseline ('state_lost').
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NadiaTest;

# pg_stat_statements is not created in this database, so the hash holds
# tables and indexes only; the tables (sampled first) fill it
my $node = nadia_node('sampler_tracking',
	conf => "nadia_bgw.interval = 3600\nnadia_bgw.max_tracked_objects = 100\n"
	  . "pg_stat_statements.track = none\n");
# (the indexes source then finds no room even for its marker: it fails
# with that error, the other sources land)
$node->safe_psql('postgres', q{
	DO $$
	BEGIN
	  FOR i IN 1..150 LOOP
	    EXECUTE format('CREATE TABLE full_t%s (a int)', i);
	    EXECUTE format('INSERT INTO full_t%s VALUES (1)', i);
	  END LOOP;
	END $$;
	SELECT pg_stat_force_next_flush();
});

my ($ret, $out, $err) = $node->psql('postgres', 'SELECT nadia_bgw.take_sample()');
is($ret, 0, 'a sample with more objects than room completes');
like($err, qr/WARNING:  nadia_bgw: \d+ objects of source "tables" are not tracked: nadia_bgw.max_tracked_objects \(100\) is reached/,
	'it warns');
my $id = $out;
is($node->safe_psql('postgres',
		"SELECT outcome->>'tables' FROM nadia_bgw.samples WHERE sample_id = $id"),
	'ok', 'the source itself succeeds');
like($node->safe_psql('postgres',
		"SELECT outcome->>'indexes' FROM nadia_bgw.samples WHERE sample_id = $id"),
	qr/^error: 53400: insufficient resources \(message in the server log\)$/,
	'a source that finds no room at all fails alone, its SQLSTATE recorded');
like($err, qr/WARNING:  nadia_bgw: sampling source "indexes" failed: nadia_bgw: no room to track source "indexes"/,
	'with the clear error in the warning (the server log)');
is($node->safe_psql('postgres',
		"SELECT count > 0 AND details->>'max_tracked_objects' = '100' FROM nadia_bgw.stats_events"
		  . " WHERE sample_id = $id AND source = 'tables' AND kind = 'not_tracked'"),
	't', 'and records a not_tracked event in the sample');
my $tracked = $node->safe_psql('postgres',
	"SELECT count(*) FROM nadia_bgw.table_state WHERE relname LIKE 'full_t%' AND n_tup_ins IS NOT NULL");
cmp_ok($tracked, '>', 0, 'some tables are tracked');
cmp_ok($tracked, '<', 150, 'not all of them');

# one more row in every table: tracked tables get a delta of 1, untracked
# ones get nothing (their whole counter would be an inflated delta)
$node->safe_psql('postgres', q{
	DO $$
	BEGIN
	  FOR i IN 1..150 LOOP
	    EXECUTE format('INSERT INTO full_t%s VALUES (2)', i);
	  END LOOP;
	END $$;
	SELECT pg_stat_force_next_flush();
});
($ret, $out, $err) = $node->psql('postgres', 'SELECT nadia_bgw.take_sample()');
$id = $out;
is($node->safe_psql('postgres',
		"SELECT count(*) FILTER (WHERE n_tup_ins = 1) || ' ' || count(*) FROM nadia_bgw.table_history"
		  . " WHERE sample_id = $id AND relname LIKE 'full_t%'"),
	"$tracked $tracked", 'tracked tables have exact deltas, untracked ones no rows');

# dropping tables makes room (forgotten at once while the hash is full)
$node->safe_psql('postgres', q{
	DO $$
	BEGIN
	  FOR i IN 1..150 LOOP
	    EXECUTE format('DROP TABLE full_t%s', i);
	  END LOOP;
	END $$;
	CREATE TABLE after_t (a int);
	INSERT INTO after_t VALUES (1);
	SELECT pg_stat_force_next_flush();
});
$node->safe_psql('postgres', 'SELECT nadia_bgw.take_sample()');
$node->safe_psql('postgres', 'SELECT nadia_bgw.take_sample()');
$node->safe_psql('postgres', 'INSERT INTO after_t VALUES (2); SELECT pg_stat_force_next_flush()');
$id = $node->safe_psql('postgres', 'SELECT nadia_bgw.take_sample()');
is($node->safe_psql('postgres',
		"SELECT n_tup_ins FROM nadia_bgw.table_history WHERE sample_id = $id AND relname = 'after_t'"),
	'1', 'room again once dropped tables are forgotten');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM nadia_bgw.table_state WHERE relname LIKE 'full_t%' AND dropped_at IS NULL"),
	'0', 'dropped tables are marked dropped in table_state');

# a clean restart empties the shared memory: new baseline, no inflated delta
$node->restart;
$node->safe_psql('postgres', 'INSERT INTO after_t VALUES (3); SELECT pg_stat_force_next_flush()');
$id = $node->safe_psql('postgres', 'SELECT nadia_bgw.take_sample()');
is($node->safe_psql('postgres',
		"SELECT string_agg(source, ',' ORDER BY source) FROM nadia_bgw.stats_events"
		  . " WHERE kind = 'state_lost' AND sample_id >= (SELECT min(sample_id) FROM nadia_bgw.samples"
		  . "   WHERE sampled_at > pg_postmaster_start_time())"),
	'indexes,plans,tables', 'the first sample after a restart takes a new baseline (databases and cluster'
	  . ' keep theirs in unlogged tables, which a clean restart keeps)');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM nadia_bgw.table_history WHERE relname = 'after_t'"
		  . " AND sampled_at > pg_postmaster_start_time() AND n_tup_ins > 1"),
	'0', 'and writes no delta against the lost values');
is($node->safe_psql('postgres',
		"SELECT n_tup_ins IS NOT NULL FROM nadia_bgw.table_state WHERE relname = 'after_t'"),
	't', 'table_state is current again after that sample');
$node->safe_psql('postgres', 'INSERT INTO after_t VALUES (4); SELECT pg_stat_force_next_flush()');
$id = $node->safe_psql('postgres', 'SELECT nadia_bgw.take_sample()');
is($node->safe_psql('postgres',
		"SELECT n_tup_ins FROM nadia_bgw.table_history WHERE sample_id = $id AND relname = 'after_t'"),
	'1', 'the next sample has exact deltas again');

$node->stop('fast');
done_testing();
