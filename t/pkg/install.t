# The Debian package, built and installed on this machine, then set up by
# following doc/install.md with lighttpd and with Apache in front, each on
# a loopback port and started directly (CI machines run no systemd).
# Changes the machine: run by .ci/run, not by script/test.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use File::Basename qw(dirname);
use Cwd qw(abs_path);
use IO::Socket::INET;
use HTTP::Tiny;
use JSON::PP;

plan skip_all => 'installs a package: needs root' if $> != 0;
my $top = abs_path(dirname(__FILE__) . '/../..');
my $work = tempdir('dagy-pkg-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my @started;

sub script {
	my ($name, $text) = @_;
	open my $f, '>', "$work/$name.sh" or die;
	print $f "set -e\n$text\n";
	close $f;
	return "bash $work/$name.sh";
}
sub run { my $cmd = shift; my $out = `$cmd 2>&1`; return ($? >> 8, $out) }
sub must { my ($cmd, $what) = @_; my ($rc, $out) = run($cmd); ok($rc == 0, $what) or diag("$cmd\n$out"); return $out }
sub free_port {
	my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1', LocalPort => 0) or die;
	my $p = $s->sockport;
	close $s;
	return $p;
}
sub bg {
	my ($cmd) = @_;
	my $pid = fork // die;
	if (!$pid) { exec('/bin/sh', '-c', $cmd) or exit 127 }
	push @started, $pid;
	return $pid;
}
sub wait_http {
	my ($url, $secs) = @_;
	my $http = HTTP::Tiny->new(timeout => 2);
	for (1 .. $secs * 10) {
		my $r = $http->get($url);
		return $r if $r->{status} < 500 || $r->{status} == 503;
		select(undef, undef, undef, 0.1);
	}
	return $http->get($url);
}
END { kill 'TERM', @started if @started }

# --- build, file list, lintian --------------------------------------------------------------
must("DAGY_BOOTSTRAP_EXTRA='debhelper lintian apache2 dpkg-dev fakeroot' $top/script/bootstrap", 'build tools');
must("git -C $top archive --format=tar HEAD | tar -x -C $work --one-top-level=dagy", 'a clean tree');
must("cd $work/dagy && dpkg-buildpackage -us -uc -b", 'dpkg-buildpackage -us -uc -b');
my ($deb) = glob("$work/dagy_*_*.deb");
ok($deb, "built $deb");
my $list = must("dpkg-deb -c $deb", 'file list');
for my $f (qw(usr/bin/dagy usr/bin/dagy-api usr/bin/dagy-worker etc/dagy/dagy.conf
	usr/share/dagy/schema/001_identity.sql lib/systemd/system/dagy-api.service
	lib/systemd/system/dagy-worker.service etc/lighttpd/conf-available/10-dagy.conf
	etc/apache2/conf-available/dagy.conf etc/nginx/snippets/dagy.conf usr/share/doc/dagy/install.md
	usr/share/dagy/errors/dagy-error-404.html usr/share/dagy/errors/dagy-error-503.html
	usr/share/dagy/openapi/dagy.json usr/share/doc/dagy/api.md usr/share/doc/dagy/metrics.md
	usr/share/man/man1/dagy.1.gz usr/share/man/man8/dagy-api.8.gz
	usr/share/man/man8/dagy-worker.8.gz usr/share/dagy/www/index.html usr/share/dagy/www/js/app.js
	usr/share/dagy/www/style.css)) {
	# dh_compress gzips documents over 4 KiB.
	my $gz = $f =~ m{^usr/share/doc/} ? '(?:\.gz)?' : '';
	like($list, qr{\./\Q$f\E$gz\n}, "ships $f");
}
my $info = must("dpkg-deb -I $deb", 'control');
like($info, qr/Depends:.*libmariadb3.*spawn-fcgi/, 'shlibs and spawn-fcgi dependencies');
like($info, qr/Recommends: mariadb-server, lighttpd \| apache2/, 'recommends');
my ($lrc, $lout) = run("lintian --fail-on error --allow-root $deb");
is($lrc, 0, 'lintian reports no errors') or diag($lout);

# --- doc/install.md step 2: install with MariaDB -----------------------------------------------
# A package left by an earlier run of this test (with the configuration it
# edited) would stop dpkg at a conffile prompt: start from none.
system('dpkg --purge dagy >/dev/null 2>&1');
must("DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $deb mariadb-server lighttpd apache2 >/dev/null",
	'apt-get install ./dagy_*.deb mariadb-server');
like(scalar(`getent passwd dagy`), qr/^dagy:/, 'the dagy system user exists');
like(scalar(`stat -c '%U:%G %a' /etc/dagy/dagy.conf`), qr/^root:dagy 640$/, 'dagy.conf is root:dagy 0640');
ok(-d '/var/lib/dagy/work', 'state directories');

# MariaDB: the system's, started directly when it is not running.
if (system('mariadb -e "SELECT 1" >/dev/null 2>&1') != 0) {
	system('install -d -o mysql -g mysql /run/mysqld');
	bg('exec /usr/sbin/mariadbd --user=mysql');
	for (1 .. 100) { last if system('mariadb -e "SELECT 1" >/dev/null 2>&1') == 0; select(undef, undef, undef, 0.1) }
}
must('mariadb -e "SELECT 1"', 'MariaDB answers');

# --- steps 3 and 4: database, migrations, admin, key, exactly as written ------------------------
my $doc = do { local $/; open my $f, '<', "$top/doc/install.md" or die; <$f> };
my ($step3) = $doc =~ /## 3\. Create the database\n\n(.*?)\n## /s;
my ($step4) = $doc =~ /## 4\. Create the first admin and an API key\n\n(.*?)\n\n/s;
# The commands are the indented lines; the prose around them is not run.
for ($step3, $step4) {
	$_ = join "\n", map { substr($_, 4) } grep { /^    / } split /\n/;
}
$step4 =~ s/^systemctl.*$//m;
system('mariadb -e "DROP DATABASE IF EXISTS dagy; DROP USER IF EXISTS dagy@localhost"');
must(script('step3', $step3), 'step 3: database, config check, migrate');
unlink '/root/dagy-admin.key';
must(script('step4', $step4), 'step 4: admin, org and key');
chomp(my $key = `cat /root/dagy-admin.key`);
like($key, qr/^dagy_sk_/, 'an API key');

# The services, started directly as their units would.
my ($api_cmd) = `grep ^ExecStart= /lib/systemd/system/dagy-api.service` =~ /^ExecStart=(.*)$/m;
system('install -d /run/dagy-api && install -d -o dagy -g dagy /run/dagy');
my $api_pid = bg("exec $api_cmd");
bg('exec runuser -u dagy -- /usr/bin/dagy-worker');
for (1 .. 50) { last if -S '/run/dagy-api/api.sock'; select(undef, undef, undef, 0.1) }
ok(-S '/run/dagy-api/api.sock', 'dagy-api listens on /run/dagy-api/api.sock');
like(scalar(`stat -c '%U' /run/dagy-api/api.sock`), qr/^www-data$/, 'a socket the web server can use');
sleep 1;
like(scalar(`ps -o user= -C dagy-api | sort -u`), qr/^dagy$/m, 'responders run as dagy');
is(scalar(() = `pgrep -P $api_pid -x dagy-api`), 4, 'a supervisor with [api] processes = 4 responders');

sub check_front {
	my ($name, $port) = @_;
	my $base = "http://127.0.0.1:$port";
	my $r = wait_http("$base/v1/health", 10);
	is($r->{status}, 200, "$name: /v1/health") or diag($r->{content});
	is(decode_json($r->{content})->{status}, 'healthy', "$name: healthy");
	$r = HTTP::Tiny->new->get("$base/v1/me", { headers => { Authorization => "Bearer $key" } });
	is($r->{status}, 200, "$name: an authenticated call") or diag($r->{content});
	is(decode_json($r->{content})->{user_email}, 'admin@example.com', "$name: as the admin");
	$r = HTTP::Tiny->new->get("$base/v1/me");
	is($r->{status}, 401, "$name: no credentials, 401");
	$r = HTTP::Tiny->new->get("$base/api/v1/dags", { headers => { Authorization => "Bearer $key" } });
	is($r->{status}, 200, "$name: the daggle dialect is routed too");
	$r = HTTP::Tiny->new->get("$base/v1/flows?limit=1&next_token=bad", { headers => { Authorization => "Bearer $key" } });
	is($r->{status}, 400, "$name: query strings reach dagy");
	$r = HTTP::Tiny->new->get("$base/metrics");
	is($r->{status}, 200, "$name: /metrics from loopback") or diag($r->{content});
	like($r->{content}, qr/^dagy_http_requests_total\{/m, "$name: Prometheus text");
	$r = HTTP::Tiny->new->get("$base/v1/openapi.json");
	is((eval { decode_json($r->{content}) } // {})->{openapi}, '3.1.0', "$name: the OpenAPI document");
	$r = HTTP::Tiny->new->get("$base/nowhere-near-dagy");
	is($r->{status}, 404, "$name: a path of its own");
	like($r->{headers}{'content-type'} // '', qr{^application/json}, "$name: its own error is JSON");
	is((eval { decode_json($r->{content}) } // {})->{error}, 'not_found', "$name: in dagy's format");
	$r = HTTP::Tiny->new->get("$base/");
	like($r->{content}, qr{<script type="module" src="js/app\.js">}, "$name: the dashboard at /");
	like($r->{headers}{'content-security-policy'} // '', qr/^default-src 'none'/, "$name: with its CSP");
	is($r->{headers}{'x-content-type-options'}, 'nosniff', "$name: and X-Content-Type-Options");
}

# --- step 5a: lighttpd ------------------------------------------------------------------------
my ($step5a) = $doc =~ /## 5a\. Put lighttpd in front\n\n(.*?)\n## /s;
like($step5a, qr/lighty-enable-mod dagy/, 'doc/install.md says lighty-enable-mod dagy');
must('lighty-enable-mod dagy || true; test -e /etc/lighttpd/conf-enabled/10-dagy.conf', 'lighty-enable-mod dagy');
my $lport = free_port();
open my $lc, '>', "$work/lighttpd.conf" or die;
print $lc qq{include "/etc/lighttpd/lighttpd.conf"\nserver.port := $lport\nserver.bind := "127.0.0.1"\n}
	. qq{server.pid-file := "$work/lighttpd.pid"\n};
close $lc;
must("lighttpd -tt -f $work/lighttpd.conf", 'the lighttpd configuration is valid');
my $lpid = bg("exec lighttpd -D -f $work/lighttpd.conf");
check_front('lighttpd', $lport);
kill 'TERM', $lpid;
waitpid $lpid, 0;

# --- step 5b: Apache ----------------------------------------------------------------------------
my ($step5b) = $doc =~ /## 5b\. Or Apache\n\n(.*?)\n\n/s;
like($step5b, qr/a2enmod proxy_fcgi headers\s+a2enconf dagy/,
	'doc/install.md says a2enmod proxy_fcgi headers, a2enconf dagy');
must('a2enmod -q proxy_fcgi headers && a2enconf -q dagy', 'a2enmod proxy_fcgi headers && a2enconf dagy');
my $aport = free_port();
must("sed -i.dagy-test 's/^Listen .*/Listen 127.0.0.1:$aport/' /etc/apache2/ports.conf", 'Apache on a loopback port');
my $apache = '. /etc/apache2/envvars && mkdir -p "$APACHE_RUN_DIR" "$APACHE_LOCK_DIR" "$APACHE_LOG_DIR" &&';
must("$apache apache2 -t", 'the Apache configuration is valid');
my $apid = bg("$apache exec apache2 -DFOREGROUND");
check_front('Apache', $aport);
kill 'TERM', $apid;
waitpid $apid, 0;
system('mv /etc/apache2/ports.conf.dagy-test /etc/apache2/ports.conf');

done_testing;
