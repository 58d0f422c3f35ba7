# AI Studio against a local server speaking OpenAI's chat-completions
# protocol with scripted answers (t/api/fake_openai.py): a build turn puts
# a valid flow on the canvas; an invalid proposal goes back once with its
# errors, then 422s; the streamed turn arrives through lighttpd as several
# events before the end, and a client that leaves stops the model call;
# the same turn twice gives the first answer, a conflicting one 409; no
# credits 402; a PDF attachment's text reaches the model.
use strict;
use warnings;
use Test::More;
use POSIX ();
use Time::HiRes qw(time sleep);
use File::Temp qw(tempdir);
use FindBin;
use JSON::PP;
use HTTP::Tiny;
use IO::Socket::INET;
use IO::Compress::Zip qw(zip $ZipError);
use DagyTest;

my $json = JSON::PP->new->canonical;
my $tmp = tempdir(CLEANUP => 1);

my $fake_pid = fork // die;
if (!$fake_pid) {
	exec '/usr/bin/python3', "$FindBin::Bin/fake_openai.py", "$tmp/fake.port", "$tmp/fake.log";
	exit 127;
}
END { local $?; if ($fake_pid) { kill 'TERM', $fake_pid; waitpid $fake_pid, 0 } }
my $deadline = time + 10;
sleep 0.05 until -s "$tmp/fake.port" || time > $deadline;
my $fport = DagyTest::slurp("$tmp/fake.port");
my $fake = "http://127.0.0.1:$fport";
my $http = HTTP::Tiny->new(timeout => 10);

my $s = DagyTest->start(conf => ['[ai]', "base_url = $fake/v1", 'api_key = sk-config-fallback',
	'api_key_secret = studio_key',
	'model_standard = m-standard', 'model_fast = m-fast', 'monthly_credits = 7',
	'timeout_seconds = 20', 'max_attachments_per_session = 2',
	'[plan.free]', 'ai_credits = 100']);

sub script { $http->post("$fake/script", { content => $json->encode({ answers => [@_] }) }) }
sub answer { my ($text, $flow, %o) = @_; return { content => $json->encode({ response => $text, flow => $flow }), %o } }
sub log_lines { open my $f, '<', "$tmp/fake.log" or return (); map { $json->decode($_) } <$f> }
sub calls { grep { !$_->{aborted} } log_lines() }

my $good = { nodes => [
	{ id => 'fetch', type => 'http_fetch', config => { url => 'https://example.com/data.json' } },
	{ id => 'validate', type => 'schema_validator', config => { schema => { type => 'object' } }, depends_on => ['fetch'] },
	{ id => 'dedupe', type => 'deduplicator', config => { keys => ['id'] }, depends_on => ['validate'] },
	{ id => 'notify', type => 'webhook_post', config => { url => 'https://example.com/hook' }, depends_on => ['dedupe'] } ] };
my $unknown = { nodes => [{ id => 'x', type => 'magic_box', config => {} }] };
my $cyclic = { nodes => [
	{ id => 'a', type => 'http_fetch', config => { url => 'https://e.com' }, depends_on => ['b'] },
	{ id => 'b', type => 'deduplicator', config => {}, depends_on => ['a'] } ] };

# Tiers and the page.
my $r = $s->req(GET => '/v1/ai-studio/tiers');
is($r->{status}, 200, 'tiers');
is_deeply([map { $_->{tier} } @{ $r->{json}{tiers} }], [qw(fast standard advanced)], 'three tiers');
is($r->{json}{credits}{remaining}, 100, "the plan's monthly allowance is left");
is($r->{json}{credits}{plan}, 'free', 'on the free plan');
$r = $s->req(GET => '/v1/ui/ai-studio');
is($r->{status}, 200, 'the AI Studio page');
my ($exec) = grep { $_->{id} eq 'executable_nodes' } @{ $r->{json}{capabilities} };
ok((grep { $_ eq 'http_fetch' } @{ $exec->{values} }) && !(grep { $_ eq 'shell' } @{ $exec->{values} }),
	'the executable allowlist comes from the registry');
ok(@{ $r->{json}{templates} } > 0, 'templates');

