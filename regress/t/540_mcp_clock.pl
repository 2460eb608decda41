# 540_mcp_clock.pl -- a duration "since" counts back from the server's
# clock, not from the clock of the host nadia-mcp runs on: history rows
# carry the server's times, so a client whose clock is off (another host,
# or libfaketime) must still see the last hour as the server's last hour.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NadiaTest;
use NadiaMcp;

my $faketime = $ENV{FAKETIME_LIB} // '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
plan skip_all => "no libfaketime ($faketime)" unless -r $faketime;

my $node = nadia_node('mcp_clock');
$node->safe_psql('postgres', 'SELECT nadia_bgw.take_sample()');
$node->safe_psql('postgres',
	'CREATE TABLE t AS SELECT g FROM generate_series(1, 1000) g');
$node->safe_psql('postgres', 'SELECT count(*) FROM t');
$node->safe_psql('postgres', 'SELECT pg_stat_force_next_flush()');
$node->safe_psql('postgres', 'SELECT nadia_bgw.take_sample()');
my $conn = mcp_conninfo($node, mcp_make_role($node));

# rows of io_stats since "2h", from a nadia-mcp whose clock is shifted
sub io_rows
{
	my ($shift) = @_;
	local $ENV{LD_PRELOAD} = $faketime;
	local $ENV{FAKETIME} = $shift;
	local $ENV{FAKETIME_DONT_FAKE_MONOTONIC} = 1;
	my $s = mcp_start($conn);
	$s->initialize('2025-06-18');
	my $r = $s->call('io_stats', { since => '2h' });
	$s->finish;
	ok(!$r->{result}{isError}, "io_stats answers with the client's clock at $shift")
	  or diag(explain($r));
	return scalar @{ $r->{result}{structuredContent}{rows} // [] };
}

my $same = io_rows('+0d');
cmp_ok($same, '>', 0, 'same clocks: the last two hours have I/O');
is(io_rows('+30d'), $same, 'client clock 30 days ahead: the same hours');
is(io_rows('-30d'), $same, 'client clock 30 days behind: the same hours');

$node->stop;
done_testing();
