# 511_mcp_login_role.pl -- the privilege check looks at the role that logged
# in and every role it can become, not at current_user.  A connection that
# sets its current role to nadia_bgw_reader (options='-c role=...', ALTER
# ROLE ... SET role) is still the login role, which can RESET ROLE or SET
# ROLE to any role it is a member of: each case below passed the 1.0 check
# (it looked at current_user only) and is refused now, naming the problem.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NadiaTest;
use NadiaMcp;

my $node = nadia_node('mcp_login_role');
my $v16 = $node->safe_psql('postgres', 'SHOW server_version_num') >= 160000;
$node->safe_psql('postgres', q{
	CREATE TABLE public.interactions (id int PRIMARY KEY, user_message text);
	INSERT INTO public.interactions VALUES (1, 'my card is 4111-1111');
	CREATE TABLE public.orders (id int);
	CREATE ROLE app_admin NOLOGIN;
	GRANT SELECT ON public.interactions TO app_admin;
	CREATE ROLE app_owner NOLOGIN;
	ALTER TABLE public.orders OWNER TO app_owner;
	-- the owner revoked its own privileges: it can grant them back at will
	REVOKE ALL ON public.orders FROM app_owner;
	CREATE ROLE team NOLOGIN NOINHERIT IN ROLE pg_read_server_files;
});

# --check with a connection string; returns (exit status, stdout, stderr)
sub check
{
	my ($conninfo) = @_;
	my ($o, $e);
	IPC::Run::run([ mcp_bin(), '--check', $conninfo ], '<', \undef, '>', \$o, '2>', \$e,
		IPC::Run::timeout(60));
	return ($? >> 8, $o, $e);
}

sub refused
{
	my ($name, $conninfo, $re) = @_;
	my ($rc, $o, $e) = check($conninfo);
	is($rc, 2, "refused: $name");
	like($e, $re, "... names the problem") or diag($e);
	is($o, '', '... prints nothing on stdout');
}

# the good case, and the same role with its current role set to the reader
my $good = mcp_make_role($node, 'postgres', 'mcp_good');
my ($rc, $o, $e) = check(mcp_conninfo($node, $good));
is($rc, 0, 'a login role that is a member of nadia_bgw_reader only: served') or diag($e);
like($o, qr/checks passed/, '... checks passed');
($rc, $o, $e) = check(mcp_conninfo($node, $good) . " options='-c role=nadia_bgw_reader'");
is($rc, 0, '... also with options -c role=nadia_bgw_reader') or diag($e);

# a superuser whose connection string sets role=nadia_bgw_reader
refused('superuser with options -c role=nadia_bgw_reader',
	mcp_conninfo($node, 'postgres') . " options='-c role=nadia_bgw_reader'",
	qr/role postgres is a superuser/);

# a pg_read_all_data member whose login sets role=nadia_bgw_reader
$node->safe_psql('postgres', q{
	CREATE ROLE mcp_rad LOGIN IN ROLE nadia_bgw_reader, pg_read_all_data;
	ALTER ROLE mcp_rad SET role = nadia_bgw_reader;
});
is($node->safe_psql('postgres', 'SELECT current_user', extra_params => [ '-U', 'mcp_rad' ]),
	'nadia_bgw_reader', '(mcp_rad logs in with current_user nadia_bgw_reader)');
refused('pg_read_all_data member with ALTER ROLE ... SET role',
	mcp_conninfo($node, 'mcp_rad'), qr/role mcp_rad is a member of pg_read_all_data/);

# the same through the database's default role setting
$node->safe_psql('postgres', q{
	CREATE ROLE mcp_dbrole LOGIN IN ROLE nadia_bgw_reader, pg_write_all_data;
	ALTER ROLE mcp_dbrole IN DATABASE postgres SET role = nadia_bgw_reader;
});
refused('pg_write_all_data member with ALTER ROLE ... IN DATABASE ... SET role',
	mcp_conninfo($node, 'mcp_dbrole'), qr/role mcp_dbrole is a member of pg_write_all_data/);

# a NOINHERIT login role: it does not use app_admin's privileges, but one
# SET ROLE app_admin reads the application
$node->safe_psql('postgres', q{
	CREATE ROLE mcp_noinherit LOGIN NOINHERIT IN ROLE nadia_bgw_reader, app_admin;
	ALTER ROLE mcp_noinherit SET role = nadia_bgw_reader;
});
refused('NOINHERIT member of a role that reads the application',
	mcp_conninfo($node, 'mcp_noinherit'),
	qr/role app_admin \(reached from login role mcp_noinherit: mcp_noinherit > app_admin\) can read application table public\.interactions/);

# a member, through a NOINHERIT group, of pg_read_server_files
$node->safe_psql('postgres', q{
	CREATE ROLE mcp_team LOGIN IN ROLE nadia_bgw_reader, team;
});
refused('member of pg_read_server_files through a NOINHERIT group',
	mcp_conninfo($node, 'mcp_team'),
	qr/role mcp_team is a member of pg_read_server_files \(through team\)/);