# Sessions.
$r = $s->req(POST => '/v1/ai-studio/sessions', { title => 'S3 flow' });
is($r->{status}, 201, 'session created');
my $sid = $r->{json}{session_id};
like($sid, qr/^ss_/, 'session id');
is($r->{json}{tier}, 'standard', 'default tier');
is($s->req(POST => '/v1/ai-studio/sessions', { tier => 'huge' })->{status}, 400, 'unknown tier');
my $S = "/v1/ai-studio/sessions/$sid";

# The key comes from the org secret [ai] api_key_secret names.
$r = $s->req(POST => "$S/messages", { message => 'hello' });
is($r->{status}, 503, 'no key secret yet: 503');
like($r->{json}{message}, qr/'studio_key'.*not set/, 'naming the secret');
unlike($r->{body}, qr/sk-config-fallback/, 'no key in the answer');
is(scalar(@{[log_lines()]}), 0, 'and no model call');
is($s->req(POST => '/v1/secrets', { secret_name => 'studio_key', value => 'sk-test-123' })->{status}, 201,
	'the key stored as a secret');

# A build turn yields a valid flow on the canvas.
script(answer('I built the workflow.', $good));
$r = $s->req(POST => "$S/messages", { message => 'Build a flow that fetches JSON, validates, dedupes and posts it.',
	intent => 'build', turn_id => 'turn-1' });
is($r->{status}, 200, 'build turn') or diag($r->{body});
my $first = $r->{json};
is($first->{workflow_status}, 'generated', 'generated');
is($first->{validation}{valid}, JSON::PP::true, 'valid');
is_deeply($first->{workflow_errors}, [], 'no errors');
is(scalar @{ $first->{canvas_state}{nodes} }, 4, 'four nodes on the canvas');
is(scalar @{ $first->{canvas_state}{edges} }, 3, 'three edges');
like($first->{pipeline_yaml}, qr/type: deduplicator/, 'pipeline YAML');
is($first->{credits_used}, 4, 'a standard turn costs 4 credits');
is($first->{response}, 'I built the workflow.', "the model's words");
my @c = calls();
is(scalar @c, 1, 'one model call');
is($c[0]{auth}, 'Bearer sk-test-123', "the secret's key");
is($c[0]{body}{model}, 'm-standard', "the tier's model");
is($c[0]{body}{response_format}{type}, 'json_object', 'a structured answer asked for');
like($c[0]{body}{messages}[0]{content}, qr/webhook_post/, 'the allowlist is in the prompt');
unlike($c[0]{body}{messages}[0]{content}, qr/"node_type":"shell"/, 'shell is not offered');
is($c[0]{body}{messages}[-1]{content}, 'Build a flow that fetches JSON, validates, dedupes and posts it.',
	"the user's message last");
# The canvas is a flow POST /v1/flows accepts.
my $sess = $s->req(GET => $S)->{json};
is(scalar @{ $sess->{canvas_state}{nodes} }, 4, 'the canvas is stored');
is(scalar @{ $sess->{messages} }, 2, 'user and assistant messages');
my @nodes = map { { id => $_->{id}, type => $_->{type}, config => $_->{data} } } @{ $sess->{canvas_state}{nodes} };
$r = $s->req(POST => '/v1/flows', { flow_name => 'from-canvas',
	flow_spec => { nodes => \@nodes, edges => $sess->{canvas_state}{edges} } });
is($r->{status}, 201, 'the canvas registers as a flow') or diag($r->{body});

# The same turn twice: the first answer, no second model call.
$r = $s->req(POST => "$S/messages", { message => 'Build a flow that fetches JSON, validates, dedupes and posts it.',
	intent => 'build', turn_id => 'turn-1' });
is($r->{status}, 200, 'replayed turn');
is($r->{json}{replayed}, JSON::PP::true, 'marked replayed');
delete $r->{json}{replayed};
is_deeply($r->{json}, $first, 'the same answer');
is(scalar(calls()), 1, 'no new model call');
$r = $s->req(POST => "$S/messages", { message => 'Something else', intent => 'build', turn_id => 'turn-1' });
is($r->{status}, 409, 'a conflicting replay is 409');
# X-Idempotency-Key does the same without a turn_id.
script(answer('Advice.', undef));
$r = $s->req(POST => "$S/messages", { message => 'Is this idempotent?', intent => 'advisory' },
	{ 'X-Idempotency-Key' => 'req-9' });
