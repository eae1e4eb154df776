/*
 * lexledger.h
 *		Declarations shared across lexledger's C files.
 */
#ifndef LEXLEDGER_H
#define LEXLEDGER_H

#include "amount.h"
#include "errors.h"

/* ledger_id.c */
extern bool lexledger_debug_freeze_id_clock;

/* ledger_batch.c */
extern int	lexledger_batch_attempts;

/* subtransaction.c */
extern bool lexledger_in_subtransaction(bool (*step) (void *), void *arg,
										ErrorData **error);

#endif							/* LEXLEDGER_H */
