-- The double-entry ledger: accounts, transfers, idempotency, limits,
-- batches, balances, statements, totals, verify, append-only history.
SET client_min_messages = warning;
-- Each test starts from a fresh extension, so ids do not depend on test order.
DROP EXTENSION lexledger CASCADE;
CREATE EXTENSION lexledger;
\set VERBOSITY default
\i test/sql/err.sql

-- Accounts ------------------------------------------------------------------
SELECT id AS house, currency, kind, slots FROM lexledger.open_account('USD', 'house', name => 'house:USD') \gset
SELECT :house AS house_id, currency, kind, slots, debits_must_not_exceed_credits
  FROM lexledger.account WHERE id = :house;
-- the same name and fields: the same account (idempotent)
SELECT id = :house AS same_account FROM lexledger.open_account('USD', 'house', name => 'house:USD');
SELECT pg_temp.err($$SELECT lexledger.open_account('EUR', 'house', name => 'house:USD')$$);
SELECT pg_temp.err($$SELECT lexledger.open_account('USD', 'house', name => 'house:USD', slots => 4)$$);
SELECT pg_temp.err($$SELECT lexledger.open_account('USD', 'house', name => 'house:USD', metadata => '{"a": 1}')$$);
SELECT id AS alice FROM lexledger.open_account('USD', owner => 'alice', debits_must_not_exceed_credits => true) \gset
SELECT id AS bob FROM lexledger.open_account('USD', owner => 'bob', debits_must_not_exceed_credits => true) \gset
SELECT id AS promo FROM lexledger.open_account('USD', 'other', credits_must_not_exceed_debits => true) \gset
SELECT id AS rand FROM lexledger.open_account('ZAR', owner => 'carol', debits_must_not_exceed_credits => true) \gset
SELECT slots FROM lexledger.account WHERE id = :alice;
SELECT count(*) AS house_slot_rows FROM lexledger.account_balance WHERE account_id = :house;
SELECT pg_temp.err($$SELECT lexledger.open_account('XYZ')$$);
SELECT pg_temp.err($$SELECT lexledger.open_account('USD', debits_must_not_exceed_credits => true, credits_must_not_exceed_debits => true)$$);
SELECT pg_temp.err($$SELECT lexledger.open_account('USD', debits_must_not_exceed_credits => true, slots => 4)$$);
SELECT pg_temp.err($$SELECT lexledger.open_account('USD', slots => 0)$$);
SELECT pg_temp.err($$SELECT lexledger.open_account(NULL)$$);
-- an account's terms never change, not even for a superuser; its name,
-- owner and metadata may
SELECT pg_temp.err(format($$UPDATE lexledger.account SET debits_must_not_exceed_credits = false WHERE id = %s$$, :bob));
SELECT pg_temp.err(format($$UPDATE lexledger.account SET currency = 'EUR' WHERE id = %s$$, :bob));
SELECT pg_temp.err(format($$UPDATE lexledger.account SET slots = 2, kind = 'house' WHERE id = %s$$, :house));
SELECT pg_temp.err(format($$UPDATE lexledger.account SET currency = currency, owner = 'robert', metadata = '{"vip": true}' WHERE id = %s$$, :bob));
SELECT owner, metadata, currency, debits_must_not_exceed_credits FROM lexledger.account WHERE id = :bob;

-- Transfers -----------------------------------------------------------------
-- fund alice from the house
SELECT id, debit_account_id = :house AS from_house, credit_account_id = :alice AS to_alice,
       amount, kind, code, reference
  FROM lexledger.transfer('00000000-0000-0000-0000-000000000001', :house, :alice, '100.00 USD', 1, '{"deposit": 7}');
-- a retry with the same fields returns the original and posts nothing
SELECT id, amount, kind FROM lexledger.transfer('00000000-0000-0000-0000-000000000001', :house, :alice, '100.00 USD', 1, '{"deposit": 7}');
SELECT count(*) AS transfers FROM lexledger.transfer;
SELECT available_balance FROM lexledger.balance(:alice);
-- the same id with different fields names the field
SELECT pg_temp.err($$SELECT lexledger.transfer('00000000-0000-0000-0000-000000000001', $$ || :house || $$, $$ || :alice || $$, '100.01 USD', 1, '{"deposit": 7}')$$);
SELECT pg_temp.err($$SELECT lexledger.transfer('00000000-0000-0000-0000-000000000001', $$ || :house || $$, $$ || :bob || $$, '100.00 USD', 1, '{"deposit": 7}')$$);
SELECT pg_temp.err($$SELECT lexledger.transfer('00000000-0000-0000-0000-000000000001', $$ || :bob || $$, $$ || :alice || $$, '100.00 USD', 1, '{"deposit": 7}')$$);
SELECT pg_temp.err($$SELECT lexledger.transfer('00000000-0000-0000-0000-000000000001', $$ || :house || $$, $$ || :alice || $$, '100.00 USD', 2, '{"deposit": 7}')$$);
SELECT pg_temp.err($$SELECT lexledger.transfer('00000000-0000-0000-0000-000000000001', $$ || :house || $$, $$ || :alice || $$, '100.00 USD', 1, '{"deposit": 8}')$$);
SELECT pg_temp.err($$SELECT lexledger.transfer('00000000-0000-0000-0000-000000000001', $$ || :house || $$, $$ || :alice || $$, '100.00 USD', 1)$$);
-- a retry whose reference is stored out of line (TOAST) returns it whole;
-- 190 kB, so that memory freed too early is given back to the system and
-- reading it would crash
BEGIN;
SELECT string_agg(md5(g::text), '') AS big_text FROM generate_series(1, 6000) g \gset
SELECT length(reference->>'note') FROM lexledger.transfer('00000000-0000-0000-0000-0000000000f1', :house, :alice, '0.01 USD', 0, jsonb_build_object('note', :'big_text'));
SELECT length(reference->>'note') FROM lexledger.transfer('00000000-0000-0000-0000-0000000000f1', :house, :alice, '0.01 USD', 0, jsonb_build_object('note', :'big_text'));
SELECT pg_column_size(reference) > 2000 AS stored_large FROM lexledger.transfer WHERE id = '00000000-0000-0000-0000-0000000000f1';
ROLLBACK;
-- the full message, detail and hint of one of them
SELECT lexledger.transfer('00000000-0000-0000-0000-000000000001', :house, :alice, '99.00 USD', 1, '{"deposit": 7}');

-- alice pays bob; alice cannot overdraw
SELECT amount FROM lexledger.transfer('00000000-0000-0000-0000-000000000002', :alice, :bob, '30.00 USD', 2);
SELECT lexledger.transfer('00000000-0000-0000-0000-000000000003', :alice, :bob, '70.01 USD', 2);
SELECT pg_temp.err($$SELECT lexledger.transfer('00000000-0000-0000-0000-000000000003', $$ || :alice || $$, $$ || :bob || $$, '70.01 USD', 2)$$);
-- catching them in PL/pgSQL (docs/errors.md): by SQLSTATE, and by the code
-- where the SQLSTATE is shared (alice is account 6, the house account 1)
SET client_min_messages = notice;
DO $$
DECLARE
  msg text;
