# 520_mcp_sdk.pl -- nadia-mcp driven by the official MCP TypeScript SDK
# client (StdioClientTransport, versions pinned in regress/mcp-client/
# package-lock.json, installed with npm ci) against a cluster with sampled
# history: initialize, list tools, call every tool, validate every
# structuredContent against its outputSchema.  Nothing of the application's
# data comes back through any tool.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NadiaTest;
use NadiaMcp;

my $dir = mcp_npm_ci();
ok($dir, 'npm ci installed the pinned SDK client') or BAIL_OUT('no client');

# the plan history below is written by hand, so the capture is off: its
# own plan of the per-user statement would share the calls
my $node = nadia_node('mcp_sdk', conf => "nadia_bgw.plan_capture = off\n");
my $db = 'postgres';
# the application: rows and literals carry a marker that must never leak
$node->safe_psql($db, q{
	CREATE EXTENSION pg_stat_statements;
	CREATE TABLE public.interactions (
		id bigint PRIMARY KEY, user_id bigint, user_message text,
		created_at timestamptz DEFAULT now());
	INSERT INTO public.interactions
	SELECT g, g % 97, 'NADIA-SECRET-DATA-' || g, now() - g * interval '1 minute'
	  FROM generate_series(1, 30000) g;
	CREATE INDEX interactions_user ON public.interactions (user_id);
	CREATE INDEX interactions_user_dup ON public.interactions (user_id);
	ANALYZE public.interactions;
	SELECT nadia_bgw.take_sample();
});
# what the data-quality tools report: a NOT VALID check whose expression
# holds a secret literal, a foreign key without an index, a column whose
# most common value (a secret) dominates; the quality tasks are called
# directly, as the worker would
$node->safe_psql($db, q{
	ALTER TABLE public.interactions ADD CONSTRAINT interactions_no_secret
		CHECK (user_message <> 'NADIA-SECRET-CHECK') NOT VALID;
	CREATE TABLE public.feedback (
		id bigint PRIMARY KEY, interaction_id bigint REFERENCES public.interactions (id),
		verdict text);
	INSERT INTO public.feedback
	SELECT g, g, CASE WHEN g % 10 = 0 THEN 'ok-' || g ELSE 'NADIA-SECRET-SKEW' END
	  FROM generate_series(1, 5000) g;
	ANALYZE public.feedback;
	SELECT nadia_bgw._quality_checks(now()), nadia_bgw._quality_distribution(now()),
	       nadia_bgw._quality_anomalies(now()), nadia_bgw._quality_capacity(now());
	-- (the capacity task's recording cycle fits nothing: the next one does)
	SELECT nadia_bgw._quality_capacity(now());
	-- an anomaly as the anomalies task stores it (a judged bucket needs
	-- weeks of history; the task has its own tests, 780 and anomalies.sql)
	INSERT INTO nadia_bgw.metric_anomalies (detected_at, kind, objid, source, metric,
		bucket_start, bucket_end, observed, median, expected_low, expected_high, score,
		direction, seasons)
	VALUES (now(), 'table_writes', 'public.feedback'::regclass::oid, 'public.feedback',
		'n_tup_ins', now() - interval '20 minutes', now() - interval '10 minutes',
		5000, 12, 0, 40, 3370.5, 'high', 4);
});
my $role = mcp_make_role($node);
for my $i (1 .. 3)
{
	$node->safe_psql($db, qq{
		SELECT count(*) FROM public.interactions WHERE user_message = 'NADIA-SECRET-LITERAL-$i';
		SELECT * FROM public.interactions WHERE id = $i;
		SELECT user_message FROM public.interactions WHERE user_id = $i ORDER BY id LIMIT 5;
		UPDATE public.interactions SET user_message = 'NADIA-SECRET-UPDATE-$i' WHERE id = $i;
		ALTER ROLE $role PASSWORD 'NADIA-SECRET-PASSWORD-$i';
	});
	# a lock wait the sampler sees
	if ($i == 2)
	{
		my $locker = $node->background_psql($db);
		$locker->query_safe('BEGIN; LOCK TABLE public.interactions IN EXCLUSIVE MODE');
		my ($o, $e);
		my $waiter = IPC::Run::start(
			[ 'psql', '-X', '-d', $node->connstr($db), '-c',
			  "UPDATE public.interactions SET user_id = 1 WHERE id = 42" ],
			'>', \$o, '2>', \$e);
		wait_until($node, "SELECT count(*) > 0 FROM pg_locks WHERE NOT granted");
		$node->safe_psql($db, 'SELECT nadia_bgw.take_sample()');
		$locker->query_safe('COMMIT');
		$waiter->finish;
		$locker->quit;
	}
	$node->safe_psql($db, 'SELECT nadia_bgw.take_sample()');
}

# NADIA-style rollups, exposed to the rollup tools, when the rollup module is here
my $have_rollups = $node->safe_psql($db,
	"SELECT EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'create_rollup'
	                   AND pronamespace = 'nadia_bgw'::regnamespace)") eq 't';
if ($have_rollups)
{
	$node->safe_psql($db, q{
		SELECT nadia_bgw.create_rollup(name => 'review_queue_daily', source => 'public.interactions',
			time_column => 'created_at', bucket => '1 day', bucket_column => 'date',
			aggregates => ARRAY['COUNT(*) AS messages', 'COUNT(*) FILTER (WHERE id % 2 = 0) AS pending']);
		SELECT nadia_bgw.create_rollup(name => 'user_activity_hourly', source => 'public.interactions',
			time_column => 'created_at', bucket => '1 hour', bucket_column => 'hour',
			aggregates => ARRAY['COUNT(DISTINCT user_id) AS active_users', 'COUNT(*) AS messages']);
		SELECT nadia_bgw.create_rollup(name => 'llm_cost_daily', source => 'public.interactions',
			time_column => 'created_at', bucket => '1 day', bucket_column => 'date',
			group_by => ARRAY['user_id'],
			aggregates => ARRAY['COUNT(*) AS messages', 'SUM(id) / 1000.0 AS total_cost']);
		SELECT nadia_bgw.create_rollup(name => 'recovered_daily', source => 'public.interactions',
			time_column => 'created_at', bucket => '1 day', bucket_column => 'date',
			filter => 'user_id = 7', aggregates => ARRAY['COUNT(*) AS recovered']);
		SELECT nadia_bgw.mcp_expose_rollup('review_queue_stats', 'review_queue_daily');
		SELECT nadia_bgw.mcp_expose_rollup('user_activity_patterns', 'user_activity_hourly');
		SELECT nadia_bgw.mcp_expose_rollup('llm_cost_tracking', 'llm_cost_daily');
	});
	# recovery_system_stats stays unexposed: it must say so
	# anomalies of an exposed and of an unexposed rollup, stored by hand
	$node->safe_psql($db, q{
		INSERT INTO nadia_bgw.metric_anomalies (detected_at, kind, objid, source, metric,
			group_columns, group_hash, bucket_start, bucket_end, observed, median,
			expected_low, expected_high, score, direction, seasons)
		SELECT now(), 'rollup', r.id, r.name, 'messages', '{user_id}', md5('(7)'),
			now() - interval '2 days', now() - interval '1 day', 900, 300, 200, 400, 8.1, 'high', 4
		  FROM nadia_bgw.rollup r
		 WHERE r.name IN ('public.llm_cost_daily', 'public.recovered_daily');
	});
}

# plan history for the per-user statement, written by hand (the capture
# and its history have their own tests, 700-729): one plan, instrumented,
# seen before the statement's history began; as the sampler stores it,
# one plan has no plan rows: its figures are the statement's
my ($qid, $qtext) = split /\|/, $node->safe_psql($db, q{
	SELECT queryid, query FROM nadia_bgw.statements
	 WHERE query LIKE '%user_id = $1 ORDER BY id LIMIT%' ORDER BY stmt_id LIMIT 1});
ok($qid, 'the per-user statement is in history');
$node->safe_psql($db, qq{
	INSERT INTO nadia_bgw.plans (queryid, dbid, userid, planid, first_seen, last_seen, plan_text,
	                             summary, sampled_nodes, sampled_at)
	SELECT queryid, dbid, userid, 5200001, now() - interval '1 day', now(),
	       E'Limit  (cost=0.29..20.1 rows=5 width=40)\n  ->  Index Scan using interactions_user on public.interactions  (cost=0.29..1234.5 rows=309 width=40)\n        Index Cond: (user_id = \$1)',
	       'Index Scan using public.interactions_user on public.interactions',
	       '[{"id": 1, "label": "Index Scan using public.interactions_user on public.interactions",
	          "est_rows": 309, "actual_rows": 5, "loops": 1, "removed_by_filter": 0, "misestimate": -61.8}]',
	       now()
	  FROM nadia_bgw.statements WHERE queryid = $qid
	ON CONFLICT DO NOTHING;
});

