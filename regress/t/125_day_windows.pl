# 125_day_windows.pl -- the views of "the last 24 hours" cover 24 hours on
# the days after DST starts and ends, in a DST zone: now() - '1 day' is a
# calendar day of the session's TimeZone (23 or 25 hours then), so the
# server runs under libfaketime on those days, in America/New_York.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NadiaTest;

my $faketime = $ENV{FAKETIME_LIB} // '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
plan skip_all => "no libfaketime ($faketime)" unless -r $faketime;

# instant (UTC) => what a calendar day back from it is
my @days = (
	[ '2027-11-07 12:00:00', '25 hours: the day DST ends' ],
	[ '2027-03-14 12:00:00', '23 hours: the day DST starts' ],
);

my $i = 0;
for my $d (@days)
{
	my ($at, $what) = @$d;
	my $offset = `date -u -d '$at UTC' +%s` - time();
	local $ENV{LD_PRELOAD} = $faketime;
	local $ENV{FAKETIME} = sprintf('%+ds', $offset);
	local $ENV{FAKETIME_DONT_FAKE_MONOTONIC} = 1;
	local $ENV{TZ} = 'UTC';
	my $node = nadia_node('day_windows_' . $i++,
		conf => "timezone = 'America/New_York'\nnadia_bgw.enabled = off\n");
	like($node->safe_psql('postgres', "SELECT now() AT TIME ZONE 'UTC'"),
		qr/^\Q${\ substr($at, 0, 13)}\E/, "the server's clock reads $at UTC");

	# lock waits 24.5 and 23.5 hours old
	$node->safe_psql('postgres', q{
		SELECT nadia_bgw.ensure_partitions('raw', now() - interval '24 hours 30 minutes');
		SELECT nadia_bgw.ensure_partitions('raw', now() - interval '23 hours 30 minutes');
		INSERT INTO nadia_bgw.lock_wait_samples (sampled_at, pid, wait_s)
		VALUES (now() - interval '24 hours 30 minutes', 1, 1),
		       (now() - interval '23 hours 30 minutes', 2, 1);
	});
	for my $zone ('America/New_York', 'UTC')
	{
		is($node->safe_psql('postgres',
				"SET TimeZone = '$zone'; SELECT string_agg(pid::text, ',' ORDER BY pid) FROM nadia_bgw.lock_waits"),
			'2', "lock_waits: 24 hours, not $what (session in $zone)");
	}
	$node->stop;
}

done_testing();
