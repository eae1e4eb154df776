/*
 * escrow.c
 *		Holds (pending transfers): capture, release and expiry.
 *
 * A hold is a transfer of kind 'pending' plus, while it is pending, a row in
 * lexledger.pending_transfer.  Capture, release and the expiry worker all
 * begin by deleting that row; the row lock makes them queue, and after the
 * wait every loser finds the row gone and zero rows deleted.  Exactly one
 * resolution is ever written, and the unique index
 * transfer_resolves_a_hold_once backs that up.  What became of a resolved
 * hold is read from its resolution.
 *
 * Whether a hold has expired is judged by the clock at the moment of the
 * statement (clock_timestamp), not by the start of the caller's
 * transaction: a long transaction cannot capture a hold after its timeout.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/timestamp.h"

#include "lexledger.h"
#include "ledger.h"

static SPIPlanPtr record_hold_plan = NULL;
static SPIPlanPtr read_hold_plan = NULL;
static SPIPlanPtr resolve_hold_plan = NULL;
static SPIPlanPtr due_holds_plan = NULL;
static SPIPlanPtr failed_expiry_plan = NULL;

/* What a resolution needs to know about its hold. */
typedef struct Hold
{
	int64		debit_account_id;
	int64		credit_account_id;
	Amount		amount;
	int32		code;
	char	   *status;
	bool		expired;		/* expires_at has passed */
	pg_uuid_t	resolved_by;
	bool		resolved_by_isnull;
} Hold;

/*
 * Why "timeout" cannot be a hold's timeout, or NULL when it can.  Interval
 * comparison counts a month as 30 days, so '1 mon -30 days 1 sec' compares
 * as positive yet puts created_at + timeout before created_at in February:
 * every part must be zero or more.  The cap keeps the expiry
 * (lexledger.hold_expiry) inside timestamptz's range whatever the parts.
 */
const char *
escrow_timeout_problem(Datum timeout)
{
	Interval   *iv = DatumGetIntervalP(timeout);
	Interval	zero = {0};
	Interval	longest = {.month = HOLD_TIMEOUT_MAX_YEARS * MONTHS_PER_YEAR};

	if (DatumGetBool(DirectFunctionCall2(interval_le, timeout, IntervalPGetDatum(&zero))))
		return "a hold's timeout must be positive";
	if (iv->month < 0 || iv->day < 0 || iv->time < 0)
		return "a hold's timeout must not have a negative part";
	if (DatumGetBool(DirectFunctionCall2(interval_gt, timeout, IntervalPGetDatum(&longest))))
		return "a hold's timeout must be at most " CppAsString2(HOLD_TIMEOUT_MAX_YEARS) " years";
	return NULL;
}

void
escrow_validate_timeout(const TransferRow *t)
{
	const char *problem = t->timeout_isnull ? NULL : escrow_timeout_problem(t->timeout);

	if (problem != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_LX_INVALID_TRANSFER),
				 errmsg("invalid_transfer: %s", problem),
				 errdetail("The timeout is %s.",
						   DatumGetCString(DirectFunctionCall1(interval_out, t->timeout))),
				 errhint("Leave the timeout null for a hold that never expires.")));
}

/* Records a hold just inserted as transfer "tuple". */
void
escrow_record_hold(const TransferRow *t, HeapTuple tuple, TupleDesc tupdesc)
{
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	bool		isnull;
	int			ret;

	ledger_prepare(&record_hold_plan,
				   "INSERT INTO lexledger.pending_transfer"
				   " (transfer_id, debit_account_id, credit_account_id, amount, expires_at)"
				   " VALUES ($1, $2, $3, $4, lexledger.hold_expiry($5, $6))",
				   6, (Oid[]) {UUIDOID, INT8OID, INT8OID, InvalidOid, TIMESTAMPTZOID, INTERVALOID});
	values[0] = UUIDPGetDatum(&t->id);
	values[1] = Int64GetDatum(t->debit_account_id);
	values[2] = Int64GetDatum(t->credit_account_id);
	values[3] = PointerGetDatum(&t->amount);
	values[4] = SPI_getbinval(tuple, tupdesc, TCOL_CREATED_AT, &isnull);
	values[5] = t->timeout;
	nulls[5] = t->timeout_isnull ? 'n' : ' ';
	ret = SPI_execute_plan(record_hold_plan, values, nulls, false, 0);
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "lexledger: hold insert failed: %s", SPI_result_code_string(ret));
}

