# 740_plan_change.pl -- the plan_change alert from plan ids, as a LISTEN
# client receives it: one notification when a statement's new dominant
# plan is slower, naming both plan ids (strings), their mean times and
# what changed, in the documented payload shape and with nothing a session
# typed; none for a new plan as fast; one "resolved" when the old plan is
# back.  Plan history is written by hand at sample times that are an input
# of the test (the worker is paused: nadia_bgw.enabled = off), and each
# cycle is one nadia_bgw.detect_regressions() whose notifications go out
# at commit.  History follows the storage rule (docs/plans.md, "Reading
# plans"): while a statement has one plan only its statement history has
# figures, so the old plan's reference comes from implied rows.
# regress/sql/plan_alerts.sql covers the detector's cases in detail; this
# is the path to a listener.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NadiaTest;
use NadiaAlerts;

my $node = nadia_node('plan_change', conf => "nadia_bgw.enabled = off\n");
$node->safe_psql('postgres', q{
	SET TimeZone = 'UTC';
	SELECT nadia_bgw.ensure_partitions('raw', timestamptz '2001-02-03 00:00 UTC');
	INSERT INTO nadia_bgw.statements (queryid, dbid, userid, datname, username, query, first_seen)
	SELECT q, d.oid, 10, d.datname, 'app', 'SELECT secret_text_' || q, '2001-02-03 00:00 UTC'
	  FROM pg_database d, (VALUES (-9000000000000000042), (43)) v(q)
	 WHERE d.datname = current_database();
	INSERT INTO nadia_bgw.plans (queryid, dbid, userid, planid, first_seen, last_seen,
	                             plan_text, summary, plan_nodes)
	SELECT v.q, d.oid, 10, v.planid, v.first_seen::timestamptz, v.first_seen::timestamptz,
	       'secret_plan_text', 'Subquery Scan on secret_alias', v.nodes::jsonb
	  FROM pg_database d, (VALUES
	    (-9000000000000000042, 8000000000000000111, '2001-02-03 00:00 UTC',
	     '[{"id": 0, "node": "Index Scan", "label": "Index Scan using idx_x on public.interactions",
	        "relid": 16390, "relation": "public.interactions", "indexid": 16400, "index": "public.idx_x"}]'),
	    (-9000000000000000042, -8000000000000000222, '2001-02-03 00:06:30 UTC',
	     '[{"id": 0, "node": "Subquery Scan", "label": "Subquery Scan on secret_alias"},
	       {"id": 1, "node": "Seq Scan", "label": "Seq Scan on public.interactions",
	        "relid": 16390, "relation": "public.interactions"}]'),
	    (43, 333, '2001-02-03 00:00 UTC', '[{"id": 0, "node": "Seq Scan", "relid": 1, "relation": "public.a"}]'),
	    (43, 444, '2001-02-03 00:06:30 UTC', '[{"id": 0, "node": "Index Only Scan", "relid": 1, "relation": "public.a",
	                 "indexid": 2, "index": "public.a_pkey"}]')) v(q, planid, first_seen, nodes)
	 WHERE d.datname = current_database();
});

