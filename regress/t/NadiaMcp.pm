# NadiaMcp.pm -- helpers for the nadia-mcp TAP tests: the MCP login role,
# connection strings, a line-oriented JSON-RPC session with the server over
# its stdin/stdout, and running the TypeScript SDK client.
package NadiaMcp;

use strict;
use warnings;
use Exporter 'import';
use IPC::Run;
use JSON::PP;
use File::Copy ();
use PostgreSQL::Test::Utils;
use Test::More;

our @EXPORT = qw(mcp_bin mcp_conninfo mcp_make_role mcp_start mcp_node_client
  mcp_npm_ci json_decode json_encode);

my $json = JSON::PP->new->canonical(1)->allow_nonref(1);

sub json_decode { return $json->decode($_[0]); }
sub json_encode { return $json->encode($_[0]); }

# the server installed next to psql in the private installation
sub mcp_bin
{
	return "$ENV{NADIA_BINDIR}/nadia-mcp";
}

# mcp_conninfo(NODE, USER, DB): a libpq connection string for the server
sub mcp_conninfo
{
	my ($node, $user, $db) = @_;
	return sprintf("host=%s port=%d dbname=%s user=%s",
		$node->host, $node->port, $db // 'postgres', $user);
}

# mcp_make_role(NODE, DB, NAME): the documented MCP login role
sub mcp_make_role
{
	my ($node, $db, $name) = @_;
	$name //= 'nadia_mcp';
	$node->safe_psql($db // 'postgres',
		"CREATE ROLE $name LOGIN IN ROLE nadia_bgw_reader");
	return $name;
}

# mcp_start(CONNINFO, ARGS...): a running server with a JSON-RPC session
sub mcp_start
{
	my ($conninfo, @args) = @_;
	my $self = bless { in => '', out => '', err => '' }, 'NadiaMcp::Session';
	$self->{timer} = IPC::Run::timer($PostgreSQL::Test::Utils::timeout_default);
	$self->{h} = IPC::Run::start([ mcp_bin(), @args, $conninfo ],
		'<', \$self->{in}, '>', \$self->{out}, '2>', \$self->{err},
		);
	return $self;
}

# mcp_npm_ci(DIR): install the pinned client (package-lock.json) into a
# copy of regress/mcp-client; returns the directory holding client.mjs.
sub mcp_npm_ci
{
	my $src = "$ENV{NADIA_ROOT}/mcp-client";
	my $dir = "$PostgreSQL::Test::Utils::tmp_check/mcp-client";
	mkdir $dir;
	for my $f (qw(package.json package-lock.json client.mjs))
	{
		File::Copy::copy("$src/$f", "$dir/$f") or die "copy $f: $!";
	}
	my ($out, $err);
	my $ok = IPC::Run::run(
		[ 'npm', 'ci', '--no-audit', '--no-fund', '--loglevel=error',
		  "--cache=$PostgreSQL::Test::Utils::tmp_check/npm-cache" ],
		'>', \$out, '2>', \$err, init => sub { chdir $dir or die });
	diag("npm ci: $out $err") unless $ok;
	return $ok ? $dir : undef;
}

# mcp_node_client(DIR, MODE, CONNINFO, ARGS...): run client.mjs, decode its report
sub mcp_node_client
{
	my ($dir, $mode, $conninfo, @args) = @_;
	my ($out, $err);
	my @cmd = ('node', "$dir/client.mjs", $mode, mcp_bin(), $conninfo, @args);
	IPC::Run::run(\@cmd, '>', \$out, '2>', \$err,
		IPC::Run::timeout(4 * $PostgreSQL::Test::Utils::timeout_default));
	diag("client stderr: $err") if $err;
	my $report = eval { json_decode($out) };
	return $report // { fatal => "no report: $out $err" };
}

package NadiaMcp::Session;

use strict;
use warnings;
use Time::HiRes ();

# send one raw line (a newline is added)
sub send_line
{
	my ($self, $line) = @_;
	$self->{in} .= "$line\n";
	$self->drain;
}

# write what is pending to the server's stdin; pump() would block when
# the server has nothing to say (notifications), so poll
sub drain
{
	my ($self) = @_;
	while (length $self->{in})
	{
		die "nadia-mcp exited" unless $self->{h}->pumpable;
		$self->{h}->pump_nb;
		select(undef, undef, undef, 0.001) if length $self->{in};
	}
}

# the next answer line, decoded (undef when none comes within 'wait' seconds)
sub recv
{
	my ($self, $wait) = @_;
	my $deadline = Time::HiRes::time() + ($wait // $PostgreSQL::Test::Utils::timeout_default);
	while ($self->{out} !~ /\n/)
	{
		return undef if Time::HiRes::time() > $deadline || !$self->{h}->pumpable;
		$self->{h}->pump_nb;
		select(undef, undef, undef, 0.01);
	}
	$self->{out} =~ s/^([^\n]*)\n//;
	my $line = $1;
	$self->{last_line} = $line;
	return NadiaMcp::json_decode($line);
}

# request(METHOD, PARAMS, ID): send a request, return the decoded answer
sub request
{
	my ($self, $method, $params, $id) = @_;
	$self->{next_id} //= 1;
	$id //= $self->{next_id}++;
	my %msg = (jsonrpc => '2.0', id => $id, method => $method);
	$msg{params} = $params if defined $params;
	$self->send_line(NadiaMcp::json_encode(\%msg));
	return $self->recv;
}

sub notify
{
	my ($self, $method, $params) = @_;
	my %msg = (jsonrpc => '2.0', method => $method);
	$msg{params} = $params if defined $params;
	$self->send_line(NadiaMcp::json_encode(\%msg));
}

sub initialize
{
	my ($self, $version) = @_;
	my $r = $self->request('initialize',
		{ protocolVersion => $version // '2025-06-18', capabilities => {},
		  clientInfo => { name => 'tap', version => '1' } });
	$self->notify('notifications/initialized');
	return $r;
}

# call(TOOL, ARGS): tools/call, returns the decoded answer
sub call
{
	my ($self, $tool, $args) = @_;
	return $self->request('tools/call', { name => $tool, arguments => $args // {} });
}

# close stdin and wait; returns the exit status
sub finish
{
	my ($self) = @_;
	$self->{h}->finish;
	return $self->{h}->result(0);
}

sub stderr { return $_[0]->{err}; }

1;
