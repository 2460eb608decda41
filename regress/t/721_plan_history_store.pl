# 721_plan_history_store.pl -- the plans source of the sampler against a
# store whose every counter the test sets: nadia_bgw._plan_store() and
# _plan_store_info() are replaced by SQL functions over two tables, so the
# figures are exact and every edge can be made on purpose.  One plans row
# per plan (two plan ids of one statement kept apart), deltas of the
# interval, the storage rule (a single-plan statement's plan: a plans row,
# no plan_samples rows; rows and exact deltas from the sample that stores
# a second plan, whose first_seen is never before the previous sample),
# sampled nodes refreshed when newer, the store's full counters
# as a 'not_tracked' event, a sample rolled back losing and doubling
# nothing, an excluded statement's plans kept out, a store set up again
# restarting the counters, a server restart taking a new baseline, the
# hourly and daily tiers and retention, and a purged plan coming back.
# (t/720_plan_history.pl does the same with the real capture.)
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NadiaTest;

# the real capture off: nothing but the test's store reaches the sampler
my $node = nadia_node('plan_store_fake', conf => "nadia_bgw.interval = 3600\nnadia_bgw.plan_capture = off\n");
sub sql { return $node->safe_psql('postgres', $_[0]); }

# the store as two tables; the functions keep the contract's signatures
sql(q{
	CREATE TABLE public.fake_store (
		dbid oid, userid oid, queryid bigint, planid bigint,
		calls bigint, total_exec_time double precision, min_exec_time double precision,
		max_exec_time double precision, rows bigint, shared_blks_hit bigint,
		shared_blks_read bigint, sampled_calls bigint,
		first_seen timestamptz, last_seen timestamptz, sampled_at timestamptz,
		plan_text text, summary text, plan_nodes jsonb, sampled_nodes jsonb);
	CREATE TABLE public.fake_info (
		entries integer, max_entries integer, text_bytes bigint, max_text_bytes bigint,
		not_tracked bigint, texts_dropped bigint, plan_ids_computed bigint,
		created_at timestamptz);
	INSERT INTO public.fake_info VALUES (0, 100, 0, 4096, 0, 0, 0, '2026-01-01 00:00:00+00');
	CREATE OR REPLACE FUNCTION nadia_bgw._plan_store(with_text boolean DEFAULT true)
	RETURNS TABLE (dbid oid, userid oid, queryid bigint, planid bigint,
		calls bigint, total_exec_time double precision, min_exec_time double precision,
		max_exec_time double precision, rows bigint, shared_blks_hit bigint,
		shared_blks_read bigint, sampled_calls bigint,
		first_seen timestamptz, last_seen timestamptz, sampled_at timestamptz,
		plan_text text, summary text, plan_nodes jsonb, sampled_nodes jsonb)
	LANGUAGE sql AS $$
		SELECT f.dbid, f.userid, f.queryid, f.planid, f.calls, f.total_exec_time,
		       f.min_exec_time, f.max_exec_time, f.rows, f.shared_blks_hit, f.shared_blks_read,
		       f.sampled_calls, f.first_seen, f.last_seen, f.sampled_at,
		       CASE WHEN with_text THEN f.plan_text END, CASE WHEN with_text THEN f.summary END,
		       CASE WHEN with_text THEN f.plan_nodes END, CASE WHEN with_text THEN f.sampled_nodes END
		  FROM public.fake_store f $$;
	CREATE OR REPLACE FUNCTION nadia_bgw._plan_store_info(
		OUT entries integer, OUT max_entries integer, OUT text_bytes bigint, OUT max_text_bytes bigint,
		OUT not_tracked bigint, OUT texts_dropped bigint, OUT plan_ids_computed bigint,
		OUT created_at timestamptz)
	RETURNS record
	LANGUAGE sql AS $$ SELECT * FROM public.fake_info $$;
});

# plan P (queryid, planid) with cumulative counters
sub plan_row
{
	my ($q, $p, $calls, $time) = @_;
	return "((SELECT oid FROM pg_database WHERE datname = 'postgres'), 10, $q, $p, $calls, $time, 1, 9,"
	  . " $calls * 2, $calls * 3, $calls, 0, now(), now(), NULL,"
	  . " 'Seq Scan on public.t$p  (cost=0.00..1.00 rows=1 width=4)', 'Seq Scan on public.t$p',"
	  . " '[{\"id\": 0, \"node\": \"Seq Scan\"}]', NULL)";
}
sub bump
{
	my ($p, $calls, $time) = @_;
	sql("UPDATE public.fake_store SET calls = calls + $calls, total_exec_time = total_exec_time + $time,"
		  . " rows = rows + 2 * $calls, shared_blks_hit = shared_blks_hit + 3 * $calls,"
		  . " last_seen = now() WHERE planid = $p");
}
sub take { return sql('SELECT nadia_bgw.take_sample()'); }
sub calls_of
{
	my ($p, $sample) = @_;
	return sql("SELECT coalesce(string_agg(h.calls::text, ','), 'none') FROM nadia_bgw.plan_samples h"
		  . " JOIN nadia_bgw.plans p USING (plan_ref)"
		  . " WHERE p.planid = $p AND h.sampled_at = (SELECT sampled_at FROM nadia_bgw.samples WHERE sample_id = $sample)");
}

