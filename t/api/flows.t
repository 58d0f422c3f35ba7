# Flows, versions, deployments, backends and DAG drafts through the API.
use strict;
use warnings;
use Test::More;
use DagyTest;

my $s = DagyTest->start;
my $r;

sub spec {
	my (@ids) = @_;
	my @nodes;
	my $prev;
	for my $id (@ids) {
		push @nodes, { id => $id, type => 'shell', config => { command => "echo $id" },
			($prev ? (depends_on => [$prev]) : ()) };
		$prev = $id;
	}
	return { nodes => \@nodes };
}

# --- register -----------------------------------------------------------------
$r = $s->req(POST => '/v1/flows', { flow_name => 'etl', flow_spec => spec('extract', 'load'),
	namespace => 'data/ingestion', tags => { team => 'data-eng' },
	artifact_s3_uri => 's3://b/etl.zip' });
is($r->{status}, 201, 'register a flow');
is($r->{json}{flow_name}, 'etl', 'flow_name');
is($r->{json}{flow_version}, '1', 'first version is "1", a string');
is($r->{json}{namespace}, 'data/ingestion', 'namespace');
is_deeply($r->{json}{tags}, { team => 'data-eng' }, 'tags');
is($r->{json}{status}, 'active', 'status');
like($r->{json}{created_at}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'created_at');
like($r->{json}{code_hash}, qr/^[0-9a-f]{64}$/, 'code_hash');
my $hash1 = $r->{json}{code_hash};

$r = $s->req(POST => '/v1/flows', { flow_spec => { name => 'etl', %{ spec('extract', 'load', 'report') } } });
is($r->{status}, 201, 'name taken from flow_spec.name');
is($r->{json}{flow_version}, '2', 'the next integer');
isnt($r->{json}{code_hash}, $hash1, 'another spec, another hash');
$r = $s->req(POST => '/v1/flows', { flow_name => 'etl', flow_version => '2.5.0', flow_spec => spec('x') });
is($r->{json}{flow_version}, '2.5.0', 'an explicit version');
$r = $s->req(POST => '/v1/flows', { flow_name => 'etl', flow_version => 7, flow_spec => spec('x') });
is($r->{json}{flow_version}, '7', 'a numeric version comes back as a string');
$r = $s->req(POST => '/v1/flows', { flow_name => 'etl', flow_spec => spec('x') });
is($r->{json}{flow_version}, '8', 'next integer after the highest');
is($s->req(POST => '/v1/flows', { flow_name => 'etl', flow_version => 7, flow_spec => spec('x') })->{status},
	409, 'an existing version: 409');

# the same spec written another way hashes the same
$r = $s->req(POST => '/v1/flows', { flow_name => 'etl2', flow_spec => {
	nodes => [ { id => 'load', type => 'shell', config => { command => 'echo load' } },
		{ id => 'extract', type => 'shell', config => { command => 'echo extract' } } ],
	edges => [ { source => 'extract', target => 'load' } ] } });
is($r->{json}{code_hash}, $hash1, 'edges or depends_on, any order: the same code_hash');

# --- validation names the node --------------------------------------------------------
my @bad = (
	[ { nodes => [ { id => 'a', type => 'teleport' } ] }, 'a', 'type' ],
	[ { nodes => [ { id => 'a', type => 'shell' } ] }, 'a', 'config.command' ],
	[ { nodes => [ { id => 'a', type => 'noop' }, { id => 'a', type => 'noop' } ] }, 'a', 'id' ],
	[ { nodes => [ { id => 'a', type => 'noop', depends_on => ['zz'] } ] }, 'a', 'depends_on' ],
	[ { nodes => [ { id => 'a', type => 'noop', depends_on => ['b'] },
		{ id => 'b', type => 'noop', depends_on => ['a'] } ] }, 'a', 'depends_on' ],
	[ { nodes => [ { id => 'w', type => 'webhook_post', config => {} } ] }, 'w', 'config.url' ],
	[ { nodes => [ { id => 't', type => 'noop', timeout_seconds => 0 } ] }, 't', 'timeout_seconds' ],
);
for my $b (@bad) {
	$r = $s->req(POST => '/v1/flows', { flow_name => 'bad', flow_spec => $b->[0] });
	is($r->{status}, 400, "invalid spec ($b->[2]): 400");
	is($r->{json}{details}{node}, $b->[1], "names node $b->[1]");
	is($r->{json}{details}{field}, $b->[2], "names field $b->[2]");
}
$r = $s->req(POST => '/v1/flows', { flow_name => 'bad', flow_spec => { nodes => [
	{ id => 'a', type => 'noop', depends_on => ['c'] }, { id => 'b', type => 'noop', depends_on => ['a'] },
	{ id => 'c', type => 'noop', depends_on => ['b'] } ] } });
