# 450_replication_lag.pl -- the replication_lag detector on a real
# streaming standby that applies WAL late (recovery_min_apply_delay): no
# alert under the default threshold, an alert naming the standby under a
# one-second one, and resolution once the standby catches up.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NadiaTest;
use NadiaAlerts;
use Time::HiRes qw(usleep);

my $primary = nadia_node('lag_primary', allows_streaming => 1,
	conf => "nadia_bgw.interval = 3600\n");
$primary->safe_psql('postgres', 'CREATE TABLE ticks (at timestamptz)');
$primary->backup('b1');
my $standby = PostgreSQL::Test::Cluster->new('lag_standby');
$standby->init_from_backup($primary, 'b1', has_streaming => 1);
$standby->append_conf('postgresql.conf',
	"recovery_min_apply_delay = '3s'\nwal_receiver_status_interval = '1s'\n");
$standby->start;

# write and detect until an alert of the kind opens (or give up)
sub lag_alert
{
	my ($settings) = @_;
	for (1 .. 100)
	{
		$primary->safe_psql('postgres', 'INSERT INTO ticks VALUES (now())');
		my @ev = detect($primary, $settings);
		return 1 if grep { /^opened\|replication_lag\|/ } @ev;
		usleep(200_000);
	}
	return 0;
}

# the lag is visible to the primary once the standby has replayed late WAL
$primary->poll_query_until('postgres',
	"WITH i AS (INSERT INTO ticks VALUES (now()) RETURNING 1)"
	  . " SELECT coalesce(bool_or(replay_lag > interval '1 second'), false)"
	  . " FROM pg_stat_replication, (SELECT count(*) FROM i) x")
  or diag('no replay lag reported');
is(join(',', grep { /replication_lag/ } detect($primary, '')), '',
	'a 3 s lag under the default 60 s threshold: no alert');
ok(lag_alert('SET nadia_bgw.replication_lag_seconds = 1'), 'a lag above 1 s opens an alert');
is( $primary->safe_psql('postgres',
		"SELECT object || ' ' || (observed >= 1)::text || ' ' || (details ? 'replay_lag_bytes')::text"
		  . " FROM nadia_bgw.alerts WHERE kind = 'replication_lag' AND state = 'open'"),
	'standby lag_standby true true', 'the alert names the standby and its lag');

# the standby stops delaying: the lag goes away and the alert resolves
$standby->append_conf('postgresql.conf', "recovery_min_apply_delay = 0\n");
$standby->reload;
my $resolved = 0;
for (1 .. 100)
{
	$primary->safe_psql('postgres', 'INSERT INTO ticks VALUES (now())');
	detect($primary, 'SET nadia_bgw.replication_lag_seconds = 1');
	$resolved = alert_count($primary, "kind = 'replication_lag' AND state = 'resolved'");
	last if $resolved;
	usleep(200_000);
}
is($resolved, 1, 'resolved once the standby keeps up');

$standby->stop('fast');
$primary->stop('fast');
done_testing();
