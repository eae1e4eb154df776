# record_verify() leaves a trace even when verify() cannot finish: here it
# waits for a lock that a long transaction holds and gives up at
# lock_timeout.  The run is recorded with the error and a WARNING is logged;
# the next run, once the lock is gone, proves the ledger healthy again.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use LexLedger::Test qw(new_lexledger_node);

my $node = new_lexledger_node('verify');
$node->safe_psql('postgres', q{
	SELECT lexledger.open_account('USD', 'house', name => 'house');
	SELECT lexledger.open_account('USD', name => 'w');
	SELECT lexledger.transfer(gen_random_uuid(), 1, 2, '5.00 USD');
});

my $locker = $node->background_psql('postgres');
$locker->query_safe('BEGIN');
$locker->query_safe('LOCK TABLE lexledger.account_balance IN ACCESS EXCLUSIVE MODE');

my ($stdout, $stderr);
$node->psql('postgres', q{
	SET lock_timeout = '200ms';
	SELECT problems IS NULL, report IS NULL, error FROM lexledger.record_verify();
}, stdout => \$stdout, stderr => \$stderr, on_error_die => 1);
is($stdout, 't|t|55P03 canceling statement due to lock timeout',
	'a run that cannot finish returns its error instead of an outcome');
like($stderr, qr/WARNING:  verify_not_finished: verify\(\) did not finish: 55P03 .*see lexledger\.verify_run 1/,
	'and warns, naming the run');

$locker->query_safe('COMMIT');
$locker->quit;

is($node->safe_psql('postgres', 'SELECT problems, report FROM lexledger.record_verify()'),
	'0|[]', 'the next run proves the ledger healthy');
is($node->safe_psql('postgres', q{
	SELECT string_agg(coalesce(problems::text, 'null') || ':' || coalesce(left(error, 5), 'ok'), ',' ORDER BY id)
	  FROM lexledger.verify_run}),
	'null:55P03,0:ok', 'the history holds both runs');

$node->stop;
done_testing();
