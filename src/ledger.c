/*
 * ledger.c
 *		Posting one transfer, and the building blocks every posting uses.
 *
 * A posting is three statements with plans kept for the life of the backend:
 * insert the transfer (ON CONFLICT on its id, which makes a retry return the
 * original instead of posting twice), then add to the counters of the two
 * accounts, lowest account id first so that two transfers between the same
 * accounts never deadlock.  Limits are checked on the counters the UPDATE
 * returns; a violation raises an error and the transaction, insert included,
 * rolls back.  Accounts with a limit have one balance row, so that check is
 * serialised by the row lock; accounts without one have several rows and
 * each backend writes its own (see ledger_account_slot).
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "lexledger.h"
#include "ledger.h"

const char *const transfer_kind_names[] = {
	"posted", "pending", "post_pending", "void_pending", "expire_pending"
};

/*
 * Saved plans, and the OID of lexledger.amount they were prepared with.  A
 * DROP/CREATE EXTENSION in a long-lived backend gives the type a new OID.
 * A syscache callback on pg_type only notes that some type changed (it can
 * run in the middle of executing one of these plans, so it must not free
 * them); the next ledger_prepare() looks the type up again and, if its OID
 * changed, prepares every plan again and makes the account cache start
 * over.
 */
#define MAX_SAVED_PLANS 32
static SPIPlanPtr *saved_plans[MAX_SAVED_PLANS];
static int	n_saved_plans = 0;
static Oid	amount_type_oid = InvalidOid;
static bool type_callback_registered = false;
static bool types_changed = false;

static SPIPlanPtr insert_plan = NULL;
static SPIPlanPtr fetch_plan = NULL;
static SPIPlanPtr apply_plan = NULL;
static SPIPlanPtr closed_plan = NULL;

static void
note_type_change(Datum arg, int cacheid, uint32 hashvalue)
{
	types_changed = true;
}

/* lexledger.amount's OID now, or InvalidOid while the extension is absent. */
static Oid
current_amount_oid(void)
{
	Oid			nsp = get_namespace_oid("lexledger", true);

	if (!OidIsValid(nsp))
		return InvalidOid;
	return GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
						   CStringGetDatum("amount"), ObjectIdGetDatum(nsp));
}

/*
 * Called before any saved plan or cached account is used: acts on a type
 * change noted since.
 */
void
ledger_check_types(void)
{
	Oid			now;

	if (!types_changed)
		return;
	now = current_amount_oid();
	types_changed = false;
	if (now == amount_type_oid)
		return;
	for (int i = 0; i < n_saved_plans; i++)
	{
		if (*saved_plans[i] != NULL)
			SPI_freeplan(*saved_plans[i]);
		*saved_plans[i] = NULL;
	}
	n_saved_plans = 0;
	amount_type_oid = now;
	ledger_account_forget_all();
}

/* OID of a type in schema lexledger. */
Oid
ledger_type_oid(const char *name)
{
	Oid			nsp = get_namespace_oid("lexledger", false);
	Oid			typoid;

	typoid = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
							 CStringGetDatum(name), ObjectIdGetDatum(nsp));
	if (!OidIsValid(typoid))
		elog(ERROR, "lexledger: type lexledger.%s does not exist", name);
	return typoid;
}

static Oid
amount_oid(void)
{
	if (!OidIsValid(amount_type_oid))
		amount_type_oid = ledger_type_oid("amount");
	return amount_type_oid;
}

/*
 * Prepares and keeps a plan once per backend.  Argument types given as
 * InvalidOid stand for lexledger.amount.
 */
