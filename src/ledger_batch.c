/*
 * ledger_batch.c
 *		lexledger.transfer_batch(): many transfers in one call.
 *
 * A batch is decided in memory and then written with a handful of
 * set-based statements, whatever its size:
 *
 *	1. read every request and check what needs no table;
 *	2. (careful path only) find the ids already posted: idempotent retries,
 *	   answered 'exists';
 *	3. read the accounts (the backend's cache of their fixed part: currency,
 *	   flags, slots);
 *	4. play the requests in order, linked chains all or nothing (undoing a
 *	   failed chain in memory, so no subtransaction per chain): on the fast
 *	   path assuming every account open and funded, on the careful path
 *	   against the counters read (without a lock) in step 6;
 *	5. insert the transfers that passed, and their holds (one statement,
 *	   in id order);
 *	6. read every balance row the batch may touch, in (account, slot)
 *	   order: on the careful path first without a lock, for step 4, and
 *	   after step 5 under lock, to play the requests again;
 *	7. add the summed deltas to the balance rows, one statement that visits
 *	   them in (account, slot) order.
 *
 * The fast path skips steps 2 and 6 and runs 5 and 7 in one subtransaction,
 * betting that every request that passes the checks of steps 1 and 3 posts.
 * The insert's unique violation then reveals an id already posted; the
 * update is what locks the rows, after the expensive insert, so locks are
 * held only for the update and the commit; and the counters the update
 * returns, less the batch's own deltas, are the locked counters on which
 * the requests are played again.  When the batch holds a retry, the
 * unchecked sums overflow a counter, or the replay posts other requests (a
 * concurrent transfer changed a balance the batch relied on), the
 * subtransaction is rolled back and the careful path decides again.
 *
 * Every posting path claims its ids before it takes balance rows, and takes
 * the rows in (account, slot) order; ids are inserted in id order.  A call
 * can then wait for another's id only while it holds no balance row, so no
 * two postings deadlock.  The careful path keeps that order too: each
 * attempt (step 2, unlocked step 6, 4, then in a subtransaction 5, locked
 * 6, 4 again, 7) is kept only if the locked play posts exactly what it
 * inserted, and undone otherwise (see post_carefully).
 *
 * A request that fails gets its error code as result and changes nothing;
 * the others still post.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "parser/parse_func.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "lexledger.h"
#include "ledger.h"

/* Upper bound on one batch: keeps one call's memory and locks bounded. */
#define BATCH_MAX_TRANSFERS 100000

/* lexledger.batch_attempts */
int			lexledger_batch_attempts = 8;

/* Fields of lexledger.transfer_request. */
enum
{
	RQ_ID, RQ_DEBIT, RQ_CREDIT, RQ_AMOUNT, RQ_CODE, RQ_REFERENCE,
	RQ_PENDING, RQ_TIMEOUT, RQ_LINKED, RQ_NFIELDS
};

typedef struct BatchItem
{
	TransferRow t;
	bool		id_isnull;
	bool		linked;
	const char *result;			/* NULL while it may still post */
	const char *initial_result; /* result after steps 1-3, before playing */
	bool		exists;			/* posted by an earlier call: a retry */
	int			duplicate_of;	/* an earlier request of this batch, or -1 */
	bool		taken_back;		/* inserted, then no longer posted: deleted */
	TimestampTz created_at;
	bool		created_at_isnull;
	int			debit;			/* index into Batch.accounts, or -1 */
	int			credit;
} BatchItem;

typedef struct BatchAccount
{
	LedgerAccount meta;
	bool		found;
	bool		closed;
	Counters	counters;		/* locked counters of the balance row it writes */
} BatchAccount;

typedef struct Batch
{
	BatchItem  *items;
	int			n;
	BatchAccount *accounts;		/* sorted by id */
	int			naccounts;
	HTAB	   *posted;			/* ids that post in this batch -> item */
	bool		assume_funds;	/* first play: no counters known yet */
	bool	   *inserted;		/* which requests the current attempt inserted */
	bool		id_taken;		/* the attempt's insert met an id posted since
								 * the lookup */
} Batch;

typedef struct PostedEntry
{
	pg_uuid_t	id;
	int			item;
} PostedEntry;

static SPIPlanPtr existing_plan = NULL;
static SPIPlanPtr insert_plan = NULL;
static SPIPlanPtr insert_plan_fast = NULL;
static SPIPlanPtr counters_plan = NULL;
static SPIPlanPtr failed_posted_plan = NULL;
static SPIPlanPtr take_back_plan = NULL;

static void
item_fails(BatchItem *item, const char *code)
{
	if (item->result == NULL)
		item->result = code;
}

/* Step 1: requests from the array, with the checks that need no table. */
static void
read_requests(Batch *b, ArrayType *arr)
{
	Oid			elemtype = ARR_ELEMTYPE(arr);
	Datum	   *elems;
	bool	   *elem_nulls;
	int			n;
	TupleDesc	desc = NULL;

	/* an ordinal is a position in a list; a matrix has none to give */
	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_LX_INVALID_TRANSFER),
				 errmsg("invalid_transfer: a batch is a one-dimensional array, this one has %d dimensions",
						ARR_NDIM(arr)),
				 errhint("Pass the requests as a list: array_agg(...) or ARRAY[...].")));
	deconstruct_array(arr, elemtype, -1, false, TYPALIGN_DOUBLE, &elems, &elem_nulls, &n);
	if (n > BATCH_MAX_TRANSFERS)
		ereport(ERROR,
				(errcode(ERRCODE_LX_INVALID_TRANSFER),
				 errmsg("invalid_transfer: a batch holds at most %d transfers, this one %d",
						BATCH_MAX_TRANSFERS, n),
				 errhint("Split the batch.")));
	b->n = n;
	b->items = palloc0(sizeof(BatchItem) * Max(n, 1));

	for (int i = 0; i < n; i++)
	{
		BatchItem  *item = &b->items[i];
		TransferRow *t = &item->t;
		HeapTupleHeader td;
		HeapTupleData tuple;
		Datum		v[RQ_NFIELDS];
		bool		isnull[RQ_NFIELDS];

		item->debit = item->credit = -1;
		item->duplicate_of = -1;
		item->created_at_isnull = true;
		t->pending_id_isnull = true;
		if (elem_nulls[i])
		{
			item->id_isnull = true;
			item_fails(item, "invalid_transfer");
			continue;
		}
		td = DatumGetHeapTupleHeader(elems[i]);
		if (desc == NULL)
			desc = lookup_rowtype_tupdesc(HeapTupleHeaderGetTypeId(td),
										  HeapTupleHeaderGetTypMod(td));
		if (desc->natts != RQ_NFIELDS)
			elog(ERROR, "lexledger: lexledger.transfer_request has an unexpected shape");
		tuple.t_len = HeapTupleHeaderGetDatumLength(td);
		ItemPointerSetInvalid(&tuple.t_self);
		tuple.t_tableOid = InvalidOid;
		tuple.t_data = td;
		heap_deform_tuple(&tuple, desc, v, isnull);

		item->id_isnull = isnull[RQ_ID];
		if (!isnull[RQ_ID])
			t->id = *DatumGetUUIDP(v[RQ_ID]);
		t->debit_account_id = isnull[RQ_DEBIT] ? 0 : DatumGetInt64(v[RQ_DEBIT]);
		t->credit_account_id = isnull[RQ_CREDIT] ? 0 : DatumGetInt64(v[RQ_CREDIT]);
		if (!isnull[RQ_AMOUNT])
			t->amount = *DatumGetAmountP(v[RQ_AMOUNT]);
		t->code = isnull[RQ_CODE] ? 0 : DatumGetInt32(v[RQ_CODE]);
		t->reference_isnull = isnull[RQ_REFERENCE];
		t->reference = v[RQ_REFERENCE];
		t->kind = (!isnull[RQ_PENDING] && DatumGetBool(v[RQ_PENDING])) ? TK_PENDING : TK_POSTED;
		t->timeout_isnull = isnull[RQ_TIMEOUT];
		t->timeout = v[RQ_TIMEOUT];
		item->linked = !isnull[RQ_LINKED] && DatumGetBool(v[RQ_LINKED]);

		if (isnull[RQ_ID] || isnull[RQ_DEBIT] || isnull[RQ_CREDIT] || isnull[RQ_AMOUNT] ||
			isnull[RQ_CODE])
			item_fails(item, "invalid_transfer");
		else if (!t->timeout_isnull &&
				 (t->kind != TK_PENDING || escrow_timeout_problem(t->timeout) != NULL))
			item_fails(item, "invalid_transfer");
		else if (t->amount.units <= 0)
			item_fails(item, "amount_must_be_positive");
		else if (t->debit_account_id == t->credit_account_id)
			item_fails(item, "accounts_must_be_different");
	}
	if (desc != NULL)
		ReleaseTupleDesc(desc);
}

