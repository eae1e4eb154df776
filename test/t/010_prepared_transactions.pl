# Two-phase commit: what a prepared transaction did is not known to have
# happened until COMMIT PREPARED, and it may be rolled back from any
# session.  An account opened and used in a transaction that is prepared,
# then rolled back, must not stay in the preparing backend's cache of
# accounts: there, later postings naming it must fail as for any unknown
# account (a batch answering account_not_found for that request only),
# not as a damaged ledger.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use LexLedger::Test qw(new_lexledger_node ledger_is_healthy);

my $node = new_lexledger_node('twophase', 'max_prepared_transactions = 2');
$node->safe_psql('postgres', q{
	SELECT lexledger.open_account('USD', 'house', name => 'house');
	SELECT lexledger.open_account('USD', name => 'kept');
});

# one session (one backend) from the prepared transaction to the postings
my ($ret, $stdout, $stderr) = $node->psql('postgres', q{
	BEGIN;
	SELECT id AS phantom FROM lexledger.open_account('USD', name => 'phantom') \gset
	SELECT lexledger.transfer('d0000000-0000-0000-0000-000000000001', 1, :phantom, '1.00 USD');
	PREPARE TRANSACTION 'p1';
	ROLLBACK PREPARED 'p1';
	SELECT string_agg(ordinal || ' ' || result, ', ' ORDER BY ordinal) FROM lexledger.transfer_batch(ARRAY[
	  ROW('d0000000-0000-0000-0000-000000000002', 1, :phantom, '1.00 USD', 0, NULL, false, NULL, false),
	  ROW('d0000000-0000-0000-0000-000000000003', 1, 2, '1.00 USD', 0, NULL, false, NULL, false)
	]::lexledger.transfer_request[]);
	SELECT lexledger.transfer('d0000000-0000-0000-0000-000000000004', 1, :phantom, '1.00 USD');
});
like($stdout, qr/^1 account_not_found, 2 ok$/m,
	'a batch naming the rolled-back account fails that request only');
like($stderr, qr/ERROR:  account_not_found: account \d+ does not exist/,
	'transfer() to it fails as for any unknown account');
unlike($stderr, qr/balance row/, 'and never as missing balance rows');
is($node->safe_psql('postgres', q{SELECT count(*) FROM lexledger.account WHERE name = 'phantom'}), '0',
	'the rolled-back account does not exist');
ledger_is_healthy($node);

$node->stop;
done_testing();
