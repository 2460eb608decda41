# 760_quality_invalid_index.pl -- the invalid_index alert through the
# worker (docs/quality.md, "Constraints and integrity"; docs/alerts.md): a
# real CREATE UNIQUE INDEX CONCURRENTLY over duplicate values fails and
# leaves an invalid index; the worker's quality_checks task records the
# fact and the regressions task of the same cycle opens the alert, with a
# NOTIFY naming the index.  Dropping the index resolves the fact at the
# next cycle and the alert after alert_resolve_cycles cycles; rebuilding
# a second one (REINDEX CONCURRENTLY once the duplicates are gone) does
# the same.  A NOT VALID constraint and an unindexed foreign key are
# recorded but open no alert, and an index still being built concurrently
# (invalid until its build ends) is neither.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NadiaTest;
use NadiaAlerts;

my $node = nadia_node('quality_invalid_index',
	conf => "nadia_bgw.interval = 3600\nnadia_bgw.alert_resolve_cycles = 2\n");
$node->safe_psql('postgres', q{
	CREATE TABLE accounts (id int PRIMARY KEY, email text);
	INSERT INTO accounts SELECT g, 'user' || (g % 50) FROM generate_series(1, 200) g;
	CREATE TABLE payments (id int PRIMARY KEY, account_id int REFERENCES accounts);
	ALTER TABLE payments ADD CONSTRAINT payments_positive CHECK (id > 0) NOT VALID;
});

ok(wake($node), 'a cycle with no invalid index');
is(status_of($node, 'quality_checks', 'outcome'), 'ok', 'quality_checks task ran');
is($node->safe_psql('postgres',
		"SELECT string_agg(kind, ',' ORDER BY kind) FROM nadia_bgw.quality_facts WHERE resolved_at IS NULL"),
	'not_valid_check,unindexed_foreign_key', 'the NOT VALID check and the unindexed key are recorded');
is(alert_count($node), 0, 'neither opens an alert');

# PostgreSQL 18: NOT NULL NOT VALID, and NOT ENFORCED (never validated by
# design, not reported)
SKIP:
{
	skip 'NOT NULL NOT VALID and NOT ENFORCED are new in PostgreSQL 18', 1
	  if $node->safe_psql('postgres', 'SHOW server_version_num') < 180000;
	$node->safe_psql('postgres', q{
		ALTER TABLE payments ADD COLUMN note text;
		ALTER TABLE payments ADD CONSTRAINT payments_note NOT NULL note NOT VALID;
		ALTER TABLE payments ADD CONSTRAINT payments_small CHECK (id < 10) NOT ENFORCED;
	});
	wake($node);
	is($node->safe_psql('postgres',
			"SELECT string_agg(kind || ':' || objname, ',' ORDER BY kind) FROM nadia_bgw.quality_facts"
			  . " WHERE resolved_at IS NULL AND kind LIKE 'not_valid%'"),
		'not_valid_check:payments_positive,not_valid_not_null:payments_note',
		'NOT NULL NOT VALID is recorded, NOT ENFORCED is not');
	$node->safe_psql('postgres', 'ALTER TABLE payments DROP COLUMN note; ALTER TABLE payments DROP CONSTRAINT payments_small');
}

# a build under way is not a fault: CREATE INDEX CONCURRENTLY's index is
# invalid until it ends; here it waits for a writer's transaction
my $writer = $node->background_psql('postgres');
$writer->query_safe('BEGIN; INSERT INTO accounts VALUES (1000, NULL)');
my $builder = $node->background_psql('postgres', on_error_stop => 0);
$builder->query_until(qr/building/, "\\echo building\nCREATE INDEX CONCURRENTLY accounts_id_email ON accounts (id, email);\n");
wait_until($node, "SELECT EXISTS (SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
	  . " WHERE c.relname = 'accounts_id_email' AND NOT i.indisvalid)"
	  . " AND EXISTS (SELECT 1 FROM pg_stat_progress_create_index)");
