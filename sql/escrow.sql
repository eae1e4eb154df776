-- Escrow: holds (pending transfers), capture in full or in part, release,
-- expiry, and their races settled by status (the concurrent cases are in
-- test/isolation/specs/escrow-*.spec).
SET client_min_messages = warning;
-- Each test starts from a fresh extension, so ids do not depend on test order.
DROP EXTENSION lexledger CASCADE;
CREATE EXTENSION lexledger;
\i test/sql/err.sql

SELECT id AS house FROM lexledger.open_account('KES', 'house', name => 'house:KES') \gset
SELECT id AS escrow FROM lexledger.open_account('KES', 'escrow', name => 'escrow:KES') \gset
SELECT id AS punter FROM lexledger.open_account('KES', owner => 'punter', debits_must_not_exceed_credits => true) \gset
SELECT amount FROM lexledger.transfer('10000000-0000-0000-0000-000000000001', :house, :punter, '1000.00 KES');

-- a stake of 300 is held: still the punter's, no longer spendable
SELECT id, kind, amount, timeout FROM lexledger.hold('10000000-0000-0000-0000-000000000010', :punter, :escrow, '300.00 KES', 40, '{"bet": 1}');
SELECT posted_balance, available_balance, debits_pending FROM lexledger.balance(:punter);
SELECT credits_pending FROM lexledger.balance(:escrow);
SELECT status, captured FROM lexledger.hold WHERE id = '10000000-0000-0000-0000-000000000010';
-- holds count against the limit
SELECT pg_temp.err($$SELECT lexledger.hold('10000000-0000-0000-0000-000000000011', $$ || :punter || $$, $$ || :escrow || $$, '700.01 KES')$$);
SELECT pg_temp.err($$SELECT lexledger.transfer('10000000-0000-0000-0000-000000000011', $$ || :punter || $$, $$ || :house || $$, '700.01 KES')$$);
-- a retried hold returns the original
SELECT id, amount FROM lexledger.hold('10000000-0000-0000-0000-000000000010', :punter, :escrow, '300.00 KES', 40, '{"bet": 1}');
SELECT pg_temp.err($$SELECT lexledger.hold('10000000-0000-0000-0000-000000000010', $$ || :punter || $$, $$ || :escrow || $$, '300.00 KES', 40, '{"bet": 1}', '1 hour')$$);

-- retries of a hold, a capture and a release whose reference is stored out
-- of line (TOAST) return it whole (190 kB: see the same test in ledger.sql)
BEGIN;
SELECT string_agg(md5(g::text), '') AS big_text FROM generate_series(1, 6000) g \gset
SELECT length(reference->>'note') FROM lexledger.hold('10000000-0000-0000-0000-0000000000b1', :punter, :escrow, '0.01 KES', 0, jsonb_build_object('note', :'big_text'));
SELECT length(reference->>'note') FROM lexledger.hold('10000000-0000-0000-0000-0000000000b1', :punter, :escrow, '0.01 KES', 0, jsonb_build_object('note', :'big_text'));
SELECT length(reference->>'note') FROM lexledger.capture('10000000-0000-0000-0000-0000000000b2', '10000000-0000-0000-0000-0000000000b1', reference => jsonb_build_object('note', :'big_text'));
SELECT length(reference->>'note') FROM lexledger.capture('10000000-0000-0000-0000-0000000000b2', '10000000-0000-0000-0000-0000000000b1', reference => jsonb_build_object('note', :'big_text'));
SELECT length(reference->>'note') FROM lexledger.hold('10000000-0000-0000-0000-0000000000b3', :punter, :escrow, '0.01 KES', 0, jsonb_build_object('note', :'big_text'));
SELECT length(reference->>'note') FROM lexledger.release('10000000-0000-0000-0000-0000000000b4', '10000000-0000-0000-0000-0000000000b3', reference => jsonb_build_object('note', :'big_text'));
SELECT length(reference->>'note') FROM lexledger.release('10000000-0000-0000-0000-0000000000b4', '10000000-0000-0000-0000-0000000000b3', reference => jsonb_build_object('note', :'big_text'));
SELECT count(*) FILTER (WHERE pg_column_size(reference) > 2000) AS stored_large FROM lexledger.transfer WHERE id::text LIKE '10000000-0000-0000-0000-0000000000b%';
ROLLBACK;
-- capture part of it: 200 is posted, 100 returns
SELECT kind, amount, pending_amount, code, pending_id
  FROM lexledger.capture('10000000-0000-0000-0000-000000000012', '10000000-0000-0000-0000-000000000010', '200.00 KES');
