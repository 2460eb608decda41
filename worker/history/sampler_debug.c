/*-------------------------------------------------------------------------
 *
 * sampler_debug.c
 *		The per-object delay of the test build: each object of a sampler
 *		loop logs its number and waits (nadia_bgw.debug_object_delay).
 *
 * A test counts in objects, never in time, how far a sample goes after a
 * cancel, or what another backend did meanwhile.  The sources' loops call
 * NADIA_DEBUG_OBJECT() (history_internal.h), which costs one test of an
 * int per object when the delay is off, as it always is outside test
 * builds, where the settings are not defined.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/guc.h"

#include "history/history_internal.h"

int			nadia_bgw_debug_object_delay = 0;
static char *nadia_bgw_debug_object_loop = NULL;

#ifdef NADIA_TEST

/* the loops that call NADIA_DEBUG_OBJECT() */
static const char *const debug_object_loops[] = {
	"read", "measure", "compare", "seen", "apply", "scan", "gone", "forget",
	"history", "state", NULL
};

static bool
check_debug_object_loop(char **newval, void **extra, GucSource source)
{
	int			i;

	if (**newval == '\0')
		return true;
	for (i = 0; debug_object_loops[i] != NULL; i++)
		if (strcmp(*newval, debug_object_loops[i]) == 0)
			return true;
	GUC_check_errdetail("Known loops: read, measure, compare, seen, apply, scan, gone, forget, history, state.");
	return false;
}
#endif							/* NADIA_TEST */

void
nadia_sampler_debug_define_gucs(void)
{
#ifdef NADIA_TEST
	DefineCustomIntVariable("nadia_bgw.debug_object_delay",
							"Testing only: each object of the sampler's loops logs its number and waits this long.",
							"The wait processes no interrupts: only the loops' own checks do.",
							&nadia_bgw_debug_object_delay,
							0, 0, 1000,
							PGC_SUSET, GUC_NOT_IN_SAMPLE | GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomStringVariable("nadia_bgw.debug_object_loop",
							   "Testing only: the one sampler loop nadia_bgw.debug_object_delay applies to (empty: all).",
							   "read, measure, compare, seen, apply, scan, gone, forget, history or state.",
							   &nadia_bgw_debug_object_loop,
							   "",
							   PGC_SUSET, GUC_NOT_IN_SAMPLE,
							   check_debug_object_loop, NULL, NULL);
#endif
}

/*
 * One LOG line per object and a wait.  Neither may process an interrupt
 * (errfinish() checks for them after a LOG message, pg_usleep() does not):
 * the loop's own checks must be what stops it, or a test could not tell
 * them missing.
 */
void
nadia_debug_object(const char *loop, const char *source, int64 n)
{
	if (nadia_bgw_debug_object_loop != NULL && nadia_bgw_debug_object_loop[0] != '\0' &&
		strcmp(nadia_bgw_debug_object_loop, loop) != 0)
		return;
	HOLD_INTERRUPTS();
	ereport(LOG,
			(errmsg_internal("nadia_bgw debug: object " INT64_FORMAT " of %s %s", n, source, loop)));
	RESUME_INTERRUPTS();
	pg_usleep(nadia_bgw_debug_object_delay * 1000L);
}
