# Workers killed with SIGKILL: no process of their steps survives them, the
# interrupted step runs again as its next attempt, and under repeated kills
# every run completes without re-running a step recorded as succeeded.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time sleep);
use File::Temp qw(tempdir);
use JSON::PP;
use DagyTest;

my $s = DagyTest->start(workers => 1);
my $tmp = tempdir(CLEANUP => 1);
chmod 0777, $tmp;

sub lines { open my $f, '<', shift or return (); my @l = <$f>; chomp @l; return @l }
sub alive { my $pid = shift; return kill(0, $pid) && `cat /proc/$pid/stat 2>/dev/null` !~ /^\d+ \(.*\) Z/ }

# --- kill -9 during a step whose command spawns a grandchild -------------------------------------
$s->flow('orphans', [['spawner',
	"sleep 300 & echo \$! > $tmp/grandchild; echo \$\$ > $tmp/child.\$DAGY_RUN_ID; sleep 1"]],
	);
my $id = $s->trigger('orphans');
my $deadline = time + 10;
sleep 0.05 until (-s "$tmp/grandchild" && -s "$tmp/child.$id") || time > $deadline;
my ($grandchild) = lines("$tmp/grandchild");
my ($child) = lines("$tmp/child.$id");
ok($grandchild && alive($grandchild), "the step's grandchild $grandchild runs");
my ($launcher) = `pgrep -P @{[ $s->worker_pid(1) ]}` =~ /(\d+)/;
ok($s->worker_stop(1, 'KILL'), 'the worker is killed with SIGKILL');
my $gone_by = time + 2;
sleep 0.05 while (alive($grandchild) || alive($child) || alive($launcher)) && time < $gone_by;
ok(!alive($grandchild), 'within 2 s the grandchild is gone');
ok(!alive($child), 'and so is the step itself');
ok($launcher && !alive($launcher), 'and the worker\'s launcher');
unlink "$tmp/grandchild";
ok($s->worker_start(2), 'a second worker starts');
my $run = $s->wait_run($id, 30);
is($run->{status}, 'completed', 'the second worker finishes the run');
is($s->steps($id)->{spawner}{attempt}, 2, 'the re-run is recorded as attempt 2');
ok(-s "$tmp/grandchild", 'the step really ran again');
($grandchild) = lines("$tmp/grandchild");
sleep 0.05 while alive($grandchild) && time < $gone_by + 3;
ok(!alive($grandchild), "a finished step's leftover process is killed too");

# --- the launcher killed: the worker stops its steps and gives the run back -----------------------
$s->flow('headless', [['nap', "echo \$\$ >> $tmp/headless.pids; sleep 2"]]);
$id = $s->trigger('headless');
$deadline = time + 10;
sleep 0.05 until -s "$tmp/headless.pids" || time > $deadline;
my ($worker2) = $s->worker_pid(2);
my ($launcher2) = `pgrep -P $worker2` =~ /(\d+)/;
kill 'KILL', $launcher2;
my ($first_nap) = lines("$tmp/headless.pids");
$deadline = time + 5;
sleep 0.05 while (alive($first_nap) || alive($worker2)) && time < $deadline;
ok(!alive($first_nap), 'with its launcher killed, the worker kills the step itself');
ok(!alive($worker2), 'and stops');
like(join('', `grep -h 'launcher is gone' @{[ $s->dir ]}/dagy.log`), qr/launcher is gone/, 'saying why');
$s->worker_start(2);
is($s->wait_run($id, 30)->{status}, 'completed', 'the run it gave back completes on a new worker');
is(scalar(lines("$tmp/headless.pids")), 2, 'its step ran again');

# --- a run bearing the worker's name that it does not hold (a claim whose COMMIT answer was lost)
$s->flow('ghost', [['one', 'true']]);
my $ghost = $s->req(POST => '/v1/runs', { flow_name => 'ghost', execute => JSON::PP::false })->{json}{run_id};
my ($wname) = $s->sql("SELECT name FROM workers ORDER BY heartbeat_at DESC LIMIT 1");
$s->sql("UPDATE runs SET status = 'running', worker_id = '$wname',"
	. " lease_expires_at = UTC_TIMESTAMP(6) + INTERVAL 1 HOUR WHERE public_id = '$ghost'");
is($s->wait_run($ghost, 15)->{status}, 'completed',
	'a run claimed under the worker\'s name but not held is given back and runs');
like(join('', `grep -h 'gave back' @{[ $s->dir ]}/dagy.log`), qr/gave back 1 run/, 'saying so');

