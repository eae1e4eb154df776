-- guard.sql: only superusers put triggers on lexledger's tables, only
-- superusers' tables have foreign keys pointing at them, and only
-- superusers' functions, types and operators are attached to either.
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
-- The same holds for the code that a superuser attaches to these tables:
-- a trigger's function, a column's domain, an index's or a default's
-- function, a constraint's operator.  When its owner is not a superuser,
-- that owner can replace it (CREATE OR REPLACE FUNCTION, ALTER DOMAIN) and
-- have the new code run in lexledger's transactions (a review did, for a
-- trigger function, a domain, and a trigger that a role with TRIGGER put
-- on a superuser's table with a cascading key).
--
-- This event trigger ends with an error:
--  0. any DDL command, of anyone, after which lexledger's schema is named
--     otherwise, belongs to a role other than a superuser, or lets such a
--     role create in it (schema.sql refuses such a schema at install):
--     its owner, or a role that may create in it, could put a schema of
--     its own with functions of lexledger's names in its place;
--  1. any DDL command of a role that is not a superuser that creates or
--     replaces a trigger on one of lexledger's tables, or on a table with
--     a foreign key pointing at one;
--  2. any DDL command, of anyone, after which a table that a role other
--     than a superuser owns has a foreign key pointing at one of
--     lexledger's tables;
--  3. any DDL command, of anyone, after which a function, type or
--     operator that a role other than a superuser owns is attached to one
--     of these tables (lexledger's and those with keys pointing at them):
--     the tables' columns, indexes, triggers, constraints, defaults,
--     rules and policies depend on it (pg_depend), directly or through
--     other functions, types, operators, operator classes and a domain's
--     constraints.
-- Rules 0, 2 and 3 look at every such object, not only at the
-- command's: ATTACH and DETACH PARTITION copy and leave keys on tables the
-- command does not list, and ALTER FUNCTION ... OWNER TO changes no
-- table.  It reads only pg_catalog, so it also runs for the DDL of roles
-- without USAGE on schema lexledger.

INSERT INTO lexledger.error_code (code, sqlstate, description) VALUES
  ('schema_not_trusted', '42501', 'schema lexledger must be named so, belong to a superuser, let no other role create in it, and hold nothing of another role'),
  ('trigger_refused', '42501', 'only a superuser may put triggers on lexledger''s tables (or on tables with foreign keys pointing at them), only tables that a superuser owns may have such keys, and what these tables depend on must be superusers''');

CREATE FUNCTION lexledger.refuse_foreign_triggers() RETURNS event_trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  lexledger_schema oid := (SELECT extnamespace FROM pg_catalog.pg_extension WHERE extname = 'lexledger');
  offender record;
BEGIN
  -- 0. the extension's schema: named lexledger (every call names it so),
  -- a superuser's, and no other role may create in it
  SELECT n.nspname, r.rolname AS owner, r.rolsuper,
         (SELECT coalesce(g.rolname, 'PUBLIC')
            FROM pg_catalog.aclexplode(n.nspacl) a
            LEFT JOIN pg_catalog.pg_roles g ON g.oid = a.grantee
           WHERE a.privilege_type = 'CREATE' AND NOT coalesce(g.rolsuper, false)
           LIMIT 1) AS creator
    INTO offender
    FROM pg_catalog.pg_namespace n JOIN pg_catalog.pg_roles r ON r.oid = n.nspowner
   WHERE n.oid = lexledger_schema;
  IF offender.nspname <> 'lexledger' OR NOT offender.rolsuper OR offender.creator IS NOT NULL THEN
    RAISE EXCEPTION 'schema_not_trusted: lexledger''s schema % belongs to %',
        offender.nspname,
        offender.owner || CASE WHEN offender.creator IS NOT NULL
                               THEN ', and ' || offender.creator || ' may create in it' ELSE '' END
      USING ERRCODE = '42501',
            DETAIL = 'It must be named lexledger, belong to a superuser, and let no other role create in it.',
            HINT = 'A role that owns it, or may create in it, could put functions of its own where the expiry worker, a superuser, calls lexledger''s.';
  END IF;
  -- ... nor may it hold anything of another role: a function of its own
  -- there could be picked, over lexledger's, by a call whose argument
  -- types it matches better
  SELECT o.what, r.rolname AS owner INTO offender
    FROM (SELECT pg_catalog.format('function %s', oid::pg_catalog.regprocedure) AS what, proowner AS owner
            FROM pg_catalog.pg_proc WHERE pronamespace = lexledger_schema
          UNION ALL SELECT pg_catalog.format('relation %s', oid::pg_catalog.regclass), relowner
            FROM pg_catalog.pg_class WHERE relnamespace = lexledger_schema
          UNION ALL SELECT pg_catalog.format('type %s', oid::pg_catalog.regtype), typowner
            FROM pg_catalog.pg_type WHERE typnamespace = lexledger_schema
          UNION ALL SELECT pg_catalog.format('operator %s', oid::pg_catalog.regoperator), oprowner
            FROM pg_catalog.pg_operator WHERE oprnamespace = lexledger_schema
          UNION ALL SELECT pg_catalog.format('operator class %s', opcname), opcowner
            FROM pg_catalog.pg_opclass WHERE opcnamespace = lexledger_schema
          UNION ALL SELECT pg_catalog.format('operator family %s', opfname), opfowner
            FROM pg_catalog.pg_opfamily WHERE opfnamespace = lexledger_schema
          UNION ALL SELECT pg_catalog.format('collation %s', collname), collowner
            FROM pg_catalog.pg_collation WHERE collnamespace = lexledger_schema
          UNION ALL SELECT pg_catalog.format('conversion %s', conname), conowner
            FROM pg_catalog.pg_conversion WHERE connamespace = lexledger_schema) o
    JOIN pg_catalog.pg_roles r ON r.oid = o.owner
   WHERE NOT r.rolsuper
   LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'schema_not_trusted: % in lexledger''s schema belongs to %, who is not a superuser',
        offender.what, offender.owner
      USING ERRCODE = '42501',
            HINT = 'Drop it: a function of another role in the schema could be called instead of lexledger''s.';
  END IF;
  -- 1. a trigger the command made on one of lexledger's tables, or on a
  -- table with a key pointing at one
  IF NOT (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) AND EXISTS (
      SELECT 1
        FROM pg_catalog.pg_event_trigger_ddl_commands() d
        JOIN pg_catalog.pg_trigger t
          ON d.classid = 'pg_catalog.pg_trigger'::pg_catalog.regclass AND t.oid = d.objid
        JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
       WHERE c.relnamespace = lexledger_schema
          OR EXISTS (SELECT 1
                       FROM pg_catalog.pg_constraint k
                       JOIN pg_catalog.pg_class lc ON lc.oid = k.confrelid
                      WHERE k.conrelid = t.tgrelid AND k.contype = 'f'
                        AND lc.relnamespace = lexledger_schema)) THEN
    RAISE EXCEPTION 'trigger_refused: only a superuser may put triggers on lexledger''s tables, or on tables with foreign keys pointing at them'
      USING ERRCODE = '42501',
            HINT = 'Their code would run in the transactions of lexledger''s worker and posting functions, which may be a superuser''s.';
  END IF;
  -- 2. any table that a role other than a superuser owns, with a foreign
  -- key pointing at one of lexledger's tables
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
  -- 3. any function, type, operator or operator class of a role other
  -- than a superuser that these tables' parts depend on, directly or
  -- through other such objects (a superuser's domain over a role's
  -- domain, an operator over a role's function, a domain's constraint)
  WITH RECURSIVE guarded AS (
    SELECT c.oid FROM pg_catalog.pg_class c
     WHERE c.relnamespace = lexledger_schema AND c.relkind IN ('r', 'p')
    UNION
    SELECT k.conrelid FROM pg_catalog.pg_constraint k JOIN pg_catalog.pg_class c ON c.oid = k.confrelid
     WHERE k.contype = 'f' AND c.relnamespace = lexledger_schema
  ), part (classid, objid) AS (
    SELECT 'pg_catalog.pg_class'::pg_catalog.regclass, oid FROM guarded
    UNION ALL SELECT 'pg_catalog.pg_class'::pg_catalog.regclass, indexrelid FROM pg_catalog.pg_index WHERE indrelid IN (SELECT oid FROM guarded)
    UNION ALL SELECT 'pg_catalog.pg_trigger'::pg_catalog.regclass, oid FROM pg_catalog.pg_trigger WHERE tgrelid IN (SELECT oid FROM guarded)
    UNION ALL SELECT 'pg_catalog.pg_constraint'::pg_catalog.regclass, oid FROM pg_catalog.pg_constraint WHERE conrelid IN (SELECT oid FROM guarded)
    UNION ALL SELECT 'pg_catalog.pg_attrdef'::pg_catalog.regclass, oid FROM pg_catalog.pg_attrdef WHERE adrelid IN (SELECT oid FROM guarded)
    UNION ALL SELECT 'pg_catalog.pg_rewrite'::pg_catalog.regclass, oid FROM pg_catalog.pg_rewrite WHERE ev_class IN (SELECT oid FROM guarded)
    UNION ALL SELECT 'pg_catalog.pg_policy'::pg_catalog.regclass, oid FROM pg_catalog.pg_policy WHERE polrelid IN (SELECT oid FROM guarded)
  ), edge (classid, objid, objsubid, refclassid, refobjid) AS (
    -- what each object depends on among functions, types, operators and
    -- operator classes and families, a type also on its constraints'
    -- (read once, then joined on equality: an OR in the recursive join
    -- would scan pg_depend for every step)
    SELECT d.classid, d.objid, d.objsubid, d.refclassid, d.refobjid
      FROM pg_catalog.pg_depend d
     WHERE d.refclassid IN ('pg_catalog.pg_proc'::pg_catalog.regclass, 'pg_catalog.pg_type'::pg_catalog.regclass,
                            'pg_catalog.pg_operator'::pg_catalog.regclass, 'pg_catalog.pg_opclass'::pg_catalog.regclass,
                            'pg_catalog.pg_opfamily'::pg_catalog.regclass)
    UNION ALL
    SELECT 'pg_catalog.pg_type'::pg_catalog.regclass, k.contypid, 0, d.refclassid, d.refobjid
      FROM pg_catalog.pg_constraint k
      JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_constraint'::pg_catalog.regclass AND d.objid = k.oid
     WHERE k.contypid <> 0
       AND d.refclassid IN ('pg_catalog.pg_proc'::pg_catalog.regclass, 'pg_catalog.pg_type'::pg_catalog.regclass,
                            'pg_catalog.pg_operator'::pg_catalog.regclass)
  ), code (part_classid, part_objid, part_subid, classid, objid) AS (
    SELECT e.classid, e.objid, e.objsubid, e.refclassid, e.refobjid
      FROM part JOIN edge e ON e.classid = part.classid AND e.objid = part.objid
    UNION
    SELECT c.part_classid, c.part_objid, c.part_subid, e.refclassid, e.refobjid
      FROM code c JOIN edge e ON e.classid = c.classid AND e.objid = c.objid
  )
  SELECT pg_catalog.pg_describe_object(c.part_classid, c.part_objid, c.part_subid) AS part,
         pg_catalog.pg_describe_object(c.classid, c.objid, 0) AS code,
         r.rolname AS owner
    INTO offender
    FROM code c
    LEFT JOIN pg_catalog.pg_proc f ON c.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND f.oid = c.objid
    LEFT JOIN pg_catalog.pg_type ty ON c.classid = 'pg_catalog.pg_type'::pg_catalog.regclass AND ty.oid = c.objid
    LEFT JOIN pg_catalog.pg_operator op ON c.classid = 'pg_catalog.pg_operator'::pg_catalog.regclass AND op.oid = c.objid
    LEFT JOIN pg_catalog.pg_opclass oc ON c.classid = 'pg_catalog.pg_opclass'::pg_catalog.regclass AND oc.oid = c.objid
    LEFT JOIN pg_catalog.pg_opfamily fa ON c.classid = 'pg_catalog.pg_opfamily'::pg_catalog.regclass AND fa.oid = c.objid
    JOIN pg_catalog.pg_roles r ON r.oid = coalesce(f.proowner, ty.typowner, op.oprowner, oc.opcowner, fa.opfowner)
   WHERE NOT r.rolsuper
   LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'trigger_refused: % depends on %, and its owner % is not a superuser',
        offender.part, offender.code, offender.owner
      USING ERRCODE = '42501',
            DETAIL = 'Functions, types, operators and operator classes that lexledger''s tables, or tables with foreign keys pointing at them, depend on (directly or through others) must belong to superusers.',
            HINT = 'Its owner could replace it, and the new code would run in the transactions of lexledger''s worker, which is a superuser''s. Let a superuser own it.';
  END IF;
END $$;
COMMENT ON FUNCTION lexledger.refuse_foreign_triggers() IS
  'Event trigger function: refuses DDL of non-superusers that puts a trigger on a lexledger table (or a table with a key pointing at one), and any DDL after which a table not owned by a superuser has a foreign key pointing at one, or such tables depend on a function, type or operator not owned by a superuser (see lexledger_refuse_foreign_triggers).';

-- Every command, not only CREATE TRIGGER, CREATE TABLE and ALTER TABLE: a
-- CREATE SCHEMA can hold a CREATE TABLE with a foreign key, and its
-- elements come to ddl_command_end under the tag CREATE SCHEMA.
CREATE EVENT TRIGGER lexledger_refuse_foreign_triggers ON ddl_command_end
  EXECUTE FUNCTION lexledger.refuse_foreign_triggers();
COMMENT ON EVENT TRIGGER lexledger_refuse_foreign_triggers IS
  'Only superusers put triggers on lexledger''s tables, and only superusers'' tables have foreign keys pointing at them: such code would run in the worker''s and the posting functions'' transactions.';
