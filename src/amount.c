/*
 * amount.c
 *		lexledger.amount: exact money as a signed 64-bit count of minor units
 *		plus a currency code.
 *
 * Text form: an optional sign, decimal digits with an optional point, white
 * space, and an upper-case currency code: '150.00 ZAR', '-3 JPY',
 * '1.250 KWD'.  Output always prints exactly the currency's decimals.  The
 * value never rounds on input: more decimals than the currency has is an
 * error unless the extra digits are zeros.
 *
 * Arithmetic refuses to mix currencies (currency_mismatch) and never wraps
 * (amount_out_of_range).  Equality across currencies is simply false; the
 * ordering operators raise currency_mismatch, while the btree support
 * function orders by code first so mixed columns can still be indexed and
 * sorted.
 *
 * Every error message starts with a stable code and a colon (see errors.h);
 * src/sql/amount.sql lists the codes in lexledger.error_code.
 */
#include "postgres.h"

#include <ctype.h>

#include "catalog/pg_type_d.h"
#include "common/hashfn.h"
#include "common/int.h"
#include "libpq/pqformat.h"
#include "port/pg_bswap.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/numeric.h"
#include "utils/sortsupport.h"

#include "lexledger.h"

PG_FUNCTION_INFO_V1(amount_in);
PG_FUNCTION_INFO_V1(amount_out);
PG_FUNCTION_INFO_V1(amount_recv);
PG_FUNCTION_INFO_V1(amount_send);
PG_FUNCTION_INFO_V1(amount_add);
PG_FUNCTION_INFO_V1(amount_sub);
PG_FUNCTION_INFO_V1(amount_neg);
PG_FUNCTION_INFO_V1(amount_mul_int8);
PG_FUNCTION_INFO_V1(int8_mul_amount);
PG_FUNCTION_INFO_V1(amount_div_int8);
PG_FUNCTION_INFO_V1(amount_eq);
PG_FUNCTION_INFO_V1(amount_ne);
PG_FUNCTION_INFO_V1(amount_lt);
PG_FUNCTION_INFO_V1(amount_le);
PG_FUNCTION_INFO_V1(amount_gt);
PG_FUNCTION_INFO_V1(amount_ge);
PG_FUNCTION_INFO_V1(amount_cmp);
PG_FUNCTION_INFO_V1(amount_sortsupport);
PG_FUNCTION_INFO_V1(amount_hash);
PG_FUNCTION_INFO_V1(amount_hash_extended);
PG_FUNCTION_INFO_V1(amount_ltsel);
PG_FUNCTION_INFO_V1(amount_lesel);
PG_FUNCTION_INFO_V1(amount_gtsel);
PG_FUNCTION_INFO_V1(amount_gesel);
PG_FUNCTION_INFO_V1(amount_sum_step);
PG_FUNCTION_INFO_V1(amount_smaller);
PG_FUNCTION_INFO_V1(amount_larger);
PG_FUNCTION_INFO_V1(amount_from_numeric);
PG_FUNCTION_INFO_V1(amount_from_minor);
PG_FUNCTION_INFO_V1(amount_to_numeric);
PG_FUNCTION_INFO_V1(amount_minor_units);
PG_FUNCTION_INFO_V1(amount_currency);
PG_FUNCTION_INFO_V1(amount_scale);
PG_FUNCTION_INFO_V1(amount_typmod_in);
PG_FUNCTION_INFO_V1(amount_typmod_out);
PG_FUNCTION_INFO_V1(amount_enforce_typmod);
PG_FUNCTION_INFO_V1(amount_from_numeric_typmod);
PG_FUNCTION_INFO_V1(amount_from_int4_typmod);
PG_FUNCTION_INFO_V1(amount_from_int8_typmod);

#define AMOUNT_TYPE_NAME	"lexledger.amount"
#define AMOUNT_EXAMPLE_HINT	"An amount is a number, a space and a currency code, as in '150.00 ZAR'."
#define CODE_FORMAT_DETAIL	"A currency code is 1 to 6 upper-case letters or digits, starting with a letter."

/*
 * While positive, ordering comparisons between different currencies answer
 * in the btree order (code first) instead of raising currency_mismatch.
 * Only the selectivity estimators below set it: the planner compares a
 * query's constant with statistics of the whole column, which may hold
 * other currencies, and planning must not fail for that.
 */
static int	amount_total_order_depth = 0;

/* ----------------------------------------------------------------------
 * Helpers
 * ----------------------------------------------------------------------
 */

/* A number as scanned from text, not yet scaled. */
typedef struct ScannedNumber
{
	bool		negative;
	const char *int_digits;
	int			n_int;
	const char *frac_digits;
	int			n_frac;
} ScannedNumber;

/*
 * Scans [+-]digits[.digits] at *p (".5" and "5." are accepted, as numeric
 * accepts them).  Returns false unless there is at least one digit; on
 * success *p points just after the number.
 */
