# Billing with Stripe against a local stand-in for Stripe's HTTP API that
# records each request (t/api/fake_stripe.py): the plans, checkout and
# portal sessions (form fields, idempotency keys, a Stripe error as 502),
# and webhook events signed by Stripe's own Node library (the npm package
# `stripe`, installed by script/stripe): accepted and changing the plan and
# its quotas, refused with a wrong secret, a stale timestamp or a tampered
# body, applied once however often they come, a failed payment stopping
# runs until an invoice is paid.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time sleep);
use File::Temp qw(tempdir);
use FindBin;
use JSON::PP;
use HTTP::Tiny;
use DagyTest;

my $json = JSON::PP->new->canonical;
my $tmp = tempdir(CLEANUP => 1);

my $modules = `$FindBin::Bin/../../script/stripe 2>&1`;
chomp(my $mod_dir = (split /\n/, $modules)[-1] // '');
plan skip_all => "no stripe npm package: $modules"
	unless $? == 0 && -f "$mod_dir/node_modules/stripe/package.json";

my $fake_pid = fork // die;
if (!$fake_pid) {
	exec 'python3', "$FindBin::Bin/fake_stripe.py", "$tmp/stripe.port", "$tmp/stripe.log";
	exit 127;
}
my $deadline = time + 10;
sleep 0.05 until -s "$tmp/stripe.port" || time > $deadline;
my $sport = do { open my $f, '<', "$tmp/stripe.port" or die "fake Stripe did not start"; local $/; <$f> };
END { local $?; if ($fake_pid) { kill "TERM", $fake_pid; waitpid $fake_pid, 0 } }

my $whsec = 'whsec_test_dagy_123';
my $s = DagyTest->start(workers => 1, conf => ['[billing]', 'stripe_secret_key = sk_test_dagy',
	"webhook_secret = $whsec", "stripe_api_base = http://127.0.0.1:$sport",
	'timeout_seconds = 5', 'payment_grace_seconds = 0',
	'[plan.professional]', 'stripe_price_id = price_pro', 'monthly_cost_usd = 299',
	'monthly_runs = 10000', 'display_name = Professional',
	'[plan.enterprise]', 'stripe_price_id = price_ent', 'monthly_runs = 50000',
	'[plan.starter]', 'stripe_price_id = price_refused']);

# A customer org with its owner, who is no super admin.
my ($rc, $out) = $s->cli('user', 'add', 'owner@acme.test', '--password', 'pw-owner');
($rc, $out) = $s->cli('org', 'add', 'acme', '--owner', 'owner@acme.test');
is($rc, 0, 'org acme created') or diag($out);
my ($org) = $s->sql("SELECT public_id FROM orgs WHERE name = 'acme'");
($rc, my $key) = $s->cli('key', 'create', '--org', 'acme', '--user', 'owner@acme.test');
$key =~ s/\s+\z//;

sub log_lines { open my $f, '<', "$tmp/stripe.log" or return (); map { $json->decode($_) } <$f> }
sub sign {
	my ($payload, $secret, $ts) = @_;
	open my $fh, '>', "$tmp/payload" or die;
	print $fh $payload;
	close $fh;
	my $h = `node $FindBin::Bin/stripe_sign.js $mod_dir $secret $ts < $tmp/payload`;
	die "signing failed" if $?;
	return $h;
}
sub webhook {
	my ($event, %o) = @_;
	my $payload = ref $event ? $json->encode($event) : $event;
	my $sig = sign($o{signed} // $payload, $o{secret} // $whsec, $o{ts} // int(time));
	return $s->req(POST => '/v1/billing/webhook', $payload,
		{ Authorization => undef, 'Stripe-Signature' => $sig });
}
sub plan_of { ($s->sql("SELECT plan FROM orgs WHERE name = 'acme'"))[0] }

# Plans: public, from dagy.conf, each with the price it sells as.
my $r = $s->req(GET => '/v1/billing/plans', undef, { Authorization => undef });
is($r->{status}, 200, 'plans need no credentials');
my %plans = map { $_->{plan_id} => $_ } @{ $r->{json}{items} };
is_deeply([sort keys %plans], [qw(enterprise free professional starter)], 'every plan listed');
is($plans{professional}{stripe_price_id}, 'price_pro', 'a plan names its Stripe price');
is($plans{professional}{limits}{monthly_runs}, 10000, "a plan's limits are its quotas");
is($plans{professional}{monthly_cost_usd}, 299, 'and its price');
is($plans{free}{limits}{monthly_runs}, undef, 'an unlimited quota is null');
ok($r->{json}{billing_enabled}, 'billing is on with a secret key');

$r = $s->as($key, GET => '/v1/billing/subscription');
is($r->{status}, 200, 'subscription read');
is($r->{json}{plan}, 'free', 'a new org is on the free plan');
is($r->{json}{subscription_id}, undef, 'without a subscription');

# Checkout: the form Stripe gets, and one idempotency key per client key.
$r = $s->as($key, POST => '/v1/billing/checkout', { plan => 'professional',
	success_url => 'https://example.com/ok?x=1&y=2', cancel_url => 'https://example.com/no' },
	{ 'Idempotency-Key' => 'client-1' });
is($r->{status}, 201, 'checkout session created') or diag($r->{body});
is($r->{json}{checkout_id}, 'cs_test_1', "Stripe's session id");
is($r->{json}{url}, 'https://checkout.stripe.test/c/cs_test_1', "and its URL");
like($r->{json}{expires_at} // '', qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'expiry as RFC 3339');
my @log = log_lines();
is(scalar @log, 1, 'one request to Stripe');
is($log[0]{path}, '/v1/checkout/sessions', 'to the Checkout Sessions API');
is($log[0]{auth}, 'Bearer sk_test_dagy', 'with the secret key');
my %f = %{ $log[0]{form} };
is($f{mode}, 'subscription', 'a subscription');
is($f{'line_items[0][price]'}, 'price_pro', "of the plan's price");
is($f{'line_items[0][quantity]'}, '1', 'once');
is($f{success_url}, 'https://example.com/ok?x=1&y=2', 'success URL encoded intact');
is($f{cancel_url}, 'https://example.com/no', 'cancel URL');
is($f{client_reference_id}, $org, 'the org as client reference');
is($f{'metadata[org_id]'}, $org, 'and in the metadata');
is($f{'metadata[plan]'}, 'professional', 'with the plan');
is($f{'subscription_data[metadata][org_id]'}, $org, 'the subscription carries the org');
is($f{customer_email}, 'owner@acme.test', 'a new customer by email');
like($log[0]{idempotency_key} // '', qr/^dagy-checkout-\w+$/, 'an idempotency key');
$s->as($key, POST => '/v1/billing/checkout', { plan => 'professional',
	success_url => 'https://example.com/ok', cancel_url => 'https://example.com/no' },
	{ 'Idempotency-Key' => 'client-1' });
$s->as($key, POST => '/v1/billing/checkout', { plan => 'professional',
	success_url => 'https://example.com/ok', cancel_url => 'https://example.com/no' });
@log = log_lines();
is($log[1]{idempotency_key}, $log[0]{idempotency_key}, "a client's retry keeps its key");
isnt($log[2]{idempotency_key}, $log[0]{idempotency_key}, 'another create gets another');

$r = $s->as($key, POST => '/v1/billing/checkout', { plan => 'gold',
	success_url => 'https://example.com/ok', cancel_url => 'https://example.com/no' });
is($r->{status}, 400, 'an unknown plan is refused');
is((keys %{ $r->{json}{details} })[0], 'plan', 'naming the field');
$r = $s->as($key, POST => '/v1/billing/checkout', { plan => 'professional',
	success_url => 'javascript:alert(1)', cancel_url => 'https://example.com/no' });
is($r->{status}, 400, 'a URL that is not http(s) is refused');
$r = $s->as($key, POST => '/v1/billing/checkout', { plan => 'free',
	success_url => 'https://example.com/ok', cancel_url => 'https://example.com/no' });
is($r->{status}, 400, 'a plan without a price cannot be bought');
my $n = () = log_lines();
$r = $s->as($key, POST => '/v1/billing/checkout', { plan => 'starter',
	success_url => 'https://example.com/ok', cancel_url => 'https://example.com/no' });
is($r->{status}, 502, "Stripe's refusal is a 502");
like($r->{json}{message}, qr/No such price: 'price_refused'/, "with Stripe's message");
is(scalar(() = log_lines()), $n + 1, 'after one request');

$r = $s->as($key, POST => '/v1/billing/portal', { return_url => 'https://example.com/settings' });
is($r->{status}, 409, 'no portal before there is a Stripe customer');

# A viewer may read billing but not buy.
$s->cli('user', 'add', 'viewer@acme.test', '--password', 'pw-viewer');
$s->sql("INSERT INTO memberships (public_id, org_id, user_id, email, role, status) SELECT"
	. " 'member_v', o.id, u.id, u.email, 'viewer', 'active' FROM orgs o, users u"
	. " WHERE o.name = 'acme' AND u.email = 'viewer\@acme.test'");
(undef, my $viewer) = $s->cli('key', 'create', '--org', 'acme', '--user', 'viewer@acme.test');
$viewer =~ s/\s+\z//;
$r = $s->as($viewer, POST => '/v1/billing/checkout', { plan => 'professional',
	success_url => 'https://example.com/ok', cancel_url => 'https://example.com/no' },
	{ 'X-Org-Id' => $org });
is($r->{status}, 403, 'billing.write is needed to check out');

# The webhook.
my $completed = { id => 'evt_checkout_1', type => 'checkout.session.completed',
	data => { object => { id => 'cs_test_1', object => 'checkout.session', customer => 'cus_acme',
	subscription => 'sub_acme', client_reference_id => $org,
	customer_details => { email => 'billing@acme.test' },
	metadata => { org_id => $org, plan => 'professional' } } } };

$r = webhook($completed, secret => 'whsec_wrong');
is($r->{status}, 400, 'a wrong secret is refused');
$r = webhook($completed, ts => int(time) - 301);
is($r->{status}, 400, 'a stale timestamp is refused');
like($r->{json}{message}, qr/tolerance/, 'saying why');
my $tampered = $json->encode($completed);
(my $signed = $tampered) =~ s/professional/free/;
$r = webhook($tampered, signed => $signed);
is($r->{status}, 400, 'a tampered body is refused');
$r = $s->req(POST => '/v1/billing/webhook', $json->encode($completed), { Authorization => undef });
is($r->{status}, 400, 'no signature is refused');
is(plan_of(), 'free', 'none of them changed anything');
is(scalar($s->sql("SELECT event_id FROM stripe_events")), 0, 'nor was recorded');

$r = webhook($completed);
is($r->{status}, 200, 'a signed event is accepted') or diag($r->{body});
ok($r->{json}{received}, 'received');
is($r->{json}{outcome}, 'applied', 'and applied');
is(plan_of(), 'professional', 'the plan changed');
$r = $s->as($key, GET => '/v1/billing/subscription');
is($r->{json}{plan}, 'professional', 'the subscription shows it');
is($r->{json}{subscription_id}, 'sub_acme', 'with its id');
is($r->{json}{status}, 'active', 'active');
is($r->{json}{billing_email}, 'billing@acme.test', 'billing email from Stripe');
is($r->{json}{monthly_cost_usd}, 299, "the plan's price");
$r = $s->as($key, GET => '/v1/usage/quota');
is($r->{json}{plan}, 'professional', 'the quotas are those of the new plan') or diag($r->{body});
is($r->{json}{limits}{monthly_runs}, 10000, "its monthly runs");

$r = webhook($completed);
is($r->{status}, 200, 'the same event again is answered 2xx');
is($r->{json}{outcome}, 'duplicate', 'as a duplicate');
is(scalar($s->sql("SELECT id FROM audit_log WHERE action = 'billing.event'")), 1, 'and applied once');

# A signature list with an old v1 and the right one passes.
{
	my $payload = $json->encode({ id => 'evt_other_1', type => 'customer.created', data => { object => {} } });
	my $sig = sign($payload, $whsec, int(time));
	$sig =~ s/,v1=/,v1=${\('0' x 64)},v1=/;
	$r = $s->req(POST => '/v1/billing/webhook', $payload, { Authorization => undef, 'Stripe-Signature' => $sig });
	is($r->{status}, 200, 'any of several v1 signatures may match');
	is($r->{json}{outcome}, 'ignored', 'an unhandled type is answered 2xx and ignored');
}

# The portal, now that there is a customer.
$r = $s->as($key, POST => '/v1/billing/portal', { return_url => 'https://example.com/settings' });
is($r->{status}, 201, 'portal session created') or diag($r->{body});
is($r->{json}{portal_session_id}, 'bps_test_1', "Stripe's portal session");
is($r->{json}{url}, 'https://billing.stripe.test/p/bps_test_1', 'its URL');
@log = log_lines();
is($log[-1]{path}, '/v1/billing_portal/sessions', 'to the Billing Portal API');
is($log[-1]{form}{customer}, 'cus_acme', "for the org's customer");
is($log[-1]{form}{return_url}, 'https://example.com/settings', 'returning where asked');
like($log[-1]{idempotency_key} // '', qr/^dagy-portal-\w+$/, 'with an idempotency key');
$r = $s->as($key, POST => '/v1/billing/portal', { return_url => 'ftp://x' });
is($r->{status}, 400, 'a bad return URL is refused');

# A plan change in the portal arrives as customer.subscription.updated.
my $t0 = int(time);
$r = webhook({ id => 'evt_sub_upd_1', type => 'customer.subscription.updated', created => $t0,
	data => { object => { id => 'sub_acme', object => 'subscription', customer => 'cus_acme',
	status => 'active', current_period_start => $t0, current_period_end => $t0 + 30 * 86400,
	metadata => { org_id => $org },
	items => { data => [{ price => { id => 'price_ent' } }] } } } });
is($r->{json}{outcome}, 'applied', 'subscription update applied');
is(plan_of(), 'enterprise', 'the plan follows the price');
# Stripe does not deliver in order: a later event, then an older one.
sub sub_event {
	my ($id, $created, $price) = @_;
	return webhook({ id => $id, type => 'customer.subscription.updated', created => $created,
		data => { object => { id => 'sub_acme', object => 'subscription', customer => 'cus_acme',
		status => 'active', metadata => { org_id => $org },
		items => { data => [{ price => { id => $price } }] } } } });
}
is(sub_event('evt_sub_new', $t0 + 2, 'price_pro')->{json}{outcome}, 'applied', 'a newer change');
is(plan_of(), 'professional', 'applied');
is(sub_event('evt_sub_old', $t0 + 1, 'price_ent')->{json}{outcome}, 'ignored',
	'an older one arriving after it is ignored');
is(plan_of(), 'professional', 'and does not take the plan back');
is(sub_event('evt_sub_newer', $t0 + 3, 'price_ent')->{json}{outcome}, 'applied', 'a newer one again');
is(plan_of(), 'enterprise', 'applies');
$r = $s->as($key, GET => '/v1/billing/subscription');
like($r->{json}{billing_cycle_end} // '', qr/^\d{4}-/, 'with its billing period');

# A failed payment past the grace period (0 s here) stops runs, not data.
$s->as($key, POST => '/v1/flows', { flow_name => 'f1', flow_spec => { nodes => [
	{ id => 'a', type => 'shell', config => { command => 'true' } }] } });
$r = webhook({ id => 'evt_inv_failed_1', type => 'invoice.payment_failed',
	data => { object => { id => 'in_1', object => 'invoice', customer => 'cus_acme' } } });
is($r->{json}{outcome}, 'applied', 'payment failure applied');
$r = $s->as($key, POST => '/v1/runs', { flow_name => 'f1' });
is($r->{status}, 403, 'a run is refused after the grace period') or diag($r->{body});
is($r->{json}{error}, 'org_suspended', 'as documented');
is($r->{json}{details}{org_status}, 'payment_overdue', 'for the overdue payment');
is($s->as($key, GET => '/v1/flows')->{status}, 200, 'reads still work');
$r = $s->as($key, POST => '/v1/flows', { flow_name => 'f2', flow_spec => { nodes => [
	{ id => 'a', type => 'shell', config => { command => 'true' } }] } });
is($r->{status}, 201, 'and so do other writes');
$r = webhook({ id => 'evt_inv_paid_1', type => 'invoice.paid',
	data => { object => { id => 'in_2', object => 'invoice', customer => 'cus_acme' } } });
is($r->{json}{outcome}, 'applied', 'paid invoice applied');
$r = $s->as($key, POST => '/v1/runs', { flow_name => 'f1' });
is($r->{status}, 202, 'runs start again once paid') or diag($r->{body});
my $run = $r->{json}{run_id};
my $deadline2 = time + 30;
my $st = '';
while (time < $deadline2) {
	$st = $s->as($key, GET => "/v1/runs/$run")->{json}{status} // '';
	last if $st eq 'completed' || $st eq 'failed';
	sleep 0.1;
}
is($st, 'completed', 'and the run completes');

$r = webhook({ id => 'evt_sub_del_1', type => 'customer.subscription.deleted', created => $t0 + 100,
	data => { object => { id => 'sub_acme', object => 'subscription', customer => 'cus_acme',
	status => 'canceled', metadata => { org_id => $org } } } });
is($r->{json}{outcome}, 'applied', 'subscription deletion applied');
is(plan_of(), 'free', 'back on the free plan');

$r = webhook({ id => 'evt_foreign_1', type => 'invoice.paid',
	data => { object => { id => 'in_3', customer => 'cus_someone_else' } } });
is($r->{status}, 200, 'an event of no org here is still answered 2xx');
is($r->{json}{outcome}, 'ignored', 'and ignored');

ok(!grep({ /sk_test_dagy|whsec_test/ } $s->sql("SELECT details FROM audit_log")), 'no secret in the audit log');

$s->finish;
done_testing;
