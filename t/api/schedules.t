# Schedules through the API and fired by real workers: intervals with two
# workers racing, one-time, deployments, catch-up policies, time zones.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time sleep);
use POSIX qw(strftime);
use DagyTest;

my $s = DagyTest->start(workers => 2, conf => ['catchup_max = 3']);
my $r;

sub iso { strftime('%Y-%m-%dT%H:%M:%SZ', gmtime(shift)) }
sub runs_of {
	my ($flow) = @_;
	return [ $s->sql("SELECT DATE_FORMAT(r.scheduled_for, '%Y-%m-%dT%H:%i:%sZ'), r.trigger_type,"
		. " TIMESTAMPDIFF(MICROSECOND, r.scheduled_for, r.created_at) / 1e6"
		. " FROM runs r JOIN flows f ON f.id = r.flow_id WHERE f.name = '$flow' ORDER BY r.id") ];
}

$s->flow($_, [['hi', 'echo hi']], params => { who => { default => 'world' } }) for
	qw(tick once deployed api catch-all catch-skip catch-none);

# --- create, read, list -----------------------------------------------------------------
$r = $s->req(POST => '/v1/schedules', { schedule_id => 'daily-etl', flow_name => 'api', mode => 'cron',
	cron_expression => '30 2 * * *', timezone => 'America/New_York', catchup_policy => 'skip',
	enabled => JSON::PP::false, start_at => '2025-03-08T12:00:00Z', parameters => { who => 'ops' } });
is($r->{status}, 201, 'create a cron schedule');
is($r->{json}{schedule_id}, 'daily-etl', 'schedule_id');
is($r->{json}{next_run_at}, '2025-03-09T07:00:00Z',
	'next_run_at in the zone: 02:30 on the spring-forward day fires right after the gap');
ok(!$r->{json}{enabled}, 'disabled');
is_deeply($r->{json}{parameters}, { who => 'ops' }, 'parameters');
is($s->req(POST => '/v1/schedules', { schedule_id => 'daily-etl', flow_name => 'api', mode => 'manual' })->{status},
	409, 'the same schedule_id: 409');
$r = $s->req(POST => '/v1/schedules', { flow_name => 'api', mode => 'manual' });
is($r->{status}, 201, 'a manual schedule, id generated');
like($r->{json}{schedule_id}, qr/^sched_/, 'generated id');
is($r->{json}{next_run_at}, undef, 'manual never fires by itself');
my $manual = $r->{json}{schedule_id};

my @bad = (
	[{ mode => 'cron', cron_expression => '61 * * * *' }, 'cron_expression'],
	[{ mode => 'cron', cron_expression => '0 0 30 2 *' }, 'cron_expression'],
	[{ mode => 'cron' }, 'cron_expression'],
	[{ mode => 'interval' }, 'interval_seconds'],
	[{ mode => 'interval', interval_seconds => 0 }, 'interval_seconds'],
	[{ mode => 'one_time' }, 'start_at'],
	[{ mode => 'weekly' }, 'mode'],
	[{ mode => 'cron', cron_expression => '@daily', timezone => 'Mars/Olympus' }, 'timezone'],
	[{ mode => 'cron', cron_expression => '@daily', catchup_policy => 'some' }, 'catchup_policy'],
	[{ mode => 'one_time', start_at => 'tomorrow' }, 'start_at'],
	[{ mode => 'manual', parameters => { nope => 1 } }, 'parameters'],
	[{ mode => 'interval', interval_seconds => 5, start_at => '2030-01-02T00:00:00Z',
		end_at => '2030-01-01T00:00:00Z' }, 'end_at'],
);
for my $b (@bad) {
	$r = $s->req(POST => '/v1/schedules', { flow_name => 'api', %{ $b->[0] } });
	is($r->{status}, 400, "400 for a bad $b->[1]");
	ok(exists $r->{json}{details}{ $b->[1] }, "naming $b->[1]") or diag($r->{body});
}
like($s->req(POST => '/v1/schedules', { flow_name => 'api', mode => 'cron', cron_expression => '0 0 30 2 *' })
	->{json}{message}, qr/never occurs/, 'and saying why');
is($s->req(POST => '/v1/schedules', { flow_name => 'ghost', mode => 'manual' })->{status}, 404, 'unknown flow: 404');

