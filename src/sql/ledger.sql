-- ledger.sql: the double-entry ledger.  Accounts with four balance
-- counters, append-only transfers, idempotent single and batched posting,
-- balances (now and as of a past instant), statements, totals and verify.
-- The posting path is C (src/ledger*.c); everything a DBA reads is here.

INSERT INTO lexledger.error_code (code, sqlstate, description) VALUES
  ('account_not_found',           'LX100', 'no account has this id'),
  ('account_closed',              'LX101', 'the account is closed and takes no new transfers'),
  ('accounts_must_be_different',  'LX102', 'a transfer needs two different accounts'),
  ('amount_must_be_positive',     'LX103', 'a transfer amount must be greater than zero'),
  ('invalid_account',             'LX104', 'an account definition is invalid (flags, kind, slots)'),
  ('flags_are_mutually_exclusive','LX104', 'an account may not limit both debits and credits'),
  ('account_exists_with_different_fields', 'LX120', 'an account with this name exists with other fields'),
  ('insufficient_funds',          'LX110', 'debits would exceed credits on an account flagged debits_must_not_exceed_credits'),
  ('credit_limit_exceeded',       'LX111', 'credits would exceed debits on an account flagged credits_must_not_exceed_debits'),
  ('exists_with_different_debit_account_id',  'LX120', 'the transfer id exists with another debit account'),
  ('exists_with_different_credit_account_id', 'LX120', 'the transfer id exists with another credit account'),
  ('exists_with_different_amount',            'LX120', 'the transfer id exists with another amount'),
  ('exists_with_different_code',              'LX120', 'the transfer id exists with another code'),
  ('exists_with_different_reference',         'LX120', 'the transfer id exists with another reference'),
  ('exists_with_different_kind',              'LX120', 'the transfer id exists as another kind of transfer'),
  ('exists_with_different_pending_id',        'LX120', 'the transfer id exists resolving another pending transfer'),
  ('exists_with_different_timeout',           'LX120', 'the transfer id exists with another timeout'),
  ('invalid_transfer',            'LX130', 'a transfer request is incomplete or malformed'),
  ('transfer_not_found',          'LX131', 'no transfer of the account has this id (a statement page''s after_transfer_id)'),
  ('invalid_max_rows',            '2201W', 'a statement page needs max_rows of at least 1 (or null)'),
  ('batch_contended',             '40001', 'concurrent transactions kept changing the balances a batch decides on; retry the call'),
  ('transfer_immutable',          'LX150', 'posted transfers are never updated or deleted'),
  ('account_immutable',           'LX151', 'an account''s id, currency, kind, flags and slots never change after opening'),
  ('ledger_corrupted',            'XX001', 'the tables disagree in a way lexledger''s functions never leave them (changed outside them); run verify()');
INSERT INTO lexledger.error_code (code, sqlstate, description, severity) VALUES
  ('linked_event_failed',     NULL, 'transfer_batch result: another request of its linked chain failed, so this one was not posted', 'result'),
  ('linked_event_chain_open', NULL, 'transfer_batch result: the batch ended inside a linked chain, so the chain was not posted', 'result');

CREATE TYPE lexledger.account_kind AS ENUM (
  'user_wallet', 'escrow', 'house', 'provider_clearing', 'fees', 'quota', 'other');
COMMENT ON TYPE lexledger.account_kind IS
  'What an account is for; informative (limits come from the flags, not the kind).';

CREATE TABLE lexledger.account (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name        text,
  currency    text NOT NULL,
  kind        lexledger.account_kind NOT NULL DEFAULT 'user_wallet',
  owner       text,
  debits_must_not_exceed_credits boolean NOT NULL DEFAULT false,
  credits_must_not_exceed_debits boolean NOT NULL DEFAULT false,
  slots       smallint NOT NULL DEFAULT 1,
  metadata    jsonb,
  created_at  timestamptz NOT NULL DEFAULT now(),
  closed_at   timestamptz,
  CONSTRAINT account_name_is_unique UNIQUE (name),
  CONSTRAINT account_flags_are_mutually_exclusive
    CHECK (NOT (debits_must_not_exceed_credits AND credits_must_not_exceed_debits)),
  CONSTRAINT account_with_limit_has_one_slot
    CHECK (slots = 1 OR NOT (debits_must_not_exceed_credits OR credits_must_not_exceed_debits)),
  CONSTRAINT account_slots_in_range CHECK (slots BETWEEN 1 AND 64)
);
CREATE INDEX account_owner_idx ON lexledger.account (owner) WHERE owner IS NOT NULL;
COMMENT ON TABLE lexledger.account IS
  'Ledger accounts. Currency, kind, flags and slots never change after opening; balances live in lexledger.account_balance.';
COMMENT ON COLUMN lexledger.account.slots IS
  'Number of balance rows. Accounts without a limit spread their counters over several rows so that concurrent writers do not queue on one row; accounts with a limit have exactly one, which serialises the check.';
COMMENT ON COLUMN lexledger.account.name IS
  'Optional unique name (e.g. house:ZAR); open_account with an existing name returns that account.';
COMMENT ON COLUMN lexledger.account.id IS 'Assigned by open_account; the id transfers name.';
COMMENT ON COLUMN lexledger.account.currency IS 'ISO-4217 code or registered unit of every amount the account takes.';
COMMENT ON COLUMN lexledger.account.kind IS 'What the account is for (wallet, escrow, house...); informative only.';
COMMENT ON COLUMN lexledger.account.owner IS 'Optional owner (a user or organisation id of the application); informative only.';
COMMENT ON COLUMN lexledger.account.debits_must_not_exceed_credits IS
  'Limit: debits, pending and posted, may never exceed posted credits (the available balance never goes below zero). For wallets.';
COMMENT ON COLUMN lexledger.account.credits_must_not_exceed_debits IS
  'Limit: credits, pending and posted, may never exceed posted debits.';
COMMENT ON COLUMN lexledger.account.metadata IS 'Free JSON of the application; lexledger never reads it.';
COMMENT ON COLUMN lexledger.account.created_at IS 'When the account was opened.';
COMMENT ON COLUMN lexledger.account.closed_at IS
  'When close_account closed it (null while open). The flag that postings check is lexledger.account_balance.closed.';

