# 460_secrets.pl -- another session's text is never ours to store
# (docs/security.md, section 2).
#
#   1. Sessions wait on locks and run long while their statements carry
#      secrets (ALTER ROLE ... PASSWORD, a SELECT with a literal, the last
#      statement of an idle blocker, a long-running query).  Detection opens
#      lock-wait, idle-in-transaction and long-transaction alerts and a
#      sample is taken: no secret reaches any table of nadia_bgw, the
#      NOTIFY payloads a role with no grant at all receives, or what the
#      reader role can select.
#   2. Statement history of utility statements that carry secrets: each is
#      stored as its command tag and object names; optimizable statements
#      keep their normalized text.
#   3. Error texts the reader sees are SQLSTATEs: a rollup whose aggregate
#      casts an application value, an injected task failure, a failed
#      NOTIFY.
#   4. The payload's shape: every key and its type, per alert kind, and the
#      docs' example has the same keys.
use strict;
use warnings;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NadiaTest;
use NadiaAlerts;
use Time::HiRes qw(usleep);

my $node = nadia_node('secrets', conf => "nadia_bgw.interval = 3600\n");
$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_stat_statements;
	CREATE ROLE regress_victim LOGIN;
	CREATE ROLE regress_lurker LOGIN;
	CREATE ROLE regress_reader LOGIN IN ROLE nadia_bgw_reader;
	CREATE TABLE locked (id int, note text);
	INSERT INTO locked VALUES (1, 'x');
});

# every table of nadia_bgw; what the reader role can select, views included
sub tables_holding { return relations_holding($node, $_[0], 'r,p'); }
sub reader_sees { return relations_holding($node, $_[0], 'r,p,v,m', extra_params => ['-U', 'regress_reader']); }

# --- 1. alerts on sessions whose statements carry secrets
my $lurker = $node->background_psql('postgres', extra_params => ['-U', 'regress_lurker']);
$lurker->query_safe('LISTEN nadia_bgw_alerts');

my $holder = $node->background_psql('postgres');
$holder->query_safe(q{BEGIN; ALTER ROLE regress_victim CONNECTION LIMIT 5;
	LOCK TABLE locked IN ACCESS EXCLUSIVE MODE; SELECT 'sekret-blocker-idle' AS x});
my @waiters;
for my $sql (q{ALTER ROLE regress_victim PASSWORD 'hunter2-sekret-password';},
	q{SELECT count(*) FROM locked WHERE note = 'sekret-select-wait';})
{
	my $w = $node->background_psql('postgres', on_error_stop => 0);
	my $pid = $w->query_safe('SELECT pg_backend_pid()');
	$w->query_until(qr/waiting/, "\\echo waiting\n$sql\n");
	$node->poll_query_until('postgres',
		"SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $pid");
	push @waiters, [ $w, $pid ];
}
my $long = $node->background_psql('postgres', on_error_stop => 0);
my $long_pid = $long->query_safe('SELECT pg_backend_pid()');
$long->query_until(qr/sleeping/, "\\echo sleeping\nSELECT pg_sleep(600), 'sekret-long-running';\n");

my $settings = 'SET nadia_bgw.lock_wait_seconds = 1; SET nadia_bgw.idle_in_transaction_seconds = 1;'
  . ' SET nadia_bgw.long_running_seconds = 1';
my $kinds = '';
for (1 .. 300)
{
	detect($node, $settings);
	$kinds = $node->safe_psql('postgres',
		"SELECT string_agg(kind || ':' || n, ',' ORDER BY kind) FROM"
		  . " (SELECT kind, count(*) AS n FROM nadia_bgw.alerts GROUP BY kind) k");
	last if $kinds =~ /idle_in_transaction:1,lock_wait:2,long_transaction:[3-9]/;
	usleep(100_000);
}
like($kinds, qr/idle_in_transaction:1,lock_wait:2,long_transaction:[3-9]/,
	'lock-wait, idle and long-transaction alerts opened on the sessions');
$node->safe_psql('postgres', 'SELECT nadia_bgw.take_sample()');
is($node->safe_psql('postgres', 'SELECT count(*) > 0 FROM nadia_bgw.lock_wait_samples'),
	't', 'the lock waits were sampled too');

my @n = notifications($lurker);
cmp_ok(scalar(@n), '>=', 6, 'a role with no grant received the notifications');
my @leaks = grep { $_->{raw} =~ /sekret|hunter2/i } @n;
is(scalar(@leaks), 0, 'no payload carries a statement text or secret')
  or diag($leaks[0]{raw});
