# Rate limits shared by the host's dagy-api processes, their headers on
# every response, and failed-login throttling.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time sleep);
use DagyTest;

# The "starter" plan gets small buckets; the admin's org (free) keeps the
# defaults. A bucket of 10 refills one request every 12 s, the org's of 15
# one every 8 s: slow enough that the test's steps see no refill. Cheap
# argon2 keeps the first use of each key in each process quick.
my $s = DagyTest->start(conf => ['[auth]', 'argon2_memory_kib = 1024', 'argon2_iterations = 1',
	'[limits]', 'window_seconds = 120',
	'login_slow_after = 15', 'login_slow_seconds = 2', 'login_failures = 20',
	'login_lockout_seconds = 6', 'login_address_failures = 32',
	'[plan.starter]', 'key_requests = 10', 'org_requests = 15']);
my $r;

sub rl_headers_ok {
	my ($res, $what) = @_;
	my $h = $res->{headers};
	ok(defined $h->{'x-ratelimit-limit'} && $h->{'x-ratelimit-limit'} =~ /^\d+$/
		&& defined $h->{'x-ratelimit-remaining'} && $h->{'x-ratelimit-remaining'} =~ /^\d+$/
		&& defined $h->{'x-ratelimit-reset'} && $h->{'x-ratelimit-reset'} >= int(time) - 1,
		"rate limit headers on $what ($res->{status})")
		or diag(explain($h));
}

# --- headers on every response ----------------------------------------------------------
rl_headers_ok($s->req(GET => '/v1/me'), 'an authenticated read');
rl_headers_ok($s->req(GET => '/v1/nope'), 'an unknown path');
rl_headers_ok($s->req(DELETE => '/v1/me'), 'a wrong method');
rl_headers_ok($s->req(GET => '/v1/me', undef, { Authorization => undef }), 'no credentials');
rl_headers_ok($s->req(GET => '/v1/me', undef, { Authorization => 'Bearer dagy_sk_nope' }), 'a bad key');
rl_headers_ok($s->req(GET => '/v1/health', undef, { Authorization => undef }), 'a public route');
rl_headers_ok($s->req(POST => '/v1/flows', '{bad json'), 'a malformed body');
rl_headers_ok($s->req(POST => '/v1/auth/login', { email => 'x@y.z', password => 'no' },
	{ Authorization => undef }), 'a failed login');
$r = $s->req(GET => '/v1/me');
is($r->{headers}{'x-ratelimit-limit'}, 6000, 'the default limit per key');

# --- the (N+1)th request in the window, across both dagy-api processes --------------------
my ($rc, $out) = $s->cli('user', 'add', 'small-owner@example.com', '--password', 'pw');
($rc, $out) = $s->cli('org', 'add', 'small', '--owner', 'small-owner@example.com', '--plan', 'starter');
is($rc, 0, 'an org on the starter plan');
my $ka = $s->user_key('a@small.example', 'developer', org => 'small');
my $kb = $s->user_key('b@small.example', 'developer', org => 'small');
my @pids = $s->api_pids;
is(scalar @pids, 2, 'two dagy-api processes');

# Each half of the bucket is spent in one process while the other is
# stopped; on a busy machine, wait until the signals have taken effect
# (T: stopped, S: waiting for a request).
sub state { open my $fh, '<', "/proc/$_[0]/stat" or return ''; (split ' ', <$fh>)[2] }
sub settle {
	my ($stopped, $serving) = @_;
	my $deadline = time + 5;
	sleep 0.05 until time > $deadline || (state($stopped) eq 'T' && state($serving) eq 'S');
}
my @st;
kill 'STOP', $pids[0];
settle($pids[0], $pids[1]);
push @st, $s->as($ka, GET => '/v1/me') for 1 .. 5;
kill 'CONT', $pids[0];
kill 'STOP', $pids[1];
settle($pids[1], $pids[0]);
push @st, $s->as($ka, GET => '/v1/me') for 1 .. 5;
my $over = $s->as($ka, GET => '/v1/me');
kill 'CONT', $pids[1];
is_deeply([map { $_->{status} } @st], [(200) x 10], 'ten requests in two processes: all answered');
is_deeply([map { $_->{headers}{'x-ratelimit-remaining'} } @st], [reverse 0 .. 9],
	'remaining counts down across the processes');