static Datum
uuid_array(Batch *b, bool (*want) (const BatchItem *), int *count)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(b->n, 1));
	int			k = 0;

	for (int i = 0; i < b->n; i++)
		if (want(&b->items[i]))
			elems[k++] = UUIDPGetDatum(&b->items[i].t.id);
	*count = k;
	return PointerGetDatum(construct_array(elems, k, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR));
}

/*
 * The result of a request whose id exists with another "field": a
 * constant, so that it outlives the careful attempt that found it.
 */
static const char *
exists_with_different(const char *field)
{
	static const char *const results[] = {
		"exists_with_different_kind", "exists_with_different_pending_id",
		"exists_with_different_debit_account_id", "exists_with_different_credit_account_id",
		"exists_with_different_amount", "exists_with_different_code",
		"exists_with_different_reference", "exists_with_different_timeout",
	};
	const size_t prefix = strlen("exists_with_different_");

	for (int i = 0; i < lengthof(results); i++)
		if (strcmp(results[i] + prefix, field) == 0)
			return results[i];
	elog(ERROR, "lexledger: unexpected transfer field \"%s\"", field);
	pg_unreachable();
}

static bool
has_id(const BatchItem *item)
{
	return !item->id_isnull;
}

/* Step 2 (careful path only): requests whose id is already posted are retries. */
static void
find_existing(Batch *b)
{
	int			count;
	Datum		ids = uuid_array(b, has_id, &count);
	HTAB	   *by_id;
	HASHCTL		ctl;
	int			ret;

	if (count == 0)
		return;
	ledger_prepare(&existing_plan,
				   "SELECT * FROM lexledger.transfer WHERE id = ANY ($1)",
				   1, (Oid[]) {UUIDARRAYOID});
	ret = SPI_execute_plan(existing_plan, &ids, NULL, false, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "lexledger: transfer lookup failed: %s", SPI_result_code_string(ret));
	if (SPI_processed == 0)
		return;

	ctl.keysize = sizeof(pg_uuid_t);
	ctl.entrysize = sizeof(PostedEntry);
	ctl.hcxt = CurrentMemoryContext;
	by_id = hash_create("lexledger existing transfers", SPI_processed, &ctl,
						HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		bool		isnull;
		PostedEntry *e;
		pg_uuid_t	id = *DatumGetUUIDP(SPI_getbinval(SPI_tuptable->vals[r],
													  SPI_tuptable->tupdesc, TCOL_ID, &isnull));

		e = hash_search(by_id, &id, HASH_ENTER, NULL);
		e->item = (int) r;
	}
	for (int i = 0; i < b->n; i++)
	{
		BatchItem  *item = &b->items[i];
		PostedEntry *e;
		HeapTuple	tup;
		const char *field;
		bool		isnull;

		/* a request that fails its own checks reports that, as transfer() does */
		if (item->id_isnull || item->result != NULL ||
			(e = hash_search(by_id, &item->t.id, HASH_FIND, NULL)) == NULL)
			continue;
		tup = SPI_tuptable->vals[e->item];
		field = ledger_first_difference(&item->t, tup, SPI_tuptable->tupdesc);
		if (field != NULL)
			item->result = exists_with_different(field);
		else
		{
			item->exists = true;	/* its result is set in step 4 */
			item->created_at = DatumGetTimestampTz(SPI_getbinval(tup, SPI_tuptable->tupdesc,
																 TCOL_CREATED_AT, &isnull));
			item->created_at_isnull = false;
		}
	}
	hash_destroy(by_id);
	SPI_freetuptable(SPI_tuptable);
}

static int
cmp_int64(const void *a, const void *b)
{
	int64		x = *(const int64 *) a,
				y = *(const int64 *) b;

	return (x > y) - (x < y);
}