/*
 * Reads the hold "pending_id" (without locking): its transfer, whether it
 * is still pending and whether its timeout has passed, or its resolution.
 * False if no hold has this id.
 */
static bool
read_hold(const pg_uuid_t *pending_id, Hold *hold)
{
	Datum		arg = UUIDPGetDatum(pending_id);
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	Datum		d;
	int			ret;

	ledger_prepare(&read_hold_plan,
				   "SELECT t.debit_account_id, t.credit_account_id, t.amount, t.code,"
				   "       CASE WHEN p.transfer_id IS NOT NULL THEN 'pending'"
				   "            WHEN r.kind = 'post_pending' THEN 'posted'"
				   "            WHEN r.kind = 'void_pending' THEN 'voided'"
				   "            WHEN r.kind = 'expire_pending' THEN 'expired' END,"
				   "       coalesce(p.expires_at <= clock_timestamp(), false), r.id"
				   "  FROM lexledger.transfer t"
				   "  LEFT JOIN lexledger.pending_transfer p ON p.transfer_id = t.id"
				   "  LEFT JOIN lexledger.transfer r ON r.pending_id = t.id"
				   " WHERE t.id = $1 AND t.kind = 'pending'",
				   1, (Oid[]) {UUIDOID});
	ret = SPI_execute_plan(read_hold_plan, &arg, NULL, false, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "lexledger: hold lookup failed: %s", SPI_result_code_string(ret));
	if (SPI_processed == 0)
		return false;
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	hold->debit_account_id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
	hold->credit_account_id = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
	hold->amount = *DatumGetAmountP(SPI_getbinval(tup, desc, 3, &isnull));
	hold->code = DatumGetInt32(SPI_getbinval(tup, desc, 4, &isnull));
	hold->status = SPI_getvalue(tup, desc, 5);
	if (hold->status == NULL)
		ledger_corrupted("a hold is neither pending nor resolved:", pending_id);
	hold->expired = DatumGetBool(SPI_getbinval(tup, desc, 6, &isnull));
	d = SPI_getbinval(tup, desc, 7, &hold->resolved_by_isnull);
	if (!hold->resolved_by_isnull)
		hold->resolved_by = *DatumGetUUIDP(d);
	return true;
}

/*
 * Takes the hold out of pending_transfer.  False when another resolution
 * got there first (or the hold has expired and this is not the expiry, or
 * has not and this is).
 */
static bool
claim_hold(const TransferRow *t)
{
	Datum		values[2];
	int			ret;

	ledger_prepare(&resolve_hold_plan,
				   "DELETE FROM lexledger.pending_transfer"
				   " WHERE transfer_id = $1"
				   "   AND (CASE WHEN $2 THEN expires_at <= clock_timestamp()"
				   "             ELSE expires_at IS NULL OR expires_at > clock_timestamp() END)",
				   2, (Oid[]) {UUIDOID, BOOLOID});
	values[0] = UUIDPGetDatum(&t->pending_id);
	values[1] = BoolGetDatum(t->kind == TK_EXPIRE_PENDING);
	ret = SPI_execute_plan(resolve_hold_plan, values, NULL, false, 0);
	if (ret != SPI_OK_DELETE)
		elog(ERROR, "lexledger: hold claim failed: %s", SPI_result_code_string(ret));
	return SPI_processed == 1;
}

/* The error for resolving a hold that is no longer (or not yet) resolvable. */
static void
report_unresolvable(const TransferRow *t, const Hold *hold)
{
	char	   *pid = uuid_to_cstring(&t->pending_id);

	if (strcmp(hold->status, "posted") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_LX_PENDING_ALREADY_POSTED),
				 errmsg("pending_transfer_already_posted: hold %s was already captured", pid)));
	if (strcmp(hold->status, "voided") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_LX_PENDING_ALREADY_VOIDED),
				 errmsg("pending_transfer_already_voided: hold %s was already released", pid)));
	if (strcmp(hold->status, "expired") == 0 || hold->expired)
		ereport(ERROR,
				(errcode(ERRCODE_LX_PENDING_EXPIRED),
				 errmsg("pending_transfer_expired: hold %s has expired", pid),
				 errdetail("Its funds are (or are about to be) returned to the debit account.")));
	/* an expiry that found the hold not yet due: nothing to do */
	ereport(ERROR,
			(errcode(ERRCODE_LX_PENDING_NOT_FOUND),
			 errmsg("pending_transfer_not_found: hold %s is not due to expire", pid)));
}

