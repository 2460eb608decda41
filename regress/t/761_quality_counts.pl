# 761_quality_counts.pl -- the counted quality facts (docs/quality.md,
# "Counted facts"): the count worker, started by the maintenance task,
# counts the rows breaking NOT VALID constraints and the orphaned rows of
# foreign keys.  Exact on a small table (NULL does not break a CHECK), an
# estimate whose 95 % bound holds the true count on a table above the
# size threshold, orphans loaded with DISABLE TRIGGER ALL (counted again
# once the triggers are back), MATCH FULL and MATCH SIMPLE over NULLs, a
# table held in ACCESS EXCLUSIVE skipped without waiting and counted at
# the next start, a count over quality_count_timeout, a malicious owner's
# CHECK function that cannot use our rights, the constraint_violation and
# orphaned_rows alerts opening and resolving, and no value of the rows in
# any nadia_bgw table.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);
use NadiaTest;
use NadiaAlerts;
use NadiaMaint;

my $node = nadia_node('quality_counts', conf => <<'CONF');
nadia_bgw.interval = 3600
autovacuum = off
nadia_bgw.alert_resolve_cycles = 1
nadia_bgw.maintenance_enabled = off
nadia_bgw.maintenance_window = ''
nadia_bgw.quality_count_interval = 0
nadia_bgw.quality_count_max_per_cycle = 20
nadia_bgw.quality_count_timeout = 1500
# (the duty cycle of the version that set these timings)
nadia_bgw.quality_count_duty_cycle = 0.05
CONF

sub sql { return $node->safe_psql('postgres', $_[0]); }

# one cycle, and the end of the count worker it started if it did (the
# launcher and the worker log both); returns whether it started one
sub cycle
{
	my $offset = -s $node->logfile;
	wake($node) or die 'the cycle did not run';
	my $started = log_count($node, qr/started the quality count worker/, $offset);
	if ($started)
	{
		my $t0 = time;
		sleep 0.1 until log_count($node, qr/quality count worker done/, $offset)
		  || time - $t0 > 120;
		die 'the count worker did not end' if time - $t0 > 120;
	}
	return $started;
}

# a cycle that counts: the id of the last attempt before it
sub count_cycle
{
	my $before = sql("SELECT coalesce(max(id), 0) FROM nadia_bgw.quality_counts");
	ok(cycle(), 'a cycle that starts the count worker');
	return $before;
}

# the latest attempt of a constraint: COLUMNS of nadia_bgw.quality_counts
sub last_count
{
	my ($conname, $cols) = @_;
	return sql("SELECT $cols FROM nadia_bgw.quality_counts"
		  . " WHERE id = (SELECT max(c.id) FROM nadia_bgw.quality_counts c"
		  . "              JOIN nadia_bgw.quality_facts q USING (fact_id)"
		  . "             WHERE q.objname = '$conname')");
}

my $secret = 'SECRET-7f3a9c';
sql(qq{
	-- 1000 rows, 37 below zero (violating), 5 NULL (not violating)
	CREATE TABLE small (id int PRIMARY KEY, v int, note text);
	INSERT INTO small SELECT g, CASE WHEN g <= 37 THEN -g WHEN g <= 42 THEN NULL ELSE g END,
	       CASE WHEN g <= 37 THEN '$secret' ELSE 'ok' END
	  FROM generate_series(1, 1000) g;
	ALTER TABLE small ADD CONSTRAINT small_v_nonneg
	      CHECK (v >= 0 AND note <> 'TOPSECRET-EXPR') NOT VALID;

	-- nothing violates
	CREATE TABLE clean (id int PRIMARY KEY, v int);
	INSERT INTO clean SELECT g, g FROM generate_series(1, 100) g;
	ALTER TABLE clean ADD CONSTRAINT clean_v CHECK (v > 0) NOT VALID;

	-- orphans loaded with the triggers disabled
	CREATE TABLE parent (id int PRIMARY KEY);
	INSERT INTO parent SELECT generate_series(1, 100);
	CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent);
	CREATE INDEX ON child (parent_id);
	ALTER TABLE child DISABLE TRIGGER ALL;
	INSERT INTO child SELECT g, CASE WHEN g <= 12 THEN 1000 + g WHEN g <= 15 THEN NULL ELSE g % 100 + 1 END
	  FROM generate_series(1, 200) g;

	-- composite keys: 4 rows with no parent, 3 half NULL, 2 all NULL, 5 good
	CREATE TABLE parent2 (a int, b int, PRIMARY KEY (a, b));
	INSERT INTO parent2 SELECT g, g FROM generate_series(1, 10) g;
	CREATE TABLE full_child (a int, b int);
	CREATE TABLE simple_child (a int, b int);
	INSERT INTO full_child VALUES (101, 1), (102, 2), (103, 3), (104, 4),
	       (1, NULL), (2, NULL), (NULL, 3), (NULL, NULL), (NULL, NULL),
	       (1, 1), (2, 2), (3, 3), (4, 4), (5, 5);
	INSERT INTO simple_child SELECT * FROM full_child;
	ALTER TABLE full_child ADD CONSTRAINT full_fk FOREIGN KEY (a, b) REFERENCES parent2 MATCH FULL NOT VALID;
	ALTER TABLE simple_child ADD CONSTRAINT simple_fk FOREIGN KEY (a, b) REFERENCES parent2 NOT VALID;
});