static int
account_index(Batch *b, int64 id)
{
	int			lo = 0,
				hi = b->naccounts - 1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;

		if (b->accounts[mid].meta.id == id)
			return mid;
		if (b->accounts[mid].meta.id < id)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

/*
 * Step 3: every account the batch names, from the backend's account cache
 * (one query for the accounts it does not know yet).  Their counters and
 * closed flags are read later, under lock.
 */
static void
read_accounts(Batch *b)
{
	int64	   *ids = palloc(sizeof(int64) * Max(2 * b->n, 1));
	int			n = 0;

	for (int i = 0; i < b->n; i++)
		if (b->items[i].result == NULL)
		{
			ids[n++] = b->items[i].t.debit_account_id;
			ids[n++] = b->items[i].t.credit_account_id;
		}
	qsort(ids, n, sizeof(int64), cmp_int64);
	b->accounts = palloc0(sizeof(BatchAccount) * Max(n, 1));
	for (int i = 0; i < n; i++)
		if (i == 0 || ids[i] != ids[i - 1])
			ids[b->naccounts++] = ids[i];
	if (b->naccounts == 0)
		return;
	ledger_account_prefetch(ids, b->naccounts);
	for (int k = 0; k < b->naccounts; k++)
	{
		BatchAccount *a = &b->accounts[k];

		a->found = ledger_account_prefetched(ids[k], &a->meta);
		a->meta.id = ids[k];
	}

	for (int i = 0; i < b->n; i++)
	{
		BatchItem  *item = &b->items[i];
		BatchAccount *d,
				   *c;

		if (item->result != NULL)
			continue;
		item->debit = account_index(b, item->t.debit_account_id);
		item->credit = account_index(b, item->t.credit_account_id);
		d = &b->accounts[item->debit];
		c = &b->accounts[item->credit];
		if (!d->found || !c->found)
			item_fails(item, "account_not_found");
		else if (strncmp(d->meta.code, item->t.amount.code, sizeof(d->meta.code)) != 0 ||
				 strncmp(c->meta.code, item->t.amount.code, sizeof(c->meta.code)) != 0 ||
				 !amount_scale_is_current(&item->t.amount))
			item_fails(item, "currency_mismatch");
	}
}

/* The deltas a new transfer makes on its debit and credit side. */
static void
transfer_deltas(const TransferRow *t, Counters *d, Counters *c)
{
	memset(d, 0, sizeof(*d));
	memset(c, 0, sizeof(*c));
	if (t->kind == TK_PENDING)
		d->debits_pending = c->credits_pending = t->amount.units;
	else
		d->debits_posted = c->credits_posted = t->amount.units;
}

/*
 * acc += sign * d, all four counters or none: returns true, leaving acc
 * as it was, when one would pass 64 bits.
 */
static bool
counters_add(Counters *acc, const Counters *d, int sign)
{
	Counters	sum;
	bool		overflow = false;

	overflow |= pg_add_s64_overflow(acc->debits_pending, sign * d->debits_pending, &sum.debits_pending);
	overflow |= pg_add_s64_overflow(acc->debits_posted, sign * d->debits_posted, &sum.debits_posted);
	overflow |= pg_add_s64_overflow(acc->credits_pending, sign * d->credits_pending, &sum.credits_pending);
	overflow |= pg_add_s64_overflow(acc->credits_posted, sign * d->credits_posted, &sum.credits_posted);
	if (!overflow)
		*acc = sum;
	return overflow;
}

/* A balance row and the sum of the changes a batch makes to it. */
typedef struct SlotDelta
{
	BalanceRowKey row;			/* first: sorted with ledger_cmp_balance_row */
	Counters	delta;
} SlotDelta;

/* Still in play after the checks of steps 1 to 3. */
static bool
is_candidate(const BatchItem *item)
{
	return item->initial_result == NULL && !item->exists;
}

/*
 * The balance rows of the requests "of_items" picks, one per (account,
 * slot) in key order, each with the sum of the deltas of the requests
 * "summing" picks (NULL: no sums; locking needs only the keys, and
 * requests that are still to be checked may overflow together).  Returns
 * how many.
 */
static int
slot_rows(Batch *b, bool (*of_items) (const BatchItem *),
		  bool (*summing) (const BatchItem *), SlotDelta **out)
{
	SlotDelta  *rows = palloc0(sizeof(SlotDelta) * Max(2 * b->n, 1));
	int			n = 0,
				m = 0;

	for (int i = 0; i < b->n; i++)
	{
		BatchItem  *item = &b->items[i];
		Counters	delta[2];
		int			acct[2] = {item->debit, item->credit};

		if (!of_items(item))
			continue;
		if (summing != NULL && summing(item))
			transfer_deltas(&item->t, &delta[0], &delta[1]);
		else
			memset(delta, 0, sizeof(delta));
		for (int s = 0; s < 2; s++)
		{
			rows[n].row.account_id = b->accounts[acct[s]].meta.id;
			rows[n].row.slot = ledger_account_slot(&b->accounts[acct[s]].meta);
			rows[n].delta = delta[s];
			n++;
		}
	}
	if (n > 0)
		qsort(rows, n, sizeof(SlotDelta), ledger_cmp_balance_row);
	for (int i = 0; i < n; i++)
	{
		if (m > 0 && ledger_cmp_balance_row(&rows[m - 1], &rows[i]) == 0)
		{
			if (summing != NULL && counters_add(&rows[m - 1].delta, &rows[i].delta, 1))
				ereport(ERROR,
						(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
						 errmsg("amount_out_of_range: the batch overflows the counters of account " INT64_FORMAT,
								rows[i].row.account_id)));
		}
		else
			rows[m++] = rows[i];
	}
	*out = rows;
	return m;
}

/* Every one of the "expected" balance rows must exist. */
static void
require_balance_rows(int expected)
{
	if (SPI_processed != (uint64) expected)
		ereport(ERROR,
				(errcode(ERRCODE_LX_ACCOUNT_NOT_FOUND),
				 errmsg("account_not_found: %d balance rows of the batch's accounts are missing",
						expected - (int) SPI_processed)));
}

/*
 * Step 6: reads every balance row that a request still in play may touch,
 * in (account, slot) order, the order every posting path uses, locking
 * them as "lock" says; takes their counters and closed flags as the
 * batch's accounts' own.
 */
static void
read_rows(Batch *b, BalanceRowLock lock)
{
	SlotDelta  *rows;
	BalanceRowKey *keys;
	int			m = slot_rows(b, is_candidate, NULL, &rows);

	if (m == 0)
		return;
	keys = palloc(sizeof(BalanceRowKey) * m);
	for (int i = 0; i < m; i++)
		keys[i] = rows[i].row;
	ledger_read_balance_rows(keys, m, lock);
	require_balance_rows(m);
	for (int k = 0; k < b->naccounts; k++)
		b->accounts[k].closed = false;
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		BatchAccount *a = &b->accounts[account_index(b, DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull)))];

		a->counters.debits_pending = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
		a->counters.debits_posted = DatumGetInt64(SPI_getbinval(tup, desc, 3, &isnull));
		a->counters.credits_pending = DatumGetInt64(SPI_getbinval(tup, desc, 4, &isnull));
		a->counters.credits_posted = DatumGetInt64(SPI_getbinval(tup, desc, 5, &isnull));
		a->closed |= DatumGetBool(SPI_getbinval(tup, desc, 6, &isnull));
	}
	SPI_freetuptable(SPI_tuptable);
}

/*
 * Applies one request to the in-memory counters; returns its error code,
 * or NULL when it posts.  Accounts without a limit can fail only by
 * overflowing their counters.  The accounts are checked lowest id first,
 * each for closed, overflow, then limit: the order in which transfer()
 * meets them, so both report the same code for the same request.
 */
static const char *
play_one(Batch *b, BatchItem *item)
{
	BatchAccount *acct[2];
	Counters	delta[2];
	PostedEntry *e;
	const char *err = NULL;
	int			applied = 0;

	if (item->exists)
		return NULL;
	e = hash_search(b->posted, &item->t.id, HASH_FIND, NULL);
	if (e != NULL)
	{
		const char *field = ledger_rows_difference(&b->items[e->item].t, &item->t);

		if (field != NULL)
			return exists_with_different(field);
		item->duplicate_of = e->item;
		return NULL;
	}

	acct[0] = &b->accounts[item->debit];
	acct[1] = &b->accounts[item->credit];
	transfer_deltas(&item->t, &delta[0], &delta[1]);
	if (acct[0]->meta.id > acct[1]->meta.id)
	{
		BatchAccount *a = acct[0];
		Counters	d = delta[0];

		acct[0] = acct[1];
		acct[1] = a;
		delta[0] = delta[1];
		delta[1] = d;
	}
	for (int s = 0; s < 2 && err == NULL && !b->assume_funds; s++)
	{
		if (acct[s]->closed)
			err = "account_closed";
		else if (counters_add(&acct[s]->counters, &delta[s], 1))
			err = "amount_out_of_range";
		else
		{
			applied = s + 1;
			if (LedgerAccountIsLimited(&acct[s]->meta) &&
				ledger_limit_violated(&acct[s]->meta, &acct[s]->counters, &delta[s]))
				err = acct[s]->meta.debits_limited ? "insufficient_funds" : "credit_limit_exceeded";
		}
	}
	if (err != NULL)
	{
		for (int s = 0; s < applied; s++)
			counters_add(&acct[s]->counters, &delta[s], -1);
		return err;
	}
	e = hash_search(b->posted, &item->t.id, HASH_ENTER, NULL);
	e->item = item - b->items;
	return NULL;
}

