# The worker's rollup task: refreshes changed buckets each cycle, does no
# work when nothing changed, isolates one rollup's failure from the others,
# and stays exact across a crash (shared memory lost) thanks to the
# persisted threshold.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use NadiaTest;

my $node = nadia_node('rollup_worker', conf => "nadia_bgw.interval = 3600\n");

$node->safe_psql('postgres', q{
	CREATE TABLE msgs (id bigserial PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now(),
	                   user_id integer, quality_score integer);
	CREATE INDEX ON msgs (created_at DESC);
	INSERT INTO msgs (created_at, user_id, quality_score)
	SELECT now() - d * interval '1 day' - i * interval '1 minute', i % 13, 1 + i % 5
	  FROM generate_series(0, 20) d, generate_series(1, 50) i;
	SELECT nadia_bgw.create_rollup(name => 'msgs_daily', source => 'msgs',
	    time_column => 'created_at', bucket => '1 day', bucket_column => 'date',
	    timezone => 'UTC', horizon => '90 days',
	    aggregates => ARRAY['count(*) AS message_count', 'count(DISTINCT user_id) AS unique_users',
	                        'avg(quality_score) AS avg_quality']);
	SELECT nadia_bgw.create_rollup(name => 'msgs_fragile', source => 'msgs',
	    time_column => 'created_at', bucket => '1 hour',
	    aggregates => ARRAY['count(*) AS n']);
});
my $check = q{SELECT missing || '/' || extra FROM nadia_bgw.rollup_check('msgs_daily')};

ok(wake($node), 'a cycle ran');
is(status_of($node, 'rollup', 'outcome'), 'ok', 'rollup task ok');

# new rows today (hot, not logged) and into old days (logged)
$node->safe_psql('postgres', q{
	INSERT INTO msgs (user_id, quality_score) SELECT i, 5 FROM generate_series(1, 30) i;
	INSERT INTO msgs (created_at, user_id, quality_score)
	SELECT now() - interval '5 days', 100 + i, 1 FROM generate_series(1, 10) i;
});
is($node->safe_psql('postgres',
	q{SELECT pending_invalidations || ' ' || hot_changes_pending FROM nadia_bgw.rollups WHERE name = 'public.msgs_daily'}),
	'1 true', 'one logged bucket, hot changes pending');
isnt($node->safe_psql('postgres', $check), '0/0', 'rollup is behind before the cycle');
ok(wake($node), 'a cycle ran');
is($node->safe_psql('postgres', $check), '0/0', 'the worker brought the rollup up to date');
is($node->safe_psql('postgres',
	q{SELECT last_buckets_recomputed FROM nadia_bgw.rollups WHERE name = 'public.msgs_daily'}),
	'2', 'exactly two buckets recomputed (today and the old day)');

# nothing changed: no refresh at all
my $before = $node->safe_psql('postgres',
	q{SELECT refreshes || '/' || buckets_recomputed FROM nadia_bgw.rollups WHERE name = 'public.msgs_daily'});
ok(wake($node), 'a cycle ran');
is($node->safe_psql('postgres',
	q{SELECT refreshes || '/' || buckets_recomputed FROM nadia_bgw.rollups WHERE name = 'public.msgs_daily'}),
	$before, 'an idle cycle recomputes nothing');

# one broken rollup does not stop the others
$node->safe_psql('postgres', q{
	ALTER TABLE msgs_fragile DROP COLUMN n;
	INSERT INTO msgs (user_id, quality_score) VALUES (7, 3);
});
ok(wake($node), 'a cycle ran');
like($node->safe_psql('postgres',
	q{SELECT last_error FROM nadia_bgw.rollups WHERE name = 'public.msgs_fragile'}),
	qr/42601|more expressions/, 'the broken rollup records its error');
is($node->safe_psql('postgres', $check), '0/0', 'the other rollup was still refreshed');
is(status_of($node, 'rollup', 'outcome'), 'ok', 'the task itself succeeded');
$node->safe_psql('postgres', q{SELECT nadia_bgw.drop_rollup('msgs_fragile')});

# a crash loses the shared state; hot rows committed before it are not lost
$node->safe_psql('postgres', q{INSERT INTO msgs (user_id, quality_score) SELECT i, 4 FROM generate_series(1, 25) i});
isnt($node->safe_psql('postgres', $check), '0/0', 'hot rows not refreshed before the crash');
$node->stop('immediate');
$node->start;
wait_until($node, "SELECT worker_pid IS NOT NULL FROM nadia_bgw.status LIMIT 1");
ok(wake($node), 'a cycle ran after the crash');
is($node->safe_psql('postgres', $check), '0/0', 'rollup exact after crash recovery');

# after the restart writers log cold rows again and the hot path works
$node->safe_psql('postgres', q{
	INSERT INTO msgs (user_id, quality_score) VALUES (1, 1);
	UPDATE msgs SET created_at = created_at - interval '3 days' WHERE id % 17 = 0;
	DELETE FROM msgs WHERE id % 19 = 0;
});
ok(wake($node), 'a cycle ran');
is($node->safe_psql('postgres', $check), '0/0', 'rollup exact after updates and deletes');

$node->stop;
done_testing();