like($r->{json}{message}, qr/a -> c -> b -> a/, 'a cycle is spelled out');
is($s->req(POST => '/v1/flows', { flow_name => 'x' })->{status}, 400, 'no flow_spec: 400');
is($s->req(POST => '/v1/flows', { flow_spec => spec('a') })->{status}, 400, 'no name: 400');
is($s->req(POST => '/v1/flows', { flow_name => 'a b', flow_spec => spec('a') })->{status}, 400,
	'a name with a space: 400');
$r = $s->req(POST => '/v1/flows', { flow_name => 'x', schedule => 'every tuesday', flow_spec => spec('a') });
is($r->{status}, 400, 'bad schedule: 400');
is_deeply([keys %{ $r->{json}{details} }], ['schedule'], 'names schedule');
ok(!$s->req(GET => '/v1/flows/bad/latest')->{json}{flow_name}, 'nothing was stored for refused specs');

# --- read ---------------------------------------------------------------------------------
$r = $s->req(GET => '/v1/flows/etl/latest');
is($r->{status}, 200, 'latest');
is($r->{json}{flow_version}, '8', 'latest is the newest');
is($r->{json}{deployment_version}, 5, 'deployment_version counts registrations');
is(ref $r->{json}{flow_spec}{nodes}, 'ARRAY', 'flow_spec included');
$r = $s->req(GET => '/v1/flows/etl/1');
is($r->{status}, 200, 'a given version');
is($r->{json}{status}, 'inactive', 'older versions are inactive');
is($r->{json}{artifact_s3_uri}, 's3://b/etl.zip', 'artifact_s3_uri');
is_deeply([map { $_->{id} } @{ $r->{json}{flow_spec}{nodes} }], ['extract', 'load'], 'its spec');
is_deeply($r->{json}{flow_spec}{edges}, [{ source => 'extract', target => 'load' }], 'edges in the canonical spec');
is($s->req(GET => '/v1/flows/etl/99')->{status}, 404, 'unknown version: 404');
is($s->req(GET => '/v1/flows/nope/latest')->{status}, 404, 'unknown flow: 404');
$r = $s->req(GET => '/v1/flows/etl/versions');
is($r->{status}, 200, 'versions');
is_deeply([map { $_->{flow_version} } @{ $r->{json}{items} }], ['8', '7', '2.5.0', '2', '1'],
	'newest first');
is($s->req(GET => '/v1/flows/nope/versions')->{status}, 404, 'versions of nothing: 404');

# --- deployments -------------------------------------------------------------------------
$r = $s->req(POST => '/v1/deployments', { name => 'etl-prod', flow_name => 'etl', flow_version => 2,
	schedule => '0 9 * * *', execution_mode => 'nano', tags => ['production', 'critical'] });
is($r->{status}, 201, 'create deployment: 201');
like($r->{json}{deployment_id}, qr/^deploy_/, 'deployment_id');
is($r->{json}{flow_version}, '2', 'at version 2');
$r = $s->req(POST => '/v1/deployments', { name => 'etl-prod', flow_name => 'etl', flow_version => '7' });
is($r->{status}, 200, 'update deployment: 200');
is($r->{json}{flow_version}, '7', 'now at 7');
is($s->req(POST => '/v1/deployments', { name => 'd', flow_name => 'nope' })->{status}, 404,
	'deployment of an unknown flow: 404');
is($s->req(POST => '/v1/deployments', { name => 'd', flow_name => 'etl', flow_version => '99' })->{status},
	404, 'of an unknown version: 404');
is($s->req(POST => '/v1/deployments', { name => 'd', flow_name => 'etl', execution_mode => 'huge' })->{status},
	400, 'bad execution_mode: 400');