-- The fixed part of an account is cached by every backend for its life
-- (src/ledger_account.c) and decides how its transfers posted: changing it
-- would make sessions disagree and the history wrong. Refused to everyone;
-- a superuser repairing a ledger can disable the trigger, deliberately.
CREATE FUNCTION lexledger.refuse_account_change() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF (NEW.id, NEW.currency, NEW.kind, NEW.debits_must_not_exceed_credits,
      NEW.credits_must_not_exceed_debits, NEW.slots)
     IS DISTINCT FROM (OLD.id, OLD.currency, OLD.kind, OLD.debits_must_not_exceed_credits,
                       OLD.credits_must_not_exceed_debits, OLD.slots) THEN
    RAISE EXCEPTION 'account_immutable: the id, currency, kind, flags and slots of account % never change', OLD.id
      USING ERRCODE = 'LX151',
            DETAIL = 'Its transfers posted under them, and every session caches them.',
            HINT = 'Open a new account for other terms; name, owner and metadata may be updated.';
  END IF;
  RETURN NEW;
END $$;
COMMENT ON FUNCTION lexledger.refuse_account_change() IS
  'Trigger function: refuses an UPDATE of an account''s id, currency, kind, flags or slots with account_immutable.';

CREATE TRIGGER account_terms_never_change
  BEFORE UPDATE OF id, currency, kind, debits_must_not_exceed_credits, credits_must_not_exceed_debits, slots
  ON lexledger.account
  FOR EACH ROW EXECUTE FUNCTION lexledger.refuse_account_change();
COMMENT ON TRIGGER account_terms_never_change ON lexledger.account IS
  'An account''s id, currency, kind, flags and slots never change after opening.';

-- Balance counters in minor units of the account's currency.  An account
-- without a balance limit has several slot rows: each backend adds to its
-- own, and the balance is the sum.  Individual slots may go negative (a hold
-- recorded in one slot may be released from another); only sums mean
-- anything.
CREATE TABLE lexledger.account_balance (
  account_id      bigint   NOT NULL,
  slot            smallint NOT NULL,
  debits_pending  bigint   NOT NULL DEFAULT 0,
  debits_posted   bigint   NOT NULL DEFAULT 0,
  credits_pending bigint   NOT NULL DEFAULT 0,
  credits_posted  bigint   NOT NULL DEFAULT 0,
  closed          boolean  NOT NULL DEFAULT false,
  CONSTRAINT account_balance_pkey PRIMARY KEY (account_id, slot),
  CONSTRAINT account_balance_of_an_account
    FOREIGN KEY (account_id) REFERENCES lexledger.account (id)
) WITH (fillfactor = 40);
COMMENT ON TABLE lexledger.account_balance IS
  'The four TigerBeetle-style counters of each account, spread over its slots; written only by the posting functions.';
COMMENT ON COLUMN lexledger.account_balance.account_id IS 'The account these counters belong to.';
COMMENT ON COLUMN lexledger.account_balance.slot IS
  'Which of the account''s rows (0 to slots - 1). A backend writes the row its backend id picks; only the sum over the slots means anything.';
COMMENT ON COLUMN lexledger.account_balance.debits_pending IS 'Minor units held on the debit side by holds not yet resolved.';
COMMENT ON COLUMN lexledger.account_balance.debits_posted IS 'Minor units debited by posted transfers and captures.';
COMMENT ON COLUMN lexledger.account_balance.credits_pending IS 'Minor units held on the credit side by holds not yet resolved.';
COMMENT ON COLUMN lexledger.account_balance.credits_posted IS 'Minor units credited by posted transfers and captures.';
COMMENT ON COLUMN lexledger.account_balance.closed IS
  'Set on every slot row by close_account: postings, which update these rows anyway, see it under the row lock.';

CREATE TYPE lexledger.transfer_kind AS ENUM (
  'posted', 'pending', 'post_pending', 'void_pending', 'expire_pending');
COMMENT ON TYPE lexledger.transfer_kind IS
  'posted: moves funds now; pending: a hold; post_pending, void_pending, expire_pending: the resolution of a hold.';

-- The history.  Rows are only ever inserted (by the posting functions);
-- lexledger.transfer_is_append_only refuses UPDATE, DELETE and TRUNCATE to
-- everyone but superusers.  There are deliberately no foreign keys to
-- account: every transfer would take a KEY SHARE lock on both account rows,
-- which turns hot accounts into multixact storms; the posting path checks
-- the accounts itself and lexledger.verify() checks them again.
CREATE TABLE lexledger.transfer (
  id                uuid NOT NULL,
  debit_account_id  bigint NOT NULL,
  credit_account_id bigint NOT NULL,
  amount            lexledger.amount NOT NULL,
  kind              lexledger.transfer_kind NOT NULL,
  code              integer NOT NULL DEFAULT 0,
  reference         jsonb,
  pending_id        uuid,
  pending_amount    lexledger.amount,
  timeout           interval,
  created_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
  CONSTRAINT transfer_pkey PRIMARY KEY (id),
  CONSTRAINT transfer_accounts_differ CHECK (debit_account_id <> credit_account_id),
  CONSTRAINT transfer_amount_positive CHECK (lexledger.minor_units(amount) > 0),
  CONSTRAINT transfer_resolution_names_its_hold
    CHECK ((kind IN ('post_pending', 'void_pending', 'expire_pending'))
           = (pending_id IS NOT NULL AND pending_amount IS NOT NULL)),
  CONSTRAINT transfer_timeout_only_on_holds
    CHECK (timeout IS NULL OR (kind = 'pending' AND timeout > interval '0'))
);
CREATE INDEX transfer_debit_account_idx ON lexledger.transfer (debit_account_id, created_at);
CREATE INDEX transfer_credit_account_idx ON lexledger.transfer (credit_account_id, created_at);
CREATE UNIQUE INDEX transfer_resolves_a_hold_once ON lexledger.transfer (pending_id)
  WHERE pending_id IS NOT NULL;
COMMENT ON TABLE lexledger.transfer IS
  'Every transfer ever posted: append-only, one row per transfer, id chosen by the client (the idempotency key).';
COMMENT ON COLUMN lexledger.transfer.id IS 'Chosen by the client: the idempotency key. The same id with the same fields returns the original; with other fields it is an error.';
COMMENT ON COLUMN lexledger.transfer.debit_account_id IS 'The account debited (for a hold''s resolution: the hold''s debit account).';
COMMENT ON COLUMN lexledger.transfer.credit_account_id IS 'The account credited (for a hold''s resolution: the hold''s credit account).';
COMMENT ON COLUMN lexledger.transfer.amount IS
  'For post_pending: the amount captured; for void/expire: the amount released.';
