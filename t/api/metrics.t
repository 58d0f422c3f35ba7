# GET /metrics: the Prometheus text passes promtool check metrics; the
# request counters move with the requests this test sends, summed over
# both dagy-api processes; the run, step, queue and worker figures follow
# what the worker did; MariaDB faults and reconnects are counted; the
# metrics token is checked.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempfile tempdir);
use File::Basename qw(dirname);
use Time::HiRes qw(sleep time);
use DagyTest;

my $token = 'metrics-token-0123456789';
my $s = DagyTest->start(conf => ['[metrics]', "token = $token", '[notifications]',
	'max_attempts = 1', 'timeout_seconds = 3']);
my $tmp = tempdir(CLEANUP => 1);
my $hport = DagyTest::free_port();
my $receiver = open(my $rfh, '-|', '/usr/bin/python3', dirname(__FILE__) . '/../lib/receiver.py',
	$hport, "$tmp/http") // die;
die 'receiver.py did not start' unless (<$rfh> // '') =~ /ready/;

sub scrape {
	my (%h) = @_;
	my $r = $s->req(GET => '/metrics', undef, { Authorization => undef, %h });
	return $r;
}

# name{labels} -> value of one scrape.
sub parse {
	my ($text) = @_;
	my %v;
	for (split /\n/, $text) {
		next if /^#/ || !/\S/;
		my ($k, $val) = /^(\S+(?:\{[^}]*\})?)\s+(\S+)$/ or next;
		$v{$k} = $val;
	}
	return \%v;
}

sub promtool_ok {
	my ($text, $name) = @_;
	my ($fh, $file) = tempfile(UNLINK => 1);
	print $fh $text;
	close $fh;
	my $out = `promtool check metrics < $file 2>&1`;
	is($? >> 8, 0, "promtool check metrics: $name") or diag($out);
	is($out, '', 'and no lint warnings') or diag($out);
}

my $r = scrape();
is($r->{status}, 200, 'loopback reads /metrics without a token');
like($r->{headers}{'content-type'}, qr{^text/plain; version=0\.0\.4}, 'in the text format');
promtool_ok($r->{body}, 'first scrape');
my $before = parse($r->{body});
is($before->{dagy_api_processes}, 2, 'both responders have a block');
is($before->{dagy_database_up}, 1, 'the run figures were read');
is($before->{dagy_workers_alive}, 1, 'one worker alive');

my $flows = 'dagy_http_requests_total{method="GET",route="/v1/flows",status="200"}';
my $missing = 'dagy_http_requests_total{method="GET",route="/v1/flows/{flow_name}/latest",status="404"}';
$s->req(GET => '/v1/flows') for 1 .. 7;
$s->req(GET => '/v1/flows/nope/latest') for 1 .. 3;
$s->req(GET => '/v1/no/such/thing') for 1 .. 2;
$s->flow('ok', [['a', 'echo a'], ['b', 'sleep 0.2', ['a']]]);
$s->flow('bad', [['x', 'exit 3']]);
# Its failure is delivered to a receiver and to a port nobody listens on.
my @channels = map { $s->req(POST => '/v1/channels', { name => "hook $_", channel_type => 'webhook',
	config_json => { url => $_ } })->{json}{channel_id} } ("http://127.0.0.1:$hport/hook",
	'http://127.0.0.1:1/nobody');
my $rule = $s->req(POST => '/v1/alert-rules', { name => 'bad fails', trigger => 'on_failure',
	flow_name => 'bad', channel_ids => \@channels })->{json}{rule_id};