is($r->{status}, 200, 'advisory turn');
is($r->{json}{workflow_status}, 'advisory', 'advisory');
is(scalar @{ $r->{json}{canvas_state}{nodes} }, 4, 'the canvas stays');
is($s->req(POST => "$S/messages", { message => 'Is this idempotent?', intent => 'advisory' },
	{ 'X-Idempotency-Key' => 'req-9' })->{json}{response}, 'Advice.', 'replayed by idempotency key');
is(scalar(calls()), 2, 'still one call for that turn');

# An invalid proposal goes back with its errors, then 422.
script(answer('Here.', $unknown), answer('Fixed.', $cyclic));
$r = $s->req(POST => "$S/messages", { message => 'Build something odd', intent => 'build' });
is($r->{status}, 422, 'no valid flow: 422') or diag($r->{body});
is($r->{json}{workflow_status}, 'failed', 'failed');
is($r->{json}{validation}{valid}, JSON::PP::false, 'not valid');
ok(@{ $r->{json}{workflow_errors} } >= 1, 'workflow_errors');
like($r->{json}{workflow_errors}[0]{message}, qr/cycle|depend/i, "the retry's error is reported");
is(scalar @{ $r->{json}{canvas_state}{nodes} }, 4, 'the canvas is unchanged');
is($r->{json}{credits_used}, 0, 'a failed turn costs nothing');
@c = calls();
is(scalar @c, 4, 'the proposal was retried once');
like($c[-1]{body}{messages}[-1]{content}, qr/magic_box.*not in the executable allowlist/,
	'the retry carries the errors');
is($c[-1]{body}{messages}[-2]{role}, 'assistant', '... after the invalid answer');
# A retry that fixes it.
script(answer('Oops.', $unknown), answer('Fixed.', $good));
$r = $s->req(POST => "$S/messages", { message => 'Try again', intent => 'modify' });
is($r->{status}, 200, 'the retry fixed it');
is($r->{json}{workflow_status}, 'modified', 'modified');

# The stream, through lighttpd: several events before the end.
script(answer('Streaming it.', $good, chunks => 8, delay => 0.25));
my $body = $json->encode({ message => 'Stream a build', intent => 'build', turn_id => 'stream-1' });
my @events = stream_turn($s->{port}, "$S/messages/stream", $body);
my @tokens = grep { $_->{name} eq 'token' } @events;
my ($final) = grep { $_->{name} eq 'final' } @events;
ok(@tokens >= 4, 'several token events (' . scalar(@tokens) . ')');
ok($final, 'a final event');
is($final->{data}{status_code}, 200, 'final: 200');
is(scalar @{ $final->{data}{canvas_state}{nodes} }, 4, 'final: the canvas');
is($events[-1]{name}, 'final', 'final comes last');
ok($final->{t} - $tokens[0]{t} >= 1, sprintf('the first token came %.2f s before the end',
	$final->{t} - $tokens[0]{t}));
is(join('', map { $_->{data}{text} } @tokens), $json->encode({ response => 'Streaming it.', flow => $good }),
	"the tokens are the model's answer");

my $ncalls = scalar(calls());
my @again = stream_turn($s->{port}, "$S/messages/stream", $body);
ok(@again == 1 && $again[0]{name} eq 'final' && $again[0]{data}{replayed}, 'a streamed turn replays as its final event');
is($again[0]{data}{pipeline_yaml}, $final->{data}{pipeline_yaml}, '... with the same answer');
is(scalar(calls()), $ncalls, '... and no model call');
$body = $json->encode({ message => 'Stream a build', intent => 'build' });

# A client that leaves stops the model call.
my $turns = $s->req(GET => $S)->{json}{turns};
script(answer('Long.', $good, chunks => 40, delay => 0.2));
my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $s->{port}) or die;
print $sock "POST $S/messages/stream HTTP/1.0\r\nHost: x\r\nAuthorization: Bearer " . $s->key .
	"\r\nContent-Type: application/json\r\nContent-Length: " . length($body) . "\r\nConnection: close\r\n\r\n$body";
