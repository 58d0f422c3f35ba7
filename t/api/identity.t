# Authentication, users, API keys, organizations and members against the
# real stack: shapes per the spec, and every refusal a client can meet.
use strict;
use warnings;
use Test::More;
use DagyTest;

my $s = DagyTest->start;
my $r;

# --- login / logout -------------------------------------------------------
$r = $s->req(POST => '/v1/auth/login', { email => 'admin@dagy.local', password => $s->password },
	{ Authorization => undef });
is($r->{status}, 200, 'login with email and password');
like($r->{json}{access_token}, qr/^dagy_at_[a-z0-9]{8}_[A-Za-z0-9_-]{43}$/, 'access token shape');
is($r->{json}{token_type}, 'Bearer', 'token_type');
like($r->{json}{expires_at}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'expires_at is RFC 3339 UTC');
my $token = $r->{json}{access_token};

$r = $s->as($token, GET => '/v1/me');
is($r->{status}, 200, 'the access token works');
is($r->{json}{user_email}, 'admin@dagy.local', 'me: user_email');
is($r->{json}{role}, 'owner', 'me: role');
like($r->{json}{org_id}, qr/^org_/, 'me: org_id');

my $wrong = $s->req(POST => '/v1/auth/login', { email => 'admin@dagy.local', password => 'nope' },
	{ Authorization => undef });
my $unknown = $s->req(POST => '/v1/auth/login', { email => 'ghost@dagy.local', password => 'nope' },
	{ Authorization => undef });
is($wrong->{status}, 401, 'wrong password: 401');
is($unknown->{status}, 401, 'unknown email: 401');
is($wrong->{body}, $unknown->{body}, 'both failures say the same');
$r = $s->req(POST => '/v1/auth/login', { email => 'not-an-email', password => 'x' },
	{ Authorization => undef });
is($r->{status}, 400, 'login with a malformed email: 400');
$r = $s->req(POST => '/v1/auth/login', { email => 'admin@dagy.local' }, { Authorization => undef });
is($r->{status}, 400, 'login without password: 400');
is_deeply([keys %{ $r->{json}{details} }], ['password'], 'the 400 names the missing field');

$r = $s->as($token, POST => '/v1/auth/logout');
is($r->{status}, 204, 'logout: 204');
$r = $s->as($token, GET => '/v1/me');
is($r->{status}, 401, 'a revoked token: 401');
is($r->{json}{error}, 'unauthorized', 'error code unauthorized');

# expired: a fresh token whose expiry has passed
$r = $s->req(POST => '/v1/auth/login', { email => 'admin@dagy.local', password => $s->password },
	{ Authorization => undef });
my $old = $r->{json}{access_token};
is($s->as($old, GET => '/v1/me')->{status}, 200, 'fresh token works (and is cached)');
$s->sql("UPDATE access_tokens SET expires_at = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND");
is($s->as($old, GET => '/v1/me')->{status}, 401, 'an expired token: 401 even when cached');

# --- 401s ------------------------------------------------------------------
$r = $s->req(GET => '/v1/me', undef, { Authorization => undef });
is($r->{status}, 401, 'no credentials: 401');
is($r->{headers}{'www-authenticate'}, 'Bearer', 'WWW-Authenticate: Bearer');
is($s->as('garbage', GET => '/v1/me')->{status}, 401, 'garbage token: 401');
is($s->as('dagy_sk_aaaaaaaa_' . ('A' x 43), GET => '/v1/me')->{status}, 401,
	'well-formed unknown key: 401');
(my $tampered = $s->key) =~ s/.$/$& eq 'A' ? 'B' : 'A'/e;
is($s->as($tampered, GET => '/v1/me')->{status}, 401, 'right lookup id, wrong secret: 401');
is($s->req(GET => '/v1/me', undef, { Authorization => 'Basic YWRtaW46eA==' })->{status}, 401,
	'Basic auth: 401');

# --- users/me ------------------------------------------------------------------
$r = $s->req(GET => '/v1/users/me');
is($r->{status}, 200, 'users/me');
is_deeply([sort keys %{ $r->{json} }], [qw(org_id org_name role super_admin user_email)],
	'users/me fields');
is($r->{json}{org_name}, 'default', 'org_name');
ok($r->{json}{super_admin}, 'the admin is a super admin');

