# Runs executed for real by dagy-worker: parallelism, outputs, retries,
# timeouts, cancel, skips, approvals, logs and the run API around them.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time sleep);
use File::Temp qw(tempdir);
use DagyTest;

my $s = DagyTest->start;
my $tmp = tempdir(CLEANUP => 1);
my $r;

sub alive { my $pid = shift; return kill(0, $pid) && `ps -o stat= -p $pid` !~ /Z/ }
sub slurp_pid { open my $f, '<', shift or return; my $p = <$f>; chomp $p if $p; return $p }

# --- a diamond runs its middle in parallel; outputs flow downstream -------------------
$s->flow('diamond', [
	['start', 'echo token=abc123 >> "$DAGY_OUTPUT"; echo started'],
	['left', 'sleep 1; echo "left saw $DAGY_OUTPUT_START_TOKEN"', ['start']],
	['right', 'sleep 1; echo right >&2', ['start']],
	['join', 'echo "::daggle-output name=verdict::ok"; echo "$DAGY_PARAM_DAY"', ['left', 'right']],
], params => { day => { default => 'monday' } });
my $t0 = time;
my $id = $s->trigger('diamond');
my $run = $s->wait_run($id, 20);
is($run->{status}, 'completed', 'the diamond completes');
cmp_ok($run->{duration_seconds}, '<', 1.8, "its 1 s middle steps ran in parallel ($run->{duration_seconds} s)");
cmp_ok($run->{duration_seconds}, '>=', 1.0, 'and it took at least one sleep');
is_deeply($run->{output}, { token => 'abc123', verdict => 'ok' }, 'run output merges step outputs');
my $logs = $s->req(GET => "/v1/runs/$id/logs")->{json}{events};
ok((grep { $_->{message} eq 'left saw abc123' && $_->{step_id} eq 'left' } @$logs),
	'a value written upstream is read downstream');
ok((grep { $_->{message} eq 'right' && $_->{stream} eq 'stderr' } @$logs), 'stderr captured and tagged');
ok((grep { $_->{message} eq 'monday' } @$logs), 'parameter defaults reach the step');
my $steps = $s->steps($id);
is_deeply([map { $steps->{$_}{status} } qw(start left right join)], [('success') x 4], 'all steps succeeded');
like($steps->{left}{worker}, qr/:\d+$/, 'the worker is recorded');
$r = $s->req(GET => "/v1/runs/$id/outputs");
is_deeply([map { "$_->{step_id}.$_->{key}=$_->{value}" } @{ $r->{json}{items} }],
	['start.token=abc123', 'join.verdict=ok'], 'outputs endpoint');
$r = $s->req(GET => "/v1/runs/$id/steps/left/log");
is_deeply($r->{json}, { step_id => 'left', stdout => "left saw abc123\n", stderr => '' }, 'step log');
is($s->req(GET => "/v1/runs/$id/steps/nope/log")->{status}, 404, 'unknown step: 404');

# --- parameters -----------------------------------------------------------------------------
$id = $s->trigger('diamond', { day => 'friday' });
$run = $s->wait_run($id, 20);
is_deeply($run->{parameters}, { day => 'friday' }, 'parameters stored');
ok((grep { $_->{message} eq 'friday' } @{ $s->req(GET => "/v1/runs/$id/logs")->{json}{events} }),
	'and passed as DAGY_PARAM_DAY');
$r = $s->req(POST => '/v1/runs', { flow_name => 'diamond', parameters => { nite => 1 } });
is($r->{status}, 400, 'an unknown parameter: 400');
like($r->{json}{message}, qr/nite/, 'named');
$s->flow('needs', [['a', 'true']], params => { when => {} });
$r = $s->req(POST => '/v1/runs', { flow_name => 'needs' });
is($r->{status}, 400, 'a parameter without default must be given');
is($s->req(POST => '/v1/runs', { flow_name => 'nope' })->{status}, 404, 'unknown flow: 404');
is($s->req(POST => '/v1/runs', { flow_name => 'diamond', flow_version => '9' })->{status}, 404,
	'unknown version: 404');
is($s->req(POST => '/v1/runs', {})->{status}, 400, 'no flow: 400');

