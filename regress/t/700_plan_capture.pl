# 700_plan_capture.pl -- the plan capture of the preloaded library
# (docs/plans.md, "Capture"): one plan id per plan tree, stable across
# executions and sessions, another one for another plan of the same
# statement; computed once for a prepared statement; exact counters;
# the per-transaction switch; sampled executions; a secret literal never
# stored; the store full (entries, texts) without an error; superusers
# only.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NadiaTest;

my $node = nadia_node('plan_capture',
	conf => "nadia_bgw.interval = 3600\nnadia_bgw.plan_sample_rate = 0\n"
	  . "nadia_bgw.plan_sample_min_duration = -1\n");
$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_stat_statements;
	CREATE TABLE t (id int PRIMARY KEY, secret text, v int);
	INSERT INTO t SELECT i, 'row' || i, i % 100 FROM generate_series(1, 10000) i;
	ANALYZE t;
});

# the queryid pg_stat_statements gives a normalized text (a LIKE pattern)
sub queryid_of
{
	my ($text) = @_;
	return $node->safe_psql('postgres',
		"SELECT queryid FROM pg_stat_statements WHERE query LIKE '$text'");
}

# rows of the store for one statement: planid|calls|rows, by planid
sub plans_of
{
	my ($qid) = @_;
	return $node->safe_psql('postgres',
		"SELECT planid, calls, rows FROM nadia_bgw._plan_store(false) "
		  . "WHERE queryid = $qid ORDER BY calls");
}

# --- plan ids: stable, and one per plan ---------------------------------
for my $i (1 .. 3)
{
	$node->safe_psql('postgres', "SELECT count(*) FROM t WHERE id < 50");
}
my $q1 = queryid_of('SELECT count(*) FROM t WHERE id < $1');
isnt($q1, '', 'the statement has a queryid');
my @p = split /\n/, plans_of($q1);
is(scalar @p, 1, 'three executions in three sessions: one plan id');
like($p[0], qr/^-?\d+\|3\|3$/, 'counted three times, one row each');

$node->safe_psql('postgres', q{
	SET enable_indexscan = off; SET enable_bitmapscan = off;
	SELECT count(*) FROM t WHERE id < 50;
	SELECT count(*) FROM t WHERE id < 60;
});
@p = split /\n/, plans_of($q1);
is(scalar @p, 2, 'a sequential scan of the same statement: a second plan id');
like($p[0], qr/\|2\|2$/, 'the second plan counted twice');

# --- once per plan: a prepared statement is hashed once ------------------
my $delta = $node->safe_psql('postgres', q{
	SET nadia_bgw.plan_capture = off;
	SELECT plan_ids_computed AS before FROM nadia_bgw._plan_store_info() \gset
	SET nadia_bgw.plan_capture = on;
	PREPARE p AS SELECT v FROM t WHERE id = 7;
	EXECUTE p; EXECUTE p; EXECUTE p; EXECUTE p; EXECUTE p;
	EXECUTE p; EXECUTE p; EXECUTE p; EXECUTE p; EXECUTE p;
	SET nadia_bgw.plan_capture = off;
	SELECT plan_ids_computed - :before FROM nadia_bgw._plan_store_info();
});
$delta = (split /\n/, $delta)[-1];
is($delta, 1, 'ten executions of a prepared statement: one plan id computed');
my $qp = queryid_of('PREPARE p AS SELECT v FROM t WHERE id = %');
like(plans_of($qp), qr/^-?\d+\|10\|10$/, 'and ten calls, ten rows counted');

$delta = $node->safe_psql('postgres', q{
	SET nadia_bgw.plan_capture = off;
	SELECT plan_ids_computed AS before FROM nadia_bgw._plan_store_info() \gset
	SET nadia_bgw.plan_capture = on;
	SELECT v FROM t WHERE id = 8; SELECT v FROM t WHERE id = 8;
	SELECT v FROM t WHERE id = 8;
	SET nadia_bgw.plan_capture = off;
	SELECT plan_ids_computed - :before FROM nadia_bgw._plan_store_info();
});
$delta = (split /\n/, $delta)[-1];
is($delta, 3, 'three plannings of a simple query: three plan trees hashed');

# --- the extended protocol: portals of a prepared statement with a parameter
my $before = $node->safe_psql('postgres', 'SELECT plan_ids_computed FROM nadia_bgw._plan_store_info()');
$node->pgbench('-n -M prepared -c 1 -t 50', 0, [qr/processed: 50\/50/], [qr/^$/],
	'pgbench, extended protocol, 50 executions',
	{ '700_select' => "\\set id random(1, 10000)\nSELECT v, id FROM t WHERE id = :id;\n" });
my $qb = queryid_of('SELECT v, id FROM t WHERE id = $1');
like(plans_of($qb), qr/^-?\d+\|50\|50$/,
	'custom and generic plans of one shape: one plan id, 50 calls, 50 rows');
