# NadiaAdvice.pm -- helpers of the index advice TAP tests (t/75x): a
# cluster with hypopg and a NADIA-like interactions table that lacks its
# per-user index, and the per-user statements run against it.
package NadiaAdvice;

use strict;
use warnings;
use Exporter 'import';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NadiaTest;

our @EXPORT = qw(advice_node per_user_sql);

# advice_node(NAME): a started cluster whose timed cycle waits an hour, so
# only the test's wake() runs one, and whose advice task runs at each
# cycle, for tables of 1,000 rows or more.  It has pg_stat_statements,
# hypopg, and public.interactions: 60,000 rows, 2,000 users, an index on
# created_at only (the review UI's per-user lookup has no index to use),
# readable by the login role "app".  Without hypopg for this server the
# whole test is skipped.
sub advice_node
{
	my ($name) = @_;
	my $node = nadia_node($name, conf => <<'CONF');
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
	return $node;
}

# per_user_sql(COUNT, BEFORE, AFTER): COUNT statements, one per user of
# the table: BEFORE "WHERE user_id = <id>" AFTER, each ended by ";\n".
# Their constants differ, so pg_stat_statements counts one statement.
sub per_user_sql
{
	my ($count, $before, $after) = @_;
	return join '',
	  map { "$before WHERE user_id = " . (1000000000 + $_) . "$after;\n" } 1 .. $count;
}

1;