/* Returns the transfer already posted under t->id, checking it is t. */
static Datum
replay_resolution(FunctionCallInfo fcinfo, MemoryContext caller_cxt, const TransferRow *t)
{
	HeapTuple	tuple;
	TupleDesc	tupdesc;

	if (!ledger_fetch_transfer(&t->id, &tuple, &tupdesc))
		ledger_corrupted("an existing transfer cannot be read back:", &t->id);
	ledger_check_replay(t, tuple, tupdesc);
	return ledger_result_tuple(fcinfo, caller_cxt, tuple, tupdesc);
}

/*
 * Resolves hold t->pending_id by posting transfer t (kind post, void or
 * expire).  "amount" is the amount to capture, NULL for all of it; "code"
 * NULL means the hold's code.  SPI must be connected.  Returns the
 * resolution as a lexledger.transfer datum when fcinfo is given.
 */
static Datum
resolve_hold(FunctionCallInfo fcinfo, MemoryContext caller_cxt, TransferRow *t,
			 const Amount *amount, const int32 *code)
{
	Hold		hold;
	HeapTuple	tuple;
	TupleDesc	tupdesc;
	LedgerAccount debit,
				credit;

	if (!read_hold(&t->pending_id, &hold))
	{
		/* a retry naming another hold than it did: say so, not not_found */
		if (ledger_fetch_transfer(&t->id, &tuple, &tupdesc))
			ledger_check_replay(t, tuple, tupdesc);
		ereport(ERROR,
				(errcode(ERRCODE_LX_PENDING_NOT_FOUND),
				 errmsg("pending_transfer_not_found: no hold has id %s",
						uuid_to_cstring(&t->pending_id))));
	}

	t->debit_account_id = hold.debit_account_id;
	t->credit_account_id = hold.credit_account_id;
	t->pending_amount = hold.amount;
	t->amount = (t->kind == TK_POST_PENDING && amount != NULL) ? *amount : hold.amount;
	t->code = code ? *code : hold.code;

	/* A retry of a resolution already made returns it. */
	if (ledger_fetch_transfer(&t->id, &tuple, &tupdesc))
	{
		ledger_check_replay(t, tuple, tupdesc);
		return fcinfo ? ledger_result_tuple(fcinfo, caller_cxt, tuple, tupdesc) : (Datum) 0;
	}

	if (strcmp(t->amount.code, hold.amount.code) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_LX_CURRENCY_MISMATCH),
				 errmsg("currency_mismatch: hold %s is in %s, the amount is in %s",
						uuid_to_cstring(&t->pending_id), hold.amount.code, t->amount.code)));
	if (!amount_same_currency(&t->amount, &hold.amount))
		ereport(ERROR,
				(errcode(ERRCODE_LX_CURRENCY_MISMATCH),
				 errmsg("currency_mismatch: hold %s is in %s with %d decimals, the amount has %d",
						uuid_to_cstring(&t->pending_id), hold.amount.code, hold.amount.scale,
						t->amount.scale),
				 errdetail("The amount was made while a create_unit of %s that was rolled back was in effect.",
						   t->amount.code)));
	if (t->amount.units <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_LX_AMOUNT_MUST_BE_POSITIVE),
				 errmsg("amount_must_be_positive: a capture must be greater than zero"),
				 errhint("To return the whole hold, release it.")));
	if (t->amount.units > hold.amount.units)
		ereport(ERROR,
				(errcode(ERRCODE_LX_EXCEEDS_PENDING_AMOUNT),
				 errmsg("exceeds_pending_amount: capture of %s exceeds hold %s of %s",
						amount_to_cstring(&t->amount), uuid_to_cstring(&t->pending_id),
						amount_to_cstring(&hold.amount))));

	if (!claim_hold(t))
	{
		/* Someone resolved it first, or it expired: look again, now. */
		if (!read_hold(&t->pending_id, &hold))
			ledger_corrupted("a hold cannot be read back:", &t->pending_id);
		if (!hold.resolved_by_isnull &&
			memcmp(&hold.resolved_by, &t->id, sizeof(pg_uuid_t)) == 0)
			return fcinfo ? replay_resolution(fcinfo, caller_cxt, t) : (Datum) 0;
		report_unresolvable(t, &hold);
	}

	if (!ledger_insert_transfer(t, &tuple, &tupdesc))
	{
		/* t->id was taken meanwhile by some other transfer. */
		if (!ledger_fetch_transfer(&t->id, &tuple, &tupdesc))
			ledger_corrupted("an existing transfer cannot be read back:", &t->id);
		ledger_check_replay(t, tuple, tupdesc);
	}
	else
	{
		if (!ledger_account_lookup(t->debit_account_id, &debit) ||
			!ledger_account_lookup(t->credit_account_id, &credit))
			ledger_corrupted("an account of this hold is missing:", &t->pending_id);
		ledger_post_counters(t, &debit, &credit, hold.amount.units);
	}
	return fcinfo ? ledger_result_tuple(fcinfo, caller_cxt, tuple, tupdesc) : (Datum) 0;
}

