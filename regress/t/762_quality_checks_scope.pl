# 762_quality_checks_scope.pl -- the worker's catalog checks read only the
# relations whose catalog entries changed (worker/quality/quality_checks.c,
# docs/quality.md "Constraints and integrity"): the first check of the
# process reads every relation, a cycle with nothing changed reads none,
# and after each kind of schema change the worker's open facts are exactly
# those a full check finds (nadia_bgw._quality_catalog_facts()).  The
# changes: a user trigger disabled, every trigger of a referenced table
# disabled (the foreign key's triggers live there), a referenced table
# renamed, a NOT VALID check added and validated, an index added on an
# unindexed foreign key, a table with facts dropped, a schema renamed, a
# table moved to another schema; and a worker restart and REPEATABLE READ
# as the default isolation (both: full checks).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NadiaTest;

my $ntables = 60;
my $node = nadia_node('quality_checks_scope',
	conf => "nadia_bgw.interval = 3600\nautovacuum = off\nnadia_bgw.maintenance_enabled = off\n");
$node->safe_psql('postgres', qq{
	CREATE SCHEMA app;
	CREATE TABLE app.parent (id int PRIMARY KEY);
	INSERT INTO app.parent SELECT generate_series(1, 10);
	CREATE FUNCTION app.noop() RETURNS trigger LANGUAGE plpgsql AS \$\$BEGIN RETURN NEW; END\$\$;
	DO \$\$
	BEGIN
	  FOR i IN 1..$ntables LOOP
	    EXECUTE format('CREATE TABLE app.t%s (id int PRIMARY KEY, p int REFERENCES app.parent)', i);
	    EXECUTE format('CREATE TRIGGER t%s_audit AFTER INSERT ON app.t%s FOR EACH ROW EXECUTE FUNCTION app.noop()', i, i);
	    IF i % 2 = 0 THEN
	      EXECUTE format('CREATE INDEX ON app.t%s (p)', i);
	    END IF;
	  END LOOP;
	END \$\$;
});

# the open facts, and what a full check finds now: kind:schema.table.object
my $fact = "kind || ':' || schemaname || '.' || relname || '.' || objname || ':' || coalesce(ref_relname, '')";
my $open_sql = "SELECT string_agg(f, ' ' ORDER BY f) FROM (SELECT $fact AS f"
  . " FROM nadia_bgw.quality_facts WHERE resolved_at IS NULL) s";
my $full_sql = "SELECT string_agg(f, ' ' ORDER BY f) FROM (SELECT $fact AS f"
  . " FROM nadia_bgw._quality_catalog_facts()) s";
sub scope { $node->safe_psql('postgres', 'SELECT coalesce(scope_relations::text, \'all\') FROM nadia_bgw.quality_checks_state') }

# after CHANGE, one cycle: the open facts equal a full check's; SCOPE is
# 'scoped' (only the changed relations read) or 'all'
sub after_change
{
	my ($name, $change, $want_scope) = @_;
	$node->safe_psql('postgres', $change) if $change;
	ok(wake($node), "$name: a cycle ran");
	is(status_of($node, 'quality_checks', 'outcome'), 'ok', "$name: quality_checks ok");
	my $s = scope();
	if ($want_scope eq 'all')
	{
		is($s, 'all', "$name: every relation read");
	}
	else
	{
		isnt($s, 'all', "$name: only the changed relations read ($s)");
	}
	is($node->safe_psql('postgres', $open_sql), $node->safe_psql('postgres', $full_sql),
		"$name: the open facts are a full check's");
}

after_change('first check', '', 'all');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM nadia_bgw.quality_facts WHERE kind = 'unindexed_foreign_key' AND resolved_at IS NULL"),
	$ntables / 2, 'every unindexed key recorded by the first check');

after_change('nothing changed', '', 'scoped');
is(scope(), 0, 'nothing changed: no relation read');

after_change('a user trigger disabled', 'ALTER TABLE app.t7 DISABLE TRIGGER t7_audit', 'scoped');
is(scope(), 1, 'its table alone was read');
like($node->safe_psql('postgres', $open_sql), qr/disabled_trigger:app\.t7\.t7_audit/, 'the disabled trigger is open');

after_change('the referenced table loaded with triggers off',
	'ALTER TABLE app.parent DISABLE TRIGGER ALL', 'scoped');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM nadia_bgw.quality_facts WHERE kind = 'disabled_fk_trigger' AND resolved_at IS NULL"),
	$ntables, "each referencing table's key is open");
is(scope(), $ntables + 1, 'the referenced table and the tables referencing it were read');

after_change('the referenced table enabled again', 'ALTER TABLE app.parent ENABLE TRIGGER ALL', 'scoped');
after_change('the referenced table renamed', 'ALTER TABLE app.parent RENAME TO parent2', 'scoped');
like($node->safe_psql('postgres', $open_sql), qr/unindexed_foreign_key:app\.t1\.t1_p_fkey:parent2/,
	'the open facts name the new parent');

after_change('a NOT VALID check added', 'ALTER TABLE app.t3 ADD CONSTRAINT t3_pos CHECK (id > 0) NOT VALID', 'all');
after_change('the check validated', 'ALTER TABLE app.t3 VALIDATE CONSTRAINT t3_pos', 'all');
after_change('an index on an unindexed key', 'CREATE INDEX ON app.t1 (p)', 'all');
after_change('a table with facts dropped', 'DROP TABLE app.t7', 'all');
after_change('a schema renamed', 'ALTER SCHEMA app RENAME TO app2', 'all');
after_change('a table moved to another schema', 'CREATE SCHEMA other; ALTER TABLE app2.t5 SET SCHEMA other', 'all');
like($node->safe_psql('postgres', $open_sql), qr/unindexed_foreign_key:other\.t5\.t5_p_fkey/,
	'the moved table\'s fact names its new schema');
after_change('a trigger disabled after a full check', 'ALTER TABLE app2.t9 DISABLE TRIGGER t9_audit', 'scoped');

# a new worker process starts with a full check (its first cycle runs
# when it starts); a change made before it is in its facts
my $pid = worker_pid($node);
my $before = $node->safe_psql('postgres', 'SELECT checked_at FROM nadia_bgw.quality_checks_state');
$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
$node->safe_psql('postgres', 'ALTER TABLE app2.t11 DISABLE TRIGGER t11_audit');
wait_until($node, "SELECT checked_at > '$before' FROM nadia_bgw.quality_checks_state");
is(scope(), 'all', 'the new worker\'s first check read every relation');
is($node->safe_psql('postgres', $open_sql), $node->safe_psql('postgres', $full_sql),
	'after a worker restart: the open facts are a full check\'s');
after_change('a change after the restart', 'ALTER TABLE app2.t11 ENABLE TRIGGER t11_audit', 'scoped');

# under a transaction snapshot the check's snapshot predates the
# invalidations it is given: every check is full
$node->safe_psql('postgres', "ALTER SYSTEM SET default_transaction_isolation = 'repeatable read'");
$node->reload;
wake($node);	# the worker reads a reload between cycles: one cycle of margin
after_change('REPEATABLE READ by default', 'ALTER TABLE app2.t13 DISABLE TRIGGER t13_audit', 'all');
after_change('REPEATABLE READ, nothing changed', '', 'all');
$node->safe_psql('postgres', 'ALTER SYSTEM RESET default_transaction_isolation');
$node->reload;
wake($node);
after_change('READ COMMITTED again', 'ALTER TABLE app2.t13 ENABLE TRIGGER t13_audit', 'scoped');

$node->stop;
done_testing();
