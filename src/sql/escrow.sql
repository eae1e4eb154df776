-- escrow.sql: holds (pending transfers), their capture, release and expiry.
-- The functions are C (src/escrow.c); the state is lexledger.pending_transfer
-- (src/sql/ledger.sql).

INSERT INTO lexledger.error_code (code, sqlstate, description) VALUES
  ('pending_transfer_not_found',      'LX140', 'no hold has this id (or it is not due to expire)'),
  ('pending_transfer_already_posted', 'LX141', 'the hold was already captured'),
  ('pending_transfer_already_voided', 'LX142', 'the hold was already released'),
  ('pending_transfer_expired',        'LX143', 'the hold has expired; its funds return to the debit account'),
  ('exceeds_pending_amount',          'LX144', 'a capture may not exceed the hold');
INSERT INTO lexledger.error_code (code, sqlstate, description, severity) VALUES
  ('hold_not_expired', NULL, 'a due hold could not expire (the warning carries its cause''s SQLSTATE); it stays pending and is tried again later', 'warning');

CREATE FUNCTION lexledger.hold(
  id uuid, debit_account_id bigint, credit_account_id bigint,
  amount lexledger.amount, code integer DEFAULT 0, reference jsonb DEFAULT NULL,
  timeout interval DEFAULT NULL)
RETURNS lexledger.transfer
AS 'MODULE_PATHNAME', 'lexledger_hold' LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION lexledger.hold(uuid, bigint, bigint, lexledger.amount, integer, jsonb, interval) IS
  'Places a hold: a pending transfer that moves funds from available to pending. With a timeout, the hold is released by the expiry worker once it passes. Idempotent on id.';

CREATE FUNCTION lexledger.capture(
  id uuid, pending_id uuid, amount lexledger.amount DEFAULT NULL,
  code integer DEFAULT NULL, reference jsonb DEFAULT NULL)
RETURNS lexledger.transfer
AS 'MODULE_PATHNAME', 'lexledger_capture' LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION lexledger.capture(uuid, uuid, lexledger.amount, integer, jsonb) IS
  'Posts a hold: all of it (amount null) or part of it, the rest returning to the debit account. code null keeps the hold''s code. Idempotent on id.';

CREATE FUNCTION lexledger.release(
  id uuid, pending_id uuid, code integer DEFAULT NULL, reference jsonb DEFAULT NULL)
RETURNS lexledger.transfer
AS 'MODULE_PATHNAME', 'lexledger_release' LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION lexledger.release(uuid, uuid, integer, jsonb) IS
  'Voids a hold: all of it returns to the debit account. Idempotent on id.';

CREATE FUNCTION lexledger.expire_holds(max_holds integer DEFAULT 1000)
RETURNS integer
AS 'MODULE_PATHNAME', 'lexledger_expire_holds' LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION lexledger.expire_holds(integer) IS
  'Releases up to max_holds holds whose timeout has passed and returns how many. The expiry worker calls it every lexledger.expiry_naptime; callable by hand.';

CREATE VIEW lexledger.hold AS
  SELECT t.id, t.debit_account_id, t.credit_account_id, t.amount,
         (CASE r.kind WHEN 'post_pending' THEN 'posted'
                      WHEN 'void_pending' THEN 'voided'
                      WHEN 'expire_pending' THEN 'expired'
                      ELSE 'pending' END)::lexledger.pending_status AS status,
         t.created_at, lexledger.hold_expiry(t.created_at, t.timeout) AS expires_at,
         r.id AS resolved_by, r.created_at AS resolved_at,
         CASE WHEN r.kind = 'post_pending' THEN r.amount END AS captured,
         t.code, t.reference
    FROM lexledger.transfer t
    LEFT JOIN lexledger.transfer r ON r.pending_id = t.id
   WHERE t.kind = 'pending';
COMMENT ON VIEW lexledger.hold IS
  'Every hold ever placed with its status, expiry and how much of it was captured. For the holds still pending (a small table) read lexledger.pending_transfer.';
COMMENT ON COLUMN lexledger.hold.id IS 'The hold''s transfer id.';
COMMENT ON COLUMN lexledger.hold.debit_account_id IS 'The account whose funds are held.';
COMMENT ON COLUMN lexledger.hold.credit_account_id IS 'The account a capture pays.';
COMMENT ON COLUMN lexledger.hold.amount IS 'The amount held.';
COMMENT ON COLUMN lexledger.hold.status IS 'pending, posted (captured), voided (released) or expired.';
COMMENT ON COLUMN lexledger.hold.created_at IS 'When the hold was placed.';
COMMENT ON COLUMN lexledger.hold.expires_at IS 'When it expires by itself (null: never).';
COMMENT ON COLUMN lexledger.hold.resolved_by IS 'The id of the transfer that captured, released or expired it (null while pending).';
COMMENT ON COLUMN lexledger.hold.resolved_at IS 'When it was resolved.';
COMMENT ON COLUMN lexledger.hold.captured IS 'For a captured hold: the amount captured (the rest went back to the debit account).';
COMMENT ON COLUMN lexledger.hold.code IS 'The hold''s code.';
COMMENT ON COLUMN lexledger.hold.reference IS 'The hold''s reference.';