SPIPlanPtr
ledger_prepare(SPIPlanPtr *cache, const char *sql, int nargs, Oid *argtypes)
{
	SPIPlanPtr	plan;
	Oid			types[16];

	if (!type_callback_registered)
	{
		CacheRegisterSyscacheCallback(TYPEOID, note_type_change, (Datum) 0);
		type_callback_registered = true;
		amount_type_oid = current_amount_oid();
	}
	ledger_check_types();
	if (*cache != NULL)
		return *cache;
	Assert(nargs <= lengthof(types));
	for (int i = 0; i < nargs; i++)
		types[i] = OidIsValid(argtypes[i]) ? argtypes[i] : amount_oid();

	plan = SPI_prepare(sql, nargs, types);
	if (plan == NULL)
		elog(ERROR, "lexledger: could not prepare \"%s\": %s", sql,
			 SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "lexledger: could not keep plan");
	if (n_saved_plans >= MAX_SAVED_PLANS)
		elog(ERROR, "lexledger: too many saved plans");
	saved_plans[n_saved_plans++] = cache;
	*cache = plan;
	return plan;
}

void
ledger_spi_connect(void)
{
	int			ret = SPI_connect();

	if (ret != SPI_OK_CONNECT)
		elog(ERROR, "lexledger: SPI_connect failed: %s", SPI_result_code_string(ret));
}

char *
uuid_to_cstring(const pg_uuid_t *uuid)
{
	return DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(uuid)));
}

static char *
amount_text(int64 units, const char *code)
{
	return amount_to_cstring(amount_make(units, code));
}

/* Checks that need no table: positive amount, two different accounts. */
void
ledger_validate_new(const TransferRow *t)
{
	if (t->amount.units <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_LX_AMOUNT_MUST_BE_POSITIVE),
				 errmsg("amount_must_be_positive: a transfer amount must be greater than zero"),
				 errdetail("The amount is %s.", amount_to_cstring(&t->amount))));
	if (t->debit_account_id == t->credit_account_id)
		ereport(ERROR,
				(errcode(ERRCODE_LX_ACCOUNTS_MUST_BE_DIFFERENT),
				 errmsg("accounts_must_be_different: account " INT64_FORMAT " is both the debit and the credit account",
						t->debit_account_id)));
}

static void
require_account(int64 id, LedgerAccount *out)
{
	if (!ledger_account_lookup(id, out))
		ereport(ERROR,
				(errcode(ERRCODE_LX_ACCOUNT_NOT_FOUND),
				 errmsg("account_not_found: account " INT64_FORMAT " does not exist", id)));
}

static void
require_currency(const LedgerAccount *account, const Amount *amount)
{
	if (strncmp(account->code, amount->code, sizeof(account->code)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_LX_CURRENCY_MISMATCH),
				 errmsg("currency_mismatch: account " INT64_FORMAT " holds %s, the amount is in %s",
						account->id, account->code, amount->code)));
}

/* The amount's decimals must be its currency's, or it would post at another size. */
static void
require_current_scale(const Amount *amount)
{
	if (!amount_scale_is_current(amount))
		ereport(ERROR,
				(errcode(ERRCODE_LX_CURRENCY_MISMATCH),
				 errmsg("currency_mismatch: the amount is in %s with %d decimals, but %s has %d",
						amount->code, amount->scale, amount->code, currency_scale(amount->code)),
				 errdetail("It was made while a create_unit of %s that was rolled back was in effect.",
						   amount->code)));
}

/*
 * The transfer's two accounts, which must exist and hold the amount's
 * currency: both are looked up before either currency is compared, the
 * order in which transfer_batch() reports the two codes.
 */
void
ledger_accounts_for_transfer(const TransferRow *t, LedgerAccount *debit, LedgerAccount *credit)
{
	require_account(t->debit_account_id, debit);
	require_account(t->credit_account_id, credit);
	require_currency(debit, &t->amount);
	require_currency(credit, &t->amount);
	require_current_scale(&t->amount);
}

/*
 * Inserts the transfer unless its id exists.  Returns true and the new row
 * if it was inserted; false if a transfer with this id was already there
 * (committed, or committed meanwhile by a concurrent inserter we waited for).
 */
