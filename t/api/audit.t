# The audit log API: filters, keyset pages, one resource's trail,
# permissions, organizations kept apart, and no secret in any row.
use strict;
use warnings;
use Test::More;
use POSIX qw(strftime);
use DagyTest;

my $s = DagyTest->start;
my $r;

sub ids { [map { $_->{audit_id} } @{ $_[0]{json}{items} }] }

# --- what happened --------------------------------------------------------------------------
$s->flow($_, [['a', 'true']]) for qw(f1 f2 f3);
$s->flow('f1', [['a', 'true'], ['b', 'true', ['a']]]);
is($s->req(DELETE => '/v1/flows/f3')->{status}, 200, 'a flow deleted');
$r = $s->req(POST => '/v1/api-keys', { name => 'ci' });
is($r->{status}, 201, 'a key created');
my ($new_key, $new_key_id) = ($r->{json}{key}, $r->{json}{key_id});
$r = $s->req(POST => '/v1/auth/login', { email => 'admin@dagy.local', password => $s->password },
	{ Authorization => undef });
my $token = $r->{json}{access_token};
ok($token, 'a login');
is($s->as($token, POST => '/v1/schedules', { schedule_id => 'nightly', flow_name => 'f2', mode => 'cron',
	cron_expression => '0 3 * * *' }, { 'User-Agent' => 'audit-test/1.0' })->{status}, 201,
	'a schedule created with a session');
my $dev = $s->user_key('dev@example.com', 'developer');
is($s->as($dev, POST => '/v1/flows', { flow_name => 'f4', flow_spec => { nodes => [
	{ id => 'a', type => 'shell', config => { command => 'true' } }] } })->{status}, 201,
	'a flow by another member');

# --- the list ---------------------------------------------------------------------------------
$r = $s->req(GET => '/v1/audit-logs?limit=100');
is($r->{status}, 200, 'list');
my @all = @{ $r->{json}{items} };
is($r->{json}{next_token}, undef, 'one page holds it all');
my ($sched) = grep { $_->{action} eq 'schedule.create' } @all;
ok($sched, 'the schedule creation is there');
is($sched->{resource_type}, 'schedule', 'resource_type');
is($sched->{resource_id}, 'nightly', 'resource_id');
is($sched->{actor_email}, 'admin@dagy.local', 'actor_email');
is($sched->{ip_address}, '127.0.0.1', 'ip_address');
is($sched->{user_agent}, 'audit-test/1.0', 'user_agent');
like($sched->{audit_id}, qr/^audit_/, 'audit_id');
like($sched->{timestamp}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'timestamp');
is(ref $sched->{changes}, 'HASH', 'changes is an object');
my @times = map { $_->{timestamp} } @all;
is_deeply(\@times, [sort { $b cmp $a } @times], 'newest first');
is($all[0]{resource_id}, 'f4', 'the newest first of all');

sub filtered { my ($q) = @_; $r = $s->req(GET => "/v1/audit-logs?limit=100&$q");
	is($r->{status}, 200, "filter $q"); return $r->{json}{items} }
my $flows = filtered('resource_type=flow');
is_deeply([map { "$_->{action} $_->{resource_id}" } @$flows],
	['flow.register f4', 'flow.delete f3', 'flow.register f1', 'flow.register f3',
	 'flow.register f2', 'flow.register f1'], 'by resource type');
is(scalar @{ filtered('resource_type=flow&action=register') }, 5, 'by action verb');
is(scalar @{ filtered('action=flow.delete') }, 1, 'by full action name');
is_deeply([map { $_->{resource_id} } @{ filtered('actor_email=dev@example.com') }], ['f4'], 'by actor');
is(scalar @{ filtered('resource_type=flow&resource_id=f1') }, 2, 'by resource');
is(scalar @{ filtered('resource_id=f1') }, 2, 'by resource id alone');
is(scalar @{ filtered('start_date=2999-01-01') }, 0, 'a start in the future: nothing');
is(scalar @{ filtered('end_date=2000-01-01') }, 0, 'an end in the past: nothing');
my $today = strftime('%Y-%m-%d', gmtime);
is(scalar @{ filtered("start_date=$today&end_date=$today") }, scalar @all, 'today: everything');
is($r->{json}{items}[0]{resource_name}, 'f4', 'a flow is named by its name');
for my $bad (['start_date=soon', 'start_date'], ['end_date=2020-01-01&start_date=2021-01-01', 'end_date'],
	['limit=0', 'limit'], ['limit=101', 'limit'], ['next_token=abc', 'next_token']) {
	$r = $s->req(GET => "/v1/audit-logs?$bad->[0]");
	is($r->{status}, 400, "$bad->[0]: 400");
	ok(exists $r->{json}{details}{ $bad->[1] }, "naming $bad->[1]");
}

# --- keyset pages ------------------------------------------------------------------------------
my (@paged, $next, $pages);
$r = $s->req(GET => '/v1/audit-logs?limit=3');
push @paged, @{ ids($r) };
$next = $r->{json}{next_token};
ok($next, 'a next_token after a full page');
$s->flow('f5', [['a', 'true']]); # a new row while paging
while ($next) {
	$r = $s->req(GET => "/v1/audit-logs?limit=3&next_token=$next");
	is($r->{status}, 200, 'next page') or last;
	push @paged, @{ ids($r) };
	$next = $r->{json}{next_token};
	last if ++$pages > 50;
}
is_deeply(\@paged, [map { $_->{audit_id} } @all],
	'pages give every row once, in order, whatever was added meanwhile');