BEGIN
  PERFORM lexledger.transfer(gen_random_uuid(), 6, 1, '1000000000.00 USD');
EXCEPTION
  WHEN SQLSTATE 'LX110' THEN
    RAISE NOTICE 'not enough money: %', SQLERRM;
  WHEN SQLSTATE 'LX120' THEN
    GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT;
    RAISE NOTICE 'conflict: %', split_part(msg, ':', 1);
END $$;
SET client_min_messages = warning;
-- exactly the balance is fine
SELECT amount FROM lexledger.transfer('00000000-0000-0000-0000-000000000003', :alice, :bob, '70.00 USD', 2);
SELECT posted_balance, available_balance FROM lexledger.balance(:alice);
SELECT posted_balance FROM lexledger.balance(:bob);

-- an account limited on credits takes no more than it was debited
SELECT pg_temp.err($$SELECT lexledger.transfer('00000000-0000-0000-0000-000000000004', $$ || :house || $$, $$ || :promo || $$, '1.00 USD')$$);
SELECT amount FROM lexledger.transfer('00000000-0000-0000-0000-000000000005', :promo, :house, '5.00 USD');
SELECT amount FROM lexledger.transfer('00000000-0000-0000-0000-000000000006', :house, :promo, '5.00 USD');
SELECT pg_temp.err($$SELECT lexledger.transfer('00000000-0000-0000-0000-000000000007', $$ || :house || $$, $$ || :promo || $$, '0.01 USD')$$);

-- bad requests change nothing
SELECT pg_temp.err($$SELECT lexledger.transfer('00000000-0000-0000-0000-000000000010', $$ || :house || $$, $$ || :bob || $$, '0.00 USD')$$);
SELECT pg_temp.err($$SELECT lexledger.transfer('00000000-0000-0000-0000-000000000010', $$ || :house || $$, $$ || :bob || $$, '-1.00 USD')$$);
SELECT pg_temp.err($$SELECT lexledger.transfer('00000000-0000-0000-0000-000000000010', $$ || :bob || $$, $$ || :bob || $$, '1.00 USD')$$);
SELECT pg_temp.err($$SELECT lexledger.transfer('00000000-0000-0000-0000-000000000010', $$ || :house || $$, 999999, '1.00 USD')$$);
SELECT pg_temp.err($$SELECT lexledger.transfer('00000000-0000-0000-0000-000000000010', $$ || :house || $$, $$ || :rand || $$, '1.00 USD')$$);
SELECT pg_temp.err($$SELECT lexledger.transfer('00000000-0000-0000-0000-000000000010', $$ || :house || $$, $$ || :bob || $$, '1.00 EUR')$$);
SELECT pg_temp.err($$SELECT lexledger.transfer(NULL, $$ || :house || $$, $$ || :bob || $$, '1.00 USD')$$);
SELECT pg_temp.err($$SELECT lexledger.transfer('00000000-0000-0000-0000-000000000010', $$ || :house || $$, $$ || :bob || $$, '1.00 USD', NULL)$$);
SELECT pg_temp.err($$SELECT lexledger.transfer('00000000-0000-0000-0000-000000000010', $$ || :house || $$, $$ || :bob || $$, NULL)$$);
SELECT count(*) AS transfers FROM lexledger.transfer;

-- closed accounts take no new transfers; closing is idempotent
SELECT id AS dave FROM lexledger.open_account('USD', owner => 'dave') \gset
SELECT closed_at IS NOT NULL AS closed FROM lexledger.close_account(:dave);
SELECT closed_at IS NOT NULL AS closed FROM lexledger.close_account(:dave);
SELECT pg_temp.err($$SELECT lexledger.transfer('00000000-0000-0000-0000-000000000011', $$ || :house || $$, $$ || :dave || $$, '1.00 USD')$$);
SELECT pg_temp.err($$SELECT lexledger.close_account(999999)$$);

-- Time-ordered ids ----------------------------------------------------------
-- new_id(): version 7, RFC 9562 variant, its time the current one, and
-- strictly increasing within a session even inside one millisecond
SELECT substr(lexledger.new_id()::text, 15, 1) AS version,
       substr(lexledger.new_id()::text, 20, 1) IN ('8', '9', 'a', 'b') AS rfc_variant;
SELECT abs(extract(epoch FROM now()) * 1000
           - ('x' || substr(replace(lexledger.new_id()::text, '-', ''), 1, 12))::bit(48)::bigint) < 60000
       AS carries_the_time;
SELECT count(*) AS ids, count(DISTINCT id) AS distinct_ids,
       bool_and(id < next_id) AS increasing
  FROM (SELECT id, lead(id) OVER (ORDER BY n) AS next_id
          FROM (SELECT n, lexledger.new_id() AS id FROM generate_series(1, 20000) n) g) s;
-- with the clock stopped, one millisecond's 4,096 counter values run out
-- and the ids borrow the next milliseconds, counting from zero in each
SET lexledger.debug_freeze_id_clock = on;
SELECT count(*) AS ids, bool_and(id < next_id) AS increasing,
       count(DISTINCT ms) >= 3 AS borrowed, max(ms) - min(ms) = count(DISTINCT ms) - 1 AS consecutive_ms,
       bool_and(seq = 0) FILTER (WHERE ms <> prev_ms) AS borrowed_ms_start_at_zero,
       bool_and(seq = prev_seq + 1) FILTER (WHERE ms = prev_ms) AS counting_up
  FROM (SELECT id, lead(id) OVER w AS next_id, ms, lag(ms) OVER w AS prev_ms, seq, lag(seq) OVER w AS prev_seq
          FROM (SELECT n, id, ('x' || substr(replace(id::text, '-', ''), 1, 12))::bit(48)::bigint AS ms,
                       ('x' || substr(replace(id::text, '-', ''), 14, 3))::bit(12)::integer AS seq
                  FROM (SELECT n, lexledger.new_id() AS id FROM generate_series(1, 10000) n) g) p
        WINDOW w AS (ORDER BY n)) s;
SELECT max(c) AS most_ids_in_one_ms
  FROM (SELECT count(*) AS c
          FROM (SELECT substr(lexledger.new_id()::text, 1, 13) AS ms FROM generate_series(1, 10000)) g
         GROUP BY ms) s;
RESET lexledger.debug_freeze_id_clock;

-- Balances, statements, totals ----------------------------------------------
SELECT now() AS before_bonus \gset
SELECT pg_sleep(0.01);
SELECT clock_timestamp() AS t_mid \gset
SELECT amount FROM lexledger.transfer('00000000-0000-0000-0000-000000000020', :house, :bob, '0.50 USD', 3, '{"bonus": true}');
SELECT currency, debits_pending, debits_posted, credits_pending,
       credits_posted, posted_balance, available_balance
  FROM lexledger.balance(:bob);
