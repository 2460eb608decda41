# 461_secrets_update.pl -- ALTER EXTENSION nadia_bgw UPDATE scrubs what 1.0
# stored of other sessions' texts and of error messages, in place: users
# update with a year of history and keep it.
#
# The rows 1.0 wrote are staged as 1.0 wrote them: statement texts of
# utility statements verbatim, lock-wait and long-transaction alerts with
# the raw pg_stat_activity text (and blockers' texts in their details), a
# notification error and a rollup error quoting an application value (the
# latter made by a real failed refresh under 1.0's _rollup_task).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NadiaTest;

my $node = nadia_node('secrets_update', conf => "nadia_bgw.interval = 3600\n", extension => 0);
$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_stat_statements;
	CREATE EXTENSION nadia_bgw VERSION '1.0';
});
wait_until($node, 'SELECT worker_pid IS NOT NULL FROM nadia_bgw.status LIMIT 1');

# a rollup whose refresh fails on an application value, under 1.0
$node->safe_psql('postgres', q{
	CREATE TABLE payments (created_at timestamptz NOT NULL DEFAULT now(), amount text);
	INSERT INTO payments (amount) VALUES ('12.50');
	SELECT nadia_bgw.create_rollup(name => 'payments_daily', source => 'payments',
	    time_column => 'created_at', bucket => '1 day', timezone => 'UTC',
	    aggregates => ARRAY['sum(amount::numeric) AS total']);
	INSERT INTO payments (amount) VALUES ('card 4111-1111-1111-1111');
});
ok(wake($node), 'a cycle ran on 1.0');
like($node->safe_psql('postgres', q{SELECT last_error FROM nadia_bgw.rollup WHERE name = 'public.payments_daily'}),
	qr/card 4111/, '1.0 recorded the application value in last_error');

# history as 1.0 stored it
my ($db, $uid) = split /\|/, $node->safe_psql('postgres',
	q{SELECT d.oid, r.oid FROM pg_database d, pg_roles r
	   WHERE d.datname = current_database() AND r.rolname = current_user});
$node->safe_psql('postgres', qq{
	INSERT INTO nadia_bgw.statements (queryid, dbid, userid, datname, username, query, query_len, redacted, first_seen)
	VALUES (9001, $db, $uid, 'postgres', 'postgres', 'COPY t FROM PROGRAM ''PGPASSWORD=sekret-copy cat''', 50, false, now()),
	       (9002, $db, $uid, 'postgres', 'postgres', 'DO \$\$BEGIN PERFORM ''sekret-do''; END\$\$', 40, false, now()),
	       (9003, $db, $uid, 'postgres', 'postgres', 'SET app.api_key = ''sekret-set''', 30, false, now()),
	       (9004, $db, $uid, 'postgres', 'postgres', 'CALL app.charge(''sekret-call'')', 30, false, now()),
	       (9005, $db, $uid, 'postgres', 'postgres',
	        'CREATE SUBSCRIPTION s CONNECTION ''postgresql://u:sekret-sub\@h/d'' PUBLICATION p', 80, false, now()),
	       (9006, $db, $uid, 'postgres', 'postgres', 'SELECT a FROM t WHERE b = \$1 ORDER BY 1', 40, false, now()),
	       (9007, $db, $uid, 'postgres', 'postgres', '<redacted ALTER ROLE statement>', 40, true, now());
	INSERT INTO nadia_bgw.alerts (alert_key, kind, severity, peak_severity, object, object_type,
	                              dbid, userid, queryid, query, metric, details, notify_error)
	VALUES ('lock_wait:1:x', 'lock_wait', 'warning', 'warning', 'backend 1 waiting for t', 'backend',
	        $db, $uid, 9003, 'SET app.api_key = ''sekret-raw-activity''', 'lock_wait_seconds',
	        '{"pid": 1, "blockers": [{"pid": 2, "queryid": "9", "query": "ALTER ROLE v PASSWORD ''sekret-blocker''"}]}',
	        '09000: injected failure quoting sekret-notify'),
	       ('long_transaction:2:x', 'long_transaction', 'warning', 'warning', 'backend 2', 'backend',
	        $db, $uid, 4242, 'SELECT ''sekret-long''', 'transaction_seconds', '{}', NULL),
	       ('query_latency:1:1:9006', 'query_latency', 'warning', 'warning', 'query 9006', 'statement',
	        $db, $uid, 9006, 'SELECT a FROM t WHERE b = \$1 ORDER BY 1', 'mean_exec_time_ms',
	        '{"calls": 30, "nadia_baseline_samples": 7}', NULL);
	INSERT INTO nadia_bgw.samples (sampled_at, duration_ms, taken_by, outcome, failed_sources)
	VALUES (now(), 1, 'worker',
	        '{"tables": "error: 22P02: invalid input syntax for type integer: \\"sekret-outcome\\"", "indexes": "ok"}',
	        '{tables}');
});

