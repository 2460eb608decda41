# NadiaTest.pm -- helpers for the nadia_bgw TAP tests: clusters with the
# extension preloaded, waiting on worker cycles, reading the status view.
package NadiaTest;

use strict;
use warnings;
use Exporter 'import';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

our @EXPORT = qw(nadia_node wake status_of worker_pid wait_until
  log_count log_since);

# nadia_node(NAME, conf => "extra lines", extension => 0|1, db => 'postgres',
#            allows_streaming => 0|1)
# A started cluster whose postgresql.conf preloads nadia_bgw (the driver's
# TEMP_CONFIG) plus the given lines; the extension is created unless told.
sub nadia_node
{
	my ($name, %opt) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(allows_streaming => $opt{allows_streaming} // 0);
	$node->append_conf('postgresql.conf', $opt{conf}) if $opt{conf};
	$node->start;
	if ($opt{extension} // 1)
	{
		$node->safe_psql($opt{db} // 'postgres', 'CREATE EXTENSION nadia_bgw');
		wait_until($node, "SELECT worker_pid IS NOT NULL FROM nadia_bgw.status LIMIT 1",
			db => $opt{db});
	}
	return $node;
}

# wake(NODE): run one whole cycle now; true when it ran.
sub wake
{
	my ($node, %opt) = @_;
	return $node->safe_psql($opt{db} // 'postgres',
		'SELECT nadia_bgw.wake(wait => true, timeout_ms => 60000)') eq 't';
}

# status_of(NODE, TASK, COLUMN): one column of a task's row.
sub status_of
{
	my ($node, $task, $col, %opt) = @_;
	return $node->safe_psql($opt{db} // 'postgres',
		"SELECT $col FROM nadia_bgw.status WHERE task = '$task'");
}

sub worker_pid
{
	my ($node, %opt) = @_;
	return $node->safe_psql($opt{db} // 'postgres',
		"SELECT pid FROM pg_stat_activity WHERE backend_type = 'nadia_bgw worker'");
}

# wait_until(NODE, SQL returning one boolean): poll until true; dies (so the
# test fails) after the default TAP timeout.  poll_query_until feeds the query
# on psql's stdin; while the cluster is in crash recovery psql may refuse the
# connection and exit before that write, and IPC::Run then dies with EPIPE
# instead of letting the poll go on.  That is the poll racing a restart, not
# an answer, so it is retried (a bounded number of times).
sub wait_until
{
	my ($node, $sql, %opt) = @_;
	for my $try (1 .. 30)
	{
		my $ok = eval { $node->poll_query_until($opt{db} // 'postgres', $sql) };
		if (defined $ok)
		{
			$ok or die "timed out waiting for: $sql";
			return 1;
		}
		die $@ unless $@ =~ /Broken pipe/;
		sleep 1;
	}
	die "wait_until: psql kept breaking its pipe while waiting for: $sql";
}

# log_since(NODE, OFFSET): what the server log gained after OFFSET bytes.
sub log_since
{
	my ($node, $offset) = @_;
	return substr(slurp_file($node->logfile), $offset // 0);
}

# log_count(NODE, REGEX, OFFSET): how many lines of the log match.
sub log_count
{
	my ($node, $re, $offset) = @_;
	my @m = grep { /$re/ } split /\n/, log_since($node, $offset);
	return scalar @m;
}

1;
