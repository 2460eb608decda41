# 211_rollup_trust_update.pl -- a rollup made by 1.0 is bound and handed to
# its source's owner by ALTER EXTENSION nadia_bgw UPDATE.
#
# 1.0 stored the definition as text and ran it, as the worker (a
# superuser), under the search path its creator had.  After the update the
# worker's refresh must: resolve nothing through that search path any more
# (a count(integer) planted in public afterwards is never called), run the
# application's function as the source's owner rather than as a superuser,
# and keep the rollup exact.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NadiaTest;

my $node = nadia_node('rollup_trust_update', conf => "nadia_bgw.interval = 3600\n",
	extension => 0);
$node->safe_psql('postgres', q{CREATE EXTENSION nadia_bgw VERSION '1.0'});
wait_until($node, 'SELECT worker_pid IS NOT NULL FROM nadia_bgw.status LIMIT 1');

# the application: its own role, schema, table and a function the
# dashboard sums over; a log of who ran what
$node->safe_psql('postgres', q{
CREATE ROLE app NOLOGIN;
CREATE ROLE dbo NOLOGIN;
GRANT CREATE ON SCHEMA public TO dbo;
CREATE TABLE public.trust_log (what text, who name, super boolean);
GRANT ALL ON public.trust_log TO PUBLIC;
CREATE SCHEMA app AUTHORIZATION app;
SET ROLE app;
CREATE TABLE app.events (at timestamptz NOT NULL, user_id integer, amount numeric);
INSERT INTO app.events
SELECT now() - d * interval '1 day', i % 5, i FROM generate_series(0, 3) d, generate_series(1, 10) i;
CREATE FUNCTION app.f(v numeric) RETURNS numeric LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.trust_log
    SELECT 'app.f', current_user, rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user;
    RETURN v;
END $$;
RESET ROLE;
});

# a superuser makes the dashboard on 1.0, with the application's search path
$node->safe_psql('postgres', q{
SET search_path = app, public;
SELECT nadia_bgw.create_rollup(name => 'public.dash', source => 'events', time_column => 'at',
       bucket => '1 day', timezone => 'UTC',
       aggregates => ARRAY['count(DISTINCT user_id) AS users', 'sum(f(amount)) AS total']);
});
is($node->safe_psql('postgres', q{SELECT search_path FROM nadia_bgw.rollup}),
	'app, public', '1.0 stored the creator\'s search path');

$node->safe_psql('postgres', 'ALTER EXTENSION nadia_bgw UPDATE');
is($node->safe_psql('postgres',
	q{SELECT search_path || ' / ' || (definition IS NOT NULL) FROM nadia_bgw.rollup}),
	'pg_catalog, pg_temp / true', 'the update bound the definition');
like($node->safe_psql('postgres', q{SELECT query FROM nadia_bgw.rollup}),
	qr/app\.f\(/, 'the stored text names app.f schema-qualified');
is($node->safe_psql('postgres',
	q{SELECT relowner::regrole FROM pg_class WHERE oid = 'public.dash'::regclass}),
	'app', 'the superuser\'s rollup table now belongs to the source\'s owner');

# after the update, the database owner plants count(integer) in public
$node->safe_psql('postgres', q{
SET ROLE dbo;
CREATE FUNCTION public.evil_sfunc(s bigint, v integer) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.trust_log
    SELECT 'evil count', current_user, rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user;
    RETURN coalesce(s, 0) + 1000;
END $$;
CREATE AGGREGATE public.count(integer) (sfunc = public.evil_sfunc, stype = bigint, initcond = '0');
RESET ROLE;
DELETE FROM public.trust_log;
INSERT INTO app.events VALUES (now(), 1, 5);
});
ok(wake($node), 'the worker ran a cycle');
is($node->safe_psql('postgres',
	q{SELECT failures || ' ' || coalesce(last_error, '-') FROM nadia_bgw.rollups}),
	'0 -', 'the refresh did not fail');
is($node->safe_psql('postgres',
	q{SELECT count(*) FROM public.trust_log WHERE what = 'evil count'}),
	'0', 'the planted count(integer) never ran');
is($node->safe_psql('postgres',
	q{SELECT string_agg(DISTINCT who || ':' || super, ',') FROM public.trust_log WHERE what = 'app.f'}),
	'app:false', 'app.f ran as the source\'s owner, not as a superuser');
cmp_ok($node->safe_psql('postgres', q{SELECT max(users) FROM public.dash}),
	'<', 100, 'count(DISTINCT) is still pg_catalog.count');
$node->safe_psql('postgres', 'DROP AGGREGATE public.count(integer)');
is($node->safe_psql('postgres',
	q{SELECT missing || '/' || extra FROM nadia_bgw.rollup_check('public.dash')}),
	'0/0', 'the rollup equals its full query after the update');

$node->stop;
done_testing();
