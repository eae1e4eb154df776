-- maintenance.sql: housekeeping that pg_cron runs (nightly verify) and the
-- status of lexledger's background worker.

INSERT INTO lexledger.error_code (code, sqlstate, description) VALUES
  ('pg_cron_missing', '55000', 'schedule_maintenance() needs pg_cron installed in this database'),
  ('invalid_schedule', '22023', 'schedule_maintenance() takes a cron schedule that pg_cron accepts, not null'),
  ('worker_status_not_visible', '42501', 'worker_status() needs the privileges of pg_read_all_stats to see the workers');
INSERT INTO lexledger.error_code (code, sqlstate, description, severity) VALUES
  ('verify_not_finished',   '01000', 'record_verify(): verify() was stopped by an error, recorded in lexledger.verify_run.error', 'warning'),
  ('verify_found_problems', '01000', 'record_verify(): verify() found problems, listed in lexledger.verify_run.report', 'warning');

CREATE TABLE lexledger.verify_run (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  started_at  timestamptz NOT NULL,
  finished_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  problems    integer,
  report      jsonb,
  error       text,
  CONSTRAINT verify_run_problems_counted CHECK (problems >= 0),
  CONSTRAINT verify_run_has_outcome_or_error
    CHECK ((error IS NULL) = (problems IS NOT NULL AND report IS NOT NULL))
);
SELECT pg_catalog.pg_extension_config_dump('lexledger.verify_run', '');
SELECT pg_catalog.pg_extension_config_dump('lexledger.verify_run_id_seq', '');
CREATE INDEX verify_run_started_idx ON lexledger.verify_run (started_at);
COMMENT ON TABLE lexledger.verify_run IS
  'History of lexledger.record_verify() runs (the nightly pg_cron job): problems = 0 means the ledger was proven healthy.';
COMMENT ON COLUMN lexledger.verify_run.id IS 'Run number.';
COMMENT ON COLUMN lexledger.verify_run.started_at IS 'When verify() started.';
COMMENT ON COLUMN lexledger.verify_run.finished_at IS 'When it finished, or failed.';
COMMENT ON COLUMN lexledger.verify_run.problems IS 'How many problems verify() found (0: healthy); null if it did not finish.';
COMMENT ON COLUMN lexledger.verify_run.report IS 'The problems verify() returned, as a JSON array of its rows.';
COMMENT ON SEQUENCE lexledger.verify_run_id_seq IS 'Numbers lexledger.verify_run (its identity column).';
COMMENT ON COLUMN lexledger.verify_run.error IS
  'Why verify() did not finish (SQLSTATE and message), for example a lock or statement timeout; problems and report are then null.';

CREATE FUNCTION lexledger.record_verify()
RETURNS lexledger.verify_run
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  started timestamptz := clock_timestamp();
  found jsonb;
  failure text;
  r lexledger.verify_run;
BEGIN
  -- A run that cannot finish is recorded too: a nightly job that leaves no
  -- trace when it fails looks, from the history, like a job that never ran.
  BEGIN
    SELECT coalesce(jsonb_agg(to_jsonb(v)), '[]') INTO found FROM lexledger.verify() v;
  EXCEPTION WHEN OTHERS OR query_canceled THEN
    failure := SQLSTATE || ' ' || SQLERRM;
  END;
  INSERT INTO lexledger.verify_run (started_at, problems, report, error)
    VALUES (started, jsonb_array_length(found), found, failure) RETURNING * INTO r;
  IF r.error IS NOT NULL THEN
    RAISE WARNING 'verify_not_finished: verify() did not finish: %; see lexledger.verify_run %', r.error, r.id;
  ELSIF r.problems > 0 THEN
    RAISE WARNING 'verify_found_problems: verify() found % problem(s); see lexledger.verify_run %', r.problems, r.id;
  END IF;
  -- keep a year of history
  DELETE FROM lexledger.verify_run WHERE started_at < now() - interval '366 days';
  RETURN r;
END $$;
COMMENT ON FUNCTION lexledger.record_verify() IS
  'Runs lexledger.verify() and records the outcome in lexledger.verify_run, or the error that stopped it (warning in the log when something is wrong or verify could not finish).';

CREATE FUNCTION lexledger.schedule_maintenance(verify_schedule text DEFAULT '17 3 * * *')
RETURNS TABLE (job text, schedule text)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF verify_schedule IS NULL THEN
    RAISE EXCEPTION 'invalid_schedule: the schedule is null'
      USING ERRCODE = '22023',
            HINT = 'Pass a cron schedule such as ''17 3 * * *'', or leave the argument out for that default.';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pg_cron') THEN
    RAISE EXCEPTION 'pg_cron_missing: pg_cron is not installed in this database'
      USING ERRCODE = '55000',
            HINT = 'CREATE EXTENSION pg_cron (with cron.database_name set to this database), then call this again.';
  END IF;
  -- cron.schedule(name, ...) replaces a job of the same name: idempotent.
  -- pg_cron refuses a malformed schedule with 22023 and its own words.
  BEGIN
    EXECUTE 'SELECT cron.schedule($1, $2, $3)'
      USING 'lexledger-verify', verify_schedule, 'SELECT lexledger.record_verify()';
  EXCEPTION WHEN invalid_parameter_value THEN
    RAISE EXCEPTION 'invalid_schedule: pg_cron refuses the schedule %', pg_catalog.quote_literal(verify_schedule)
      USING ERRCODE = '22023',
            DETAIL = 'pg_cron: ' || SQLERRM,
            HINT = 'Five cron fields (minute hour day-of-month month day-of-week), e.g. ''17 3 * * *''.';
  END;
  RETURN QUERY SELECT 'lexledger-verify'::text, verify_schedule;
END $$;
COMMENT ON FUNCTION lexledger.schedule_maintenance(text) IS
  'Registers lexledger''s housekeeping jobs with pg_cron (nightly verify). Idempotent. Hold expiry is not here: it needs seconds, which the expiry worker provides.';

CREATE FUNCTION lexledger.worker_status()
RETURNS TABLE (pid integer, backend_type text, state text, database text, backend_start timestamptz)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  -- pg_stat_activity hides the backend_type of other roles' processes from
  -- a role without pg_read_all_stats: its empty answer would say "not
  -- running" of a worker that runs
  IF NOT pg_catalog.pg_has_role('pg_read_all_stats', 'USAGE') THEN
    RAISE EXCEPTION 'worker_status_not_visible: % cannot see lexledger''s workers', current_user
      USING ERRCODE = '42501',
            DETAIL = 'pg_stat_activity shows other roles'' processes only to roles with the privileges of pg_read_all_stats.',
            HINT = 'GRANT pg_read_all_stats TO ' || pg_catalog.quote_ident(current_user) || ', or ask a superuser.';
  END IF;
  RETURN QUERY
    SELECT a.pid, a.backend_type, a.state, a.datname::text, a.backend_start
      FROM pg_catalog.pg_stat_activity a
     WHERE a.backend_type LIKE 'lexledger%';
END $$;
COMMENT ON FUNCTION lexledger.worker_status() IS
  'lexledger''s background workers as pg_stat_activity shows them.';
