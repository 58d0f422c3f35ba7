# Environments: CRUD, sealed variables, promotion order, the deployment
# diff, promotion, and protection (who may run, deploy or change
# variables in a protected environment).
use strict;
use warnings;
use Test::More;
use DagyTest;

my $s = DagyTest->start;
my $r;

# --- create, read, list, patch ------------------------------------------------------------------
$r = $s->req(POST => '/v1/environments', { env_name => 'staging', default_executor => 'kubernetes',
	config_json => { memory_limit => '4Gi', cpu_limit => '2', timeout_seconds => 3600 },
	is_protected => JSON::PP::false });
is($r->{status}, 201, 'create an environment') or diag($r->{body});
like($r->{json}{env_id}, qr/^env_/, 'env_id');
is($r->{json}{env_name}, 'staging', 'env_name');
is($r->{json}{default_executor}, 'kubernetes', 'default_executor');
ok(!$r->{json}{is_protected}, 'not protected');
is_deeply($r->{json}{protected_roles}, ['owner', 'admin'], 'the roles protection would admit');
like($r->{json}{created_at}, qr/Z$/, 'created_at');
is($s->req(POST => '/v1/environments', { env_name => 'staging' })->{status}, 409, 'again: 409');
is($s->req(POST => '/v1/environments', { env_name => $_ })->{status}, 201, "create $_")
	for qw(develop production);
for my $bad ([{}, 'env_name'], [{ env_name => 'a b' }, 'env_name'], [{ env_name => 'x' x 65 }, 'env_name'],
	[{ env_name => 'x', default_executor => 'mainframe' }, 'default_executor'],
	[{ env_name => 'x', config_json => 'big' }, 'config_json'],
	[{ env_name => 'x', is_protected => 'yes' }, 'is_protected'],
	[{ env_name => 'x', protected_roles => ['king'] }, 'protected_roles']) {
	$r = $s->req(POST => '/v1/environments', $bad->[0]);
	is($r->{status}, 400, "400 for a bad $bad->[1]");
	ok(exists $r->{json}{details}{ $bad->[1] }, "naming $bad->[1]") or diag($r->{body});
}

$r = $s->req(GET => '/v1/environments/staging');
is($r->{status}, 200, 'get');
is_deeply($r->{json}{config_json}, { memory_limit => '4Gi', cpu_limit => '2', timeout_seconds => 3600 },
	'config_json');
is($s->req(GET => '/v1/environments/nope')->{status}, 404, 'unknown: 404');

$r = $s->req(PATCH => '/v1/environments/staging', { default_executor => 'lambda' });
is($r->{status}, 200, 'patch');
is($r->{json}{default_executor}, 'lambda', 'changed');
is_deeply($r->{json}{config_json}{memory_limit}, '4Gi', 'the rest kept');
ok($r->{json}{updated_at}, 'updated_at');
is($s->req(PATCH => '/v1/environments/staging', { env_name => 'x' })->{status}, 400, 'the name cannot change');
is($s->req(PATCH => '/v1/environments/nope', { default_executor => 'lambda' })->{status}, 404, 'patch unknown: 404');

# --- reorder ---------------------------------------------------------------------------------------
$r = $s->req(PUT => '/v1/environments/reorder', { order => [qw(develop staging production)] });
is($r->{status}, 200, 'reorder') or diag($r->{body});
is_deeply([map { [$_->{env_name}, $_->{promotion_order}] } @{ $r->{json}{items} }],
	[['develop', 0], ['staging', 1], ['production', 2]], 'promotion_order follows the order');
is_deeply([map { $_->{env_name} } @{ $s->req(GET => '/v1/environments')->{json}{items} }],
	[qw(develop staging production)], 'the list is in promotion order');
$r = $s->req(PUT => '/v1/environments/reorder', { order => [qw(develop nowhere)] });
is($r->{status}, 400, 'an unknown name in order: 400');
like($r->{json}{message}, qr/nowhere/, 'naming it');
is($s->req(PUT => '/v1/environments/reorder', { order => [qw(develop develop)] })->{status}, 400,
	'a name twice: 400');
is($s->req(PUT => '/v1/environments/reorder', { order => 'develop' })->{status}, 400, 'not an array: 400');
is($s->req(GET => '/v1/environments')->{json}{items}[0]{env_name}, 'develop', 'a refused reorder changes nothing');

# --- variables ----------------------------------------------------------------------------------
$r = $s->req(PUT => '/v1/environments/staging/variables', { variables => {
	DATABASE_URL => 'postgres://staging-db:5432/app', API_KEY => 'sk_staging_xxx', LOG_LEVEL => 'debug' } });