/* Takes back what play_one did for a request of a chain that failed. */
static void
unplay_one(Batch *b, BatchItem *item)
{
	Counters	delta[2];
	int			acct[2] = {item->debit, item->credit};

	if (item->exists || item->duplicate_of >= 0)
		return;
	hash_search(b->posted, &item->t.id, HASH_REMOVE, NULL);
	if (b->assume_funds)
		return;
	transfer_deltas(&item->t, &delta[0], &delta[1]);
	for (int s = 0; s < 2; s++)
		counters_add(&b->accounts[acct[s]].counters, &delta[s], -1);
}

/*
 * What a request of a failed chain answers when it was not the one that
 * failed: the chain's code, unless an earlier request of this batch,
 * outside the chain, posted its id.  Then it is a retry of that request, as
 * a request posted by an earlier call is, whether or not the chain reached
 * it.  Called after the chain's own postings were taken back.
 */
static const char *
answer_in_failed_chain(Batch *b, BatchItem *item, const char *chain_code)
{
	PostedEntry *e = hash_search(b->posted, &item->t.id, HASH_FIND, NULL);
	const char *field;

	item->duplicate_of = -1;
	if (e == NULL)
		return chain_code;
	field = ledger_rows_difference(&b->items[e->item].t, &item->t);
	if (field != NULL)
		return exists_with_different(field);
	item->duplicate_of = e->item;
	return NULL;
}

/*
 * Step 4: the requests in order; a chain of linked requests (each linked to
 * the next, the last one not linked) posts whole or not at all.  Members of
 * a failed chain whose id was posted before the chain, by an earlier call
 * or an earlier request, stay 'exists'.
 */
static void
play_requests(Batch *b)
{
	HASHCTL		ctl;
	int			start = 0;

	ctl.keysize = sizeof(pg_uuid_t);
	ctl.entrysize = sizeof(PostedEntry);
	ctl.hcxt = CurrentMemoryContext;
	if (b->posted != NULL)
		hash_destroy(b->posted);
	b->posted = hash_create("lexledger batch ids", Max(b->n, 16), &ctl,
							HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	for (int i = 0; i < b->n; i++)
	{
		b->items[i].result = b->items[i].initial_result;
		b->items[i].duplicate_of = -1;
	}

	while (start < b->n)
	{
		int			end = start;
		int			played = 0;
		int			failed = -1;
		bool		left_open;

		while (end < b->n - 1 && b->items[end].linked)
			end++;

		for (int i = start; i <= end; i++)
		{
			BatchItem  *item = &b->items[i];

			if (item->result == NULL)
				item->result = play_one(b, item);
			if (item->result != NULL)
			{
				failed = i;
				break;
			}
			played++;
		}
		/* the batch may end inside a chain */
		left_open = failed < 0 && b->items[end].linked;
		if (failed >= 0 || left_open)
		{
			const char *chain_code = left_open ?
				"linked_event_chain_open" : "linked_event_failed";

			for (int i = start; i < start + played; i++)
				unplay_one(b, &b->items[i]);
			/* a request after the failed one keeps a failure of its own */
			for (int i = start; i <= end; i++)
				if (i != failed && b->items[i].result == NULL && !b->items[i].exists)
					b->items[i].result = answer_in_failed_chain(b, &b->items[i], chain_code);
		}
		start = end + 1;
	}
	for (int i = 0; i < b->n; i++)
		if (b->items[i].result == NULL)
			b->items[i].result =
				(b->items[i].exists || b->items[i].duplicate_of >= 0) ? "exists" : "ok";
}

static bool
is_new_posting(const BatchItem *item)
{
	return strcmp(item->result, "ok") == 0;
}

/*
 * The statement of step 5.  The fast path inserts plainly: an id already
 * posted is a unique violation, which sends the batch down the careful
 * path, and saves ON CONFLICT's second descent of the id index per row.
 * The careful path has looked the ids up (step 2) and skips any that a
 * concurrent transaction posted since.  Both insert in id order: a call
 * that meets an id another call is inserting waits for that call, and two
 * calls that took their shared ids in opposite orders would wait for each
 * other.  The timestamps are the server's clock taken in request order,
 * each at least a microsecond after the one before: statements and
 * balances as of an instant list a batch's transfers in the order they were
 * played, whatever their ids.
 */
#define INSERT_TRANSFERS_SQL(on_conflict) \
	"WITH ins AS (" \
	"  INSERT INTO lexledger.transfer" \
	"    (id, debit_account_id, credit_account_id, amount, kind, code, reference, timeout," \
	"     created_at)" \
	"  SELECT r.id, r.debit, r.credit, lexledger.amount_from_minor(r.units, r.currency)," \
	"         CASE WHEN r.pending THEN 'pending' ELSE 'posted' END::lexledger.transfer_kind," \
	"         r.code, r.reference, r.timeout, r.created_at" \
	"    FROM unnest($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)" \
	"         AS r(id, debit, credit, units, currency, code, reference, pending, timeout," \
	"              created_at)" \
	"   ORDER BY r.id" \
	on_conflict \
	"  RETURNING id, debit_account_id, credit_account_id, amount, kind, timeout, created_at)," \
	" holds AS (" \
	"  INSERT INTO lexledger.pending_transfer" \
	"    (transfer_id, debit_account_id, credit_account_id, amount, expires_at)" \
	"  SELECT id, debit_account_id, credit_account_id, amount, lexledger.hold_expiry(created_at, timeout)" \
	"    FROM ins WHERE kind = 'pending')" \
	" SELECT id, created_at FROM ins"

/*
 * Step 5: the transfers (and holds) that passed, in one statement.  On the
 * fast path ("fast") an id already posted raises unique_violation.  On the
 * careful path ON CONFLICT skips an id that a concurrent transaction
 * posted since step 2; then the play counted a request that did not post,
 * its decisions no longer hold, and this returns false.  Notes in
 * b->inserted which requests it inserted.
 */
static bool
insert_transfers(Batch *b, bool fast)
{
	int			n = 0,
				ret;
	Datum	   *ids = palloc(sizeof(Datum) * Max(b->n, 1)),
			   *debits = palloc(sizeof(Datum) * Max(b->n, 1)),
			   *credits = palloc(sizeof(Datum) * Max(b->n, 1)),
			   *units = palloc(sizeof(Datum) * Max(b->n, 1)),
			   *codes = palloc(sizeof(Datum) * Max(b->n, 1)),
			   *tcodes = palloc(sizeof(Datum) * Max(b->n, 1)),
			   *refs = palloc(sizeof(Datum) * Max(b->n, 1)),
			   *pend = palloc(sizeof(Datum) * Max(b->n, 1)),
			   *timeouts = palloc(sizeof(Datum) * Max(b->n, 1)),
			   *stamps = palloc(sizeof(Datum) * Max(b->n, 1));
	TimestampTz now,
				previous = 0;
	bool	   *ref_nulls = palloc(sizeof(bool) * Max(b->n, 1)),
			   *to_nulls = palloc(sizeof(bool) * Max(b->n, 1));
	int			dims[1];
	int			lbs[1] = {1};
	Datum		args[10];
	Oid			arg_types[10] = {UUIDARRAYOID, INT8ARRAYOID, INT8ARRAYOID, INT8ARRAYOID,
		TEXTARRAYOID, INT4ARRAYOID, JSONBARRAYOID, BOOLARRAYOID, INTERVALARRAYOID,
		TIMESTAMPTZARRAYOID};

	for (int i = 0; i < b->n; i++)
	{
		BatchItem  *item = &b->items[i];

		b->inserted[i] = is_new_posting(item);
		if (!b->inserted[i])
			continue;
		ids[n] = UUIDPGetDatum(&item->t.id);
		debits[n] = Int64GetDatum(item->t.debit_account_id);
		credits[n] = Int64GetDatum(item->t.credit_account_id);
		units[n] = Int64GetDatum(item->t.amount.units);
		codes[n] = CStringGetTextDatum(item->t.amount.code);
		tcodes[n] = Int32GetDatum(item->t.code);
		refs[n] = item->t.reference;
		ref_nulls[n] = item->t.reference_isnull;
		pend[n] = BoolGetDatum(item->t.kind == TK_PENDING);
		timeouts[n] = item->t.timeout;
		to_nulls[n] = item->t.timeout_isnull;
		now = GetCurrentTimestamp();
		previous = (n > 0 && now <= previous) ? previous + 1 : now;
		stamps[n] = TimestampTzGetDatum(previous);
		n++;
	}
	if (n == 0)
		return true;
	dims[0] = n;
	args[0] = PointerGetDatum(construct_array(ids, n, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR));
	args[1] = PointerGetDatum(construct_array(debits, n, INT8OID, 8, true, TYPALIGN_DOUBLE));
	args[2] = PointerGetDatum(construct_array(credits, n, INT8OID, 8, true, TYPALIGN_DOUBLE));
	args[3] = PointerGetDatum(construct_array(units, n, INT8OID, 8, true, TYPALIGN_DOUBLE));
	args[4] = PointerGetDatum(construct_array(codes, n, TEXTOID, -1, false, TYPALIGN_INT));
	args[5] = PointerGetDatum(construct_array(tcodes, n, INT4OID, 4, true, TYPALIGN_INT));
	args[6] = PointerGetDatum(construct_md_array(refs, ref_nulls, 1, dims, lbs, JSONBOID, -1,
												 false, TYPALIGN_INT));
	args[7] = PointerGetDatum(construct_array(pend, n, BOOLOID, 1, true, TYPALIGN_CHAR));
	args[8] = PointerGetDatum(construct_md_array(timeouts, to_nulls, 1, dims, lbs, INTERVALOID,
												 sizeof(Interval), false, TYPALIGN_DOUBLE));
	args[9] = PointerGetDatum(construct_array(stamps, n, TIMESTAMPTZOID, sizeof(TimestampTz),
											  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));

	if (fast)
		ledger_prepare(&insert_plan_fast, INSERT_TRANSFERS_SQL(""), 10, arg_types);
	else
		ledger_prepare(&insert_plan, INSERT_TRANSFERS_SQL("  ON CONFLICT (id) DO NOTHING"),
					   10, arg_types);
	ret = SPI_execute_plan(fast ? insert_plan_fast : insert_plan, args, NULL, false, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "lexledger: batch insert failed: %s", SPI_result_code_string(ret));

	if (SPI_processed != (uint64) n)
		return false;
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		bool		isnull;
		pg_uuid_t	id = *DatumGetUUIDP(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull));
		PostedEntry *e = hash_search(b->posted, &id, HASH_FIND, NULL);

		if (e == NULL)
			elog(ERROR, "lexledger: batch inserted unexpected transfer %s",
				 uuid_to_cstring(&id));
		b->items[e->item].created_at =
			DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 2, &isnull));
		b->items[e->item].created_at_isnull = false;
	}
	/* duplicates inside the batch share the first one's timestamp */
	for (int i = 0; i < b->n; i++)
	{
		BatchItem  *item = &b->items[i];

		if (item->duplicate_of >= 0 && strcmp(item->result, "exists") == 0)
		{
			item->created_at = b->items[item->duplicate_of].created_at;
			item->created_at_isnull = b->items[item->duplicate_of].created_at_isnull;
		}
	}
	return true;
}

