-- transfer_batch() against an oracle built from the single-request
-- functions transfer() and hold(): 200 batches of 1 to 12 random requests
-- (seeded, so the same every run), each decided from the same state by the
-- batch and by the oracle, must give the same result for every request; a
-- second call of the same batch, which then posts for real, must too, and
-- write one transfer per 'ok' and one hold per 'ok' hold; some batches take
-- back requests that their first play bet on (wallets run dry).  The
-- requests mix retries (a request id has one usual form; a batch often
-- repeats one of its own requests), other accounts
-- (closed, in another currency, missing), odd amounts (zero, negative, so
-- large that counters overflow, in another currency), holds, bad timeouts
-- and linked chains, over wallets that run out of funds and an account
-- whose credits are limited.

SELECT (lexledger.open_account('USD', 'house', name => 'dt:house')).id AS house \gset
SELECT (lexledger.open_account('USD', name => 'dt:w1', debits_must_not_exceed_credits => true)).id AS w1 \gset
SELECT (lexledger.open_account('USD', name => 'dt:w2', debits_must_not_exceed_credits => true)).id AS w2 \gset
SELECT (lexledger.open_account('USD', name => 'dt:cl', credits_must_not_exceed_debits => true)).id AS cl \gset
SELECT (lexledger.open_account('USD', name => 'dt:closed')).id AS closed \gset
SELECT (lexledger.open_account('EUR', name => 'dt:eur')).id AS eur \gset
SELECT (lexledger.open_account('USD', name => 'dt:one', slots => 1)).id AS one \gset
SELECT amount FROM lexledger.transfer(gen_random_uuid(), :house, :w1, '10.00 USD');
SELECT amount FROM lexledger.transfer(gen_random_uuid(), :house, :w2, '3.00 USD');
SELECT amount FROM lexledger.transfer(gen_random_uuid(), :cl, :house, '4.00 USD');
SELECT closed_at IS NOT NULL AS closed FROM lexledger.close_account(:closed);
SELECT set_config('dt.house', :'house', false) IS NOT NULL AND set_config('dt.w1', :'w1', false) IS NOT NULL
   AND set_config('dt.w2', :'w2', false) IS NOT NULL AND set_config('dt.cl', :'cl', false) IS NOT NULL
   AND set_config('dt.closed', :'closed', false) IS NOT NULL AND set_config('dt.eur', :'eur', false) IS NOT NULL
   AND set_config('dt.one', :'one', false) IS NOT NULL AS noted;

-- The oracle: the requests played one by one with transfer() and hold().
-- A request that fails checks of its own (malformed, unknown account, wrong
-- currency, an id posted before with other fields) reports that failure
-- wherever it stands; the others are played in order, each chain in a
-- subtransaction that is rolled back when one of its requests fails or
-- when the batch ends inside it.
CREATE FUNCTION pg_temp.single(r lexledger.transfer_request) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  IF r.timeout IS NOT NULL AND NOT r.pending THEN
    RAISE EXCEPTION 'invalid_transfer: timeout without pending';
  ELSIF r.pending THEN
    PERFORM lexledger.hold(r.id, r.debit_account_id, r.credit_account_id, r.amount, r.code, r.reference, r.timeout);
  ELSE
    PERFORM lexledger.transfer(r.id, r.debit_account_id, r.credit_account_id, r.amount, r.code, r.reference);
  END IF;
END $$;

-- What a request whose id is posted answers when the chain around it fails
-- without it failing: the retry's answer, exists or exists_with_different_...
CREATE FUNCTION pg_temp.retry(r lexledger.transfer_request) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_temp.single(r);
  RAISE EXCEPTION 'undo';
EXCEPTION WHEN OTHERS THEN
  RETURN CASE WHEN SQLERRM = 'undo' THEN 'exists' ELSE split_part(SQLERRM, ':', 1) END;
END $$;

