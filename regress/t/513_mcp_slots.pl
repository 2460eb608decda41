# 513_mcp_slots.pl -- the concurrency slots of nadia-mcp can be taken only
# by nadia_bgw_reader.  In 1.0 they were advisory locks (class 1312899145,
# keys 1..N) that any role could hold forever, so that every tool answered
# "rate limited".  Now they are the views nadia_bgw.mcp_slot_N, locked in
# SHARE UPDATE EXCLUSIVE mode for the tool's transaction: other roles get
# "permission denied", weaker locks they can get do not conflict, and a
# database still at 1.0 falls back to advisory locks with a warning.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NadiaTest;
use NadiaMcp;

my $node = nadia_node('mcp_slots');
my $role = mcp_make_role($node);
my $conn = mcp_conninfo($node, $role);
$node->safe_psql('postgres', q{
	CREATE ROLE intruder LOGIN;
	CREATE DATABASE old10;
});

# --- an intruder with no grant at all ----------------------------------------
# the 1.0 attack: hold every key of the 1.0 slots for the whole session
my $intruder = $node->background_psql('postgres', extra_params => [ '-U', 'intruder' ]);
$intruder->query_safe('SELECT pg_advisory_lock(1312899145, k) FROM generate_series(1, 16) AS k');
my $s = mcp_start($conn, '--max-concurrent=3');
$s->initialize;
for my $tool (qw(table_stats alerts))
{
	my $r = $s->call($tool);
	ok(!$r->{result}{isError}, "$tool answers while the intruder holds every 1.0 key")
	  or diag(explain($r));
}
$s->finish;

# the slot views: LOCK is refused before anything is locked or queued
my ($ret, $out, $err) = $node->psql('postgres',
	'BEGIN; LOCK TABLE nadia_bgw.mcp_slot_1 IN SHARE UPDATE EXCLUSIVE MODE NOWAIT; COMMIT',
	extra_params => [ '-U', 'intruder' ]);
like($err, qr/permission denied for schema nadia_bgw/, 'intruder: LOCK on a slot view denied');
($ret, $out, $err) = $node->psql('postgres', 'SELECT nadia_bgw.mcp_take_slot(3)',
	extra_params => [ '-U', 'intruder' ]);
like($err, qr/permission denied/, 'intruder: mcp_take_slot() denied');
# with USAGE on the schema: still denied on the view itself
$node->safe_psql('postgres', 'GRANT USAGE ON SCHEMA nadia_bgw TO intruder');
($ret, $out, $err) = $node->psql('postgres',
	'BEGIN; LOCK TABLE nadia_bgw.mcp_slot_1 IN SHARE UPDATE EXCLUSIVE MODE NOWAIT; COMMIT',
	extra_params => [ '-U', 'intruder' ]);
like($err, qr/permission denied for view mcp_slot_1/, 'intruder with schema USAGE: LOCK still denied');
# the weakest lock anyone can get on a relation it may not read, held open
$intruder->query_safe('BEGIN');
$intruder->query_safe("PREPARE p1 AS SELECT * FROM nadia_bgw.mcp_slot_1, nadia_bgw.mcp_slot_2, nadia_bgw.mcp_slot_3");
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
	 WHERE a.usename = 'intruder' AND l.relation::regclass::text LIKE 'nadia_bgw.mcp_slot_%'}),
	'3', 'intruder holds ACCESS SHARE on three slot views');
$s = mcp_start($conn, '--max-concurrent=3');
$s->initialize;
for my $tool (qw(table_stats alerts replication_lag))
{
	my $r = $s->call($tool);
	ok(!$r->{result}{isError}, "$tool answers while the intruder holds every 1.0 key and ACCESS SHARE on the views")
	  or diag(explain($r));
}
$s->finish;
$intruder->query_safe('ROLLBACK');
$intruder->quit;

