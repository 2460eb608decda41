# 702_plan_concurrent_counts.pl -- the plan store's counters are added to
# without a lock (atomics, docs/plans.md "Overhead"): several sessions
# running the same plan at once must still give exact totals once their
# executions have ended -- N clients x M executions = calls, and the same
# for rows, sampled calls; min <= max, first seen <= last seen.  Both
# protocols: prepared (one plan per session, its id from the memo) and
# simple (a new plan tree at each execution).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use NadiaTest;

my $clients = 6;
my $xacts = 400;

my $node = nadia_node('plan_concurrent',
	conf => "nadia_bgw.interval = 3600\nnadia_bgw.plan_sample_rate = 0\n"
	  . "nadia_bgw.plan_sample_min_duration = -1\nmax_connections = 30\n");
$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_stat_statements;
	CREATE TABLE c (id int PRIMARY KEY, v int);
	INSERT INTO c SELECT i, i % 7 FROM generate_series(1, 1000) i;
	ANALYZE c;
});

# pgbench with CLIENTS sessions at once, XACTS transactions each
sub bench
{
	my ($name, $text, @opts) = @_;
	my $path = $node->basedir . "/$name.sql";
	open my $fh, '>', $path or die "cannot write $path: $!";
	print $fh $text;
	close $fh;
	my ($out, $err);
	IPC::Run::run(
		[
			'pgbench', '-n', '-c', $clients, '-j', 2, '-t', $xacts, @opts,
			'-f', $path, '-h', $node->host, '-p', $node->port, 'postgres'
		],
		'>', \$out, '2>', \$err) or die "pgbench failed: $err";
	return;
}

# the store's row(s) of the statements whose text is like PATTERN
sub counts_of
{
	my ($pattern) = @_;
	return $node->safe_psql('postgres', qq{
		SELECT count(*), sum(p.calls), sum(p.rows), sum(p.sampled_calls),
		       bool_and(p.min_exec_time <= p.max_exec_time
		                AND p.total_exec_time >= p.max_exec_time),
		       bool_and(p.first_seen <= p.last_seen)
		FROM nadia_bgw._plan_store(false) p
		JOIN pg_stat_statements s USING (dbid, userid, queryid)
		WHERE s.query LIKE '$pattern'});
}

my $n = $clients * $xacts;

# 3 rows per execution (ids 10..12), no sampling
bench('prepared', "SELECT id FROM c WHERE id BETWEEN 10 AND 12;\n",
	'-M', 'prepared');
is(counts_of('SELECT id FROM c WHERE id BETWEEN $1 AND $2'),
	"1|$n|" . (3 * $n) . "|0|t|t",
	"$clients sessions x $xacts prepared executions at once: exact calls and rows, one plan");

# every execution sampled (row instrumentation and the sampled nodes
# written under the store's lock while the others count)
bench('sampled', "SET nadia_bgw.plan_sample_rate = 1;\n"
	  . "SELECT v FROM c WHERE id = 5;\n");
is(counts_of('SELECT v FROM c WHERE id = $1'),
	"1|$n|$n|$n|t|t",
	"$clients sessions x $xacts sampled simple-protocol executions: exact calls, rows and sampled calls");

is($node->safe_psql('postgres',
		'SELECT not_tracked, texts_dropped FROM nadia_bgw._plan_store_info()'),
	'0|0', 'nothing untracked, no text dropped');

$node->stop;
done_testing();