my $buf = '';
while ($buf !~ /event: token/) { sysread($sock, my $chunk, 4096) or last; $buf .= $chunk }
close $sock;
$deadline = time + 8;
sleep 0.2 until (grep { $_->{aborted} } log_lines()) || time > $deadline;
my ($ab) = grep { $_->{aborted} } log_lines();
ok($ab && $ab->{sent} < 40, 'the model call stopped early (' . ($ab ? $ab->{sent} : 'never') . ' of 40 chunks)');
is($s->req(GET => $S)->{json}{turns}, $turns, 'nothing stored for the abandoned turn');

# The shipped lighttpd and nginx snippets stream the route too.
my $top = "$FindBin::Bin/../..";
sub shipped {
	my ($f) = @_;
	my $text = do { local $/; open my $fh, '<', "$top/$f" or die "$f: $!"; <$fh> };
	$text =~ s{/usr/share/dagy/errors/}{$top/etc/errors/}g;
	$text =~ s{/usr/share/dagy/www/}{$top/www/}g;
	$text =~ s{/run/dagy-api/api\.sock}{$s->dir . '/api.sock'}ge;
	return $text;
}
sub streams_through {
	my ($name, $port) = @_;
	script(answer('Via ' . $name, $good, chunks => 6, delay => 0.25));
	my @ev = stream_turn($port, "$S/messages/stream",
		$json->encode({ message => "Stream via $name", intent => 'build' }));
	my @tok = grep { $_->{name} eq 'token' } @ev;
	ok(@tok >= 4 && $ev[-1]{name} eq 'final' && $ev[-1]{t} - $tok[0]{t} >= 0.8,
		sprintf('%s: %d token events, the first %.2f s before the final one', $name,
		scalar @tok, @tok ? $ev[-1]{t} - $tok[0]{t} : 0));
}
SKIP: {
	skip 'no Debian lighttpd MIME script', 1 unless -e '/usr/share/lighttpd/create-mime.conf.pl';
	my $port = DagyTest::free_port();
	open my $lc, '>', "$tmp/lighttpd.conf" or die;
	print $lc qq{server.document-root = "$tmp"\nserver.bind = "127.0.0.1"\nserver.port = $port\n}
		. qq{server.pid-file = "$tmp/lighttpd.pid"\nserver.errorlog = "$tmp/lighttpd.err"\n}
		. qq{include_shell "/usr/share/lighttpd/create-mime.conf.pl"\n} . shipped('etc/lighttpd/10-dagy.conf');
	close $lc;
	system("lighttpd -f $tmp/lighttpd.conf") == 0 or skip 'lighttpd does not start with the snippet', 1;
	sleep 0.1 until -s "$tmp/lighttpd.pid";
	streams_through('the shipped lighttpd snippet', $port);
	kill 'TERM', DagyTest::slurp("$tmp/lighttpd.pid");
}
SKIP: {
	my $nginx = (grep { -x } map { "$_/nginx" } qw(/usr/sbin /usr/bin))[0];
	skip 'nginx is not installed', 1 unless $nginx && -e '/etc/nginx/fastcgi_params';
	my $port = DagyTest::free_port();
	(my $conf = shipped('etc/nginx/dagy.conf')) =~ s{include fastcgi_params;}{include /etc/nginx/fastcgi_params;}g;
	mkdir "$tmp/nginx";
	open my $nc, '>', "$tmp/nginx/nginx.conf" or die;
	print $nc ($> == 0 ? "user root;\n" : ''), "pid $tmp/nginx/nginx.pid;\n",
		"error_log $tmp/nginx/error.log;\nevents {}\nhttp {\n\taccess_log off;\n",
		map({ "\t${_}_temp_path $tmp/nginx/$_;\n" } qw(client_body proxy fastcgi uwsgi scgi)),
		"\tserver {\n\t\tlisten 127.0.0.1:$port;\n$conf\n\t}\n}\n";
	close $nc;
	system("$nginx -q -p $tmp/nginx -c $tmp/nginx/nginx.conf") == 0 or skip 'nginx does not start', 1;
	sleep 0.1 until -s "$tmp/nginx/nginx.pid";
	streams_through('the shipped nginx snippet', $port);
	system("$nginx -p $tmp/nginx -c $tmp/nginx/nginx.conf -s stop 2>/dev/null");
}

