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

# The shipped lighttpd, nginx and Apache snippets serve the same files with
# the same headers beside the API, with this tree's paths, where installed.
my $tmp = $s->dir . '/servers';
mkdir $tmp;
my $http = HTTP::Tiny->new(timeout => 10);
sub shipped {
	my ($file) = @_;
	my $c = DagyTest::slurp("$top/$file");
	$c =~ s{/usr/share/dagy/www}{$top/www}g;
	$c =~ s{/usr/share/dagy/errors}{$top/etc/errors}g;
	$c =~ s{/run/dagy-api/api\.sock}{$s->{dir}/api.sock}g;
	return $c;
}
sub write_file {
	my ($f, $text) = @_;
	open my $fh, '>', $f or die "$f: $!";
	print $fh $text;
	close $fh;
}
sub serves {
	my ($name, $port, @api_ok) = @_;
	my $base = "http://127.0.0.1:$port";
	my $r;
	for (1 .. 50) { $r = $http->get("$base/"); last if $r->{status} != 599; select(undef, undef, undef, 0.1) }
	ok($r->{status} == 200 && $r->{content} =~ /<script type="module" src="js\/app\.js">/,
		"$name: the dashboard at /");
	like($r->{headers}{'content-security-policy'} // '', $csp, "$name: with the CSP");
	is($r->{headers}{'x-content-type-options'}, 'nosniff', "$name: and X-Content-Type-Options");
	$r = $http->get("$base/js/app.js");
	like($r->{headers}{'content-type'} // '', qr{^text/javascript}, "$name: modules as text/javascript");
	$r = $http->get("$base/nowhere.html");
	ok($r->{status} == 404 && ($r->{headers}{'content-type'} // '') =~ /json/, "$name: a missing file is a JSON 404");
	$r = $http->get("$base/v1/me", { headers => { Authorization => 'Bearer ' . $s->key } });
	ok((grep { $_ == $r->{status} } @api_ok) && ($r->{headers}{'content-type'} // '') =~ /json/,
		"$name: /v1/ still goes to dagy-api ($r->{status})");
}
SKIP: {
	skip 'no Debian lighttpd MIME script', 6 unless -e '/usr/share/lighttpd/create-mime.conf.pl';
	my $port = DagyTest::free_port();
	write_file("$tmp/lighttpd.conf", qq{server.document-root = "$tmp"\nserver.bind = "127.0.0.1"\n}
		. qq{server.port = $port\nserver.pid-file = "$tmp/lighttpd.pid"\nserver.errorlog = "$tmp/lighttpd.err"\n}
		. qq{server.modules = ( "mod_indexfile", "mod_access", "mod_alias" )\n}
		. qq{index-file.names = ( "index.php", "index.html" )\n}
		. qq{include_shell "/usr/share/lighttpd/create-mime.conf.pl"\n} . shipped('etc/lighttpd/10-dagy.conf'));
	system("lighttpd -f $tmp/lighttpd.conf") == 0 or skip 'lighttpd does not start with the snippet', 6;
	serves('lighttpd', $port, 200);
	kill 'TERM', DagyTest::slurp("$tmp/lighttpd.pid");
}
SKIP: {
	my $nginx = (grep { -x } map { "$_/nginx" } qw(/usr/sbin /usr/bin))[0];
	skip 'nginx is not installed', 6 unless $nginx && -e '/etc/nginx/fastcgi_params';
	my $port = DagyTest::free_port();
	(my $conf = shipped('etc/nginx/dagy.conf')) =~ s{include fastcgi_params;}{include /etc/nginx/fastcgi_params;}g;
	mkdir "$tmp/nginx";
	write_file("$tmp/nginx/nginx.conf", ($> == 0 ? "user root;\n" : '') . "pid $tmp/nginx/nginx.pid;\n"
		. "error_log $tmp/nginx/error.log;\nevents {}\nhttp {\n\taccess_log off;\n"
		. join('', map { "\t${_}_temp_path $tmp/nginx/$_;\n" } qw(client_body proxy fastcgi uwsgi scgi))
		. "\tserver {\n\t\tlisten 127.0.0.1:$port;\n$conf\n\t}\n}\n");
	system("$nginx -q -p $tmp/nginx -c $tmp/nginx/nginx.conf") == 0 or skip 'nginx does not start', 6;
	serves('nginx', $port, 200);
	system("$nginx -p $tmp/nginx -c $tmp/nginx/nginx.conf -s stop 2>/dev/null");
}
SKIP: {
	my $mods = '/usr/lib/apache2/modules';
	skip 'Apache is not installed', 6 unless -x '/usr/sbin/apache2' && -e "$mods/mod_proxy_fcgi.so";
	my $port = DagyTest::free_port();
	mkdir "$tmp/apache";
	write_file("$tmp/apache/dagy.conf", shipped('etc/apache/dagy.conf'));
	write_file("$tmp/apache/httpd.conf", "ServerRoot $tmp/apache\nListen 127.0.0.1:$port\n"
		. "PidFile $tmp/apache/httpd.pid\nErrorLog $tmp/apache/error.log\nServerName localhost\n"
		. join('', map { "LoadModule ${_}_module $mods/mod_$_.so\n" }
			qw(mpm_event authz_core alias dir mime headers setenvif proxy proxy_fcgi))
		. ($> == 0 ? "User www-data\nGroup www-data\n" : '')
		. "DocumentRoot $tmp/apache\nTypesConfig /etc/mime.types\nInclude $tmp/apache/dagy.conf\n");
	system("/usr/sbin/apache2 -f $tmp/apache/httpd.conf -k start") == 0 or skip 'Apache does not start', 6;
	# Apache's children may not reach the stack's socket: its 503 is fine.
	serves('Apache', $port, 200, 503);
	system("/usr/sbin/apache2 -f $tmp/apache/httpd.conf -k stop");
}

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
is($s->req(POST => '/v1/environments', { env_name => 'staging' })->{status}, 201, 'an environment');
is($s->req(POST => '/v1/secrets', { secret_name => 'db-password', value => 'hunter2-never-shown',
	environment => 'staging' })->{status}, 201, 'a secret in it');
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
	slow_run => $slow, slow_run2 => $slow2, secret => 'db-password', secret_value => 'hunter2-never-shown');
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
