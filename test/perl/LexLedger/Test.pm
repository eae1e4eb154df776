# Shared helpers for lexledger's TAP tests.
package LexLedger::Test;

use strict;
use warnings;
use Exporter 'import';
use PostgreSQL::Test::Cluster;
use Test::More ();

our @EXPORT_OK = qw(new_lexledger_node ledger_is_healthy);

# A fresh node with lexledger preloaded and installed in database postgres.
# Extra configuration lines may be given, after an optional hash of
# PostgreSQL::Test::Cluster::init's parameters (such as allows_streaming).
sub new_lexledger_node
{
	my ($name, @conf) = @_;
	my %init = ref $conf[0] eq 'HASH' ? %{ shift @conf } : ();
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(%init);
	$node->append_conf('postgresql.conf', join("\n",
		"shared_preload_libraries = 'lexledger'",
		"lexledger.database_name = 'postgres'",
		@conf));
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION lexledger');
	return $node;
}

# The checks every load test ends with, each a test of its own: verify()
# is clean, no account limited to its credits has spent more than it has
# (read through balance(), not verify()'s sums), and the server logged no
# deadlock.  "when" names the moment, as in "after the crash".
sub ledger_is_healthy
{
	my ($node, $when) = @_;
	my $suffix = defined $when ? " $when" : '';
	Test::More::is($node->safe_psql('postgres', 'SELECT count(*) FROM lexledger.verify()'),
		'0', "verify() is clean$suffix");
	Test::More::is($node->safe_psql('postgres', q{
		SELECT count(*) FROM lexledger.account a, lexledger.balance(a.id) b
		 WHERE a.debits_must_not_exceed_credits AND lexledger.minor_units(b.available_balance) < 0}),
		'0', "no wallet overdrawn$suffix");
	Test::More::ok(!$node->log_contains('deadlock detected'), "no deadlock in the server log$suffix");
	return;
}

1;
