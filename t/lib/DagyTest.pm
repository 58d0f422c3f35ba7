# The private stack for one API test file: MariaDB, dagy-api under
# spawn-fcgi and lighttpd on a free loopback port, in a temp dir that is
# torn down when the test ends, whatever happens. Core Perl only.
package DagyTest;
use strict;
use warnings;
use File::Temp qw(tempdir);
use File::Basename qw(dirname);
use Cwd qw(abs_path);
use HTTP::Tiny;
use IO::Socket::INET;
use JSON::PP;
use Test::More;
use Exporter 'import';
use DagySchema;
our @EXPORT_OK = qw(decode);

my $top = abs_path(dirname(__FILE__) . '/../..');
my @stacks;
# A test killed by a signal (Ctrl-C, a closed pipe) still stops its stacks.
$SIG{$_} = sub { exit 1 } for qw(INT TERM HUP PIPE);
my $json = JSON::PP->new->canonical->allow_nonref;
my $document;
# How many responses req() checked against the document (t/api/openapi.t).
our $validated = 0;

sub free_port {
	my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
		LocalPort => 0, Proto => 'tcp') or die "no free port: $!";
	my $port = $s->sockport;
	close $s;
	return $port;
}

# Runs script/stack CMD on this stack with the settings it started with
# (a later start rewrites dagy.conf from them).
sub stack_cmd {
	my ($self, $cmd, @args) = @_;
	local $ENV{DAGY_BUILD} = $ENV{DAGY_BUILD} // "$top/build-test";
	local $ENV{DAGY_CONF_EXTRA} = $self->{conf_extra};
	local $ENV{DAGY_WORKERS} = $self->{workers};
	my $rc = system("$top/script/stack", $cmd, $self->{dir}, @args);
	return $rc == 0;
}