static bool
scan_number(const char **p, ScannedNumber *num)
{
	const char *s = *p;

	num->negative = false;
	if (*s == '+' || *s == '-')
	{
		num->negative = (*s == '-');
		s++;
	}
	num->int_digits = s;
	while (isdigit((unsigned char) *s))
		s++;
	num->n_int = s - num->int_digits;

	num->frac_digits = s;
	num->n_frac = 0;
	if (*s == '.')
	{
		s++;
		num->frac_digits = s;
		while (isdigit((unsigned char) *s))
			s++;
		num->n_frac = s - num->frac_digits;
	}

	if (num->n_int + num->n_frac == 0)
		return false;
	*p = s;
	return true;
}

/*
 * Checks that the len bytes at s are a well-formed code (1 to 6 characters,
 * [A-Z][A-Z0-9]*) and copies it, NUL-padded, into dst.  Lower case is not
 * accepted: codes have one spelling, so they compare and hash bytewise.
 */
static bool
code_from_chars(const char *s, int len, char *dst)
{
	int			i;

	if (len < 1 || len > AMOUNT_CODE_MAXLEN)
		return false;
	if (s[0] < 'A' || s[0] > 'Z')
		return false;
	for (i = 1; i < len; i++)
	{
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9')))
			return false;
	}
	memset(dst, 0, AMOUNT_CODE_MAXLEN + 1);
	memcpy(dst, s, len);
	return true;
}

/* Scale of a well-formed code, or unknown_currency. */
static int
scale_or_error(const char *code)
{
	int			scale = currency_scale(code);

	if (scale < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown_currency: \"%s\" is not an ISO-4217 currency or a registered unit of account",
						code),
				 errhint("Register units of account with lexledger.create_unit().")));
	return scale;
}

/* A new palloc'd amount. */
static Amount *
amount_new(int64 units, const char *code, int scale)
{
	Amount	   *result = (Amount *) palloc0(sizeof(Amount));

	result->units = units;
	memcpy(result->code, code, sizeof(result->code));
	result->scale = (uint8) scale;
	return result;
}

/* The range of amounts in one currency, for error details. */
static void
range_detail(const char *code, int scale)
{
	Amount		lo;
	Amount		hi;

	memset(&lo, 0, sizeof(lo));
	memcpy(lo.code, code, sizeof(lo.code));
	lo.scale = (uint8) scale;
	hi = lo;
	lo.units = PG_INT64_MIN;
	hi.units = PG_INT64_MAX;
	errdetail("Amounts in %s range from %s to %s.", code,
			  amount_to_cstring(&lo), amount_to_cstring(&hi));
}

/*
 * Minor units of a scanned number in a currency of "scale" decimals.
 * Decimals beyond the scale must be zeros (too_many_decimals otherwise:
 * money is never rounded on input); the result must fit in int64
 * (amount_out_of_range).  "input" names the value in messages.
 */
static int64
number_to_units(const ScannedNumber *num, const char *code, int scale,
				const char *input)
{
	int64		units = 0;
	int			i;

	for (i = scale; i < num->n_frac; i++)
	{
		if (num->frac_digits[i] != '0')
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("too_many_decimals: \"%s\" has more decimals than %s allows",
							input, code),
					 errdetail_plural("%s has %d decimal.",
									  "%s has %d decimals.",
									  scale, code, scale)));
	}

	/*
	 * Accumulate negatively so that the most negative amount, whose
	 * magnitude exceeds PG_INT64_MAX by one, can be read.
	 */
	for (i = 0; i < num->n_int + scale; i++)
	{
		int			digit;

		if (i < num->n_int)
			digit = num->int_digits[i] - '0';
		else if (i - num->n_int < num->n_frac)
			digit = num->frac_digits[i - num->n_int] - '0';
		else
			digit = 0;

		if (pg_mul_s64_overflow(units, 10, &units) ||
			pg_sub_s64_overflow(units, digit, &units))
			goto out_of_range;
	}
	if (!num->negative && pg_sub_s64_overflow(0, units, &units))
		goto out_of_range;
	return units;

out_of_range:
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("amount_out_of_range: \"%s\" is out of range for type %s",
					input, AMOUNT_TYPE_NAME),
			 range_detail(code, scale)));
	pg_unreachable();
}

static pg_noinline pg_attribute_noreturn() void
malformed(const char *input, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("malformed_amount: invalid input syntax for type %s: \"%s\"",
					AMOUNT_TYPE_NAME, input),
			 errdetail_internal("%s", detail),
			 errhint(AMOUNT_EXAMPLE_HINT)));
}