bool
ledger_insert_transfer(const TransferRow *t, HeapTuple *tuple, TupleDesc *tupdesc)
{
	Datum		values[10];
	char		nulls[10];
	int			ret;

	ledger_prepare(&insert_plan,
				   "INSERT INTO lexledger.transfer"
				   " (id, debit_account_id, credit_account_id, amount, kind, code,"
				   "  reference, pending_id, pending_amount, timeout)"
				   " VALUES ($1, $2, $3, $4, $5::text::lexledger.transfer_kind, $6, $7, $8, $9, $10)"
				   " ON CONFLICT (id) DO NOTHING RETURNING *",
				   10, (Oid[]) {UUIDOID, INT8OID, INT8OID, InvalidOid, TEXTOID,
				   INT4OID, JSONBOID, UUIDOID, InvalidOid, INTERVALOID});

	memset(nulls, ' ', sizeof(nulls));
	values[0] = UUIDPGetDatum(&t->id);
	values[1] = Int64GetDatum(t->debit_account_id);
	values[2] = Int64GetDatum(t->credit_account_id);
	values[3] = PointerGetDatum(&t->amount);
	values[4] = CStringGetTextDatum(transfer_kind_names[t->kind]);
	values[5] = Int32GetDatum(t->code);
	values[6] = t->reference;
	nulls[6] = t->reference_isnull ? 'n' : ' ';
	values[7] = UUIDPGetDatum(&t->pending_id);
	nulls[7] = t->pending_id_isnull ? 'n' : ' ';
	values[8] = PointerGetDatum(&t->pending_amount);
	nulls[8] = t->pending_id_isnull ? 'n' : ' ';
	values[9] = t->timeout;
	nulls[9] = t->timeout_isnull ? 'n' : ' ';

	ret = SPI_execute_plan(insert_plan, values, nulls, false, 0);
	if (ret != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "lexledger: transfer insert failed: %s", SPI_result_code_string(ret));
	if (SPI_processed == 0)
		return false;
	*tuple = SPI_tuptable->vals[0];
	*tupdesc = SPI_tuptable->tupdesc;
	return true;
}

/* The committed (or own) transfer with this id, if any. */
bool
ledger_fetch_transfer(const pg_uuid_t *id, HeapTuple *tuple, TupleDesc *tupdesc)
{
	Datum		arg = UUIDPGetDatum(id);
	int			ret;

	ledger_prepare(&fetch_plan, "SELECT * FROM lexledger.transfer WHERE id = $1",
				   1, (Oid[]) {UUIDOID});
	ret = SPI_execute_plan(fetch_plan, &arg, NULL, false, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "lexledger: transfer lookup failed: %s", SPI_result_code_string(ret));
	if (SPI_processed == 0)
		return false;
	*tuple = SPI_tuptable->vals[0];
	*tupdesc = SPI_tuptable->tupdesc;
	return true;
}

/* Reads a row of lexledger.transfer into *t (datums point into the tuple). */
void
ledger_transfer_from_tuple(HeapTuple tuple, TupleDesc tupdesc, TransferRow *t)
{
	bool		isnull;
	char	   *kind;

	memset(t, 0, sizeof(*t));
	t->id = *DatumGetUUIDP(SPI_getbinval(tuple, tupdesc, TCOL_ID, &isnull));
	t->debit_account_id = DatumGetInt64(SPI_getbinval(tuple, tupdesc, TCOL_DEBIT, &isnull));
	t->credit_account_id = DatumGetInt64(SPI_getbinval(tuple, tupdesc, TCOL_CREDIT, &isnull));
	t->amount = *DatumGetAmountP(SPI_getbinval(tuple, tupdesc, TCOL_AMOUNT, &isnull));
	kind = SPI_getvalue(tuple, tupdesc, TCOL_KIND);
	for (int k = 0; k < lengthof(transfer_kind_names); k++)
		if (strcmp(kind, transfer_kind_names[k]) == 0)
			t->kind = (TransferKind) k;
	t->code = DatumGetInt32(SPI_getbinval(tuple, tupdesc, TCOL_CODE, &isnull));
	t->reference = SPI_getbinval(tuple, tupdesc, TCOL_REFERENCE, &t->reference_isnull);
	{
		Datum		d = SPI_getbinval(tuple, tupdesc, TCOL_PENDING_ID, &t->pending_id_isnull);

		if (!t->pending_id_isnull)
		{
			t->pending_id = *DatumGetUUIDP(d);
			t->pending_amount = *DatumGetAmountP(SPI_getbinval(tuple, tupdesc,
															   TCOL_PENDING_AMOUNT, &isnull));
		}
	}
	t->timeout = SPI_getbinval(tuple, tupdesc, TCOL_TIMEOUT, &t->timeout_isnull);
}

