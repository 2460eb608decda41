# regress/lib.sh -- helpers shared by the test driver, the demo and the
# benchmarks: package installation, a private PostgreSQL installation with
# nadia_bgw in it, and running commands as an unprivileged user.
#
# Source it; it defines functions only (and ROOT, PG_CONFIG,
# NADIA_BASE_PACKAGES).

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# PG_CONFIG names the PostgreSQL to build, install and test against, as for
# every PGXS extension; by default Debian's packaged PostgreSQL 15.  Any
# other tree (a source build, ../shared/pgmatrix/NN) must come with its
# server, contrib modules and PGXS test tools (pg_regress, isolation, Perl).
DEFAULT_PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
PG_CONFIG=${PG_CONFIG:-$DEFAULT_PG_CONFIG}
export PG_CONFIG

# Packages every entry point needs: a compiler, cJSON, libpq and the Perl
# modules of the TAP framework; with the default PG_CONFIG, also Debian's
# server and its development files (PGXS).
NADIA_BASE_PACKAGES="build-essential libcjson-dev libpq-dev libipc-run-perl"
if [ "$PG_CONFIG" = "$DEFAULT_PG_CONFIG" ]; then
	NADIA_BASE_PACKAGES="$NADIA_BASE_PACKAGES postgresql-15 postgresql-server-dev-15"
fi

# pg_major: the major version of $PG_CONFIG (15, 17, 18).
pg_major() {
	"$PG_CONFIG" --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/'
}

log() { printf '==> %s\n' "$*" >&2; }

as_root() {
	if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# ensure_packages PKG...: install what is missing (apt-get update first).
ensure_packages() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	log "installing ${missing[*]}"
	as_root apt-get update -qq
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# The unprivileged user that owns throwaway clusters (initdb refuses root).
run_user() {
	if [ "$(id -u)" = 0 ]; then echo postgres; else id -un; fi
}

# as_user CMD...: run CMD as run_user, keeping the given environment.
as_user() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# private_install DIR: a relocated copy of the PostgreSQL named by
# $PG_CONFIG with nadia_bgw installed into it, so tests never touch the
# installation itself and several checkouts (or versions) can be tested at
# once.  PostgreSQL finds its files relative to its binaries, so the copy
# keeps each directory's absolute path below DIR, as "make install
# DESTDIR=DIR" lays out the extension's files.  Prints the bindir.
private_install() {
	local dir=$1 d libdir
	for d in bindir sharedir pkglibdir; do
		d=$("$PG_CONFIG" --$d) || return 1
		mkdir -p "$dir$(dirname "$d")"
		cp -a "$d" "$dir$(dirname "$d")/"
	done
	# a tree's own libpq (17, 18) rather than the system's older one
	libdir=$("$PG_CONFIG" --libdir)
	if [ -e "$libdir/libpq.so.5" ] && [ "$libdir" != "$("$DEFAULT_PG_CONFIG" --libdir 2>/dev/null)" ]; then
		mkdir -p "$dir$libdir"
		cp -a "$libdir"/libpq.so* "$dir$libdir/"
	fi
	make -s -C "$ROOT" install DESTDIR="$dir" >/dev/null || return 1
	echo "$dir$("$PG_CONFIG" --bindir)"
}

# private_bindir DIR: the bindir of a private_install made in DIR.
private_bindir() {
	echo "$1$("$PG_CONFIG" --bindir)"
}

# use_private_libs DIR: let the binaries of a private_install in DIR load
# their own libpq (a 17 or 18 tree's), not the system's older one.
use_private_libs() {
	local libdir
	libdir=$1$("$PG_CONFIG" --libdir)
	if [ -e "$libdir/libpq.so.5" ]; then
		export LD_LIBRARY_PATH=$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
	fi
	return 0
}

# build: compile the extension (and everything else the Makefile builds)
# for $PG_CONFIG.  Objects of another PostgreSQL version are cleaned first:
# the checkout remembers which pg_config it was last built for.
build() {
	local stamp=$ROOT/.pg_config_built want
	# a test build (NADIA_TEST=1) and a normal one differ in their objects
	want="$PG_CONFIG $("$PG_CONFIG" --version) test=${NADIA_TEST:-}"
	if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
		make -s -C "$ROOT" clean >/dev/null 2>&1
		echo "$want" >"$stamp"
	fi
	make -s -C "$ROOT" >/dev/null
}
