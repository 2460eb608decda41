# 750_index_advice.pl -- index advice with evidence, through the worker: a
# NADIA-like interactions table without its per-user index, the review
# UI's per-user query run by an application role, its plan in plan
# history; the "advice" task advises an index leading on user_id, verified
# by hypopg as the application's role (never as a superuser), with a
# positive estimated gain.  A superuser's statement and a text holding two
# statements are refused and recorded; with the index present nothing is
# advised; without hypopg the advice is labelled unverified.
#
# The plan rows are written by the test in the shape of the capture
# (docs/plans.md, "Plan nodes") so the advice is tested on its own.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NadiaTest;
use NadiaMcp;
use NadiaAdvice;

my $node = advice_node('index_advice');

$node->safe_psql('postgres', q{
	-- folded by the planner: says who planned, and in which process
	CREATE FUNCTION public.advice_probe() RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $$
	BEGIN
		RAISE LOG 'advice_probe user=% pid=%', current_user, pg_backend_pid();
		RETURN true;
	END $$;
	-- tries to become the session's user (the worker's superuser) again
	CREATE FUNCTION public.advice_escape() RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $$
	BEGIN
		PERFORM set_config('role', 'none', true);
		RAISE LOG 'advice_escape user=% pid=%', current_user, pg_backend_pid();
		RETURN true;
	END $$;
	CREATE FUNCTION public.advice_probe_su() RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $$
	BEGIN
		RAISE LOG 'advice_probe_su user=% pid=%', current_user, pg_backend_pid();
		RETURN true;
	END $$;
});

my $app_sql = per_user_sql(40,
	'SELECT id, created_at, review_status, quality_score FROM public.interactions',
	' AND public.advice_probe() ORDER BY created_at DESC LIMIT 20');
my $su_sql = per_user_sql(40, 'SELECT count(*) FROM public.interactions',
	' AND public.advice_probe_su()');
my $escape_sql = per_user_sql(10, 'SELECT id FROM public.interactions',
	' AND public.advice_escape() LIMIT 5');

sub workload
{
	$node->safe_psql('postgres', $app_sql, extra_params => [ '-U', 'app' ]);
	$node->safe_psql('postgres', $escape_sql, extra_params => [ '-U', 'app' ]);
	$node->safe_psql('postgres', $su_sql);
	return;
}

workload();
ok(wake($node), 'a cycle samples the first statements');
workload();
ok(wake($node), 'a second cycle samples their deltas');

my $app_qid = $node->safe_psql('postgres',
	"SELECT queryid FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid"
	  . " WHERE r.rolname = 'app' AND query LIKE '%advice_probe()%'");
my $su_qid = $node->safe_psql('postgres',
	"SELECT queryid FROM pg_stat_statements WHERE query LIKE 'SELECT count(*)%advice_probe_su()%'");
like($app_qid, qr/^-?\d+$/, 'the application statement is tracked');
like($su_qid, qr/^-?\d+$/, 'the superuser statement is tracked');

# plan rows as the capture writes them: a seq scan filtering user_id, a
# sort on created_at under a LIMIT, a LIKE no btree serves
my $escape_qid = $node->safe_psql('postgres',
	"SELECT queryid FROM pg_stat_statements WHERE query LIKE 'SELECT id FROM%advice_escape()%'");
like($escape_qid, qr/^-?\d+$/, 'the statement that tries to escape is tracked');