# --- execute: false, by deployment, slug, listing ----------------------------------------------
$r = $s->req(POST => '/v1/runs', { flow_name => 'diamond', execute => JSON::PP::false });
is($r->{status}, 202, 'execute: false is accepted');
is($r->{json}{status}, 'created', 'and only recorded');
like($r->{json}{run_slug}, qr/^diamond-\d{4}-\d\d-\d\d-\d{6}/, 'a readable run_slug');
sleep 0.6;
is($s->req(GET => "/v1/runs/$r->{json}{run_id}")->{json}{status}, 'created', 'no worker touches it');
$s->req(POST => '/v1/deployments', { name => 'diamond-prod', flow_name => 'diamond' });
$r = $s->req(POST => '/v1/runs', { deployment => 'diamond-prod' });
is($r->{status}, 202, 'trigger by deployment');
is($s->wait_run($r->{json}{run_id}, 20)->{deployment_name}, 'diamond-prod', 'the run names its deployment');
is($s->req(POST => '/v1/runs', { deployment => 'ghost' })->{status}, 404, 'unknown deployment: 404');
$r = $s->req(GET => '/v1/runs?flow_name=diamond&status=completed&limit=2');
is(scalar @{ $r->{json}{items} }, 2, 'list filtered and limited');
ok($r->{json}{next_token}, 'with a next_token');
my $page2 = $s->req(GET => "/v1/runs?flow_name=diamond&status=completed&limit=2&next_token=$r->{json}{next_token}");
is(scalar @{ $page2->{json}{items} }, 1, 'the last page');
is($s->req(GET => '/v1/runs?status=exploded')->{status}, 400, 'bad status filter: 400');
is($s->req(GET => '/v1/runs/run_nope')->{status}, 404, 'unknown run: 404');

# --- retries -----------------------------------------------------------------------------------
$s->flow('flaky', [['try', "n=\$(cat $tmp/count 2>/dev/null || echo 0); n=\$((n+1)); echo \$n > $tmp/count; "
	. 'echo "attempt $n"; [ $n -ge 3 ]', undef, { retries => 2, retry_delay_seconds => 0 }]]);
$id = $s->trigger('flaky');
$run = $s->wait_run($id, 20);
is($run->{status}, 'completed', 'a step failing twice succeeds on its third attempt');
is($s->steps($id)->{try}{attempt}, 3, 'three attempts recorded');
my @tries = grep { $_->{message} =~ /attempt|retrying/ } @{ $s->req(GET => "/v1/runs/$id/logs")->{json}{events} };
is(scalar(grep { $_->{stream} eq 'system' } @tries), 2, 'each retry is logged');
unlink "$tmp/count";
$s->flow('hopeless', [['try', 'exit 3', undef, { retries => 1, retry_delay_seconds => 0 }],
	['after', 'echo never', ['try']], ['later', 'echo never', ['after']], ['free', 'echo free']]);
$id = $s->trigger('hopeless');
$run = $s->wait_run($id, 20);
is($run->{status}, 'failed', 'a step out of retries fails the run');
like($run->{error}, qr/step 'try' failed: exit code 3/, 'the run says which step and why');
$steps = $s->steps($id);
is($steps->{try}{exit_code}, 3, 'exit code recorded');
is($steps->{after}{status}, 'skipped', 'its child is skipped');
is($steps->{later}{status}, 'skipped', 'and its grandchild');
is($steps->{free}{status}, 'success', 'an independent step still runs');

# --- retry a failed run: successful steps are kept ---------------------------------------------
$s->flow('fixable', [['ok', "echo ran >> $tmp/ok-ran"], ['fix', "[ -e $tmp/fixed ]", ['ok']]]);
$id = $s->trigger('fixable');
is($s->wait_run($id, 20)->{status}, 'failed', 'fails until fixed');
is($s->req(POST => "/v1/runs/$id/retry")->{status}, 202, 'retry: 202') if open(my $fx, '>', "$tmp/fixed");
$run = $s->wait_run($id, 20, 'completed');
is($run->{status}, 'completed', 'the retried run completes');
is($run->{retry_count}, 1, 'retry_count');
is(scalar(() = do { open my $f, '<', "$tmp/ok-ran"; <$f> }), 1, 'the successful step did not run again');
is($s->req(POST => "/v1/runs/$id/retry")->{status}, 409, 'retrying a completed run: 409');

# --- timeout kills the whole process group --------------------------------------------------------
$s->flow('slow', [['hang', "sh -c 'sleep 60' & echo \$! > $tmp/gc.pid; wait", undef,
	{ timeout_seconds => 1 }]]);
