# Code artifacts by multipart upload (doc/artifacts.md): a 25 MB zip in
# three parts uploaded with curl to the URLs initiate hands out, first to
# the directory store (dagy-api's own signed part URLs), then to a real
# S3-compatible server (s3rver on loopback, signatures checked); complete
# registers the version and its deployment, a run imports a module from
# the artifact; a wrong ETag or a missing part fails with 400 and
# registers nothing; abort leaves no upload behind.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use Digest::SHA;
use DagyTest;

my $tmp = tempdir('dagy-art-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $size = 25_000_000;
my $part = 8_388_608;

# The artifact: a module and 25 MB of incompressible bytes, stored.
system('python3', '-c', <<'PY', "$tmp/artifact.zip", $size) == 0 or BAIL_OUT('no zip');
import os, sys, zipfile
out, size = sys.argv[1], int(sys.argv[2])
with zipfile.ZipFile(out, 'w', zipfile.ZIP_STORED) as z:
    z.writestr('mymod.py', 'def hello():\n    return "hello-from-artifact"\n')
    blob = os.urandom(size - 400)
    z.writestr('blob.bin', blob)
PY
# Pad or cut the blob so the file is exactly $size bytes is not needed:
# initiate takes the real size.
$size = -s "$tmp/artifact.zip";
my $sha = Digest::SHA->new(256)->addfile("$tmp/artifact.zip")->hexdigest;
for my $i (0 .. 2) {
	system("dd if=$tmp/artifact.zip of=$tmp/part" . ($i + 1) . " bs=$part skip=$i count=1 status=none") == 0
		or BAIL_OUT('dd');
}

# PUT one part with curl: (status, etag).
sub put_part {
	my ($url, $file) = @_;
	my $out = `curl -s -o /dev/null -D - -w 'STATUS:%{http_code}' -X PUT -T '$file' '$url'`;
	my ($etag) = $out =~ /^etag:\s*(\S+)/mi;
	my ($code) = $out =~ /STATUS:(\d+)/;
	return ($code // 0, $etag);
}

my $spec = { nodes => [ { id => 'use', type => 'python_function', config => {
	code => "import os, mymod\nopen(os.environ['DAGY_OUTPUT'], 'a').write('greeting=' + mymod.hello() + '\\n')" } } ] };

# The three phases against stack $s for flow $flow; returns the upload
# and the ETags.
sub initiate_upload {
	my ($s, $flow, $version) = @_;
	my $r = $s->req(POST => '/v1/artifacts/initiate', { flow_name => $flow,
		flow_version => $version, deployment_name => "$flow-prod",
		file_size => $size, part_size => $part });
	is($r->{status}, 200, "$flow $version: initiate") or diag($r->{body});
	my $u = $r->{json};
	is(scalar @{ $u->{parts} }, 3, 'three parts');
	is_deeply([ map { $_->{size} } @{ $u->{parts} } ], [ $part, $part, $size - 2 * $part ],
		'part sizes: full, full, the rest');
	like($u->{artifact_key}, qr{^dagy/flows/org_\w+/$flow/$version/artifact\.zip$}, 'artifact_key');
	like($u->{expires_at}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'expires_at');
	my @etags;
	for my $p (@{ $u->{parts} }) {
		my ($code, $etag) = put_part($p->{url}, "$tmp/part$p->{part_number}");
		is($code, 200, "part $p->{part_number} uploaded with curl");
		push @etags, $etag;
	}
	return ($u, @etags);
}

sub complete_body {
	my ($u, $flow, $version, @etags) = @_;
	my $n = 0;
	return { upload_id => $u->{upload_id}, artifact_key => $u->{artifact_key},
		parts => [ map { { part_number => ++$n, etag => $_ } } @etags ],
		flow_name => $flow, flow_version => $version, deployment_name => "$flow-prod",
		status => 'ACTIVE', flow_spec => $spec, environment => 'production',
		tags => { team => 'data-eng' }, code_hash => $sha };
}

# The whole story on one stack; $kind names the store.
sub story {
	my ($s, $kind, $flow) = @_;
	my ($u, @etags) = initiate_upload($s, $flow, '3');

	# Wrong ETag: 400, nothing registered.
	my @bad = @etags;
	$bad[1] = '"0123456789abcdef0123456789abcdef"';
	my $r = $s->req(POST => '/v1/artifacts/complete', complete_body($u, $flow, '3', @bad));
	is($r->{status}, 400, "$kind: a wrong ETag fails complete") or diag($r->{body});
	like($r->{json}{message} // $r->{body}, qr/part 2/i, 'the message names the part');
	is($s->req(GET => "/v1/flows/$flow/latest")->{status}, 404, 'and registers no flow');
	is($s->req(GET => "/v1/deployments/$flow-prod")->{status}, 404, 'and no deployment');

	# A missing part: 400 before the store is asked.
	if ($kind eq 's3') {
		# S3 assembled and dagy deleted the bad object: start over.
		($u, @etags) = initiate_upload($s, $flow, '3');
	}
	$r = $s->req(POST => '/v1/artifacts/complete', complete_body($u, $flow, '3', @etags[0, 1]));
	is($r->{status}, 400, "$kind: a missing part fails complete") or diag($r->{body});
	like($r->{body}, qr/part 3 is missing/, 'naming it');
	is($s->req(GET => "/v1/flows/$flow/latest")->{status}, 404, 'nothing registered');

	# Complete: version and deployment, and the bytes metered.
	my $bytes = sub { ($s->sql('SELECT COALESCE(SUM(artifact_bytes), 0) FROM usage_hourly'))[0] };
	my $before = $bytes->();
	$r = $s->req(POST => '/v1/artifacts/complete', complete_body($u, $flow, '3', @etags));
	is($r->{status}, 200, "$kind: complete") or diag($r->{body});
	is($bytes->() - $before, $size, "$kind: the artifact's bytes count in usage");
	is($r->{json}{code_hash}, $sha, 'code_hash is the SHA-256 of the artifact');
	is($r->{json}{flow_version}, '3', 'flow_version');
	is($r->{json}{deployment_name}, "$flow-prod", 'deployment_name');
	is($r->{json}{environment}, 'production', 'environment');
	ok($r->{json}{deployment_version} >= 1, 'deployment_version');
	my $uri = $r->{json}{artifact_s3_uri};
	like($uri, $kind eq 's3' ? qr{^s3://dagy-artifacts/dagy/flows/} : qr{^file:///}, 'artifact_s3_uri');
	my $v = $s->req(GET => "/v1/flows/$flow/3");
	is($v->{json}{artifact_s3_uri}, $uri, 'the version carries the artifact');
	my $d = $s->req(GET => "/v1/deployments/$flow-prod");
	is($d->{status}, 200, 'the deployment exists') or diag($d->{body});
	is($s->req(POST => '/v1/artifacts/complete', complete_body($u, $flow, '3', @etags))->{status},
		400, 'a second complete is refused');

	# A run imports the module from the artifact.
	my $id = $s->trigger($flow);
	my $run = $s->wait_run($id, 60);
	is($run->{status}, 'completed', "$kind: the run completed") or diag(explain $run);
	is($run->{output}{greeting}, 'hello-from-artifact', 'its step imported mymod from the artifact');
	return $u;
}

sub checks {
	my ($s, $kind, $flow) = @_;
	my $r = $s->req(POST => '/v1/artifacts/initiate', { flow_name => $flow, flow_version => '1',
		deployment_name => 'd', file_size => $size, part_size => 1_000_000 });
	is($r->{status}, 400, "$kind: part_size under 5 MiB: 400");
	like($r->{body}, qr/part_size/, 'naming part_size');
	$r = $s->req(POST => '/v1/artifacts/initiate', { flow_name => $flow, flow_version => '1',
		deployment_name => 'd', file_size => 900_000_000, part_size => 5 * 1024 * 1024 });
	is($r->{status}, 200, 'a part count under 10,000 is fine');
	$s->req(POST => '/v1/artifacts/abort', { upload_id => $r->{json}{upload_id},
		artifact_key => $r->{json}{artifact_key} });
	$r = $s->req(POST => '/v1/artifacts/initiate', { flow_name => $flow, flow_version => '1',
		deployment_name => 'd', file_size => 60_000_000_000, part_size => 5 * 1024 * 1024 });
	ok($r->{status} == 400 || $r->{status} == 413, 'over 10,000 parts (or the size cap) is refused');
	$r = $s->req(POST => '/v1/artifacts/initiate', { flow_name => $flow, flow_version => '1' });
	is($r->{status}, 400, 'missing fields: 400');
	$r = $s->req(POST => '/v1/artifacts/complete', { upload_id => 'nope', artifact_key => 'x' });
	is($r->{status}, 404, 'an unknown upload_id: 404');
}

# --- the directory store --------------------------------------------------------------
{
	my $s = DagyTest->start;
	checks($s, 'dir', 'dirflow');
	my $u = story($s, 'dir', 'dirflow');
	like($u->{parts}[0]{url}, qr{/v1/artifacts/uploads/[0-9a-f]{32}/parts/1\?}, 'dagy-api serves the part URLs');

	# A tampered or reused signature is refused.
	my ($u2, @e2) = initiate_upload($s, 'dirflow', '4');
	(my $bad = $u2->{parts}[0]{url}) =~ s/signature=(.)/'signature=' . ($1 eq 'a' ? 'b' : 'a')/e;
	my ($code) = put_part($bad, "$tmp/part1");
	is($code, 403, 'a tampered part URL: 403');
	($code) = put_part($u2->{parts}[0]{url}, "$tmp/part3");
	ok($code == 400 || $code == 413, 'a part of the wrong size is refused');

	# One upload at a time per version: they would share the object key.
	my $again = { flow_name => 'dirflow', flow_version => '4', deployment_name => 'dirflow-prod',
		file_size => $size, part_size => $part };
	my $r = $s->req(POST => '/v1/artifacts/initiate', $again);
	is($r->{status}, 409, 'a second upload of the same version while one is pending: 409');
	$r = $s->req(POST => '/v1/artifacts/initiate', { %$again, flow_version => '3' });
	is($r->{status}, 409, 'an upload of a registered version: 409');

	# Abort leaves no upload behind.
	my $dir = $s->dir . "/store/.uploads/$u2->{upload_id}";
	ok(-d $dir, 'the upload has a directory');
	$r = $s->req(POST => '/v1/artifacts/abort', { upload_id => $u2->{upload_id},
		artifact_key => $u2->{artifact_key} });
	is($r->{status}, 204, 'abort: 204') or diag($r->{body});
	ok(!-e $dir, 'abort left no upload behind');
	$r = $s->req(POST => '/v1/artifacts/complete', complete_body($u2, 'dirflow', '4', @e2));
	is($r->{status}, 400, 'complete after abort: 400');
	is($s->req(GET => '/v1/flows/dirflow/4')->{status}, 404, 'nothing registered');
	($code) = put_part($u2->{parts}[2]{url}, "$tmp/part3");
	is($code, 409, 'a part for an aborted upload: 409');
	$r = $s->req(POST => '/v1/artifacts/initiate', $again);
	is($r->{status}, 200, 'after the abort the version can be uploaded again');
	$s->req(POST => '/v1/artifacts/abort', { upload_id => $r->{json}{upload_id},
		artifact_key => $r->{json}{artifact_key} });

	# Another organization cannot see the upload.
	my ($rc) = $s->cli('org', 'add', 'other', '--owner', 'admin@dagy.local');
	my $r2 = $s->req(POST => '/v1/artifacts/abort', { upload_id => $u->{upload_id},
		artifact_key => $u->{artifact_key} }, { 'X-Organization-ID' => 'other' });
	ok($r2->{status} == 404 || $r2->{status} == 403, "another org's upload is not found");
	$s->finish;
}

# --- storage disabled: the spec's 500, with a message that says so ---------------------
{
	my $s = DagyTest->start(conf => [ '[storage]', 'backend = none' ]);
	my $r = $s->req(POST => '/v1/artifacts/initiate', { flow_name => 'f', flow_version => '1',
		deployment_name => 'd', file_size => 1000 });
	is($r->{status}, 500, 'storage disabled: initiate answers 500');
	like($r->{json}{message} // '', qr/artifact storage not configured/, 'saying storage is not configured');
	my ($rc, $out) = $s->cli('config', 'check');
	is($rc, 0, 'backend = none passes dagy config check') or diag($out);
	$s->finish;
}

# --- S3 (s3rver, signatures checked) --------------------------------------------------
SKIP: {
	my $srv = DagyTest::s3rver('dagy-artifacts') or skip('no s3rver', 1);
	my ($port, $data) = @$srv{qw(port dir)};
	ok($port, 's3rver answers');
	my $s = DagyTest->start(conf => [ '[storage]', "endpoint = http://127.0.0.1:$port",
		'bucket = dagy-artifacts', 'access_key = S3RVER', 'secret_key = S3RVER', 'retries = 1' ]);
	my $u = story($s, 's3', 's3flow');
	like($u->{parts}[0]{url}, qr{^http://127\.0\.0\.1:$port/dagy-artifacts/dagy/flows/.*X-Amz-Signature=},
		'the part URLs are presigned S3 URLs');
	ok(-e "$data/dagy-artifacts/$u->{artifact_key}._S3rver_object", 'the object is in the bucket')
		or diag(`find $data | head -20`);

	# s3rver 3.7.1 checks the credential of a presigned URL but does not
	# compute SigV4 signatures itself (the unit tests check dagy's against
	# AWS's vectors): a URL with another access key is refused.
	my ($u2) = initiate_upload($s, 's3flow', '4');
	(my $bad = $u2->{parts}[0]{url}) =~ s/X-Amz-Credential=S3RVER/X-Amz-Credential=NOTME/;
	my ($code) = put_part($bad, "$tmp/part1");
	is($code, 403, 's3rver refuses a presigned URL of an unknown key');
	checks($s, 's3', 's3flow');

	# s3_ingest -> shell -> s3_write round-trips a file, credentials from secrets.
	my $sig = "--aws-sigv4 aws:amz:us-east-1:s3 --user S3RVER:S3RVER -H x-amz-content-sha256:UNSIGNED-PAYLOAD";
	my $base = "http://127.0.0.1:$port/dagy-artifacts";
	open my $fh, '>', "$tmp/in.txt" or die;
	print $fh "hello s3\n";
	close $fh;
	is(`curl -s -o /dev/null -w '%{http_code}' $sig -T $tmp/in.txt $base/inbox/in.txt`, '200',
		'the test puts an object into the bucket');
	for my $n (['s3-key', 'S3RVER'], ['s3-secret', 'S3RVER']) {
		is($s->req(POST => '/v1/secrets', { secret_name => $n->[0], value => $n->[1] })->{status},
			201, "secret $n->[0]");
	}
	my %creds = (AWS_ACCESS_KEY_ID => { secret => 's3-key' },
		AWS_SECRET_ACCESS_KEY => { secret => 's3-secret' });
	my %at = (endpoint => "http://127.0.0.1:$port", bucket => 'dagy-artifacts');
	my $r = $s->req(POST => '/v1/flows', { flow_name => 'roundtrip', flow_spec => { nodes => [
		{ id => 'get', type => 's3_ingest', config => { %at, prefix => 'inbox/', path => 'in' },
		  env => \%creds },
		{ id => 'upper', type => 'shell', depends_on => ['get'],
		  config => { command => 'mkdir -p out && tr a-z A-Z < in/in.txt > out/result.txt' } },
		{ id => 'put', type => 's3_write', depends_on => ['upper'],
		  config => { %at, path => 'out', prefix => 'outbox/' }, env => \%creds },
	] } });
	is($r->{status}, 201, 'a flow of s3_ingest, shell and s3_write registers') or diag($r->{body});
	my $run = $s->wait_run($s->trigger('roundtrip'), 60);
	is($run->{status}, 'completed', 'the round trip ran') or diag(explain $s->steps($run->{run_id}));
	is(`curl -s $sig $base/outbox/result.txt`, "HELLO S3\n", 's3_write uploaded the shell step\'s file');
	$r = $s->req(POST => '/v1/flows', { flow_name => 'bad-s3', flow_spec => { nodes => [
		{ id => 'get', type => 's3_ingest', config => { %at, path => '../x', key => 'k' } } ] } });
	is($r->{status}, 400, 'an s3 node writing outside its workspace is refused');
	$r = $s->req(POST => '/v1/flows', { flow_name => 'bad-s3', flow_spec => { nodes => [
		{ id => 'get', type => 's3_ingest', config => { %at } } ] } });
	is($r->{status}, 400, 'an s3 node without key or prefix is refused');
	$s->finish;
	DagyTest::s3rver_stop($srv);
}

done_testing;
