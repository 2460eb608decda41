# 751_index_advice_capture.pl -- index advice end to end: the plans come
# from the capture (worker/plans/) drained by the sample task, not from
# rows the test writes.  The review UI's per-user query on a NADIA-like
# interactions table without idx_interactions_user_created gets an index
# leading on user_id, verified with hypopg, with a positive gain; with the
# index back, nothing is advised.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NadiaTest;
use NadiaAdvice;

my $node = advice_node('index_advice_capture');
my $app_sql = per_user_sql(40,
	'SELECT id, created_at, review_status, quality_score FROM public.interactions',
	' ORDER BY created_at DESC LIMIT 20');

for (1 .. 2)
{
	$node->safe_psql('postgres', $app_sql, extra_params => [ '-U', 'app' ]);
	ok(wake($node), 'a cycle samples the workload and its plans');
}
my $qid = $node->safe_psql('postgres',
	"SELECT queryid FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid"
	  . " WHERE r.rolname = 'app' AND query LIKE 'SELECT id, created_at%'");
like($qid, qr/^-?\d+$/, 'the per-user query is tracked');
cmp_ok($node->safe_psql('postgres', "SELECT count(*) FROM nadia_bgw.plans WHERE queryid = $qid"),
	'>=', 1, 'its plan is in plan history (captured, drained)');
ok(wake($node), 'another cycle');

my $row = $node->safe_psql('postgres', qq{
	SELECT columns[1], verified, est_gain_ms > 0, create_statement
	  FROM nadia_bgw.index_advice
	 WHERE relname = 'interactions' AND $qid = ANY (queryids)
	 ORDER BY est_gain_ms DESC NULLS LAST LIMIT 1});
my @r = split /\|/, $row;
is($r[0], 'user_id', 'the advice leads on user_id')
  or diag($node->safe_psql('postgres',
	"SELECT plan_nodes FROM nadia_bgw.plans WHERE queryid = $qid"));
is($r[1], 't', 'verified with hypopg');
is($r[2], 't', 'with a positive estimated gain');
like($r[3] // '', qr/^CREATE INDEX ON public\.interactions \(user_id/, $r[3] // 'no statement');

$node->safe_psql('postgres',
	'CREATE INDEX idx_interactions_user_created ON public.interactions (user_id, created_at DESC)');
$node->safe_psql('postgres', $app_sql, extra_params => [ '-U', 'app' ]);
ok(wake($node), 'a cycle with the index present');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM nadia_bgw.index_advice
	 WHERE relname = 'interactions'
	   AND gain_ratio >= current_setting('nadia_bgw.advice_min_gain')::float8}),
	'0', 'no advice above the gain threshold');

done_testing();
