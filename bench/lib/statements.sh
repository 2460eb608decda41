# bench/lib/statements.sh -- the sampling bench's statement workload, shared
# by the benches that measure history against it (bench/sampling,
# bench/plans).  Sourced after bench/lib.sh; the caller defines Q (psql on
# the bench's database).
#
# bench_statement_tables N FILE [EVERY]: N tables bench_t1..N (a primary
# key, an index, 200 rows) and, in FILE, five statement shapes per table --
# 5 x N distinct normalized statements, one a line -- run once each so that
# pg_stat_statements holds them all.  EVERY (bench/plans; default 0 =
# none, what bench/sampling uses): every EVERY-th table's count also runs
# under enable_seqscan = off, on a line of its own (SET; the count; RESET)
# -- the same statement with a second plan (an index or bitmap scan
# instead of the sequential scan), for N / EVERY statements.
bench_statement_tables() {
	local n=$1 file=$2 every=${3:-0} i
	Q <<SQL
DO \$\$
BEGIN
  FOR i IN 1..$n LOOP
    EXECUTE format('CREATE TABLE bench_t%s (id int PRIMARY KEY, a int, b text)', i);
    EXECUTE format('CREATE INDEX ON bench_t%s (a)', i);
    EXECUTE format('INSERT INTO bench_t%s SELECT g, g %% 50, md5(g::text) FROM generate_series(1, 200) g', i);
  END LOOP;
END \$\$;
ANALYZE;
SQL
	for i in $(seq 1 "$n"); do
		echo "SELECT b FROM bench_t$i WHERE id = 1;"
		echo "SELECT count(*) FROM bench_t$i WHERE a < 10;"
		echo "UPDATE bench_t$i SET a = a + 1 WHERE id = 2;"
		echo "SELECT max(a) FROM bench_t$i;"
		echo "SELECT id FROM bench_t$i WHERE a = 3 ORDER BY id LIMIT 5;"
		if [ "$every" -gt 0 ] && [ $((i % every)) -eq 0 ]; then
			echo "SET enable_seqscan = off; SELECT count(*) FROM bench_t$i WHERE a < 10; RESET enable_seqscan;"
		fi
	done >"$file"
	Q -f "$file" >/dev/null
	Q -c "SELECT pg_stat_force_next_flush()" >/dev/null
}
