/*-------------------------------------------------------------------------
 *
 * maintenance_guc.c
 *		Settings of the maintenance scheduler (nadia_bgw.maintenance_*):
 *		definitions and the check hooks of the window and its timezone.
 *
 * Every setting is reloadable; the planning task and the plan view read
 * them at each cycle, a job worker when it starts.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>
#include <limits.h>

#include "pgtime.h"
#include "utils/guc.h"

#include "maintenance/maintenance.h"

bool		nadia_maint_enabled = true;
char	   *nadia_maint_window = NULL;
char	   *nadia_maint_timezone = NULL;
bool		nadia_maint_emergency_anytime = true;
int			nadia_maint_max_jobs_per_cycle = 2;
int			nadia_maint_max_concurrent = 1;
double		nadia_maint_vacuum_ratio = 0.05;
int			nadia_maint_vacuum_min = 1000;
double		nadia_maint_analyze_ratio = 0.05;
int			nadia_maint_analyze_min = 1000;
int			nadia_maint_freeze_age = 100000000;
int			nadia_maint_cooldown = 300;
double		nadia_maint_cost_delay = 2.0;
int			nadia_maint_cost_limit = 200;
int			nadia_maint_cost_limit_max = 10000;
int			nadia_maint_parallel_workers = 0;
int			nadia_maint_analyze_interval = 300;
double		nadia_maint_duty_cycle = 0.25;
int			nadia_maint_lock_timeout = 1000;
int			nadia_maint_history_days = 30;
int			nadia_maint_debug_job_delay = 0;

/* Parse "HH:MM" at *p (hours 0..24, 24 only as 24:00); advance *p. */
static bool
parse_clock(const char **p, int *minutes)
{
	const char *s = *p;
	int			h = 0,
				m = 0,
				digits = 0;

	while (isspace((unsigned char) *s))
		s++;
	while (isdigit((unsigned char) *s) && digits < 2)
		h = h * 10 + (*s++ - '0'), digits++;
	if (digits == 0 || *s != ':')
		return false;
	s++;
	if (!isdigit((unsigned char) s[0]) || !isdigit((unsigned char) s[1]))
		return false;
	m = (s[0] - '0') * 10 + (s[1] - '0');
	s += 2;
	if (h > 24 || m > 59 || (h == 24 && m != 0))
		return false;
	while (isspace((unsigned char) *s))
		s++;
	*minutes = h * 60 + m;
	*p = s;
	return true;
}

/*
 * The window: empty (any time) or a comma-separated list of local time
 * ranges "HH:MM-HH:MM"; a range whose end is before its start wraps past
 * midnight.  A range that starts where it ends is refused as ambiguous
 * (use 00:00-24:00 for a whole day).
 */
static bool
check_window(char **newval, void **extra, GucSource source)
{
	const char *p = *newval;

	if (p == NULL)
		return true;
	while (isspace((unsigned char) *p))
		p++;
	if (*p == '\0')
		return true;

	for (;;)
	{
		int			start,
					end;

		if (!parse_clock(&p, &start) || *p++ != '-' || !parse_clock(&p, &end))
		{
			GUC_check_errcode(ERRCODE_INVALID_PARAMETER_VALUE);
			GUC_check_errmsg("invalid nadia_bgw.maintenance_window \"%s\"", *newval);
			GUC_check_errhint("Use local time ranges like '01:00-05:00' or '22:30-02:00, 13:00-14:00', or '' for any time.");
			return false;
		}
		if (start == end)
		{
			GUC_check_errcode(ERRCODE_INVALID_PARAMETER_VALUE);
			GUC_check_errmsg("maintenance window range starts where it ends in \"%s\"", *newval);
			GUC_check_errhint("Use '00:00-24:00' for the whole day.");
			return false;
		}
		if (*p == '\0')
			return true;
		if (*p++ != ',')
		{
			GUC_check_errcode(ERRCODE_INVALID_PARAMETER_VALUE);
			GUC_check_errmsg("invalid nadia_bgw.maintenance_window \"%s\"", *newval);
			GUC_check_errhint("Separate time ranges with commas.");
			return false;
		}
	}
}

/* The window's timezone: empty (the server's TimeZone) or a zone name. */
static bool
check_timezone(char **newval, void **extra, GucSource source)
{
	if (*newval == NULL || (*newval)[0] == '\0')
		return true;
	if (pg_tzset(*newval) == NULL)
	{
		GUC_check_errcode(ERRCODE_INVALID_PARAMETER_VALUE);
		GUC_check_errmsg("unknown time zone \"%s\" in nadia_bgw.maintenance_timezone", *newval);
		GUC_check_errhint("Use a name from pg_timezone_names, such as 'UTC' or 'Europe/Paris', or '' for the server's TimeZone.");
		return false;
	}
	return true;
}

