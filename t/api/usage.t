# Usage metered as runs, steps and requests happen; summary, timeseries,
# costs, dashboard and quotas from the rollups; plan quotas refusing runs
# and skipping schedule slots.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time sleep);
use POSIX qw(strftime);
use DagyTest;

my $s = DagyTest->start(conf => ['[limits]', 'usage_flush_seconds = 1',
	'[usage]', 'price_per_run = 0.5', 'price_per_step_second = 0.01',
	'price_per_1000_api_calls = 1',
	'[plan.starter]', 'monthly_runs = 2',
	'[plan.professional]', 'concurrent_runs = 1']);
my $r;
my $today = strftime('%Y-%m-%d', gmtime);

# --- what the test does in the admin's organization (free: unlimited) ----------------------
$s->flow('usage-a', [['s1', 'sleep 0.2'], ['s2', 'sleep 0.1', ['s1']]]);
$s->flow('usage-b', [['boom', 'exit 3']]);
my @runs = map { $s->trigger('usage-a') } 1 .. 3;
push @runs, $s->trigger('usage-b');
is($s->req(POST => '/v1/runs', { flow_name => 'usage-a', execute => JSON::PP::false })->{status},
	202, 'a run created without executing');
my %status = map { $_ => $s->wait_run($_)->{status} } @runs;
is_deeply([map { $status{$_} } @runs], [qw(completed completed completed failed)], 'runs ended');
my ($secs, %flow_secs) = (0);
for my $id (@runs) {
	my $flow = $s->req(GET => "/v1/runs/$id")->{json}{flow_name};
	for my $st (values %{ $s->steps($id) }) {
		$secs += $st->{duration_seconds};
		$flow_secs{$flow} += $st->{duration_seconds};
	}
}

sleep 1.1; # a flush of the request counts is due
$r = $s->req(GET => '/v1/usage/summary');
is($r->{status}, 200, 'summary');
my $sum = $r->{json};
is($sum->{run_count}, 4, 'run_count: the runs queued (not the one created without executing)');
is($sum->{task_count}, 7, 'task_count: every step that ran');
ok(abs($sum->{compute_seconds} - $secs) < 0.01, "compute_seconds: the steps' durations ($secs)")
	or diag("$sum->{compute_seconds} vs $secs");
is($sum->{error_count}, 1, 'error_count: the failed run');
like($sum->{period_start}, qr/^\d{4}-\d\d-01T00:00:00Z$/, 'period_start: the first of the month');
like($sum->{period_end}, qr/^\d{4}-\d\d-(28|29|30|31)T23:59:59Z$/, 'period_end: its last second');
ok($sum->{api_call_count} > 0, 'API requests counted');
my $expect = int((4 * 0.5 + $sum->{compute_seconds} * 0.01 + $sum->{api_call_count} / 1000) * 100 + 0.5) / 100;
ok(abs($sum->{estimated_cost_usd} - $expect) < 0.011, 'estimated cost from the prices')
	or diag("$sum->{estimated_cost_usd} vs $expect");

# --- timeseries ---------------------------------------------------------------------------
$r = $s->req(GET => '/v1/usage/timeseries');
is($r->{status}, 200, 'timeseries');
my @days = @{ $r->{json}{items} };
is($days[0]{date}, substr($sum->{period_start}, 0, 10), 'from the start of the period');
is($days[-1]{date}, $today, 'to today, one item a day');
is($days[-1]{run_count}, 4, "today's runs");
is($days[-1]{task_count}, 7, "today's tasks");
is($days[-1]{error_count}, 1, "today's errors");
ok(exists $days[-1]{cost_usd}, 'cost_usd');
$r = $s->req(GET => "/v1/usage/timeseries?start_date=$today&end_date=$today&granularity=hour");
is($r->{status}, 200, 'hourly timeseries');
is(scalar @{ $r->{json}{items} }, 24, 'a day of hours');
like($r->{json}{items}[0]{hour}, qr/^${today}T00:00:00Z$/, 'hour buckets');
my $hsum = 0;
$hsum += $_->{run_count} for @{ $r->{json}{items} };
is($hsum, 4, 'the hours add up');
for my $bad (['start_date=yesterday', 'start_date'], ['start_date=2026-02-30', 'start_date'],
	["start_date=$today&end_date=2020-01-01", 'end_date'], ['granularity=week', 'granularity'],
	['start_date=2020-01-01&end_date=2026-01-01', 'end_date'],
	['start_date=2026-01-01&end_date=2026-03-01&granularity=hour', 'end_date']) {
	$r = $s->req(GET => "/v1/usage/timeseries?$bad->[0]");
	is($r->{status}, 400, "timeseries?$bad->[0]: 400");
	ok(exists $r->{json}{details}{ $bad->[1] }, "naming $bad->[1]");
}