# --- a baseline (the worker's first cycle may have taken it already),
# then new plans: one plans row each, their executions since created
my $s0 = take();
is(sql("SELECT outcome->>'plans' FROM nadia_bgw.samples WHERE sample_id = $s0"), 'ok', 'the plans source ran');
sql('INSERT INTO public.fake_store VALUES ' . join(', ', plan_row(1001, 11, 5, 50), plan_row(1001, 12, 3, 30)));
my $s1 = take();
is(sql("SELECT string_agg(planid || ':' || queryid || ':' || summary, ' ' ORDER BY planid) FROM nadia_bgw.plans"),
	'11:1001:Seq Scan on public.t11 12:1001:Seq Scan on public.t12',
	'one plans row per plan, two plan ids of one statement kept apart');
is(sql("SELECT count(*) FROM nadia_bgw.plans WHERE plan_text LIKE 'Seq Scan on public.t1_ %' AND plan_nodes->0->>'node' = 'Seq Scan'"),
	'2', 'with their text and nodes');
is(calls_of(11, $s1) . ' ' . calls_of(12, $s1), '5 3', 'new plans: their executions since they were created');

# --- the interval's executions: deltas; a new plan counts from its creation
bump(11, 4, 40);
sql('INSERT INTO public.fake_store VALUES ' . plan_row(1002, 21, 2, 7));
my $s2 = take();
is(calls_of(11, $s2), '4', 'plan 11: the executions of the interval');
is(calls_of(12, $s2), 'none', 'plan 12 did not run: no row');
is(calls_of(21, $s2), 'none', 'a new plan of a statement with no other plan: no row (storage rule)');
is(sql("SELECT h.total_exec_time || ' ' || h.rows || ' ' || h.shared_blks_hit FROM nadia_bgw.plan_samples h"
		  . " JOIN nadia_bgw.plans p USING (plan_ref) JOIN nadia_bgw.samples s ON s.sampled_at = h.sampled_at"
		  . " WHERE p.planid = 11 AND s.sample_id = $s2"),
	'40 8 12', 'time, rows and blocks are deltas too');
is(sql('SELECT count(*) FROM nadia_bgw.plans'), '3', 'the new plan got its plans row');
is(sql("SELECT count(*) FROM nadia_bgw.plan_history WHERE tier = 'raw' AND sample_id = $s2 AND calls > 0"),
	'1', 'plan_history shows the raw rows with their sample');

# --- the storage rule: statement 1002 keeps one plan, then gets a second
# one whose store entry is older than the previous sample
bump(21, 5, 5);
my $s2b = take();
is(calls_of(21, $s2b), 'none', 'still one plan: still no row');
bump(21, 3, 30);
sql('INSERT INTO public.fake_store VALUES ' . plan_row(1002, 22, 4, 4));
sql("UPDATE public.fake_store SET first_seen = now() - interval '1 day' WHERE planid = 22");
my $s2c = take();
is(calls_of(21, $s2c) . ' ' . calls_of(22, $s2c), '3 4',
	'a second plan: both get rows, the first one its executions since the previous sample');
is(sql("SELECT h.total_exec_time || ' ' || h.rows FROM nadia_bgw.plan_samples h"
		  . " JOIN nadia_bgw.plans p USING (plan_ref) JOIN nadia_bgw.samples s ON s.sampled_at = h.sampled_at"
		  . " WHERE p.planid = 21 AND s.sample_id = $s2c"),
	'30 6', 'its time and rows too');
is(sql("SELECT p.first_seen > s.sampled_at FROM nadia_bgw.plans p, nadia_bgw.samples s"
		  . " WHERE p.planid = 22 AND s.sample_id = $s2b"),
	't', 'the second plan\'s first_seen: not before the previous sample, though the store\'s is a day old');
