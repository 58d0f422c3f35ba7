# The super admin console on a stack without Stripe: only the super_admin
# flag opens /v1/admin (an org owner gets 403 on every endpoint);
# customers, members, usage, audit, sessions and their revocation; credits
# with a ledger; suspend refuses writes and runs (a queued run waits in
# the claim), activate lets them through; an impersonation token acts as
# owner and marks every audit row; a forced internal error becomes a trace
# listed, read, downloaded through a signed link and deleted; the billing
# endpoints say plainly that Stripe is not configured.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time sleep);
use File::Temp qw(tempdir);
use HTTP::Tiny;
use DagyTest;

my $exc = tempdir(CLEANUP => 1);
my $s = DagyTest->start(workers => 1, conf => ['[admin]', "exceptions_dir = $exc/traces",
	'impersonation_ttl_seconds = 600']);

my ($rc, $out) = $s->cli('user', 'add', 'owner@acme.test', '--password', 'pw-owner');
($rc, $out) = $s->cli('org', 'add', 'Acme Corp', '--owner', 'owner@acme.test');
is($rc, 0, 'customer org created') or diag($out);
my ($org) = $s->sql("SELECT public_id FROM orgs WHERE name = 'Acme Corp'");
($rc, my $okey) = $s->cli('key', 'create', '--org', $org, '--user', 'owner@acme.test');
$okey =~ s/\s+\z//;

sub wait_status {
	my ($key, $id, $timeout, @want) = @_;
	my $deadline = time + $timeout;
	my $st = '';
	while (time < $deadline) {
		$st = $s->as($key, GET => "/v1/runs/$id")->{json}{status} // '';
		return $st if grep { $_ eq $st } @want;
		sleep 0.1;
	}
	return $st;
}

# Every admin endpoint refuses an org owner who is no super admin.
my @endpoints = (
	[GET => '/v1/admin/customers'], [GET => "/v1/admin/customers/$org"],
	[PATCH => "/v1/admin/customers/$org", { notes => 'x' }],
	[GET => "/v1/admin/customers/$org/members"], [GET => "/v1/admin/customers/$org/usage"],
	[GET => "/v1/admin/customers/$org/audit"], [GET => "/v1/admin/customers/$org/sessions"],
	[DELETE => "/v1/admin/customers/$org/sessions/owner\@acme.test"],
	[POST => "/v1/admin/customers/$org/suspend"], [POST => "/v1/admin/customers/$org/activate"],
	[POST => "/v1/admin/customers/$org/credits", { amount => 5 }],
	[GET => '/v1/admin/exceptions'], [GET => '/v1/admin/exceptions/content?key=exc_x'],
	[GET => '/v1/admin/exceptions/download?key=exc_x'],
	[DELETE => '/v1/admin/exceptions', { keys => ['exc_x'] }],
	[POST => "/v1/admin/impersonate/$org"]);
for my $e (@endpoints) {
	my $r = $s->as($okey, @$e);
	is($r->{status}, 403, "org owner: $e->[0] $e->[1] is 403");
	is($r->{json}{message}, 'Super admin access required', '  with the documented message');
}
is($s->req(GET => '/v1/admin/customers', undef, { Authorization => undef })->{status}, 401,
	'no credentials: 401');
is(scalar($s->sql("SELECT status FROM orgs WHERE status <> 'active'")), 0, 'nothing changed');

# Customers.
my $r = $s->req(GET => '/v1/admin/customers');
is($r->{status}, 200, 'a super admin lists customers');
is($r->{json}{total}, 2, 'every organization');
my ($c) = grep { $_->{org_id} eq $org } @{ $r->{json}{items} };
is($c->{org_name}, 'Acme Corp', 'by name');
is($c->{owner_email}, 'owner@acme.test', 'with its owner');
is($c->{plan}, 'free', 'plan');
is($c->{status}, 'active', 'status');
is($c->{member_count}, 1, 'and member count');
$r = $s->req(GET => '/v1/admin/customers?search=ACME');
is_deeply([map { $_->{org_id} } @{ $r->{json}{items} }], [$org], 'search by name, any case');
$r = $s->req(GET => '/v1/admin/customers?search=owner%40acme');
is($r->{json}{total}, 1, 'or by owner email');
is($s->req(GET => '/v1/admin/customers?status=suspended')->{json}{total}, 0, 'filter by status');
is($s->req(GET => '/v1/admin/customers?plan=free')->{json}{total}, 2, 'and plan');
is($s->req(GET => '/v1/admin/customers/org_nope')->{status}, 404, 'an unknown org is 404');

