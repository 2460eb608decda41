#!/usr/bin/env bash
# regress/run-tests.sh -- the whole test suite: pg_regress, isolation, TAP.
#
# Installs missing Debian packages, builds the extension, installs it into a
# private relocated copy of PostgreSQL under a temporary directory, and runs
# every suite against throwaway clusters owned by an unprivileged user
# (postgres when started as root, since initdb refuses root).
#
# Ends with one line "N passed, N failed" and exits non-zero on any failure.
#
#   bash regress/run-tests.sh                 everything
#   SUITES="regress tap" bash regress/run-tests.sh
#                                             (default: regress isolation
#                                             tap timeshift, and pg_upgrade
#                                             with PG_CONFIGS)
#   SUITES=timeshift TIMESHIFT_INSTANTS="leap-day 2028-02-29T23:59:30 UTC" ...
#                                             one instant of the time-shift
#                                             suite (see run_timeshift)
#   TAP_TESTS="t/001_worker.pl" bash regress/run-tests.sh
#   KEEP=1 ...                                keep the work directory
#   PG_CONFIG=/path/to/pg_config bash regress/run-tests.sh
#                                             test against that PostgreSQL
#   PG_CONFIGS="default /a/pg_config /b/pg_config" bash regress/run-tests.sh
#                                             each in turn ("default": the
#                                             Debian 15 package), then
#                                             pg_upgrade between each pair of
#                                             consecutive majors, one total
#   SUITES=pg_upgrade PG_CONFIGS="..." ...    only the pg_upgrade tests
#   UPGRADE_TESTS="t/upgrade/610_pg_upgrade.pl" ...   some of them

set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# every build of this script (each version's, and the pg_upgrade suite's
# installations) is the test build: the nadia_bgw.debug_* settings that
# inject failures and delays exist only there (Makefile, NADIA_TEST)
export NADIA_TEST=1

