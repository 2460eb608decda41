/*-------------------------------------------------------------------------
 *
 * tasks.c
 *		The scheduler's task table: which tasks a cycle runs, in order.
 *
 * Each module contributes one entry.  Order matters: later tasks (for
 * example regression detection) read what earlier ones (sampling) wrote
 * in the same cycle.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "scheduler/scheduler.h"
#include "maintenance/maintenance.h"
#include "alerts/alerts.h"
#include "rollup/rollup.h"
#include "history/history.h"
#include "advice/advice.h"
#include "quality/quality.h"

const NadiaTask nadia_tasks[] = {
	{"heartbeat", nadia_heartbeat_task},
	{"rollup", nadia_rollup_task},
	{"sample", nadia_sample_task},
	{"quality_checks", nadia_quality_checks_task},
	{"distribution", nadia_distribution_task},
	{"anomalies", nadia_anomalies_task},
	{"capacity", nadia_capacity_task},
	{"regressions", nadia_regressions_task},
	{"advice", nadia_advice_task},
	{"maintenance", nadia_maintenance_task},
};

const int	nadia_ntasks = lengthof(nadia_tasks);