CREATE FUNCTION pg_temp.oracle(reqs lexledger.transfer_request[]) RETURNS text[]
LANGUAGE plpgsql AS $$
DECLARE
  n int := coalesce(array_length(reqs, 1), 0);
  res text[] := array_fill(NULL::text, ARRAY[n]);
  static text[] := array_fill(NULL::text, ARRAY[n]);
  existed boolean[] := array_fill(false, ARRAY[n]);
  start int := 1;
  stop int;
  failed int;
  code text;
BEGIN
  FOR i IN 1..n LOOP
    existed[i] := EXISTS (SELECT 1 FROM lexledger.transfer t WHERE t.id = reqs[i].id);
    BEGIN
      PERFORM pg_temp.single(reqs[i]);
      RAISE EXCEPTION 'undo';
    EXCEPTION WHEN OTHERS THEN
      code := split_part(SQLERRM, ':', 1);
      IF code IN ('invalid_transfer', 'amount_must_be_positive', 'accounts_must_be_different',
                  'account_not_found', 'currency_mismatch')
         OR (existed[i] AND code LIKE 'exists_with_different_%') THEN
        static[i] := code;
      END IF;
    END;
  END LOOP;
  WHILE start <= n LOOP
    stop := start;
    WHILE stop < n AND reqs[stop].linked LOOP stop := stop + 1; END LOOP;
    failed := NULL;
    BEGIN
      FOR i IN start..stop LOOP
        IF static[i] IS NOT NULL THEN
          res[i] := static[i];
          failed := i;
          EXIT;
        END IF;
        BEGIN
          res[i] := CASE WHEN EXISTS (SELECT 1 FROM lexledger.transfer t WHERE t.id = reqs[i].id) THEN 'exists' ELSE 'ok' END;
          PERFORM pg_temp.single(reqs[i]);
        EXCEPTION WHEN OTHERS THEN
          res[i] := split_part(SQLERRM, ':', 1);
          failed := i;
        END;
        EXIT WHEN failed IS NOT NULL;
      END LOOP;
      IF failed IS NOT NULL OR reqs[stop].linked THEN
        RAISE EXCEPTION 'chain fails';
      END IF;
    EXCEPTION WHEN raise_exception THEN
      FOR i IN start..stop LOOP
        IF i = failed THEN NULL;
        ELSIF static[i] IS NOT NULL THEN res[i] := static[i];
        ELSIF EXISTS (SELECT 1 FROM lexledger.transfer t WHERE t.id = reqs[i].id) THEN
          res[i] := pg_temp.retry(reqs[i]);
        ELSIF failed IS NULL THEN res[i] := 'linked_event_chain_open';
        ELSE res[i] := 'linked_event_failed';
        END IF;
      END LOOP;
    END;
    start := stop + 1;
  END LOOP;
  RETURN res;
END $$;

CREATE TEMP TABLE mismatch (round int, ordinal int, request text, batch text, oracle text);
CREATE TEMP TABLE outcome (result text);
CREATE TEMP TABLE took_back (transfers bigint);
DO $$
DECLARE
  valid bigint[] := ARRAY[current_setting('dt.house')::bigint, current_setting('dt.w1')::bigint,
                          current_setting('dt.w2')::bigint, current_setting('dt.cl')::bigint,
                          current_setting('dt.one')::bigint];
  other bigint[] := ARRAY[current_setting('dt.closed')::bigint, current_setting('dt.eur')::bigint, 999999];
  small text[] := ARRAY['0.01 USD', '0.50 USD', '1.00 USD', '2.50 USD', '4.00 USD'];
  odd text[] := ARRAY['0.00 USD', '-1.00 USD', '92233720368547758.07 USD', '1.00 EUR'];
  reqs lexledger.transfer_request[];
  batch_res text[];
  oracle_res text[];
  again text[];
  k int;
  ks int[];
  transfers bigint;
  holds bigint;
  deleted bigint := pg_stat_get_xact_tuples_deleted('lexledger.transfer'::regclass);
  d bigint;
  c bigint;
  amt text;
  tmo interval;