/* Parses the text form (see the file header); raises on any defect. */
static Amount *
amount_parse(const char *input)
{
	const char *p = input;
	const char *code_start;
	ScannedNumber num;
	char		code[AMOUNT_CODE_MAXLEN + 1];
	int			scale;

	while (isspace((unsigned char) *p))
		p++;
	if (*p == '\0')
		malformed(input, "The input is empty.");

	if (!scan_number(&p, &num))
		malformed(input, "The input does not start with a number.");

	if (*p != '\0' && !isspace((unsigned char) *p))
		malformed(input, "The number must be followed by white space and a currency code.");
	while (isspace((unsigned char) *p))
		p++;
	if (*p == '\0')
		malformed(input, "The currency code is missing.");

	code_start = p;
	while (*p != '\0' && !isspace((unsigned char) *p))
		p++;
	if (!code_from_chars(code_start, p - code_start, code))
		malformed(input, CODE_FORMAT_DETAIL);

	while (isspace((unsigned char) *p))
		p++;
	if (*p != '\0')
		malformed(input, "Unexpected text after the currency code.");

	scale = scale_or_error(code);
	return amount_new(number_to_units(&num, code, scale, input), code, scale);
}

/* A code given as a function argument; unknown_currency if not usable. */
static void
code_from_text(text *t, char *dst)
{
	char	   *s = text_to_cstring(t);

	if (!code_from_chars(s, strlen(s), dst))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown_currency: \"%s\" is not an ISO-4217 currency or a registered unit of account",
						s),
				 errdetail(CODE_FORMAT_DETAIL)));
	pfree(s);
}

/*
 * amount_to_cstring: text form with exactly "scale" decimals, e.g.
 * "-0.05 USD".  Written backwards into a buffer: the longest form,
 * "-9223372036854775808 " plus a point, padding and a code, fits easily.
 */
char *
amount_to_cstring(const Amount *a)
{
	char		buf[64];
	char	   *end = buf + sizeof(buf);
	char	   *p = end;
	uint64		mag;
	int			codelen = strnlen(a->code, AMOUNT_CODE_MAXLEN);
	int			i;

	mag = (a->units < 0) ? -(uint64) a->units : (uint64) a->units;

	p -= codelen;
	memcpy(p, a->code, codelen);
	*--p = ' ';
	for (i = 0; i < a->scale; i++)
	{
		*--p = '0' + (char) (mag % 10);
		mag /= 10;
	}
	if (a->scale > 0)
		*--p = '.';
	do
	{
		*--p = '0' + (char) (mag % 10);
		mag /= 10;
	} while (mag > 0);
	if (a->units < 0)
		*--p = '-';

	return pnstrdup(p, end - p);
}

/* amount_make: see amount.h. */
Amount *
amount_make(int64 units, const char *code)
{
	char		padded[AMOUNT_CODE_MAXLEN + 1];

	if (!code_from_chars(code, strlen(code), padded))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown_currency: \"%s\" is not an ISO-4217 currency or a registered unit of account",
						code),
				 errdetail(CODE_FORMAT_DETAIL)));
	return amount_new(units, padded, scale_or_error(padded));
}

/* amount_check_same_currency: see amount.h. */
void
amount_check_same_currency(const Amount *a, const Amount *b, const char *what)
{
	if (amount_same_currency(a, b))
		return;
	if (strcmp(a->code, b->code) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_LX_CURRENCY_MISMATCH),
				 errmsg("currency_mismatch: cannot %s amounts in %s with %d and with %d decimals",
						what, a->code, a->scale, b->scale),
				 errdetail("One of them was made while a create_unit of %s that was rolled back was in effect.",
						   a->code)));
	ereport(ERROR,
			(errcode(ERRCODE_LX_CURRENCY_MISMATCH),
			 errmsg("currency_mismatch: cannot %s amounts in %s and %s",
					what, a->code, b->code)));
}

/* amount_out_of_range for an operation; "expr" shows it, e.g. "a + b". */
static pg_noinline pg_attribute_noreturn() void
arithmetic_out_of_range(const Amount *a, const char *expr)
{
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("amount_out_of_range: %s is out of range for type %s",
					expr, AMOUNT_TYPE_NAME),
			 range_detail(a->code, a->scale)));
}

/*
 * Three-way comparison in btree order: code bytes first, then scale (the
 * same for every value of a code but in the case amount_same_currency
 * describes), then units.
 */
static inline int
amount_cmp_internal(const Amount *a, const Amount *b)
{
	int			c = memcmp(a->code, b->code, sizeof(a->code) + sizeof(a->scale));

	if (c != 0)
		return (c > 0) ? 1 : -1;
	if (a->units == b->units)
		return 0;
	return (a->units > b->units) ? 1 : -1;
}

/* Comparison for the ordering operators: refuses to mix currencies. */
static inline int
amount_order(const Amount *a, const Amount *b)
{
	if (amount_total_order_depth == 0)
		amount_check_same_currency(a, b, "compare");
	return amount_cmp_internal(a, b);
}

