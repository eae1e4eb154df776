-- stale_amount.sql: a temp table "stale" holding one amount, 1.500 STALE,
-- made while a create_unit('STALE', 3) that was then rolled back was in
-- effect (kept in a prepared statement); STALE is then registered with no
-- decimals. Included (\i) by sql/ledger.sql and sql/escrow.sql.
BEGIN;
SELECT code FROM lexledger.create_unit('STALE', 3);
PREPARE stale_amount AS SELECT '1.500 STALE'::lexledger.amount AS a;
ROLLBACK;
SELECT code FROM lexledger.create_unit('STALE', 0);
CREATE TEMP TABLE stale AS EXECUTE stale_amount;
DEALLOCATE stale_amount;
