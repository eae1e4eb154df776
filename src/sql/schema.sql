-- schema.sql: the lexledger schema itself and what every part shares.
-- CREATE EXTENSION creates the schema (lexledger.control names it).

COMMENT ON SCHEMA lexledger IS
  'lexledger: double-entry ledger, escrow, quotas and documents; see docs/';

CREATE TABLE lexledger.error_code (
    code        text PRIMARY KEY,
    sqlstate    char(5),
    description text NOT NULL,
    CONSTRAINT error_code_is_snake_case CHECK (code ~ '^[a-z][a-z0-9_]*$'),
    CONSTRAINT error_code_sqlstate_format CHECK (sqlstate ~ '^[0-9A-Z]{5}$')
);
COMMENT ON TABLE lexledger.error_code IS
  'Every stable error code lexledger raises, with its SQLSTATE (an error message starts with its code and a colon), and the codes that are only ever a per-request result of transfer_batch (sqlstate null).';
COMMENT ON COLUMN lexledger.error_code.code IS 'The stable snake_case code that starts the error message, or a transfer_batch result.';
COMMENT ON COLUMN lexledger.error_code.sqlstate IS 'The SQLSTATE raised with it; null for a code that is only ever a transfer_batch result.';
COMMENT ON COLUMN lexledger.error_code.description IS 'What the code means.';
