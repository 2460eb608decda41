# 010_layout.pl -- the shape of the code (docs/architecture.md, "Modules"):
# worker/ modules include one another in one direction only, a module's
# _internal headers stay inside it, headers never include postgres.h,
# every source file opens with a banner naming it, no function grows past
# 150 lines without a written reason, the types of worker headers carry
# the one prefix, and the files of mcp/ depend on one another without a
# cycle.  Reads the source tree only; no server.
use strict;
use warnings;
use File::Basename qw(basename dirname);
use Test::More;

my $src = $ENV{NADIA_SRC_ROOT} or BAIL_OUT('NADIA_SRC_ROOT is not set');

# the level of each module: a file may include its own module's headers
# and those of modules of a lower level that it is allowed to use
my %uses = (
	core => [],
	plans => ['core'],
	history => [ 'core', 'plans' ],
	rollup => [ 'core', 'plans' ],
	advice => [ 'core', 'history' ],
	quality => [ 'core', 'history' ],
	# the maintenance task starts the quality count worker (quality.h)
	maintenance => [ 'core', 'plans', 'quality' ],
	alerts => [ 'core', 'plans', 'history', 'rollup', 'advice', 'quality' ],
	scheduler => [ 'core', 'plans', 'history', 'rollup', 'maintenance', 'advice', 'quality', 'alerts' ],
);

my @worker = sort glob("$src/worker/*/*.[ch]");
my @mcp = sort glob("$src/mcp/*.[ch]");
cmp_ok(scalar @worker, '>=', 20, 'worker sources found');
cmp_ok(scalar @mcp, '>=', 8, 'mcp sources found');

my %modules = map { basename(dirname($_)) => 1 } @worker;
is_deeply([ sort keys %modules ], [ sort keys %uses ],
	'worker/ has exactly the modules of the picture');

sub lines_of
{
	my ($f) = @_;
	open my $fh, '<', $f or die "$f: $!";
	my @l = <$fh>;
	close $fh;
	return @l;
}

sub rel { my ($f) = @_; $f =~ s{^\Q$src\E/}{}; return $f; }

my (@upward, @internal, @pginc, @banner, @long, @types);
for my $f (@worker, @mcp)
{
	my @l = lines_of($f);
	my $name = basename($f);
	push @banner, rel($f)
	  unless @l > 2 && $l[0] =~ m{^/\*-+$} && $l[2] =~ m{^ \* \Q$name\E$};
	push @pginc, rel($f)
	  if $f =~ /\.h$/ && grep { /^#include\s+"postgres(_fe)?\.h"/ } @l;
	# the types a worker header declares all carry the one prefix
	if ($f =~ m{/worker/.*\.h$})
	{
		for (@l)
		{
			push @types, rel($f) . ": $1"
			  if (/^\}\s*(\w+);/ || /^typedef\s.*\(\*(\w+)\)/) && $1 !~ /^Nadia/;
		}
	}

	# functions: a line "name(" at the start, a "{" line, the "}" line
	my ($fn, $start, $comment) = (undef, undef, '');
	for my $i (0 .. $#l)
	{
		$comment = '' if $l[$i] =~ m{^/\*};
		$comment .= $l[$i] if $l[$i] =~ m{^(/\*| \*)};
		$fn = $1 if $l[$i] =~ /^([A-Za-z_]\w*)\(/;
		$start = $i if $l[$i] =~ /^\{$/ && defined $fn;
		if ($l[$i] =~ /^\}$/ && defined $start)
		{
			my $n = $i - $start + 1;
			push @long, rel($f) . ": $fn ($n lines)"
			  if $n > 150 && $comment !~ /long because/i;
			($fn, $start, $comment) = (undef, undef, '');
		}
	}

	next unless $f =~ m{/worker/([^/]+)/};
	my $mod = $1;
	for (@l)
	{
		next unless /^#include\s+"([^"\/]+)\/([^"]+)"/;
		my ($to, $hdr) = ($1, $2);
		next if $to eq $mod || !exists $uses{$to};	# PostgreSQL's own headers
		push @internal, rel($f) . " includes $to/$hdr" if $hdr =~ /_internal\.h$/;
		push @upward, rel($f) . " includes $to/$hdr"
		  unless grep { $_ eq $to } @{ $uses{$mod} };
	}
}

sub none_of
{
	my ($list, $what) = @_;
	diag("$what: $_") for @$list;
	is(scalar @$list, 0, $what);
}
none_of(\@upward, 'no include runs against the module order');
none_of(\@internal, 'no _internal header is included from another module');
none_of(\@pginc, 'no header includes postgres.h');
none_of(\@banner, 'every source file opens with a banner naming it');
none_of(\@long, 'no function over 150 lines without "long because" above it');
none_of(\@types, 'every type a worker header declares is named Nadia...');

# mcp/: file a depends on file b when a includes b.h (and b.c exists)
my %dep;
for my $f (@mcp)
{
	my $a = basename($f) =~ s/\.[ch]$//r;
	for (lines_of($f))
	{
		next unless /^#include\s+"([^"\/]+)\.h"/;
		my $b = $1;
		$dep{$a}{$b} = 1 if $b ne $a && -e "$src/mcp/$b.c";
	}
}
my (%state, @cycle);
sub visit
{
	my ($n, @path) = @_;
	return if ($state{$n} // 0) == 2;
	if (($state{$n} // 0) == 1)
	{
		@cycle = (@path, $n) unless @cycle;
		return;
	}
	$state{$n} = 1;
	visit($_, @path, $n) for sort keys %{ $dep{$n} // {} };
	$state{$n} = 2;
}
visit($_) for sort keys %dep;
is(join(' -> ', @cycle), '', 'the files of mcp/ depend on one another without a cycle');

done_testing();
