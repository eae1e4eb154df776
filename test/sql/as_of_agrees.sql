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
-- And, independently of the counters, the posted balance as of each
-- instant equals the running balance the full statement shows there (the
-- last row of each instant, as transfers may share one).
SELECT count(*) FILTER (WHERE s.balance OPERATOR(lexledger.<>)
                              lexledger.amount_from_minor(c.credits_posted - c.debits_posted, a.currency))
       AS statement_disagreements
  FROM lexledger.account a,
       LATERAL (SELECT st.created_at, st.balance,
                       lead(st.created_at) OVER (ORDER BY st.created_at, st.transfer_id) AS next_at
                  FROM lexledger.statement(a.id, '-infinity', 'infinity') st) s,
       LATERAL lexledger.counters_as_of(a.id, s.created_at) c
 WHERE s.next_at IS DISTINCT FROM s.created_at;
