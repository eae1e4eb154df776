-- guard.sql: only superusers put triggers on lexledger's tables, or
-- foreign keys pointing at them.
--
-- A trigger runs with the rights of whoever writes its table.  The expiry
-- worker writes the ledger's tables as the bootstrap superuser, and
-- transfer_batch's take-back deletes as the history's owner; so a trigger
-- of a role that merely holds the TRIGGER privilege would run as a
-- superuser.  So would code reached through a foreign key of a role that
-- holds REFERENCES: its ON DELETE action fires that role's triggers, and
-- even a key without action runs the referencing column's casts in the
-- writer's transaction, whose deferred triggers then fire at the writer's
-- commit (reviews reproduced both).  And since PostgreSQL 14, CREATE OR
-- REPLACE TRIGGER needs only the TRIGGER privilege: it could replace the
-- history's append-only trigger with one that lets changes through.  This
-- event trigger ends with an error any DDL command of a role that is not a
-- superuser that creates or replaces a trigger on one of lexledger's
-- tables, or a foreign key pointing at one.  A key that was there before
-- the command (a superuser made it) is no reason to refuse an ALTER TABLE
-- of its table: only keys this transaction made or changed count.  It
-- reads only pg_catalog, so it also runs for the DDL of roles without
-- USAGE on schema lexledger, until a table of the command has a key
-- pointing at lexledger's: telling old from new then takes a function of
-- lexledger's, and a role that may not call it is refused, to be safe.

INSERT INTO lexledger.error_code (code, sqlstate, description) VALUES
  ('trigger_refused', '42501', 'only a superuser may put triggers on lexledger''s tables, or foreign keys pointing at them');

CREATE FUNCTION lexledger.written_in_this_transaction(xid) RETURNS boolean
AS 'MODULE_PATHNAME', 'lexledger_written_in_this_transaction'
LANGUAGE C STRICT STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION lexledger.written_in_this_transaction(xid) IS
  'Whether the xid is this transaction''s or one of its subtransactions'': of a catalog row''s xmin, whether this transaction made or changed the row.';

CREATE FUNCTION lexledger.refuse_foreign_triggers() RETURNS event_trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  key_xmin xid;
  refuse boolean;
BEGIN
  IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
    RETURN;
  END IF;
  -- each trigger the command made, on one of lexledger's tables
  refuse := EXISTS (
      SELECT 1
        FROM pg_catalog.pg_event_trigger_ddl_commands() d
        JOIN pg_catalog.pg_trigger t
          ON d.classid = 'pg_catalog.pg_trigger'::pg_catalog.regclass AND t.oid = d.objid
        JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
       WHERE c.relnamespace = (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = 'lexledger'));
  -- each foreign key, of a table the command made or altered, that points
  -- at one of lexledger's tables and that this transaction made or changed
  -- (ALTER COLUMN TYPE of its column makes it anew, for one)
  FOR key_xmin IN
      SELECT k.xmin
        FROM pg_catalog.pg_event_trigger_ddl_commands() d
        JOIN pg_catalog.pg_constraint k
          ON d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND k.conrelid = d.objid
             AND k.contype = 'f'
        JOIN pg_catalog.pg_class c ON c.oid = k.confrelid
       WHERE c.relnamespace = (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = 'lexledger')
  LOOP
    EXIT WHEN refuse;
    -- without USAGE on lexledger this role cannot ask: refuse, to be safe
    -- (PL/pgSQL parses the ELSE branch, which names lexledger, only when
    -- it runs it)
    IF NOT pg_catalog.has_schema_privilege('lexledger', 'USAGE') THEN
      refuse := true;
    ELSE
      refuse := lexledger.written_in_this_transaction(key_xmin);
    END IF;
  END LOOP;
  IF refuse THEN
    RAISE EXCEPTION 'trigger_refused: only a superuser may put triggers on lexledger''s tables, or foreign keys pointing at them'
      USING ERRCODE = '42501',
            HINT = 'Their code would run in the transactions of lexledger''s worker and posting functions, which may be a superuser''s.';
  END IF;
END $$;
COMMENT ON FUNCTION lexledger.refuse_foreign_triggers() IS
  'Event trigger function: refuses DDL of non-superusers that puts a trigger on a lexledger table, or a foreign key pointing at one (see lexledger_refuse_foreign_triggers).';

-- Every command, not only CREATE TRIGGER, CREATE TABLE and ALTER TABLE: a
-- CREATE SCHEMA can hold a CREATE TABLE with a foreign key, and its
-- elements come to ddl_command_end under the tag CREATE SCHEMA.
CREATE EVENT TRIGGER lexledger_refuse_foreign_triggers ON ddl_command_end
  EXECUTE FUNCTION lexledger.refuse_foreign_triggers();
COMMENT ON EVENT TRIGGER lexledger_refuse_foreign_triggers IS
  'Only superusers put triggers on lexledger''s tables, or foreign keys pointing at them: such code would run in the worker''s and the posting functions'' transactions.';
