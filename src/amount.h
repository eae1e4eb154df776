/*
 * amount.h
 *		lexledger.amount: exact money as a signed 64-bit count of minor units
 *		plus a currency (an ISO-4217 code or a registered unit of account).
 *
 * The currency's number of decimals travels inside every value, so text
 * output never looks anything up; only input and binary receive consult the
 * currency registry (a static ISO table, then the lexledger.custom_unit table).
 */
#ifndef LEXLEDGER_AMOUNT_H
#define LEXLEDGER_AMOUNT_H

#include "postgres.h"
#include "fmgr.h"

/* Longest currency or unit code, not counting the terminating NUL. */
#define AMOUNT_CODE_MAXLEN	6

/* Most decimals any currency or unit may have. */
#define AMOUNT_MAX_SCALE	6

typedef struct Amount
{
	int64		units;			/* minor units: cents, fils, pages... */
	char		code[AMOUNT_CODE_MAXLEN + 1];	/* NUL-padded, upper case */
	uint8		scale;			/* decimals of this currency */
} Amount;

StaticAssertDecl(sizeof(Amount) == 16, "Amount must stay 16 bytes");

#define DatumGetAmountP(X)		((Amount *) DatumGetPointer(X))
#define AmountPGetDatum(X)		PointerGetDatum(X)
#define PG_GETARG_AMOUNT_P(n)	DatumGetAmountP(PG_GETARG_DATUM(n))
#define PG_RETURN_AMOUNT_P(x)	return AmountPGetDatum(x)

/*
 * Same currency: code and scale, which lie side by side (the 8 bytes after
 * units).  The scale follows from the code, except in a value made while a
 * create_unit that was then rolled back was in effect (a constant kept in
 * a prepared plan); such a value must not pass for equal to, or mix with,
 * one of the unit registered later with other decimals.
 */
static inline bool
amount_same_currency(const Amount *a, const Amount *b)
{
	return memcmp(a->code, b->code, sizeof(a->code) + sizeof(a->scale)) == 0;
}

/*
 * Registry of currencies and units (currency.c).  Returns the number of
 * decimals of "code", or -1 when the code is unknown.  "code" must be
 * NUL-padded to AMOUNT_CODE_MAXLEN + 1 bytes.
 */
extern int	currency_scale(const char *code);

/*
 * Whether a's decimals are those its currency has now: false only for a
 * value made while a create_unit that was then rolled back was in effect
 * (see amount_same_currency), which must not post at another size.
 */
static inline bool
amount_scale_is_current(const Amount *a)
{
	return currency_scale(a->code) == a->scale;
}

/*
 * Raises currency_mismatch unless a and b share a currency; "what" names the
 * operation for the message (e.g. "add").
 */
extern void amount_check_same_currency(const Amount *a, const Amount *b,
									   const char *what);

/* Builds an amount; raises unknown_currency for an unregistered code. */
extern Amount *amount_make(int64 units, const char *code);

/* Text form, e.g. "150.00 ZAR"; palloc'd. */
extern char *amount_to_cstring(const Amount *a);

#endif							/* LEXLEDGER_AMOUNT_H */