my $rel = $node->safe_psql('postgres', "SELECT 'public.interactions'::regclass::oid");
my $nodes = sub {
	my ($limit) = @_;
	my $sort = $limit
	  ? qq({"id": 1, "parent": 0, "node": "Sort", "under_limit": true, "conds": [
	        {"kind": "sort_key", "relid": $rel, "attnum": 5, "column": "created_at",
	         "op": "<", "class": "range", "btree": true}]},)
	  : '';
	return qq([{"id": 0, "parent": null, "node": "Limit", "conds": []}, $sort
	  {"id": 2, "parent": 1, "node": "Seq Scan", "relid": $rel, "relation": "public.interactions",
	   "under_limit": false, "conds": [
	     {"kind": "filter", "relid": $rel, "attnum": 2, "column": "user_id", "op": "=",
	      "class": "eq", "btree": true},
	     {"kind": "filter", "relid": $rel, "attnum": 3, "column": "review_status", "op": "~~",
	      "class": "other", "btree": false}]}]);
};
my $app_nodes = $nodes->(1);
my $su_nodes = $nodes->(0);
# (two plans of one statement with the same nodes count once)
# an odd text: two statements under one queryid, its plan like the superuser's
$node->safe_psql('postgres', qq{
	INSERT INTO nadia_bgw.plans (queryid, dbid, userid, planid, first_seen, last_seen, plan_nodes)
	SELECT s.queryid, s.dbid, s.userid, planid, now(), now(),
	       CASE WHEN s.queryid = $app_qid THEN '$app_nodes' ELSE '$su_nodes' END::jsonb
	  FROM nadia_bgw.statements s, generate_series(1, 2) planid   -- two plans each
	 WHERE s.queryid IN ($app_qid, $su_qid, $escape_qid);
	INSERT INTO nadia_bgw.statements (queryid, dbid, userid, datname, username, query, query_len, first_seen)
	SELECT 4242, d.oid, 'app'::regrole, 'postgres', 'app',
	       'SELECT 1 FROM public.interactions WHERE user_id = \$1; DROP TABLE public.interactions', NULL, now()
	  FROM pg_database d WHERE d.datname = 'postgres';
	INSERT INTO nadia_bgw.plans (queryid, dbid, userid, planid, first_seen, last_seen, plan_nodes)
	SELECT 4242, d.oid, 'app'::regrole, 1, now(), now(), '$su_nodes'::jsonb
	  FROM pg_database d WHERE d.datname = 'postgres';
});

my $log_offset = -s $node->logfile;
ok(wake($node), 'a cycle runs the advice');
is(status_of($node, 'advice', 'outcome'), 'ok', 'the advice task ran');
my $worker = worker_pid($node);

my $row = $node->safe_psql('postgres', q{
	SELECT columns[1], verified, est_gain_ms > 0, gain_ratio >= 0.2, index_bytes > 0,
	       create_statement, reasons @> '{filter}', writes_per_hour IS NOT NULL
	  FROM nadia_bgw.index_advice
	 WHERE relname = 'interactions' AND columns[1] = 'user_id'
	 ORDER BY est_gain_ms DESC NULLS LAST LIMIT 1});
my @r = split /\|/, $row;
is($r[0], 'user_id', 'the advice leads on user_id');
is($r[1], 't', 'verified with hypopg');
is($r[2], 't', 'with a positive estimated gain');
is($r[3], 't', 'of at least nadia_bgw.advice_min_gain of the statements\' time');
is($r[4], 't', 'and an estimated index size');
like($r[5], qr/^CREATE INDEX ON public\.interactions \(user_id(, created_at)?\)$/,
	'the CREATE INDEX statement');
is($r[6], 't', 'reason: a filter');
is($r[7], 't', 'the table\'s write rate from history');

is($node->safe_psql('postgres', q{
	SELECT string_agg(DISTINCT s->>'column' || ': ' || (s->>'why'), '; ')
	  FROM nadia_bgw.index_advice a, jsonb_array_elements(a.skipped_columns) s
	 WHERE a.relname = 'interactions'}),
	'review_status: a btree cannot serve operator ~~',
	'the column no btree serves is skipped, with the reason');

sub check_of
{
	my ($qid, $field) = @_;
	return $node->safe_psql('postgres', qq{
		SELECT string_agg(DISTINCT c->>'$field', ',')
		  FROM nadia_bgw.index_advice a, jsonb_array_elements(a.checks) c
		 WHERE c->>'queryid' = '$qid'});
}
is(check_of($app_qid, 'outcome'), 'planned', 'the application statement was planned');
is(check_of($app_qid, 'role'), 'app', 'as its own role');
is(check_of($su_qid, 'outcome'), 'refused', 'the superuser statement was refused');
like(check_of($su_qid, 'reason'), qr/superuser/, 'because its role is a superuser');
is(check_of(4242, 'outcome'), 'refused', 'the two-statement text was refused');
like(check_of(4242, 'reason'), qr/holds 2 statements/, 'and why');
is($node->safe_psql('postgres', "SELECT to_regclass('public.interactions') IS NOT NULL"),
	't', 'the table is still there');

my $log = log_since($node, $log_offset);
like($log, qr/advice_probe user=app pid=$worker\b/,
	'the worker planned the statement as the application role');
