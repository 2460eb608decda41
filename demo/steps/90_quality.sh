# 90_quality.sh -- data quality, anomalies and capacity (issue 16), one of
# each, read the way users read them (the reader functions as the
# superuser a DBA is, and the MCP tools as the reader role nadia_mcp):
#   1. a NOT VALID check constraint with violating rows (constraint_violations),
#      and its count of violating rows when this build counts them;
#   2. a foreign key without an index (referential_integrity), the index it
#      suggests created, the fact resolved;
#   3. a skewed column (data_distribution), and the proof that none of its
#      values reached history or the answers;
#   4. the cost spike that 20_data.sh injected, flagged on the dashboard
#      rollup of 40_rollups.sh (data_anomalies, alert metric_anomaly);
#   5. a days-until-full forecast of an int4 key's sequence (capacity_forecast),
#      from days of history simulated by calling the capacity task with
#      explicit instants (said in the output).
# Needs the NADIA data (20_data.sh); the anomaly part needs the dashboard
# rollup (40_rollups.sh).  Creates the MCP role of 70_mcp.sh if missing.
set -euo pipefail

if [ "$($PSQL -At -c "SELECT to_regclass('public.interactions') IS NOT NULL")" != t ]; then
	say "Data quality: skipped (the NADIA data of 20_data.sh is not loaded)"
	exit 0
fi

FEEDBACK_ROWS=${DEMO_FEEDBACK_ROWS:-20000}
BAD_EVERY=500             # one feedback row in 500 has a score of 0
COUNT_WAIT=${DEMO_COUNT_WAIT_SECONDS:-90}
SEQ_PER_DAY=20000         # values of the webhook key consumed per simulated day
SEQ_DAYS=7                # simulated days
SEQ_LEFT_DAYS=12          # what is left after them, in days at that rate
SPIKE_DAYS_AGO=${DEMO_SPIKE_DAYS_AGO:-1}   # the day 20_data.sh injected
OUT=$DEMO_DIR/quality
rm -rf "$OUT"
mkdir -p "$OUT"

# This step drives the worker's cycles itself (nadia_bgw.wake()), so that
# each result below is the cycle's that follows the change; the settings
# it changes are restored at the end.
COUNTS=$($PSQL -At -c "SELECT to_regclass('nadia_bgw.quality_counts') IS NOT NULL")
$PSQL -qAt -c "ALTER SYSTEM SET nadia_bgw.interval = '1h'" -c "SELECT pg_reload_conf()" >/dev/null
restore() {
	$PSQL -qAt -c "ALTER SYSTEM RESET nadia_bgw.interval" >/dev/null
	[ "$COUNTS" = t ] && $PSQL -qAt -c "ALTER SYSTEM RESET nadia_bgw.maintenance_window" >/dev/null
	$PSQL -qAt -c "SELECT pg_reload_conf()" >/dev/null
}
trap restore EXIT
cycle() {
	$PSQL -qAt -c "SELECT pg_stat_force_next_flush()" \
		-c "SELECT nadia_bgw.wake(wait => true, timeout_ms => 120000)" >/dev/null
}
# sql FILE QUERY: a reader query, printed and kept for the search of part 3
sql() {
	local f=$OUT/$1
	shift
	$PSQL "$@" | tee -a "$f"
}

MCP_FILES=quality/mcp
. "$ROOT/demo/mcp_calls.sh"
mcp_role

# ---------------------------------------------------------------------------
say "Data quality: the application adds a review_feedback table (one row per reviewer verdict)"
# The reviewer's name is the secret of part 3: loaded with COPY from a
# file, it is in no statement's text (statement and plan history keep
# those); "reviewer-zq4821-olga" in 90% of the rows.
SECRET=reviewer-zq4821-olga
$PSQL -q <<'SQL'
DROP TABLE IF EXISTS public.review_feedback;
CREATE TABLE public.review_feedback (
    id             serial PRIMARY KEY,
    interaction_id uuid NOT NULL REFERENCES public.interactions (id),
    reviewer       text NOT NULL,
    score          integer
);
SQL
$PSQL -qAt -c "\\copy (SELECT id FROM public.interactions ORDER BY created_at DESC LIMIT $FEEDBACK_ROWS) TO '$OUT/ids'"
awk -v secret="$SECRET" -v bad="$BAD_EVERY" 'BEGIN { OFS = "\t" }
	{ print $1, (NR % 10 == 0 ? "reviewer-" NR % 37 : secret), (NR % bad == 0 ? 0 : 1 + NR % 5) }' \
	"$OUT/ids" >"$OUT/feedback.tsv"