# --- the reader's slots are shared by every server process --------------------
my $other = 'nadia_mcp_2';
mcp_make_role($node, 'postgres', $other);
my $holder = $node->background_psql('postgres', extra_params => [ '-U', $other ]);
my $holder2 = $node->background_psql('postgres', extra_params => [ '-U', $other ]);
$holder->query_safe('BEGIN READ ONLY');
is($holder->query_safe('SELECT nadia_bgw.mcp_take_slot(2)'), '1', 'another reader takes slot 1');
$holder2->query_safe('BEGIN READ ONLY');
is($holder2->query_safe('SELECT nadia_bgw.mcp_take_slot(2)'), '2', '... a second session takes slot 2');
is($node->safe_psql('postgres', 'SELECT nadia_bgw.mcp_take_slot(2) IS NULL', extra_params => [ '-U', $other ]),
	't', '... then no slot is free');
$s = mcp_start($conn, '--max-concurrent=2');
$s->initialize;
my $r = $s->call('table_stats');
ok($r->{result}{isError}, 'all concurrency slots taken: isError');
like($r->{result}{content}[0]{text}, qr/2 tool calls are already running .*retry after 1 s/, '... says so');
is($r->{result}{_meta}{retryAfterSeconds}, 1, '... retryAfterSeconds 1');
$holder->query_safe('ROLLBACK');
$holder2->query_safe('ROLLBACK');
$holder2->quit;
$r = $s->call('table_stats');
ok(!$r->{result}{isError}, 'slots freed at the end of the holders\' transactions: served');
$s->finish;

# a client that dies holding a slot: its backend's transaction ends with it
$holder->query_safe('BEGIN READ ONLY');
$holder->query_safe('SELECT nadia_bgw.mcp_take_slot(1)');
my $pid = $holder->query_safe('SELECT pg_backend_pid()');
$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
$holder->quit;
$s = mcp_start($conn, '--max-concurrent=1');
$s->initialize;
$node->poll_query_until('postgres', "SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $pid");
$r = $s->call('table_stats');
ok(!$r->{result}{isError}, 'a slot held by a backend that died is free');
$s->finish;

# --max-concurrent is bounded by the number of slot views
my ($o, $e);
IPC::Run::run([ mcp_bin(), '--max-concurrent=17', $conn ], '<', \undef, '>', \$o, '2>', \$e);
is($? >> 8, 1, '--max-concurrent=17: usage error');

# --- a database still at 1.0: advisory locks, with a warning --------------------
$node->safe_psql('old10', q{CREATE EXTENSION nadia_bgw VERSION '1.0'});
my $conn10 = mcp_conninfo($node, $role, 'old10');
$s = mcp_start($conn10, '--max-concurrent=2');
$s->initialize;
$r = $s->call('table_stats');
ok(!$r->{result}{isError}, '1.0 database: served') or diag(explain($r));
# the data-quality tools read functions 1.0 does not have
for my $tool (qw(constraint_violations referential_integrity data_distribution data_anomalies
	capacity_forecast))
{
	$r = $s->call($tool);
	ok($r->{result}{isError}, "1.0 database: $tool isError");
	like($r->{result}{content}[0]{text}, qr/$tool is not available in database "old10".*1\.1/,
		'... not available, it says with what');
}
my $blocker = $node->background_psql('old10');
$blocker->query_safe('SELECT pg_advisory_lock(1312899145, 1), pg_advisory_lock(1312899145, 2)');
$r = $s->call('table_stats');
like($r->{result}{content}[0]{text}, qr/2 tool calls are already running/,
	'1.0 database: the slots are the advisory locks of 1.0');
$blocker->quit;
$s->finish;
like($s->stderr, qr/warning: database "old10" has nadia_bgw 1\.0 .*falls back to advisory locks.*ALTER EXTENSION nadia_bgw UPDATE/,
	'... and stderr says so, with the fix');
$node->safe_psql('old10', 'ALTER EXTENSION nadia_bgw UPDATE');
$s = mcp_start($conn10, '--max-concurrent=2');
$s->initialize;
$blocker = $node->background_psql('old10');
$blocker->query_safe('SELECT pg_advisory_lock(1312899145, 1), pg_advisory_lock(1312899145, 2)');
$r = $s->call('table_stats');
ok(!$r->{result}{isError}, 'updated to 1.1: advisory locks no longer block');
$blocker->quit;
$s->finish;
unlike($s->stderr, qr/falls back/, '... and no warning');

$node->stop;
done_testing();