is(scalar(grep { $_->{raw} =~ /"query"/ } @n), 0, 'no payload has a query field');
is(tables_holding('sekret'), '', 'no table of nadia_bgw holds a secret');
is(tables_holding('hunter2'), '', 'no table of nadia_bgw holds the password');
is(reader_sees('sekret'), '', 'the reader role sees no secret');
is($node->safe_psql('postgres',
	q{SELECT count(*) FROM nadia_bgw.alerts WHERE kind = 'lock_wait'
	    AND details->'blockers'->0 ? 'queryid' AND NOT details->'blockers'->0 ? 'query'}),
	'2', 'blockers are named by pid and query id, without text');

$holder->query_safe('ROLLBACK');
$holder->quit;
$_->[0]->quit for @waiters;
$node->safe_psql('postgres', "SELECT pg_cancel_backend($long_pid)");
$long->quit;

# --- 2. statement history of utility statements that carry secrets
$node->safe_psql('postgres', q{
	CREATE TABLE t (a int, b text);
	CREATE PROCEDURE p(x text) LANGUAGE sql AS $$ SELECT 1 $$;
	CREATE FOREIGN DATA WRAPPER regress_fdw;
	CREATE SERVER regress_srv FOREIGN DATA WRAPPER regress_fdw;
	SELECT pg_stat_statements_reset();
});
my @statements = (
	[ q{COPY (SELECT 1) TO PROGRAM 'PGPASSWORD=sekret-copy-env cat > /dev/null'}, 'COPY' ],
	[ q{COPY t (a) FROM PROGRAM 'echo 1 # postgresql://app:sekret-copy-uri@db/app'}, 'COPY t' ],
	[ q{CREATE SUBSCRIPTION regress_sub CONNECTION 'host=localhost user=app password=sekret-sub dbname=x' PUBLICATION p WITH (connect = false)},
		'CREATE SUBSCRIPTION regress_sub' ],
	[ q{CREATE SUBSCRIPTION regress_sub2 CONNECTION 'postgresql://app:sekret-sub-uri@localhost/x' PUBLICATION p WITH (connect = false)},
		'CREATE SUBSCRIPTION regress_sub2' ],
	[ q{CALL p('sekret-call')}, 'CALL p' ],
	[ q{DO $$BEGIN PERFORM 'sekret-do'; END$$}, 'DO' ],
	[ q{SET app.api_key = 'sekret-set'}, 'SET app.api_key' ],
	[ q{CREATE ROLE regress_r PASSWORD 'sekret-role'}, 'CREATE ROLE regress_r' ],
	[ q{  /* sekret-comment */ alter   role regress_r password 'sekret-lower'}, 'ALTER ROLE regress_r' ],
	[ q{CREATE USER MAPPING FOR CURRENT_USER SERVER regress_srv OPTIONS (password 'sekret-mapping')},
		'CREATE USER MAPPING FOR CURRENT_USER SERVER regress_srv' ],
	[ q{COMMENT ON TABLE t IS 'sekret-comment-on'}, 'COMMENT t' ],
	[ q{comment on column public.t.b is 'sekret-comment-column'}, 'COMMENT public.t.b' ],
	[ q{COMMENT ON PROCEDURE p(text) IS 'sekret-comment-function'}, 'COMMENT p' ],
	[ q{CREATE TABLE regress_d1 (); CREATE TABLE regress_d2 (); DROP TABLE regress_d1, public.regress_d2},
		'DROP TABLE regress_d1, public.regress_d2' ],
	[ qq{PREPARE regress_q AS SELECT * FROM t WHERE b = 'sekret-prepare';\nEXECUTE regress_q}, 'PREPARE regress_q' ],
	[ q{EXPLAIN ANALYZE SELECT * FROM t WHERE b = 'sekret-explain'}, 'EXPLAIN' ],
	[ q{SELECT 'sekret-into' AS x INTO regress_into}, 'SELECT INTO regress_into' ],
	[ q{CREATE TABLE regress_ctas AS SELECT 'sekret-ctas' AS x}, 'CREATE TABLE AS regress_ctas' ],
	[ q{CREATE VIEW regress_view AS SELECT 'sekret-view' AS x}, 'CREATE VIEW regress_view' ],
	[ q{NOTIFY regress_channel, 'sekret-notify'}, 'NOTIFY regress_channel' ],
	[ q{select b from t where b = 'sekret-normalized' and a = 42 order by 1}, 'select b from t where b = $1 and a = $2 order by 1' ],
	[ q{SELECT interval '1 day' + now() FROM t WHERE b = 'sekret-typed'}, q{SELECT interval $1 + now() FROM t WHERE b = $2} ],
	[ q{WITH w AS (SELECT 'sekret-with' AS v) SELECT * FROM w}, q{WITH w AS (SELECT $1 AS v) SELECT * FROM w} ],
);
for my $s (@statements)
{
	$node->safe_psql('postgres', $s->[0]);
}
$node->safe_psql('postgres', q{PREPARE regress_p2(text) AS SELECT * FROM t WHERE b = $1;
	EXECUTE regress_p2('sekret-execute')});
