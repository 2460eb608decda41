# 730_mcp_explain_query.pl -- nadia-mcp's explain_query and query_stats'
# plans over plan history (sql/1.1/94_plan_reader.sql): a statement found
# by queryid (string or integer) and by normalized text, its two plans with
# their shares, mean times, masked text and worst nodes; an unknown queryid
# answers an empty list with a note; bad arguments are refused with
# -32602; a database without plan history answers query_stats without
# plans (and says so) and explain_query "not available"; a statement with
# one plan, which has no plan rows (the storage rule, docs/plans.md
# "Reading plans"), shows it with the statement's figures.  Plan history is
# written by hand (the capture's own tests are 700-729), in the last
# minutes, so that a "30m" range reads it from the raw tier whatever the
# time.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NadiaTest;
use NadiaMcp;

my $node = nadia_node('mcp_explain');
my $role = mcp_make_role($node);
my $conn = mcp_conninfo($node, $role);

# statement 7300000000000000042 (beyond 2^53: only a string can name it)
# ran plan 11 three times and plan 12 once; 7301 ran nothing with a plan;
# 7302 ran one plan (21), so only its statement history has figures
$node->safe_psql('postgres', q{
	SELECT nadia_bgw.ensure_partitions('raw', now() - interval '10 minutes');
	SELECT nadia_bgw.ensure_partitions('raw', now() - interval '2 minutes');
	INSERT INTO nadia_bgw.statements (queryid, dbid, userid, datname, username, query, first_seen)
	VALUES (7300000000000000042, 1, 10, 'appdb', 'app', E'SELECT * FROM interactions\n WHERE user_id = $1', now()),
	       (7301, 1, 10, 'appdb', 'app', 'SELECT 7301', now()),
	       (7302, 1, 10, 'appdb', 'app', 'SELECT 7302', now());
	INSERT INTO nadia_bgw.plans (queryid, dbid, userid, planid, first_seen, last_seen, plan_text,
	                             summary, sampled_nodes, sampled_at)
	VALUES (7300000000000000042, 1, 10, 11, now(), now(),
	        E'Index Scan using idx_user on public.interactions  (cost=0.29..8.31 rows=1 width=8)\n  Index Cond: (user_id = $1)',
	        'Index Scan using public.idx_user on public.interactions', NULL, NULL),
	       (7300000000000000042, 1, 10, -12, now(), now(),
	        E'Seq Scan on public.interactions  (cost=0.00..431.00 rows=12 width=8)\n  Filter: (user_id = $1)',
	        'Seq Scan on public.interactions',
	        '[{"id": 0, "label": "Seq Scan on public.interactions", "est_rows": 12, "actual_rows": 300,
	           "loops": 1, "removed_by_filter": 29700, "misestimate": 25}]', now());
	INSERT INTO nadia_bgw.plan_samples (sampled_at, plan_ref, calls, total_exec_time, min_exec_time,
	                                    max_exec_time, rows, sampled_calls)
	SELECT now() - interval '2 minutes', plan_ref, CASE planid WHEN 11 THEN 3 ELSE 1 END,
	       CASE planid WHEN 11 THEN 3 ELSE 40 END, 1, 40, 5, 0
	  FROM nadia_bgw.plans;
	INSERT INTO nadia_bgw.statement_samples (sampled_at, stmt_id, toplevel, calls, total_exec_time, rows)
	SELECT now() - interval '2 minutes', stmt_id, true, 4, 43, 20 FROM nadia_bgw.statements
	 WHERE queryid = 7300000000000000042;
	INSERT INTO nadia_bgw.plans (queryid, dbid, userid, planid, first_seen, last_seen, plan_text, summary)
	VALUES (7302, 1, 10, 21, now() - interval '5 minutes', now(), 'Result', 'Result');
	INSERT INTO nadia_bgw.statement_samples (sampled_at, stmt_id, toplevel, calls, total_exec_time,
	                                         min_exec_time, max_exec_time, rows)
	SELECT now() - interval '2 minutes', stmt_id, true, 6, 18, 1, 7, 12 FROM nadia_bgw.statements
	 WHERE queryid = 7302
	UNION ALL
	-- before the plan was first seen: not the plan's
	SELECT now() - interval '8 minutes', stmt_id, true, 100, 100, 1, 1, 100 FROM nadia_bgw.statements
	 WHERE queryid = 7302;
});

