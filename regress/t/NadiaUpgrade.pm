# NadiaUpgrade.pm -- helpers of the upgrade tests (600_extension_update.pl,
# upgrade/610_pg_upgrade.pl): NADIA data with a rollup over it, a snapshot
# of everything the extension holds, and a normalized schema dump.
package NadiaUpgrade;

use strict;
use warnings;
use Exporter 'import';
use IPC::Run;
use PostgreSQL::Test::Utils;
use Test::More;

our @EXPORT = qw(nadia_data add_interactions holdings compare_holdings
  schema_entries partition_names);

# The rollup of the README over the NADIA interactions table.
my $rollup_sql = q{
	SELECT nadia_bgw.create_rollup(
	    name => 'dashboard_daily_metrics', source => 'interactions',
	    time_column => 'created_at', bucket => '1 day', bucket_column => 'date',
	    horizon => '90 days', timezone => 'UTC',
	    aggregates => ARRAY[
	        'COUNT(*) AS message_count',
	        'COUNT(DISTINCT user_id) AS unique_users',
	        'AVG(quality_score) AS avg_quality',
	        'SUM(COALESCE(llm1_cost_usd, 0) + COALESCE(llm2_cost_usd, 0)) AS daily_cost',
	        'COUNT(*) FILTER (WHERE cta_data IS NOT NULL) AS cta_messages',
	        'COUNT(*) FILTER (WHERE quality_score >= 4) AS high_quality_messages'])
};

# add_interactions(NODE, DB, ROWS, DAYS_BACK): ROWS messages spread over the
# last DAYS_BACK days (0: today only).
sub add_interactions
{
	my ($node, $db, $rows, $days) = @_;
	$node->safe_psql($db, qq{
		INSERT INTO public.interactions (user_id, conversation_id, user_message,
		    quality_score, llm1_cost_usd, llm2_cost_usd, cta_data, created_at)
		SELECT i % 37, gen_random_uuid(), 'message ' || i, 1 + i % 5,
		       (i % 7) / 100.0, (i % 3) / 100.0,
		       CASE WHEN i % 4 = 0 THEN '{"cta": 1}'::jsonb END,
		       now() - (i % ($days + 1)) * interval '1 day' - (i % 60) * interval '1 minute'
		  FROM generate_series(1, $rows) i});
	return;
}

# nadia_data(NODE, DB): the NADIA schema (demo/schema.sql), 30 days of
# messages and the dashboard rollup over them.
sub nadia_data
{
	my ($node, $db) = @_;
	my $schema = "$ENV{NADIA_SRC_ROOT}/demo/schema.sql";
	die "no $schema" unless -f $schema;
	$node->safe_psql($db, slurp_file($schema));
	add_interactions($node, $db, 3000, 30);
	$node->safe_psql($db, $rollup_sql);
	return;
}

# holdings(NODE, DB): what the extension holds, to compare before and after
# an update or an upgrade: { "table" => "oid rows" } for every table of
# schema nadia_bgw (partitioned parents counted with their partitions, the
# partitions themselves not listed: they come and go with time), plus the
# rollup target, the alerts and the samples as keys.
sub holdings
{
	my ($node, $db) = @_;
	my %h;
	my $tables = $node->safe_psql($db, q{
		SELECT c.oid::regclass::text, c.oid
		  FROM pg_class c
		 WHERE c.relnamespace = 'nadia_bgw'::regnamespace
		   AND c.relkind IN ('r', 'p') AND NOT c.relispartition
		   AND c.relpersistence = 'p'
		 UNION ALL
		SELECT 'public.dashboard_daily_metrics', 'public.dashboard_daily_metrics'::regclass::oid
		 ORDER BY 1});
	for my $line (split /\n/, $tables)
	{
		my ($name, $oid) = split /\|/, $line;
		my $n = $node->safe_psql($db, "SELECT count(*) FROM $name");
		$h{$name} = "oid $oid, $n rows";
	}
	# contents of what must not change at all
	$h{'alerts content'} = $node->safe_psql($db,
		q{SELECT md5(string_agg(format('%s %s %s %s %s', alert_id, alert_key, kind, severity, opened_at),
		                        ',' ORDER BY alert_id)) FROM nadia_bgw.alerts});
	$h{'samples content'} = $node->safe_psql($db,
		q{SELECT md5(string_agg(sample_id || ' ' || sampled_at, ',' ORDER BY sample_id))
		    FROM nadia_bgw.samples});
	$h{'rollup content'} = $node->safe_psql($db,
		q{SELECT md5(string_agg(d::text, ',' ORDER BY d::text)) FROM public.dashboard_daily_metrics d});
	$h{'statement history content'} = $node->safe_psql($db,
		q{SELECT md5(string_agg(s::text, ',' ORDER BY s::text)) FROM nadia_bgw.statement_samples s});
	$h{'table history content'} = $node->safe_psql($db,
		q{SELECT md5(string_agg(s::text, ',' ORDER BY s::text)) FROM nadia_bgw.table_samples s});
	return \%h;
}

