# The s3 sensor (doc/sensors.md): a bucket on a real S3-compatible server
# (s3rver on loopback) polled by two workers; an object put into it starts
# exactly one run, with the key in the run's parameters; the credentials
# are sealed and shown masked.
use strict;
use warnings;
use Test::More;
use DagyTest;

my $srv = DagyTest::s3rver('events') or plan skip_all => 'no s3rver';
my $s = DagyTest->start(workers => 2);
my $base = "$srv->{endpoint}/events";
my $sig = "--aws-sigv4 aws:amz:us-east-1:s3 --user S3RVER:S3RVER -H x-amz-content-sha256:UNSIGNED-PAYLOAD";

$s->flow('on-object', [ ['show', 'echo "key=$DAGY_PARAM_S3_KEY" >> "$DAGY_OUTPUT"'] ],
	params => { s3_key => { default => '' } });
my $r = $s->req(POST => '/v1/sensors', { name => 'inbox', sensor_type => 's3',
	flow_name => 'on-object', config_json => { endpoint => $srv->{endpoint}, bucket => 'events',
	prefix => 'in/', access_key => 'S3RVER', secret_key => 'S3RVER', interval_seconds => 10 } });
is($r->{status}, 201, 'an s3 sensor') or diag($r->{body});
my $id = $r->{json}{sensor_id};
is($r->{json}{config_json}{secret_key}, '***', 'its secret key is shown masked');
is($r->{json}{config_json}{access_key}, '***', 'and its access key');
ok(!grep({ /S3RVER/ } $s->sql("SELECT config FROM sensors WHERE public_id = '$id'")),
	'the credentials are not in the stored config');

sub runs_of {
	return grep { ($_->{flow_name} // '') eq 'on-object' }
		@{ $s->req(GET => '/v1/runs?limit=100')->{json}{items} };
}

# Let the first poll see the empty prefix, then put one object.
sleep 2;
open my $fh, '>', "$s->{dir}/obj.txt" or die;
print $fh "data\n";
close $fh;
is(`curl -s -o /dev/null -w '%{http_code}' $sig -T $s->{dir}/obj.txt $base/in/a.csv`, '200',
	'an object is put into the bucket');
`curl -s -o /dev/null $sig -T $s->{dir}/obj.txt $base/elsewhere/b.csv`;
my @runs;
for (1 .. 150) {
	@runs = runs_of();
	last if @runs;
	select(undef, undef, undef, 0.2);
}
is(scalar @runs, 1, 'the object started a run');
my $run = $s->wait_run($runs[0]{run_id}, 30);
is($run->{status}, 'completed', 'which ran') or diag(explain $run);
is($run->{parameters}{s3_key}, 'in/a.csv', 'with the key in its parameters');
is($run->{output}{key}, 'in/a.csv', 'which the step saw');
is($run->{trigger}, 'sensor', 'trigger: sensor');

# Two more polls by two workers: still one run for that object.
sleep 22;
is(scalar(runs_of()), 1, 'polled again by two workers, the object started one run, and the '
	. 'object outside the prefix none');
my @f = $s->sql("SELECT COUNT(*) FROM sensor_firings f JOIN sensors s ON s.id = f.sensor_id "
	. "WHERE s.public_id = '$id'");
is($f[0], 1, 'one firing recorded');

$s->finish;
DagyTest::s3rver_stop($srv);
done_testing;
