# bench/lib.sh -- what every bench shares: its knobs' defaults and the
# throwaway cluster it measures on.  Sourced by each bench/*/run.sh after
# regress/lib.sh (which gives private_install, as_user, log, ...).
#
# The cluster is a private installation of the PostgreSQL named by
# $PG_CONFIG with nadia_bgw installed into it (the system installation is
# never touched), in DIR/inst; its data directory DIR/data is initialised
# as the unprivileged user, listens on a Unix socket in DIR only, and gets
# the bench's own postgresql.conf lines.  What a bench measures depends on
# those lines: each bench passes all of its settings, none are implied here
# beyond where the cluster listens and what it preloads.

# bench_defaults NAME=VALUE...: each NAME keeps the value the environment
# gives it (when set and not empty), else takes VALUE -- the knobs a bench
# documents in its header, in one place.  Later pairs may use earlier ones
# only in a second call (the arguments are expanded before the first is set).
bench_defaults() {
	local pair name
	for pair in "$@"; do
		name=${pair%%=*}
		[ -n "${!name:-}" ] || printf -v "$name" '%s' "${pair#*=}"
	done
}

# bench_stop_cluster DIR [MODE]: stop the cluster in DIR if one runs there
# (pg_ctl stop mode, default fast); never fails.
bench_stop_cluster() {
	as_user "$(private_bindir "$1/inst")/pg_ctl" -D "$1/data" -m "${2:-fast}" stop >/dev/null 2>&1 || true
}

# bench_start_cluster DIR: start the cluster in DIR, logging to DIR/server.log.
bench_start_cluster() {
	as_user "$(private_bindir "$1/inst")/pg_ctl" -D "$1/data" -l "$1/server.log" -w start >/dev/null
}

# bench_new_cluster DIR PORT PRELOAD <<CONF ... CONF
#   A new cluster in DIR, replacing whatever DIR held (a cluster left
#   running there by an interrupted run is stopped first): private
#   installation, initdb as the unprivileged user, postgresql.conf with
#   listen_addresses, the socket in DIR, PORT and shared_preload_libraries
#   = PRELOAD, then the lines read from standard input (the bench's own
#   settings), and started.  Sets BINDIR (the private binaries) and puts it
#   first in PATH; the caller sets its trap and PGHOST/PGPORT.
bench_new_cluster() {
	local dir=$1 port=$2 preload=$3
	if [ -f "$dir/data/postmaster.pid" ]; then
		bench_stop_cluster "$dir" immediate
	fi
	rm -rf "$dir"
	mkdir -p "$dir"
	chmod 755 "$dir"
	BINDIR=$(private_install "$dir/inst")
	use_private_libs "$dir/inst"
	chown -R "$(run_user)" "$dir"
	export PATH="$BINDIR:$PATH"
	as_user initdb -D "$dir/data" -A trust -U postgres >/dev/null
	{
		echo "listen_addresses = ''"
		echo "unix_socket_directories = '$dir'"
		echo "port = $port"
		echo "shared_preload_libraries = '$preload'"
		cat
	} >>"$dir/data/postgresql.conf"
	bench_start_cluster "$dir"
}