-- as of an instant before the bonus
SELECT posted_balance FROM lexledger.balance(:bob, :'t_mid');
SELECT posted_balance FROM lexledger.balance(:bob, '2000-01-01');
SELECT pg_temp.err($$SELECT * FROM lexledger.balance(999999)$$);
SELECT pg_temp.err($$SELECT * FROM lexledger.statement(999999, '-infinity', 'infinity')$$);
-- statement: every move with the running balance
SELECT transfer_id, kind, code, counterparty_id = :alice AS from_alice, debit, credit, balance, reference
  FROM lexledger.statement(:bob, '2000-01-01', 'infinity');
SELECT count(*) AS moves_after_mid, lexledger.min(balance) AS first_balance
  FROM lexledger.statement(:bob, :'t_mid', 'infinity');
-- in pages: the second page starts after the last row of the first
SELECT transfer_id, debit, credit, balance
  FROM lexledger.statement(:bob, '-infinity', 'infinity', max_rows => 2);
SELECT transfer_id, debit, credit, balance
  FROM lexledger.statement(:bob, '-infinity', 'infinity', max_rows => 2,
                           after_transfer_id => '00000000-0000-0000-0000-000000000003');
SELECT pg_temp.err($$SELECT * FROM lexledger.statement($$ || :bob || $$, '-infinity', 'infinity', max_rows => 0)$$);
SELECT pg_temp.err($$SELECT * FROM lexledger.statement($$ || :bob || $$, '-infinity', 'infinity', 2, '00000000-0000-0000-0000-0000000000ff')$$);
SELECT currency, accounts, debits_posted, credits_posted, debits_pending, credits_pending
  FROM lexledger.totals();
SELECT * FROM lexledger.verify();

-- Batches -------------------------------------------------------------------
SELECT id AS erin FROM lexledger.open_account('USD', owner => 'erin', debits_must_not_exceed_credits => true) \gset
SELECT ordinal, id, result, created_at IS NOT NULL AS has_time
  FROM lexledger.transfer_batch(ARRAY[
    -- 1: fund erin
    ROW('00000000-0000-0000-0000-0000000000b1', :house, :erin, '10.00 USD', 5, NULL, false, NULL, false),
    -- 2: spend 6 (erin then has 4)
    ROW('00000000-0000-0000-0000-0000000000b2', :erin, :bob, '6.00 USD', 5, NULL, false, NULL, false),
    -- 3: spend 5 more: insufficient
    ROW('00000000-0000-0000-0000-0000000000b3', :erin, :bob, '5.00 USD', 5, NULL, false, NULL, false),
    -- 4: a retry of request 1 in the same batch
    ROW('00000000-0000-0000-0000-0000000000b1', :house, :erin, '10.00 USD', 5, NULL, false, NULL, false),
    -- 5: the same id with another amount
    ROW('00000000-0000-0000-0000-0000000000b1', :house, :erin, '11.00 USD', 5, NULL, false, NULL, false),
    -- 6: a transfer posted by an earlier call
    ROW('00000000-0000-0000-0000-000000000020', :house, :bob, '0.50 USD', 3, '{"bonus": true}', false, NULL, false),
    -- 7-9: a linked chain whose last member fails: none posts
    ROW('00000000-0000-0000-0000-0000000000c1', :house, :erin, '1.00 USD', 6, NULL, false, NULL, true),
    ROW('00000000-0000-0000-0000-0000000000c2', :erin, :bob, '2.00 USD', 6, NULL, false, NULL, true),
    ROW('00000000-0000-0000-0000-0000000000c3', :erin, :bob, '99.00 USD', 6, NULL, false, NULL, false),
    -- 10-11: a linked chain that posts
    ROW('00000000-0000-0000-0000-0000000000d1', :erin, :bob, '1.00 USD', 7, NULL, false, NULL, true),
    ROW('00000000-0000-0000-0000-0000000000d2', :bob, :erin, '1.00 USD', 7, NULL, false, NULL, false),
    -- 12-19: bad requests
    ROW('00000000-0000-0000-0000-0000000000e1', :house, :house, '1.00 USD', 0, NULL, false, NULL, false),
    ROW('00000000-0000-0000-0000-0000000000e2', :house, 999999, '1.00 USD', 0, NULL, false, NULL, false),
    ROW('00000000-0000-0000-0000-0000000000e3', :house, :rand, '1.00 USD', 0, NULL, false, NULL, false),
    ROW('00000000-0000-0000-0000-0000000000e4', :house, :bob, '0.00 USD', 0, NULL, false, NULL, false),
    ROW(NULL, :house, :bob, '1.00 USD', 0, NULL, false, NULL, false),
    ROW('00000000-0000-0000-0000-0000000000e5', :house, :bob, '1.00 USD', 0, NULL, false, '1 hour', false),
    ROW('00000000-0000-0000-0000-0000000000e6', :house, :dave, '1.00 USD', 0, NULL, false, NULL, false),
    ROW('00000000-0000-0000-0000-0000000000e7', :house, :bob, '1.00 USD', NULL, NULL, false, NULL, false),
    -- 20-21: a hold, and a chain left open at the end of the batch
    ROW('00000000-0000-0000-0000-0000000000f1', :erin, :house, '1.00 USD', 8, NULL, true, '1 hour', false),
    ROW('00000000-0000-0000-0000-0000000000f2', :house, :erin, '1.00 USD', 9, NULL, false, NULL, true)
  ]::lexledger.transfer_request[]);
SELECT posted_balance, available_balance, debits_pending FROM lexledger.balance(:erin);
-- a request that the first, optimistic play accepts and the play under the
-- locks refuses: it fails without a timestamp (the batch took its row back)
SELECT ordinal, result, created_at IS NOT NULL AS has_time
  FROM lexledger.transfer_batch(ARRAY[
    ROW('00000000-0000-0000-0000-0000000000b4', :erin, :bob, '500.00 USD', 5, NULL, false, NULL, false),
    ROW('00000000-0000-0000-0000-0000000000b5', :house, :bob, '0.01 USD', 5, NULL, false, NULL, false)
  ]::lexledger.transfer_request[]);
SELECT count(*) AS b4_posted FROM lexledger.transfer WHERE id = '00000000-0000-0000-0000-0000000000b4';
SELECT status, amount, expires_at > now() AS expires_later FROM lexledger.hold
 WHERE id = '00000000-0000-0000-0000-0000000000f1';
SELECT count(*) AS live_holds FROM lexledger.pending_transfer;
-- retrying the whole batch posts nothing new
SELECT count(*) AS transfers_before FROM lexledger.transfer \gset
SELECT result, count(*) FROM lexledger.transfer_batch(ARRAY[
    ROW('00000000-0000-0000-0000-0000000000b1', :house, :erin, '10.00 USD', 5, NULL, false, NULL, false),
    ROW('00000000-0000-0000-0000-0000000000b2', :erin, :bob, '6.00 USD', 5, NULL, false, NULL, false),
    ROW('00000000-0000-0000-0000-0000000000d1', :erin, :bob, '1.00 USD', 7, NULL, false, NULL, true),
    ROW('00000000-0000-0000-0000-0000000000d2', :bob, :erin, '1.00 USD', 7, NULL, false, NULL, false)
  ]::lexledger.transfer_request[]) GROUP BY result;
