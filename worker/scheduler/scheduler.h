/*-------------------------------------------------------------------------
 *
 * scheduler.h
 *		The scheduler module, at the top of nadia_bgw: the library's entry
 *		point (nadia_bgw.c), the worker's cycle (scheduler.c) over the
 *		task table (tasks.c), the worker's shared state (worker_state.c),
 *		the SQL functions that read or poke it (status.c) and the
 *		heartbeat task (heartbeat.c).
 *
 * It may use every module; no module uses it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef NADIA_SCHEDULER_H
#define NADIA_SCHEDULER_H

#include "datatype/timestamp.h"
#include "storage/condition_variable.h"
#include "storage/latch.h"
#include "storage/lwlock.h"

#include "core/core.h"

#define NADIA_BGW_MAX_TASKS		16
#define NADIA_BGW_STATE_LEN		48

/* GUC variables (nadia_bgw.c) */
extern char *nadia_bgw_database;
extern bool nadia_bgw_enabled;
extern int	nadia_bgw_interval;
extern int	nadia_bgw_debug_task_delay;

/* true when _PG_init ran from shared_preload_libraries */
extern bool nadia_bgw_preloaded;

/* Status of one task, as the worker last saw it. */
typedef struct NadiaTaskStatus
{
	char		name[NAMEDATALEN];
	TimestampTz last_start;		/* 0 = never */
	TimestampTz last_end;
	TimestampTz last_success;
	double		last_duration_ms;
	char		outcome[16];	/* "ok", "error", "skipped", "" */
	char		last_error[NADIA_BGW_ERRMSG_LEN];
	int64		runs;
	int64		failures;
} NadiaTaskStatus;

/*
 * Worker state in shared memory.  Everything is protected by "lock"; the
 * latch pointer is written only by the worker itself.
 */
#define NADIA_BGW_TZ_LEN 256		/* TZ_STRLEN_MAX + 1 */

typedef struct NadiaBgwShared
{
	LWLock	   *lock;
	pid_t		worker_pid;		/* 0 when no worker runs */
	Latch	   *worker_latch;
	TimestampTz worker_started_at;
	int64		cycles;			/* cycles completed since the worker started */
	TimestampTz last_cycle_start;
	TimestampTz last_cycle_end;
	TimestampTz next_cycle_at;
	char		state[NADIA_BGW_STATE_LEN];

	/*
	 * wake() bumps wake_requested and sets the worker's latch; the worker
	 * copies wake_requested at the start of a cycle and publishes it in
	 * wake_served once that cycle ends, so a waiting caller knows that a
	 * whole cycle ran after its request.
	 */
	uint64		wake_requested;
	uint64		wake_served;
	ConditionVariable cycle_done;	/* broadcast at the end of each cycle */

	/* false after a failed connection: the next start waits for the database */
	bool		database_seen;

	/*
	 * The server's TimeZone as the worker sees it (postgresql.conf, never a
	 * client's setting), published at start and after each reload; empty
	 * while no worker has run.  See nadia_bgw.server_timezone().
	 */
	char		server_timezone[NADIA_BGW_TZ_LEN];

	int			ntasks;
	NadiaTaskStatus tasks[NADIA_BGW_MAX_TASKS];
} NadiaBgwShared;

/* worker_state.c */
extern NadiaBgwShared *nadia_shared;
extern const NadiaShmemPart nadia_worker_state_shmem;
extern void nadia_set_state(const char *state);
extern void nadia_publish_timezone(void);

/* scheduler.c */
typedef void (*NadiaTaskFn) (void);

typedef struct NadiaTask
{
	const char *name;
	NadiaTaskFn run;
} NadiaTask;

extern PGDLLEXPORT void nadia_bgw_main(Datum main_arg);

/* tasks.c */
extern const NadiaTask nadia_tasks[];
extern const int nadia_ntasks;

/* heartbeat.c */
extern void nadia_heartbeat_task(void);

#endif							/* NADIA_SCHEDULER_H */