# --- exact counts
count_cycle();
is(last_count('small_v_nonneg', "outcome || ':' || counted_rows || ':' || count_exact || ':' || count_error_bound || ':' || (sample_percent IS NULL)"),
	'done:37:true:0:true', 'CHECK: 37 violating rows, exact; NULL rows do not break it');
is(last_count('clean_v', "outcome || ':' || counted_rows"), 'done:0', 'a clean table counts 0');
is(last_count('child_parent_id_fkey', "kind || ':' || outcome || ':' || counted_rows"),
	'disabled_fk_trigger:done:12', 'orphans loaded with DISABLE TRIGGER ALL: 12 (NULL keys are not orphans)');
is(last_count('full_fk', "outcome || ':' || counted_rows"), 'done:7',
	'MATCH FULL: 4 without parent + 3 half NULL');
is(last_count('simple_fk', "outcome || ':' || counted_rows"), 'done:4',
	'MATCH SIMPLE: any NULL key column exempts the row');
ok(last_count('small_v_nonneg', 'pages_read') > 0, 'pages read are recorded');
is(sql("SELECT counted_rows || ':' || count_exact || ':' || count_error_bound FROM nadia_bgw.constraint_violations()"
	  . " WHERE objname = 'small_v_nonneg'"),
	'37:true:0', 'the reader shows the count');
is(sql("SELECT string_agg(kind || ':' || counted_rows, ',' ORDER BY kind) FROM nadia_bgw.referential_integrity()"
	  . " WHERE objname = 'child_parent_id_fkey'"),
	'disabled_fk_trigger:12', 'referential_integrity shows the orphans');

# --- PostgreSQL 18: NOT NULL NOT VALID
SKIP:
{
	skip 'NOT NULL NOT VALID is new in PostgreSQL 18', 2
	  if sql('SHOW server_version_num') < 180000;
	sql(q{
		CREATE TABLE nn (id int, note text);
		INSERT INTO nn SELECT g, CASE WHEN g <= 3 THEN NULL ELSE 'x' END FROM generate_series(1, 20) g;
		ALTER TABLE nn ADD CONSTRAINT nn_note NOT NULL note NOT VALID;
	});
	count_cycle();
	is(last_count('nn_note', "kind || ':' || outcome || ':' || counted_rows"),
		'not_valid_not_null:done:3', 'NOT NULL NOT VALID: 3 NULL rows');
	sql('DROP TABLE nn');
}

# --- alerts: open from the counts at the next cycle's detection
cycle();
my @expected = ('orphaned_rows|constraint full_fk on public.full_child',
	'constraint_violation|constraint small_v_nonneg on public.small',
	'orphaned_rows|constraint child_parent_id_fkey on public.child',
	'orphaned_rows|constraint simple_fk on public.simple_child');
is(join(',', sort map { (split /\|/)[0] . '|' . (split /\|/)[2] } open_alerts($node)),
	join(',', sort @expected),
	'alerts for the tables with violating or orphaned rows, none for the clean one')
  or diag(join("\n", open_alerts($node)));

# --- the triggers enabled again: the fact resolves and is counted once more
sql('ALTER TABLE child ENABLE TRIGGER ALL');
my $before = count_cycle();
is(sql("SELECT string_agg(outcome || ':' || counted_rows, ',') FROM nadia_bgw.quality_counts"
	  . " WHERE id > $before AND kind = 'disabled_fk_trigger'"),
	'done:12', 'the resolved disabled_fk_trigger fact is counted once after it resolved');
