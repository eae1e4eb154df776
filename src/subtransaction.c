/*
 * subtransaction.c
 *		Running a step of lexledger's C in an internal subtransaction.
 *
 * The batch tries its fast path and falls back to its careful path; the
 * expiry tries a round of holds and falls back to each hold alone.  Both
 * need the same thing: run a step, keep or undo it, and when it fails, get
 * the error as data with the subtransaction already closed, so that the
 * caller decides whether to answer it or throw it on.  A caller that
 * throws it on must find its own subtransactions as it left them: a
 * PL/pgSQL EXCEPTION block around the call rolls back the innermost one.
 */
#include "postgres.h"

#include "access/xact.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "lexledger.h"

/*
 * Runs step(arg) in a subtransaction of its own and returns what it
 * returned: the subtransaction is kept when that is true, rolled back when
 * false.  On an error it is rolled back, false is returned and the error
 * is in *error (allocated in the caller's memory context; the caller frees
 * it or throws it).  *error is left NULL otherwise.
 */
bool
lexledger_in_subtransaction(bool (*step) (void *), void *arg, ErrorData **error)
{
	MemoryContext caller_cxt = CurrentMemoryContext;
	ResourceOwner caller_owner = CurrentResourceOwner;
	volatile bool kept = false;

	*error = NULL;
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(caller_cxt);
	PG_TRY();
	{
		kept = step(arg);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(caller_cxt);
		*error = CopyErrorData();
		FlushErrorState();
	}
	PG_END_TRY();

	if (kept)
		ReleaseCurrentSubTransaction();
	else
		RollbackAndReleaseCurrentSubTransaction();
	MemoryContextSwitchTo(caller_cxt);
	CurrentResourceOwner = caller_owner;
	return kept;
}
