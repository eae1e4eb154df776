-- amount.sql: the type lexledger.amount, exact money as int64 minor units
-- plus a currency code, and the registry of units of account (PAGE, FILE).
-- C in src/amount.c and src/currency.c; user guide in docs/amount.md.
--
-- Volatility: amount_in, amount_recv, amount(numeric, text) and
-- amount_from_minor(bigint, text) consult lexledger.custom_unit for codes that are
-- not ISO currencies, so their result for a given input can change (a code
-- unknown today may be registered tomorrow).  PostgreSQL's own precedent is
-- enum_in and enum_recv, which consult pg_enum and are STABLE; these are
-- STABLE likewise.  Everything that only reads a value (output, operators,
-- accessors) is IMMUTABLE.  All are PARALLEL SAFE: the unit lookup is a
-- read-only query.

-- ---------------------------------------------------------------------
-- The type
-- ---------------------------------------------------------------------

CREATE TYPE lexledger.amount;

CREATE FUNCTION lexledger.amount_in(cstring, oid, integer) RETURNS lexledger.amount
    AS 'MODULE_PATHNAME', 'amount_in'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lexledger.amount_in(cstring, oid, integer) IS
  'Input function of lexledger.amount: ''150.00 ZAR''; with a type modifier, only that currency. STABLE like enum_in, since units of account come from lexledger.custom_unit.';

CREATE FUNCTION lexledger.amount_out(lexledger.amount) RETURNS cstring
    AS 'MODULE_PATHNAME', 'amount_out'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lexledger.amount_out(lexledger.amount) IS
  'Output function of lexledger.amount: prints exactly the currency''s decimals, e.g. 0.50 USD.';

CREATE FUNCTION lexledger.amount_recv(internal, oid, integer) RETURNS lexledger.amount
    AS 'MODULE_PATHNAME', 'amount_recv'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lexledger.amount_recv(internal, oid, integer) IS
  'Binary input of lexledger.amount: int8 minor units, then the code as text; the code is checked against the registry (and the type modifier''s currency).';

CREATE FUNCTION lexledger.amount_send(lexledger.amount) RETURNS bytea
    AS 'MODULE_PATHNAME', 'amount_send'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lexledger.amount_send(lexledger.amount) IS
  'Binary output of lexledger.amount: int8 minor units, then the code as text.';

-- lexledger.amount(USD): the type modifier is a currency code (encoded in
-- the int32 typmod), so a column, a domain or a cast can hold one currency
CREATE FUNCTION lexledger.amount_typmod_in(cstring[]) RETURNS integer
    AS 'MODULE_PATHNAME', 'amount_typmod_in'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lexledger.amount_typmod_in(cstring[]) IS
  'Type modifier input of lexledger.amount: one currency code, as in amount(USD); invalid_type_modifier otherwise.';

CREATE FUNCTION lexledger.amount_typmod_out(integer) RETURNS cstring
    AS 'MODULE_PATHNAME', 'amount_typmod_out'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lexledger.amount_typmod_out(integer) IS
  'Type modifier output of lexledger.amount: (USD).';

CREATE TYPE lexledger.amount (
    INPUT = lexledger.amount_in,
    OUTPUT = lexledger.amount_out,
    RECEIVE = lexledger.amount_recv,
    SEND = lexledger.amount_send,
    TYPMOD_IN = lexledger.amount_typmod_in,
    TYPMOD_OUT = lexledger.amount_typmod_out,
    INTERNALLENGTH = 16,
    ALIGNMENT = double,
    STORAGE = plain
);
COMMENT ON TYPE lexledger.amount IS
  'Exact money: a signed 64-bit count of minor units and an ISO-4217 currency or registered unit, written ''150.00 ZAR''. Never rounds on input; arithmetic refuses mixed currencies.';

-- ---------------------------------------------------------------------
-- The registry: ISO currencies (static, in C) and units of account
-- ---------------------------------------------------------------------

CREATE FUNCTION lexledger.is_iso_currency(code text) RETURNS boolean
    AS 'MODULE_PATHNAME', 'lexledger_is_iso_currency'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lexledger.is_iso_currency(text) IS
  'True if code is an active ISO-4217 currency code known to lexledger (exact, upper case).';

CREATE FUNCTION lexledger.is_iso_code(code text) RETURNS boolean
    AS 'MODULE_PATHNAME', 'lexledger_is_iso_code'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lexledger.is_iso_code(text) IS
  'True if code is an active ISO-4217 code, with minor units (a currency amounts can be in) or without (XAU, XDR, XTS, XXX...). No unit of account may take such a code.';