$r = $s->req(GET => '/v1/deployments/etl-prod');
is($r->{status}, 200, 'get deployment');
is($r->{json}{schedule}, '0 9 * * *', 'schedule kept');
is_deeply($r->{json}{tags}, ['production', 'critical'], 'tags kept');
is($r->{json}{environment}, 'production', 'default environment');

$r = $s->req(PATCH => '/v1/deployments/etl-prod', { flow_version => '8' });
is($r->{status}, 200, 'PATCH version');
is($r->{json}{flow_version}, '8', 'at 8');
is($s->req(PATCH => '/v1/deployments/etl-prod', { flow_version => '99' })->{status}, 404, 'PATCH to no version: 404');
is($s->req(PATCH => '/v1/deployments/nope', { flow_version => '1' })->{status}, 404, 'PATCH unknown: 404');
$r = $s->req(POST => '/v1/deployments/etl-prod/rollback', {});
is($r->{status}, 200, 'rollback');
is($r->{json}{previous_flow_version}, '8', 'from 8');
is($r->{json}{new_flow_version}, '7', 'to the version before');
$r = $s->req(POST => '/v1/deployments/etl-prod/rollback', { target_flow_version => '1' });
is($r->{json}{new_flow_version}, '1', 'rollback to a named version');
is($s->req(POST => '/v1/deployments/nope/rollback', {})->{status}, 404, 'rollback unknown: 404');

$r = $s->req(PUT => '/v1/deployments/etl-prod/settings', { execution_mode => 'micro' });
is($r->{status}, 200, 'settings');
is($r->{json}{execution_mode}, 'micro', 'mode changed');
is($r->{json}{schedule}, '0 9 * * *', 'other fields untouched');
$r = $s->req(PUT => '/v1/deployments/etl-prod/settings', { schedule => '30m', dep_package_slugs => ['pandas'] });
is($r->{json}{schedule}, '30m', 'an interval schedule');
is_deeply($r->{json}{dep_package_slugs}, ['pandas'], 'slugs');
$r = $s->req(PUT => '/v1/deployments/etl-prod/settings', { schedule => '' });
is($r->{json}{schedule}, undef, 'an empty schedule removes it');
is($s->req(PUT => '/v1/deployments/etl-prod/settings', {})->{status}, 400, 'no settings: 400');
is($s->req(PUT => '/v1/deployments/etl-prod/settings', { execution_mode => 'jumbo' })->{status}, 400,
	'bad mode: 400');
$r = $s->req(PUT => '/v1/deployments/etl-prod/settings', { schedule => '0 0 30 2 *' });
is($r->{status}, 400, 'an impossible cron: 400');
like($r->{json}{message}, qr/never occurs/, 'says why');
is($s->req(PUT => '/v1/deployments/nope/settings', { execution_mode => 'micro' })->{status}, 404,
	'settings of unknown: 404');

$s->req(POST => '/v1/deployments', { name => 'etl-staging', flow_name => 'etl', environment => 'staging' });
$r = $s->req(GET => '/v1/deployments?environment=staging');
is_deeply([map { $_->{deployment_name} } @{ $r->{json}{items} }], ['etl-staging'], 'filter by environment');
$r = $s->req(GET => '/v1/deployments');
is(scalar @{ $r->{json}{items} }, 2, 'both deployments');
is($s->req(GET => '/v1/deployments?limit=501')->{status}, 400, 'limit over 500: 400');
is($s->req(GET => '/v1/deployments?limit=0')->{status}, 400, 'limit 0: 400');
is($s->req(GET => '/v1/deployments?limit=1')->{json}{next_token} ? 1 : 0, 1, 'a next_token when more');

# --- backends ----------------------------------------------------------------------------
$r = $s->req(GET => '/v1/backends');
is($r->{status}, 200, 'backends');
is($r->{json}[0]{name}, 'local', 'the local worker pool');
is($r->{json}[0]{max_concurrent_runs}, 8, 'concurrency from config');
is($r->{json}[0]{max_timeout_seconds}, 86400, 'timeout from config');
is($r->{json}[0]{workers}, 1, 'the live workers');
is($r->{json}[0]{concurrent_steps}, 8, 'and what they can run at once');

