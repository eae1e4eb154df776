# kill -9 of the postmaster in the middle of a transfer load: after
# restart, verify() is clean and every acknowledged transfer is there.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use LexLedger::Test qw(new_lexledger_node ledger_is_healthy);

my $node = new_lexledger_node('crash');
$node->safe_psql('postgres', q{
	SELECT lexledger.open_account('USD', 'house', name => 'house');
	SELECT lexledger.open_account('USD', name => 'w' || g, debits_must_not_exceed_credits => true)
	  FROM generate_series(1, 20) g;
	SELECT lexledger.transfer(md5('fund' || g)::uuid, 1, 1 + g, '1000.00 USD')
	  FROM generate_series(1, 20) g;
});

my $connstr = $node->connstr('postgres');
my $dir = PostgreSQL::Test::Utils::tempdir;

# Each loader posts transfers one per connection and appends the id of each
# transfer to its file only after COMMIT returned: those are acknowledged.
my @loaders;
for my $l (1 .. 3)
{
	my $script = qq{
		for i in \$(seq 1 100000); do
			id=\$(printf 'c%07d-0000-0000-0000-%012d' $l \$i)
			from=\$(( (i % 20) + 2 )); to=\$(( ((i + $l) % 20) + 2 ))
			[ \$from = \$to ] && to=1
			psql -X -q -At -v ON_ERROR_STOP=1 -d "$connstr" \\
			  -c "SELECT lexledger.transfer('\$id', \$from, \$to, '0.01 USD')" >/dev/null 2>&1 \\
			  && echo \$id >> $dir/acked.$l || true
		done
	};
	push @loaders, IPC::Run::start([ 'bash', '-c', $script ]);
}
# and one loader of batches of 50
my $batch_script = qq{
	for i in \$(seq 1 100000); do
		psql -X -q -At -v ON_ERROR_STOP=1 -d "$connstr" -c "
		  SELECT count(*) FROM lexledger.transfer_batch((SELECT array_agg(ROW(
		    md5('batch-\$i-' || g)::uuid, 1, 2 + g % 20, '0.02 USD', 0, NULL, false, NULL, false
		  )::lexledger.transfer_request) FROM generate_series(1, 50) g))" >/dev/null 2>&1 \\
		  && echo \$i >> $dir/acked.batch || true
	done
};
push @loaders, IPC::Run::start([ 'bash', '-c', $batch_script ]);

# let the load run until a good number of transfers are acknowledged
my $acked = 0;
for (1 .. 600)
{
	$acked = 0;
	for my $f (glob("$dir/acked.*"))
	{
		open(my $fh, '<', $f) or next;
		my @lines = <$fh>;
		$acked += scalar @lines;
	}
	last if $acked >= 200;
	select(undef, undef, undef, 0.1);
}
ok($acked >= 200, "load running: $acked calls acknowledged before the crash");

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

# every acknowledged single transfer is present
my @ids;
for my $l (1 .. 3)
{
	next unless -f "$dir/acked.$l";
	open(my $fh, '<', "$dir/acked.$l") or die;
	chomp(my @lines = <$fh>);
	push @ids, @lines;
}
my $list = join(',', map { "'$_'" } @ids);
my $present = @ids
  ? $node->safe_psql('postgres', "SELECT count(*) FROM lexledger.transfer WHERE id IN ($list)")
  : 0;
is($present, scalar @ids, scalar(@ids) . ' acknowledged single transfers survived the crash');

# every acknowledged batch is present in full
my @batches;
if (-f "$dir/acked.batch")
{
	open(my $fh, '<', "$dir/acked.batch") or die;
	chomp(@batches = <$fh>);
}
my $missing = @batches
  ? $node->safe_psql('postgres', 'SELECT count(*) FROM unnest(ARRAY[' . join(',', @batches) . "]) b, generate_series(1, 50) g
	  WHERE NOT EXISTS (SELECT 1 FROM lexledger.transfer t WHERE t.id = md5('batch-' || b || '-' || g)::uuid)")
  : 0;
is($missing, 0, scalar(@batches) . ' acknowledged batches survived the crash whole');

ledger_is_healthy($node, 'after crash recovery');

# and the ledger takes transfers again
$node->safe_psql('postgres', q{SELECT lexledger.transfer('d0000000-0000-0000-0000-000000000001', 1, 2, '1.00 USD')});
is($node->safe_psql('postgres', 'SELECT count(*) FROM lexledger.verify()'), '0', 'posting works after restart');

$node->stop;
done_testing();
