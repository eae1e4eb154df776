/*
 * lexledger.h
 *		Declarations shared across lexledger's C files.
 */
#ifndef LEXLEDGER_H
#define LEXLEDGER_H

#include "amount.h"
#include "errors.h"

#endif							/* LEXLEDGER_H */
