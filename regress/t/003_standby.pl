# 003_standby.pl -- on a streaming standby the worker writes nothing and
# says so once; after promotion it starts working.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NadiaTest;

my $primary = nadia_node('primary', allows_streaming => 1,
	conf => "nadia_bgw.interval = 1\n");
wake($primary);
$primary->backup('b1');

my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'b1', has_streaming => 1);
$standby->start;
$primary->wait_for_catchup($standby);

wait_until($standby, "SELECT worker_state = 'standby: idle' FROM nadia_bgw.status LIMIT 1");
my $pid = worker_pid($standby);
like($pid, qr/^\d+$/, 'worker runs on the standby');
ok(wake($standby), 'standby worker serves wake()') for 1 .. 5;
is(status_of($standby, 'heartbeat', 'runs'), 0, 'no task ran on the standby');
is(log_count($standby, qr/nadia_bgw: server is in recovery; the worker writes nothing/),
	1, 'recovery is logged once');
is(log_count($standby, qr/ERROR/), 0, 'no error on the standby');
is(worker_pid($standby), $pid, 'same worker throughout');

# the primary keeps beating and the standby replays it
my $beats = $primary->safe_psql('postgres', 'SELECT beats FROM nadia_bgw.heartbeat');
wake($primary);
$primary->wait_for_catchup($standby);
cmp_ok($standby->safe_psql('postgres', 'SELECT beats FROM nadia_bgw.heartbeat'),
	'>', $beats, 'standby sees the primary\'s writes only');

# --- promotion: the same worker starts its tasks
$primary->stop('fast');
$standby->promote;
wait_until($standby, "SELECT worker_state = 'running' FROM nadia_bgw.status LIMIT 1");
wake($standby);
wait_until($standby, "SELECT runs > 0 AND outcome = 'ok' FROM nadia_bgw.status WHERE task = 'heartbeat'");
pass('after promotion the heartbeat runs');

$standby->stop('fast');
done_testing();
