# The expiry worker releases holds within seconds of their timeout, survives
# the extension being dropped and created again, and pg_cron runs the
# nightly verify job that schedule_maintenance() registers.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use LexLedger::Test qw(new_lexledger_node);

my $node = new_lexledger_node('expiry',
	"lexledger.expiry_naptime = '200ms'",
	"shared_preload_libraries = 'lexledger, pg_cron'",
	"cron.database_name = 'postgres'",
	"cron.use_background_workers = on",
	"max_worker_processes = 16");

ok($node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'lexledger expiry worker'"),
	'the expiry worker runs');

$node->safe_psql('postgres', q{
	SELECT lexledger.open_account('USD', 'house', name => 'house');
	SELECT lexledger.open_account('USD', 'escrow', name => 'escrow');
	SELECT lexledger.open_account('USD', name => 'punter', debits_must_not_exceed_credits => true);
	SELECT lexledger.transfer('a0000000-0000-0000-0000-000000000001', 1, 3, '10.00 USD');
	SELECT lexledger.hold('a0000000-0000-0000-0000-000000000002', 3, 2, '4.00 USD', timeout => '1 second');
	SELECT lexledger.hold('a0000000-0000-0000-0000-000000000003', 3, 2, '1.00 USD', timeout => '1 hour');
});
is($node->safe_psql('postgres', q{SELECT available_balance FROM lexledger.balance(3)}),
	'5.00 USD', 'holds reduce the available balance');

ok($node->poll_query_until('postgres', q{
	SELECT status = 'expired' FROM lexledger.hold
	 WHERE id = 'a0000000-0000-0000-0000-000000000002'}),
	'the worker released the hold after its timeout');
is($node->safe_psql('postgres', q{
	SELECT status FROM lexledger.hold WHERE id = 'a0000000-0000-0000-0000-000000000003'}),
	'pending', 'a hold with time left stays');
is($node->safe_psql('postgres', q{
	SELECT extract(epoch FROM h.resolved_at - h.expires_at) < 10 FROM lexledger.hold h
	 WHERE id = 'a0000000-0000-0000-0000-000000000002'}),
	't', 'released within seconds of the timeout');
is($node->safe_psql('postgres', q{SELECT available_balance FROM lexledger.balance(3)}),
	'9.00 USD', 'the expired hold returned its funds');
is($node->safe_psql('postgres', 'SELECT count(*) FROM lexledger.verify()'), '0', 'verify is clean');

# A hold that cannot expire (a row of a table references it: through a
# plain key, a deferred one, or with the row locked by an open
# transaction) does not stop the worker: it logs a WARNING naming the hold,
# the hold due after it expires, and it expires once the row is gone.
my $poison_worker = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'lexledger expiry worker'");

# hold_status_becomes(ID, STATUS, NAME): waits until hold ID has STATUS.
sub hold_status_becomes
{
	my ($id, $status, $name) = @_;
	ok($node->poll_query_until('postgres',
		"SELECT status = '$status' FROM lexledger.hold WHERE id = '$id'"), $name);
}

# referenced_hold(TABLE, KEY_OPTIONS, STUCK, LATER): creates TABLE with a
# key to the holds, hold STUCK (due in 1 s) with a row of TABLE that
# references it, and hold LATER (due in 3 s, with nothing referencing it).
# A code block given as fifth argument runs between the two holds.
sub referenced_hold
{
	my ($table, $key_options, $stuck, $later, $between) = @_;
	$node->safe_psql('postgres', qq{
		CREATE TABLE $table (hold_id uuid REFERENCES lexledger.pending_transfer (transfer_id) $key_options);
		BEGIN;
		SELECT lexledger.hold('$stuck', 3, 2, '1.00 USD', timeout => '1 second');
		INSERT INTO $table VALUES ('$stuck');
		COMMIT;
	});
	$between->() if $between;
	$node->safe_psql('postgres', qq{SELECT lexledger.hold('$later', 3, 2, '2.00 USD', timeout => '3 seconds')});
}

my $poison_offset = -s $node->logfile;
referenced_hold('bet_stake', '', 'a0000000-0000-0000-0000-000000000004', 'a0000000-0000-0000-0000-000000000005');
hold_status_becomes('a0000000-0000-0000-0000-000000000005', 'expired',
	'a hold due after one that cannot expire expires');
hold_status_becomes('a0000000-0000-0000-0000-000000000004', 'pending',
	'the hold that cannot expire stays pending');
like(slurp_file($node->logfile, $poison_offset),
	qr/WARNING:  hold_not_expired: hold a0000000-0000-0000-0000-000000000004 could not expire \(failure 1\): update or delete on table "pending_transfer" violates foreign key constraint/,
	'the worker logs which hold could not expire, and why');
$node->safe_psql('postgres', 'DROP TABLE bet_stake');
hold_status_becomes('a0000000-0000-0000-0000-000000000004', 'expired', 'once nothing references it, it expires');
is($node->safe_psql('postgres', 'SELECT count(*) FROM lexledger.verify()'), '0', 'verify is still clean');

# With a deferred key: its check fires at once in the worker's round,
# inside the hold's subtransaction, not at the round's commit.
referenced_hold('bet_stake_deferred', 'DEFERRABLE INITIALLY DEFERRED',
	'a0000000-0000-0000-0000-000000000006', 'a0000000-0000-0000-0000-000000000007');
hold_status_becomes('a0000000-0000-0000-0000-000000000007', 'expired',
	'a hold due after one that a deferred key references expires');
hold_status_becomes('a0000000-0000-0000-0000-000000000006', 'pending',
	'the hold that a deferred key references stays pending');
