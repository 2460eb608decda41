# NadiaAlerts.pm -- helpers for the alert TAP tests (t/4xx): LISTEN
# clients, decoding NOTIFY payloads, detection runs and alert lookups.
package NadiaAlerts;

use strict;
use warnings;
use Exporter 'import';
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

our @EXPORT = qw(listener notifications detect open_alerts alert_count
  wake_until reload_conf pgbench_script run_pgbench);

# listener(NODE, DB, CHANNEL): a background psql session that LISTENs.
sub listener
{
	my ($node, $db, $channel) = @_;
	my $l = $node->background_psql($db // 'postgres');
	$l->query_safe('LISTEN ' . ($channel // 'nadia_bgw_alerts'));
	return $l;
}

# notifications(LISTENER): the payloads received since the last call, each
# { channel, raw, json (decoded or undef), pid }.  psql prints pending
# notifications after each command, so one trivial query collects them.
sub notifications
{
	my ($l) = @_;
	my $out = $l->query('SELECT 1');
	my @n;
	while ($out =~
		/Asynchronous notification "([^"]+)" with payload "(.*?)" received from server process with PID (\d+)\./g
	  )
	{
		my ($chan, $raw, $pid) = ($1, $2, $3);
		my $json = eval { JSON::PP->new->utf8(0)->decode($raw) };
		push @n, { channel => $chan, raw => $raw, json => $json, pid => $pid };
	}
	return @n;
}

# detect(NODE, SETTINGS, DB): one detection run in a session with the given
# "SET ...;" lines; returns the event rows as "event|kind|object" strings.
sub detect
{
	my ($node, $settings, $db) = @_;
	my $out = $node->safe_psql($db // 'postgres',
		($settings // '') . ";\nSELECT event || '|' || kind || '|' || object"
		  . " FROM nadia_bgw.detect_regressions() ORDER BY alert_id");
	return grep { $_ ne '' } split /\n/, $out;
}

# open_alerts(NODE, KIND): "kind|severity|object" of the open alerts.
sub open_alerts
{
	my ($node, $kind, $db) = @_;
	my $where = defined $kind ? "AND kind = '$kind'" : '';
	my $out = $node->safe_psql($db // 'postgres',
		"SELECT kind || '|' || severity || '|' || object FROM nadia_bgw.alerts"
		  . " WHERE state = 'open' $where ORDER BY alert_id");
	return grep { $_ ne '' } split /\n/, $out;
}

# alert_count(NODE, WHERE): number of alerts (any state) matching WHERE.
sub alert_count
{
	my ($node, $where, $db) = @_;
	return $node->safe_psql($db // 'postgres',
		"SELECT count(*) FROM nadia_bgw.alerts WHERE " . ($where // 'true'));
}

# wake_until(NODE, SQL): run worker cycles until SQL is true.
sub wake_until
{
	my ($node, $sql, $db) = @_;
	return $node->poll_query_until($db // 'postgres',
		"SELECT nadia_bgw.wake(true, 60000) AND ($sql)");
}

# reload_conf(NODE, "name = 'value'", ...): ALTER SYSTEM each and reload.
sub reload_conf
{
	my ($node, @settings) = @_;
	for my $s (@settings)
	{
		my ($name, $value) = $s =~ /^\s*(\S+)\s*=\s*(.*?)\s*$/;
		if ($value eq 'DEFAULT')
		{
			$node->safe_psql('postgres', "ALTER SYSTEM RESET $name");
		}
		else
		{
			$node->safe_psql('postgres', "ALTER SYSTEM SET $name = $value");
		}
	}
	$node->safe_psql('postgres', 'SELECT pg_reload_conf()');
	return;
}

# pgbench_script(NODE, NAME, TEXT): write a pgbench script, return its path.
sub pgbench_script
{
	my ($node, $name, $text) = @_;
	my $path = $node->basedir . "/$name.sql";
	open my $fh, '>', $path or die "cannot write $path: $!";
	print $fh $text;
	close $fh;
	return $path;
}

# run_pgbench(NODE, DB, SCRIPT, TRANSACTIONS, CLIENTS): run and wait.
sub run_pgbench
{
	my ($node, $db, $script, $xacts, $clients) = @_;
	my ($stdout, $stderr);
	my $ok = IPC::Run::run(
		[
			'pgbench', '-n', '-c', $clients // 1, '-t', $xacts,
			'-f', $script, '-h', $node->host, '-p', $node->port, $db
		],
		'>', \$stdout, '2>', \$stderr);
	die "pgbench failed: $stderr" unless $ok;
	return;
}

1;