/* Reads (id, pending_id, ..., code, reference) of capture and release. */
static void
read_resolution_args(FunctionCallInfo fcinfo, TransferRow *t, TransferKind kind,
					 int code_arg)
{
	memset(t, 0, sizeof(*t));
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_LX_INVALID_TRANSFER),
				 errmsg("invalid_transfer: id and pending_id must not be null")));
	t->id = *PG_GETARG_UUID_P(0);
	t->pending_id = *PG_GETARG_UUID_P(1);
	t->pending_id_isnull = false;
	t->kind = kind;
	t->timeout_isnull = true;
	t->reference_isnull = PG_ARGISNULL(code_arg + 1);
	if (!t->reference_isnull)
		t->reference = PG_GETARG_DATUM(code_arg + 1);
}

PG_FUNCTION_INFO_V1(lexledger_capture);

/*
 * lexledger.capture(id, pending_id, amount, code, reference)
 *		Posts all of a hold, or part of it (the rest returns to the debit
 *		account).
 */
Datum
lexledger_capture(PG_FUNCTION_ARGS)
{
	MemoryContext caller_cxt = CurrentMemoryContext;
	TransferRow t;
	int32		code = PG_ARGISNULL(3) ? 0 : PG_GETARG_INT32(3);
	Datum		result;

	read_resolution_args(fcinfo, &t, TK_POST_PENDING, 3);
	ledger_spi_connect();
	result = resolve_hold(fcinfo, caller_cxt, &t,
						  PG_ARGISNULL(2) ? NULL : PG_GETARG_AMOUNT_P(2),
						  PG_ARGISNULL(3) ? NULL : &code);
	SPI_finish();
	PG_RETURN_DATUM(result);
}

PG_FUNCTION_INFO_V1(lexledger_release);

/*
 * lexledger.release(id, pending_id, code, reference)
 *		Voids a hold: all of it returns to the debit account.
 */
Datum
lexledger_release(PG_FUNCTION_ARGS)
{
	MemoryContext caller_cxt = CurrentMemoryContext;
	TransferRow t;
	int32		code = PG_ARGISNULL(2) ? 0 : PG_GETARG_INT32(2);
	Datum		result;

	read_resolution_args(fcinfo, &t, TK_VOID_PENDING, 2);
	ledger_spi_connect();
	result = resolve_hold(fcinfo, caller_cxt, &t, NULL, PG_ARGISNULL(2) ? NULL : &code);
	SPI_finish();
	PG_RETURN_DATUM(result);
}

/*
 * The balance row of "account_id" that this backend writes; false if no
 * such account is cached (ledger_account_prefetch has been given it).
 */
static bool
balance_row_of(int64 account_id, BalanceRowKey *key)
{
	LedgerAccount account;

	if (!ledger_account_prefetched(account_id, &account))
		return false;
	key->account_id = account.id;
	key->slot = (int16) ledger_account_slot(&account);
	return true;
}

/*
 * Locks, in (account, slot) order, the balance rows that expiring the "n"
 * holds of "due" (transfer_id, debit_account_id, credit_account_id) will
 * write, skipping any that another transaction holds; returns the rows
 * locked, in key order, and their number in *nlocked.  All rows first,
 * because taking them hold by hold could deadlock with a batch; skipping
 * busy ones, because a transaction that keeps one account's row for long
 * must not stop every other hold from expiring, nor make the expiry keep
 * rows that others then wait for.
 */
