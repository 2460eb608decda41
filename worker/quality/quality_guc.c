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

void
nadia_quality_define_gucs(void)
{
	/* capacity forecasts: when a days-to-limit raises the "capacity" alert */
	DefineCustomIntVariable("nadia_bgw.capacity_alert_days",
							"Raise a \"capacity\" alert when a forecast reaches its limit within this many days.",
							"Filesystems, wraparound, sequences and connections (docs/capacity.md).",
							&nadia_capacity_alert_days, 14, 1, 3650,
							PGC_SUSET, 0, NULL, NULL, NULL);
}
