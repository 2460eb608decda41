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

my $node = nadia_node('index_advice_capture', conf => <<'CONF');
nadia_bgw.interval = 3600
nadia_bgw.advice_interval = 0
nadia_bgw.advice_min_rows = 1000
CONF
plan skip_all => 'hypopg is not available for this PostgreSQL'
  unless $node->safe_psql('postgres',
	"SELECT count(*) FROM pg_available_extensions WHERE name = 'hypopg'");

$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_stat_statements;
	CREATE EXTENSION hypopg;
	CREATE TABLE public.interactions (
		id bigserial PRIMARY KEY,
		user_id bigint NOT NULL,
		review_status varchar(20) NOT NULL DEFAULT 'pending',
		quality_score integer,
		created_at timestamptz NOT NULL);
	INSERT INTO public.interactions (user_id, review_status, quality_score, created_at)
	SELECT 1000000000 + g % 2000, (ARRAY['pending','approved'])[1 + g % 2], g % 5 + 1,
	       timestamptz '2026-01-01' + g * interval '1 minute'
	  FROM generate_series(1, 60000) g;
	CREATE INDEX idx_interactions_created_at ON public.interactions (created_at DESC);
	VACUUM ANALYZE public.interactions;
	CREATE ROLE app LOGIN;
	GRANT SELECT ON public.interactions TO app;
});

my $app_sql = join '', map {
	"SELECT id, created_at, review_status, quality_score FROM public.interactions"
	  . " WHERE user_id = " . (1000000000 + $_)
	  . " ORDER BY created_at DESC LIMIT 20;\n" } 1 .. 40;

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
