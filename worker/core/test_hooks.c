/*-------------------------------------------------------------------------
 *
 * test_hooks.c
 *		Failure injection for the test suite, compiled into test builds
 *		only (make NADIA_TEST=1, which regress/run-tests.sh uses).
 *
 * In a normal build the settings are not defined, their variables keep
 * their defaults and each hook costs one test of a pointer or an int.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/guc.h"

#include "core/core.h"

/* the task (or "maintenance job") that fails each time it runs */
char	   *nadia_bgw_debug_fail_task = NULL;

void
nadia_test_hooks_define_gucs(void)
{
#ifdef NADIA_TEST
	DefineCustomStringVariable("nadia_bgw.debug_fail_task",
							   "Testing only: makes the named task raise an error each cycle.",
							   "Used by the test suite to check error isolation.",
							   &nadia_bgw_debug_fail_task,
							   "",
							   PGC_SUSET,
							   GUC_NOT_IN_SAMPLE,
							   NULL, NULL, NULL);
#endif
}

/*
 * Raise the injected failure of "what" "name" when the test setting "guc"
 * (whose value is "setting") names it.
 */
void
nadia_debug_fail_point(const char *setting, const char *guc,
					   const char *what, const char *name)
{
	if (setting != NULL && strcmp(setting, name) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_TRIGGERED_ACTION_EXCEPTION),
				 errmsg("injected failure in %s \"%s\"", what, name),
				 errhint("Reset %s to stop it.", guc)));
}
