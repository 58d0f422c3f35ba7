# A trigger wakes the workers through their sockets in [worker] wake_dir;
# with polling every 10 s, a run that starts within a second was woken.
# Each sender remembers the sockets it found until the directory changes:
# a worker that restarts, or dies and leaves its socket behind, is still
# woken.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time sleep);
use DagyTest;

my $s = DagyTest->start(conf => ['poll_interval_ms = 10000']);
$s->flow('quick', [['only', 'true']]);

sub woken {
	my ($what) = @_;
	# Past a first claim at the worker's start, only a wake-up or a poll
	# 10 s later finds a new run.
	sleep 0.5;
	my $t0 = time;
	my $id = $s->trigger('quick');
	my $run = $s->wait_run($id, 20);
	my $took = time - $t0;
	is($run->{status}, 'completed', "$what: the run completes");
	cmp_ok($took, '<', 3, sprintf('%s: woken, not polled (%.2f s)', $what, $took));
}

woken('a running worker');
woken('the same worker again');

$s->worker_stop(1);
$s->worker_start(1);
woken('a restarted worker');

$s->worker_stop(1, 'KILL');
my @left = glob($s->dir . '/wake/worker-*.sock');
ok(scalar @left, 'a killed worker leaves its socket behind');
$s->worker_start(1);
woken('a worker started after one was killed');
ok(!grep({ -e $_ } @left), "the dead worker's socket is gone");

$s->finish;
done_testing;
