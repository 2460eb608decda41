# 330_maintenance_window_zone.pl -- with nadia_bgw.maintenance_timezone
# empty, the maintenance window is in the server's TimeZone whoever asks:
# the worker and a session with another TimeZone (PGTZ, SET) agree.  Local
# clock times on the days DST starts and ends.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NadiaTest;
use NadiaMaint;

my $node = nadia_node('maint_zone', conf => "timezone = 'America/New_York'\n");

# sql(TEXT) in a session whose TimeZone is not the server's
sub utc_sql
{
	return $node->safe_psql('postgres', "SET TimeZone = 'UTC'; $_[0]");
}

# open(UTC TIME): is the window open at that instant, asked from UTC
sub open_at
{
	return utc_sql("SELECT nadia_bgw.maintenance_window_open('$_[0]+00')");
}

wait_until($node, "SELECT nadia_bgw.server_timezone() IS NOT NULL");
is(utc_sql('SELECT nadia_bgw.server_timezone()'), 'America/New_York',
	'the worker published the server zone, whatever the session has');

set_conf($node, 'nadia_bgw.maintenance_window' => '10:00-11:00');
is(open_at('2027-01-15 15:30'), 't', '10:30 in New York is inside 10:00-11:00, asked from UTC');
is(open_at('2027-01-15 10:30'), 'f', '10:30 UTC (05:30 in New York) is outside');
is(open_at('2027-07-15 14:30'), 't', 'in summer (EDT) too');

# fall back: 01:00-02:00 local happens twice, both are inside
set_conf($node, 'nadia_bgw.maintenance_window' => '01:00-02:00');
is(open_at('2027-11-07 05:30'), 't', '01:30 EDT on the day DST ends');
is(open_at('2027-11-07 06:30'), 't', '01:30 EST, the repeated hour');
is(open_at('2027-11-07 07:30'), 'f', '02:30 EST');

# spring forward: 02:00-03:00 local does not exist that day
set_conf($node, 'nadia_bgw.maintenance_window' => '02:00-03:00');
is(open_at('2027-03-14 06:59:59'), 'f', '01:59:59 EST on the day DST starts');
is(open_at('2027-03-14 07:00'), 'f', '03:00 EDT follows: the skipped hour never opens');
is(open_at('2027-03-15 06:30'), 't', 'the next day it opens at 02:30 EDT');

# the plan view (what operators see) agrees with the worker: a table that
# needs a vacuum is "outside window" for both
make_table($node, 'zoned', 1000);
$node->safe_psql('postgres',
	"SELECT nadia_bgw.set_maintenance('zoned', vacuum_min => 0, vacuum_ratio => 0)");
$node->safe_psql('postgres', 'DELETE FROM zoned WHERE id <= 500; SELECT pg_stat_force_next_flush()');
$node->safe_psql('postgres', 'SELECT nadia_bgw.take_sample()');
my $hour = utc_sql("SELECT extract(hour FROM now() AT TIME ZONE 'America/New_York')::int");
set_conf($node, 'nadia_bgw.maintenance_window' =>
	  sprintf('%02d:00-%02d:00', $hour, ($hour + 2) % 24));
is(utc_sql("SELECT state FROM nadia_bgw.maintenance_plan WHERE relname = 'zoned'"),
	'ready', 'window open in New York: ready, seen from UTC');
set_conf($node, 'nadia_bgw.maintenance_window' =>
	  sprintf('%02d:00-%02d:00', ($hour + 12) % 24, ($hour + 13) % 24));
is(utc_sql("SELECT state FROM nadia_bgw.maintenance_plan WHERE relname = 'zoned'"),
	'outside window', 'window closed in New York: outside window, seen from UTC');

# a reload that changes the server's zone is published
set_conf($node, 'TimeZone' => 'Asia/Tokyo');
wait_until($node, "SELECT nadia_bgw.server_timezone() = 'Asia/Tokyo'");
is(utc_sql('SELECT nadia_bgw.server_timezone()'), 'Asia/Tokyo', 'a new server zone is published on reload');

$node->stop;
done_testing();
