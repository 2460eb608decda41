# NadiaMaint.pm -- helpers for the maintenance TAP tests (t/3xx): settings
# changed by reload, churned tables, and the jobs of a table in
# nadia_bgw.maintenance_history.
package NadiaMaint;

use strict;
use warnings;
use Exporter 'import';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use NadiaTest;

our @EXPORT = qw(set_conf reset_conf make_table churn_rows last_job wait_job_end wait_job_held);

# set_conf(NODE, NAME => VALUE, ...): ALTER SYSTEM and reload, then wait
# until the server shows each value (in the setting's base unit, as
# pg_settings.setting shows it).
sub set_conf
{
	my ($node, %kv) = @_;
	$node->safe_psql('postgres', "ALTER SYSTEM SET $_ = '$kv{$_}'") for sort keys %kv;
	$node->safe_psql('postgres', 'SELECT pg_reload_conf()');
	wait_until($node, "SELECT setting = '$kv{$_}' FROM pg_settings WHERE name = '$_'")
	  for sort keys %kv;
}

# reset_conf(NODE, NAME, ...): back to the configuration file's value.
sub reset_conf
{
	my ($node, @names) = @_;
	$node->safe_psql('postgres', "ALTER SYSTEM RESET $_") for @names;
	$node->safe_psql('postgres', 'SELECT pg_reload_conf()');
}

# make_table(NODE, NAME, ROWS): a table of ROWS rows, analyzed, that
# autovacuum leaves alone.
sub make_table
{
	my ($node, $name, $rows) = @_;
	$node->safe_psql('postgres',
		"CREATE TABLE $name (id int PRIMARY KEY, v int, pad text)
		   WITH (autovacuum_enabled = off);
		 INSERT INTO $name SELECT g, 0, repeat('x', 50) FROM generate_series(1, $rows) g;");
	$node->safe_psql('postgres', "ANALYZE $name");
}

# churn_rows(NODE, NAME, FROM, TO): update rows FROM..TO, one dead tuple
# each, flushed to the statistics.
sub churn_rows
{
	my ($node, $name, $from, $to) = @_;
	$node->safe_psql('postgres',
		"UPDATE $name SET v = v + 1 WHERE id BETWEEN $from AND $to;
		 SELECT pg_stat_force_next_flush();");
}

# last_job(NODE, NAME, COLUMNS): columns of the table's latest job.
sub last_job
{
	my ($node, $name, $cols) = @_;
	return $node->safe_psql('postgres',
		"SELECT $cols FROM nadia_bgw.maintenance_history
		  WHERE relname = '$name' ORDER BY id DESC LIMIT 1");
}

# wait_job_end(NODE, NAME): wait until the table has a job and none is
# queued or running; the latest one's outcome.
sub wait_job_end
{
	my ($node, $name) = @_;
	wait_until($node,
		"SELECT EXISTS (SELECT 1 FROM nadia_bgw.maintenance_history WHERE relname = '$name')
		    AND NOT EXISTS (SELECT 1 FROM nadia_bgw.maintenance_history
		                     WHERE relname = '$name' AND outcome IN ('queued', 'running'))");
	return last_job($node, $name, 'outcome');
}

# wait_job_held(NODE, NAME): wait until the table's job runs and waits
# before its statement (nadia_bgw.debug_maintenance_job_delay: wait event
# "Extension"), where it takes signals.
sub wait_job_held
{
	my ($node, $name) = @_;
	wait_until($node,
		"SELECT EXISTS (SELECT 1 FROM nadia_bgw.maintenance_history h
		                  JOIN pg_stat_activity a ON a.pid = h.pid
		                 WHERE h.relname = '$name' AND h.outcome = 'running'
		                   AND a.wait_event_type = 'Extension')");
}

1;
