# Sensors: webhook sensors that start one run per event (signed, deduped by
# delivery id, size-limited, the same 404 for unknown and disabled, rate
# limited per token), and polling sensors polled by two workers against
# local HTTP servers.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time sleep);
use File::Temp qw(tempdir);
use Digest::SHA qw(hmac_sha256_hex);
use IO::Socket::INET;
use File::Basename qw(dirname);
use JSON::PP;
use POSIX ();
use DagyTest;

my $s = DagyTest->start(workers => 2, conf => ['[limits]', 'webhook_requests = 40']);
my $tmp = tempdir(CLEANUP => 1);
my @kids;
END { kill 'TERM', @kids if @kids }

sub wait_for {
	my ($secs, $cond) = @_;
	my $end = time + $secs;
	my $got;
	sleep 0.2 until ($got = $cond->()) || time > $end;
	return $got;
}
sub runs_of {
	my ($flow) = @_;
	my ($n) = $s->sql("SELECT COUNT(*) FROM runs WHERE trigger_type = 'sensor'"
		. " AND flow_id = (SELECT id FROM flows WHERE name = '$flow')");
	return $n;
}

$s->flow('hooked', [['echo', 'echo "ref=$DAGY_PARAM_REF who=$DAGY_PARAM_WHO"']],
	params => { ref => { default => 'none' }, who => { default => 'nobody' } });
$s->flow('polled', [['echo', 'echo polled']]);
$s->flow('watched', [['echo', 'echo watched']]);

# --- who may, and what is refused -----------------------------------------------------------
my $viewer = $s->user_key('vera@example.com', 'viewer');
is($s->as($viewer, POST => '/v1/sensors', { name => 'v', sensor_type => 'webhook',
	flow_name => 'hooked' })->{status}, 403, 'viewers cannot create sensors');
my %bad = (
	sensor_type => { sensor_type => 'ftp' },
	'config_json.access_key' => { sensor_type => 's3', config_json => { bucket => 'b' } },
	'config_json.interval_seconds' => { sensor_type => 'polling',
		config_json => { url => 'http://127.0.0.1:1/x', interval_seconds => 5 } },
	'config_json.url' => { sensor_type => 'polling', config_json => { url => 'file:///etc/passwd' } },
	'config_json.signing_secret' => { sensor_type => 'webhook', config_json => { signing_secret => 'short' } },
	'config_json.params' => { sensor_type => 'webhook', config_json => { params => { ref => 'ref' } } },
	flow_params_json => { sensor_type => 'webhook', flow_params_json => { nope => 1 } },
	'config_json.condition.type' => { sensor_type => 'polling',
		config_json => { url => 'http://127.0.0.1:1/x', condition => { type => 'sometimes' } } },
);
for my $field (sort keys %bad) {
	my $r = $s->req(POST => '/v1/sensors', { name => 'bad', flow_name => 'hooked', %{ $bad{$field} } });
	is($r->{status}, 400, "bad sensor: 400 for $field");
	ok(exists $r->{json}{details}{$field}, "and the details name $field") or diag($r->{body});
}
is($s->req(POST => '/v1/sensors', { name => 'x', sensor_type => 'webhook',
	flow_name => 'nope' })->{status}, 404, 'an unknown flow: 404');

# --- a signed webhook ----------------------------------------------------------------------
my $secret = 'gh-secret-0123456789';
my $r = $s->req(POST => '/v1/sensors', { name => 'github push', sensor_type => 'webhook',
	flow_name => 'hooked', config_json => { signing_secret => $secret,
	delivery_id_header => 'X-GitHub-Delivery',
	params => { ref => '/ref', who => '/sender/login' }, max_body_bytes => 2000 } });
is($r->{status}, 201, 'webhook sensor created') or diag($r->{body});
my $hook = $r->{json};
my $token = $hook->{webhook_token};
like($token, qr/^wh_[A-Za-z0-9_-]{43}$/, 'a 256-bit webhook token, shown once');
is($hook->{config_json}{signing_secret}, '***', 'the signing secret is masked');
is($hook->{config_json}{signature_header}, 'X-Hub-Signature-256', "GitHub's header by default");
my $got = $s->req(GET => "/v1/sensors/$hook->{sensor_id}")->{json};
ok(!exists $got->{webhook_token}, 'GET does not show the token again');
my ($stored) = $s->sql("SELECT CONCAT(token_hash, ' ', sealed) FROM sensors WHERE public_id = '$hook->{sensor_id}'");
ok(index($stored, $token) < 0 && index($stored, $secret) < 0, 'neither token nor secret is stored in clear');

