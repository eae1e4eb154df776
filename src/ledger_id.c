/*
 * ledger_id.c
 *		lexledger.new_id(): time-ordered ids for transfers and holds.
 *
 * Clients choose transfer ids, and any unique uuid will do.  Random (v4)
 * ids land on a random leaf of the transfer table's primary key, so once
 * the history outgrows memory every posting reads and dirties a random
 * index page.  Version 7 uuids (RFC 9562) start with the Unix time in
 * milliseconds, so new ids go to the right edge of the index, the way
 * TigerBeetle recommends time-based ids for its own trees.
 *
 * Within a backend the ids are strictly increasing: the 12 bits after the
 * version count up inside one millisecond (RFC 9562, method 1), starting
 * from a random value, and borrow from the next millisecond when they run
 * out.  Across backends they are ordered to the millisecond.
 *
 * Borrowing happens only when a backend makes more than 2,048 ids in one
 * millisecond, which no test can count on; lexledger.debug_freeze_id_clock
 * stops this backend's clock so that a test can reach it for certain.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "lexledger.h"
#include "ledger.h"

#define COUNTER_MAX		0x0FFF

bool		lexledger_debug_freeze_id_clock = false;

static int64 last_ms = 0;
static uint16 counter = 0;

static void
random_bytes(void *buf, size_t len)
{
	if (!pg_strong_random(buf, len))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("lexledger: could not generate random bytes for a new id")));
}

/* The millisecond and counter of the next id, never going backwards. */
static void
next_instant(int64 *ms, uint16 *seq)
{
	int64		now_ms = GetCurrentTimestamp() / 1000 +
		(int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * 1000;

	if (lexledger_debug_freeze_id_clock && last_ms != 0)
		now_ms = Min(now_ms, last_ms);
	if (now_ms > last_ms)
	{
		uint16		start;

		random_bytes(&start, sizeof(start));
		last_ms = now_ms;
		counter = start & (COUNTER_MAX >> 1);	/* leaves room to count up */
	}
	else if (counter < COUNTER_MAX)
		counter++;
	else
	{
		last_ms++;
		counter = 0;
	}
	*ms = last_ms;
	*seq = counter;
}

/* Fills "id" with a new version 7 uuid. */
void
ledger_new_id(pg_uuid_t *id)
{
	int64		ms;
	uint16		seq;

	next_instant(&ms, &seq);
	for (int i = 0; i < 6; i++)
		id->data[i] = (unsigned char) (ms >> (8 * (5 - i)));
	id->data[6] = 0x70 | (unsigned char) (seq >> 8);
	id->data[7] = (unsigned char) seq;
	random_bytes(&id->data[8], 8);
	id->data[8] = 0x80 | (id->data[8] & 0x3F);	/* RFC 9562 variant */
}

PG_FUNCTION_INFO_V1(lexledger_new_id);

Datum
lexledger_new_id(PG_FUNCTION_ARGS)
{
	pg_uuid_t  *id = palloc(sizeof(pg_uuid_t));

	ledger_new_id(id);
	PG_RETURN_UUID_P(id);
}