static BalanceRowKey *
lock_free_rows_of_holds(SPITupleTable *due, uint64 n, int *nlocked)
{
	int64	   *accounts = palloc(sizeof(int64) * 2 * n);
	BalanceRowKey *wanted = palloc(sizeof(BalanceRowKey) * 2 * n);
	BalanceRowKey *locked;
	int			m = 0;

	for (uint64 i = 0; i < n; i++)
	{
		bool		isnull;

		accounts[2 * i] = DatumGetInt64(SPI_getbinval(due->vals[i], due->tupdesc, 2, &isnull));
		accounts[2 * i + 1] = DatumGetInt64(SPI_getbinval(due->vals[i], due->tupdesc, 3, &isnull));
	}
	/* one query for the accounts this backend has not cached yet */
	ledger_account_prefetch(accounts, 2 * n);
	for (uint64 i = 0; i < 2 * n; i++)
		if (balance_row_of(accounts[i], &wanted[m]))
			m++;
	*nlocked = 0;
	locked = palloc(sizeof(BalanceRowKey) * Max(m, 1));
	if (m > 0)
	{
		ledger_read_balance_rows(wanted, m, BALANCE_ROWS_SKIP_LOCKED);
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			bool		isnull;

			locked[r].account_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[r],
															   SPI_tuptable->tupdesc, 1, &isnull));
			locked[r].slot = DatumGetInt16(SPI_getbinval(SPI_tuptable->vals[r],
														 SPI_tuptable->tupdesc, 7, &isnull));
		}
		*nlocked = (int) SPI_processed;
		SPI_freetuptable(SPI_tuptable);
	}
	pfree(accounts);
	pfree(wanted);
	return locked;
}

/*
 * Whether this backend's balance row of "account_id" is not among the
 * "nlocked" rows locked: another transaction holds it.  An account that
 * does not exist is not busy: resolving its hold then reports the damage
 * (ledger_corrupted).
 */
static bool
account_row_busy(int64 account_id, const BalanceRowKey *locked, int nlocked)
{
	BalanceRowKey key;

	return balance_row_of(account_id, &key) &&
		bsearch(&key, locked, nlocked, sizeof(BalanceRowKey), ledger_cmp_balance_row) == NULL;
}

/* Expires one hold, in an SPI connection of its own. */
static void
expire_hold(const pg_uuid_t *pending_id)
{
	TransferRow t = {0};

	t.pending_id = *pending_id;
	ledger_new_id(&t.id);
	t.pending_id_isnull = false;
	t.kind = TK_EXPIRE_PENDING;
	t.reference_isnull = true;
	t.timeout_isnull = true;

	/*
	 * What resolving it allocates, query results included, is freed before
	 * the next, so memory stays flat however many holds are due.
	 */
	ledger_spi_connect();
	resolve_hold(NULL, NULL, &t, NULL, NULL);
	SPI_finish();
}

/*
 * Whether "error" is about the transaction or the server rather than one
 * hold: a cancel or statement timeout, a shutdown (class 57), a
 * serialization failure or deadlock (40), out of memory or disk (53).
 * Those end the call, as they did before any hold could fail on its own.
 */
static bool
error_ends_the_call(const ErrorData *error)
{
	int			category = ERRCODE_TO_CATEGORY(error->sqlerrcode);

	return category == ERRCODE_OPERATOR_INTERVENTION ||
		category == ERRCODE_TRANSACTION_ROLLBACK ||
		category == ERRCODE_INSUFFICIENT_RESOURCES;
}

/*
 * Runs step(arg) in a subtransaction of its own (lexledger_in_subtransaction).
 * Returns true when it returned; on an error, returns false with the error
 * in *error, or throws it again when it ends the call (error_ends_the_call).
 */
static bool
run_in_subtransaction(bool (*step) (void *), void *arg, ErrorData **error)
{
	if (lexledger_in_subtransaction(step, arg, error))
		return true;
	if (error_ends_the_call(*error))
		ReThrowError(*error);
	return false;
}

typedef struct HoldList
{
	const pg_uuid_t *ids;
	int			n;
} HoldList;

static bool
expire_listed_holds(void *arg)
{
	HoldList   *list = arg;

	for (int i = 0; i < list->n; i++)
		expire_hold(&list->ids[i]);
	return true;
}

