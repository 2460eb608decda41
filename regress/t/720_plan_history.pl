# 720_plan_history.pl -- the plan capture drained into plan history by the
# sample task (docs/history.md, "Plans"): one plans row per plan, two plans
# of one statement stored apart, per-sample deltas equal to the executions
# between samples, the storage rule (no plan_samples rows for a statement
# with one plan, rows and right deltas from the sample that stores its
# second plan), the sampler's own call kept out, an instrumented
# execution's nodes copied, the hourly and daily tiers and retention, a
# server restart taking a new baseline with its events, and a full store
# reported as a not_tracked event.  Time for the tiers is an input of
# maintain_history(), never the wall clock.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NadiaTest;

my $node = nadia_node('plan_history',
	conf => "nadia_bgw.interval = 3600\nnadia_bgw.plan_sample_rate = 0\n"
	  . "nadia_bgw.plan_sample_min_duration = -1\n");
sub sql { return $node->safe_psql('postgres', $_[0]); }
sql(q{
	CREATE EXTENSION pg_stat_statements;
	CREATE TABLE t (id int PRIMARY KEY, v int);
	INSERT INTO t SELECT i, i % 100 FROM generate_series(1, 10000) i;
	ANALYZE t;
});
sub take { return sql('SELECT nadia_bgw.take_sample()'); }

my $index_plan = 'SELECT count(*) FROM t WHERE id < 50';
my $seq_plan = "SET enable_indexscan = off; SET enable_bitmapscan = off; SET enable_indexonlyscan = off;\n";

# calls of each plan of a statement (its normalized text; default: the
# count) in one sample, in ascending order
sub calls_at
{
	my ($sample, $query) = @_;
	$query //= 'SELECT count(*) FROM t WHERE id < $1';
	return sql(q{SELECT coalesce(string_agg(h.calls::text, ',' ORDER BY h.calls), 'none')
		FROM nadia_bgw.plan_samples h JOIN nadia_bgw.plans p USING (plan_ref)
		JOIN nadia_bgw.samples s ON s.sampled_at = h.sampled_at
		JOIN pg_stat_statements q ON (q.queryid, q.dbid, q.userid) = (p.queryid, p.dbid, p.userid)
		WHERE q.query = '} . $query . q{' AND s.sample_id = } . $sample);
}

# --- baseline, then executions of two plans of one statement
my $s0 = take();
sql($index_plan) for 1 .. 3;
sql($seq_plan . "$index_plan;\n$index_plan;");
my $s1 = take();
is(sql("SELECT outcome->>'plans' FROM nadia_bgw.samples WHERE sample_id = $s1"), 'ok', 'the plans source ran');
my $qid = sql(q{SELECT queryid FROM pg_stat_statements WHERE query = 'SELECT count(*) FROM t WHERE id < $1'});
is(sql("SELECT count(*) || ' ' || count(DISTINCT planid) FROM nadia_bgw.plans WHERE queryid = $qid"),
	'2 2', 'one plans row per plan: two plan ids of one statement stored apart');
is(sql("SELECT bool_and(plan_text IS NOT NULL AND plan_nodes IS NOT NULL) FROM nadia_bgw.plans WHERE queryid = $qid"),
	't', 'each with its text and nodes');
is(sql("SELECT bool_and(p.plan_text = s.plan_text"
		  . "   AND p.plan_nodes = nadia_bgw._plan_nodes_stored(s.plan_nodes)"
		  . "   AND jsonb_array_length(p.plan_nodes) = jsonb_array_length(s.plan_nodes))"
		  . " AND bool_or(pg_column_compression(p.plan_nodes) IS NOT NULL)"
		  . " FROM nadia_bgw.plans p JOIN nadia_bgw._plan_store(true) s USING (queryid, dbid, userid, planid)"
		  . " WHERE p.queryid = $qid"),
	't', 'stored compressed (a plans row is too small for PostgreSQL to do it), read back the same');
is(sql("SELECT bool_and(NOT (n ? 'relid') AND NOT (n ? 'join_type') AND n ? 'node' AND n ? 'est_rows'"
		  . "   AND (n->>'total_cost')::numeric = round((n->>'total_cost')::numeric, 2))"
		  . " FROM nadia_bgw.plans p, jsonb_array_elements(p.plan_nodes) n"
		  . " WHERE p.queryid = $qid AND n->>'node' = 'Aggregate'"),
	't', 'node facts: null keys left out, costs to two decimals, the rest kept');