# --- costs and the dashboard ----------------------------------------------------------------
$r = $s->req(GET => "/v1/usage/costs?start_date=$today&end_date=$today");
is($r->{status}, 200, 'costs');
my %by_flow = map { $_->{flow_name} => $_ } @{ $r->{json}{by_flow} };
is($by_flow{'usage-a'}{run_count}, 3, 'by flow: runs');
is($by_flow{'usage-b'}{run_count}, 1, 'by flow: runs of the other');
is($by_flow{'usage-a'}{task_count}, 6, 'by flow: tasks');
my $cost_a = int((3 * 0.5 + $flow_secs{'usage-a'} * 0.01) * 100 + 0.5) / 100;
ok(abs($by_flow{'usage-a'}{cost_usd} - $cost_a) < 0.011, 'by flow: cost') or diag(explain($by_flow{'usage-a'}));
is_deeply([map { [$_->{executor}, $_->{task_count}] } @{ $r->{json}{by_executor} }], [['local', 7]],
	'by executor');
ok(abs($r->{json}{total_cost_usd} - $sum->{estimated_cost_usd}) < 0.03, 'the total matches the summary');
is($s->req(GET => '/v1/usage/costs?end_date=soon')->{status}, 400, 'costs: a bad date is a 400');
$r = $s->req(GET => '/v1/usage/dashboard');
is($r->{status}, 200, 'dashboard');
is($r->{json}{summary}{run_count}, 4, 'dashboard summary');
is($r->{json}{timeseries}[-1]{run_count}, 4, 'dashboard timeseries');
is($r->{json}{quota}{plan}, 'free', 'dashboard quota');
is_deeply([map { [$_->{flow_name}, $_->{run_count}] } @{ $r->{json}{top_flows} }],
	[['usage-a', 3], ['usage-b', 1]], 'top flows by runs');
$r = $s->req(GET => '/v1/usage/quota');
is($r->{json}{limits}{monthly_runs}, undef, 'the free plan is unlimited by default');
ok(!$r->{json}{over_limit} && !$r->{json}{warning}, 'so never over');
is($r->{json}{current_usage}{monthly_runs}, 4, 'but usage is shown');

my $reader = $s->user_key('reader@example.com', 'viewer', scopes => 'flows.read');
is($s->as($reader, GET => '/v1/usage/summary')->{status}, 403, 'without billing.read: 403');

# --- a plan with a run quota, and API requests counted exactly ---------------------------------
$s->cli('user', 'add', 'meter@example.com', '--password', 'pw');
$s->cli('org', 'add', 'meter', '--owner', 'meter@example.com', '--plan', 'starter');
my $km = $s->user_key('meter@example.com', undef, org => 'meter');
my $calls = 0;
sub m_req { $calls++; return $s->as($km, @_) }
is(m_req(POST => '/v1/flows', { flow_name => 'quick', flow_spec => { nodes => [
	{ id => 'q', type => 'shell', config => { command => 'true' } }] } })->{status}, 201, 'a flow in the metered org');
is(m_req(POST => '/v1/runs', { flow_name => 'quick' })->{status}, 202, 'run 1 of 2');
is(m_req(POST => '/v1/runs', { flow_name => 'quick' })->{status}, 202, 'run 2 of 2');
$r = m_req(POST => '/v1/runs', { flow_name => 'quick' });
is($r->{status}, 429, 'run 3: 429');
is($r->{json}{error}, 'quota_exceeded', 'quota_exceeded');
is($r->{json}{details}{quota}, 'monthly_runs', 'naming the quota');
is($r->{json}{limit}, 2, 'limit');
is($r->{json}{current_usage}, 2, 'current_usage');
like($r->{json}{reset_at}, qr/^\d{4}-\d\d-01T00:00:00Z$/, 'reset_at: next month');
ok($r->{headers}{'retry-after'} > 0, 'Retry-After until then');
$r = m_req(POST => '/api/v1/dags/quick/run', {});
is($r->{status}, 429, "daggle's trigger is refused too");
like($r->{json}{error}, qr/monthly_runs quota of 2 reached/, 'in its dialect');
$r = m_req(GET => '/v1/usage/quota');
is($r->{json}{plan}, 'starter', 'quota: the plan');
is($r->{json}{limits}{monthly_runs}, 2, 'quota: the limit');
is($r->{json}{current_usage}{monthly_runs}, 2, 'quota: the usage');
is($r->{json}{percentages}{monthly_runs}, 100, 'quota: 100%');
ok($r->{json}{over_limit} && $r->{json}{warning}, 'over the limit');