my $tok = $s->req(GET => '/v1/audit-logs?limit=1')->{json}{next_token};
substr($tok, 5, 1) = substr($tok, 5, 1) eq 'A' ? 'B' : 'A';
is($s->req(GET => "/v1/audit-logs?limit=1&next_token=$tok")->{status}, 400, 'a tampered token: 400');
$r = $s->req(GET => '/v1/audit-logs?resource_type=flow&limit=2');
$r = $s->req(GET => "/v1/audit-logs?resource_type=flow&limit=2&next_token=$r->{json}{next_token}");
is_deeply([map { $_->{resource_type} } @{ $r->{json}{items} }], ['flow', 'flow'], 'filters hold across pages');

# --- one resource's trail ---------------------------------------------------------------------
$r = $s->req(GET => '/v1/audit-logs/resource/flow/f1');
is($r->{status}, 200, 'a resource trail');
is($r->{json}{resource_id}, 'f1', 'resource_id');
is($r->{json}{resource_type}, 'flow', 'resource_type');
is($r->{json}{resource_name}, 'f1', 'resource_name');
is_deeply([map { $_->{action} } @{ $r->{json}{items} }], ['flow.register', 'flow.register'], 'its rows');
is_deeply([map { $_->{changes}{flow_version} } @{ $r->{json}{items} }], ['2', '1'], 'with their changes');
$r = $s->req(GET => "/v1/audit-logs/resource/api_key/$new_key_id");
is($r->{json}{resource_name}, 'ci', 'a key is named by its name');
$r = $s->req(GET => '/v1/audit-logs/resource/flow/f1?limit=1');
is(scalar @{ $r->{json}{items} }, 1, 'a trail pages');
$r = $s->req(GET => "/v1/audit-logs/resource/flow/f1?limit=1&next_token=$r->{json}{next_token}");
is($r->{json}{items}[0]{changes}{flow_version}, '1', 'to its second page');
is($r->{json}{next_token}, undef, 'and its end');
is($s->req(GET => '/v1/audit-logs/resource/flow/ghost')->{status}, 404, 'no trail: 404');

# --- permissions and organizations ------------------------------------------------------------
my $viewer = $s->user_key('viewer@example.com', 'viewer');
$r = $s->as($viewer, GET => '/v1/audit-logs');
is($r->{status}, 403, 'a viewer: 403');
is($r->{json}{details}{permission}, 'admin.audit', 'naming admin.audit');
is($s->as($viewer, GET => '/v1/audit-logs/resource/flow/f1')->{status}, 403, 'the trail too');
is($s->as($dev, GET => '/v1/audit-logs')->{status}, 403, 'a developer: 403');

$s->cli('user', 'add', 'other@example.com', '--password', 'other-password');
$s->cli('org', 'add', 'other', '--owner', 'other@example.com');
my $other = $s->user_key('other@example.com', undef, org => 'other');
is($s->as($other, POST => '/v1/flows', { flow_name => 'theirs', flow_spec => { nodes => [
	{ id => 'a', type => 'shell', config => { command => 'true' } }] } })->{status}, 201, 'another org\'s flow');
is($s->req(GET => '/v1/audit-logs/resource/flow/theirs')->{status}, 404, 'another org\'s resource: 404');
ok(!grep({ $_->{resource_id} eq 'theirs' } @{ filtered('resource_type=flow') }), 'and not in the list');
$r = $s->as($other, GET => '/v1/audit-logs?limit=100');
is_deeply([map { $_->{resource_id} } grep { $_->{resource_type} eq 'flow' } @{ $r->{json}{items} }],
	['theirs'], 'the other org sees only its own');
is($s->as($other, GET => '/v1/audit-logs/resource/flow/f1')->{status}, 404, 'and not ours');

# --- no secrets ---------------------------------------------------------------------------------
is($s->as($token, POST => '/v1/auth/logout')->{status}, 204, 'a logout');
is($s->req(POST => '/v1/secrets', { secret_name => 'db-pass', value => 'value-one-8f3k2' })->{status},
	201, 'a secret stored');
is($s->req(PUT => '/v1/secrets/db-pass', { value => 'value-two-9q7x1' })->{status}, 200, 'and changed');
is($s->req(GET => '/v1/secrets/db-pass/value')->{json}{value}, 'value-two-9q7x1', 'and read');
$r = $s->req(GET => '/v1/audit-logs?resource_type=secret');
is_deeply([map { $_->{action} } @{ $r->{json}{items} }], ['secret.read', 'secret.update', 'secret.create'],
	'secrets are audited');
is($r->{json}{items}[0]{resource_name}, 'db-pass', 'by name');
my @rows = $s->sql("SELECT CONCAT_WS(' ', public_id, actor_email, action, target_type, target_id,"
	. " details, ip, user_agent) FROM audit_log");
ok(@rows > 15, scalar(@rows) . ' audit rows');
# A credential is dagy_<kind>_<lookup>_<secret>; the secret, 43 base64url
# characters, may itself hold '_'.
my ($admin_secret, $new_secret, $token_secret) = map { substr($_, -43) } $s->key, $new_key, $token;
for my $secret (['the admin key', $admin_secret], ['the new key', $new_secret],
	['the access token', $token_secret], ['the admin password', $s->password],
	['a user password', 'other-password'], ['a user password', 'pw-dev@example.com'],
	['a secret value', 'value-one-8f3k2'], ['a changed secret value', 'value-two-9q7x1']) {
	ok(!grep({ index($_, $secret->[1]) >= 0 } @rows), "no row holds $secret->[0]");
}

$s->finish;
done_testing;
