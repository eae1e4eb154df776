# lexledger's schema must be a superuser's, named lexledger, and let no
# other role create in it: a role that owns it, or may create in it, could
# rename it and put functions of lexledger's names in its place, which the
# expiry worker would call as a superuser.  CREATE EXTENSION refuses such a
# schema, and the guard keeps it so afterwards.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use LexLedger::Test qw(new_lexledger_node);

my $node = new_lexledger_node('schema');
$node->safe_psql('postgres', q{
	CREATE ROLE app LOGIN;
	CREATE DATABASE appdb OWNER app;
});
# the bootstrap superuser: postgres as root, the user running the tests else
my $su = $node->safe_psql('postgres', 'SELECT current_user');

sub psql_err
{
	my ($db, $sql, %opt) = @_;
	my ($ret, $stdout, $stderr) = $node->psql($db, $sql, %opt);
	return $ret == 0 ? 'ok' : ($stderr =~ /ERROR:\s+(.*)/ ? $1 : $stderr);
}

# a schema that the role made (it owns the database) before the extension,
# with a function of its own in it that matches a call of lexledger's
# better than lexledger's own (amount_from_minor takes a bigint)
$node->safe_psql('appdb', q{
	CREATE SCHEMA lexledger;
	CREATE FUNCTION lexledger.amount_from_minor(integer, text) RETURNS text LANGUAGE sql AS 'SELECT $2';
}, extra_params => [ '-U', 'app' ]);
like(psql_err('appdb', 'CREATE EXTENSION lexledger'),
	qr/^schema_not_trusted: schema lexledger belongs to app, who is not a superuser/,
	'CREATE EXTENSION refuses a schema lexledger that another role owns');
$node->safe_psql('appdb', 'ALTER SCHEMA lexledger OWNER TO CURRENT_USER');
like(psql_err('appdb', 'CREATE EXTENSION lexledger'),
	qr/^schema_not_trusted: schema lexledger is not empty/,
	'... and one that holds something already, even once a superuser owns it');
$node->safe_psql('appdb', 'DROP FUNCTION lexledger.amount_from_minor(integer, text); GRANT CREATE ON SCHEMA lexledger TO app');
like(psql_err('appdb', 'CREATE EXTENSION lexledger'),
	qr/^schema_not_trusted: app may create in schema lexledger/,
	'... and one that another role may create in');
$node->safe_psql('appdb', 'REVOKE CREATE ON SCHEMA lexledger FROM app; GRANT CREATE ON SCHEMA lexledger TO PUBLIC');
like(psql_err('appdb', 'CREATE EXTENSION lexledger'),
	qr/^schema_not_trusted: PUBLIC may create in schema lexledger/,
	'... or everyone');
$node->safe_psql('appdb', 'REVOKE CREATE ON SCHEMA lexledger FROM PUBLIC');
is(psql_err('appdb', 'CREATE EXTENSION lexledger'), 'ok', 'a superuser\'s schema is used');

# afterwards the guard refuses to give the schema away, to let another role
# create in it, or to rename it, even to a superuser
like(psql_err('appdb', 'ALTER SCHEMA lexledger OWNER TO app'),
	qr/^schema_not_trusted: lexledger's schema lexledger belongs to app/,
	'the schema cannot be given to another role');
like(psql_err('appdb', 'GRANT CREATE ON SCHEMA lexledger TO app'),
	qr/^schema_not_trusted: lexledger's schema lexledger belongs to \Q$su\E, and app may create in it/,
	'no other role may be let create in it');
like(psql_err('appdb', 'ALTER SCHEMA lexledger RENAME TO ledger'),
	qr/^schema_not_trusted: lexledger's schema ledger belongs to \Q$su\E/,
	'it cannot be renamed');
is($node->safe_psql('appdb', q{
	SELECT n.nspname || ' ' || pg_get_userbyid(n.nspowner) || ' ' || coalesce(n.nspacl::text, 'default')
	  FROM pg_namespace n JOIN pg_extension e ON e.extnamespace = n.oid WHERE e.extname = 'lexledger'}),
	"lexledger $su {$su=UC/$su}", 'the schema is as it was');
is(psql_err('appdb', 'GRANT USAGE ON SCHEMA lexledger TO app'), 'ok', 'USAGE may be granted');
like(psql_err('appdb', q{
	CREATE FUNCTION lexledger.helper() RETURNS int LANGUAGE sql AS 'SELECT 1';
	ALTER FUNCTION lexledger.helper() OWNER TO app}),
	qr/^schema_not_trusted: function lexledger.helper\(\) in lexledger's schema belongs to app, who is not a superuser/,
	'nothing in it may be given to another role');
is(psql_err('appdb', 'CREATE TABLE app_notes (t text)', extra_params => [ '-U', 'app' ]), 'ok',
	'other DDL goes on');

$node->stop;
done_testing();
