# Steps handed to the launcher beyond the worker's concurrency wait there
# for a slot: they never run more at once than concurrency, their timeout
# counts from their own start, and a cancel drops them before they start.
# A short step's pipes are read at its exit, not watched: nothing it wrote
# is lost, however much, and a process it leaves behind is still heard.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time sleep);
use File::Temp qw(tempdir);
use Time::Local qw(timegm);
use DagyTest;

my $s = DagyTest->start(conf => ['concurrency = 1']);
my $tmp = tempdir(CLEANUP => 1);
chmod 0777, $tmp;

sub stamp { my ($name, $cmd) = @_; return "date +%s.%N > $tmp/$name.start; $cmd; date +%s.%N > $tmp/$name.end" }
sub slurp { open my $f, '<', shift or return; local $/; my $v = <$f>; chomp $v if defined $v; return $v }

# --- one at a time; the queued step's clock starts with it -----------------------------------
$s->flow('queued', [
	['first', stamp('first', 'sleep 1.5')],
	['second', stamp('second', 'sleep 0.2'), undef, { timeout_seconds => 1 }],
	['third', stamp('third', 'true')],
]);
my $id = $s->trigger('queued');
my $run = $s->wait_run($id, 30);
is($run->{status}, 'completed', 'a step queued behind a longer one than its timeout completes');
my $steps = $s->steps($id);
is($steps->{$_}{status}, 'success', "$_ succeeded") for qw(first second third);
my @spans = sort { $a->[0] <=> $b->[0] } map { [slurp("$tmp/$_.start"), slurp("$tmp/$_.end"), $_] }
	qw(first second third);
my $overlap = 0;
for my $i (1 .. $#spans) { $overlap ||= $spans[$i][0] < $spans[$i - 1][1] }
ok(!$overlap, 'concurrency 1: no two steps ran at once ('
	. join(', ', map { sprintf('%s %.2f-%.2f', $_->[2], $_->[0] - $spans[0][0], $_->[1] - $spans[0][0]) } @spans) . ')');

# The recorded start is the process's, not the hand-over's (the API gives
# whole seconds: up to one before the process's own stamp).
sub epoch {
	my ($t) = @_;
	return undef unless ($t // '') =~ /^(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)(\.\d+)?Z$/;
	return timegm($6, $5, $4, $3, $2 - 1, $1) + ($7 // 0);
}
for my $st (@spans) {
	my $at = epoch($steps->{$st->[2]}{started_at});
	ok(defined $at && $at > $st->[0] - 1.05 && $at <= $st->[0] + 0.05,
		sprintf('%s: started_at %s is when its process started (%.2f s before it)', $st->[2],
		$steps->{$st->[2]}{started_at} // 'none', defined $at ? $st->[0] - $at : -1));
}

# --- a cancel drops what waits for a slot ---------------------------------------------------
$s->flow('blocked', [
	['hold', "echo \$\$ > $tmp/hold.pid; exec sleep 60"],
	['waiting', "touch $tmp/waiting-ran"],
]);
$id = $s->trigger('blocked');
my $deadline = time + 15;
sleep 0.05 until -s "$tmp/hold.pid" || time > $deadline;
ok(-s "$tmp/hold.pid", 'the first step runs');
my $t0 = time;
is($s->req(POST => "/v1/runs/$id/cancel")->{status}, 200, 'cancel');
$deadline = time + 10;
sleep 0.05 until ($s->steps($id)->{waiting}{status} // '') eq 'cancelled'
	&& ($s->steps($id)->{hold}{status} // '') eq 'cancelled' || time > $deadline;
$steps = $s->steps($id);
is($steps->{hold}{status}, 'cancelled', 'the running step is cancelled');
is($steps->{waiting}{status}, 'cancelled', 'the queued one too');
cmp_ok(time - $t0, '<', 3, 'within 3 s');
sleep 0.3;
ok(!-e "$tmp/waiting-ran", 'the queued step never started');

# --- output of steps whose pipes are read at their exit ----------------------------------
$s->flow('output', [
	['small', 'echo one; echo two >&2'],
	['big', 'seq 1 20000'],
	# The step ends once the daemon has left its group, which its end kills.
	['daemon', "setsid sh -c 'touch $tmp/daemon-ready; sleep 0.3; echo late' &"
		. " while [ ! -e $tmp/daemon-ready ]; do sleep 0.01; done; echo early"],
]);
$id = $s->trigger('output');
is($s->wait_run($id, 30)->{status}, 'completed', 'the output run completes');
my %lines;
for my $row ($s->sql("SELECT st.step_id, l.stream, l.line FROM step_logs l JOIN runs r ON r.id = l.run_id"
	. " JOIN step_runs st ON st.run_id = r.id AND st.step_id = l.step_id WHERE r.public_id = '$id' ORDER BY l.id")) {
	my ($step, $stream, $line) = split /\t/, $row, 3;
	push @{ $lines{"$step/$stream"} }, $line;
}
is_deeply($lines{'small/1'}, ['one'], 'stdout of a short step');
is_deeply($lines{'small/2'}, ['two'], 'and its stderr');
my $big = $lines{'big/1'} // [];
is(scalar @$big, 20000, 'a short step that fills the pipe three times over: every line');
is($big->[-1], '20000', 'in order, to the last');
is_deeply($lines{'daemon/1'}, ['early', 'late'], 'what a process it started outside its group writes after its exit is kept');

# --- a stopping worker starts nothing that waited in its launcher --------------------------
$s->flow('stopping', [
	['a_long', "echo \$\$ > $tmp/long.pid; sleep 1.5"],
	['b_later', "echo ran >> $tmp/later-ran"],
]);
$id = $s->trigger('stopping');
$deadline = time + 15;
sleep 0.05 until -s "$tmp/long.pid" || time > $deadline;
ok(-s "$tmp/long.pid", 'the long step runs, the other waits for the slot');
$s->worker_stop(1);
ok(!-e "$tmp/later-ran", 'a worker told to stop lets the running step end but starts no waiting one');
$steps = $s->steps($id);
is($steps->{a_long}{status}, 'success', 'the running step finished within the grace');
is($steps->{b_later}{status}, 'pending', 'the waiting one is still to run');
$s->worker_start(1);
is($s->wait_run($id, 30)->{status}, 'completed', 'the next worker completes the run');
is(scalar(() = do { open my $f, '<', "$tmp/later-ran"; <$f> }), 1, 'running the waiting step once');

# The slot is free again: the next run starts and completes.
$s->flow('after', [['ok', 'true']]);
is($s->wait_run($s->trigger('after'), 20)->{status}, 'completed', 'the worker goes on');

$s->finish;
done_testing;