my $conn = mcp_conninfo($node, $role, $db);
my $since = $node->safe_psql($db,
	q{SELECT to_char((now() - interval '1 hour') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')});
$ENV{NADIA_MCP_CALLS} = json_encode({
	slow_queries => [ { limit => 1, since => '1h', database => $db } ],
	query_stats => [ { query_pattern => 'interactions', since => $since } ],
	explain_query => [ { queryid => $qid, since => $since }, { query => $qtext, since => $since },
		{ queryid => '1', since => $since } ],
	lock_analysis => [ { since => $since } ],
	alerts => [ { state => 'all' } ],
	missing_indexes => [ { min_rows => 1000, since => '2h' } ],
	constraint_violations => [ { schema => 'public', table => 'interactions', since => $since } ],
	referential_integrity => [ { table => 'no_such_table' } ],
	data_distribution => [ { table => 'feedback', columns => 'flagged', until => '2026-01-01' } ],
	data_anomalies => [ { kind => 'rollup' } ],
	capacity_forecast => [ { kind => 'xid' }, { at => '40d' }, { within_days => 36500 } ],
});
my $r = mcp_node_client($dir, 'tools', $conn, '--rate-per-minute=0', '--heavy-per-hour=0');
ok(!$r->{fatal}, 'the client ran') or diag($r->{fatal});

is($r->{server}{name}, 'nadia-mcp', 'initialize: serverInfo');
is($r->{protocolVersion}, '2025-06-18', 'the SDK asked for its newest version and accepted 2025-06-18');
is(scalar @{ $r->{tools} }, 23, '23 tools listed');
ok($r->{ping}, 'ping through the SDK');
is($r->{unknownTool}{code}, -32602, 'unknown tool through the SDK: -32602');

# which sources this database has (modules land one by one)
my %present = map { $_ => $node->safe_psql($db, "SELECT to_regclass('$_') IS NOT NULL") eq 't' }
  qw(nadia_bgw.alerts nadia_bgw.rollups nadia_bgw.maintenance_history);
my %needs = (alerts => 'nadia_bgw.alerts');
$needs{$_} = 'nadia_bgw.rollups'
  for qw(review_queue_stats user_activity_patterns llm_cost_tracking recovery_system_stats);
my %exposed = map { $_ => 1 } split /\n/, $node->safe_psql($db, 'SELECT tool FROM nadia_bgw.mcp_rollups');

my %rows;
for my $c (@{ $r->{calls} })
{
	my $what = "$c->{tool}(" . json_encode($c->{arguments}) . ')';
	if ($c->{exception})
	{
		fail("$what: no exception") or diag(json_encode($c->{exception}));
		next;
	}
	my $src = $needs{ $c->{tool} };
	my $available = !$src || ($present{$src} && ($src ne 'nadia_bgw.rollups' || $exposed{ $c->{tool} }));
	if ($available)
	{
		ok(!$c->{isError}, "$what answers") or diag($c->{text});
		ok($c->{valid}, "$what: structuredContent valid against outputSchema")
		  or diag(json_encode($c->{validationErrors}));
		ok($c->{textMatches}, "$what: text content carries the same JSON");
		$rows{ $c->{tool} } //= $c->{structuredContent}{rows} if !$c->{isError};
	}
	else
	{
		ok($c->{isError}, "$what: isError while $src is missing or not exposed");
		like($c->{text}, qr/is not available in database "$db"/, "$what: says it is not available");
	}
}

# the answers reflect the sampled history
ok((grep { $_->{query} =~ /interactions/ } @{ $rows{slow_queries} }), 'slow_queries shows the workload');
my ($qs) = grep { $_->{tool} eq 'query_stats' && $_->{arguments}{query_pattern} } @{ $r->{calls} };
ok(@{ $qs->{structuredContent}{rows} } > 0
	&& !(grep { $_->{query} !~ /interactions/i } @{ $qs->{structuredContent}{rows} }),
	'query_stats(query_pattern) returns only matching statements');
my ($qsp) = grep { $_->{query} eq $qtext } @{ $qs->{structuredContent}{rows} };
ok($qsp && (grep { $_->{planid} eq '5200001' } @{ $qsp->{plans} }), 'query_stats shows the statement\'s plan');
is_deeply([ map { [ $_->{planid}, $_->{calls}, $_->{share_of_calls} ] } @{ $qsp->{plans} // [] } ],
	[ [ '5200001', $qsp->{calls}, 1 ] ], '... its only plan, with the statement\'s calls');
my ($eq_id, $eq_text, $eq_unknown) = grep { $_->{tool} eq 'explain_query' && %{ $_->{arguments} } } @{ $r->{calls} };
my ($plan) = grep { $_->{planid} eq '5200001' } @{ $eq_id->{structuredContent}{rows} // [] };
ok($plan, 'explain_query(queryid): the plan');
like($plan->{plan_text} // '', qr/Index Cond: \(user_id = \$1\)/, '... its masked text');
is($plan->{worst_nodes}[0]{misestimate}, -61.8, '... the worst node');
is($plan->{share_of_calls}, 1, '... the only plan: all calls');
is_deeply([ map { $_->{planid} } @{ $eq_text->{structuredContent}{rows} } ],
	[ map { $_->{planid} } @{ $eq_id->{structuredContent}{rows} } ],
	'explain_query(query text): the same plans as by queryid');
is_deeply($eq_unknown->{structuredContent}{rows}, [], 'explain_query(unknown queryid): no row');
like($eq_unknown->{structuredContent}{note} // '', qr/no plan in the range/, '... and a note');
my ($sq) = grep { $_->{tool} eq 'slow_queries' && $_->{arguments}{limit} } @{ $r->{calls} };
cmp_ok(scalar @{ $sq->{structuredContent}{rows} }, '<=', 1, 'slow_queries(limit => 1) returns one row');
like($sq->{structuredContent}{rows}[0]{queryid} // '', qr/^-?\d+$/, 'queryid is a string of digits');
ok((grep { $_->{relation} && $_->{relation} =~ /interactions/ } @{ $rows{lock_analysis} }),
	'lock_analysis shows the wait on interactions');
ok((grep { $_->{relname} eq 'interactions' } @{ $rows{table_stats} }), 'table_stats lists interactions');
ok((grep { $_->{indexrelname} =~ /interactions_user/ && $_->{verdict} eq 'duplicate' } @{ $rows{index_usage} }),
	'index_usage flags the duplicate index');
ok(@{ $rows{active_connections} } == 1, 'active_connections: the latest sample');
if ($have_rollups)
{
	ok(@{ $rows{user_activity_patterns} } > 0 && defined $rows{user_activity_patterns}[0]{values}{active_users},
		'user_activity_patterns: buckets of the exposed rollup');
	ok(@{ $rows{llm_cost_tracking} } > 0 && defined $rows{llm_cost_tracking}[0]{values}{total_cost},
		'llm_cost_tracking: buckets of the exposed rollup');
	my ($rec) = grep { $_->{tool} eq 'recovery_system_stats' } @{ $r->{calls} };
	like($rec->{text}, qr/no rollup is exposed to MCP for recovery_system_stats/,
		'an unexposed rollup tool says how to expose one');
}

# the data-quality tools
my %calls;
push @{ $calls{ $_->{tool} } }, $_ for @{ $r->{calls} };
ok((grep { $_->{kind} eq 'not_valid_check' && $_->{objname} eq 'interactions_no_secret'
		&& $_->{relname} eq 'interactions' && $_->{open} && ($_->{detail} // '') =~ /VALIDATE CONSTRAINT/ }
	@{ $rows{constraint_violations} }), 'constraint_violations: the NOT VALID check, open, with its fix');
ok(@{ $calls{constraint_violations}[1]{structuredContent}{rows} } > 0
	&& !(grep { $_->{relname} ne 'interactions' } @{ $calls{constraint_violations}[1]{structuredContent}{rows} }),
	'constraint_violations(schema, table): that table only');
my ($fk) = grep { $_->{kind} eq 'unindexed_foreign_key' && $_->{relname} eq 'feedback' }
  @{ $rows{referential_integrity} };
ok($fk, 'referential_integrity: the foreign key without an index');
is_deeply($fk->{columns}, ['interaction_id'], '... its columns');
is($fk->{ref_relname}, 'interactions', '... the referenced table');
like($fk->{detail} // '', qr/CREATE INDEX .*feedback.*interaction_id/, '... the index that fixes it');
is_deeply($calls{referential_integrity}[1]{structuredContent}{rows}, [],
	'referential_integrity(table => unknown): no row');
like($calls{referential_integrity}[1]{structuredContent}{note} // '', qr/no such foreign key/, '... and a note');
my ($verdict) = grep { $_->{relname} eq 'feedback' && $_->{attname} eq 'verdict' } @{ $rows{data_distribution} };
ok($verdict && $verdict->{skew} && $verdict->{top_freq} > 0.5,
	'data_distribution: the skewed column, flagged, with its top share (' . ($verdict->{top_freq} // 'none') . ')');
ok($rows{data_distribution}[0]{skew} || $rows{data_distribution}[0]{null_frac_drift}
	|| $rows{data_distribution}[0]{n_distinct_drift}, '... flagged columns first');
is_deeply($calls{data_distribution}[1]{structuredContent}{rows}, [],
	'data_distribution(until before the ANALYZE): no row');
my ($an) = grep { $_->{source} eq 'public.feedback' } @{ $rows{data_anomalies} };
ok($an && $an->{metric} eq 'n_tup_ins' && $an->{direction} eq 'high' && $an->{observed} == 5000,
	'data_anomalies: the stored anomaly');
is_deeply([ map { $_->{source} } @{ $calls{data_anomalies}[1]{structuredContent}{rows} } ],
	$have_rollups ? ['public.llm_cost_daily'] : [],
	'data_anomalies(kind => rollup): not the table\'s; an exposed rollup\'s, not an unexposed one\'s');
ok((grep { $_->{kind} eq 'connections' && $_->{unit} eq 'connections' } @{ $rows{capacity_forecast} }),
	'capacity_forecast: the connections against max_connections');
is( scalar(grep { ($_->{computed_at} // '') =~ /^\d{4}-\d\d-\d\dT/ } @{ $rows{capacity_forecast} }),
	scalar(@{ $rows{capacity_forecast} }),
	'capacity_forecast: the stored rows, each with the time the task computed it');
my @xid = @{ $calls{capacity_forecast}[1]{structuredContent}{rows} };
ok(@xid && !(grep { $_->{kind} !~ /^xid_/ } @xid), 'capacity_forecast(kind => xid): xid_freeze and xid_wraparound only');
is_deeply($calls{capacity_forecast}[2]{structuredContent}{rows}, [],
	'capacity_forecast(at => 40 days ago): nothing stored was computed that early');
ok(!(grep { !defined $_->{days_to_limit} || $_->{days_to_limit} > 36500 }
		@{ $calls{capacity_forecast}[3]{structuredContent}{rows} }),
	'capacity_forecast(within_days): only what has a limit that near');

# nothing of the application's data, literals or secrets comes back
my $all = json_encode([ map { [ $_->{text}, $_->{structuredContent} ] } @{ $r->{calls} } ]);
unlike($all, qr/NADIA-SECRET/, 'no row, literal or password of the application in any answer');
unlike($r->{stderr} // '', qr/NADIA-SECRET/, 'nor on stderr');
diag("server RSS after all tools: $r->{rss}{rss_kb} kB (peak $r->{rss}{hwm_kb} kB)");

$node->stop;
done_testing();