# Starts a stack; returns the handle. BAIL_OUT if it cannot.
sub start {
	my ($class, %opt) = @_;
	my $dir = tempdir('dagy-test-XXXXXX', TMPDIR => 1, CLEANUP => 0);
	# Workers poll often and give up on a silent peer quickly in tests.
	my $self = bless { dir => $dir, port => free_port(),
		conf_extra => join("\n", "[worker]", "poll_interval_ms = 200",
			"lease_seconds = 3", "kill_grace_ms = 500", "concurrency = 8",
			"shutdown_grace_seconds = 5", @{ $opt{conf} // [] }),
		workers => $opt{workers} // 1 }, $class;
	push @stacks, $self;
	# Sanitizer reports of this stack's processes land in its own dir.
	mkdir "$dir/sanitizer";
	$ENV{ASAN_OPTIONS} = "log_path=$dir/sanitizer/asan:detect_leaks=1";
	$ENV{UBSAN_OPTIONS} = "log_path=$dir/sanitizer/ubsan:print_stacktrace=1";
	# A port taken between choosing and binding it is retried once.
	if (!$self->stack_cmd('start', $self->{port})) {
		$self->{port} = free_port();
		if (!$self->stack_cmd('start', $self->{port})) {
			for my $log (qw(mysqld.err lighttpd.err install-db.log migrate.log dagy.log)) {
				diag("$log: " . `tail -5 $dir/$log 2>&1`) if -e "$dir/$log";
			}
			BAIL_OUT("cannot start the test stack in $dir");
		}
	}
	$self->{key} = slurp("$dir/admin.key");
	$self->{password} = slurp("$dir/admin.password");
	$self->{http} = HTTP::Tiny->new(timeout => 30, keep_alive => 0);
	return $self;
}

sub slurp {
	my ($f) = @_;
	open my $fh, '<', $f or die "$f: $!";
	local $/;
	my $s = <$fh>;
	$s =~ s/\s+\z//;
	return $s;
}

sub dir { $_[0]{dir} }
sub key { $_[0]{key} }
sub password { $_[0]{password} }
sub base { "http://127.0.0.1:$_[0]{port}" }

# req(METHOD, PATH, BODY?, HEADERS?) with the admin key unless the headers
# say otherwise (Authorization => undef sends none). BODY: a reference is
# sent as JSON, a plain string as is. Returns { status, headers, body, json }.
sub req {
	my ($self, $method, $path, $body, $headers) = @_;
	my %h = (Authorization => "Bearer $self->{key}", %{ $headers // {} });
	delete $h{$_} for grep { !defined $h{$_} } keys %h;
	my %opt = (headers => \%h);
	if (defined $body) {
		$opt{content} = ref $body ? $json->encode($body) : $body;
		$h{'Content-Type'} //= 'application/json';
	}
	my $res = $self->{http}->request($method, $self->base . $path, \%opt);
	my $data;
	if (($res->{headers}{'content-type'} // '') =~ m{application/json}) {
		$data = eval { $json->decode($res->{content}) };
	}
	if ($ENV{DAGY_RECORD}) {
		record($method, $path, $body, $res, $data);
	} elsif ($res->{status} < 599) {
		check_response($method, $path, $res, $data);
	}
	return { status => $res->{status}, headers => $res->{headers},
		body => $res->{content}, json => $data };
}

# DAGY_RECORD=FILE: each request and response as a JSON line, for
# script/openapi-draft (responses are not validated meanwhile).
sub record {
	my ($method, $path, $body, $res, $data) = @_;
	open(my $f, '>>', $ENV{DAGY_RECORD}) or die "$ENV{DAGY_RECORD}: $!";
	print $f $json->encode({ m => $method, p => $path, s => $res->{status}, b => $data,
		rq => (defined $body && ref $body ? $body : undef) }) . "\n";
	close $f;
}

sub document {
	$document //= DagySchema->new($json->decode(slurp("$top/openapi/dagy.json")));
	return $document;
}

# Every response of a documented route must have its status documented
# and match the schema given for it (before the test touches the values:
# DagySchema tells numbers from strings by their flags).
sub check_response {
	my ($method, $path, $res, $data) = @_;
	my $doc = document();
	(my $p = $path) =~ s/\?.*//s;
	my $route = $doc->route($method, $p) or return;
	my $responses = $route->{op}{responses};
	my $st = $res->{status};
	if (!$responses->{$st} && !$responses->{substr($st, 0, 1) . 'XX'}) {
		fail("$method $route->{path}: status $st is documented in openapi/dagy.json");
		return;
	}
	my $schema = $doc->response_schema($route, $st) or return;
	$validated++;
	my $err = defined $data ? $doc->check($schema, $data)
		: 'the body is not JSON: ' . substr($res->{content} // '', 0, 200);
	fail("$method $path $st matches openapi/dagy.json: $err") if $err;
}

# As req with another credential.
sub as {
	my ($self, $token, $method, $path, $body, $headers) = @_;
	return $self->req($method, $path, $body,
		{ Authorization => "Bearer $token", %{ $headers // {} } });
}

# Runs SQL in the stack's database as root; returns the output lines.
sub sql {
	my ($self, $q) = @_;
	my @out = `mariadb --no-defaults -S $self->{dir}/mysql.sock -u root -N -B dagy -e "$q" 2>&1`;
	chomp @out;
	return @out;
}

# Runs the dagy CLI against this stack; returns (exit code, output).
sub cli {
	my ($self, @args) = @_;
	local $ENV{DAGY_CONFIG} = "$self->{dir}/dagy.conf";
	my $bin = ($ENV{DAGY_BUILD} // "$top/build-test") . '/dagy';
	my $pid = open(my $fh, '-|') // die "fork: $!";
	if (!$pid) {
		open STDERR, '>&', \*STDOUT;
		exec $bin, @args;
		exit 127;
	}
	local $/;
	my $out = <$fh> // '';
	close $fh;
	return ($? >> 8, $out);
}

sub db_stop { $_[0]->stack_cmd('db-stop') }
sub worker_start { my ($self, $n) = @_; $self->stack_cmd('worker-start', $n // 1) }
sub worker_pid { my ($self, $n) = @_; slurp("$self->{dir}/worker-" . ($n // 1) . '.pid') }

# Stops worker N with a signal (TERM waits for it to finish; KILL is a crash).
sub worker_stop { my ($self, $n, $sig) = @_; $self->stack_cmd('worker-stop', $n // 1, $sig // 'TERM') }

# Triggers a run of flow with parameters; returns the run id.
sub trigger {
	my ($self, $flow, $params, %extra) = @_;
	my $r = $self->req(POST => '/v1/runs', { flow_name => $flow,
		($params ? (parameters => $params) : ()), %extra });
	die "trigger $flow: $r->{status} $r->{body}" unless $r->{status} == 202;
	return $r->{json}{run_id};
}

# Polls a run until its status is one of @want (default: any end state).
sub wait_run {
	my ($self, $id, $timeout, @want) = @_;
	@want = qw(completed failed cancelled) unless @want;
	my $deadline = time + ($timeout // 30);
	my $r;
	while (time < $deadline) {
		$r = $self->req(GET => "/v1/runs/$id");
		return $r->{json} if grep { $_ eq ($r->{json}{status} // '') } @want;
		select(undef, undef, undef, 0.05);
	}
	return $r->{json};
}

sub steps {
	my ($self, $id) = @_;
	return { map { $_->{step_id} => $_ } @{ $self->req(GET => "/v1/runs/$id/steps")->{json}{items} } };
}

# Registers a flow from a list of [id, command, deps, extra] in one call.
sub flow {
	my ($self, $name, $nodes, %extra) = @_;
	my @n = map { { id => $_->[0], type => 'shell', config => { command => $_->[1] },
		($_->[2] ? (depends_on => $_->[2]) : ()), %{ $_->[3] // {} } } } @$nodes;
	my $r = $self->req(POST => '/v1/flows', { flow_name => $name,
		flow_spec => { nodes => \@n, %extra } });
	die "flow $name: $r->{body}" unless $r->{status} == 201;
	return $r->{json};
}
sub db_start { $_[0]->stack_cmd('db-start') }
# Starts what is not running, as the first start did (same port).
sub start_again { $_[0]->stack_cmd('start', $_[0]{port}) }

sub api_pids {
	my ($self) = @_;
	return split /\s+/, slurp("$self->{dir}/api.pids");
}

# Creates a user with a role in the admin's org and returns an API key.
sub user_key {
	my ($self, $email, $role, %opt) = @_;
	my $org = $opt{org} // 'default';
	my ($rc, $out) = $self->cli('user', 'add', $email, '--password', 'pw-' . $email);
	my $org_id = $self->org_id($org);
	$self->sql("INSERT INTO memberships (public_id, org_id, user_id, email, role, status, joined_at) "
		. "SELECT CONCAT('member_', id), $org_id, id, email, '$role', 'active', UTC_TIMESTAMP(6) "
		. "FROM users WHERE email = '$email' ON DUPLICATE KEY UPDATE role = '$role'")
		if $role;
	# As a real invitation would: a password login lands in this org.
	$self->sql("UPDATE users SET default_org_id = $org_id WHERE email = '$email' "
		. "AND default_org_id IS NULL") if $role;
	my @args = ('key', 'create', '--org', $org, '--user', $email, '--name', "k-$email");
	push @args, '--scopes', $opt{scopes} if $opt{scopes};
	($rc, $out) = $self->cli(@args);
	$out =~ s/\s+\z//;
	die "key create failed: $out" if $rc;
	return $out;
}

sub org_id {
	my ($self, $name) = @_;
	my ($id) = $self->sql("SELECT id FROM orgs WHERE name = '$name' OR public_id = '$name'");
	return $id;
}

sub stop {
	my ($self) = @_;
	return if $self->{stopped}++;
	$self->stack_cmd('stop');
	system('rm', '-rf', $self->{dir}) unless $ENV{DAGY_KEEP_TEST_DIR};
}

# Stops the stack, then fails the test if a sanitizer wrote a report:
# the dagy-api processes have exited by then and LeakSanitizer has run.
sub finish {
	my ($self) = @_;
	$self->stack_cmd('stop');
	my @reports;
	for my $f (glob("$self->{dir}/sanitizer/*")) {
		open my $fh, '<', $f or next;
		local $/;
		my $text = <$fh>;
		push @reports, $text if $text =~ /ERROR: |runtime error/;
	}
	ok(!@reports, 'no sanitizer reports') or diag(join "\n", @reports);
	$self->stop;
}

# An S3-compatible server on loopback for a test: s3rver from the npm
# registry (script/s3rver installs it into var/s3rver), with the bucket
# named, credentials S3RVER/S3RVER. Returns { port, pid, dir, endpoint }
# or undef (with a diag) if it cannot run; stop it with s3rver_stop.
sub s3rver {
	my ($bucket) = @_;
	my $out = `$top/script/s3rver install 2>&1`;
	if ($? != 0) {
		diag("s3rver could not be installed: $out");
		return undef;
	}
	chomp(my $bin = `$top/script/s3rver path`);
	my $port = free_port();
	my $dir = tempdir('dagy-s3-XXXXXX', TMPDIR => 1, CLEANUP => 1);
	my $pid = fork // die "fork: $!";
	if (!$pid) {
		open STDOUT, '>', "$dir.log";
		open STDERR, '>&', \*STDOUT;
		exec $bin, '-d', $dir, '-a', '127.0.0.1', '-p', $port, '--no-vhost-buckets',
			'--configure-bucket', $bucket;
		exit 127;
	}
	for (1 .. 150) {
		my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp');
		return { port => $port, pid => $pid, dir => $dir, endpoint => "http://127.0.0.1:$port" }
			if $sock;
		select(undef, undef, undef, 0.1);
	}
	kill 'TERM', $pid;
	waitpid $pid, 0;
	diag("s3rver did not start: " . `tail -5 $dir.log 2>&1`);
	return undef;
}

sub s3rver_stop {
	my ($srv) = @_;
	kill 'TERM', $srv->{pid};
	waitpid $srv->{pid}, 0;
	unlink "$srv->{dir}.log";
}

sub decode { $json->decode($_[0]) }

END {
	my $rc = $?;
	$_->stop for @stacks;
	$? = $rc;
}

1;