$r = $s->req(PATCH => "/v1/admin/customers/$org", {});
is($r->{status}, 400, 'a patch without fields is 400');
$r = $s->req(PATCH => "/v1/admin/customers/$org", { plan => 'gold' });
is($r->{status}, 400, 'an unknown plan is 400');
$r = $s->req(PATCH => "/v1/admin/customers/$org", { notes => 'VIP customer',
	feature_flags => { beta_ai_studio => JSON::PP::true }, plan => 'starter',
	quota_overrides => { monthly_runs => 50000 }, credits_balance => 100 });
is($r->{status}, 200, 'customer updated') or diag($r->{body});
is($r->{json}{notes}, 'VIP customer', 'notes');
ok($r->{json}{feature_flags}{beta_ai_studio}, 'feature flags');
is($r->{json}{quota_overrides}{monthly_runs}, 50000, 'quota overrides');
is($r->{json}{plan}, 'starter', 'plan');
is($r->{json}{credits_balance}, 100, 'credits balance set');
is($s->as($okey, GET => '/v1/usage/quota')->{json}{plan}, 'starter',
	"the org's credentials see the new plan at once");

# Credits through the ledger.
$r = $s->req(POST => "/v1/admin/customers/$org/credits", { amount => 500 });
is($r->{status}, 200, 'credits granted');
is($r->{json}{credits_balance}, 600, 'balance after the grant');
$r = $s->req(POST => "/v1/admin/customers/$org/credits", { amount => -200.5 });
is($r->{json}{credits_balance}, 399.5, 'a negative amount deducts');
$r = $s->req(POST => "/v1/admin/customers/$org/credits", { amount => -1000 });
is($r->{status}, 400, 'never below zero');
$r = $s->req(POST => "/v1/admin/customers/$org/credits", { amount => 'lots' });
is($r->{status}, 400, 'an amount must be a number');
is($s->req(POST => '/v1/admin/customers/org_nope/credits', { amount => 1 })->{status}, 404,
	'credits of an unknown org: 404');
my @ledger = $s->sql("SELECT amount, balance_after FROM credit_ledger l JOIN orgs o ON o.id = l.org_id"
	. " WHERE o.public_id = '$org' ORDER BY l.id");
is_deeply(\@ledger, ["100.0000\t100.0000", "500.0000\t600.0000", "-200.5000\t399.5000"],
	'every change is in the ledger');
is($s->req(GET => "/v1/admin/customers/$org")->{json}{credits_balance}, 399.5, 'detail shows the balance');

$r = $s->req(GET => "/v1/admin/customers/$org/members");
is_deeply([map { [$_->{user_email}, $_->{role}] } @{ $r->{json}{items} }],
	[['owner@acme.test', 'owner']], 'members with roles');

# Sessions and their revocation.
$r = $s->req(POST => '/v1/auth/login', { email => 'owner@acme.test', password => 'pw-owner' },
	{ Authorization => undef });
