# A batch on its careful path whose attempts concurrent transactions undo
# again and again keeps the memory of one attempt, not of all of them: each
# attempt runs in an SPI connection of its own, freed when it ends.  A
# second session funds a wallet the batch spends from while the batch waits
# for the wallet's row, so that every locked play posts a request that the
# unlocked read refused (a play that posts fewer is kept, by taking back
# the others, so only more funds undo an attempt); each time, it has the
# waiting batch log its memory contexts.
use strict;
use warnings;
use IPC::Run;
use PostgreSQL::Test::Utils;
use Test::More;
use LexLedger::Test qw(new_lexledger_node ledger_is_healthy);

my $node = new_lexledger_node('attempts');
$node->safe_psql('postgres', q{
	SELECT lexledger.open_account('USD', 'house', name => 'house', slots => 1);
	SELECT lexledger.open_account('USD', name => 'w', debits_must_not_exceed_credits => true);
	SELECT lexledger.open_account('USD', name => 'u1');
	SELECT lexledger.open_account('USD', name => 'u2');
	SELECT lexledger.transfer('00000000-0000-0000-0000-000000000001', 3, 4, '1.00 USD');
	-- the batch's backend, once it runs
	CREATE FUNCTION batch_pid() RETURNS int LANGUAGE sql AS $$
	  SELECT pid FROM pg_stat_activity WHERE application_name = 'careful_batch'
	$$;
	-- true once the batch waits for the caller, false after 60 s
	CREATE FUNCTION batch_waits_for_me() RETURNS boolean LANGUAGE plpgsql AS $$
	BEGIN
	  FOR i IN 1 .. 6000 LOOP
	    -- pg_stat_activity is read once per transaction unless cleared,
	    -- and the first funding starts before the batch
	    PERFORM pg_stat_clear_snapshot();
	    IF pg_blocking_pids(batch_pid()) @> ARRAY[pg_backend_pid()] THEN RETURN true; END IF;
	    PERFORM pg_sleep(0.01);
	  END LOOP;
	  RETURN false;
	END $$;
});

# 20,000 new transfers between u1 and u2, the retry that sends the batch
# down its careful path, and five times 1.00 from w (account 2) to the
# house: the n-th posts only when w holds n.00
my $batch = q{
SELECT result, count(*) FROM lexledger.transfer_batch(
  ARRAY[ROW('00000000-0000-0000-0000-000000000001', 3, 4, '1.00 USD', 0, NULL, false, NULL, false)::lexledger.transfer_request,
        ROW(gen_random_uuid(), 2, 1, '1.00 USD', 0, NULL, false, NULL, false)::lexledger.transfer_request,
        ROW(gen_random_uuid(), 2, 1, '1.00 USD', 0, NULL, false, NULL, false)::lexledger.transfer_request,
        ROW(gen_random_uuid(), 2, 1, '1.00 USD', 0, NULL, false, NULL, false)::lexledger.transfer_request,
        ROW(gen_random_uuid(), 2, 1, '1.00 USD', 0, NULL, false, NULL, false)::lexledger.transfer_request,
        ROW(gen_random_uuid(), 2, 1, '1.00 USD', 0, NULL, false, NULL, false)::lexledger.transfer_request]
  || (SELECT array_agg(ROW(gen_random_uuid(), 3, 4, '0.01 USD', 0, '{"note": "a reference of modest size"}', false, NULL, false)::lexledger.transfer_request)
        FROM generate_series(1, 20000))) GROUP BY result ORDER BY result};
# One session funds w five times, each time holding w's row until the
# batch waits for it, and starts the next funding the moment it commits:
# the batch's next attempt reads, looks its ids up and inserts 20,000 rows
# before it locks, so it always finds the next funding holding the row.
# The first funding holds the row before the batch starts.
my $funding = join '', map { q{
BEGIN;
SELECT 1 FROM lexledger.transfer(gen_random_uuid(), 1, 2, '1.00 USD');
SELECT batch_waits_for_me();
SELECT pg_log_backend_memory_contexts(batch_pid());
SELECT pg_sleep(0.3);
COMMIT;
} } 1 .. 5;
my $funding_file = PostgreSQL::Test::Utils::tempdir . '/funding.sql';
PostgreSQL::Test::Utils::append_to_file($funding_file, $funding);
my ($fout, $ferr) = ('', '');
my $funder = IPC::Run::start(
	[ 'psql', '-XAtq', '-d', $node->connstr('postgres'),
	  '-c', "SET application_name = 'funder'", '-f', $funding_file ],
	'>', \$fout, '2>', \$ferr);
ok( $node->poll_query_until('postgres',
		q{SELECT count(*) = 1 FROM pg_stat_activity
		   WHERE application_name = 'funder' AND query LIKE '%batch_waits_for_me%'}),
	'the first funding holds the row');

my ($out, $err) = ('', '');
my $h = IPC::Run::start(
	[ 'psql', '-XAtq', '-d', $node->connstr('postgres'),
	  '-c', "SET application_name = 'careful_batch'", '-c', 'SET lexledger.batch_attempts = 100',
	  '-c', $batch ],
	'>', \$out, '2>', \$err);

my $pid;
foreach (1 .. 600)
{
	$pid = $node->safe_psql('postgres', q{SELECT batch_pid()});
	last if $pid ne '';
	usleep(50_000);
}
ok($pid ne '', 'the batch runs');

$funder->finish;
$h->finish;
chomp $out;
my $fundings = () = $fout =~ /^1\nt\nt\n/mg;
is($fundings, 5, 'the batch waited for each of the five fundings');
# after five fundings w holds 5.00, so its five requests post too
is($out, "exists|1\nok|20005", 'the batch posted its 20,005 transfers once its last attempt stood');

my @totals = map { /Grand total: (\d+) bytes/ ? $1 : () }
  grep { /\[$pid\]/ } split /\n/, slurp_file($node->logfile);
is(scalar @totals, 5, 'the batch logged its memory five times');
my ($low, $high) = (sort { $a <=> $b } @totals)[ 0, -1 ];
cmp_ok($high - $low, '<', 2 * 1024 * 1024,
	"its memory did not grow from attempt to attempt ($low to $high bytes)");
ledger_is_healthy($node);

$node->stop;
done_testing();
