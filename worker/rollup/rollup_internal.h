/*-------------------------------------------------------------------------
 *
 * rollup_internal.h
 *		What the files of the rollup module share and nothing outside it
 *		uses: the shared slots of the change capture (rollup_shmem.c, read
 *		and written by the trigger in rollup_capture.c) and the role switch
 *		of rollup_owner.c (used by rollup_definition.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef NADIA_ROLLUP_INTERNAL_H
#define NADIA_ROLLUP_INTERNAL_H

#include "access/transam.h"
#include "datatype/timestamp.h"
#include "port/atomics.h"
#include "storage/lwlock.h"
#include "storage/spin.h"

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
typedef struct NadiaRollupEpoch
{
	uint64		id;				/* 0 = empty */
	TransactionId max_xid;		/* newest top-level xid registered */
	TimestampTz lowmark;		/* lowest threshold a registered writer saw */
	TimestampTz first_write;	/* statement start of the first registration */
	int64		writers;		/* registrations (one per transaction) */
} NadiaRollupEpoch;

typedef struct NadiaRollupSlot
{
	slock_t		mutex;			/* protects everything but the atomics */
	Oid			dboid;			/* InvalidOid: free */
	int32		rollup_id;
	int64		uid;			/* nadia_bgw.rollup.uid: tells rollups apart
								 * across drop/re-create */
	pg_atomic_uint64 incarnation;	/* bumped when the slot changes owner */
	pg_atomic_uint64 threshold; /* TimestampTz: rows at or above it are hot */
	uint64		next_epoch_id;
	NadiaRollupEpoch current;		/* open epoch that writers join */
	int			nclosed;
	NadiaRollupEpoch closed[NADIA_ROLLUP_EPOCHS];
	int64		hot_registrations;	/* total, for monitoring */
	pg_atomic_uint64 capture_errors;	/* rows whose capture failed (the
										 * write went on; see
										 * rollup_capture.c) */
} NadiaRollupSlot;

typedef struct NadiaRollupShared
{
	LWLock	   *lock;			/* slot assignment */
	NadiaRollupSlot	slots[NADIA_ROLLUP_SLOTS];
} NadiaRollupShared;

/* rollup_shmem.c */
extern NadiaRollupShared *nadia_rollup_shared;
extern int	nadia_rollup_find_slot(int32 rollup_id, int64 uid,
								   uint64 *incarnation);

/* rollup_owner.c: a role switch in progress, what to put back */
typedef struct NadiaRollupRoleSwitch
{
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;
} NadiaRollupRoleSwitch;

extern void nadia_rollup_enter_role(Oid role, const char *path,
									NadiaRollupRoleSwitch *sw);
extern void nadia_rollup_leave_role(NadiaRollupRoleSwitch *sw);
extern void nadia_rollup_require_superuser(const char *fname);

#endif							/* NADIA_ROLLUP_INTERNAL_H */
