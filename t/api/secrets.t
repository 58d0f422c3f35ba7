# Secrets: sealed at rest (the table never holds the value), read back
# through …/value only, scoped to environments, kept from viewers and other
# organizations, readable after a key rotation; the key file is checked
# at start.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time sleep);
use DagyTest;

my $s = DagyTest->start;
my $r;
my $value = 'sk_live_1234567890abcdefghijklmnop';

# --- create, read, value ------------------------------------------------------------------
$r = $s->req(POST => '/v1/secrets', { secret_name => 'api-key-prod', value => $value,
	environment => 'production' });
is($r->{status}, 201, 'create a secret') or diag($r->{body});
like($r->{json}{secret_id}, qr/^secret_/, 'secret_id');
is($r->{json}{secret_name}, 'api-key-prod', 'secret_name');
is($r->{json}{environment}, 'production', 'environment');
like($r->{json}{created_at}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'created_at');
ok(!exists $r->{json}{value}, 'the value is not echoed');
is($s->req(POST => '/v1/secrets', { secret_name => 'api-key-prod', value => 'x',
	environment => 'production' })->{status}, 409, 'the same name and environment: 409');

my @rows = $s->sql("SELECT CONCAT(key_id, ' ', ciphertext) FROM secrets WHERE name = 'api-key-prod'");
is(scalar @rows, 1, 'one row in MariaDB');
unlike($rows[0], qr/\Q$value\E|sk_live/, 'the stored ciphertext does not contain the value');
like($rows[0], qr/^(\S+) v1\.\1\.[A-Za-z0-9+\/=]+$/, 'sealed text names its key, stored beside it');
my ($audit) = $s->sql("SELECT GROUP_CONCAT(COALESCE(details, '') SEPARATOR ' ') FROM audit_log WHERE action LIKE 'secret.%'");
unlike($audit // '', qr/sk_live/, 'no value in audit details');

$r = $s->req(GET => '/v1/secrets/api-key-prod/value');
is($r->{status}, 200, 'read the value');
is($r->{json}{value}, $value, 'the value round-trips');
is($r->{json}{secret_name}, 'api-key-prod', 'with its name');

$r = $s->req(GET => '/v1/secrets/api-key-prod');
is($r->{status}, 200, 'metadata');
ok(!exists $r->{json}{value}, 'metadata holds no value');
is($r->{json}{environment}, 'production', 'and the environment');

# Organization-wide and per-environment secrets of one name.
is($s->req(POST => '/v1/secrets', { secret_name => 'db-url', value => 'postgres://global' })->{status},
	201, 'an organization-wide secret');
is($s->req(POST => '/v1/secrets', { secret_name => 'db-url', value => 'postgres://staging',
	environment => 'staging' })->{status}, 201, 'the same name in an environment');
is($s->req(GET => '/v1/secrets/db-url/value')->{json}{value}, 'postgres://global',
	'without ?environment the organization-wide one');
is($s->req(GET => '/v1/secrets/db-url/value?environment=staging')->{json}{value}, 'postgres://staging',
	'?environment picks the scoped one');
is($s->req(GET => '/v1/secrets/db-url?environment=develop')->{status}, 404,
	'an environment without it: 404');
$r = $s->req(GET => '/v1/secrets');
is($r->{status}, 200, 'list');
is_deeply([map { "$_->{secret_name}/" . ($_->{environment} // '-') } @{ $r->{json}{items} }],
	['api-key-prod/production', 'db-url/-', 'db-url/staging'], 'by name, then environment');
ok(!grep({ exists $_->{value} } @{ $r->{json}{items} }), 'no values in the list');
$r = $s->req(GET => '/v1/secrets?environment=staging');
is_deeply([map { $_->{secret_name} } @{ $r->{json}{items} }], ['db-url'], 'filter by environment');
$r = $s->req(GET => '/v1/secrets?limit=2');
is(scalar @{ $r->{json}{items} }, 2, 'a page of two');
$r = $s->req(GET => "/v1/secrets?limit=2&next_token=$r->{json}{next_token}");
is_deeply([map { $_->{environment} } @{ $r->{json}{items} }], ['staging'], 'and the rest');

# --- update, delete ---------------------------------------------------------------------------
$r = $s->req(PUT => '/v1/secrets/api-key-prod', { value => 'sk_live_new_value_1234567890abcdefg' });
is($r->{status}, 200, 'update the value');
is($r->{json}{secret_name}, 'api-key-prod', 'the update answers the name');
ok($r->{json}{updated_at}, 'and updated_at');
is($s->req(GET => '/v1/secrets/api-key-prod/value')->{json}{value},
	'sk_live_new_value_1234567890abcdefg', 'the new value reads back');
is($s->req(PUT => '/v1/secrets/nope', { value => 'x' })->{status}, 404, 'update a missing secret: 404');
is($s->req(PUT => '/v1/secrets/api-key-prod', {})->{status}, 400, 'update without a value: 400');

for my $bad ([{ value => 'x' }, 'secret_name'], [{ secret_name => 'a b', value => 'x' }, 'secret_name'],
	[{ secret_name => 'ok' }, 'value'], [{ secret_name => 'ok', value => '' }, 'value'],
	[{ secret_name => 'ok', value => 5 }, 'value'],
	[{ secret_name => 'ok', value => 'x', environment => 'no/slash' }, 'environment'],
	[{ secret_name => 'ok', value => 'x' x 65537 }, 'value']) {
	$r = $s->req(POST => '/v1/secrets', $bad->[0]);
	is($r->{status}, 400, "400 for a bad $bad->[1]");
	ok(exists $r->{json}{details}{ $bad->[1] }, "naming $bad->[1]");
}

is($s->req(POST => '/v1/secrets', { secret_name => 'temp', value => 'x', environment => 'a' })->{status}, 201, 'one more');
is($s->req(POST => '/v1/secrets', { secret_name => 'temp', value => 'y', environment => 'b' })->{status}, 201, 'in two environments');
$r = $s->req(GET => '/v1/secrets/temp');
is($r->{status}, 409, 'two environments and no organization-wide one: name one (409)');
is($s->req(DELETE => '/v1/secrets/temp?environment=a')->{status}, 204, 'delete one scope');
is($s->req(GET => '/v1/secrets/temp')->{json}{environment}, 'b', 'the other stays');
is($s->req(DELETE => '/v1/secrets/temp')->{status}, 204, 'delete');
is($s->req(DELETE => '/v1/secrets/temp')->{status}, 404, 'deleting again: 404');

# --- who may ------------------------------------------------------------------------------------
my $viewer = $s->user_key('viewer@example.com', 'viewer');
my $dev = $s->user_key('dev@example.com', 'developer');
is($s->as($viewer, GET => '/v1/secrets/api-key-prod/value')->{status}, 403, 'a viewer cannot read values');
is($s->as($viewer, GET => '/v1/secrets')->{status}, 403, 'nor list secrets');
$r = $s->as($viewer, POST => '/v1/secrets', { secret_name => 'v', value => 'x' });
is($r->{status}, 403, 'nor create them');
is($s->as($dev, GET => '/v1/secrets/api-key-prod/value')->{status}, 200, 'a developer can (secrets.read)');

my ($rc, $out) = $s->cli('user', 'add', 'other@example.com', '--password', 'pw');
($rc, $out) = $s->cli('org', 'add', 'other', '--owner', 'other@example.com');
($rc, my $other) = $s->cli('key', 'create', '--org', 'other', '--user', 'other@example.com');
$other =~ s/\s+\z//;
is($s->as($other, GET => '/v1/secrets/api-key-prod')->{status}, 404, "another org's secret: 404");
is($s->as($other, GET => '/v1/secrets/api-key-prod/value')->{status}, 404, 'its value: 404');
is($s->as($other, PUT => '/v1/secrets/api-key-prod', { value => 'x' })->{status}, 404, 'update: 404');
is($s->as($other, DELETE => '/v1/secrets/api-key-prod')->{status}, 404, 'delete: 404');
is_deeply($s->as($other, GET => '/v1/secrets')->{json}{items}, [], 'an empty list there');
is($s->as($other, POST => '/v1/secrets', { secret_name => 'api-key-prod', value => 'theirs',
	environment => 'production' })->{status}, 201, 'the same name in another org is another secret');
is($s->req(GET => '/v1/secrets/api-key-prod/value')->{json}{value},
	'sk_live_new_value_1234567890abcdefg', 'ours is unchanged');

# A ciphertext copied onto another row does not open there.
$s->sql("UPDATE secrets d JOIN secrets s ON s.name = 'db-url' AND s.environment = 'staging'"
	. " SET d.ciphertext = s.ciphertext, d.key_id = s.key_id WHERE d.name = 'db-url' AND d.environment = ''");
$r = $s->req(GET => '/v1/secrets/db-url/value');
is($r->{status}, 500, 'a ciphertext moved to another row fails authentication');
like($r->{json}{message}, qr/cannot be opened/, 'with a clear message');
unlike($r->{body}, qr/postgres/, 'and no value');
is($s->req(PUT => '/v1/secrets/db-url', { value => 'postgres://global' })->{status}, 200,
	'a new value repairs it');

# --- rotation --------------------------------------------------------------------------------
my ($old_key) = $s->sql("SELECT DISTINCT key_id FROM secrets");
($rc, $out) = $s->cli('secrets', 'rotate-key');
is($rc, 0, 'rotate-key succeeds') or diag($out);
like($out, qr/secrets: \d+ re-sealed/, 'and reports what it re-sealed');
my @keys = $s->sql("SELECT DISTINCT key_id FROM secrets");
is(scalar @keys, 1, 'every value is under one key');
isnt($keys[0], $old_key, 'a new one');
my @file = grep { !/^#/ } split /\n/, DagyTest::slurp($s->dir . '/secrets.key');
is(scalar @file, 1, 'the key file keeps only the new key');
like($file[0], qr/^\Q$keys[0]\E /, 'the one the values name');
is((stat($s->dir . '/secrets.key'))[2] & 0777, 0600, 'still 0600');
is($s->req(GET => '/v1/secrets/api-key-prod/value')->{json}{value},
	'sk_live_new_value_1234567890abcdefg', 'values stay readable after rotation');
is($s->req(GET => '/v1/secrets/db-url/value?environment=staging')->{json}{value},
	'postgres://staging', 'every one of them');
is($s->as($other, GET => '/v1/secrets/api-key-prod/value')->{json}{value}, 'theirs',
	"the other org's too");
is($s->req(POST => '/v1/secrets', { secret_name => 'after', value => 'new' })->{status}, 201,
	'the API seals under the new key at once');
is(($s->sql("SELECT key_id FROM secrets WHERE name = 'after'"))[0], $keys[0], 'the new key');
ok(grep({ /secrets.rotate_key/ } $s->sql("SELECT action FROM audit_log")), 'the rotation is audited');

# --- steps use secrets --------------------------------------------------------------------------
# The worker started before the rotation: it follows the new key file.
my $sv = 'sup3r-s3cret-v4lue';
is($s->req(POST => '/v1/secrets', { secret_name => 'echo-key', value => $sv })->{status}, 201,
	'a secret for steps');
is($s->req(POST => '/v1/secrets', { secret_name => 'pem', value => "-----BEGIN-----\nAbCdEf123\n-----END-----" })->{status},
	201, 'a multi-line secret');
my $env = { API_KEY => { secret => 'echo-key' } };
$s->flow('masked', [
	['once', 'echo "key=$API_KEY"', undef, { env => $env }],
	['twice', 'echo "$API_KEY and $API_KEY"', undef, { env => $env }],
	['split', 'printf "%s" "${API_KEY%????}"; sleep 0.3; printf "%s!\n" "${API_KEY#${API_KEY%????}}"', undef,
		{ env => $env }],
	['stderr', 'echo "err $API_KEY" >&2', undef, { env => $env }],
	['lines', 'printf "<%s>\n" "$PEM"', undef, { env => { PEM => { secret => 'pem' } } }],
	['len', 'echo "len=${#API_KEY}" >> "$DAGY_OUTPUT"; echo "plain=${API_KEY:+set}"', undef, { env => $env }],
]);
my $id = $s->trigger('masked');
my $run = $s->wait_run($id);
is($run->{status}, 'completed', 'a flow using secrets runs') or diag(explain($s->steps($id)));
my %lines;
for my $e (@{ $s->req(GET => "/v1/runs/$id/logs?limit=1000")->{json}{events} }) {
	push @{ $lines{ $e->{step_id} } }, "$e->{stream}:$e->{message}";
}
is_deeply($lines{once}, ['stdout:key=***'], 'an echoed secret is stored as ***');
is_deeply($lines{twice}, ['stdout:*** and ***'], 'twice on one line');
is_deeply($lines{split}, ['stdout:***!'], 'across two writes');
is_deeply($lines{stderr}, ['stderr:err ***'], 'on stderr');
is_deeply($lines{lines}, ['stdout:<***>'], 'a value spanning lines');
is_deeply($lines{len}, ['stdout:plain=set'], 'the step did get it');
my $outs = $s->req(GET => "/v1/runs/$id/outputs")->{json}{items};
is_deeply([map { "$_->{key}=$_->{value}" } @$outs], ['len=' . length($sv)], 'the whole value');
my @stored = $s->sql("SELECT line FROM step_logs l JOIN runs r ON r.id = l.run_id WHERE r.public_id = '$id'");
ok(@stored >= 6 && !grep({ /s3cret|AbCdEf|sup3r/ } @stored), 'step_logs in MariaDB hold no part of a value');

# Outputs are shown as logs are: a secret written to one is masked.
$s->flow('leaky-outputs', [
	['file', 'echo "token=$API_KEY" >> "$DAGY_OUTPUT"; echo "url=https://u:$API_KEY@h/x" >> "$DAGY_OUTPUT"',
		undef, { env => $env }],
	['marker', 'echo "::daggle-output name=echoed::$API_KEY"', undef, { env => $env }],
]);
$id = $s->trigger('leaky-outputs');
is($s->wait_run($id)->{status}, 'completed', 'steps writing a secret to their outputs');
is_deeply({ map { ("$_->{step_id}.$_->{key}" => $_->{value}) } @{ $s->req(GET => "/v1/runs/$id/outputs")->{json}{items} } },
	{ 'file.token' => '***', 'file.url' => 'https://u:***@h/x', 'marker.echoed' => '***' },
	'outputs hold *** where the secret was');
ok(!grep({ /s3cret|sup3r/ } $s->sql("SELECT v FROM step_outputs o JOIN runs r ON r.id = o.run_id"
	. " WHERE r.public_id = '$id'")), 'step_outputs in MariaDB hold no part of a value');

# The environment's own secret before the organization-wide one.
is($s->req(POST => '/v1/secrets', { secret_name => 'echo-key', value => 'staging-only-value-x',
	environment => 'staging' })->{status}, 201, 'the same secret for staging');
$id = $s->trigger('masked', undef, environment => 'staging');
$s->wait_run($id);
is_deeply([map { "$_->{key}=$_->{value}" } @{ $s->req(GET => "/v1/runs/$id/outputs")->{json}{items} }],
	['len=' . length('staging-only-value-x')], 'a run in an environment gets its secret');

# Unknown and tampered secrets fail the step, clearly.
$s->flow('unknown', [['use', 'echo never', undef, { env => { X => { secret => 'no-such-secret' } } }],
	['after', 'echo after', ['use']]]);
$id = $s->trigger('unknown');
$run = $s->wait_run($id);
is($run->{status}, 'failed', 'an unknown secret fails the run');
my $steps = $s->steps($id);
is($steps->{use}{error}, "secret 'no-such-secret' not found in environment '(none)'", 'the step says which secret');
is($steps->{after}{status}, 'skipped', 'its dependants are skipped');
$id = $s->trigger('unknown', undef, environment => 'staging');
$s->wait_run($id);
is($s->steps($id)->{use}{error}, "secret 'no-such-secret' not found in environment 'staging'",
	'and in which environment');

is($s->req(POST => '/v1/secrets', { secret_name => 'tamper', value => 'tamper-me-please' })->{status}, 201,
	'a secret to tamper with');
$s->sql("UPDATE secrets SET ciphertext = CONCAT(LEFT(ciphertext, LENGTH(ciphertext) - 6),"
	. " IF(SUBSTR(ciphertext, -6, 1) = 'A', 'B', 'A'), RIGHT(ciphertext, 5)) WHERE name = 'tamper'");
$s->flow('tampered', [['use', 'echo "got $T"', undef, { env => { T => { secret => 'tamper' } } }]]);
$id = $s->trigger('tampered');
$run = $s->wait_run($id);
is($run->{status}, 'failed', 'a tampered secret fails the run');
like($s->steps($id)->{use}{error}, qr/secret 'tamper' .*cannot be opened: .*fails authentication/,
	'with a clear message');
ok(!grep({ /got/ } map { $_->{message} } @{ $s->req(GET => "/v1/runs/$id/logs")->{json}{events} }),
	'the step never ran');
is($s->req(DELETE => '/v1/secrets/tamper')->{status}, 204, 'remove it');

# --- the worker refuses a missing or wrong key file ----------------------------------------------
my $keyfile = $s->dir . '/secrets.key';
sub worker_refuses {
	my ($what, $why) = @_;
	ok(!$s->worker_start, "the worker does not start with $what");
	my $log = join "\n", map { -e $_ ? DagyTest::slurp($_) : '' } $s->dir . '/dagy.log',
		$s->dir . '/worker-1.err';
	like($log, qr/refusing to start: .*\Q$keyfile\E.*$why/, 'naming the key file and what is wrong');
}
$s->worker_stop;
rename $keyfile, "$keyfile.good";
worker_refuses('a missing key file', 'No such file');
($rc, $out) = $s->cli('secrets', 'init');
is($rc, 0, 'a fresh key file of another key') or diag($out);
worker_refuses('the wrong key', 'wrong key file');
($rc, $out) = $s->cli('secrets', 'init');
isnt($rc, 0, 'secrets init never overwrites a key file');
# dagy-api checks the same before it serves anything.
my $api = ($ENV{DAGY_BUILD} // 'build-test') . '/dagy-api';
my $api_rc = system("DAGY_CONFIG=${\ $s->dir}/dagy.conf $api </dev/null >/dev/null 2>&1") >> 8;
is($api_rc, 1, 'dagy-api does not start with the wrong key either');
like(DagyTest::slurp($s->dir . '/dagy.log'), qr/dagy-api\[\d+\] error: refusing to start: .*\Q$keyfile\E/,
	'and names the file');
rename "$keyfile.good", $keyfile;
$s->worker_start;
$id = $s->trigger('masked');
is($s->wait_run($id)->{status}, 'completed', 'with the right key file it runs again');

# --- the key file at start ---------------------------------------------------------------------
($rc, $out) = $s->cli('config', 'check');
is($rc, 0, 'config check accepts the key file') or diag($out);
rename $keyfile, "$keyfile.saved";
($rc, $out) = $s->cli('config', 'check');
isnt($rc, 0, 'config check names a missing key file');
like($out, qr/\Q$keyfile\E/, 'by its path');
rename "$keyfile.saved", $keyfile;

# MariaDB away when a step's secrets are opened: the step waits for it,
# the attempt uncounted, and runs once it is back.
# The first step holds on until MariaDB is down, so the second starts
# while it is.
my $gate = "$s->{dir}/outage-go";
$s->flow('outage-secret', [['nap', "while [ ! -e $gate ]; do sleep 0.05; done"],
	['use', 'echo "got ${#API_KEY} chars"', ['nap'], { env => { API_KEY => { secret => 'echo-key' } } }]]);
my $oid = $s->trigger('outage-secret');
my $until = time + 30;
sleep 0.1 until time > $until || ($s->steps($oid)->{nap}{status} // '') eq 'running';
ok($s->db_stop, 'MariaDB stopped while the first step runs');
open my $go, '>', $gate or die;
close $go;
sleep 2;
ok($s->db_start, 'and started again');
my $orun = $s->wait_run($oid, 60);
is($orun->{status}, 'completed', 'the step that needed a secret ran once it could be read')
	or diag(explain($s->steps($oid)));
is($s->steps($oid)->{use}{attempt}, 1, 'as its first attempt');
my @olog = map { $_->{message} } grep { $_->{step_id} eq 'use' }
	@{ $s->req(GET => "/v1/runs/$oid/logs?limit=100")->{json}{events} };
ok((grep { /database error; trying again/ } @olog), 'its log says it waited') or diag(explain(\@olog));
ok((grep { /^got \d+ chars$/ } @olog), 'and it got the secret');

$s->finish;
done_testing;