my $otok = $r->{json}{access_token} // $r->{json}{token};
ok($otok, 'the owner logs in');
$r = $s->req(GET => "/v1/admin/customers/$org/sessions");
is(scalar @{ $r->{json}{items} }, 1, 'one user with a session');
is($r->{json}{items}[0]{user_email}, 'owner@acme.test', 'the owner');
like($r->{json}{items}[0]{current_token_issued_at} // '', qr/^\d{4}-/, 'with its issue time');
is($s->as($otok, GET => '/v1/flows')->{status}, 200, 'the session works');
$r = $s->req(DELETE => "/v1/admin/customers/$org/sessions/owner%40acme.test");
is($r->{status}, 200, 'sessions revoked');
is($r->{json}{deleted}, 1, 'one of them');
is($r->{json}{status}, 'revoked', 'status revoked');
is($s->as($otok, GET => '/v1/flows')->{status}, 401, 'the revoked session is refused');
is($s->as($okey, GET => '/v1/flows')->{status}, 200, 'API keys are not sessions');

# Suspend: writes and runs refused, reads allowed; the worker leaves its
# queued runs alone; activate lets everything through again.
$r = $s->as($okey, POST => '/v1/flows', { flow_name => 'f1', flow_spec => { nodes => [
	{ id => 'a', type => 'shell', config => { command => 'true' } }] } });
is($r->{status}, 201, 'a flow before the suspension');
ok($s->worker_stop(1), 'worker stopped');
$r = $s->as($okey, POST => '/v1/runs', { flow_name => 'f1' });
is($r->{status}, 202, 'a run queued before the suspension');
my $queued = $r->{json}{run_id};
$r = $s->req(POST => "/v1/admin/customers/$org/suspend");
is($r->{status}, 200, 'suspended');
is_deeply($r->{json}, { status => 'suspended', org_id => $org }, 'as the spec answers');
$r = $s->as($okey, POST => '/v1/runs', { flow_name => 'f1' });
is($r->{status}, 403, 'a run of a suspended org is refused');
is($r->{json}{error}, 'org_suspended', 'with the documented error');
like($r->{json}{message}, qr/suspended/, 'saying so');
is($s->as($okey, POST => '/v1/flows', { flow_name => 'f2', flow_spec => { nodes => [
	{ id => 'a', type => 'shell', config => { command => 'true' } }] } })->{status}, 403,
	'other writes too');
is($s->as($okey, GET => '/v1/flows')->{status}, 200, 'reads are allowed');
is($s->req(GET => "/v1/admin/customers/$org")->{json}{status}, 'suspended', 'the console shows it');
ok($s->worker_start(1), 'worker started');
sleep 2;
is($s->as($okey, GET => "/v1/runs/$queued")->{json}{status}, 'queued',
	'the worker does not start a queued run of a suspended org');
$r = $s->req(POST => "/v1/admin/customers/$org/activate");
is_deeply($r->{json}, { status => 'active', org_id => $org }, 'activated');
is(wait_status($okey, $queued, 30, 'completed', 'failed'), 'completed', 'the queued run now runs');
$r = $s->as($okey, POST => '/v1/runs', { flow_name => 'f1' });
is($r->{status}, 202, 'new runs are accepted again');
is(wait_status($okey, $r->{json}{run_id}, 30, 'completed', 'failed'), 'completed', 'and run');
my @acts = $s->sql("SELECT action FROM audit_log a JOIN orgs o ON o.id = a.org_id"
	. " WHERE o.public_id = '$org' AND action IN ('admin.suspend', 'admin.activate') ORDER BY a.id");
is_deeply(\@acts, ['admin.suspend', 'admin.activate'], "both audited in the customer's log");

$r = $s->req(GET => "/v1/admin/customers/$org/usage");
is($r->{status}, 200, 'usage of a customer');
is($r->{json}{items}[0]{org_id}, $org, 'for that org');
is($r->{json}{items}[0]{run_count}, 2, 'counting its runs');
like($r->{json}{items}[0]{period}, qr/^\d{4}-\d\d$/, 'in the current period');

$r = $s->req(GET => "/v1/admin/customers/$org/audit?limit=2");
is(scalar @{ $r->{json}{items} }, 2, 'audit of a customer, limited');
is($r->{json}{items}[0]{org_id}, $org, 'its rows');

# Impersonation.
$r = $s->req(POST => "/v1/admin/impersonate/$org");
is($r->{status}, 200, 'impersonation started');
ok($r->{json}{impersonating}, 'impersonating');
is($r->{json}{org_name}, 'Acme Corp', 'that org');
my $itok = $r->{json}{token};
ok($itok, 'with a short-lived token');
is($s->as($itok, GET => '/v1/flows')->{json}{items}[0]{flow_name}, 'f1', "it sees the org's flows");
$r = $s->as($itok, POST => '/v1/flows', { flow_name => 'by-admin', flow_spec => { nodes => [
	{ id => 'a', type => 'shell', config => { command => 'true' } }] } });
is($r->{status}, 201, 'and acts in it with owner rights');
$r = $s->as($itok, GET => '/v1/audit-logs?limit=50', undef);
my ($row) = grep { ($_->{resource_id} // '') eq 'by-admin' } @{ $r->{json}{items} };
ok($row, 'the action is in the audit log') or diag($r->{body});
my ($details) = $s->sql("SELECT details FROM audit_log WHERE target_id = 'by-admin'");
like($details // '', qr/"impersonated":\s*true/, 'marked as impersonated');
like($details // '', qr/"impersonator":\s*"admin\@dagy.local"/, 'naming the super admin');
$r = $s->as($itok, POST => '/v1/runs', { flow_name => 'by-admin', execute => JSON::PP::false });
is($r->{status}, 202, 'a run triggered under impersonation');
($details) = $s->sql("SELECT details FROM audit_log WHERE action = 'run.trigger' AND target_id = '$r->{json}{run_id}'");
like($details // '', qr/"impersonator":\s*"admin\@dagy.local"/, 'is marked in its audit row too');
my ($plain) = $s->sql("SELECT details FROM audit_log WHERE action = 'admin.suspend'");
unlike($plain // '', qr/impersonator/, 'rows of ordinary credentials are not marked');
is($s->as($itok, GET => '/v1/admin/customers')->{status}, 403,
	'the token is no super admin credential');
is($s->as($itok, GET => '/v1/flows', undef, { 'X-Org-Id' => 'default' })->{status}, 403,
	'nor reaches any other org');
is($s->req(POST => '/v1/admin/impersonate/org_nope')->{status}, 404, 'impersonating nothing: 404');

# A forced internal error becomes a trace.
is(scalar(() = glob("$exc/traces/*.json")), 0, 'no traces yet');
$s->sql("RENAME TABLE schedules TO schedules_gone");
$r = $s->req(GET => '/v1/schedules');
$s->sql("RENAME TABLE schedules_gone TO schedules");
is($r->{status}, 500, 'a broken table gives a 500');
my $rid = $r->{json}{details}{request_id};
like($rid // '', qr/^req_/, 'with a request id');
$r = $s->req(GET => '/v1/admin/exceptions');
is($r->{status}, 200, 'exceptions listed');
my ($t) = grep { ($_->{request_id} // '') eq ($rid // '') } @{ $r->{json}{items} };
ok($t, 'the error is among them') or diag($r->{body});
is($t->{source}, 'dagy-api', 'from dagy-api');
$r = $s->req(GET => "/v1/admin/exceptions/content?key=$t->{key}");
is($r->{status}, 200, 'its content');
is($r->{json}{request_id}, $rid, 'the request');
my ($ctx) = grep { ($_->{path} // '') eq '/v1/schedules' } @{ $r->{json}{context} };
ok($ctx, 'the path in its context');
my ($dbe) = grep { defined $_->{db_error} } @{ $r->{json}{context} };
like($dbe->{db_error} // '', qr/schedules/, "and the database's error");
is($s->req(GET => '/v1/admin/exceptions/content?key=../../etc/passwd')->{status}, 400,
	'a key is no path');
is($s->req(GET => '/v1/admin/exceptions/content?key=exc_nope')->{status}, 404, 'an unknown key: 404');
$r = $s->req(GET => "/v1/admin/exceptions/download?key=$t->{key}");
is($r->{status}, 200, 'a download link');
my $url = $r->{json}{download_url};
like($url, qr{/v1/admin/exceptions/file\?key=\Q$t->{key}\E&expires=\d+&signature=[0-9a-f]{64}$}, 'signed');
my $http = HTTP::Tiny->new(timeout => 10);
my $dl = $http->get($url);
is($dl->{status}, 200, 'the link works without credentials');
like($dl->{content}, qr/\Q$rid\E/, 'and gives the trace');
(my $bad = $url) =~ s/signature=(.)/'signature=' . ($1 eq 'a' ? 'b' : 'a')/e;
is($http->get($bad)->{status}, 403, 'a tampered link is refused');
(my $late = $url) =~ s/expires=(\d+)/'expires=' . ($1 + 100)/e;
is($http->get($late)->{status}, 403, 'so is a lengthened one');
$r = $s->req(DELETE => '/v1/admin/exceptions', { keys => [$t->{key}, 'exc_nope'] });
is($r->{status}, 200, 'traces deleted');
is($r->{json}{deleted}, 1, 'the one that existed');
is($s->req(GET => "/v1/admin/exceptions/content?key=$t->{key}")->{status}, 404, 'it is gone');
is($s->req(DELETE => '/v1/admin/exceptions', { keys => ['../x'] })->{status}, 400, 'a bad key: 400');

# Without Stripe the billing endpoints say so.
$r = $s->req(GET => '/v1/billing/plans', undef, { Authorization => undef });
is($r->{status}, 200, 'plans without Stripe');
ok(!$r->{json}{billing_enabled}, 'billing is off');
$r = $s->as($okey, POST => '/v1/billing/checkout', { plan => 'professional',
	success_url => 'https://example.com/ok', cancel_url => 'https://example.com/no' });
is($r->{status}, 409, 'checkout without Stripe is refused');
is($r->{json}{error}, 'billing_not_configured', 'plainly');
is($s->as($okey, POST => '/v1/billing/portal', { return_url => 'https://example.com/' })->{status},
	409, 'so is the portal');
$r = $s->as($okey, GET => '/v1/billing/subscription');
is($r->{status}, 200, 'the subscription reads');
is($r->{json}{status}, 'active', 'active on its plan');
is($s->req(POST => '/v1/billing/webhook', '{}', { Authorization => undef,
	'Stripe-Signature' => 't=1,v1=00' })->{status}, 400, 'the webhook refuses without a secret');

$s->finish;
done_testing;
