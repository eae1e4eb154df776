/*
 * currency.c
 *		The currency registry behind lexledger.amount: how many decimals a
 *		currency code has.
 *
 * Two sources, consulted in this order:
 *
 * 1. A static, sorted table of the active ISO-4217 currencies and their
 *	  minor units, searched by binary search.  This path never touches SPI,
 *	  a catalog or a lock, so registering units of account can never slow
 *	  down ordinary money.
 *
 * 2. Units of account registered in the table lexledger.custom_unit (PAGE, FILE,
 *	  ...).  A backend-local hash table caches the units found there.  A miss
 *	  costs one SPI query; only positive answers are cached, so a unit
 *	  becomes usable as soon as it is visible to the querying snapshot.
 *	  Units are immutable (a trigger forbids UPDATE, DELETE and TRUNCATE), so
 *	  a cached entry can only go wrong if the transaction (or subtransaction)
 *	  that created the unit rolls back after we cached it, or if the table is
 *	  dropped (DROP EXTENSION).  Transaction callbacks forget entries cached
 *	  by a transaction that aborts, and a relcache callback forgets
 *	  everything when lexledger.custom_unit itself is invalidated.
 */
#include "postgres.h"

#include <ctype.h>

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/tuplestore.h"

#include "lexledger.h"

/* ----------------------------------------------------------------------
 * ISO-4217
 * ----------------------------------------------------------------------
 */

typedef struct IsoCurrency
{
	char		code[4];
	uint8		decimals;
} IsoCurrency;

/*
 * The active codes of ISO 4217 "List One" that have minor units, with those
 * minor units.  Codes without minor units (precious metals XAU, XAG, XPD,
 * XPT, the SDR XDR, XSU, XUA, the testing code XTS and XXX) are left out:
 * an amount needs a fixed number of decimals.  Withdrawn codes (HRK, SLL,
 * ZWL, CUC, ...) are left out too; ANG stays beside its successor XCG while
 * both are in use.
 *
 * KEEP SORTED by code (strcmp order): lookups use binary search, and the
 * regression test checks the order through lexledger.iso_currencies().
 */
static const IsoCurrency iso_currencies[] = {
	{"AED", 2}, {"AFN", 2}, {"ALL", 2}, {"AMD", 2}, {"ANG", 2}, {"AOA", 2},
	{"ARS", 2}, {"AUD", 2}, {"AWG", 2}, {"AZN", 2},
	{"BAM", 2}, {"BBD", 2}, {"BDT", 2}, {"BGN", 2}, {"BHD", 3}, {"BIF", 0},
	{"BMD", 2}, {"BND", 2}, {"BOB", 2}, {"BOV", 2}, {"BRL", 2}, {"BSD", 2},
	{"BTN", 2}, {"BWP", 2}, {"BYN", 2}, {"BZD", 2},
	{"CAD", 2}, {"CDF", 2}, {"CHE", 2}, {"CHF", 2}, {"CHW", 2}, {"CLF", 4},
	{"CLP", 0}, {"CNY", 2}, {"COP", 2}, {"COU", 2}, {"CRC", 2}, {"CUP", 2},
	{"CVE", 2}, {"CZK", 2},
	{"DJF", 0}, {"DKK", 2}, {"DOP", 2}, {"DZD", 2},
	{"EGP", 2}, {"ERN", 2}, {"ETB", 2}, {"EUR", 2},
	{"FJD", 2}, {"FKP", 2},
	{"GBP", 2}, {"GEL", 2}, {"GHS", 2}, {"GIP", 2}, {"GMD", 2}, {"GNF", 0},
	{"GTQ", 2}, {"GYD", 2},
	{"HKD", 2}, {"HNL", 2}, {"HTG", 2}, {"HUF", 2},
	{"IDR", 2}, {"ILS", 2}, {"INR", 2}, {"IQD", 3}, {"IRR", 2}, {"ISK", 0},
	{"JMD", 2}, {"JOD", 3}, {"JPY", 0},
	{"KES", 2}, {"KGS", 2}, {"KHR", 2}, {"KMF", 0}, {"KPW", 2}, {"KRW", 0},
	{"KWD", 3}, {"KYD", 2}, {"KZT", 2},
	{"LAK", 2}, {"LBP", 2}, {"LKR", 2}, {"LRD", 2}, {"LSL", 2}, {"LYD", 3},
	{"MAD", 2}, {"MDL", 2}, {"MGA", 2}, {"MKD", 2}, {"MMK", 2}, {"MNT", 2},
	{"MOP", 2}, {"MRU", 2}, {"MUR", 2}, {"MVR", 2}, {"MWK", 2}, {"MXN", 2},
	{"MXV", 2}, {"MYR", 2}, {"MZN", 2},
	{"NAD", 2}, {"NGN", 2}, {"NIO", 2}, {"NOK", 2}, {"NPR", 2}, {"NZD", 2},
	{"OMR", 3},
	{"PAB", 2}, {"PEN", 2}, {"PGK", 2}, {"PHP", 2}, {"PKR", 2}, {"PLN", 2},
	{"PYG", 0},
	{"QAR", 2},
	{"RON", 2}, {"RSD", 2}, {"RUB", 2}, {"RWF", 0},
	{"SAR", 2}, {"SBD", 2}, {"SCR", 2}, {"SDG", 2}, {"SEK", 2}, {"SGD", 2},
	{"SHP", 2}, {"SLE", 2}, {"SOS", 2}, {"SRD", 2}, {"SSP", 2}, {"STN", 2},
	{"SVC", 2}, {"SYP", 2}, {"SZL", 2},
	{"THB", 2}, {"TJS", 2}, {"TMT", 2}, {"TND", 3}, {"TOP", 2}, {"TRY", 2},
	{"TTD", 2}, {"TWD", 2}, {"TZS", 2},
	{"UAH", 2}, {"UGX", 0}, {"USD", 2}, {"USN", 2}, {"UYI", 0}, {"UYU", 2},
	{"UYW", 4}, {"UZS", 2},
	{"VED", 2}, {"VES", 2}, {"VND", 0}, {"VUV", 0},
	{"WST", 2},
	{"XAF", 0}, {"XCD", 2}, {"XCG", 2}, {"XOF", 0}, {"XPF", 0},
	{"YER", 2},
	{"ZAR", 2}, {"ZMW", 2}, {"ZWG", 2},
};