COMMENT ON COLUMN lexledger.transfer.kind IS 'posted, pending (a hold), or post_pending, void_pending, expire_pending (a hold''s resolution).';
COMMENT ON COLUMN lexledger.transfer.code IS 'The reason, an integer of the application''s (TigerBeetle''s code).';
COMMENT ON COLUMN lexledger.transfer.reference IS 'Free JSON of the application: bet id, contract id, provider payment id...';
COMMENT ON COLUMN lexledger.transfer.pending_id IS 'For a resolution: the id of the hold it resolves; each hold is resolved at most once.';
COMMENT ON COLUMN lexledger.transfer.timeout IS 'For a hold: how long after created_at it expires by itself (null: never).';
COMMENT ON COLUMN lexledger.transfer.pending_amount IS
  'For a resolution: the amount of the hold it resolves (all of it leaves the pending counters).';
COMMENT ON COLUMN lexledger.transfer.created_at IS
  'Server-assigned (clock_timestamp at insert); statements order by (created_at, id).';

CREATE FUNCTION lexledger.batch_takes_back(id uuid) RETURNS boolean
AS 'MODULE_PATHNAME', 'lexledger_batch_takes_back' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION lexledger.batch_takes_back(uuid) IS
  'True only for a transfer that transfer_batch() is deleting, while it deletes it, because it inserted it itself in the same call and then did not post it; refuse_history_change() lets those deletions through.';

CREATE FUNCTION lexledger.refuse_history_change() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
    RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
  END IF;
  IF TG_OP = 'DELETE' THEN
    IF lexledger.batch_takes_back(OLD.id) THEN
      RETURN OLD;
    END IF;
  END IF;
  RAISE EXCEPTION 'transfer_immutable: % on %.% is not allowed', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
    USING ERRCODE = 'LX150',
          HINT = 'Posted transfers are never changed; post a correcting transfer instead.';
END $$;
COMMENT ON FUNCTION lexledger.refuse_history_change() IS
  'Trigger function: history tables are append-only for everyone but superusers (and transfer_batch() taking back, before commit, rows it inserted in the same call).';

CREATE TRIGGER transfer_is_append_only
  BEFORE UPDATE OR DELETE ON lexledger.transfer
  FOR EACH ROW EXECUTE FUNCTION lexledger.refuse_history_change();
CREATE TRIGGER transfer_is_never_truncated
  BEFORE TRUNCATE ON lexledger.transfer
  FOR EACH STATEMENT EXECUTE FUNCTION lexledger.refuse_history_change();

-- The holds still pending: a small, mutable table beside the immutable
-- history.  Capture, release and the expiry worker each begin by deleting
-- the hold's row; the row lock makes them queue and exactly one finds the
-- row.  A resolved hold's fate is its resolution in lexledger.transfer
-- (pending_id), so this table only ever holds live holds and takes no
-- update churn.
CREATE TYPE lexledger.pending_status AS ENUM ('pending', 'posted', 'voided', 'expired');
COMMENT ON TYPE lexledger.pending_status IS
  'What became of a hold: still pending, captured (posted), released (voided) or expired.';

-- When a hold placed at created_at with this timeout expires.  Adding days
-- and months to a timestamptz follows the session's time zone (a day
-- across a daylight-saving change is 23 or 25 hours), so the hold's
-- expiry would depend on who placed it and, in lexledger.hold, on who
-- reads it: it is computed in UTC, always.  Operators and functions are
-- qualified because this function is inlined into the caller's query.
CREATE FUNCTION lexledger.hold_expiry(created_at timestamptz, timeout interval)
RETURNS timestamptz LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT pg_catalog.timezone('UTC', pg_catalog.timezone('UTC', created_at) OPERATOR(pg_catalog.+) timeout)
$$;
COMMENT ON FUNCTION lexledger.hold_expiry(timestamptz, interval) IS
  'When a hold placed at created_at with this timeout expires: the timeout is added in UTC, whatever the session''s TimeZone.';

CREATE TABLE lexledger.pending_transfer (
  transfer_id       uuid NOT NULL,
  debit_account_id  bigint NOT NULL,
  credit_account_id bigint NOT NULL,
  amount            lexledger.amount NOT NULL,
  expires_at        timestamptz,
  expiry_failures   integer NOT NULL DEFAULT 0,
  expiry_retry_at   timestamptz,
  expiry_error      text,
  CONSTRAINT pending_transfer_pkey PRIMARY KEY (transfer_id),
  CONSTRAINT expiry_failures_are_counted_from_zero CHECK (expiry_failures >= 0)
);
CREATE INDEX pending_transfer_expiry_idx ON lexledger.pending_transfer (expires_at)
  WHERE expires_at IS NOT NULL;
COMMENT ON TABLE lexledger.pending_transfer IS
  'The holds still pending, with their expiry. A resolution deletes the row; capture, release and expiry race on it and exactly one wins. lexledger.verify() checks it against the history.';
COMMENT ON COLUMN lexledger.pending_transfer.transfer_id IS 'The hold''s id in lexledger.transfer.';
COMMENT ON COLUMN lexledger.pending_transfer.debit_account_id IS 'The hold''s debit account (a copy of the history''s).';
COMMENT ON COLUMN lexledger.pending_transfer.credit_account_id IS 'The hold''s credit account (a copy of the history''s).';
COMMENT ON COLUMN lexledger.pending_transfer.amount IS 'The amount held.';
COMMENT ON COLUMN lexledger.pending_transfer.expires_at IS 'When the expiry worker releases it (hold_expiry(created_at, timeout): the timeout added in UTC); null: never.';
COMMENT ON COLUMN lexledger.pending_transfer.expiry_failures IS 'How many times expiring it failed (a row of another table still referencing it, say); 0 for almost every hold.';
COMMENT ON COLUMN lexledger.pending_transfer.expiry_retry_at IS 'After a failed expiry, when expire_holds tries it again: 1 second after the first failure, doubling up to 10 minutes. Set it to null to have the next call try at once.';
COMMENT ON COLUMN lexledger.pending_transfer.expiry_error IS 'The SQLSTATE and message of the last failed expiry.';