CREATE FUNCTION lexledger.iso_currencies(OUT code text, OUT decimals integer)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'lexledger_iso_currencies'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 200;
COMMENT ON FUNCTION lexledger.iso_currencies() IS
  'The ISO-4217 currencies lexledger knows, with their decimals (minor units).';

-- The registry of units besides ISO-4217.  Its name matters: pg_dump and
-- pg_restore load the data of tables in the order of their names, and any
-- table holding amounts in these units must load after this one, or the
-- amounts fail to parse.  "custom_unit" sorts before every lexledger table
-- that holds amounts (test/t/003_dump_restore.pl checks the order).
CREATE TABLE lexledger.custom_unit (
    code        text NOT NULL,
    decimals    smallint NOT NULL,
    description text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT unit_code_is_unique PRIMARY KEY (code),
    CONSTRAINT unit_code_is_well_formed CHECK (code ~ '^[A-Z][A-Z0-9]{0,5}$'),
    CONSTRAINT unit_decimals_between_0_and_6 CHECK (decimals BETWEEN 0 AND 6),
    CONSTRAINT unit_code_is_not_iso_code
        CHECK (NOT lexledger.is_iso_code(code))
);
COMMENT ON TABLE lexledger.custom_unit IS
  'Units of account usable as amount currencies besides ISO-4217 (PAGE, FILE, ...). Immutable: rows can be added, never changed or removed. Add them with lexledger.create_unit().';
COMMENT ON COLUMN lexledger.custom_unit.code IS 'Code as written in amounts: 1 to 6 upper-case letters or digits, starting with a letter.';
COMMENT ON COLUMN lexledger.custom_unit.decimals IS 'Decimals of the unit (0 to 6): 3 PAGE has none.';
COMMENT ON COLUMN lexledger.custom_unit.description IS 'Free text: what the unit counts.';
COMMENT ON COLUMN lexledger.custom_unit.created_at IS 'When create_unit() registered it.';
COMMENT ON CONSTRAINT unit_code_is_unique ON lexledger.custom_unit IS 'A code names one unit.';
COMMENT ON CONSTRAINT unit_code_is_well_formed ON lexledger.custom_unit IS 'Codes are 1 to 6 upper-case letters or digits, starting with a letter.';
COMMENT ON CONSTRAINT unit_decimals_between_0_and_6 ON lexledger.custom_unit IS 'An amount carries at most 6 decimals.';
COMMENT ON CONSTRAINT unit_code_is_not_iso_code ON lexledger.custom_unit IS 'A unit never takes an ISO-4217 code: not a currency''s, nor one without a minor unit (XAU, XDR, XTS...).';

-- Readable by everyone (lexledger.currencies() lists it); amount input
-- reads it as the table's owner, so no grant is needed for that.
GRANT SELECT ON lexledger.custom_unit TO PUBLIC;

-- Units are immutable: each backend caches the decimals of the units it has
-- seen, and amounts carry their scale; a changed or removed unit would make
-- both wrong.
CREATE FUNCTION lexledger.unit_is_immutable() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION 'unit_immutable: units of account cannot be changed or removed (% on lexledger.custom_unit)', TG_OP
        USING ERRCODE = '55000',
              DETAIL = 'Amounts and every session''s cache depend on a unit''s decimals never changing.',
              HINT = 'Register a new unit with lexledger.create_unit().';
END
$$;
COMMENT ON FUNCTION lexledger.unit_is_immutable() IS
  'Trigger function: refuses UPDATE, DELETE and TRUNCATE on lexledger.custom_unit with unit_immutable.';

CREATE TRIGGER unit_rows_are_immutable
    BEFORE UPDATE OR DELETE ON lexledger.custom_unit
    FOR EACH ROW EXECUTE FUNCTION lexledger.unit_is_immutable();
COMMENT ON TRIGGER unit_rows_are_immutable ON lexledger.custom_unit IS
  'Units cannot be updated or deleted.';

CREATE TRIGGER unit_table_is_never_truncated
    BEFORE TRUNCATE ON lexledger.custom_unit
    FOR EACH STATEMENT EXECUTE FUNCTION lexledger.unit_is_immutable();
COMMENT ON TRIGGER unit_table_is_never_truncated ON lexledger.custom_unit IS
  'Units cannot be removed by TRUNCATE either.';

-- The units DafLegal's quotas count in.
INSERT INTO lexledger.custom_unit (code, decimals, description) VALUES
    ('PAGE', 0, 'A page of an analysed document (quota unit)'),
    ('FILE', 0, 'An uploaded document (quota unit)');

