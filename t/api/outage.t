# MariaDB stopped and started again under running dagy-api processes:
# 503 with Retry-After while it is gone, then the same processes serve.
use strict;
use warnings;
use Test::More;
use DagyTest;

my $s = DagyTest->start;
my @pids = $s->api_pids;
is($s->req(GET => '/v1/me')->{status}, 200, 'serving before the outage');

ok($s->db_stop, 'MariaDB stopped');
for my $path ('/v1/health', '/v1/me', '/v1/api-keys', '/v1/orgs') {
	my $r = $s->req(GET => $path);
	is($r->{status}, 503, "$path: 503 while the database is down");
	ok($r->{headers}{'retry-after'} =~ /^\d+$/, "$path: Retry-After");
	is($r->{json}{error}, 'service_unavailable', "$path: error format")
		unless $path eq '/v1/health';
}
my $r = $s->req(GET => '/v1/health');
is($r->{json}{status}, 'unhealthy', 'health says unhealthy');
my ($db) = grep { $_->{name} eq 'database' } @{ $r->{json}{components} };
is($db->{status}, 'unhealthy', 'the database component is unhealthy');
$r = $s->req(POST => '/v1/api-keys', { name => 'during outage' });
is($r->{status}, 503, 'a write during the outage: 503, not 500');

ok($s->db_start, 'MariaDB started again');
is($s->req(GET => '/v1/me')->{status}, 200, 'the next request is served');
is($s->req(GET => '/v1/health')->{status}, 200, 'health is back');
$r = $s->req(POST => '/v1/api-keys', { name => 'after outage' });
is($r->{status}, 201, 'writes work again');
ok(kill(0, $_), "dagy-api $_ kept running") for @pids;
is_deeply([$s->api_pids], \@pids, 'by the same processes');

$s->finish;
done_testing;
