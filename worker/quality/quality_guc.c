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
}