/* Decimals of an ISO currency, or -1; "code" is NUL-terminated. */
static int
iso_currency_scale(const char *code)
{
	int			lo = 0;
	int			hi = lengthof(iso_currencies) - 1;

	while (lo <= hi)
	{
		int			mid = lo + (hi - lo) / 2;
		int			c = strcmp(code, iso_currencies[mid].code);

		if (c == 0)
			return iso_currencies[mid].decimals;
		if (c < 0)
			hi = mid - 1;
		else
			lo = mid + 1;
	}
	return -1;
}

/*
 * The active ISO-4217 codes that have no minor unit: precious metals, bond
 * market units, the SDR, XSU, XUA, the testing code XTS and XXX.  Amounts
 * cannot be in them (an amount needs a number of decimals), and no unit of
 * account may take their codes either.
 */
static const char *const iso_codes_without_minor_unit[] = {
	"XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XDR", "XPD", "XPT", "XSU",
	"XTS", "XUA", "XXX",
};

static bool
is_iso_code_without_minor_unit(const char *code)
{
	for (int i = 0; i < lengthof(iso_codes_without_minor_unit); i++)
		if (strcmp(code, iso_codes_without_minor_unit[i]) == 0)
			return true;
	return false;
}

/* ----------------------------------------------------------------------
 * Units of account: backend-local cache over lexledger.custom_unit
 * ----------------------------------------------------------------------
 */

typedef struct UnitCacheEntry
{
	char		code[AMOUNT_CODE_MAXLEN + 1];	/* hash key, NUL-padded */
	uint8		decimals;

	/*
	 * Subtransaction that cached the entry, or InvalidSubTransactionId once
	 * the top transaction has committed.  Entries cached by a subtransaction
	 * that aborts, or by a top transaction that aborts, are forgotten: the
	 * unit may have been created by the very work being rolled back.
	 */
	SubTransactionId subid;
} UnitCacheEntry;

static HTAB *unit_cache = NULL;

/* Number of cache entries whose subid is still set. */
static int	unit_cache_uncommitted = 0;

/* Set by the relcache callback; the cache is emptied at the next lookup. */
static bool unit_cache_reset_pending = false;

/* OID of lexledger.custom_unit when we last looked, for the relcache callback. */
static Oid	unit_relid = InvalidOid;

static bool unit_callbacks_registered = false;

static void
unit_cache_reset(void)
{
	if (unit_cache != NULL)
		hash_destroy(unit_cache);
	unit_cache = NULL;
	unit_cache_uncommitted = 0;
	unit_cache_reset_pending = false;
}

/*
 * Forgets uncommitted entries cached by subtransaction "from" or later ones
 * (later subtransaction ids were started inside it while it was open);
 * from = InvalidSubTransactionId (0) forgets every uncommitted entry.
 */