static bool
amounts_equal(const Amount *a, const Amount *b)
{
	return a->units == b->units && amount_same_currency(a, b);
}

static bool
nullable_equal(Datum a, bool a_null, Datum b, bool b_null, PGFunction eq)
{
	if (a_null || b_null)
		return a_null == b_null;
	return DatumGetBool(DirectFunctionCall2(eq, a, b));
}

/*
 * Timeouts are the same only part for part: interval_eq holds '1 mon' equal
 * to '30 days' and '1 day' to '24 hours', which give different expiries.
 */
static bool
timeouts_equal(const TransferRow *e, const TransferRow *t)
{
	const Interval *a,
			   *b;

	if (e->timeout_isnull || t->timeout_isnull)
		return e->timeout_isnull == t->timeout_isnull;
	a = DatumGetIntervalP(e->timeout);
	b = DatumGetIntervalP(t->timeout);
	return a->month == b->month && a->day == b->day && a->time == b->time;
}

/*
 * The first field in which request t differs from transfer e, or NULL when
 * they are the same transfer.
 */
const char *
ledger_rows_difference(const TransferRow *e, const TransferRow *t)
{
	if (e->kind != t->kind)
		return "kind";
	/* before the accounts: a resolution takes its accounts from its hold */
	if (e->pending_id_isnull != t->pending_id_isnull ||
		(!e->pending_id_isnull && memcmp(&e->pending_id, &t->pending_id, sizeof(pg_uuid_t)) != 0))
		return "pending_id";
	if (e->debit_account_id != t->debit_account_id)
		return "debit_account_id";
	if (e->credit_account_id != t->credit_account_id)
		return "credit_account_id";
	if (!amounts_equal(&e->amount, &t->amount))
		return "amount";
	if (e->code != t->code)
		return "code";
	if (!nullable_equal(e->reference, e->reference_isnull, t->reference, t->reference_isnull, jsonb_eq))
		return "reference";
	if (!timeouts_equal(e, t))
		return "timeout";
	return NULL;
}

/* The same, against the transfer already posted as row "existing". */
const char *
ledger_first_difference(const TransferRow *t, HeapTuple existing, TupleDesc tupdesc)
{
	TransferRow e;

	ledger_transfer_from_tuple(existing, tupdesc, &e);
	return ledger_rows_difference(&e, t);
}

static const char *
existing_value(HeapTuple existing, TupleDesc tupdesc, const char *field)
{
	char	   *v = SPI_getvalue(existing, tupdesc, SPI_fnumber(tupdesc, field));

	return v ? v : "null";
}

/* A retry must repeat the original exactly; name the field that differs. */
void
ledger_check_replay(const TransferRow *t, HeapTuple existing, TupleDesc tupdesc)
{
	const char *field = ledger_first_difference(t, existing, tupdesc);

	if (field != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_LX_EXISTS_WITH_DIFFERENT_FIELD),
				 errmsg("exists_with_different_%s: transfer %s exists with a different %s",
						field, uuid_to_cstring(&t->id), field),
				 errdetail("The existing transfer has %s = %s.", field,
						   existing_value(existing, tupdesc, field)),
				 errhint("A transfer id is an idempotency key: retry with the same fields, or use a new id.")));
}

/*
 * Whether the change "delta", which produced the counters "after", broke
 * the account's limit.  Only a change that moves the limited side up (or
 * the other side down) can break it, so a credit to an overdrawn account
 * (impossible anyway) would still go through.
 */
