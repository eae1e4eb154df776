-- schema.sql: the lexledger schema itself and what every part shares.
-- CREATE EXTENSION creates the schema (lexledger.control names it).

-- ... or uses the one that exists, whoever owns it.  A role that owns the
-- schema, or may create in it, could rename it and put a schema of its own
-- with functions of lexledger's names in its place, which the expiry
-- worker would then call as a superuser (a review did).  So the schema
-- must be a superuser's, no other role may create in it, and it must be
-- empty; the guard (guard.sql) keeps it so.
DO $$
DECLARE
  owner name;
BEGIN
  SELECT r.rolname INTO owner
    FROM pg_catalog.pg_namespace n JOIN pg_catalog.pg_roles r ON r.oid = n.nspowner
   WHERE n.nspname = 'lexledger' AND NOT r.rolsuper;
  IF FOUND THEN
    RAISE EXCEPTION 'schema_not_trusted: schema lexledger belongs to %, who is not a superuser', owner
      USING ERRCODE = '42501',
            HINT = 'Drop the schema, then create the extension.';
  END IF;
  SELECT coalesce(r.rolname, 'PUBLIC') INTO owner
    FROM pg_catalog.pg_namespace n
    CROSS JOIN LATERAL pg_catalog.aclexplode(n.nspacl) a
    LEFT JOIN pg_catalog.pg_roles r ON r.oid = a.grantee
   WHERE n.nspname = 'lexledger' AND a.privilege_type = 'CREATE' AND NOT coalesce(r.rolsuper, false);
  IF FOUND THEN
    RAISE EXCEPTION 'schema_not_trusted: % may create in schema lexledger', owner
      USING ERRCODE = '42501',
            HINT = 'REVOKE CREATE ON SCHEMA lexledger FROM it, then create the extension.';
  END IF;
  -- and it must be empty: a function put there before could be called
  -- instead of lexledger's, by a call whose argument types it matches
  -- better (a review did)
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'lexledger')
     OR EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'lexledger')
     OR EXISTS (SELECT 1 FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = 'lexledger')
     OR EXISTS (SELECT 1 FROM pg_catalog.pg_operator o JOIN pg_catalog.pg_namespace n ON n.oid = o.oprnamespace WHERE n.nspname = 'lexledger')
     OR EXISTS (SELECT 1 FROM pg_catalog.pg_opfamily f JOIN pg_catalog.pg_namespace n ON n.oid = f.opfnamespace WHERE n.nspname = 'lexledger')
     OR EXISTS (SELECT 1 FROM pg_catalog.pg_collation l JOIN pg_catalog.pg_namespace n ON n.oid = l.collnamespace WHERE n.nspname = 'lexledger')
     OR EXISTS (SELECT 1 FROM pg_catalog.pg_conversion v JOIN pg_catalog.pg_namespace n ON n.oid = v.connamespace WHERE n.nspname = 'lexledger') THEN
    RAISE EXCEPTION 'schema_not_trusted: schema lexledger is not empty'
      USING ERRCODE = '42501',
            HINT = 'Drop the schema (or move what it holds elsewhere), then create the extension.';
  END IF;
END $$;

COMMENT ON SCHEMA lexledger IS
  'lexledger: double-entry ledger, escrow, quotas and documents; see docs/';

CREATE TABLE lexledger.error_code (
    code        text PRIMARY KEY,
    sqlstate    char(5),
    description text NOT NULL,
    severity    text NOT NULL DEFAULT 'error',
    CONSTRAINT error_code_is_snake_case CHECK (code ~ '^[a-z][a-z0-9_]*$'),
    CONSTRAINT error_code_sqlstate_format CHECK (sqlstate ~ '^[0-9A-Z]{5}$'),
    CONSTRAINT error_code_severity_is_known CHECK (severity IN ('error', 'warning', 'result')),
    CONSTRAINT error_code_error_has_sqlstate CHECK (severity <> 'error' OR sqlstate IS NOT NULL)
);
COMMENT ON TABLE lexledger.error_code IS
  'Every stable code lexledger''s errors and warnings start with (the code, then a colon), with its SQLSTATE, and the codes that are only ever a per-request result of transfer_batch.';
COMMENT ON COLUMN lexledger.error_code.code IS 'The stable snake_case code that starts the error message, or a transfer_batch result.';
COMMENT ON COLUMN lexledger.error_code.sqlstate IS 'The SQLSTATE raised with it; null for a transfer_batch result, and for a warning that carries the SQLSTATE of its cause.';
COMMENT ON COLUMN lexledger.error_code.severity IS 'error (the statement fails), warning (it goes on: the message goes to the client and the log), or result (only ever a per-request result of transfer_batch).';
COMMENT ON COLUMN lexledger.error_code.description IS 'What the code means.';
