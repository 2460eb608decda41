#!/usr/bin/env bash
# demo/load-data.sh -- create the NADIA schema and load generated data.
#
# Connection from the usual libpq variables (PGHOST, PGPORT, PGDATABASE,
# PGUSER).  Knobs (environment):
#   DAYS=90 ROWS_PER_DAY=50000 SEED=42   what to generate
#   LAST_DAY=YYYY-MM-DD                  last day generated (default yesterday)
#   GEN_TZ=UTC                           zone of the generated local days
#   MATVIEW=1                            also create dashboard_daily_metrics
# Idempotent: the table is loaded only when it is empty.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PSQL=${PSQL:-psql -X -v ON_ERROR_STOP=1}
DAYS=${DAYS:-90}
ROWS_PER_DAY=${ROWS_PER_DAY:-50000}
SEED=${SEED:-42}
LAST_DAY=${LAST_DAY:-}
GEN_TZ=${GEN_TZ:-}
MATVIEW=${MATVIEW:-1}

$PSQL -q -f "$HERE/schema.sql" -f "$HERE/generator.sql"
last_day=NULL tz=NULL
[ -n "$LAST_DAY" ] && last_day="'$LAST_DAY'::date"
[ -n "$GEN_TZ" ] && tz="'$GEN_TZ'"
if [ "$($PSQL -At -c 'SELECT NOT EXISTS (SELECT 1 FROM public.interactions)')" = t ]; then
	$PSQL -q -c "CALL nadia_demo.generate(days => $DAYS, rows_per_day => $ROWS_PER_DAY,
	                 seed => $SEED, last_day => $last_day, tz => $tz)"
fi
if [ "$MATVIEW" = 1 ]; then
	$PSQL -q -f "$HERE/dashboard_matview.sql"
fi
