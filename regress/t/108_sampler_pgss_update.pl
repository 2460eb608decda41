# 108_sampler_pgss_update.pl -- pg_stat_statements updated, dropped or
# re-created while the worker runs: the worker's next sample reads the new
# function (its OID and columns), without a restart.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NadiaTest;

my $node = nadia_node('pgss_update', conf => "nadia_bgw.interval = 3600\n");

# the version before this server's default, so that the update changes
# the function (1.9 -> 1.10 on 15, 1.10 -> 1.11 on 17, 1.11 -> 1.12 on 18)
my $default = $node->safe_psql('postgres',
	"SELECT default_version FROM pg_available_extensions WHERE name = 'pg_stat_statements'");
my $older = $node->safe_psql('postgres',
	"SELECT version FROM pg_available_extension_versions WHERE name = 'pg_stat_statements'"
	  . " AND string_to_array(version, '.')::int[] < string_to_array('$default', '.')::int[]"
	  . " ORDER BY string_to_array(version, '.')::int[] DESC LIMIT 1");
isnt($older, '', "an older pg_stat_statements than $default exists ($older)");
$node->safe_psql('postgres', "CREATE EXTENSION pg_stat_statements VERSION '$older'");
$node->safe_psql('postgres', 'CREATE TABLE t (id int PRIMARY KEY)');
my $pid = worker_pid($node);

# sample_ok(NAME): a worker cycle whose sample read statements, and the
# inserts since the last cycle are in statement history
my $n = 0;
sub sample_ok
{
	my ($name) = @_;
	$node->safe_psql('postgres', "INSERT INTO t VALUES (" . ++$n . ")") for 1 .. 3;
	$node->safe_psql('postgres', 'SELECT pg_stat_force_next_flush()');
	ok(wake($node), "$name: cycle ran");
	is( $node->safe_psql('postgres',
			"SELECT coalesce(outcome->>'statements', 'missing') || ' ' || coalesce(failed_sources::text, '{}')"
			  . " FROM nadia_bgw.samples ORDER BY sample_id DESC LIMIT 1"),
		'ok {}', "$name: statements sampled, no failed source");
}

sample_ok("pg_stat_statements $older");
sample_ok("pg_stat_statements $older, again");
is( $node->safe_psql('postgres',
		"SELECT sum(calls) FROM nadia_bgw.statement_history WHERE query LIKE 'INSERT INTO t VALUES%'"),
	'3', 'the interval between two samples has its three inserts');

$node->safe_psql('postgres', 'ALTER EXTENSION pg_stat_statements UPDATE');
is($node->safe_psql('postgres',
		"SELECT extversion FROM pg_extension WHERE extname = 'pg_stat_statements'"),
	$default, "updated to $default");
sample_ok('after ALTER EXTENSION pg_stat_statements UPDATE');

$node->safe_psql('postgres', 'DROP EXTENSION pg_stat_statements');
$node->safe_psql('postgres', 'CREATE EXTENSION pg_stat_statements');
sample_ok('after DROP and CREATE EXTENSION pg_stat_statements');
sample_ok('the next cycle');

# no negative delta came out of the function changing under the sampler
is($node->safe_psql('postgres',
		"SELECT count(*) FROM nadia_bgw.statement_history WHERE calls < 0"),
	'0', 'no negative statement delta');
is(worker_pid($node), $pid, 'the worker was not restarted');

$node->stop;
done_testing();