my @roles = $log =~ /advice_probe user=(\S+) pid=$worker\b/g;
is_deeply([ sort { $a cmp $b } keys %{ { map { $_ => 1 } @roles } } ], ['app'],
	'and under no other role');
is(check_of($escape_qid, 'outcome'), 'failed',
	'a statement whose function tries to SET ROLE back fails to plan');
like(check_of($escape_qid, 'reason'), qr/cannot set parameter "role"/, 'and why');
unlike($log, qr/advice_escape user=\S+ pid=$worker\b/,
	'its code never ran past the attempt in the worker');
unlike($log, qr/advice_probe_su user=\S+ pid=$worker\b/,
	'the superuser\'s statement was never planned by the worker');

# --- missing_indexes returns the advice first, the table-level list labelled
$node->safe_psql('postgres', q{
	CREATE TABLE public.scanned AS SELECT g AS k FROM generate_series(1, 5000) g;
	ANALYZE public.scanned});
# a whole-table read: no condition an index could serve, so no advice
$node->safe_psql('postgres', 'SELECT count(*) FROM public.scanned') for 1 .. 3;
ok(wake($node), 'a cycle samples the sequential scans');
my $mcp = mcp_start(mcp_conninfo($node, mcp_make_role($node)));
$mcp->initialize('2025-06-18');
my $res = $mcp->call('missing_indexes', { min_rows => 1000, since => '2h' });
my $rows = $res->{result}{structuredContent}{rows} // [];
ok(scalar @$rows >= 2, 'missing_indexes answers')
  or diag(NadiaMcp::json_encode($res));
is($rows->[0]{source}, 'advice', 'the advice comes first');
like($rows->[0]{create_statement}, qr/^CREATE INDEX ON public\.interactions \(user_id/,
	'with its CREATE INDEX');
ok($rows->[0]{verified} && $rows->[0]{est_gain_ms} > 0, 'verified, with its gain');
ok((grep { $_ eq $app_qid } @{ $rows->[0]{queryids} }), 'naming the statement it serves');
my ($fb) = grep { $_->{relname} eq 'scanned' } @$rows;
is($fb && $fb->{source}, 'seq_scan_fallback', 'a table without advice is the labelled fallback');
ok(!(grep { $_->{relname} eq 'interactions' && $_->{source} ne 'advice' } @$rows),
	'a table with advice is not repeated in the fallback');
# a database whose extension predates the advice: the fallback alone, said so
$node->safe_psql('postgres', 'ALTER TABLE nadia_bgw.index_advice RENAME TO index_advice_away');
$res = $mcp->call('missing_indexes', { min_rows => 1000, since => '2h' });
$rows = $res->{result}{structuredContent}{rows} // [];
ok(scalar @$rows >= 1 && !(grep { $_->{source} ne 'seq_scan_fallback' } @$rows),
	'without nadia_bgw.index_advice: the table-level list only')
  or diag(NadiaMcp::json_encode($res));
like(NadiaMcp::json_encode($res), qr/no index advice: nadia_bgw.index_advice is not installed/,
	'and the answer says so');
$node->safe_psql('postgres', 'ALTER TABLE nadia_bgw.index_advice_away RENAME TO index_advice');
$mcp->finish;

# --- without hypopg: unverified, and labelled so
$node->safe_psql('postgres', 'DROP EXTENSION hypopg');
ok(wake($node), 'a cycle without hypopg');
is($node->safe_psql('postgres', q{
	SELECT bool_and(NOT verified) AND bool_and(why_not LIKE 'hypopg is not installed%')
	       AND count(*) > 0 AND bool_and(gain_ratio IS NULL)
	  FROM nadia_bgw.index_advice}), 't', 'candidates are stored unverified, labelled so');

# --- with the index present: nothing to advise on these columns
$node->safe_psql('postgres', q{
	CREATE EXTENSION hypopg;
	CREATE INDEX idx_interactions_user_created ON public.interactions (user_id, created_at DESC)});
ok(wake($node), 'a cycle with the index present');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM nadia_bgw.index_advice
	 WHERE relname = 'interactions' AND gain_ratio >= current_setting('nadia_bgw.advice_min_gain')::float8}),
	'0', 'no advice above the gain threshold');

done_testing();
