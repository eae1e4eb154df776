/*
 * errors.h
 *		lexledger's error codes.
 *
 * Every error lexledger raises carries a documented SQLSTATE and a stable,
 * machine-readable code.  The stable code starts the message, followed by a
 * colon ("insufficient_funds: account 7 has 10.00 USD available"), so that
 * psql users, logs and HTTP clients all see it; business errors also get a
 * SQLSTATE of their own in class LX, so callers may switch on either.
 * docs/errors.md lists them all; keep the two in step.
 */
#ifndef LEXLEDGER_ERRORS_H
#define LEXLEDGER_ERRORS_H

#include "utils/elog.h"

#define LX_SQLSTATE(a, b, c) MAKE_SQLSTATE('L', 'X', a, b, c)

/* amount */
#define ERRCODE_LX_CURRENCY_MISMATCH			LX_SQLSTATE('0', '0', '1')

/* ledger: accounts */
#define ERRCODE_LX_ACCOUNT_NOT_FOUND			LX_SQLSTATE('1', '0', '0')
#define ERRCODE_LX_ACCOUNT_CLOSED				LX_SQLSTATE('1', '0', '1')
#define ERRCODE_LX_ACCOUNTS_MUST_BE_DIFFERENT	LX_SQLSTATE('1', '0', '2')
#define ERRCODE_LX_AMOUNT_MUST_BE_POSITIVE		LX_SQLSTATE('1', '0', '3')
#define ERRCODE_LX_INVALID_ACCOUNT				LX_SQLSTATE('1', '0', '4')

/* ledger: balance limits */
#define ERRCODE_LX_INSUFFICIENT_FUNDS			LX_SQLSTATE('1', '1', '0')
#define ERRCODE_LX_CREDIT_LIMIT_EXCEEDED		LX_SQLSTATE('1', '1', '1')

/* ledger: idempotency and batches */
#define ERRCODE_LX_EXISTS_WITH_DIFFERENT_FIELD	LX_SQLSTATE('1', '2', '0')
#define ERRCODE_LX_INVALID_TRANSFER				LX_SQLSTATE('1', '3', '0')

/* escrow: pending transfers */
#define ERRCODE_LX_PENDING_NOT_FOUND			LX_SQLSTATE('1', '4', '0')
#define ERRCODE_LX_PENDING_ALREADY_POSTED		LX_SQLSTATE('1', '4', '1')
#define ERRCODE_LX_PENDING_ALREADY_VOIDED		LX_SQLSTATE('1', '4', '2')
#define ERRCODE_LX_PENDING_EXPIRED				LX_SQLSTATE('1', '4', '3')
#define ERRCODE_LX_EXCEEDS_PENDING_AMOUNT		LX_SQLSTATE('1', '4', '4')

/* history is append-only */
#define ERRCODE_LX_TRANSFER_IMMUTABLE			LX_SQLSTATE('1', '5', '0')

#endif							/* LEXLEDGER_ERRORS_H */
