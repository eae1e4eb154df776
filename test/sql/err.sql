-- err(sql): runs sql and shows 'ok', or the SQLSTATE and message it raised.
-- Included (\i) by the pg_regress tests under sql/; test/run runs them from
-- the project folder.
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ' ' || SQLERRM;
END $$;
