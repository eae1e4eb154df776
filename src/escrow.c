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
 * every part must be zero or more.  The cap keeps created_at + timeout
 * inside timestamptz's range whatever the parts.
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
				   " VALUES ($1, $2, $3, $4, $5 + $6)",
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

	if (!amount_same_currency(&t->amount, &hold.amount))
		ereport(ERROR,
				(errcode(ERRCODE_LX_CURRENCY_MISMATCH),
				 errmsg("currency_mismatch: hold %s is in %s, the amount is in %s",
						uuid_to_cstring(&t->pending_id), hold.amount.code, t->amount.code)));
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
 * Locks, in (account, slot) order, the balance rows that expiring the "n"
 * holds of "due" (transfer_id, debit_account_id, credit_account_id) will
 * write: the holds are expired one after another, and taking their rows in
 * hold order could deadlock with a batch.
 */
static void
lock_rows_of_holds(SPITupleTable *due, uint64 n)
{
	int64	   *accounts = palloc(sizeof(int64) * 2 * n);
	int16	   *slots = palloc(sizeof(int16) * 2 * n);
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
	{
		LedgerAccount account;

		if (ledger_account_prefetched(accounts[i], &account))
		{
			accounts[m] = account.id;
			slots[m] = ledger_account_slot(&account);
			m++;
		}
	}
	if (m > 0)
	{
		ledger_lock_balance_rows(accounts, slots, m);
		SPI_freetuptable(SPI_tuptable);
	}
	pfree(accounts);
	pfree(slots);
}

PG_FUNCTION_INFO_V1(lexledger_expire_holds);

/*
 * lexledger.expire_holds(max_holds) RETURNS integer
 *		Voids up to max_holds holds whose timeout has passed, oldest first,
 *		and returns how many.  Holds being captured or released right now
 *		are skipped (SKIP LOCKED): whichever commits first wins.  Each
 *		expiry is a transfer of kind expire_pending under a new id of the
 *		server's: an id that clients could compute could be taken by a
 *		transfer of theirs first, and the hold would never expire.  Deleting
 *		the hold's pending_transfer row is what makes expiring it twice
 *		impossible.
 */
Datum
lexledger_expire_holds(PG_FUNCTION_ARGS)
{
	int32		max_holds = PG_ARGISNULL(0) ? 1000 : PG_GETARG_INT32(0);
	Datum		arg;
	int			ret;
	SPITupleTable *due;
	uint64		n;

	if (max_holds <= 0)
		PG_RETURN_INT32(0);
	ledger_spi_connect();
	ledger_prepare(&due_holds_plan,
				   "SELECT transfer_id, debit_account_id, credit_account_id"
				   "  FROM lexledger.pending_transfer"
				   " WHERE expires_at <= clock_timestamp()"
				   " ORDER BY expires_at LIMIT $1"
				   "   FOR UPDATE SKIP LOCKED",
				   1, (Oid[]) {INT4OID});
	arg = Int32GetDatum(max_holds);
	ret = SPI_execute_plan(due_holds_plan, &arg, NULL, false, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "lexledger: due holds lookup failed: %s", SPI_result_code_string(ret));

	/* resolve_hold runs more queries, which replace SPI_tuptable */
	due = SPI_tuptable;
	n = SPI_processed;
	lock_rows_of_holds(due, n);
	for (uint64 i = 0; i < n; i++)
	{
		TransferRow t = {0};
		bool		isnull;

		t.pending_id = *DatumGetUUIDP(SPI_getbinval(due->vals[i], due->tupdesc, 1, &isnull));
		ledger_new_id(&t.id);
		t.pending_id_isnull = false;
		t.kind = TK_EXPIRE_PENDING;
		t.reference_isnull = true;
		t.timeout_isnull = true;

		/*
		 * A connection of its own per hold: what resolving it allocates,
		 * query results included, is freed before the next, so memory
		 * stays flat however many holds are due.
		 */
		ledger_spi_connect();
		resolve_hold(NULL, NULL, &t, NULL, NULL);
		SPI_finish();
	}
	SPI_finish();
	PG_RETURN_INT32((int32) n);
}