my $fk_counts = "SELECT count(*) FROM nadia_bgw.quality_counts WHERE kind = 'disabled_fk_trigger'";
my $n_fk = sql($fk_counts);
count_cycle();
is(sql($fk_counts), $n_fk, 'and not again');

# --- an estimate above the size threshold
sql(q{
	CREATE TABLE big (id int PRIMARY KEY, v int, pad text);
	INSERT INTO big SELECT g, CASE WHEN g % 7 = 0 THEN -1 ELSE 1 END, repeat('x', 60)
	  FROM generate_series(1, 60000) g;
	ALTER TABLE big ADD CONSTRAINT big_v CHECK (v > 0) NOT VALID;
});
my $true = sql('SELECT count(*) FROM big WHERE v <= 0');
set_conf($node, 'nadia_bgw.quality_count_exact_max_size' => '10',
	'nadia_bgw.quality_count_sample_percent' => '10');
my ($inside, $inside2, $runs) = (0, 0, 10);
for my $i (1 .. $runs)
{
	count_cycle();
	my ($outcome, $est, $exact, $bound, $pct) =
	  split /\|/, last_count('big_v', "outcome, counted_rows, count_exact, count_error_bound, sample_percent");
	is("$outcome $exact $pct", 'done f 10', "estimate $i: done, not exact, 10 %") if $i == 1;
	ok($bound > 0 && $bound < $true / 2, "estimate $i: a bound ($bound) that says something (true $true)")
	  if $i == 1;
	if ($i == 1)
	{
		my $pages = last_count('big_v', 'pages_read');
		my $blocks = sql("SELECT pg_relation_size('big') / 8192");
		ok($pages > $blocks * 0.02 && $pages < $blocks * 0.3,
			"estimate: pages_read $pages, the sampled blocks of $blocks (10 %)");
	}
	$inside++ if abs($est - $true) <= $bound;
	$inside2++ if abs($est - $true) <= 2 * $bound;
	note("estimate $i: $est +- $bound (true $true)");
}
# a 95 % bound misses 1 time in 20: 4 misses of 10 happen 1 time in 1000
ok($inside >= 7, "the 95 % bound holds the true count in $inside of $runs estimates");
is($inside2, $runs, 'twice the bound always holds it');
reset_conf($node, 'nadia_bgw.quality_count_exact_max_size', 'nadia_bgw.quality_count_sample_percent');
sql('DROP TABLE big');

# --- a locked table: skipped without waiting, counted at the next start
# even though the interval has not passed
set_conf($node, 'nadia_bgw.quality_count_interval' => '3600');
cycle();	# the sample sees the tables' last changes before the lock
my $locker = $node->background_psql('postgres');
$locker->query_safe('BEGIN; LOCK TABLE small IN ACCESS EXCLUSIVE MODE');
sql("UPDATE nadia_bgw.quality_counts SET started_at = started_at - interval '2 hours',"
	  . " ended_at = ended_at - interval '2 hours'");
my $t0 = time;
count_cycle();
my $waited = time - $t0;
is(last_count('small_v_nonneg', 'outcome'), 'skipped-locked', 'the locked table is skipped');
like(last_count('small_v_nonneg', 'error'), qr/^55P03/, 'with its reason');
is(last_count('clean_v', 'outcome'), 'done', 'the other tables are counted in the same run');
ok($waited < 30, "the count worker did not wait for the lock (cycle and counts took ${waited}s)");
$locker->query_safe('COMMIT');
$locker->quit;
count_cycle();
is(last_count('small_v_nonneg', "outcome || ':' || counted_rows"), 'done:37',
	'counted at the next start, before the interval');
is(sql("SELECT count(*) FROM nadia_bgw.quality_counts c JOIN nadia_bgw.quality_facts q USING (fact_id)"
	  . " WHERE q.objname = 'clean_v' AND c.started_at > now() - interval '1 hour'"),
	1, 'a fact counted within the interval is not counted again');
set_conf($node, 'nadia_bgw.quality_count_interval' => '0');

