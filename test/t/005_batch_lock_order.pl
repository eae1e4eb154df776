# The batch's fast path locks balance rows with the statement that updates
# them, so the order in which that statement's plan visits the rows is the
# order in which it locks them.  It must be (account, slot) order, the order
# every posting path uses, or two postings could deadlock: whatever the
# table's statistics and whatever planner settings the caller chose.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use LexLedger::Test qw(new_lexledger_node);

my $node = new_lexledger_node('lockorder');
$node->safe_psql('postgres', q{
	SELECT lexledger.open_account('USD', name => 'w' || g) FROM generate_series(1, 40) g;
	ANALYZE lexledger.account_balance;
});

# The plan of the batch's counters update, as auto_explain reports it
# (at NOTICE level, to this client) under the given settings.
sub counters_update_plan
{
	my ($settings) = @_;
	my ($stdout, $stderr);
	$node->psql('postgres', qq{
		LOAD 'auto_explain';
		SET auto_explain.log_min_duration = 0;
		SET auto_explain.log_nested_statements = on;
		SET auto_explain.log_level = notice;
		$settings
		SELECT count(*) FROM lexledger.transfer_batch((
		  SELECT array_agg(ROW(gen_random_uuid(), a.id, b.id, '0.01 USD', 0, NULL, false, NULL, false)::lexledger.transfer_request)
		    FROM lexledger.account a JOIN lexledger.account b ON b.id = a.id % 40 + 1));
	}, stdout => \$stdout, stderr => \$stderr, on_error_die => 1);
	my @plans = split /NOTICE:\s+duration: [\d.]+ ms\s+plan:\n/, $stderr;
	my ($plan) = grep { /Query Text: UPDATE lexledger\.account_balance/ } @plans;
	return $plan // '';
}

my %callers = (
	'default settings' => '',
	'index scans and nested loops off' =>
		'SET enable_indexscan = off; SET enable_nestloop = off;',
	'everything but sequential scans off' =>
		'SET enable_indexscan = off; SET enable_nestloop = off; SET enable_bitmapscan = off; '
		. 'SET enable_hashjoin = off; SET enable_mergejoin = off; SET enable_seqscan = on;',
	'hash and merge joins forced' =>
		'SET enable_nestloop = off; SET enable_hashjoin = on; SET enable_mergejoin = on; '
		. 'SET random_page_cost = 1000; SET cpu_tuple_cost = 0.000001;',
);
for my $caller (sort keys %callers)
{
	my $plan = counters_update_plan($callers{$caller});
	like($plan, qr/Nested Loop/, "$caller: the counters update is a nested loop");
	unlike($plan, qr/Seq Scan|Bitmap|Hash|Merge|Sort|Tid Scan/,
		"$caller: and visits rows through the sorted changes or the primary key")
	  or diag($plan);
	like($plan, qr/Index Scan using account_balance_pkey/, "$caller: the primary key drives the visit");
}

is($node->safe_psql('postgres', 'SELECT count(*) FROM lexledger.verify()'), '0', 'verify() is clean');
$node->stop;
done_testing();
