# The node registry: listing, categories, search, custom nodes with kept
# versions, validate-connection, and flow registration refusing bad configs
# and incompatible edges with the node and field named.
use strict;
use warnings;
use Test::More;
use DagyTest;

my $s = DagyTest->start(workers => 0);
my $r;

# --- built-ins ---------------------------------------------------------------------------
my %expect = (ingestion => 5, transform => 5, llm => 4, vectordb => 3, notification => 4,
	custom => 3, control_flow => 3);
my $total = 0;
$total += $_ for values %expect;
$r = $s->req(GET => '/v1/nodes/registry/builtin');
is($r->{status}, 200, 'builtin: 200');
is($r->{json}{total}, $total, "builtin: $total node types");
is($r->{json}{builtin_count}, $total, 'builtin_count');
is($r->{json}{custom_count}, 0, 'custom_count 0');
my %types = map { $_->{node_type} => $_ } @{ $r->{json}{items} };
for my $t (qw(http_fetch file_ingest inline_records schema_validator data_normalizer
	deduplicator filter map llm_chat llm_map llm_classify llm_embed webhook_post slack_post
	pagerduty_event shell python_function python_import branch fan_out approval chroma_upsert chroma_query
	chroma_delete email_send s3_ingest s3_write)) {
	ok($types{$t}, "lists $t");
}
my $bad = 0;
for my $d (values %types) {
	$bad++ unless $d->{official} && $d->{label} && $d->{description} && $d->{icon} && $d->{color}
		&& ref $d->{connectors} eq 'ARRAY' && @{ $d->{connectors} }
		&& ref $d->{config_schema} eq 'ARRAY'
		&& !grep { !$_->{id} || !$_->{name} || $_->{direction} !~ /^(inbound|outbound)$/
			|| ref $_->{data_types} ne 'ARRAY' || !$_->{cardinality} } @{ $d->{connectors} };
}
is($bad, 0, 'every definition has label, icon, connectors with data types and cardinality');
my ($url) = grep { $_->{name} eq 'url' } @{ $types{http_fetch}{config_schema} };
is_deeply($url, { name => 'url', label => 'URL', type => 'string', required => JSON::PP::true() },
	'config_schema field shape');

$r = $s->req(GET => '/v1/nodes/registry/categories');
is($r->{status}, 200, 'categories: 200');
is_deeply([map { $_->{id} } @{ $r->{json}{categories} }],
	[qw(ingestion transform llm vectordb notification custom control_flow)], 'the seven categories in order');
is_deeply({ map { $_->{id} => $_->{count} } @{ $r->{json}{categories} } }, \%expect, 'counts per category');
is($r->{json}{categories}[5]{label}, 'Custom Code', 'labels as in the spec');

$r = $s->req(GET => '/v1/nodes/registry/search?q=DUPLICATE');
is($r->{status}, 200, 'search: 200');
is_deeply([map { $_->{node_type} } @{ $r->{json}{items} }], ['deduplicator'], 'search matches description and tags, any case');
is($r->{json}{total}, 1, 'search total');
$r = $s->req(GET => '/v1/nodes/registry/search?q=openai');
is(scalar @{ $r->{json}{items} }, 4, 'search by tag: the four llm nodes');
$r = $s->req(GET => '/v1/nodes/registry/search');
is($r->{status}, 400, 'search without q: 400');
is_deeply([keys %{ $r->{json}{details} }], ['q'], 'names q');

$r = $s->req(GET => '/v1/nodes/registry/schema_validator');
is($r->{status}, 200, 'one built-in: 200');
is($r->{json}{category}, 'transform', 'its category');
$r = $s->req(GET => '/v1/nodes/registry/nope');
is($r->{status}, 404, 'unknown type: 404');