-- The input of lexledger.transfer_batch().
CREATE TYPE lexledger.transfer_request AS (
  id                uuid,
  debit_account_id  bigint,
  credit_account_id bigint,
  amount            lexledger.amount,
  code              integer,
  reference         jsonb,
  pending           boolean,
  timeout           interval,
  linked            boolean
);
COMMENT ON TYPE lexledger.transfer_request IS
  'One transfer of a batch. pending = true makes it a hold (with an optional timeout). linked = true ties it to the next request: a chain of linked requests succeeds or fails as one.';

------------------------------------------------------------------------
-- Accounts
------------------------------------------------------------------------

CREATE FUNCTION lexledger.open_account(
  currency text,
  kind lexledger.account_kind DEFAULT 'user_wallet',
  owner text DEFAULT NULL,
  debits_must_not_exceed_credits boolean DEFAULT false,
  credits_must_not_exceed_debits boolean DEFAULT false,
  name text DEFAULT NULL,
  metadata jsonb DEFAULT NULL,
  slots integer DEFAULT NULL)
RETURNS lexledger.account
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  a lexledger.account;
  limited boolean := debits_must_not_exceed_credits OR credits_must_not_exceed_debits;
  n integer;
BEGIN
  IF currency IS NULL OR kind IS NULL OR debits_must_not_exceed_credits IS NULL
     OR credits_must_not_exceed_debits IS NULL THEN
    RAISE EXCEPTION 'invalid_account: currency, kind and flags must not be null'
      USING ERRCODE = 'LX104';
  END IF;
  IF debits_must_not_exceed_credits AND credits_must_not_exceed_debits THEN
    RAISE EXCEPTION 'flags_are_mutually_exclusive: an account may limit its debits or its credits, not both'
      USING ERRCODE = 'LX104';
  END IF;
  -- Validates the code (raises unknown_currency).
  currency := lexledger.currency(lexledger.amount_from_minor(0, currency));
  n := CASE WHEN limited THEN 1
            ELSE coalesce(slots, current_setting('lexledger.balance_slots', true)::integer, 16) END;
  IF slots IS NOT NULL AND (slots < 1 OR slots > 64 OR (limited AND slots <> 1)) THEN
    RAISE EXCEPTION 'invalid_account: slots must be between 1 and 64, and 1 for an account with a limit'
      USING ERRCODE = 'LX104', DETAIL = format('slots = %s', slots);
  END IF;

  INSERT INTO lexledger.account AS ac
    (name, currency, kind, owner, debits_must_not_exceed_credits,
     credits_must_not_exceed_debits, slots, metadata)
  VALUES (name, currency, kind, owner, debits_must_not_exceed_credits,
          credits_must_not_exceed_debits, n, metadata)
  ON CONFLICT ON CONSTRAINT account_name_is_unique DO NOTHING
  RETURNING * INTO a;
  IF NOT FOUND THEN
    -- the name is taken (perhaps by a concurrent call we just waited for):
    -- the same account is an idempotent success, another one an error
    SELECT * INTO a FROM lexledger.account ac WHERE ac.name = open_account.name;
    IF (a.currency, a.kind, a.owner, a.debits_must_not_exceed_credits,
        a.credits_must_not_exceed_debits, a.slots, a.metadata)
       IS DISTINCT FROM (currency, kind, owner, debits_must_not_exceed_credits,
                         credits_must_not_exceed_debits, n, metadata) THEN
      RAISE EXCEPTION 'account_exists_with_different_fields: account "%" exists with other fields', name
        USING ERRCODE = 'LX120',
              DETAIL = format('existing: %s %s, owner %s, slots %s', a.currency, a.kind,
                              coalesce(a.owner, 'none'), a.slots);
    END IF;
    RETURN a;
  END IF;
  INSERT INTO lexledger.account_balance (account_id, slot)
    SELECT a.id, s FROM generate_series(0, n - 1) s;
  RETURN a;
END $$;
COMMENT ON FUNCTION lexledger.open_account(text, lexledger.account_kind, text, boolean, boolean, text, jsonb, integer) IS
  'Opens an account. With a name, idempotent: an existing account of that name and the same fields is returned.';

CREATE FUNCTION lexledger.close_account(account_id bigint)
RETURNS lexledger.account
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  a lexledger.account;
BEGIN
  -- Locking every slot row waits for in-flight transfers on the account
  -- and makes later ones see the flag.
  UPDATE lexledger.account_balance b SET closed = true WHERE b.account_id = close_account.account_id;
  UPDATE lexledger.account ac SET closed_at = coalesce(ac.closed_at, now())
   WHERE ac.id = close_account.account_id RETURNING * INTO a;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'account_not_found: account % does not exist', account_id USING ERRCODE = 'LX100';
  END IF;
  RETURN a;
END $$;
COMMENT ON FUNCTION lexledger.close_account(bigint) IS
  'Closes an account: it takes no new transfers (holds already on it can still be captured or released). Idempotent.';

------------------------------------------------------------------------
-- Posting (C)
------------------------------------------------------------------------

CREATE FUNCTION lexledger.counter_add(counter bigint, delta bigint)
RETURNS bigint
AS 'MODULE_PATHNAME', 'lexledger_counter_add' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lexledger.counter_add(bigint, bigint) IS
  'counter + delta, raising amount_out_of_range (22003) past 64 bits; used by the posting paths on the balance counters.';

CREATE FUNCTION lexledger.new_id() RETURNS uuid
AS 'MODULE_PATHNAME', 'lexledger_new_id' LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION lexledger.new_id() IS
  'A new version 7 (time-ordered) uuid, increasing within a session: ids that keep the transfer index compact and its inserts cheap.';

CREATE FUNCTION lexledger.transfer(
  id uuid, debit_account_id bigint, credit_account_id bigint,
  amount lexledger.amount, code integer DEFAULT 0, reference jsonb DEFAULT NULL)
RETURNS lexledger.transfer
AS 'MODULE_PATHNAME', 'lexledger_transfer' LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION lexledger.transfer(uuid, bigint, bigint, lexledger.amount, integer, jsonb) IS
  'Posts one transfer, or returns the transfer already posted under this id (same fields) without posting again.';

CREATE FUNCTION lexledger.transfer_batch(transfers lexledger.transfer_request[])
RETURNS TABLE (ordinal integer, id uuid, result text, created_at timestamptz)
AS 'MODULE_PATHNAME', 'lexledger_transfer_batch' LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION lexledger.transfer_batch(lexledger.transfer_request[]) IS
  'Posts many transfers in one call and returns one result per request: ok, exists, or the error code of that request. Linked chains succeed or fail together.';