is($st[0]{headers}{'x-ratelimit-limit'}, 10, 'the plan\'s limit');
is($over->{status}, 429, 'the 11th request: 429');
is($over->{json}{error}, 'rate_limited', 'rate_limited');
like($over->{json}{message}, qr/API key/, 'naming what is limited');
is($over->{json}{details}{scope}, 'API key', 'scope in details');
ok($over->{headers}{'retry-after'} >= 1 && $over->{headers}{'retry-after'} <= 13,
	'Retry-After: about one refill interval') or diag($over->{headers}{'retry-after'});
is($over->{headers}{'x-ratelimit-remaining'}, 0, 'remaining 0 on the 429');
is($s->as($ka, GET => '/v1/flows')->{status}, 429, 'other routes too: the key is out');

# The organization's bucket holds 15: the other key of the org gets 5.
my @b = map { $s->as($kb, GET => '/v1/me') } 1 .. 5;
is_deeply([map { $_->{status} } @b], [(200) x 5], 'another key of the org: 5 more');
is($b[0]{headers}{'x-ratelimit-remaining'}, 4, 'the tighter bucket (the org\'s) in the headers');
$r = $s->as($kb, GET => '/v1/me');
is($r->{status}, 429, 'then the org is out');
is($r->{json}{details}{scope}, 'organization', 'scope: organization');
is($s->req(GET => '/v1/me')->{status}, 200, 'other orgs are not affected');

# --- limits reset -----------------------------------------------------------------------
sleep($over->{headers}{'retry-after'} + 0.2);
$r = $s->as($ka, GET => '/v1/me');
is($r->{status}, 200, 'after Retry-After the key may go on');

# --- failed logins ------------------------------------------------------------------------
($rc, $out) = $s->cli('user', 'add', 'victim@example.com', '--password', 'right-password');
sub login {
	my ($email, $pw) = @_;
	return $s->req(POST => '/v1/auth/login', { email => $email, password => $pw },
		{ Authorization => undef });
}
my @fails = map { login('victim@example.com', "wrong-$_")->{status} } 1 .. 15;
is_deeply(\@fails, [(401) x 15], '15 wrong passwords: 401 each');
$r = login('Victim@Example.com', 'wrong-16');
is($r->{status}, 429, 'then slowed: an attempt right after is refused');
is($r->{headers}{'retry-after'}, 2, 'with Retry-After: 2');
is($r->{json}{details}{scope}, 'login', 'scope login');
for my $n (16 .. 20) {
	sleep 2.05;
	is(login('victim@example.com', "wrong-$n")->{status}, 401, "failure $n after waiting: checked, 401");
}
sleep 2.05;
$r = login('victim@example.com', 'right-password');
is($r->{status}, 429, 'after 20 failures even the right password is refused');
ok($r->{headers}{'retry-after'} >= 2, 'for the lockout') or diag($r->{headers}{'retry-after'});
is(($s->sql("SELECT COUNT(*) FROM audit_log WHERE action = 'auth.login' AND actor_email = 'victim\@example.com'"))[0],
	0, 'and no login was recorded');
sleep($r->{headers}{'retry-after'} + 0.2);
is(login('victim@example.com', 'right-password')->{status}, 200, 'after the lockout the right password works');
is(login('victim@example.com', 'wrong-again')->{status}, 401, 'a success resets the account: checked again');
is(login('victim@example.com', 'wrong-again2')->{status}, 401, 'and again');

# --- failures per address ----------------------------------------------------------------
# The lockout also made the address forget its failures; since then it
# failed twice, and it may fail 32 times across accounts.
my $n = 0;
$n++ while $n < 40 && login("nobody$n\@example.com", 'x')->{status} == 401;
is($n, 30, 'failures for other accounts from the same address: refused after 30 more');
$r = login('victim@example.com', 'right-password');
is($r->{status}, 429, 'the address is refused, whatever the account');

$s->finish;
done_testing;
