# The web dashboard: the static files and their headers from the stack's
# lighttpd, then t/browser/dashboard.py in headless Chromium (Selenium)
# against the same stack: sign-in, a run triggered from its flow's form and
# followed to completed, a failed step's stderr, cancel, a viewer without
# cancel, sign-out revoking the token. Skipped without chromium,
# chromium-driver and python3-selenium (script/bootstrap installs them).
use strict;
use warnings;
use Test::More;
use File::Basename qw(dirname);
use Cwd qw(abs_path);
use IPC::Open2;
use JSON::PP;
use DagyTest;

my $top = abs_path(dirname(__FILE__) . '/../..');
my $py = '/usr/bin/python3';
plan skip_all => 'needs chromium, chromium-driver and python3-selenium'
	unless -x '/usr/bin/chromium' && -x '/usr/bin/chromedriver' && -x $py
	&& system("$py -c 'import selenium' 2>/dev/null") == 0;

my $s = DagyTest->start;

# The files, with the headers a browser app needs, and the API beside them.
my $csp = qr/^default-src 'none'; script-src 'self'; style-src 'self'/;
for my $f (['/', 'text/html'], ['/js/app.js', 'text/javascript'], ['/style.css', 'text/css']) {
	my $r = $s->req(GET => $f->[0], undef, { Authorization => undef });
	is($r->{status}, 200, "$f->[0] is served");
	like($r->{headers}{'content-type'} // '', qr/^\Q$f->[1]\E/, "as $f->[1]");
	like($r->{headers}{'content-security-policy'} // '', $csp, 'with a CSP');
	unlike($r->{headers}{'content-security-policy'} // '', qr/unsafe/, 'that allows nothing unsafe');
	is($r->{headers}{'x-content-type-options'}, 'nosniff', 'and X-Content-Type-Options');
}
my $r = $s->req(GET => '/v1/nowhere');
ok($r->{status} == 404 && $r->{json} && $r->{json}{message}, 'the API still answers its own JSON under /v1/');
$r = $s->req(GET => '/nowhere.html', undef, { Authorization => undef });
ok($r->{status} == 404 && $r->{json} && $r->{json}{error}, 'a missing file is a JSON 404');
my @inline = grep { /<script>|<style|\sstyle=|\son[a-z]+=/ } map { DagyTest::slurp($_) }
	glob("$top/www/*.html");
ok(!@inline, 'no inline script or style in the HTML');

# What the browser works with: flows, a deployment, a schedule, a viewer.
$s->flow('hello', [
	['greet', 'echo "greeting: $DAGY_PARAM_GREETING"; echo "said=$DAGY_PARAM_GREETING" >>"$DAGY_OUTPUT"'],
	['left', 'sleep 1; echo left', ['greet']],
	['right', 'echo right', ['greet']],
	['join', 'echo joined', ['left', 'right']],
], params => { greeting => { default => 'hi' } });
$s->flow('broken', [
	['explode', 'echo to stdout; echo "boom: disk on fire" >&2; exit 3'],
	['after', 'echo never', ['explode']],
]);
$s->flow('slow', [['wait', 'sleep 60']]);
my $gate = $s->req(POST => '/v1/flows', { flow_name => 'gate', flow_spec => { nodes => [
	{ id => 'ask', type => 'approval' },
	{ id => 'go', type => 'shell', config => { command => 'echo approved' }, depends_on => ['ask'] }] } });
is($gate->{status}, 201, 'a flow with an approval step');
is($s->req(POST => '/v1/deployments', { name => 'hello-prod', flow_name => 'hello' })->{status}, 201,
	'a deployment');
is($s->req(POST => '/v1/schedules', { flow_name => 'hello', mode => 'cron', cron_expression => '0 9 * * *',
	timezone => 'Europe/Paris' })->{status}, 201, 'a schedule in Paris');
# The viewer joins as users do: invited by the admin, then given an account.
my $org = $s->req(GET => '/v1/me')->{json}{org_id};
is($s->req(POST => "/v1/orgs/$org/members", { email => 'viewer@dagy.local', role => 'viewer' })->{status},
	201, 'the admin invites a viewer');
my ($rc) = $s->cli('user', 'add', 'viewer@dagy.local', '--password', 'pw-viewer@dagy.local');
is($rc, 0, 'who gets an account with a password');
my $slow = $s->trigger('slow');
my $slow2 = $s->trigger('slow');
is($s->wait_run($slow2, 20, 'running')->{status}, 'running', 'two long runs are running');

# Screenshots outlive the stack's temp dir: they go to the build dir.
my $shots = ($ENV{DAGY_BUILD} // "$top/build-test") . '/test-output';
mkdir $shots;
my %cfg = (base => $s->base, dir => $s->dir, shots => $shots, email => 'admin@dagy.local', password => $s->password,
	key => $s->key, org => $org,
	viewer_email => 'viewer@dagy.local', viewer_password => 'pw-viewer@dagy.local',
	slow_run => $slow, slow_run2 => $slow2);
my $t0 = time;
my $pid = open2(my $from, my $to, $py, "$top/t/browser/dashboard.py");
print $to encode_json(\%cfg);
close $to;
my (%tok, $results);
while (my $line = <$from>) {
	chomp $line;
	if ($line =~ /^(not )?ok - (.*)/) {
		ok(!$1, "browser: $2");
		$results++;
	} elsif ($line =~ /^(token|viewer_token) (\S+)/) {
		$tok{$1} = $2;
	} elsif ($line =~ /^# ?(.*)/) {
		diag($1);
	} elsif ($line ne '') {
		diag("browser: $line");
	}
}
waitpid $pid, 0;
is($? >> 8, 0, sprintf('the browser test passed (%d s)', time - $t0));
ok($results && $results > 40, 'and ran all its checks');

# After the browser signed out, its token is dead; the viewer's cancel was refused.
ok($tok{token} && $s->as($tok{token}, GET => '/v1/me')->{status} == 401,
	'the signed-out session token answers 401');
is($s->as($tok{viewer_token} // 'x', POST => "/v1/runs/$slow2/cancel")->{status}, 401,
	"the viewer's token is revoked by its sign-out too");
is($s->req(GET => "/v1/runs/$slow2")->{json}{status}, 'running', 'the run the viewer saw still runs');
$s->req(POST => "/v1/runs/$slow2/cancel");
ok(-s "$shots/run-page.png", "a screenshot of the run page: $shots/run-page.png");

$s->finish;
done_testing;