------------------------------------------------------------------------
-- Reading
------------------------------------------------------------------------

-- What a transfer does to the pending and the posted counters of each of
-- its two accounts (the same on both sides), in minor units.  A resolution
-- takes the whole hold out of pending and puts the captured amount (zero
-- for void/expire) into posted.  Unlike the other SQL and PL/pgSQL
-- functions these two do not pin search_path, so that the planner can
-- inline them into the statement and verify queries: they are parsed under
-- the caller's search_path.  So every name and every operator in them is
-- qualified.  Even pg_catalog's, which is searched first, is not enough
-- unqualified: its = on enums is the polymorphic anyenum one, and an
-- operator declared on exactly (transfer_kind, transfer_kind) in a schema
-- on the caller's path would be preferred to it.
CREATE FUNCTION lexledger.pending_change(kind lexledger.transfer_kind,
                                         amount lexledger.amount,
                                         pending_amount lexledger.amount)
RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN kind OPERATOR(pg_catalog.=) 'pending'::lexledger.transfer_kind
              THEN lexledger.minor_units(amount)
              WHEN kind OPERATOR(pg_catalog.=) 'posted'::lexledger.transfer_kind THEN 0
              ELSE OPERATOR(pg_catalog.-) lexledger.minor_units(pending_amount) END
$$;
COMMENT ON FUNCTION lexledger.pending_change(lexledger.transfer_kind, lexledger.amount, lexledger.amount) IS
  'How much a transfer adds to the pending counters of its accounts (negative for a resolution), in minor units.';

CREATE FUNCTION lexledger.posted_change(kind lexledger.transfer_kind, amount lexledger.amount)
RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN kind OPERATOR(pg_catalog.=) 'posted'::lexledger.transfer_kind
                OR kind OPERATOR(pg_catalog.=) 'post_pending'::lexledger.transfer_kind
              THEN lexledger.minor_units(amount) ELSE 0 END
$$;
COMMENT ON FUNCTION lexledger.posted_change(lexledger.transfer_kind, lexledger.amount) IS
  'How much a transfer adds to the posted counters of its accounts, in minor units.';

-- One row per (transfer, side).  Two branches of a UNION ALL, so that a
-- filter on account_id becomes an index scan of transfer_debit_account_idx
-- and of transfer_credit_account_idx instead of a scan of all history.
CREATE VIEW lexledger.transfer_effect AS
  SELECT t.id AS transfer_id, t.created_at, t.kind, t.code,
         t.debit_account_id AS account_id, true AS is_debit,
         t.credit_account_id AS counterparty_id,
         lexledger.pending_change(t.kind, t.amount, t.pending_amount) AS debits_pending,
         lexledger.posted_change(t.kind, t.amount) AS debits_posted,
         0::bigint AS credits_pending, 0::bigint AS credits_posted
    FROM lexledger.transfer t
  UNION ALL
  SELECT t.id, t.created_at, t.kind, t.code,
         t.credit_account_id, false, t.debit_account_id,
         0::bigint, 0::bigint,
         lexledger.pending_change(t.kind, t.amount, t.pending_amount),
         lexledger.posted_change(t.kind, t.amount)
    FROM lexledger.transfer t;
COMMENT ON VIEW lexledger.transfer_effect IS
  'Each transfer''s change to the four counters of each of its accounts, in minor units; the counters are the sums of this view.';
COMMENT ON COLUMN lexledger.transfer_effect.transfer_id IS 'The transfer.';
COMMENT ON COLUMN lexledger.transfer_effect.created_at IS 'The transfer''s created_at.';
COMMENT ON COLUMN lexledger.transfer_effect.kind IS 'The transfer''s kind.';
COMMENT ON COLUMN lexledger.transfer_effect.code IS 'The transfer''s code.';
COMMENT ON COLUMN lexledger.transfer_effect.account_id IS 'The account this row is about: the debit account (is_debit) or the credit account.';
COMMENT ON COLUMN lexledger.transfer_effect.is_debit IS 'Whether account_id is the transfer''s debit account.';
COMMENT ON COLUMN lexledger.transfer_effect.counterparty_id IS 'The transfer''s other account.';
COMMENT ON COLUMN lexledger.transfer_effect.debits_pending IS 'Change to account_id''s debits_pending, minor units (negative when a hold is resolved).';
COMMENT ON COLUMN lexledger.transfer_effect.debits_posted IS 'Change to account_id''s debits_posted, minor units.';
COMMENT ON COLUMN lexledger.transfer_effect.credits_pending IS 'Change to account_id''s credits_pending, minor units (negative when a hold is resolved).';
COMMENT ON COLUMN lexledger.transfer_effect.credits_posted IS 'Change to account_id''s credits_posted, minor units.';

-- Each balance row holds 64-bit counters, but reads add rows up: the slots
-- of an account, or every account of a currency.  A sum past 64 bits cannot
-- be an amount, and is reported as such rather than as int8's bare error.
CREATE FUNCTION lexledger.minor_units_of_sum(total numeric, what text)
RETURNS bigint
LANGUAGE plpgsql IMMUTABLE STRICT SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF total < -9223372036854775808 OR total > 9223372036854775807 THEN
    RAISE EXCEPTION 'amount_out_of_range: % is % minor units, past the 64 bits of an amount', what, total
      USING ERRCODE = '22003',
            HINT = 'A sum of 64-bit counters (over the slots of an account, or over accounts) can pass what one amount holds; verify() names the accounts whose own sums do.';
  END IF;
  RETURN total;
END $$;
COMMENT ON FUNCTION lexledger.minor_units_of_sum(numeric, text) IS
  'total as bigint, or amount_out_of_range (22003) naming "what" when a sum of counters passes 64 bits.';

-- The four counters of an account as of an instant (transfers with
-- created_at <= as_of), read one of two ways that agree on a healthy ledger
-- (verify() checks that the counters are the sums of the history): summed
-- from the account's first transfer, or the current counters less what
-- came after.  Both use the (account, created_at) indexes; the cheaper one
-- reads the fewer transfers, which for an account in steady use is the one
-- on the shorter side of as_of.  from_now null picks that side by time.
-- A null as_of means now.
-- STABLE, so both reads see the caller's one snapshot.
CREATE FUNCTION lexledger.counters_as_of(account_id bigint, as_of timestamptz,
                                         from_now boolean DEFAULT NULL,
                                         OUT debits_pending bigint, OUT debits_posted bigint,
                                         OUT credits_pending bigint, OUT credits_posted bigint)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  opened timestamptz;
  dp numeric; dpo numeric; cp numeric; cpo numeric;
  largest numeric;
