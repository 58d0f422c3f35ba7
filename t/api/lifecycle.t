# Stopping and starting a stack with work in flight, and the answers
# given before a handler runs: a stop lets running steps finish and
# records them before MariaDB goes; a start waits for a stop in progress,
# finishes an interrupted one and never adopts a process it does not own;
# /v1/health/detailed says degraded when runs wait and no worker lives;
# malformed query strings are 400 in every dialect; lighttpd's own errors
# are JSON.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time sleep);
use File::Temp qw(tempdir);
use File::Basename qw(dirname);
use Cwd qw(abs_path);
use IO::Socket::INET;
use POSIX ();
use DagyTest;

my $top = abs_path(dirname(__FILE__) . '/../..');
my $s = DagyTest->start(conf => ['shutdown_grace_seconds = 3']);
my $dir = $s->dir;
my $tmp = tempdir(CLEANUP => 1);
chmod 0777, $tmp;

sub lines { open my $f, '<', shift or return (); my @l = <$f>; chomp @l; return @l }
sub count { my ($want, @l) = @_; return scalar grep { $_ eq $want } @l }
sub wait_until {
	my ($secs, $test) = @_;
	my $deadline = time + $secs;
	until ($test->()) { return 0 if time > $deadline; sleep 0.05 }
	return 1;
}
# The worker of pid file N, if it is a live dagy-worker of this stack.
sub live_worker {
	my ($n) = @_;
	my $pid = eval { DagyTest::slurp("$dir/worker-" . ($n // 1) . '.pid') } or return;
	open my $f, '<', "/proc/$pid/cmdline" or return;
	my ($argv0) = split /\0/, do { local $/; <$f> } // '';
	return ($argv0 // '') =~ m{(^|/)dagy-worker$} ? $pid : undef;
}
# No such process, or only its zombie (init reaps orphans lazily here).
sub gone {
	my ($pid) = @_;
	return 1 unless kill 0, $pid;
	open my $f, '<', "/proc/$pid/stat" or return 1;
	return <$f> =~ /\) Z /;
}
sub detailed {
	my $r = $s->req(GET => '/v1/health/detailed');
	my ($w) = grep { $_->{name} eq 'workers' } @{ $r->{json}{components} // [] };
	return ($r, $w);
}
# Runs script/stack in the background; returns its pid.
sub stack_bg {
	my @args = @_;
	my $pid = fork // die "fork: $!";
	if (!$pid) {
		$ENV{DAGY_BUILD} //= "$top/build-test";
		exec("$top/script/stack", @args) or POSIX::_exit(127);
	}
	return $pid;
}
sub start_stack { $s->start_again }
sub stopping_lines { grep { /stopping: no new runs/ } lines("$dir/dagy.log"), lines("$dir/worker-1.err") }

# --- health/detailed: degraded while runs wait and no worker lives ------------------------------
my ($r, $w) = detailed();
is($r->{status}, 200, 'health/detailed: 200 with a worker');
is($w->{status}, 'healthy', 'the workers component is healthy');
is($w->{live}, 1, 'one live worker');
my ($me) = @{ $w->{workers} };
like($me->{last_heartbeat_at} // '', qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'with its last heartbeat');
is($me->{pid}, live_worker(1), 'the worker of this stack');
is($me->{status}, 'alive', 'alive');

$s->flow('quick', [['hi', "echo hi >> $tmp/quick"]]);
ok($s->worker_stop(1, 'KILL'), 'the worker is killed');
my $queued = $s->trigger('quick');
ok(wait_until(6, sub { (detailed())[0]{status} == 503 }), 'once its heartbeat is older than its lease: 503');
($r, $w) = detailed();
is($r->{json}{status}, 'degraded', 'status degraded');
like($r->{headers}{'retry-after'} // '', qr/^\d+$/, 'with Retry-After');
is($w->{status}, 'unhealthy', 'the workers component is unhealthy');
is($w->{live}, 0, 'no live worker');
cmp_ok($w->{waiting_runs}, '>=', 1, 'and runs waiting');
is($w->{workers}[0]{status}, 'silent', 'the dead worker is listed as silent');
is($s->req(GET => '/v1/health')->{status}, 200, 'the public health check is about the API and database only');
ok($s->worker_start(1), 'a worker starts again');
is($s->wait_run($queued, 20)->{status}, 'completed', 'the queued run completes');
is((detailed())[0]{status}, 200, 'health/detailed: 200 again');

# --- stop during a step that finishes within the grace, start at once ---------------------------
$s->flow('nap', [['nap', "echo start >> $tmp/nap; sleep 1.5; echo end >> $tmp/nap"]]);
my $id = $s->trigger('nap');
ok(wait_until(10, sub { count('start', lines("$tmp/nap")) == 1 }), 'the step is running');
my $old = live_worker(1);
ok($s->stack_cmd('stop'), 'stack stop while the step runs');
ok(gone($old), 'the old worker has exited');
ok(start_stack(), 'stack start at once');
ok(live_worker(1), 'a worker is running');
is($s->wait_run($id, 20)->{status}, 'completed', 'the run completes');
my @nap = lines("$tmp/nap");
is(count('start', @nap), 1, 'the step ran once');
is(count('end', @nap), 1, 'and finished');
is($s->steps($id)->{nap}{attempt}, 1, 'recorded as attempt 1');
like(join('', `cat $dir/worker-1.err $dir/dagy.log 2>/dev/null`), qr/stopping: no new runs/,
	'the worker was stopped with SIGTERM');
unlike(join('', `cat $dir/worker-1.err $dir/dagy.log 2>/dev/null`), qr/renewing leases failed/,
	'and never lost MariaDB while stopping');

# --- stop during a step that outlasts the grace: it runs again, as attempt 2 -------------------
$s->flow('long', [['long', "echo start >> $tmp/long; sleep 4; echo end >> $tmp/long"]]);
$id = $s->trigger('long');
ok(wait_until(10, sub { count('start', lines("$tmp/long")) == 1 }), 'a long step is running');
my $t0 = time;
ok($s->stack_cmd('stop'), 'stack stop');
cmp_ok(time - $t0, '<', 3 + 15, 'the stop took the grace and a margin at most');
ok(start_stack(), 'stack start');
is($s->wait_run($id, 30)->{status}, 'completed', 'the run completes');
my @long = lines("$tmp/long");
is(count('start', @long), 2, 'the step that was still running ran again');
is(count('end', @long), 1, 'and finished once');
is($s->steps($id)->{long}{attempt}, 2, 'recorded as attempt 2');

# --- a start while the old stack is still stopping waits for it --------------------------------
$s->flow('nap2', [['nap', "echo start >> $tmp/nap2; sleep 1.5; echo end >> $tmp/nap2"]]);
$id = $s->trigger('nap2');
ok(wait_until(10, sub { count('start', lines("$tmp/nap2")) == 1 }), 'a step is running');
$old = live_worker(1);
my $stopper = stack_bg('stop', $dir);
ok(wait_until(5, sub { -e "$dir/stopping" }), 'a stop is in progress');
ok(start_stack(), 'a start meanwhile succeeds');
waitpid $stopper, 0;
is($? >> 8, 0, 'after the stop finished');
ok(gone($old), 'the old worker is gone');
my $new = live_worker(1);
ok($new && $new != $old, 'a new worker runs');
is($s->wait_run($id, 20)->{status}, 'completed', 'the run completes');
is(count('start', lines("$tmp/nap2")), 1, 'its step ran once');
is((detailed())[1]{live}, 1, 'health/detailed sees the worker');

# --- a stop killed halfway (a second Ctrl-C) is finished by the next start ----------------------
$s->flow('nap3', [['nap', "echo start >> $tmp/nap3; sleep 1.5; echo end >> $tmp/nap3"]]);
$id = $s->trigger('nap3');
ok(wait_until(10, sub { count('start', lines("$tmp/nap3")) == 1 }), 'a step is running');
$old = live_worker(1);
my $stops = () = stopping_lines();
$stopper = stack_bg('stop', $dir);
ok(wait_until(5, sub { stopping_lines() > $stops }), 'a stop has signalled the worker');
kill 'KILL', $stopper;
waitpid $stopper, 0;
ok(!gone($old), 'the stop was killed while the worker drains');
ok(start_stack(), 'stack start');
ok(gone($old), 'the start let the old worker finish first');
$new = live_worker(1);
ok($new && $new != $old, 'and started a new one');
ok(!-e "$dir/stopping", 'the interrupted stop is complete');
is($s->wait_run($id, 20)->{status}, 'completed', 'the run completes');
is(count('start', lines("$tmp/nap3")), 1, 'its step ran once');

# --- a worker signalled by someone else is not adopted by a start -------------------------------
$s->flow('nap4', [['nap', "echo start >> $tmp/nap4; sleep 1.5; echo end >> $tmp/nap4"]]);
$id = $s->trigger('nap4');
ok(wait_until(10, sub { count('start', lines("$tmp/nap4")) == 1 }), 'a step is running');
$old = live_worker(1);
$stops = () = stopping_lines();
kill 'TERM', $old;
ok(wait_until(5, sub { stopping_lines() > $stops }), 'the worker got SIGTERM from outside the stack');
ok(start_stack(), 'stack start');
ok(gone($old), 'the start waited for the draining worker');
$new = live_worker(1);
ok($new && $new != $old, 'and started a new one');
is($s->wait_run($id, 20)->{status}, 'completed', 'the run completes');
is(count('start', lines("$tmp/nap4")), 1, 'its step ran once');

# --- pid files that name other processes are stale ----------------------------------------------
ok($s->worker_stop(1), 'the worker stops');
for my $case (['sleep', sub { exec 'sleep', '30' }],
	['dagy-worker of another stack', sub {
		$ENV{DAGY_CONFIG} = "$tmp/elsewhere.conf";
		exec { 'sleep' } 'dagy-worker', '30';
	}]) {
	my ($what, $code) = @$case;
	my $impostor = fork // die;
	if (!$impostor) { $code->(); POSIX::_exit(127) }
	open my $f, '>', "$dir/worker-1.pid" or die;
	print $f "$impostor\n";
	close $f;
	ok(start_stack(), "start with a pid file naming a $what");
	my $pid = live_worker(1);
	ok($pid && $pid != $impostor, 'a real worker was started') or diag(`ps -o pid,args -p $impostor`);
	ok(!gone($impostor), 'the other process was left alone');
	kill 'KILL', $impostor;
	waitpid $impostor, 0;
	ok($s->worker_stop(1), 'stop that worker');
}
ok($s->worker_start(1), 'worker back');

# --- malformed query strings: 400 in each dialect's format on every list endpoint --------------
$id = $s->trigger('quick');
$s->wait_run($id, 20);
my $flow = $s->req(GET => '/v1/flows/quick/latest')->{json};
my $org = $s->req(GET => '/v1/me')->{json}{org_id};
my $sched = $s->req(POST => '/v1/schedules', { flow_name => 'quick', mode => 'manual' });
$s->req(POST => '/v1/dag-drafts', { name => 'd', canvas_json => { nodes => [], edges => [] } });
my $slug = $s->req(GET => "/v1/runs/$id")->{json}{run_slug} // $id;
my %lists = (
	dagy => [qw(/v1/api-keys /v1/deployments /v1/dag-drafts /v1/flows /v1/flows/quick/versions
		/v1/backends /v1/orgs /v1/runs /v1/schedules), "/v1/orgs/$org/members",
		"/v1/runs/$id/logs", "/v1/runs/$id/steps", "/v1/runs/$id/outputs"],
	daggle => ['/api/v1/dags', '/api/v1/dags/quick/runs', "/api/v1/dags/quick/runs/$id/steps",
		"/api/v1/dags/quick/runs/$id/outputs"],
	dagctl => [map { "/api/v1/projects/quick$_" } qw(/runs /model-executions /runs/daily-stats
		/model-executions/stats)],
);
my @bad = (
	['next_token=%%%garbage', 'next_token', 'a bad percent-escape'],
	['limit=%zz', 'limit', 'a bad hex escape'],
	['status=abc%4', 'status', 'a cut-off escape'],
	['limit=1&limit=2', 'limit', 'a repeated parameter'],
	['flow_name=%C3%28', 'flow_name', 'a value that is not UTF-8'],
	['%E2%82=1', 'query', 'a name that is not UTF-8'],
	['=1', 'query', 'a parameter without a name'],
	[join('&', map { "p$_=1" } 1 .. 33), 'query', 'more than 32 parameters'],
);
for my $dialect (sort keys %lists) {
	for my $path (@{ $lists{$dialect} }) {
		my $ok = $s->req(GET => $path);
		is($ok->{status}, 200, "$path answers 200 with a sound query") or diag($ok->{body});
		for my $b (@bad) {
			my ($q, $field, $what) = @$b;
			my $res = $s->req(GET => "$path?$q");
			my $j = $res->{json} // {};
			my $good = $res->{status} == 400 && (
				$dialect eq 'dagy'
					? ($j->{error} // '') eq 'validation_error' && exists $j->{details}{$field}
					: join(',', sort keys %$j) eq 'error' && ($j->{error} // '') =~ /\Q$field\E/);
			ok($good, "$dialect $path: $what is a 400 in its format")
				or diag("$res->{status} $res->{body}");
		}
	}
}
$r = $s->req(GET => '/v1/flows?limit=2&flow_name=caf%C3%A9+au+lait');
is($r->{status}, 200, 'sound escapes, UTF-8 and + still decode');

# --- lighttpd's own errors are JSON --------------------------------------------------------------
# Sends bytes and reads the answer to the end; half-closes the connection
# unless the request asks the server to close (nginx drops a proxied
# request whose client half-closed).
sub raw {
	my ($port, $bytes) = @_;
	my $c = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Timeout => 5)
		or die "connect: $!";
	print $c $bytes;
	shutdown $c, 1 unless $bytes =~ /^Connection: close\r$/mi;
	local $/;
	my $res = <$c> // '';
	my ($status) = $res =~ m{^HTTP/1\.\d (\d+)};
	my ($head, $body) = split /\r\n\r\n/, $res, 2;
	return { status => $status // 0, head => $head // '', body => $body // '' };
}
sub json_error {
	my ($res, $status, $what) = @_;
	my $j = eval { DagyTest::decode($res->{body}) } // {};
	ok($res->{status} == $status && $res->{head} =~ m{^Content-Type: application/json}mi &&
		defined $j->{error} && defined $j->{message} && ref $j->{details} eq 'HASH',
		"$what: $status in dagy's error format") or diag("$res->{head}\n$res->{body}");
}
my $port = $s->{port};
my $key = $s->key;
json_error(raw($port, "GET /v1/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $key\r\n"
	. "Content-Length: 5\r\n\r\nhello"), 400, 'a GET with a body');
json_error(raw($port, "GET /v1/m\0e HTTP/1.1\r\nHost: x\r\n\r\n"), 400, 'a NUL in the path');
json_error(raw($port, "GET /v1/flows?" . ('a' x 8192) . " HTTP/1.1\r\nHost: x\r\n\r\n"), 431,
	'an 8 KB query string');
json_error(raw($port, "POST /v1/runs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $key\r\n\r\n"),
	411, 'a POST without a length');
json_error(raw($port, "BREW /v1/me HTTP/1.1\r\nHost: x\r\n\r\n"), 501, 'an unknown method');
json_error(raw($port, "GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n"), 404, 'a path outside dagy');

# The shipped lighttpd snippet, with this tree's paths and a Debian-sized
# MIME map (whose .html entry must not win over the error files).
my $lport = DagyTest::free_port();
my $snippet = do { local $/; open my $f, '<', "$top/etc/lighttpd/10-dagy.conf" or die; <$f> };
$snippet =~ s{/usr/share/dagy/errors/}{$top/etc/errors/}g;
$snippet =~ s{/run/dagy-api/api\.sock}{$dir/api.sock}g;
open my $lc, '>', "$tmp/lighttpd.conf" or die;
print $lc qq{server.document-root = "$tmp"\nserver.bind = "127.0.0.1"\nserver.port = $lport\n}
	. qq{server.pid-file = "$tmp/lighttpd.pid"\nserver.errorlog = "$tmp/lighttpd.err"\n}
	. qq{include_shell "/usr/share/lighttpd/create-mime.conf.pl"\n$snippet};
close $lc;
SKIP: {
	skip 'no Debian lighttpd MIME script', 4 unless -e '/usr/share/lighttpd/create-mime.conf.pl';
	is(system("lighttpd -tt -f $tmp/lighttpd.conf >/dev/null"), 0, 'the shipped snippet is valid');
	is(system("lighttpd -f $tmp/lighttpd.conf"), 0, 'lighttpd starts with it');
	wait_until(5, sub { -s "$tmp/lighttpd.pid" });
	my $ok = raw($lport, "GET /v1/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $key\r\n\r\n");
	is($ok->{status}, 200, 'it routes to dagy');
	json_error(raw($lport, "GET /v1/me HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"),
		400, 'the shipped snippet: a GET with a body');
	json_error(raw($lport, "POST /v1/runs HTTP/1.1\r\nHost: x\r\n\r\n"), 411,
		'the shipped snippet: a POST without a length');
	kill 'TERM', DagyTest::slurp("$tmp/lighttpd.pid");
}

# The shipped nginx snippet the same way, where nginx is installed.
SKIP: {
	my $nginx = (grep { -x } map { "$_/nginx" } qw(/usr/sbin /usr/bin))[0];
	skip 'nginx is not installed', 6 unless $nginx && -e '/etc/nginx/fastcgi_params';
	my $nport = DagyTest::free_port();
	my $conf = do { local $/; open my $f, '<', "$top/etc/nginx/dagy.conf" or die; <$f> };
	$conf =~ s{/usr/share/dagy/errors/}{$top/etc/errors/}g;
	$conf =~ s{/run/dagy-api/api\.sock}{$dir/api.sock}g;
	$conf =~ s{include fastcgi_params;}{include /etc/nginx/fastcgi_params;}g;
	mkdir "$tmp/nginx";
	open my $nc, '>', "$tmp/nginx/nginx.conf" or die;
	print $nc ($> == 0 ? "user root;\n" : ''), "pid $tmp/nginx/nginx.pid;\n",
		"error_log $tmp/nginx/error.log;\nevents {}\nhttp {\n\taccess_log off;\n",
		map({ "\t${_}_temp_path $tmp/nginx/$_;\n" } qw(client_body proxy fastcgi uwsgi scgi)),
		"\tserver {\n\t\tlisten 127.0.0.1:$nport;\n$conf\n\t}\n}\n";
	close $nc;
	is(system("$nginx -q -t -p $tmp/nginx -c $tmp/nginx/nginx.conf"), 0, 'the shipped nginx snippet is valid');
	is(system("$nginx -p $tmp/nginx -c $tmp/nginx/nginx.conf"), 0, 'nginx starts with it');
	wait_until(5, sub { -s "$tmp/nginx/nginx.pid" });
	is(raw($nport, "GET /v1/me HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
		. "Authorization: Bearer $key\r\n\r\n")->{status},
		200, 'nginx routes to dagy');
	json_error(raw($nport, "GET /v1/m\0e HTTP/1.1\r\nHost: x\r\n\r\n"), 400, 'nginx: a NUL in the path');
	json_error(raw($nport, "GET /v1/flows?" . ('a' x 9000) . " HTTP/1.1\r\nHost: x\r\n\r\n"), 414,
		'nginx: a 9 KB query string');
	json_error(raw($nport, "GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n"), 404, 'nginx: a path outside dagy');
	system("$nginx -p $tmp/nginx -c $tmp/nginx/nginx.conf -s stop 2>/dev/null");
}

# dagy-api gone: lighttpd answers 503 itself, in JSON.
kill 'TERM', $s->api_pids;
ok(wait_until(10, sub { !grep { kill 0, $_ } $s->api_pids }), 'dagy-api stopped');
json_error(raw($port, "GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n"), 503, 'no dagy-api behind lighttpd');

$s->finish;
done_testing;
