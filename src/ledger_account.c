/*
 * ledger_account.c
 *		Backend-local cache of the immutable part of accounts.
 *
 * Currency, flags and slot count never change once an account is open, so
 * the posting path reads them from lexledger.account once per backend and
 * then never again.  What can change (closed) lives on the balance rows the
 * posting path updates anyway.  An entry cached by a (sub)transaction that
 * then aborts may describe an account that never existed, so the abort of
 * a (sub)transaction in which the cache grew throws the whole cache away;
 * the abort of one in which it did not (the batch's fast path, say) keeps it.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "storage/backendid.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "lexledger.h"
#include "ledger.h"

/*
 * Beyond this many entries the cache starts over rather than grow: checked
 * when a call loads accounts, never between its loading and its lookups.
 */
#define ACCOUNT_CACHE_MAX	200000

static HTAB *account_cache = NULL;

/*
 * The innermost open (sub)transaction in which the cache grew, or
 * InvalidSubTransactionId.  Subtransaction ids increase, so when a
 * subtransaction ends, every one with an id at least its own is itself or
 * one of its children.
 */
static SubTransactionId cache_grew_in = InvalidSubTransactionId;
static bool cache_stale = false;
static bool callbacks_registered = false;
static SPIPlanPtr fetch_plan = NULL;

static void
forget_cache(void)
{
	if (account_cache != NULL)
		hash_destroy(account_cache);
	account_cache = NULL;
	cache_grew_in = InvalidSubTransactionId;
}

static void
account_cache_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
			/*
			 * A prepared transaction may still be rolled back, from any
			 * session: what it cached may be accounts that never exist.
			 */
		case XACT_EVENT_PREPARE:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			if (cache_grew_in != InvalidSubTransactionId)
				forget_cache();
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			cache_grew_in = InvalidSubTransactionId;
			break;
		default:
			break;
	}
}

static void
account_cache_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
							   SubTransactionId parentSubid, void *arg)
{
	if (cache_grew_in == InvalidSubTransactionId || cache_grew_in < mySubid)
		return;
	if (event == SUBXACT_EVENT_ABORT_SUB)
		forget_cache();
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
		cache_grew_in = parentSubid;
}

/* Makes the cache exist; "may_restart": start over if it is full. */
static void
ensure_cache(bool may_restart)
{
	HASHCTL		ctl;

	ledger_check_types();
	if (!callbacks_registered)
	{
		RegisterXactCallback(account_cache_xact_callback, NULL);
		RegisterSubXactCallback(account_cache_subxact_callback, NULL);
		callbacks_registered = true;
	}
	if (account_cache != NULL && !cache_stale &&
		!(may_restart && hash_get_num_entries(account_cache) >= ACCOUNT_CACHE_MAX))
		return;
	cache_stale = false;
	forget_cache();

	ctl.keysize = sizeof(int64);
	ctl.entrysize = sizeof(LedgerAccount);
	ctl.hcxt = TopMemoryContext;
	account_cache = hash_create("lexledger account cache", 1024, &ctl,
								HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

/*
 * Called when the extension's types change (DROP and CREATE EXTENSION in a
 * long-lived backend): account ids then start over, so nothing cached can
 * be trusted.  Only marks the cache; the next lookup rebuilds it.
 */
void
ledger_account_forget_all(void)
{
	cache_stale = true;
}

/*
 * Loads the given accounts into the cache with one query.  Ids that name no
 * account are simply not cached.  SPI must be connected.
 */
void
ledger_account_prefetch(const int64 *ids, int n)
{
	Datum	   *elems;
	ArrayType  *arr;
	Datum		arg;
	int			missing = 0;
	int			ret;

	ensure_cache(true);
	elems = palloc(sizeof(Datum) * n);
	for (int i = 0; i < n; i++)
	{
		bool		found;

		hash_search(account_cache, &ids[i], HASH_FIND, &found);
		if (!found)
			elems[missing++] = Int64GetDatum(ids[i]);
	}
	if (missing == 0)
		return;

	arr = construct_array(elems, missing, INT8OID, sizeof(int64), true, TYPALIGN_DOUBLE);
	arg = PointerGetDatum(arr);
	ledger_prepare(&fetch_plan,
				   "SELECT id, currency, debits_must_not_exceed_credits,"
				   "       credits_must_not_exceed_debits, slots"
				   "  FROM lexledger.account WHERE id = ANY ($1)",
				   1, (Oid[]) {INT8ARRAYOID});
	ret = SPI_execute_plan(fetch_plan, &arg, NULL, true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "lexledger: account lookup failed: %s", SPI_result_code_string(ret));

	for (uint64 r = 0; r < SPI_processed; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		int64		id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		char	   *currency = TextDatumGetCString(SPI_getbinval(tup, desc, 2, &isnull));
		LedgerAccount *entry;
		bool		found;

		entry = hash_search(account_cache, &id, HASH_ENTER, &found);
		memset(entry->code, 0, sizeof(entry->code));
		strlcpy(entry->code, currency, sizeof(entry->code));
		entry->debits_limited = DatumGetBool(SPI_getbinval(tup, desc, 3, &isnull));
		entry->credits_limited = DatumGetBool(SPI_getbinval(tup, desc, 4, &isnull));
		entry->slots = DatumGetInt16(SPI_getbinval(tup, desc, 5, &isnull));
		cache_grew_in = GetCurrentSubTransactionId();
	}
}

/*
 * Copies the account into *out, loading it if needed; false if there is no
 * such account.  A copy, because the cache may be rebuilt by the next call.
 */
bool
ledger_account_lookup(int64 id, LedgerAccount *out)
{
	ensure_cache(false);
	if (ledger_account_prefetched(id, out))
		return true;
	ledger_account_prefetch(&id, 1);
	return ledger_account_prefetched(id, out);
}

/*
 * Like ledger_account_lookup, but for an id that ledger_account_prefetch
 * has just been given: false then means that no such account exists, and
 * asking the table again, one query per unknown id, would only say so
 * again.
 */
bool
ledger_account_prefetched(int64 id, LedgerAccount *out)
{
	LedgerAccount *entry;
	bool		found;

	/* thrown away since (a subtransaction that grew it aborted): load again */
	if (account_cache == NULL || cache_stale)
		return ledger_account_lookup(id, out);
	entry = hash_search(account_cache, &id, HASH_FIND, &found);
	if (found)
		*out = *entry;
	return found;
}

/*
 * Which balance row of the account a change goes to.  An account with a
 * limit has one row, which serialises the check.  Others have several;
 * each backend writes its own, so concurrent writers to a hot account do
 * not queue behind each other's row locks.
 */
int
ledger_account_slot(const LedgerAccount *account)
{
	if (account->slots <= 1)
		return 0;
	return MyBackendId % account->slots;
}