# --- a run taken away, and a run deleted, while their steps run ---------------------------------
$s->flow('taken', [['nap', "echo \$\$ > $tmp/taken.pid; sleep 30"]]);
$id = $s->trigger('taken');
$deadline = time + 10;
sleep 0.05 until -s "$tmp/taken.pid" || time > $deadline;
my ($napper) = lines("$tmp/taken.pid");
$s->sql("UPDATE runs SET worker_id = 'another:1' WHERE public_id = '$id'");
$deadline = time + 5;
sleep 0.05 while alive($napper) && time < $deadline;
ok(!alive($napper), 'a run that is no longer the worker\'s has its steps stopped');
like(join('', `grep -h 'no longer' @{[ $s->dir ]}/dagy.log`), qr/run \Q$id\E is no longer/,
	'and the worker says why');
$s->sql("UPDATE runs SET status = 'cancelled', worker_id = NULL WHERE public_id = '$id'");

$s->flow('doomed', [['nap', "echo \$\$ > $tmp/doomed.pid; sleep 30"], ['after', 'true', ['nap']]]);
$id = $s->trigger('doomed');
$deadline = time + 10;
sleep 0.05 until -s "$tmp/doomed.pid" || time > $deadline;
($napper) = lines("$tmp/doomed.pid");
is($s->req(DELETE => '/v1/flows/doomed')->{status}, 200, 'its flow is deleted while it runs');
$deadline = time + 5;
sleep 0.05 while alive($napper) && time < $deadline;
ok(!alive($napper), 'the deleted run\'s step is stopped');
$s->flow('later', [['one', 'true']]);
is($s->wait_run($s->trigger('later'), 20)->{status}, 'completed', 'and the worker goes on with other runs');

# --- fault loop: 20 SIGKILLs at random moments while 50 runs of 5 steps go on --------------------
# Each step appends "run step" to a file. After each kill, whatever the
# database holds as succeeded must not run again.
my $ledger = "$tmp/ledger";
$s->flow('five', [
	['s1', "echo \"\$DAGY_RUN_ID s1\" >> $ledger; sleep 0.2"],
	['s2', "echo \"\$DAGY_RUN_ID s2\" >> $ledger; sleep 0.3", ['s1']],
	['s3', "echo \"\$DAGY_RUN_ID s3\" >> $ledger; sleep 0.1", ['s1']],
	['s4', "echo \"\$DAGY_RUN_ID s4\" >> $ledger", ['s2', 's3']],
	['s5', "echo \"\$DAGY_RUN_ID s5\" >> $ledger; sleep 0.1", ['s4']],
]);
my @ids = map { $s->trigger('five') } 1 .. 50;
$s->worker_start(3);
my %frozen;    # "run step" recorded as succeeded => times it had run then
my $start = time;
srand(12);
for my $i (1 .. 20) {
	sleep(0.2 + rand(1.2));
	my $n = (2, 3)[ int rand 2 ];
	$s->worker_stop($n, 'KILL');
	# What is recorded first, then what ran: a step that succeeds in
	# between is not frozen yet.
	my @done = $s->sql("SELECT CONCAT(r.public_id, ' ', s.step_id) FROM step_runs s
			JOIN runs r ON r.id = s.run_id JOIN flows f ON f.id = r.flow_id
			WHERE f.name = 'five' AND s.status = 'success'");
	my %count;
	$count{$_}++ for lines($ledger);
	$frozen{$_} //= $count{$_} // 0 for @done;
	$s->worker_start($n);
}
my $left = 120 - (time - $start);
my @statuses = map { $s->wait_run($_, $left > 20 ? $left : 20)->{status} } @ids;
is(scalar(grep { $_ eq 'completed' } @statuses), 50, 'every run completed');
my %count;
$count{$_}++ for lines($ledger);
my @again = grep { ($count{$_} // 0) != $frozen{$_} } sort keys %frozen;
is(scalar(@again), 0, 'no step recorded as succeeded ran again')
	or diag("ran again: @again[0 .. ($#again < 9 ? $#again : 9)]");
cmp_ok(scalar(keys %frozen), '>', 0, 'kills landed while steps were recorded as succeeded');
my @missing = grep { !$count{$_} } map { my $r = $_; map { "$r s$_" } 1 .. 5 } @ids;
is(scalar(@missing), 0, 'every step of every run ran');
ok(time - $start < 150, sprintf('the fault loop took %.0f s', time - $start));

$s->finish;
done_testing;