ok(wake($node), 'a cycle during the build');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM nadia_bgw.quality_facts WHERE kind = 'invalid_index'"),
	0, 'the index being built is not recorded');
is(alert_count($node), 0, 'nor alerted');
$writer->query_safe('COMMIT');
$writer->quit;
$builder->quit;
is($node->safe_psql('postgres',
		"SELECT indisvalid FROM pg_index WHERE indexrelid = 'accounts_id_email'::regclass"),
	't', 'the build ended valid');
$node->safe_psql('postgres', 'DELETE FROM accounts WHERE id = 1000; DROP INDEX accounts_id_email');

# the failed build: uniqueness over 50 distinct values in 200 rows
my ($ret, $out, $err) = $node->psql('postgres',
	'CREATE UNIQUE INDEX CONCURRENTLY accounts_email ON accounts (email)');
isnt($ret, 0, 'CREATE UNIQUE INDEX CONCURRENTLY fails on duplicates');
is($node->safe_psql('postgres',
		"SELECT indisvalid FROM pg_index WHERE indexrelid = 'accounts_email'::regclass"),
	'f', 'and leaves an invalid index');

my $listen = listener($node);
ok(wake($node), 'a cycle after the failure');
is(join(' ', open_alerts($node, 'invalid_index')), 'invalid_index|warning|index public.accounts_email',
	'the cycle opens invalid_index');
is($node->safe_psql('postgres',
		"SELECT details->>'fix' || ' / ' || relname FROM nadia_bgw.alerts WHERE kind = 'invalid_index'"),
	'REINDEX INDEX CONCURRENTLY public.accounts_email / public.accounts',
	'the alert names the table and the fix');
my @n = grep { $_->{json} && ($_->{json}{kind} // '') eq 'invalid_index' } notifications($listen);
is(scalar(@n), 1, 'one NOTIFY for it');

ok(wake($node), 'a cycle with the index still invalid');
is(alert_count($node, "kind = 'invalid_index'"), 1, 'still one alert, not a second');

# fixed: dropped
$node->safe_psql('postgres', 'DROP INDEX CONCURRENTLY accounts_email');
wake_until($node, "EXISTS (SELECT 1 FROM nadia_bgw.alerts WHERE kind = 'invalid_index' AND state = 'resolved')");
is($node->safe_psql('postgres',
		"SELECT count(*) FROM nadia_bgw.quality_facts WHERE kind = 'invalid_index' AND resolved_at IS NOT NULL"),
	1, 'the fact is resolved');
is(alert_count($node, "kind = 'invalid_index' AND state = 'resolved'"), 1, 'and the alert');

# fixed: rebuilt once the data allow it
$node->psql('postgres', 'CREATE UNIQUE INDEX CONCURRENTLY accounts_email2 ON accounts (email)');
ok(wake($node), 'a cycle after a second failure');
is(alert_count($node, "kind = 'invalid_index' AND state = 'open'"), 1, 'a new alert opens');
$node->safe_psql('postgres', q{UPDATE accounts SET email = 'user' || id});
$node->safe_psql('postgres', 'REINDEX INDEX CONCURRENTLY accounts_email2');
is($node->safe_psql('postgres',
		"SELECT indisvalid FROM pg_index WHERE indexrelid = 'accounts_email2'::regclass"),
	't', 'REINDEX CONCURRENTLY made it valid');
wake_until($node, "NOT EXISTS (SELECT 1 FROM nadia_bgw.alerts WHERE kind = 'invalid_index' AND state = 'open')");
is(alert_count($node, "kind = 'invalid_index' AND state = 'resolved'"), 2, 'the rebuilt index resolves it');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM nadia_bgw.quality_facts WHERE kind = 'invalid_index' AND resolved_at IS NULL"),
	0, 'no invalid index left open in the facts');
is(status_of($node, 'quality_checks', 'outcome'), 'ok', 'quality_checks still ok');

$node->stop;
done_testing();