$node->safe_psql('postgres', 'ALTER EXTENSION nadia_bgw UPDATE');

is($node->safe_psql('postgres', q{
	DO $$
	DECLARE
	    c record;
	    n bigint;
	    total bigint := 0;
	BEGIN
	    FOR c IN SELECT a.attrelid::regclass AS rel, a.attname
	               FROM pg_attribute a JOIN pg_class r ON r.oid = a.attrelid
	              WHERE r.relnamespace = 'nadia_bgw'::regnamespace AND r.relkind IN ('r', 'p')
	                AND a.attnum > 0 AND NOT a.attisdropped
	                AND a.atttypid IN ('text'::regtype, 'jsonb'::regtype, 'name'::regtype, 'text[]'::regtype)
	    LOOP
	        EXECUTE format('SELECT count(*) FROM %s WHERE %I::text ~* %L', c.rel, c.attname, 'sekret|4111')
	           INTO n;
	        total := total + n;
	    END LOOP;
	    PERFORM set_config('regress.total', total::text, false);
	END
	$$;
	SELECT current_setting('regress.total')}), '0', 'no secret or application value left after the update');

is($node->safe_psql('postgres', q{SELECT string_agg(queryid || ' ' || query || ' ' || redacted, E'\n' ORDER BY queryid)
	FROM nadia_bgw.statements WHERE queryid BETWEEN 9001 AND 9007}),
	join("\n", '9001 COPY t true', '9002 DO true', '9003 SET app.api_key true', '9004 CALL app.charge true',
		'9005 CREATE SUBSCRIPTION s true', '9006 SELECT a FROM t WHERE b = $1 ORDER BY 1 false',
		'9007 <redacted ALTER ROLE statement> true'),
	'utility texts reduced to tag and names; normalized text and 1.0 redactions kept');
is($node->safe_psql('postgres', q{SELECT string_agg(kind || ' ' || coalesce(query, '(null)'), E'\n' ORDER BY alert_id)
	FROM nadia_bgw.alerts}),
	join("\n", 'lock_wait SET app.api_key', 'long_transaction (null)',
		'query_latency SELECT a FROM t WHERE b = $1 ORDER BY 1'),
	'alert texts are those of statement history, or nothing');
is($node->safe_psql('postgres', q{SELECT details::text FROM nadia_bgw.alerts WHERE kind = 'lock_wait'}),
	'{"pid": 1, "blockers": [{"pid": 2, "queryid": "9"}]}', 'blockers keep pid and query id, lose the text');
is($node->safe_psql('postgres', q{SELECT details::text FROM nadia_bgw.alerts WHERE kind = 'query_latency'}),
	'{"calls": 30, "baseline_samples": 7}', 'details key renamed to the documented baseline_samples');
is($node->safe_psql('postgres', q{SELECT notify_error FROM nadia_bgw.alerts WHERE kind = 'lock_wait'}),
	'09000: triggered action exception (message in the server log)', 'notify_error is the SQLSTATE');
is($node->safe_psql('postgres', q{SELECT last_error FROM nadia_bgw.rollups WHERE name = 'public.payments_daily'}),
	'22P02: data exception (message in the server log)', 'rollup last_error is the SQLSTATE');
is($node->safe_psql('postgres', q{SELECT outcome::text FROM nadia_bgw.samples WHERE taken_by = 'worker' AND failed_sources = '{tables}'}),
	'{"tables": "error: 22P02: data exception (message in the server log)", "indexes": "ok"}',
	'a failed source\'s outcome is the SQLSTATE');

# and the updated task records SQLSTATEs from now on
$node->safe_psql('postgres', q{UPDATE nadia_bgw.rollup SET last_error = NULL});
ok(wake($node), 'a cycle ran on the updated extension');
is($node->safe_psql('postgres', q{SELECT last_error FROM nadia_bgw.rollups WHERE name = 'public.payments_daily'}),
	'22P02: data exception (message in the server log)', 'the failing refresh records the SQLSTATE only');

$node->stop;
done_testing();
