--
-- lexledger.amount: exact money as int64 minor units plus a currency code.
-- The database has CREATE EXTENSION lexledger already.
--
SET client_min_messages = warning;
SET extra_float_digits = 0;
-- The operators live in schema lexledger, as documented in docs/amount.md
-- (ahead of public, which other roles may be able to create objects in).
SET search_path = lexledger, public;

-- try(query): runs query and returns 'ok', or the error's SQLSTATE and
-- message, so that a table of bad inputs shows each SQLSTATE on one line.
CREATE FUNCTION pg_temp.try(query text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    state text;
    msg text;
BEGIN
    EXECUTE query;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
    RETURN state || ' ' || msg;
END
$$;

--
-- Text input and output
--
SELECT input, input::lexledger.amount AS amount
FROM (VALUES ('150.00 ZAR'), ('-3 JPY'), ('1.250 KWD'), ('0.5 USD'),
             ('-0.01 USD'), ('+12 USD'), ('  7 GBP  '), (E'\t8.1\tEUR\n'),
             ('12    USD'), ('.5 USD'), ('5. USD'), ('1.000 USD'),
             ('-0 USD'), ('00012.30 NGN'),
             ('3 PAGE'), ('1 FILE'), ('1.5 KES'), ('2 GHS'), ('10 BHD'),
             ('10 OMR'), ('-1 CLF'), ('1 UGX'), ('1 XOF'), ('1 ZWG'))
     AS v(input);

-- The extremes: minor units are a signed 64-bit integer.
SELECT '92233720368547758.07 USD'::lexledger.amount AS max_usd,
       '-92233720368547758.08 USD'::lexledger.amount AS min_usd,
       '-9223372036854775808 JPY'::lexledger.amount AS min_jpy,
       '9223372036854775.807 KWD'::lexledger.amount AS max_kwd;

-- Bad text: each with its SQLSTATE and message.
SELECT input, pg_temp.try(format('SELECT %L::lexledger.amount', input)) AS result
FROM (VALUES (''), ('   '), ('12..5 USD'), ('12 USD extra'), ('USD 12'),
             ('1e3 USD'), ('12'), ('12 '), ('. USD'), ('- 5 USD'),
             ('+-5 USD'), ('12USD'), ('1,000.00 USD'), ('12 usd'),
             ('12 Usd'), ('12 1USD'), ('12 ABCDEFG'), ('12 US$'),
             ('0x10 USD'), ('NaN USD'), ('Infinity USD'),
             ('1 XYZ'), ('1 USDX'), ('1 HRK'), ('1 XAU'),
             ('1.001 USD'), ('0.5 JPY'), ('1.0001 KWD'), ('1.5 PAGE'),
             ('1.10 XOF'),
             ('92233720368547758.08 USD'), ('-92233720368547758.09 USD'),
             ('9223372036854775808 JPY'),
             ('99999999999999999999999999999999 USD'),
             ('1.001 XYZ'), ('99999999999999999999 XYZ'),
             ('1.001 usd')) AS v(input);

-- How these errors look in psql, with detail and hint.
SELECT '12..5 USD'::lexledger.amount;
SELECT '12'::lexledger.amount;
SELECT '1.001 USD'::lexledger.amount;
SELECT '1 XYZ'::lexledger.amount;
SELECT '92233720368547758.08 USD'::lexledger.amount;

-- The same with only the SQLSTATE.
\set VERBOSITY sqlstate
SELECT '12 USD extra'::lexledger.amount;
SELECT '1.001 USD'::lexledger.amount;
SELECT '1 XYZ'::lexledger.amount;
SELECT '92233720368547758.08 USD'::lexledger.amount;
SELECT '1 USD'::lexledger.amount + '1 EUR'::lexledger.amount;
SELECT '1 USD'::lexledger.amount / 0;
\set VERBOSITY default

-- An amount and its minor units.
SELECT '150.00 ZAR'::lexledger.amount;
SELECT lexledger.minor_units('150.00 ZAR');

--
-- Arithmetic
--
SELECT '150.00 ZAR'::amount + '0.01 ZAR' AS add,
       '150.00 ZAR'::amount - '150.01 ZAR' AS sub,
       - '150.00 ZAR'::amount AS neg,
       - '-3 JPY'::amount AS neg_jpy,
       '1.250 KWD'::amount * 3 AS mul_int4,
       3 * '1.250 KWD'::amount AS int4_mul,
       '1.250 KWD'::amount * 3::bigint AS mul_int8,
       (-2)::bigint * '1.250 KWD'::amount AS int8_mul,
       '1.250 KWD'::amount * 2::smallint AS mul_int2,
       '7 PAGE'::amount + '3 PAGE' AS pages;

-- Division rounds the exact quotient in minor units half away from zero.
SELECT a AS dividend, d AS divisor, a / d AS quotient
FROM (VALUES ('10.00 USD'::amount), ('-10.00 USD'), ('0.05 USD'),
             ('-0.05 USD'), ('0.03 USD'), ('-0.03 USD'), ('0.01 USD'),
             ('-0.01 USD'), ('0.15 USD'), ('-0.15 USD'), ('0 USD'),
             ('7 JPY'), ('-7 JPY'), ('1.000 KWD')) AS x(a),
     (VALUES (3::bigint), (-3), (2), (-2), (4)) AS y(d)
ORDER BY minor_units(a), d;

-- The same rule as numeric's round() over a grid of both signs.
SELECT count(*) AS cases,
       bool_and((amount_from_minor(u, 'USD') / d)::numeric
                = round(u::numeric / d) / 100) AS all_match_round
FROM generate_series(-300, 300) AS u,
     generate_series(-12, 12) AS d
WHERE d <> 0;

-- Extremes: dividing never overflows except by -1.
SELECT '-92233720368547758.08 USD'::amount / 2 AS half_min,
       '92233720368547758.07 USD'::amount / -2 AS half_max,
       '-92233720368547758.08 USD'::amount / '-9223372036854775808'::bigint AS min_by_min,
       '92233720368547758.07 USD'::amount / '-9223372036854775808'::bigint AS max_by_min,
       '92233720368547758.07 USD'::amount / -1 AS max_by_minus_one;

-- Arithmetic errors.
SELECT expr, pg_temp.try('SELECT ' || expr) AS result
FROM (VALUES ($$'1 USD'::amount + '1 EUR'$$),
             ($$'1 USD'::amount - '1 EUR'$$),
             ($$'92233720368547758.07 USD'::amount + '0.01 USD'$$),
             ($$'-92233720368547758.08 USD'::amount - '0.01 USD'$$),
             ($$- '-92233720368547758.08 USD'::amount$$),
             ($$'-92233720368547758.08 USD'::amount / -1$$),
             ($$'92233720368547758.07 USD'::amount * 2$$),
             ($$'-1 JPY'::amount * '-9223372036854775808'::bigint$$),
             ($$'1 USD'::amount / 0$$),
             ($$'0 USD'::amount / 0$$),
             ($$'1 USD'::amount * 1.5$$),
             ($$'1 USD'::amount / 1.5$$)) AS v(expr);

-- The same as psql shows them.
SELECT '150.00 ZAR'::amount + '0.01 ZAR';
SELECT '1.250 KWD'::amount * 3;
SELECT '1 USD'::amount + '1 EUR';
SELECT '92233720368547758.07 USD'::amount + '0.01 USD';
SELECT '1.00 USD'::amount / 0;

--
-- Comparison
--
SELECT '1.00 USD'::amount = '1 USD' AS eq,
       '1.00 USD'::amount = '1.00 EUR' AS eq_other_currency,
       '1.00 USD'::amount <> '1.00 EUR' AS ne_other_currency,
       '1.00 USD'::amount <> '1.01 USD' AS ne,
       '1.00 USD'::amount < '1.01 USD' AS lt,
       '1.00 USD'::amount <= '1.00 USD' AS le,
       '-1.00 USD'::amount > '-1.01 USD' AS gt,
       '1.00 USD'::amount >= '1.01 USD' AS ge;

SELECT op, pg_temp.try(format($$SELECT '1 USD'::amount %s '1 EUR'::amount$$, op)) AS result
FROM (VALUES ('<'), ('<='), ('>'), ('>='), ('='), ('<>')) AS v(op);

-- A mixed-currency column sorts and indexes in code order, then units.
CREATE TEMP TABLE wallet (id int PRIMARY KEY, balance lexledger.amount NOT NULL);
INSERT INTO wallet VALUES
    (1, '150.00 ZAR'), (2, '-3 JPY'), (3, '1.250 KWD'), (4, '0.5 USD'),
    (5, '-0.01 USD'), (6, '12 USD'), (7, '3 PAGE'), (8, '100 JPY'),
    (9, '0.5 USD'), (10, '-150.00 ZAR'), (11, '1 FILE'), (12, '0 EUR');
SELECT id, balance FROM wallet ORDER BY balance, id;
SELECT id, balance FROM wallet ORDER BY balance DESC, id;

CREATE INDEX wallet_balance ON wallet (balance);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM wallet WHERE balance = '0.50 USD';
SELECT id FROM wallet WHERE balance = '0.50 USD' ORDER BY id;
EXPLAIN (COSTS OFF) SELECT balance FROM wallet ORDER BY balance;
SELECT balance FROM wallet ORDER BY balance;
RESET enable_seqscan;

-- Ordering comparisons within a mixed column raise; filter by currency
-- and compare minor units instead.
SELECT count(*) FROM wallet WHERE balance > '1.00 USD';
SELECT id, balance FROM wallet
WHERE currency(balance) = 'USD' AND minor_units(balance) > 0
ORDER BY id;

-- Planning such a query does not raise, even with statistics of the whole
-- mixed column (the selectivity estimators compare in btree order).
ANALYZE wallet;
EXPLAIN (COSTS OFF) SELECT * FROM wallet WHERE balance < '5.00 USD';

-- Whether executing it raises depends on the plan: an index scan compares
-- only the rows it walks in btree order (EUR sorts first, and the walk
-- stops at the first row that fails), a sequential scan every row. A
-- currency filter does not make '<' safe; comparing minor units does.
SET enable_seqscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM wallet WHERE balance < '0.00 EUR';
SELECT pg_temp.try($$SELECT id FROM wallet WHERE balance < '0.00 EUR'$$) AS index_scan_eur;
SELECT pg_temp.try($$SELECT id FROM wallet WHERE balance < '5.00 USD'$$) AS index_scan_usd;
SELECT pg_temp.try($$SELECT id FROM wallet WHERE currency(balance) = 'USD' AND balance < '5.00 USD'$$) AS with_filter;
SELECT id FROM wallet WHERE currency(balance) = 'USD' AND minor_units(balance) < 500 ORDER BY id;
RESET enable_seqscan;
RESET enable_bitmapscan;
SET enable_indexscan = off;
SET enable_bitmapscan = off;
SELECT pg_temp.try($$SELECT id FROM wallet WHERE balance < '0.00 EUR'$$) AS seq_scan_eur;
SELECT id FROM wallet WHERE currency(balance) = 'USD' AND minor_units(balance) < 500 ORDER BY id;
RESET enable_indexscan;
RESET enable_bitmapscan;

-- Hashing is consistent with =.
SELECT amount_hash('1 USD') = amount_hash('1.00 USD') AS same_hash,
       amount_hash('1 USD') = amount_hash('1 EUR') AS other_currency_hash,
       amount_hash_extended('1 USD', 7) = amount_hash_extended('1.00 USD', 7) AS same_ext_hash;
SET enable_sort = off;
EXPLAIN (COSTS OFF) SELECT balance, count(*) FROM wallet GROUP BY balance;
SELECT balance, count(*) FROM wallet GROUP BY balance ORDER BY count(*) DESC, balance LIMIT 3;
RESET enable_sort;
SET enable_mergejoin = off;
SET enable_nestloop = off;
EXPLAIN (COSTS OFF) SELECT a.id, b.id FROM wallet a JOIN wallet b ON a.balance = b.balance;
SELECT a.id, b.id FROM wallet a JOIN wallet b ON a.balance = b.balance
WHERE a.id < b.id ORDER BY a.id;
RESET enable_mergejoin;
RESET enable_nestloop;

-- greatest(), least() and comparisons of arrays and rows order through the
-- operator class, across currencies, and do not raise (USD sorts after EUR).
SELECT greatest('5 USD'::lexledger.amount, '1000 EUR');
SELECT least('5 USD'::amount, '1000 EUR') AS least,
       ARRAY['5 USD'::amount] > ARRAY['1000 EUR'::amount] AS array_gt,
       ROW('5 USD'::amount, 1) > ROW('1000 EUR'::amount, 1) AS row_gt;

--
-- Aggregates
--
SELECT currency(balance) AS currency, sum(balance), min(balance), max(balance), count(*)
FROM wallet GROUP BY 1 ORDER BY 1;
SELECT sum(balance) AS empty_sum, min(balance) AS empty_min FROM wallet WHERE false;
SELECT sum(a) FROM (VALUES ('1 USD'::amount), (NULL), ('2 USD')) AS v(a);
SELECT sum(balance) FROM wallet;
SELECT max(balance) FROM wallet;
SELECT sum(a) FROM (VALUES ('92233720368547758.07 USD'::amount), ('0.01 USD')) AS v(a);
SELECT sum(a) FROM (VALUES ('92233720368547758.07 USD'::amount), ('0.01 USD'), ('-0.01 USD')) AS v(a);
-- As a window aggregate.
SELECT id, balance, sum(balance) OVER (ORDER BY id) AS running,
       sum(balance) OVER (ORDER BY id ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS last_two,
       max(balance) OVER (ORDER BY id ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS max_last_two
FROM wallet WHERE currency(balance) = 'USD' ORDER BY id;

-- sum() is parallel safe with a combine function.
CREATE TABLE amount_parallel (a lexledger.amount);
INSERT INTO amount_parallel
    SELECT amount_from_minor(g % 1000 - 500, 'ZAR') FROM generate_series(1, 20000) AS g;
ANALYZE amount_parallel;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT sum(a), min(a), max(a) FROM amount_parallel;
SELECT sum(a), min(a), max(a), sum(minor_units(a)) AS check_minor FROM amount_parallel;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
DROP TABLE amount_parallel;

--
-- Constructors, accessors, casts
--
SELECT amount(150, 'ZAR') AS from_int,
       amount(1.5, 'USD') AS from_numeric,
       amount(1.500, 'KWD') AS kwd,
       amount(-3, 'JPY') AS jpy,
       amount(2.000000, 'JPY') AS zero_decimals,
       amount(12, 'PAGE') AS pages,
       amount('-92233720368547758.08', 'USD') AS min_usd,
       amount_from_minor(15000, 'ZAR') AS from_minor,
       amount_from_minor('-9223372036854775808', 'JPY') AS min_minor;

SELECT minor_units('150.00 ZAR') AS minor_units,
       currency('150.00 ZAR') AS currency,
       scale('1.250 KWD'::amount) AS kwd_scale,
       scale('3 PAGE'::amount) AS page_scale,
       ('150.00 ZAR'::amount)::numeric AS to_numeric,
       ('-0.05 USD'::amount)::numeric AS small,
       ('-3 JPY'::amount)::numeric AS jpy,
       ('-92233720368547758.08 USD'::amount)::numeric AS min_usd,
       ('150.00 ZAR'::amount)::text AS to_text,
       ('150 ZAR'::text)::amount AS from_text,
       pg_typeof(('1 USD'::amount)::numeric) AS numeric_type;

SELECT amount_from_minor(u, code)::numeric AS major, code
FROM (VALUES ('-9223372036854775808'::bigint), ('9223372036854775807'))
     AS x(u),
     (VALUES ('JPY'), ('USD'), ('KWD'), ('CLF')) AS y(code)
ORDER BY code, u;

SELECT expr, pg_temp.try('SELECT ' || expr) AS result
FROM (VALUES ($$amount(1.005, 'USD')$$),
             ($$amount(0.5, 'JPY')$$),
             ($$amount(1, 'XYZ')$$),
             ($$amount(1, 'usd')$$),
             ($$amount(1, '')$$),
             ($$amount(1, 'TOOLONG')$$),
             ($$amount('NaN', 'USD')$$),
             ($$amount('Infinity', 'USD')$$),
             ($$amount('-Infinity', 'USD')$$),
             ($$amount(92233720368547758.08, 'USD')$$),
             ($$amount(1e30, 'JPY')$$),
             ($$amount_from_minor(1, 'XYZ')$$),
             ($$amount_from_minor(1, 'U$D')$$),
             ($$1.5::numeric::amount$$),
             ($$(1.5::numeric)::lexledger.amount$$),
             ($$'1 USD'::amount::bigint$$)) AS v(expr);

-- Say the currency every time.
SELECT lexledger.amount(150, 'ZAR');
-- A numeric alone cannot become an amount: the currency is missing.
SELECT 1.50::numeric::lexledger.amount;
-- Nor is amount to numeric implicit: the currency would be lost silently.
SELECT sqrt('4 USD'::amount);

--
-- A type that names its currency: lexledger.amount(USD)
--
-- A number casts to it, exactly; text and amounts in that currency pass.
SELECT 1.50::numeric::lexledger.amount(USD) AS usd,
       150::lexledger.amount(ZAR) AS zar,
       12::lexledger.amount(PAGE) AS pages,
       '2.50 USD'::lexledger.amount(USD) AS from_text,
       ('3 JPY'::amount)::lexledger.amount(jpy) AS lower_case_modifier;
-- A column of it takes that currency only, however the value comes.
CREATE TABLE wallet_usd (id integer, balance lexledger.amount(USD) NOT NULL);
INSERT INTO wallet_usd VALUES (1, '10.00 USD'), (2, amount(5, 'USD')), (3, 2.5::lexledger.amount(USD));
SELECT expr, pg_temp.try(expr) AS result
FROM (VALUES ($$INSERT INTO wallet_usd VALUES (4, '10.00 EUR')$$),
             ($$INSERT INTO wallet_usd VALUES (4, amount(10, 'EUR'))$$),
             ($$UPDATE wallet_usd SET balance = balance + '1 USD' WHERE id = 1$$),
             ($$UPDATE wallet_usd SET balance = '1.000 KWD' WHERE id = 1$$),
             ($$ALTER TABLE wallet_usd ALTER balance TYPE lexledger.amount(EUR)$$),
             ($$SELECT 1.005::numeric::lexledger.amount(USD)$$),
             ($$SELECT 'NaN'::numeric::lexledger.amount(USD)$$),
             ($$SELECT 1e30::numeric::lexledger.amount(JPY)$$),
             ($$SELECT '1 EUR'::lexledger.amount(USD)$$),
             ($$SELECT 1::numeric::lexledger.amount(NOSUCH)$$),
             ($$SELECT 92233720368547759::bigint::lexledger.amount(USD)$$),
             ($$SELECT 1::lexledger.amount$$),
             ($$SELECT '1 USD'::lexledger.amount(USD, EUR)$$),
             ($$SELECT '1 USD'::lexledger.amount(1)$$),
             ($$SELECT '1 USD'::lexledger.amount('U$D')$$),
             ($$SELECT '1 USD'::lexledger.amount(TOOLONG)$$)) AS v(expr);
SELECT id, balance FROM wallet_usd ORDER BY id;
-- The type prints as it is written, and reads back from that text (an
-- unquoted code comes in lower case): what pg_dump relies on.
SELECT format_type(atttypid, atttypmod) AS balance_type
FROM pg_attribute WHERE attrelid = 'wallet_usd'::regclass AND attname = 'balance';
DO $$
BEGIN
  EXECUTE format('CREATE TEMP TABLE wallet_usd_copy (balance %s)',
                 (SELECT format_type(atttypid, atttypmod) FROM pg_attribute
                   WHERE attrelid = 'wallet_usd'::regclass AND attname = 'balance'));
END $$;
SELECT pg_temp.try($$INSERT INTO wallet_usd_copy VALUES ('1 EUR')$$) AS eur_into_the_copy;
-- Every code fits the int32 type modifier and comes back as it went in,
-- the shortest and longest included; a modifier that is no code's fails.
SELECT code, format_type('lexledger.amount'::regtype, lexledger.amount_typmod_in(ARRAY[code]::cstring[])) AS type,
       lexledger.amount_typmod_in(ARRAY[code]::cstring[]) AS typmod
FROM unnest(ARRAY['A', 'Z', 'A0', 'B9', 'USD', 'PAGE', 'U0777', 'A00000', 'Z99999', 'ZZZZZZ', 'ALL', 'DO', 'INT']) AS code;
-- A code that is an SQL keyword (ALL is the Albanian lek) prints quoted,
-- so that the type's text reads back: as a cast, and as a column's type.
SELECT 5::lexledger.amount("ALL") AS lek, '5 ALL'::lexledger.amount('all') AS as_a_string;
DO $$
BEGIN
  EXECUTE format('CREATE TEMP TABLE lek_prices (price %s)',
                 format_type('lexledger.amount'::regtype, lexledger.amount_typmod_in(ARRAY['ALL']::cstring[])));
END $$;
INSERT INTO lek_prices VALUES ('150 ALL');
SELECT price, format_type(atttypid, atttypmod) AS type, pg_temp.try($$INSERT INTO lek_prices VALUES ('1 USD')$$) AS usd
FROM lek_prices, pg_attribute WHERE attrelid = 'lek_prices'::regclass AND attname = 'price';
SELECT format_type('lexledger.amount'::regtype, -1) AS no_modifier,
       format_type('lexledger.amount'::regtype, 1802942880) AS next_to_largest;
SELECT typmod, pg_temp.try(format('SELECT format_type(%L::regtype, %s)', 'lexledger.amount', typmod)) AS result
FROM (VALUES (1802942882), (2147483647), (-2), (101306)) AS v(typmod);
-- A code that no currency or unit has yet is accepted (a restore creates
-- tables before it loads the units), and takes values once registered.
BEGIN;
CREATE TEMP TABLE meter (reading lexledger.amount(KWHX));
SELECT pg_temp.try($$INSERT INTO meter VALUES ('1 KWHX')$$) AS before_the_unit;
SELECT code FROM create_unit('KWHX', 1);
INSERT INTO meter VALUES ('1.5 KWHX'), (2::lexledger.amount(KWHX));
SELECT reading FROM meter ORDER BY reading;
ROLLBACK;
-- A domain over it.
CREATE DOMAIN usd_price AS lexledger.amount(USD) CHECK (VALUE > '0 USD');
SELECT '9.99 USD'::usd_price AS price, pg_temp.try($$SELECT '9.99 EUR'::usd_price$$) AS eur_price;
DROP DOMAIN usd_price;
DROP TABLE wallet_usd;

-- Binary output: int8 minor units, then the code.
SELECT amount_send('150.00 ZAR') AS zar, amount_send('-3 JPY') AS jpy,
       amount_send('1 PAGE') AS page;

--
-- Units of account
--
SELECT code, decimals, kind FROM currencies()
WHERE code IN ('ZAR', 'NGN', 'KES', 'GHS', 'USD', 'EUR', 'GBP', 'JPY', 'KWD',
               'BHD', 'OMR', 'JOD', 'TND', 'LYD', 'IQD', 'KRW', 'VND', 'CLP',
               'ISK', 'UGX', 'XOF', 'XAF', 'RWF', 'CLF', 'PAGE', 'FILE')
ORDER BY code;
SELECT code, decimals, kind, description FROM lexledger.currencies()
WHERE code IN ('USD', 'JPY', 'KWD', 'CLF', 'PAGE', 'FILE') ORDER BY code;

-- The ISO table is sorted (binary search depends on it) and complete.
SELECT count(*) AS iso_codes,
       array_agg(code) = array_agg(code ORDER BY code COLLATE "C") AS sorted,
       bool_and(is_iso_currency(code)) AS all_found,
       bool_and(code ~ '^[A-Z]{3}$') AS all_three_letters,
       count(*) FILTER (WHERE decimals = 0) AS zero_decimals,
       count(*) FILTER (WHERE decimals = 3) AS three_decimals,
       count(*) FILTER (WHERE decimals = 4) AS four_decimals
FROM iso_currencies();
SELECT is_iso_currency('USD') AS usd, is_iso_currency('usd') AS lower,
       is_iso_currency('PAGE') AS page, is_iso_currency('') AS empty,
       is_iso_currency('USDUSDUSD') AS long, is_iso_currency('XAU') AS xau;
SELECT is_iso_code('USD') AS usd, is_iso_code('XAU') AS xau, is_iso_code('XTS') AS xts,
       is_iso_code('HRK') AS withdrawn, is_iso_code('PAGE') AS page, is_iso_code('') AS empty;

-- Binary input (COPY ... (FORMAT binary)) treats every value as hostile:
-- each file below holds one row of one column, written with lo_export into
-- the server's data directory; the value's bytes are 8 of minor units and
-- 1 to 6 of code.
CREATE TEMP TABLE recv_test (a lexledger.amount);
CREATE FUNCTION pg_temp.copy_binary(value_hex text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    file text := 'lexledger_recv_test.bin';
    lo oid;
    result text;
BEGIN
    lo := lo_from_bytea(0, decode('5047434f50590aff0d0a00' || '00000000' || '00000000'
        || '0001' || lpad(to_hex(length(value_hex) / 2), 8, '0') || value_hex || 'ffff', 'hex'));
    PERFORM lo_export(lo, file);
    PERFORM lo_unlink(lo);
    DELETE FROM recv_test;
    result := pg_temp.try(format('COPY recv_test FROM %L (FORMAT binary)', file));
    IF result = 'ok' THEN
        SELECT 'read ' || a::text INTO result FROM recv_test;
    END IF;
    RETURN result;
END $$;
SELECT label, pg_temp.copy_binary(hex) AS result
FROM (VALUES ('150.00 ZAR', '0000000000003a98' || '5a4152'),
             ('-3 JPY', 'fffffffffffffffd' || '4a5059'),
             ('empty code', '0000000000000001'),
             ('seven bytes of code', '0000000000000001' || '41424344454647'),
             ('lower case', '0000000000000001' || '757364'),
             ('NUL in the code', '0000000000000001' || '555300'),
             ('not UTF-8', '0000000000000001' || 'fffefd'),
             ('unknown code', '0000000000000001' || '58595a'),
             ('too short', '00000001')) AS v(label, hex);
-- Binary input into a column of one currency takes that currency only.
ALTER TABLE recv_test ALTER a TYPE lexledger.amount(ZAR);
SELECT label, pg_temp.copy_binary(hex) AS result
FROM (VALUES ('150.00 ZAR into amount(ZAR)', '0000000000003a98' || '5a4152'),
             ('-3 JPY into amount(ZAR)', 'fffffffffffffffd' || '4a5059')) AS v(label, hex);
SELECT pg_temp.try($$SELECT lexledger.amount('Infinity', 'XYZ')$$) AS infinity_unknown,
       pg_temp.try($$SELECT lexledger.amount('Infinity', 'USD')$$) AS infinity_usd;

SELECT code, decimals, description FROM create_unit('KWH', 3, 'Kilowatt-hour');
SELECT '1.25 KWH'::lexledger.amount + lexledger.amount_from_minor(750, 'KWH');
SELECT '1.25 KWH'::amount + amount_from_minor(750, 'KWH') AS energy,
       '1.2500 KWH'::amount AS trailing_zero,
       pg_temp.try($$SELECT '1.0001 KWH'::lexledger.amount$$) AS too_many;
SELECT code, decimals, description FROM create_unit('MINUTE');
SELECT '12 MINUTE'::amount AS minutes;
SELECT code, decimals, kind, description FROM currencies()
WHERE code IN ('PAGE', 'FILE', 'KWH', 'MINUTE') ORDER BY code;

SELECT call, pg_temp.try('SELECT lexledger.create_unit(' || call || ')') AS result
FROM (VALUES ($$'KWH', 2$$), ($$'PAGE'$$), ($$'USD'$$), ($$'XAU'$$), ($$'XTS'$$),
             ($$'XXX'$$), ($$'page'$$),
             ($$'1PAGE'$$), ($$'TOOLONG'$$), ($$''$$), ($$NULL$$),
             ($$'MILES', 7$$), ($$'MILES', -1$$), ($$'MILES', NULL$$)) AS v(call);

SELECT lexledger.create_unit('KWH', 3);
SELECT lexledger.create_unit('USD');

-- Constraints on the table itself.
SELECT row, pg_temp.try('INSERT INTO lexledger.custom_unit (code, decimals) VALUES ' || row) AS result
FROM (VALUES ($$('EUR', 2)$$), ($$('XDR', 0)$$), ($$('bad', 0)$$), ($$('SEVEN', 7)$$),
             ($$('PAGE', 0)$$)) AS v(row);

-- Units are immutable.
UPDATE lexledger.custom_unit SET decimals = 2 WHERE code = 'KWH';
DELETE FROM lexledger.custom_unit WHERE code = 'KWH';
TRUNCATE lexledger.custom_unit;

-- A unit created by a transaction that rolls back is gone, even though
-- this session cached it.
BEGIN;
SELECT code FROM create_unit('GHOST');
SELECT '1 GHOST'::amount AS cached;
ROLLBACK;
SELECT '1 GHOST'::amount;
-- Likewise for a subtransaction.
BEGIN;
SAVEPOINT s1;
SELECT code FROM create_unit('GHOST2', 1);
SELECT '1.5 GHOST2'::amount AS cached;
ROLLBACK TO SAVEPOINT s1;
SELECT pg_temp.try($$SELECT '1 GHOST2'::lexledger.amount$$) AS after_rollback_to;
COMMIT;
SELECT pg_temp.try($$SELECT '1 GHOST2'::lexledger.amount$$) AS after_commit;
-- A released savepoint keeps what it cached once the transaction commits.
BEGIN;
SAVEPOINT s1;
SELECT code FROM create_unit('SEAT');
SELECT '4 SEAT'::amount AS cached;
RELEASE SAVEPOINT s1;
COMMIT;
SELECT '5 SEAT'::amount AS after_commit;
-- A value made while a rolled-back create_unit was in effect can outlive
-- it (a constant in a prepared statement). If the code is then registered
-- with other decimals, the two are different currencies to the operators:
-- never equal, never mixed.
BEGIN;
SELECT code FROM create_unit('PSY', 2);
PREPARE old_psy AS SELECT '1.50 PSY'::lexledger.amount AS a;
ROLLBACK;
SELECT code FROM create_unit('PSY', 0);
CREATE TEMP TABLE psy AS EXECUTE old_psy;
INSERT INTO psy VALUES (amount_from_minor(150, 'PSY'));
SELECT a, scale(a) FROM psy ORDER BY scale(a);
SELECT count(DISTINCT a) AS distinct_values, count(DISTINCT a::text) AS distinct_texts FROM psy;
SELECT pg_temp.try($$SELECT sum(a) FROM psy$$) AS sum,
       pg_temp.try($$SELECT min(a) = max(a) FROM psy$$) AS compare;
DEALLOCATE old_psy;

--
-- Catalog facts
--
SELECT p.proname, p.provolatile, p.proparallel, p.proisstrict
FROM pg_proc p
WHERE p.pronamespace = 'lexledger'::regnamespace
  AND p.proname IN ('amount_in', 'amount_out', 'amount_recv', 'amount_send',
                    'amount', 'amount_from_minor', 'minor_units', 'currency',
                    'scale', 'amount_add', 'amount_div_int8', 'amount_eq',
                    'amount_lt', 'amount_cmp', 'amount_to_numeric',
                    'is_iso_currency', 'create_unit', 'currencies')
ORDER BY p.proname;

SELECT o.oprname, o.oprleft::regtype, o.oprright::regtype,
       o.oprcom::regoperator AS commutator, o.oprnegate::regoperator AS negator,
       o.oprcanhash AS hashes, o.oprcanmerge AS merges,
       o.oprrest AS restrict, o.oprjoin AS join
FROM pg_operator o
WHERE o.oprnamespace = 'lexledger'::regnamespace
  AND o.oprcode::text ~ '^(amount_|int8_mul_amount)'
ORDER BY o.oprname, o.oprleft::regtype::text, o.oprright::regtype::text;

SELECT a.amname, c.opcname, c.opcdefault
FROM pg_opclass c JOIN pg_am a ON a.oid = c.opcmethod
WHERE c.opcintype = 'lexledger.amount'::regtype ORDER BY 1;

SELECT t.typlen, t.typbyval, t.typalign, t.typstorage
FROM pg_type t WHERE t.oid = 'lexledger.amount'::regtype;

SELECT c.castsource::regtype, c.casttarget::regtype, c.castcontext, c.castmethod,
       c.castfunc::regprocedure
FROM pg_cast c
WHERE 'lexledger.amount'::regtype IN (c.castsource, c.casttarget)
ORDER BY 1::text, 2::text;

-- Every object of the type has a comment.
SELECT count(*) AS functions,
       count(*) FILTER (WHERE obj_description(p.oid, 'pg_proc') IS NULL) AS uncommented
FROM pg_proc p
WHERE p.pronamespace = 'lexledger'::regnamespace
  AND p.proname IN
      ('amount_in', 'amount_out', 'amount_recv', 'amount_send', 'amount',
       'amount_typmod_in', 'amount_typmod_out',
       'amount_from_minor', 'minor_units', 'currency', 'scale',
       'amount_to_numeric', 'amount_add', 'amount_sub', 'amount_neg',
       'amount_mul_int8', 'int8_mul_amount', 'amount_div_int8', 'amount_eq',
       'amount_ne', 'amount_lt', 'amount_le', 'amount_gt', 'amount_ge',
       'amount_ltsel', 'amount_lesel', 'amount_gtsel', 'amount_gesel',
       'amount_cmp', 'amount_sortsupport', 'amount_hash',
       'amount_hash_extended', 'amount_sum_step', 'amount_smaller',
       'amount_larger', 'sum', 'min', 'max', 'is_iso_currency',
       'iso_currencies', 'currencies', 'create_unit', 'unit_is_immutable');
SELECT count(*) AS operators,
       count(*) FILTER (WHERE obj_description(o.oid, 'pg_operator') IS NULL) AS uncommented
FROM pg_operator o
WHERE o.oprcode::text ~ '^(amount_|int8_mul_amount)';
SELECT obj_description('lexledger.amount'::regtype, 'pg_type') IS NOT NULL AS type_commented,
       obj_description('lexledger.custom_unit'::regclass, 'pg_class') IS NOT NULL AS table_commented;

SELECT code, sqlstate FROM lexledger.error_code
WHERE code IN ('malformed_amount', 'invalid_binary_amount', 'too_many_decimals',
               'invalid_type_modifier', 'currency_required',
               'unknown_currency', 'amount_out_of_range', 'division_by_zero',
               'currency_mismatch', 'invalid_unit', 'unit_exists',
               'unit_immutable')
ORDER BY code;

DROP TABLE wallet;

-- Random amounts built as sign, digits, decimals, separator and code, each
-- picked from good and bad variants (seeded, so the same strings every
-- run): each is refused with one of the input codes, or accepted, and then
-- its output reads back as the same amount.
CREATE TEMP TABLE fuzz_outcome (outcome text);
DO $$
DECLARE
  signs text[] := ARRAY['', '', '', '-', '+', '--', ' ', '.'];
  digits text[] := ARRAY['0', '1', '42', '007', '9223372036854775807', '9223372036854775808',
                         '92233720368547758', '', 'x', '1e5', 'NaN', 'Infinity', '1 000', '١٢'];
  decimals text[] := ARRAY['', '', '.', '.5', '.05', '.123', '.0001', '.000000001', '..1', '.-1', '.x',
                           '.07', '.08'];
  separators text[] := ARRAY[' ', ' ', ' ', '', '  ', E'\t', '-', ' USD '];
  codes text[] := ARRAY['USD', 'JPY', 'KWD', 'BHD', 'ZAR', 'KWH', 'PAGE', 'usd', 'XXX', 'ZZZ', '', 'US',
                        'ABCDEFG', 'ü', '%s', 'USD USD', 'USD '];
  s text;
  a lexledger.amount;
BEGIN
  PERFORM setseed(0.42);
  FOR i IN 1..20000 LOOP
    s := signs[1 + floor(random() * array_length(signs, 1))::int]
      || digits[1 + floor(random() * array_length(digits, 1))::int]
      || decimals[1 + floor(random() * array_length(decimals, 1))::int]
      || separators[1 + floor(random() * array_length(separators, 1))::int]
      || codes[1 + floor(random() * array_length(codes, 1))::int];
    BEGIN
      a := s::lexledger.amount;
      INSERT INTO fuzz_outcome VALUES (CASE WHEN a::text::lexledger.amount OPERATOR(lexledger.=) a
                                            THEN 'accepted, reads back' ELSE 'accepted, reads back DIFFERENT: ' || s END);
    EXCEPTION WHEN OTHERS THEN
      INSERT INTO fuzz_outcome VALUES (SQLSTATE || ' ' || split_part(SQLERRM, ':', 1));
    END;
  END LOOP;
END $$;
SELECT outcome, count(*) FROM fuzz_outcome GROUP BY outcome ORDER BY outcome;