/* ----------------------------------------------------------------------
 * Type modifier: lexledger.amount(USD), a column or cast of one currency
 * ----------------------------------------------------------------------
 */

/*
 * A code as a type modifier, which must be a non-negative int32: the first
 * character is one of 26 letters and each later position one of 37 (end,
 * A-Z, 0-9), so the largest is 26 * 37^5 - 1 = 1,802,942,881 < 2^31.
 */
#define TYPMOD_RADIX 37
#define TYPMOD_LIMIT (26 * 37 * 37 * 37 * 37 * 37)

static int32
typmod_from_code(const char *code)
{
	int32		typmod = code[0] - 'A';
	int			i;

	for (i = 1; i < AMOUNT_CODE_MAXLEN; i++)
	{
		char		c = code[i];

		typmod = typmod * TYPMOD_RADIX +
			(c == '\0' ? 0 : c <= '9' ? 27 + (c - '0') : 1 + (c - 'A'));
	}
	return typmod;
}

/* The code of a type modifier that typmod_from_code made. */
static void
code_from_typmod(int32 typmod, char *dst)
{
	int32		rest = typmod;
	char		checked[AMOUNT_CODE_MAXLEN + 1];
	int			i;

	if (typmod < 0 || typmod >= TYPMOD_LIMIT)
		elog(ERROR, "lexledger: %d is not a type modifier of %s", typmod, AMOUNT_TYPE_NAME);
	memset(dst, 0, AMOUNT_CODE_MAXLEN + 1);
	for (i = AMOUNT_CODE_MAXLEN - 1; i >= 1; i--)
	{
		int			digit = rest % TYPMOD_RADIX;

		rest /= TYPMOD_RADIX;
		dst[i] = digit == 0 ? '\0' : digit <= 26 ? 'A' + digit - 1 : '0' + digit - 27;
	}
	dst[0] = 'A' + rest;
	/* an end in the middle ("A", end, "B") is no code */
	if (!code_from_chars(dst, strlen(dst), checked) || typmod_from_code(checked) != typmod)
		elog(ERROR, "lexledger: %d is not a type modifier of %s", typmod, AMOUNT_TYPE_NAME);
}

/*
 * A value given where the type says one currency: currency_mismatch when
 * it is another.
 */
static void
check_typmod_currency(const Amount *a, int32 typmod)
{
	char		code[AMOUNT_CODE_MAXLEN + 1];

	if (typmod < 0)
		return;
	code_from_typmod(typmod, code);
	if (memcmp(a->code, code, sizeof(code)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_LX_CURRENCY_MISMATCH),
				 errmsg("currency_mismatch: %s is not in %s, the currency of type %s(%s)",
						amount_to_cstring(a), code, AMOUNT_TYPE_NAME, code)));
}

/*
 * amount(USD): one modifier, a currency code.  Letters may come in lower
 * case, since an unquoted identifier does (pg_dump writes amount(USD)).  A
 * code that no currency or unit has yet is accepted, so that a restore can
 * create a table before it loads the units (lexledger.custom_unit is
 * data); such a column takes no value until the unit is registered.
 */
Datum
amount_typmod_in(PG_FUNCTION_ARGS)
{
	ArrayType  *modifiers = PG_GETARG_ARRAYTYPE_P(0);
	Datum	   *elems;
	int			n;
	char	   *upper;
	char		code[AMOUNT_CODE_MAXLEN + 1];
	int			i;

	deconstruct_array(modifiers, CSTRINGOID, -2, false, TYPALIGN_CHAR, &elems, NULL, &n);
	if (n != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid_type_modifier: %s takes one type modifier, a currency code, not %d",
						AMOUNT_TYPE_NAME, n),
				 errhint("Write %s(USD) for a column of amounts in dollars.", AMOUNT_TYPE_NAME)));
	upper = pstrdup(DatumGetCString(elems[0]));
	for (i = 0; upper[i] != '\0'; i++)
		if (upper[i] >= 'a' && upper[i] <= 'z')
			upper[i] = upper[i] - 'a' + 'A';
	if (!code_from_chars(upper, strlen(upper), code))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid_type_modifier: \"%s\" is not a currency code", upper),
				 errdetail(CODE_FORMAT_DETAIL),
				 errhint("Write %s(USD) for a column of amounts in dollars.", AMOUNT_TYPE_NAME)));
	pfree(upper);
	PG_RETURN_INT32(typmod_from_code(code));
}

/*
 * (USD), or ("ALL") for a code that is an SQL keyword: pg_dump, views and
 * format_type() write the type with this text, and a keyword such as ALL
 * (the Albanian lek) or a unit named DO would not read back unquoted.
 */
