# bench/plans/arms.awk -- mean latency per arm from pgbench's per-transaction
# logs (-l): "client_id transaction_no latency_us script_no epoch us".
# The arm is the one arm_header.sql computed: k = transaction_no - 1,
# arm = (k / block + client_id) % 4; a block's first transaction (the
# switch) is left out.  Prints: mean_us_0 n_0 mean_us_1 n_1 ... for 4 arms.
{
	k = $2 - 1
	if (k % block == 0) next
	arm = (int(k / block) + $1) % 4
	sum[arm] += $3
	n[arm]++
}
END {
	for (a = 0; a < 4; a++)
		printf "%s%.2f %d", (a ? " " : ""), (n[a] ? sum[a] / n[a] : 0), n[a]
	printf "\n"
}