# --- custom nodes --------------------------------------------------------------------
my %def = (node_type => 'custom_enricher', label => 'Data Enricher',
	description => 'Enriches records', category => 'transform', icon => 'Sparkles', color => 'violet',
	connectors => [
		{ id => 'data_in', name => 'Input', direction => 'inbound', data_types => ['json', 'dataframe'],
		  cardinality => 'zero_or_many', required => JSON::PP::true() },
		{ id => 'enriched_out', name => 'Enriched', direction => 'outbound', data_types => ['json'],
		  cardinality => 'zero_or_many' } ],
	config_schema => [ { name => 'api_url', label => 'API URL', type => 'string', required => JSON::PP::true() } ],
	import_path => 'my_org.nodes.enricher:DataEnricherNode');
$r = $s->req(POST => '/v1/nodes/registry', \%def);
is($r->{status}, 201, 'custom node: 201') or diag($r->{body});
is($r->{json}{version}, 1, 'version 1');
ok(!$r->{json}{official}, 'not official');
$r = $s->req(POST => '/v1/nodes/registry', \%def);
is($r->{status}, 409, 'same type again: 409');
for my $case (
	[{ %def, node_type => 'Bad-Type' }, 'node_type'],
	[{ %def, node_type => 'shell' }, 'node_type'],
	[{ %def, node_type => 'x1', import_path => 'no_colon' }, 'import_path'],
	[{ %def, node_type => 'x1', import_path => 'a.:b' }, 'import_path'],
	[{ %def, node_type => 'x1', category => 'sorcery' }, 'category'],
	[{ %def, node_type => 'x1', connectors => [{ id => 'a', name => 'A', direction => 'sideways', data_types => ['json'] }] }, 'connectors[0]'],
	[{ %def, node_type => 'x1', config_schema => [{ name => 'a', type => 'blob' }] }, 'config_schema[0]'],
	[{ %def, node_type => 'x1', surprise => 1 }, 'surprise'],
) {
	$r = $s->req(POST => '/v1/nodes/registry', $case->[0]);
	is($r->{status}, 400, "bad definition refused: $case->[1]");
	is_deeply([keys %{ $r->{json}{details} // {} }], [$case->[1]], "names $case->[1]");
}
$r = $s->req(GET => '/v1/nodes/registry');
is($r->{json}{total}, $total + 1, 'registry: built-ins and the custom node');
is($r->{json}{custom_count}, 1, 'custom_count 1');
my $org_public = ($s->sql("SELECT public_id FROM orgs WHERE id = " . $s->org_id('default')))[0];
$r = $s->req(GET => "/v1/nodes/registry?org_id=$org_public");
is($r->{json}{custom_count}, 1, 'org_id of the caller: same');
$r = $s->req(GET => '/v1/nodes/registry?org_id=org_someoneelse');
is($r->{status}, 403, 'another org_id: 403');
$r = $s->req(GET => '/v1/nodes/registry/custom');
is_deeply([map { $_->{node_type} } @{ $r->{json}{items} }], ['custom_enricher'], 'custom lists it');
is($r->{json}{builtin_count}, 0, 'custom: no built-ins');
$r = $s->req(GET => '/v1/nodes/registry/categories');
is((grep { $_->{id} eq 'transform' } @{ $r->{json}{categories} })[0]{count}, 6, 'categories count the custom node');

# A flow pins version 1.
my $custom_flow = { nodes => [
	{ id => 'src', type => 'inline_records', config => { records => [{ a => 1 }] } },
	{ id => 'enrich', type => 'custom_enricher', config => { api_url => 'http://x' }, depends_on => ['src'] } ] };
$r = $s->req(POST => '/v1/flows', { flow_name => 'pinned', flow_spec => $custom_flow });
is($r->{status}, 201, 'a flow with the custom node registers') or diag($r->{body});
$r = $s->req(GET => '/v1/flows/pinned/latest');
my ($enrich) = grep { $_->{id} eq 'enrich' } @{ $r->{json}{flow_spec}{nodes} };
is($enrich->{node_version}, 1, 'the flow pins version 1');
is($enrich->{import_path}, 'my_org.nodes.enricher:DataEnricherNode', 'and its import path');

$r = $s->req(PUT => '/v1/nodes/registry/custom_enricher', { import_path => 'my_org.nodes.v2:enrich', label => 'Enricher 2' });
is($r->{status}, 200, 'PUT: 200') or diag($r->{body});
is($r->{json}{version}, 2, 'version 2');
is($r->{json}{description}, 'Enriches records', 'partial update keeps other fields');
is($r->{json}{label}, 'Enricher 2', 'and changes the given ones');
$r = $s->req(GET => '/v1/nodes/registry/custom_enricher');
is_deeply([map { [$_->{version}, $_->{import_path}] } @{ $r->{json}{versions} }],
	[[1, 'my_org.nodes.enricher:DataEnricherNode'], [2, 'my_org.nodes.v2:enrich']], 'both versions kept');
$r = $s->req(GET => '/v1/flows/pinned/latest');
($enrich) = grep { $_->{id} eq 'enrich' } @{ $r->{json}{flow_spec}{nodes} };
is($enrich->{import_path}, 'my_org.nodes.enricher:DataEnricherNode', 'the registered flow still runs version 1');
$r = $s->req(POST => '/v1/flows', { flow_name => 'pinned', flow_spec => $custom_flow });
($enrich) = grep { $_->{id} eq 'enrich' } @{ $s->req(GET => '/v1/flows/pinned/latest')->{json}{flow_spec}{nodes} };
is($enrich->{node_version}, 2, 'a new registration takes version 2');
$custom_flow->{nodes}[1]{node_version} = 1;
$r = $s->req(POST => '/v1/flows', { flow_name => 'pinned', flow_spec => $custom_flow });
($enrich) = grep { $_->{id} eq 'enrich' } @{ $s->req(GET => '/v1/flows/pinned/latest')->{json}{flow_spec}{nodes} };
is_deeply([$enrich->{node_version}, $enrich->{import_path}], [1, 'my_org.nodes.enricher:DataEnricherNode'],
	'node_version pins an older version');
$custom_flow->{nodes}[1]{node_version} = 9;
$r = $s->req(POST => '/v1/flows', { flow_name => 'pinned', flow_spec => $custom_flow });
is($r->{status}, 400, 'a version never kept: 400');
is_deeply([$r->{json}{details}{node}, $r->{json}{details}{field}], ['enrich', 'node_version'], 'names node and field');
$r = $s->req(PUT => '/v1/nodes/registry/custom_enricher', { node_type => 'renamed' });
is($r->{status}, 400, 'PUT cannot rename');
$r = $s->req(PUT => '/v1/nodes/registry/shell', { label => 'x' });
is($r->{status}, 403, 'PUT of a built-in: 403');

# Another organization sees none of it.
$s->user_key('other@else.com', undef);
$s->cli('org', 'add', 'Elsewhere', '--owner', 'other@else.com');
my (undef, $other) = $s->cli('key', 'create', '--org', 'Elsewhere', '--user', 'other@else.com');
$other =~ s/\s+$//;
$r = $s->as($other, GET => '/v1/nodes/registry/custom_enricher');
is($r->{status}, 404, "another org's custom node: 404");
$r = $s->as($other, GET => '/v1/nodes/registry');
is($r->{json}{custom_count}, 0, 'another org lists no custom node');
$r = $s->as($other, DELETE => '/v1/nodes/registry/custom_enricher');
is($r->{status}, 404, 'nor deletes it');
$r = $s->as($other, POST => '/v1/flows', { flow_name => 'theirs', flow_spec => $custom_flow });
is($r->{status}, 400, 'nor registers flows with it');

# Viewers read, do not write.
my $viewer = $s->user_key('viewer@dagy.local', 'viewer');
is($s->as($viewer, GET => '/v1/nodes/registry')->{status}, 200, 'viewer reads the registry');
is($s->as($viewer, POST => '/v1/nodes/registry', { %def, node_type => 'v1' })->{status}, 403, 'viewer cannot add');

# --- validate-connection -----------------------------------------------------------------
$r = $s->req(POST => '/v1/nodes/validate-connection', { source_node_type => 'http_fetch',
	source_connector_id => 'data_out', target_node_type => 'schema_validator',
	target_connector_id => 'data_in', existing_source_connections => 0, existing_target_connections => 0 });
is($r->{status}, 200, 'validate-connection: 200');
ok($r->{json}{valid}, 'http_fetch -> schema_validator is valid');
is_deeply($r->{json}{errors}, [], 'no errors');
is_deeply($r->{json}{source_connector}, { id => 'data_out', name => 'Data', data_types => ['json', 'string'] }, 'source connector shape');
is_deeply($r->{json}{target_connector}{data_types}, ['json', 'dataframe', 'any'], 'target connector');
$r = $s->req(POST => '/v1/nodes/validate-connection', { source_node_type => 'approval',
	source_connector_id => 'approved_out', target_node_type => 'deduplicator', target_connector_id => 'data_in' });
ok(!$r->{json}{valid}, 'approval -> deduplicator.data_in: invalid');
like($r->{json}{errors}[0], qr/trigger.*does not take/, 'says the data types do not match');
$r = $s->req(POST => '/v1/nodes/validate-connection', { source_node_type => 'inline_records',
	source_connector_id => 'data_out', target_node_type => 'deduplicator', target_connector_id => 'data_in',
	existing_target_connections => 1 });
ok(!$r->{json}{valid}, 'a second connection into zero_or_one: invalid');
like($r->{json}{errors}[0], qr/at most one/, 'says why');
$r = $s->req(POST => '/v1/nodes/validate-connection', { source_node_type => 'inline_records',
	source_connector_id => 'nope', target_node_type => 'custom_enricher', target_connector_id => 'data_in' });
ok(!$r->{json}{valid}, 'an unknown connector: invalid');
is($r->{json}{source_connector}, undef, 'source_connector null');
is_deeply($r->{json}{target_connector}{data_types}, ['json', 'dataframe'], 'custom node connectors are used');
$r = $s->req(POST => '/v1/nodes/validate-connection', { source_node_type => 'zzz', target_node_type => 'shell' });
is($r->{status}, 400, 'unknown node type: 400');
is_deeply([keys %{ $r->{json}{details} }], ['source_node_type'], 'names it');

# --- flow registration checks configs and edges --------------------------------------------
sub refused {
	my ($what, $spec, $node, $field, $re) = @_;
	my $res = $s->req(POST => '/v1/flows', { flow_name => 'bad', flow_spec => $spec });
	is($res->{status}, 400, "refused: $what");
	is_deeply([$res->{json}{details}{node}, $res->{json}{details}{field}], [$node, $field],
		"$what: names node '$node' and field '$field'") or diag($res->{body});
	like($res->{json}{details}{reason} // '', $re, "$what: reason");
}
my $recs = { id => 'src', type => 'inline_records', config => { records => [{ a => 1 }] } };
refused('missing required config', { nodes => [{ id => 'get', type => 'http_fetch', config => {} }] },
	'get', 'config.url', qr/required/);
refused('config of the wrong type', { nodes => [{ id => 'get', type => 'http_fetch', config => { url => 5 } }] },
	'get', 'config.url', qr/must be a string/);
refused('enum value not allowed', { nodes => [{ id => 'get', type => 'http_fetch', config => { url => 'http://x', method => 'BREW' } }] },
	'get', 'config.method', qr/one of/);
refused('unknown config field', { nodes => [{ id => 'run', type => 'shell', config => { command => 'true', shel => 1 } }] },
	'run', 'config.shel', qr/not a setting/);
refused('a JSON Schema this validator cannot honour', { nodes => [{ id => 'v', type => 'schema_validator',
	config => { schema => { unevaluatedProperties => JSON::PP::false() } } }] }, 'v', 'config.schema', qr/not supported/);
refused('a bad JSON Schema', { nodes => [{ id => 'v', type => 'schema_validator',
	config => { schema => { type => 'text' } } }] }, 'v', 'config.schema', qr{#/type: unknown type});
refused('a malformed condition', { nodes => [$recs, { id => 'f', type => 'filter', depends_on => ['src'],
	config => { condition => { field => 'a', op => 'like' } } }] }, 'f', 'config.condition', qr/unknown op 'like'/);
refused('a collection name that would leave the URL path', { nodes => [{ id => 'c', type => 'chroma_query',
	config => { url => 'http://x', collection => '../x?y' } }] }, 'c', 'config.collection', qr/letters, digits/);
refused('a mail header injection in from', { nodes => [{ id => 'm', type => 'email_send',
	config => { smtp_url => 'smtp://x', from => "a\@b\r\nBcc: c", to => ['d'], subject => 's', text => 't' } }] },
	'm', 'config.from', qr/plain address/);
refused('fan_out concurrency out of range', { nodes => [{ id => 'f', type => 'fan_out',
	config => { command => 'true', items => [1], concurrency => 0 } }] }, 'f', 'config.concurrency', qr/1 to 64/);
refused('incompatible edge', { nodes => [{ id => 'ok', type => 'approval' },
	{ id => 'dd', type => 'deduplicator', depends_on => ['ok'] }] }, 'dd', 'depends_on', qr/does not take/);
refused('incompatible edge in edges', { nodes => [{ id => 'ok', type => 'approval' },
	{ id => 'dd', type => 'deduplicator' }], edges => [{ source => 'ok', target => 'dd' }] },
	'dd', 'edges[0]', qr/does not take/);
refused('two inputs into zero_or_one', { nodes => [$recs, { %$recs, id => 'src2' },
	{ id => 'dd', type => 'deduplicator', depends_on => ['src', 'src2'] }] }, 'dd', 'depends_on', qr/at most one/);
refused('unknown connector', { nodes => [$recs, { id => 'dd', type => 'deduplicator' }],
	edges => [{ source => 'src', target => 'dd', target_connector => 'side' }] }, 'dd', 'edges[0]', qr/no inbound connector 'side'/);
refused('required input missing', { nodes => [{ id => 'enrich', type => 'custom_enricher', config => { api_url => 'u' } }] },
	'enrich', 'depends_on', qr/required connector 'data_in'/);
refused('branch naming a non-successor', { nodes => [{ id => 'b', type => 'branch',
	config => { condition => { field => 'params.x', op => 'eq', value => 1 }, then => ['elsewhere'] } },
	{ id => 'elsewhere', type => 'shell', config => { command => 'true' } }] }, 'b', 'config.then', qr/does not depend/);
$r = $s->req(POST => '/v1/flows', { flow_name => 'trigger_ok', flow_spec => { nodes => [{ id => 'ok', type => 'approval' },
	{ id => 'dd', type => 'deduplicator', config => { input => 'x.jsonl' } }],
	edges => [{ source => 'ok', target => 'dd', target_connector => 'trigger_in' }] } });
is($r->{status}, 201, 'the same edge into trigger_in is fine') or diag($r->{body});

# --- delete -------------------------------------------------------------------------------
$r = $s->req(DELETE => '/v1/nodes/registry/shell');
is($r->{status}, 403, 'deleting a built-in: 403');
$r = $s->req(DELETE => '/v1/nodes/registry/custom_enricher');
is($r->{status}, 204, 'deleting the custom node: 204');
is($s->req(GET => '/v1/nodes/registry/custom_enricher')->{status}, 404, 'gone');
is(($s->sql('SELECT COUNT(*) FROM custom_node_versions'))[0], 0, 'its versions went with it');
is(($s->sql("SELECT COUNT(*) FROM audit_log WHERE action LIKE 'node.%'"))[0], 3, 'create, update and delete audited');

$s->finish;
done_testing;
