/*
 * worker.h
 *		lexledger's background workers and their settings.
 */
#ifndef LEXLEDGER_WORKER_H
#define LEXLEDGER_WORKER_H

extern char *lexledger_database_name;
extern int	lexledger_expiry_naptime;
extern int	lexledger_expiry_batch;

extern void lexledger_register_workers(void);

#endif							/* LEXLEDGER_WORKER_H */