BEGIN
  PERFORM setseed(0.17);
  FOR round IN 1..200 LOOP
    reqs := ARRAY[]::lexledger.transfer_request[];
    ks := ARRAY[]::int[];
    FOR i IN 1..(1 + floor(random() * 12))::int LOOP
      -- request k has one usual form, so that a repeated k is a retry ...
      k := floor(random() * 400)::int;
      -- ... often of a request earlier in the same batch ...
      IF i > 1 AND random() < 0.2 THEN k := ks[1 + floor(random() * (i - 1))::int]; END IF;
      ks[i] := k;
      d := valid[1 + k % 5];
      c := valid[1 + (k % 5 + 1 + (k / 5) % 4) % 5];
      amt := small[1 + (k / 3) % 5];
      tmo := CASE WHEN k % 6 = 0 THEN interval '1 hour' END;
      -- ... and sometimes it has another: other accounts, odd amounts, a bad timeout
      IF random() < 0.1 THEN d := other[1 + floor(random() * 3)::int]; END IF;
      IF random() < 0.1 THEN c := other[1 + floor(random() * 3)::int]; END IF;
      IF random() < 0.05 THEN c := d; END IF;
      IF random() < 0.1 THEN amt := odd[1 + floor(random() * 4)::int]; END IF;
      IF random() < 0.05 THEN amt := small[1 + floor(random() * 5)::int]; END IF;
      IF random() < 0.03 THEN tmo := interval '1 minute'; END IF;
      reqs := reqs || ROW(md5('dt' || k)::uuid, d, c, amt::lexledger.amount, k % 4, NULL, k % 3 = 0, tmo,
                          random() < 0.3)::lexledger.transfer_request;
    END LOOP;
    BEGIN
      SELECT array_agg(b.result ORDER BY b.ordinal) INTO batch_res FROM lexledger.transfer_batch(reqs) b;
      RAISE EXCEPTION 'undo';
    EXCEPTION WHEN raise_exception THEN NULL;
    END;
    BEGIN
      oracle_res := pg_temp.oracle(reqs);
      RAISE EXCEPTION 'undo';
    EXCEPTION WHEN raise_exception THEN NULL;
    END;
    -- the batch for real: the next round starts from its outcome; it adds
    -- one transfer per 'ok', one hold per 'ok' hold, and nothing else
    transfers := (SELECT count(*) FROM lexledger.transfer);
    holds := (SELECT count(*) FROM lexledger.pending_transfer);
    SELECT array_agg(b.result ORDER BY b.ordinal) INTO again FROM lexledger.transfer_batch(reqs) b;
    IF (SELECT count(*) FROM lexledger.transfer) - transfers
         <> (SELECT count(*) FROM unnest(again) a WHERE a = 'ok')
       OR (SELECT count(*) FROM lexledger.pending_transfer) - holds
         <> (SELECT count(*) FROM generate_subscripts(again, 1) i WHERE again[i] = 'ok' AND (reqs[i]).pending) THEN
      INSERT INTO mismatch VALUES (round, NULL, 'rows written', array_to_string(again, ','), NULL);
    END IF;
    FOR i IN 1..array_length(reqs, 1) LOOP
      INSERT INTO outcome VALUES (batch_res[i]);
      IF batch_res[i] IS DISTINCT FROM oracle_res[i] OR batch_res[i] IS DISTINCT FROM again[i] THEN
        INSERT INTO mismatch VALUES (round, i, reqs[i]::text, batch_res[i] || ' / again ' || again[i], oracle_res[i]);
      END IF;
    END LOOP;
  END LOOP;
  -- batches refused requests that their first play bet on, and took them back
  INSERT INTO took_back VALUES (pg_stat_get_xact_tuples_deleted('lexledger.transfer'::regclass) - deleted);
END $$;
-- no request answered differently
SELECT * FROM mismatch ORDER BY round, ordinal LIMIT 30;
SELECT transfers > 0 AS some_taken_back FROM took_back;
-- and every kind of answer was given

SELECT result, count(*) FROM outcome GROUP BY result ORDER BY result;
SELECT * FROM lexledger.verify();