SELECT posted_balance, available_balance, debits_pending FROM lexledger.balance(:punter);
SELECT posted_balance, credits_pending FROM lexledger.balance(:escrow);
SELECT status, captured FROM lexledger.hold WHERE id = '10000000-0000-0000-0000-000000000010';
-- a retried capture returns it; any other resolution fails
SELECT kind, amount FROM lexledger.capture('10000000-0000-0000-0000-000000000012', '10000000-0000-0000-0000-000000000010', '200.00 KES');
SELECT pg_temp.err($$SELECT lexledger.capture('10000000-0000-0000-0000-000000000012', '10000000-0000-0000-0000-000000000010', '250.00 KES')$$);
SELECT pg_temp.err($$SELECT lexledger.capture('10000000-0000-0000-0000-000000000013', '10000000-0000-0000-0000-000000000010')$$);
SELECT pg_temp.err($$SELECT lexledger.release('10000000-0000-0000-0000-000000000013', '10000000-0000-0000-0000-000000000010')$$);

-- release: all of it returns
SELECT amount FROM lexledger.hold('10000000-0000-0000-0000-000000000020', :punter, :escrow, '50.00 KES', 41);
SELECT kind, amount, pending_amount, code FROM lexledger.release('10000000-0000-0000-0000-000000000021', '10000000-0000-0000-0000-000000000020');
SELECT kind, amount FROM lexledger.release('10000000-0000-0000-0000-000000000021', '10000000-0000-0000-0000-000000000020');
SELECT pg_temp.err($$SELECT lexledger.capture('10000000-0000-0000-0000-000000000022', '10000000-0000-0000-0000-000000000020')$$);
SELECT posted_balance, available_balance, debits_pending FROM lexledger.balance(:punter);

-- full capture (amount omitted) and the checks on a capture's amount
SELECT amount FROM lexledger.hold('10000000-0000-0000-0000-000000000030', :punter, :escrow, '10.00 KES', 42);
SELECT pg_temp.err($$SELECT lexledger.capture('10000000-0000-0000-0000-000000000031', '10000000-0000-0000-0000-000000000030', '10.01 KES')$$);
SELECT pg_temp.err($$SELECT lexledger.capture('10000000-0000-0000-0000-000000000031', '10000000-0000-0000-0000-000000000030', '0.00 KES')$$);
SELECT pg_temp.err($$SELECT lexledger.capture('10000000-0000-0000-0000-000000000031', '10000000-0000-0000-0000-000000000030', '1.00 USD')$$);
SELECT pg_temp.err($$SELECT lexledger.capture('10000000-0000-0000-0000-000000000031', '10000000-0000-0000-0000-0000000000ff')$$);
SELECT pg_temp.err($$SELECT lexledger.capture('10000000-0000-0000-0000-000000000031', '10000000-0000-0000-0000-000000000001')$$);
SELECT pg_temp.err($$SELECT lexledger.capture(NULL, '10000000-0000-0000-0000-000000000030')$$);
-- a resolution id already used by another transfer
SELECT pg_temp.err($$SELECT lexledger.capture('10000000-0000-0000-0000-000000000001', '10000000-0000-0000-0000-000000000030')$$);
SELECT kind, amount, code FROM lexledger.capture('10000000-0000-0000-0000-000000000031', '10000000-0000-0000-0000-000000000030', code => 43);
-- the id of one hold's capture used again for another hold
SELECT amount FROM lexledger.hold('10000000-0000-0000-0000-000000000032', :punter, :escrow, '10.00 KES', 42);
SELECT pg_temp.err($$SELECT lexledger.capture('10000000-0000-0000-0000-000000000031', '10000000-0000-0000-0000-000000000032', code => 43)$$);
-- ... also when the other hold is between other accounts, or does not exist
BEGIN;
SELECT kind FROM lexledger.hold('10000000-0000-0000-0000-0000000000b9', :house, :escrow, '1.00 KES');
SELECT pg_temp.err($$SELECT lexledger.capture('10000000-0000-0000-0000-000000000031', '10000000-0000-0000-0000-0000000000b9', code => 43)$$);
ROLLBACK;
SELECT pg_temp.err($$SELECT lexledger.capture('10000000-0000-0000-0000-000000000031', '10000000-0000-0000-0000-0000000000fe', code => 43)$$);
SELECT kind FROM lexledger.release('10000000-0000-0000-0000-000000000033', '10000000-0000-0000-0000-000000000032');