/* Expires holds "ids[0..n-1]" in one subtransaction: see run_in_subtransaction. */
static bool
expire_holds_in_subtransaction(const pg_uuid_t *ids, int n, ErrorData **error)
{
	HoldList	list = {ids, n};

	return run_in_subtransaction(expire_listed_holds, &list, error);
}

/*
 * At most this many holds that could not expire are reported one by one
 * per call, the rest in one line: when something fails every expiry (a
 * broken trigger a superuser put on the history, say), a call would
 * otherwise log a WARNING for each of a thousand holds.
 */
#define HOLDS_NOT_EXPIRED_REPORTED 10

/* A failed expiry to record in the hold's pending row, and what came of it. */
typedef struct FailedExpiry
{
	const pg_uuid_t *id;
	const ErrorData *error;
	int			failures;		/* out: failures so far, 0 if not recorded */
	int			retry_in;		/* out: seconds until the next try */
} FailedExpiry;

/*
 * Records in the pending row of the hold that expiring it failed, and when
 * to try again: one second after the first failure, doubling up to ten
 * minutes (the exponent capped, or 2 ^ 1024 would overflow after a week of
 * failures), so that a hold that keeps failing costs little and neither
 * hides the holds due after it nor floods the log.
 */
static bool
record_failed_expiry(void *arg)
{
	FailedExpiry *f = arg;
	Datum		args[2];
	bool		isnull;
	int			ret;

	ledger_prepare(&failed_expiry_plan,
				   "UPDATE lexledger.pending_transfer"
				   "   SET expiry_failures = LEAST(expiry_failures, 1000000000) + 1,"
				   "       expiry_retry_at = clock_timestamp()"
				   "         + make_interval(secs => LEAST(2 ^ LEAST(expiry_failures, 10), 600)),"
				   "       expiry_error = $2"
				   " WHERE transfer_id = $1"
				   " RETURNING expiry_failures,"
				   "           LEAST(2 ^ LEAST(expiry_failures - 1, 10), 600)::integer",
				   2, (Oid[]) {UUIDOID, TEXTOID});
	args[0] = UUIDPGetDatum(f->id);
	args[1] = CStringGetTextDatum(psprintf("%s %s", unpack_sql_state(f->error->sqlerrcode),
										   f->error->message));
	ret = SPI_execute_plan(failed_expiry_plan, args, NULL, false, 0);
	if (ret != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "lexledger: recording a failed expiry failed: %s", SPI_result_code_string(ret));
	if (SPI_processed == 1)
	{
		f->failures = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		f->retry_in = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	}
	SPI_freetuptable(SPI_tuptable);
	pfree(DatumGetPointer(args[1]));
	return true;
}

/*
 * Records that hold "id" could not expire, for "error", and says so with a
 * WARNING (unless "nfailed", the holds that failed before it in this call,
 * reached HOLDS_NOT_EXPIRED_REPORTED); appends it to failed[], which keeps
 * it out of the call's later looks for due holds.  Recording runs in a
 * subtransaction of its own: when it fails too (a superuser's trigger on
 * pending_transfer that refuses updates, say), the hold is only left out
 * for the rest of the call, and the other holds still expire.
 */
static void
note_hold_not_expired(const pg_uuid_t *id, ErrorData *error, pg_uuid_t *failed, int *nfailed)
{
	FailedExpiry f = {id, error, 0, 0};
	ErrorData  *record_error = NULL;

	if (!run_in_subtransaction(record_failed_expiry, &f, &record_error))
	{
		if (*nfailed < HOLDS_NOT_EXPIRED_REPORTED)
			ereport(WARNING,
					(errcode(record_error->sqlerrcode),
					 errmsg("hold_not_expired: the failed expiry of hold %s could not be recorded: %s",
							uuid_to_cstring(id), record_error->message)));
		FreeErrorData(record_error);
	}
	if (*nfailed < HOLDS_NOT_EXPIRED_REPORTED)
		ereport(WARNING,
				(errcode(error->sqlerrcode),
				 errmsg("hold_not_expired: hold %s could not expire%s: %s",
						uuid_to_cstring(id),
						f.failures > 0 ? psprintf(" (failure %d)", f.failures) : "",
						error->message),
				 error->detail ? errdetail_internal("%s", error->detail) : 0,
				 f.failures > 0 ?
				 errhint("It stays pending and is tried again in %d s (lexledger.pending_transfer.expiry_retry_at); the other due holds expire meanwhile.",
						 f.retry_in) :
				 errhint("It stays pending and is tried again at the next call; the other due holds expire meanwhile.")));
	failed[(*nfailed)++] = *id;
	FreeErrorData(error);
}