is($r->{status}, 200, 'replace variables') or diag($r->{body});
is($r->{json}{env_name}, 'staging', 'env_name');
is_deeply($r->{json}{variables}, { DATABASE_URL => 'postgres://staging-db:5432/app',
	API_KEY => 'sk_staging_xxx', LOG_LEVEL => 'debug' }, 'variables');
my @stored = $s->sql("SELECT ciphertext FROM env_variables");
is(scalar @stored, 3, 'three rows');
ok(!grep({ /sk_staging|postgres/ } @stored), 'stored sealed, not in clear');
$r = $s->req(PATCH => '/v1/environments/staging/variables', { variables => { NEW_VAR => 'value', LOG_LEVEL => 'info', N => 3 } });
is($r->{status}, 200, 'merge variables');
is_deeply($r->{json}{variables}, { DATABASE_URL => 'postgres://staging-db:5432/app',
	API_KEY => 'sk_staging_xxx', LOG_LEVEL => 'info', NEW_VAR => 'value', N => '3' }, 'merged; a number as text');
$r = $s->req(DELETE => '/v1/environments/staging/variables/LOG_LEVEL');
is($r->{status}, 200, 'delete a variable');
is_deeply($r->{json}, { deleted => 'LOG_LEVEL', env_name => 'staging' }, 'the spec shape');
is($s->req(DELETE => '/v1/environments/staging/variables/LOG_LEVEL')->{status}, 404, 'again: 404');
ok(!exists $s->req(GET => '/v1/environments/staging/variables')->{json}{variables}{LOG_LEVEL}, 'gone');
is($s->req(PUT => '/v1/environments/staging/variables', { variables => [1] })->{status}, 400,
	'variables must be an object');
is($s->req(PUT => '/v1/environments/staging/variables', { variables => { 'BAD-KEY' => 'x' } })->{status}, 400,
	'a key that is no shell name: 400');
is($s->req(PUT => '/v1/environments/staging/variables', { variables => { K => { a => 1 } } })->{status}, 400,
	'an object value: 400');
is($s->req(GET => '/v1/environments/nope/variables')->{status}, 404, 'variables of an unknown environment: 404');
my ($audit) = $s->sql("SELECT GROUP_CONCAT(details) FROM audit_log WHERE action LIKE 'environment.variables%'");
unlike($audit, qr/sk_staging|postgres/, 'the audit names keys, not values');
like($audit, qr/API_KEY/, 'the keys');

# Variables reach the steps of runs in the environment.
$s->flow('vars', [['show', 'echo "db=$DAGY_VAR_DATABASE_URL key=$API_KEY n=$N/$DAGY_VAR_N env=$DAGY_ENVIRONMENT"',
	undef, { env => { N => 'mine' } }]]);
my $id = $s->trigger('vars', undef, environment => 'staging');
is($s->wait_run($id)->{status}, 'completed', 'a run in staging');
is_deeply([map { $_->{message} } @{ $s->req(GET => "/v1/runs/$id/logs")->{json}{events} }],
	['db=postgres://staging-db:5432/app key=sk_staging_xxx n=mine/3 env=staging'],
	'gets DAGY_VAR_<KEY> and <KEY>, the node env winning, and DAGY_ENVIRONMENT');
$id = $s->trigger('vars');
$s->wait_run($id);
is_deeply([map { $_->{message} } @{ $s->req(GET => "/v1/runs/$id/logs")->{json}{events} }],
	['db= key= n=mine/ env='], 'a run without an environment gets none');

# --- deployments in environments, diff, promote -------------------------------------------------
$s->flow('my-flow', [['hi', 'echo hi']]) for 1 .. 4;
$s->flow('new-flow', [['hi', 'echo hi']]);
$s->flow('old-flow', [['hi', 'echo hi']]);
my %deps = ('my-flow-staging' => ['my-flow', '4', 'staging'], 'my-flow-production' => ['my-flow', '3', 'production'],
	'new-flow-staging' => ['new-flow', '1', 'staging'], 'old-flow-production' => ['old-flow', '1', 'production'],
	'same-staging' => ['old-flow', '1', 'staging']);
for my $d (sort keys %deps) {
	$r = $s->req(POST => '/v1/deployments', { name => $d, flow_name => $deps{$d}[0],
		flow_version => $deps{$d}[1], environment => $deps{$d}[2] });
	is($r->{status}, 201, "deploy $d") or diag($r->{body});
}
$r = $s->req(GET => '/v1/environments/staging/diff/production');
is($r->{status}, 200, 'diff');
is($r->{json}{source_environment}, 'staging', 'source_environment');
is($r->{json}{target_environment}, 'production', 'target_environment');
is_deeply([map { $_->{deployment_name} } @{ $r->{json}{only_in_source} }], ['new-flow-staging'], 'only_in_source');
is_deeply([sort keys %{ $r->{json}{only_in_source}[0] }], [qw(deployment_name flow_name flow_version updated_at)],
	'entries have the spec fields');
