/*
 * lexledger.c
 *		Module entry point: settings (GUCs) and background workers.
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "lexledger.h"
#include "worker.h"

PG_MODULE_MAGIC;

int			lexledger_balance_slots = 16;

void		_PG_init(void);

/*
 * A worker given no database, or a name longer than PostgreSQL keeps,
 * would fail to connect and restart forever: refuse the setting instead.
 */
static bool
check_database_name(char **newval, void **extra, GucSource source)
{
	if (*newval == NULL || (*newval)[0] == '\0')
	{
		GUC_check_errdetail("lexledger.database_name must name the database the workers run in.");
		return false;
	}
	if (strlen(*newval) >= NAMEDATALEN)
	{
		GUC_check_errdetail("A database name has at most %d bytes.", NAMEDATALEN - 1);
		return false;
	}
	return true;
}

void
_PG_init(void)
{
	/*
	 * Every setting is defined whether or not the library is preloaded, so
	 * that loading it late never discards what postgresql.conf says.
	 */
	DefineCustomIntVariable("lexledger.balance_slots",
							"Balance rows given to a new account without a balance limit.",
							"More rows let more sessions post to the same account at once; "
							"accounts with a limit always get one.",
							&lexledger_balance_slots, 16, 1, 64,
							PGC_USERSET, 0, NULL, NULL, NULL);

	/*
	 * The workers read it once, at start.  PostgreSQL ends the session
	 * (FATAL) that defines a PGC_POSTMASTER setting after startup, so a
	 * library loaded late, where there are no workers, defines it as one a
	 * reload may change, which then changes nothing.
	 */
	DefineCustomStringVariable("lexledger.database_name",
							   "Database in which lexledger's background workers run.",
							   "The extension must be installed there.",
							   &lexledger_database_name, "postgres",
							   process_shared_preload_libraries_in_progress ? PGC_POSTMASTER : PGC_SIGHUP,
							   GUC_SUPERUSER_ONLY, check_database_name, NULL, NULL);
	DefineCustomIntVariable("lexledger.expiry_naptime",
							"How often the expiry worker looks for holds past their timeout.",
							NULL, &lexledger_expiry_naptime, 1000, 10, 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("lexledger.expiry_batch",
							"Most holds the expiry worker releases in one transaction.",
							NULL, &lexledger_expiry_batch, 1000, 1, 100000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("lexledger.batch_attempts",
							"Most attempts of a batch's careful path that concurrent balance changes may undo.",
							"The call then fails with batch_contended (40001), to be retried. "
							"Attempts undone because a concurrent transaction posted one of the "
							"batch's ids do not count.",
							&lexledger_batch_attempts, 8, 1, 100,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("lexledger.debug_freeze_id_clock",
							 "Stops the clock new_id() reads in this session (for tests).",
							 "Ids stay strictly increasing: they borrow from later "
							 "milliseconds once one millisecond's 4,096 are used.",
							 &lexledger_debug_freeze_id_clock, false,
							 PGC_SUSET, GUC_NOT_IN_SAMPLE, NULL, NULL, NULL);
	MarkGUCPrefixReserved("lexledger");

	/*
	 * The SQL functions work without preloading; the background worker
	 * (hold expiry) needs shared_preload_libraries.
	 */
	if (!process_shared_preload_libraries_in_progress)
		return;
	if (IsBinaryUpgrade)
		return;
	lexledger_register_workers();
}