bump(21, 1, 1);
my $s2d = take();
is(calls_of(21, $s2d) . ' ' . calls_of(22, $s2d), '1 none', 'then the plans that ran, as before');

# --- an instrumented execution: the plans row gets the newer sampled nodes
sql(q{UPDATE public.fake_store SET sampled_at = now(), sampled_calls = sampled_calls + 1,
	sampled_nodes = '[{"id": 0, "actual_rows": 5, "misestimate": 5}]' WHERE planid = 12});
bump(12, 1, 1);
my $s3 = take();
is(sql("SELECT sampled_nodes->0->>'actual_rows' || ' ' || (sampled_at IS NOT NULL) FROM nadia_bgw.plans WHERE planid = 12"),
	'5 true', 'sampled nodes copied when the store has a newer sample');
is(sql("SELECT last_seen = (SELECT last_seen FROM public.fake_store WHERE planid = 12) FROM nadia_bgw.plans WHERE planid = 12"),
	't', 'last_seen follows the store');
is(sql("SELECT h.sampled_calls FROM nadia_bgw.plan_samples h JOIN nadia_bgw.plans p USING (plan_ref)"
		  . " JOIN nadia_bgw.samples s ON s.sampled_at = h.sampled_at WHERE p.planid = 12 AND s.sample_id = $s3"),
	'1', 'instrumented executions counted');

# --- the store full: one not_tracked event with both counts, and a warning
sql('UPDATE public.fake_info SET not_tracked = not_tracked + 7, texts_dropped = texts_dropped + 2');
my ($ret, $out, $err) = $node->psql('postgres', 'SELECT nadia_bgw.take_sample()');
my $s4 = $out;
like($err, qr/WARNING:  nadia_bgw: the plan store is full: 7 executions of new plans not tracked, 2 plan texts dropped/,
	'a full store is warned about');
is(sql("SELECT count || ' ' || (details->>'texts_dropped') FROM nadia_bgw.stats_events"
		  . " WHERE source = 'plans' AND kind = 'not_tracked' AND sample_id = $s4"),
	'7 2', 'and recorded as a not_tracked event of source plans');
take();
is(sql("SELECT count(*) FROM nadia_bgw.stats_events WHERE source = 'plans' AND kind = 'not_tracked'"),
	'1', 'no growth, no event');

# --- a sample rolled back: nothing lost, nothing counted twice
bump(11, 10, 100);
sql('UPDATE public.fake_info SET not_tracked = not_tracked + 1');
sql('INSERT INTO public.fake_store VALUES ' . plan_row(1003, 31, 6, 6));
sql('BEGIN; SELECT nadia_bgw.take_sample(); ROLLBACK;');
is(sql('SELECT count(*) FROM nadia_bgw.plans WHERE planid = 31'), '0', 'the rolled-back sample left no plans row');
my $s5 = take();
is(calls_of(11, $s5), '10', 'the executions seen by the rolled-back sample are counted once');
is(sql('SELECT count(*) FROM nadia_bgw.plans WHERE planid = 31') . ' ' . calls_of(31, $s5), '1 none',
	'the plan it saw first is new again (one plan: no row)');
is(sql("SELECT count FROM nadia_bgw.stats_events WHERE source = 'plans' AND kind = 'not_tracked' AND sample_id = $s5"),
	'1', 'the growth it saw is reported again');

# --- a plan of an excluded statement (nadia_bgw's own calls) is kept out
sql(q{INSERT INTO nadia_bgw.statements (queryid, dbid, userid, query, excluded, first_seen)
	VALUES (1004, (SELECT oid FROM pg_database WHERE datname = 'postgres'), 10, 'SELECT nadia_bgw.take_sample()', true, now())});
sql('INSERT INTO public.fake_store VALUES ' . plan_row(1004, 41, 3, 3));
take();
bump(41, 2, 2);
take();
is(sql('SELECT count(*) FROM nadia_bgw.plans WHERE queryid = 1004'), '0', 'no plans row for an excluded statement');

# --- the store set up again (created_at moved): counters restart, an event
sql("UPDATE public.fake_info SET created_at = '2026-01-02 00:00:00+00'");
sql('UPDATE public.fake_store SET calls = 2, total_exec_time = 2, rows = 4 WHERE planid = 11');
my $s6 = take();
is(calls_of(11, $s6), '2', 'a restarted store: the new counts are the delta');
is(sql("SELECT count(*) FROM nadia_bgw.stats_events WHERE source = 'plans' AND kind = 'stats_reset' AND sample_id = $s6"),
	'1', 'a stats_reset event of source plans');

