# The dagctl control plane against real git and real processes: a bare
# repository made here is the project's remote, fake sqlmesh and dbt on
# the worker's PATH print what a run prints and fail when told.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time sleep);
use File::Temp qw(tempdir);
use DagyTest;

my $tmp = tempdir('dagctl-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $remote = "$tmp/remote.git";
my $work = "$tmp/work";
my $pdir = "$tmp/projects";

sub sh {
	my ($cmd) = @_;
	my $out = `$cmd 2>&1`;
	die "$cmd: $out" if $?;
	chomp $out;
	return $out;
}

sub commit {
	my ($msg) = @_;
	sh("cd $work && echo '$msg' >> models.sql && git add models.sql"
		. " && git -c user.name=t -c user.email=t\@example.com commit -q -m '$msg'"
		. " && git push -q origin main");
	return sh("git -C $work rev-parse HEAD");
}

# The frameworks: each says what it ran and where, and fails while
# $tmp/fail exists.
mkdir "$tmp/bin";
for my $tool (qw(sqlmesh dbt)) {
	open my $fh, '>', "$tmp/bin/$tool" or die;
	print $fh "#!/bin/sh\necho \"$tool \$*\"\necho \"cwd \$(pwd)\"\n"
		. "echo \"account=\$SNOWFLAKE_ACCOUNT\"\n"
		. "if [ \"\$SNOWFLAKE_PASSWORD\" = hunter2 ]; then echo password-ok; fi\n"
		. "if [ -f '$tmp/fail' ]; then echo 'Error: model orders failed'; exit 1; fi\n"
		. "echo 'Model orders: 1 row'\n";
	close $fh;
	chmod 0755, "$tmp/bin/$tool";
}
$ENV{PATH} = "$tmp/bin:$ENV{PATH}";

sh("git init -q --bare -b main $remote");
sh("git clone -q $remote $work");
sh("git -C $work checkout -q -b main");
my $sha1 = commit('first');

my $s = DagyTest->start(conf => ['[projects]', "dir = $pdir", 'poll_seconds = 1',
	'git_timeout_seconds = 20', 'allow_local_urls = 1']);
my $org = ($s->sql('SELECT public_id FROM orgs ORDER BY id LIMIT 1'))[0];
my %h = ('X-Organization-ID' => $org);
my $r;

sub wait_for {
	my ($what, $test, $secs) = @_;
	my $deadline = time + ($secs // 20);
	my $v;
	until (($v = $test->()) || time > $deadline) { sleep 0.2 }
	ok($v, $what);
	return $v;
}

# --- projects ---------------------------------------------------------------------------------
$r = $s->req(POST => '/api/v1/projects', { name => 'analytics', project_type => 'sqlmesh',
	repository_url => "file://$remote", branch => 'main', sqlmesh_environment => 'prod',
	auto_apply => JSON::PP::false }, \%h);
is($r->{status}, 201, 'create a project') or diag($r->{body});
my $p = $r->{json};
like($p->{id}, qr/^proj_/, 'a project id');
is($p->{organization_id}, $org, 'organization_id');
ok($p->{deployed}, 'created projects deploy');
ok(!exists $p->{description}, 'no description: left out');
ok(!exists $p->{current_commit_sha}, 'not synced yet: no commit');
my $id = $p->{id};

my $got = wait_for('the checkout reports the commit', sub {
	my $x = $s->req(GET => "/api/v1/projects/$id", undef, \%h)->{json};
	return ($x->{current_commit_sha} // '') eq $sha1 ? $x : undef;
});
is($got->{latest_commit_sha}, $sha1, 'latest_commit_sha');
is($got->{latest_commit_message}, 'first', 'latest_commit_message from git');
is($got->{commits_behind}, 0, 'commits_behind 0');
is($got->{status}, 'active', 'active');
my $checkout = "$pdir/$id/repo";
is(sh("git -C $checkout rev-parse HEAD"), $sha1, 'a real checkout in the workspace');

for my $bad ([{ name => 'x', project_type => 'spark', repository_url => "file://$remote" }, 'project_type'],
	[{ name => 'x', project_type => 'dbt', repository_url => 'ftp://x' }, 'repository_url'],
	[{ name => 'x', project_type => 'dbt', repository_url => "file://$remote", branch => '--upload-pack=x' }, 'branch'],
	[{ name => 'x', project_type => 'dbt', repository_url => "file://$remote", git_auth_method => 'ssh' }, 'ssh_private_key']) {
	$r = $s->req(POST => '/api/v1/projects', $bad->[0], \%h);
	is($r->{status}, 400, "bad $bad->[1]: 400");
	like($r->{json}{error}, qr/\Q$bad->[1]\E/, "the error names $bad->[1]");
}
is($s->req(POST => '/api/v1/projects', { name => 'analytics', project_type => 'dbt',
	repository_url => "file://$remote" }, \%h)->{status}, 409, 'a second project of that name: 409');

$r = $s->req(POST => '/api/v1/projects', { name => 'dbt-core', project_type => 'dbt',
	repository_url => "file://$remote", description => 'dbt models',
	git_auth_method => 'https', https_token => 'ghp_tokenvalue123' }, \%h);
is($r->{status}, 201, 'a dbt project with an HTTPS token');
my $dbt = $r->{json}{id};
unlike($r->{body}, qr/ghp_tokenvalue123/, 'the token never comes back');
is($r->{json}{git_auth_method}, 'https', 'git_auth_method');
my ($sealed) = $s->sql("SELECT sealed FROM dagctl_projects WHERE public_id = '$dbt'");
like($sealed, qr/^v1\./, 'the token is sealed at rest');
my ($audit) = $s->sql("SELECT COUNT(*) FROM audit_log WHERE details LIKE '%ghp_token%'");
is($audit, 0, 'nor in the audit trail');

$r = $s->req(GET => '/api/v1/projects?limit=1', undef, \%h);
is_deeply([@{ $r->{json} }{qw(total page limit total_pages)}], [2, 1, 1, 2], 'paging as the metrics endpoints');
is(scalar @{ $r->{json}{projects} }, 1, 'one a page');
is($s->req(GET => '/api/v1/projects?limit=501', undef, \%h)->{status}, 400, 'limit over 500: 400');

# --- jobs -------------------------------------------------------------------------------------
$r = $s->req(POST => "/api/v1/projects/$dbt/jobs", { name => 'bad', command => 'dbt run; rm -rf /',
	schedule => '* * * * *' }, \%h);
is($r->{status}, 400, 'a dbt command with ; is refused');
like($r->{json}{error}, qr/command/, 'naming command');
is($s->req(POST => "/api/v1/projects/$dbt/jobs", { name => 'bad', command => 'dbt nuke',
	schedule => '* * * * *' }, \%h)->{status}, 400, 'an unknown dbt subcommand: 400');
is($s->req(POST => "/api/v1/projects/$dbt/jobs", { name => 'bad', command => 'ls -la',
	schedule => '* * * * *' }, \%h)->{status}, 400, 'a dbt job runs dbt');
is($s->req(POST => "/api/v1/projects/$id/jobs", { name => 'bad', command => 'sqlmesh run && id',
	schedule => '* * * * *' }, \%h)->{status}, 400, 'a sqlmesh command with && is refused');
is($s->req(POST => "/api/v1/projects/$id/jobs", { name => 'bad', command => 'sqlmesh run',
	schedule => 'every minute' }, \%h)->{status}, 400, 'a bad cron: 400');

$r = $s->req(POST => "/api/v1/projects/$id/jobs", { name => 'minutely', command => "sqlmesh run --select-model '*'",
	schedule => '* * * * *', slack_channel => '#data-alerts', slack_alerts_enabled => JSON::PP::true }, \%h);
is($r->{status}, 201, 'a job') or diag($r->{body});
my $job = $r->{json}{id};
like($job, qr/^job_/, 'a job id');
is($r->{json}{slack_channel}, '#data-alerts', 'slack_channel');
ok(!exists $r->{json}{description}, 'no description: left out');
$r = $s->req(GET => "/api/v1/projects/$id/jobs", undef, \%h);
is($r->{json}{total}, 1, 'jobs: total');
is($r->{json}{jobs}[0]{id}, $job, 'jobs: the job');

# --- environment variables -------------------------------------------------------------------
my $EV = '/api/v1/environment-variables';
$r = $s->req(POST => $EV, { name => 'snowflake_account', value => 'xy12345' }, \%h);
is($r->{status}, 201, 'a variable') or diag($r->{body});
is($r->{json}{name}, 'SNOWFLAKE_ACCOUNT', 'names are uppercased');
is($r->{json}{value}, 'xy12345', 'a plain value is shown');
$r = $s->req(POST => $EV, { name => 'SNOWFLAKE_PASSWORD', value => 'hunter2', is_sensitive => JSON::PP::true }, \%h);
is($r->{status}, 201, 'a sensitive variable');
is($r->{json}{value}, '***', 'its value is masked');
is($s->req(POST => $EV, { name => 'SNOWFLAKE_ACCOUNT', value => 'x' }, \%h)->{status}, 409, 'a duplicate: 409');
is($s->req(POST => $EV, { name => 'BAD-NAME', value => 'x' }, \%h)->{status}, 400, 'a bad name: 400');
is($s->req(POST => $EV, { name => 'KEY', value => 'x', mount_as_file => JSON::PP::true }, \%h)->{status}, 400,
	'mount_as_file: 400, dagy mounts no files');
$r = $s->req(GET => $EV, undef, \%h);
is($r->{json}{total}, 2, 'variables: total');
unlike($r->{body}, qr/hunter2/, 'the sensitive value never comes back');
$r = $s->req(GET => "$EV/snowflake_password", undef, \%h);
is($r->{json}{value}, '***', 'nor alone (names looked up in any case)');
$r = $s->req(PUT => "$EV/SNOWFLAKE_PASSWORD", { value => 'hunter2' }, \%h);
is($r->{status}, 200, 'update');
unlike($r->{body}, qr/hunter2/, 'masked after an update');
is(($s->sql("SELECT COUNT(*) FROM audit_log WHERE details LIKE '%hunter2%'"))[0], 0, 'never audited');
ok(!grep({ /hunter2/ } $s->sql('SELECT ciphertext FROM env_variables')), 'sealed at rest');

$r = $s->req(POST => "/api/v1/projects/$id/jobs/$job/trigger", undef, { %h, 'Content-Length' => 0 });
is($r->{status}, 201, 'a manual trigger') or diag($r->{body});
my $run = $r->{json}{run_id};
my $runs = wait_for('the run succeeds, seen in /runs', sub {
	my $x = $s->req(GET => "/api/v1/projects/$id/runs", undef, \%h)->{json};
	return (grep { $_->{id} eq $run && $_->{status} eq 'success' } @{ $x->{runs} }) ? $x : undef;
});
my ($mr) = grep { $_->{id} eq $run } @{ $runs->{runs} // [] };
ok($mr && !exists $mr->{cronjob_name}, 'manual: no cronjob_name');
$r = $s->req(GET => "/api/v1/projects/$id/model-executions", undef, \%h);
ok((grep { $_->{run_id} eq $run && $_->{model_name} eq 'sqlmesh' } @{ $r->{json}{executions} }),
	'and in model-executions');
$r = $s->req(GET => "/api/v1/projects/$id/jobs/$job/logs?run_id=$run", undef, \%h);
is($r->{status}, 200, 'logs');
my $text = join "\n", map { $_->{message} } @{ $r->{json}{logs} };
like($text, qr/^sqlmesh run --select-model \*$/m, 'the command ran, quotes as a shell reads them');
like($text, qr/^cwd \Q$checkout\E$/m, 'in the checkout');
like($text, qr/^account=xy12345$/m, 'with the variables');
like($text, qr/^password-ok$/m, 'sensitive ones too');
unlike($text, qr/hunter2/, 'which stay out of the logs');

# The cron slot: brought forward rather than waited for.
$s->sql("UPDATE schedules SET next_run_at = UTC_TIMESTAMP(6) WHERE public_id = '$job'");
wait_for('the schedule fires: a run with cronjob_name', sub {
	my $x = $s->req(GET => "/api/v1/projects/$id/runs", undef, \%h)->{json};
	return grep { ($_->{cronjob_name} // '') eq $job && $_->{status} eq 'success' } @{ $x->{runs} };
});
$r = $s->req(GET => "/api/v1/projects/$id/model-executions/stats", undef, \%h);
is($r->{json}{stats}[0]{executions}, 2, 'model stats count both runs');

$r = $s->req(PUT => "/api/v1/projects/$id/jobs/$job", { enabled => JSON::PP::false }, \%h);
is($r->{status}, 200, 'update a job');
ok(!$r->{json}{enabled}, 'disabled');
my ($en) = $s->sql("SELECT enabled FROM schedules WHERE public_id = '$job'");
is($en, 0, 'its schedule is off');

# --- plans ------------------------------------------------------------------------------------
sub plans { $s->req(GET => "/api/v1/projects/$id/plans" . ($_[0] // ''), undef, \%h)->{json} }
sub plan_of {
	my ($sha, $status) = @_;
	return wait_for("a $status plan of " . substr($sha, 0, 7), sub {
		my ($x) = grep { $_->{to_commit_sha} eq $sha && $_->{status} eq $status } @{ plans()->{plans} };
		return $x;
	});
}
sub act {
	my ($plan, $verb) = @_;
	return $s->req(POST => "/api/v1/projects/$id/plans/$plan/$verb", undef, { %h, 'Content-Length' => 0 });
}

my $sha2 = commit('second');
my $pl = plan_of($sha2, 'pending');
is($pl->{from_commit_sha}, $sha1, 'from the checkout');
is($pl->{commit_message}, 'second', 'commit_message');
is($pl->{triggered_by}, 'git_sync', 'opened by the sync');
is($pl->{commits_behind}, 1, 'commits_behind');
$r = $s->req(GET => "/api/v1/projects/$id/plans/$pl->{id}", undef, \%h);
like($r->{json}{plan_output}{output}, qr/sqlmesh plan prod --explain/, 'the explain output is kept');
like($r->{json}{plan_output}{output}, qr{cwd \Q$pdir/$id/plans/$pl->{id}\E}, 'explained in a worktree of the commit');
is($s->req(GET => "/api/v1/projects/$id/plans/pending", undef, \%h)->{json}{count}, 1, 'pending count');
is(sh("git -C $checkout rev-parse HEAD"), $sha1, 'the checkout waits for approval');
# Environment protection: prod protected, only excepted users approve.
my $EP = '/api/v1/environment-protections';
$r = $s->req(POST => $EP, { environment_name => 'prod' }, \%h);
is($r->{status}, 201, 'protect prod') or diag($r->{body});
my $prot = $r->{json}{id};
ok($r->{json}{enabled}, 'enabled by default');
is_deeply($r->{json}{excepted_users}, [], 'nobody excepted yet');
is($s->req(POST => $EP, { environment_name => 'prod' }, \%h)->{status}, 409, 'protected twice: 409');
is($s->req(GET => $EP, undef, \%h)->{json}{total}, 1, 'protections: total');
$r = $s->req(GET => "$EP/check?environment_name=prod", undef, \%h);
ok($r->{json}{protected} && !$r->{json}{allowed}, 'check: protected, not allowed');
is(act($pl->{id}, 'approve')->{status}, 403, 'a protected environment refuses approval');
my $owner = $s->req(GET => '/api/v1/organizations/members', undef, \%h)->{json}{members}[0]{id};
$r = $s->req(POST => "$EP/$prot/excepted-users", { user_id => $owner }, \%h);
is($r->{json}{excepted_users}[0]{user_id}, $owner, 'except a user');
is($s->req(POST => "$EP/$prot/excepted-users", { user_id => 'user_nobody' }, \%h)->{status}, 404,
	'only members can be excepted');
ok($s->req(GET => "$EP/check?environment_name=prod", undef, \%h)->{json}{allowed}, 'check: allowed now');
is(act($pl->{id}, 'approve')->{status}, 200, 'approve');
is(act($pl->{id}, 'approve')->{status}, 409, 'approving twice: 409');
plan_of($sha2, 'completed');
$got = $s->req(GET => "/api/v1/projects/$id", undef, \%h)->{json};
is($got->{current_commit_sha}, $sha2, 'the checkout moved to the plan');
is($got->{commits_behind}, 0, 'and is not behind');
$r = $s->req(GET => "/api/v1/projects/$id/plans/$pl->{id}", undef, \%h);
is($r->{json}{plan_type}, 'execute', 'executed');
like($r->{json}{plan_output}{output}, qr/--auto-apply/, 'the execute output');

my $sha3 = commit('third');
$pl = plan_of($sha3, 'pending');
is(act($pl->{id}, 'reject')->{status}, 200, 'reject');
plan_of($sha3, 'rejected');
$r = $s->req(POST => "/api/v1/projects/$id/plans", undef, { %h, 'Content-Length' => 0 });
is($r->{status}, 201, 'a manual explain') or diag($r->{body});
is($r->{json}{triggered_by}, 'manual', 'triggered_by manual');
my $manual = $r->{json}{id};
wait_for('pending', sub { plans('?status=pending')->{total} == 1 });
is(act($manual, 'cancel')->{status}, 200, 'cancel');
is($s->req(GET => "/api/v1/projects/$id/plans/$manual", undef, \%h)->{json}{status}, 'cancelled', 'cancelled');

my $sha4 = commit('fourth');
my $p4 = plan_of($sha4, 'pending');
my $sha5 = commit('fifth');
plan_of($sha5, 'pending');
$r = $s->req(GET => "/api/v1/projects/$id/plans/$p4->{id}", undef, \%h);
is($r->{json}{status}, 'rejected', 'a newer commit discards the older plan');
ok($r->{json}{plan_output}{auto_discarded}, 'auto_discarded in plan_output');
my ($p5) = grep { $_->{to_commit_sha} eq $sha5 } @{ plans()->{plans} };

open my $f, '>', "$tmp/fail" or die;
close $f;
$r = act($p5->{id}, 'approve');
plan_of($sha5, 'failed');
unlink "$tmp/fail";
is(act($p5->{id}, 'retry')->{status}, 200, 'retry a failed execute');
plan_of($sha5, 'completed');

$r = plans('?limit=2');
is_deeply([@$r{qw(page limit total_pages)}], [1, 2, int(($r->{total} + 1) / 2)], 'plans: paging');
is($s->req(GET => "/api/v1/projects/$id/plans?status=odd", undef, \%h)->{status}, 400, 'a bad status: 400');

# --- other organizations ----------------------------------------------------------------------
$s->cli('user', 'add', 'eve@evil.com');
$s->cli('org', 'add', 'Evil', '--owner', 'eve@evil.com');
my (undef, $eve) = $s->cli('key', 'create', '--org', 'Evil', '--user', 'eve@evil.com');
chomp $eve;
for my $path ("/api/v1/projects/$id", "/api/v1/projects/$id/jobs", "/api/v1/projects/$id/plans",
	"/api/v1/projects/$id/jobs/$job", "/api/v1/projects/$id/runs") {
	is($s->as($eve, GET => $path)->{status}, 404, "another org: $path is 404");
}
is($s->as($eve, DELETE => "/api/v1/projects/$id")->{status}, 404, "another org cannot delete it");
is($s->as($eve, GET => '/api/v1/projects')->{json}{total}, 0, 'another org sees none');
is($s->as($eve, GET => "$EV/SNOWFLAKE_ACCOUNT")->{status}, 404, "another org's variable: 404");
is($s->as($eve, GET => $EV)->{json}{total}, 0, 'another org has no variables');
is($s->as($eve, GET => "$EP/$prot")->{status}, 404, "another org's protection: 404");
$r = $s->req(PUT => "$EP/$prot", { enabled => JSON::PP::false }, \%h);
ok(!$r->{json}{enabled}, 'protection off');
is($s->req(PUT => "$EP/$prot", { environment_name => 'other' }, \%h)->{status}, 400, 'renaming: 400');
is($s->req(DELETE => "$EP/$prot/excepted-users/$owner", undef, \%h)->{status}, 200, 'unexcept');
is($s->req(DELETE => "$EP/$prot", undef, \%h)->{status}, 200, 'delete the protection');
is($s->req(GET => "$EP/$prot", undef, \%h)->{status}, 404, 'gone');

# --- team -----------------------------------------------------------------------------------
sub team { $s->req(GET => "/api/v1/organizations/members", undef, \%h)->{json} }
$r = team();
is($r->{total}, 1, 'members: total');
is($r->{members}[0]{role}, 'owner', 'the owner');
like($r->{members}[0]{id}, qr/^user_/, 'a user id');
my $me = $r->{members}[0]{id};
is($s->req(DELETE => "/api/v1/organizations/members/$me", undef, \%h)->{status}, 403, 'removing yourself: 403');
is($s->req(PUT => "/api/v1/organizations/members/$me/role", { role => 'reader' }, \%h)->{status}, 403,
	'changing your own role: 403');
is($s->req(POST => '/api/v1/organizations/invitations', { email => 'eve@evil.com', role => 'boss' }, \%h)->{status},
	400, 'a role dagctl does not know: 400');
$r = $s->req(POST => '/api/v1/organizations/invitations', { email => 'eve@evil.com', role => 'developer' }, \%h);
is($r->{status}, 201, 'invite') or diag($r->{body});
my $token = $r->{json}{token};
like($token, qr/^dctl_inv_/, 'a token, shown once');
ok($r->{json}{expires_at}, 'that expires');
$r = $s->req(GET => '/api/v1/organizations/invitations', undef, \%h);
is($r->{json}{total}, 1, 'pending invitations');
ok(!exists $r->{json}{invitations}[0]{token}, 'the token is not listed');
is(($s->sql("SELECT COUNT(*) FROM audit_log WHERE details LIKE '%dctl_inv_%'"))[0], 0, 'nor audited');
is($s->req(POST => '/api/v1/organizations/invitations/accept', { token => $token }, \%h)->{status}, 403,
	'someone else cannot accept it');
$r = $s->as($eve, POST => '/api/v1/organizations/invitations/accept', { token => $token });
is($r->{status}, 200, 'the invitee accepts') or diag($r->{body});
is($r->{json}{organization_id}, $org, 'into the organization');
is($s->as($eve, POST => '/api/v1/organizations/invitations/accept', { token => $token })->{status}, 404,
	'once');
my ($eve_m) = grep { $_->{email} eq 'eve@evil.com' } @{ team()->{members} };
is($eve_m->{role}, 'developer', 'a developer now');
ok((grep { /invitation.accept/ } $s->sql('SELECT action FROM audit_log')), 'accepting is audited');
$r = $s->req(PUT => "/api/v1/organizations/members/$eve_m->{id}/role", { role => 'reader' }, \%h);
is($r->{json}{member}{role}, 'reader', 'role changed');
is($s->req(DELETE => "/api/v1/organizations/members/$eve_m->{id}", undef, \%h)->{status}, 200, 'remove');
is(team()->{total}, 1, 'removed');
$r = $s->req(POST => '/api/v1/organizations/invitations', { email => 'eve@evil.com', role => 'reader' }, \%h);
$s->sql("UPDATE dagctl_invitations SET expires_at = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND WHERE public_id = '$r->{json}{id}'");
is($s->as($eve, POST => '/api/v1/organizations/invitations/accept', { token => $r->{json}{token} })->{status},
	409, 'an expired invitation cannot be accepted');
is($s->req(GET => '/api/v1/organizations/invitations', undef, \%h)->{json}{total}, 0, 'nor is it pending');
$r = $s->req(POST => '/api/v1/organizations/invitations', { email => 'eve@evil.com', role => 'reader' }, \%h);
is($s->req(DELETE => "/api/v1/organizations/invitations/$r->{json}{id}", undef, \%h)->{status}, 200, 'revoke');
is($s->as($eve, POST => '/api/v1/organizations/invitations/accept', { token => $r->{json}{token} })->{status},
	404, 'a revoked invitation is gone');
is(team()->{total}, 1, 'still one member');

is($s->req(DELETE => "$EV/SNOWFLAKE_ACCOUNT", undef, \%h)->{status}, 200, 'delete a variable');
is($s->req(GET => "$EV/SNOWFLAKE_ACCOUNT", undef, \%h)->{status}, 404, 'gone');

# --- lifecycle --------------------------------------------------------------------------------
$r = $s->req(POST => "/api/v1/projects/$id/suspend", undef, { %h, 'Content-Length' => 0 });
ok($r->{json}{project}{suspended}, 'suspend');
$s->req(PUT => "/api/v1/projects/$id/jobs/$job", { enabled => JSON::PP::true }, \%h);
($en) = $s->sql("SELECT enabled FROM schedules WHERE public_id = '$job'");
is($en, 0, 'a suspended project schedules nothing');
$r = $s->req(POST => "/api/v1/projects/$id/resume", undef, { %h, 'Content-Length' => 0 });
($en) = $s->sql("SELECT enabled FROM schedules WHERE public_id = '$job'");
is($en, 1, 'resume: the job schedules again');
$r = $s->req(POST => "/api/v1/projects/$id/undeploy", undef, { %h, 'Content-Length' => 0 });
is($r->{json}{project}{status}, 'undeployed', 'undeploy');
is($s->req(POST => "/api/v1/projects/$id/jobs/$job/trigger", undef, { %h, 'Content-Length' => 0 })->{status},
	409, 'an undeployed project runs nothing');
is($s->req(DELETE => "/api/v1/projects/$id", undef, \%h)->{status}, 200, 'delete');
is($s->req(GET => "/api/v1/projects/$id", undef, \%h)->{status}, 404, 'gone');
is($s->req(GET => "/api/v1/projects/$id/runs", undef, \%h)->{status}, 404, 'with its runs');
wait_for('its workspace is removed', sub { !-e "$pdir/$id" });
is(($s->sql("SELECT COUNT(*) FROM schedules WHERE public_id = '$job'"))[0], 0, 'and its schedules');

# The sealed token follows a key rotation, and still opens in the worker.
my ($kid) = $s->sql("SELECT key_id FROM dagctl_projects WHERE public_id = '$dbt'");
my ($rc, $out) = $s->cli('secrets', 'rotate-key');
is($rc, 0, 'rotate-key') or diag($out);
isnt(($s->sql("SELECT key_id FROM dagctl_projects WHERE public_id = '$dbt'"))[0], $kid,
	'the project credential is re-sealed');
$s->sql("UPDATE dagctl_projects SET synced_at = NULL, next_sync_at = UTC_TIMESTAMP(6) WHERE public_id = '$dbt'");
wait_for('and opens after the rotation', sub {
	my $x = $s->req(GET => "/api/v1/projects/$dbt", undef, \%h)->{json};
	return $x->{last_synced_at} && !exists $x->{sync_error};
});

$s->finish;
done_testing;