BEGIN
  SELECT a.created_at INTO opened FROM lexledger.account a WHERE a.id = counters_as_of.account_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'account_not_found: account % does not exist', counters_as_of.account_id
      USING ERRCODE = 'LX100';
  END IF;
  as_of := coalesce(as_of, 'infinity');
  IF from_now IS NULL THEN
    from_now := as_of >= opened + (now() - opened) / 2;
  END IF;
  IF NOT from_now THEN
    SELECT coalesce(sum(e.debits_pending), 0), coalesce(sum(e.debits_posted), 0),
           coalesce(sum(e.credits_pending), 0), coalesce(sum(e.credits_posted), 0)
      INTO dp, dpo, cp, cpo
      FROM lexledger.transfer_effect e
     WHERE e.account_id = counters_as_of.account_id AND e.created_at <= as_of;
  ELSE
    SELECT coalesce(sum(b.debits_pending), 0), coalesce(sum(b.debits_posted), 0),
           coalesce(sum(b.credits_pending), 0), coalesce(sum(b.credits_posted), 0)
      INTO dp, dpo, cp, cpo
      FROM lexledger.account_balance b WHERE b.account_id = counters_as_of.account_id;
    IF as_of <> 'infinity' THEN  -- now: nothing comes after
      SELECT dp - coalesce(sum(e.debits_pending), 0), dpo - coalesce(sum(e.debits_posted), 0),
             cp - coalesce(sum(e.credits_pending), 0), cpo - coalesce(sum(e.credits_posted), 0)
        INTO dp, dpo, cp, cpo
        FROM lexledger.transfer_effect e
       WHERE e.account_id = counters_as_of.account_id AND e.created_at > as_of;
    END IF;
  END IF;
  largest := greatest(abs(dp), abs(dpo), abs(cp), abs(cpo));
  IF largest > 9223372036854775807 THEN  -- only then pay for the message
    PERFORM lexledger.minor_units_of_sum(largest, format('a counter of account %s', counters_as_of.account_id));
  END IF;
  debits_pending := dp;
  debits_posted := dpo;
  credits_pending := cp;
  credits_posted := cpo;
END $$;
COMMENT ON FUNCTION lexledger.counters_as_of(bigint, timestamptz, boolean) IS
  'Counters (minor units) of an account as of an instant: summed from the start (from_now false) or the current counters less later transfers (true); null picks the side with less history.';

CREATE FUNCTION lexledger.balance(account_id bigint, as_of timestamptz DEFAULT NULL)
RETURNS TABLE (currency text,
               debits_pending lexledger.amount, debits_posted lexledger.amount,
               credits_pending lexledger.amount, credits_posted lexledger.amount,
               posted_balance lexledger.amount, available_balance lexledger.amount)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  cur text;
  dp bigint; dpo bigint; cp bigint; cpo bigint;
  posted bigint;
BEGIN
  SELECT a.currency INTO cur FROM lexledger.account a WHERE a.id = balance.account_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'account_not_found: account % does not exist', balance.account_id USING ERRCODE = 'LX100';
  END IF;
  SELECT c.debits_pending, c.debits_posted, c.credits_pending, c.credits_posted
    INTO dp, dpo, cp, cpo
    FROM lexledger.counters_as_of(balance.account_id, as_of) c;
  -- each counter fits in 64 bits; their differences may not
  IF cpo::numeric - dpo NOT BETWEEN -9223372036854775808 AND 9223372036854775807 THEN
    PERFORM lexledger.minor_units_of_sum(cpo::numeric - dpo,
                                         format('the posted balance of account %s', balance.account_id));
  END IF;
  posted := cpo - dpo;
  IF posted::numeric - dp NOT BETWEEN -9223372036854775808 AND 9223372036854775807 THEN
    PERFORM lexledger.minor_units_of_sum(posted::numeric - dp,
                                         format('the available balance of account %s', balance.account_id));
  END IF;
  RETURN QUERY SELECT cur,
    lexledger.amount_from_minor(dp, cur), lexledger.amount_from_minor(dpo, cur),
    lexledger.amount_from_minor(cp, cur), lexledger.amount_from_minor(cpo, cur),
    lexledger.amount_from_minor(posted, cur), lexledger.amount_from_minor(posted - dp, cur);
END $$;
COMMENT ON FUNCTION lexledger.balance(bigint, timestamptz) IS
  'Counters and balances of an account, now or as of a past instant. posted_balance = credits_posted - debits_posted; available_balance also subtracts debits_pending (the usual view of a wallet). For debit-normal accounts read them negated.';

-- A statement can be read in pages: max_rows bounds a page, and the next
-- page starts after the last transfer of this one (after_transfer_id).
-- Rows are ordered by (created_at, transfer_id), so the cursor is exact
-- even when transfers share a timestamp, and each page opens with the
-- posted balance just before its first row.
CREATE FUNCTION lexledger.statement(account_id bigint, from_time timestamptz, to_time timestamptz,
                                    max_rows integer DEFAULT NULL, after_transfer_id uuid DEFAULT NULL)
RETURNS TABLE (created_at timestamptz, transfer_id uuid, kind lexledger.transfer_kind, code integer,
               counterparty_id bigint, debit lexledger.amount, credit lexledger.amount,
               pending_change lexledger.amount, balance lexledger.amount, reference jsonb)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  cur text;
  cursor_time timestamptz;
  opening bigint;
