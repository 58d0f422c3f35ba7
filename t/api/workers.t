# Several workers, crashes and shutdowns: a run survives its worker's
# death without re-running recorded steps, and every step of many runs
# across two workers runs exactly once.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time sleep);
use File::Temp qw(tempdir);
use DagyTest;

my $s = DagyTest->start(workers => 1);
my $tmp = tempdir(CLEANUP => 1);
chmod 0777, $tmp;

sub lines { open my $f, '<', shift or return (); my @l = <$f>; chomp @l; return @l }

# --- kill -9 of a worker mid-run ------------------------------------------------------------------
$s->flow('crashy', [
	['a', "echo a >> $tmp/marks"],
	['b', "echo b-start >> $tmp/marks; sleep 2; echo b-end >> $tmp/marks", ['a']],
	['c', "echo c >> $tmp/marks", ['b']],
]);
my $id = $s->trigger('crashy');
my $deadline = time + 10;
sleep 0.05 until (grep { $_ eq 'b-start' } lines("$tmp/marks")) || time > $deadline;
# b starts as soon as a exits; a's success is committed a moment later.
my $steps;
sleep 0.05 until ($steps = $s->steps($id))->{a}{status} eq 'success' || time > $deadline;
is($steps->{a}{status}, 'success', 'a is recorded as succeeded');
is($steps->{b}{status}, 'running', 'b is running');
my $first = $s->worker_pid(1);
ok($s->worker_stop(1, 'KILL'), "worker $first killed with SIGKILL");
ok($s->worker_start(2), 'a second worker starts');
my $run = $s->wait_run($id, 30);
is($run->{status}, 'completed', 'the second worker finishes the run');
my @marks = lines("$tmp/marks");
is(scalar(grep { $_ eq 'a' } @marks), 1, 'the step recorded as succeeded did not run again');
is(scalar(grep { $_ eq 'c' } @marks), 1, 'the last step ran once');
cmp_ok(scalar(grep { $_ eq 'b-start' } @marks), '>=', 2, 'the interrupted step ran again (at least once)');
$steps = $s->steps($id);
isnt($steps->{c}{worker}, "vm:$first", 'c ran on the second worker');
like(join(' ', `grep -h 're-queued' @{[$s->dir]}/dagy.log`), qr/re-queued 1 run/, 'the reaper said so');

# --- SIGTERM lets running steps finish ------------------------------------------------------------
$s->flow('polite', [['nap', "sleep 1; echo rested >> $tmp/polite"]]);
$id = $s->trigger('polite');
$s->wait_run($id, 10, 'running');
$deadline = time + 5;
sleep 0.05 until ($s->steps($id)->{nap}{status} // '') eq 'running' || time > $deadline;
my $second = $s->worker_pid(2);
ok($s->worker_stop(2, 'TERM'), 'SIGTERM to the worker');
is($s->req(GET => "/v1/runs/$id")->{json}{status}, 'completed', 'its running step finished first');
is_deeply([lines("$tmp/polite")], ['rested'], 'once');
my @workers = $s->sql("SELECT COUNT(*) FROM workers WHERE pid = $second");
is($workers[0], 0, 'a stopped worker deregisters');

# --- 200 runs across two workers ------------------------------------------------------------------
$s->flow('ledger', [
	['one', "echo \"\$DAGY_RUN_ID one\" >> $tmp/ledger"],
	['two', "echo \"\$DAGY_RUN_ID two\" >> $tmp/ledger", ['one']],
]);
$s->worker_start(3);
$s->worker_start(4);
my @ids = map { $s->trigger('ledger') } 1 .. 200;
my %done;
$deadline = time + 90;
while (keys %done < 200 && time < $deadline) {
	my $r = $s->req(GET => '/v1/runs?flow_name=ledger&status=completed&limit=100');
	my $tok;
	do {
		$done{ $_->{run_id} } = 1 for @{ $r->{json}{items} };
		$tok = $r->{json}{next_token};
		$r = $s->req(GET => "/v1/runs?flow_name=ledger&status=completed&limit=100&next_token=$tok") if $tok;
	} while ($tok);
	sleep 0.3 if keys %done < 200;
}
is(scalar(keys %done), 200, 'all 200 runs completed');
my @ledger = lines("$tmp/ledger");
my %count;
$count{$_}++ for @ledger;
is(scalar @ledger, 400, '400 steps ran');
is(scalar(grep { $count{$_} != 1 } keys %count), 0, 'every step exactly once');
my @hosts = $s->sql("SELECT COUNT(DISTINCT s.worker) FROM step_runs s JOIN runs r ON r.id = s.run_id"
	. " JOIN flows f ON f.id = r.flow_id WHERE f.name = 'ledger'");
is($hosts[0], 2, 'both workers took a share');

$s->finish;
done_testing;
