# The daggle and dagctl dialects: daggle's curl examples as written (with
# the token header), dagctl's Python patterns unchanged against seeded data
# whose answers were worked out by hand.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time sleep);
use POSIX qw(strftime);
use File::Basename qw(dirname);
use DagyTest qw(decode);

my $s = DagyTest->start;
my $r;
my $key = $s->key;
my $base = $s->base;
(my $hostport = $base) =~ s{^http://}{};

sub curl {
	my ($cmd) = @_;
	# As in daggle-api-endpoints.txt, pointed at this dagy, token added.
	$cmd =~ s{http://localhost:8787}{$base}g;
	$cmd =~ s{^curl -s }{curl -s -H "Authorization: Bearer $key" };
	# lighttpd answers a POST without Content-Length with 411 before dagy
	# sees it (doc/dialects.md); curl -X POST without -d sends none.
	$cmd =~ s{-X POST }{-X POST -H "Content-Length: 0" } if $cmd !~ / -d /;
	my $out = `$cmd`;
	return ($? >> 8, $out);
}

# --- daggle ------------------------------------------------------------------------------------------
$s->req(POST => '/v1/flows', { flow_name => 'etl-daily', flow_spec => { nodes => [
	{ id => 'fetch', type => 'shell', config => { command => 'echo "Fetching data from API..."; echo row_count=1432 >> "$DAGY_OUTPUT"' } },
	{ id => 'transform', type => 'shell', config => { command => 'echo "::daggle-output name=output_path::/tmp/transformed.parquet"; echo "$DAGY_PARAM_DATE $DAGY_PARAM_MODE"' }, depends_on => ['fetch'] },
	{ id => 'validate', type => 'shell', config => { command => 'echo passed=true >> "$DAGY_OUTPUT"' }, depends_on => ['transform'] },
	{ id => 'load', type => 'approval', depends_on => ['validate'] } ],
	params => { date => { default => 'today' }, mode => { default => 'incremental' } } } });
$s->req(POST => '/v1/deployments', { name => 'etl-daily-prod', flow_name => 'etl-daily', schedule => '0 3 * * *' });

my ($rc, $out) = curl(q{curl -s http://localhost:8787/api/v1/health | jq .});
is(decode($out)->{status}, 'ok', 'health');
ok(defined decode($out)->{uptime_seconds}, 'uptime_seconds');
($rc, $out) = curl(q{curl -s -X POST http://localhost:8787/api/v1/dags/etl-daily/run \
  -H "Content-Type: application/json" \
  -d '{"params": {"date": "2025-01-15"}}' | jq .});
my $run = decode($out);
like($run->{run_id}, qr/^run_/, 'trigger: run_id');
is($run->{status}, 'running', 'trigger: running');
my $deadline = time + 15;
my $steps;
do {
	sleep 0.1;
	(undef, $out) = curl(q{curl -s http://localhost:8787/api/v1/dags/etl-daily/runs/latest/steps | jq .});
	$steps = decode($out);
} until ((grep { $_->{status} eq 'waiting_approval' } @$steps) || time > $deadline);
is(ref $steps, 'ARRAY', 'steps: a flat array');
is_deeply([map { "$_->{step_id}:$_->{status}" } @$steps],
	['fetch:success', 'transform:success', 'validate:success', 'load:waiting_approval'],
	'step statuses, in graph order');
ok(defined $steps->[0]{duration_seconds} && !defined $steps->[3]{duration_seconds}, 'durations for finished steps only');
(undef, $out) = curl(q{curl -s http://localhost:8787/api/v1/dags/etl-daily/runs/latest | jq .});
is(decode($out)->{status}, 'waiting_approval', 'a run waiting at a gate says so');
(undef, $out) = curl(q{curl -s -X POST http://localhost:8787/api/v1/dags/etl-daily/runs/latest/steps/load/approve | jq .});
is_deeply(decode($out), { step_id => 'load', status => 'approved' }, 'approve');
$deadline = time + 10;
my $detail;
do {
	sleep 0.1;
	(undef, $out) = curl(q{curl -s http://localhost:8787/api/v1/dags/etl-daily/runs/latest | jq .});
	$detail = decode($out);
} until ($detail->{status} eq 'success' || time > $deadline);
is($detail->{status}, 'success', 'the run succeeded');
is($detail->{run_id}, $run->{run_id}, 'latest is that run');
like($detail->{dag_hash}, qr/^[0-9a-f]{8}$/, 'dag_hash');
is(scalar @{ $detail->{steps} }, 4, 'steps in the detail');
(undef, $out) = curl(q{curl -s http://localhost:8787/api/v1/dags | jq .});
my $dags = decode($out);
is_deeply($dags, [{ name => 'etl-daily', steps => 4, schedule => '0 3 * * *', last_status => 'success',
	last_run => $detail->{started} }], 'dags: flat array from real data');
(undef, $out) = curl(q{curl -s http://localhost:8787/api/v1/dags/etl-daily | jq .});
my $dag = decode($out);
is_deeply($dag->{step_ids}, [qw(fetch transform validate load)], 'step_ids in graph order');
is($dag->{last_run_id}, $run->{run_id}, 'last_run_id');
(undef, $out) = curl(q{curl -s http://localhost:8787/api/v1/dags/etl-daily/runs | jq .});
is(decode($out)->[0]{run_id}, $run->{run_id}, 'runs: flat array');
(undef, $out) = curl(q{curl -s http://localhost:8787/api/v1/dags/etl-daily/runs/latest/steps/fetch/log | jq .});
is_deeply(decode($out), { step_id => 'fetch', stdout => "Fetching data from API...\n", stderr => '' }, 'step log');
(undef, $out) = curl(q{curl -s http://localhost:8787/api/v1/dags/etl-daily/runs/latest/outputs | jq .});
is_deeply(decode($out), [ { step_id => 'fetch', key => 'row_count', value => '1432' },
	{ step_id => 'transform', key => 'output_path', value => '/tmp/transformed.parquet' },
	{ step_id => 'validate', key => 'passed', value => 'true' } ], 'outputs');
(undef, $out) = curl(q{curl -s -X POST http://localhost:8787/api/v1/dags/etl-daily/validate | jq .});
is(decode($out)->{valid}, JSON::PP::true, 'validate');
my $logs = $s->req(GET => "/v1/runs/$run->{run_id}/logs")->{json}{events};
ok((grep { $_->{message} eq '2025-01-15 incremental' } @$logs), 'params reach the steps, defaults filled');

(undef, $out) = curl(q{curl -s -X POST http://localhost:8787/api/v1/dags/etl-daily/runs/} . $run->{run_id} . q{/cancel});
is(decode($out)->{error} =~ /already finished/ ? 1 : 0, 1, 'cancelling a finished run: error text');
$r = $s->req(POST => "/api/v1/dags/etl-daily/runs/$run->{run_id}/cancel");
is($r->{status}, 409, 'and 409');
$r = $s->req(POST => '/api/v1/dags/etl-daily/runs/latest/steps/load/reject');
is($r->{status}, 409, 'rejecting a step that is not waiting: 409');
$r = $s->req(GET => '/api/v1/dags/foo');
is($r->{status}, 404, 'unknown DAG: 404');
is_deeply($r->{json}, { error => "DAG 'foo' not found" }, "daggle's error shape");
is($s->req(POST => '/api/v1/dags/foo/run', {})->{status}, 404, 'trigger unknown DAG: 404');
is($s->req(GET => '/api/v1/dags/etl-daily/runs/run_nope')->{status}, 404, 'unknown run: 404');
$r = $s->req(POST => '/api/v1/dags/etl-daily/run', { params => { colour => 'red' } });
is($r->{status}, 400, 'unknown param: 400');
ok(exists $r->{json}{error} && !exists $r->{json}{message}, 'in the daggle shape');
is($s->req(GET => '/api/v1/dags', undef, { Authorization => undef })->{status}, 401, 'the same Bearer auth');

# cancel a running run through daggle
$s->req(POST => '/v1/flows', { flow_name => 'sleepy', flow_spec => { nodes => [
	{ id => 'nap', type => 'shell', config => { command => 'sleep 30' } } ] } });
$r = $s->req(POST => '/api/v1/dags/sleepy/run', {});
is($r->{status}, 201, 'daggle trigger: 201');
$s->wait_run($r->{json}{run_id}, 10, 'running');
$r = $s->req(POST => "/api/v1/dags/sleepy/runs/$r->{json}{run_id}/cancel");
is_deeply($r->{json}, { run_id => $r->{json}{run_id}, status => 'cancelled' }, 'daggle cancel');

# cleanup
$s->sql("UPDATE runs SET completed_at = UTC_TIMESTAMP() - INTERVAL 40 DAY WHERE public_id = '$run->{run_id}'");
($rc, $out) = curl(q{curl -s -X POST http://localhost:8787/api/v1/runs/cleanup \
  -H "Content-Type: application/json" \
  -d '{"older_than": "30d"}' | jq .});
my $clean = decode($out);
is($clean->{removed}, 1, 'cleanup removed the old run');
cmp_ok($clean->{freed_bytes}, '>', 40, 'freed_bytes counts its logs and outputs');
like($clean->{freed}, qr/^\d+(\.\d)? (B|KB|MB)$/, 'freed is human');
is($s->req(GET => "/v1/runs/$run->{run_id}")->{status}, 404, 'the run is gone');
my ($left) = $s->sql("SELECT (SELECT COUNT(*) FROM step_runs) + (SELECT COUNT(*) FROM step_logs l"
	. " LEFT JOIN runs r ON r.id = l.run_id WHERE r.id IS NULL)");
is($left, 1, 'its steps and logs too (the cancelled run keeps its one step)');
is($s->req(POST => '/api/v1/runs/cleanup', { older_than => 'forever' })->{status}, 400, 'bad older_than: 400');

# --- dagctl: seeded data with known answers ------------------------------------------------------------
$r = $s->req(POST => '/v1/flows', { flow_name => 'warehouse', flow_spec => { nodes => [
	{ id => 'transform', type => 'noop' }, { id => 'load', type => 'noop' } ] } });
my ($flow_id) = $s->sql("SELECT id FROM flows WHERE name = 'warehouse'");
my ($version_id) = $s->sql("SELECT id FROM flow_versions WHERE flow_id = $flow_id");
my ($org) = $s->sql("SELECT org_id FROM flows WHERE id = $flow_id");
my ($project) = $s->sql("SELECT public_id FROM flows WHERE id = $flow_id");
my $org_public = ($s->sql("SELECT public_id FROM orgs WHERE id = $org"))[0];
my $n = 0;
# a run: days ago, duration, status, updated seconds ago
sub seed_run {
	my ($days, $dur, $status, $updated_ago) = @_;
	$n++;
	$s->sql("INSERT INTO runs (public_id, org_id, flow_id, version_id, run_slug, status, created_at,"
		. " started_at, completed_at, updated_at) VALUES ('run_seed$n', $org, $flow_id, $version_id,"
		. " 'seed-$n', '$status', UTC_DATE() - INTERVAL $days DAY + INTERVAL 1 HOUR,"
		. " UTC_DATE() - INTERVAL $days DAY + INTERVAL 1 HOUR,"
		. " UTC_DATE() - INTERVAL $days DAY + INTERVAL 1 HOUR + INTERVAL $dur SECOND,"
		. " UTC_TIMESTAMP(6) - INTERVAL $updated_ago SECOND)");
	return "run_seed$n";
}
# Each step execution needs a run of its own; those runs belong to another
# flow so that the project's run statistics stay as seeded above.
$s->req(POST => '/v1/flows', { flow_name => 'holder', flow_spec => { nodes => [{ id => 'x', type => 'noop' }] } });
my ($holder) = $s->sql("SELECT id FROM flows WHERE name = 'holder'");
my ($holder_version) = $s->sql("SELECT id FROM flow_versions WHERE flow_id = $holder");
sub seed_step {
	my ($step, $days, $dur, $status) = @_;
	$n++;
	$s->sql("INSERT INTO runs (public_id, org_id, flow_id, version_id, run_slug, status)"
		. " VALUES ('run_hold$n', $org, $holder, $holder_version, 'hold-$n', 'completed')");
	$s->sql("INSERT INTO step_runs (run_id, org_id, flow_id, step_id, type, status, started_at,"
		. " finished_at, updated_at) SELECT id, org_id, $flow_id, '$step', 'noop', '$status',"
		. " UTC_DATE() - INTERVAL $days DAY + INTERVAL 2 HOUR,"
		. " UTC_DATE() - INTERVAL $days DAY + INTERVAL 2 HOUR + INTERVAL $dur SECOND,"
		. " UTC_TIMESTAMP(6) - INTERVAL 7200 SECOND FROM runs WHERE public_id = 'run_hold$n'");
}
# yesterday: 10, 20, 30, 40, 100 s -> avg 40, p50 30, p95 40 + 0.8 * 60 = 88, max 100
seed_run(1, $_, $_ == 100 ? "failed" : "completed", 7200) for 10, 20, 30, 40, 100;
# two days ago: four runs of 5 s -> p95 5
seed_run(2, 5, 'completed', 7200) for 1 .. 4;
# recently changed runs, for polling
my $recent1 = seed_run(0, 1, 'completed', 30);
my $recent2 = seed_run(0, 1, 'completed', 10);
# model stats: days 8-10 ago transform 10,10,10,10,20 (p95 18); days 1-3 transform 15,15,15,15,30 (p95 27)
# load: 5 s in both
my $i = 0;
for my $d (10, 10, 9, 9, 8) { seed_step('transform', $d, (10, 10, 10, 10, 20)[$i++], 'success') }
$i = 0;
for my $d (3, 3, 2, 2, 1) { seed_step('transform', $d, (15, 15, 15, 15, 30)[$i++], 'success') }
seed_step('load', 9, 5, 'success');
seed_step('load', 2, 5, 'failed');

$r = $s->req(GET => "/api/v1/projects/$project/runs/daily-stats?days=7", undef, { 'X-Organization-ID' => $org_public });
is($r->{status}, 200, 'daily-stats');
my %day = map { $_->{date} => $_ } @{ $r->{json}{daily_stats} };
my $yesterday = strftime('%Y-%m-%d', gmtime(time - 86400));
is_deeply($day{$yesterday}, { date => $yesterday, total_runs => 5, successful_runs => 4, failed_runs => 1,
	avg_duration_seconds => 40, p50_duration_seconds => 30, p95_duration_seconds => 88,
	max_duration_seconds => 100 }, 'hand-computed daily stats: continuous percentiles');
is($day{ strftime('%Y-%m-%d', gmtime(time - 2 * 86400)) }{p95_duration_seconds}, 5, 'another day');

my $py = sub {
	local $ENV{DAGY_BASE} = $base;
	local $ENV{DAGCTL_TOKEN} = $key;
	local $ENV{ORG_ID} = $org_public;
	my $out = `/usr/bin/python3 @{[dirname(__FILE__)]}/dagctl_examples.py @_ 2>&1`;
	return ($? >> 8, $out);
};
($rc, $out) = $py->('sla', $project, 50, 7);
is($rc, 0, 'the SLA example runs') or diag($out);
is_deeply(decode($out), [{ date => $yesterday, p95_duration => 88, max_duration => 100, total_runs => 5 }],
	'SLA breaches: the day whose p95 went over 50 s');
($rc, $out) = $py->('runs', $project, 40);
is($rc, 0, 'the polling example runs') or diag($out);
is_deeply(decode($out), [sort $recent1, $recent2], 'polling with overlap: the runs changed in the last 100 s');
my $from = sub { strftime('%Y-%m-%d', gmtime(time - $_[0] * 86400)) };
($rc, $out) = $py->('compare', $project, $from->(3), $from->(1), $from->(10), $from->(8));
is($rc, 0, 'the regression example runs') or diag($out);
is_deeply(decode($out), [{ model => 'transform', current_p95 => 27, previous_p95 => 18, change_pct => 50 }],
	'p95 regression: transform 18 s -> 27 s (+50%), load unchanged');
$r = $s->req(GET => "/api/v1/projects/$project/model-executions/stats?start_date=" . $from->(10)
	. "&end_date=" . $from->(1));
my ($load) = grep { $_->{model_name} eq 'load' } @{ $r->{json}{stats} };
is_deeply($load, { model_name => 'load', executions => 2, failures => 1, avg_duration_seconds => 5,
	p50_duration_seconds => 5, p95_duration_seconds => 5, max_duration_seconds => 5 }, 'model stats fields');
($rc, $out) = $py->('executions', $project, 7200 + 120);
is(scalar @{ decode($out) }, 12, 'model executions polling');

# paging: 12 seeded runs + none else, pages of 5
$r = $s->req(GET => "/api/v1/projects/$project/runs?limit=5&page=1");
is_deeply([@{ $r->{json} }{qw(total page limit total_pages)}], [11, 1, 5, 3], 'total, page, limit, total_pages');
my @ids = map { $_->{id} } @{ $r->{json}{runs} };
# a run changes while we page: it must not push another off a page
$s->sql("UPDATE runs SET updated_at = UTC_TIMESTAMP(6) WHERE public_id = '$ids[0]'");
push @ids, map { $_->{id} } @{ $s->req(GET => "/api/v1/projects/$project/runs?limit=5&page=$_")->{json}{runs} } for 2, 3;
is(scalar(keys %{{ map { $_ => 1 } @ids }}), 11, 'every run exactly once across pages while one changed');
$r = $s->req(GET => "/api/v1/projects/$project/runs?limit=5&page=3&updated_after=2020-01-01T00:00:00%2B00:00");
is(scalar @{ $r->{json}{runs} }, 1, 'a page reached without its predecessor still works');
my ($one) = grep { $_->{id} eq $recent1 } @{ $s->req(GET => "/api/v1/projects/$project/runs?limit=500")->{json}{runs} };
ok(!exists $one->{cronjob_name} && !exists $one->{error_message}, 'null fields are omitted');
ok(exists $one->{end_time} && exists $one->{duration_seconds}, 'set fields are present');
# Pinned to the database's clock: on a loaded machine the seeding above can
# be more than the window ago.
$s->sql("UPDATE runs SET updated_at = UTC_TIMESTAMP(6) - INTERVAL $_->[1] SECOND WHERE public_id = '$_->[0]'")
	for [$ids[0], 4], [$recent2, 5], [$recent1, 60];
my ($after) = $s->sql("SELECT DATE_FORMAT(UTC_TIMESTAMP() - INTERVAL 20 SECOND, '%Y-%m-%dT%H:%i:%s')");
$r = $s->req(GET => "/api/v1/projects/$project/runs?updated_after=$after.5%2B00:00");
is_deeply([map { $_->{id} } @{ $r->{json}{runs} }], [$ids[0], $recent2],
	"updated_after as Python's isoformat() prints it");
is($s->req(GET => "/api/v1/projects/warehouse/runs")->{status}, 200, 'a project by name');
is($s->req(GET => "/api/v1/projects/$project/runs?limit=501")->{status}, 400, 'limit over 500: 400');
is($s->req(GET => "/api/v1/projects/$project/runs?page=0")->{status}, 400, 'page 0: 400');
is($s->req(GET => "/api/v1/projects/$project/runs?updated_after=yesterday")->{status}, 400, 'bad updated_after: 400');
is($s->req(GET => "/api/v1/projects/$project/runs/daily-stats?days=0")->{status}, 400, 'bad days: 400');
is($s->req(GET => "/api/v1/projects/$project/model-executions/stats?start_date=2026-13-01")->{status}, 400,
	'bad start_date: 400');
$r = $s->req(GET => '/api/v1/projects/nope/runs');
is($r->{status}, 404, 'unknown project: 404');
ok(exists $r->{json}{error}, 'with an error');
$s->cli('user', 'add', 'eve@evil.com');
$s->cli('org', 'add', 'Evil', '--owner', 'eve@evil.com');
my (undef, $eve) = $s->cli('key', 'create', '--org', 'Evil', '--user', 'eve@evil.com');
chomp $eve;
is($s->as($eve, GET => "/api/v1/projects/$project/runs")->{status}, 404, "another org's project: 404");
is($s->as($eve, GET => '/api/v1/dags/etl-daily')->{status}, 404, "another org's DAG: 404");
is($s->as($eve, GET => "/api/v1/projects/$project/runs", undef, { 'X-Organization-ID' => $org_public })->{status},
	403, 'naming an org one is not in: 403');

# Project repositories: file:// (which could name another organization's
# checkout on the worker) and http:// (a token in clear) are refused unless
# the installation allows them.
for my $url ('file:///var/lib/dagy/projects/proj_other/repo', 'http://git.example.com/r.git') {
	$r = $s->req(POST => '/api/v1/projects', { name => 'p', project_type => 'dbt', repository_url => $url },
		{ 'X-Organization-ID' => $org_public });
	is($r->{status}, 400, "repository_url $url: 400") or diag($r->{body});
	like($r->{body}, qr/allow_local_urls/, 'saying which setting allows it');
}

$s->finish;
done_testing;
