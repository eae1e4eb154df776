-- The README's five-minute tour, on a fresh extension.  Everything after
-- the marker line below is the README's block, byte for byte (test/check-docs).
SET client_min_messages = warning;
DROP EXTENSION lexledger CASCADE;
CREATE EXTENSION lexledger;
-- tour --
-- Accounts: a house account, two wallets that may not go below zero, escrow.
SELECT id AS house  FROM lexledger.open_account('ZAR', 'house',  name => 'house:ZAR') \gset
SELECT id AS escrow FROM lexledger.open_account('ZAR', 'escrow', name => 'escrow:ZAR') \gset
SELECT id AS thabo  FROM lexledger.open_account('ZAR', owner => 'thabo', debits_must_not_exceed_credits => true) \gset
SELECT id AS naledi FROM lexledger.open_account('ZAR', owner => 'naledi', debits_must_not_exceed_credits => true) \gset

-- A deposit: the client chooses the transfer id, so a retry never pays twice.
SELECT amount, kind FROM lexledger.transfer('5b1f0c8e-0000-4000-8000-000000000001', :house, :thabo, '500.00 ZAR', 1, '{"provider": "yoco", "ref": "dep-1"}');
SELECT amount, kind FROM lexledger.transfer('5b1f0c8e-0000-4000-8000-000000000001', :house, :thabo, '500.00 ZAR', 1, '{"provider": "yoco", "ref": "dep-1"}');

-- A transfer between wallets, and one that would overdraw (refused, nothing changes).
SELECT amount FROM lexledger.transfer('5b1f0c8e-0000-4000-8000-000000000002', :thabo, :naledi, '120.50 ZAR', 2);
SELECT lexledger.transfer('5b1f0c8e-0000-4000-8000-000000000003', :thabo, :naledi, '1000.00 ZAR', 2);

-- Escrow: hold a stake, capture part of it, the rest comes back.
SELECT kind, amount FROM lexledger.hold('5b1f0c8e-0000-4000-8000-000000000004', :thabo, :escrow, '100.00 ZAR', 3, '{"bet": 42}', timeout => '1 hour');
SELECT posted_balance, available_balance FROM lexledger.balance(:thabo);
SELECT kind, amount FROM lexledger.capture('5b1f0c8e-0000-4000-8000-000000000005', '5b1f0c8e-0000-4000-8000-000000000004', '60.00 ZAR');
SELECT posted_balance, available_balance FROM lexledger.balance(:thabo);

-- Many transfers in one call, each with its own result.
SELECT ordinal, result FROM lexledger.transfer_batch(ARRAY[
  ROW('5b1f0c8e-0000-4000-8000-000000000006', :naledi, :thabo, '20.00 ZAR', 2, NULL, false, NULL, false),
  ROW('5b1f0c8e-0000-4000-8000-000000000007', :naledi, :thabo, '999.00 ZAR', 2, NULL, false, NULL, false)
]::lexledger.transfer_request[]);

-- Statements, totals, and the proof that the books balance (no rows = healthy).
SELECT kind, debit, credit, pending_change, balance FROM lexledger.statement(:thabo, '-infinity', 'infinity');
SELECT currency, debits_posted, credits_posted FROM lexledger.totals();
SELECT * FROM lexledger.verify();