$id = $s->trigger('slow');
$run = $s->wait_run($id, 20);
is($run->{status}, 'failed', 'a step over its timeout fails');
like($s->steps($id)->{hang}{error}, qr/timed out after 1 s/, 'saying so');
my $gc = slurp_pid("$tmp/gc.pid");
ok($gc && !alive($gc), "the step's grandchild ($gc) was killed too");

# --- cancel ------------------------------------------------------------------------------------------
$s->flow('long', [['nap', "echo \$\$ > $tmp/nap.pid; exec sleep 60"], ['next', 'true', ['nap']]]);
$id = $s->trigger('long');
$s->wait_run($id, 10, 'running');
my $deadline = time + 10;
sleep 0.05 until -s "$tmp/nap.pid" || time > $deadline;
my $nap = slurp_pid("$tmp/nap.pid");
ok($nap && alive($nap), 'the step is running');
$t0 = time;
$r = $s->req(POST => "/v1/runs/$id/cancel");
is($r->{status}, 200, 'cancel a running run');
is($r->{json}{status}, 'cancelled', 'cancelled');
like($r->{json}{cancelled_at}, qr/Z$/, 'cancelled_at');
sleep 0.05 while alive($nap) && time - $t0 < 3;
ok(!alive($nap), sprintf('its process is gone within %.2f s', time - $t0));
cmp_ok(time - $t0, '<', 2, 'within 2 s');
$deadline = time + 5;
sleep 0.05 until $s->steps($id)->{nap}{status} eq 'cancelled' || time > $deadline;
$steps = $s->steps($id);
is($steps->{nap}{status}, 'cancelled', 'the running step is recorded cancelled');
is($steps->{next}{status}, 'cancelled', 'and the pending one');
is($s->req(GET => "/v1/runs/$id")->{json}{status}, 'cancelled', 'the run stays cancelled');
$r = $s->req(POST => "/v1/runs/$id/cancel");
is($r->{status}, 400, 'cancelling a finished run: 400, as the spec says');
is($s->req(POST => '/v1/runs/run_nope/cancel')->{status}, 404, 'cancel unknown: 404');
$r = $s->req(POST => '/v1/runs', { flow_name => 'long', execute => JSON::PP::false });
is($s->req(POST => "/v1/runs/$r->{json}{run_id}/cancel")->{status}, 200, 'a run not yet started can be cancelled');

# --- approvals ---------------------------------------------------------------------------------------
$r = $s->req(POST => '/v1/flows', { flow_name => 'gated', flow_spec => { nodes => [
	{ id => 'prep', type => 'shell', config => { command => 'echo prep' } },
	{ id => 'gate', type => 'approval', depends_on => ['prep'] },
	{ id => 'ship', type => 'shell', config => { command => 'echo shipped' }, depends_on => ['gate'] } ] } });
