# Shared helpers for lexledger's TAP tests.
package LexLedger::Test;

use strict;
use warnings;
use Exporter 'import';
use PostgreSQL::Test::Cluster;

our @EXPORT_OK = qw(new_lexledger_node);

# A fresh node with lexledger preloaded and installed in database postgres.
# Extra configuration lines may be given.
sub new_lexledger_node
{
	my ($name, @conf) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->append_conf('postgresql.conf', join("\n",
		"shared_preload_libraries = 'lexledger'",
		"lexledger.database_name = 'postgres'",
		@conf));
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION lexledger');
	return $node;
}

1;
