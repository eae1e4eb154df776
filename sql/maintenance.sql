-- Housekeeping: settings, the verify history, pg_cron registration and the
-- worker's status.
SET client_min_messages = warning;
DROP EXTENSION lexledger CASCADE;
CREATE EXTENSION lexledger;
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ' ' || SQLERRM;
END $$;

-- lexledger.balance_slots sets how many balance rows an unlimited account gets
SHOW lexledger.balance_slots;
SET lexledger.balance_slots = 4;
SELECT slots FROM lexledger.open_account('EUR', 'fees', name => 'fees:EUR');
SELECT slots FROM lexledger.open_account('EUR', name => 'wallet:EUR', debits_must_not_exceed_credits => true);
SELECT slots FROM lexledger.open_account('EUR', name => 'clearing:EUR', slots => 2);
RESET lexledger.balance_slots;
SELECT pg_temp.err($$SET lexledger.balance_slots = 65$$);

-- record_verify() keeps a history of verify() runs
SELECT problems, report FROM lexledger.record_verify();
SELECT count(*) AS runs, sum(problems) AS problems FROM lexledger.verify_run;

-- pg_cron is not installed in this database: a clear error
SELECT pg_temp.err($$SELECT * FROM lexledger.schedule_maintenance()$$);

-- the expiry worker runs (in the database named by lexledger.database_name)
SELECT backend_type, database FROM lexledger.worker_status();
