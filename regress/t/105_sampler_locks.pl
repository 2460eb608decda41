# 105_sampler_locks.pl -- a sample never waits behind an application's
# ACCESS EXCLUSIVE lock: the source that needs the table gives up after a
# short lock_timeout, is recorded as failed, and the other sources land.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NadiaTest;

my $node = nadia_node('sampler_locks', conf => "nadia_bgw.interval = 3600\n");
$node->safe_psql('postgres', q{
	CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
	CREATE TABLE app_t (id int PRIMARY KEY, v text);
	INSERT INTO app_t SELECT g, 'x' FROM generate_series(1, 1000) g;
});
$node->safe_psql('postgres', 'SELECT nadia_bgw.take_sample()');
# change the table's statistics so that the next sample reads its size
$node->safe_psql('postgres', "UPDATE app_t SET v = 'y' WHERE id <= 100");
$node->safe_psql('postgres', 'SELECT pg_stat_force_next_flush()');

my $holder = $node->background_psql('postgres');
$holder->query_safe('BEGIN');
$holder->query_safe('LOCK TABLE app_t IN ACCESS EXCLUSIVE MODE');

# without the lock timeout this would wait until the holder commits, and
# the test would time out here
my $id = $node->safe_psql('postgres',
	"SET lock_timeout = 0; SELECT nadia_bgw.take_sample()");
like($id, qr/^\d+$/, 'sample completes while a table is locked');
my $failed = $node->safe_psql('postgres',
	"SELECT array_to_string(failed_sources, ',') FROM nadia_bgw.samples WHERE sample_id = $id");
like($failed, qr/tables/, 'the source reading the locked table is recorded as failed');
like($node->safe_psql('postgres',
		"SELECT outcome::text FROM nadia_bgw.samples WHERE sample_id = $id"),
	qr/55P03/, 'with the lock timeout as its error');
is($node->safe_psql('postgres',
		"SELECT count(*) > 0 FROM nadia_bgw.database_history WHERE sample_id = $id"),
	't', 'other sources still landed');
is($node->safe_psql('postgres',
		"SET lock_timeout = '7s'; SELECT nadia_bgw.take_sample() IS NOT NULL; SHOW lock_timeout"),
	"t\n7s", 'the caller keeps its own lock_timeout');

$holder->query_safe('COMMIT');
$holder->quit;
my $id2 = $node->safe_psql('postgres', 'SELECT nadia_bgw.take_sample()');
is($node->safe_psql('postgres',
		"SELECT coalesce(array_length(failed_sources, 1), 0) FROM nadia_bgw.samples WHERE sample_id = $id2"),
	'0', 'once the lock is gone every source lands');

$node->stop('fast');
done_testing();