-- pg_dump keeps units registered by users; PAGE and FILE are left out since
-- CREATE EXTENSION makes them again (dumping them would make the restore
-- fail on the primary key).
SELECT pg_catalog.pg_extension_config_dump('lexledger.custom_unit',
    $$WHERE code NOT IN ('PAGE', 'FILE')$$);

CREATE FUNCTION lexledger.create_unit(code text, decimals integer DEFAULT 0,
                                      description text DEFAULT NULL)
    RETURNS lexledger.custom_unit
    LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    result lexledger.custom_unit;
BEGIN
    IF create_unit.code IS NULL OR create_unit.code !~ '^[A-Z][A-Z0-9]{0,5}$' THEN
        RAISE EXCEPTION 'invalid_unit: % is not a valid unit code',
                coalesce(quote_literal(create_unit.code), 'NULL')
            USING ERRCODE = '22023',
                  DETAIL = 'A unit code is 1 to 6 upper-case letters or digits, starting with a letter.';
    END IF;
    IF create_unit.decimals IS NULL OR create_unit.decimals NOT BETWEEN 0 AND 6 THEN
        RAISE EXCEPTION 'invalid_unit: a unit has 0 to 6 decimals, not %',
                coalesce(create_unit.decimals::text, 'NULL')
            USING ERRCODE = '22023';
    END IF;
    IF lexledger.is_iso_code(create_unit.code) THEN
        RAISE EXCEPTION 'invalid_unit: % is an ISO-4217 code, not a unit of account',
                create_unit.code
            USING ERRCODE = '22023';
    END IF;

    -- ON CONFLICT also covers a racing create_unit of the same code: it
    -- waits for the other transaction and then reports unit_exists.
    INSERT INTO lexledger.custom_unit AS u (code, decimals, description)
        VALUES (create_unit.code, create_unit.decimals, create_unit.description)
        ON CONFLICT ON CONSTRAINT unit_code_is_unique DO NOTHING
        RETURNING u.* INTO result;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unit_exists: unit % is already registered', create_unit.code
            USING ERRCODE = '42710',
                  DETAIL = 'Units are immutable; choose another code.';
    END IF;
    RETURN result;
END
$$;
COMMENT ON FUNCTION lexledger.create_unit(text, integer, text) IS
  'Registers a unit of account usable in amounts (e.g. create_unit(''CREDIT'', 2)). Raises invalid_unit (22023) or unit_exists (42710).';

CREATE FUNCTION lexledger.currencies(OUT code text, OUT decimals integer,
                                     OUT kind text, OUT description text)
    RETURNS SETOF record
    LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT c.code, c.decimals, c.kind, c.description
    FROM (SELECT i.code, i.decimals, 'iso'::text AS kind, NULL::text AS description
          FROM lexledger.iso_currencies() AS i
          UNION ALL
          SELECT u.code, u.decimals::integer, 'unit'::text, u.description
          FROM lexledger.custom_unit AS u) AS c
    ORDER BY c.code COLLATE "C"
$$;
COMMENT ON FUNCTION lexledger.currencies() IS
  'Every code an amount may use: ISO-4217 currencies (kind iso) and registered units of account (kind unit), with their decimals.';

-- ---------------------------------------------------------------------
-- Constructors, accessors, casts
-- ---------------------------------------------------------------------

CREATE FUNCTION lexledger.amount(major numeric, currency text)
    RETURNS lexledger.amount
    AS 'MODULE_PATHNAME', 'amount_from_numeric'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lexledger.amount(numeric, text) IS
  'Amount from major units and a code, exactly: amount(150, ''ZAR'') = 150.00 ZAR; more decimals than the currency has raises too_many_decimals (never rounds).';

CREATE FUNCTION lexledger.amount_from_minor(units bigint, currency text)
    RETURNS lexledger.amount
    AS 'MODULE_PATHNAME', 'amount_from_minor'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lexledger.amount_from_minor(bigint, text) IS
  'Amount from minor units and a code: amount_from_minor(15000, ''ZAR'') = 150.00 ZAR.';

CREATE FUNCTION lexledger.minor_units(lexledger.amount) RETURNS bigint
    AS 'MODULE_PATHNAME', 'amount_minor_units'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lexledger.minor_units(lexledger.amount) IS
  'The amount in minor units: minor_units(''150.00 ZAR'') = 15000.';