bool
ledger_limit_violated(const LedgerAccount *account, const Counters *after,
					  const Counters *delta)
{
	if (account->debits_limited &&
		(delta->debits_pending + delta->debits_posted > 0 || delta->credits_posted < 0))
		return (int128) after->debits_pending + after->debits_posted > after->credits_posted;
	if (account->credits_limited &&
		(delta->credits_pending + delta->credits_posted > 0 || delta->debits_posted < 0))
		return (int128) after->credits_pending + after->credits_posted > after->debits_posted;
	return false;
}

/*
 * Reports history that lexledger's own functions cannot have written: a
 * hold without its pending row, a transfer gone from under a posting.  Only
 * a change to the tables outside those functions (a superuser's, or a
 * restore of part of them) leads here.  "what" is printed before the id.
 */
void
ledger_corrupted(const char *what, const pg_uuid_t *id)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("ledger_corrupted: %s %s", what, uuid_to_cstring(id)),
			 errhint("Run lexledger.verify(): lexledger's tables were changed other than through its functions.")));
}

/*
 * Why ledger_apply updated no row: the row is closed (and the change may
 * not touch closed accounts), or there is no such row.
 */
static void report_row_not_updated(const LedgerAccount *account, int slot) pg_attribute_noreturn();

static void
report_row_not_updated(const LedgerAccount *account, int slot)
{
	Datum		values[2] = {Int64GetDatum(account->id), Int16GetDatum((int16) slot)};
	int			ret;

	ledger_prepare(&closed_plan,
				   "SELECT closed FROM lexledger.account_balance WHERE account_id = $1 AND slot = $2",
				   2, (Oid[]) {INT8OID, INT2OID});
	ret = SPI_execute_plan(closed_plan, values, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "lexledger: balance lookup failed: %s", SPI_result_code_string(ret));
	if (SPI_processed == 1)
		ereport(ERROR,
				(errcode(ERRCODE_LX_ACCOUNT_CLOSED),
				 errmsg("account_closed: account " INT64_FORMAT " is closed", account->id)));
	ereport(ERROR,
			(errcode(ERRCODE_LX_ACCOUNT_NOT_FOUND),
			 errmsg("account_not_found: account " INT64_FORMAT " has no balance row %d",
					account->id, slot)));
}

/*
 * Adds "delta" to one balance row of the account and enforces what the new
 * counters must satisfy: the account is open (unless allow_closed) and
 * within its limit.  "amount" is only for messages.  A closed row is not
 * updated at all, so that a closed account fails as closed, never as
 * overflowing.
 */