SELECT count(*) - :transfers_before AS new_transfers FROM lexledger.transfer;
SELECT count(*) AS empty_batch FROM lexledger.transfer_batch(ARRAY[]::lexledger.transfer_request[]);
-- a failed chain's request that reuses an id posted earlier in the same
-- statement is answered exists (or exists_with_different_<field>), as it
-- would be in a statement of its own
BEGIN;
SELECT c.n, r.ordinal, r.result FROM (VALUES
  (1, ARRAY[ROW('00000000-0000-0000-0000-0000000000e1', :house, :bob, '0.01 USD', 0, NULL, false, NULL, false)]::lexledger.transfer_request[]),
  (2, ARRAY[ROW('00000000-0000-0000-0000-0000000000e1', :house, :bob, '0.01 USD', 0, NULL, false, NULL, true),
            ROW('00000000-0000-0000-0000-0000000000e2', :house, :house, '0.01 USD', 0, NULL, false, NULL, false)]::lexledger.transfer_request[]),
  (3, ARRAY[ROW('00000000-0000-0000-0000-0000000000e1', :house, :bob, '0.02 USD', 0, NULL, false, NULL, true),
            ROW('00000000-0000-0000-0000-0000000000e2', :house, :house, '0.01 USD', 0, NULL, false, NULL, false)]::lexledger.transfer_request[])
  ) c(n, reqs), LATERAL lexledger.transfer_batch(c.reqs) r ORDER BY 1, 2;
ROLLBACK;
-- The play under the locks refuses what the first play bet on: the batch
-- deletes, before it commits, the rows it inserted for those requests (a
-- hold, a whole chain), and keeps the rest, rather than playing the whole
-- batch again.  A request that repeats one taken back is played on its
-- own.  The caller needs no DELETE privilege on the history for that; the
-- history stays append-only for it.
CREATE ROLE lexledger_test_poster;
GRANT USAGE ON SCHEMA lexledger TO lexledger_test_poster;
GRANT SELECT, INSERT ON lexledger.transfer, lexledger.pending_transfer TO lexledger_test_poster;
GRANT SELECT, UPDATE ON lexledger.account_balance TO lexledger_test_poster;
GRANT SELECT ON lexledger.account TO lexledger_test_poster;
SELECT id AS frank FROM lexledger.open_account('USD', owner => 'frank', debits_must_not_exceed_credits => true) \gset
SELECT amount FROM lexledger.transfer('00000000-0000-0000-0000-0000000007b0', :house, :frank, '5.00 USD');
BEGIN;
-- the session's table statistics, which only grow until the transaction ends
SELECT pg_stat_get_xact_tuples_deleted('lexledger.transfer'::regclass) AS transfers_deleted,
       pg_stat_get_xact_tuples_deleted('lexledger.pending_transfer'::regclass) AS holds_deleted \gset
SET LOCAL ROLE lexledger_test_poster;
SELECT ordinal, result, created_at IS NOT NULL AS has_time FROM lexledger.transfer_batch(ARRAY[
    -- 1: spends 4 of frank's 5
    ROW('00000000-0000-0000-0000-0000000007b1', :frank, :bob, '4.00 USD', 0, NULL, false, NULL, false),
    -- 2: a hold of 3: refused, taken back with its pending row
    ROW('00000000-0000-0000-0000-0000000007b2', :frank, :bob, '3.00 USD', 0, NULL, true, '1 hour', false),
    -- 3-4: a chain whose second request is refused: both taken back
    ROW('00000000-0000-0000-0000-0000000007b3', :house, :bob, '1.00 USD', 0, NULL, false, NULL, true),
    ROW('00000000-0000-0000-0000-0000000007b4', :frank, :bob, '2.00 USD', 0, NULL, false, NULL, false),
    -- 5: a repeat of 2, refused too
    ROW('00000000-0000-0000-0000-0000000007b2', :frank, :bob, '3.00 USD', 0, NULL, true, '1 hour', false),
    -- 6: posts
    ROW('00000000-0000-0000-0000-0000000007b6', :house, :frank, '0.50 USD', 0, NULL, false, NULL, false)
  ]::lexledger.transfer_request[]);
SELECT pg_stat_get_xact_tuples_deleted('lexledger.transfer'::regclass) - :transfers_deleted AS transfers_taken_back,
       pg_stat_get_xact_tuples_deleted('lexledger.pending_transfer'::regclass) - :holds_deleted AS holds_taken_back,
       lexledger.batch_takes_back('00000000-0000-0000-0000-0000000007b2') AS still_taking_back;
SELECT pg_temp.err($$DELETE FROM lexledger.transfer WHERE id = '00000000-0000-0000-0000-0000000007b1'$$);
COMMIT;
SELECT id, amount FROM lexledger.transfer WHERE id::text LIKE '00000000-0000-0000-0000-0000000007b%' ORDER BY id;
SELECT count(*) AS holds FROM lexledger.pending_transfer WHERE transfer_id = '00000000-0000-0000-0000-0000000007b2';
SELECT posted_balance, available_balance FROM lexledger.balance(:frank);
SELECT count(*) AS problems FROM lexledger.verify();
-- Code in a trigger runs with the rights of whoever writes the table, and
-- the take-back deletes as the history's owner (the expiry worker writes as
-- a superuser): only superusers may put triggers on lexledger's tables, or
-- foreign keys pointing at them.  A role with TRIGGER and REFERENCES on the
-- history gets trigger_refused for a trigger, for replacing the
-- append-only trigger with one that lets changes through, and for foreign
-- keys, with an action or without.
GRANT TRIGGER, REFERENCES ON lexledger.transfer TO lexledger_test_poster;
CREATE SCHEMA lexledger_test_intruder AUTHORIZATION lexledger_test_poster;
CREATE FUNCTION lexledger_test_intruder.note() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE WARNING 'code of another role runs, as a superuser: %',
    (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user);
  RETURN NULL;
END $$;
ALTER FUNCTION lexledger_test_intruder.note() OWNER TO lexledger_test_poster;
DO $$ BEGIN EXECUTE format('GRANT CREATE ON DATABASE %I TO lexledger_test_poster', current_database()); END $$;
SET ROLE lexledger_test_poster;
SELECT pg_temp.err($$CREATE TRIGGER intruder AFTER DELETE ON lexledger.transfer
                     FOR EACH STATEMENT EXECUTE FUNCTION lexledger_test_intruder.note()$$);
SELECT pg_temp.err($$CREATE OR REPLACE TRIGGER transfer_is_append_only BEFORE UPDATE OR DELETE ON lexledger.transfer
                     FOR EACH ROW WHEN (false) EXECUTE FUNCTION lexledger.refuse_history_change()$$);
