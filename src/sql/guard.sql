-- guard.sql: only superusers put triggers on lexledger's tables, or
-- foreign keys with ON DELETE or ON UPDATE actions pointing at them.
--
-- A trigger runs with the rights of whoever writes its table.  The expiry
-- worker writes the ledger's tables as the bootstrap superuser, and
-- transfer_batch's take-back deletes as the history's owner; so a trigger
-- of a role that merely holds the TRIGGER privilege, or the ON DELETE
-- CASCADE action of a foreign key of a role that holds REFERENCES (which
-- fires that role's triggers on its own table), would run as a superuser.
-- And since PostgreSQL 14, CREATE OR REPLACE TRIGGER needs only the TRIGGER
-- privilege: it could replace the history's append-only trigger with one
-- that lets changes through.  This event trigger ends any CREATE TRIGGER,
-- CREATE TABLE or ALTER TABLE of a role that is not a superuser with an
-- error when the triggers on lexledger's tables then differ from those the
-- extension installed.  Foreign keys without actions (NO ACTION, RESTRICT)
-- stay allowed: their checks run as the owner of the referencing table.
-- The fingerprint is taken when the extension is created and written into
-- the function, which reads only pg_catalog, so that it also runs for the
-- DDL of roles without USAGE on schema lexledger.  (An upgrade script that
-- changes lexledger's triggers must create the function again.)

INSERT INTO lexledger.error_code (code, sqlstate, description) VALUES
  ('trigger_refused', '42501', 'only a superuser may put triggers on lexledger''s tables, or foreign keys with actions pointing at them');

DO $guard$
DECLARE
  fingerprint_sql text := $q$
    (SELECT pg_catalog.md5(coalesce(pg_catalog.string_agg(
              pg_catalog.format('%s|%s|%s|%s|%s|%s|%s', t.tgrelid, t.tgname, t.tgfoid, t.tgtype,
                                t.tgenabled, t.tgattr, t.tgqual IS NULL),
              ',' ORDER BY t.tgrelid, t.tgname), ''))
       FROM pg_catalog.pg_trigger t
       JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_catalog.pg_proc p ON p.oid = t.tgfoid
      WHERE n.nspname = 'lexledger'
        AND NOT (t.tgisinternal AND p.proname IN ('RI_FKey_noaction_del', 'RI_FKey_noaction_upd',
                                                  'RI_FKey_restrict_del', 'RI_FKey_restrict_upd')))$q$;
  installed text;
BEGIN
  EXECUTE 'SELECT ' || fingerprint_sql INTO installed;
  EXECUTE pg_catalog.format($f$
    CREATE FUNCTION lexledger.refuse_foreign_triggers() RETURNS event_trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
    AS $body$
    BEGIN
      IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
        RETURN;
      END IF;
      IF %s IS DISTINCT FROM %L THEN
        RAISE EXCEPTION 'trigger_refused: only a superuser may put triggers on lexledger''s tables, or foreign keys with ON DELETE or ON UPDATE actions pointing at them'
          USING ERRCODE = '42501',
                HINT = 'Their code would run with the rights of lexledger''s worker and posting functions. Foreign keys without actions (NO ACTION, RESTRICT) are allowed.';
      END IF;
    END $body$$f$, fingerprint_sql, installed);
END $guard$;
COMMENT ON FUNCTION lexledger.refuse_foreign_triggers() IS
  'Event trigger function: refuses DDL of non-superusers that changes the triggers on lexledger''s tables (see lexledger_refuse_foreign_triggers).';

CREATE EVENT TRIGGER lexledger_refuse_foreign_triggers ON ddl_command_end
  WHEN TAG IN ('CREATE TRIGGER', 'CREATE TABLE', 'ALTER TABLE')
  EXECUTE FUNCTION lexledger.refuse_foreign_triggers();
COMMENT ON EVENT TRIGGER lexledger_refuse_foreign_triggers IS
  'Only superusers put triggers on lexledger''s tables, or foreign keys with actions pointing at them: such code would run as the worker''s and the posting functions'' user.';