my $seq_ref = sql("SELECT plan_ref FROM nadia_bgw.plans WHERE queryid = $qid AND plan_text LIKE '%Seq Scan%'");
isnt($seq_ref, '', 'the sequential plan is told by its text');
is(calls_at($s1), '2,3', 'both plans have history in the sample: their executions');
is(sql("SELECT (rows_written->>'plans')::int = (SELECT count(*) FROM nadia_bgw.plan_samples h"
		  . " WHERE h.sampled_at = x.sampled_at) AND source_ms ? 'plans'"
		  . " FROM nadia_bgw.samples x WHERE sample_id = $s1"),
	't', 'the sample records the rows the source wrote and its time');
is(sql("SELECT h.calls FROM nadia_bgw.plan_samples h JOIN nadia_bgw.plans p USING (plan_ref)"
		  . " JOIN nadia_bgw.samples s ON s.sampled_at = h.sampled_at"
		  . " WHERE s.sample_id = $s1 AND p.plan_ref = $seq_ref"),
	'2', 'the sequential plan: its two executions');

# --- the next interval: only what ran in it
sql($index_plan) for 1 .. 4;
my $s2 = take();
is(calls_at($s2), '4', 'four executions of one plan, no row for the plan that did not run');

# --- the storage rule: a statement with one plan has its plans row but no
# plan_samples rows (its figures are the statement's); from the sample
# that stores its second plan on, both plans get rows, the first plan's
# delta counting the executions since the previous sample
my $lookup = 'SELECT v FROM t WHERE id = 7';
my $lookup_norm = 'SELECT v FROM t WHERE id = $1';
sql($lookup) for 1 .. 3;
my $l1 = take();
is(sql("SELECT count(*) FROM nadia_bgw.plans p JOIN pg_stat_statements q USING (queryid, dbid, userid)"
		  . " WHERE q.query = '$lookup_norm'"),
	'1', 'a single-plan statement gets its plans row');
is(calls_at($l1, $lookup_norm), 'none', 'but no plan_samples row');
sql($lookup) for 1 .. 2;
my $l2 = take();
is(calls_at($l2, $lookup_norm), 'none', 'nor in the next sample');
sql($lookup) for 1 .. 4;
sql($seq_plan . "$lookup;");
my $l3 = take();
is(sql("SELECT count(*) FROM nadia_bgw.plans p JOIN pg_stat_statements q USING (queryid, dbid, userid)"
		  . " WHERE q.query = '$lookup_norm'"),
	'2', 'a second plan of the statement: its plans row');
is(calls_at($l3, $lookup_norm), '1,4',
	'from that sample on both plans have rows; the first plan\'s: its executions since the previous sample');
is(sql("SELECT p.first_seen > s.sampled_at FROM nadia_bgw.plans p"
		  . " JOIN pg_stat_statements q USING (queryid, dbid, userid), nadia_bgw.samples s"
		  . " WHERE q.query = '$lookup_norm' AND p.plan_text LIKE '%Seq Scan%' AND s.sample_id = $l2"),
	't', 'the second plan\'s first_seen is after the sample before (where the readers\' implicit rows end)');
sql($lookup) for 1 .. 2;
my $l4 = take();
is(calls_at($l4, $lookup_norm), '2', 'then each plan that ran, as before');

# --- the sampler's own call: excluded like its statement
cmp_ok(sql('SELECT count(*) FROM nadia_bgw.statements WHERE excluded'), '>', 0,
	'take_sample() calls are in the statement dictionary as excluded');
is(sql('SELECT count(*) FROM nadia_bgw.plans p JOIN nadia_bgw.statements d USING (queryid, dbid, userid) WHERE d.excluded'),
	'0', 'and their plans are not in plan history');

# --- an instrumented execution: counted, and its nodes copied when stored
sql("SET nadia_bgw.plan_sample_rate = 1;\n$index_plan;");
my $s3 = take();
is(sql("SELECT sum(h.sampled_calls) FROM nadia_bgw.plan_samples h JOIN nadia_bgw.plans p USING (plan_ref)"
		  . " JOIN nadia_bgw.samples s ON s.sampled_at = h.sampled_at WHERE s.sample_id = $s3 AND p.queryid = $qid"),
	'1', 'the instrumented execution is counted');