$r = $s->req(GET => '/v1/schedules/daily-etl');
is($r->{status}, 200, 'get');
is($r->{json}{catchup_policy}, 'skip', 'catchup_policy');
is($r->{json}{last_run_at}, undef, 'no run yet');
is($s->req(GET => '/v1/schedules/nope')->{status}, 404, 'unknown: 404');
$r = $s->req(GET => '/v1/schedules?mode=manual');
is_deeply([map { $_->{schedule_id} } @{ $r->{json}{items} }], [$manual], 'filter by mode');
$r = $s->req(GET => '/v1/schedules?enabled=false');
is_deeply([map { $_->{schedule_id} } @{ $r->{json}{items} }], ['daily-etl'], 'filter by enabled');
$r = $s->req(GET => '/v1/schedules?flow_name=api&limit=1');
is(scalar @{ $r->{json}{items} }, 1, 'limit');
ok($r->{json}{next_token}, 'and a next_token');
is($s->req(GET => '/v1/schedules?enabled=maybe')->{status}, 400, 'bad enabled filter: 400');

# --- PATCH recomputes -----------------------------------------------------------------------
$r = $s->req(PATCH => '/v1/schedules/daily-etl', { cron_expression => '0 6 * * *', timezone => 'Europe/London',
	description => 'morning' });
is($r->{status}, 200, 'patch');
is($r->{json}{next_run_at}, '2025-03-09T06:00:00Z', 'next_run_at recomputed in the new zone, from start_at');
is($r->{json}{description}, 'morning', 'description');
is($s->req(PATCH => '/v1/schedules/daily-etl', { cron_expression => 'soon' })->{status}, 400, 'bad patch: 400');
is($s->req(PATCH => '/v1/schedules/daily-etl', { flow_name => 'x' })->{status}, 400, 'flow_name cannot change');
is($s->req(PATCH => '/v1/schedules/nope', { enabled => JSON::PP::true })->{status}, 404, 'patch unknown: 404');

# --- manual trigger ------------------------------------------------------------------------
$r = $s->req(POST => "/v1/schedules/$manual/trigger", { parameters => { who => 'you' } });
is($r->{status}, 202, 'trigger');
is($r->{json}{schedule_id}, $manual, 'names its schedule');
my $run = $s->wait_run($r->{json}{run_id}, 20);
is_deeply($run->{parameters}, { who => 'you' }, 'with the given parameters');
is($s->req(GET => "/v1/schedules/$manual")->{json}{last_run_id}, $r->{json}{run_id}, 'last_run_id');
is($s->req(POST => '/v1/schedules/nope/trigger', {})->{status}, 404, 'trigger unknown: 404');

# --- firing: interval with two workers, one-time, deployment ------------------------------------
my $t0 = time;
$r = $s->req(POST => '/v1/schedules', { schedule_id => 'tick', flow_name => 'tick', mode => 'interval',
	interval_seconds => 2 });
is($r->{status}, 201, 'an every-2-seconds schedule');
$s->req(POST => '/v1/schedules', { schedule_id => 'once', flow_name => 'once', mode => 'one_time',
	start_at => iso(int($t0) + 2) });
$s->req(POST => '/v1/deployments', { name => 'deployed-prod', flow_name => 'deployed', schedule => '2s' });
sleep 7.2 - (time - $t0);
my $tick = runs_of('tick');
cmp_ok(scalar @$tick, '>=', 3, scalar(@$tick) . ' runs of the interval schedule in 7 s');
my %slot;
$slot{ $_->[0] }++ for map { [split /\t/] } @$tick;
is(scalar(grep { $_ > 1 } values %slot), 0, 'no slot fired twice with two workers racing');
my @fired = map { [split /\t/] } @$tick;
ok(!(grep { $_->[2] > 1.0 } @fired), 'each fired within a second of its slot')
	or diag(join ' ', map { $_->[2] } @fired);
