# 510_mcp_security.pl -- least privilege, enforced twice.  The documented
# role (CREATE ROLE ... LOGIN IN ROLE nadia_bgw_reader) can read history
# and nothing else; nadia-mcp refuses at start any role that can do more,
# naming the problem; every call is a read-only transaction with
# statement_timeout; limits answer isError with a retry-after.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NadiaTest;
use NadiaMcp;

my $node = nadia_node('mcp_security', conf => "log_min_duration_statement = -1\n");
$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_stat_statements;
	CREATE TABLE public.interactions (id int PRIMARY KEY, user_message text);
	INSERT INTO public.interactions VALUES (1, 'hello');
	CREATE SEQUENCE public.app_seq;
});
my $role = mcp_make_role($node);
my $conn = mcp_conninfo($node, $role);

# --- the role's own grants ------------------------------------------------
my ($ret, $out, $err) = $node->psql('postgres', 'SELECT * FROM public.interactions',
	extra_params => [ '-U', $role ]);
like($err, qr/permission denied for table interactions/, 'reader role: SELECT interactions denied');
($ret, $out, $err) = $node->psql('postgres', "INSERT INTO nadia_bgw.samples (sampled_at, duration_ms, taken_by, outcome) VALUES (now(), 0, 'x', '{}')",
	extra_params => [ '-U', $role ]);
like($err, qr/permission denied/, 'reader role: INSERT into history denied');
($ret, $out, $err) = $node->psql('postgres', 'DELETE FROM nadia_bgw.statements',
	extra_params => [ '-U', $role ]);
like($err, qr/permission denied/, 'reader role: DELETE from history denied');
($ret, $out, $err) = $node->psql('postgres', 'SELECT nadia_bgw.wake()',
	extra_params => [ '-U', $role ]);
like($err, qr/permission denied for function wake/, 'reader role: wake() denied');
($ret, $out, $err) = $node->psql('postgres', 'SELECT nadia_bgw.take_sample()',
	extra_params => [ '-U', $role ]);
like($err, qr/permission denied for function take_sample/, 'reader role: take_sample() denied');
($ret, $out, $err) = $node->psql('postgres', 'CREATE TABLE public.x (a int)',
	extra_params => [ '-U', $role ]);
like($err, qr/permission denied for schema public/, 'reader role: CREATE TABLE denied');
($ret, $out, $err) = $node->psql('postgres', "SELECT nextval('public.app_seq')",
	extra_params => [ '-U', $role ]);
like($err, qr/permission denied for sequence app_seq/, 'reader role: nextval denied');
is($node->safe_psql('postgres', 'SELECT count(*) >= 0 FROM nadia_bgw.statement_history',
	extra_params => [ '-U', $role ]), 't', 'reader role: history readable');

# --- the start-up check -----------------------------------------------------
sub starts
{
	my ($conninfo) = @_;
	my ($o, $e);
	my $input = '{"jsonrpc":"2.0","id":1,"method":"ping"}' . "\n";
	IPC::Run::run([ mcp_bin(), $conninfo ], '<', \$input, '>', \$o, '2>', \$e,
		IPC::Run::timeout(60));
	return ($? >> 8, $o, $e);
}

my ($rc, $o, $e) = starts($conn);
is($rc, 0, 'the documented role is served');
like($o, qr/"result":\{\}/, '... and answers');

($rc, $o, $e) = starts(mcp_conninfo($node, 'postgres'));
is($rc, 2, 'superuser refused (exit 2)');
like($e, qr/role postgres is a superuser/, '... naming the problem');
is($o, '', '... before writing anything to stdout');

my %cases = (
	'reader + SELECT on interactions' =>
	  [ 'GRANT SELECT ON public.interactions TO %s', qr/can read application table public\.interactions/ ],
	'reader + SELECT on one column' =>
	  [ 'GRANT SELECT (id) ON public.interactions TO %s', qr/can read application table public\.interactions/ ],
	'reader + pg_read_all_stats' =>
	  [ 'GRANT pg_read_all_stats TO %s', qr/member of pg_read_all_stats/ ],
	'reader + pg_monitor' =>
	  [ 'GRANT pg_monitor TO %s', qr/member of pg_read_all_stats|member of pg_monitor/ ],
	'reader + pg_read_all_data' =>
	  [ 'GRANT pg_read_all_data TO %s', qr/member of pg_read_all_data/ ],
	'reader + pg_write_all_data' =>
	  [ 'GRANT pg_write_all_data TO %s', qr/member of pg_write_all_data/ ],
	'reader + INSERT on a history table' =>
	  [ 'GRANT INSERT ON nadia_bgw.samples TO %s', qr/can write to nadia_bgw\.samples/ ],
	'reader + UPDATE on an application table' =>
	  [ 'GRANT UPDATE (user_message) ON public.interactions TO %s', qr/can write to public\.interactions/ ],
	'reader + USAGE on a sequence' =>
	  [ 'GRANT USAGE ON SEQUENCE public.app_seq TO %s', qr/can advance sequence public\.app_seq/ ],
	'reader + CREATE on schema public' =>
	  [ 'GRANT CREATE ON SCHEMA public TO %s', qr/can create objects in schema public/ ],
	'reader + CREATE on the database' =>
	  [ 'GRANT CREATE ON DATABASE postgres TO %s', qr/can create objects in database postgres/ ],
	'reader + EXECUTE wake()' =>
	  [ 'GRANT EXECUTE ON FUNCTION nadia_bgw.wake(boolean, integer) TO %s', qr/can execute nadia_bgw\.wake\(boolean,integer\), which nadia_bgw_reader cannot/ ],
	'reader + EXECUTE pg_read_file' =>
	  [ 'GRANT EXECUTE ON FUNCTION pg_read_file(text) TO %s', qr/can execute pg_read_file\(text\), which is not granted to PUBLIC/ ],
	'reader + BYPASSRLS' =>
	  [ 'ALTER ROLE %s BYPASSRLS', qr/bypasses row-level security/ ],
	'reader + CREATEROLE' =>
	  [ 'ALTER ROLE %s CREATEROLE', qr/can create roles/ ],
	'not in nadia_bgw_reader' =>
	  [ 'REVOKE nadia_bgw_reader FROM %s', qr/is not a member of nadia_bgw_reader/ ],
);
my $i = 0;
for my $case (sort keys %cases)
{
	my ($sql, $re) = @{ $cases{$case} };
	my $r = 'mcp_case_' . $i++;
	mcp_make_role($node, 'postgres', $r);
	$node->safe_psql('postgres', sprintf($sql, $r));
	($rc, $o, $e) = starts(mcp_conninfo($node, $r));
	is($rc, 2, "refused: $case");
	like($e, $re, "... message names it");
}