my $s = mcp_start($conn, '--rate-per-minute=0', '--heavy-per-hour=0');
$s->initialize('2025-06-18');

my $tools = { map { $_->{name} => $_ } @{ $s->request('tools/list')->{result}{tools} } };
ok($tools->{explain_query}, 'explain_query is listed');
is_deeply($tools->{explain_query}{inputSchema}{properties}{queryid}{type}, [ 'string', 'integer' ],
	'queryid: a string or an integer');
ok($tools->{explain_query}{outputSchema}{properties}{rows}{items}{properties}{worst_nodes},
	'outputSchema lists worst_nodes');

sub rows_of
{
	my ($r) = @_;
	return $r->{result}{structuredContent}{rows} // [];
}

# by queryid, as a string
my $r = $s->call('explain_query', { queryid => '7300000000000000042', since => '30m' });
ok(!$r->{result}{isError}, 'by queryid: answers') or diag(json_encode($r));
my @rows = @{ rows_of($r) };
is(scalar @rows, 2, 'two plans');
is($rows[0]{planid}, '11', 'the plan with most calls first, planid a string');
is($rows[1]{planid}, '-12', 'then the other (a negative id stays as it is)');
is($rows[0]{queryid}, '7300000000000000042', 'queryid kept to the last digit');
is($rows[0]{share_of_calls}, 0.75, 'share of calls');
is($rows[1]{share_of_time}, 0.9302, 'share of time');
is($rows[1]{mean_exec_time_ms}, 40, 'mean time per plan');
is($rows[0]{worst_nodes}, undef, 'never instrumented: worst_nodes null');
is($rows[1]{worst_nodes}[0]{removed_by_filter}, 29700, 'worst node: rows removed by the filter');
is($rows[1]{worst_nodes}[0]{misestimate}, 25, '... and the misestimate');
like($rows[1]{plan_text}, qr/Filter: \(user_id = \$1\)/, 'the masked plan text');
like($rows[0]{first_seen} // '', qr/^\d{4}-\d\d-\d\dT.*Z$/, 'first_seen in RFC 3339 UTC');
is($rows[0]{database}, 'appdb', 'database');

# one plan, no plan rows: the plan has its statement's figures from when
# it was first seen
$r = $s->call('explain_query', { queryid => 7302, since => '30m' });
@rows = @{ rows_of($r) };
is(scalar @rows, 1, 'a single-plan statement: its plan');
is($rows[0]{planid}, '21', '... by its plan id');
is($rows[0]{calls}, 6, '... with the statement\'s calls since the plan was first seen');
is($rows[0]{share_of_calls}, 1, '... all of them');
is($rows[0]{mean_exec_time_ms}, 3, '... the statement\'s mean time');
is($rows[0]{max_exec_time_ms}, 7, '... and its maximum');
is($rows[0]{rows_per_call}, 2, '... and rows');

# by text: other white space, a final semicolon; and a prefix with an ellipsis
$r = $s->call('explain_query', { query => "SELECT *\n\tFROM interactions WHERE user_id = \$1;", since => '30m' });
is(scalar @{ rows_of($r) }, 2, 'by normalized text (white space does not count)');
# (the line written by hand: the ellipsis as JSON's \u escape)
$s->send_line('{"jsonrpc":"2.0","id":"ellipsis","method":"tools/call","params":{"name":"explain_query",'
	. '"arguments":{"query":"SELECT * FROM interactions WHERE\u2026","since":"30m"}}}');
$r = $s->recv;
is(scalar @{ rows_of($r) }, 2, 'by a text cut with an ellipsis: a prefix');
$r = $s->call('explain_query', { query => 'SELECT * FROM interactions WHERE user_id = 5', since => '30m' });
is(scalar @{ rows_of($r) }, 0, 'a text with a literal matches nothing (compared, never parsed)');

# a small queryid as a JSON integer; an unknown one: an empty, explained answer
$r = $s->call('explain_query', { queryid => 7301, since => '30m' });
ok(!$r->{result}{isError}, 'queryid as an integer: answers');
is($r->{result}{structuredContent}{row_count}, 0, 'a statement without plans: no row');
$r = $s->call('explain_query', { queryid => '123456789', since => '30m' });
is_deeply(rows_of($r), [], 'unknown queryid: rows []');
like($r->{result}{structuredContent}{note} // '', qr/no statement in history has this queryid/,
	'... and a note that says why');
$r = $s->call('explain_query', { queryid => '7300000000000000042',
	since => '2020-01-01T00:00:00Z', until => '2020-01-02T00:00:00Z' });
is_deeply(rows_of($r), [], 'a range without history: rows []');

# bad arguments
for my $bad (
	[ { queryid => 'abc' }, 'queryid not digits' ],
	[ { queryid => '1; DROP TABLE x' }, 'queryid with SQL' ],
	[ { queryid => 1.5 }, 'queryid not integral' ],
	[ { queryid => 2**60 }, 'queryid beyond 2^53 as a JSON number' ],
	[ { queryid => '99999999999999999999' }, 'queryid beyond bigint' ],
	[ { queryid => JSON::PP::true }, 'queryid a boolean' ],
	[ { query => '' }, 'empty query' ],
	[ { query => 'x' x 4101 }, 'over-long query' ],
	[ { until => 'tomorrow' }, 'until not a time' ],
	[ { sql => 'SELECT 1' }, 'an sql argument' ])
{
	$r = $s->call('explain_query', $bad->[0]);
	is($r->{error}{code}, -32602, "$bad->[1]: -32602");
}
like($s->call('explain_query', { queryid => 2**60 })->{error}{message}, qr/as a string of digits/,
	'... the message says to send a string');

# query_stats: the plans of each statement
$r = $s->call('query_stats', { query_pattern => '7300000000000000042', since => '30m' });
@rows = @{ rows_of($r) };
is(scalar @rows, 1, 'query_stats by queryid');
is_deeply([ map { $_->{planid} } @{ $rows[0]{plans} } ], [ '11', '-12' ], 'query_stats: its plans, most calls first');
is($rows[0]{plans}[0]{share_of_calls}, 0.75, '... with their shares');
is($rows[0]{calls}, 4, 'the statement fields are unchanged');
is($r->{result}{structuredContent}{note}, undef, 'no note');
$r = $s->call('query_stats', { query_pattern => 'SELECT 7302', since => '30m' });
@rows = @{ rows_of($r) };
is_deeply([ map { [ $_->{planid}, $_->{calls}, $_->{share_of_calls} ] } @{ $rows[0]{plans} // [] } ],
	[ [ '21', 6, 1 ] ], 'query_stats: a single-plan statement\'s plan, with the statement\'s calls');

# without plan history (a nadia_bgw that predates it): query_stats answers
# without plans and says so; explain_query is not available
$node->safe_psql('postgres', q{
	ALTER EXTENSION nadia_bgw DROP FUNCTION nadia_bgw.mcp_statement_plans(timestamptz, integer[]);
	ALTER EXTENSION nadia_bgw DROP FUNCTION nadia_bgw.mcp_explain_query(bigint, text, timestamptz, timestamptz);
	DROP FUNCTION nadia_bgw.mcp_statement_plans(timestamptz, integer[]);
	DROP FUNCTION nadia_bgw.mcp_explain_query(bigint, text, timestamptz, timestamptz);
});
$r = $s->call('query_stats', { query_pattern => '7300000000000000042', since => '30m' });
ok(!$r->{result}{isError}, 'no plan history: query_stats answers');
is(rows_of($r)->[0]{plans}, undef, '... plans null');
like($r->{result}{structuredContent}{note} // '', qr/no plan history/, '... and a note says why');
$r = $s->call('explain_query', { queryid => '7300000000000000042' });
ok($r->{result}{isError}, 'no plan history: explain_query isError');
like($r->{result}{content}[0]{text}, qr/explain_query is not available in database "postgres"/,
	'... not available');

is($s->finish, 0, 'exit 0');
unlike($s->stderr, qr/(?:panic|Segmentation)/i, 'no crash');
$node->stop;
done_testing();