is(sql("SELECT bool_and(p.sampled_nodes IS NOT DISTINCT FROM s.sampled_nodes"
		  . " AND (s.sampled_nodes IS NULL OR p.sampled_at = s.sampled_at))"
		  . " FROM nadia_bgw.plans p JOIN nadia_bgw._plan_store(true) s USING (queryid, dbid, userid, planid)"
		  . " WHERE p.queryid = $qid"),
	't', 'the plans row holds the store\'s latest sampled nodes');
is(sql("SELECT bool_and(p.last_seen = s.last_seen) FROM nadia_bgw.plans p"
		  . " JOIN nadia_bgw._plan_store(false) s USING (queryid, dbid, userid, planid) WHERE p.queryid = $qid"),
	't', 'last_seen follows the store');

# --- tiers: the hourly and daily rows hold what the raw rows held
my $raw = sql("SELECT string_agg(plan_ref || ':' || c, ' ' ORDER BY plan_ref) FROM"
	  . " (SELECT plan_ref, sum(calls) AS c FROM nadia_bgw.plan_samples GROUP BY 1) x");
isnt($raw, '', 'raw plan history to downsample');
sql("SELECT nadia_bgw.maintain_history(now() + interval '3 days')");
is(sql("SELECT string_agg(plan_ref || ':' || c, ' ' ORDER BY plan_ref) FROM"
	  . " (SELECT plan_ref, sum(calls) AS c FROM nadia_bgw.plan_hourly GROUP BY 1) x"),
	$raw, 'the hourly tier rolls the plan rows up');
is(sql("SELECT string_agg(plan_ref || ':' || c, ' ' ORDER BY plan_ref) FROM"
	  . " (SELECT plan_ref, sum(calls) AS c FROM nadia_bgw.plan_daily GROUP BY 1) x"),
	$raw, 'the daily tier too');
is(sql("SELECT count(*) FROM nadia_bgw.plan_samples WHERE sampled_at < now() + interval '2 days'"),
	'0', 'retention dropped the raw plan partitions');
is(sql("SELECT count(*) FROM nadia_bgw.history_partitions p JOIN nadia_bgw.history_tables t USING (parent)"
		  . " WHERE t.parent = 'nadia_bgw.plan_samples'::regclass AND p.hi <= now() + interval '2 days'"),
	'0', 'the plan partitions are gone from the registry');

# --- a restart: the store and the last-seen values start again
$node->restart;
wait_until($node, "SELECT runs >= 1 FROM nadia_bgw.status WHERE task = 'sample'");
my $after = sql("SELECT max(sample_id) FROM nadia_bgw.samples");
is(sql("SELECT string_agg(kind, ',' ORDER BY kind) FROM nadia_bgw.stats_events"
		  . " WHERE source = 'plans' AND sample_id > $s3"),
	'state_lost,stats_reset', 'a new baseline, with state_lost and the store\'s new created_at');
sql($index_plan) for 1 .. 2;
my $s4 = take();
is(calls_at($s4), '2', 'deltas resume from the new baseline');
is(sql("SELECT count(*) FROM nadia_bgw.plans WHERE queryid = $qid"), '2', 'still one plans row per plan');
$node->stop;

# --- a full store: its growth is a not_tracked event of source plans
my $small = nadia_node('plan_history_full',
	conf => "nadia_bgw.interval = 3600\nnadia_bgw.plan_max = 100\n");
$small->safe_psql('postgres', 'CREATE TABLE t (id int PRIMARY KEY)');
$small->safe_psql('postgres', 'SELECT nadia_bgw.take_sample()');
$small->safe_psql('postgres',
	join('', map { 'SELECT ' . join(',', ('id') x $_) . " FROM t WHERE id = 1;\n" } 1 .. 150));
my ($ret, $out, $err) = $small->psql('postgres', 'SELECT nadia_bgw.take_sample()');
like($err, qr/WARNING:  nadia_bgw: the plan store is full: \d+ executions of new plans not tracked/,
	'a full store is warned about');
is($small->safe_psql('postgres',
		"SELECT count >= 40 AND (details->>'max_entries')::int = 100 FROM nadia_bgw.stats_events"
		  . " WHERE source = 'plans' AND kind = 'not_tracked' AND sample_id = $out"),
	't', 'and recorded as a not_tracked event with the counts');
cmp_ok($small->safe_psql('postgres', 'SELECT count(*) FROM nadia_bgw.plans'), '<=', 100,
	'plans that had no entry have no plans row');
$small->stop;

done_testing();