# tap_counts OUTPUT STATUS LOGDIR...: show one prove run's output and set
# TAP_OK/TAP_BAD from it; a script that died before reporting a failure
# counts as one, with the tails of its server logs shown.
tap_counts() {
	local out=$1 status=$2 d f
	shift 2
	cat "$out"
	TAP_OK=$(grep -Ec '^ *ok [0-9]+' "$out")
	TAP_BAD=$(grep -Ec '^ *not ok [0-9]+' "$out")
	if [ "$status" -ne 0 ] && [ "$TAP_BAD" -eq 0 ]; then
		TAP_BAD=1
		for d in "$@"; do
			for f in "$d"/*; do
				[ -f "$f" ] && { echo "--- $f"; tail -n 50 "$f"; }
			done
		done
	fi
	return 0
}

# pg_upgrade_tests PG_CONFIG...: the pg_upgrade tests (regress/t/upgrade/
# *.pl, not part of the per-version TAP suite) for each pair of consecutive
# majors among the given PostgreSQL installations, e.g. 15 -> 17 and
# 17 -> 18.  A pair needs both installations with nadia_bgw built for each,
# so every version is built and installed in turn into its own private
# copy (sequentially: build() cleans the checkout when PG_CONFIG changes).
# Each test gets the two copies as NADIA_OLD_INSTALL / NADIA_NEW_INSTALL
# (install_path of PostgreSQL::Test::Cluster) and runs with the new
# version's TAP modules; the new version's libpq comes first in
# LD_LIBRARY_PATH, since the old binaries accept a newer libpq but not the
# reverse.  Prints "pg_upgrade A -> B -- N passed, N failed" per pair and
# sets UPGRADE_PASSED / UPGRADE_FAILED.
pg_upgrade_tests() {
	local work pgc major i t out status ok bad name old new
	local -a majors=() insts=() libs=() pgxs=() sorted=()
	UPGRADE_PASSED=0
	UPGRADE_FAILED=0
	work=$(mktemp -d "${TMPDIR:-/tmp}/nadia_bgw_upgrade.XXXXXX")
	chmod 755 "$work"
	UPGRADE_WORK=$work # for the trap, which runs after this function
	if [ -z "${KEEP:-}" ]; then
		trap 'rm -rf "$UPGRADE_WORK"' EXIT
	else
		log "pg_upgrade work directory: $work"
	fi
	# one private installation per major, in ascending order
	for pgc in "$@"; do
		[ "$pgc" = default ] && pgc=$DEFAULT_PG_CONFIG
		major=$(PG_CONFIG=$pgc pg_major) || continue
		sorted+=("$major $pgc")
	done
	i=0
	while read -r major pgc; do
		[ -z "$major" ] && continue
		[ $i -gt 0 ] && [ "${majors[$((i - 1))]}" = "$major" ] && continue
		log "pg_upgrade: building and installing for PostgreSQL $major ($pgc)"
		if ! (PG_CONFIG=$pgc build && PG_CONFIG=$pgc private_install "$work/inst$major" >/dev/null); then
			log "pg_upgrade: could not build or install for $pgc"
			UPGRADE_FAILED=$((UPGRADE_FAILED + 1))
			return
		fi
		majors+=("$major")
		# install_path: the directory holding bin/ and lib/
		insts+=("$(dirname "$(PG_CONFIG=$pgc private_bindir "$work/inst$major")")")
		libs+=("$work/inst$major$("$pgc" --libdir)")
		pgxs+=("$(dirname "$("$pgc" --pgxs)")/..")
		i=$((i + 1))
	done < <(printf '%s\n' "${sorted[@]}" | sort -n)
	if [ ${#majors[@]} -lt 2 ]; then
		log "pg_upgrade: PG_CONFIGS names one major version only; the pg_upgrade tests need two"
		UPGRADE_FAILED=$((UPGRADE_FAILED + 1))
		return
	fi
	cp -a "$ROOT/regress" "$work/src"
	mkdir -p "$work/tree/demo" "$work/out" "$work/tmp"
	cp -a "$ROOT/demo/schema.sql" "$work/tree/demo/"
	chown -R "$(run_user)" "$work"
	for ((i = 1; i < ${#majors[@]}; i++)); do
		old=$((i - 1))
		name="pg_upgrade ${majors[$old]} -> ${majors[$i]}"
		local passed=0 failed=0
		log "$name"
		for t in ${UPGRADE_TESTS:-$(cd "$work/src" && ls t/upgrade/*.pl)}; do
			out=$work/out/$(basename "$t" .pl)_${majors[$old]}_${majors[$i]}
			mkdir -p "$out"
			chown "$(run_user)" "$out"
			(cd "$work/src" && as_user env \
				PATH="${insts[$i]}/bin:$PATH" \
				LD_LIBRARY_PATH="${libs[$i]}:${libs[$old]}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
				PERL5LIB="${pgxs[$i]}/test/perl:$work/src/t" \
				PG_REGRESS="${pgxs[$i]}/test/regress/pg_regress" \
				TESTDIR="$out" \
				TESTDATADIR="$out/tmp_check" \
				TESTLOGDIR="$out/log" \
				TMPDIR="$work/tmp" \
				TEMP_CONFIG="$work/src/regress.conf" \
				NADIA_ROOT="$work/src" \
				NADIA_SRC_ROOT="$work/tree" \
				NADIA_OLD_INSTALL="${insts[$old]}" \
				NADIA_NEW_INSTALL="${insts[$i]}" \
				prove -v "$t") >"$out.log" 2>&1
			tap_counts "$out.log" $? "$out"/log "$out"/tmp_check/log
			ok=$TAP_OK bad=$TAP_BAD
			passed=$((passed + ok))
			failed=$((failed + bad))
		done
		echo "$name -- $passed passed, $failed failed"
		UPGRADE_PASSED=$((UPGRADE_PASSED + passed))
		UPGRADE_FAILED=$((UPGRADE_FAILED + failed))
	done
}

# The pg_upgrade tests are a suite of their own ("pg_upgrade", in SUITES by
# default) that runs only when PG_CONFIGS names two versions or more; the
# per-version runs get the other suites.
ALL_SUITES=${SUITES:-"regress isolation tap timeshift pg_upgrade"}
WANT_UPGRADE=
SUITES=
for s in $ALL_SUITES; do
	if [ "$s" = pg_upgrade ]; then WANT_UPGRADE=1; else SUITES="$SUITES${SUITES:+ }$s"; fi
done
if [ -n "$WANT_UPGRADE" ] && [ "$(wc -w <<<"${PG_CONFIGS:-}")" -lt 2 ]; then
	log "pg_upgrade tests (regress/t/upgrade) not run: they need PG_CONFIGS with two PostgreSQL versions," \
		"e.g. PG_CONFIGS=\"default /path/to/17/bin/pg_config\"; this run tests ${PG_CONFIGS:-$PG_CONFIG} only"
	if [ -z "$SUITES" ]; then
		echo "0 passed, 1 failed"
		exit 1
	fi
fi
export SUITES

# Several PostgreSQL versions: run the whole suite once per pg_config and
# add up the closing lines, so the caller still reads one "N passed, N failed".
if [ -n "${PG_CONFIGS:-}" ]; then
	total_passed=0
	total_failed=0
	[ -z "$SUITES" ] && PG_CONFIGS_RUN= || PG_CONFIGS_RUN=$PG_CONFIGS
	for pgc in $PG_CONFIGS_RUN; do
		[ "$pgc" = default ] && pgc=$DEFAULT_PG_CONFIG
		log "=== PostgreSQL of $pgc"
		last=
		# each version's closing line is shown with its version, so that
		# only the total stands alone as "N passed, N failed"
		while IFS= read -r line; do
			if [[ $line =~ ^[0-9]+\ passed,\ [0-9]+\ failed$ ]]; then
				last=$line
				echo "result with $pgc -- $line"
			else
				printf '%s\n' "$line"
			fi
		done < <(PG_CONFIGS= PG_CONFIG=$pgc bash "${BASH_SOURCE[0]}")
		if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
			total_passed=$((total_passed + BASH_REMATCH[1]))
			total_failed=$((total_failed + BASH_REMATCH[2]))
		else
			log "=== $pgc: the suite did not finish"
			total_failed=$((total_failed + 1))
		fi
	done
	if [ -n "$WANT_UPGRADE" ] && [ "$(wc -w <<<"$PG_CONFIGS")" -ge 2 ]; then
		log "=== pg_upgrade between consecutive versions"
		pg_upgrade_tests $PG_CONFIGS
		total_passed=$((total_passed + UPGRADE_PASSED))
		total_failed=$((total_failed + UPGRADE_FAILED))
	fi
	echo "$total_passed passed, $total_failed failed"
	[ "$total_failed" -eq 0 ] && [ "$total_passed" -gt 0 ]
	exit
fi

if [ "$PG_CONFIG" != "$DEFAULT_PG_CONFIG" ] && [ ! -x "$PG_CONFIG" ]; then
	log "PG_CONFIG=$PG_CONFIG is not an executable pg_config"
	echo "0 passed, 1 failed"
	exit 1
fi
log "PostgreSQL $("$PG_CONFIG" --version 2>/dev/null || echo "(to be installed)") from $PG_CONFIG"

SUITES=${SUITES:-"regress isolation tap timeshift"}

ensure_packages $NADIA_BASE_PACKAGES || { echo "0 passed, 1 failed"; exit 1; }
for f in "$ROOT"/regress/extra-packages/*.list; do
	[ -e "$f" ] && ensure_packages $(grep -v '^#' "$f")
done
[ -x "$ROOT/regress/prepare.sh" ] && "$ROOT/regress/prepare.sh"

# libfaketime (regress/extra-packages/timeshift.list): the timeshift suite
# and TAP tests that run a server or nadia-mcp on another clock find it here
FAKETIME_LIB=${FAKETIME_LIB:-/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1}
[ -r "$FAKETIME_LIB" ] ||
	FAKETIME_LIB=$(dpkg -L libfaketime 2>/dev/null | grep -m1 '/libfaketime\.so\.1$')
export FAKETIME_LIB

log "building"
if ! build; then
	make -C "$ROOT" >&2
	echo "0 passed, 1 failed"
	exit 1
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/nadia_bgw_test.XXXXXX")
chmod 755 "$WORK"
if [ -z "${KEEP:-}" ]; then
	trap 'rm -rf "$WORK"' EXIT
else
	log "work directory: $WORK"
fi

log "installing into a private copy of PostgreSQL"
BINDIR=$(private_install "$WORK/inst") || { echo "0 passed, 1 failed"; exit 1; }
use_private_libs "$WORK/inst"
PGXS_DIR=$(dirname "$("$BINDIR/pg_config" --pgxs)")/..
PGXS_DIR=$(cd "$PGXS_DIR" && pwd)

# the suites write their results next to their inputs: give them a copy;
# the fuzz test builds from a copy of the whole tree, since the checkout
# itself may not be readable by the unprivileged test user
cp -a "$ROOT/regress" "$WORK/src"
mkdir -p "$WORK/tree"
tar -C "$ROOT" --exclude=./.git --exclude=./regress/mcp-client/node_modules \
	--exclude='*.o' --exclude='*.bc' -cf - . | tar -C "$WORK/tree" -xf -
mkdir -p "$WORK/out" "$WORK/tmp"
chown -R "$(run_user)" "$WORK"
# sockets and scratch files of the suites go under the work directory too
export TMPDIR=$WORK/tmp

PASSED=0
FAILED=0
FAILURES=()

# The test-only label provider (regress/seclabel): SECURITY LABEL fails
# without a provider, and t/462_secrets_seclabel.pl needs it to run.  Built
# with the pg_config under test, every warning an error, and installed into
# the private copy only (DESTDIR, as private_install installs nadia_bgw);
# no LLVM bitcode, which a label hook has no use for.
log "building the test label provider"
if ! make -s -C "$WORK/src/seclabel" PG_CONFIG="$PG_CONFIG" with_llvm=no >&2 ||
	! make -s -C "$WORK/src/seclabel" PG_CONFIG="$PG_CONFIG" with_llvm=no \
		install DESTDIR="$WORK/inst" >/dev/null; then
	log "regress/seclabel: build or install failed"
	FAILED=$((FAILED + 1))
	FAILURES+=("seclabel")
fi

# count_pg_regress OUTPUT_FILE STATUS NAME
count_pg_regress() {
	local out=$1 status=$2 name=$3 ok bad
	# 15 prints "test name ... ok"; 16+ prints TAP ("ok 1 - name")
	ok=$(grep -Ec '^(test | +)[^ ].* \.\.\. ok|^ok [0-9]+ ' "$out")
	bad=$(grep -Ec '\.\.\. (FAILED|failed)|^not ok [0-9]+ ' "$out")
	if [ "$status" -ne 0 ] && [ "$bad" -eq 0 ]; then
		bad=1 # the suite could not run at all
	fi
	PASSED=$((PASSED + ok))
	FAILED=$((FAILED + bad))
	[ "$bad" -gt 0 ] && FAILURES+=("$name")
}

# run_pg_regress_suite NAME DRIVER INPUT_SUBDIR EXTENSION DBNAME: one
# pg_regress-style suite (pg_regress or pg_isolation_regress) on its own
# temporary instance, over every INPUT_SUBDIR/*.EXTENSION file.
#
# A time-shift run (see run_timeshift) sets RUN_CONF (the cluster
# settings) and RUN_TAG (a suffix naming the instant in output directories
# and failures); faked_env then sets RUN_ENV, the extra environment of the
# driver and so of its server.
# Directories take RUN_DIRTAG instead: an "@" in a path is pgbench's
# script@weight syntax.
RUN_ENV=()
RUN_CONF=
RUN_TAG=
RUN_DIRTAG=
run_pg_regress_suite() {
	local name=$1$RUN_TAG dname=$1$RUN_DIRTAG driver=$2 subdir=$3 ext=$4 dbname=$5 tests out status
	tests=$(cd "$WORK/src/$subdir" 2>/dev/null && ls *."$ext" 2>/dev/null | sed "s/\\.$ext\$//" | sort)
	[ -z "$tests" ] && return
	log "$name"
	out=$WORK/out/$dname.log
	mkdir -p "$WORK/out/$dname"
	chown "$(run_user)" "$WORK/out/$dname"
	[ -n "$RUN_TAG" ] && faked_env
	as_user env "${RUN_ENV[@]}" "$driver" \
		--bindir="$BINDIR" \
		--temp-instance="$WORK/tmp_$dname" \
		--temp-config="${RUN_CONF:-$WORK/src/regress.conf}" \
		--inputdir="$WORK/src" \
		--outputdir="$WORK/out/$dname" \
		--dbname="$dbname" \
		$tests >"$out" 2>&1
	status=$?
	cat "$out"
	[ -f "$WORK/out/$dname/regression.diffs" ] && cat "$WORK/out/$dname/regression.diffs"
	count_pg_regress "$out" $status "$name"
	[ -n "$RUN_TAG" ] && check_faked_clock "$name" "$WORK/out/$dname/log/postmaster.log"
}

run_regress() {
	run_pg_regress_suite pg_regress "$PGXS_DIR/test/regress/pg_regress" \
		sql sql contrib_regression
}

run_isolation() {
	run_pg_regress_suite isolation "$PGXS_DIR/test/isolation/pg_isolation_regress" \
		specs spec isolation_regression
}

# run_tap [TEST...]: the TAP tests (default: $TAP_TESTS or all of t/).
run_tap() {
	local t out status ok bad dir
	log "TAP$RUN_TAG"
	mkdir -p "$WORK/out/tap"
	chown "$(run_user)" "$WORK/out/tap"
	for t in ${*:-${TAP_TESTS:-$(cd "$WORK/src" && ls t/*.pl)}}; do
		dir=$WORK/out/tap/$(basename "$t" .pl)$RUN_DIRTAG
		out=$dir.log
		mkdir -p "$dir"
		chown "$(run_user)" "$dir"
		[ -n "$RUN_TAG" ] && faked_env
		(cd "$WORK/src" && as_user env "${RUN_ENV[@]}" \
			PATH="$BINDIR:$PATH" \
			PERL5LIB="$PGXS_DIR/test/perl:$WORK/src/t" \
			PG_REGRESS="$PGXS_DIR/test/regress/pg_regress" \
			TESTDIR="$dir" \
			TESTDATADIR="$dir/tmp_check" \
			TESTLOGDIR="$dir/tmp_check/log" \
			TEMP_CONFIG="${RUN_CONF:-$WORK/src/regress.conf}" \
			NADIA_ROOT="$WORK/src" \
			NADIA_BINDIR="$BINDIR" \
			NADIA_SRC_ROOT="$WORK/tree" \
			prove -v "$t") >"$out" 2>&1
		tap_counts "$out" $? "$dir"/tmp_check/log
		ok=$TAP_OK bad=$TAP_BAD
		PASSED=$((PASSED + ok))
		FAILED=$((FAILED + bad))
		[ "$bad" -gt 0 ] && FAILURES+=("$t$RUN_TAG")
		if [ -n "$RUN_TAG" ]; then
			for log in "$dir"/tmp_check/log/*_*.log; do
				[ -f "$log" ] && check_faked_clock "$t$RUN_TAG" "$log"
			done
		fi
	done
}

# Time is an input (DESIGN.md section 6): the "timeshift" suite runs
# pg_regress, isolation and the random rollup test again with the whole
# server -- initdb, postmaster and every backend and worker, and the clients
# -- under libfaketime, its clock starting at each instant below and
# running on from there.  An instant is LABEL, the UTC time (T between date
# and time) and the server's "timezone".  The instants and why:
#   dst-start-ny   America/New_York springs forward (02:00 EST -> 03:00 EDT)
#                  20 s in, server timezone America/New_York: the run with
#                  the server in a DST zone, on the 23-hour day
#   dst-end        falls back (02:00 EDT -> 01:00 EST) 20 s in, in UTC: the
#                  25-hour New York day for the New York rollups
#   year-end       23:59:30 UTC on 31 December: year and month roll over
#                  during the run; a raw partition boundary (6 h grid)
#   leap-day       29 February 2028 and the roll into 1 March
#   month-first    the first day of a month (30 s after midnight)
#   raw-grid       20 s before a raw-tier partition boundary (6 h grid)
#   hourly-grid    20 s before an hourly-tier boundary (7-day grid, Thursdays)
#   daily-grid     20 s before a daily-tier boundary (92-day grid)
# (grids of the default retentions, aligned to the Unix epoch; see
# nadia_bgw.partition_width() and docs/history.md).
#
# One instant locally, e.g.:
#   SUITES=timeshift TIMESHIFT_INSTANTS="leap-day 2028-02-29T23:59:30 UTC" \
#       bash regress/run-tests.sh
# TIMESHIFT_TAP (default t/201_rollup_random.pl) names the TAP tests run at
# each instant, TIMESHIFT_ROLLUP_SEEDS (default 11,23) the seeds of the
# random rollup test there (the ordinary TAP run has four).  The driver
# fails an instant whose server log has a line outside the hour after the
# instant, so a run cannot silently test today's date.
TIMESHIFT_INSTANTS=${TIMESHIFT_INSTANTS:-"
	dst-start-ny 2027-03-14T06:59:40 America/New_York
	dst-end      2027-11-07T05:59:40 UTC
	year-end     2027-12-31T23:59:30 UTC
	leap-day     2028-02-29T23:59:30 UTC
	month-first  2027-04-01T00:00:30 UTC
	raw-grid     2027-05-19T17:59:40 UTC
	hourly-grid  2027-07-14T23:59:40 UTC
	daily-grid   2027-09-06T23:59:40 UTC
"}
TIMESHIFT_TAP=${TIMESHIFT_TAP:-t/201_rollup_random.pl}
TIMESHIFT_AT=

# faked_env: RUN_ENV for a server whose clock reads TIMESHIFT_AT now.
# libfaketime shifts the clock by a fixed offset, so initdb, the
# postmaster, its children and the clients all read the same time, from
# the instant on.  TZ=UTC: initdb takes the cluster's timezone and
# log_timezone from it.  The monotonic clock stays real so that latch
# timeouts and instrumentation behave.  faketime_waits.so keeps
# libfaketime out of blocking waits (see regress/timeshift/faketime_waits.c).
faked_env() {
	RUN_ENV=(LD_PRELOAD="$WORK/faketime_waits.so:$FAKETIME_LIB"
		FAKETIME="+$((TIMESHIFT_AT - $(date -u +%s)))s" FAKETIME_NO_CACHE=1
		TZ=UTC FAKETIME_DONT_FAKE_MONOTONIC=1 DONT_FAKE_MONOTONIC=1)
}

# check_faked_clock NAME LOG: the server whose log this is ran on the faked
# clock all along: its first timestamped line is within a minute after the
# instant and no line is outside the hour after it (the real clock is
# months or years away from every instant).  The log is in UTC (TZ=UTC).
check_faked_clock() {
	local name=$1 logf=$2 at end first stray
	at=$(date -u -d "@$TIMESHIFT_AT" '+%Y-%m-%d %H:%M:%S')
	end=$(date -u -d "@$((TIMESHIFT_AT + 3600))" '+%Y-%m-%d %H:%M:%S')
	first=$(grep -m1 -oE '^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8}' "$logf" 2>/dev/null)
	stray=$(grep -oE '^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8}' "$logf" 2>/dev/null |
		awk -v at="$at" -v end="$end" '$0 < at || $0 >= end { n++ } END { print n + 0 }')
	if [ -z "$first" ] || [ "$stray" -gt 0 ] ||
		[ "$(date -u -d "$first" +%s)" -ge $((TIMESHIFT_AT + 60)) ]; then
		log "$name: the server did not run on the faked clock (log starts at '${first:-nothing}', $stray lines outside [$at, $end))"
		FAILED=$((FAILED + 1))
		FAILURES+=("$name:clock")
	else
		PASSED=$((PASSED + 1))
	fi
}

run_timeshift() {
	local label at tz started=$SECONDS
	if [ ! -r "$FAKETIME_LIB" ] ||
		! cc -O2 -Wall -Wextra -Werror -shared -fPIC -o "$WORK/faketime_waits.so" \
			"$WORK/src/timeshift/faketime_waits.c" -ldl; then
		log "timeshift: no $FAKETIME_LIB or faketime_waits.so"
		FAILED=$((FAILED + 1))
		FAILURES+=("timeshift")
		return
	fi
	chmod 755 "$WORK/faketime_waits.so"
	while read -r label at tz; do
		[ -z "$label" ] && continue
		log "=== timeshift $label: server clock from $at UTC, timezone $tz"
		TIMESHIFT_AT=$(date -u -d "${at/T/ } UTC" +%s)
		RUN_CONF=$WORK/timeshift-$label.conf
		{ cat "$WORK/src/regress.conf"; echo "timezone = '$tz'"; } >"$RUN_CONF"
		chown "$(run_user)" "$RUN_CONF"
		RUN_TAG=@$label
		RUN_DIRTAG=_at_$label
		run_regress
		run_isolation
		ROLLUP_RANDOM_SEEDS=${TIMESHIFT_ROLLUP_SEEDS:-11,23} run_tap $TIMESHIFT_TAP
	done <<<"$TIMESHIFT_INSTANTS"
	RUN_ENV=()
	RUN_CONF=
	RUN_TAG=
	RUN_DIRTAG=
	log "timeshift: $((SECONDS - started)) s"
}

for suite in $SUITES; do
	case $suite in
	regress) run_regress ;;
	isolation) run_isolation ;;
	tap) run_tap ;;
	timeshift) run_timeshift ;;
	*) log "unknown suite $suite"; FAILED=$((FAILED + 1)) ;;
	esac
done

[ ${#FAILURES[@]} -gt 0 ] && log "failed: ${FAILURES[*]}"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ] && [ "$PASSED" -gt 0 ]