SELECT pg_temp.err($$CREATE TABLE lexledger_test_intruder.ref (t uuid REFERENCES lexledger.transfer ON DELETE CASCADE)$$);
SELECT pg_temp.err($$CREATE SCHEMA lexledger_test_intruder2
                       CREATE TABLE ref (t uuid REFERENCES lexledger.transfer ON DELETE CASCADE)$$);
SELECT pg_temp.err($$CREATE TABLE lexledger_test_intruder.bet (stake uuid REFERENCES lexledger.transfer)$$);
RESET ROLE;
DO $$ BEGIN EXECUTE format('REVOKE CREATE ON DATABASE %I FROM lexledger_test_poster', current_database()); END $$;
-- lexledger's schema lets no other role create in it (a function of its
-- own there could be called instead of lexledger's): schema_not_trusted
SELECT pg_temp.err($$GRANT CREATE ON SCHEMA lexledger TO lexledger_test_poster$$);
SELECT pg_temp.err($$GRANT CREATE ON SCHEMA lexledger TO PUBLIC$$);
SELECT has_schema_privilege('lexledger_test_poster', 'lexledger', 'CREATE') AS poster_may_create;
SELECT c.relname, t.tgname, t.tgqual IS NULL AS no_condition
  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
 WHERE c.relname = 'transfer' AND c.relnamespace = 'lexledger'::regnamespace AND NOT t.tgisinternal
 ORDER BY 2;
-- a foreign key a superuser points at the history also stops the take-back
CREATE TABLE lexledger_test_intruder.bet (stake uuid REFERENCES lexledger.transfer);
BEGIN;
SELECT pg_stat_get_xact_tuples_deleted('lexledger.transfer'::regclass) AS transfers_deleted \gset
SELECT ordinal, result, pg_stat_get_xact_tuples_deleted('lexledger.transfer'::regclass) - :transfers_deleted AS taken_back
  FROM lexledger.transfer_batch(ARRAY[
    ROW('00000000-0000-0000-0000-0000000007c1', :frank, :bob, '100.00 USD', 0, NULL, false, NULL, false),
    ROW('00000000-0000-0000-0000-0000000007c2', :bob, :frank, '0.01 USD', 0, NULL, false, NULL, false)
  ]::lexledger.transfer_request[]);