cmp_ok($node->safe_psql('postgres', "SELECT plan_ids_computed - $before FROM nadia_bgw._plan_store_info()"),
	'<', 15, 'the cached generic plan is not hashed at each execution');

# --- exact counters ------------------------------------------------------
$node->safe_psql('postgres', "SELECT * FROM t WHERE id <= 5") for 1 .. 4;
my $q2 = queryid_of('SELECT * FROM t WHERE id <= $1');
like(plans_of($q2), qr/^-?\d+\|4\|20$/, 'four calls of five rows: calls 4, rows 20');
is($node->safe_psql('postgres', "SELECT first_seen <= last_seen AND total_exec_time >= max_exec_time "
		  . "AND max_exec_time >= min_exec_time AND min_exec_time >= 0 "
		  . "AND shared_blks_hit + shared_blks_read > 0 AND sampled_calls = 0 AND sampled_at IS NULL "
		  . "FROM nadia_bgw._plan_store() WHERE queryid = $q2"),
	't', 'times, blocks and first/last seen are consistent; not sampled');

# --- the switch for one transaction --------------------------------------
$node->safe_psql('postgres', q{
	BEGIN;
	SET LOCAL nadia_bgw.plan_capture = off;
	SELECT sum(v) FROM t WHERE id > 9990;
	COMMIT;
});
my $q3 = queryid_of('SELECT sum(v) FROM t WHERE id > $1');
isnt($q3, '', 'pg_stat_statements counted the statement');
is(plans_of($q3), '', 'with plan_capture off for the transaction: not captured');
$node->safe_psql('postgres', "SELECT sum(v) FROM t WHERE id > 9990");
like(plans_of($q3), qr/\|1\|1$/, 'after the transaction it is captured again');

# --- nested statements are not captured ----------------------------------
$node->safe_psql('postgres', q{
	DO $$ BEGIN PERFORM min(v) FROM t WHERE id BETWEEN 3 AND 4; END $$;
});
is($node->safe_psql('postgres',
		"SELECT count(*) FROM nadia_bgw._plan_store() WHERE plan_text LIKE '%BETWEEN%' "
		  . "OR plan_text LIKE '%id >= %'"),
	'0', 'a statement run by a DO block is not captured');

# --- sampling and masking, end to end ------------------------------------
$node->safe_psql('postgres', q{
	SET nadia_bgw.plan_sample_rate = 1.0;
	SELECT id FROM t WHERE secret = 'hunter2-tops3cret' OR v = 424242;
	SELECT id FROM t WHERE secret = 'hunter2-tops3cret' OR v = 424242;
});
my $q4 = queryid_of('SELECT id FROM t WHERE secret = $1 OR v = $2');
is($node->safe_psql('postgres',
		"SELECT calls, sampled_calls, sampled_at IS NOT NULL, plan_text IS NOT NULL, "
		  . "plan_nodes IS NOT NULL, sampled_nodes IS NOT NULL "
		  . "FROM nadia_bgw._plan_store() WHERE queryid = $q4"),
	'2|2|t|t|t|t', 'sample rate 1: both executions sampled, texts and sampled nodes stored');
like($node->safe_psql('postgres',
		"SELECT plan_text FROM nadia_bgw._plan_store() WHERE queryid = $q4"),
	qr/Seq Scan on t/, 'the plan text is the EXPLAIN of the plan');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM nadia_bgw._plan_store()
	WHERE concat(plan_text, summary, plan_nodes::text, sampled_nodes::text)
	      ~ '(hunter2|tops3cret|424242)'}),
	'0', 'the secret literals appear nowhere in the store');
like($node->safe_psql('postgres',
		"SELECT sampled_nodes::text FROM nadia_bgw._plan_store() WHERE queryid = $q4"),
	qr/"actual_rows":\s*0/, 'the sampled nodes hold the actual rows');

# --- one description per plan_sample_refresh: counted, not re-described --
# (a refresh far longer than the test, so that no stall of the machine can
# make the description due; plan_sample_refresh 0 describes every sample)
my $at1 = $node->safe_psql('postgres',
	"SELECT sampled_at FROM nadia_bgw._plan_store() WHERE queryid = $q4");
# resample REFRESH: one more sampled execution of q4 with that refresh
sub resample
{
	my ($refresh) = @_;
	$node->safe_psql('postgres', qq{
		SET nadia_bgw.plan_sample_rate = 1.0;
		SET nadia_bgw.plan_sample_refresh = $refresh;
		SELECT id FROM t WHERE secret = 'hunter2-tops3cret' OR v = 424242;
	});
	return $node->safe_psql('postgres',
		"SELECT calls, sampled_calls, sampled_at = '$at1' "
		  . "FROM nadia_bgw._plan_store() WHERE queryid = $q4");
}
is(resample(3600), '3|3|t',
	'a sample within plan_sample_refresh is counted, its nodes are not described again');
