/*
 * ledger.h
 *		The posting path shared by single transfers (ledger.c), batches
 *		(ledger_batch.c) and holds (escrow.c).
 */
#ifndef LEXLEDGER_LEDGER_H
#define LEXLEDGER_LEDGER_H

#include "postgres.h"

#include "access/htup.h"
#include "access/tupdesc.h"
#include "executor/spi.h"
#include "utils/uuid.h"

#include "amount.h"

/* The immutable part of an account, cached per backend (ledger_account.c). */
typedef struct LedgerAccount
{
	int64		id;				/* hash key: must be first */
	char		code[AMOUNT_CODE_MAXLEN + 1];
	bool		debits_limited; /* debits_must_not_exceed_credits */
	bool		credits_limited;	/* credits_must_not_exceed_debits */
	int16		slots;
} LedgerAccount;

#define LedgerAccountIsLimited(a) ((a)->debits_limited || (a)->credits_limited)

/* The four counters of an account (or of one of its slots), minor units. */
typedef struct Counters
{
	int64		debits_pending;
	int64		debits_posted;
	int64		credits_pending;
	int64		credits_posted;
} Counters;

/* lexledger.transfer_kind, in the enum's order. */
typedef enum TransferKind
{
	TK_POSTED,
	TK_PENDING,
	TK_POST_PENDING,
	TK_VOID_PENDING,
	TK_EXPIRE_PENDING
} TransferKind;

extern const char *const transfer_kind_names[];

/* A transfer as the posting path sees it (one row of lexledger.transfer). */
typedef struct TransferRow
{
	pg_uuid_t	id;
	int64		debit_account_id;
	int64		credit_account_id;
	Amount		amount;
	TransferKind kind;
	int32		code;
	Datum		reference;		/* jsonb */
	bool		reference_isnull;
	pg_uuid_t	pending_id;
	bool		pending_id_isnull;
	Amount		pending_amount;	/* valid when pending_id is set */
	Datum		timeout;		/* interval */
	bool		timeout_isnull;
} TransferRow;

/* Column numbers of lexledger.transfer, as RETURNING * yields them. */
enum
{
	TCOL_ID = 1,
	TCOL_DEBIT,
	TCOL_CREDIT,
	TCOL_AMOUNT,
	TCOL_KIND,
	TCOL_CODE,
	TCOL_REFERENCE,
	TCOL_PENDING_ID,
	TCOL_PENDING_AMOUNT,
	TCOL_TIMEOUT,
	TCOL_CREATED_AT,
	TCOL_COUNT = TCOL_CREATED_AT
};

/* ledger_account.c */
extern bool ledger_account_lookup(int64 id, LedgerAccount *out);
extern void ledger_account_forget_all(void);
extern void ledger_account_prefetch(const int64 *ids, int n);
extern bool ledger_account_prefetched(int64 id, LedgerAccount *out);
extern int	ledger_account_slot(const LedgerAccount *account);

/* ledger_id.c */
extern void ledger_new_id(pg_uuid_t *id);

/* ledger.c: building blocks of a posting */
extern void ledger_spi_connect(void);
extern void ledger_check_types(void);
extern SPIPlanPtr ledger_prepare(SPIPlanPtr *cache, const char *sql,
								 int nargs, Oid *argtypes);
extern Oid	ledger_type_oid(const char *name);
extern void ledger_accounts_for_transfer(const TransferRow *t, LedgerAccount *debit,
										 LedgerAccount *credit);
extern bool ledger_insert_transfer(const TransferRow *t, HeapTuple *tuple,
								   TupleDesc *tupdesc);
extern bool ledger_fetch_transfer(const pg_uuid_t *id, HeapTuple *tuple,
								  TupleDesc *tupdesc);
extern const char *ledger_rows_difference(const TransferRow *e, const TransferRow *t);
extern const char *ledger_first_difference(const TransferRow *t, HeapTuple existing,
										   TupleDesc tupdesc);
extern void ledger_check_replay(const TransferRow *t, HeapTuple existing,
								TupleDesc tupdesc);
extern void ledger_apply(const LedgerAccount *account, int slot,
						 const Counters *delta, bool allow_closed,
						 const Amount *amount);
/* A balance row: one slot of one account.  Every path takes rows in this
 * key's order (ledger_cmp_balance_row). */
typedef struct BalanceRowKey
{
	int64		account_id;
	int16		slot;
} BalanceRowKey;

/* How ledger_read_balance_rows takes its rows. */
typedef enum BalanceRowLock
{
	BALANCE_ROWS_UNLOCKED,		/* read only: a guess, to be checked under lock */
	BALANCE_ROWS_LOCK,			/* FOR NO KEY UPDATE, waiting for busy rows */
	BALANCE_ROWS_SKIP_LOCKED	/* FOR NO KEY UPDATE, leaving busy rows out */
} BalanceRowLock;

extern int	ledger_cmp_balance_row(const void *a, const void *b);
extern void ledger_read_balance_rows(const BalanceRowKey *rows, int n, BalanceRowLock lock);
extern void ledger_post_counters(const TransferRow *t, const LedgerAccount *debit,
								 const LedgerAccount *credit, int64 pending_release);
extern bool ledger_limit_violated(const LedgerAccount *account,
								  const Counters *after, const Counters *delta);
extern Datum ledger_result_tuple(FunctionCallInfo fcinfo, MemoryContext caller_cxt,
								 HeapTuple tuple, TupleDesc tupdesc);
extern void ledger_validate_new(const TransferRow *t);
extern void ledger_transfer_from_tuple(HeapTuple tuple, TupleDesc tupdesc,
									   TransferRow *t);
extern char *uuid_to_cstring(const pg_uuid_t *uuid);
extern void ledger_corrupted(const char *what, const pg_uuid_t *id) pg_attribute_noreturn();

/* escrow.c */
#define HOLD_TIMEOUT_MAX_YEARS 100
extern const char *escrow_timeout_problem(Datum timeout);
extern void escrow_validate_timeout(const TransferRow *t);
extern void escrow_record_hold(const TransferRow *t, HeapTuple tuple, TupleDesc tupdesc);

#endif							/* LEXLEDGER_LEDGER_H */