# --- drafts ------------------------------------------------------------------------------
my $canvas = { nodes => [ { id => 'n1', type => 'shell', position => [0, 0], data => { command => 'echo 1' } },
	{ id => 'n2', type => 'noop', position => [200, 0], data => {} } ],
	edges => [ { id => 'e1', source => 'n1', target => 'n2' } ] };
$r = $s->req(POST => '/v1/dag-drafts', { name => 'Pipeline', description => 'd', canvas_json => $canvas,
	flow_name => 'from-draft', executor => 'local' });
is($r->{status}, 201, 'create draft');
my $draft = $r->{json}{draft_id};
like($draft, qr/^draft_/, 'draft_id');
ok(!exists $r->{json}{canvas_json}, 'create does not echo the canvas');
$r = $s->req(GET => "/v1/dag-drafts/$draft");
is_deeply($r->{json}{canvas_json}, $canvas, 'get returns the canvas as stored');
is(scalar @{ $s->req(GET => '/v1/dag-drafts')->{json}{items} }, 1, 'list drafts');
$r = $s->req(PUT => "/v1/dag-drafts/$draft", { name => 'Pipeline v2' });
is($r->{status}, 200, 'update draft');
is($r->{json}{name}, 'Pipeline v2', 'renamed');
$r = $s->req(PUT => "/v1/dag-drafts/$draft", { canvas_json => { nodes => [ { id => 'a' } ],
	edges => [ { source => 'a', target => 'ghost' } ] } });
is($r->{status}, 400, 'a canvas with a dangling edge: 400');
is($r->{json}{details}{node}, 'ghost', 'names the node');
is($s->req(POST => '/v1/dag-drafts', { name => 'x' })->{status}, 400, 'draft without canvas: 400');
$r = $s->req(POST => "/v1/dag-drafts/$draft/publish", {});
is($r->{status}, 201, 'publish a draft');
is($r->{json}{flow_name}, 'from-draft', 'as its flow');
is_deeply([map { $_->{id} } @{ $s->req(GET => '/v1/flows/from-draft/latest')->{json}{flow_spec}{nodes} }],
	['n1', 'n2'], 'the flow has the canvas nodes');
$r = $s->req(POST => '/v1/dag-drafts', { name => 'cloudy', flow_name => 'cloudy',
	canvas_json => { nodes => [ { id => 's3', type => 's3_read', data => {} } ], edges => [] } });
is($r->{status}, 201, 'a draft may hold a node type that cannot run yet');
$r = $s->req(POST => "/v1/dag-drafts/$r->{json}{draft_id}/publish", {});
is($r->{status}, 400, 'but publishing it is refused');
is($r->{json}{details}{node}, 's3', 'naming the node');
is($s->req(DELETE => "/v1/dag-drafts/$draft")->{status}, 204, 'delete draft');
is($s->req(GET => "/v1/dag-drafts/$draft")->{status}, 404, 'gone');
is($s->req(DELETE => "/v1/dag-drafts/$draft")->{status}, 404, 'delete again: 404');

# --- permissions and tenants ------------------------------------------------------------
my $viewer = $s->user_key('viewer@dagy.local', 'viewer');
is($s->as($viewer, GET => '/v1/flows')->{status}, 200, 'a viewer reads flows');
is($s->as($viewer, GET => '/v1/flows/etl/latest')->{status}, 200, 'and a flow');
is($s->as($viewer, GET => '/v1/deployments')->{status}, 200, 'and deployments');
is($s->as($viewer, POST => '/v1/flows', { flow_name => 'v', flow_spec => spec('a') })->{status}, 403,
	'but cannot register');
is($s->as($viewer, DELETE => '/v1/flows/etl')->{status}, 403, 'or delete');
is($s->as($viewer, PUT => '/v1/deployments/etl-prod/settings', { execution_mode => 'micro' })->{status},
	403, 'or change deployments');
my $dev = $s->user_key('dev@dagy.local', 'developer');
is($s->as($dev, POST => '/v1/flows', { flow_name => 'devflow', flow_spec => spec('a') })->{status}, 201,
	'a developer registers');
