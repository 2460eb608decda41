# 770_distribution_worker.pl -- the "distribution" task through the worker
# (docs/quality.md, "Distribution"): a table analyzed is recorded at the
# next cycle, not again until it is analyzed again; a change of its data
# shows as drift in data_distribution() read by nadia_bgw_reader; with a
# thousand analyzed tables a cycle after one ANALYZE reads that table only.
# Figures and flags are in regress/sql/distribution.sql; this checks the
# wiring and the "only what was analyzed" rule by row counts, never by
# time.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NadiaTest;

my $node = nadia_node('distribution', conf => "autovacuum = off\n");

$node->safe_psql('postgres', q{
	CREATE TABLE public.d (id int, label text, v int);
	INSERT INTO public.d
	SELECT i, CASE WHEN i > 100 THEN 'zq-secret-7781' ELSE 'other-' || i END, i % 10
	  FROM generate_series(1, 1000) i;
	ANALYZE public.d;
});

ok(wake($node), 'a cycle ran');
is(status_of($node, 'distribution', 'outcome'), 'ok', 'distribution task ok');
is($node->safe_psql('postgres',
	"SELECT count(*) FROM nadia_bgw.distribution_samples WHERE relid = 'public.d'::regclass"),
	'3', 'the analyzed table is recorded: one row per column');

ok(wake($node), 'another cycle ran');
is($node->safe_psql('postgres',
	"SELECT count(*) FROM nadia_bgw.distribution_samples WHERE relid = 'public.d'::regclass"),
	'3', 'not analyzed again: not read again');

$node->safe_psql('postgres', q{
	UPDATE public.d SET label = NULL WHERE id <= 400;
	UPDATE public.d SET v = id;
	ANALYZE public.d;
});
ok(wake($node), 'a cycle after the second ANALYZE ran');
is($node->safe_psql('postgres',
	"SELECT count(*) FROM nadia_bgw.distribution_samples WHERE relid = 'public.d'::regclass"),
	'6', 'the second ANALYZE is recorded');
is($node->safe_psql('postgres', q{
	SET ROLE nadia_bgw_reader;
	SELECT string_agg(format('%s:%s/%s/%s', attname, skew, null_frac_drift, n_distinct_drift), ' ' ORDER BY attnum)
	  FROM nadia_bgw.data_distribution() WHERE relname = 'd'}),
	'id:f/f/f label:t/t/t v:f/f/t',
	'the reader sees skew and drift');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM nadia_bgw.distribution_samples x WHERE x::text LIKE '%zq-secret-7781%'}),
	'0', 'the skewed value itself is not recorded');

# a thousand analyzed tables: recorded once, then only the one analyzed
$node->safe_psql('postgres', q{
	DO $$ BEGIN
	  FOR i IN 1 .. 1000 LOOP
	    EXECUTE format('CREATE TABLE public.many_%s (a int, b text)', i);
	    EXECUTE format('INSERT INTO public.many_%s SELECT g, g::text FROM generate_series(1, 10) g', i);
	  END LOOP;
	END $$;
	ANALYZE;
});
ok(wake($node), 'a cycle after analyzing a thousand tables ran');
is($node->safe_psql('postgres', q{
	SELECT count(DISTINCT relid) FROM nadia_bgw.distribution_samples WHERE relname LIKE 'many\_%'}),
	'1000', 'every analyzed table recorded');
my $before = $node->safe_psql('postgres', 'SELECT count(*) FROM nadia_bgw.distribution_samples');
$node->safe_psql('postgres', 'ANALYZE public.many_500');
ok(wake($node), 'a cycle after one ANALYZE ran');
is($node->safe_psql('postgres', 'SELECT count(*) FROM nadia_bgw.distribution_samples') - $before,
	2, 'only the analyzed table is read again');
is(status_of($node, 'distribution', 'outcome'), 'ok', 'distribution task still ok');

# for docs/quality.md "Cost": a call with nothing new over 1000 tables
# (reported, never asserted)
my $ms = $node->safe_psql('postgres', q{
	CREATE FUNCTION pg_temp.t() RETURNS numeric LANGUAGE plpgsql AS $$
	DECLARE t0 timestamptz := clock_timestamp();
	BEGIN
	  PERFORM nadia_bgw._quality_distribution(now());
	  RETURN round(extract(epoch FROM clock_timestamp() - t0) * 1000, 1);
	END $$;
	SELECT pg_temp.t()});
diag("_quality_distribution with 1002 unchanged tables: $ms ms");

$node->stop;
done_testing();
