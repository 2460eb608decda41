# bench/plans/arms.awk -- mean latency per arm from pgbench's per-transaction
# logs (-l): "client_id transaction_no latency_us script_no epoch us".
# The arm is the one arm_header.sql computed: k = transaction_no - 1,
# arm = (k / block + client_id) % 4; a block's first transaction (the
# switch) is left out.
#
# Stalls: a transaction slower than -v cut (us; run.sh passes 10 x the
# run's median latency) is a stall of the machine -- another process on
# the shared cores, a checkpoint -- not of the arm it fell in: one 20 ms
# stall weighs 1-2% of an arm's time in a 12 s run, as much as what is
# measured.  Stalls are left out of every arm alike and counted per arm
# (an arm that caused them would show more); an instrumented or explained
# execution costs far less than 10 x a transaction, so it stays in.
#
# Prints, space-separated: for arms 0..3 the mean latency without stalls
# and its transaction count; the means (without stalls) of arm 0's blocks
# split into two alternate halves (an A/A comparison: the noise of the
# run); for arms 0..3 the mean latency with stalls; for arms 0..3 the
# number of stalls.
{
	k = $2 - 1
	if (k % block == 0) next
	b = int(k / block)
	arm = (b + $1) % 4
	rsum[arm] += $3
	rn[arm]++
	if ($3 > cut) {
		stalls[arm]++
		next
	}
	sum[arm] += $3
	n[arm]++
	if (arm == 0) {
		half = int(b / 4) % 2
		hsum[half] += $3
		hn[half]++
	}
}
function mean(s, c) { return c ? s / c : 0 }
END {
	for (a = 0; a < 4; a++)
		printf "%.2f %d ", mean(sum[a], n[a]), n[a]
	printf "%.2f %.2f", mean(hsum[0], hn[0]), mean(hsum[1], hn[1])
	for (a = 0; a < 4; a++)
		printf " %.2f", mean(rsum[a], rn[a])
	for (a = 0; a < 4; a++)
		printf " %d", stalls[a]
	printf "\n"
}
