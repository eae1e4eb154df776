-- Run by the image's entrypoint once, when the data directory is first
-- initialised, in the database named by POSTGRES_DB.
CREATE EXTENSION IF NOT EXISTS pg_cron;
CREATE EXTENSION IF NOT EXISTS lexledger;
-- the nightly lexledger.verify() run, recorded in lexledger.verify_run
SELECT * FROM lexledger.schedule_maintenance();