$node->safe_psql('postgres', 'DROP TABLE bet_stake_deferred');
hold_status_becomes('a0000000-0000-0000-0000-000000000006', 'expired', 'once the deferred key is gone, it expires');

# With the referencing row locked by an application: the key's check waits
# at most the round's lock_timeout (100 ms), and the hold is left for later;
# once the application deleted its row and committed, the hold expires too.
my $lock_offset = -s $node->logfile;
my $app = $node->background_psql('postgres');
referenced_hold('bet_slip', '', 'a0000000-0000-0000-0000-000000000008', 'a0000000-0000-0000-0000-000000000009',
	sub { $app->query_safe('BEGIN'); $app->query_safe('SELECT * FROM bet_slip FOR UPDATE'); });
hold_status_becomes('a0000000-0000-0000-0000-000000000009', 'expired',
	'a hold due after one whose referencing row is locked expires meanwhile');
hold_status_becomes('a0000000-0000-0000-0000-000000000008', 'pending',
	'the hold whose referencing row is locked stays pending');
like(slurp_file($node->logfile, $lock_offset),
	qr/WARNING:  hold_not_expired: hold a0000000-0000-0000-0000-000000000008 could not expire \(failure \d+\): canceling statement due to lock timeout/,
	'the worker gave up waiting for the row, and said so');
$app->query_safe('DELETE FROM bet_slip');
$app->query_safe('COMMIT');
$app->quit;
hold_status_becomes('a0000000-0000-0000-0000-000000000008', 'expired', 'once the row is gone, it expires');
$node->safe_psql('postgres', 'DROP TABLE bet_slip');
is($node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'lexledger expiry worker'"),
	$poison_worker, 'the worker went on in the same process');

# Without the extension the worker waits quietly, and picks up again: the
# same process, with no error (a worker that exited would be restarted by
# the postmaster within seconds, so only its pid tells it survived).
my $worker_before = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'lexledger expiry worker'");
my $log_offset = -s $node->logfile;
$node->safe_psql('postgres', 'DROP EXTENSION lexledger CASCADE');
sleep 2;    # ten naptimes of 200 ms without the extension
is($node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'lexledger expiry worker'"),
	$worker_before, 'the worker survives DROP EXTENSION (same process)');
my $log_since_drop = slurp_file($node->logfile, $log_offset);
unlike($log_since_drop, qr/expiry worker.*(ERROR|exited)|ERROR:.*expire_holds/,
	'the worker logged no error without the extension');
$node->safe_psql('postgres', q{
	CREATE EXTENSION lexledger;
	SELECT lexledger.open_account('USD', 'house', name => 'house');
	SELECT lexledger.open_account('USD', 'escrow', name => 'escrow');
	SELECT lexledger.hold('b0000000-0000-0000-0000-000000000001',
	  (SELECT id FROM lexledger.account WHERE name = 'house'),
	  (SELECT id FROM lexledger.account WHERE name = 'escrow'), '1.00 USD', timeout => '1 second');
});
ok($node->poll_query_until('postgres', q{
	SELECT status = 'expired' FROM lexledger.hold
	 WHERE id = 'b0000000-0000-0000-0000-000000000001'}),
	'after CREATE EXTENSION again, holds expire');

# A crashed worker is restarted by the postmaster.
my $pid = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'lexledger expiry worker'");
$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'lexledger expiry worker' AND pid <> $pid"),
	'a terminated worker comes back');

# pg_cron runs the verify job (pg_cron 1.4 schedules by the minute).
$node->safe_psql('postgres', 'CREATE EXTENSION pg_cron');
is($node->safe_psql('postgres', q{SELECT job || ' ' || schedule FROM lexledger.schedule_maintenance('* * * * *')}),
	'lexledger-verify * * * * *', 'schedule_maintenance registers the verify job');
$node->safe_psql('postgres', q{SELECT lexledger.schedule_maintenance('* * * * *')});
is($node->safe_psql('postgres', q{SELECT count(*) FROM cron.job WHERE jobname = 'lexledger-verify'}),
	'1', 'registering twice keeps one job');
# a null or malformed schedule is refused with invalid_schedule, and the
# job keeps its schedule
for my $bad ('NULL', q{'not a schedule'}, q{''})
{
	my ($ret, $stdout, $stderr) = $node->psql('postgres',
		"SELECT * FROM lexledger.schedule_maintenance($bad)", extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	like($stderr, qr/ERROR:  22023: invalid_schedule: /, "schedule_maintenance($bad) fails with invalid_schedule");
}
is($node->safe_psql('postgres', q{SELECT schedule FROM cron.job WHERE jobname = 'lexledger-verify'}),
	'* * * * *', 'the refused schedules left the job as it was');
# lexledger in a database without pg_cron: scheduled from pg_cron's, as
# operations.md shows
$node->safe_psql('postgres', 'CREATE DATABASE ledgerdb');
$node->safe_psql('ledgerdb', 'CREATE EXTENSION lexledger');
$node->safe_psql('postgres', q{
	SELECT cron.schedule_in_database('ledgerdb-verify', '* * * * *', 'SELECT lexledger.record_verify()', 'ledgerdb')});
$node->safe_psql('postgres', "SET statement_timeout = 0");
ok($node->poll_query_until('postgres', 'SELECT count(*) > 0 FROM lexledger.verify_run'),
	'pg_cron ran lexledger.record_verify()');
is($node->safe_psql('postgres', 'SELECT problems FROM lexledger.verify_run ORDER BY id LIMIT 1'),
	'0', 'the recorded run found no problem');
ok($node->poll_query_until('ledgerdb', 'SELECT count(*) > 0 FROM lexledger.verify_run'),
	'pg_cron ran record_verify() in another database (cron.schedule_in_database)');

$node->stop;
done_testing();
