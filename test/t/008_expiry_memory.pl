# expire_holds() frees what each expiry allocates before the next: a
# backend expiring 20,000 holds in one call stays within a few megabytes
# of private memory (before, it kept every expiry's query results until the
# call returned: about 770 MB for 20,000 holds).
use strict;
use warnings;
use IPC::Run;
use PostgreSQL::Test::Utils;
use Test::More;
use LexLedger::Test qw(new_lexledger_node);

my $holds = 20000;
my $limit_kb = 64 * 1024;

# the holds live in a database of their own, out of the worker's reach
my $node = new_lexledger_node('expiry_memory');
$node->safe_psql('postgres', 'CREATE DATABASE holds');
$node->safe_psql('holds', 'CREATE EXTENSION lexledger');
$node->safe_psql('holds', qq{
	SELECT lexledger.open_account('USD', 'house', name => 'house');
	SELECT lexledger.open_account('USD', 'escrow', name => 'escrow');
	SELECT count(lexledger.hold(gen_random_uuid(), 1, 2, '0.01 USD', timeout => '1 microsecond'))
	  FROM generate_series(1, $holds);
});

# the call waits a moment first, so that its backend can be found and watched
my ($out, $err) = ('', '');
my $expiry = IPC::Run::start(
	[ 'psql', '-X', '-At', '-d', $node->connstr('holds'),
	  '-c', "SELECT pg_sleep(1), lexledger.expire_holds($holds) /* watched */" ],
	'>', \$out, '2>', \$err);
my $pid;
ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM pg_stat_activity WHERE query LIKE '%/* watched */' AND pid <> pg_backend_pid()}),
	'the expiring backend is found');
$pid = $node->safe_psql('postgres', q{
	SELECT pid FROM pg_stat_activity WHERE query LIKE '%/* watched */' AND pid <> pg_backend_pid()});

my ($peak_kb, $samples) = (0, 0);
while ($expiry->pumpable)
{
	if (open(my $status, '<', "/proc/$pid/status"))
	{
		while (my $line = <$status>)
		{
			if ($line =~ /^RssAnon:\s+(\d+)\s+kB/)
			{
				$peak_kb = $1 if $1 > $peak_kb;
				$samples++;
			}
		}
		close($status);
	}
	$expiry->pump_nb;
	select(undef, undef, undef, 0.02);
}
$expiry->finish;
chomp $out;
is($out, "|$holds", "one call expired all $holds holds") or diag($err);
cmp_ok($samples, '>', 10, 'the backend was watched while it worked');
cmp_ok($peak_kb, '<', $limit_kb, "its private memory stayed under 64 MB (peak $peak_kb kB)");
is($node->safe_psql('holds', q{SELECT count(*) FROM lexledger.pending_transfer}), '0', 'no hold is left pending');
is($node->safe_psql('holds', q{SELECT count(*) FROM lexledger.verify()}), '0', 'verify is clean');

$node->stop;
done_testing();