-- timeouts: a hold past its timeout cannot be captured and is expired by
-- expire_holds() (the expiry worker calls it every second)
SELECT pg_temp.err($$SELECT lexledger.hold('10000000-0000-0000-0000-000000000040', $$ || :punter || $$, $$ || :escrow || $$, '5.00 KES', timeout => '0 seconds')$$);
-- every part of a timeout is zero or more ('1 mon -30 days 1 sec' compares
-- as positive, yet ends before it starts in February), and at most 100 years
SELECT pg_temp.err($$SELECT lexledger.hold('10000000-0000-0000-0000-000000000040', $$ || :punter || $$, $$ || :escrow || $$, '5.00 KES', timeout => '1 mon -30 days 1 sec')$$);
SELECT pg_temp.err($$SELECT lexledger.hold('10000000-0000-0000-0000-000000000040', $$ || :punter || $$, $$ || :escrow || $$, '5.00 KES', timeout => '1000000 years')$$);
SELECT pg_temp.err($$SELECT lexledger.hold('10000000-0000-0000-0000-000000000040', $$ || :punter || $$, $$ || :escrow || $$, '5.00 KES', timeout => '100 years 1 sec')$$);
SELECT lexledger.hold('10000000-0000-0000-0000-000000000040', :punter, :escrow, '5.00 KES', timeout => '1 day -1 hour');
BEGIN;
SELECT timeout FROM lexledger.hold('10000000-0000-0000-0000-000000000043', :punter, :escrow, '5.00 KES', timeout => '100 years');
-- a retry must name the same timeout part for part: '1 mon' is not '30 days'
SELECT timeout FROM lexledger.hold('10000000-0000-0000-0000-000000000044', :punter, :escrow, '5.00 KES', timeout => '1 mon');
SELECT pg_temp.err($$SELECT lexledger.hold('10000000-0000-0000-0000-000000000044', $$ || :punter || $$, $$ || :escrow || $$, '5.00 KES', timeout => '30 days')$$);
SELECT pg_temp.err($$SELECT lexledger.hold('10000000-0000-0000-0000-000000000044', $$ || :punter || $$, $$ || :escrow || $$, '5.00 KES', timeout => '720 hours')$$);
SELECT timeout FROM lexledger.hold('10000000-0000-0000-0000-000000000044', :punter, :escrow, '5.00 KES', timeout => '1 mon');
-- in a batch, a bad timeout fails its own request only
SELECT ordinal, result FROM lexledger.transfer_batch(ARRAY[
  ROW('10000000-0000-0000-0000-000000000045', :house, :punter, '1.00 KES', 0, NULL, false, NULL, false),
  ROW('10000000-0000-0000-0000-000000000046', :punter, :escrow, '1.00 KES', 0, NULL, true, '1000000 years', false),
  ROW('10000000-0000-0000-0000-000000000047', :punter, :escrow, '1.00 KES', 0, NULL, true, '1 mon -30 days 1 sec', false),
  ROW('10000000-0000-0000-0000-000000000048', :punter, :escrow, '1.00 KES', 0, NULL, true, '1 mon', false),
  ROW('10000000-0000-0000-0000-000000000044', :punter, :escrow, '5.00 KES', 0, NULL, true, '30 days', false)
  ]::lexledger.transfer_request[]) ORDER BY ordinal;