/*
 * The planner settings under which the counters update can only be nested
 * loops whose outer side is either the sorted deltas or the balance table's
 * primary key in order: rows are then locked in (account, slot) order, the
 * order every posting path uses, whatever the statistics and whatever the
 * caller's own settings.
 */
static const char *const key_order_settings[][2] = {
	{"enable_hashjoin", "off"},
	{"enable_mergejoin", "off"},
	{"enable_seqscan", "off"},
	{"enable_bitmapscan", "off"},
	{"enable_tidscan", "off"},
	{"enable_nestloop", "on"},
	{"enable_indexscan", "on"},
	/* code of others that ran earlier in the call may have changed it */
	{"search_path", "pg_catalog, pg_temp"},
};

/*
 * Runs the counters update (and take_back's delete) under
 * key_order_settings.  Plans made for these statements are always made
 * under them, since a plan is only (re)made when it is executed.
 */
static int
execute_in_key_order(SPIPlanPtr plan, Datum *args)
{
	int			nestlevel = NewGUCNestLevel();
	int			ret;

	for (int i = 0; i < lengthof(key_order_settings); i++)
		(void) set_config_option(key_order_settings[i][0], key_order_settings[i][1],
								 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	ret = SPI_execute_plan(plan, args, NULL, false, 0);
	/* also drops settings that code of others changed meanwhile */
	AtEOXact_GUC(false, nestlevel);
	return ret;
}

static int
slot_row_index(SlotDelta *rows, int m, int64 account_id, int16 slot)
{
	SlotDelta	key = {.row = {.account_id = account_id, .slot = slot}};
	SlotDelta  *found = bsearch(&key, rows, m, sizeof(SlotDelta), ledger_cmp_balance_row);

	return found ? (int) (found - rows) : -1;
}

/*
 * Step 7: adds the summed deltas, one row per (account, slot), in key
 * order.  On the careful path ("how" COUNTERS_DECIDED) the rows are
 * already locked and a closed one is an error (a safety net: read_rows read
 * the flags under lock).  On the fast path (COUNTERS_BET) this update is
 * what locks the rows: it visits the rows of every request still in play,
 * those of requests that did not post in the first play included (adding
 * nothing to them), and the counters it returns, less the batch's own
 * deltas, become the locked counters of the batch's accounts, and the
 * closed flags it returns are the first the batch reads, for the replay
 * that checks the decisions.  (Without the rows of a failed chain, the
 * replay would not see that one of its requests fails on its own, say on
 * a closed account, and would report linked_event_failed for it.)
 * COUNTERS_TAKE_BACK subtracts what COUNTERS_BET added for the requests
 * that take_back deleted; their accounts may be the closed ones that made
 * them fail.
 */
typedef enum CounterUpdate
{
	COUNTERS_BET,
	COUNTERS_DECIDED,
	COUNTERS_TAKE_BACK
} CounterUpdate;

static bool
is_taken_back(const BatchItem *item)
{
	return item->taken_back;
}

static void
update_counters(Batch *b, CounterUpdate how)
{
	SlotDelta  *rows;
	int			m,
				ret;
	Datum	   *cols[6];
	Datum		args[6];
	Oid			types[6] = {INT8OID, INT2OID, INT8OID, INT8OID, INT8OID, INT8OID};

	if (how == COUNTERS_BET)
		m = slot_rows(b, is_candidate, is_new_posting, &rows);
	else if (how == COUNTERS_DECIDED)
		m = slot_rows(b, is_new_posting, is_new_posting, &rows);
	else
	{
		m = slot_rows(b, is_taken_back, is_taken_back, &rows);
		/* no overflow: each sum is part of one that COUNTERS_BET added */
		for (int i = 0; i < m; i++)
		{
			rows[i].delta.debits_pending = -rows[i].delta.debits_pending;
			rows[i].delta.debits_posted = -rows[i].delta.debits_posted;
			rows[i].delta.credits_pending = -rows[i].delta.credits_pending;
			rows[i].delta.credits_posted = -rows[i].delta.credits_posted;
		}
	}
	if (m == 0)
		return;
	for (int c = 0; c < 6; c++)
		cols[c] = palloc(sizeof(Datum) * m);
	for (int i = 0; i < m; i++)
	{
		cols[0][i] = Int64GetDatum(rows[i].row.account_id);
		cols[1][i] = Int16GetDatum(rows[i].row.slot);
		cols[2][i] = Int64GetDatum(rows[i].delta.debits_pending);
		cols[3][i] = Int64GetDatum(rows[i].delta.debits_posted);
		cols[4][i] = Int64GetDatum(rows[i].delta.credits_pending);
		cols[5][i] = Int64GetDatum(rows[i].delta.credits_posted);
	}
	for (int c = 0; c < 6; c++)
		args[c] = PointerGetDatum(construct_array(cols[c], m, types[c],
												  types[c] == INT2OID ? 2 : 8, true,
												  types[c] == INT2OID ? TYPALIGN_SHORT : TYPALIGN_DOUBLE));

	ledger_prepare(&counters_plan,
				   "UPDATE lexledger.account_balance b"
				   "   SET debits_pending = lexledger.counter_add(b.debits_pending, d.dp),"
				   "       debits_posted = lexledger.counter_add(b.debits_posted, d.dpo),"
				   "       credits_pending = lexledger.counter_add(b.credits_pending, d.cp),"
				   "       credits_posted = lexledger.counter_add(b.credits_posted, d.cpo)"
				   "  FROM unnest($1, $2, $3, $4, $5, $6) AS d(account_id, slot, dp, dpo, cp, cpo)"
				   " WHERE b.account_id = d.account_id AND b.slot = d.slot"
				   " RETURNING b.account_id, b.slot, b.closed, b.debits_pending,"
				   "           b.debits_posted, b.credits_pending, b.credits_posted",
				   6, (Oid[]) {INT8ARRAYOID, INT2ARRAYOID, INT8ARRAYOID, INT8ARRAYOID,
				   INT8ARRAYOID, INT8ARRAYOID});
	ret = execute_in_key_order(counters_plan, args);
	if (ret != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "lexledger: batch balance update failed: %s", SPI_result_code_string(ret));
	require_balance_rows(m);

	for (uint64 r = 0; r < SPI_processed; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		int64		account_id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		int16		slot = DatumGetInt16(SPI_getbinval(tup, desc, 2, &isnull));
		bool		closed = DatumGetBool(SPI_getbinval(tup, desc, 3, &isnull));
		BatchAccount *a = &b->accounts[account_index(b, account_id)];
		Counters	after;

		if (how == COUNTERS_TAKE_BACK)
			continue;
		if (how == COUNTERS_DECIDED)
		{
			if (closed)
				ereport(ERROR,
						(errcode(ERRCODE_LX_ACCOUNT_CLOSED),
						 errmsg("account_closed: account " INT64_FORMAT " was closed while the batch ran",
								account_id),
						 errhint("Retry the batch: requests for the closed account then fail alone.")));
			continue;
		}
		a->closed |= closed;
		after.debits_pending = DatumGetInt64(SPI_getbinval(tup, desc, 4, &isnull));
		after.debits_posted = DatumGetInt64(SPI_getbinval(tup, desc, 5, &isnull));
		after.credits_pending = DatumGetInt64(SPI_getbinval(tup, desc, 6, &isnull));
		after.credits_posted = DatumGetInt64(SPI_getbinval(tup, desc, 7, &isnull));
		a->counters = after;
		counters_add(&a->counters, &rows[slot_row_index(rows, m, account_id, slot)].delta, -1);
	}
}

static void
emit_results(Batch *b, ReturnSetInfo *rsinfo)
{
	for (int i = 0; i < b->n; i++)
	{
		BatchItem  *item = &b->items[i];
		Datum		values[4];
		bool		nulls[4] = {false, item->id_isnull, false, item->created_at_isnull};

		values[0] = Int32GetDatum(i + 1);
		values[1] = UUIDPGetDatum(&item->t.id);
		values[2] = CStringGetTextDatum(item->result);
		values[3] = TimestampTzGetDatum(item->created_at);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
}

/*
 * Whether the last play posts exactly the requests that the attempt
 * inserted.  Its other answers may differ from the play the insert
 * followed (a request fails on a locked counter where it was linked to a
 * failure before): they are the last play's, which the caller reports.
 */
static bool
same_postings(Batch *b)
{
	for (int i = 0; i < b->n; i++)
		if (is_new_posting(&b->items[i]) != b->inserted[i])
			return false;
	return true;
}

static bool
failed_with_id(const BatchItem *item)
{
	return !item->id_isnull && item->initial_result == NULL &&
		strcmp(item->result, "ok") != 0 && strcmp(item->result, "exists") != 0;
}

/*
 * Whether a request that passed its own checks (steps 1 and 3) and failed
 * in step 4 reuses the id of a posted transfer: its answer is then
 * 'exists' (or exists_with_different_...), which only the careful path
 * works out.
 */
static bool
any_failed_id_posted(Batch *b)
{
	int			count;
	Datum		ids = uuid_array(b, failed_with_id, &count);
	int			ret;

	if (count == 0)
		return false;
	ledger_prepare(&failed_posted_plan,
				   "SELECT 1 FROM lexledger.transfer WHERE id = ANY ($1) LIMIT 1",
				   1, (Oid[]) {UUIDARRAYOID});
	/*
	 * Not read-only: a read-only query sees the snapshot of the statement's
	 * start, and would miss a transfer posted earlier in this statement (a
	 * transfer() or another batch in the same query), as find_existing does
	 * not.
	 */
	ret = SPI_execute_plan(failed_posted_plan, &ids, NULL, false, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "lexledger: transfer lookup failed: %s", SPI_result_code_string(ret));
	return SPI_processed > 0;
}

/*
 * Whether the play under the locks posts only requests that the attempt
 * inserted, so that the attempt can be kept by taking back the others
 * (take_back).  A request that posts now and was not inserted (a balance
 * grew, or it repeats the id of a request that no longer posts) needs a
 * new attempt.
 */
static bool
posts_only_inserted(Batch *b)
{
	for (int i = 0; i < b->n; i++)
		if (is_new_posting(&b->items[i]) && !b->inserted[i])
			return false;
	return true;
}

static Oid
history_relid(const char *name)
{
	Oid			relid = get_relname_relid(name, get_namespace_oid("lexledger", false));

	if (!OidIsValid(relid))
		elog(ERROR, "lexledger: table lexledger.%s is missing", name);
	return relid;
}

/*
 * Whether a DELETE on this table runs no code but the extension's own: no
 * trigger but, on the history ("is_history"), its append-only ones (by
 * name, function and the absence of a WHEN condition), no foreign key
 * pointing at it (its checks are triggers on this table, which run the
 * referencing table's code: its casts, its actions' triggers), no rule,
 * no row security, no child table.  take_back deletes as the table's owner
 * only then: anything else would run with the owner's rights, code written
 * by a role that merely holds TRIGGER or REFERENCES on the table.  Locks
 * the table in RowExclusiveLock (the batch's insert already holds it on
 * the history), which keeps new triggers and foreign keys out until the
 * transaction ends.  Returns the table's owner through *owner, if given.
 */
static bool
deletes_run_only_own_code(Oid relid, Oid own_trigger_fn, bool is_history, Oid *owner)
{
	Relation	rel = table_open(relid, RowExclusiveLock);
	bool		own = rel->rd_rules == NULL && !rel->rd_rel->relrowsecurity &&
		!rel->rd_rel->relhassubclass;

	for (int i = 0; own && rel->trigdesc != NULL && i < rel->trigdesc->numtriggers; i++)
	{
		Trigger    *tg = &rel->trigdesc->triggers[i];

		/* a WHEN condition is code too, whatever function the trigger runs */
		own = is_history && !tg->tgisinternal && tg->tgfoid == own_trigger_fn &&
			tg->tgqual == NULL &&
			(strcmp(tg->tgname, "transfer_is_append_only") == 0 ||
			 strcmp(tg->tgname, "transfer_is_never_truncated") == 0);
	}
	if (owner != NULL)
		*owner = rel->rd_rel->relowner;
	table_close(rel, NoLock);
	return own;
}

/* The ids take_back is deleting, sorted; only while its statement runs. */
static pg_uuid_t *taking_back_ids = NULL;
static int	taking_back_count = 0;

static int
cmp_uuid(const void *a, const void *b)
{
	return memcmp(a, b, UUID_LEN);
}

/*
 * Deletes the transfers (and their holds) that this attempt inserted and
 * the play under the locks no longer posts (a wallet ran dry, or a
 * concurrent transfer drained it): cheaper than undoing the attempt and
 * playing the whole batch again, when one request of a thousand fails.
 * These rows were never visible to another transaction, so no committed
 * transfer is ever deleted.  The history's append-only trigger lets these
 * rows, and only them, through (batch_takes_back), and the statement runs
 * as the owner of the history, the way PostgreSQL runs its foreign-key
 * checks as the owner of the table checked: the caller needs no DELETE
 * privilege on an append-only table.  It runs under key_order_settings, so
 * it finds its rows through the primary key whatever the caller's planner
 * settings.  Marks the requests taken back; the caller takes back their
 * counters.  Returns false, changing nothing, when a DELETE on these
 * tables would run code of others (deletes_run_only_own_code): the caller
 * then undoes the attempt instead.
 */
static bool
take_back(Batch *b)
{
	pg_uuid_t  *ids = palloc(sizeof(pg_uuid_t) * Max(b->n, 1));
	Datum	   *id_datums = palloc(sizeof(Datum) * Max(b->n, 1));
	int			n = 0;
	Oid			own_trigger_fn,
				owner = InvalidOid;
	Datum		arg;
	Oid			save_userid;
	int			save_sec_context;
	int			ret = 0;

	for (int i = 0; i < b->n; i++)
		if (b->inserted[i] && !is_new_posting(&b->items[i]))
			ids[n++] = b->items[i].t.id;
	if (n > 0)
	{
		own_trigger_fn = LookupFuncName(list_make2(makeString("lexledger"),
												   makeString("refuse_history_change")),
										0, NULL, false);
		if (!deletes_run_only_own_code(history_relid("transfer"), own_trigger_fn, true, &owner) ||
			!deletes_run_only_own_code(history_relid("pending_transfer"), own_trigger_fn, false, NULL))
		{
			elog(DEBUG1, "lexledger: batch cannot take back refused requests: triggers, rules or row security of others on its tables");
			return false;
		}
	}

	for (int i = 0; i < b->n; i++)
	{
		BatchItem  *item = &b->items[i];

		item->taken_back = b->inserted[i] && !is_new_posting(item);
		if (item->taken_back)
			b->inserted[i] = false;
		if (!is_new_posting(item) && strcmp(item->result, "exists") != 0)
			item->created_at_isnull = true;
	}
	if (n == 0)
		return true;

	qsort(ids, n, sizeof(pg_uuid_t), cmp_uuid);
	for (int i = 0; i < n; i++)
		id_datums[i] = UUIDPGetDatum(&ids[i]);
	arg = PointerGetDatum(construct_array(id_datums, n, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR));
	ledger_prepare(&take_back_plan,
				   "WITH t AS (DELETE FROM lexledger.transfer"
				   "            WHERE id OPERATOR(pg_catalog.=) ANY ($1) RETURNING id),"
				   "     h AS (DELETE FROM lexledger.pending_transfer"
				   "            WHERE transfer_id OPERATOR(pg_catalog.=) ANY ($1))"
				   " SELECT pg_catalog.count(*) FROM t",
				   1, (Oid[]) {UUIDARRAYOID});

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(owner,
						   save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	taking_back_ids = ids;
	taking_back_count = n;
	PG_TRY();
	{
		ret = execute_in_key_order(take_back_plan, &arg);
	}
	PG_FINALLY();
	{
		taking_back_ids = NULL;
		taking_back_count = 0;
		SetUserIdAndSecContext(save_userid, save_sec_context);
	}
	PG_END_TRY();
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "lexledger: batch take-back failed: %s", SPI_result_code_string(ret));
	{
		bool		isnull;
		int64		deleted = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
														  SPI_tuptable->tupdesc, 1, &isnull));

		if (deleted != n)
			elog(ERROR, "lexledger: batch took back " INT64_FORMAT " of its %d transfers",
				 deleted, n);
	}
	elog(DEBUG1, "lexledger: batch took back %d transfers that no longer post", n);
	return true;
}

