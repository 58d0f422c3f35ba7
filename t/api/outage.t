# MariaDB stopped and started again under running dagy-api processes:
# 503 with Retry-After while it is gone, then the same processes serve.
# Then MariaDB killed with SIGKILL while a client posts runs: every 202 is
# a run that exists afterwards and completes; nothing else but 503s.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time sleep);
use File::Temp qw(tempdir);
use HTTP::Tiny;
use POSIX ();
use DagyTest;

my $s = DagyTest->start;
my @pids = $s->api_pids;
is($s->req(GET => '/v1/me')->{status}, 200, 'serving before the outage');

ok($s->db_stop, 'MariaDB stopped');
for my $path ('/v1/health', '/v1/me', '/v1/api-keys', '/v1/orgs') {
	my $r = $s->req(GET => $path);
	is($r->{status}, 503, "$path: 503 while the database is down");
	ok($r->{headers}{'retry-after'} =~ /^\d+$/, "$path: Retry-After");
	is($r->{json}{error}, 'service_unavailable', "$path: error format")
		unless $path eq '/v1/health';
}
my $r = $s->req(GET => '/v1/health');
is($r->{json}{status}, 'unhealthy', 'health says unhealthy');
my ($db) = grep { $_->{name} eq 'database' } @{ $r->{json}{components} };
is($db->{status}, 'unhealthy', 'the database component is unhealthy');
$r = $s->req(POST => '/v1/api-keys', { name => 'during outage' });
is($r->{status}, 503, 'a write during the outage: 503, not 500');

ok($s->db_start, 'MariaDB started again');
is($s->req(GET => '/v1/me')->{status}, 200, 'the next request is served');
is($s->req(GET => '/v1/health')->{status}, 200, 'health is back');
$r = $s->req(POST => '/v1/api-keys', { name => 'after outage' });
is($r->{status}, 201, 'writes work again');
ok(kill(0, $_), "dagy-api $_ kept running") for @pids;
is_deeply([$s->api_pids], \@pids, 'by the same processes');

# --- MariaDB killed and restarted under a client posting runs for 20 s --------------------------
$r = $s->req(POST => '/v1/flows', { flow_name => 'tick',
	flow_spec => { nodes => [{ id => 'tick', type => 'noop' }] } });
is($r->{status}, 201, 'a flow of one built-in step');
my $tmp = tempdir(CLEANUP => 1);
my $client = fork // die "fork: $!";
if (!$client) {
	# One line per request: status, seconds taken, Retry-After, error code, run id.
	my $http = HTTP::Tiny->new(timeout => 15, keep_alive => 0);
	open my $log, '>', "$tmp/client" or POSIX::_exit(1);
	$log->autoflush(1);
	my $end = time + 20;
	while (time < $end) {
		my $t0 = time;
		my $res = $http->request(POST => $s->base . '/v1/runs', {
			headers => { Authorization => 'Bearer ' . $s->key, 'Content-Type' => 'application/json' },
			content => '{"flow_name": "tick"}' });
		my $j = eval { DagyTest::decode($res->{content}) } // {};
		printf $log "%d %.3f %s %s %s\n", $res->{status}, time - $t0,
			$res->{headers}{'retry-after'} // '-', $j->{error} // '-', $j->{run_id} // '-';
		sleep 0.08;
	}
	close $log;
	POSIX::_exit(0);
}
sleep 5;
my $mysqld = DagyTest::slurp($s->dir . '/mysqld.pid');
ok(kill('KILL', $mysqld), 'MariaDB killed with SIGKILL while runs are posted');
sleep 3;
ok($s->db_start, 'and started again');
waitpid $client, 0;
my @answers = map { [split ' '] } do { open my $f, '<', "$tmp/client" or die; <$f> };
my @accepted = map { $_->[4] } grep { $_->[0] == 202 } @answers;
my @refused = grep { $_->[0] == 503 } @answers;
my @other = grep { $_->[0] != 202 && $_->[0] != 503 } @answers;
cmp_ok(scalar @accepted, '>', 50, scalar(@accepted) . ' runs accepted');
cmp_ok(scalar @refused, '>', 0, scalar(@refused) . ' refused with 503 during the outage');
is(scalar @other, 0, 'no other answer (no 500, no timeout)')
	or diag(join "\n", map { "@$_" } @other[0 .. ($#other < 9 ? $#other : 9)]);
is(scalar(grep { $_->[2] !~ /^\d+$/ || $_->[3] ne 'service_unavailable' } @refused), 0,
	'every 503 has Retry-After and a JSON service_unavailable error');
my ($slowest) = sort { $b <=> $a } map { $_->[1] } @answers;
cmp_ok($slowest, '<', 5, "no request took 5 s or more (slowest $slowest s)");
my $deadline = time + 60;
my %left = map { $_ => 1 } @accepted;
while (%left && time < $deadline) {
	for my $id (keys %left) {
		my $run = $s->req(GET => "/v1/runs/$id");
		delete $left{$id} if $run->{status} == 200 && ($run->{json}{status} // '') eq 'completed';
	}
	sleep 0.3 if %left;
}
is(scalar(keys %left), 0, 'every accepted run exists and completed')
	or diag(join ' ', map { "$_: " . ($s->req(GET => "/v1/runs/$_")->{json}{status} // 'missing') }
		(keys %left)[0 .. 4]);

$s->finish;
done_testing;