# Attachments: a PDF's text reaches the prompt.
my $pdf = tiny_pdf('ZEBRA LLAMA 4711 quarterly figures');
$r = $s->req(POST => "$S/attachments/initiate", { filename => 'photo.png', size_bytes => 10 });
is($r->{status}, 415, 'images are refused');
$r = $s->req(POST => "$S/attachments/initiate", { filename => 'big.pdf', size_bytes => 26 * 1024 * 1024 });
is($r->{status}, 413, 'over 25 MB is refused');
$r = $s->req(POST => "$S/attachments/initiate", { filename => 'report.pdf', size_bytes => length($pdf),
	content_type => 'application/pdf' });
is($r->{status}, 201, 'initiated');
my $att = $r->{json}{attachment_id};
my $url = $r->{json}{upload_url};
(my $bad = $url) =~ s/token=.*/token=nope/;
is($http->request(PUT => $s->base . $bad, { content => $pdf })->{status}, 403, 'a wrong token is refused');
is($s->req(POST => "$S/attachments/complete", { attachment_id => $att })->{status}, 409, 'not uploaded yet');
is($http->request(PUT => $s->base . $url, { content => $pdf,
	headers => { 'Content-Type' => 'application/pdf' } })->{status}, 204, 'uploaded to the URL');
$r = $s->req(POST => "$S/attachments/complete", { attachment_id => $att });
is($r->{status}, 200, 'completed') or diag($r->{body});
is($r->{json}{attachment}{status}, 'ready', 'ready');
ok($r->{json}{attachment}{text_chars} > 10, 'text extracted');
is($http->request(PUT => $s->base . $url, { content => $pdf })->{status}, 409, 'the URL is used up');
script(answer('Noted.', undef));
$r = $s->req(POST => "$S/messages", { message => 'What do the figures say?', intent => 'advisory' });
is($r->{status}, 200, 'a turn with the attachment');
my ($sys) = grep { $_->{content} =~ /report\.pdf/ } @{ (calls())[-1]{body}{messages} };
like($sys->{content} // '', qr/ZEBRA LLAMA 4711/, "the PDF's text reaches the model's prompt");
my $txt = "plain notes\n";
$r = $s->req(POST => "$S/attachments/initiate", { filename => 'notes.txt', size_bytes => length($txt) });
is($r->{status}, 201, 'a second attachment');
is($s->req(POST => "$S/attachments/initiate", { filename => 'more.txt', size_bytes => 3 })->{status}, 429,
	'the attachment limit');
is($s->req(DELETE => "$S/attachments/$r->{json}{attachment_id}")->{status}, 204, 'attachment removed');
is(scalar @{ $s->req(GET => $S)->{json}{attachments} }, 1, 'one left');

# DOCX and PPTX text from their XML.
my $D = '/v1/ai-studio/sessions/' . $s->req(POST => '/v1/ai-studio/sessions', {})->{json}{session_id};
$r = attach($D, 'memo.docx', office_zip('word/document.xml', '<?xml version="1.0"?><w:document xmlns:w="w">'
	. '<w:body><w:p><w:r><w:t>Ostrich &amp; Emu</w:t></w:r></w:p><w:p><w:r><w:t>line two</w:t></w:r></w:p></w:body></w:document>'));
is($r->{json}{attachment}{text_chars}, length("Ostrich & Emu\nline two\n"), 'DOCX text extracted') or diag($r->{body});
$r = attach($D, 'deck.pptx', office_zip('ppt/slides/slide1.xml', '<p:sld xmlns:a="a" xmlns:p="p"><a:p><a:r>'
	. '<a:t>Slide words</a:t></a:r></a:p></p:sld>'));
is($r->{json}{attachment}{status}, 'ready', 'PPTX text extracted') or diag($r->{body});
script(answer('Seen.', undef));
$s->req(POST => "$D/messages", { message => 'Summarise', intent => 'advisory' });
my $prompt = join "\n", map { $_->{content} } @{ (calls())[-1]{body}{messages} };
like($prompt, qr/Ostrich & Emu\nline two/, "the DOCX's text reaches the prompt");
like($prompt, qr/Slide words/, "the PPTX's text too");
my $B = '/v1/ai-studio/sessions/' . $s->req(POST => '/v1/ai-studio/sessions', {})->{json}{session_id};
$r = attach($B, 'broken.docx', 'not a zip at all');
is($r->{status}, 400, 'a DOCX that is no zip is refused');
like($r->{json}{message} // '', qr/could not be read/, '... saying so');

# Tier, title, bind, archive, delete.
is($s->req(PATCH => "$S/tier", { tier => 'fast' })->{json}{tier}, 'fast', 'tier changed');
is($s->req(PATCH => "$S/title", { title => 'Renamed' })->{json}{title}, 'Renamed', 'title changed');
is($s->req(POST => "$S/bind-flow", { flow_name => 'from-canvas' })->{status}, 200, 'bound to a flow');
is($s->req(GET => '/v1/ai-studio/sessions/by-flow/from-canvas')->{json}{session_id}, $sid, 'by flow');
my $sid2 = $s->req(POST => '/v1/ai-studio/sessions', {})->{json}{session_id};
is($s->req(POST => "/v1/ai-studio/sessions/$sid2/bind-flow", { flow_name => 'from-canvas' })->{status}, 409,
	'one session per flow');
is($s->req(GET => '/v1/ai-studio/sessions/by-flow/nothing')->{status}, 404, 'no session for that flow');
script(answer('Fast.', undef));
$r = $s->req(POST => "$S/messages", { message => 'Quick question', intent => 'advisory' });
is((calls())[-1]{body}{model}, 'm-fast', "the new tier's model");
is($r->{json}{credits_used}, 1, 'a fast turn costs 1');
my $list = $s->req(GET => '/v1/ai-studio/sessions?limit=1')->{json};
is(scalar @{ $list->{items} }, 1, 'paged list');
ok($list->{next_token}, 'with a next page');
my @seen = map { $_->{session_id} } @{ $list->{items} };
while ($list->{next_token}) {
	$list = $s->req(GET => "/v1/ai-studio/sessions?limit=1&next_token=$list->{next_token}")->{json};
	push @seen, map { $_->{session_id} } @{ $list->{items} };
}
is(scalar @seen, 4, 'four sessions, page by page');
is($seen[-1], $sid, 'the oldest last');

# Limits: credits and turns.
my ($org) = $s->org_id('default');
$s->sql("UPDATE ai_credits SET used = 99.5 WHERE org_id = $org");
$r = $s->req(POST => "$S/messages", { message => 'One more', intent => 'advisory' });
is($r->{status}, 402, 'no credits left: 402');
is($r->{json}{error}, 'insufficient_credits', 'insufficient_credits');
# Two turns at once with credits for one: both pass the first check, and
# the one that ends second finds the credits gone.
$s->sql("UPDATE ai_credits SET used = 0 WHERE org_id = $org");
my $price = $s->req(POST => "$S/messages", { message => 'Price?', intent => 'advisory' })->{json}{credits_used};
$s->sql("UPDATE ai_credits SET used = 100 - $price WHERE org_id = $org");
script(map { { content => '{"reply": "slow", "flow": null}', wait => 1 } } 1 .. 2);
my @kids = map {
	my $n = $_;
	my $pid = fork // die;
	if ($pid == 0) {
		my $x = $s->req(POST => "$S/messages", { message => "Race $n", intent => 'advisory' });
		# _exit: the child must not run the stack's destructor.
		POSIX::_exit($x->{status} == 200 ? 0 : $x->{status} == 402 ? 1 : 2);
	}
	$pid;
} 1 .. 2;
my @codes = sort map { waitpid($_, 0); $? >> 8 } @kids;
is_deeply(\@codes, [0, 1], 'one turn answers 200, the other 402: the credits are not overspent');
is(($s->sql("SELECT used FROM ai_credits WHERE org_id = $org"))[0] + 0, 100, 'exactly the allowance used');
$s->sql("UPDATE ai_credits SET used = 0 WHERE org_id = $org");
$s->sql("UPDATE ai_sessions SET turns = 50 WHERE public_id = '$sid'");
is($s->req(POST => "$S/messages", { message => 'Again', intent => 'advisory' })->{status}, 429,
	'the session turn limit: 429');
is($s->req(POST => "$S/messages", { message => 'x' x 8001 })->{status}, 400, 'a message over 8,000 characters');
is($s->req(POST => "$S/messages", { message => 'hi', intent => 'dance' })->{status}, 400, 'an unknown intent');

# Permissions and other orgs.
my $viewer = $s->user_key('viewer@ai.test', 'viewer');
is($s->as($viewer, GET => $S)->{status}, 200, 'a viewer reads a session');
is($s->as($viewer, POST => "$S/messages", { message => 'hi' })->{status}, 403, 'but sends no turn');
$s->cli('org', 'add', 'ai-other', '--owner', 'admin@dagy.local');
my (undef, $okey) = $s->cli('key', 'create', '--org', 'ai-other', '--user', 'admin@dagy.local', '--name', 'o');
$okey =~ s/\s+\z//;
is($s->as($okey, GET => $S)->{status}, 404, "another org's session is not found");

is($s->req(POST => "$S/archive", {})->{json}{status}, 'archived', 'archived');
$s->sql("UPDATE ai_sessions SET turns = 0 WHERE public_id = '$sid'");
is($s->req(POST => "$S/messages", { message => 'hi' })->{status}, 409, 'an archived session takes no turns');
is($s->req(DELETE => $S)->{status}, 204, 'deleted');
is($s->req(GET => $S)->{status}, 404, 'gone');
ok(!-e $s->dir . "/attachments/$att", "the attachment's bytes went with it");
my ($audits) = $s->sql("SELECT COUNT(*) FROM audit_log WHERE action LIKE 'ai_%'");
ok($audits >= 10, "mutations are audited ($audits)");

$s->finish;
done_testing;

# Sends a streamed turn over a raw socket (HTTP/1.0: no chunking) and
# returns its events, each with the time it arrived.
sub stream_turn {
	my ($port, $path, $body) = @_;
	my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port) or die "connect: $!";
	my $t0 = time;
	print $sock "POST $path HTTP/1.0\r\nHost: x\r\nAuthorization: Bearer " . $s->key
		. "\r\nContent-Type: application/json\r\nContent-Length: " . length($body) . "\r\n\r\n$body";
	my ($buf, $head, @ev) = ('', 0);
	while (1) {
		my $n = sysread($sock, my $chunk, 65536);
		last unless $n;
		$buf .= $chunk;
		$head = 1 if !$head && $buf =~ s/\A.*?\r\n\r\n//s;
		next unless $head;
		while ($buf =~ s/\A(.*?)\n\n//s) {
			my $block = $1;
			next if $block =~ /\A:/;
			push @ev, { name => $1, data => $json->decode($2), t => time - $t0 }
				if $block =~ /\Aevent: (\w+)\ndata: (.*)\z/s;
		}
	}
	diag("stream: $buf") unless @ev;
	return @ev;
}

sub office_zip {
	my ($name, $xml) = @_;
	my $out;
	zip(\$xml => \$out, Name => $name) or die $ZipError;
	return $out;
}

# Initiates, uploads and completes an attachment; the complete answer.
sub attach {
	my ($sess, $name, $bytes) = @_;
	my $i = $s->req(POST => "$sess/attachments/initiate", { filename => $name, size_bytes => length $bytes });
	return $i unless $i->{status} == 201;
	$http->request(PUT => $s->base . $i->{json}{upload_url}, { content => $bytes });
	return $s->req(POST => "$sess/attachments/complete", { attachment_id => $i->{json}{attachment_id} });
}

# A one-page PDF showing text, with a correct cross-reference table.
sub tiny_pdf {
	my ($text) = @_;
	my $stream = "BT /F1 18 Tf 72 720 Td ($text) Tj ET";
	my @obj = ('<< /Type /Catalog /Pages 2 0 R >>',
		'<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
		'<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
		"<< /Length " . length($stream) . " >>\nstream\n$stream\nendstream",
		'<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>');
	my $pdf = "%PDF-1.4\n";
	my @off;
	for my $i (0 .. $#obj) {
		push @off, length $pdf;
		$pdf .= ($i + 1) . " 0 obj\n$obj[$i]\nendobj\n";
	}
	my $xref = length $pdf;
	$pdf .= "xref\n0 " . (@obj + 1) . "\n0000000000 65535 f \n";
	$pdf .= sprintf("%010d 00000 n \n", $_) for @off;
	$pdf .= "trailer\n<< /Size " . (@obj + 1) . " /Root 1 0 R >>\nstartxref\n$xref\n%%EOF\n";
	return $pdf;
}