PG_FUNCTION_INFO_V1(lexledger_batch_takes_back);

/*
 * lexledger.batch_takes_back(id): true only for a transfer that
 * transfer_batch is deleting because it inserted it itself in the same
 * call and then did not post it (take_back), and only while that
 * statement runs; the history's append-only trigger lets those deletions
 * through.
 */
Datum
lexledger_batch_takes_back(PG_FUNCTION_ARGS)
{
	pg_uuid_t  *id = PG_GETARG_UUID_P(0);

	PG_RETURN_BOOL(taking_back_ids != NULL &&
				   bsearch(id, taking_back_ids, taking_back_count, sizeof(pg_uuid_t),
						   cmp_uuid) != NULL);
}

static void
save_initial_results(Batch *b)
{
	for (int i = 0; i < b->n; i++)
		b->items[i].initial_result = b->items[i].result;
}

/*
 * Whether the careful path answers this error of the fast path: an id of
 * the batch already posted (the retry is answered 'exists'), or counters
 * that the batch's unchecked sums overflow (the request that overflows
 * gets amount_out_of_range).
 */
static bool
is_careful_path_error(const ErrorData *edata)
{
	if (edata->sqlerrcode == ERRCODE_UNIQUE_VIOLATION)
		return edata->constraint_name != NULL &&
			strcmp(edata->constraint_name, "transfer_pkey") == 0;
	return edata->sqlerrcode == ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE;
}

