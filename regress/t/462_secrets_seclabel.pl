# 462_secrets_seclabel.pl -- SECURITY LABEL ... IS '<secret>' in another
# session never reaches what nadia_bgw stores or shows (docs/security.md,
# section 2).
#
# The label is a string that pg_stat_statements keeps verbatim on every
# version (it is no constant with a location to normalize), and that
# pg_stat_activity shows while the statement runs.  The statement needs a
# label provider; regress/seclabel/nadia_test_seclabel.c is ours, loaded by
# session_preload_libraries.
#
#   1. SECURITY LABEL ON TABLE waits on a lock long enough for lock-wait
#      and long-transaction alerts, and a role with no grant LISTENs.
#   2. Once done, with SECURITY LABEL ON COLUMN (lower case, after a
#      comment), a sample is taken: history holds the command tag, the
#      alerts name the table; the secrets are in no table of nadia_bgw, no
#      payload, nothing the reader role can select, no MCP tool's answer.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NadiaTest;
use NadiaAlerts;
use NadiaMcp;
use Time::HiRes qw(usleep);

my $node = nadia_node('seclabel',
	conf => "nadia_bgw.interval = 3600\nsession_preload_libraries = 'nadia_test_seclabel'\n");
$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_stat_statements;
	CREATE ROLE regress_lurker LOGIN;
	CREATE TABLE cards (id int, pan text);
});
my $reader = mcp_make_role($node, 'postgres', 'regress_reader');

# a baseline sample: the statements below are new in the next one
$node->safe_psql('postgres', 'SELECT pg_stat_statements_reset()');
$node->safe_psql('postgres', 'SELECT nadia_bgw.take_sample()');

# --- 1. SECURITY LABEL ON TABLE waits on a lock
my $lurker = $node->background_psql('postgres', extra_params => [ '-U', 'regress_lurker' ]);
$lurker->query_safe('LISTEN nadia_bgw_alerts');
my $holder = $node->background_psql('postgres');
$holder->query_safe('BEGIN; LOCK TABLE cards IN ACCESS EXCLUSIVE MODE');
my $w = $node->background_psql('postgres', on_error_stop => 0);
my $pid = $w->query_safe('SELECT pg_backend_pid()');
$w->query_until(qr/waiting/,
	"\\echo waiting\nSECURITY LABEL FOR nadia_test ON TABLE cards IS 'sekret-label-table password=hunter2';\n");
$node->poll_query_until('postgres',
	"SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $pid");
like($node->safe_psql('postgres', "SELECT query FROM pg_stat_activity WHERE pid = $pid"),
	qr/sekret-label-table/, 'pg_stat_activity shows the waiting statement with its label');

my $settings = 'SET nadia_bgw.lock_wait_seconds = 1; SET nadia_bgw.long_running_seconds = 1';
my $kinds = '';
for (1 .. 300)
{
	detect($node, $settings);
	$kinds = $node->safe_psql('postgres',
		"SELECT string_agg(DISTINCT kind, ',' ORDER BY kind) FROM nadia_bgw.alerts");
	last if $kinds =~ /lock_wait/ && $kinds =~ /long_transaction/;
	usleep(100_000);
}
like($kinds, qr/lock_wait/, 'a lock-wait alert opened on the waiting statement');
like($kinds, qr/long_transaction/, '... and a long-transaction alert');
is($node->safe_psql('postgres',
	"SELECT relname FROM nadia_bgw.alerts WHERE kind = 'lock_wait'"),
	'public.cards', 'the lock-wait alert names the table');

$holder->query_safe('ROLLBACK');
$holder->quit;
$node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_seclabels WHERE provider = 'nadia_test'");

# --- 2. more labels, then a sample
$node->safe_psql('postgres',
	q{/* sekret-label-comment */ security   label for nadia_test on column cards.pan is 'sekret-label-column'});
$node->safe_psql('postgres',
	q{SECURITY LABEL ON TABLE cards IS 'postgresql://app:sekret-label-uri@db/app'});
is($node->safe_psql('postgres',
	"SELECT count(*) FROM pg_seclabels WHERE provider = 'nadia_test' AND label LIKE '%sekret-label%'"),
	'2', 'the labels were applied (table and column)');
cmp_ok($node->safe_psql('postgres',
	"SELECT count(*) FROM pg_stat_statements WHERE query LIKE '%sekret-label%'"),
	'>=', 2, 'pg_stat_statements holds the statements with their labels');
# once done, the lock-wait alert's text may be looked up in history
detect($node, $settings);
$w->quit;
$node->safe_psql('postgres', 'SELECT nadia_bgw.take_sample()');
ok(wake($node), 'a worker cycle ran');

my $stored = $node->safe_psql('postgres',
	q{SELECT string_agg(DISTINCT query || ':' || redacted, ',') FROM nadia_bgw.statements
	   WHERE query ILIKE '%security%label%'});
is($stored =~ tr/,//, 1, 'statement history holds two texts of SECURITY LABEL') or diag($stored);
like($stored, qr/(^|,)SECURITY LABEL cards:true(,|$)/,
	'... the tag and the table, marked redacted');
like($stored, qr/(^|,)SECURITY LABEL cards\.pan:true(,|$)/, '... the tag and the column');
cmp_ok($node->safe_psql('postgres',
	q{SELECT count(DISTINCT queryid) FROM nadia_bgw.statements WHERE query = 'SECURITY LABEL cards'}),
	'>=', 2, '... for each of the statements on the table');

my @n = notifications($lurker);
cmp_ok(scalar(@n), '>=', 2, 'a role with no grant received the notifications');
my @leaks = grep { $_->{raw} =~ /sekret|hunter2/i } @n;
is(scalar(@leaks), 0, 'no payload carries the label') or diag($leaks[0]{raw});
ok(scalar(grep { $_->{raw} =~ /public\.cards/ } @n), 'a payload names the table');
$lurker->quit;

is(relations_holding($node, 'sekret', 'r,p'), '', 'no table of nadia_bgw holds a label');
is(relations_holding($node, 'hunter2', 'r,p'), '', '... nor the password in one');
is(relations_holding($node, 'sekret', 'r,p,v,m', extra_params => [ '-U', $reader ]), '',
	'the reader role sees no label');

# what nadia-mcp answers the reader role
my $s = mcp_start(mcp_conninfo($node, $reader));
$s->initialize;
my $all = '';
for my $call ([ 'query_stats', { query_pattern => 'LABEL' } ], [ 'slow_queries', {} ],
	[ 'alerts', { state => 'all' } ], [ 'lock_analysis', {} ])
{
	my $r = $s->call(@$call);
	ok(!$r->{result}{isError}, "MCP $call->[0] answers") or diag(explain($r));
	$all .= json_encode($r) . "\n";
}
$s->finish;
like($all, qr/SECURITY LABEL/, 'MCP shows the statement by its tag');
like($all, qr/public\.cards/, 'MCP names the table in the alerts');
unlike($all, qr/sekret|hunter2/i, 'no MCP answer carries a label');

$node->stop;
done_testing();
