# 500_mcp_protocol.pl -- nadia-mcp speaks MCP over stdio: initialize with
# version negotiation, ping, tools/list, tools/call; the JSON-RPC error
# codes for bad input; batches only where the protocol has them; huge
# lines and binary garbage; exit on end of input.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NadiaTest;
use NadiaMcp;

my $node = nadia_node('mcp_protocol');
my $role = mcp_make_role($node);
my $conn = mcp_conninfo($node, $role);

ok(-x mcp_bin(), 'nadia-mcp is installed next to psql');
{
	my ($out, $err) = run_command([ mcp_bin(), '--version' ]);
	like($out, qr/^nadia-mcp \d+\.\d+/, '--version');
}

# --- initialize and version negotiation ---------------------------------
my $s = mcp_start($conn);
my $r = $s->initialize('2025-06-18');
is($r->{id}, 1, 'initialize answered with its id');
is($r->{result}{protocolVersion}, '2025-06-18', 'asked 2025-06-18, got it');
ok($r->{result}{capabilities}{tools}, 'tools capability');
is($r->{result}{serverInfo}{name}, 'nadia-mcp', 'serverInfo.name');

$r = $s->request('ping', undef, 'ping-1');
is_deeply($r, { jsonrpc => '2.0', id => 'ping-1', result => {} }, 'ping, string id echoed');

$r = $s->request('tools/list');
my @tools = @{ $r->{result}{tools} };
my %tools = map { $_->{name} => $_ } @tools;
for my $name (qw(slow_queries query_stats explain_query active_connections lock_analysis
	index_usage missing_indexes table_stats vacuum_stats cost_analysis
	buffer_cache_stats io_stats replication_lag alerts review_queue_stats
	user_activity_patterns llm_cost_tracking recovery_system_stats constraint_violations
	referential_integrity data_distribution data_anomalies capacity_forecast))
{
	ok($tools{$name}, "tool $name listed");
}
ok(!(grep { /sql|statement_text|explain_sql/i } keys %{ $tools{explain_query}{inputSchema}{properties} }),
	'explain_query takes no SQL (queryid or a normalized text to compare, never run)');
is(scalar(grep { $_->{inputSchema}{type} eq 'object' && $_->{outputSchema}{type} eq 'object' && $_->{title} && $_->{description} } @tools),
	scalar(@tools), 'every tool has title, description, inputSchema and outputSchema');
is($tools{slow_queries}{inputSchema}{properties}{limit}{maximum}, 100, 'limit is bounded in the schema');
is($tools{slow_queries}{annotations}{readOnlyHint}, JSON::PP::true, 'readOnlyHint');

# a second initialize is refused
$r = $s->initialize('2025-06-18');
is($r->{error}{code}, -32600, 'second initialize: -32600');

# --- JSON-RPC errors ----------------------------------------------------
$s->send_line('{"jsonrpc":"2.0","id":1,"method":');
$r = $s->recv;
is($r->{error}{code}, -32700, 'truncated JSON: -32700');
ok(exists $r->{id} && !defined $r->{id}, 'parse error has id null');

$s->send_line("\x00\xff\xfe garbage \x01\x02");
$r = $s->recv;
is($r->{error}{code}, -32700, 'binary garbage: -32700');

$s->send_line('{"jsonrpc":"2.0","id":"\xc3\x28","method":"ping"}');
$r = $s->recv;
is($r->{error}{code}, -32700, 'invalid UTF-8: -32700');

$s->send_line('{"jsonrpc":"2.0","id":1,"method":"ping"} trailing');
is($s->recv->{error}{code}, -32700, 'trailing text after the message: -32700');

$s->send_line('"just a string"');
is($s->recv->{error}{code}, -32600, 'not an object: -32600');

$s->send_line('{"jsonrpc":"1.0","id":7,"method":"ping"}');
$r = $s->recv;
is($r->{error}{code}, -32600, 'jsonrpc 1.0: -32600');
is($r->{id}, 7, '... with the id');

$s->send_line('{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}');
is($s->recv->{error}{code}, -32600, 'object id: -32600');

$s->send_line('{"jsonrpc":"2.0","id":null,"method":"ping"}');
is($s->recv->{error}{code}, -32600, 'null id: -32600');

$s->send_line('{"jsonrpc":"2.0","id":8,"method":42}');
is($s->recv->{error}{code}, -32600, 'method not a string: -32600');

$s->send_line('{"jsonrpc":"2.0","id":9}');
is($s->recv->{error}{code}, -32600, 'no method: -32600');

$r = $s->request('resources/list');
is($r->{error}{code}, -32601, 'unknown method: -32601');

$s->send_line('{"jsonrpc":"2.0","id":10,"method":"tools/call","params":[1,2]}');
is($s->recv->{error}{code}, -32602, 'params as array: -32602');

$r = $s->request('tools/call', { arguments => {} });
is($r->{error}{code}, -32602, 'tools/call without name: -32602');

$r = $s->call('drop_everything');
is($r->{error}{code}, -32602, 'unknown tool: -32602');
like($r->{error}{message}, qr/unknown tool "drop_everything"/, '... named in the message');

