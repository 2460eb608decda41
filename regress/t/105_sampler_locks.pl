# 105_sampler_locks.pl -- a sample never waits behind an application's
# ACCESS EXCLUSIVE lock: table and index sizes are read from the files
# without locking the relations, so the sample lands whole.  A source that
# does need a lock (here: its own catalog table, locked on purpose) gives
# up after a short lock_timeout, is recorded as failed, its shared-memory
# changes are undone, and the other sources land.
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

# a new table is measured by the next sample; the application locks it
$node->safe_psql('postgres', q{
	CREATE TABLE app_new (id int PRIMARY KEY, v text);
	INSERT INTO app_new SELECT g, 'y' FROM generate_series(1, 500) g;
	SELECT pg_stat_force_next_flush();
});
my $holder = $node->background_psql('postgres');
$holder->query_safe('BEGIN');
$holder->query_safe('LOCK TABLE app_new IN ACCESS EXCLUSIVE MODE');

# without lock-free sizes this would wait until the holder commits, and the
# test would time out here
my $id = $node->safe_psql('postgres',
	"SET lock_timeout = 0; SELECT nadia_bgw.take_sample()");
like($id, qr/^\d+$/, 'sample completes while a table is locked');
is($node->safe_psql('postgres',
		"SELECT outcome FROM nadia_bgw.samples WHERE sample_id = $id AND failed_sources <> '{}'"),
	'', 'no source failed');
$holder->query_safe('COMMIT');
is($node->safe_psql('postgres', q{
		SELECT s.heap_bytes = pg_relation_size('app_new') AND s.total_bytes = pg_total_relation_size('app_new')
		   AND s.index_bytes = pg_indexes_size('app_new')
		   AND s.toast_bytes = pg_total_relation_size((SELECT reltoastrelid FROM pg_class WHERE relname = 'app_new'))
		  FROM nadia_bgw.table_state s WHERE s.relname = 'app_new'}),
	't', 'the locked table was measured, sizes as pg_*_size() give them');
is($node->safe_psql('postgres', q{
		SELECT n_tup_ins FROM nadia_bgw.table_history h
		 WHERE h.relname = 'app_new' AND h.sample_id = } . $id),
	'500', 'and its inserts are in history');

# a source that needs a lock gives up after lock_timeout: the tables source
# must write its catalog table for a new table, which is locked here
$node->safe_psql('postgres', q{
	CREATE TABLE app_other (id int);
	INSERT INTO app_other SELECT generate_series(1, 42);
	SELECT pg_stat_force_next_flush();
});
$holder->query_safe('BEGIN');
$holder->query_safe('LOCK TABLE nadia_bgw.table_catalog IN ACCESS EXCLUSIVE MODE');
$id = $node->safe_psql('postgres',
	"SET lock_timeout = 0; SELECT nadia_bgw.take_sample()");
like($id, qr/^\d+$/, 'sample completes while a table it writes is locked');
is($node->safe_psql('postgres',
		"SELECT array_to_string(failed_sources, ',') FROM nadia_bgw.samples WHERE sample_id = $id"),
	'tables', 'the source that waited is recorded as failed');
like($node->safe_psql('postgres',
		"SELECT outcome->>'tables' FROM nadia_bgw.samples WHERE sample_id = $id"),
	qr/55P03/, 'with the lock timeout as its error');
is($node->safe_psql('postgres',
		"SELECT count(*) > 0 FROM nadia_bgw.database_history WHERE sample_id = $id"),
	't', 'other sources still landed');
is($node->safe_psql('postgres',
		"SELECT indexdef FROM nadia_bgw.index_state WHERE indexrelname = 'app_new_pkey'"),
	'CREATE UNIQUE INDEX app_new_pkey ON public.app_new USING btree (id)',
	'the definition of an index of a table that was locked is read once the lock is gone');
is($node->safe_psql('postgres',
		"SET lock_timeout = '7s'; SELECT nadia_bgw.take_sample() IS NOT NULL; SHOW lock_timeout"),
	"t\n7s", 'the caller keeps its own lock_timeout');

$holder->query_safe('COMMIT');
$holder->quit;
my $id2 = $node->safe_psql('postgres', 'SELECT nadia_bgw.take_sample()');
is($node->safe_psql('postgres',
		"SELECT coalesce(array_length(failed_sources, 1), 0) FROM nadia_bgw.samples WHERE sample_id = $id2"),
	'0', 'once the lock is gone every source lands');
# the failed samples' changes to the shared last-seen values were undone:
# the new table is new to this sample, its whole inserts are its delta
is($node->safe_psql('postgres', q{
		SELECT n_tup_ins FROM nadia_bgw.table_history h
		 WHERE h.relname = 'app_other' AND h.sample_id = } . $id2),
	'42', 'the failed source left no trace in shared memory');

# sizes follow writes: each table is measured again on its turn, within
# ten samples, and the measurement is in history once
my $first = $node->safe_psql('postgres', q{
	INSERT INTO app_t SELECT g, 'z' FROM generate_series(1001, 5000) g;
	SELECT pg_stat_force_next_flush();
	SELECT nadia_bgw.take_sample()});
$node->safe_psql('postgres', 'SELECT nadia_bgw.take_sample()') for 1 .. 9;
is($node->safe_psql('postgres', q{
		SELECT total_bytes = pg_total_relation_size('app_t') AND heap_bytes = pg_relation_size('app_t')
		  FROM nadia_bgw.table_state WHERE relname = 'app_t'}),
	't', 'sizes of a written table are measured again within ten samples');
is($node->safe_psql('postgres',
		"SELECT count(total_bytes) FROM nadia_bgw.table_history WHERE relname = 'app_t' AND sample_id >= $first"),
	'1', 'and written to history once');

$node->stop('fast');
done_testing();
