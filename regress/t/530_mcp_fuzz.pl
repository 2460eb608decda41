# 530_mcp_fuzz.pl -- the libFuzzer target over nadia-mcp's message handler
# (mcp/fuzz/fuzz_message.c), built with ASan/UBSan/LSan from the checkout,
# runs for a short bounded time over the checked-in corpus: no crash, no
# leak, no malformed answer.  Then every corpus file goes through the real
# server, which must answer each line and exit 0 at the end of its input.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use File::Spec;
use File::Temp qw(tempdir);
use NadiaTest;
use NadiaMcp;

my $src = $ENV{NADIA_SRC_ROOT} or BAIL_OUT('NADIA_SRC_ROOT is not set');
my $corpus = "$src/mcp/fuzz/corpus";
# absolute: make runs in $src, and on 16+ tmp_check is relative unless the
# driver sets TESTDATADIR
my $dir = File::Spec->rel2abs(tempdir(DIR => $PostgreSQL::Test::Utils::tmp_check, CLEANUP => 1));
my $bin = "$dir/nadia-mcp-fuzz";
my $seconds = $ENV{NADIA_FUZZ_SECONDS} // 20;

my @seeds = glob("$corpus/*");
cmp_ok(scalar @seeds, '>=', 20, 'a checked-in corpus of at least 20 seeds');

my ($out, $err);
# the system's pg_config: the private copy on PATH has no include files
my $pg_config = -x '/usr/bin/pg_config' ? '/usr/bin/pg_config' : 'pg_config';
my $built = IPC::Run::run([ 'make', '-s', '-C', $src, 'fuzz', "FUZZ_BIN=$bin", "PG_CONFIG=$pg_config" ],
	'>', \$out, '2>', \$err);
ok($built && -x $bin, 'the fuzz target builds with clang and the sanitizers')
  or diag("$out\n$err");

SKIP:
{
	skip 'no fuzz target', 4 unless -x $bin;
	mkdir "$dir/new";
	my $ok = IPC::Run::run(
		[ $bin, "-max_total_time=$seconds", '-max_len=8192', '-timeout=10',
		  '-rss_limit_mb=2048', '-print_final_stats=1', "$dir/new", $corpus ],
		'>', \$out, '2>', \$err,
		IPC::Run::timeout($seconds + 120));
	my ($runs) = $err =~ /Done (\d+) runs/;
	ok($ok, "fuzzing for $seconds s ends without a finding");
	unlike($err, qr/ERROR: (?:AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|deadly signal/,
		'no sanitizer report');
	cmp_ok($runs // 0, '>', 1000, 'it ran more than a thousand inputs (' . ($runs // 0) . ')');
	my @crashes = glob("$dir/crash-* $dir/leak-* ./crash-* ./leak-*");
	is(scalar @crashes, 0, 'no crash or leak artifact');
	diag(substr($err, -3000)) unless $ok;
}

# every seed through the real server
my $node = nadia_node('mcp_fuzz');
my $conn = mcp_conninfo($node, mcp_make_role($node));
my $bad = 0;
for my $seed (@seeds)
{
	my $input = slurp_file($seed);
	my ($o, $e);
	my $ok = IPC::Run::run([ mcp_bin(), '--rate-per-minute=0', '--heavy-per-hour=0', $conn ],
		'<', \$input, '>', \$o, '2>', \$e, IPC::Run::timeout(60));
	my @lines = split /\n/, $o;
	my $valid = grep { my $l = $_; eval { json_decode($l); 1 } } @lines;
	if (!$ok || $valid != scalar @lines || $e =~ /(?:Segmentation|Aborted|panic)/)
	{
		$bad++;
		diag("seed $seed: exit " . ($? >> 8) . ", $valid/" . scalar(@lines) . " JSON lines; $e");
	}
}
is($bad, 0, 'the server answers every seed with JSON lines and exits 0');

$node->stop;
done_testing();
