# 430_state_detectors.pl -- detectors of the server's current state:
# connections, long transactions, idle in transaction, lock waits,
# retained WAL and wraparound.  Each is triggered by a real condition and
# must stay quiet below its threshold.  Detection runs in a session with
# nadia_bgw.detect_regressions() (the worker's task runs the same code), so
# thresholds can be set per run.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NadiaTest;
use NadiaAlerts;
use Time::HiRes qw(usleep);

my $node = nadia_node('state_detectors', allows_streaming => 1,
	conf => "nadia_bgw.interval = 3600\nmax_connections = 20\n");
$node->safe_psql('postgres', 'CREATE TABLE locked (id int); INSERT INTO locked VALUES (1)');

# detection runs with the given settings until an alert of the given kind
# opens (the condition needs a second or so to pass its threshold)
sub detect_until
{
	my ($settings, $kind) = @_;
	for (1 .. 600)
	{
		return 1 if grep { /^opened[^|]*\|$kind\|/ } detect($node, $settings);
		usleep(100_000);
	}
	fail("no $kind alert opened");
	return 0;
}

sub kinds_opened
{
	my ($settings) = @_;
	return join ',', map { (split /\|/)[1] } grep { /^opened/ } detect($node, $settings);
}

# --- connections: 20 allowed; 0.2 of them is 4
my @sessions = map { $node->background_psql('postgres') } 1 .. 2;
is(kinds_opened('SET nadia_bgw.connections_share = 0.5'), '', 'few connections: no alert');
push @sessions, map { $node->background_psql('postgres') } 1 .. 3;
my @ev = detect($node, 'SET nadia_bgw.connections_share = 0.2');
ok((grep { $_ eq 'opened|connections|server' } @ev), 'connections above the share open an alert')
  or diag(join "\n", @ev);
my $d = $node->safe_psql('postgres',
	"SELECT details->>'max_connections' || ' ' || (observed >= 4)::text || ' ' || baseline"
	  . " FROM nadia_bgw.alerts WHERE kind = 'connections'");
is($d, '20 true 4', 'alert carries the limit, the count and the threshold');
$_->quit for @sessions;
detect($node, 'SET nadia_bgw.connections_share = 0.2') for 1 .. 3;
is(alert_count($node, "kind = 'connections' AND state = 'resolved'"), 1,
	'resolved once the sessions are gone');

# --- idle in transaction
my $idle = $node->background_psql('postgres');
$idle->query_safe('BEGIN; SELECT txid_current()');
my $idle_pid = $idle->query_safe('SELECT pg_backend_pid()');
is(kinds_opened('SET nadia_bgw.idle_in_transaction_seconds = 3600'), '',
	'idle in transaction below the threshold: no alert');
detect_until('SET nadia_bgw.idle_in_transaction_seconds = 1', 'idle_in_transaction');
is( $node->safe_psql('postgres',
		"SELECT details->>'pid' FROM nadia_bgw.alerts WHERE kind = 'idle_in_transaction' AND state = 'open'"),
	$idle_pid, 'the idle session is named');

# --- lock waits: the idle transaction takes a lock, another session waits
$idle->query_safe('LOCK TABLE locked IN ACCESS EXCLUSIVE MODE');
my $waiter = $node->background_psql('postgres');
my $waiter_pid = $waiter->query_safe('SELECT pg_backend_pid()');
$waiter->query_until(qr/waiting/, "\\echo waiting\nSELECT count(*) FROM locked;\n");
$node->poll_query_until('postgres',
	"SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $waiter_pid");
is(kinds_opened('SET nadia_bgw.lock_wait_seconds = 3600'), '',
	'a short lock wait: no alert');
detect_until('SET nadia_bgw.lock_wait_seconds = 1', 'lock_wait');
my $lw = $node->safe_psql('postgres',
	"SELECT relname || ' ' || (details->'blockers'->0->>'pid') || ' ' || (details->>'pid')"
	  . " || ' ' || (details ? 'blocked_queryid')::text"
	  . " FROM nadia_bgw.alerts WHERE kind = 'lock_wait' AND state = 'open'");
