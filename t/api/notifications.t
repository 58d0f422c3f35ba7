# Channels and alert rules, and what the worker delivers: a signed webhook,
# Slack's and PagerDuty's bodies, an email through a real SMTP server,
# retries with backoff, once per run and trigger, SLA breaches while the
# run runs, and a delivery that survives the worker's SIGKILL.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time sleep);
use File::Temp qw(tempdir);
use File::Basename qw(dirname);
use Digest::SHA qw(hmac_sha256_hex);
use JSON::PP;
use DagyTest;

my $s = DagyTest->start(workers => 1, conf => ['[notifications]', 'backoff_ms = 300',
	'max_attempts = 5', 'timeout_seconds = 3', 'base_url = http://dagy.example']);
my $tmp = tempdir(CLEANUP => 1);
chmod 0777, $tmp;
my $lib = dirname(__FILE__) . '/../lib';
my (@kids, @pipes);
END { kill 'TERM', @kids if @kids }

# Starts a helper that prints "ready" once it listens.
sub serve {
	my ($script, $port, $out) = @_;
	my $pid = open(my $fh, '-|', '/usr/bin/python3', "$lib/$script", $port, $out) // die;
	my $line = <$fh>;
	die "$script did not start" unless ($line // '') =~ /ready/;
	push @kids, $pid;
	# Kept open: closing a piped open waits for the server to exit.
	push @pipes, $fh;
	return $pid;
}

sub records {
	my ($file, $path) = @_;
	open my $f, '<', $file or return ();
	return grep { !$path || $_->{path} eq $path } map { decode_json($_) } <$f>;
}

sub wait_for {
	my ($secs, $cond) = @_;
	my $end = time + $secs;
	my @got;
	sleep 0.1 until (@got = $cond->()) || time > $end;
	return @got;
}

my $hport = DagyTest::free_port();
my $mport = DagyTest::free_port();
serve('receiver.py', $hport, "$tmp/http");
serve('smtpd.py', $mport, "$tmp/mail");
my $base = "http://127.0.0.1:$hport";
my $secret = 'whsec_0123456789abcdef';

# --- channels: validation, masking, sealing ---------------------------------------------------
my %bad = (
	'config_json.webhook_url' => { channel_type => 'slack', config_json => { webhook_url => 'ftp://x' } },
	'config_json.url' => { channel_type => 'webhook', config_json => {} },
	'config_json.signing_secret' => { channel_type => 'webhook', config_json => { url => "$base/x", signing_secret => 'short' } },
	'config_json.from' => { channel_type => 'email', config_json => { smtp_host => 'h', from => 'nobody', to => 'a@b.c' } },
	'config_json.to' => { channel_type => 'email', config_json => { smtp_host => 'h', from => 'a@b.c', to => ['x'] } },
	'config_json.smtp_port' => { channel_type => 'email', config_json => { smtp_host => 'h', smtp_port => 70000, from => 'a@b.c', to => 'a@b.c' } },
	'config_json.routing_key' => { channel_type => 'pagerduty', config_json => {} },
	'channel_type' => { channel_type => 'carrier-pigeon', config_json => {} },
	'config_json' => { channel_type => 'slack', config_json => 'no' },
);
for my $field (sort keys %bad) {
	my $r = $s->req(POST => '/v1/channels', { name => 'bad', %{ $bad{$field} } });
	is($r->{status}, 400, "bad channel: 400 for $field");
	ok(exists $r->{json}{details}{$field}, "and the details name $field")
		or diag($r->{body});
}
sub channel {
	my ($type, $cfg) = @_;
	my $r = $s->req(POST => '/v1/channels', { name => "$type channel", channel_type => $type,
		config_json => $cfg });
	is($r->{status}, 201, "$type channel created") or diag($r->{body});
	return $r->{json};
}
my $hook = channel(webhook => { url => "$base/hook?token=tok-in-url", signing_secret => $secret,
	headers => { 'X-Api-Key' => 'header-secret' } });
my $slack = channel(slack => { webhook_url => "$base/slack/T000/B000/slack-token", channel => '#alerts' });
my $pd = channel(pagerduty => { routing_key => 'pd-routing-key-123', events_url => "$base/pd" });
my $mail = channel(email => { smtp_host => '127.0.0.1', smtp_port => $mport + 0, security => 'none',
	from => 'dagy@example.com', to => ['ops@example.com', 'oncall@example.com'] });
like($hook->{channel_id}, qr/^channel_/, 'channel ids look like the spec\'s');
my $made = channel(webhook => { url => "$base/made" });
like($made->{signing_secret} // '', qr/^whsec_[0-9a-f]{64}$/, 'a signing secret dagy made is shown once');
is($s->req(GET => "/v1/channels/$made->{channel_id}")->{json}{config_json}{signing_secret}, '***',
	'and masked after that');
my $got = $s->req(GET => "/v1/channels/$hook->{channel_id}")->{json};
is($got->{config_json}{url}, "http://127.0.0.1:$hport/***", 'a URL shows its host only');
is($got->{config_json}{headers}{'X-Api-Key'}, '***', 'headers are masked');
unlike(encode_json($got), qr/tok-in-url|header-secret|whsec_0123/, 'no secret in the answer');
unlike(join('', $s->sql("SELECT CONCAT(config, sealed) FROM channels")),
	qr/tok-in-url|header-secret|whsec_0123|slack-token|pd-routing-key/, 'nor in the table, sealed');
unlike(join('', $s->sql("SELECT CONCAT(action, COALESCE(details, '')) FROM audit_log")),
	qr/tok-in-url|header-secret|whsec_0123|slack-token|pd-routing-key/, 'nor in the audit log');
is(scalar @{ $s->req(GET => '/v1/channels')->{json}{items} }, 5, 'channels are listed');

my $viewer = $s->user_key('viewer@dagy.local', 'viewer');
my $dev = $s->user_key('dev@dagy.local', 'developer');
is($s->as($dev, POST => '/v1/channels', { name => 'v', channel_type => 'webhook',
	config_json => { url => "$base/v" } })->{status}, 403, 'a developer cannot create channels');
is($s->as($dev, GET => '/v1/channels')->{status}, 200, 'but can list them');
is($s->as($viewer, GET => '/v1/channels')->{status}, 403, 'a viewer cannot even list them');
$s->cli('user', 'add', 'eve@evil.com');
$s->cli('org', 'add', 'Evil', '--owner', 'eve@evil.com');
my (undef, $eve) = $s->cli('key', 'create', '--org', 'Evil', '--user', 'eve@evil.com');
$eve =~ s/\s+\z//;
is($s->as($eve, GET => "/v1/channels/$hook->{channel_id}")->{status}, 404, "another org's channel: 404");
is($s->as($eve, DELETE => "/v1/channels/$hook->{channel_id}")->{status}, 404, 'and cannot be deleted');
is($s->as($eve, POST => '/v1/alert-rules', { name => 'x', trigger => 'on_failure',
	channel_ids => [$hook->{channel_id}] })->{status}, 400, "nor used in another org's rule");

# --- rules ------------------------------------------------------------------------------------
$s->flow('flaky', [['check', "test -f $tmp/ok"]]);
my $r = $s->req(POST => '/v1/alert-rules', { name => 'bad', trigger => 'on_sla_breach',
	channel_ids => [$hook->{channel_id}] });
is($r->{status}, 400, 'on_sla_breach without sla_seconds: 400');
is($s->req(POST => '/v1/alert-rules', { name => 'x', trigger => 'sometimes',
	channel_ids => [$hook->{channel_id}] })->{status}, 400, 'unknown trigger: 400');
is($s->req(POST => '/v1/alert-rules', { name => 'x', trigger => 'on_failure',
	channel_ids => ['channel_nope'] })->{status}, 400, 'unknown channel: 400');
is($s->req(POST => '/v1/alert-rules', { name => 'x', trigger => 'on_failure', flow_name => 'nope',
	channel_ids => [$hook->{channel_id}] })->{status}, 400, 'unknown flow: 400');
$r = $s->req(POST => '/v1/alert-rules', { name => 'Flaky failures', trigger => 'on_failure',
	flow_name => 'flaky', channel_ids => [map { $_->{channel_id} } $hook, $slack, $pd, $mail] });
is($r->{status}, 201, 'on_failure rule created') or diag($r->{body});
my $rule = $r->{json};
like($rule->{rule_id}, qr/^rule_/, 'rule id');
is(scalar @{ $rule->{channel_ids} }, 4, 'with its four channels');
is($s->req(GET => "/v1/alert-rules/$rule->{rule_id}")->{json}{sla_seconds}, undef, 'sla_seconds null');

# --- a failing run alerts every channel once --------------------------------------------------
my $run = $s->trigger('flaky');
is($s->wait_run($run, 20)->{status}, 'failed', 'the run fails');
my ($h) = wait_for(10, sub { records("$tmp/http", '/hook?token=tok-in-url') });
ok($h, 'the webhook was called');
my ($sig) = ($h->{headers}{'Dagy-Signature'} // '') =~ /^(t=\d+,v1=[0-9a-f]{64})$/;
ok($sig, 'with a Dagy-Signature t=...,v1=... header');
my ($t, $v1) = $sig =~ /t=(\d+),v1=(\w+)/;
is($v1, hmac_sha256_hex("$t.$h->{body}", $secret), 'which is HMAC-SHA256 of t.body under the secret');
cmp_ok(abs(time - $t), '<', 60, 'and fresh');
isnt(hmac_sha256_hex(($t - 600) . ".$h->{body}", $secret), $v1,
	'a replay claiming an older timestamp does not verify, and the real one is detectably old');
is($h->{headers}{'X-Api-Key'}, 'header-secret', 'configured headers are sent');
my $ev = decode_json($h->{body});
is($ev->{run_id}, $run, 'the event names the run');
is($ev->{flow_name}, 'flaky', 'the flow');
is($ev->{trigger}, 'on_failure', 'and the trigger');
like($ev->{event_id}, qr/^dlv_/, 'and carries an event id');
my ($sl) = wait_for(10, sub { records("$tmp/http", '/slack/T000/B000/slack-token') });
my $slk = decode_json($sl->{body} // '{}');
like($slk->{text} // '', qr/Run \Q$run\E of flow flaky failed/, 'Slack gets text');
is($slk->{blocks}[0]{type}, 'section', 'and a section block');
is($slk->{blocks}[0]{text}{type}, 'mrkdwn', 'in mrkdwn');
like($slk->{blocks}[0]{text}{text} // '', qr/Status: failed.*Duration: [\d.]+ s/s, 'naming status and duration');
like($slk->{blocks}[0]{text}{text} // '', qr{http://dagy\.example/#/runs/\Q$run\E}, 'and a link');
is($slk->{channel}, '#alerts', 'to the configured channel');
my ($p) = wait_for(10, sub { records("$tmp/http", '/pd') });
my $pdj = decode_json($p->{body} // '{}');
is($pdj->{routing_key}, 'pd-routing-key-123', 'PagerDuty gets the routing key');
is($pdj->{event_action}, 'trigger', 'a trigger event');
like($pdj->{dedup_key} // '', qr{^dagy/rule_\w+/flaky$}, 'with a stable dedup key');
is($pdj->{payload}{severity}, 'error', 'severity');
is($pdj->{payload}{source}, 'dagy', 'source');
like($pdj->{payload}{summary} // '', qr/failed/, 'summary');
my ($m) = wait_for(10, sub { records("$tmp/mail") });
ok($m, 'the SMTP server got an email');
like($m->{data} // '', qr/^Subject: \[dagy\] Run \Q$run\E of flow flaky failed/m, 'with the subject');
is_deeply($m->{to}, ['ops@example.com', 'oncall@example.com'], 'to the configured addresses');
like($m->{data} // '', qr/^To: ops\@example\.com, oncall\@example\.com\r?$/m, 'all of them in To:');
unlike($m->{data} // '', qr/(?<!\r)\n/, 'every line ends CRLF, none a bare LF');
sleep 1;
is(scalar(records("$tmp/http", '/hook?token=tok-in-url')), 1, 'each channel is sent once');
my $dl = $s->req(GET => "/v1/alert-rules/$rule->{rule_id}/deliveries")->{json}{items};
is(scalar(grep { $_->{status} eq 'delivered' } @$dl), 4, 'four deliveries recorded as delivered');
is($dl->[0]{attempt_log}[0]{response_code}, ($dl->[0]{channel_id} eq $mail->{channel_id} ? 250 : 200),
	'each with its attempt and response code');

# --- a later success resolves the PagerDuty incident ------------------------------------------
open my $ok, '>', "$tmp/ok" or die;
close $ok;
is($s->wait_run($s->trigger('flaky'), 20)->{status}, 'completed', 'the next run succeeds');
my @pds = wait_for(10, sub { my @x = records("$tmp/http", '/pd'); @x > 1 ? @x : () });
my $res = decode_json($pds[-1]{body} // '{}');
is($res->{event_action}, 'resolve', 'PagerDuty gets a resolve');
is($res->{dedup_key}, $pdj->{dedup_key}, 'for the same incident');
is($s->wait_run($s->trigger('flaky'), 20)->{status}, 'completed', 'another success');
sleep 1;
is(scalar(records("$tmp/http", '/pd')), 2, 'resolves only an open incident');

# --- 500, 500, 200: three attempts, delivered ---------------------------------------------------
my $f2 = channel(webhook => { url => "$base/fail2", signing_secret => $secret });
$s->flow('steady', [['ok', 'true']]);
my $rule2 = $s->req(POST => '/v1/alert-rules', { name => 'ok', trigger => 'on_success',
	flow_name => 'steady', channel_ids => [$f2->{channel_id}] })->{json};
$s->wait_run($s->trigger('steady'), 20);
my ($d) = wait_for(15, sub { grep { $_->{status} eq 'delivered' }
	@{ $s->req(GET => "/v1/alert-rules/$rule2->{rule_id}/deliveries")->{json}{items} } });
ok($d, 'delivered in the end');
is($d->{attempts}, 3, 'after three attempts');
is_deeply([map { $_->{response_code} } @{ $d->{attempt_log} }], [500, 500, 200], 'each recorded');
is(scalar(records("$tmp/http", '/fail2')), 3, 'the receiver saw three');

# --- /test ----------------------------------------------------------------------------------------
$r = $s->req(POST => "/v1/alert-rules/$rule2->{rule_id}/test");
is($r->{status}, 200, '/test: 200');
is($r->{json}{status}, 'sent', 'status sent');
like($r->{json}{message}, qr/1 channel/, 'to one channel');
my @tests = wait_for(10, sub { grep { decode_json($_->{body})->{type} eq 'test' } records("$tmp/http", '/fail2') });
is(scalar @tests, 1, 'the receiver gets a test event');
is($s->as($dev, POST => "/v1/alert-rules/$rule2->{rule_id}/test")->{status}, 403,
	'developers cannot send tests');
is($s->as($eve, GET => "/v1/alert-rules/$rule2->{rule_id}")->{status}, 404, "another org's rule: 404");

# --- SLA: fires while the run runs --------------------------------------------------------------
my $slah = channel(webhook => { url => "$base/sla", signing_secret => $secret });
$s->flow('slow', [['nap', 'sleep 3']]);
$s->req(POST => '/v1/alert-rules', { name => 'slow', trigger => 'on_sla_breach', sla_seconds => 1,
	flow_name => 'slow', channel_ids => [$slah->{channel_id}] });
my $slow = $s->trigger('slow');
my ($b) = wait_for(6, sub { records("$tmp/http", '/sla') });
ok($b, 'an SLA of 1 s on a 3 s step fires');
is($s->req(GET => "/v1/runs/$slow")->{json}{status}, 'running', 'while the run still runs');
my $bev = decode_json($b->{body} // '{}');
is($bev->{type}, 'run.sla_breach', 'as run.sla_breach');
is($bev->{sla_seconds}, 1, 'naming the SLA');
$s->wait_run($slow, 10);
is(scalar(records("$tmp/http", '/sla')), 1, 'once');

# --- on_retry ----------------------------------------------------------------------------------
my $reth = channel(webhook => { url => "$base/retry", signing_secret => $secret });
$s->flow('wobbly', [['try', "test -f $tmp/wobbled || { touch $tmp/wobbled; false; }", undef,
	{ retries => 2, retry_delay_seconds => 1 }]]);
$s->req(POST => '/v1/alert-rules', { name => 'retry', trigger => 'on_retry', flow_name => 'wobbly',
	channel_ids => [$reth->{channel_id}] });
is($s->wait_run($s->trigger('wobbly'), 20)->{status}, 'completed', 'a retried step succeeds');
my ($rt) = wait_for(10, sub { records("$tmp/http", '/retry') });
is(decode_json($rt->{body} // '{}')->{step_id}, 'try', 'on_retry names the step');
# A run retried through the API fires its flow's on_retry rules too.
my $reth2 = channel(webhook => { url => "$base/api-retry", signing_secret => $secret });
$s->flow('flop', [['no', 'false']]);
$s->req(POST => '/v1/alert-rules', { name => 'api-retry', trigger => 'on_retry', flow_name => 'flop',
	channel_ids => [$reth2->{channel_id}] });
my $flop = $s->trigger('flop');
is($s->wait_run($flop, 20)->{status}, 'failed', 'a failed run');
is($s->req(POST => "/v1/runs/$flop/retry", undef, { 'Content-Length' => 0 })->{status}, 202, 'retried by the API');
my ($art) = wait_for(10, sub { records("$tmp/http", '/api-retry') });
my $arev = decode_json($art->{body} // '{}');
is($arev->{type}, 'run.retrying', 'fires on_retry') or diag(explain($art));
is($arev->{run_id}, $flop, 'for that run');
is($arev->{retry_count}, 1, 'its first retry');
$s->wait_run($flop, 20);

# --- SIGKILL between the failure and the delivery ----------------------------------------------
my $lport = DagyTest::free_port();
my $late = channel(webhook => { url => "http://127.0.0.1:$lport/late", signing_secret => $secret });
$s->flow('boom', [['fail', 'false']]);
my $rule3 = $s->req(POST => '/v1/alert-rules', { name => 'boom', trigger => 'on_failure',
	flow_name => 'boom', channel_ids => [$late->{channel_id}] })->{json};
$s->wait_run($s->trigger('boom'), 20);
ok(wait_for(10, sub { grep { $_->{attempts} >= 1 }
	@{ $s->req(GET => "/v1/alert-rules/$rule3->{rule_id}/deliveries")->{json}{items} } }),
	'the first attempt fails: nobody listens yet');
ok($s->worker_stop(1, 'KILL'), 'the worker is killed with SIGKILL');
serve('receiver.py', $lport, "$tmp/late");
ok($s->worker_start(1), 'a worker starts again');
my @late = wait_for(15, sub { records("$tmp/late") });
sleep 2;
is(scalar(records("$tmp/late")), 1, 'the alert is delivered exactly once');
like($s->req(GET => "/v1/alert-rules/$rule3->{rule_id}/deliveries")->{json}{items}[0]{attempt_log}[0]{error} // '',
	qr/onnect/, 'the failed attempt says why');

is($s->req(DELETE => "/v1/alert-rules/$rule3->{rule_id}")->{status}, 204, 'a rule is deleted');
is($s->req(GET => "/v1/alert-rules/$rule3->{rule_id}")->{status}, 404, 'and gone');
is($s->req(DELETE => "/v1/channels/$late->{channel_id}")->{status}, 204, 'a channel is deleted');
is($s->req(GET => "/v1/channels/$late->{channel_id}")->{status}, 404, 'and gone');

$s->finish;
done_testing;