CREATE FUNCTION lexledger.currency(lexledger.amount) RETURNS text
    AS 'MODULE_PATHNAME', 'amount_currency'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lexledger.currency(lexledger.amount) IS
  'The currency or unit code of an amount: currency(''150.00 ZAR'') = ZAR.';

CREATE FUNCTION lexledger.scale(lexledger.amount) RETURNS integer
    AS 'MODULE_PATHNAME', 'amount_scale'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lexledger.scale(lexledger.amount) IS
  'Decimals of the amount''s currency: scale(''1.250 KWD'') = 3.';

CREATE FUNCTION lexledger.amount_to_numeric(lexledger.amount) RETURNS numeric
    AS 'MODULE_PATHNAME', 'amount_to_numeric'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lexledger.amount_to_numeric(lexledger.amount) IS
  'Major units with exactly the currency''s decimals, dropping the code: 150.00 ZAR -> 150.00.';

-- Explicit only: an implicit or assignment cast would silently drop the
-- currency (e.g. storing an amount into a numeric column).
CREATE CAST (lexledger.amount AS numeric)
    WITH FUNCTION lexledger.amount_to_numeric(lexledger.amount);
COMMENT ON CAST (lexledger.amount AS numeric) IS
  'Explicit cast to major units (150.00 ZAR -> 150.00); the currency is dropped.';

-- From numeric, explicit only, and only to a type that names the currency:
-- 1.50::lexledger.amount(USD).  A number alone does not say its currency;
-- to plain lexledger.amount the cast raises currency_required.
CREATE FUNCTION lexledger.amount(major numeric, typmod integer, explicit boolean)
    RETURNS lexledger.amount
    AS 'MODULE_PATHNAME', 'amount_from_numeric_typmod'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lexledger.amount(numeric, integer, boolean) IS
  'Implements the cast numeric::lexledger.amount(CODE), exactly (too_many_decimals, never rounds); currency_required without a type modifier.';
CREATE CAST (numeric AS lexledger.amount)
    WITH FUNCTION lexledger.amount(numeric, integer, boolean);
COMMENT ON CAST (numeric AS lexledger.amount) IS
  'Explicit cast from major units to an amount type that names the currency: 1.50::lexledger.amount(USD).';
CREATE FUNCTION lexledger.amount(major integer, typmod integer, explicit boolean)
    RETURNS lexledger.amount
    AS 'MODULE_PATHNAME', 'amount_from_int4_typmod'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lexledger.amount(integer, integer, boolean) IS
  'Implements the cast integer::lexledger.amount(CODE): whole major units; currency_required without a type modifier.';
CREATE CAST (integer AS lexledger.amount)
    WITH FUNCTION lexledger.amount(integer, integer, boolean);
COMMENT ON CAST (integer AS lexledger.amount) IS
  'Explicit cast from whole major units to an amount type that names the currency: 150::lexledger.amount(ZAR).';
CREATE FUNCTION lexledger.amount(major bigint, typmod integer, explicit boolean)
    RETURNS lexledger.amount
    AS 'MODULE_PATHNAME', 'amount_from_int8_typmod'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lexledger.amount(bigint, integer, boolean) IS
  'Implements the cast bigint::lexledger.amount(CODE): whole major units; currency_required without a type modifier.';
CREATE CAST (bigint AS lexledger.amount)
    WITH FUNCTION lexledger.amount(bigint, integer, boolean);
COMMENT ON CAST (bigint AS lexledger.amount) IS
  'Explicit cast from whole major units to an amount type that names the currency: 150::lexledger.amount(ZAR).';

-- The length coercion: storing into a column of lexledger.amount(USD), or
-- casting to that type, refuses another currency
CREATE FUNCTION lexledger.amount(value lexledger.amount, typmod integer, explicit boolean)
    RETURNS lexledger.amount
    AS 'MODULE_PATHNAME', 'amount_enforce_typmod'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lexledger.amount(lexledger.amount, integer, boolean) IS
  'Implements the cast to lexledger.amount(CODE): the value unchanged, or currency_mismatch if it is in another currency.';
CREATE CAST (lexledger.amount AS lexledger.amount)
    WITH FUNCTION lexledger.amount(lexledger.amount, integer, boolean) AS IMPLICIT;
COMMENT ON CAST (lexledger.amount AS lexledger.amount) IS
  'Applies a type modifier: amount(USD) columns and casts take amounts in USD only.';

-- ---------------------------------------------------------------------
-- Arithmetic
-- ---------------------------------------------------------------------

