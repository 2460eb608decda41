/*-------------------------------------------------------------------------
 *
 * core.h
 *		The core module of nadia_bgw: what every other module may use and
 *		nothing above it.  It depends on PostgreSQL only.
 *
 *		guard.c			one call in a subtransaction, its error captured
 *		spi_util.c		SPI: kept plans, result checks, column getters
 *		shmem.c			one registration point for shared memory
 *		wait_event.c	our wait events (custom ones on 17+)
 *		json.c			the JSON builder (cJSON in palloc'd memory)
 *		test_hooks.c	failure injection of the test build
 *		session.c		settings pinned right after connecting
 *		bgworker.c		the common set-up of our dynamic background workers
 *		public_error.c	the text of an error a reader may see
 *		statement_text.c what of another session's statement may be stored
 *
 * The .c file that includes this must include postgres.h first.
 *
 *-------------------------------------------------------------------------
 */
#ifndef NADIA_CORE_H
#define NADIA_CORE_H

#include "executor/spi.h"
#include "utils/hsearch.h"
#include "utils/timestamp.h"

#define NADIA_BGW_NAME			"nadia_bgw"
#define NADIA_BGW_SCHEMA		"nadia_bgw"
#define NADIA_BGW_ERRMSG_LEN	512

#if PG_VERSION_NUM < 150000
#error "nadia_bgw needs PostgreSQL 15 or later"
#endif

/* guard.c ---------------------------------------------------------------*/

typedef void (*NadiaGuardedFn) (void *arg);

/* nadia_guarded_call() flags */
#define NADIA_GUARD_RETHROW_CANCEL	0x01	/* a query cancel ends the caller too */
#define NADIA_GUARD_QUIET			0x02	/* an expected failure: no WARNING */
#define NADIA_GUARD_ROLLBACK		0x04	/* roll back even a call that returns */

/* what a failed guarded call leaves behind */
typedef struct NadiaGuardError
{
	int			sqlerrcode;
	char		public_text[NADIA_BGW_ERRMSG_LEN];	/* nadia_public_error() */
} NadiaGuardError;

extern bool nadia_guarded_call(const char *what, const char *hint,
							   NadiaGuardedFn fn, void *arg, int flags,
							   NadiaGuardError *err);

/* spi_util.c ------------------------------------------------------------*/

extern int	nadia_spi_exec(const char *sql, int nargs, Oid *types, Datum *values,
						   const char *nulls, bool read_only, long count);
extern void nadia_spi_check(int rc, int expected, const char *what);
extern char *nadia_spi_getstring(int row, int col);
extern int64 nadia_spi_getint8(int row, int col, bool *isnull);
extern bool nadia_spi_getfloat8(int row, int col, double *out);
extern bool nadia_function_exists(const char *signature);
extern HTAB *nadia_local_hash(const char *name, Size keysize, Size entrysize, uint64 n);

/* a timestamp for a result row of our set-returning functions: 0 (never set) is NULL */
static inline Datum
nadia_timestamp_datum(TimestampTz ts, bool *isnull)
{
	*isnull = (ts == 0);
	return TimestampTzGetDatum(ts);
}

/* shmem.c ---------------------------------------------------------------*/

/*
 * One part of our shared memory.  "size" says how much to reserve (and
 * "lwlocks" how many locks of a tranche named "name"); "startup" attaches
 * to it, or initialises it, under AddinShmemInitLock, in each process.
 */
typedef struct NadiaShmemPart
{
	const char *name;
	Size		(*size) (void);
	int			lwlocks;
	void		(*startup) (void);
} NadiaShmemPart;

extern void nadia_shmem_register(const NadiaShmemPart *part);
extern void nadia_shmem_install(void);

/* wait_event.c ----------------------------------------------------------*/

typedef enum NadiaWait
{
	NADIA_WAIT_MAIN,			/* the worker between two cycles */
	NADIA_WAIT_DATABASE,		/* the worker waiting for its database */
	NADIA_WAIT_TEST_DELAY,		/* a delay of the test build */
	NADIA_WAIT_CYCLE,			/* wake(): a caller waiting for a cycle */
	NADIA_WAIT_JOB,				/* a maintenance job between two checks */
	NADIA_WAIT_COUNT
} NadiaWait;

extern uint32 nadia_wait_event(NadiaWait which);

/* json.c ----------------------------------------------------------------*/

struct cJSON;
extern void nadia_json_init(void);
extern char *nadia_json_print(const struct cJSON *item);

/* test_hooks.c ----------------------------------------------------------*/

extern char *nadia_bgw_debug_fail_task;
extern void nadia_test_hooks_define_gucs(void);
extern void nadia_debug_fail_point(const char *setting, const char *guc,
								   const char *what, const char *name);

/* session.c -------------------------------------------------------------*/

#define NADIA_SAFE_SEARCH_PATH	"pg_catalog, pg_temp"
extern void nadia_session_pin(void);

/* bgworker.c ------------------------------------------------------------*/
struct BackgroundWorker;
extern void nadia_dynamic_worker_init(struct BackgroundWorker *worker,
									  const char *function, const char *type,
									  const void *extra, Size extralen);

/* public_error.c --------------------------------------------------------*/

extern void nadia_public_error(int sqlerrcode, char *buf, size_t len);

/* statement_text.c ------------------------------------------------------*/

extern char *nadia_safe_statement_text(const char *query, int maxlen,
									   bool *reduced);

#endif							/* NADIA_CORE_H */
