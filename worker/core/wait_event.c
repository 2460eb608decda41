/*-------------------------------------------------------------------------
 *
 * wait_event.c
 *		The wait events our processes show in pg_stat_activity while they
 *		wait on a latch or a condition variable.
 *
 * PostgreSQL 17 lets an extension name its own wait events
 * (WaitEventExtensionNew), so that a DBA sees "NadiaBgwMain" rather than
 * the generic "Extension".  On 15 only the generic one exists.  The id is
 * looked up once per process and kept.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/wait_event.h"

#include "core/core.h"

#if PG_VERSION_NUM >= 170000
static const char *const wait_names[NADIA_WAIT_COUNT] = {
	[NADIA_WAIT_MAIN] = "NadiaBgwMain",
	[NADIA_WAIT_DATABASE] = "NadiaBgwDatabase",
	[NADIA_WAIT_TEST_DELAY] = "NadiaBgwTestDelay",
	[NADIA_WAIT_CYCLE] = "NadiaBgwCycle",
	[NADIA_WAIT_JOB] = "NadiaBgwJob",
};

static uint32 wait_ids[NADIA_WAIT_COUNT];
#endif

uint32
nadia_wait_event(NadiaWait which)
{
#if PG_VERSION_NUM >= 170000
	Assert(which >= 0 && which < NADIA_WAIT_COUNT);
	if (wait_ids[which] == 0)
		wait_ids[which] = WaitEventExtensionNew(wait_names[which]);
	return wait_ids[which];
#else
	return PG_WAIT_EXTENSION;
#endif
}
