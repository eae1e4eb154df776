-- Housekeeping: settings, the verify history, pg_cron registration and the
-- worker's status.
SET client_min_messages = warning;
DROP EXTENSION lexledger CASCADE;
CREATE EXTENSION lexledger;
\i test/sql/err.sql

-- lexledger.balance_slots sets how many balance rows an unlimited account gets
SHOW lexledger.balance_slots;
SET lexledger.balance_slots = 4;
SELECT slots FROM lexledger.open_account('EUR', 'fees', name => 'fees:EUR');
SELECT slots FROM lexledger.open_account('EUR', name => 'wallet:EUR', debits_must_not_exceed_credits => true);
SELECT slots FROM lexledger.open_account('EUR', name => 'clearing:EUR', slots => 2);
RESET lexledger.balance_slots;
SELECT pg_temp.err($$SET lexledger.balance_slots = 65$$);
-- lexledger.batch_attempts bounds the careful path's attempts that balance
-- changes undo (ledger-batch-attempts.spec shows it at 1)
SHOW lexledger.batch_attempts;
SELECT pg_temp.err($$SET lexledger.batch_attempts = 0$$);
SELECT pg_temp.err($$SET lexledger.batch_attempts = 101$$);
-- lexledger.database_name must name a database (ALTER SYSTEM checks the
-- value as a restart would, and writes nothing when it is refused)
ALTER SYSTEM SET lexledger.database_name = '';
ALTER SYSTEM SET lexledger.database_name = 'dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd';
SELECT count(*) AS settings_written FROM pg_file_settings WHERE name = 'lexledger.database_name' AND sourcefile LIKE '%postgresql.auto.conf';
ALTER SYSTEM RESET lexledger.database_name;

-- record_verify() keeps a history of verify() runs
SELECT problems, report, error FROM lexledger.record_verify();
SELECT count(*) AS runs, sum(problems) AS problems FROM lexledger.verify_run;
-- a run has either an outcome or an error (a run that cannot finish:
-- test/t/006_verify_history.pl)
SELECT pg_temp.err($$INSERT INTO lexledger.verify_run (started_at, problems, report, error) VALUES (now(), 0, '[]', 'both')$$);
-- a run that finds problems records them and warns (a superuser's edit of
-- a balance counter, rolled back)
BEGIN;
UPDATE lexledger.account_balance SET credits_posted = credits_posted + 1
 WHERE (account_id, slot) = (SELECT account_id, slot FROM lexledger.account_balance ORDER BY 1, 2 LIMIT 1);
SELECT problems, jsonb_path_query_array(report, '$[*].problem') AS problem FROM lexledger.record_verify();
ROLLBACK;

-- (which functions pin their search_path: sql/search_path.sql)
-- warnings, and result codes of transfer_batch that are never raised, are
-- listed too
SELECT code, sqlstate, severity FROM lexledger.error_code WHERE severity <> 'error' ORDER BY severity, code;

-- pg_cron is not installed in this database: a clear error (a null
-- schedule is refused before that; pg_cron's refusals: TAP 002)
SELECT pg_temp.err($$SELECT * FROM lexledger.schedule_maintenance()$$);
SELECT pg_temp.err($$SELECT * FROM lexledger.schedule_maintenance(NULL)$$);

-- the expiry worker runs (in the database named by lexledger.database_name)
SELECT backend_type, database = current_setting('lexledger.database_name') AS in_the_configured_database FROM lexledger.worker_status();
-- a role that cannot see other roles' processes is told so, not answered
-- "no worker"
CREATE ROLE lexledger_no_stats;
GRANT USAGE ON SCHEMA lexledger TO lexledger_no_stats;
SET ROLE lexledger_no_stats;
SELECT pg_temp.err($$SELECT * FROM lexledger.worker_status()$$);
RESET ROLE;
GRANT pg_read_all_stats TO lexledger_no_stats;
SET ROLE lexledger_no_stats;
SELECT backend_type FROM lexledger.worker_status();
RESET ROLE;
DROP OWNED BY lexledger_no_stats;
DROP ROLE lexledger_no_stats;

-- DROP and CREATE EXTENSION in a long-lived session: account ids start
-- over, and nothing this session cached of the old accounts is used
DROP EXTENSION lexledger CASCADE;
CREATE EXTENSION lexledger;
SELECT id AS a1 FROM lexledger.open_account('USD', 'house', name => 'h:USD') \gset
SELECT id AS a2 FROM lexledger.open_account('USD', name => 'w:USD') \gset
SELECT amount FROM lexledger.transfer(gen_random_uuid(), :a1, :a2, '1.00 USD');
DROP EXTENSION lexledger CASCADE;
CREATE EXTENSION lexledger;
SELECT id = :a1 AS same_id, currency FROM lexledger.open_account('KES', 'house', name => 'h:KES');
SELECT id = :a2 AS same_id, currency FROM lexledger.open_account('KES', name => 'w:KES');
SELECT amount FROM lexledger.transfer(gen_random_uuid(), :a1, :a2, '1.00 KES');
SELECT result FROM lexledger.transfer_batch(ARRAY[ROW(gen_random_uuid(), :a1, :a2, '2.00 KES', 0, NULL, false, NULL, false)]::lexledger.transfer_request[]);
SELECT * FROM lexledger.verify();

-- the schema knows which build of its SQL created it (make run compares
-- this with the installed script to spot a database left by an older build)
SELECT lexledger.schema_fingerprint() ~ '^[0-9a-f]{32}$' AS is_md5;
-- and it is the fingerprint of the sources in this folder: the installed
-- extension was built from them
\set sources_fingerprint `make -s --no-print-directory fingerprint`
SELECT lexledger.schema_fingerprint() = :'sources_fingerprint' AS built_from_these_sources;

-- every table, view, sequence, column, function and type of the schema
-- carries a COMMENT a DBA reads with \d+ and \df+ (array types and the
-- fields of composite types excepted: the type's comment describes them)
SELECT kind, name FROM (
  SELECT 'relation' AS kind, c.relname::text AS name
    FROM pg_class c
   WHERE c.relnamespace = 'lexledger'::regnamespace AND c.relkind IN ('r', 'v', 'S')
     AND obj_description(c.oid, 'pg_class') IS NULL
  UNION ALL
  SELECT 'column', c.relname || '.' || a.attname
    FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
   WHERE c.relnamespace = 'lexledger'::regnamespace AND c.relkind IN ('r', 'v')
     AND a.attnum > 0 AND NOT a.attisdropped AND col_description(c.oid, a.attnum) IS NULL
  UNION ALL
  SELECT 'function', p.oid::regprocedure::text
    FROM pg_proc p
   WHERE p.pronamespace = 'lexledger'::regnamespace AND obj_description(p.oid, 'pg_proc') IS NULL
  UNION ALL
  SELECT 'type', t.typname::text
    FROM pg_type t
   WHERE t.typnamespace = 'lexledger'::regnamespace AND t.typelem = 0
     AND (t.typrelid = 0 OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')
     AND obj_description(t.oid, 'pg_type') IS NULL
) missing ORDER BY kind, name;