is($lw, "public.locked $idle_pid $waiter_pid true", 'lock wait names the relation, blocker and blocked');
$idle->query_safe('COMMIT');
$waiter->quit;
$idle->quit;
detect($node, 'SET nadia_bgw.lock_wait_seconds = 1; SET nadia_bgw.idle_in_transaction_seconds = 1')
  for 1 .. 3;
is(alert_count($node, "kind IN ('lock_wait', 'idle_in_transaction') AND state = 'open'"), 0,
	'lock wait and idle alerts resolve when the transaction ends');

# --- a long active transaction
my $long = $node->background_psql('postgres', on_error_stop => 0);
my $long_pid = $long->query_safe('SELECT pg_backend_pid()');
$long->query_until(qr/sleeping/, "\\echo sleeping\nSELECT pg_sleep(600);\n");
is(kinds_opened('SET nadia_bgw.long_running_seconds = 3600'), '',
	'a young transaction: no alert');
detect_until('SET nadia_bgw.long_running_seconds = 1', 'long_transaction');
is( $node->safe_psql('postgres',
		"SELECT details->>'pid' FROM nadia_bgw.alerts WHERE kind = 'long_transaction' AND state = 'open'"),
	$long_pid, 'the long transaction is named');
$node->safe_psql('postgres', "SELECT pg_cancel_backend($long_pid)");
$node->poll_query_until('postgres', "SELECT state = 'idle' FROM pg_stat_activity WHERE pid = $long_pid");
$long->quit;
detect($node, 'SET nadia_bgw.long_running_seconds = 1') for 1 .. 3;
is(alert_count($node, "kind = 'long_transaction' AND state = 'open'"), 0,
	'long transaction alert resolves');

# --- retained WAL: a slot nobody consumes
$node->safe_psql('postgres', "SELECT pg_create_physical_replication_slot('lagging', true)");
$node->safe_psql('postgres',
	"CREATE TABLE filler AS SELECT g, repeat('x', 200) AS pad FROM generate_series(1, 20000) g");
is(kinds_opened(''), '', 'retained WAL under the default 1GB: no alert');
@ev = detect($node, "SET nadia_bgw.retained_wal = '1MB'");
ok((grep { $_ eq 'opened|retained_wal|replication slot lagging' } @ev), 'retained WAL above 1MB opens an alert')
  or diag(join "\n", @ev);
$node->safe_psql('postgres', "SELECT pg_drop_replication_slot('lagging')");
detect($node, "SET nadia_bgw.retained_wal = '1MB'") for 1 .. 3;
is(alert_count($node, "kind = 'retained_wal' AND state = 'open'"), 0, 'resolved when the slot is gone');

# --- wraparound: burn transaction IDs past a (very low) threshold
my $age = $node->safe_psql('postgres',
	"SELECT age(datfrozenxid) FROM pg_database WHERE datname = 'postgres'");
my $burn = pgbench_script($node, 'burn', "SELECT txid_current();\n");
is(kinds_opened("SET nadia_bgw.xid_age_warning = 100000; SET nadia_bgw.xid_age_critical = 200000"),
	'', 'young database: no wraparound alert');
run_pgbench($node, 'postgres', $burn, 1500);
@ev = detect($node, "SET nadia_bgw.xid_age_warning = " . ($age + 1000)
	  . "; SET nadia_bgw.xid_age_critical = 2000000000");
ok((grep { $_ eq 'opened|wraparound|database postgres' } @ev), 'xid age above the threshold opens an alert')
  or diag(join "\n", @ev);
is( $node->safe_psql('postgres',
		"SELECT severity || ' ' || metric || ' ' || (details->'oldest_tables' IS NOT NULL)::text"
		  . " FROM nadia_bgw.alerts WHERE alert_key LIKE 'wraparound:%' AND object = 'database postgres'"),
	'warning xid_age true', 'warning with the oldest tables of this database');
@ev = detect($node, "SET nadia_bgw.xid_age_warning = " . ($age + 1000)
	  . "; SET nadia_bgw.xid_age_critical = " . ($age + 1000));
ok((grep { $_ eq 'escalated|wraparound|database postgres' } @ev), 'past the critical age it escalates')
  or diag(join "\n", @ev);

$node->stop;
done_testing();
