# Single transfers, holds and batches racing over the same accounts, among
# them a house account with one balance row that all of them credit: no
# deadlock, no failed transaction, no overdraft, verify() clean, and every
# batch request answered ok posted, though batches take back the rows of
# requests that their play under the locks refuses.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use LexLedger::Test qw(new_lexledger_node ledger_is_healthy);

my $node = new_lexledger_node('race', "deadlock_timeout = '100ms'");
$node->safe_psql('postgres', q{
	SELECT lexledger.open_account('USD', 'house', name => 'house', slots => 1);
	SELECT lexledger.open_account('USD', name => 'w' || g, debits_must_not_exceed_credits => true)
	  FROM generate_series(1, 20) g;
	SELECT lexledger.transfer(md5('fund' || g)::uuid, 1, 1 + g, '10.00 USD') FROM generate_series(1, 20) g;
	CREATE TABLE batch_result (result text, n bigint);
});

my $dir = PostgreSQL::Test::Utils::tempdir;
# wallets are accounts 2..21, the house is 1; amounts are large enough that
# some requests run out of funds, which must fail cleanly, not deadlock
PostgreSQL::Test::Utils::append_to_file("$dir/single.sql", q{
\set a random(2, 21)
\set b random(1, 21)
SELECT count(*) FROM (SELECT 1 WHERE :a <> :b) s,
  LATERAL lexledger.transfer_batch(ARRAY[ROW(gen_random_uuid(), :a, :b, '0.30 USD', 1, NULL, false, NULL, false)]::lexledger.transfer_request[]);
SELECT lexledger.transfer(gen_random_uuid(), 1, :a, '0.20 USD');
});
PostgreSQL::Test::Utils::append_to_file("$dir/batch.sql", q{
\set base random(0, 19)
INSERT INTO batch_result SELECT result, count(*) FROM lexledger.transfer_batch((
  SELECT array_agg(ROW(gen_random_uuid(), 2 + (:base + g) % 20,
                       CASE WHEN g % 3 = 0 THEN 1 ELSE 2 + (:base + g * 7 + 1) % 20 END,
                       '0.25 USD', 2, NULL, g % 5 = 0, NULL, false)::lexledger.transfer_request)
    FROM generate_series(1, 40) g
   WHERE (:base + g) % 20 <> (:base + g * 7 + 1) % 20)) GROUP BY result;
});

my ($stdout, $stderr) = run_command(
	[ 'pgbench', '-n', '-c', '6', '-j', '2', '-T', '8', '-f', "$dir/single.sql", '-f', "$dir/batch.sql",
	  '-d', $node->connstr('postgres') ]);
like($stdout, qr/number of failed transactions: 0 /, 'pgbench counts no failed transaction');
unlike($stderr, qr/ERROR|abort/i, 'six clients mixing single transfers and batches hit no error');

ok($node->safe_psql('postgres', q{SELECT count(*) FROM lexledger.transfer WHERE code = 2}) > 0,
	'batches posted');
is($node->safe_psql('postgres', q{SELECT sum(n) FROM batch_result WHERE result = 'ok'}),
	$node->safe_psql('postgres', q{SELECT count(*) FROM lexledger.transfer WHERE code = 2}),
	'every batch request answered ok is posted, and only those');
ok($node->safe_psql('postgres', q{SELECT coalesce(sum(n), 0) FROM batch_result WHERE result = 'insufficient_funds'}) > 0,
	'some batch requests ran out of funds');
is($node->safe_psql('postgres', q{SELECT string_agg(DISTINCT result, ',' ORDER BY result) FROM batch_result}),
	'insufficient_funds,ok', 'no other result than ok and insufficient_funds');
# only a batch taking back the rows of requests its locked play refused
# deletes transfers (the pgbench sessions flushed their statistics as they
# ended)
ok($node->safe_psql('postgres',
		q{SELECT n_tup_del FROM pg_stat_user_tables WHERE relid = 'lexledger.transfer'::regclass}) > 0,
	'batches took back refused requests while racing');
ledger_is_healthy($node);

$node->stop;
done_testing();
