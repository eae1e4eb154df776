# Batches on their careful path racing single transfers that post the same
# transfer ids at the same moment, over wallets near their limit and a
# house account with one balance row.  Every path claims its ids before it
# takes balance rows, so none of them deadlocks; every id posts once; the
# answers match what was posted; verify() is clean.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use LexLedger::Test qw(new_lexledger_node ledger_is_healthy);

my $node = new_lexledger_node('careful', "deadlock_timeout = '50ms'", 'log_min_messages = debug1');
$node->safe_psql('postgres', q{
	SELECT lexledger.open_account('USD', 'house', name => 'house', slots => 1);
	SELECT lexledger.open_account('USD', name => 'w' || g, debits_must_not_exceed_credits => true)
	  FROM generate_series(1, 10) g;
	SELECT lexledger.transfer(md5('fund' || g)::uuid, 1, 1 + g, '1.00 USD') FROM generate_series(1, 10) g;
	-- every batch repeats this transfer, which sends it down its careful path
	SELECT lexledger.transfer(md5('retry')::uuid, 1, 2, '0.01 USD');
	-- transfer k of the shared pool of second "sec" has fields that follow
	-- from k, so that every call posting it agrees: odd k from the house to
	-- a wallet (which never fails), even k from a wallet to another account
	-- (which may run out of funds).  A new pool every second keeps fresh
	-- ids, and so collisions, coming.
	CREATE FUNCTION pool(k int, sec bigint = extract(epoch FROM now())::bigint)
	  RETURNS lexledger.transfer_request LANGUAGE sql IMMUTABLE AS $$
	  SELECT ROW(md5('pool' || k || '@' || sec)::uuid,
	             CASE WHEN k % 2 = 1 THEN 1 ELSE 2 + k % 10 END,
	             CASE WHEN k % 2 = 1 THEN 2 + k % 10 WHEN k % 4 = 0 THEN 1 ELSE 2 + (k * 3 + 1) % 10 END,
	             '0.40 USD', 3, NULL, false, NULL, false)::lexledger.transfer_request $$;
	CREATE TABLE batch_answer (id uuid, result text);
});

my $dir = PostgreSQL::Test::Utils::tempdir;
PostgreSQL::Test::Utils::append_to_file("$dir/careful.sql", q{
\set base random(1, 120)
INSERT INTO batch_answer SELECT id, result FROM lexledger.transfer_batch(
  ARRAY[ROW(md5('retry')::uuid, 1, 2, '0.01 USD', 0, NULL, false, NULL, false)::lexledger.transfer_request]
  || (SELECT array_agg(pool(:base + g) ORDER BY (:base * g) % 7) FROM generate_series(0, 7) g));
});
# only odd k: a single transfer that ran out of funds would be an error
PostgreSQL::Test::Utils::append_to_file("$dir/single.sql", q{
\set k 1 + 2 * random(0, 63)
SELECT count(*) FROM pool(:k) p, LATERAL lexledger.transfer((p).id, (p).debit_account_id,
  (p).credit_account_id, (p).amount, code => (p).code);
});

my ($stdout, $stderr) = run_command(
	[ 'pgbench', '-n', '-c', '6', '-j', '2', '-T', '8', '-f', "$dir/careful.sql", '-f', "$dir/single.sql",
	  '-d', $node->connstr('postgres') ]);
like($stdout, qr/number of failed transactions: 0 /, 'pgbench counts no failed transaction');
unlike($stderr, qr/ERROR|abort/i, 'careful batches and single transfers sharing ids hit no error');

my $calls = $node->safe_psql('postgres', q{SELECT count(*) FROM batch_answer WHERE id = md5('retry')::uuid});
ok($calls > 0, "batches ran ($calls calls)");
is($node->safe_psql('postgres', q{SELECT string_agg(DISTINCT result, ',') FROM batch_answer WHERE id = md5('retry')::uuid}),
	'exists', 'every batch answered its retry exists: each took the careful path');
is($node->safe_psql('postgres', q{
	SELECT string_agg(DISTINCT result, ',' ORDER BY result) FROM batch_answer WHERE id <> md5('retry')::uuid}),
	'exists,insufficient_funds,ok', 'pool requests were answered ok, exists or insufficient_funds, and nothing else');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM (SELECT id FROM batch_answer WHERE result = 'ok' GROUP BY id HAVING count(*) > 1) d}),
	'0', 'no id was answered ok by two batches');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM batch_answer a
	 WHERE a.result IN ('ok', 'exists') AND NOT EXISTS (SELECT 1 FROM lexledger.transfer t WHERE t.id = a.id)}),
	'0', 'every id a batch answered ok or exists is posted');
# only batches post the wallet transfers (even k, debiting a wallet): each
# one posted was answered ok by exactly one batch
is($node->safe_psql('postgres', q{
	SELECT (SELECT count(*) FROM lexledger.transfer WHERE code = 3 AND debit_account_id <> 1)
	     - (SELECT count(DISTINCT a.id) FROM batch_answer a JOIN lexledger.transfer t ON t.id = a.id
	         WHERE a.result = 'ok' AND t.code = 3 AND t.debit_account_id <> 1)}),
	'0', 'every wallet transfer posted was answered ok by a batch');
ok($node->safe_psql('postgres', q{SELECT count(*) FROM batch_answer WHERE result = 'ok'}) > 0,
	'batches posted pool transfers');
my $undone = () = slurp_file($node->logfile) =~ /careful batch attempt \d+ undone/g;
ok($undone > 0, "concurrent postings undid careful attempts, which decided again ($undone times)");
ledger_is_healthy($node);

$node->stop;
done_testing();