# A schedule of that org: its slots are recorded as skipped, not run.
$r = m_req(POST => '/v1/schedules', { schedule_id => 'every-second', flow_name => 'quick',
	mode => 'interval', interval_seconds => 1 });
is($r->{status}, 201, 'an interval schedule over quota');
my $org = $s->org_id('meter');
my $deadline = time + 20;
sleep 0.2 while time < $deadline
	&& !($s->sql("SELECT COUNT(*) FROM schedule_skips WHERE org_id = $org"))[0];
ok(($s->sql("SELECT COUNT(*) FROM schedule_skips WHERE org_id = $org AND reason = 'quota_exceeded'"
	. " AND quota = 'monthly_runs'"))[0] > 0, 'the slot is recorded as skipped, with the reason');
$r = m_req(GET => '/v1/audit-logs/resource/schedule/every-second');
my ($skip) = grep { $_->{action} eq 'schedule.skip' } @{ $r->{json}{items} };
ok($skip, 'and in the audit trail of the schedule');
is($skip->{changes}{reason}, 'quota_exceeded', 'with the reason');
is($skip->{changes}{quota}, 'monthly_runs', 'and the quota');
is(($s->sql("SELECT COUNT(*) FROM runs r JOIN schedules s ON s.id = r.schedule_id"
	. " WHERE s.public_id = 'every-second'"))[0], 0, 'no run was created');

sleep 1.3;
$r = m_req(GET => '/v1/usage/summary');
is($r->{json}{run_count}, 2, 'the org sees its own runs only');
is($r->{json}{api_call_count}, $calls - 1, 'API requests: exactly the ones made before this one');

# Runs a webhook starts count against the org's plan too.
$r = m_req(POST => '/v1/sensors', { name => 'hook', sensor_type => 'webhook', flow_name => 'quick' });
is($r->{status}, 201, 'a webhook sensor in the org at its quota');
$r = $s->req(POST => "/v1/webhooks/$r->{json}{webhook_token}", {}, { Authorization => undef });
is($r->{status}, 429, 'its webhook is refused: 429');
is($r->{json}{details}{quota}, 'monthly_runs', 'naming the quota');

# --- a concurrency quota ---------------------------------------------------------------------
$s->cli('user', 'add', 'conc@example.com', '--password', 'pw');
$s->cli('org', 'add', 'conc', '--owner', 'conc@example.com', '--plan', 'professional');
my $kc = $s->user_key('conc@example.com', undef, org => 'conc');
$s->as($kc, POST => '/v1/flows', { flow_name => 'slow', flow_spec => { nodes => [
	{ id => 'z', type => 'shell', config => { command => 'sleep 2' } }] } });
$r = $s->as($kc, POST => '/v1/runs', { flow_name => 'slow' });
is($r->{status}, 202, 'one run at a time');
my $first = $r->{json}{run_id};
$r = $s->as($kc, POST => '/v1/runs', { flow_name => 'slow' });
is($r->{status}, 429, 'a second while it runs: 429');
is($r->{json}{details}{quota}, 'concurrent_runs', 'concurrent_runs');
is($r->{json}{reset_at}, undef, 'no reset date for concurrency');
$deadline = time + 30;
sleep 0.1 while time < $deadline
	&& $s->as($kc, GET => "/v1/runs/$first")->{json}{status} !~ /^(completed|failed|cancelled)$/;
$r = $s->as($kc, POST => '/v1/runs', { flow_name => 'slow' });
is($r->{status}, 202, 'once it ended, another');

$s->finish;
done_testing;