# --- API keys ------------------------------------------------------------------
$r = $s->req(POST => '/v1/api-keys', { name => 'ETL', scopes => ['flows.read', 'runs.read'] });
is($r->{status}, 201, 'create key: 201');
my $k = $r->{json};
like($k->{key}, qr/^dagy_sk_[a-z0-9]{8}_[A-Za-z0-9_-]{43}$/, 'full key shown at creation');
like($k->{key_id}, qr/^key_/, 'key_id');
is($k->{key_prefix}, substr($k->{key}, 0, 16) . '***', 'key_prefix');
is_deeply($k->{scopes}, ['flows.read', 'runs.read'], 'scopes echoed');
like($k->{created_at}, qr/Z$/, 'created_at');

$r = $s->req(GET => '/v1/api-keys');
is($r->{status}, 200, 'list keys');
my ($listed) = grep { $_->{key_id} eq $k->{key_id} } @{ $r->{json}{items} };
ok($listed, 'the new key is listed');
ok(!exists $listed->{key}, 'the list never shows the key');
unlike($r->{body}, qr/\Q$k->{key}\E/, 'nor anywhere in the body');
is($listed->{last_used_at}, undef, 'unused key: last_used_at null');

$r = $s->as($k->{key}, GET => '/v1/me');
is($r->{status}, 200, 'the scoped key authenticates');
$r = $s->as($k->{key}, GET => '/v1/api-keys');
is($r->{status}, 403, 'a key outside its scopes: 403');
is($r->{json}{error}, 'forbidden', 'error code forbidden');
($listed) = grep { $_->{key_id} eq $k->{key_id} } @{ $s->req(GET => '/v1/api-keys')->{json}{items} };
like($listed->{last_used_at}, qr/Z$/, 'last_used_at set after use');

$r = $s->req(POST => '/v1/api-keys', { name => 'bad', scopes => ['flows.read', 'flows.fly'] });
is($r->{status}, 400, 'unknown scope: 400');
like($r->{json}{message}, qr/flows\.fly/, 'the 400 names the scope');
is($s->req(POST => '/v1/api-keys', { scopes => ['flows.read'] })->{status}, 400, 'no name: 400');

$r = $s->req(DELETE => "/v1/api-keys/$k->{key_id}");
is($r->{status}, 204, 'delete key: 204');
is($s->as($k->{key}, GET => '/v1/me')->{status}, 401, 'a deleted key: 401 at once');
is($s->req(DELETE => "/v1/api-keys/$k->{key_id}")->{status}, 404, 'deleting it again: 404');

# --- roles ---------------------------------------------------------------------
my $viewer = $s->user_key('viewer@dagy.local', 'viewer');
$r = $s->as($viewer, GET => '/v1/api-keys');
is($r->{status}, 403, 'a viewer on /v1/api-keys: 403');
like($r->{json}{message}, qr/admin\.api_keys/, 'the 403 names the permission');
is($s->as($viewer, GET => '/v1/me')->{json}{role}, 'viewer', 'viewer role reported');
my $default_org = $s->req(GET => '/v1/me')->{json}{org_id};
is($s->req(PATCH => "/v1/orgs/$default_org/members/viewer\@dagy.local/role", { role => 'admin' })->{status},
	200, 'promote the viewer');
is($s->as($viewer, GET => '/v1/api-keys')->{status}, 200, 'the promotion applies to the next request');
$s->req(PATCH => "/v1/orgs/$default_org/members/viewer\@dagy.local/role", { role => 'viewer' });
is($s->as($viewer, GET => '/v1/api-keys')->{status}, 403, 'and so does the demotion');

# --- organizations ---------------------------------------------------------------
my $me = $s->req(GET => '/v1/me')->{json};
$r = $s->req(POST => '/v1/orgs', { org_name => 'Acme Corporation', plan => 'professional' });
is($r->{status}, 201, 'create org');
is_deeply([sort keys %{ $r->{json} }], [qw(created_at org_id org_name owner_email plan)], 'org fields');
is($r->{json}{owner_email}, 'admin@dagy.local', 'owner_email');
my $acme = $r->{json}{org_id};
is($s->req(POST => '/v1/orgs', { org_name => 'Acme Corporation' })->{status}, 409, 'same name: 409');
is($s->req(POST => '/v1/orgs', { org_name => 'X', plan => 'gold' })->{status}, 400, 'bad plan: 400');

$r = $s->req(GET => '/v1/orgs');
is($r->{status}, 200, 'list orgs');
is_deeply([sort map { $_->{org_name} } @{ $r->{json}{items} }], ['Acme Corporation', 'default'],
	'both orgs listed');