ROLLBACK;
SELECT timeout FROM lexledger.hold('10000000-0000-0000-0000-000000000040', :punter, :escrow, '5.00 KES', timeout => '1 microsecond');
SELECT timeout FROM lexledger.hold('10000000-0000-0000-0000-000000000041', :punter, :escrow, '6.00 KES', timeout => '1 hour');
SELECT pg_sleep(0.01);
SELECT pg_temp.err($$SELECT lexledger.capture('10000000-0000-0000-0000-000000000042', '10000000-0000-0000-0000-000000000040')$$);
-- the expiry's id is a new one of the server's (version 7): a transfer
-- posted under the id an older release derived from the hold's cannot
-- block it
SELECT kind FROM lexledger.transfer(md5('lexledger expiry of 10000000-0000-0000-0000-000000000040')::uuid, :house, :escrow, '0.01 KES');
-- a max_holds of zero or less expires nothing; null means the default, 1000
SELECT lexledger.expire_holds(0) AS with_zero, lexledger.expire_holds(-1) AS with_negative;
SELECT lexledger.expire_holds(NULL) AS with_null;
SELECT lexledger.expire_holds();
-- the largest max_holds allocates nothing in proportion to it
SELECT lexledger.expire_holds(2147483647) AS with_the_largest_max;
SELECT h.id, h.status, r.kind, substr(r.id::text, 15, 1) AS id_version, r.amount, r.created_at >= h.expires_at AS after_timeout
  FROM lexledger.hold h LEFT JOIN lexledger.transfer r ON r.id = h.resolved_by
 WHERE h.id IN ('10000000-0000-0000-0000-000000000040', '10000000-0000-0000-0000-000000000041') ORDER BY h.id;
SELECT pg_temp.err($$SELECT lexledger.release('10000000-0000-0000-0000-000000000042', '10000000-0000-0000-0000-000000000040')$$);
SELECT posted_balance, available_balance, debits_pending FROM lexledger.balance(:punter);
SELECT kind, count(*) FROM lexledger.transfer WHERE debit_account_id = :punter OR credit_account_id = :punter GROUP BY kind ORDER BY kind;

-- the statement shows holds as pending changes and captures as posted ones
SELECT kind, debit, credit, pending_change, balance
  FROM lexledger.statement(:punter, '2000-01-01', 'infinity');
SELECT * FROM lexledger.verify();

-- a hold whose pending row was deleted behind lexledger's back (only a
-- superuser can) is reported as such, not with an internal error
BEGIN;
DELETE FROM lexledger.pending_transfer WHERE transfer_id = '10000000-0000-0000-0000-000000000041';
SELECT pg_temp.err($$SELECT lexledger.capture('10000000-0000-0000-0000-000000000049', '10000000-0000-0000-0000-000000000041')$$);
SELECT code, sqlstate FROM lexledger.error_code WHERE code = 'ledger_corrupted';
ROLLBACK;

-- a hold that cannot expire (here a row of a superuser's table still
-- references it) is reported with a WARNING and skipped: the other due
-- holds expire, in the same call and in later ones.  It is tried again 1
-- second later, then 2, 4 ... up to 10 minutes (expiry_retry_at, which a
-- DBA may set to null to have it tried at once), and expires once the
-- row is gone.
BEGIN;
CREATE TABLE public.bet_stake (hold_id uuid REFERENCES lexledger.pending_transfer (transfer_id));
SELECT amount FROM lexledger.hold('10000000-0000-0000-0000-000000000050', :punter, :escrow, '1.00 KES', timeout => '1 microsecond');
SELECT amount FROM lexledger.hold('10000000-0000-0000-0000-000000000051', :punter, :escrow, '2.00 KES', timeout => '2 microseconds');
SELECT amount FROM lexledger.hold('10000000-0000-0000-0000-000000000052', :punter, :escrow, '3.00 KES', timeout => '3 microseconds');
INSERT INTO public.bet_stake VALUES ('10000000-0000-0000-0000-000000000050');
SELECT pg_sleep(0.01);
SELECT lexledger.expire_holds(1) AS expired;
-- holds that failed to expire, and why
SELECT transfer_id, expiry_failures, expiry_retry_at > clock_timestamp() AS waiting, expiry_error
  FROM lexledger.pending_transfer WHERE expiry_failures > 0 ORDER BY expires_at;
SELECT lexledger.expire_holds() AS expired;
-- try one again at the next call
UPDATE lexledger.pending_transfer SET expiry_retry_at = NULL WHERE transfer_id = '10000000-0000-0000-0000-000000000050';
SELECT lexledger.expire_holds() AS expired;
SELECT id, status FROM lexledger.hold WHERE id::text LIKE '10000000-0000-0000-0000-00000000005_' ORDER BY id;
-- the delay stops doubling at 10 minutes, however many failures (2 ^ 1024
-- would overflow after a week of them)
UPDATE lexledger.pending_transfer SET expiry_failures = 5000, expiry_retry_at = NULL
 WHERE transfer_id = '10000000-0000-0000-0000-000000000050';