void
ledger_apply(const LedgerAccount *account, int slot, const Counters *delta,
			 bool allow_closed, const Amount *amount)
{
	Datum		values[7];
	int			ret;
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	Counters	after;

	ledger_prepare(&apply_plan,
				   "UPDATE lexledger.account_balance"
				   "   SET debits_pending = lexledger.counter_add(debits_pending, $3),"
				   "       debits_posted = lexledger.counter_add(debits_posted, $4),"
				   "       credits_pending = lexledger.counter_add(credits_pending, $5),"
				   "       credits_posted = lexledger.counter_add(credits_posted, $6)"
				   " WHERE account_id = $1 AND slot = $2 AND (NOT closed OR $7)"
				   " RETURNING debits_pending, debits_posted, credits_pending,"
				   "           credits_posted",
				   7, (Oid[]) {INT8OID, INT2OID, INT8OID, INT8OID, INT8OID, INT8OID, BOOLOID});
	values[0] = Int64GetDatum(account->id);
	values[1] = Int16GetDatum((int16) slot);
	values[2] = Int64GetDatum(delta->debits_pending);
	values[3] = Int64GetDatum(delta->debits_posted);
	values[4] = Int64GetDatum(delta->credits_pending);
	values[5] = Int64GetDatum(delta->credits_posted);
	values[6] = BoolGetDatum(allow_closed);

	ret = SPI_execute_plan(apply_plan, values, NULL, false, 0);
	if (ret != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "lexledger: balance update failed: %s", SPI_result_code_string(ret));
	if (SPI_processed != 1)
		report_row_not_updated(account, slot);

	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	after.debits_pending = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
	after.debits_posted = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
	after.credits_pending = DatumGetInt64(SPI_getbinval(tup, desc, 3, &isnull));
	after.credits_posted = DatumGetInt64(SPI_getbinval(tup, desc, 4, &isnull));

	if (ledger_limit_violated(account, &after, delta))
	{
		if (account->debits_limited)
			ereport(ERROR,
					(errcode(ERRCODE_LX_INSUFFICIENT_FUNDS),
					 errmsg("insufficient_funds: account " INT64_FORMAT " has %s available, %s needed",
							account->id,
							amount_text(after.credits_posted - after.debits_posted - after.debits_pending
										+ delta->debits_pending + delta->debits_posted - delta->credits_posted,
										account->code),
							amount_to_cstring(amount)),
					 errhint("The account is flagged debits_must_not_exceed_credits.")));
		else
			ereport(ERROR,
					(errcode(ERRCODE_LX_CREDIT_LIMIT_EXCEEDED),
					 errmsg("credit_limit_exceeded: account " INT64_FORMAT " can take %s more credit, %s offered",
							account->id,
							amount_text(after.debits_posted - after.credits_posted - after.credits_pending
										+ delta->credits_pending + delta->credits_posted - delta->debits_posted,
										account->code),
							amount_to_cstring(amount)),
					 errhint("The account is flagged credits_must_not_exceed_debits.")));
	}
}

/* qsort/bsearch order of balance rows: (account_id, slot). */
int
ledger_cmp_balance_row(const void *a, const void *b)
{
	const BalanceRowKey *x = a,
			   *y = b;

	if (x->account_id != y->account_id)
		return x->account_id < y->account_id ? -1 : 1;
	return (x->slot > y->slot) - (x->slot < y->slot);
}

/*
 * Reads the balance rows "rows" in (account, slot) order, the order of
 * every posting path, locking them as "lock" says, and leaves them in
 * SPI_tuptable in that order: account_id, the four counters, closed, slot.
 * Pairs may repeat.  Callers that post to many accounts (a batch on its
 * careful path, expire_holds) lock all their rows first, so that they
 * cannot deadlock with each other or with single transfers.  Rows that do
 * not exist are not returned; the caller decides whether that is an
 * error.  With BALANCE_ROWS_SKIP_LOCKED, rows that another transaction
 * holds are not waited for and not returned either.
 */
void
ledger_read_balance_rows(const BalanceRowKey *rows, int n, BalanceRowLock lock)
{
#define READ_BALANCE_ROWS_SQL(lock_clause) \
	"SELECT b.account_id, b.debits_pending, b.debits_posted, b.credits_pending," \
	"       b.credits_posted, b.closed, b.slot" \
	"  FROM (SELECT DISTINCT * FROM unnest($1, $2)) AS d(account_id, slot)" \
	"  JOIN lexledger.account_balance b" \
	"    ON b.account_id = d.account_id AND b.slot = d.slot" \
	" ORDER BY b.account_id, b.slot" lock_clause
	static SPIPlanPtr plans[3] = {NULL, NULL, NULL};
	static const char *const sql[3] = {
		[BALANCE_ROWS_UNLOCKED] = READ_BALANCE_ROWS_SQL(""),
		[BALANCE_ROWS_LOCK] = READ_BALANCE_ROWS_SQL(" FOR NO KEY UPDATE OF b"),
		[BALANCE_ROWS_SKIP_LOCKED] = READ_BALANCE_ROWS_SQL(" FOR NO KEY UPDATE OF b SKIP LOCKED"),
	};
	Datum	   *ids = palloc(sizeof(Datum) * Max(n, 1));
	Datum	   *slot_datums = palloc(sizeof(Datum) * Max(n, 1));
	Datum		args[2];
	int			ret;

	Assert(lock >= 0 && lock < lengthof(plans));
	for (int i = 0; i < n; i++)
	{
		ids[i] = Int64GetDatum(rows[i].account_id);
		slot_datums[i] = Int16GetDatum(rows[i].slot);
	}
	args[0] = PointerGetDatum(construct_array(ids, n, INT8OID, 8, true, TYPALIGN_DOUBLE));
	args[1] = PointerGetDatum(construct_array(slot_datums, n, INT2OID, 2, true, TYPALIGN_SHORT));
	ledger_prepare(&plans[lock], sql[lock], 2, (Oid[]) {INT8ARRAYOID, INT2ARRAYOID});
	ret = SPI_execute_plan(plans[lock], args, NULL, false, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "lexledger: balance row read failed: %s", SPI_result_code_string(ret));
	pfree(ids);
	pfree(slot_datums);
}

