# On a streaming replica: verify() proves the replica's copy of the ledger
# (what operations.md advises for large, busy ledgers, where a long verify
# on the primary would hold back vacuum) and sees damage done on the
# primary; record_verify(), which writes, is refused; the expiry worker
# does not run during recovery, and after promotion it releases the holds
# that timed out while the primary's worker was asleep.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use LexLedger::Test qw(new_lexledger_node);

# the primary's worker makes one round at start, before the extension
# exists, and then sleeps an hour: no hold of this test expires there
my $primary = new_lexledger_node('primary', { allows_streaming => 1 },
	"lexledger.expiry_naptime = '1h'");
$primary->safe_psql('postgres', q{
	SELECT lexledger.open_account('USD', 'house', name => 'house');
	SELECT lexledger.open_account('USD', 'escrow', name => 'escrow');
	SELECT lexledger.open_account('USD', name => 'w' || g, debits_must_not_exceed_credits => true)
	  FROM generate_series(1, 20) g;
	SELECT count(*) FROM lexledger.transfer_batch((
	  SELECT array_agg(ROW(md5('fund' || g)::uuid, 1, 2 + g, '100.00 USD', 0, NULL, false, NULL, false)::lexledger.transfer_request)
	    FROM generate_series(1, 20) g));
});
$primary->backup('base');

my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;

# postings after the backup reach the replica by streaming
$primary->safe_psql('postgres', q{
	SELECT lexledger.transfer(md5('move' || g)::uuid, 3 + g % 20, 3 + (g + 1) % 20, '1.00 USD')
	  FROM generate_series(1, 200) g;
	SELECT lexledger.hold('b0000000-0000-0000-0000-000000000001', 3, 2, '7.00 USD', timeout => '1 second');
	SELECT lexledger.hold('b0000000-0000-0000-0000-000000000002', 4, 2, '3.00 USD', timeout => '1 hour');
});
$primary->wait_for_catchup($standby);

is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 't', 'the replica is in recovery');
is($standby->safe_psql('postgres', q{SELECT available_balance FROM lexledger.balance(3)}),
	'93.00 USD', 'the replica sees the hold');
is($standby->safe_psql('postgres', 'SELECT count(*) FROM lexledger.transfer'),
	$primary->safe_psql('postgres', 'SELECT count(*) FROM lexledger.transfer'),
	'the replica has every transfer');
is($standby->safe_psql('postgres', 'SELECT count(*) FROM lexledger.verify()'), '0',
	'verify() runs on the replica and finds it clean');

my ($ret, $stdout, $stderr) = $standby->psql('postgres', 'SELECT lexledger.record_verify()');
isnt($ret, 0, 'record_verify() fails on the replica');
like($stderr, qr/read-only transaction/, 'because it writes verify_run');

# damage on the primary (a superuser's edit of a balance row) shows in the
# replica's verify()
$primary->safe_psql('postgres', q{
	UPDATE lexledger.account_balance SET credits_posted = credits_posted + 1
	 WHERE account_id = 5 AND slot = 0});
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres',
	q{SELECT string_agg(problem || ':' || coalesce(account_id::text, '-'), ' ' ORDER BY problem) FROM lexledger.verify()}),
	'counters_differ_from_transfers:5 currency_does_not_net_to_zero:-',
	"the replica's verify() reports the primary's damaged row");
$primary->safe_psql('postgres', q{
	UPDATE lexledger.account_balance SET credits_posted = credits_posted - 1
	 WHERE account_id = 5 AND slot = 0});
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', 'SELECT count(*) FROM lexledger.verify()'), '0',
	'and is clean again once the row is repaired');

# the expiry worker: none during recovery; after promotion the new
# primary's worker releases the hold whose timeout passed, and only it
is($standby->safe_psql('postgres',
	"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'lexledger expiry worker'"),
	'0', 'no expiry worker runs on the replica');
# the promoted worker makes its first round at once and then sleeps an
# hour too: the hold must be due before the promotion
ok($primary->poll_query_until('postgres', q{
	SELECT expires_at < clock_timestamp() FROM lexledger.hold
	 WHERE id = 'b0000000-0000-0000-0000-000000000001'}),
	'the short hold is past its timeout');
is($primary->safe_psql('postgres', q{
	SELECT status FROM lexledger.hold WHERE id = 'b0000000-0000-0000-0000-000000000001'}),
	'pending', "the timed-out hold is still pending: the primary's worker sleeps");
$primary->stop;
$standby->promote;
ok($standby->poll_query_until('postgres', q{
	SELECT status = 'expired' FROM lexledger.hold
	 WHERE id = 'b0000000-0000-0000-0000-000000000001'}),
	"the promoted replica's worker released the timed-out hold");
is($standby->safe_psql('postgres',
	"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'lexledger expiry worker'"),
	'1', 'one expiry worker runs after promotion');
is($standby->safe_psql('postgres', q{
	SELECT status FROM lexledger.hold WHERE id = 'b0000000-0000-0000-0000-000000000002'}),
	'pending', 'the hold with time left stays');
is($standby->safe_psql('postgres', q{SELECT available_balance FROM lexledger.balance(3)}),
	'100.00 USD', 'the released funds are available again');
is($standby->safe_psql('postgres', 'SELECT count(*) FROM lexledger.verify()'), '0',
	'verify() is clean on the promoted replica');
$standby->safe_psql('postgres', 'SELECT lexledger.record_verify()');
is($standby->safe_psql('postgres', 'SELECT problems FROM lexledger.verify_run ORDER BY id DESC LIMIT 1'),
	'0', 'record_verify() works once promoted');

done_testing();