/*
 * Runs one attempt at posting, "attempt", in a subtransaction
 * (lexledger_in_subtransaction): kept when the attempt returns true; rolled
 * back when it returns false, or when it raises an error that "answered"
 * (if given) says the careful path answers, and then returns false.  Other
 * errors travel on.
 */
typedef struct Attempt
{
	Batch	   *batch;
	bool		(*attempt) (Batch *);
} Attempt;

static bool
run_attempt(void *arg)
{
	Attempt    *a = arg;

	return a->attempt(a->batch);
}

static bool
in_subtransaction(Batch *b, bool (*attempt) (Batch *),
				  bool (*answered) (const ErrorData *))
{
	Attempt		a = {b, attempt};
	ErrorData  *edata;

	if (lexledger_in_subtransaction(run_attempt, &a, &edata))
		return true;
	if (edata == NULL)
		return false;
	if (answered == NULL || !answered(edata))
		ReThrowError(edata);
	FreeErrorData(edata);
	return false;
}

/*
 * The fast path, steps 5 to 7: insert (a unique violation tells that the
 * batch holds a retry), then lock the rows with the update and check, by
 * playing the requests again on the counters it returns, that the
 * decisions of step 4 still hold.
 */
static bool
post_fast(Batch *b)
{
	if (!insert_transfers(b, true))
		return false;			/* not reached: a plain insert raises instead */
	update_counters(b, COUNTERS_BET);
	play_requests(b);
	if (same_postings(b))
		return true;
	if (!posts_only_inserted(b) || !take_back(b))
		return false;
	update_counters(b, COUNTERS_TAKE_BACK);
	return true;
}