# cycle(MINUTE, "planid:calls:ms", ...): a sample at that minute with those
# plans, then one detection run.  As the sampler stores them: statement
# history for every statement, plan rows only for the plans of statements
# with two plans seen by then
sub cycle
{
	my ($minute, @plans) = @_;
	my $values = join ', ', map { my ($p, $c, $ms) = split /:/; "($p, $c, $ms)" } @plans;
	$node->safe_psql('postgres', qq{
		INSERT INTO nadia_bgw.samples (sampled_at, duration_ms, taken_by, outcome)
		VALUES (timestamptz '2001-02-03 00:00 UTC' + interval '1 minute' * $minute, 1, 'worker', '{}');
		CREATE TEMP TABLE v AS
		SELECT timestamptz '2001-02-03 00:00 UTC' + interval '1 minute' * $minute AS at,
		       p.*, v.calls, v.calls * v.ms AS total_ms
		  FROM (VALUES $values) v(planid, calls, ms)
		  JOIN nadia_bgw.plans p ON p.planid = v.planid;
		INSERT INTO nadia_bgw.plan_samples (sampled_at, plan_ref, calls, total_exec_time)
		SELECT v.at, v.plan_ref, v.calls, v.total_ms FROM v
		 WHERE (SELECT count(*) FROM nadia_bgw.plans q
		         WHERE (q.queryid, q.dbid, q.userid) = (v.queryid, v.dbid, v.userid)
		           AND q.first_seen <= v.at) >= 2;
		INSERT INTO nadia_bgw.statement_samples (sampled_at, stmt_id, toplevel, calls, total_exec_time)
		SELECT v.at, t.stmt_id, true, sum(v.calls), sum(v.total_ms)
		  FROM v JOIN nadia_bgw.statements t USING (queryid, dbid, userid)
		 GROUP BY v.at, t.stmt_id;
	});
	return grep { /plan_change/ } detect($node);
}

my $l = listener($node);

cycle($_, '8000000000000000111:100:1', '333:100:1') for 1 .. 6;
is(scalar(grep { ($_->{json}{kind} // '') eq 'plan_change' } notifications($l)), 0,
	'no plan-change notification while the plans are steady');

# the first statement onto a plan 4x slower; the second onto one as fast
my @events = cycle(7, '8000000000000000111:10:1', '-8000000000000000222:90:4',
	'333:10:1', '444:90:1.1');
is(scalar(@events), 1, 'one plan-change alert') or diag explain \@events;
my @n = grep { ($_->{json}{kind} // '') eq 'plan_change' } notifications($l);
is(scalar(@n), 1, 'one notification');
my $p = $n[0]{json} // {};
is($p->{event}, 'opened', 'event opened');
is_deeply([ payload_problems($n[0]{raw}) ], [], 'the payload has the documented keys and types');
is($p->{object}{queryid}, '-9000000000000000042', 'on the statement that changed plan');
is($p->{details}{old_planid}, '8000000000000000111', 'old plan id, as a string');
is(json_type($p->{details}{old_planid}), 'string', 'a JSON string');
is($p->{details}{new_planid}, '-8000000000000000222', 'new plan id, as a string');
is($p->{details}{old_mean_exec_time_ms}, 1, 'old plan mean time');
is($p->{details}{new_mean_exec_time_ms}, 4, 'new plan mean time');
is($p->{metric}, 'plan_mean_exec_time_ms', 'metric');
is($p->{ratio}, 4, 'ratio: the slowdown');
is($p->{details}{reference_samples}, 6, 'the reference: the six samples before, from statement history');
is($node->safe_psql('postgres', q{SELECT count(*) FROM nadia_bgw.plan_samples
	WHERE sampled_at < '2001-02-03 00:07 UTC'}), '0', '... where no plan row was stored');
is( $p->{details}{change_summary},
	'Index Scan using public.idx_x on public.interactions → Subquery Scan + Seq Scan on public.interactions',
	'what changed, from the node names');
unlike($n[0]{raw}, qr/secret/, 'no statement text, plan text, summary or alias in the payload');

# the old plan dominant again: resolved after alert_resolve_cycles runs
cycle($_, '8000000000000000111:90:1', '-8000000000000000222:10:4', '444:100:1.1') for 8 .. 10;
@n = grep { ($_->{json}{kind} // '') eq 'plan_change' } notifications($l);
is_deeply([ map { $_->{json}{event} } @n ], ['resolved'], 'one resolved notification');
is(alert_count($node, "kind = 'plan_change' AND state = 'resolved' AND resolved_by = 'auto'"), 1,
	'resolved automatically');

$l->quit;
is(log_count($node, qr/WARNING:  nadia_bgw: .* failed/), 0, 'no detector failed');
$node->stop;
done_testing();