is(resample(0), '4|4|f', 'plan_sample_refresh 0: every sample is described');

# --- the slow-plan rule: every execution after the mean reached it -------
$node->safe_psql('postgres', q{
	SET nadia_bgw.plan_sample_min_duration = 0;
	SELECT max(v) FROM t WHERE id < 30; SELECT max(v) FROM t WHERE id < 30;
	SELECT max(v) FROM t WHERE id < 30;
});
my $q5 = queryid_of('SELECT max(v) FROM t WHERE id < $1');
is($node->safe_psql('postgres',
		"SELECT calls, sampled_calls FROM nadia_bgw._plan_store(false) WHERE queryid = $q5"),
	'3|2', 'plan_sample_min_duration 0: sampled from the second execution on');

# --- describing a plan fails: the statement does not -------------------
my $logpos = -s $node->logfile;
my ($ret, $out, $err) = $node->psql('postgres', q{
	SET nadia_bgw.debug_fail_task = 'plan description';
	SELECT count(*) FROM t WHERE v = 3 AND id > 100;
});
is($ret, 0, 'a statement whose plan cannot be described succeeds');
is($out, '99', 'with its result');
is($err, '', 'and no message to the client');
$node->safe_psql('postgres', 'SELECT count(*) FROM t WHERE v = 3 AND id > 100');
my $q6 = queryid_of('SELECT count(*) FROM t WHERE v = $1 AND id > $2');
is($node->safe_psql('postgres',
		"SELECT calls, plan_text IS NULL FROM nadia_bgw._plan_store() WHERE queryid = $q6"),
	'2|t', 'counted; the plan is not described again');
is(log_count($node, qr/LOG:  nadia_bgw: could not describe plan -?\d+ of query $q6 \(SQLSTATE 09000\)/, $logpos), 1,
	'the failure is logged once, with its SQLSTATE only');

# --- superusers only -----------------------------------------------------
$node->safe_psql('postgres', 'CREATE ROLE app LOGIN; GRANT USAGE ON SCHEMA nadia_bgw TO app');
($ret, $out, $err) = $node->psql('postgres',
	'SELECT count(*) FROM nadia_bgw._plan_store()', extra_params => [ '-U', 'app' ]);
like($err, qr/permission denied for function _plan_store/, 'a non-superuser cannot read the store');
($ret, $out, $err) = $node->psql('postgres',
	'SELECT * FROM nadia_bgw._plan_store_info()', extra_params => [ '-U', 'app' ]);
like($err, qr/permission denied for function _plan_store_info/, 'nor its counters');
# ... but its own statements are captured
$node->safe_psql('postgres', 'GRANT SELECT ON t TO app');
$node->safe_psql('postgres', 'SELECT v FROM t WHERE id = 42', extra_params => [ '-U', 'app' ]);
is($node->safe_psql('postgres',
		"SELECT count(*) FROM nadia_bgw._plan_store() s JOIN pg_roles r ON r.oid = s.userid "
		  . "WHERE r.rolname = 'app'"),
	'1', "the application role's statement is captured under its user id");

# --- the store full ------------------------------------------------------
$node->append_conf('postgresql.conf',
	"nadia_bgw.plan_max = 100\nnadia_bgw.plan_text_max = 0\n");
$node->restart;
is($node->safe_psql('postgres', 'SELECT max_entries, max_text_bytes FROM nadia_bgw._plan_store_info()'),
	'100|0', 'the caps of the store are the settings');
# 150 statements of distinct queryids (one more column each)
my $sql = join '', map { 'SELECT ' . join(',', ('id') x $_) . " FROM t WHERE id = 1;\n" } 1 .. 150;
($ret, $out, $err) = $node->psql('postgres', $sql);
is($ret, 0, '150 distinct statements with room for 100 plans: no error');
is($err, '', 'and no message');
is($node->safe_psql('postgres',
		'SELECT entries <= max_entries, not_tracked >= 50, texts_dropped = entries '
		  . 'FROM nadia_bgw._plan_store_info()'),
	't|t|t', 'the plans beyond the cap are counted in not_tracked, every text dropped');
$node->safe_psql('postgres', 'SELECT id FROM t WHERE id = 1') for 1 .. 2;
is($node->safe_psql('postgres',
		"SELECT calls, plan_text IS NULL, plan_nodes IS NULL FROM nadia_bgw._plan_store() "
		  . "WHERE queryid = (SELECT queryid FROM pg_stat_statements WHERE query = 'SELECT id FROM t WHERE id = \$1')"),
	'3|t|t', 'counters are kept without text (the first of the 150 was the same statement)');

$node->stop;
done_testing();
