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

# user + system CPU time of a process, in clock ticks (/proc/PID/stat)
sub backend_cpu_ticks
{
	my ($p) = @_;
	open(my $fh, '<', "/proc/$p/stat") or return undef;
	my $line = <$fh>;
	close($fh);
	# the command name, in parentheses, may hold spaces: split after it
	$line =~ s/^.*\)\s+// or return undef;
	my @f = split /\s+/, $line;
	return $f[11] + $f[12];    # fields 14 and 15 of the whole line
}

sub backend_rss_anon_kb
{
	my ($p) = @_;
	open(my $fh, '<', "/proc/$p/status") or return undef;
	while (my $line = <$fh>)
	{
		return $1 if $line =~ /^RssAnon:\s+(\d+)\s+kB/;
	}
	return undef;
}

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

# Samples the backend's private memory and CPU time until the call ends.
# Only samples taken while it was using the CPU count as watching it work:
# the pg_sleep before the call must not pass for the call.
my ($peak_kb, $busy_samples, $last_cpu) = (0, 0, undef);
while ($expiry->pumpable)
{
	my $cpu = backend_cpu_ticks($pid);
	if (defined $cpu)
	{
		$busy_samples++ if defined $last_cpu && $cpu > $last_cpu;
		$last_cpu = $cpu;
		my $rss = backend_rss_anon_kb($pid);
		$peak_kb = $rss if defined $rss && $rss > $peak_kb;
	}
	$expiry->pump_nb;
	select(undef, undef, undef, 0.02);
}
$expiry->finish;
chomp $out;
is($out, "|$holds", "one call expired all $holds holds") or diag($err);
cmp_ok($busy_samples, '>=', 10, "the backend was watched while it worked ($busy_samples samples)");
cmp_ok($peak_kb, '<', $limit_kb, "its private memory stayed under 64 MB (peak $peak_kb kB)");
is($node->safe_psql('holds', q{SELECT count(*) FROM lexledger.pending_transfer}), '0', 'no hold is left pending');
is($node->safe_psql('holds', q{SELECT count(*) FROM lexledger.verify()}), '0', 'verify is clean');

$node->stop;
done_testing();
