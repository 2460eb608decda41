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
			status=$?
			cat "$out.log"
			ok=$(grep -Ec '^ *ok [0-9]+' "$out.log")
			bad=$(grep -Ec '^ *not ok [0-9]+' "$out.log")
			if [ $status -ne 0 ] && [ "$bad" -eq 0 ]; then
				bad=1 # died before reporting a failure
				for f in "$out"/log/* "$out"/tmp_check/log/*; do
					[ -f "$f" ] && { echo "--- $f"; tail -n 50 "$f"; }
				done
			fi
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
ALL_SUITES=${SUITES:-"regress isolation tap pg_upgrade"}
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

SUITES=${SUITES:-"regress isolation tap"}

ensure_packages $NADIA_BASE_PACKAGES || { echo "0 passed, 1 failed"; exit 1; }
for f in "$ROOT"/regress/extra-packages/*.list; do
	[ -e "$f" ] && ensure_packages $(grep -v '^#' "$f")
done
[ -x "$ROOT/regress/prepare.sh" ] && "$ROOT/regress/prepare.sh"

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
run_pg_regress_suite() {
	local name=$1 driver=$2 subdir=$3 ext=$4 dbname=$5 tests out status
	tests=$(cd "$WORK/src/$subdir" 2>/dev/null && ls *."$ext" 2>/dev/null | sed "s/\\.$ext\$//" | sort)
	[ -z "$tests" ] && return
	log "$name"
	out=$WORK/out/$name.log
	mkdir -p "$WORK/out/$name"
	chown "$(run_user)" "$WORK/out/$name"
	as_user "$driver" \
		--bindir="$BINDIR" \
		--temp-instance="$WORK/tmp_$name" \
		--temp-config="$WORK/src/regress.conf" \
		--inputdir="$WORK/src" \
		--outputdir="$WORK/out/$name" \
		--dbname="$dbname" \
		$tests >"$out" 2>&1
	status=$?
	cat "$out"
	[ -f "$WORK/out/$name/regression.diffs" ] && cat "$WORK/out/$name/regression.diffs"
	count_pg_regress "$out" $status "$name"
}

run_regress() {
	run_pg_regress_suite pg_regress "$PGXS_DIR/test/regress/pg_regress" \
		sql sql contrib_regression
}

run_isolation() {
	run_pg_regress_suite isolation "$PGXS_DIR/test/isolation/pg_isolation_regress" \
		specs spec isolation_regression
}

run_tap() {
	local t out status ok bad
	log "TAP"
	mkdir -p "$WORK/out/tap"
	chown "$(run_user)" "$WORK/out/tap"
	for t in ${TAP_TESTS:-$(cd "$WORK/src" && ls t/*.pl)}; do
		out=$WORK/out/tap/$(basename "$t" .pl).log
		mkdir -p "$WORK/out/tap/$(basename "$t" .pl)"
		chown "$(run_user)" "$WORK/out/tap/$(basename "$t" .pl)"
		(cd "$WORK/src" && as_user env \
			PATH="$BINDIR:$PATH" \
			PERL5LIB="$PGXS_DIR/test/perl:$WORK/src/t" \
			PG_REGRESS="$PGXS_DIR/test/regress/pg_regress" \
			TESTDIR="$WORK/out/tap/$(basename "$t" .pl)" \
			TEMP_CONFIG="$WORK/src/regress.conf" \
			NADIA_ROOT="$WORK/src" \
			NADIA_BINDIR="$BINDIR" \
			NADIA_SRC_ROOT="$WORK/tree" \
			prove -v "$t") >"$out" 2>&1
		status=$?
		cat "$out"
		ok=$(grep -Ec '^ *ok [0-9]+' "$out")
		bad=$(grep -Ec '^ *not ok [0-9]+' "$out")
		if [ $status -ne 0 ] && [ "$bad" -eq 0 ]; then
			bad=1 # died before reporting a failure
			for log in "$WORK"/out/tap/$(basename "$t" .pl)/tmp_check/log/*; do
				[ -f "$log" ] && { echo "--- $log"; tail -n 50 "$log"; }
			done
		fi
		PASSED=$((PASSED + ok))
		FAILED=$((FAILED + bad))
		[ "$bad" -gt 0 ] && FAILURES+=("$t")
	done
}

for suite in $SUITES; do
	case $suite in
	regress) run_regress ;;
	isolation) run_isolation ;;
	tap) run_tap ;;
	*) log "unknown suite $suite"; FAILED=$((FAILED + 1)) ;;
	esac
done

[ ${#FAILURES[@]} -gt 0 ] && log "failed: ${FAILURES[*]}"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ] && [ "$PASSED" -gt 0 ]