sub post_hook {
	my ($tok, $body, %h) = @_;
	return $s->req(POST => "/v1/webhooks/$tok", $body, { Authorization => undef, %h });
}
my $body = encode_json({ ref => 'refs/heads/main', sender => { login => 'octocat' } });
my $sig = 'sha256=' . hmac_sha256_hex($body, $secret);
$r = post_hook($token, $body, 'X-Hub-Signature-256' => $sig, 'X-GitHub-Delivery' => 'd-1');
is($r->{status}, 202, 'a validly signed event: 202') or diag($r->{body});
my $run = $r->{json}{run_id};
ok($run, 'with the run id');
is(runs_of('hooked'), 1, 'exactly one run started');
my $done = $s->wait_run($run, 30);
is($done->{status}, 'completed', 'the run completes');
is_deeply($done->{parameters}, { ref => 'refs/heads/main', who => 'octocat' },
	'its parameters came from the body');

$r = post_hook($token, $body, 'X-Hub-Signature-256' => $sig, 'X-GitHub-Delivery' => 'd-1');
is($r->{status}, 202, 'the same delivery again: 202');
is($r->{json}{run_id}, $run, 'the same run');
ok($r->{json}{duplicate}, 'marked a duplicate');
is(runs_of('hooked'), 1, 'and no other run');

$r = post_hook($token, $body, 'X-Hub-Signature-256' => 'sha256=' . hmac_sha256_hex($body, 'wrong-secret-0000'),
	'X-GitHub-Delivery' => 'd-2');
is($r->{status}, 401, 'a bad signature: 401');
is(post_hook($token, $body, 'X-GitHub-Delivery' => 'd-3')->{status}, 401, 'no signature: 401');
is(runs_of('hooked'), 1, 'neither started a run');
my $big = encode_json({ ref => 'x' x 3000 });
is(post_hook($token, $big, 'X-Hub-Signature-256' => 'sha256=' . hmac_sha256_hex($big, $secret))->{status},
	413, 'a body over the sensor limit: 413');
$r = post_hook($token, $body, 'X-Hub-Signature-256' => $sig, 'X-GitHub-Delivery' => 'd-4');
is($r->{status}, 202, 'a new delivery id starts a new run');
isnt($r->{json}{run_id}, $run, 'another run');

