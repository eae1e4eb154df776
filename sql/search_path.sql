-- A caller's search_path cannot change what lexledger's functions resolve
-- (CVE-2018-1058 style). A role that may create objects in a schema on a
-- superuser's search_path declares = on exactly (transfer_kind,
-- transfer_kind), which PostgreSQL prefers to pg_catalog's polymorphic
-- anyenum =; here it raises, so any call that used it would fail. Every
-- posting path, the expiry, the views and the readers must not use it.
SET client_min_messages = warning;
DROP EXTENSION lexledger CASCADE;
CREATE EXTENSION lexledger;
\i test/sql/err.sql

CREATE SCHEMA trap;
DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['transfer_kind', 'amount'] LOOP
    EXECUTE format($f$CREATE FUNCTION trap.hijacked_%1$s_eq(lexledger.%1$s, lexledger.%1$s)
                      RETURNS boolean LANGUAGE plpgsql
                      AS 'BEGIN RAISE EXCEPTION ''hijacked: trap.= on %1$s was called''; END'$f$, t);
    EXECUTE format('CREATE OPERATOR trap.= (LEFTARG = lexledger.%1$s, RIGHTARG = lexledger.%1$s,
                      FUNCTION = trap.hijacked_%1$s_eq)', t);
  END LOOP;
END $$;
-- the trap works: in the caller's own query, its = is the one chosen
SET search_path = trap, public;
SELECT pg_temp.err($$SELECT 'pending'::lexledger.transfer_kind = 'pending'::lexledger.transfer_kind$$) AS own_query;

SELECT id AS house FROM lexledger.open_account('USD', 'house', name => 'sp:house') \gset
SELECT id AS wallet FROM lexledger.open_account('USD', name => 'sp:wallet', debits_must_not_exceed_credits => true) \gset
SELECT kind FROM lexledger.transfer('50000000-0000-0000-0000-000000000001', :house, :wallet, '10.00 USD');
SELECT kind FROM lexledger.hold('50000000-0000-0000-0000-000000000002', :wallet, :house, '1.00 USD');
SELECT kind FROM lexledger.capture('50000000-0000-0000-0000-000000000003', '50000000-0000-0000-0000-000000000002', '0.50 USD');
SELECT kind FROM lexledger.hold('50000000-0000-0000-0000-000000000004', :wallet, :house, '1.00 USD');
SELECT kind FROM lexledger.release('50000000-0000-0000-0000-000000000005', '50000000-0000-0000-0000-000000000004');
SELECT kind FROM lexledger.hold('50000000-0000-0000-0000-000000000006', :wallet, :house, '1.00 USD', timeout => '1 microsecond');
SELECT pg_sleep(0.01);
SELECT lexledger.expire_holds() AS expired;
-- a batch with a hold, on its fast path and (a retry inside) its careful path
SELECT ordinal, result FROM lexledger.transfer_batch(ARRAY[
  ROW('50000000-0000-0000-0000-000000000007', :wallet, :house, '1.00 USD', 0, NULL, true, '1 hour', false),
  ROW('50000000-0000-0000-0000-000000000008', :house, :wallet, '1.00 USD', 0, NULL, false, NULL, false)
  ]::lexledger.transfer_request[]) ORDER BY ordinal;
SELECT ordinal, result FROM lexledger.transfer_batch(ARRAY[
  ROW('50000000-0000-0000-0000-000000000008', :house, :wallet, '1.00 USD', 0, NULL, false, NULL, false),
  ROW('50000000-0000-0000-0000-000000000009', :wallet, :house, '1.00 USD', 0, NULL, true, '1 hour', false)
  ]::lexledger.transfer_request[]) ORDER BY ordinal;
-- the readers, the inlined functions behind transfer_effect, and verify
SELECT count(*) AS effects, sum(debits_pending) AS debits_pending, sum(debits_posted) AS debits_posted
  FROM lexledger.transfer_effect WHERE account_id = :wallet;
SELECT posted_balance, available_balance FROM lexledger.balance(:wallet);
SELECT count(*) AS lines FROM lexledger.statement(:wallet, '-infinity', 'infinity');
SELECT status, count(*) FROM lexledger.hold GROUP BY status ORDER BY status;
SELECT count(*) AS problems FROM lexledger.verify();
RESET search_path;

-- every SQL and PL/pgSQL function pins its search_path, except three that the
-- planner must be able to inline, whose bodies qualify every operator
SELECT p.proname FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_language l ON l.oid = p.prolang
 WHERE p.pronamespace = 'lexledger'::regnamespace AND l.lanname IN ('sql', 'plpgsql')
   AND NOT coalesce('search_path=pg_catalog, pg_temp' = ANY (p.proconfig), false)
 ORDER BY 1;
-- the C functions that run queries pin it too; the others listed here run
-- none, or only fully qualified ones (the unit lookup of amount input): a
-- new C function shows up in this list and must be one or the other
SELECT p.proname, coalesce('search_path=pg_catalog, pg_temp' = ANY (p.proconfig), false) AS pinned
  FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_language l ON l.oid = p.prolang
 WHERE p.pronamespace = 'lexledger'::regnamespace AND l.lanname = 'c'
   AND p.proname NOT LIKE 'amount%'
 ORDER BY 2 DESC, 1;
DROP SCHEMA trap CASCADE;