/*
 * Expires the "n" holds "ids", which are due and whose balance rows this
 * transaction holds, and returns how many expired.  Usually all do, in one
 * subtransaction.  When one fails (a row of a superuser's table still
 * references it, say), each is tried again in a subtransaction of its own:
 * the others expire, and each that fails again is recorded and appended to
 * failed[] (room for n more), counted in *nfailed (note_hold_not_expired).
 * Without this, the hold would fail the whole call, and every later call
 * of the expiry worker with it, forever.  Subtransactions of their own
 * only then, because many in one transaction overflow its cache of
 * subtransaction ids, which slows every snapshot taken meanwhile.
 */
static int
expire_due_holds(const pg_uuid_t *ids, int n, pg_uuid_t *failed, int *nfailed)
{
	ErrorData  *error = NULL;
	int			expired = 0;

	if (n == 0 || expire_holds_in_subtransaction(ids, n, &error))
		return n;
	if (n == 1)
	{
		note_hold_not_expired(&ids[0], error, failed, nfailed);
		return 0;
	}
	FreeErrorData(error);
	for (int i = 0; i < n; i++)
	{
		if (expire_holds_in_subtransaction(&ids[i], 1, &error))
			expired++;
		else
			note_hold_not_expired(&ids[i], error, failed, nfailed);
	}
	return expired;
}

PG_FUNCTION_INFO_V1(lexledger_expire_holds);

/* Whether this backend is inside expire_holds (see expire_holds_once). */
static bool expiring = false;

static int32 expire_holds_once(int32 max_holds);

/*
 * lexledger.expire_holds(max_holds) RETURNS integer
 *		Voids up to max_holds holds whose timeout has passed, oldest first,
 *		and returns how many.  Holds being captured or released right now
 *		are skipped (SKIP LOCKED): whichever commits first wins.  So are
 *		holds whose balance rows another transaction holds: the next call
 *		tries them again, and meanwhile later holds expire.  A hold that
 *		fails to expire is reported with a WARNING, and tried again only
 *		after a delay (record_failed_expiry).  Each expiry is a transfer of
 *		kind expire_pending under a new id of the server's: an id that
 *		clients could compute could be taken by a transfer of theirs first,
 *		and the hold would never expire.  Deleting the hold's
 *		pending_transfer row is what makes expiring it twice impossible.
 *
 *		A call from inside another (a trigger on the history that calls it)
 *		expires nothing and returns 0: it would expire holds that the outer
 *		call has taken, fail the outer call's subtransactions, and make it
 *		retry each hold, each retry calling it again.
 */
Datum
lexledger_expire_holds(PG_FUNCTION_ARGS)
{
	int32		max_holds = PG_ARGISNULL(0) ? 1000 : PG_GETARG_INT32(0);
	int32		expired;

	if (max_holds <= 0 || expiring)
		PG_RETURN_INT32(0);
	expiring = true;
	PG_TRY();
	{
		expired = expire_holds_once(max_holds);
	}
	PG_FINALLY();
	{
		expiring = false;
	}
	PG_END_TRY();
	PG_RETURN_INT32(expired);
}