is_deeply($r->{json}{only_in_target}, [], 'only_in_target: old-flow is in both at one version');
is(scalar @{ $r->{json}{version_differs} }, 1, 'one flow differs');
my $d = $r->{json}{version_differs}[0];
is($d->{flow_name}, 'my-flow', 'my-flow');
is_deeply([$d->{source}{deployment_name}, $d->{source}{flow_version}, $d->{target}{deployment_name},
	$d->{target}{flow_version}], ['my-flow-staging', '4', 'my-flow-production', '3'], 'source and target');
$r = $s->req(GET => '/v1/environments/production/diff/staging');
is_deeply([map { $_->{deployment_name} } @{ $r->{json}{only_in_target} }], ['new-flow-staging'], 'the other way round');
is($s->req(GET => '/v1/environments/staging/diff/nowhere')->{status}, 404, 'unknown target: 404');
is($s->req(GET => '/v1/environments/nowhere/diff/staging')->{status}, 404, 'unknown source: 404');

$r = $s->req(POST => '/v1/environments/promote', { source_deployment => 'my-flow-staging',
	target_environment => 'production' });
is($r->{status}, 201, 'promote') or diag($r->{body});
is_deeply([@{ $r->{json} }{qw(target_deployment flow_name flow_version target_environment)}],
	['my-flow-production', 'my-flow', '4', 'production'], 'the spec shape, name derived from the source');
$r = $s->req(GET => '/v1/deployments/my-flow-production');
is($r->{json}{flow_version}, '4', 'the target deployment runs the same version');
is($r->{json}{environment}, 'production', 'in the target environment');
is($r->{json}{promoted_from_env}, 'staging', 'promoted_from_env');
is($r->{json}{promoted_from_deployment}, 'my-flow-staging', 'promoted_from_deployment');
like($r->{json}{promoted_at}, qr/Z$/, 'promoted_at');
ok(grep({ /deployment.promote/ } $s->sql("SELECT action FROM audit_log")), 'promotion is audited');
is_deeply($s->req(GET => '/v1/environments/staging/diff/production')->{json}{version_differs}, [],
	'after promotion the versions agree');
$r = $s->req(POST => '/v1/environments/promote', { source_deployment => 'new-flow-staging',
	target_environment => 'develop', new_deployment_name => 'nf-dev', flow_version => '1' });
is($r->{status}, 201, 'promote with a new name and version');
is($r->{json}{target_deployment}, 'nf-dev', 'new_deployment_name');
is($s->req(POST => '/v1/environments/promote', { target_environment => 'develop' })->{status}, 400,
	'source_deployment is required');
is($s->req(POST => '/v1/environments/promote', { source_deployment => 'new-flow-staging' })->{status}, 400,
	'target_environment is required');
is($s->req(POST => '/v1/environments/promote', { source_deployment => 'nope', target_environment => 'develop' })->{status},
	404, 'an unknown deployment: 404');
is($s->req(POST => '/v1/environments/promote', { source_deployment => 'new-flow-staging',
	target_environment => 'nowhere' })->{status}, 404, 'an unknown environment: 404');
is($s->req(POST => '/v1/environments/promote', { source_deployment => 'new-flow-staging',
	target_environment => 'develop', flow_version => '9' })->{status}, 404, 'an unknown version: 404');
is($s->req(POST => '/v1/environments/promote', { source_deployment => 'new-flow-staging',
	target_environment => 'develop', new_deployment_name => 'my-flow-staging' })->{status}, 409,
	'a name taken in another environment: 409');

# --- protection ---------------------------------------------------------------------------------
my $dev = $s->user_key('dev@example.com', 'developer');
my $admin = $s->user_key('admin2@example.com', 'admin');
my $viewer = $s->user_key('viewer@example.com', 'viewer');
$r = $s->req(PATCH => '/v1/environments/production', { is_protected => JSON::PP::true });
is($r->{status}, 200, 'protect production');
ok($r->{json}{is_protected}, 'is_protected');
is_deeply($r->{json}{protected_roles}, ['owner', 'admin'], 'owners and admins by default');

$r = $s->as($dev, POST => '/v1/runs', { deployment => 'my-flow-production' });
is($r->{status}, 403, 'a developer cannot run in a protected environment');
like($r->{json}{message}, qr/production.*protected/, 'saying why');
is($s->as($dev, POST => '/v1/runs', { flow_name => 'my-flow', environment => 'production' })->{status}, 403,
	'nor by naming the environment');
$r = $s->as($dev, POST => '/v1/runs', { deployment => 'my-flow-staging' });
is($r->{status}, 202, 'but can in an unprotected one');
$r = $s->req(POST => '/v1/runs', { flow_name => 'my-flow' });
ok(!exists $r->{json}{environment}, 'a run without an environment answers as before');
is($s->as($dev, PATCH => '/v1/deployments/my-flow-production', { flow_version => '3' })->{status}, 403,
	'nor change a deployment there');