static void
unit_cache_forget_uncommitted(SubTransactionId from)
{
	HASH_SEQ_STATUS status;
	UnitCacheEntry *entry;

	if (unit_cache == NULL || unit_cache_uncommitted == 0)
		return;

	hash_seq_init(&status, unit_cache);
	while ((entry = (UnitCacheEntry *) hash_seq_search(&status)) != NULL)
	{
		if (entry->subid != InvalidSubTransactionId && entry->subid >= from)
		{
			hash_search(unit_cache, entry->code, HASH_REMOVE, NULL);
			unit_cache_uncommitted--;
		}
	}
}

/* Marks every entry as committed: it now describes a committed unit. */
static void
unit_cache_mark_committed(void)
{
	HASH_SEQ_STATUS status;
	UnitCacheEntry *entry;

	if (unit_cache == NULL || unit_cache_uncommitted == 0)
		return;

	hash_seq_init(&status, unit_cache);
	while ((entry = (UnitCacheEntry *) hash_seq_search(&status)) != NULL)
		entry->subid = InvalidSubTransactionId;
	unit_cache_uncommitted = 0;
}

static void
unit_cache_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			unit_cache_mark_committed();
			break;

			/*
			 * A prepared transaction may still be rolled back, from any
			 * session; forget what it cached rather than risk a phantom.
			 */
		case XACT_EVENT_PREPARE:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			unit_cache_forget_uncommitted(InvalidSubTransactionId);
			break;
		default:
			break;
	}
}

static void
unit_cache_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
							SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
		unit_cache_forget_uncommitted(mySubid);
}

/*
 * DROP EXTENSION (or anything else that invalidates lexledger.custom_unit) may be
 * followed by a new table with different units: start afresh.  Only a flag
 * is set here, since invalidations can arrive while a lookup is running.
 */
static void
unit_cache_relcache_callback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == unit_relid)
		unit_cache_reset_pending = true;
}

static void
unit_cache_init(void)
{
	HASHCTL		ctl;

	if (!unit_callbacks_registered)
	{
		RegisterXactCallback(unit_cache_xact_callback, NULL);
		RegisterSubXactCallback(unit_cache_subxact_callback, NULL);
		CacheRegisterRelcacheCallback(unit_cache_relcache_callback, (Datum) 0);
		unit_callbacks_registered = true;
	}

	/* dynahash gives the table its own child of TopMemoryContext */
	ctl.keysize = AMOUNT_CODE_MAXLEN + 1;
	ctl.entrysize = sizeof(UnitCacheEntry);
	ctl.hcxt = TopMemoryContext;
	unit_cache = hash_create("lexledger unit cache", 32, &ctl,
							 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	unit_cache_uncommitted = 0;
}

/* OID of lexledger.custom_unit, or InvalidOid when it does not exist (yet). */
static Oid
unit_table_oid(void)
{
	Oid			nspid = get_namespace_oid("lexledger", true);

	if (!OidIsValid(nspid))
		return InvalidOid;
	return get_relname_relid("custom_unit", nspid);
}

/*
 * One SPI query of lexledger.custom_unit: the unit's decimals, or -1 if there is
 * no such unit.
 *
 * The query runs as the table's owner, the way foreign-key checks do: a
 * user who may read an amount column must be able to parse '3 PAGE' even
 * without rights on lexledger's schema.  It is read-only and uses the
 * caller's snapshot (amount input is STABLE), taking the transaction
 * snapshot only when no query is active.
 */
static int
unit_lookup_decimals(const char *code)
{
	static const char *query =
		"SELECT decimals FROM lexledger.custom_unit WHERE code OPERATOR(pg_catalog.=) $1";
	Oid			relid;
	HeapTuple	classtup;
	Oid			owner;
	Oid			save_userid;
	int			save_sec_context;
	bool		pushed_snapshot = false;
	Oid			argtype = TEXTOID;
	Datum		arg;
	int			ret;
	int			decimals = -1;

	/* Before CREATE EXTENSION has made the table, no unit exists. */
	relid = unit_table_oid();
	if (!OidIsValid(relid) || !IsTransactionState())
		return -1;
	unit_relid = relid;

	classtup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(classtup))
		return -1;
	owner = ((Form_pg_class) GETSTRUCT(classtup))->relowner;
	ReleaseSysCache(classtup);

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(owner, save_sec_context |
						   SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION |
						   SECURITY_NOFORCE_RLS);

	if (!ActiveSnapshotSet())
	{
		PushActiveSnapshot(GetTransactionSnapshot());
		pushed_snapshot = true;
	}

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "lexledger: SPI_connect failed");

	arg = CStringGetTextDatum(code);
	ret = SPI_execute_with_args(query, 1, &argtype, &arg, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "lexledger: unit lookup failed: %s",
			 SPI_result_code_string(ret));

	if (SPI_processed == 1)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0],
									  SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			decimals = DatumGetInt16(d);
	}

	SPI_finish();

	if (pushed_snapshot)
		PopActiveSnapshot();
	SetUserIdAndSecContext(save_userid, save_sec_context);

	/* The table's CHECK constraint keeps this in range; be sure anyway. */
	if (decimals < 0 || decimals > AMOUNT_MAX_SCALE)
		return -1;
	return decimals;
}