Datum
amount_typmod_out(PG_FUNCTION_ARGS)
{
	int32		typmod = PG_GETARG_INT32(0);
	char		code[AMOUNT_CODE_MAXLEN + 1];
	char		lower[AMOUNT_CODE_MAXLEN + 1];
	int			i;

	if (typmod < 0)
		PG_RETURN_CSTRING(pstrdup(""));
	code_from_typmod(typmod, code);
	for (i = 0; i <= AMOUNT_CODE_MAXLEN; i++)
		lower[i] = (code[i] >= 'A' && code[i] <= 'Z') ? code[i] - 'A' + 'a' : code[i];
	if (strcmp(quote_identifier(lower), lower) != 0)
		PG_RETURN_CSTRING(psprintf("(\"%s\")", code));
	PG_RETURN_CSTRING(psprintf("(%s)", code));
}

/* amount::amount(USD), and storing into a column of that type. */
Datum
amount_enforce_typmod(PG_FUNCTION_ARGS)
{
	Amount	   *a = PG_GETARG_AMOUNT_P(0);

	check_typmod_currency(a, PG_GETARG_INT32(1));
	PG_RETURN_AMOUNT_P(a);
}

/* ----------------------------------------------------------------------
 * I/O
 * ----------------------------------------------------------------------
 */

Datum
amount_in(PG_FUNCTION_ARGS)
{
	Amount	   *result = amount_parse(PG_GETARG_CSTRING(0));

	check_typmod_currency(result, PG_NARGS() > 2 ? PG_GETARG_INT32(2) : -1);
	PG_RETURN_AMOUNT_P(result);
}

Datum
amount_out(PG_FUNCTION_ARGS)
{
	PG_RETURN_CSTRING(amount_to_cstring(PG_GETARG_AMOUNT_P(0)));
}

/*
 * Binary form: int64 minor units, then the code as text (the rest of the
 * message).  The scale is not sent; the receiver takes it from its own
 * registry, so a value can only arrive in a currency this database knows.
 */
Datum
amount_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int64		units;
	int			rawlen;
	const char *s;
	char		code[AMOUNT_CODE_MAXLEN + 1];
	Amount	   *result;

	if (buf->len - buf->cursor < (int) sizeof(int64))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid_binary_amount: binary %s of %d bytes is too short",
						AMOUNT_TYPE_NAME, buf->len - buf->cursor),
				 errdetail("A binary amount is 8 bytes of minor units followed by 1 to 6 bytes of code.")));
	units = pq_getmsgint64(buf);
	rawlen = buf->len - buf->cursor;
	if (rawlen < 1 || rawlen > AMOUNT_CODE_MAXLEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid_binary_amount: currency code of %d bytes in binary %s",
						rawlen, AMOUNT_TYPE_NAME),
				 errdetail(CODE_FORMAT_DETAIL)));

	/*
	 * Raw bytes, not pq_getmsgtext: a code is ASCII whatever the client
	 * encoding, and a byte that is not must be invalid_binary_amount, not
	 * an encoding error.
	 */
	s = pq_getmsgbytes(buf, rawlen);
	if (!code_from_chars(s, rawlen, code))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid_binary_amount: malformed currency code in binary %s",
						AMOUNT_TYPE_NAME),
				 errdetail(CODE_FORMAT_DETAIL)));

	result = amount_new(units, code, scale_or_error(code));
	check_typmod_currency(result, PG_NARGS() > 2 ? PG_GETARG_INT32(2) : -1);
	PG_RETURN_AMOUNT_P(result);
}