CREATE FUNCTION lexledger.amount_add(lexledger.amount, lexledger.amount)
    RETURNS lexledger.amount
    AS 'MODULE_PATHNAME', 'amount_add'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lexledger.amount_add(lexledger.amount, lexledger.amount) IS
  'Implements amount + amount: same currency or currency_mismatch; overflow raises amount_out_of_range.';

CREATE FUNCTION lexledger.amount_sub(lexledger.amount, lexledger.amount)
    RETURNS lexledger.amount
    AS 'MODULE_PATHNAME', 'amount_sub'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lexledger.amount_sub(lexledger.amount, lexledger.amount) IS
  'Implements amount - amount: same currency or currency_mismatch; overflow raises amount_out_of_range.';

CREATE FUNCTION lexledger.amount_neg(lexledger.amount)
    RETURNS lexledger.amount
    AS 'MODULE_PATHNAME', 'amount_neg'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lexledger.amount_neg(lexledger.amount) IS
  'Implements unary - amount; negating the most negative amount raises amount_out_of_range.';

CREATE FUNCTION lexledger.amount_mul_int8(lexledger.amount, bigint)
    RETURNS lexledger.amount
    AS 'MODULE_PATHNAME', 'amount_mul_int8'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lexledger.amount_mul_int8(lexledger.amount, bigint) IS
  'Implements amount * integer; overflow raises amount_out_of_range.';

CREATE FUNCTION lexledger.int8_mul_amount(bigint, lexledger.amount)
    RETURNS lexledger.amount
    AS 'MODULE_PATHNAME', 'int8_mul_amount'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lexledger.int8_mul_amount(bigint, lexledger.amount) IS
  'Implements integer * amount; overflow raises amount_out_of_range.';

CREATE FUNCTION lexledger.amount_div_int8(lexledger.amount, bigint)
    RETURNS lexledger.amount
    AS 'MODULE_PATHNAME', 'amount_div_int8'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lexledger.amount_div_int8(lexledger.amount, bigint) IS
  'Implements amount / integer: the exact quotient in minor units rounded half away from zero (like numeric round()): 10.00 USD / 3 = 3.33 USD, -0.05 USD / 2 = -0.03 USD. Dividing by zero raises division_by_zero.';

-- Only bigint operands are declared: smallint and integer reach them by
-- PostgreSQL's implicit casts, with no ambiguity.
CREATE OPERATOR lexledger.+ (
    LEFTARG = lexledger.amount, RIGHTARG = lexledger.amount,
    FUNCTION = lexledger.amount_add,
    COMMUTATOR = OPERATOR(lexledger.+)
);
COMMENT ON OPERATOR lexledger.+ (lexledger.amount, lexledger.amount) IS
  'Sum of two amounts in the same currency (currency_mismatch otherwise).';

CREATE OPERATOR lexledger.- (
    LEFTARG = lexledger.amount, RIGHTARG = lexledger.amount,
    FUNCTION = lexledger.amount_sub
);
COMMENT ON OPERATOR lexledger.- (lexledger.amount, lexledger.amount) IS
  'Difference of two amounts in the same currency (currency_mismatch otherwise).';

CREATE OPERATOR lexledger.- (
    RIGHTARG = lexledger.amount,
    FUNCTION = lexledger.amount_neg
);
COMMENT ON OPERATOR lexledger.- (NONE, lexledger.amount) IS
  'Negation of an amount.';

CREATE OPERATOR lexledger.* (
    LEFTARG = lexledger.amount, RIGHTARG = bigint,
    FUNCTION = lexledger.amount_mul_int8,
    COMMUTATOR = OPERATOR(lexledger.*)
);
COMMENT ON OPERATOR lexledger.* (lexledger.amount, bigint) IS
  'Amount times an integer.';

CREATE OPERATOR lexledger.* (
    LEFTARG = bigint, RIGHTARG = lexledger.amount,
    FUNCTION = lexledger.int8_mul_amount,
    COMMUTATOR = OPERATOR(lexledger.*)
);
COMMENT ON OPERATOR lexledger.* (bigint, lexledger.amount) IS
  'Integer times an amount.';

CREATE OPERATOR lexledger./ (
    LEFTARG = lexledger.amount, RIGHTARG = bigint,
    FUNCTION = lexledger.amount_div_int8
);
COMMENT ON OPERATOR lexledger./ (lexledger.amount, bigint) IS
  'Amount divided by an integer, rounded half away from zero in minor units (10.00 USD / 3 = 3.33 USD; 0.05 USD / 2 = 0.03 USD; -0.05 USD / 2 = -0.03 USD). division_by_zero for 0.';

-- ---------------------------------------------------------------------
-- Comparison
-- ---------------------------------------------------------------------