is($s->as($dev, POST => '/v1/deployments', { name => 'sneaky', flow_name => 'my-flow',
	environment => 'production' })->{status}, 403, 'nor deploy to it');
is($s->as($dev, PUT => '/v1/deployments/my-flow-staging/settings', { environment => 'production' })->{status},
	403, 'nor move a deployment into it');
is($s->as($dev, POST => '/v1/flows', { flow_name => 'my-flow', deployment_name => 'my-flow-production',
	flow_spec => { nodes => [{ id => 'x', type => 'noop' }] } })->{status}, 403, 'nor register into its deployment');
is($s->as($dev, DELETE => '/v1/deployments/my-flow-production')->{status}, 403, 'nor delete one there');
is($s->as($dev, POST => '/v1/environments/promote', { source_deployment => 'my-flow-staging',
	target_environment => 'production' })->{status}, 403, 'nor promote (environments.write)');
my @denied = $s->sql("SELECT CONCAT(actor_email, ' ', target_id) FROM audit_log WHERE action = 'environment.denied'");
ok(scalar(grep { $_ eq 'dev@example.com production' } @denied) >= 5, 'refusals are audited with who tried');

$r = $s->as($admin, POST => '/v1/runs', { deployment => 'my-flow-production' });
is($r->{status}, 202, 'an admin may run there');
is($r->{json}{environment}, 'production', 'the answer names the environment of the deployment');
my ($env) = $s->sql("SELECT environment FROM runs WHERE public_id = '$r->{json}{run_id}'");
is($env, 'production', 'the run names its environment');
ok(grep({ /"environment":"production"/ } $s->sql("SELECT details FROM audit_log WHERE action = 'run.trigger' AND actor_email = 'admin2\@example.com'")),
	'and the audit row says where it ran');

is($s->req(POST => '/v1/environments', { env_name => 'qa', is_protected => JSON::PP::true,
	protected_roles => ['developer'] })->{status}, 201, 'an environment only developers may run in');
is($s->as($dev, POST => '/v1/runs', { flow_name => 'my-flow', environment => 'qa' })->{status}, 202,
	'a developer may');
is($s->as($admin, POST => '/v1/runs', { flow_name => 'my-flow', environment => 'qa' })->{status}, 403,
	'an admin may not');

$r = $s->req(PATCH => '/v1/environments/production', { protected_roles => ['owner'] });
is($r->{status}, 200, 'only owners');
is($s->as($admin, PUT => '/v1/environments/production/variables', { variables => { A => 'b' } })->{status}, 403,
	'an admin cannot change its variables then');
is($s->as($admin, PATCH => '/v1/environments/production', { is_protected => JSON::PP::false })->{status}, 403,
	'nor lift the protection');
is($s->req(PUT => '/v1/environments/production/variables', { variables => { A => 'b' } })->{status}, 200,
	'the owner can');
$r = $s->req(DELETE => '/v1/environments/production');
is($r->{status}, 404, 'a protected environment cannot be deleted (the spec\'s 404)');
is($r->{json}{error}, 'protected_environment', 'error protected_environment');
is($r->{json}{message}, "Cannot delete protected environment 'production'", 'the spec message');

is($s->as($viewer, GET => '/v1/environments')->{status}, 200, 'a viewer can list');
is($s->as($viewer, POST => '/v1/environments', { env_name => 'v' })->{status}, 403, 'but not create');
is($s->as($dev, POST => '/v1/environments', { env_name => 'v' })->{status}, 403, 'nor a developer');

# --- another org, delete --------------------------------------------------------------------------
my ($rc, $out) = $s->cli('user', 'add', 'other@example.com', '--password', 'pw');
($rc, $out) = $s->cli('org', 'add', 'other', '--owner', 'other@example.com');
($rc, my $other) = $s->cli('key', 'create', '--org', 'other', '--user', 'other@example.com');
$other =~ s/\s+\z//;
is($s->as($other, GET => '/v1/environments/staging')->{status}, 404, "another org's environment: 404");
is($s->as($other, GET => '/v1/environments/staging/variables')->{status}, 404, 'its variables: 404');
is_deeply($s->as($other, GET => '/v1/environments')->{json}{items}, [], 'an empty list there');
is($s->as($other, POST => '/v1/environments', { env_name => 'staging' })->{status}, 201, 'the same name there');
is($s->req(DELETE => '/v1/environments/develop')->{status}, 204, 'delete');
is($s->req(GET => '/v1/environments/develop')->{status}, 404, 'gone');
is($s->req(DELETE => '/v1/environments/develop')->{status}, 404, 'again: 404');

$s->finish;
done_testing;