$PSQL -q -c "\\copy public.review_feedback (interaction_id, reviewer, score) FROM '$OUT/feedback.tsv'"
rm -f "$OUT/ids" "$OUT/feedback.tsv"
cat <<EOF
CREATE TABLE public.review_feedback (id serial PRIMARY KEY,
    interaction_id uuid NOT NULL REFERENCES public.interactions (id),   -- no index on it
    reviewer text NOT NULL, score integer);
COPY: $FEEDBACK_ROWS rows; reviewer '$SECRET' in 90% of them; score 0 in one row of $BAD_EVERY
EOF

say "1. A NOT VALID check constraint: added without scanning the table, so old rows may break it"
$PSQL -c "ALTER TABLE public.review_feedback
              ADD CONSTRAINT review_feedback_score_range CHECK (score BETWEEN 1 AND 5) NOT VALID"
$PSQL -c "ANALYZE public.review_feedback"
cycle
echo "The next cycle's quality_checks task sees it in the catalogs (nadia_bgw.constraint_violations(), the last day):"
sql readers.txt -c "SELECT kind, relname, objname, detail, first_seen::time(0), last_seen::time(0),
                          counted_rows, count_exact, count_error_bound, counted_at
                     FROM nadia_bgw.constraint_violations()
                    WHERE relname = 'review_feedback'"

FACT="SELECT counted_at IS NOT NULL FROM nadia_bgw.constraint_violations()
       WHERE objname = 'review_feedback_score_range' AND resolved_at IS NULL"
if [ "$COUNTS" = t ]; then
	say "Counting the violating rows: a budgeted check that reads the table, in the maintenance window"
	echo "This build counts (nadia_bgw.quality_counts exists). The count runs only inside"
	echo "nadia_bgw.maintenance_window: the step opens it ('00:00-24:00', restored at the end)"
	echo "and runs cycles until the count is there (at most ${COUNT_WAIT}s)."
	$PSQL -qAt -c "ALTER SYSTEM SET nadia_bgw.maintenance_window = '00:00-24:00'" \
		-c "SELECT pg_reload_conf()" >/dev/null
	start=$(date +%s)
	while [ "$($PSQL -At -c "$FACT")" != t ] && [ $(($(date +%s) - start)) -lt "$COUNT_WAIT" ]; do
		cycle
		sleep 1
	done
	if [ "$($PSQL -At -c "$FACT")" = t ]; then
		echo "counted after $(($(date +%s) - start)) s:"
	else
		echo "NOT counted within ${COUNT_WAIT}s: the fact's counted_* columns are still empty"
	fi
	sql readers.txt -c "SELECT objname, counted_rows, count_exact, count_error_bound, counted_at::time(0)
	                     FROM nadia_bgw.constraint_violations() WHERE objname = 'review_feedback_score_range'"
	echo "The attempts (nadia_bgw.quality_counts, latest first):"
	$PSQL -c "SELECT * FROM nadia_bgw.quality_counts ORDER BY 1 DESC LIMIT 5"
else
	say "Counting the violating rows: not available on this build"
	echo "nadia_bgw.quality_counts does not exist: this build records the catalog fact only;"
	echo "counted_rows, count_exact, count_error_bound and counted_at stay empty (never made up)."
fi
echo "What the table holds (counted here by the demo as the superuser, for comparison):"
$PSQL -c "SELECT count(*) AS violating_rows FROM public.review_feedback WHERE NOT (score BETWEEN 1 AND 5)"

# ---------------------------------------------------------------------------
say "2. A foreign key without an index: each DELETE of an interaction scans review_feedback"
echo "An MCP client asks (nadia-mcp as nadia_mcp, a member of nadia_bgw_reader only):"
mcp referential_integrity '{"table":"review_feedback"}' \
	constraint_violations '{"table":"review_feedback"}'
