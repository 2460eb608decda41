# 005_invalid_database.pl -- a database left invalid by an interrupted DROP
# DATABASE (datconnlimit = -2, as PostgreSQL marks it) is treated as
# missing: the worker waits for it, logs once and does not restart every
# few seconds; once it is dropped and created again the worker connects.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NadiaTest;

# a long interval: the worker looks at pg_database only when woken
my $node = nadia_node('invalid_db',
	conf => "nadia_bgw.database = 'nadia_inv'\nnadia_bgw.interval = 3600\n");
wait_until($node, "SELECT worker_state = 'waiting for database' FROM nadia_bgw.status LIMIT 1");
my $pid = worker_pid($node);

# what an interrupted DROP DATABASE leaves behind (PostgreSQL's own tests
# of invalid databases make it the same way)
$node->safe_psql('postgres', 'CREATE DATABASE nadia_inv');
$node->safe_psql('postgres',
	"UPDATE pg_database SET datconnlimit = -2 WHERE datname = 'nadia_inv'");
ok(wake($node), 'the waiting worker looks at the invalid database') for 1 .. 3;
$node->safe_psql('postgres', 'SELECT pg_sleep(1)');
ok(wake($node), 'and once more after a pause');
is(worker_pid($node), $pid, 'no restart: the invalid database counts as missing');
is(log_count($node, qr/database "nadia_inv" is invalid \(an interrupted DROP DATABASE\); waiting for it/),
	1, 'the invalid database is logged once');
is(log_count($node, qr/cannot connect to invalid database/), 0,
	'no connection to the invalid database was tried');
cmp_ok(log_count($node, qr/background worker "nadia_bgw worker" .* exited/),
	'<=', 1, 'at most the first connection attempt (database missing) exited');

# finished by the DBA: dropped and created again, the worker connects
$node->safe_psql('postgres', 'DROP DATABASE nadia_inv');
$node->safe_psql('postgres', 'CREATE DATABASE nadia_inv');
wake($node);
wait_until($node, "SELECT worker_state = 'waiting for extension' FROM nadia_bgw.status LIMIT 1");
is( $node->safe_psql('postgres',
		"SELECT datname FROM pg_stat_activity WHERE backend_type = 'nadia_bgw worker'"),
	'nadia_inv', 'connected once the database is valid');

$node->stop('fast');
done_testing();