/*
 * Moves the counters of both accounts for a transfer just inserted.
 * "pending_release" is the amount of the hold a resolution takes out of
 * the pending counters (zero otherwise).  Lowest account id first: a fixed
 * lock order, so no two postings deadlock on each other's rows.
 */
void
ledger_post_counters(const TransferRow *t, const LedgerAccount *debit,
					 const LedgerAccount *credit, int64 pending_release)
{
	Counters	d = {0},
				c = {0};
	bool		resolution = t->kind >= TK_POST_PENDING;
	int64		units = t->amount.units;

	switch (t->kind)
	{
		case TK_POSTED:
			d.debits_posted = units;
			c.credits_posted = units;
			break;
		case TK_PENDING:
			d.debits_pending = units;
			c.credits_pending = units;
			break;
		case TK_POST_PENDING:
			d.debits_pending = -pending_release;
			d.debits_posted = units;
			c.credits_pending = -pending_release;
			c.credits_posted = units;
			break;
		case TK_VOID_PENDING:
		case TK_EXPIRE_PENDING:
			d.debits_pending = -pending_release;
			c.credits_pending = -pending_release;
			break;
	}

	if (debit->id < credit->id)
	{
		ledger_apply(debit, ledger_account_slot(debit), &d, resolution, &t->amount);
		ledger_apply(credit, ledger_account_slot(credit), &c, resolution, &t->amount);
	}
	else
	{
		ledger_apply(credit, ledger_account_slot(credit), &c, resolution, &t->amount);
		ledger_apply(debit, ledger_account_slot(debit), &d, resolution, &t->amount);
	}
}

/*
 * The row "tuple" (of lexledger.transfer) as the function's composite
 * result, allocated in the caller's memory context so it outlives SPI.
 * A row read back from the table may hold TOAST pointers (a large
 * reference); HeapTupleGetDatum fetches their data, which must therefore
 * also be copied in the caller's context, not in SPI's.
 */
Datum
ledger_result_tuple(FunctionCallInfo fcinfo, MemoryContext caller_cxt,
					HeapTuple tuple, TupleDesc tupdesc)
{
	TupleDesc	result_desc;
	Datum		values[TCOL_COUNT];
	bool		nulls[TCOL_COUNT];
	MemoryContext old;
	HeapTuple	result;
	Datum		datum;

	if (get_call_result_type(fcinfo, NULL, &result_desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "lexledger: function must return lexledger.transfer");
	if (result_desc->natts != TCOL_COUNT || tupdesc->natts != TCOL_COUNT)
		elog(ERROR, "lexledger: lexledger.transfer has an unexpected shape");
	heap_deform_tuple(tuple, tupdesc, values, nulls);
	old = MemoryContextSwitchTo(caller_cxt);
	result = heap_form_tuple(result_desc, values, nulls);
	datum = HeapTupleGetDatum(result);
	MemoryContextSwitchTo(old);
	return datum;
}

/* Reads the common arguments (id, debit, credit, amount) of a posting. */
static void
read_transfer_args(FunctionCallInfo fcinfo, TransferRow *t)
{
	memset(t, 0, sizeof(*t));
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3) ||
		PG_ARGISNULL(4))
		ereport(ERROR,
				(errcode(ERRCODE_LX_INVALID_TRANSFER),
				 errmsg("invalid_transfer: id, debit_account_id, credit_account_id, amount and code must not be null")));
	t->id = *PG_GETARG_UUID_P(0);
	t->debit_account_id = PG_GETARG_INT64(1);
	t->credit_account_id = PG_GETARG_INT64(2);
	t->amount = *PG_GETARG_AMOUNT_P(3);
	t->code = PG_GETARG_INT32(4);
	t->reference_isnull = PG_ARGISNULL(5);
	if (!t->reference_isnull)
		t->reference = PG_GETARG_DATUM(5);
	t->pending_id_isnull = true;
	t->timeout_isnull = true;
}

