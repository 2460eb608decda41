# 109_sampler_undo_bound.pl -- the undo log of the tracked objects (the
# shared-memory last-seen values of statements, tables and indexes) is
# bounded.  Past its limit (64 MB worth of records; here lowered with
# nadia_bgw.debug_tracked_undo_limit) a sample does not fail and does not
# keep growing its memory: it stops logging, and an abort then makes the
# sources it touched take a new baseline ('state_lost') instead of
# undoing, so that no delta is ever computed against values that history
# does not hold.  Under the limit a rollback undoes exactly, as before.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NadiaTest;

my $node = nadia_node('undo_bound', conf => <<'CONF');
nadia_bgw.interval = 3600
autovacuum = off
CONF

sub sql { return $node->safe_psql('postgres', $_[0]); }

my $ntables = 60;
sql(qq{DO \$\$ BEGIN FOR i IN 1..$ntables LOOP
         EXECUTE format('CREATE TABLE u%s (a int)', i);
       END LOOP; END \$\$});

# one row into every table, flushed to the statistics
sub write_all
{
	sql(qq{DO \$\$ BEGIN FOR i IN 1..$ntables LOOP
	         EXECUTE format('INSERT INTO u%s VALUES (1)', i);
	       END LOOP; END \$\$;
	       SELECT pg_stat_force_next_flush();});
}

# the sample's table deltas of our tables: "rows with n_tup_ins = 1 / rows"
sub deltas
{
	my ($id) = @_;
	return sql("SELECT count(*) FILTER (WHERE n_tup_ins = 1) || '/' || count(*)
	              FROM nadia_bgw.table_history WHERE sample_id = $id AND relname LIKE 'u%'");
}

sub lost
{
	my ($id) = @_;
	return sql("SELECT coalesce(string_agg(source, ',' ORDER BY source), '')
	              FROM nadia_bgw.stats_events WHERE sample_id = $id AND kind = 'state_lost'");
}

sql('SELECT nadia_bgw.take_sample()') for 1 .. 2;    # the baseline
write_all();
is(deltas(sql('SELECT nadia_bgw.take_sample()')), "$ntables/$ntables", 'exact deltas to start with');

# --- under the limit: a rolled-back sample is undone exactly
write_all();
sql('BEGIN; SELECT nadia_bgw.take_sample(); ROLLBACK');
my $id = sql('SELECT nadia_bgw.take_sample()');
is(lost($id), '', 'under the limit: no baseline lost after a rollback');
is(deltas($id), "$ntables/$ntables", 'and the next deltas are exact (the rollback was undone)');

# --- past the limit: no error, bounded memory, a new baseline after the abort
write_all();
my $log = -s $node->logfile;
my ($sampled, $bytes) = split /\n/, sql(q{
	BEGIN;
	SET LOCAL nadia_bgw.debug_tracked_undo_limit = 20;
	SELECT nadia_bgw.take_sample() IS NOT NULL;
	SELECT coalesce(sum(total_bytes), -1) FROM pg_backend_memory_contexts
	 WHERE name = 'nadia_bgw tracked undo';
	ROLLBACK;});
is($sampled, 't', 'a sample that changes more entries than the limit succeeds');
ok($bytes >= 0 && $bytes <= 64 * 1024,
	"the undo log's memory stays bounded (context 'nadia_bgw tracked undo': $bytes bytes)");
like(log_since($node, $log), qr/undo log of tracked objects is full \(20 records\)/, 'the overflow is logged');
$id = sql('SELECT nadia_bgw.take_sample()');
like(lost($id), qr/tables/, 'after the rollback the sources take a new baseline (state_lost)');
is(deltas($id), "0/0", 'and write no delta against values history does not hold');
write_all();
is(deltas(sql('SELECT nadia_bgw.take_sample()')), "$ntables/$ntables", 'exact deltas again after that');

# --- the same through a subtransaction, the transaction going on
write_all();
my ($first, $second) = split /\n/, sql(q{
	BEGIN;
	SET LOCAL nadia_bgw.debug_tracked_undo_limit = 20;
	SAVEPOINT s;
	SELECT nadia_bgw.take_sample();
	ROLLBACK TO SAVEPOINT s;
	SELECT nadia_bgw.take_sample();
	COMMIT;});
like(lost($second), qr/tables/, 'a subtransaction aborted past the limit: the next sample takes a new baseline');
write_all();
is(deltas(sql('SELECT nadia_bgw.take_sample()')), "$ntables/$ntables", 'exact deltas after it');

is(log_count($node, qr/server process .* terminated by signal|PANIC/), 0, 'no crash in the log');
$node->stop('fast');
done_testing();
