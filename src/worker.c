/*
 * worker.c
 *		The expiry worker: releases holds whose timeout has passed.
 *
 * pg_cron (1.4 on Debian 12) schedules by the minute; a hold's timeout must
 * take effect within seconds, so this is lexledger's own background worker.
 * Every lexledger.expiry_naptime it calls lexledger.expire_holds() in its
 * own short transaction, repeating while full batches come back.  It waits
 * quietly while the extension is not installed in its database, and an
 * error in one round is logged and retried in the next, never a crash loop.
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "lexledger.h"
#include "worker.h"

char	   *lexledger_database_name = NULL;
int			lexledger_expiry_naptime = 1000;
int			lexledger_expiry_batch = 1000;

PGDLLEXPORT void lexledger_expiry_main(Datum arg);

void
lexledger_register_workers(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 5;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "lexledger");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "lexledger_expiry_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "lexledger expiry worker");
	snprintf(worker.bgw_type, BGW_MAXLEN, "lexledger expiry worker");
	RegisterBackgroundWorker(&worker);
}

/*
 * One round in one transaction: returns how many holds expired, or -1 when
 * the extension is not (yet) installed here.
 */
static int
expire_round(void)
{
	int			expired = -1;
	static const char *sql = "SELECT lexledger.expire_holds($1)";

	/*
	 * Deferred checks (a DEFERRABLE foreign key that references a hold)
	 * fire at once, inside the subtransaction of the hold they are about:
	 * at commit they would fail the whole round, every round.  And no lock
	 * is waited for long (the check of a key that references a hold waits
	 * for a row that an application keeps locked; an uncommitted
	 * resolution that a role inserted into the history directly holds the
	 * expiry's insert): the hold fails, to be tried again later, instead
	 * of the round holding its balance rows, and stopping every other
	 * expiry, meanwhile.  A legitimate expiry never waits for a lock: it
	 * holds its hold's row and balance rows before it starts.
	 */
	static const char *const round_settings[] = {
		"SET CONSTRAINTS ALL IMMEDIATE",
		"SET LOCAL lock_timeout = '100ms'",
	};

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (OidIsValid(get_extension_oid("lexledger", true)))
	{
		Datum		arg = Int32GetDatum(lexledger_expiry_batch);
		Oid			argtype = INT4OID;
		bool		isnull;

		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "lexledger expiry worker: SPI_connect failed");
		for (int i = 0; i < lengthof(round_settings); i++)
			if (SPI_execute(round_settings[i], false, 0) != SPI_OK_UTILITY)
				elog(ERROR, "lexledger expiry worker: %s failed", round_settings[i]);
		pgstat_report_activity(STATE_RUNNING, sql);
		if (SPI_execute_with_args(sql, 1, &argtype, &arg, NULL, false, 1) != SPI_OK_SELECT)
			elog(ERROR, "lexledger expiry worker: expire_holds failed");
		expired = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		SPI_finish();
	}
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(true);
	pgstat_report_activity(STATE_IDLE, NULL);
	return expired;
}

/*
 * Applies a configuration reload that was asked for (SIGHUP).  Called
 * between rounds too, not only between naps: under a steady stream of
 * due holds the rounds follow each other without a nap.
 */
static void
reload_config_if_asked(void)
{
	if (ConfigReloadPending)
	{
		ConfigReloadPending = false;
		ProcessConfigFile(PGC_SIGHUP);
	}
}

void
lexledger_expiry_main(Datum arg)
{
	MemoryContext round_cxt;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(lexledger_database_name, NULL, 0);
	pgstat_report_appname("lexledger expiry worker");
	round_cxt = AllocSetContextCreate(TopMemoryContext, "lexledger expiry round",
									  ALLOCSET_DEFAULT_SIZES);
	elog(LOG, "lexledger expiry worker started in database \"%s\"", lexledger_database_name);

	for (;;)
	{
		int			expired = 0;

		CHECK_FOR_INTERRUPTS();
		reload_config_if_asked();

		MemoryContextSwitchTo(round_cxt);
		PG_TRY();
		{
			do
			{
				expired = expire_round();
				if (expired > 0)
					elog(DEBUG1, "lexledger expiry worker released %d holds", expired);
				CHECK_FOR_INTERRUPTS();
				reload_config_if_asked();
			} while (expired >= lexledger_expiry_batch);
		}
		PG_CATCH();
		{
			/* log it, clean up, and try again next round */
			MemoryContextSwitchTo(round_cxt);
			EmitErrorReport();
			FlushErrorState();
			AbortCurrentTransaction();
			pgstat_report_activity(STATE_IDLE, NULL);
		}
		PG_END_TRY();
		MemoryContextReset(round_cxt);

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 lexledger_expiry_naptime, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