/*
 * Posts a new transfer (posted or pending) or returns the one already
 * posted under its id.  Holds also get their row in pending_transfer.
 */
static Datum
post_new_transfer(FunctionCallInfo fcinfo, TransferRow *t)
{
	MemoryContext caller_cxt = CurrentMemoryContext;
	LedgerAccount debit,
				credit;
	HeapTuple	tuple;
	TupleDesc	tupdesc;
	Datum		result;

	ledger_validate_new(t);
	ledger_spi_connect();
	ledger_accounts_for_transfer(t, &debit, &credit);

	if (ledger_insert_transfer(t, &tuple, &tupdesc))
	{
		if (t->kind == TK_PENDING)
			escrow_record_hold(t, tuple, tupdesc);
		ledger_post_counters(t, &debit, &credit, 0);
	}
	else
	{
		if (!ledger_fetch_transfer(&t->id, &tuple, &tupdesc))
			ledger_corrupted("an existing transfer cannot be read back:", &t->id);
		ledger_check_replay(t, tuple, tupdesc);
	}
	result = ledger_result_tuple(fcinfo, caller_cxt, tuple, tupdesc);
	SPI_finish();
	return result;
}

PG_FUNCTION_INFO_V1(lexledger_counter_add);

/*
 * lexledger.counter_add(counter, delta): what the posting paths add to a
 * balance counter with, so that a counter pushed past 64 bits fails with
 * the stable code amount_out_of_range rather than int8's bare message.
 */
Datum
lexledger_counter_add(PG_FUNCTION_ARGS)
{
	int64		result;

	if (pg_add_s64_overflow(PG_GETARG_INT64(0), PG_GETARG_INT64(1), &result))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("amount_out_of_range: a balance counter would exceed 64 bits"),
				 errdetail("The counter is " INT64_FORMAT ", the change " INT64_FORMAT ".",
						   PG_GETARG_INT64(0), PG_GETARG_INT64(1))));
	PG_RETURN_INT64(result);
}

PG_FUNCTION_INFO_V1(lexledger_transfer);

/*
 * lexledger.transfer(id, debit_account_id, credit_account_id, amount,
 *					  code, reference) RETURNS lexledger.transfer
 */
Datum
lexledger_transfer(PG_FUNCTION_ARGS)
{
	TransferRow t;

	read_transfer_args(fcinfo, &t);
	t.kind = TK_POSTED;
	PG_RETURN_DATUM(post_new_transfer(fcinfo, &t));
}

PG_FUNCTION_INFO_V1(lexledger_hold);

/*
 * lexledger.hold(id, debit_account_id, credit_account_id, amount, code,
 *				  reference, timeout) RETURNS lexledger.transfer
 */
Datum
lexledger_hold(PG_FUNCTION_ARGS)
{
	TransferRow t;

	read_transfer_args(fcinfo, &t);
	t.kind = TK_PENDING;
	t.timeout_isnull = PG_ARGISNULL(6);
	if (!t.timeout_isnull)
		t.timeout = PG_GETARG_DATUM(6);
	escrow_validate_timeout(&t);
	PG_RETURN_DATUM(post_new_transfer(fcinfo, &t));
}