/*
 * One attempt of the careful path, ids before rows like every other
 * posting: insert the requests that the play on the unlocked counters
 * posts, then lock the rows, play again, and keep the attempt if the
 * locked play posts exactly those.  Returns false (the caller undoes the
 * attempt) when a concurrent transaction posted one of the ids since the
 * lookup, or changed a balance that a decision relied on.
 */
static bool
claim_ids_then_post(Batch *b)
{
	b->id_taken = !insert_transfers(b, false);
	if (b->id_taken)
		return false;
	read_rows(b, BALANCE_ROWS_LOCK);
	play_requests(b);
	if (!same_postings(b) && (!posts_only_inserted(b) || !take_back(b)))
		return false;
	update_counters(b, COUNTERS_DECIDED);
	return true;
}

/*
 * The careful path: retries first (step 2), then decide on the locked
 * counters, in attempts (claim_ids_then_post) until one is kept.  Each
 * attempt starts afresh: nothing of an attempt that was rolled back
 * survives, its timestamps included; an id found posted stays posted.  An
 * attempt is undone when a concurrent transaction posted one of the
 * batch's ids since the lookup (the next lookup finds it, so this happens
 * at most once per id), or changed a balance between the unlocked read and
 * the lock so that other requests post.  The batch never takes its rows
 * before its ids, even after many attempts: a call waiting for one of its
 * ids, released by an undone attempt, could then deadlock with it.  When
 * balances keep moving, it gives up after lexledger.batch_attempts
 * attempts with a serialization failure, which the caller retries.
 */
static void
post_carefully(Batch *b)
{
	int			moved = 0,
				taken = 0;

	for (int attempt = 1;; attempt++)
	{
		bool		kept;

		/*
		 * Each attempt runs in an SPI connection of its own, whose memory
		 * SPI_finish frees (every SPI call returns to the connection's
		 * memory, so a context of our own would not hold it): a call undone
		 * many times holds one attempt's memory, not all of them.  What
		 * outlives an attempt (answers, timestamps, counters) is constant
		 * or lives in the batch's own arrays.
		 */
		ledger_spi_connect();
		b->posted = NULL;
		for (int i = 0; i < b->n; i++)
		{
			b->items[i].result = b->items[i].initial_result;
			b->items[i].created_at_isnull = true;
		}
		find_existing(b);
		save_initial_results(b);
		read_rows(b, BALANCE_ROWS_UNLOCKED);
		play_requests(b);
		kept = in_subtransaction(b, claim_ids_then_post, NULL);
		b->posted = NULL;
		SPI_finish();
		if (kept)
			return;
		if (b->id_taken)
			taken++;
		else
			moved++;
		elog(DEBUG1, "lexledger: careful batch attempt %d undone: %s", attempt,
			 b->id_taken ? "a concurrent transaction posted one of its ids"
			 : "a concurrent transaction changed a balance it relied on");
		/* each id can be taken once: the next lookup finds it */
		if (taken > b->n)
			elog(ERROR, "lexledger: batch attempts keep meeting ids the lookup does not find");
		if (moved >= lexledger_batch_attempts)
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg_plural("batch_contended: concurrent transactions undid %d attempt of this batch",
								   "batch_contended: concurrent transactions undid %d attempts of this batch",
								   attempt, attempt),
					 errdetail("%d attempts were undone by changes to the balances the batch decides on, %d by transfer ids posted meanwhile.",
							   moved, taken),
					 errhint("Retry the batch. lexledger.batch_attempts sets how many attempts balance changes may undo.")));
	}
}

PG_FUNCTION_INFO_V1(lexledger_transfer_batch);

/*
 * lexledger.transfer_batch(transfer_request[])
 *		RETURNS TABLE (ordinal, id, result, created_at)
 */
Datum
lexledger_transfer_batch(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Batch		b = {0};

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();

	ledger_spi_connect();
	read_requests(&b, PG_GETARG_ARRAYTYPE_P(0));
	b.inserted = palloc0(sizeof(bool) * Max(b.n, 1));
	read_accounts(&b);
	save_initial_results(&b);
	b.assume_funds = true;
	play_requests(&b);
	b.assume_funds = false;

	/* a failed request reusing a posted id needs the careful path's answer */
	if (any_failed_id_posted(&b))
		post_carefully(&b);
	else if (!in_subtransaction(&b, post_fast, is_careful_path_error))
	{
		elog(DEBUG1, "lexledger: fast batch undone: it holds a retry, overflows a counter, or posts otherwise under the locks");
		post_carefully(&b);
	}
	emit_results(&b, rsinfo);
	SPI_finish();
	return (Datum) 0;
}