$r = $s->as($dev, DELETE => '/v1/flows/devflow');
is($r->{status}, 403, 'but deleting needs flows.delete');
like($r->{json}{message}, qr/flows\.delete/, 'and says so');

$s->cli('user', 'add', 'eve@evil.com');
$s->cli('org', 'add', 'Evil', '--owner', 'eve@evil.com');
my (undef, $eve) = $s->cli('key', 'create', '--org', 'Evil', '--user', 'eve@evil.com');
chomp $eve;
is($s->as($eve, GET => '/v1/flows/etl/latest')->{status}, 404, "another org's flow: 404");
is($s->as($eve, GET => '/v1/flows/etl/1')->{status}, 404, "another org's version: 404");
is_deeply($s->as($eve, GET => '/v1/flows')->{json}{items}, [], "absent from another org's list");
is($s->as($eve, GET => '/v1/deployments/etl-prod')->{status}, 404, "another org's deployment: 404");
is($s->as($eve, DELETE => '/v1/flows/etl')->{status}, 404, "another org's flow cannot be deleted");
is($s->as($eve, POST => '/v1/flows', { flow_name => 'etl', flow_spec => spec('evil') })->{status}, 201,
	'the same flow name in another org is a different flow');
is($s->req(GET => '/v1/flows/etl/latest')->{json}{flow_version}, '8', 'and leaves ours alone');

# --- pagination under concurrent inserts -------------------------------------------------------------
for my $i (1 .. 45) {
	$s->req(POST => '/v1/flows', { flow_name => sprintf('page-%02d', $i), flow_spec => spec('a') });
}
my (%seen, $token, $pages);
my $extra = 0;
do {
	my $q = '/v1/flows?limit=20' . ($token ? "&next_token=$token" : '');
	$r = $s->req(GET => $q);
	die "page failed: $r->{body}" unless $r->{status} == 200;
	$seen{ $_->{flow_name} }++ for @{ $r->{json}{items} };
	$token = $r->{json}{next_token};
	# others keep registering flows while we page
	$s->req(POST => '/v1/flows', { flow_name => sprintf('page-%02d-late%d', 10 * ++$extra, $extra),
		flow_spec => spec('a') });
	$pages++;
} while ($token && $pages < 20);
my @page = grep { /^page-\d\d$/ } keys %seen;
is(scalar @page, 45, 'all 45 flows seen');
ok(!(grep { $seen{$_} != 1 } keys %seen), 'each exactly once');
(my $tampered = $s->req(GET => '/v1/flows?limit=1')->{json}{next_token}) =~ s/^(.)/$1 eq 'A' ? 'B' : 'A'/e;
is($s->req(GET => "/v1/flows?next_token=$tampered")->{status}, 400, 'a tampered next_token: 400');
is($s->req(GET => '/v1/flows?limit=101')->{status}, 400, 'limit over 100: 400');
is($s->req(GET => '/v1/flows?limit=abc')->{status}, 400, 'limit not a number: 400');

# --- cascade delete ------------------------------------------------------------------------
$r = $s->req(DELETE => '/v1/flows/etl');
is($r->{status}, 200, 'delete flow');
is_deeply($r->{json}, { status => 'deleted', flow_name => 'etl' }, 'delete body');
is($s->req(GET => '/v1/flows/etl/latest')->{status}, 404, 'gone');
is($s->req(GET => '/v1/deployments/etl-prod')->{status}, 404, 'its deployments too');
is($s->req(DELETE => '/v1/flows/etl')->{status}, 404, 'delete again: 404');
my ($orphans) = $s->sql('SELECT (SELECT COUNT(*) FROM flow_versions v LEFT JOIN flows f ON f.id = v.flow_id WHERE f.id IS NULL)'
	. ' + (SELECT COUNT(*) FROM deployments d LEFT JOIN flows f ON f.id = d.flow_id WHERE f.id IS NULL)');
is($orphans, 0, 'no orphan rows');
my @audit = $s->sql('SELECT DISTINCT action FROM audit_log');
for my $a (qw(flow.register flow.delete deployment.create deployment.update deployment.version
	deployment.rollback deployment.settings draft.create draft.update draft.delete)) {
	ok((grep { $_ eq $a } @audit), "audited: $a");
}

$s->finish;
done_testing;
