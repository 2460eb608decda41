# 107_sampler_versions.pl -- every statistics source reads the figure of
# each history column from where this PostgreSQL version keeps it:
# pg_stat_bgwriter and pg_stat_wal (15); pg_stat_checkpointer and, for the
# backends' buffer writes, pg_stat_io (17+); pg_stat_io for the WAL writes
# and syncs (18); pg_stat_statements 1.10, 1.11, 1.12.  A column read from
# a view that no longer has it is NULL, so after activity that moves every
# counter the last-seen values must all be known and the deltas non-zero.
# Also: a reset of the checkpointer's statistics (17+; the bgwriter's
# before) is seen as a reset, and a reset of one view restarts the counters
# that come from it only.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NadiaTest;

# A small buffer pool, so that the application's own backends read from
# and write out to the files (buffers_backend, blk_read/write_time), and
# fsync on, so that WAL is synced (wal_sync); timings on.
my $node = nadia_node('sampler_versions', conf => <<'CONF');
nadia_bgw.interval = 3600
shared_buffers = 2MB
fsync = on
track_io_timing = on
track_wal_io_timing = on
CONF
sub sql { return $node->safe_psql('postgres', $_[0]); }

sql('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
my $major = int(sql('SHOW server_version_num') / 10000);
note "PostgreSQL $major, pg_stat_statements "
  . sql("SELECT extversion FROM pg_extension WHERE extname = 'pg_stat_statements'");
sql('SELECT nadia_bgw.take_sample()');    # baseline
sql('SELECT nadia_bgw.take_sample()');

# activity: bulk writes through a 2 MB pool, reads of a table larger
# than it, a checkpoint, commits that flush and sync WAL
sql(q{CREATE TABLE versions_big (id int, pad text)});
sql(q{INSERT INTO versions_big SELECT g, repeat('x', 200) FROM generate_series(1, 40000) g});
sql(q{SELECT count(*) FROM versions_big WHERE pad <> 'y'});
sql('CHECKPOINT');
sql("UPDATE versions_big SET pad = 'z' WHERE id % 10 = 0");
sql("INSERT INTO versions_big VALUES ($_, 'c')") for 1 .. 20;
sql('SELECT pg_stat_force_next_flush()');
sql('SELECT nadia_bgw.take_sample()');

# --- cluster: every last-seen value is known
my @cluster = split /\n/, sql(q{
	SELECT a.attname FROM pg_attribute a
	 WHERE a.attrelid = 'nadia_bgw.cluster_state'::regclass AND a.attnum > 0
	   AND NOT a.attisdropped AND a.attname NOT IN ('changed_at', 'dropped_at')
	 ORDER BY a.attnum});
cmp_ok(scalar @cluster, '>=', 20, 'cluster_state has its columns');
for my $col (@cluster)
{
	is(sql("SELECT $col IS NOT NULL FROM nadia_bgw.cluster_state"), 't',
		"cluster: $col is read on PostgreSQL $major");
}

# ... and the counters the activity moved have deltas in history
for my $col (qw(checkpoints_req buffers_checkpoint buffers_backend buffers_alloc
	wal_records wal_fpi wal_bytes wal_write wal_sync wal_write_time wal_sync_time))
{
	cmp_ok(sql("SELECT coalesce(sum($col), 0) FROM nadia_bgw.cluster_samples"), '>', 0,
		"cluster: $col has a delta on PostgreSQL $major");
}

# --- statements: the columns whose names changed between versions
my $q = q{SELECT sum(s.%s) FROM nadia_bgw.statement_samples s
            JOIN nadia_bgw.statements t USING (stmt_id)
           WHERE t.query LIKE '%s'};
cmp_ok(sql(sprintf($q, 'shared_blks_read', 'SELECT count(*) FROM versions_big%')), '>', 0,
	'statements: the read of the big table read blocks');
cmp_ok(sql(sprintf($q, 'blk_read_time', 'SELECT count(*) FROM versions_big%')), '>', 0,
	"statements: blk_read_time (shared_blk_read_time from 1.11) on PostgreSQL $major");
cmp_ok(sql(sprintf($q, 'shared_blks_written', 'INSERT INTO versions_big SELECT%')), '>', 0,
	'statements: the bulk insert wrote blocks itself');
cmp_ok(sql(sprintf($q, 'blk_write_time', 'INSERT INTO versions_big SELECT%')), '>', 0,
	"statements: blk_write_time (shared_blk_write_time from 1.11) on PostgreSQL $major");
for my $col (qw(wal_records wal_fpi wal_bytes))
{
	cmp_ok(sql(sprintf($q, $col, 'UPDATE versions_big%')), '>', 0,
		"statements: $col on PostgreSQL $major");
}

# --- a reset of one view restarts its own counters, not the others of the
# row: the delta of another view's counter stays one interval's work, not
# its whole cumulative value
my $target = $major >= 17 ? 'checkpointer' : 'bgwriter';
sql("SELECT pg_stat_reset_shared('$target')");
my $id = sql('SELECT nadia_bgw.take_sample()');
is(sql(q{SELECT count(*) > 0 FROM nadia_bgw.stats_events
          WHERE source = 'cluster' AND kind = 'stats_reset'}), 't',
	"pg_stat_reset_shared('$target') is recorded as a reset of the cluster source");
my $wal_total = sql('SELECT wal_bytes FROM pg_stat_wal');
cmp_ok(sql("SELECT coalesce(sum(wal_bytes), 0) FROM nadia_bgw.cluster_history WHERE sample_id = $id"),
	'<', $wal_total / 2, "the $target reset does not restart the WAL counters");

sql('CHECKPOINT');
sql('SELECT nadia_bgw.take_sample()');
sql("SELECT pg_stat_reset_shared('wal')");
$id = sql('SELECT nadia_bgw.take_sample()');
is(sql("SELECT coalesce(sum(checkpoints_req), 0) FROM nadia_bgw.cluster_history WHERE sample_id = $id"),
	0, 'a WAL reset does not restart the checkpoint counters');
cmp_ok(sql(q{SELECT min(least(coalesce(checkpoints_req, 0), coalesce(wal_bytes, 0), coalesce(buffers_alloc, 0)))
               FROM nadia_bgw.cluster_samples}), '>=', 0, 'no negative delta');

is(log_count($node, qr/server process .* terminated by signal|PANIC/), 0, 'no crash in the log');
$node->stop('fast');
done_testing();