SELECT lexledger.expire_holds() AS expired;
SELECT expiry_retry_at - clock_timestamp() BETWEEN interval '590 seconds' AND interval '600 seconds' AS ten_minutes
  FROM lexledger.pending_transfer WHERE transfer_id = '10000000-0000-0000-0000-000000000050';
-- when the failure cannot be recorded (a superuser's trigger refuses
-- updates of pending_transfer), the hold is left out for the rest of the
-- call only, and the call goes on
CREATE FUNCTION pg_temp.no_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'pending_transfer rows are only inserted and deleted';
END $$;
UPDATE lexledger.pending_transfer SET expiry_retry_at = NULL WHERE transfer_id = '10000000-0000-0000-0000-000000000050';
CREATE TRIGGER no_update BEFORE UPDATE ON lexledger.pending_transfer FOR EACH ROW EXECUTE FUNCTION pg_temp.no_update();
SELECT amount FROM lexledger.hold('10000000-0000-0000-0000-000000000053', :punter, :escrow, '4.00 KES', timeout => '1 microsecond');
SELECT pg_sleep(0.01);
SELECT lexledger.expire_holds() AS expired;
DROP TRIGGER no_update ON lexledger.pending_transfer;
DELETE FROM public.bet_stake;
UPDATE lexledger.pending_transfer SET expiry_retry_at = NULL WHERE transfer_id = '10000000-0000-0000-0000-000000000050';
SELECT lexledger.expire_holds() AS expired;
SELECT id, status FROM lexledger.hold WHERE id::text LIKE '10000000-0000-0000-0000-00000000005_' ORDER BY id;
SELECT * FROM lexledger.verify();
ROLLBACK;
-- due_holds(prefix, n, debit, credit): places n holds of 0.01 KES, ids
-- prefix || '01' ..., their timeouts 1 ... n microseconds, so they are due
-- (in that order) by the next statement
CREATE FUNCTION pg_temp.due_holds(prefix text, n integer, debit bigint, credit bigint) RETURNS bigint
LANGUAGE sql AS $$
  SELECT count(lexledger.hold((prefix || lpad(i::text, 2, '0'))::uuid, debit, credit, '0.01 KES',
                              timeout => make_interval(secs => i / 1e6)))
    FROM generate_series(1, n) i