/* Decimals of a registered unit, or -1; "code" is NUL-padded. */
static int
unit_scale(const char *code)
{
	UnitCacheEntry *entry;
	bool		found;
	int			decimals;

	if (unit_cache_reset_pending)
		unit_cache_reset();
	if (unit_cache == NULL)
		unit_cache_init();

	entry = (UnitCacheEntry *) hash_search(unit_cache, code, HASH_FIND, NULL);
	if (entry != NULL)
		return entry->decimals;

	decimals = unit_lookup_decimals(code);
	if (decimals < 0)
		return -1;

	/*
	 * If lexledger.custom_unit was invalidated while we queried it, the answer is
	 * still right for this query, but do not cache it.
	 */
	if (unit_cache_reset_pending)
		return decimals;

	entry = (UnitCacheEntry *) hash_search(unit_cache, code, HASH_ENTER, &found);
	entry->decimals = (uint8) decimals;
	entry->subid = GetCurrentSubTransactionId();
	unit_cache_uncommitted++;
	return decimals;
}

/*
 * currency_scale: decimals of an ISO currency or a registered unit, or -1.
 * "code" must be NUL-padded to AMOUNT_CODE_MAXLEN + 1 bytes.
 */
int
currency_scale(const char *code)
{
	int			scale = iso_currency_scale(code);

	if (scale >= 0)
		return scale;
	return unit_scale(code);
}

/* ----------------------------------------------------------------------
 * SQL-callable functions
 * ----------------------------------------------------------------------
 */

PG_FUNCTION_INFO_V1(lexledger_is_iso_currency);
PG_FUNCTION_INFO_V1(lexledger_is_iso_code);
PG_FUNCTION_INFO_V1(lexledger_iso_currencies);

/*
 * The text as a NUL-terminated code in "code", or false when it cannot be
 * one (too long, too short, or holding a NUL).
 */
static bool
code_from_text_arg(text *t, char *code)
{
	int			len = VARSIZE_ANY_EXHDR(t);

	if (len < 1 || len > AMOUNT_CODE_MAXLEN)
		return false;
	memset(code, 0, AMOUNT_CODE_MAXLEN + 1);
	memcpy(code, VARDATA_ANY(t), len);
	/* an embedded NUL cannot occur in text, but keep strcmp honest */
	return strlen(code) == (size_t) len;
}

/*
 * is_iso_currency(text): true if the text is exactly an active ISO-4217
 * code in lexledger's table (case-sensitive: codes are upper case), that
 * is a currency amounts can be in.
 */
Datum
lexledger_is_iso_currency(PG_FUNCTION_ARGS)
{
	char		code[AMOUNT_CODE_MAXLEN + 1];

	PG_RETURN_BOOL(code_from_text_arg(PG_GETARG_TEXT_PP(0), code) &&
				   iso_currency_scale(code) >= 0);
}

/*
 * is_iso_code(text): true for every active ISO-4217 code, those without a
 * minor unit (XAU, XDR, XTS, ...) included.  Used by lexledger.custom_unit's
 * CHECK constraint and by create_unit.
 */
Datum
lexledger_is_iso_code(PG_FUNCTION_ARGS)
{
	char		code[AMOUNT_CODE_MAXLEN + 1];

	PG_RETURN_BOOL(code_from_text_arg(PG_GETARG_TEXT_PP(0), code) &&
				   (iso_currency_scale(code) >= 0 || is_iso_code_without_minor_unit(code)));
}

/* iso_currencies(): every code of the static table, in table order. */
Datum
lexledger_iso_currencies(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			i;

	InitMaterializedSRF(fcinfo, 0);

	for (i = 0; i < lengthof(iso_currencies); i++)
	{
		Datum		values[2];
		bool		nulls[2] = {false, false};

		values[0] = CStringGetTextDatum(iso_currencies[i].code);
		values[1] = Int32GetDatum(iso_currencies[i].decimals);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
