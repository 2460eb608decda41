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
}
