# 731_explain_query_capture.pl -- explain_query end to end: the preloaded
# library captures the plans of a real workload (every execution
# instrumented here), the sampler drains them into plan history, and
# nadia-mcp answers explain_query and query_stats from it: one statement,
# two plans (its index dropped between two runs), shares that follow the
# calls, the masked text, a worst node from the instrumented execution,
# and no literal of the application anywhere.  Skipped where the capture
# (nadia_bgw._plan_store) or its history source is not built in.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NadiaTest;
use NadiaMcp;

my $node = nadia_node('explain_capture',
	conf => "nadia_bgw.interval = 3600\nnadia_bgw.plan_sample_rate = 1\n");
if ($node->safe_psql('postgres',
		"SELECT to_regprocedure('nadia_bgw._plan_store(boolean)') IS NULL") eq 't')
{
	$node->stop;
	plan skip_all => 'no plan capture in this build (nadia_bgw._plan_store)';
}
$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_stat_statements;
	CREATE TABLE public.interactions (id int PRIMARY KEY, user_id int, secret text);
	INSERT INTO public.interactions
	SELECT i, i % 500, 'NADIA-SECRET-ROW-' || i FROM generate_series(1, 20000) i;
	CREATE INDEX interactions_user ON public.interactions (user_id);
	ANALYZE public.interactions;
	SELECT nadia_bgw.take_sample();
});
my $role = mcp_make_role($node);

# three runs with the index, one without it
my $stmt = "SELECT count(*) FROM public.interactions WHERE user_id = %d AND secret <> 'NADIA-SECRET-LITERAL'";
$node->safe_psql('postgres', join(";\n", map { sprintf($stmt, $_) } 1 .. 3));
$node->safe_psql('postgres', 'SELECT nadia_bgw.take_sample()');
$node->safe_psql('postgres', q{
	DROP INDEX public.interactions_user;
	ANALYZE public.interactions;
});
$node->safe_psql('postgres', sprintf($stmt, 4));
$node->safe_psql('postgres', 'SELECT nadia_bgw.take_sample()');

my $qid = $node->safe_psql('postgres',
	"SELECT queryid FROM nadia_bgw.statements WHERE query LIKE '%interactions WHERE user_id = \$1%'");
isnt($qid, '', 'the statement is in history');
my $nplans = $node->safe_psql('postgres', "SELECT count(*) FROM nadia_bgw.plans WHERE queryid = $qid");
is($nplans, 2, 'two plans of it in plan history');

my $s = mcp_start(mcp_conninfo($node, $role), '--rate-per-minute=0', '--heavy-per-hour=0');
$s->initialize('2025-06-18');
my $r = $s->call('explain_query', { queryid => $qid, since => '1h' });
ok(!$r->{result}{isError}, 'explain_query answers') or diag(json_encode($r));
my @rows = @{ $r->{result}{structuredContent}{rows} // [] };
is(scalar @rows, 2, 'two plans');
is($rows[0]{calls}, 3, 'the plan with the index first: 3 calls');
is($rows[0]{share_of_calls}, 0.75, '... 3 of 4 calls');
is($rows[1]{calls}, 1, 'the plan without it: 1 call');
like($rows[1]{summary} // '', qr/Seq Scan on public\.interactions/, '... a sequential scan');
like($rows[0]{summary} // '', qr/interactions_user/, 'the first used the index');
like($rows[1]{plan_text} // '', qr/Filter:/, 'plan text with its filter');
ok((grep { $_->{removed_by_filter} } @{ $rows[1]{worst_nodes} // [] }),
	'worst nodes: the scan\'s filter removed most rows')
  or diag(json_encode($rows[1]{worst_nodes}));

$r = $s->call('query_stats', { query_pattern => $qid, since => '1h' });
is(scalar @{ $r->{result}{structuredContent}{rows}[0]{plans} // [] }, 2, 'query_stats: both plans');

my $all = json_encode($r) . json_encode(\@rows);
unlike($all, qr/NADIA-SECRET/, 'no literal or row of the application in the answers');
is($s->finish, 0, 'exit 0');
$node->stop;
done_testing();