# The same delivery sent four times at once still starts one run.
my $race = encode_json({ ref => 'race' });
my $rsig = 'sha256=' . hmac_sha256_hex($race, $secret);
my $n0 = runs_of('hooked');
my @racers;
for my $i (1 .. 4) {
	my $pid = fork // die;
	if (!$pid) {
		my $a = post_hook($token, $race, 'X-Hub-Signature-256' => $rsig, 'X-GitHub-Delivery' => 'race-1');
		open my $o, '>', "$tmp/race-$i" or POSIX::_exit(1);
		print $o "$a->{status} " . ($a->{json}{run_id} // '-');
		close $o;
		POSIX::_exit(0);
	}
	push @racers, $pid;
}
waitpid($_, 0) for @racers;
my @answers = map { DagyTest::slurp("$tmp/race-$_") } 1 .. 4;
is(scalar(grep { /^202 run_/ } @answers), 4, 'one delivery four times at once: four 202s')
	or diag(join ', ', @answers);
is(scalar(keys %{ { map { (split / /)[1] => 1 } @answers } }), 1, 'all naming one run');
is(runs_of('hooked'), $n0 + 1, 'and one run started');

# --- the t=…,v1=… scheme -----------------------------------------------------------------------
$r = $s->req(POST => '/v1/sensors', { name => 'stamped', sensor_type => 'webhook', flow_name => 'hooked',
	config_json => { signing_secret => $secret, signature_scheme => 'timestamped',
	signature_header => 'Webhook-Signature', params => { ref => '/data/0' } } });
is($r->{status}, 201, 'timestamped sensor created') or diag($r->{body});
my $stamped = $r->{json}{webhook_token};
$body = '{"data":["v1-ref"]}';
my $t = time;
$t = int($t);
$r = post_hook($stamped, $body, 'Webhook-Signature' => "t=$t,v1=" . hmac_sha256_hex("$t.$body", $secret));
is($r->{status}, 202, 't=,v1= signature accepted') or diag($r->{body});
is($s->wait_run($r->{json}{run_id}, 30)->{parameters}{ref}, 'v1-ref', 'an array pointer maps');
my $old = $t - 3600;
is(post_hook($stamped, $body, 'Webhook-Signature' => "t=$old,v1=" . hmac_sha256_hex("$old.$body", $secret))
	->{status}, 401, 'a stale timestamp: 401');

# --- unknown and disabled look alike ------------------------------------------------------------
$r = $s->req(POST => '/v1/sensors', { name => 'off', sensor_type => 'webhook', flow_name => 'hooked',
	enabled => JSON::PP::false });
my $off = $r->{json}{webhook_token};
my $u = post_hook('wh_' . ('A' x 43), '{}');
my $d = post_hook($off, '{}');
is($u->{status}, 404, 'an unknown token: 404');
is($d->{status}, 404, 'a disabled sensor: 404');
is($d->{body}, $u->{body}, 'the same answer for both');
is(post_hook($token, 'not json', 'X-Hub-Signature-256' => 'sha256=' . hmac_sha256_hex('not json', $secret))
	->{status}, 400, 'a body that is not JSON: 400');

# Per token: one token's bucket runs dry, another's does not.
my $sprayed = 'wh_' . ('B' x 43);
my @codes = map { post_hook($sprayed, '{}')->{status} } 1 .. 41;
is(scalar(grep { $_ == 404 } @codes), 40, 'a token gets its 40 requests');
my $limited = post_hook($sprayed, '{}');
is($limited->{status}, 429, 'then 429');
ok($limited->{headers}{'retry-after'}, 'with Retry-After');
is(post_hook($off, '{}')->{status}, 404, 'another token is not limited by it');

# --- /test, firings, other orgs -----------------------------------------------------------------
my $before = runs_of('hooked');
$r = $s->req(POST => "/v1/sensors/$hook->{sensor_id}/test");
is($r->{status}, 200, '/test: 200') or diag($r->{body});
ok($r->{json}{run_id}, 'with a run id');
is(runs_of('hooked'), $before + 1, '/test fires once');
my $f = $s->req(GET => "/v1/sensors/$hook->{sensor_id}/firings")->{json}{items};
is_deeply([map { $_->{source} } @$f], [qw(test webhook webhook webhook)], 'each firing is recorded');
is_deeply([map { $_->{delivery_id} } @$f], [undef, 'race-1', 'd-4', 'd-1'], 'with its delivery id');
my ($n) = $s->sql("SELECT COUNT(*) FROM audit_log WHERE action = 'run.trigger' AND target_id = '$run'");
is($n, 1, 'the webhook run is audited like POST /v1/runs');

$s->cli('user', 'add', 'eve@evil.com');
$s->cli('org', 'add', 'Evil', '--owner', 'eve@evil.com');
my (undef, $eve) = $s->cli('key', 'create', '--org', 'Evil', '--user', 'eve@evil.com');
$eve =~ s/\s+\z//;
for my $req (['GET', ''], ['POST', '/test'], ['GET', '/firings'], ['DELETE', '']) {
	is($s->as($eve, $req->[0] => "/v1/sensors/$hook->{sensor_id}$req->[1]")->{status}, 404,
		"another org's sensor: $req->[0] $req->[1] gives 404");
}
is(scalar @{ $s->as($eve, GET => '/v1/sensors')->{json}{items} }, 0, "nor is it listed there");

# --- polling, with two workers -----------------------------------------------------------------
my $port = DagyTest::free_port();
open my $fh, '>', "$tmp/state.txt" or die;
print $fh "version 1\n";
close $fh;
# A Python program with its output to a file, none to ours (prove reads
# until every holder of our output has closed it).
sub spawn {
	my ($log, @args) = @_;
	my $pid = fork // die;
	if (!$pid) {
		open STDERR, '>', $log;
		open STDOUT, '>&', \*STDERR;
		exec '/usr/bin/python3', @args;
		exit 127;
	}
	return $pid;
}
push @kids, spawn("$tmp/http.log", '-m', 'http.server', '--bind', '127.0.0.1', '--directory', $tmp, $port);
wait_for(10, sub { IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port") });
sub hits {
	open my $l, '<', "$tmp/http.log" or return 0;
	return scalar grep { m{"GET /state.txt} } <$l>;
}
my $hits0 = hits();

# A second polling sensor, against the recording receiver: a header that
# takes a secret, and a JSON condition that holds from the first poll on.
my $rport = DagyTest::free_port();
push @kids, spawn("$tmp/receiver.out", dirname(__FILE__) . '/../lib/receiver.py', $rport,
	"$tmp/received");
wait_for(10, sub { IO::Socket::INET->new(PeerAddr => "127.0.0.1:$rport") });
is($s->req(POST => '/v1/secrets', { secret_name => 'poll-token', value => 'tok-s3cr3t' })->{status},
	201, 'a secret for a polling header');
$r = $s->req(POST => '/v1/sensors', { name => 'watcher', sensor_type => 'polling', flow_name => 'watched',
	config_json => { url => "http://127.0.0.1:$rport/watch", method => 'POST', interval_seconds => 10,
	headers => { Authorization => 'Bearer {{secrets.poll-token}}' },
	condition => { type => 'json_equals', pointer => '/ok', value => JSON::PP::true } } });
is($r->{status}, 201, 'json_equals sensor created') or diag($r->{body});
my $watcher = $r->{json}{sensor_id};
sub received {
	open my $l, '<', "$tmp/received" or return ();
	return map { decode_json($_) } <$l>;
}
$r = $s->req(POST => '/v1/sensors', { name => 'poller', sensor_type => 'polling', flow_name => 'polled',
	config_json => { url => "http://127.0.0.1:$port/state.txt", interval_seconds => 10,
	headers => { 'X-Probe' => 'yes' } } });
is($r->{status}, 201, 'polling sensor created') or diag($r->{body});
my $poller = $r->{json}{sensor_id};
is($r->{json}{config_json}{headers}{'X-Probe'}, '***', 'its headers are masked');
my $t0 = time;
ok(wait_for(20, sub { hits() - $hits0 >= 2 }), 'polled twice') or diag(hits() - $hits0);
is(runs_of('polled'), 0, 'no run while the file stays the same');
open $fh, '>', "$tmp/state.txt" or die;
print $fh "version 2\n";
close $fh;
ok(wait_for(25, sub { runs_of('polled') >= 1 }), 'the change fires a run');
ok(wait_for(25, sub { hits() - $hits0 >= 4 }), 'polled again');
my $elapsed = time - $t0;
is(runs_of('polled'), 1, 'exactly once, with two workers');
cmp_ok(hits() - $hits0, '<=', int($elapsed / 10) + 2, 'each slot polled once, not once per worker');
my @got = received();
cmp_ok(scalar @got, '>=', 2, 'the receiver was polled too');
cmp_ok(scalar @got, '<=', int((time - $t0) / 10) + 2, 'once per slot');
is($got[0]{headers}{Authorization}, 'Bearer tok-s3cr3t', 'the header took the secret');
is(runs_of('watched'), 1, 'json_equals fired once: when it came to hold, not while it holds');
$f = $s->req(GET => "/v1/sensors/$poller/firings")->{json}{items};
is(scalar @$f, 1, 'one firing recorded');
is($f->[0]{detail}{condition}, 'hash_changed', 'with what triggered it');
ok($s->req(GET => "/v1/sensors/$poller")->{json}{last_polled_at}, 'the sensor shows its last poll');

# --- key rotation re-seals signing secrets -----------------------------------------------------
my ($sealed_before) = $s->sql("SELECT key_id FROM sensors WHERE public_id = '$hook->{sensor_id}'");
my ($rc, $out) = $s->cli('secrets', 'rotate-key');
is($rc, 0, 'rotate-key succeeds') or diag($out);
like($out, qr/sensors: \d+ re-sealed/, 'and covers sensors');
my ($sealed_after) = $s->sql("SELECT key_id FROM sensors WHERE public_id = '$hook->{sensor_id}'");
isnt($sealed_after, $sealed_before, 'the signing secret is under the new key');
my $rotated = encode_json({ ref => 'rotated' });
is(post_hook($token, $rotated, 'X-Hub-Signature-256' => 'sha256=' . hmac_sha256_hex($rotated, $secret),
	'X-GitHub-Delivery' => 'd-5')->{status}, 202, 'and still verifies signatures');

# --- delete ---------------------------------------------------------------------------------------
is($s->req(DELETE => "/v1/sensors/$hook->{sensor_id}")->{status}, 204, 'deleted');
is(post_hook($token, $body, 'X-Hub-Signature-256' => $sig)->{status}, 404, 'its webhook is gone');
is($s->req(GET => "/v1/sensors/$hook->{sensor_id}")->{status}, 404, 'and so is the sensor');

kill 'TERM', @kids;
waitpid($_, 0) for @kids;
@kids = ();
$s->finish;
done_testing;
