# 790_capacity_alert.pl -- the "capacity" alert through the worker: a
# sequence behind an int4 column, 3,000,000 values from its limit and
# consumed at 500,000 a day (history of the last three days written by
# hand at times relative to now(), as the worker's task has only this
# hour), is 6 days from exhaustion.  Under nadia_bgw.capacity_alert_days =
# 3 nothing opens; at the default 14 a warning opens; the column turned
# bigint moves the limit out of reach and the alert resolves.
#
# The task records once an hour and refits each series in a later cycle
# of the hour: to make the worker's next two cycles do both again, the
# test deletes what this hour recorded (and where its reading of
# sequences got to) and the stored forecasts, and makes every series due.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NadiaTest;
use NadiaAlerts;

my $node = nadia_node('capacity_alert', conf => "nadia_bgw.interval = 3600\n");
$node->safe_psql('postgres', q{
CREATE TABLE orders (id int, v int);
CREATE SEQUENCE orders_id AS bigint OWNED BY orders.id;
SELECT setval('orders_id', 2147483647 - 3000000);
INSERT INTO nadia_bgw.capacity_samples
SELECT now() - k * interval '6 hours', 'sequence', 'orders_id'::regclass, 'public.orders_id',
       2147483647 - 3000000 - k * 125000, 2147483647, NULL
  FROM generate_series(1, 12) k;
});

# the next cycle records again, the one after it forecasts
sub again
{
	$node->safe_psql('postgres', q{
DELETE FROM nadia_bgw.capacity_samples WHERE sampled_at > now() - interval '1 hour';
DELETE FROM nadia_bgw.capacity_sequence_cursor;
DELETE FROM nadia_bgw.capacity_forecasts;
UPDATE nadia_bgw.capacity_series SET fit_at = NULL;
});
}

reload_conf($node, 'nadia_bgw.capacity_alert_days = 3');
again();
ok(wake_until($node, "EXISTS (SELECT 1 FROM nadia_bgw.capacity_forecasts WHERE object = 'public.orders_id')"),
	'cycles ran: the recording one, then a batch that forecasts');
is(status_of($node, 'capacity', 'outcome'), 'ok', 'the capacity task succeeded');
my $f = $node->safe_psql('postgres', q{
SELECT limit_value || ' ' || round(days_to_limit) || ' ' || basis
  FROM nadia_bgw.capacity_forecasts WHERE kind = 'sequence' AND object = 'public.orders_id'});
is($f, '2147483647 6 slope_7d', 'the int4 column is the limit; 6 days left');
is(alert_count($node, "kind = 'capacity'"), 0, '6 days left, alert at 3 days: no alert');

reload_conf($node, 'nadia_bgw.capacity_alert_days = DEFAULT');
ok(wake_until($node, "EXISTS (SELECT 1 FROM nadia_bgw.alerts WHERE kind = 'capacity' AND state = 'open')"),
	'the default 14 days opens an alert');
is( $node->safe_psql('postgres', q{
SELECT severity || '|' || object || '|' || object_type || '|' || relname || '|' || baseline
       || '|' || (observed BETWEEN 5.4 AND 6.6) || '|' || (details->>'basis')
  FROM nadia_bgw.alerts WHERE kind = 'capacity'}),
	'warning|sequence public.orders_id|sequence|public.orders_id|14|true|slope_7d',
	'warning naming the sequence, days left and the setting');

$node->safe_psql('postgres', 'ALTER TABLE orders ALTER COLUMN id TYPE bigint');
again();
ok(wake_until($node, "EXISTS (SELECT 1 FROM nadia_bgw.alerts WHERE kind = 'capacity' AND state = 'resolved')"),
	'a bigint column: the alert resolves');
is($node->safe_psql('postgres', q{
SELECT round(days_to_limit) > 10000 FROM nadia_bgw.capacity_forecasts
 WHERE kind = 'sequence' AND object = 'public.orders_id'}), 't', 'years left');

$node->stop;
done_testing();
