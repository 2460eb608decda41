#!/usr/bin/env bash
# demo/run-demo.sh -- the nadia_bgw demo on a throwaway local cluster.
#
# Installs missing Debian packages, builds nadia_bgw, installs it into a
# private copy of PostgreSQL (the system installation is not touched),
# starts a cluster with the extension preloaded, creates the NADIA database
# and runs the demo steps in demo/steps/ in name order. The cluster is
# stopped and removed at the end unless DEMO_KEEP=1.
#
#   bash demo/run-demo.sh
#   DEMO_KEEP=1 bash demo/run-demo.sh      leave the cluster running
#   DEMO_STEPS="10_worker" bash demo/run-demo.sh

set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../regress/lib.sh"

ensure_packages $NADIA_BASE_PACKAGES
for f in "$ROOT"/regress/extra-packages/*.list; do
	[ -e "$f" ] && ensure_packages $(grep -v '^#' "$f")
done
# the plans step checks the index advice by what-if planning (hypopg)
if [ "$PG_CONFIG" = "$DEFAULT_PG_CONFIG" ]; then
	ensure_packages postgresql-15-hypopg
fi
log "building"
build

DEMO_DIR=${DEMO_DIR:-/tmp/nadia_bgw_demo}
DEMO_PORT=${DEMO_PORT:-5488}
export DEMO_DB=nadia_hitl

# idempotent: a previous demo's cluster is stopped and replaced
if [ -f "$DEMO_DIR/data/postmaster.pid" ]; then
	as_user "$(private_bindir "$DEMO_DIR/inst")/pg_ctl" -D "$DEMO_DIR/data" -m fast stop >/dev/null 2>&1 || true
fi
rm -rf "$DEMO_DIR"
mkdir -p "$DEMO_DIR"
chmod 755 "$DEMO_DIR"

log "installing into $DEMO_DIR/inst"
BINDIR=$(private_install "$DEMO_DIR/inst")
use_private_libs "$DEMO_DIR/inst"
export PATH="$BINDIR:$PATH"
chown -R "$(run_user)" "$DEMO_DIR"

stop_cluster() {
	if [ -z "${DEMO_KEEP:-}" ]; then
		as_user pg_ctl -D "$DEMO_DIR/data" -m fast stop >/dev/null 2>&1 || true
		rm -rf "$DEMO_DIR"
		log "demo cluster stopped and removed"
	else
		log "cluster left running: psql -h $DEMO_DIR -p $DEMO_PORT -d $DEMO_DB"
	fi
}

log "starting a throwaway cluster on port $DEMO_PORT"
as_user initdb -D "$DEMO_DIR/data" -A trust -U postgres >/dev/null
cat >>"$DEMO_DIR/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$DEMO_DIR'
port = $DEMO_PORT
CONF
as_user pg_ctl -D "$DEMO_DIR/data" -l "$DEMO_DIR/server.log" -w start >/dev/null
trap stop_cluster EXIT

export PGHOST=$DEMO_DIR PGPORT=$DEMO_PORT PGUSER=postgres PGDATABASE=$DEMO_DB
export DEMO_DIR BINDIR ROOT
psql -X -q -d postgres -c "CREATE DATABASE $DEMO_DB"

log "adding nadia_bgw to postgresql.conf and restarting"
cat >>"$DEMO_DIR/data/postgresql.conf" <<CONF
# --- the lines a user adds to postgresql.conf ---
shared_preload_libraries = 'pg_stat_statements,nadia_bgw'
nadia_bgw.database = '$DEMO_DB'
nadia_bgw.interval = 10
CONF
as_user pg_ctl -D "$DEMO_DIR/data" -l "$DEMO_DIR/server.log" -w restart >/dev/null
psql -X -q -c "CREATE EXTENSION nadia_bgw"
psql -X -q -c "CREATE EXTENSION pg_stat_statements"
for _ in $(seq 1 300); do
	[ "$(psql -X -At -c "SELECT bool_and(worker_state = 'running') FROM nadia_bgw.status")" = t ] && break
	sleep 0.1
done

# step scripts share these helpers
export PSQL="psql -X -v ON_ERROR_STOP=1"
say() { printf '\n### %s\n' "$*"; }
export -f say

for step in "$ROOT"/demo/steps/*.sh; do
	name=$(basename "$step" .sh)
	if [ -n "${DEMO_STEPS:-}" ] && ! grep -qw "$name" <<<"$DEMO_STEPS"; then
		continue
	fi
	log "step $name"
	bash "$step"
done
log "demo finished"
