# 011_search_path.pl -- none of our code runs under a search_path a user
# chose, and user code that a maintenance job makes PostgreSQL run runs as
# its owner.
#
# The attacker, mallory, owns the worker's database but is no superuser.
# She puts an operator evil.=(text, text) in front of pg_catalog's with
# ALTER DATABASE ... SET search_path = evil, pg_catalog; every text
# comparison of a session that takes that path (text = text, IN lists)
# then calls her function, which counts its calls in a sequence (not
# rolled back) and logs who ran it.  Tried: the worker's cycle (sampler,
# maintenance task), a maintenance job worker, a role setting instead of
# the database's, and a superuser calling our SQL functions from a
# session with that path.  Every SECURITY DEFINER function of the
# extension, and every C function that runs SQL in its caller's session,
# must pin its search_path.  Last, an index expression of mallory's table
# is evaluated by our ANALYZE job as mallory, not as the superuser.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NadiaTest;
use NadiaMaint;

my $node = nadia_node('search_path', conf => <<'CONF');
nadia_bgw.interval = 3600
autovacuum = off
nadia_bgw.maintenance_cooldown = 0
CONF

# The test's own sessions choose their path (PGC_S_CLIENT beats the
# database's setting), so that they never call the trap themselves.
$ENV{PGOPTIONS} = '-c search_path=public,pg_catalog';

sub sql { return $node->safe_psql('postgres', $_[0]); }

# a superuser session that takes the database's and role's settings
sub victim_sql
{
	local $ENV{PGOPTIONS} = '';
	return $node->safe_psql('postgres', $_[0]);
}

my $super = sql('SELECT rolname FROM pg_roles WHERE oid = 10');
sql('CREATE ROLE mallory LOGIN');
sql('ALTER DATABASE postgres OWNER TO mallory');
$node->safe_psql('postgres', <<'SQL', extra_params => [ '-U', 'mallory' ]);
CREATE SCHEMA evil;
GRANT USAGE ON SCHEMA evil TO PUBLIC;
CREATE SEQUENCE evil.hits;
GRANT USAGE, UPDATE ON SEQUENCE evil.hits TO PUBLIC;
CREATE FUNCTION evil.texteq(a text, b text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_catalog.nextval('evil.hits');
    RAISE LOG 'evil operator ran as %', current_user;
    RETURN a OPERATOR(pg_catalog.=) b;
END $$;
CREATE OPERATOR evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.texteq);
SQL

sub hits { return sql('SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM evil.hits'); }
sub reset_hits { sql("SELECT setval('evil.hits', 1, false)"); }

# the trap works: a session with that path calls it
{
	local $ENV{PGOPTIONS} = '-c search_path=evil,pg_catalog';
	$node->safe_psql('postgres', "SELECT 'running'::text IN ('queued', 'running')");
}
cmp_ok(hits(), '>', 0, 'sanity: text comparisons under search_path evil, pg_catalog call the trap');

# a table with a maintenance job to run, so that the job worker runs SQL
make_table($node, 'work', 5000);
churn_rows($node, 'work', 1, 3000);

# mallory sets the path for every session of her database; the worker
# takes it when it connects
$node->safe_psql('postgres', 'ALTER DATABASE postgres SET search_path = evil, pg_catalog',
	extra_params => [ '-U', 'mallory' ]);
$node->restart;
wait_until($node, "SELECT worker_pid IS NOT NULL FROM nadia_bgw.status LIMIT 1");
reset_hits();
my $log = -s $node->logfile;