# a member of the role that owns an application table (and revoked its own
# privileges on it, so that no has_table_privilege() sees it)
$node->safe_psql('postgres', q{
	CREATE ROLE mcp_owner LOGIN IN ROLE nadia_bgw_reader, app_owner;
});
refused('member of the owner of an application table',
	mcp_conninfo($node, 'mcp_owner'),
	qr/role app_owner \(reached from login role mcp_owner: mcp_owner > app_owner\) owns table public\.orders/);

# catalogs PUBLIC cannot read: password hashes, column statistics
$node->safe_psql('postgres', q{
	CREATE ROLE mcp_authid LOGIN IN ROLE nadia_bgw_reader;
	GRANT SELECT (rolname, rolpassword) ON pg_catalog.pg_authid TO mcp_authid;
	CREATE ROLE mcp_stat LOGIN IN ROLE nadia_bgw_reader;
	GRANT SELECT ON pg_catalog.pg_statistic TO mcp_stat;
});
refused('SELECT on pg_authid.rolpassword', mcp_conninfo($node, 'mcp_authid'),
	qr/role mcp_authid can read pg_catalog\.pg_authid\.rolpassword, which nadia_bgw_reader cannot/);
refused('SELECT on pg_statistic', mcp_conninfo($node, 'mcp_stat'),
	qr/role mcp_stat can read pg_catalog\.pg_statistic\.\w+, which nadia_bgw_reader cannot/);

# predefined roles beyond the 1.0 list, a foreign server
$node->safe_psql('postgres', q{
	CREATE ROLE mcp_signal LOGIN IN ROLE nadia_bgw_reader, pg_signal_backend;
	CREATE FOREIGN DATA WRAPPER dummy_fdw;
	CREATE SERVER other_db FOREIGN DATA WRAPPER dummy_fdw;
	CREATE ROLE mcp_fdw LOGIN IN ROLE nadia_bgw_reader;
	GRANT USAGE ON FOREIGN SERVER other_db TO mcp_fdw;
});
refused('member of pg_signal_backend', mcp_conninfo($node, 'mcp_signal'),
	qr/role mcp_signal is a member of pg_signal_backend/);
refused('USAGE on a foreign server', mcp_conninfo($node, 'mcp_fdw'),
	qr/role mcp_fdw can use foreign server other_db/);

# default privileges: the next table the application creates is readable
$node->safe_psql('postgres', q{
	CREATE ROLE mcp_defacl LOGIN IN ROLE nadia_bgw_reader;
	ALTER DEFAULT PRIVILEGES FOR ROLE app_owner IN SCHEMA public GRANT SELECT ON TABLES TO mcp_defacl;
});
refused('named in ALTER DEFAULT PRIVILEGES', mcp_conninfo($node, 'mcp_defacl'),
	qr/role mcp_defacl is granted SELECT on new tables of role app_owner in schema public \(ALTER DEFAULT PRIVILEGES\)/);

# a large object every role may read refuses every role, the good one too
my $lo = $node->safe_psql('postgres', q{
	SELECT lo_from_bytea(0, 'secret'::bytea)});
$node->safe_psql('postgres', "GRANT SELECT ON LARGE OBJECT $lo TO PUBLIC");
refused('a large object readable by PUBLIC', mcp_conninfo($node, $good),
	qr/role mcp_good can read large object $lo/);
$node->safe_psql('postgres', "SELECT lo_unlink($lo)");

# 16+: grants that neither inherit nor allow SET ROLE still count (the
# ADMIN option lets the role grant itself the rest)
SKIP:
{
	skip 'membership options are 16+', 6 unless $v16;
	$node->safe_psql('postgres', q{
		CREATE ROLE mcp_noset LOGIN IN ROLE nadia_bgw_reader;
		GRANT app_admin TO mcp_noset WITH INHERIT FALSE, SET TRUE;
		CREATE ROLE mcp_admin LOGIN IN ROLE nadia_bgw_reader;
		GRANT pg_read_all_data TO mcp_admin WITH ADMIN TRUE, INHERIT FALSE, SET FALSE;
	});
	refused('INHERIT FALSE grant of a role that reads the application (16+)',
		mcp_conninfo($node, 'mcp_noset'),
		qr/role app_admin \(reached from login role mcp_noset: mcp_noset > app_admin\) can read application table public\.interactions/);
	refused('ADMIN-only grant of pg_read_all_data (16+)',
		mcp_conninfo($node, 'mcp_admin'),
		qr/role mcp_admin is a member of pg_read_all_data/);
}

# and the good role is still served after all that
($rc, $o, $e) = check(mcp_conninfo($node, $good));
is($rc, 0, 'the good role is still served') or diag($e);

$node->stop;
done_testing();
