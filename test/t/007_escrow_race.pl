# Holds with short timeouts, captured and released by many sessions at once
# while the expiry worker expires them: every hold ends with exactly one
# resolution, every capture or release a client saw succeed is that
# resolution, a loser always gets one of the documented codes, no hold
# expires before its timeout, the poor wallets' limits hold, and verify()
# is clean.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use LexLedger::Test qw(new_lexledger_node ledger_is_healthy);

my $node = new_lexledger_node('escrow_race', "lexledger.expiry_naptime = '100ms'",
	"deadlock_timeout = '100ms'");
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'lexledger expiry worker'"),
	'the expiry worker runs');

# race_hold() and race_resolve() turn every outcome a client may
# legitimately meet into a row of race_outcome; anything else raises, and
# pgbench counts the transaction as failed.
$node->safe_psql('postgres', q{
	SELECT lexledger.open_account('USD', 'house', name => 'house');
	SELECT lexledger.open_account('USD', 'escrow', name => 'escrow', slots => 4);
	SELECT lexledger.open_account('USD', name => 'w' || g, debits_must_not_exceed_credits => true)
	  FROM generate_series(1, 20) g;
	-- half the wallets are poor: their holds are refused often, and the
	-- captures soon drain them, so limits are enforced throughout the race
	SELECT lexledger.transfer(md5('fund' || g)::uuid, 1, 2 + g,
	                          (CASE WHEN g <= 10 THEN '10000.00 USD' ELSE '3.00 USD' END)::lexledger.amount)
	  FROM generate_series(1, 20) g;
	CREATE TABLE race_hold (n bigserial PRIMARY KEY, id uuid NOT NULL);
	CREATE TABLE race_outcome (hold_id uuid, action text, outcome text);

	CREATE FUNCTION race_hold(wallet bigint, timeout_ms integer) RETURNS void
	LANGUAGE plpgsql AS $$
	DECLARE
	  h uuid := gen_random_uuid();
	BEGIN
	  PERFORM lexledger.hold(h, wallet, 2, '1.00 USD', timeout => make_interval(secs => timeout_ms / 1000.0));
	  INSERT INTO race_hold (id) VALUES (h);
	  INSERT INTO race_outcome VALUES (h, 'hold', 'ok');
	EXCEPTION WHEN SQLSTATE 'LX110' THEN
	  INSERT INTO race_outcome VALUES (h, 'hold', 'insufficient_funds');
	END $$;

	CREATE FUNCTION race_resolve(action text) RETURNS void
	LANGUAGE plpgsql AS $$
	DECLARE
	  h uuid;
	BEGIN
	  SELECT r.id INTO h FROM race_hold r
	   WHERE r.n > (SELECT max(n) - 1000 FROM race_hold) ORDER BY random() LIMIT 1;
	  IF h IS NULL THEN
	    RETURN;
	  END IF;
	  BEGIN
	    IF action = 'capture' THEN
	      PERFORM lexledger.capture(gen_random_uuid(), h, '0.60 USD');
	    ELSE
	      PERFORM lexledger.release(gen_random_uuid(), h);
	    END IF;
	    INSERT INTO race_outcome VALUES (h, action, 'ok');
	  EXCEPTION WHEN SQLSTATE 'LX141' OR SQLSTATE 'LX142' OR SQLSTATE 'LX143' THEN
	    INSERT INTO race_outcome VALUES (h, action, split_part(SQLERRM, ':', 1));
	  END;
	END $$;
});

# the codes race_resolve() catches must be the documented ones
is($node->safe_psql('postgres', q{
	SELECT string_agg(code || '=' || sqlstate, ',' ORDER BY sqlstate) FROM lexledger.error_code
	 WHERE sqlstate IN ('LX110', 'LX141', 'LX142', 'LX143')}),
	'insufficient_funds=LX110,pending_transfer_already_posted=LX141,pending_transfer_already_voided=LX142,pending_transfer_expired=LX143',
	'the caught SQLSTATEs are insufficient_funds and the three pending_transfer_* codes');

