# Without shared_preload_libraries the extension still works: its library
# loads on first use, defines its settings without ending the session, and
# every SQL function runs; only the expiry worker is missing, so holds
# expire when expire_holds() is called (by hand or by pg_cron).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('nopreload');
$node->init;
# a setting for the worker in postgresql.conf, as a cluster that stopped
# preloading lexledger would still have
$node->append_conf('postgresql.conf', "lexledger.database_name = 'postgres'\n");
$node->start;

my ($ret, $stdout, $stderr) = $node->psql('postgres', 'CREATE EXTENSION lexledger');
is($ret, 0, 'CREATE EXTENSION works without preloading') or diag($stderr);
unlike($stderr, qr/FATAL|cannot create PGC_POSTMASTER/, 'loading the library late ends no session');

$node->safe_psql('postgres', q{
	SELECT lexledger.open_account('USD', 'house', name => 'house');
	SELECT lexledger.open_account('USD', name => 'w', debits_must_not_exceed_credits => true);
	SELECT lexledger.transfer('b0000000-0000-0000-0000-000000000001', 1, 2, '10.00 USD');
	SELECT lexledger.hold('b0000000-0000-0000-0000-000000000003', 2, 1, '2.00 USD', timeout => '1 millisecond');
});
is($node->safe_psql('postgres', q{
	SELECT result FROM lexledger.transfer_batch(ARRAY[
	  ROW('b0000000-0000-0000-0000-000000000002', 2, 1, '1.00 USD', 0, NULL, false, NULL, false)
	]::lexledger.transfer_request[]);
}), 'ok', 'a batch posts');
is($node->safe_psql('postgres', q{
	SELECT pg_sleep(0.01);
	SELECT lexledger.expire_holds();
}), "\n1", 'expire_holds() by hand expires the due hold');
is($node->safe_psql('postgres', q{
	SELECT h.status || ' ' || b.available_balance || ' ' || (SELECT count(*) FROM lexledger.verify())
	  FROM lexledger.hold h, lexledger.balance(2) b
	 WHERE h.id = 'b0000000-0000-0000-0000-000000000003';
}), 'expired 9.00 USD 0', 'the readers see it, and verify() is clean');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM lexledger.worker_status();
}), '0', 'no worker runs');
is($node->safe_psql('postgres', 'SHOW lexledger.database_name'), 'postgres',
	'the setting from postgresql.conf is kept');

# a fresh session loads the library again, this time from a function call
is($node->safe_psql('postgres', q{SELECT available_balance FROM lexledger.balance(2)}),
	'9.00 USD', 'a new session loads the library on its first call');
ok(!$node->log_contains('FATAL'), 'the server log has no FATAL');

$node->stop;
done_testing();