# compare_holdings(BEFORE, AFTER, WHAT): one test per holding.
sub compare_holdings
{
	my ($before, $after, $what) = @_;
	for my $k (sort keys %$before)
	{
		is($after->{$k}, $before->{$k}, "$what: $k unchanged");
	}
	return;
}

# partition_names(NODE, DB): the history partitions the sampler made.
sub partition_names
{
	my ($node, $db) = @_;
	return split /\n/, $node->safe_psql($db,
		'SELECT child::text FROM nadia_bgw.history_partitions ORDER BY 1');
}

# schema_entries(NODE, DB, EXCLUDE...): the extension's schema as pg_dump
# shows it, one normalized entry per object, sorted.
#
# A plain pg_dump leaves out an extension's member objects (it dumps just
# CREATE EXTENSION), and -n nadia_bgw leaves out the extension itself and so
# its members too.  The dump is therefore of the whole database in
# --binary-upgrade mode, which spells out every member as pg_upgrade needs
# it, and only the entries of schema nadia_bgw and of the extension itself
# are kept (the application's tables and other extensions are not ours).
# Normalized: comments, SET lines, blank lines and the
# binary_upgrade_set_next_* calls (OIDs and relfilenodes, different in every
# database), the relfrozenxid/relminmxid of tables (transaction ids) and
# sequence values (data) are removed; entries are sorted, so that dump order (OID order)
# does not matter.  Entries that mention one of EXCLUDE (the time
# partitions made at run time, whose names depend on when the sampler ran)
# are left out: the caller compares those separately.
sub schema_entries
{
	my ($node, $db, @exclude) = @_;
	my ($out, $err);
	IPC::Run::run(
		[
			'pg_dump', '--schema-only', '--binary-upgrade',
			'-h', $node->host, '-p', $node->port, '-d', $db
		],
		'>', \$out, '2>', \$err)
	  or die "pg_dump failed: $err";
	my @entries;
	my ($cur, $keep) = ('', 0);
	for my $line (split /\n/, $out)
	{
		if ($line =~ /^-- Name: (.*); Type: (.*); Schema: (.*); Owner:/)
		{
			push @entries, $cur if $keep;
			my ($name, $type, $schema) = ($1, $2, $3);
			# a sequence's value is data, not schema
			$keep = ($schema eq 'nadia_bgw' && $type ne 'SEQUENCE SET')
			  || ($schema eq '-' && $name =~ /^(SCHEMA |EXTENSION )?nadia_bgw$/);
			$cur = '';
		}
		$cur .= "$line\n";
	}
	push @entries, $cur if $keep;
	for (@entries)
	{
		# a table's relfrozenxid/relminmxid (and its TOAST table's, by OID)
		s/^UPDATE pg_catalog\.pg_class\nSET relfrozenxid = .*?;\n//gms;
		s/^SELECT pg_catalog\.binary_upgrade_set_next_.*\n//gm;
		s/^--.*\n//gm;
		s/^SET .*\n//gm;
		s/^SELECT pg_catalog\.set_config\('search_path'.*\n//gm;
		s/^\\(un)?restrict .*\n//gm;    # 17.6+, 18: \restrict KEY
		s/^\s*\n//gm;
	}
	my @kept;
  ENTRY:
	for my $e (@entries)
	{
		for my $x (@exclude)
		{
			(my $bare = $x) =~ s/^nadia_bgw\.//;
			next ENTRY if index($e, $bare) >= 0;
		}
		push @kept, $e;
	}
	return sort @kept;
}

1;
