/*
 * guard.c
 *		What the DDL guard (src/sql/guard.sql) cannot ask in SQL.
 */
#include "postgres.h"

#include "access/xact.h"
#include "fmgr.h"

PG_FUNCTION_INFO_V1(lexledger_written_in_this_transaction);

/*
 * lexledger.written_in_this_transaction(xid) RETURNS boolean
 *		Whether xid is this transaction's or one of its subtransactions'.
 *		Of a catalog row's xmin: whether this transaction made (or changed)
 *		the row.  The guard tells by it a foreign key that an ALTER TABLE
 *		made from one that was there before, which a superuser made.  SQL
 *		alone cannot tell: comparing with pg_current_xact_id() misses the
 *		subtransactions of savepoints and PL/pgSQL exception blocks.
 */
Datum
lexledger_written_in_this_transaction(PG_FUNCTION_ARGS)
{
	TransactionId xid = DatumGetTransactionId(PG_GETARG_DATUM(0));

	PG_RETURN_BOOL(TransactionIdIsCurrentTransactionId(xid));
}
