# NadiaAlerts.pm -- helpers for the alert TAP tests (t/4xx): LISTEN
# clients, decoding NOTIFY payloads, detection runs and alert lookups.
package NadiaAlerts;

use strict;
use warnings;
use Exporter 'import';
use B;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

our @EXPORT = qw(listener notifications detect open_alerts alert_count
  wake_until reload_conf pgbench_script run_pgbench payload_problems
  json_type relations_holding %PAYLOAD_KEYS);

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

# relations_holding(NODE, NEEDLE, RELKINDS, PSQL OPTIONS...): the relations
# of nadia_bgw of the given kinds ('r,p', 'r,p,v,m') that the connecting
# role can select and that hold NEEDLE in any row (row text, so every
# column), as "rel rel "; the secret tests (t/46x) look for their secrets
# with it, as a superuser and as the reader role.
sub relations_holding
{
	my ($node, $needle, $relkinds, @params) = @_;
	my ($out, $err) = ('', '');
	$node->psql('postgres', qq{
		DO \$\$
		DECLARE
		    c record;
		    n bigint;
		    found text := '';
		BEGIN
		    FOR c IN SELECT r.oid::regclass AS rel FROM pg_class r
		              WHERE r.relnamespace = 'nadia_bgw'::regnamespace
		                AND r.relkind = ANY ('{$relkinds}') AND NOT r.relispartition
		                AND has_table_privilege(r.oid, 'SELECT')
		    LOOP
		        EXECUTE format('SELECT count(*) FROM %s t WHERE t::text ILIKE %L', c.rel,
		                       '%$needle%') INTO n;
		        IF n > 0 THEN found := found || c.rel || ' '; END IF;
		    END LOOP;
		    RAISE NOTICE 'found: [%]', found;
		END
		\$\$;
	}, stdout => \$out, stderr => \$err, @params);
	return $err =~ /found: \[(.*?)\]/ ? $1 : "failed: $err";
}

# The NOTIFY payload, version 2 (docs/alerts.md): every key and its type.
our %PAYLOAD_KEYS = (
	version => 'number', alert_id => 'number', alert_table => 'string', event => 'string',
	state => 'string', kind => 'string', severity => 'string', object => 'object',
	metric => 'string', baseline => 'number|null', observed => 'number|null',
	ratio => 'number|null', opened_at => 'string', resolved_at => 'string|null',
	details => 'object', time => 'string', truncated => 'boolean');
my %object_keys = (type => 'string', name => 'string', database => 'string|null',
	relation => 'string', queryid => 'string', user => 'string|null');
# string fields of the details a payload may carry: names, modes, states, times
my $detail_strings = qr/^(user|mode|locktype|state|relation|queryid|blocked_queryid|xact_start|backend_xid|backend_xmin|wal_status|slot_type|sync_state|restart_lsn|last_vacuum|last_autovacuum|old_planid|new_planid|change_summary)$/;

# json_type(VALUE): the JSON type JSON::PP decoded VALUE from
sub json_type
{
	my ($v) = @_;
	return 'null' unless defined $v;
	return 'boolean' if JSON::PP::is_bool($v);
	return 'object' if ref $v eq 'HASH';
	return 'array' if ref $v eq 'ARRAY';
	# JSON::PP decodes numbers to numeric scalars, strings to string ones
	return (B::svref_2object(\$v)->FLAGS & B::SVp_POK) ? 'string' : 'number';
}

sub details_ok
{
	my ($v, $key) = @_;
	my $t = json_type($v);
	return 1 if $t =~ /^(number|boolean|null)$/;
	return ($key // '') =~ $detail_strings if $t eq 'string';
	return !grep { !details_ok($v->{$_}, $_) } keys %$v if $t eq 'object';
	return !grep { !details_ok($_, $key) } @$v;
}

# payload_problems(PAYLOAD TEXT): what differs from the documented shape
# (unknown or missing keys, wrong types, text in the details).  Decoded
# here: a number once used as a string looks like a string to json_type.
sub payload_problems
{
	my ($raw) = @_;
	my $j = eval { JSON::PP->new->utf8(0)->decode($raw // '') };
	return ('not JSON') unless ref $j eq 'HASH';
	my @bad = grep { !exists $PAYLOAD_KEYS{$_} || json_type($j->{$_}) !~ /^(?:$PAYLOAD_KEYS{$_})$/ }
	  keys %$j;
	push @bad, map { "object.$_" }
	  grep { !exists $object_keys{$_} || json_type($j->{object}{$_}) !~ /^(?:$object_keys{$_})$/ }
	  keys %{ $j->{object} // {} };
	push @bad, 'details' if exists $j->{details} && !details_ok($j->{details});
	push @bad, "missing $_" for grep { !exists $j->{$_} }
	  qw(version alert_id alert_table event state kind severity time truncated);
	push @bad, 'version' unless ($j->{version} // 0) == 2;
	push @bad, 'alert_table' unless ($j->{alert_table} // '') eq 'nadia_bgw.alerts';
	return sort @bad;
}

1;
