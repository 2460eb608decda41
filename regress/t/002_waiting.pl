# 002_waiting.pl -- the worker waits, without a crash loop, for its database
# and then for the extension, and starts working once both exist.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NadiaTest;

my $node = nadia_node('waiting',
	conf => "nadia_bgw.database = 'nadia_app'\nnadia_bgw.interval = 1\n");
# the SQL functions are needed to read the status; the worker is elsewhere

# --- the database does not exist: one failed connection, then waiting
wait_until($node, "SELECT worker_state = 'waiting for database' FROM nadia_bgw.status LIMIT 1");
my $pid = worker_pid($node);
like($pid, qr/^\d+$/, 'worker runs while it waits for the database');
ok(wake($node), 'waiting worker still serves wake()') for 1 .. 3;
# several intervals: the pid must not change and nothing may restart
$node->safe_psql('postgres', 'SELECT pg_sleep(3)');
is(worker_pid($node), $pid, 'no crash loop while the database is missing');
is(log_count($node, qr/database "nadia_app" does not exist; waiting for it/),
	1, 'waiting for the database is logged once');
cmp_ok(log_count($node, qr/background worker "nadia_bgw worker" .* exited/),
	'<=', 1, 'at most the first connection attempt exited');

# --- the database appears: the worker reconnects, then waits for the extension
$node->safe_psql('postgres', 'CREATE DATABASE nadia_app');
wait_until($node, "SELECT worker_state = 'waiting for extension' FROM nadia_bgw.status LIMIT 1");
my $pid2 = worker_pid($node);
isnt($pid2, $pid, 'restarted to connect to the new database');
is( $node->safe_psql('postgres',
		"SELECT datname FROM pg_stat_activity WHERE pid = $pid2"),
	'nadia_app', 'connected to nadia_app');
ok(wake($node), 'wake while the extension is missing') for 1 .. 3;
$node->safe_psql('postgres', 'SELECT pg_sleep(2)');
is(worker_pid($node), $pid2, 'no crash loop while the extension is missing');
is(log_count($node, qr/extension "nadia_bgw" is not created in database "nadia_app"; waiting/),
	1, 'waiting for the extension is logged once');
is(status_of($node, 'heartbeat', 'runs'), 0, 'no task ran yet');

# --- the extension appears: tasks run there
$node->safe_psql('nadia_app', 'CREATE EXTENSION nadia_bgw');
wake($node, db => 'nadia_app');
wait_until($node, "SELECT worker_state = 'running' FROM nadia_bgw.status LIMIT 1", db => 'nadia_app');
wait_until($node, "SELECT beats > 0 FROM nadia_bgw.heartbeat", db => 'nadia_app');
pass('heartbeat written in nadia_app once the extension exists');
is(worker_pid($node), $pid2, 'same worker after the extension appeared');
is($node->safe_psql('postgres', 'SELECT beats FROM nadia_bgw.heartbeat'),
	'0', 'nothing written in the other database');

# --- dropped again: back to waiting, no error
$node->safe_psql('nadia_app', 'DROP EXTENSION nadia_bgw');
wait_until($node, "SELECT worker_state = 'waiting for extension' FROM nadia_bgw.status LIMIT 1");
is(worker_pid($node), $pid2, 'DROP EXTENSION does not kill the worker');
is(log_count($node, qr/nadia_bgw.*ERROR|ERROR.*nadia_bgw/), 0, 'no errors logged');

$node->stop('fast');
done_testing();