$node->safe_psql('postgres', 'SELECT nadia_bgw.take_sample()');
my %stored = map { $_ => 1 } split /\n/, $node->safe_psql('postgres',
	q{SELECT query FROM nadia_bgw.statements WHERE datname = 'postgres'});
for my $s (@statements)
{
	ok($stored{ $s->[1] }, "stored as \"$s->[1]\": $s->[0]")
	  or diag(join "\n", sort keys %stored);
}
is(tables_holding('sekret'), '', 'no statement text with a secret in history');
is(reader_sees('sekret'), '', 'the reader sees none either');
is($node->safe_psql('postgres',
	q{SELECT bool_and(redacted) FROM nadia_bgw.statements WHERE query IN ('DO', 'CALL p', 'COPY t')}),
	't', 'reduced texts are marked redacted');

# --- 3. error texts the reader sees
$node->safe_psql('postgres', q{
	CREATE TABLE payments (created_at timestamptz NOT NULL DEFAULT now(), amount text);
	INSERT INTO payments (amount) VALUES ('12.50');
	SELECT nadia_bgw.create_rollup(name => 'payments_daily', source => 'payments',
	    time_column => 'created_at', bucket => '1 day', timezone => 'UTC',
	    aggregates => ARRAY['sum(amount::numeric) AS total']);
	INSERT INTO payments (amount) VALUES ('card 4111-1111-1111-1111');
});
my $offset = -s $node->logfile;
ok(wake($node), 'a cycle ran over the failing rollup');
my $rerr = $node->safe_psql('postgres',
	q{SELECT last_error FROM nadia_bgw.rollups WHERE name = 'public.payments_daily'});
is($rerr, '22P02: data exception (message in the server log)', 'rollups.last_error is the SQLSTATE');
unlike($rerr, qr/4111/, 'rollups.last_error carries no application value');
like(log_since($node, $offset), qr/card 4111/, 'the full message is in the server log');
$node->safe_psql('postgres', q{SELECT nadia_bgw.drop_rollup('payments_daily')});

reload_conf($node, "nadia_bgw.debug_fail_task = 'heartbeat'");
wait_until($node, "SELECT current_setting('nadia_bgw.debug_fail_task') = 'heartbeat'");
wake($node);
is(status_of($node, 'heartbeat', 'last_error'),
	'09000: triggered action exception (message in the server log)',
	'status.last_error is the SQLSTATE, not the message');
reload_conf($node, "nadia_bgw.debug_fail_task = DEFAULT");

detect($node, "SET nadia_bgw.debug_alert = 'flaky:warning:10:2'; SET nadia_bgw.debug_fail_notify = on");
is($node->safe_psql('postgres',
	q{SELECT notify_error FROM nadia_bgw.alerts WHERE alert_key = 'debug:flaky'}),
	'09000: triggered action exception (message in the server log)',
	'alerts.notify_error is the SQLSTATE');

# --- 4. the payload's shape
detect($node, "SET nadia_bgw.debug_alert = 'shape:critical:10:2'");
push @n, notifications($lurker);
my %kinds_seen;
for my $p (@n)
{
	my $j = $p->{json};
	my $kind = ref $j eq 'HASH' ? $j->{kind} // '?' : '?';
	$kinds_seen{$kind}++;
	is(join(',', payload_problems($p->{raw})), '',
		"payload of a $kind alert (" . ($j->{event} // '?') . ') has the documented keys and types');
}
ok($kinds_seen{$_}, "a $_ payload was checked")
  for qw(lock_wait idle_in_transaction long_transaction debug);

# the example in docs/alerts.md has the same keys as what is sent
my $doc = slurp_file("$ENV{NADIA_SRC_ROOT}/docs/alerts.md");
my ($example) = $doc =~ /## NOTIFY payload.*?```json\n(.*?)```/s;
my $ex = eval { decode_json($example) };
ok($ex, 'the docs example is JSON') or diag($@);
my @doc_bad = payload_problems($example);
push @doc_bad, map { "missing $_" } grep { !exists $ex->{$_} } keys %PAYLOAD_KEYS;
is(join(',', sort @doc_bad), '', 'the docs example has every key of the payload, with its type');
ok(exists $ex->{details}{baseline_samples}, 'the docs example details use the key the detectors write');
is($node->safe_psql('postgres',
	q{SELECT count(*) FROM nadia_bgw.alerts WHERE details ? 'nadia_baseline_samples'}),
	'0', 'no alert uses the old nadia_baseline_samples key');

$lurker->quit;
$node->stop;
done_testing();