is($r->{status}, 201, 'a flow with an approval step');
$id = $s->trigger('gated');
$deadline = time + 10;
sleep 0.05 until ($s->steps($id)->{gate}{status} // '') eq 'waiting_approval' || time > $deadline;
is($s->steps($id)->{gate}{status}, 'waiting_approval', 'the approval step waits');
sleep 0.5;
is($s->req(GET => "/v1/runs/$id")->{json}{status}, 'running', 'and so does the run');
is($s->steps($id)->{ship}{status}, 'pending', 'its child has not run');
is($s->req(POST => "/v1/runs/$id/steps/prep/approve")->{status}, 409, 'approving a step that is not waiting: 409');
$r = $s->req(POST => "/v1/runs/$id/steps/gate/approve");
is($r->{status}, 200, 'approve');
is_deeply($r->{json}, { step_id => 'gate', status => 'approved' }, 'approve body');
is($s->wait_run($id, 10)->{status}, 'completed', 'after approval the run completes');
is($s->steps($id)->{ship}{status}, 'success', 'the gated step ran');
$id = $s->trigger('gated');
$deadline = time + 10;
sleep 0.05 until ($s->steps($id)->{gate}{status} // '') eq 'waiting_approval' || time > $deadline;
is($s->req(POST => "/v1/runs/$id/steps/gate/reject")->{json}{status}, 'rejected', 'reject');
$run = $s->wait_run($id, 10);
is($run->{status}, 'failed', 'a rejection fails the run');
like($run->{error}, qr/gate.*rejected/, 'saying so');
is($s->steps($id)->{ship}{status}, 'skipped', 'and skips what follows');

# --- logs page in order, long lines are cut ----------------------------------------------------------
$s->flow('chatty', [['talk', 'i=1; while [ $i -le 30 ]; do echo "line $i"; i=$((i+1)); done; '
	. 'head -c 20000 /dev/zero | tr "\\0" x; echo; printf "\\377\\376 not utf-8\\n"; '
	. 'printf "no newline at end"']]);
$id = $s->trigger('chatty');
$s->wait_run($id, 20);
my (@all, $tok);
for (1 .. 10) {
	$r = $s->req(GET => "/v1/runs/$id/logs?limit=7" . ($tok ? "&next_token=$tok" : ''));
	push @all, @{ $r->{json}{events} };
	$tok = $r->{json}{next_token} or last;
}
is_deeply([map { $_->{message} } @all[0 .. 29]], [map { "line $_" } 1 .. 30], '30 lines, paged by 7, in order');
is(length $all[30]{message}, 8192, 'a 20000-byte line is cut at 8 KiB');
ok($all[30]{truncated}, 'and marked truncated');
is($all[31]{message}, '?? not utf-8', 'bytes that are not UTF-8 become ?');
is($all[32]{message}, 'no newline at end', 'a last line without newline is kept');
is(scalar @all, 33, 'nothing else');
is($s->req(GET => "/v1/runs/$id/logs?limit=0")->{status}, 400, 'logs limit 0: 400');

# --- viewer and tenants --------------------------------------------------------------------------------
my $viewer = $s->user_key('viewer@dagy.local', 'viewer');
is($s->as($viewer, GET => "/v1/runs/$id")->{status}, 200, 'a viewer reads runs');
is($s->as($viewer, POST => '/v1/runs', { flow_name => 'diamond' })->{status}, 403, 'but cannot trigger');
is($s->as($viewer, POST => "/v1/runs/$id/cancel")->{status}, 403, 'or cancel');
$s->cli('user', 'add', 'eve@evil.com');
$s->cli('org', 'add', 'Evil', '--owner', 'eve@evil.com');
my (undef, $eve) = $s->cli('key', 'create', '--org', 'Evil', '--user', 'eve@evil.com');
chomp $eve;
is($s->as($eve, GET => "/v1/runs/$id")->{status}, 404, "another org's run: 404");
is($s->as($eve, GET => "/v1/runs/$id/logs")->{status}, 404, "and its logs");
is($s->as($eve, POST => "/v1/runs/$id/cancel")->{status}, 404, 'cannot be cancelled');
is_deeply($s->as($eve, GET => '/v1/runs')->{json}{items}, [], 'nor listed');

my @audit = $s->sql('SELECT DISTINCT action FROM audit_log');
for my $a (qw(run.trigger run.cancel run.retry step.approve step.reject)) { ok((grep { $_ eq $a } @audit), "audited: $a") }
# A trigger's run and its audit row are written together, in one transaction.
$r = $s->req(POST => '/v1/runs', { flow_name => 'diamond', parameters => { day => 'friday' } });
is($r->{status}, 202, 'one more trigger');
my $rid = $r->{json}{run_id};
my ($row) = $s->sql("SELECT CONCAT_WS('|', a.org_id = r.org_id, a.actor_user_id = r.created_by,"
	. " a.actor_email, a.target_type, a.ip, a.user_agent, a.details) FROM audit_log a"
	. " JOIN runs r ON r.public_id = a.target_id WHERE a.action = 'run.trigger' AND a.target_id = '$rid'");
my ($org, $user, $email, $type, $ip, $agent, $details) = split /\|/, $row // '', 7;
is("$org$user", '11', 'its audit row names the run, its org and the user');
is($email, 'admin@dagy.local', 'with the actor');
is($type, 'run', 'the target type');
is($ip, '127.0.0.1', 'the address');
like($agent // '', qr/HTTP-Tiny/, 'the user agent');
like($details // '', qr/"flow_name":\s*"diamond"/, 'and the flow');
is(scalar $s->sql("SELECT 1 FROM audit_log WHERE target_id = '$rid'"), 1, 'exactly one row');

$s->finish;
done_testing;