/*
 * The settings, one row each.  bool, int and real ones take their default
 * and range from "boot", "min" and "max" (a bool's default: 0 or 1); a
 * string one defaults to '' and may have a check hook.
 */
typedef enum SettingKind
{
	SETTING_BOOL,
	SETTING_STRING,
	SETTING_INT,
	SETTING_REAL
} SettingKind;

typedef struct Setting
{
	const char *name;
	SettingKind kind;
	void	   *var;
	double		boot;
	double		min;
	double		max;
	GucContext	context;
	int			flags;
	GucStringCheckHook check;
	const char *short_desc;
	const char *long_desc;
} Setting;

static const Setting settings[] = {
	{"nadia_bgw.maintenance_enabled", SETTING_BOOL, &nadia_maint_enabled, 1, 0, 0, PGC_SIGHUP, 0, NULL, "Lets the worker plan and start VACUUM and ANALYZE jobs.", "Off: the plan view still shows candidates, nothing is started."},
	{"nadia_bgw.maintenance_window", SETTING_STRING, &nadia_maint_window, 0, 0, 0, PGC_SIGHUP, 0, check_window, "Local time ranges in which maintenance jobs may start, e.g. '01:00-05:00'.", "Empty: any time.  Ranges may wrap past midnight and be comma-separated."},
	{"nadia_bgw.maintenance_timezone", SETTING_STRING, &nadia_maint_timezone, 0, 0, 0, PGC_SIGHUP, 0, check_timezone, "Time zone of nadia_bgw.maintenance_window.", "Empty: the server's TimeZone."},
	{"nadia_bgw.maintenance_emergency_anytime", SETTING_BOOL, &nadia_maint_emergency_anytime, 1, 0, 0, PGC_SIGHUP, 0, NULL, "Lets freeze emergencies start outside the maintenance window.", NULL},
	{"nadia_bgw.maintenance_max_jobs_per_cycle", SETTING_INT, &nadia_maint_max_jobs_per_cycle, 2, 0, 64, PGC_SIGHUP, 0, NULL, "Most maintenance jobs started by one cycle.", NULL},
	{"nadia_bgw.maintenance_max_concurrent", SETTING_INT, &nadia_maint_max_concurrent, 1, 1, 32, PGC_SIGHUP, 0, NULL, "Most maintenance jobs running at once.", "Each job is a background worker: keep max_worker_processes large enough."},
	{"nadia_bgw.maintenance_vacuum_ratio", SETTING_REAL, &nadia_maint_vacuum_ratio, 0.05, 0.0, 100.0, PGC_SIGHUP, 0, NULL, "Fraction of live tuples that, dead, calls for a VACUUM (plus maintenance_vacuum_min).", NULL},
	{"nadia_bgw.maintenance_vacuum_min", SETTING_INT, &nadia_maint_vacuum_min, 1000, 0, INT_MAX, PGC_SIGHUP, 0, NULL, "Dead tuples always needed before a VACUUM is planned.", NULL},
	{"nadia_bgw.maintenance_analyze_ratio", SETTING_REAL, &nadia_maint_analyze_ratio, 0.05, 0.0, 100.0, PGC_SIGHUP, 0, NULL, "Fraction of live tuples that, modified since the last ANALYZE, calls for one (plus maintenance_analyze_min).", NULL},
	{"nadia_bgw.maintenance_analyze_min", SETTING_INT, &nadia_maint_analyze_min, 1000, 0, INT_MAX, PGC_SIGHUP, 0, NULL, "Modified tuples always needed before an ANALYZE is planned.", NULL},
	{"nadia_bgw.maintenance_freeze_age", SETTING_INT, &nadia_maint_freeze_age, 100000000, 1000, 2000000000, PGC_SIGHUP, 0, NULL, "age(relfrozenxid) past which a VACUUM (FREEZE) is planned as an emergency.", "Keep it well below autovacuum_freeze_max_age so that our freeze runs before autovacuum's anti-wraparound vacuum."},
	{"nadia_bgw.maintenance_cooldown", SETTING_INT, &nadia_maint_cooldown, 300, 0, 7 * 86400, PGC_SIGHUP, GUC_UNIT_S, NULL, "Back-off after a job of ours that failed, was cancelled or left the table over its threshold.", "A table vacuumed or analyzed by anyone after its latest sample is skipped until the next sample regardless."},
	{"nadia_bgw.maintenance_cost_delay", SETTING_REAL, &nadia_maint_cost_delay, 2.0, 0.0, 100.0, PGC_SIGHUP, GUC_UNIT_MS, NULL, "vacuum_cost_delay of our jobs.", NULL},
	{"nadia_bgw.maintenance_cost_limit", SETTING_INT, &nadia_maint_cost_limit, 200, 1, 10000, PGC_SIGHUP, 0, NULL, "vacuum_cost_limit of our jobs.", NULL},
	{"nadia_bgw.maintenance_cost_limit_max", SETTING_INT, &nadia_maint_cost_limit_max, 10000, 1, 10000, PGC_SIGHUP, 0, NULL, "Ceiling of the cost limit of a VACUUM job that falls behind.", "A job during which the application makes more dead tuples than the table's vacuum threshold has its cost limit doubled at each cycle, up to this value; set it to maintenance_cost_limit to never raise it."},
	{"nadia_bgw.maintenance_parallel_workers", SETTING_INT, &nadia_maint_parallel_workers, 0, 0, 1024, PGC_SIGHUP, 0, NULL, "Parallel workers a VACUUM job may use for its indexes (VACUUM's PARALLEL option).", "0, the default, vacuums indexes in the job's own process, as autovacuum does."},
	{"nadia_bgw.maintenance_analyze_interval", SETTING_INT, &nadia_maint_analyze_interval, 300, 0, 7 * 86400, PGC_SIGHUP, GUC_UNIT_S, NULL, "Least time between two ANALYZEs of a table planned from its thresholds.", "A table analyzed (by anyone) less than this long ago is not planned for ANALYZE again; requests are served regardless."},
	{"nadia_bgw.maintenance_duty_cycle", SETTING_REAL, &nadia_maint_duty_cycle, 0.25, 0.01, 1.0, PGC_SIGHUP, 0, NULL, "Largest share of the time our VACUUM jobs may keep one table under VACUUM.", "After a VACUUM job of d seconds the next one on that table waits d * (1 / duty_cycle - 1) seconds (d times k for a job sped up to k * maintenance_cost_limit), counted from the end of that job or of a later VACUUM by anyone else, so that under heavy churn back-to-back jobs do not take the application's CPU and I/O; freeze emergencies and requests are not spaced. 1 turns the spacing off."},
	{"nadia_bgw.maintenance_lock_timeout", SETTING_INT, &nadia_maint_lock_timeout, 1000, 1, 600000, PGC_SIGHUP, GUC_UNIT_MS, NULL, "lock_timeout of our jobs: a lock not granted by then skips the job.", NULL},
	{"nadia_bgw.maintenance_history_retention", SETTING_INT, &nadia_maint_history_days, 30, 1, 3650, PGC_SIGHUP, 0, NULL, "Days of nadia_bgw.maintenance_history kept.", NULL},
#ifdef NADIA_TEST
	{"nadia_bgw.debug_maintenance_job_delay", SETTING_INT, &nadia_maint_debug_job_delay, 0, 0, 600000, PGC_SUSET, GUC_UNIT_MS | GUC_NOT_IN_SAMPLE, NULL, "Testing only: a maintenance job waits this long before its statement.", "Used by the test suite to drop or lock a table while a job is under way."},
#endif
};

void
nadia_maintenance_define_gucs(void)
{
	size_t		i;

	for (i = 0; i < lengthof(settings); i++)
	{
		const Setting *g = &settings[i];

		switch (g->kind)
		{
			case SETTING_BOOL:
				DefineCustomBoolVariable(g->name, g->short_desc, g->long_desc,
										 (bool *) g->var, g->boot != 0,
										 g->context, g->flags, NULL, NULL, NULL);
				break;
			case SETTING_STRING:
				DefineCustomStringVariable(g->name, g->short_desc, g->long_desc,
										   (char **) g->var, "",
										   g->context, g->flags, g->check, NULL, NULL);
				break;
			case SETTING_INT:
				DefineCustomIntVariable(g->name, g->short_desc, g->long_desc,
										(int *) g->var, (int) g->boot,
										(int) g->min, (int) g->max,
										g->context, g->flags, NULL, NULL, NULL);
				break;
			case SETTING_REAL:
				DefineCustomRealVariable(g->name, g->short_desc, g->long_desc,
										 (double *) g->var, g->boot, g->min, g->max,
										 g->context, g->flags, NULL, NULL, NULL);
				break;
		}
	}
}