is((grep { $_->{org_id} eq $acme } @{ $r->{json}{items} })[0]{role}, 'owner', 'role per org');

# the org header picks the org for an access token
$token = $s->req(POST => '/v1/auth/login', { email => 'admin@dagy.local', password => $s->password },
	{ Authorization => undef })->{json}{access_token};
is($s->as($token, GET => '/v1/me', undef, { 'X-Organization-ID' => $acme })->{json}{org_id}, $acme,
	'X-Organization-ID selects the org');
is($s->as($token, GET => '/v1/me', undef, { 'X-Org-Id' => $acme })->{json}{org_id}, $acme,
	'X-Org-Id too');
is($s->as($token, GET => '/v1/me')->{json}{org_id}, $me->{org_id}, 'else the default org');
# Headers are read from an index of the request's variables; a request
# with more than the index holds is read variable by variable, alike.
my %many = map { ("X-Pad-$_" => "v$_") } 1 .. 20;
is($s->as($token, GET => '/v1/me', undef, { %many, 'X-Org-Id' => $acme })->{json}{org_id}, $acme,
	'X-Org-Id among twenty other headers');
%many = map { ("X-Pad-$_" => "v$_") } 1 .. 90;
is($s->as($token, GET => '/v1/me', undef, { %many, 'X-Org-Id' => $acme })->{json}{org_id}, $acme,
	'and among ninety');
is($s->as($token, GET => '/v1/me', undef, \%many)->{json}{org_id}, $me->{org_id},
	'ninety headers and none naming an org: the default org');
is($s->as($viewer, GET => '/v1/me', undef, { 'X-Organization-ID' => $acme })->{status}, 403,
	'an org the caller is not in: 403');

# --- members -----------------------------------------------------------------------
$r = $s->req(POST => "/v1/orgs/$acme/members", { email => 'newbie@example.com', role => 'developer' });
is($r->{status}, 201, 'invite a member');
is($r->{json}{status}, 'invited', 'unknown email: invited');
like($r->{json}{member_id}, qr/^member_/, 'member_id');
is($s->req(POST => "/v1/orgs/$acme/members", { email => 'newbie@example.com', role => 'viewer' })->{status},
	409, 'same member twice: 409');
is($s->req(POST => "/v1/orgs/$acme/members", { email => 'x@example.com', role => 'king' })->{status},
	400, 'bad role: 400');
is($s->req(POST => "/v1/orgs/$acme/members", { email => 'nope', role => 'viewer' })->{status},
	400, 'bad email: 400');
$r = $s->req(POST => "/v1/orgs/$acme/members", { email => 'viewer@dagy.local', role => 'admin' });
is($r->{json}{status}, 'active', 'existing user: active');

$r = $s->req(GET => "/v1/orgs/$acme/members");
is($r->{status}, 200, 'list members');
is_deeply([sort map { "$_->{email}:$_->{role}:$_->{status}" } @{ $r->{json}{items} }],
	['admin@dagy.local:owner:active', 'newbie@example.com:developer:invited',
	 'viewer@dagy.local:admin:active'], 'members, roles, statuses');

$r = $s->req(PATCH => "/v1/orgs/$acme/members/newbie\@example.com/role", { role => 'admin' });
is($r->{status}, 200, 'change role');
is($r->{json}{role}, 'admin', 'role changed');
$r = $s->req(PATCH => "/v1/orgs/$acme/members/admin%40dagy.local/role", { role => 'viewer' });
is($r->{status}, 409, 'the last owner cannot be demoted');
is($s->req(PATCH => "/v1/orgs/$acme/members/ghost\@x.com/role", { role => 'admin' })->{status}, 404,
	'unknown member: 404');

$r = $s->req(GET => "/v1/orgs/$acme/roles");
is($r->{status}, 200, 'roles matrix');
is_deeply([sort keys %{ $r->{json}{roles} }], [qw(admin developer owner viewer)], 'four roles');
is_deeply($r->{json}{roles}{viewer},
	[qw(flows.read runs.read schedules.read environments.read billing.read)], 'viewer row as in the spec');
is(scalar @{ $r->{json}{roles}{owner} }, 26, 'owner has all 26');

