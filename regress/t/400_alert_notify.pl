# 400_alert_notify.pl -- the worker's alert life cycle as a LISTEN client
# sees it: one notification when an alert opens (not one per cycle), one
# when it escalates, one when it resolves, on the configured channel; a
# failed NOTIFY keeps the alert and is retried.  The "debug" detector
# (nadia_bgw.debug_alert) provides the condition.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NadiaTest;
use NadiaAlerts;

my $node = nadia_node('alert_notify', conf => "nadia_bgw.interval = 3600\n");
my $l = listener($node);
my $ops = listener($node, 'postgres', 'ops_alerts');

# --- a condition opens one alert and one notification
reload_conf($node, "nadia_bgw.debug_alert = 'notify:warning:10:2'");
wake_until($node, "EXISTS (SELECT 1 FROM nadia_bgw.alerts WHERE alert_key = 'debug:notify')");
my $id = $node->safe_psql('postgres',
	"SELECT alert_id FROM nadia_bgw.alerts WHERE alert_key = 'debug:notify'");
my @n = notifications($l);
is(scalar @n, 1, 'one notification when the alert opens');
my $p = $n[0]{json};
ok(defined $p, 'payload is JSON') or diag($n[0]{raw});
is($p->{version}, 2, 'payload version 2');
is($p->{alert_id}, $id, 'payload names the alert row');
is($p->{event}, 'opened', 'event opened');
is($p->{state}, 'open', 'state open');
is($p->{kind}, 'debug', 'kind');
is($p->{severity}, 'warning', 'severity');
is($p->{object}{name}, 'debug object notify', 'object name');
is($p->{metric}, 'debug_value', 'metric');
is($p->{baseline}, 2, 'baseline');
is($p->{observed}, 10, 'observed');
is($p->{ratio}, 5, 'ratio');
like($p->{time}, qr/^\d{4}-\d\d-\d\dT/, 'time is ISO 8601');
cmp_ok(length($n[0]{raw}), '<', 8000, 'payload under 8000 bytes');
is($n[0]{pid}, worker_pid($node), 'sent by the worker');
like(slurp_file($node->logfile), qr/nadia_bgw: alert $id opened: warning debug on debug object notify/,
	'opening is logged');

# --- it stays open without repeating itself
wake($node) for 1 .. 3;
is(scalar(notifications($l)), 0, 'no repeat while the condition lasts');
is(alert_count($node, "alert_key = 'debug:notify'"), 1, 'still one alert row');
cmp_ok($node->safe_psql('postgres', "SELECT firing_cycles FROM nadia_bgw.alerts WHERE alert_id = $id"),
	'>=', 4, 'firing cycles counted');

# --- escalation notifies once
reload_conf($node, "nadia_bgw.debug_alert = 'notify:critical:50:2'");
wake_until($node, "(SELECT severity = 'critical' FROM nadia_bgw.alerts WHERE alert_id = $id)");
wake($node);
@n = notifications($l);
is(scalar @n, 1, 'one notification on escalation');
is($n[0]{json}{event}, 'escalated', 'event escalated');
is($n[0]{json}{severity}, 'critical', 'new severity in the payload');

# --- back to normal: resolved after alert_resolve_cycles normal cycles, on
# the channel in effect then (both settings change in one reload)
reload_conf($node, "nadia_bgw.debug_alert = DEFAULT", "nadia_bgw.notify_channel = 'ops_alerts'");
wake_until($node, "(SELECT normal_cycles >= 1 FROM nadia_bgw.alerts WHERE alert_id = $id)");
is($node->safe_psql('postgres', "SELECT state FROM nadia_bgw.alerts WHERE alert_id = $id"),
	'open', 'still open after one normal cycle');
wake($node) for 1 .. 2;
is($node->safe_psql('postgres',
		"SELECT state || ' ' || resolved_by || ' ' || normal_cycles FROM nadia_bgw.alerts WHERE alert_id = $id"),
	'resolved auto 3', 'resolved after three normal cycles');
is(scalar(notifications($l)), 0, 'nothing on the old channel');
@n = notifications($ops);
is(scalar @n, 1, 'resolution announced on the new channel');
is($n[0]{json}{event}, 'resolved', 'event resolved');
is($n[0]{json}{state}, 'resolved', 'state resolved');
like($n[0]{json}{resolved_at}, qr/^\d{4}-/, 'resolved_at set');

# --- a failed NOTIFY keeps the alert and is retried
my $offset = -s $node->logfile;
reload_conf($node, "nadia_bgw.debug_fail_notify = on",
	"nadia_bgw.debug_alert = 'flaky:warning:10:2'");
wake_until($node, "EXISTS (SELECT 1 FROM nadia_bgw.alerts WHERE alert_key = 'debug:flaky')");
is( $node->safe_psql('postgres',
		"SELECT notify_pending || ' / ' || notify_error FROM nadia_bgw.alerts WHERE alert_key = 'debug:flaky'"),
	'opened / 09000: triggered action exception (message in the server log)',
	'alert row kept with the pending notification and the error');
is(status_of($node, 'regressions', 'outcome'), 'ok', 'the task itself succeeded');
like(log_since($node, $offset), qr/WARNING:  nadia_bgw: notification for alert \d+ failed: injected notification failure/,
	'failure is logged');
is(scalar(notifications($ops)), 0, 'nothing was sent');
reload_conf($node, "nadia_bgw.debug_fail_notify = DEFAULT");
wake_until($node,
	"(SELECT notify_pending IS NULL AND notified_at IS NOT NULL FROM nadia_bgw.alerts WHERE alert_key = 'debug:flaky')");
@n = notifications($ops);
is(scalar @n, 1, 'retried notification arrives');
is($n[0]{json}{event}, 'opened', 'as an opening');
is($n[0]{json}{object}{name}, 'debug object flaky', 'for the kept alert');

$l->quit;
$ops->quit;
$node->stop;
done_testing();