is((grep { $_->[1] ne 'schedule' } @fired), 0, 'as schedule runs');
my $once = runs_of('once');
is(scalar @$once, 1, 'the one-time schedule fired once');
$r = $s->req(GET => '/v1/schedules/once');
is($r->{json}{next_run_at}, undef, 'and has no next run');
like($r->{json}{last_run_id}, qr/^run_/, 'its last_run_id');
cmp_ok(scalar @{ runs_of('deployed') }, '>=', 2, "a deployment's schedule fires through the same machinery");
$s->req(PUT => '/v1/deployments/deployed-prod/settings', { schedule => '' });
$s->req(PATCH => '/v1/schedules/tick', { enabled => JSON::PP::false });
sleep 0.5;
my ($n_tick, $n_dep) = (scalar @{ runs_of('tick') }, scalar @{ runs_of('deployed') });
sleep 2.5;
is(scalar @{ runs_of('tick') }, $n_tick, 'a disabled schedule stops');
is(scalar @{ runs_of('deployed') }, $n_dep, 'a removed deployment schedule stops');
$r = $s->req(GET => '/v1/runs?flow_name=tick&limit=1');
my $detail = $s->req(GET => "/v1/runs/$r->{json}{items}[0]{run_id}")->{json};
is($detail->{trigger}, 'schedule', 'run trigger');
like($detail->{scheduled_for}, qr/Z$/, 'run scheduled_for');
is_deeply($detail->{parameters}, { who => 'world' }, 'flow defaults apply to scheduled runs');

# --- catch-up after downtime ---------------------------------------------------------------------
$s->worker_stop(1);
$s->worker_stop(2);
# Slots every 100 s from 1080 s ago: the latest was 80 s ago, past the
# 60 s misfire grace, and the next is 20 s ahead.
my $back = int(time) - 1080;
for my $p (qw(all skip none)) {
	$r = $s->req(POST => '/v1/schedules', { schedule_id => "catch-$p", flow_name => "catch-$p",
		mode => 'interval', interval_seconds => 100, start_at => iso($back), catchup_policy => $p });
	is($r->{json}{next_run_at}, iso($back), "catch-$p: the first slot is in the past");
}
$s->worker_start(1);
my $deadline = time + 10;
sleep 0.2 until $s->req(GET => '/v1/schedules/catch-none')->{json}{next_run_at} gt iso(time) || time > $deadline;
sleep 0.5;
is(scalar @{ runs_of('catch-all') }, 3, 'all: every missed slot, capped at catchup_max (3)');
is_deeply([map { (split /\t/)[0] } @{ runs_of('catch-all') }], [map { iso($back + $_ * 100) } 8 .. 10],
	'the latest three');
is(scalar @{ runs_of('catch-skip') }, 1, 'skip: only the latest missed slot');
is((split /\t/, runs_of('catch-skip')->[0])[0], iso($back + 1000), 'which is the latest');
is(scalar @{ runs_of('catch-none') }, 0, 'none: no missed slot runs');
is($s->req(GET => '/v1/schedules/catch-none')->{json}{next_run_at}, iso($back + 1100),
	'and it waits for the next one');
like(join('', `cat @{[$s->dir]}/dagy.log`), qr/catch-up is capped at 3/, 'the cap is logged');

# --- permissions, tenants, delete -------------------------------------------------------------------
my $viewer = $s->user_key('viewer@dagy.local', 'viewer');
is($s->as($viewer, GET => '/v1/schedules')->{status}, 200, 'a viewer lists schedules');
is($s->as($viewer, POST => '/v1/schedules', { flow_name => 'api', mode => 'manual' })->{status}, 403,
	'but cannot create');
my $dev = $s->user_key('dev@dagy.local', 'developer');
$r = $s->as($dev, DELETE => '/v1/schedules/daily-etl');
is($r->{status}, 403, 'deleting needs schedules.delete, which developers lack');
$s->cli('user', 'add', 'eve@evil.com');
$s->cli('org', 'add', 'Evil', '--owner', 'eve@evil.com');
my (undef, $eve) = $s->cli('key', 'create', '--org', 'Evil', '--user', 'eve@evil.com');
chomp $eve;
is($s->as($eve, GET => '/v1/schedules/daily-etl')->{status}, 404, "another org's schedule: 404");
is($s->as($eve, POST => '/v1/schedules/daily-etl/trigger', {})->{status}, 404, 'cannot be triggered');
$r = $s->req(DELETE => '/v1/schedules/daily-etl');
is($r->{status}, 200, 'delete');
is($s->req(GET => '/v1/schedules/daily-etl')->{status}, 404, 'gone');
is($s->req(DELETE => '/v1/schedules/daily-etl')->{status}, 404, 'delete again: 404');

$s->finish;
done_testing;
