/*-------------------------------------------------------------------------
 *
 * rollup.h
 *		Incremental rollups: shared state of the change capture (the moving
 *		invalidation threshold and the "hot writer" epochs), the capture
 *		trigger and the worker's rollup task.
 *
 *-------------------------------------------------------------------------
 */
#ifndef NADIA_ROLLUP_H
#define NADIA_ROLLUP_H


#include "access/transam.h"
#include "datatype/timestamp.h"
#include "nodes/pg_list.h"
#include "port/atomics.h"
#include "storage/lwlock.h"
#include "storage/spin.h"

#include "core/core.h"

/* rollups the whole cluster can have at once (one shared slot each) */
#define NADIA_ROLLUP_SLOTS		64
/* closed epochs a slot keeps before it merges the oldest two */
#define NADIA_ROLLUP_EPOCHS		8

/*
 * An epoch collects the transactions that wrote rows at or above the
 * threshold (the "hot" buckets) without logging them.  Until every one of
 * them has ended, a refresh cannot know that its snapshot sees their rows,
 * so the epoch is kept and the hot buckets from "lowmark" on are recomputed
 * again by later refreshes.
 */
typedef struct RollupEpoch
{
	uint64		id;				/* 0 = empty */
	TransactionId max_xid;		/* newest top-level xid registered */
	TimestampTz lowmark;		/* lowest threshold a registered writer saw */
	TimestampTz first_write;	/* statement start of the first registration */
	int64		writers;		/* registrations (one per transaction) */
} RollupEpoch;

typedef struct RollupSlot
{
	slock_t		mutex;			/* protects everything but the atomics */
	Oid			dboid;			/* InvalidOid: free */
	int32		rollup_id;
	int64		uid;			/* nadia_bgw.rollup.uid: tells rollups apart
								 * across drop/re-create */
	pg_atomic_uint64 incarnation;	/* bumped when the slot changes owner */
	pg_atomic_uint64 threshold; /* TimestampTz: rows at or above it are hot */
	uint64		next_epoch_id;
	RollupEpoch current;		/* open epoch that writers join */
	int			nclosed;
	RollupEpoch closed[NADIA_ROLLUP_EPOCHS];
	int64		hot_registrations;	/* total, for monitoring */
	pg_atomic_uint64 capture_errors;	/* rows whose capture failed (the
										 * write went on; see
										 * rollup_capture.c) */
} RollupSlot;

typedef struct RollupShared
{
	LWLock	   *lock;			/* slot assignment */
	RollupSlot	slots[NADIA_ROLLUP_SLOTS];
} RollupShared;

/* rollup_shmem.c */
extern RollupShared *rollup_shared;
extern const NadiaShmemPart nadia_rollup_shmem;
extern int	rollup_find_slot(int32 rollup_id, int64 uid, uint64 *incarnation);

/* detector_rollup.c: the "rollup_broken" state detector */
struct DetectContext;
extern List *nadia_detect_rollups(struct DetectContext *ctx);

/* rollup.c */
extern void nadia_rollup_task(void);

#endif							/* NADIA_ROLLUP_H */