wake($node) for 1 .. 2;    # sample (source_state, events), regressions, maintenance
sql("SELECT nadia_bgw.request_maintenance('work', 'vacuum analyze', 'test')");
wake($node);
is(wait_job_end($node, 'work'), 'done', 'the maintenance job ran');
wake($node);
is(status_of($node, 'sample', 'outcome'), 'ok', 'the sample task ran');
is(hits(), 0, 'database search_path: the worker and its job never call the trap');
is(log_count($node, qr/evil operator ran as/, $log), 0, 'and nothing logged that it ran');
is( sql("SELECT count(*) FROM pg_stat_activity
          WHERE backend_type = 'nadia_bgw worker'"), 1, 'the worker is running');

# a superuser calling our functions from a session with that path
reset_hits();
victim_sql("SELECT nadia_bgw.take_sample()");
victim_sql("SELECT count(*) FROM nadia_bgw.detect_regressions()");
victim_sql("SELECT nadia_bgw.maintain_history()");
victim_sql("SELECT nadia_bgw.request_maintenance('public.work', 'analyze', 'x')");
is(victim_sql('SHOW search_path'), 'evil, pg_catalog', 'the victim session has the path');
is(hits(), 0, 'a superuser calling take_sample, detect_regressions, maintain_history, '
	  . 'request_maintenance under that path never calls the trap');

# the same through a role setting (the worker's role)
$node->safe_psql('postgres', 'ALTER DATABASE postgres RESET search_path',
	extra_params => [ '-U', 'mallory' ]);
sql(qq{ALTER ROLE "$super" SET search_path = evil, pg_catalog});
$node->restart;
wait_until($node, "SELECT worker_pid IS NOT NULL FROM nadia_bgw.status LIMIT 1");
reset_hits();
churn_rows($node, 'work', 1, 3000);
sql("SELECT nadia_bgw.request_maintenance('work', 'vacuum', 'test')");
wake($node);
is(wait_job_end($node, 'work'), 'done', 'the maintenance job ran');
wake($node);
is(hits(), 0, 'role search_path: the worker and its job never call the trap');
sql(qq{ALTER ROLE "$super" RESET search_path});

# every SECURITY DEFINER function, and every C function that runs SQL in
# its caller's session, pins search_path
my $ext = "(SELECT oid FROM pg_extension WHERE extname = 'nadia_bgw')";
my $members = "SELECT p.* FROM pg_proc p JOIN pg_depend d
                 ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                AND d.deptype = 'e' AND d.refobjid = $ext";
cmp_ok(sql("SELECT count(*) FROM ($members) p WHERE p.prosecdef"), '>', 0,
	'the extension has SECURITY DEFINER functions');
is( sql("SELECT string_agg(p.oid::regprocedure::text, ', ' ORDER BY 1) FROM ($members) p
          WHERE (p.prosecdef
                 OR p.proname IN ('take_sample', 'maintain_history',
                                  'detect_regressions', 'alert_payload'))
            AND NOT coalesce('search_path=pg_catalog, pg_temp' = ANY (p.proconfig), false)"),
	'', 'every SECURITY DEFINER function and every C function running SQL pins search_path');

# user code PostgreSQL runs during our ANALYZE (an index expression) runs
# as the table's owner, not as our superuser job
$node->safe_psql('postgres', <<'SQL', extra_params => [ '-U', 'mallory' ]);
CREATE FUNCTION evil.idx(v int) RETURNS int
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RAISE LOG 'evil index expression ran as %', current_user;
    RETURN v;
END $$;
CREATE TABLE evil.owned (id int, v int) WITH (autovacuum_enabled = off);
INSERT INTO evil.owned SELECT g, g FROM generate_series(1, 100) g;
CREATE INDEX ON evil.owned (evil.idx(v));
SQL
$log = -s $node->logfile;
sql("SELECT nadia_bgw.request_maintenance('evil.owned', 'analyze', 'test')");
wake($node);
is(wait_job_end($node, 'owned'), 'done', 'the ANALYZE job ran');
my @ran = log_since($node, $log) =~ /evil index expression ran as (\w+)/g;
ok(scalar(@ran) > 0, 'ANALYZE evaluated the index expression');
is_deeply([ sort { $a cmp $b } keys %{ { map { $_ => 1 } @ran } } ], ['mallory'],
	'the index expression ran as the table owner only');

$node->stop('fast');
done_testing();