Datum
amount_send(PG_FUNCTION_ARGS)
{
	Amount	   *a = PG_GETARG_AMOUNT_P(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint64(&buf, a->units);
	pq_sendtext(&buf, a->code, strnlen(a->code, AMOUNT_CODE_MAXLEN));
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* ----------------------------------------------------------------------
 * Arithmetic
 * ----------------------------------------------------------------------
 */

Datum
amount_add(PG_FUNCTION_ARGS)
{
	Amount	   *a = PG_GETARG_AMOUNT_P(0);
	Amount	   *b = PG_GETARG_AMOUNT_P(1);
	int64		units;

	amount_check_same_currency(a, b, "add");
	if (pg_add_s64_overflow(a->units, b->units, &units))
		arithmetic_out_of_range(a, psprintf("%s + %s", amount_to_cstring(a),
										   amount_to_cstring(b)));
	PG_RETURN_AMOUNT_P(amount_new(units, a->code, a->scale));
}

Datum
amount_sub(PG_FUNCTION_ARGS)
{
	Amount	   *a = PG_GETARG_AMOUNT_P(0);
	Amount	   *b = PG_GETARG_AMOUNT_P(1);
	int64		units;

	amount_check_same_currency(a, b, "subtract");
	if (pg_sub_s64_overflow(a->units, b->units, &units))
		arithmetic_out_of_range(a, psprintf("%s - %s", amount_to_cstring(a),
										   amount_to_cstring(b)));
	PG_RETURN_AMOUNT_P(amount_new(units, a->code, a->scale));
}

Datum
amount_neg(PG_FUNCTION_ARGS)
{
	Amount	   *a = PG_GETARG_AMOUNT_P(0);
	int64		units;

	if (pg_sub_s64_overflow(0, a->units, &units))
		arithmetic_out_of_range(a, psprintf("-(%s)", amount_to_cstring(a)));
	PG_RETURN_AMOUNT_P(amount_new(units, a->code, a->scale));
}

static Amount *
amount_mul(const Amount *a, int64 factor)
{
	int64		units;

	if (pg_mul_s64_overflow(a->units, factor, &units))
		arithmetic_out_of_range(a, psprintf("%s * " INT64_FORMAT,
											amount_to_cstring(a), factor));
	return amount_new(units, a->code, a->scale);
}

Datum
amount_mul_int8(PG_FUNCTION_ARGS)
{
	PG_RETURN_AMOUNT_P(amount_mul(PG_GETARG_AMOUNT_P(0), PG_GETARG_INT64(1)));
}

Datum
int8_mul_amount(PG_FUNCTION_ARGS)
{
	PG_RETURN_AMOUNT_P(amount_mul(PG_GETARG_AMOUNT_P(1), PG_GETARG_INT64(0)));
}

/*
 * amount / int8: the exact quotient in minor units, rounded half away from
 * zero (as numeric's round() does): 10.00 USD / 3 = 3.33 USD,
 * 0.05 USD / 2 = 0.03 USD, -0.05 USD / 2 = -0.03 USD.
 */
Datum
amount_div_int8(PG_FUNCTION_ARGS)
{
	Amount	   *a = PG_GETARG_AMOUNT_P(0);
	int64		divisor = PG_GETARG_INT64(1);
	int64		quotient;
	int64		remainder;
	uint64		abs_rem;
	uint64		abs_div;

	if (divisor == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DIVISION_BY_ZERO),
				 errmsg("division_by_zero: cannot divide %s by zero",
						amount_to_cstring(a))));

	/* PG_INT64_MIN / -1 traps in C; -1 is negation. */
	if (divisor == -1)
	{
		if (pg_sub_s64_overflow(0, a->units, &quotient))
			arithmetic_out_of_range(a, psprintf("%s / -1", amount_to_cstring(a)));
		PG_RETURN_AMOUNT_P(amount_new(quotient, a->code, a->scale));
	}

	quotient = a->units / divisor;	/* truncates toward zero */
	remainder = a->units % divisor; /* has the sign of a->units */

	/*
	 * Round away from zero when |remainder| >= |divisor| / 2 exactly, i.e.
	 * |remainder| >= |divisor| - |remainder|, computed without overflow.
	 * |quotient| <= |units| / 2 here, so the step cannot overflow either.
	 */
	abs_rem = (remainder < 0) ? -(uint64) remainder : (uint64) remainder;
	abs_div = (divisor < 0) ? -(uint64) divisor : (uint64) divisor;
	if (abs_rem != 0 && abs_rem >= abs_div - abs_rem)
		quotient += ((a->units < 0) != (divisor < 0)) ? -1 : 1;

	PG_RETURN_AMOUNT_P(amount_new(quotient, a->code, a->scale));
}

/* ----------------------------------------------------------------------
 * Comparison, btree and hash support
 * ----------------------------------------------------------------------
 */

/* Equal: same currency and same units; never raises. */
Datum
amount_eq(PG_FUNCTION_ARGS)
{
	Amount	   *a = PG_GETARG_AMOUNT_P(0);
	Amount	   *b = PG_GETARG_AMOUNT_P(1);

	PG_RETURN_BOOL(a->units == b->units && amount_same_currency(a, b));
}

Datum
amount_ne(PG_FUNCTION_ARGS)
{
	Amount	   *a = PG_GETARG_AMOUNT_P(0);
	Amount	   *b = PG_GETARG_AMOUNT_P(1);

	PG_RETURN_BOOL(a->units != b->units || !amount_same_currency(a, b));
}

Datum
amount_lt(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(amount_order(PG_GETARG_AMOUNT_P(0), PG_GETARG_AMOUNT_P(1)) < 0);
}

Datum
amount_le(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(amount_order(PG_GETARG_AMOUNT_P(0), PG_GETARG_AMOUNT_P(1)) <= 0);
}

Datum
amount_gt(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(amount_order(PG_GETARG_AMOUNT_P(0), PG_GETARG_AMOUNT_P(1)) > 0);
}

Datum
amount_ge(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(amount_order(PG_GETARG_AMOUNT_P(0), PG_GETARG_AMOUNT_P(1)) >= 0);
}

