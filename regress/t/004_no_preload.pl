# 004_no_preload.pl -- without shared_preload_libraries the extension can be
# created, says clearly that no worker runs, and its worker functions fail
# with a hint instead of doing nothing.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NadiaTest;

my $node = nadia_node('nopreload', extension => 0,
	conf => "shared_preload_libraries = 'pg_stat_statements'\n");

my ($ret, $out, $err) = $node->psql('postgres', 'CREATE EXTENSION nadia_bgw');
is($ret, 0, 'CREATE EXTENSION works without preloading');
like($err, qr/WARNING:  nadia_bgw is not in shared_preload_libraries: no background worker is running/,
	'it warns that no worker runs');
like($err, qr/HINT:  Add nadia_bgw to shared_preload_libraries/, 'with a hint');

is($node->safe_psql('postgres',
	"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'nadia_bgw worker'"),
	'0', 'no worker process');

($ret, $out, $err) = $node->psql('postgres', 'SELECT * FROM nadia_bgw.status');
isnt($ret, 0, 'status fails without the worker');
like($err, qr/nadia_bgw is not loaded through shared_preload_libraries/, 'and says why');

($ret, $out, $err) = $node->psql('postgres', 'SELECT nadia_bgw.wake()');
like($err, qr/not loaded through shared_preload_libraries.*\n.*HINT:/s, 'wake() fails with a hint');

# GUCs are still defined and validated when the library is loaded on demand
($ret, $out, $err) = $node->psql('postgres', "LOAD 'nadia_bgw'; SET nadia_bgw.bogus = 1");
like($err, qr/invalid configuration parameter name "nadia_bgw.bogus"/, 'prefix reserved after LOAD');

$node->stop('fast');
done_testing();