# --- timeout: a CHECK function that takes 0.2 s per row over 20 rows
sql(q{
	CREATE FUNCTION slow_ok(int) RETURNS boolean LANGUAGE sql
	  AS 'SELECT pg_sleep(0.2) IS NOT NULL AND $1 > 0';
	CREATE TABLE slow (id int);
	INSERT INTO slow SELECT generate_series(1, 20);
	ALTER TABLE slow ADD CONSTRAINT slow_check CHECK (slow_ok(id)) NOT VALID;
});
count_cycle();
is(last_count('slow_check', 'outcome'), 'timeout', 'a count over quality_count_timeout ends as timeout');
sql('DROP TABLE slow; DROP FUNCTION slow_ok(int)');

# --- a malicious owner: its CHECK functions run with its rights, not ours
sql(q{
	CREATE ROLE mallory LOGIN;
	CREATE SCHEMA mal AUTHORIZATION mallory;
});
$node->safe_psql('postgres', q{
	SET ROLE mallory;
	-- becoming superuser, reading a server file, writing into our history:
	-- any of these would succeed with the worker's rights
	CREATE FUNCTION mal.grab(int) RETURNS boolean LANGUAGE plpgsql AS $$
	BEGIN
		ALTER ROLE mallory SUPERUSER;
		RETURN true;
	END $$;
	CREATE FUNCTION mal.peek(int) RETURNS boolean LANGUAGE plpgsql AS $$
	BEGIN
		PERFORM pg_catalog.pg_read_file('postgresql.conf');
		RETURN true;
	END $$;
	CREATE FUNCTION mal.scribble(int) RETURNS boolean LANGUAGE plpgsql AS $$
	BEGIN
		DELETE FROM nadia_bgw.quality_counts;
		RETURN true;
	END $$;
	CREATE FUNCTION mal.whoami(int) RETURNS boolean LANGUAGE plpgsql AS $$
	BEGIN
		RETURN current_user = 'mallory' AND session_user <> 'mallory' AND $1 > 0;
	END $$;
	CREATE TABLE mal.t1 (v int);
	INSERT INTO mal.t1 VALUES (1), (2);
	CREATE TABLE mal.t2 (v int);
	INSERT INTO mal.t2 VALUES (1), (2);
	CREATE TABLE mal.t3 (v int);
	INSERT INTO mal.t3 VALUES (1), (2);
	CREATE TABLE mal.t4 (v int);
	INSERT INTO mal.t4 VALUES (1), (-2), (-3);
	ALTER TABLE mal.t1 ADD CONSTRAINT grab CHECK (mal.grab(v)) NOT VALID;
	ALTER TABLE mal.t2 ADD CONSTRAINT peek CHECK (mal.peek(v)) NOT VALID;
	ALTER TABLE mal.t3 ADD CONSTRAINT scribble CHECK (mal.scribble(v)) NOT VALID;
	ALTER TABLE mal.t4 ADD CONSTRAINT whoami CHECK (mal.whoami(v)) NOT VALID;
});
my $history_rows = sql('SELECT count(*) FROM nadia_bgw.quality_counts');
count_cycle();
is(sql("SELECT rolsuper FROM pg_roles WHERE rolname = 'mallory'"), 'f', 'mallory did not become superuser');
is(last_count('grab', 'outcome'), 'failed', 'the ALTER ROLE count failed');
is(last_count('peek', "outcome || ':' || left(error, 5)"), 'failed:42501',
	'reading a server file: permission denied, so it ran as the owner, not as us');
is(last_count('scribble', 'outcome'), 'failed', 'writing into our history failed');
cmp_ok(sql('SELECT count(*) FROM nadia_bgw.quality_counts'), '>', $history_rows, 'and nothing of it was deleted');
is(last_count('whoami', "outcome || ':' || counted_rows"), 'done:2',
	'the functions run as the owner (current_user mallory) in the same run; the worker carries on');
sql('DROP SCHEMA mal CASCADE');

# --- resolving: the violating rows deleted and the constraint validated
sql(q{
	DELETE FROM small WHERE v < 0;
	ALTER TABLE small VALIDATE CONSTRAINT small_v_nonneg;
	DELETE FROM child WHERE parent_id > 1000;
	ALTER TABLE full_child DROP CONSTRAINT full_fk;
});
cycle();
cycle();
is(join(',', sort map { (split /\|/)[2] } open_alerts($node)),
	'constraint simple_fk on public.simple_child',
	'the alerts resolve when the constraint is validated or dropped');