# a role reading the application through a SECURITY DEFINER function
$node->safe_psql('postgres', q{
	CREATE FUNCTION public.peek() RETURNS text LANGUAGE sql SECURITY DEFINER
	AS 'SELECT user_message FROM public.interactions LIMIT 1';
});
($rc, $o, $e) = starts($conn);
is($rc, 2, 'refused while an application SECURITY DEFINER function is executable');
like($e, qr/SECURITY DEFINER function public\.peek\(\)/, '... named');
$node->safe_psql('postgres', 'REVOKE EXECUTE ON FUNCTION public.peek() FROM PUBLIC');
($rc, $o, $e) = starts($conn);
is($rc, 0, 'served again once EXECUTE is revoked from PUBLIC');

# no nadia_bgw in the database
$node->safe_psql('postgres', 'CREATE DATABASE other');
($rc, $o, $e) = starts(mcp_conninfo($node, $role, 'other'));
is($rc, 2, 'a database without the extension is refused');
like($e, qr/extension nadia_bgw is not installed in database other/, '... named');

# --- every call: read-only transaction, statement_timeout --------------------
$node->safe_psql('postgres', "ALTER ROLE $role SET log_statement = 'all'");
my $offset = -s $node->logfile;
my $s = mcp_start($conn, '--statement-timeout=700');
$s->initialize;
my $r = $s->call('table_stats');
ok(!$r->{result}{isError}, 'table_stats answers');
is($s->finish, 0, 'exit 0');
my $log = log_since($node, $offset);
like($log, qr/BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET LOCAL statement_timeout = 700/,
	'the call ran in a read-only transaction with the statement timeout');
like($log, qr/SET default_transaction_read_only = on/, 'the session is read-only by default too');
my @stmts = map { split /;\s*/ }
  ($log =~ /LOG:  (?:statement|execute [^:]+): (.*?)(?=\n\S+ \S+ UTC \[|\z)/sg);
cmp_ok(scalar @stmts, '>=', 8, 'statements of nadia-mcp found in the log');
is(join(', ', grep { !/^\s*(?:SET|SELECT|WITH|BEGIN|ROLLBACK)\b/i } @stmts), '',
	'every statement nadia-mcp sent is SET, SELECT, WITH, BEGIN or ROLLBACK');
$node->safe_psql('postgres', "ALTER ROLE $role RESET log_statement");

# a history table locked by someone else: the call is cancelled by the timeout
my $locker = $node->background_psql('postgres');
$locker->query_safe('BEGIN; LOCK TABLE nadia_bgw.table_state IN ACCESS EXCLUSIVE MODE');
$s = mcp_start($conn, '--statement-timeout=500');
$s->initialize;
$r = $s->call('table_stats');
ok($r->{result}{isError}, 'blocked call: isError');
like($r->{result}{content}[0]{text}, qr/statement timeout of 500 ms/, '... after the statement timeout');
$r = $s->request('ping');
ok($r->{result}, 'still serving');
$locker->query_safe('ROLLBACK');
$r = $s->call('table_stats');
ok(!$r->{result}{isError}, 'answers again once the lock is gone');
$s->finish;

# --- rate limits ---------------------------------------------------------------
$s = mcp_start($conn, '--rate-per-minute=3');
$s->initialize;
my @res = map { $s->call('replication_lag') } 1 .. 4;
is(scalar(grep { !$_->{result}{isError} } @res[0..2]), 3, 'three calls a minute admitted');
ok($res[3]{result}{isError}, 'the fourth: isError');
like($res[3]{result}{content}[0]{text}, qr/rate limited: .*3 tool calls a minute.*retry after \d+ s/,
	'... says the limit and when to retry');
my $ra = $res[3]{result}{_meta}{retryAfterSeconds};
ok($ra >= 1 && $ra <= 60, "... retryAfterSeconds in _meta ($ra)");
is($s->request('ping')->{result} ? 1 : 0, 1, 'ping is not rate limited');
$s->finish;

$s = mcp_start($conn, '--heavy-per-hour=1', '--rate-per-minute=0');
$s->initialize;
$r = $s->call('cost_analysis');
ok(!($r->{result}{isError} && $r->{result}{content}[0]{text} =~ /rate limited/), 'first heavy call admitted');
$r = $s->call('query_stats');
like($r->{result}{content}[0]{text}, qr/rate limited: .*1 heavy tool calls an hour/, 'second heavy call in the hour: refused');
cmp_ok($r->{result}{_meta}{retryAfterSeconds}, '>', 60, '... retry after most of an hour');
$r = $s->call('table_stats');
ok(!$r->{result}{isError}, 'light tools still answer');
$s->finish;

# concurrency slots: 513_mcp_slots.pl
$locker->quit;

$node->stop;
done_testing();
