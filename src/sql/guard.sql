-- guard.sql: only superusers put triggers on lexledger's tables, and only
-- superusers' tables have foreign keys pointing at them.
--
-- A trigger runs with the rights of whoever writes its table.  The expiry
-- worker writes the ledger's tables as the bootstrap superuser, and
-- transfer_batch's take-back deletes as the history's owner; so a trigger
-- of a role that merely holds the TRIGGER privilege would run as a
-- superuser.  And since PostgreSQL 14, CREATE OR REPLACE TRIGGER needs
-- only the TRIGGER privilege: it could replace the history's append-only
-- trigger with one that lets changes through.
--
-- A foreign key pointing at a lexledger table brings the code of its own
-- table's owner into lexledger's transactions: an ON DELETE action fires
-- that table's triggers, and even a key without action plans a check of
-- that table, which runs the referencing column's casts and the
-- predicates of its partial indexes.  Whatever they queue (a deferred
-- trigger) fires at the writer's commit, as the writer: a superuser in
-- the worker (reviews reproduced each).  So such a table must belong to a
-- superuser, whoever made the key: otherwise its owner, who may add
-- indexes and triggers to it at any time, could run code as a superuser.
--
-- This event trigger ends with an error any DDL command of a role that is
-- not a superuser that creates or replaces a trigger on one of lexledger's
-- tables, and any DDL command, of anyone, after which a table that a role
-- other than a superuser owns has a foreign key pointing at one.  The
-- second check looks at every such key, not only at the command's tables:
-- ATTACH and DETACH PARTITION copy and leave keys on tables the command
-- does not list.  It reads only pg_catalog, so it also runs for the DDL of
-- roles without USAGE on schema lexledger.

INSERT INTO lexledger.error_code (code, sqlstate, description) VALUES
  ('trigger_refused', '42501', 'only a superuser may put triggers on lexledger''s tables, and only tables that a superuser owns may have foreign keys pointing at them');

CREATE FUNCTION lexledger.refuse_foreign_triggers() RETURNS event_trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  lexledger_schema oid := (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = 'lexledger');
  offender record;
BEGIN
  -- a trigger the command made on one of lexledger's tables
  IF NOT (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) AND EXISTS (
      SELECT 1
        FROM pg_catalog.pg_event_trigger_ddl_commands() d
        JOIN pg_catalog.pg_trigger t
          ON d.classid = 'pg_catalog.pg_trigger'::pg_catalog.regclass AND t.oid = d.objid
        JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
       WHERE c.relnamespace = lexledger_schema) THEN
    RAISE EXCEPTION 'trigger_refused: only a superuser may put triggers on lexledger''s tables'
      USING ERRCODE = '42501',
            HINT = 'Their code would run in the transactions of lexledger''s worker and posting functions, which may be a superuser''s.';
  END IF;
  -- any table that a role other than a superuser owns, with a foreign key
  -- pointing at one of lexledger's tables
  SELECT r.oid::pg_catalog.regclass AS referencing, c.oid::pg_catalog.regclass AS referenced,
         o.rolname AS owner
    INTO offender
    FROM pg_catalog.pg_constraint k
    JOIN pg_catalog.pg_class c ON c.oid = k.confrelid
    JOIN pg_catalog.pg_class r ON r.oid = k.conrelid
    JOIN pg_catalog.pg_roles o ON o.oid = r.relowner
   WHERE k.contype = 'f' AND c.relnamespace = lexledger_schema AND NOT o.rolsuper
   LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'trigger_refused: table % has a foreign key pointing at %, and its owner % is not a superuser',
        offender.referencing, offender.referenced, offender.owner
      USING ERRCODE = '42501',
            DETAIL = 'Only tables that a superuser owns may have foreign keys pointing at lexledger''s tables.',
            HINT = 'The check of such a key runs code of its table''s owner in the transactions of lexledger''s worker, which is a superuser''s. Store the id without a key, or let a superuser own the table.';
  END IF;
END $$;
COMMENT ON FUNCTION lexledger.refuse_foreign_triggers() IS
  'Event trigger function: refuses DDL of non-superusers that puts a trigger on a lexledger table, and any DDL after which a table not owned by a superuser has a foreign key pointing at one (see lexledger_refuse_foreign_triggers).';

-- Every command, not only CREATE TRIGGER, CREATE TABLE and ALTER TABLE: a
-- CREATE SCHEMA can hold a CREATE TABLE with a foreign key, and its
-- elements come to ddl_command_end under the tag CREATE SCHEMA.
CREATE EVENT TRIGGER lexledger_refuse_foreign_triggers ON ddl_command_end
  EXECUTE FUNCTION lexledger.refuse_foreign_triggers();
COMMENT ON EVENT TRIGGER lexledger_refuse_foreign_triggers IS
  'Only superusers put triggers on lexledger''s tables, and only superusers'' tables have foreign keys pointing at them: such code would run in the worker''s and the posting functions'' transactions.';