ROLLBACK;
DROP TABLE lexledger_test_intruder.bet;
-- Only tables that a superuser owns may have keys pointing at lexledger's
-- tables, whoever makes the key: the key's check runs code of the table's
-- owner (its partial indexes' predicates, say) in lexledger's transactions.
-- So a superuser cannot add one to another role's table, nor give such a
-- table away, nor attach another role's table as a partition of one.
CREATE TABLE lexledger_test_intruder.stake (t uuid);
ALTER TABLE lexledger_test_intruder.stake OWNER TO lexledger_test_poster;
SELECT pg_temp.err($$ALTER TABLE lexledger_test_intruder.stake ADD FOREIGN KEY (t) REFERENCES lexledger.transfer$$);
CREATE TABLE lexledger_test_intruder.stake2 (t uuid REFERENCES lexledger.transfer);
SELECT pg_temp.err($$ALTER TABLE lexledger_test_intruder.stake2 OWNER TO lexledger_test_poster$$);
CREATE TABLE lexledger_test_intruder.stakes (t uuid REFERENCES lexledger.transfer, day date) PARTITION BY RANGE (day);
CREATE TABLE lexledger_test_intruder.stakes_2026 (t uuid, day date);
ALTER TABLE lexledger_test_intruder.stakes_2026 OWNER TO lexledger_test_poster;
SELECT pg_temp.err($$ALTER TABLE lexledger_test_intruder.stakes ATTACH PARTITION lexledger_test_intruder.stakes_2026
                     FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')$$);
SELECT c.relname, pg_get_userbyid(c.relowner) AS owner, count(k.oid) AS keys_to_lexledger
  FROM pg_class c LEFT JOIN pg_constraint k ON k.conrelid = c.oid AND k.contype = 'f'
 WHERE c.relnamespace = 'lexledger_test_intruder'::regnamespace AND c.relkind IN ('r', 'p')
 GROUP BY 1, 2 ORDER BY 1;
DROP TABLE lexledger_test_intruder.stake, lexledger_test_intruder.stake2,
           lexledger_test_intruder.stakes, lexledger_test_intruder.stakes_2026;
-- Nor may the code attached to these tables belong to another role, who
-- could replace it: a trigger's function, a domain of a key's column, a
-- function of an index; nor may another role put a trigger on a
-- superuser's table with a key pointing at lexledger's (TRIGGER granted).
SELECT pg_temp.err($$CREATE TRIGGER audit_hold AFTER DELETE ON lexledger.pending_transfer
                     FOR EACH ROW EXECUTE FUNCTION lexledger_test_intruder.note()$$);
BEGIN;
CREATE FUNCTION lexledger_test_intruder.audit_hold() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE TRIGGER audit_hold AFTER DELETE ON lexledger.pending_transfer
  FOR EACH ROW EXECUTE FUNCTION lexledger_test_intruder.audit_hold();
SELECT pg_temp.err($$ALTER FUNCTION lexledger_test_intruder.audit_hold() OWNER TO lexledger_test_poster$$);
ROLLBACK;
SET ROLE lexledger_test_poster;
CREATE DOMAIN lexledger_test_intruder.hold_ref AS uuid;
CREATE FUNCTION lexledger_test_intruder.always() RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT true';
RESET ROLE;
SELECT pg_temp.err($$CREATE TABLE lexledger_test_intruder.slip (
                       hold_id lexledger_test_intruder.hold_ref REFERENCES lexledger.pending_transfer)$$);
-- ... also one step away: a superuser's domain over another role's
CREATE DOMAIN public.lexledger_test_hold_ref AS lexledger_test_intruder.hold_ref;
SELECT pg_temp.err($$CREATE TABLE lexledger_test_intruder.slip (
                       hold_id public.lexledger_test_hold_ref REFERENCES lexledger.pending_transfer)$$);
DROP DOMAIN public.lexledger_test_hold_ref;
-- ... or a superuser's domain whose constraint calls another role's function
CREATE DOMAIN public.lexledger_test_hold_ref AS uuid CHECK (lexledger_test_intruder.always());
SELECT pg_temp.err($$CREATE TABLE lexledger_test_intruder.slip (
                       hold_id public.lexledger_test_hold_ref REFERENCES lexledger.pending_transfer)$$);
DROP DOMAIN public.lexledger_test_hold_ref;
CREATE TABLE lexledger_test_intruder.slip (hold_id uuid REFERENCES lexledger.pending_transfer ON DELETE CASCADE);
SELECT pg_temp.err($$CREATE INDEX ON lexledger_test_intruder.slip (hold_id) WHERE lexledger_test_intruder.always()$$);
GRANT TRIGGER ON lexledger_test_intruder.slip TO lexledger_test_poster;
SET ROLE lexledger_test_poster;
SELECT pg_temp.err($$CREATE TRIGGER slip_gone AFTER DELETE ON lexledger_test_intruder.slip
                     FOR EACH ROW EXECUTE FUNCTION lexledger_test_intruder.note()$$);
RESET ROLE;
DROP TABLE lexledger_test_intruder.slip;
DROP DOMAIN lexledger_test_intruder.hold_ref;
DROP FUNCTION lexledger_test_intruder.always();
-- A key that comes to another role's table by a way no DDL command shows
-- (its owner stops being a superuser) makes the next DDL fail, naming it,
-- until a superuser takes the table (or drops the key).
CREATE ROLE lexledger_test_owner SUPERUSER;
CREATE TABLE lexledger_test_intruder.ledger_ref (t uuid REFERENCES lexledger.transfer);
ALTER TABLE lexledger_test_intruder.ledger_ref OWNER TO lexledger_test_owner;
ALTER ROLE lexledger_test_owner NOSUPERUSER;
SELECT pg_temp.err($$CREATE TABLE lexledger_test_intruder.unrelated (i int)$$);
ALTER TABLE lexledger_test_intruder.ledger_ref OWNER TO CURRENT_USER;
SELECT pg_temp.err($$CREATE TABLE lexledger_test_intruder.unrelated (i int)$$);
-- REASSIGN OWNED to a role that is not a superuser (no event trigger
-- fires for it) passes, and the next DDL fails
ALTER ROLE lexledger_test_owner SUPERUSER;
ALTER TABLE lexledger_test_intruder.ledger_ref OWNER TO lexledger_test_owner;
SELECT pg_temp.err($$REASSIGN OWNED BY lexledger_test_owner TO lexledger_test_poster$$);
SELECT pg_temp.err($$CREATE TABLE lexledger_test_intruder.unrelated2 (i int)$$);
SELECT pg_get_userbyid(relowner) AS owner FROM pg_class WHERE oid = 'lexledger_test_intruder.ledger_ref'::regclass;
DROP TABLE lexledger_test_intruder.ledger_ref, lexledger_test_intruder.unrelated;
DROP ROLE lexledger_test_owner;
-- A trigger a superuser put on the history stops the take-back (the batch
-- decides again on its careful path, with the same answers), since the
-- take-back runs no code but the extension's.  A trigger elsewhere that
-- changes search_path in the middle of the call cannot make the take-back
-- use another = operator.
CREATE FUNCTION lexledger_test_intruder.uuid_eq(a uuid, b uuid) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  RAISE WARNING 'an operator of another schema runs';
  RETURN a OPERATOR(pg_catalog.=) b;
END $$;
CREATE OPERATOR lexledger_test_intruder.= (LEFTARG = uuid, RIGHTARG = uuid, FUNCTION = lexledger_test_intruder.uuid_eq);
CREATE FUNCTION lexledger_test_intruder.set_path() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_catalog.set_config('search_path', 'lexledger_test_intruder, pg_catalog', true);
  RETURN NULL;
END $$;
CREATE FUNCTION lexledger_test_intruder.audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RETURN NULL;
END $$;
CREATE FUNCTION pg_temp.batch_with_trigger(trigger_sql text, frank bigint, bob bigint)
RETURNS TABLE (ordinal integer, result text, taken_back bigint)
LANGUAGE plpgsql AS $$
DECLARE
  before bigint := pg_stat_get_xact_tuples_deleted('lexledger.transfer'::regclass);
BEGIN
  EXECUTE trigger_sql;
  RETURN QUERY SELECT r.ordinal, r.result,
                      pg_stat_get_xact_tuples_deleted('lexledger.transfer'::regclass) - before
    FROM lexledger.transfer_batch(ARRAY[
      ROW('00000000-0000-0000-0000-0000000007c1', frank, bob, '100.00 USD', 0, NULL, false, NULL, false),
      ROW('00000000-0000-0000-0000-0000000007c2', bob, frank, '0.01 USD', 0, NULL, false, NULL, false)
    ]::lexledger.transfer_request[]) r;
END $$;
BEGIN;
SELECT * FROM pg_temp.batch_with_trigger($$CREATE TRIGGER audit AFTER INSERT ON lexledger.transfer
  FOR EACH STATEMENT EXECUTE FUNCTION lexledger_test_intruder.audit()$$, :frank, :bob);
-- other roles' DDL elsewhere is not refused for it
SET LOCAL ROLE lexledger_test_poster;
CREATE TABLE lexledger_test_intruder.note (t text);
RESET ROLE;
ROLLBACK;
BEGIN;
SELECT * FROM pg_temp.batch_with_trigger($$CREATE TRIGGER set_path AFTER UPDATE ON lexledger.account_balance
  FOR EACH STATEMENT EXECUTE FUNCTION lexledger_test_intruder.set_path()$$, :frank, :bob);
ROLLBACK;
DROP SCHEMA lexledger_test_intruder CASCADE;
REVOKE ALL ON lexledger.transfer, lexledger.pending_transfer, lexledger.account_balance, lexledger.account
  FROM lexledger_test_poster;
REVOKE ALL ON SCHEMA lexledger FROM lexledger_test_poster;
DROP ROLE lexledger_test_poster;
-- a chain's request that repeats a request posted earlier in the same
-- batch, before the chain, is a retry of it: when the chain fails, it
-- answers exists (exists_with_different_<field> if it differs) whether the
-- play reached it or not, and posts nothing twice
BEGIN;
SELECT ordinal, result FROM lexledger.transfer_batch(ARRAY[
    -- 1: posts
    ROW('00000000-0000-0000-0000-0000000007a1', :house, :bob, '0.01 USD', 0, NULL, false, NULL, false),
    -- 2-4: a chain that fails at its last request; 2 repeats 1
    ROW('00000000-0000-0000-0000-0000000007a1', :house, :bob, '0.01 USD', 0, NULL, false, NULL, true),
    ROW('00000000-0000-0000-0000-0000000007a2', :house, :bob, '0.02 USD', 0, NULL, false, NULL, true),
    ROW('00000000-0000-0000-0000-0000000007a3', :house, :house, '0.01 USD', 0, NULL, false, NULL, false),
    -- 5-8: a chain that fails at its first request: 6 repeats 1, 7 repeats
    -- 1 with another amount, 8 is new; the play reaches none of them
    ROW('00000000-0000-0000-0000-0000000007a4', :house, 999999, '0.01 USD', 0, NULL, false, NULL, true),
    ROW('00000000-0000-0000-0000-0000000007a1', :house, :bob, '0.01 USD', 0, NULL, false, NULL, true),
    ROW('00000000-0000-0000-0000-0000000007a1', :house, :bob, '0.05 USD', 0, NULL, false, NULL, true),
    ROW('00000000-0000-0000-0000-0000000007a5', :house, :bob, '0.01 USD', 0, NULL, false, NULL, false),
    -- 9-11: a chain left open at the end of the batch; 10 repeats 1, 11
    -- repeats 9, which shares the chain's fate
    ROW('00000000-0000-0000-0000-0000000007a6', :house, :bob, '0.01 USD', 0, NULL, false, NULL, true),
    ROW('00000000-0000-0000-0000-0000000007a1', :house, :bob, '0.01 USD', 0, NULL, false, NULL, true),
    ROW('00000000-0000-0000-0000-0000000007a6', :house, :bob, '0.01 USD', 0, NULL, false, NULL, true)
  ]::lexledger.transfer_request[]);
SELECT id, amount FROM lexledger.transfer WHERE id::text LIKE '00000000-0000-0000-0000-0000000007a%' ORDER BY id;
ROLLBACK;
SELECT count(*) AS null_batch FROM lexledger.transfer_batch(NULL);
-- at most 100,000 requests per call
SELECT pg_temp.err($$SELECT count(*) FROM lexledger.transfer_batch(array_fill(NULL::lexledger.transfer_request, ARRAY[100001]))$$);
-- a batch is a list, not a matrix
SELECT pg_temp.err($$SELECT count(*) FROM lexledger.transfer_batch(array_fill(NULL::lexledger.transfer_request, ARRAY[2, 2]))$$);
-- a thousand transfers from a query in one call, over a hot account
SELECT result, count(*) FROM lexledger.transfer_batch((
  SELECT array_agg(ROW(md5('bulk' || g)::uuid, :house, CASE WHEN g % 2 = 0 THEN :bob ELSE :alice END,
                       '0.01 USD', 10, NULL, false, NULL, false)::lexledger.transfer_request)
    FROM generate_series(1, 1000) g)) GROUP BY result;
SELECT posted_balance FROM lexledger.balance(:bob);
-- a request that would overflow a 64-bit counter fails alone, whether its
-- batch overflows the counters by itself or a counter is already full (in
-- a transaction of its own: the OVFL totals are past 64 bits, which the
-- test of totals() below must not meet)
BEGIN;
SELECT code FROM lexledger.create_unit('OVFL');
SELECT (lexledger.open_account('OVFL', name => 'ovfl-source')).id AS ovsrc \gset
SELECT (lexledger.open_account('OVFL', name => 'ovfl-sink')).id AS ovsink \gset
SELECT ordinal, result FROM lexledger.transfer_batch(ARRAY[
    ROW('00000000-0000-0000-0000-0000000000a1', :ovsrc, :ovsink, '9223372036854775800 OVFL', 0, NULL, false, NULL, false),
    ROW('00000000-0000-0000-0000-0000000000a2', :ovsrc, :ovsink, '8 OVFL', 0, NULL, false, NULL, false),
    ROW('00000000-0000-0000-0000-0000000000a4', :house, :bob, '0.01 USD', 0, NULL, false, NULL, false),
    ROW('00000000-0000-0000-0000-0000000000a5', :ovsrc, :ovsink, '7 OVFL', 0, NULL, false, NULL, false)
  ]::lexledger.transfer_request[]);
SELECT ordinal, result FROM lexledger.transfer_batch(ARRAY[
    ROW('00000000-0000-0000-0000-0000000000a6', :house, :bob, '0.01 USD', 0, NULL, false, NULL, false),
    ROW('00000000-0000-0000-0000-0000000000a7', :ovsink, :ovsrc, '1 OVFL', 0, NULL, false, NULL, false),
    ROW('00000000-0000-0000-0000-0000000000a8', :ovsrc, :ovsink, '1 OVFL', 0, NULL, false, NULL, false)
  ]::lexledger.transfer_request[]);
SELECT posted_balance FROM lexledger.balance(:ovsink);
ROLLBACK;
-- accounts opened in a savepoint that rolls back are forgotten with it,
-- although posting to them put them in this session's account cache
BEGIN;
SAVEPOINT opened;
SELECT (lexledger.open_account('USD', name => 'ghost-1')).id AS ghost1 \gset
SELECT amount FROM lexledger.transfer(gen_random_uuid(), :house, :ghost1, '1.00 USD');
SAVEPOINT inner_one;
SELECT (lexledger.open_account('USD', name => 'ghost-2')).id AS ghost2 \gset
SELECT result FROM lexledger.transfer_batch(ARRAY[ROW(gen_random_uuid(), :house, :ghost2, '1.00 USD', 0, NULL, false, NULL, false)]::lexledger.transfer_request[]);
RELEASE SAVEPOINT inner_one;
ROLLBACK TO SAVEPOINT opened;
SELECT pg_temp.err($$SELECT lexledger.transfer(gen_random_uuid(), $$ || :house || $$, $$ || :ghost1 || $$, '1.00 USD')$$) AS ghost1;
SELECT result AS ghost2 FROM lexledger.transfer_batch(ARRAY[ROW(gen_random_uuid(), :house, :ghost2, '1.00 USD', 0, NULL, false, NULL, false)]::lexledger.transfer_request[]);
COMMIT;
SELECT pg_temp.err($$SELECT lexledger.transfer('00000000-0000-0000-0000-0000000000a3', $$ || :bob || $$, $$ || :house || $$, '92233720368547758.07 USD')$$);
SELECT posted_balance FROM lexledger.balance(:bob);
SELECT * FROM lexledger.verify();

-- the two ways of reading the past agree
\i test/sql/as_of_agrees.sql
-- a null instant means now, whichever way it is read
SELECT (SELECT c FROM lexledger.counters_as_of(:bob, NULL, false) c)
         = (SELECT c FROM lexledger.counters_as_of(:bob, NULL, true) c)
       AND (SELECT c.credits_posted - c.debits_posted FROM lexledger.counters_as_of(:bob, NULL, false) c)
         = lexledger.minor_units((SELECT posted_balance FROM lexledger.balance(:bob))) AS null_means_now;
SELECT pg_temp.err($$SELECT * FROM lexledger.counters_as_of(999999, now())$$);

-- the house's statement read in pages of 97 rows is its whole statement,
-- running balances included
SELECT set_config('lexledger_test.house', :'house', false) IS NOT NULL AS noted;
CREATE TEMP TABLE paged AS
  SELECT 0 AS page, s.* FROM lexledger.statement(:house, '-infinity', 'infinity') s WHERE false;
DO $$
DECLARE
  house bigint := current_setting('lexledger_test.house')::bigint;
  last uuid;
  page_no int := 0;
BEGIN
  LOOP
    page_no := page_no + 1;
    INSERT INTO paged
      SELECT page_no, s.* FROM lexledger.statement(house, '-infinity', 'infinity', 97, last) s;
    EXIT WHEN NOT FOUND OR page_no > 1000;
    SELECT p.transfer_id INTO last FROM paged p WHERE p.page = page_no
     ORDER BY p.created_at DESC, p.transfer_id DESC LIMIT 1;
  END LOOP;
END $$;
SELECT count(*) > 500 AS many_rows, count(DISTINCT p.page) > 5 AS many_pages,
       (SELECT count(*) FROM paged) = count(*) AS no_row_twice,
       count(*) FILTER (WHERE p.transfer_id IS NULL OR f.transfer_id IS NULL
                           OR p.balance OPERATOR(lexledger.<>) f.balance) AS differences
  FROM lexledger.statement(:house, '-infinity', 'infinity') f
  FULL JOIN paged p USING (transfer_id);
-- a null bound leaves that side open; the earliest timestamptz is a valid
-- start (the opening balance before it is zero)
SELECT (SELECT count(*) FROM lexledger.statement(:house, NULL, NULL)) AS null_bounds,
       (SELECT count(*) FROM lexledger.statement(:house, '-infinity', 'infinity')) AS infinite_bounds,
       (SELECT count(*) FROM lexledger.statement(:house, '4714-11-24 00:00:00+00 BC', NULL)) AS from_earliest;

-- History is append-only --------------------------------------------------
CREATE ROLE lexledger_test_clerk;
GRANT USAGE ON SCHEMA lexledger TO lexledger_test_clerk;
GRANT SELECT, UPDATE, DELETE, TRUNCATE ON lexledger.transfer, lexledger.pending_transfer TO lexledger_test_clerk;
SET ROLE lexledger_test_clerk;
SELECT pg_temp.err($$UPDATE lexledger.transfer SET code = 99 WHERE id = '00000000-0000-0000-0000-000000000001'$$);
SELECT pg_temp.err($$DELETE FROM lexledger.transfer WHERE id = '00000000-0000-0000-0000-000000000001'$$);
SELECT pg_temp.err($$TRUNCATE lexledger.transfer CASCADE$$);
RESET ROLE;
REVOKE ALL ON lexledger.transfer, lexledger.pending_transfer FROM lexledger_test_clerk;
REVOKE ALL ON SCHEMA lexledger FROM lexledger_test_clerk;
DROP ROLE lexledger_test_clerk;

-- verify finds tampering ----------------------------------------------------
BEGIN;
UPDATE lexledger.account_balance SET credits_posted = credits_posted + 1 WHERE account_id = :bob AND slot = 0;
SELECT problem, account_id = :bob AS is_bob, currency FROM lexledger.verify() ORDER BY problem;
ROLLBACK;
BEGIN;
INSERT INTO lexledger.transfer (id, debit_account_id, credit_account_id, amount, kind)
  VALUES ('00000000-0000-0000-0000-0000000000aa', :house, :rand, '1.00 USD', 'posted');
SELECT problem FROM lexledger.verify() ORDER BY problem;
ROLLBACK;

-- sums past 64 bits: each slot row of an account holds its own 64-bit
-- counters; reads that add them up say amount_out_of_range, and verify()
-- names the account (the rows are set by hand: one session posts to only
-- one slot of an account)
BEGIN;
SELECT id AS big FROM lexledger.open_account('USD', 'house', name => 'big', slots => 2) \gset
SELECT pg_temp.err($$SELECT * FROM lexledger.totals()$$) AS totals_before;
UPDATE lexledger.account_balance SET credits_posted = 5000000000000000000 WHERE account_id = :big;
SELECT pg_temp.err($$SELECT * FROM lexledger.balance($$ || :big || $$)$$);
SELECT pg_temp.err($$SELECT * FROM lexledger.totals()$$);
SELECT problem, account_id = :big AS is_big, detail FROM lexledger.verify()
 WHERE problem = 'counters_out_of_range';
-- each counter fits, the posted balance (credits - debits) does not (a
-- negative posted counter cannot be made by posting; this is a damaged row)
UPDATE lexledger.account_balance
   SET credits_posted = CASE slot WHEN 0 THEN 9000000000000000000 ELSE 0 END,
       debits_posted = CASE slot WHEN 1 THEN -1000000000000000000 ELSE 0 END
 WHERE account_id = :big;
SELECT pg_temp.err($$SELECT * FROM lexledger.balance($$ || :big || $$)$$);
-- each counter fits, the available balance (credits - debits - pending) does not
UPDATE lexledger.account_balance
   SET credits_posted = 0, debits_posted = CASE slot WHEN 0 THEN 5000000000000000000 ELSE 0 END,
       debits_pending = CASE slot WHEN 1 THEN 5000000000000000000 ELSE 0 END
 WHERE account_id = :big;
SELECT pg_temp.err($$SELECT * FROM lexledger.balance($$ || :big || $$)$$);
ROLLBACK;
SELECT problems FROM lexledger.record_verify();
SELECT code, sqlstate FROM lexledger.error_code WHERE sqlstate LIKE 'LX1%' ORDER BY sqlstate, code;

-- A batch's transfers are timestamped in request order, one microsecond
-- apart at least, though they are inserted in id order: a wallet funded
-- and then spent in one batch, the spend's id sorting first, never shows a
-- negative balance in its statement or as of any instant.
SELECT id AS fresh FROM lexledger.open_account('USD', name => 'order:fresh', debits_must_not_exceed_credits => true) \gset
SELECT ordinal, result FROM lexledger.transfer_batch(ARRAY[
  ROW('ffffffff-0000-7000-8000-000000000001', :house, :fresh, '10.00 USD', 0, NULL, false, NULL, false),
  ROW('00000000-0000-7000-8000-0000000000f1', :fresh, :house, '10.00 USD', 0, NULL, false, NULL, false),
  ROW('80000000-0000-7000-8000-000000000001', :house, :fresh, '1.00 USD', 0, NULL, false, NULL, false)
]::lexledger.transfer_request[]);
SELECT transfer_id, debit, credit, balance,
       created_at > lag(created_at) OVER (ORDER BY created_at, transfer_id) AS after_previous
  FROM lexledger.statement(:fresh, NULL, NULL);
SELECT s.transfer_id, b.posted_balance
  FROM lexledger.statement(:fresh, NULL, NULL) s, lexledger.balance(:fresh, s.created_at) b
 ORDER BY s.created_at;

-- An amount made while a create_unit that was rolled back was in effect
-- keeps that unit's decimals (a constant in a prepared statement). Once the
-- code is registered with other decimals, it does not post: 1.500 would
-- otherwise post as 1,500 minor units of a unit without decimals.
\i test/sql/stale_amount.sql
SELECT id AS stale_from FROM lexledger.open_account('STALE', 'quota', name => 'stale:from') \gset
SELECT id AS stale_to FROM lexledger.open_account('STALE', name => 'stale:to') \gset
SELECT pg_temp.err(format($$SELECT lexledger.transfer('00000000-0000-0000-0000-0000000005a1', %s, %s, a) FROM stale$$,
                          :stale_from, :stale_to));
SELECT r.ordinal, r.result
  FROM lexledger.transfer_batch((
    SELECT ARRAY[ROW('00000000-0000-0000-0000-0000000005a2', :stale_from, :stale_to, a, 0, NULL, false, NULL, false),
                 ROW('00000000-0000-0000-0000-0000000005a3', :stale_from, :stale_to, '2 STALE', 0, NULL, false, NULL, false)]
             ::lexledger.transfer_request[] FROM stale)) r;
SELECT posted_balance FROM lexledger.balance(:stale_to);
