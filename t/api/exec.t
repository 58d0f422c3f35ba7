# Shell steps with and without shell syntax: a command of plain words runs
# without /bin/sh, the others under it, and each gives the same exit code,
# stdout and stderr as `sh -c` run by hand in the same directory.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use DagyTest;

my $s = DagyTest->start(workers => 1);
my $tmp = tempdir(CLEANUP => 1);
chmod 0777, $tmp;

# A script with #!, one without it (the shell runs those), and data to glob.
open my $f, '>', "$tmp/hello.sh" or die;
print $f "#!/bin/sh\necho \"hello \$1\"\necho warn >&2\nexit 3\n";
close $f;
open $f, '>', "$tmp/bare" or die;
print $f "echo bare script \$0\n";
close $f;
chmod 0755, "$tmp/hello.sh", "$tmp/bare";
for my $n (qw(a.txt b.txt c.log)) { open $f, '>', "$tmp/$n" or die; print $f "$n\n"; close $f }

my @cases = (
	# direct: plain words
	['true', 'true'],
	['false', 'false'],
	['expr', 'expr 6 \* 7 + 0'],
	['expr_plain', 'expr 40 + 2'],
	['cat', "cat $tmp/a.txt $tmp/b.txt"],
	['missing_file', "cat $tmp/nope"],
	['script', "$tmp/hello.sh world"],
	['bare_script', "$tmp/bare"],
	['not_found', 'no-such-program-anywhere --flag'],
	['not_exec', "$tmp/a.txt"],
	['args', "printenv DAGY_NOT_SET_ANYWHERE"],
	['sleep', 'sleep 0.1'],
	# shell: syntax
	['pipe', "cat $tmp/a.txt $tmp/b.txt | sort -r"],
	['redirect', "cat $tmp/nope 2>&1 > $tmp/out; cat $tmp/out"],
	['and_or', "false && echo no || echo yes"],
	['glob', "ls $tmp/*.txt"],
	['var', 'X=42; echo "x is $X"'],
	['quote', "echo 'single  spaced' \"double\""],
	['subshell', 'echo $(expr 1 + 1) `echo two`'],
	['builtin_echo', 'echo -n no newline'],
	['exit', 'exit 7'],
	['semicolon', 'echo one; echo two >&2; false'],
);

$s->flow('equivalence', [ map { [ $_->[0], $_->[1] ] } @cases ]);
my $id = $s->trigger('equivalence');
my $run = $s->wait_run($id, 60);
ok($run->{status}, 'the run ended');
my $steps = $s->steps($id);
my $events = $s->req(GET => "/v1/runs/$id/logs?limit=1000")->{json}{events};

# The same command under sh -c, by hand: exit code, stdout, stderr.
sub by_hand {
	my ($cmd) = @_;
	my $pid = fork // die "fork: $!";
	if ($pid == 0) {
		chdir $tmp;
		open STDIN, '<', '/dev/null';
		open STDOUT, '>', "$tmp.out";
		open STDERR, '>', "$tmp.err";
		exec 'sh', '-c', $cmd;
		exit 127;
	}
	waitpid $pid, 0;
	return ($? >> 8, DagyTest::slurp("$tmp.out") // '', DagyTest::slurp("$tmp.err") // '');
}

for my $c (@cases) {
	my ($name, $cmd) = @$c;
	my ($code, $want_out, $want_err) = by_hand($cmd);
	my @out = map { $_->{message} } grep { $_->{step_id} eq $name && $_->{stream} eq 'stdout' } @$events;
	my @err = map { $_->{message} } grep { $_->{step_id} eq $name && $_->{stream} eq 'stderr' } @$events;
	is($steps->{$name}{exit_code} // 0, $code, "$name: exit code $code as under sh -c");
	is(join("\n", @out), join("\n", split /\n/, $want_out), "$name: the same stdout");
	is(join("\n", @err), join("\n", split /\n/, $want_err), "$name: the same stderr");
}

# The plain ones really ran without a shell: a step's parent is what ran
# it, so a direct `sh -c` parent would show up as sh in /proc.
$s->flow('no_shell', [['who', 'cat /proc/self/stat'], ['with', 'cat /proc/self/stat | cat']]);
$id = $s->trigger('no_shell');
$s->wait_run($id, 30);
$events = $s->req(GET => "/v1/runs/$id/logs")->{json}{events};
my ($direct) = map { $_->{message} } grep { $_->{step_id} eq 'who' } @$events;
my ($piped) = map { $_->{message} } grep { $_->{step_id} eq 'with' } @$events;
my ($ppid) = $direct =~ /^\d+ \(cat\) \S (\d+)/;
my $parent = `cat /proc/$ppid/comm 2>/dev/null`;
chomp $parent;
is($parent, 'dagy-launcher', 'a plain command is a child of the launcher, no shell between');
my ($ppid2) = $piped =~ /^\d+ \(cat\) \S (\d+)/;
isnt($ppid2, $ppid, 'a pipeline runs under a shell of its own');

# A name the node's env sets replaces the worker's, and PWD is the step's
# directory: the same whether the command runs under a shell or not.
my $env = { env => { HOME => '/nowhere-home', LANG => 'C' } };
$s->flow('env_override', [['direct', 'printenv HOME', undef, $env], ['shell', 'echo "$HOME"', undef, $env],
	['count', 'env', undef, $env], ['pwd_direct', 'printenv PWD'], ['pwd_shell', 'echo "$PWD" && pwd']]);
$id = $s->trigger('env_override');
is($s->wait_run($id, 30)->{status}, 'completed', 'steps overriding the environment');
$events = $s->req(GET => "/v1/runs/$id/logs?limit=1000")->{json}{events};
my %got;
push @{ $got{ $_->{step_id} } }, $_->{message} for @$events;
is_deeply($got{direct}, ['/nowhere-home'], 'direct exec sees the node\'s HOME');
is_deeply($got{shell}, ['/nowhere-home'], 'and so does sh');
is(scalar(grep { /^HOME=/ } @{ $got{count} }), 1, 'HOME appears once in the environment');
my ($pwd) = @{ $got{pwd_direct} };
like($pwd, qr{/$id$}, 'PWD is the run\'s directory for a direct exec');
is_deeply($got{pwd_shell}, [$pwd, $pwd], 'as for sh, whose pwd agrees');

unlink "$tmp.out", "$tmp.err";
$s->finish;
done_testing;
