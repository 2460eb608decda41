# bench/lib/timing.sh -- timing in the server, in long-lived sessions, as
# the worker runs its steps: shared by the benches that time SQL calls
# side by side (bench/sampling, bench/quality).  Sourced after bench/lib.sh;
# the caller defines Q (psql on the bench's database).
#
# bench_timer: creates bench_time(q text) in the bench's database: runs q
# once (the statistics snapshot cleared first, so that each call reads
# fresh statistics) and returns its duration in ms, measured in the server.
bench_timer() {
	Q <<'SQL'
CREATE FUNCTION bench_time(q text) RETURNS double precision LANGUAGE plpgsql AS $f$
DECLARE t0 timestamptz;
BEGIN
  PERFORM pg_stat_clear_snapshot();
  t0 := clock_timestamp();
  EXECUTE q;
  RETURN extract(epoch FROM clock_timestamp() - t0) * 1000;
END $f$;
SQL
}

# ask FD_IN FD_OUT SQL: send SQL to a coprocess psql (-At) and print the
# first line it answers -- one long-lived session per measured function:
#   coproc M { nice psql -X -q -At 2>/dev/null; }
#   ms=$(ask "${M[1]}" "${M[0]}" "SELECT bench_time('SELECT 1');")
ask() {
	echo "$3" >&"$1"
	local line
	read -r line <&"$2"
	echo "$line"
}