CREATE=$($PSQL -At -c "SELECT detail FROM nadia_bgw.referential_integrity()
                        WHERE kind = 'unindexed_foreign_key' AND relname = 'review_feedback'
                          AND resolved_at IS NULL")
say "Creating the suggested index (the fact's detail), then a cycle"
echo "$CREATE"
$PSQL -c "$CREATE"
cycle
sql readers.txt -c "SELECT kind, relname, objname, columns, ref_relname, first_seen::time(0),
                          resolved_at::time(0) AS resolved_at
                     FROM nadia_bgw.referential_integrity() WHERE relname = 'review_feedback'"
echo "(resolved_at set: the episode is closed; the reader still lists it for the range asked)"

# ---------------------------------------------------------------------------
say "3. A skewed column: after ANALYZE the distribution task records pg_stats' figures (numbers only)"
echo "nadia_bgw.data_distribution(), the review_feedback columns (skew: top_freq > nadia_bgw.distribution_skew_share):"
sql readers.txt -c "SELECT attname, reltuples, null_frac, round(n_distinct_abs) AS n_distinct,
                          round(top_freq::numeric, 3) AS top_freq, round(correlation::numeric, 2) AS correlation,
                          avg_width, skew
                     FROM nadia_bgw.data_distribution() WHERE relname = 'review_feedback' ORDER BY attnum"
echo "The same through MCP (flagged columns only):"
mcp data_distribution '{"table":"review_feedback","columns":"flagged"}'

say "... and which value is it? Not stored: the most common value itself is never read"
# every row of every nadia_bgw table as text; the needle is taken from the
# table itself, so that no statement (kept in history) carries it
$PSQL -q <<'SQL'
CREATE FUNCTION pg_temp.hits(t regclass, needle text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM %s x WHERE x::text LIKE %L', t, '%' || needle || '%') INTO n;
    RETURN n;
END $$;
SELECT count(*) AS nadia_bgw_tables_searched,
       count(*) FILTER (WHERE hits > 0) AS tables_holding_the_value
  FROM (SELECT pg_temp.hits(c.oid::regclass, v.needle) AS hits
          FROM pg_class c,
               (SELECT reviewer AS needle FROM public.review_feedback
                 GROUP BY 1 ORDER BY count(*) DESC LIMIT 1) v
         WHERE c.relnamespace = 'nadia_bgw'::regnamespace AND c.relkind IN ('r', 'p')) s;
SQL
if grep -rqF "$SECRET" "$OUT"; then
	echo "FOUND '$SECRET' in the answers above: $(grep -rlF "$SECRET" "$OUT" | xargs -n1 basename | tr '\n' ' ')"
else
	echo "'$SECRET' (90% of review_feedback.reviewer): not stored -- in none of the reader or MCP answers of this step ($(cat "$OUT"/* | wc -l) lines searched)"
fi

# ---------------------------------------------------------------------------
if [ "$($PSQL -At -c "SELECT count(*) FROM nadia_bgw.rollups WHERE name = 'public.dashboard_daily_metrics'")" = 1 ]; then
	if [ "$SPIKE_DAYS_AGO" -gt 0 ]; then
		say "4. The injected cost spike (20_data.sh: the LLM costs of $($PSQL -At -c "SELECT current_date - $SPIKE_DAYS_AGO") x 3), on the dashboard rollup"
	else
		say "4. Anomalies on the dashboard rollup (DEMO_SPIKE_DAYS_AGO=0: no cost spike was injected)"
	fi
	cat <<'EOF'
The worker's anomalies task judges each closed bucket of every rollup column against a
seasonal baseline: the same weekday of the previous weeks (median and MAD of up to
nadia_bgw.anomaly_lookback = 8 of them; at least anomaly_min_seasons = 3, so a day is judged
from the rollup's fourth week on). The dashboard rollup was created by 40_rollups.sh over the
90 generated days: its first run judged them all, in real time (no instant simulated here).
EOF
	echo "The dashboard's series (nadia_bgw.anomaly_series): buckets judged, warm-up, anomalies"
	$PSQL -c "SELECT metric, judged, not_judged AS warm_up, anomalies, last_bucket_start::date AS last_bucket,
	                 last_status
	            FROM nadia_bgw.anomaly_series
	           WHERE kind = 'rollup' AND source = 'public.dashboard_daily_metrics' ORDER BY metric"
	echo "The anomalies (nadia_bgw.data_anomalies(), the last 7 days):"
	sql readers.txt -c "SELECT metric, bucket_start::date AS bucket, round(observed::numeric, 2) AS observed,
	                          round(median::numeric, 2) AS median,
	                          round(expected_low::numeric, 2) || ' .. ' || round(expected_high::numeric, 2) AS expected_range,
	                          round(score::numeric, 1) AS score, direction, seasons,
	                          CASE WHEN metric = 'daily_cost' AND bucket_start::date = current_date - $SPIKE_DAYS_AGO
	                               THEN 'INJECTED x3' ELSE 'not injected' END AS cause
	                     FROM nadia_bgw.data_anomalies()
	                    WHERE kind = 'rollup' AND source = 'public.dashboard_daily_metrics'
	                    ORDER BY bucket_start, metric"
	cat <<'EOF'
Rows marked 'not injected' are the generated data's own: its last day still has 60% of its
messages waiting for review (fewer high-quality verdicts, a longer review queue), and with
k = 4 robust deviations a random day is occasionally out of range.
EOF
	echo "The alert (the latest judged bucket of the series is out of range):"
	$PSQL -c "SELECT alert_id, object, round(baseline::numeric, 2) AS median, round(observed::numeric, 2) AS observed,
	                 (details->>'bucket_start')::timestamptz::date AS bucket,
	                 round((details->>'expected_low')::numeric, 2) || ' .. '
	                     || round((details->>'expected_high')::numeric, 2) AS expected_range
	            FROM nadia_bgw.open_alerts
	           WHERE kind = 'metric_anomaly' AND object LIKE 'rollup public.dashboard_daily_metrics %'"
	cat <<'EOF'
The MCP tool data_anomalies shows a rollup's anomalies only when a superuser exposed the
rollup to an MCP tool (mcp_expose_rollup): the LLM cost rollup is (70_mcp.sh: llm_cost_tracking),
the dashboard is not. The same spike, per model pair, in llm_cost_daily:
EOF
	mcp data_anomalies '{"kind":"rollup","source":"public.llm_cost_daily","limit":6}'
else
	say "4. Anomalies: skipped (the dashboard rollup of 40_rollups.sh does not exist)"
fi

# ---------------------------------------------------------------------------
say "5. Days until full: an int4 key whose sequence is consumed at a known rate"
cat <<EOF
Forecasts need days of history, and this cluster is minutes old. So the demo SIMULATES
$SEQ_DAYS days: each simulated day inserts $SEQ_PER_DAY rows into webhook_events (its serial int4
key consumes $SEQ_PER_DAY values), then calls the worker's capacity task function
nadia_bgw._quality_capacity(now) with an explicit past instant, one day apart. The task
records what it records every hour (here: this sequence's last value, and also the current
filesystem, xid and connection figures, stamped with those past instants), as the worker
would have. No history row is written by hand.
EOF
$PSQL -q <<SQL
DROP TABLE IF EXISTS public.webhook_events;
CREATE TABLE public.webhook_events (id serial PRIMARY KEY, received_at timestamptz NOT NULL DEFAULT now());
-- the key has been in use for years: $((SEQ_DAYS + SEQ_LEFT_DAYS)) days of values left at this rate
SELECT setval('public.webhook_events_id_seq',
              2147483647 - $(((SEQ_DAYS + SEQ_LEFT_DAYS) * SEQ_PER_DAY)));
SQL
T0=$($PSQL -At -c "SELECT now()")
for d in $(seq "$SEQ_DAYS" -1 1); do
	$PSQL -qAt -c "INSERT INTO public.webhook_events SELECT FROM generate_series(1, $SEQ_PER_DAY)" \
		-c "SELECT 'simulated day at ' || (timestamptz '$T0' - interval '$d days')::timestamp(0)
		           || ': last_value ' || last_value || '; rows the capacity task wrote (samples and forecasts): '
		           || nadia_bgw._quality_capacity(timestamptz '$T0' - interval '$d days')
		      FROM public.webhook_events_id_seq"
done
# the hour's recording cycle only records: the cycles after it refit the
# series a batch at a time; so the last simulated day's next minutes
$PSQL -qAt -c "SELECT 'the cycles after the last simulated day refit the series: '
                      || count(*) FILTER (WHERE nadia_bgw._quality_capacity(timestamptz '$T0' - interval '1 day'
                                                                             + i * interval '1 minute') > 0)
                      || ' cycles'
                 FROM generate_series(1, 50) i"
echo
echo "The forecast now (nadia_bgw.capacity_forecast(now()), computed from that history):"
sql readers.txt -c "SELECT object, current_value, limit_value, round(slope_7d::numeric) AS per_day_7d, round(fit_7d::numeric, 3) AS fit_7d, points_7d,
                          round(days_to_limit::numeric, 1) AS days_to_limit, basis,
                          round((limit_value - current_value) / $SEQ_PER_DAY, 1) AS truth_days
                     FROM nadia_bgw.capacity_forecast(now()) WHERE object = 'public.webhook_events_id_seq'"
echo "truth_days: values left / the $SEQ_PER_DAY a day the demo consumed"
echo "The same through MCP (what reaches its limit within 30 days):"
mcp capacity_forecast '{"kind":"sequence","within_days":30}'
cat <<EOF
Below nadia_bgw.capacity_alert_days (14) a 'capacity' alert opens, read from the hourly
nadia_bgw.capacity_forecasts; the simulated run stored them stamped a day ago (too old to
judge), so it opens at the worker's next hourly capacity run, not within this step.
EOF