CREATE FUNCTION lexledger.amount_eq(lexledger.amount, lexledger.amount) RETURNS boolean
    AS 'MODULE_PATHNAME', 'amount_eq' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
COMMENT ON FUNCTION lexledger.amount_eq(lexledger.amount, lexledger.amount) IS
  'Implements =: same currency and same units; never raises.';

CREATE FUNCTION lexledger.amount_ne(lexledger.amount, lexledger.amount) RETURNS boolean
    AS 'MODULE_PATHNAME', 'amount_ne' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
COMMENT ON FUNCTION lexledger.amount_ne(lexledger.amount, lexledger.amount) IS
  'Implements <>: different currency or different units; never raises.';

CREATE FUNCTION lexledger.amount_lt(lexledger.amount, lexledger.amount) RETURNS boolean
    AS 'MODULE_PATHNAME', 'amount_lt' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lexledger.amount_lt(lexledger.amount, lexledger.amount) IS
  'Implements <; currency_mismatch for different currencies.';

CREATE FUNCTION lexledger.amount_le(lexledger.amount, lexledger.amount) RETURNS boolean
    AS 'MODULE_PATHNAME', 'amount_le' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lexledger.amount_le(lexledger.amount, lexledger.amount) IS
  'Implements <=; currency_mismatch for different currencies.';

CREATE FUNCTION lexledger.amount_gt(lexledger.amount, lexledger.amount) RETURNS boolean
    AS 'MODULE_PATHNAME', 'amount_gt' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lexledger.amount_gt(lexledger.amount, lexledger.amount) IS
  'Implements >; currency_mismatch for different currencies.';

CREATE FUNCTION lexledger.amount_ge(lexledger.amount, lexledger.amount) RETURNS boolean
    AS 'MODULE_PATHNAME', 'amount_ge' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lexledger.amount_ge(lexledger.amount, lexledger.amount) IS
  'Implements >=; currency_mismatch for different currencies.';

-- Selectivity of the ordering operators: PostgreSQL's scalar estimators,
-- run so that statistics holding other currencies do not make planning
-- raise currency_mismatch (see amount_scalarsel in amount.c).
CREATE FUNCTION lexledger.amount_ltsel(internal, oid, internal, integer) RETURNS float8
    AS 'MODULE_PATHNAME', 'amount_ltsel' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lexledger.amount_ltsel(internal, oid, internal, integer) IS
  'Restriction selectivity of amount <: scalarltsel across currencies.';
CREATE FUNCTION lexledger.amount_lesel(internal, oid, internal, integer) RETURNS float8
    AS 'MODULE_PATHNAME', 'amount_lesel' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lexledger.amount_lesel(internal, oid, internal, integer) IS
  'Restriction selectivity of amount <=: scalarlesel across currencies.';
CREATE FUNCTION lexledger.amount_gtsel(internal, oid, internal, integer) RETURNS float8
    AS 'MODULE_PATHNAME', 'amount_gtsel' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lexledger.amount_gtsel(internal, oid, internal, integer) IS
  'Restriction selectivity of amount >: scalargtsel across currencies.';
CREATE FUNCTION lexledger.amount_gesel(internal, oid, internal, integer) RETURNS float8
    AS 'MODULE_PATHNAME', 'amount_gesel' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lexledger.amount_gesel(internal, oid, internal, integer) IS
  'Restriction selectivity of amount >=: scalargesel across currencies.';

-- MERGES is left off "=": to cost a merge join the planner compares the
-- column's most common values with the ordering operator, which would
-- raise currency_mismatch for a mixed-currency column.  Hash joins work.
CREATE OPERATOR lexledger.= (
    LEFTARG = lexledger.amount, RIGHTARG = lexledger.amount,
    FUNCTION = lexledger.amount_eq,
    COMMUTATOR = OPERATOR(lexledger.=), NEGATOR = OPERATOR(lexledger.<>),
    RESTRICT = eqsel, JOIN = eqjoinsel,
    HASHES
);
COMMENT ON OPERATOR lexledger.= (lexledger.amount, lexledger.amount) IS
  'Equal: same currency and same units; amounts in different currencies are simply not equal.';

CREATE OPERATOR lexledger.<> (
    LEFTARG = lexledger.amount, RIGHTARG = lexledger.amount,
    FUNCTION = lexledger.amount_ne,
    COMMUTATOR = OPERATOR(lexledger.<>), NEGATOR = OPERATOR(lexledger.=),
    RESTRICT = neqsel, JOIN = neqjoinsel
);
COMMENT ON OPERATOR lexledger.<> (lexledger.amount, lexledger.amount) IS
  'Not equal: different currency or different units; never raises.';