/* btree support 1: a total order, code first, so mixed columns sort. */
Datum
amount_cmp(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(amount_cmp_internal(PG_GETARG_AMOUNT_P(0),
										PG_GETARG_AMOUNT_P(1)));
}

static int
amount_fastcmp(Datum x, Datum y, SortSupport ssup)
{
	return amount_cmp_internal(DatumGetAmountP(x), DatumGetAmountP(y));
}

/* btree support 2: lets sorts skip the fmgr call per comparison. */
Datum
amount_sortsupport(PG_FUNCTION_ARGS)
{
	SortSupport ssup = (SortSupport) PG_GETARG_POINTER(0);

	ssup->comparator = amount_fastcmp;
	PG_RETURN_VOID();
}

/*
 * Hash of what "=" compares: units and code (the scale follows from the
 * code).  Units are hashed in big-endian order so that hash values, and so
 * hash partitions, do not depend on the machine.
 */
static inline void
amount_hash_key(const Amount *a, unsigned char *key)
{
	uint64		be = pg_hton64((uint64) a->units);

	memcpy(key, &be, sizeof(be));
	memcpy(key + sizeof(be), a->code, sizeof(a->code));
}

#define AMOUNT_HASH_KEYLEN (sizeof(uint64) + AMOUNT_CODE_MAXLEN + 1)

Datum
amount_hash(PG_FUNCTION_ARGS)
{
	unsigned char key[AMOUNT_HASH_KEYLEN];

	amount_hash_key(PG_GETARG_AMOUNT_P(0), key);
	return hash_any(key, AMOUNT_HASH_KEYLEN);
}

Datum
amount_hash_extended(PG_FUNCTION_ARGS)
{
	unsigned char key[AMOUNT_HASH_KEYLEN];

	amount_hash_key(PG_GETARG_AMOUNT_P(0), key);
	return hash_any_extended(key, AMOUNT_HASH_KEYLEN, PG_GETARG_INT64(1));
}

/*
 * Restriction selectivity of < <= > >=: PostgreSQL's scalar estimators,
 * run with cross-currency comparisons answering in btree order.  The
 * estimators compare the query's constant with the column's histogram and
 * most common values, which in a mixed-currency column hold other
 * currencies; the histogram is sorted in btree order, so this gives a
 * sensible estimate where plain operators would make planning fail.
 */
static Datum
amount_scalarsel(PGFunction estimator, FunctionCallInfo fcinfo)
{
	volatile Datum result = (Datum) 0;

	amount_total_order_depth++;
	PG_TRY();
	{
		result = DirectFunctionCall4Coll(estimator, PG_GET_COLLATION(),
										 PG_GETARG_DATUM(0), PG_GETARG_DATUM(1),
										 PG_GETARG_DATUM(2), PG_GETARG_DATUM(3));
	}
	PG_FINALLY();
	{
		amount_total_order_depth--;
	}
	PG_END_TRY();
	return result;
}

Datum
amount_ltsel(PG_FUNCTION_ARGS)
{
	return amount_scalarsel(scalarltsel, fcinfo);
}

Datum
amount_lesel(PG_FUNCTION_ARGS)
{
	return amount_scalarsel(scalarlesel, fcinfo);
}

Datum
amount_gtsel(PG_FUNCTION_ARGS)
{
	return amount_scalarsel(scalargtsel, fcinfo);
}

Datum
amount_gesel(PG_FUNCTION_ARGS)
{
	return amount_scalarsel(scalargesel, fcinfo);
}

/* ----------------------------------------------------------------------
 * Aggregates
 * ----------------------------------------------------------------------
 */

/*
 * Transition and combine function of sum(amount).  Strict, so the first
 * non-null input becomes the state (copied by the executor into the
 * aggregate's memory); when called as an aggregate the state is ours and
 * is updated in place, saving a palloc per row.
 */
Datum
amount_sum_step(PG_FUNCTION_ARGS)
{
	Amount	   *state = PG_GETARG_AMOUNT_P(0);
	Amount	   *value = PG_GETARG_AMOUNT_P(1);
	int64		units;

	amount_check_same_currency(state, value, "sum");
	if (pg_add_s64_overflow(state->units, value->units, &units))
		arithmetic_out_of_range(state, psprintf("running sum %s + %s",
											   amount_to_cstring(state),
											   amount_to_cstring(value)));

	if (AggCheckCallContext(fcinfo, NULL))
	{
		state->units = units;
		PG_RETURN_AMOUNT_P(state);
	}
	PG_RETURN_AMOUNT_P(amount_new(units, state->code, state->scale));
}

/* min() and max() step functions; they refuse to mix currencies. */
Datum
amount_smaller(PG_FUNCTION_ARGS)
{
	Amount	   *a = PG_GETARG_AMOUNT_P(0);
	Amount	   *b = PG_GETARG_AMOUNT_P(1);

	amount_check_same_currency(a, b, "compare");
	PG_RETURN_AMOUNT_P(b->units < a->units ? b : a);
}

