# The OpenAPI document against the binary: every route dagy-api merges
# is documented with the same method, and every documented operation has
# a route; GET /v1/openapi.json serves the document; the response
# validator that DagyTest::req applies to every response catches what it
# must (wrong types, missing fields, undocumented statuses).
use strict;
use warnings;
use Test::More;
use JSON::PP;
use DagyTest;
use DagySchema;

my $build = $ENV{DAGY_BUILD} // 'build-test';
my @routes = `$build/dagy-api --routes`;
is($? >> 8, 0, 'dagy-api --routes');
ok(@routes > 50, 'prints the merged route tables (' . scalar(@routes) . ' routes)');
my $doc = DagyTest::document()->{doc};
is($doc->{openapi}, '3.1.0', 'an OpenAPI 3.1 document');

my %binary = map { my @f = split; ("$f[0] $f[1]" => { perm => $f[2], dialect => $f[3] }) } @routes;
my %documented;
for my $path (keys %{ $doc->{paths} }) {
	for my $m (grep { /^(get|put|post|patch|delete)$/ } keys %{ $doc->{paths}{$path} }) {
		$documented{uc($m) . " $path"} = $doc->{paths}{$path}{$m};
	}
}
my @missing = sort grep { !$documented{$_} } keys %binary;
my @stale = sort grep { !$binary{$_} } keys %documented;
is_deeply(\@missing, [], 'every route is in openapi/dagy.json') or diag("missing: @missing");
is_deeply(\@stale, [], 'every documented operation has a route') or diag("no route: @stale");
for my $k (sort keys %binary) {
	my $op = $documented{$k} or next;
	my $public = $binary{$k}{perm} eq 'public';
	# security [] or one alternative {}: no credentials needed.
	my $sec = $op->{security};
	my $open = $sec && (!@$sec || grep { !%$_ } @$sec) ? 1 : 0;
	ok(!!$open == $public, "$k: security says " . ($public ? 'public' : 'a bearer token'))
		unless $k eq 'GET /metrics';
	is($op->{'x-dagy-permission'}, $binary{$k}{perm}, "$k: x-dagy-permission")
		unless $public;
	my @params = $k =~ /\{(\w+)\}/g;
	my %declared = map { $_->{name} => 1 } grep { $_->{in} eq 'path' } @{ $op->{parameters} // [] };
	ok(!(grep { !$declared{$_} } @params), "$k: path parameters declared");
}

# The error codes of the /v1 format are those of src/lib/errors.c.
open my $ef, '<', 'src/lib/errors.c' or die "src/lib/errors.c: $!";
my @codes = sort map { /\{\d+, "(\w+)"\}/ ? $1 : () } <$ef>;
ok(@codes >= 12, 'error codes read from src/lib/errors.c');
is_deeply([sort @{ $doc->{components}{schemas}{Error}{properties}{error}{enum} }], \@codes,
	'the Error schema lists every error code');

# doc/api.md lists every operation.
open my $md, '<', 'doc/api.md' or die "doc/api.md: $!";
my $api_md = do { local $/; <$md> };
my @unlisted = sort grep { index($api_md, "`$_`") < 0 } keys %documented;
is_deeply(\@unlisted, [], 'doc/api.md lists every documented operation') or diag("@unlisted");

my $s = DagyTest->start;
my $r = $s->req(GET => '/v1/openapi.json', undef, { Authorization => undef });
is($r->{status}, 200, 'GET /v1/openapi.json without credentials');
is_deeply($r->{json}, $doc, 'serves the document in the tree');

# The validator itself.
my $v = DagySchema->new({ openapi => '3.1.0', paths => {
	'/v1/things/{id}' => { get => { responses => { 200 => { content => { 'application/json' => {
		schema => { '$ref' => '#/components/schemas/T' } } } } } } },
	'/v1/things/latest' => { get => { responses => {} } } },
	components => { schemas => { T => { type => 'object', required => ['id', 'n'],
		properties => { id => { type => 'string' }, n => { type => 'integer' },
			tags => { type => ['array', 'null'], items => { type => 'string' } },
			state => { enum => ['on', 'off'] } } } } } });
my $t = $v->route('GET', '/v1/things/x1');
is($t->{path}, '/v1/things/{id}', 'a path matches its template');
is($v->route('GET', '/v1/things/latest')->{path}, '/v1/things/latest', 'a literal segment wins');
is($v->route('POST', '/v1/things/x1'), undef, 'another method does not match');
my $sch = $v->response_schema($t, 200);
my $ok = JSON::PP->new->decode('{"id": "x", "n": 3, "tags": null, "state": "on"}');
is($v->check($sch, $ok), '', 'a conforming body passes');
like($v->check($sch, JSON::PP->new->decode('{"id": "x", "n": "3"}')), qr/\$\.n: expected integer, got string/,
	'a number sent as a string fails');
like($v->check($sch, JSON::PP->new->decode('{"id": "x"}')), qr/missing n/, 'a missing field fails');
like($v->check($sch, JSON::PP->new->decode('{"id": "x", "n": 1, "tags": [1]}')),
	qr/\$\.tags\[0\]: expected string/, 'array items are checked');
like($v->check($sch, JSON::PP->new->decode('{"id": "x", "n": 1, "state": "dim"}')),
	qr/dim is not one of on, off/, 'enums are checked');
like($v->check($sch, JSON::PP->new->decode('{"id": "x", "n": 1.5}')), qr/expected integer, got number/,
	'a fraction is not an integer');

# Responses were checked as the test ran (this file's and every other's).
ok($DagyTest::validated >= 1, "req() validated responses ($DagyTest::validated)");
$s->finish;
done_testing;
