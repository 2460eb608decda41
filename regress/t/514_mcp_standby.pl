# 514_mcp_standby.pl -- nadia-mcp on a streaming standby (docs/security.md,
# section 3).
#
# The concurrency slots are the views nadia_bgw.mcp_slot_N, locked in
# SHARE UPDATE EXCLUSIVE mode; a standby allows no lock mode above ROW
# EXCLUSIVE, so there nadia-mcp falls back to the advisory locks of 1.0,
# with a warning.  Served from a standby with the reader role: the check
# passes, tools answer, the warning is on stderr, and the limit still
# limits (another reader's session holding the only slot makes a call
# answer "rate limited").  The fallback ends without a reconnection: after
# a promotion, or ALTER EXTENSION nadia_bgw UPDATE of a 1.0 database, a
# running nadia-mcp takes the slot views from its next call, so a role with
# no grant holding the 1.0 keys blocks nothing.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NadiaTest;
use NadiaMcp;

my $primary = nadia_node('primary', allows_streaming => 1);
my $role = mcp_make_role($primary);
my $other = mcp_make_role($primary, 'postgres', 'nadia_mcp_2');
$primary->safe_psql('postgres', 'SELECT nadia_bgw.take_sample()');
$primary->backup('b1');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'b1', has_streaming => 1);
$standby->start;
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 't', 'the standby is in recovery');
my $conn = mcp_conninfo($standby, $role);

# why the fallback: the slot views cannot be locked during recovery
my ($ret, $out, $err) = $standby->psql('postgres',
	'BEGIN READ ONLY; SELECT nadia_bgw.mcp_take_slot(1); COMMIT',
	extra_params => [ '-U', $other ]);
like($err, qr/cannot execute LOCK TABLE during recovery/,
	'mcp_take_slot() fails on the standby');

my ($o, $e);
IPC::Run::run([ mcp_bin(), '--check', $conn ], '<', \undef, '>', \$o, '2>', \$e,
	IPC::Run::timeout(60));
is($? >> 8, 0, '--check against the standby passes') or diag($e);
like($o, qr/checks passed/, '... checks passed');

my $s = mcp_start($conn, '--max-concurrent=1');
$s->initialize;
for my $tool (qw(table_stats alerts replication_lag))
{
	my $r = $s->call($tool);
	ok(!$r->{result}{isError}, "$tool answers on the standby") or diag(explain($r));
}

# call_while_key_held(SESSION, DB, USER): a table_stats call made while a
# session of USER holds key 1 of the advisory class: what a call of another
# nadia-mcp holds in the fallback, and what any role can hold
sub call_while_key_held
{
	my ($session, $db, $user) = @_;
	my $h = $standby->background_psql($db, extra_params => [ '-U', $user ]);
	$h->query_safe('SELECT pg_advisory_lock(1312899145, 1)');
	my $r = $session->call('table_stats');
	$h->quit;
	return $r;
}

my $r = call_while_key_held($s, 'postgres', $other);
ok($r->{result}{isError}, 'the only slot held by another reader: isError');
like($r->{result}{content}[0]{text}, qr/rate limited: 1 tool calls are already running/,
	'... rate limited');
is($r->{result}{_meta}{retryAfterSeconds}, 1, '... retryAfterSeconds 1');
$r = $s->call('table_stats');
ok(!$r->{result}{isError}, 'slot freed by the other reader: served') or diag(explain($r));
$s->finish;
like($s->stderr,
	qr/warning: the server is a standby, where the slot views cannot be locked: the concurrency limit falls back to advisory locks/,
	'stderr says the limit falls back to advisory locks');
is(() = $s->stderr =~ /falls back/g, 1, '... once');

# promoted while a nadia-mcp is connected: from its next call on, the
# slots are the views again, which a role with no grant cannot take
$s = mcp_start($conn, '--max-concurrent=1');
$s->initialize;
$r = $s->call('table_stats');
ok(!$r->{result}{isError}, 'a second nadia-mcp serves from the standby');
$primary->safe_psql('postgres', 'CREATE ROLE intruder LOGIN');
$primary->wait_for_catchup($standby);
$primary->stop('fast');
$standby->promote;
$r = call_while_key_held($s, 'postgres', 'intruder');
ok(!$r->{result}{isError}, 'promoted: a role with no grant holding the 1.0 key does not block the running nadia-mcp')
  or diag(explain($r));
$s->finish;
like($s->stderr, qr/the slot views can be locked now \(server promoted, or extension updated\)/,
	'... stderr says the limit uses the slot views again');

# the same without a promotion: a database updated from 1.0 under a
# running nadia-mcp
$standby->safe_psql('postgres', 'CREATE DATABASE old10');
$standby->safe_psql('old10', q{CREATE EXTENSION nadia_bgw VERSION '1.0'});
$s = mcp_start(mcp_conninfo($standby, $role, 'old10'), '--max-concurrent=1');
$s->initialize;
$r = $s->call('table_stats');
ok(!$r->{result}{isError}, '1.0 database: served (advisory locks)') or diag(explain($r));
$standby->safe_psql('old10', 'ALTER EXTENSION nadia_bgw UPDATE');
$r = call_while_key_held($s, 'old10', 'intruder');
ok(!$r->{result}{isError}, 'updated under the running nadia-mcp: the 1.0 key held by a role with no grant does not block')
  or diag(explain($r));
$s->finish;
is(() = $s->stderr =~ /falls back/g, 1, '... one fallback warning, at the connection');
like($s->stderr, qr/the slot views can be locked now/, '... then the switch to the views');

# a nadia-mcp started after the promotion: the slot views, and no warning
$s = mcp_start($conn, '--max-concurrent=1');
$s->initialize;
$r = call_while_key_held($s, 'postgres', $other);
ok(!$r->{result}{isError}, 'promoted: an advisory lock no longer takes the slot') or diag(explain($r));
$s->finish;
unlike($s->stderr, qr/falls back|can be locked now/, '... and no warning');

$standby->stop('fast');
done_testing();
