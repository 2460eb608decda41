# 780_metric_anomaly.pl -- the metric_anomaly alert through the worker: a
# rollup by minute over a source whose minutes of the past four weeks
# (around the test's own time) held 5 rows each; a minute with 50 rows is
# judged by the worker's "anomalies" task once it closed, the "regressions"
# task opens the alert naming the rollup, column, bucket and range, and it
# resolves once the following minutes are judged normal.  Every instant is
# relative to the server's clock; nothing asserts a wall-clock time.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NadiaTest;
use NadiaAlerts;

my $node = nadia_node('metric_anomaly',
	conf => "nadia_bgw.interval = 3600\nnadia_bgw.alert_resolve_cycles = 1\n");
$node->safe_psql('postgres', q{
	SET TimeZone = 'UTC';
	CREATE TABLE events (at timestamptz NOT NULL, amount int NOT NULL);
	CREATE INDEX ON events (at);
	-- the same minutes 1 .. 4 weeks ago, 90 minutes either side: 5 rows each
	INSERT INTO events
	SELECT date_trunc('minute', now()) - k * interval '168 hours' + m * interval '1 minute'
	       + r * interval '7 seconds', 1
	  FROM generate_series(1, 4) k, generate_series(-90, 90) m, generate_series(1, 5) r;
	SELECT nadia_bgw.create_rollup(name => 'events_by_minute', source => 'events',
	    time_column => 'at', bucket => '1 minute', bucket_column => 'minute',
	    timezone => 'UTC', aggregates => ARRAY['COUNT(*) AS events', 'SUM(amount) AS amount']);
});

# the application's writes: 5 rows in the current minute (or 50), once
sub write_minute
{
	my ($n) = @_;
	$node->safe_psql('postgres', qq{
		INSERT INTO events
		SELECT now(), 1 FROM generate_series(1, $n)
		 WHERE (SELECT count(*) FROM events
		         WHERE at >= date_trunc('minute', now())) = 0});
}

# a burst: 50 rows in this minute
write_minute(50);
my $burst = $node->safe_psql('postgres',
	"SELECT date_trunc('minute', now()) AT TIME ZONE 'UTC'");

# cycles until the burst's minute is closed, refreshed, judged and alerted
# (the worker passes its cycle's start as the instant); the next minutes
# get their usual 5 rows meanwhile
my $open_sql = "SELECT count(*) = 1 FROM nadia_bgw.alerts"
  . " WHERE kind = 'metric_anomaly' AND state = 'open'"
  . " AND object = 'rollup public.events_by_minute column events'";
my $opened = 0;
for my $i (1 .. 60)
{
	write_minute(5) if $i > 1;
	wake($node);
	if ($node->safe_psql('postgres', $open_sql) eq 't') { $opened = 1; last; }
	sleep 3;
}
ok($opened, 'a minute with 10 times its usual rows opens metric_anomaly');
is(status_of($node, 'anomalies', 'last_error'), '', 'the anomalies task ran without error');

my $row = $node->safe_psql('postgres', q{
	SELECT metric || '|' || observed || '|' || baseline || '|' || severity || '|'
	       || (details->>'direction') || '|'
	       || ((details->>'expected_high')::float8 < observed) || '|'
	       || ((details->>'bucket_start')::timestamptz AT TIME ZONE 'UTC')
	  FROM nadia_bgw.alerts WHERE kind = 'metric_anomaly' AND state = 'open'
	   AND object = 'rollup public.events_by_minute column events'});
is($row, "events|50|5|warning|high|true|$burst",
	'the alert names the column, the bucket, the median and the range');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM nadia_bgw.data_anomalies(now() - interval '1 hour', now() + interval '1 hour')
	 WHERE source = 'public.events_by_minute' AND metric = 'events' AND direction = 'high'}),
	'1', 'data_anomalies() lists it');
# the reader role sees the result
is($node->safe_psql('postgres', q{
	SET ROLE nadia_bgw_reader;
	SELECT count(*) > 0 FROM nadia_bgw.data_anomalies(now() - interval '1 hour', now() + interval '1 hour')}),
	't', 'nadia_bgw_reader reads data_anomalies()');

# normal minutes again: the next judged bucket is normal, the alert resolves
my $resolved = 0;
for my $i (1 .. 60)
{
	write_minute(5);
	wake($node);
	if ($node->safe_psql('postgres',
		"SELECT count(*) = 0 FROM nadia_bgw.alerts WHERE kind = 'metric_anomaly' AND state = 'open'") eq 't')
	{
		$resolved = 1;
		last;
	}
	sleep 3;
}
ok($resolved, 'metric_anomaly resolves once the next minutes are normal');
is($node->safe_psql('postgres', q{
	SELECT last_status FROM nadia_bgw.anomaly_series
	 WHERE source = 'public.events_by_minute' AND metric = 'events'}),
	'normal', 'the series is normal again');

$node->stop;
done_testing();
