# The admin CLI: migrations, users, orgs, keys and the config check.
use strict;
use warnings;
use Test::More;
use DagyTest;

my $s = DagyTest->start;
my ($rc, $out);

($rc, $out) = $s->cli('migrate');
is($rc, 0, 'migrate again: success');
like($out, qr/\(0 applied\)/, 'nothing left to apply');
$s->sql(q{INSERT INTO schema_migrations (version, name) VALUES (999, 'future')});
($rc, $out) = $s->cli('migrate');
isnt($rc, 0, 'a database newer than the binary is refused');
like($out, qr/newer than this dagy/, 'and says so');
$s->sql('DELETE FROM schema_migrations WHERE version = 999');

($rc, $out) = $s->cli('user', 'add', 'cli@example.com', '--password', 'secret-pw');
is($rc, 0, 'user add');
($rc, $out) = $s->cli('user', 'add', 'cli@example.com');
isnt($rc, 0, 'the same user twice fails');
like($out, qr/already exists/, 'and says why');
($rc, $out) = $s->cli('org', 'add', 'CLI Org', '--owner', 'cli@example.com');
is($rc, 0, 'org add');
like($out, qr/^org_[a-z0-9]{16}$/m, 'prints the org id');
($rc, $out) = $s->cli('key', 'create', '--org', 'CLI Org', '--user', 'cli@example.com',
	'--scopes', 'flows.read,runs.read');
is($rc, 0, 'key create');
chomp $out;
my $r = $s->as($out, GET => '/v1/me');
is($r->{status}, 200, 'the printed key works');
is($r->{json}{role}, 'owner', 'as the org owner');
is($s->as($out, GET => '/v1/api-keys')->{status}, 403, 'within its scopes');
($rc, $out) = $s->cli('key', 'create', '--org', 'CLI Org', '--user', 'cli@example.com',
	'--scopes', 'flows.fly');
isnt($rc, 0, 'an unknown scope is refused');

$r = $s->req(POST => '/v1/auth/login', { email => 'cli@example.com', password => 'secret-pw' },
	{ Authorization => undef });
is($r->{status}, 200, 'the CLI user can log in');

($rc, $out) = $s->cli('config', 'check');
is($rc, 0, 'the stack config passes the check');
open my $fh, '>>', $s->dir . '/dagy.conf' or die;
print $fh "[api]\nmax_body_bytes = lots\ncolour = blue\n";
close $fh;
($rc, $out) = $s->cli('config', 'check');
isnt($rc, 0, 'a bad config fails the check');
like($out, qr/max_body_bytes must be a non-negative integer/, 'names the bad number');
like($out, qr/unknown key 'colour'/, 'names the unknown key');

my @audit = $s->sql("SELECT action FROM audit_log WHERE actor_email = 'cli'");
ok((grep { $_ eq 'user.create' } @audit) && (grep { $_ eq 'org.create' } @audit)
	&& (grep { $_ eq 'api_key.create' } @audit), 'CLI mutations are audited');

$s->finish;
done_testing;