my $dir = PostgreSQL::Test::Utils::tempdir;
PostgreSQL::Test::Utils::append_to_file("$dir/hold.sql", q{
\set w random(3, 22)
\set t random(10, 300)
SELECT race_hold(:w, :t);
});
PostgreSQL::Test::Utils::append_to_file("$dir/capture.sql", q{
SELECT race_resolve('capture');
});
PostgreSQL::Test::Utils::append_to_file("$dir/release.sql", q{
SELECT race_resolve('release');
});

my ($stdout, $stderr) = run_command(
	[ 'pgbench', '-n', '-c', '6', '-j', '2', '-T', '8',
	  '-f', "$dir/hold.sql\@2", '-f', "$dir/capture.sql", '-f', "$dir/release.sql",
	  '-d', $node->connstr('postgres') ]);
like($stdout, qr/number of failed transactions: 0 /, 'pgbench counts no failed transaction');
unlike($stderr, qr/ERROR|abort/i, 'six clients holding, capturing and releasing hit no unexpected error');

# every hold has a timeout of at most 300 ms: wait for the worker to expire the rest
ok($node->poll_query_until('postgres', 'SELECT count(*) = 0 FROM lexledger.pending_transfer'),
	'the worker expires every hold left');

my %n = map { split /\|/ } split /\n/, $node->safe_psql('postgres', q{
	SELECT action || '_' || outcome, count(*) FROM race_outcome GROUP BY 1});
my %kind = map { split /\|/ } split /\n/, $node->safe_psql('postgres', q{
	SELECT kind, count(*) FROM lexledger.transfer WHERE kind <> 'posted' GROUP BY kind});
diag(join(', ', map { "$_ $n{$_}" } sort keys %n));

is($kind{pending} // 0, $n{hold_ok} // 0, 'every hold a client saw succeed exists, and no other');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM lexledger.transfer h
	 WHERE h.kind = 'pending'
	   AND (SELECT count(*) FROM lexledger.transfer r WHERE r.pending_id = h.id) <> 1}),
	'0', 'every hold has exactly one resolution');
is($kind{post_pending} // 0, $n{capture_ok} // 0, 'the captures that succeeded are the posted resolutions');
is($kind{void_pending} // 0, $n{release_ok} // 0, 'the releases that succeeded are the voided resolutions');
ok(($kind{expire_pending} // 0) > 0, 'the worker expired holds');
ok(($n{capture_ok} // 0) > 0 && ($n{release_ok} // 0) > 0, 'captures and releases succeeded');
ok(($n{capture_pending_transfer_already_posted} // 0) + ($n{release_pending_transfer_already_posted} // 0)
	+ ($n{capture_pending_transfer_already_voided} // 0) + ($n{release_pending_transfer_already_voided} // 0) > 0,
	'some resolutions lost a race to another one');
ok(($n{capture_pending_transfer_expired} // 0) + ($n{release_pending_transfer_expired} // 0) > 0,
	'some resolutions came after the timeout');
ok(($n{hold_insufficient_funds} // 0) > 0, 'some holds were refused for insufficient_funds');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM lexledger.transfer r JOIN lexledger.hold h ON h.id = r.pending_id
	 WHERE r.kind = 'expire_pending' AND r.created_at < h.expires_at}),
	'0', 'no hold expired before its timeout');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM race_outcome o JOIN lexledger.hold h ON h.id = o.hold_id
	 WHERE o.outcome = 'ok' AND o.action IN ('capture', 'release')
	   AND h.status::text <> CASE o.action WHEN 'capture' THEN 'posted' ELSE 'voided' END}),
	'0', 'each successful capture or release is what its hold says became of it');
ledger_is_healthy($node);

$node->stop;
done_testing();
