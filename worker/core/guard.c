/*-------------------------------------------------------------------------
 *
 * guard.c
 *		One call in its own subtransaction, so that its failure is logged,
 *		captured for the reader and rolled back while the caller goes on.
 *
 * The sampler runs each source this way, the detection run each detector
 * and the alert life cycle each notification: one of them failing must
 * not cost the others.  The reader-visible text of the error is the
 * SQLSTATE and its class only (public_error.c); the message, which can
 * quote a data value, goes to the server log.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "core/core.h"

/*
 * Run fn(arg) in an internal subtransaction.  True when it returned (*err,
 * when not NULL, then says success: SQLSTATE 00000, no text); false when
 * it raised an error, which is then rolled back, logged as a WARNING
 * "nadia_bgw: <what> failed: <message>" with "hint", and described in
 * *err.
 *
 * With NADIA_GUARD_QUIET the failure is expected (a text the grammar
 * rejects) and not logged.  With NADIA_GUARD_RETHROW_CANCEL a query cancel (pg_cancel_backend,
 * statement_timeout) is raised again after the rollback: it is meant for
 * the caller's whole run, not for the step it happened to land in.
 *
 * With NADIA_GUARD_ROLLBACK the subtransaction is rolled back even when
 * fn returns: the call is an experiment whose effects must not last (the
 * index advice's what-if planning under a borrowed user id and local
 * settings).  It still counts as a success: true, nothing logged, *err
 * saying success.  What fn palloc'd in the caller's memory context stays;
 * what belongs to the subtransaction goes: its settings, user id, locks
 * and writes, and the SPI tuple tables of its queries (copy a result out
 * before fn returns).  Session state no rollback undoes -- a prepared
 * statement, hypopg's hypothetical indexes -- is the caller's to drop.
 */
bool
nadia_guarded_call(const char *what, const char *hint,
				   NadiaGuardedFn fn, void *arg, int flags,
				   NadiaGuardError *err)
{
	MemoryContext oldcontext = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	volatile bool ok = false;

	if (err != NULL)
	{
		err->sqlerrcode = ERRCODE_SUCCESSFUL_COMPLETION;
		err->public_text[0] = '\0';
	}
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcontext);

	PG_TRY();
	{
		fn(arg);
		if (flags & NADIA_GUARD_ROLLBACK)
			RollbackAndReleaseCurrentSubTransaction();
		else
			ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;
		ok = true;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcontext);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;

		if ((flags & NADIA_GUARD_RETHROW_CANCEL) &&
			edata->sqlerrcode == ERRCODE_QUERY_CANCELED)
			ReThrowError(edata);

		if (!(flags & NADIA_GUARD_QUIET))
			ereport(WARNING,
					(errcode(edata->sqlerrcode),
					 errmsg("nadia_bgw: %s failed: %s", what,
							edata->message ? edata->message : "unknown error"),
					 hint ? errhint("%s", hint) : 0));
		if (err != NULL)
		{
			err->sqlerrcode = edata->sqlerrcode;
			nadia_public_error(edata->sqlerrcode, err->public_text,
							   sizeof(err->public_text));
		}
		FreeErrorData(edata);
	}
	PG_END_TRY();
	return ok;
}