ok($rule, 'an alert rule with two webhook channels');
my $ok = $s->trigger('ok');
my $bad = $s->trigger('bad');
is($s->wait_run($ok)->{status}, 'completed', 'a run completes');
is($s->wait_run($bad)->{status}, 'failed', 'a run fails');
my $deadline = time + 15;
my @ended;
while (time < $deadline) {
	@ended = grep { $_->{status} ne 'pending' }
		@{ $s->req(GET => "/v1/alert-rules/$rule/deliveries")->{json}{items} // [] };
	last if @ended == 2;
	sleep 0.1;
}
is(scalar @ended, 2, 'both deliveries ended');

$r = scrape();
promtool_ok($r->{body}, 'after traffic');
my $after = parse($r->{body});
is(($after->{$flows} // 0) - ($before->{$flows} // 0), 7, 'seven GET /v1/flows 200 counted');
is($after->{$missing}, 3, 'three 404s on the flow pattern, not the path');
is($after->{'dagy_http_requests_total{method="other",route="unmatched",status="404"}'}, 2,
	'unknown paths counted as unmatched');
my $hist = 'dagy_http_request_duration_seconds_count{method="GET",route="/v1/flows"}';
is($after->{$hist} - ($before->{$hist} // 0), 7, 'the latency histogram counts them too');
is($after->{'dagy_http_request_duration_seconds_bucket{method="GET",route="/v1/flows",le="+Inf"}'},
	$after->{$hist}, '+Inf bucket equals the count');
ok($after->{'dagy_http_request_duration_seconds_sum{method="GET",route="/v1/flows"}'} > 0,
	'latency sum moves');
ok(($after->{'dagy_http_requests_total{method="GET",route="/metrics",status="200"}'} // 0) >= 1,
	'the scrape itself is counted');
is($after->{'dagy_runs_ended_window{status="completed"}'}, 1, 'one completed run in the window');
is($after->{'dagy_runs_ended_window{status="failed"}'}, 1, 'one failed run');
is($after->{dagy_steps_started_window}, 3, 'three steps started');
is($after->{'dagy_steps_ended_window{status="success"}'}, 2, 'two steps succeeded');
is($after->{'dagy_steps_ended_window{status="failed"}'}, 1, 'one step failed');
is($after->{dagy_step_duration_window_seconds_count}, 3, 'step durations of all three');
is($after->{'dagy_step_duration_window_seconds_bucket{le="0.1"}'} < 3 ? 1 : 0, 1,
	'the 0.2 s step is above the 0.1 s bucket');
is($after->{dagy_claim_to_start_window_seconds_count}, 2, 'claim-to-start of both runs');
is($after->{dagy_queue_depth}, 0, 'nothing queued');
is($after->{'dagy_deliveries_ended_window{outcome="delivered"}'}, 1, 'one delivery delivered');
is($after->{'dagy_deliveries_ended_window{outcome="failed"}'}, 1, 'one delivery failed');
is($after->{dagy_deliveries_pending}, 0, 'none pending');

# A queue with no worker.
ok($s->worker_stop(1), 'worker stopped');
my $waiting = $s->trigger('ok');
sleep 1.2;
$after = parse(scrape()->{body});
is($after->{dagy_queue_depth}, 1, 'one run queued');
is($after->{'dagy_runs{status="queued"}'}, 1, 'runs by status say so');
ok($after->{dagy_queue_oldest_age_seconds} >= 1, 'oldest queued age grows');
ok($s->worker_start(1), 'worker started');
is($s->wait_run($waiting)->{status}, 'completed', 'the queued run completes');

# MariaDB gone and back.
my $errs = $after->{dagy_db_errors_total};
my $reconn = $after->{dagy_db_reconnects_total};
ok($s->db_stop, 'MariaDB stopped');
is($s->req(GET => '/v1/flows')->{status}, 503, 'a request meanwhile gets 503') for 1 .. 2;
$r = scrape();
is($r->{status}, 200, '/metrics still answers');
is(parse($r->{body})->{dagy_database_up}, 0, 'saying the database is down');
promtool_ok($r->{body}, 'without the database');
ok($s->db_start, 'MariaDB started again');
is($s->req(GET => '/v1/flows')->{status}, 200, 'served again') for 1 .. 4;
$after = parse(scrape()->{body});
ok($after->{dagy_db_errors_total} > $errs, 'MariaDB errors counted');
ok($after->{dagy_db_reconnects_total} > $reconn, 'reconnects counted');

# The token.
$r = scrape(Authorization => "Bearer $token");
is($r->{status}, 200, 'the metrics token is accepted');
$r = scrape(Authorization => 'Bearer wrong-token-wrong-token');
is($r->{status}, 401, 'a wrong token is refused, even from loopback');
is($r->{json}{error}, 'unauthorized', 'in the error format');

# dagy config check knows the section.
my ($rc, $out) = $s->cli('config', 'check');
is($rc, 0, 'the [metrics] settings pass the config check') or diag($out);
open my $conf, '>>', $s->dir . '/dagy.conf' or die;
print $conf "[metrics]\nwindow_seconds = 0\ntoken = short\n";
close $conf;
($rc, $out) = $s->cli('config', 'check');
isnt($rc, 0, 'bad [metrics] settings fail it');
like($out, qr/window_seconds must be 1 to 86400/, 'naming the window');
like($out, qr/token must be at least 16 characters/, 'and the short token');

$s->finish;
kill 'TERM', $receiver;
close $rfh;
done_testing;