$$;
-- when every expiry fails (a superuser's trigger refuses them all), a call
-- reports the first ten holds one by one and the rest in one line, expires
-- nothing and changes nothing
BEGIN;
CREATE FUNCTION pg_temp.refuse_expiry() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'no expiry today';
END $$;
CREATE TRIGGER refuse_expiry BEFORE INSERT ON lexledger.transfer
  FOR EACH ROW WHEN (NEW.kind = 'expire_pending') EXECUTE FUNCTION pg_temp.refuse_expiry();
SELECT pg_temp.due_holds('10000000-0000-0000-0000-0000000006', 12, :punter, :escrow);
\set VERBOSITY terse
SELECT lexledger.expire_holds() AS expired;
\set VERBOSITY default
SELECT status, count(*) FROM lexledger.hold WHERE id::text LIKE '10000000-0000-0000-0000-0000000006__' GROUP BY status;
SELECT * FROM lexledger.verify();
-- each is now left alone for a second: the next call tries none of them
SELECT lexledger.expire_holds() AS expired;
UPDATE lexledger.pending_transfer SET expiry_retry_at = NULL WHERE transfer_id::text LIKE '10000000-0000-0000-0000-0000000006__';
-- an error about the transaction (here a serialization failure), not the
-- hold, ends the call as an error
CREATE OR REPLACE FUNCTION pg_temp.refuse_expiry() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'could not serialize, says the trigger' USING ERRCODE = 'serialization_failure';
END $$;
SELECT pg_temp.err('SELECT lexledger.expire_holds()');
ROLLBACK;
-- a call from inside another (a superuser's trigger on the history)
-- expires nothing: the outer call's holds are its own
BEGIN;
CREATE FUNCTION pg_temp.nested_expiry() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE WARNING 'the nested call expired %', lexledger.expire_holds(5);
  RETURN NULL;
END $$;
CREATE TRIGGER nested_expiry AFTER INSERT ON lexledger.transfer
  FOR EACH ROW WHEN (NEW.kind = 'expire_pending') EXECUTE FUNCTION pg_temp.nested_expiry();
SELECT pg_temp.due_holds('10000000-0000-0000-0000-0000000007', 3, :punter, :escrow);
SELECT lexledger.expire_holds() AS expired;
SELECT status, count(*) FROM lexledger.hold WHERE id::text LIKE '10000000-0000-0000-0000-0000000007__' GROUP BY status;
ROLLBACK;

-- verify() checks each resolution against its hold (superuser tampering,
-- rolled back): an expiry that says it released more than the hold
-- changes no counter's sum, yet is reported; a capture of more than its
-- hold is reported as such, besides the counters it no longer matches
BEGIN;
UPDATE lexledger.transfer SET amount = amount OPERATOR(lexledger.*) 1000 WHERE kind = 'expire_pending';
SELECT problem, detail LIKE 'expire_pending %' AS about_the_expiry FROM lexledger.verify();
ROLLBACK;
BEGIN;
UPDATE lexledger.transfer SET amount = pending_amount OPERATOR(lexledger.+) '0.01 KES'::lexledger.amount WHERE kind = 'post_pending';
SELECT problem, split_part(detail, ' ', 1) AS kind FROM lexledger.verify() ORDER BY 2;
ROLLBACK;

-- a hold's expiry is its timeout added in UTC: it does not depend on the
-- TimeZone of the session that placed it, nor on the reader's.  Across the
-- end of daylight saving time in Berlin, one day is 25 hours there.
SET TimeZone = 'Europe/Berlin';
SELECT lexledger.hold_expiry('2026-10-24 12:00:00+00', '1 day') AS utc_day,
       '2026-10-24 12:00:00+00'::timestamptz + interval '1 day' AS berlin_day;
BEGIN;
SELECT timeout FROM lexledger.hold('10000000-0000-0000-0000-00000000004a', :punter, :escrow, '1.00 KES', timeout => '7 months 3 days');
SELECT result FROM lexledger.transfer_batch(ARRAY[ROW('10000000-0000-0000-0000-00000000004b', :punter, :escrow, '1.00 KES', 0, NULL, true, '7 months 3 days', false)]::lexledger.transfer_request[]);
SELECT h.id, p.expires_at = ((h.created_at AT TIME ZONE 'UTC') + interval '7 months 3 days') AT TIME ZONE 'UTC' AS utc_expiry
  FROM lexledger.pending_transfer p JOIN lexledger.hold h ON h.id = p.transfer_id
 WHERE h.id IN ('10000000-0000-0000-0000-00000000004a', '10000000-0000-0000-0000-00000000004b') ORDER BY h.id;
CREATE TEMP TABLE seen_in_berlin AS SELECT id, expires_at FROM lexledger.hold WHERE id = '10000000-0000-0000-0000-00000000004a';
SET LOCAL TimeZone = 'America/New_York';
SELECT h.expires_at = b.expires_at AS same_instant_for_every_reader
  FROM lexledger.hold h JOIN seen_in_berlin b USING (id);
ROLLBACK;
RESET TimeZone;

-- ... also across holds, captures, releases and expiries
\i test/sql/as_of_agrees.sql

-- An amount with the decimals of a create_unit that was rolled back (see
-- the same test in ledger.sql) is held by no hold and captures none.
\i test/sql/stale_amount.sql
SELECT id AS stale_house FROM lexledger.open_account('STALE', 'quota', name => 'stale:house') \gset
SELECT id AS stale_user FROM lexledger.open_account('STALE', name => 'stale:user') \gset
SELECT pg_temp.err(format($$SELECT lexledger.hold('10000000-0000-0000-0000-0000000005a1', %s, %s, a) FROM stale$$,
                          :stale_house, :stale_user));
SELECT amount FROM lexledger.hold('10000000-0000-0000-0000-0000000005a2', :stale_house, :stale_user, '5 STALE');
SELECT pg_temp.err($$SELECT lexledger.capture('10000000-0000-0000-0000-0000000005a3', '10000000-0000-0000-0000-0000000005a2', a) FROM stale$$);
SELECT status, amount FROM lexledger.hold WHERE id IN ('10000000-0000-0000-0000-0000000005a1', '10000000-0000-0000-0000-0000000005a2');