# --- a server restart empties the last-seen values: a new baseline (taken
# by the restarted worker's first cycle)
bump(11, 5, 5);
$node->restart;
wait_until($node, "SELECT runs >= 1 FROM nadia_bgw.status WHERE task = 'sample'");
is(sql("SELECT count(*) FROM nadia_bgw.stats_events WHERE source = 'plans' AND kind = 'state_lost' AND sample_id > $s6"),
	'1', 'after a restart: state_lost');
is(sql("SELECT count(*) FROM nadia_bgw.plan_samples h JOIN nadia_bgw.samples s ON s.sampled_at = h.sampled_at WHERE s.sample_id > $s6"),
	'0', 'and no delta against the lost state');
bump(11, 1, 1);
my $s8 = take();
is(calls_of(11, $s8), '1', 'deltas resume from the new baseline');
is(sql('SELECT count(*) FROM nadia_bgw.plans'), '5', 'still one plans row per plan');

# --- tiers: the hourly and daily rows hold what the raw rows held
my $raw = sql("SELECT string_agg(planid || ':' || c, ' ' ORDER BY planid) FROM"
	  . " (SELECT p.planid, sum(h.calls) AS c FROM nadia_bgw.plan_samples h JOIN nadia_bgw.plans p USING (plan_ref) GROUP BY 1) x");
my $nraw = sql('SELECT count(*) FROM nadia_bgw.plan_samples');
sql("SELECT nadia_bgw.maintain_history(now() + interval '3 days')");
is(sql("SELECT string_agg(planid || ':' || c, ' ' ORDER BY planid) FROM"
	  . " (SELECT p.planid, sum(h.calls) AS c FROM nadia_bgw.plan_hourly h JOIN nadia_bgw.plans p USING (plan_ref) GROUP BY 1) x"),
	$raw, 'the hourly tier holds the raw calls per plan');
is(sql("SELECT string_agg(planid || ':' || c, ' ' ORDER BY planid) FROM"
	  . " (SELECT p.planid, sum(h.calls) AS c FROM nadia_bgw.plan_daily h JOIN nadia_bgw.plans p USING (plan_ref) GROUP BY 1) x"),
	$raw, 'the daily tier too');
is(sql('SELECT sum(samples) FROM nadia_bgw.plan_hourly'), $nraw,
	'samples counts the raw rows behind the hourly rows');
is(sql("SELECT count(*) FROM nadia_bgw.plan_samples WHERE sampled_at < now() + interval '2 days'"),
	'0', 'the raw plan partitions are dropped after the raw retention');
is(sql("SELECT count(DISTINCT tier) FROM nadia_bgw.plan_history"), '2', 'plan_history reads the hourly and daily tiers');

# --- past every retention: plan partitions and unused plans are gone
my $long = sql("SELECT max(nadia_bgw.retention(t) + nadia_bgw.partition_width(t))"
	  . " FROM unnest(ARRAY['raw', 'hourly', 'daily']) t");
sql("SELECT nadia_bgw.maintain_history(now() + '$long'::interval)");
is(sql('SELECT (SELECT count(*) FROM nadia_bgw.plan_hourly) + (SELECT count(*) FROM nadia_bgw.plan_daily)'),
	'0', 'the tiers are empty once every retention passed');
is(sql('SELECT count(*) FROM nadia_bgw.plans'), '0', 'plans unused for the daily retention are purged');

# --- a purged plan that runs again gets a new plans row (alone: no
# history row); when its statement's other plan comes back too, both get
# their deltas, and first_seen is not the store's (older) one
bump(11, 3, 3);
my $s9 = take();
is(calls_of(11, $s9), 'none', 'a purged plan running again alone: no row');
is(sql('SELECT count(*) FROM nadia_bgw.plans'), '1', 'only that one came back, with a new plans row');
bump(11, 2, 2);
bump(12, 1, 1);
my $s10 = take();
is(calls_of(11, $s10) . ' ' . calls_of(12, $s10), '2 1', 'its other plan back: both deltas under their new rows');
is(sql("SELECT p.first_seen > s.sampled_at FROM nadia_bgw.plans p, nadia_bgw.samples s"
		  . " WHERE p.planid = 12 AND s.sample_id = $s9"),
	't', 'first_seen of the plan back: after the previous sample');

# --- the reader role reads plan history
sql('CREATE ROLE plan_reader LOGIN IN ROLE nadia_bgw_reader');
is($node->safe_psql('postgres', 'SET ROLE plan_reader; SELECT count(*) >= 1 FROM nadia_bgw.plan_history'),
	't', 'nadia_bgw_reader reads plan_history');

$node->stop;
done_testing();
