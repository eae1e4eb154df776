# kill -9 of the postmaster in the middle of a transfer load: after
# restart, verify() is clean and every acknowledged transfer is there.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use LexLedger::Test qw(new_lexledger_node ledger_is_healthy);

# Full durability, as in production (PostgreSQL's test clusters default
# to fsync = off): a kill -9 loses no page cache, but the test should not
# lean on that.
my $node = new_lexledger_node('crash', 'fsync = on', 'synchronous_commit = on');
is($node->safe_psql('postgres', q{SELECT current_setting('fsync') || ' ' || current_setting('synchronous_commit')}),
	'on on', 'the cluster runs with fsync and synchronous_commit on');
# The wallets hold 10.00 USD between them and the load drains them into
# the house, so within seconds requests are refused for insufficient_funds:
# the crash comes while limits are being enforced, not far from them.
$node->safe_psql('postgres', q{
	SELECT lexledger.open_account('USD', 'house', name => 'house');
	SELECT lexledger.open_account('USD', name => 'w' || g, debits_must_not_exceed_credits => true)
	  FROM generate_series(1, 20) g;
	SELECT lexledger.transfer(md5('fund' || g)::uuid, 1, 1 + g, '0.50 USD')
	  FROM generate_series(1, 20) g;
});

my $connstr = $node->connstr('postgres');
my $dir = PostgreSQL::Test::Utils::tempdir;

# Each loader posts transfers one per connection and appends the id of each
# transfer to its file only after COMMIT returned: those are acknowledged.
# A refusal for insufficient_funds is recorded apart; any other failure (the
# crash) is not recorded at all.
my @loaders;
for my $l (1 .. 3)
{
	my $script = qq{
		for i in \$(seq 1 100000); do
			id=\$(printf 'c%07d-0000-0000-0000-%012d' $l \$i)
			from=\$(( ((i + $l) % 20) + 2 ))
			if out=\$(psql -X -q -At -v ON_ERROR_STOP=1 -d "$connstr" \\
			      -c "SELECT lexledger.transfer('\$id', \$from, 1, '0.01 USD')" 2>&1); then
				echo \$id >> $dir/acked.$l
			else
				case "\$out" in *insufficient_funds*) echo \$id >> $dir/refused.$l ;; esac
			fi
		done
	};
	push @loaders, IPC::Run::start([ 'bash', '-c', $script ]);
}
# and one loader of batches of 50 from the wallets: each acknowledged call
# appends the ids its result says posted, and counts the refused requests
my $batch_script = qq{
	for i in \$(seq 1 100000); do
		if out=\$(psql -X -q -At -v ON_ERROR_STOP=1 -d "$connstr" -c "
		  SELECT id, result FROM lexledger.transfer_batch((SELECT array_agg(ROW(
		    md5('batch-\$i-' || g)::uuid, 2 + g % 20, 1, '0.01 USD', 0, NULL, false, NULL, false
		  )::lexledger.transfer_request) FROM generate_series(1, 50) g))" 2>/dev/null); then
			echo "\$out" | awk -F'|' '\$2 == "ok" {print \$1}' >> $dir/acked.batch_ids
			echo "\$out" | awk -F'|' '\$2 == "insufficient_funds" {print \$1}' >> $dir/refused.batch
			echo \$i >> $dir/acked.batch_calls
		fi
	done
};
push @loaders, IPC::Run::start([ 'bash', '-c', $batch_script ]);

sub lines_in
{
	my $n = 0;
	for my $f (glob("$dir/$_[0]"))
	{
		open(my $fh, '<', $f) or next;
		my @lines = <$fh>;
		$n += scalar @lines;
	}
	return $n;
}

# let the load run until a good number of calls have been answered (posted
# or refused) and the wallets have begun to run dry
my ($answered, $refused) = (0, 0);
for (1 .. 1200)
{
	$answered = lines_in('acked.[0-9]') + lines_in('refused.[0-9]') + lines_in('acked.batch_calls');
	$refused = lines_in('refused.*');
	last if $answered >= 200 && $refused >= 20;
	select(undef, undef, undef, 0.1);
}
ok($answered >= 200, "load running: $answered calls answered before the crash");
ok($refused >= 20, "limits at work: $refused requests refused for insufficient_funds before the crash");

# kill -9 the postmaster, and its children with it (as a power cut would),
# then wait until none is left holding the data directory
my $postmaster = $node->{_pid};
my @children = grep { /^\d+$/ } split /\s+/, `pgrep -P $postmaster`;
$node->kill9;
kill 'KILL', @children;
$_->kill_kill for @loaders;
for (1 .. 300)
{
	last unless grep { kill 0, $_ } @children;
	select(undef, undef, undef, 0.1);
}
$node->start;

sub ids_in
{
	my @ids;
	for my $f (glob("$dir/$_[0]"))
	{
		open(my $fh, '<', $f) or die;
		chomp(my @lines = <$fh>);
		push @ids, grep { /\S/ } @lines;
	}
	return @ids;
}

sub count_present
{
	my @ids = @_;
	return 0 unless @ids;
	my $list = join(',', map { "'$_'" } @ids);
	return $node->safe_psql('postgres', "SELECT count(*) FROM lexledger.transfer WHERE id IN ($list)");
}

# every acknowledged single transfer is present, and no refused one
my @ids = ids_in('acked.[0-9]');
cmp_ok(scalar @ids, '>', 0, 'single transfers were acknowledged');
is(count_present(@ids), scalar @ids, scalar(@ids) . ' acknowledged single transfers survived the crash');
my @refused = ids_in('refused.[0-9]');
is(count_present(@refused), 0, scalar(@refused) . ' refused single transfers were not posted');

# every transfer an acknowledged batch posted is present, and no refused one
my @batch_ids = ids_in('acked.batch_ids');
cmp_ok(scalar @batch_ids, '>', 0, 'batched transfers were acknowledged');
is(count_present(@batch_ids), scalar @batch_ids,
	scalar(@batch_ids) . ' transfers of acknowledged batches survived the crash');
my @batch_refused = ids_in('refused.batch');
is(count_present(@batch_refused), 0, scalar(@batch_refused) . ' refused batch requests were not posted');

ledger_is_healthy($node, 'after crash recovery');

# and the ledger takes transfers again
$node->safe_psql('postgres', q{SELECT lexledger.transfer('d0000000-0000-0000-0000-000000000001', 1, 2, '1.00 USD')});
is($node->safe_psql('postgres', 'SELECT count(*) FROM lexledger.verify()'), '0', 'posting works after restart');

$node->stop;
done_testing();
