# regress/lib.sh -- helpers shared by the test driver, the demo and the
# benchmarks: package installation, a private PostgreSQL installation with
# nadia_bgw in it, and running commands as an unprivileged user.
#
# Source it; it defines functions only (and ROOT, PG_MAJOR).

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_MAJOR=${PG_MAJOR:-15}
SYS_BINDIR=/usr/lib/postgresql/$PG_MAJOR/bin

# Packages every entry point needs: the server, its development files
# (PGXS), cJSON, libpq and the Perl modules of the TAP framework.
NADIA_BASE_PACKAGES="build-essential postgresql-$PG_MAJOR postgresql-server-dev-$PG_MAJOR libcjson-dev libpq-dev libipc-run-perl"

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

# private_install DIR: a relocated copy of the system PostgreSQL with
# nadia_bgw installed into it, so tests never touch the system install and
# several checkouts can be tested at once.  Prints the bindir.
private_install() {
	local dir=$1
	mkdir -p "$dir/usr/lib/postgresql" "$dir/usr/share/postgresql"
	cp -a "/usr/lib/postgresql/$PG_MAJOR" "$dir/usr/lib/postgresql/"
	cp -a "/usr/share/postgresql/$PG_MAJOR" "$dir/usr/share/postgresql/"
	make -s -C "$ROOT" install DESTDIR="$dir" >/dev/null
	# PGXS test tools for the relocated tree
	echo "$dir/usr/lib/postgresql/$PG_MAJOR/bin"
}

# build: compile the extension (and everything else the Makefile builds).
build() {
	make -s -C "$ROOT" >/dev/null
}
