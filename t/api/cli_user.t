# dagy's user commands against the real stack: a YAML flow pushed, run
# --wait printing its logs and exiting 0, a failing flow exiting 1, the
# API's message for a bad key, lists as tables and JSON, logs, cancel,
# login writing the config file, and the URL and key from each source.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use JSON::PP;
use DagyTest;

my $s = DagyTest->start;
my $home = tempdir(CLEANUP => 1);
local $ENV{HOME} = $home;
delete local $ENV{XDG_CONFIG_HOME};
delete local $ENV{DAGY_URL};
delete local $ENV{DAGY_API_KEY};
my @auth = ('--url', $s->base, '--key', $s->key);

sub write_file {
	my ($name, $text) = @_;
	open my $fh, '>', "$home/$name" or die;
	print $fh $text;
	close $fh;
	return "$home/$name";
}

my $yaml = write_file('hello.yaml', <<'YAML');
# A flow in YAML: the same request as its JSON.
name: hello
nodes:
  - id: greet
    type: shell
    config:
      command: echo "hello from yaml, $DAGY_PARAM_WHO"
  - id: bye
    type: shell
    config: {command: "echo bye"}
    depends_on: [greet]
    retries: 0
params:
  who: {default: nobody}
YAML
my ($rc, $out) = $s->cli(@auth, 'flow', 'push', $yaml);
is($rc, 0, 'flow push of a YAML file') or diag($out);
like($out, qr/^flow hello version 1$/m, 'says the name and version');
my $r = $s->req(GET => '/v1/flows/hello/latest');
is($r->{status}, 200, 'the flow is registered');
my $spec = $r->{json}{flow_spec};
ok((grep { $_ eq 'greet' } @{ $spec->{nodes}[1]{depends_on} // [] })
	|| (grep { $_->{source} eq 'greet' && $_->{target} eq 'bye' } @{ $spec->{edges} // [] }),
	'with the dependency of its YAML flow sequence');
($rc, $out) = $s->cli(@auth, 'flow', 'push', '--name', 'typed', write_file('typed.yaml',
	"nodes:\n  - {id: a, type: shell, config: {command: 'true'}, retries: '2'}\n"));
is($rc, 1, 'a quoted YAML number is a string, which the API refuses for retries');

($rc, $out) = $s->cli(@auth, 'flow', 'push', write_file('broken.yaml', "nodes: [a, b\n"));
is($rc, 1, 'a YAML syntax error fails');
like($out, qr/broken\.yaml: line \d+/, 'naming the line');
($rc, $out) = $s->cli(@auth, 'flow', 'push', write_file('twice.yaml',
	"nodes: []\nparams: {}\nnodes: []\n"));
is($rc, 1, 'a YAML key given twice fails');
like($out, qr/twice\.yaml: line 3: key 'nodes' given twice/, 'naming it');
($rc, $out) = $s->cli(@auth, 'flow', 'push', write_file('cyclic.json',
	'{"flow_name": "cyclic", "flow_spec": {"nodes": [{"id": "a", "type": "shell",'
	. ' "config": {"command": "true"}, "depends_on": ["a"]}]}}'));
is($rc, 1, 'a flow the API refuses fails');
like($out, qr/^dagy: .*cycle.* \(HTTP 400\)$/m, 'with the API\'s message');

{
	local $ENV{DAGY_URL} = $s->base;
	local $ENV{DAGY_API_KEY} = $s->key;
	($rc, $out) = $s->cli('run', 'hello', '-p', 'who=tester', '--wait');
	is($rc, 0, 'run --wait of a completing run exits 0 (URL and key from the environment)')
		or diag($out);
	like($out, qr/^\[greet\] hello from yaml, tester$/m, 'prints the step output with the parameter');
	like($out, qr/^\[bye\] bye$/m, 'and the next step\'s');
	like($out, qr/^run run_\w+ completed$/m, 'and the end state');

	($rc, $out) = $s->cli('flow', 'push', write_file('bad.json',
		'{"nodes": [{"id": "boom", "type": "shell", "config": {"command": "echo going down; exit 3"}}]}'));
	is($rc, 0, 'a bare JSON spec is named after its file');
	($rc, $out) = $s->cli('run', 'bad', '--wait');
	is($rc, 1, 'run --wait of a failing run exits 1');
	like($out, qr/^\[boom\] going down$/m, 'after printing its logs');
	like($out, qr/^run run_\w+ failed$/m, 'and saying it failed');

	($rc, $out) = $s->cli('flow', 'list');
	is($rc, 0, 'flow list');
	like($out, qr/^FLOW_NAME\s+FLOW_VERSION\s+STATUS\s+UPDATED_AT$/m, 'a table with a header');
	like($out, qr/^hello\s+1\s+active\s/m, 'listing the flow');

	($rc, $out) = $s->cli('--json', 'runs');
	is($rc, 0, 'runs --json');
	my $runs = eval { decode_json($out) };
	is(ref $runs, 'ARRAY', 'prints a JSON array') or diag($out);
	is(scalar(@{ $runs // [] }), 2, 'of both runs');
	my ($done) = grep { $_->{flow_name} eq 'hello' } @{ $runs // [] };

	($rc, $out) = $s->cli('runs', '--status', 'failed');
	is($rc, 0, 'runs --status failed');
	like($out, qr/^run_\w+\s+bad\s+1\s+failed\s/m, 'the failed run');
	unlike($out, qr/\bhello\b/, 'and not the completed one');
	($rc, $out) = $s->cli('--json', 'runs', '--limit', '5', '--status', 'failed');
	my $limited = eval { decode_json($out) } // [];
	is_deeply([map { $_->{status} } @$limited], ['failed'],
		'--limit keeps the options after it') or diag($out);

	($rc, $out) = $s->cli('logs', $done->{run_id});
	is($rc, 0, 'logs RUN');
	like($out, qr/^\[greet\] hello from yaml, tester\n\[bye\] bye$/m, 'in order');

	$s->flow('slow', [['nap', 'sleep 30']]);
	my $id = $s->trigger('slow');
	$s->wait_run($id, 10, 'running');
	($rc, $out) = $s->cli('cancel', $id);
	is($rc, 0, 'cancel RUN') or diag($out);
	is($s->wait_run($id)->{status}, 'cancelled', 'the run is cancelled');
	($rc, $out) = $s->cli('logs', '-f', $id);
	is($rc, 0, 'logs -f of an ended run returns');

	($rc, $out) = $s->cli('cancel', 'run_doesnotexist00');
	is($rc, 1, 'cancel of an unknown run fails');
	like($out, qr/not found \(HTTP 404\)/, 'with the API\'s message');

	$s->req(POST => '/v1/schedules', { flow_name => 'hello', mode => 'cron',
		cron_expression => '0 3 * * *', timezone => 'UTC' });
	($rc, $out) = $s->cli('schedule', 'list');
	is($rc, 0, 'schedule list');
	like($out, qr/^sched_\w+\s+hello\s+cron\s+0 3 \* \* \*\s+true\s/m, 'shows the schedule');
}

($rc, $out) = $s->cli('--url', $s->base, '--key', 'dagy_sk_abcdefgh_' . ('x' x 43), 'flow', 'list');
is($rc, 1, 'a bad key exits 1');
like($out, qr/^dagy: invalid, expired or revoked credentials \(HTTP 401\)$/m,
	'printing the API\'s 401 message');
($rc, $out) = $s->cli('--url', 'http://127.0.0.1:1', '--key', $s->key, 'flow', 'list');
is($rc, 1, 'an API that does not answer exits 1');
like($out, qr/^dagy: GET http:\/\/127\.0\.0\.1:1\/v1\/flows: /m, 'saying where it tried');

# login: password on standard input, then no flags needed.
my $bin = ($ENV{DAGY_BUILD} // 'build-test') . '/dagy';
my $pw = $s->password;
$out = `printf '%s\\n' '$pw' | $bin --url ${\ $s->base} login --email admin\@dagy.local 2>&1`;
is($? >> 8, 0, 'login with email and password') or diag($out);
my $conf = "$home/.config/dagy/config";
ok(-f $conf, 'writes ~/.config/dagy/config');
is((stat $conf)[2] & 0777, 0600, 'readable by its owner only');
($rc, $out) = $s->cli('flow', 'list');
is($rc, 0, 'commands then use the saved URL and token');
like($out, qr/^hello\s/m, 'and see the flows');
$out = `printf 'wrong\\n' | $bin --url ${\ $s->base} login --email admin\@dagy.local 2>&1`;
is($? >> 8, 1, 'a wrong password fails');
like($out, qr/\(HTTP 401\)/, 'with the 401');
($rc, $out) = $s->cli('--key', $s->key, 'login');
is($rc, 0, 'login with a key checks it and saves it');
like(DagyTest::slurp($conf), qr/^key = \Q${\ $s->key}\E$/m, 'the key is saved');

$s->finish;
done_testing;
