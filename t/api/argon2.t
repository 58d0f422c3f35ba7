# argon2 verifications at once are bounded per host: with one slot, a
# login that finds it taken waits argon2_wait_ms and then gets 503.
use strict;
use warnings;
use Test::More;
use POSIX ();
use DagyTest;

# Costly hashes so that two logins surely overlap.
my $s = DagyTest->start(conf => ['[auth]', 'argon2_iterations = 12',
	'[limits]', 'argon2_concurrency = 1', 'argon2_wait_ms = 50']);

sub login {
	return $s->req(POST => '/v1/auth/login', { email => 'admin@dagy.local',
		password => $s->password }, { Authorization => undef });
}

# Both dagy-api processes get one login at the same moment.
my @kids;
for my $n (1 .. 2) {
	pipe(my $rd, my $wr) or die "pipe: $!";
	my $pid = fork // die "fork: $!";
	if (!$pid) {
		close $rd;
		my $r = login();
		print $wr "$r->{status} " . ($r->{headers}{'retry-after'} // '') . "\n";
		close $wr;
		POSIX::_exit(0); # not exit: the stack is the parent's to stop
	}
	close $wr;
	push @kids, [$pid, $rd];
}
my @got;
for my $k (@kids) {
	my $fh = $k->[1];
	chomp(my $line = <$fh> // '');
	push @got, $line;
	waitpid($k->[0], 0);
}
is_deeply([sort @got], ['200 ', '503 1'], 'one verifies, the other is told to retry in a second')
	or diag(explain(\@got));
is(login()->{status}, 200, 'alone, a login verifies');

$s->finish;
done_testing;