$r = $s->call('slow_queries', { limit => 'ten' });
is($r->{error}{code}, -32602, 'limit as a string: -32602');
$r = $s->call('slow_queries', { limit => 2.5 });
is($r->{error}{code}, -32602, 'limit not integral: -32602');
$r = $s->call('slow_queries', { limit => 1000 });
like($r->{error}{message}, qr/between 1 and 100/, 'limit out of range: -32602 with the range');
$r = $s->call('slow_queries', { sql => 'SELECT 1' });
like($r->{error}{message}, qr/unknown argument "sql"/, 'unknown argument (no SQL escape hatch): -32602');
$r = $s->call('slow_queries', { since => 'now' });
is($r->{error}{code}, -32602, 'since => "now" refused');
$r = $s->call('slow_queries', { since => "1d'; DROP TABLE x; --" });
is($r->{error}{code}, -32602, 'since with SQL in it refused');
$r = $s->call('lock_analysis', { since => '2026-02-30T25:00:00Z' });
is($r->{error}{code}, -32602, 'impossible timestamp refused');
$r = $s->call('alerts', { state => 'closed' });
like($r->{error}{message}, qr/one of "open", "resolved", "all"/, 'enum lists its values');
$r = $s->call('query_stats', { query_pattern => 'x' x 201 });
is($r->{error}{code}, -32602, 'over-long pattern refused');
$r = $s->call('table_stats', undef);
ok($r->{result}, 'arguments omitted: fine');
$r = $s->call('explain_query', { queryid => 'abc' });
like($r->{error}{message}, qr/"queryid" must be a 64-bit integer/, 'explain_query: queryid not digits: -32602');
$r = $s->call('explain_query', { queryid => 12345678901234567 });
is($r->{error}{code}, -32602, 'explain_query: queryid beyond 2^53 as a JSON number: -32602');
$r = $s->call('explain_query', { until => 'later' });
is($r->{error}{code}, -32602, 'explain_query: until not a time: -32602');

# notifications and client responses get no answer
$s->notify('notifications/cancelled', { requestId => 3 });
$s->notify('notifications/whatever');
$s->send_line('{"jsonrpc":"2.0","id":99,"result":{}}');
$s->send_line('');
is($s->recv(1), undef, 'no answer to notifications, client responses or blank lines');

# batches are not part of 2025-06-18
$s->send_line('[{"jsonrpc":"2.0","id":11,"method":"ping"}]');
is($s->recv->{error}{code}, -32600, 'batch under 2025-06-18: -32600');

# a huge line is dropped without being buffered, the server goes on
$s->send_line('{"jsonrpc":"2.0","id":12,"method":"ping","params":{"pad":"' . ('x' x (2 * 1024 * 1024)) . '"}}');
$r = $s->recv;
is($r->{error}{code}, -32600, 'a 2 MB line: -32600');
like($r->{error}{message}, qr/too large/, '... too large');
is($s->request('ping', undef, 13)->{id}, 13, 'still serving after all that');

is($s->finish, 0, 'exit status 0 when stdin closes');
unlike($s->stderr, qr/(?:ERROR|FATAL|panic|Segmentation)/i, 'stderr has no error report');

# --- an older client: 2025-03-26 -----------------------------------------
$s = mcp_start($conn);
$r = $s->initialize('2025-03-26');
is($r->{result}{protocolVersion}, '2025-03-26', 'asked 2025-03-26, got it');
$r = $s->request('tools/list');
ok(!exists $r->{result}{tools}[0]{outputSchema}, 'no outputSchema before 2025-06-18');
$s->send_line('[{"jsonrpc":"2.0","id":"a","method":"ping"},{"jsonrpc":"2.0","method":"notifications/initialized"},{"jsonrpc":"2.0","id":"b","method":"nope"}]');
$r = $s->recv;
is(ref $r, 'ARRAY', 'batch answered with an array under 2025-03-26');
is(scalar @$r, 2, '... one answer per request, none for the notification');
is($r->[1]{error}{code}, -32601, '... errors inside the batch');
$s->send_line('[]');
is($s->recv->{error}{code}, -32600, 'empty batch: -32600');
$r = $s->call('table_stats');
ok(!exists $r->{result}{structuredContent}, 'no structuredContent before 2025-06-18');
is($s->finish, 0, 'exit 0');

# --- an unknown version gets our latest ----------------------------------
$s = mcp_start($conn);
$r = $s->initialize('2099-01-01');
is($r->{result}{protocolVersion}, '2025-06-18', 'unknown version: answered with 2025-06-18');
is($s->request('initialize', {})->{error}{code}, -32600, 'initialize twice: -32600');
is($s->finish, 0, 'exit 0');

# --- a message before initialize still gets a proper answer --------------
$s = mcp_start($conn);
$r = $s->request('initialize', { capabilities => {} });
is($r->{error}{code}, -32602, 'initialize without protocolVersion: -32602');
$r = $s->request('ping');
is_deeply($r->{result}, {}, 'ping works before initialize');
# the last line may lack its newline
$s->{in} .= '{"jsonrpc":"2.0","id":"last","method":"ping"}';
$s->drain;
is($s->finish, 0, 'exit 0');
like($s->{out}, qr/"id":"last"/, 'a last line without newline is answered');

$node->stop;
done_testing();