CREATE OPERATOR lexledger.< (
    LEFTARG = lexledger.amount, RIGHTARG = lexledger.amount,
    FUNCTION = lexledger.amount_lt,
    COMMUTATOR = OPERATOR(lexledger.>), NEGATOR = OPERATOR(lexledger.>=),
    RESTRICT = lexledger.amount_ltsel, JOIN = scalarltjoinsel
);
COMMENT ON OPERATOR lexledger.< (lexledger.amount, lexledger.amount) IS
  'Less than, same currency only (currency_mismatch otherwise).';

CREATE OPERATOR lexledger.<= (
    LEFTARG = lexledger.amount, RIGHTARG = lexledger.amount,
    FUNCTION = lexledger.amount_le,
    COMMUTATOR = OPERATOR(lexledger.>=), NEGATOR = OPERATOR(lexledger.>),
    RESTRICT = lexledger.amount_lesel, JOIN = scalarlejoinsel
);
COMMENT ON OPERATOR lexledger.<= (lexledger.amount, lexledger.amount) IS
  'Less than or equal, same currency only (currency_mismatch otherwise).';

CREATE OPERATOR lexledger.> (
    LEFTARG = lexledger.amount, RIGHTARG = lexledger.amount,
    FUNCTION = lexledger.amount_gt,
    COMMUTATOR = OPERATOR(lexledger.<), NEGATOR = OPERATOR(lexledger.<=),
    RESTRICT = lexledger.amount_gtsel, JOIN = scalargtjoinsel
);
COMMENT ON OPERATOR lexledger.> (lexledger.amount, lexledger.amount) IS
  'Greater than, same currency only (currency_mismatch otherwise).';

CREATE OPERATOR lexledger.>= (
    LEFTARG = lexledger.amount, RIGHTARG = lexledger.amount,
    FUNCTION = lexledger.amount_ge,
    COMMUTATOR = OPERATOR(lexledger.<=), NEGATOR = OPERATOR(lexledger.<),
    RESTRICT = lexledger.amount_gesel, JOIN = scalargejoinsel
);
COMMENT ON OPERATOR lexledger.>= (lexledger.amount, lexledger.amount) IS
  'Greater than or equal, same currency only (currency_mismatch otherwise).';

CREATE FUNCTION lexledger.amount_cmp(lexledger.amount, lexledger.amount) RETURNS integer
    AS 'MODULE_PATHNAME', 'amount_cmp' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
COMMENT ON FUNCTION lexledger.amount_cmp(lexledger.amount, lexledger.amount) IS
  'Btree order: currency code first, then units, so a column of mixed currencies can be indexed and sorted.';

CREATE FUNCTION lexledger.amount_sortsupport(internal) RETURNS void
    AS 'MODULE_PATHNAME', 'amount_sortsupport' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lexledger.amount_sortsupport(internal) IS
  'Btree sort support: the amount_cmp order without a function call per comparison.';

CREATE FUNCTION lexledger.amount_hash(lexledger.amount) RETURNS integer
    AS 'MODULE_PATHNAME', 'amount_hash' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
COMMENT ON FUNCTION lexledger.amount_hash(lexledger.amount) IS
  'Hash of an amount (units and code), consistent with =.';

CREATE FUNCTION lexledger.amount_hash_extended(lexledger.amount, bigint) RETURNS bigint
    AS 'MODULE_PATHNAME', 'amount_hash_extended' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
COMMENT ON FUNCTION lexledger.amount_hash_extended(lexledger.amount, bigint) IS
  'Seeded 64-bit hash of an amount, consistent with = (hash partitioning).';

-- Equal amounts are bitwise identical (the scale follows from the code and
-- the code is NUL-padded), so btree deduplication is safe: btequalimage.
CREATE OPERATOR CLASS lexledger.amount_ops
    DEFAULT FOR TYPE lexledger.amount USING btree AS
        OPERATOR 1 lexledger.<,
        OPERATOR 2 lexledger.<=,
        OPERATOR 3 lexledger.=,
        OPERATOR 4 lexledger.>=,
        OPERATOR 5 lexledger.>,
        FUNCTION 1 lexledger.amount_cmp(lexledger.amount, lexledger.amount),
        FUNCTION 2 lexledger.amount_sortsupport(internal),
        FUNCTION 4 pg_catalog.btequalimage(oid);