static int32
expire_holds_once(int32 max_holds)
{
	int			max_skipped = Max(max_holds, 64);
	int32		expired = 0;
	int			nbusy = 0;
	int			nskipped = 0;
	int			busy_size = 64;
	Datum	   *busy;
	int			nfailed = 0;
	int			failed_size = 64;
	pg_uuid_t  *failed;

	ledger_spi_connect();
	busy = palloc(sizeof(Datum) * busy_size);
	failed = palloc(sizeof(pg_uuid_t) * failed_size);
	ledger_prepare(&due_holds_plan,
				   "SELECT transfer_id, debit_account_id, credit_account_id"
				   "  FROM lexledger.pending_transfer"
				   " WHERE expires_at <= clock_timestamp()"
				   "   AND (expiry_retry_at IS NULL OR expiry_retry_at <= clock_timestamp())"
				   "   AND debit_account_id <> ALL ($2) AND credit_account_id <> ALL ($2)"
				   "   AND transfer_id <> ALL ($3)"
				   " ORDER BY expires_at LIMIT $1"
				   "   FOR UPDATE SKIP LOCKED",
				   3, (Oid[]) {INT4OID, INT8ARRAYOID, UUIDARRAYOID});

	/*
	 * Holds whose balance rows are busy are skipped, their accounts left out
	 * of the next look for due holds, and the next due ones taken in their
	 * place, until max_holds have expired or busy accounts were met
	 * max_holds times (64 at least): the next call tries them again.  Holds
	 * that fail to expire are left out for the rest of the call (and until
	 * their expiry_retry_at), and the call stops after as many failures.
	 */
	while (expired < max_holds && nbusy < max_skipped && nfailed < max_skipped)
	{
		Datum		args[3];
		Datum	   *failed_datums = palloc(sizeof(Datum) * Max(nfailed, 1));
		int			ret;
		SPITupleTable *due;
		uint64		n;
		BalanceRowKey *locked;
		int			nlocked;
		pg_uuid_t  *free_holds;
		int			nfree = 0;

		for (int i = 0; i < nfailed; i++)
			failed_datums[i] = UUIDPGetDatum(&failed[i]);
		args[0] = Int32GetDatum(max_holds - expired);
		args[1] = PointerGetDatum(construct_array(busy, nbusy, INT8OID, sizeof(int64),
												  true, TYPALIGN_DOUBLE));
		args[2] = PointerGetDatum(construct_array(failed_datums, nfailed, UUIDOID,
												  UUID_LEN, false, TYPALIGN_CHAR));
		ret = SPI_execute_plan(due_holds_plan, args, NULL, false, 0);
		if (ret != SPI_OK_SELECT)
			elog(ERROR, "lexledger: due holds lookup failed: %s", SPI_result_code_string(ret));
		pfree(DatumGetPointer(args[1]));
		pfree(DatumGetPointer(args[2]));
		pfree(failed_datums);
		if (SPI_processed == 0)
			break;

		/* expiring runs more queries, which replace SPI_tuptable */
		due = SPI_tuptable;
		n = SPI_processed;
		free_holds = palloc(sizeof(pg_uuid_t) * n);
		locked = lock_free_rows_of_holds(due, n, &nlocked);
		for (uint64 i = 0; i < n; i++)
		{
			bool		isnull;
			int64		accounts[2] = {
				DatumGetInt64(SPI_getbinval(due->vals[i], due->tupdesc, 2, &isnull)),
				DatumGetInt64(SPI_getbinval(due->vals[i], due->tupdesc, 3, &isnull))};
			bool		busy_side[2] = {
				account_row_busy(accounts[0], locked, nlocked),
				account_row_busy(accounts[1], locked, nlocked)};

			if (!busy_side[0] && !busy_side[1])
			{
				free_holds[nfree++] = *DatumGetUUIDP(SPI_getbinval(due->vals[i], due->tupdesc, 1, &isnull));
				continue;
			}
			nskipped++;
			/* only the account whose row is busy: the other may be a hot one */
			for (int side = 0; side < 2; side++)
			{
				if (!busy_side[side])
					continue;
				if (nbusy == busy_size)
				{
					busy_size *= 2;
					busy = repalloc(busy, sizeof(Datum) * busy_size);
				}
				busy[nbusy++] = Int64GetDatum(accounts[side]);
			}
		}
		pfree(locked);
		SPI_freetuptable(due);
		if (nfailed + nfree > failed_size)
		{
			failed_size = nfailed + nfree;
			failed = repalloc(failed, sizeof(pg_uuid_t) * failed_size);
		}
		expired += expire_due_holds(free_holds, nfree, failed, &nfailed);
		pfree(free_holds);
	}
	if (nfailed > HOLDS_NOT_EXPIRED_REPORTED)
		ereport(WARNING,
				(errmsg("hold_not_expired: %d more holds could not expire",
						nfailed - HOLDS_NOT_EXPIRED_REPORTED),
				 errdetail("Only the first %d holds that could not expire in one call are reported one by one; lexledger.pending_transfer.expiry_error has each one's error.",
						   HOLDS_NOT_EXPIRED_REPORTED)));
	if (nskipped > 0)
		elog(DEBUG1, "lexledger: expire_holds skipped %d due holds whose balance rows other transactions hold",
			 nskipped);
	SPI_finish();
	return expired;
}
