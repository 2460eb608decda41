# 512_mcp_reconnect.pl -- the privilege check runs on every connection, not
# only at start.  With a multi-host connection string (host=a,b) libpq
# reconnects to the second host when the first goes away; there the same
# role name can be anything (here a superuser).  1.0 served from it
# without checking; now the call is refused until a connection passes the
# check, and served again once one does.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NadiaTest;
use NadiaMcp;

my $first = nadia_node('mcp_host_a');
my $second = nadia_node('mcp_host_b');
mcp_make_role($first, 'postgres', 'nadia_mcp');
# on the second server the same name is a superuser
$second->safe_psql('postgres', 'CREATE ROLE nadia_mcp LOGIN SUPERUSER');

my $conninfo = sprintf('host=%s,%s port=%d,%d dbname=postgres user=nadia_mcp',
	$first->host, $second->host, $first->port, $second->port);

my $s = mcp_start($conninfo);
$s->initialize;
my $r = $s->call('table_stats');
ok(!$r->{result}{isError}, 'served from the first host, whose role passes the check')
  or diag(explain($r));

# the first host goes away: the next call lands on the second
$first->stop;
$r = $s->call('table_stats');
ok($r->{result}{isError}, 'after failing over to the second host: isError, not an answer')
  or diag(explain($r));
like($r->{result}{content}[0]{text},
	qr/table_stats refused: the new connection \(role "nadia_mcp" in database "postgres" on host \S+ port ${\ $second->port }\) did not pass nadia-mcp's privilege check/,
	'... saying the new connection did not pass the check');
ok(!exists $r->{result}{structuredContent}, '... with no rows');
$r = $s->call('alerts');
ok($r->{result}{isError}, 'the next call is refused too (it connects and checks again)');
is($s->request('ping')->{result} ? 1 : 0, 1, 'the server itself still answers ping');

# the first host is back: the next call reconnects from it, passes, answers
$first->start;
$r = $s->call('table_stats');
ok(!$r->{result}{isError}, 'served again once a connection passes the check')
  or diag(explain($r));
# (a server started by this script holds the server's stdin open: stop it
# before closing that stdin)
$first->stop;
is($s->finish, 0, 'exit 0');
my $err = $s->stderr;
like($err, qr/refusing to serve: role "nadia_mcp" in database "postgres" on host \S+ port ${\ $second->port } can do more than read nadia_bgw history:\n.*role nadia_mcp is a superuser/s,
	'stderr says why the second host was refused');
like($err, qr/reconnected: role "nadia_mcp" in database "postgres" on host \S+ port ${\ $first->port }, checks passed/,
	'stderr says the first host passed again');

# at start, when the first host is down, the second is checked as well
my ($o, $e);
IPC::Run::run([ mcp_bin(), '--check', $conninfo ], '<', \undef, '>', \$o, '2>', \$e,
	IPC::Run::timeout(60));
is($? >> 8, 2, '--check against the second host: refused');
like($e, qr/role nadia_mcp is a superuser/, '... naming the problem');

$second->stop;
done_testing();