BEGIN
  SELECT a.currency INTO cur FROM lexledger.account a WHERE a.id = statement.account_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'account_not_found: account % does not exist', statement.account_id USING ERRCODE = 'LX100';
  END IF;
  IF max_rows IS NOT NULL AND max_rows < 1 THEN
    RAISE EXCEPTION 'invalid_max_rows: max_rows must be at least 1, or null for every row'
      USING ERRCODE = '2201W', DETAIL = format('max_rows = %s', max_rows);
  END IF;
  -- a null bound leaves that side open, as in a range
  from_time := coalesce(from_time, '-infinity');
  to_time := coalesce(to_time, 'infinity');
  IF after_transfer_id IS NOT NULL THEN
    SELECT e.created_at INTO cursor_time FROM lexledger.transfer_effect e
     WHERE e.transfer_id = after_transfer_id AND e.account_id = statement.account_id;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'transfer_not_found: no transfer % of account %', after_transfer_id, statement.account_id
        USING ERRCODE = 'LX131', HINT = 'after_transfer_id is the transfer_id of the last row of the previous page.';
    END IF;
    IF cursor_time < from_time THEN
      cursor_time := NULL;  -- the range starts later than the cursor anyway
    END IF;
  END IF;
  IF cursor_time IS NULL THEN
    -- created_at < from_time: timestamps have microsecond resolution (and
    -- before the earliest timestamptz there is nothing)
    SELECT c.credits_posted - c.debits_posted INTO opening
      FROM lexledger.counters_as_of(statement.account_id,
             CASE WHEN from_time <= '4714-11-24 00:00:00+00 BC' THEN '-infinity'
                  ELSE from_time - interval '1 microsecond' END) c;
  ELSE
    SELECT c.credits_posted - c.debits_posted
           + (SELECT coalesce(sum(e.credits_posted - e.debits_posted), 0)
                FROM lexledger.transfer_effect e
               WHERE e.account_id = statement.account_id AND e.created_at = cursor_time
                 AND e.transfer_id <= after_transfer_id)
      INTO opening
      FROM lexledger.counters_as_of(statement.account_id, cursor_time - interval '1 microsecond') c;
  END IF;
  RETURN QUERY
  WITH moves AS (
    SELECT e.created_at, e.transfer_id, e.kind, e.code, e.counterparty_id,
           e.debits_posted, e.credits_posted,
           e.credits_pending - e.debits_pending AS pending_change
      FROM lexledger.transfer_effect e
     WHERE e.account_id = statement.account_id
       AND e.created_at >= coalesce(cursor_time, from_time) AND e.created_at < to_time
       AND (cursor_time IS NULL OR (e.created_at, e.transfer_id) > (cursor_time, after_transfer_id))
     ORDER BY e.created_at, e.transfer_id
     LIMIT max_rows)
  SELECT m.created_at, m.transfer_id, m.kind, m.code, m.counterparty_id,
         lexledger.amount_from_minor(m.debits_posted, cur),
         lexledger.amount_from_minor(m.credits_posted, cur),
         lexledger.amount_from_minor(m.pending_change, cur),
         lexledger.amount_from_minor(
           (opening + sum(m.credits_posted - m.debits_posted)
              OVER (ORDER BY m.created_at, m.transfer_id))::bigint, cur),
         t.reference
    FROM moves m
    JOIN lexledger.transfer t ON t.id = m.transfer_id
   ORDER BY m.created_at, m.transfer_id;
END $$;
COMMENT ON FUNCTION lexledger.statement(bigint, timestamptz, timestamptz, integer, uuid) IS
  'Every transfer touching the account in [from_time, to_time), oldest first, with the running posted balance (credits - debits); optionally a page of at most max_rows rows after the transfer after_transfer_id.';

CREATE FUNCTION lexledger.totals()
RETURNS TABLE (currency text, accounts bigint, debits_pending lexledger.amount, debits_posted lexledger.amount,
               credits_pending lexledger.amount, credits_posted lexledger.amount)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
  SELECT a.currency, count(DISTINCT a.id),
         lexledger.amount_from_minor(lexledger.minor_units_of_sum(sum(b.debits_pending), 'the total debits pending in ' || a.currency), a.currency),
         lexledger.amount_from_minor(lexledger.minor_units_of_sum(sum(b.debits_posted), 'the total debits posted in ' || a.currency), a.currency),
         lexledger.amount_from_minor(lexledger.minor_units_of_sum(sum(b.credits_pending), 'the total credits pending in ' || a.currency), a.currency),
         lexledger.amount_from_minor(lexledger.minor_units_of_sum(sum(b.credits_posted), 'the total credits posted in ' || a.currency), a.currency)
    FROM lexledger.account a JOIN lexledger.account_balance b ON b.account_id = a.id
   GROUP BY a.currency ORDER BY a.currency
$$;
COMMENT ON FUNCTION lexledger.totals() IS
  'Sum of each counter per currency. In a healthy ledger debits equal credits in every currency.';