COMMENT ON OPERATOR CLASS lexledger.amount_ops USING btree IS
  'Default btree order of amounts: currency code, then units.';

CREATE OPERATOR CLASS lexledger.amount_ops
    DEFAULT FOR TYPE lexledger.amount USING hash AS
        OPERATOR 1 lexledger.=,
        FUNCTION 1 lexledger.amount_hash(lexledger.amount),
        FUNCTION 2 lexledger.amount_hash_extended(lexledger.amount, bigint);
COMMENT ON OPERATOR CLASS lexledger.amount_ops USING hash IS
  'Default hash opclass of amounts (hash joins, hash aggregation, hash indexes and partitions).';

-- ---------------------------------------------------------------------
-- Aggregates
-- ---------------------------------------------------------------------

CREATE FUNCTION lexledger.amount_sum_step(lexledger.amount, lexledger.amount)
    RETURNS lexledger.amount
    AS 'MODULE_PATHNAME', 'amount_sum_step'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lexledger.amount_sum_step(lexledger.amount, lexledger.amount) IS
  'Transition and combine function of lexledger.sum(amount).';

CREATE FUNCTION lexledger.amount_smaller(lexledger.amount, lexledger.amount)
    RETURNS lexledger.amount
    AS 'MODULE_PATHNAME', 'amount_smaller'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lexledger.amount_smaller(lexledger.amount, lexledger.amount) IS
  'The smaller of two amounts in the same currency (min() step).';

CREATE FUNCTION lexledger.amount_larger(lexledger.amount, lexledger.amount)
    RETURNS lexledger.amount
    AS 'MODULE_PATHNAME', 'amount_larger'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lexledger.amount_larger(lexledger.amount, lexledger.amount) IS
  'The larger of two amounts in the same currency (max() step).';

CREATE AGGREGATE lexledger.sum(lexledger.amount) (
    SFUNC = lexledger.amount_sum_step,
    STYPE = lexledger.amount,
    COMBINEFUNC = lexledger.amount_sum_step,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE lexledger.sum(lexledger.amount) IS
  'Sum of amounts in one currency; NULL for no rows; currency_mismatch for mixed currencies, amount_out_of_range on overflow.';

-- No SORTOP for min and max: with one, the planner may answer them from a
-- btree index in code-first order, which would skip the currency_mismatch
-- that the aggregate raises for mixed currencies.
CREATE AGGREGATE lexledger.min(lexledger.amount) (
    SFUNC = lexledger.amount_smaller,
    STYPE = lexledger.amount,
    COMBINEFUNC = lexledger.amount_smaller,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE lexledger.min(lexledger.amount) IS
  'Smallest amount, one currency only (currency_mismatch otherwise).';

CREATE AGGREGATE lexledger.max(lexledger.amount) (
    SFUNC = lexledger.amount_larger,
    STYPE = lexledger.amount,
    COMBINEFUNC = lexledger.amount_larger,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE lexledger.max(lexledger.amount) IS
  'Largest amount, one currency only (currency_mismatch otherwise).';

-- ---------------------------------------------------------------------
-- Error codes
-- ---------------------------------------------------------------------

INSERT INTO lexledger.error_code (code, sqlstate, description) VALUES
    ('invalid_type_modifier', '22023',
     'lexledger.amount takes one type modifier, a currency code: amount(USD).'),
    ('currency_required', '42846',
     'A number becomes an amount only with a currency: 1.50::lexledger.amount(USD), or lexledger.amount(1.50, ''USD'').'),
    ('malformed_amount', '22P02',
     'Text is not an amount: a number, white space and an upper-case currency code, as in ''150.00 ZAR''.'),
    ('invalid_binary_amount', '22P03',
     'Binary amount with a malformed currency code.'),
    ('too_many_decimals', '22P02',
     'More decimals than the currency has (amounts are never rounded on input).'),
    ('unknown_currency', '22023',
     'Neither an ISO-4217 currency nor a registered unit of account.'),
    ('amount_out_of_range', '22003',
     'The amount does not fit in 64-bit minor units.'),
    ('division_by_zero', '22012',
     'An amount divided by zero.'),
    ('currency_mismatch', 'LX001',
     'Arithmetic, comparison or aggregation of amounts in different currencies.'),
    ('invalid_unit', '22023',
     'create_unit() with a malformed code, decimals outside 0..6, or an ISO-4217 code.'),
    ('unit_exists', '42710',
     'create_unit() for a code that is already registered.'),
    ('unit_immutable', '55000',
     'UPDATE, DELETE or TRUNCATE on lexledger.custom_unit: units of account never change.');