Datum
amount_larger(PG_FUNCTION_ARGS)
{
	Amount	   *a = PG_GETARG_AMOUNT_P(0);
	Amount	   *b = PG_GETARG_AMOUNT_P(1);

	amount_check_same_currency(a, b, "compare");
	PG_RETURN_AMOUNT_P(b->units > a->units ? b : a);
}

/* ----------------------------------------------------------------------
 * Constructors, accessors, casts
 * ----------------------------------------------------------------------
 */

/*
 * An amount from major units, exactly.  The numeric's text form goes
 * through the same scanner as amount input, so the rules are identical:
 * extra decimals must be zeros, never rounded.
 */
static Amount *
numeric_to_amount(Numeric n, const char *code)
{
	char	   *digits;
	char	   *input;
	const char *p;
	ScannedNumber num;
	int			scale;

	if (numeric_is_nan(n))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("malformed_amount: NaN is not an amount")));

	/* the currency first, as text input checks it before the range */
	scale = scale_or_error(code);
	digits = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(n)));
	input = psprintf("%s %s", digits, code);
	if (numeric_is_inf(n))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("amount_out_of_range: \"%s\" is out of range for type %s",
						input, AMOUNT_TYPE_NAME)));

	p = digits;
	if (!scan_number(&p, &num) || *p != '\0')
		elog(ERROR, "lexledger: unexpected numeric text \"%s\"", digits);

	return amount_new(number_to_units(&num, code, scale, input), code, scale);
}

/* amount(numeric, code) */
Datum
amount_from_numeric(PG_FUNCTION_ARGS)
{
	char		code[AMOUNT_CODE_MAXLEN + 1];

	code_from_text(PG_GETARG_TEXT_PP(1), code);
	PG_RETURN_AMOUNT_P(numeric_to_amount(PG_GETARG_NUMERIC(0), code));
}

/*
 * numeric::amount(USD): the type names the currency.  A cast to plain
 * amount has none to take, and a default currency would let 150::amount
 * mean rands in one session and dollars in another.
 */
static Amount *
major_to_amount_typmod(Numeric n, int32 typmod)
{
	char		code[AMOUNT_CODE_MAXLEN + 1];

	if (typmod < 0)
		ereport(ERROR,
				(errcode(ERRCODE_CANNOT_COERCE),
				 errmsg("currency_required: a number is not an amount without a currency"),
				 errhint("Cast to %s(USD), naming the currency, or call lexledger.amount(1.50, 'USD').",
						 AMOUNT_TYPE_NAME)));
	code_from_typmod(typmod, code);
	return numeric_to_amount(n, code);
}

Datum
amount_from_numeric_typmod(PG_FUNCTION_ARGS)
{
	PG_RETURN_AMOUNT_P(major_to_amount_typmod(PG_GETARG_NUMERIC(0), PG_GETARG_INT32(1)));
}

/* integer and bigint: whole major units, 150::amount(ZAR) = 150.00 ZAR */
Datum
amount_from_int4_typmod(PG_FUNCTION_ARGS)
{
	PG_RETURN_AMOUNT_P(major_to_amount_typmod(int64_to_numeric(PG_GETARG_INT32(0)),
											  PG_GETARG_INT32(1)));
}

Datum
amount_from_int8_typmod(PG_FUNCTION_ARGS)
{
	PG_RETURN_AMOUNT_P(major_to_amount_typmod(int64_to_numeric(PG_GETARG_INT64(0)),
											  PG_GETARG_INT32(1)));
}

Datum
amount_from_minor(PG_FUNCTION_ARGS)
{
	int64		units = PG_GETARG_INT64(0);
	char		code[AMOUNT_CODE_MAXLEN + 1];

	code_from_text(PG_GETARG_TEXT_PP(1), code);
	PG_RETURN_AMOUNT_P(amount_new(units, code, scale_or_error(code)));
}

/* amount::numeric: major units with exactly "scale" decimals. */
Datum
amount_to_numeric(PG_FUNCTION_ARGS)
{
	Amount	   *a = PG_GETARG_AMOUNT_P(0);

	PG_RETURN_NUMERIC(int64_div_fast_to_numeric(a->units, a->scale));
}

Datum
amount_minor_units(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(PG_GETARG_AMOUNT_P(0)->units);
}

Datum
amount_currency(PG_FUNCTION_ARGS)
{
	Amount	   *a = PG_GETARG_AMOUNT_P(0);

	PG_RETURN_TEXT_P(cstring_to_text_with_len(a->code,
											  strnlen(a->code, AMOUNT_CODE_MAXLEN)));
}

Datum
amount_scale(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(PG_GETARG_AMOUNT_P(0)->scale);
}