-- verify(): empty result = healthy.  Each row names a broken invariant.
CREATE FUNCTION lexledger.verify()
RETURNS TABLE (problem text, account_id bigint, currency text, detail text)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
  WITH counters AS (
    SELECT b.account_id, sum(b.debits_pending) dp, sum(b.debits_posted) dpo,
           sum(b.credits_pending) cp, sum(b.credits_posted) cpo
      FROM lexledger.account_balance b GROUP BY b.account_id),
  history AS (
    SELECT e.account_id, sum(e.debits_pending) dp, sum(e.debits_posted) dpo,
           sum(e.credits_pending) cp, sum(e.credits_posted) cpo
      FROM lexledger.transfer_effect e GROUP BY e.account_id)
  -- 1. Every currency nets to zero, posted and pending.
  SELECT 'currency_does_not_net_to_zero', NULL::bigint, a.currency,
         format('debits posted %s, credits posted %s, debits pending %s, credits pending %s',
                sum(c.dpo), sum(c.cpo), sum(c.dp), sum(c.cp))
    FROM counters c JOIN lexledger.account a ON a.id = c.account_id
   GROUP BY a.currency
  HAVING sum(c.dpo) <> sum(c.cpo) OR sum(c.dp) <> sum(c.cp)
  UNION ALL
  -- 2. Every counter equals the sum of its transfers.
  SELECT 'counters_differ_from_transfers', a.id, a.currency,
         format('counters (dp %s, dpo %s, cp %s, cpo %s) vs transfers (dp %s, dpo %s, cp %s, cpo %s)',
                c.dp, c.dpo, c.cp, c.cpo, coalesce(h.dp, 0), coalesce(h.dpo, 0),
                coalesce(h.cp, 0), coalesce(h.cpo, 0))
    FROM lexledger.account a
    LEFT JOIN counters c ON c.account_id = a.id
    LEFT JOIN history h ON h.account_id = a.id
   WHERE (coalesce(c.dp, 0), coalesce(c.dpo, 0), coalesce(c.cp, 0), coalesce(c.cpo, 0))
         IS DISTINCT FROM (coalesce(h.dp, 0), coalesce(h.dpo, 0), coalesce(h.cp, 0), coalesce(h.cpo, 0))
  UNION ALL
  -- 3. Every account has exactly its slot rows.
  SELECT 'balance_slots_missing', a.id, a.currency,
         format('%s slot rows, %s expected', count(b.slot), a.slots)
    FROM lexledger.account a LEFT JOIN lexledger.account_balance b ON b.account_id = a.id
   GROUP BY a.id HAVING count(b.slot) <> a.slots
  UNION ALL
  -- 4. Transfers name existing accounts in their own currency.
  SELECT 'transfer_account_invalid', t.debit_account_id, lexledger.currency(t.amount),
         format('transfer %s: debit account %s, credit account %s', t.id,
                coalesce(d.currency, 'missing'), coalesce(c.currency, 'missing'))
    FROM lexledger.transfer t
    LEFT JOIN lexledger.account d ON d.id = t.debit_account_id
    LEFT JOIN lexledger.account c ON c.id = t.credit_account_id
   WHERE d.currency IS DISTINCT FROM lexledger.currency(t.amount)
      OR c.currency IS DISTINCT FROM lexledger.currency(t.amount)
  UNION ALL
  -- 5. Limits hold on the totals.
  SELECT CASE WHEN a.debits_must_not_exceed_credits THEN 'debits_exceed_credits'
              ELSE 'credits_exceed_debits' END, a.id, a.currency,
         format('dp %s, dpo %s, cp %s, cpo %s', c.dp, c.dpo, c.cp, c.cpo)
    FROM lexledger.account a JOIN counters c ON c.account_id = a.id
   WHERE (a.debits_must_not_exceed_credits AND c.dp + c.dpo > c.cpo)
      OR (a.credits_must_not_exceed_debits AND c.cp + c.cpo > c.dpo)
  UNION ALL
  -- 6. An account's counters, summed over its slots, and its balances fit
  --    in an amount: each slot row stays within 64 bits by itself, so
  --    only here can a sum of them be seen to pass.
  SELECT 'counters_out_of_range', a.id, a.currency,
         format('dp %s, dpo %s, cp %s, cpo %s', c.dp, c.dpo, c.cp, c.cpo)
    FROM lexledger.account a JOIN counters c ON c.account_id = a.id
   WHERE greatest(abs(c.dp), abs(c.dpo), abs(c.cp), abs(c.cpo), abs(c.cpo - c.dpo),
                  abs(c.cpo - c.dpo - c.dp)) > 9223372036854775807
  UNION ALL
  -- 7. A hold is pending (has its row in pending_transfer) exactly when no
  --    resolution of it exists, and pending_transfer holds nothing else.
  SELECT 'hold_state_inconsistent', t.debit_account_id, lexledger.currency(t.amount),
         format('hold %s: %s, resolution %s', t.id,
                CASE WHEN p.transfer_id IS NULL THEN 'not pending' ELSE 'pending' END,
                coalesce(r.id::text, 'none'))
    FROM lexledger.transfer t
    LEFT JOIN lexledger.pending_transfer p ON p.transfer_id = t.id
    LEFT JOIN lexledger.transfer r ON r.pending_id = t.id
   WHERE t.kind = 'pending' AND (p.transfer_id IS NULL) = (r.id IS NULL)
  UNION ALL
  -- 8. A resolution resolves a hold, between the hold's accounts, of the
  --    hold's whole amount (pending_amount), and moves at most that much
  --    (a capture) or exactly that much back (a release or an expiry).
  --    Compared in minor units and codes: a damaged row in another
  --    currency must be reported, not raise currency_mismatch.
  SELECT 'resolution_inconsistent', r.debit_account_id, lexledger.currency(r.amount),
         format('%s %s of hold %s: %s', r.kind, r.id, r.pending_id, x.wrong)
    FROM lexledger.transfer r
    LEFT JOIN lexledger.transfer h ON h.id = r.pending_id AND h.kind = 'pending'
    CROSS JOIN LATERAL (
      SELECT CASE
        WHEN h.id IS NULL THEN 'no such hold'
        WHEN (r.debit_account_id, r.credit_account_id)
             IS DISTINCT FROM (h.debit_account_id, h.credit_account_id)
          THEN format('accounts %s -> %s, the hold''s %s -> %s', r.debit_account_id,
                      r.credit_account_id, h.debit_account_id, h.credit_account_id)
        WHEN lexledger.currency(r.pending_amount) <> lexledger.currency(h.amount)
             OR lexledger.minor_units(r.pending_amount) <> lexledger.minor_units(h.amount)
          THEN format('pending_amount %s, the hold''s amount %s', r.pending_amount, h.amount)
        WHEN lexledger.currency(r.amount) <> lexledger.currency(r.pending_amount)
             OR CASE WHEN r.kind = 'post_pending'
                     THEN lexledger.minor_units(r.amount) > lexledger.minor_units(r.pending_amount)
                     ELSE lexledger.minor_units(r.amount) <> lexledger.minor_units(r.pending_amount) END
          THEN format('amount %s of pending_amount %s', r.amount, r.pending_amount)
      END AS wrong) x
   WHERE r.pending_id IS NOT NULL AND x.wrong IS NOT NULL
  UNION ALL
  SELECT 'pending_row_without_hold', p.debit_account_id, lexledger.currency(p.amount),
         format('pending_transfer %s names no hold', p.transfer_id)
    FROM lexledger.pending_transfer p
    LEFT JOIN lexledger.transfer t ON t.id = p.transfer_id AND t.kind = 'pending'
   WHERE t.id IS NULL
$$;
COMMENT ON FUNCTION lexledger.verify() IS
  'Proves the ledger: every currency nets to zero, every counter equals the sum of its transfers, limits hold, holds are consistent. Returns nothing when healthy.';

-- pg_dump dumps the rows of an extension's tables only when they are
-- registered as configuration tables: the ledger is data, not definition.
SELECT pg_catalog.pg_extension_config_dump('lexledger.account', '');
SELECT pg_catalog.pg_extension_config_dump('lexledger.account_id_seq', '');
COMMENT ON SEQUENCE lexledger.account_id_seq IS 'Numbers lexledger.account (its identity column).';
SELECT pg_catalog.pg_extension_config_dump('lexledger.account_balance', '');
SELECT pg_catalog.pg_extension_config_dump('lexledger.transfer', '');
SELECT pg_catalog.pg_extension_config_dump('lexledger.pending_transfer', '');
