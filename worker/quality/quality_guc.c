/*-------------------------------------------------------------------------
 *
 * quality_guc.c
 *		The settings of the quality module, defined in one block.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "utils/guc.h"

#include "quality/quality.h"

/* capacity forecasts (docs/capacity.md) */
static int	nadia_capacity_alert_days = 14;

/* counted facts (docs/quality.md, "Counted facts") */
bool		nadia_quality_count_enabled = true;
int			nadia_quality_count_exact_max_size = 16384;	/* 128MB of 8kB blocks */
double		nadia_quality_count_sample_percent = 1.0;
int			nadia_quality_count_timeout = 150000;
/* 0.05 cost the application 4-6 % of its TPS (docs/benchmarks.md) */
double		nadia_quality_count_duty_cycle = 0.02;
int			nadia_quality_count_interval = 86400;
int			nadia_quality_count_max_per_cycle = 4;

void
nadia_quality_define_gucs(void)
{
	/*
	 * Distribution (docs/quality.md, "Distribution"): the thresholds of
	 * the flags nadia_bgw.data_distribution() computes when it is read,
	 * so a change applies to the history already recorded.
	 */
	{
		static double distribution_skew_share = 0.5;
		static double distribution_null_drift = 0.2;
		static double distribution_distinct_factor = 2.0;

		DefineCustomRealVariable("nadia_bgw.distribution_skew_share",
								 "Share of rows of a column's most common value above which data_distribution() flags it skewed.",
								 "Compared with the first of pg_stats.most_common_freqs.",
								 &distribution_skew_share,
								 0.5,
								 0.0,
								 1.0,
								 PGC_SUSET,
								 0,
								 NULL, NULL, NULL);
		DefineCustomRealVariable("nadia_bgw.distribution_null_drift",
								 "Change of a column's null fraction between two ANALYZEs above which data_distribution() flags a drift.",
								 "An absolute difference of fractions: 0.2 is 20 % of the rows.",
								 &distribution_null_drift,
								 0.2,
								 0.0,
								 1.0,
								 PGC_SUSET,
								 0,
								 NULL, NULL, NULL);
		DefineCustomRealVariable("nadia_bgw.distribution_distinct_factor",
								 "Factor by which a column's estimated number of distinct values must change between two ANALYZEs for data_distribution() to flag a drift.",
								 "Compares the absolute estimates (a negative n_distinct times the table's rows).",
								 &distribution_distinct_factor,
								 2.0,
								 1.0,
								 1e9,
								 PGC_SUSET,
								 0,
								 NULL, NULL, NULL);
	}

	/*
	 * Business-metric anomalies (sql/1.1/99_anomalies.sql): read by
	 * nadia_bgw._quality_anomalies() with current_setting(), so the
	 * variables are only the settings' storage.
	 */
	{
		static int	anomaly_lookback = 8;
		static int	anomaly_min_seasons = 3;
		static double anomaly_k = 4.0;
		static double anomaly_mad_floor = 0.02;
		static int	anomaly_max_groups = 20;
		static int	anomaly_retention_days = 90;

		DefineCustomIntVariable("nadia_bgw.anomaly_lookback",
								"Past seasons (weeks, or buckets) in an anomaly baseline.",
								NULL, &anomaly_lookback, 8, 1, 52,
								PGC_SUSET, 0, NULL, NULL, NULL);
		DefineCustomIntVariable("nadia_bgw.anomaly_min_seasons",
								"Past seasons with a value a bucket needs to be judged.",
								NULL, &anomaly_min_seasons, 3, 1, 52,
								PGC_SUSET, 0, NULL, NULL, NULL);
		DefineCustomRealVariable("nadia_bgw.anomaly_k",
								 "Robust standard deviations (1.4826 x MAD) from the median that flag an anomaly.",
								 NULL, &anomaly_k, 4.0, 0.5, 100.0,
								 PGC_SUSET, 0, NULL, NULL, NULL);
		DefineCustomRealVariable("nadia_bgw.anomaly_mad_floor",
								 "Smallest MAD of an anomaly baseline, as a fraction of its median.",
								 NULL, &anomaly_mad_floor, 0.02, 0.0, 10.0,
								 PGC_SUSET, 0, NULL, NULL, NULL);
		DefineCustomIntVariable("nadia_bgw.anomaly_max_groups",
								"Groups of a grouped rollup judged for anomalies (the largest).",
								NULL, &anomaly_max_groups, 20, 1, 10000,
								PGC_SUSET, 0, NULL, NULL, NULL);
		DefineCustomIntVariable("nadia_bgw.anomaly_retention_days",
								"Days metric anomalies are kept.",
								NULL, &anomaly_retention_days, 90, 1, 3650,
								PGC_SUSET, 0, NULL, NULL, NULL);
	}

	/* capacity forecasts: when a days-to-limit raises the "capacity" alert */
	DefineCustomIntVariable("nadia_bgw.capacity_alert_days",
							"Raise a \"capacity\" alert when a forecast reaches its limit within this many days.",
							"Filesystems, wraparound, sequences and connections (docs/capacity.md).",
							&nadia_capacity_alert_days, 14, 1, 3650,
							PGC_SUSET, 0, NULL, NULL, NULL);

	/*
	 * Counted facts: read by the maintenance task (which starts the count
	 * worker) and by the count worker, which is started afresh each time
	 * and so sees the configuration of that moment.
	 */
	DefineCustomBoolVariable("nadia_bgw.quality_count_enabled",
							 "Count the rows violating NOT VALID constraints and the orphaned rows of foreign keys.",
							 "The count worker runs in the maintenance window, in a maintenance job slot.",
							 &nadia_quality_count_enabled, true,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("nadia_bgw.quality_count_exact_max_size",
							"Largest table counted exactly; a larger one is estimated from a sample of its blocks.",
							"The size of the table whose rows are counted (the referencing one of a foreign key), all partitions.",
							&nadia_quality_count_exact_max_size, 16384, 0, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_BLOCKS, NULL, NULL, NULL);
	DefineCustomRealVariable("nadia_bgw.quality_count_sample_percent",
							 "Percentage of a large table's blocks an estimated count reads (each block drawn independently, as TABLESAMPLE SYSTEM).",
							 NULL,
							 &nadia_quality_count_sample_percent, 1.0, 0.001, 100.0,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("nadia_bgw.quality_count_timeout",
							"Longest time one count may take, its sleeps between chunks included.",
							"A count that takes longer is recorded with outcome timeout.",
							&nadia_quality_count_timeout, 150000, 1, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomRealVariable("nadia_bgw.quality_count_duty_cycle",
							 "Largest share of the wall time a count is busy reading.",
							 "The count reads its table in chunks of a few milliseconds and sleeps between them; 1 never sleeps.",
							 &nadia_quality_count_duty_cycle, 0.02, 0.001, 1.0,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("nadia_bgw.quality_count_interval",
							"Time between two counts of the same fact.",
							"A count skipped because its table was locked is retried at the next cycle regardless.",
							&nadia_quality_count_interval, 86400, 0, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("nadia_bgw.quality_count_max_per_cycle",
							"Counts one start of the count worker makes at most.",
							"0 disables the counts, like quality_count_enabled = off.",
							&nadia_quality_count_max_per_cycle, 4, 0, 1000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
}
