-- Included (\i) by sql/ledger.sql and sql/escrow.sql: the two ways
-- lexledger.counters_as_of() reads the past (from the start, back from now)
-- must agree for every account at every instant a transfer was made, and
-- just before it.
SELECT count(*) > 40 AS many_instants, count(*) FILTER (WHERE f IS DISTINCT FROM n) AS disagreements
  FROM (SELECT DISTINCT e.account_id, x.t
          FROM lexledger.transfer_effect e,
               LATERAL (VALUES (e.created_at), (e.created_at - interval '1 microsecond')) x(t)) p,
       LATERAL lexledger.counters_as_of(p.account_id, p.t, false) f,
       LATERAL lexledger.counters_as_of(p.account_id, p.t, true) n;