# --- tenant isolation ------------------------------------------------------------------
my $other = $s->user_key('other@else.com', undef);
$r = $s->as($other, GET => '/v1/me');
$s->cli('org', 'add', 'Elsewhere', '--owner', 'other@else.com');
my $other_key = do {
	my ($rc, $out) = $s->cli('key', 'create', '--org', 'Elsewhere', '--user', 'other@else.com');
	$out =~ s/\s+$//; $out;
};
for my $path ("/v1/orgs/$acme/members", "/v1/orgs/$acme/roles") {
	$r = $s->as($other_key, GET => $path);
	is($r->{status}, 404, "another org's $path: 404");
}
$r = $s->as($other_key, GET => '/v1/orgs');
is_deeply([map { $_->{org_name} } @{ $r->{json}{items} }], ['Elsewhere'], 'lists only its own orgs');
$r = $s->as($other_key, GET => '/v1/api-keys');
unlike($r->{body}, qr/admin\@dagy\.local/, "another org's keys are invisible");
is($s->as($other_key, DELETE => "/v1/api-keys/$listed->{key_id}")->{status}, 404,
	"another org's key cannot be deleted");

# --- generic refusals ---------------------------------------------------------------
$r = $s->req(GET => '/v1/no/such/thing');
is($r->{status}, 404, 'unknown path: 404');
is_deeply([sort keys %{ $r->{json} }], [qw(details error message)], 'Dagy error format');
is($r->{json}{error}, 'not_found', 'not_found');
$r = $s->req(PUT => '/v1/api-keys');
is($r->{status}, 405, 'wrong method: 405');
is($r->{headers}{allow}, 'POST, GET', 'Allow lists the methods');
is($r->{json}{error}, 'method_not_allowed', 'method_not_allowed');
$r = $s->req(POST => '/v1/api-keys', '{"name": "x",');
is($r->{status}, 400, 'malformed JSON: 400');
like($r->{json}{message}, qr/line 1, column \d+/, 'says where');
$r = $s->req(POST => '/v1/api-keys', '[1,2]');
is($r->{status}, 400, 'a JSON array body: 400');
$r = $s->req(POST => '/v1/api-keys', 'name=x', { 'Content-Type' => 'text/plain' });
is($r->{status}, 415, 'text/plain body: 415');
$r = $s->req(POST => '/v1/api-keys', '{"name": "' . ('x' x (1024 * 1024 + 10)) . '"}');
is($r->{status}, 413, 'body over 1 MiB: 413');
is($r->{json}{error}, 'payload_too_large', 'payload_too_large');

# --- audit trail ------------------------------------------------------------------------
my @actions = $s->sql('SELECT action FROM audit_log ORDER BY id');
for my $a (qw(auth.login auth.logout api_key.create api_key.delete org.create member.add member.role)) {
	ok((grep { $_ eq $a } @actions), "audited: $a");
}
my ($leak) = $s->sql("SELECT COUNT(*) FROM audit_log WHERE details LIKE '%dagy_sk_%' OR details LIKE '%dagy_at_%'");
is($leak, 0, 'no credential in the audit log');

# --- health ----------------------------------------------------------------------------
$r = $s->req(GET => '/v1/health', undef, { Authorization => undef });
is($r->{status}, 200, 'health is public');
is($r->{json}{status}, 'healthy', 'healthy');
is_deeply([map { $_->{name} } @{ $r->{json}{components} }], [qw(api database cache)], 'components');
is($s->req(GET => '/v1/health/detailed', undef, { Authorization => undef })->{status}, 401,
	'detailed health needs credentials');
$r = $s->req(GET => '/v1/health/detailed');
is($r->{status}, 200, 'detailed health');
ok(defined $_->{latency_ms}, "latency_ms for $_->{name}") for @{ $r->{json}{components} };
# Workers' hosts and pids are shown to super admins only.
$s->sql("INSERT INTO workers (name, host, pid, concurrency) VALUES ('w1', 'worker-host-1', 4242, 2)");
my ($mine) = grep { $_->{name} eq 'workers' } @{ $s->req(GET => '/v1/health/detailed')->{json}{components} };
ok((grep { ($_->{host} // '') eq 'worker-host-1' } @{ $mine->{workers} }), 'a super admin sees the worker hosts') or diag(explain($mine));
$r = $s->as($viewer, GET => '/v1/health/detailed');
my ($theirs) = grep { $_->{name} eq 'workers' } @{ $r->{json}{components} };
is_deeply($theirs->{workers}, [], 'an organization member does not');
ok(exists $theirs->{live}, 'but sees how many are alive');

$s->finish;
done_testing;