is(sql("SELECT string_agg(object, ',' ORDER BY object) FROM nadia_bgw.alerts"
	  . " WHERE kind IN ('constraint_violation', 'orphaned_rows') AND state <> 'open'"),
	'constraint big_v on public.big,constraint child_parent_id_fkey on public.child,'
	  . 'constraint full_fk on public.full_child,constraint small_v_nonneg on public.small',
	'resolved: the dropped table\'s, the enabled triggers\', the validated and the dropped constraint\'s');
# a count back to 0 resolves too
sql('DELETE FROM simple_child WHERE a > 100');
count_cycle();
is(last_count('simple_fk', 'counted_rows'), 0, 'recount: 0 orphans');
cycle();
is(scalar(open_alerts($node)), 0, 'the last alert resolves on a count of 0');

# --- throttled: an exact count in chunks (TID ranges) with sleeps between
# them, all in one snapshot.  At a duty cycle of 0.001 each chunk of a
# millisecond or so is followed by a second's sleep: while the count sleeps
# between two chunks, rows are added, violating rows deleted and others
# (in the table's last blocks) corrected; the count is that of its
# snapshot.
sql(q{
	CREATE TABLE chunky (id int, v int, pad text);
	INSERT INTO chunky SELECT g, CASE WHEN g % 13 = 0 THEN -1 ELSE 1 END, repeat('y', 100)
	  FROM generate_series(1, 60000) g;
	ALTER TABLE chunky ADD CONSTRAINT chunky_v CHECK (v > 0) NOT VALID;
});
my $chunky_true = sql('SELECT count(*) FROM chunky WHERE v <= 0');
my $chunky_blocks = sql("SELECT pg_relation_size('chunky') / 8192");
my $chunky_oid = sql("SELECT oid FROM pg_constraint WHERE conname = 'chunky_v'");
cmp_ok($chunky_blocks, '>', 2 * 64, "chunky: $chunky_blocks blocks, more than two first chunks");
set_conf($node, 'nadia_bgw.quality_count_duty_cycle' => '0.001',
	'nadia_bgw.quality_count_timeout' => '120000', 'log_min_messages' => 'debug1');
my $offset = -s $node->logfile;
wake($node) or die 'the cycle did not run';
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'nadia_bgw quality count'"
		  . " AND query = 'counting the rows of constraint $chunky_oid' AND wait_event_type = 'Extension'"),
	'the count of chunky sleeps between its chunks (a wait event)');
sql(q{
	INSERT INTO chunky SELECT g, 1, repeat('z', 100) FROM generate_series(60001, 70000) g;
	DELETE FROM chunky WHERE id % 26 = 0;
	UPDATE chunky SET v = 1 WHERE id > 50000 AND v < 0;
});
my $t1 = time;
sleep 0.1 until log_count($node, qr/quality count worker done/, $offset) || time - $t1 > 120;
is(last_count('chunky_v', "outcome || ':' || counted_rows || ':' || count_exact"), "done:$chunky_true:true",
	"the chunked exact count is that of its snapshot ($chunky_true), not of the rows changed during it");
is(last_count('chunky_v', 'pages_read'), $chunky_blocks, 'pages_read: each block of the table once');
my ($chunks) = log_since($node, $offset) =~ /quality count of constraint $chunky_oid: exact, (\d+) chunks/;
cmp_ok($chunks // 0, '>=', 2, 'counted in several chunks (' . ($chunks // 'none') . ')');
reset_conf($node, 'nadia_bgw.quality_count_duty_cycle', 'nadia_bgw.quality_count_timeout', 'log_min_messages');
isnt(sql("SELECT count(*) FROM chunky WHERE v <= 0"), $chunky_true, 'the table did change meanwhile');
sql('DROP TABLE chunky');

# --- no value of the rows, no expression text, anywhere in nadia_bgw
is(sql(q{
	DO $$
	DECLARE r record; n bigint; total bigint := 0;
	BEGIN
		FOR r IN SELECT c.oid::regclass AS t FROM pg_class c
		          WHERE c.relnamespace = 'nadia_bgw'::regnamespace AND c.relkind IN ('r', 'p')
		LOOP
			EXECUTE format('SELECT count(*) FROM %s x WHERE x::text ~ %L', r.t,
			               'SECRET-7f3a9c|TOPSECRET-EXPR') INTO n;
			total := total + n;
		END LOOP;
		RAISE NOTICE 'found %', total;
		PERFORM set_config('nadia.found', total::text, false);
	END $$;
	SELECT current_setting('nadia.found');
}), '0', 'neither the rows\' secret nor the constraint\'s literal is stored');

done_testing();
