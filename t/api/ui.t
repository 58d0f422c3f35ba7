# UI config: navigation filtered by the caller's permissions (anonymous
# callers see only the public part), marketing, the dashboard's figures
# from the org's real runs, settings per org, and content a super admin
# replaces.
use strict;
use warnings;
use Test::More;
use DagyTest;

my $s = DagyTest->start;
my $viewer = $s->user_key('viewer@ui.test', 'viewer');
my $anon = { Authorization => undef };
sub ids { return { map { $_->{id} => 1 } @{ $_[0] // [] } } }

# Navigation.
my $r = $s->req(GET => '/v1/ui/navigation', undef, $anon);
is($r->{status}, 200, 'navigation is public');
is($r->{json}{authenticated}, JSON::PP::false, 'anonymous');
is_deeply([sort keys %{ ids($r->{json}{main_nav}) }], [qw(docs home login pricing)],
	'anonymous: the public main navigation');
is(scalar @{ $r->{json}{sidebar_nav} }, 0, 'anonymous: no app navigation');
ok(!ids($r->{json}{footer_nav})->{settings}, 'anonymous: no settings link');
$r = $s->req(GET => '/v1/ui/navigation', undef, { Authorization => 'Bearer dagy_sk_bogus_x' });
is($r->{status}, 200, 'a bad token on the public route is anonymous');
is(scalar @{ $r->{json}{sidebar_nav} }, 0, '... and sees no app navigation');

my $owner = $s->req(GET => '/v1/ui/navigation')->{json};
my $view = $s->as($viewer, GET => '/v1/ui/navigation')->{json};
is($owner->{role}, 'owner', 'owner signed in');
is($view->{role}, 'viewer', 'viewer signed in');
my ($o, $v) = (ids($owner->{sidebar_nav}), ids($view->{sidebar_nav}));
ok($o->{$_}, "owner sees $_") for qw(dashboard flows runs members api_keys audit secrets ai_studio);
ok($v->{$_}, "viewer sees $_") for qw(dashboard flows runs);
ok(!$v->{$_}, "viewer does not see $_") for qw(members api_keys audit ai_studio);
isnt(join(',', sort keys %$o), join(',', sort keys %$v), 'navigation differs for a viewer and an owner');

# Marketing.
$r = $s->req(GET => '/v1/ui/marketing', undef, $anon);
is($r->{status}, 200, 'marketing is public');
ok($r->{json}{hero}{title} && ref $r->{json}{features} eq 'ARRAY' && $r->{json}{pricing}
	&& ref $r->{json}{testimonials} eq 'ARRAY', 'hero, features, pricing, testimonials');

# Dashboard: figures from real runs.
is($s->req(GET => '/v1/ui/dashboard', undef, $anon)->{status}, 401, 'dashboard needs credentials');
my $d = $s->req(GET => '/v1/ui/dashboard')->{json};
is($d->{stats}{runs_7d}, 0, 'no runs yet');
is($d->{stats}{success_rate_7d}, undef, 'no success rate before any run finished');
$s->flow('ui-ok', [['a', 'true']]);
$s->flow('ui-bad', [['a', 'false']]);
my @runs = map { $s->trigger($_) } qw(ui-ok ui-ok ui-ok ui-bad);
is($s->wait_run($_)->{status} // '', $_ eq $runs[3] ? 'failed' : 'completed', 'run finished') for @runs;
$d = $s->as($viewer, GET => '/v1/ui/dashboard')->{json};
is($d->{stats}{runs_7d}, 4, 'four runs in the last 7 days');
is($d->{stats}{runs_7d_by_status}{completed}, 3, 'three completed');
is($d->{stats}{runs_7d_by_status}{failed}, 1, 'one failed');
is($d->{stats}{success_rate_7d}, 0.75, 'success rate 3 of 4');
is($d->{stats}{flows}, 2, 'two flows');
is($d->{stats}{usage_month}{runs}, 4, "this month's metered runs");
ok($d->{stats}{usage_month}{tasks} >= 4, "and tasks");
is(scalar @{ $d->{recent_activity} }, 4, 'recent activity lists the runs');
is($d->{recent_activity}[0]{run_id}, $runs[3], 'newest first');
is($d->{recent_activity}[0]{flow_name}, 'ui-bad', 'with its flow');
ok(@{ $d->{widgets} } >= 1, 'widgets from the content document');
$s->cli('org', 'add', 'ui-other', '--owner', 'admin@dagy.local');
my ($oc, $okey) = $s->cli('key', 'create', '--org', 'ui-other', '--user', 'admin@dagy.local', '--name', 'o');
$okey =~ s/\s+\z//;
is($s->as($okey, GET => '/v1/ui/dashboard')->{json}{stats}{runs_7d}, 0,
	"another org's dashboard has none of these runs");
my @plan = $s->sql("EXPLAIN SELECT status, COUNT(*) FROM runs WHERE org_id = 1 AND created_at >= UTC_TIMESTAMP(6) - INTERVAL 7 DAY GROUP BY status");
like("@plan", qr/ix_runs_org_created/, 'the status counts use ix_runs_org_created');

# Settings per org.
is($s->req(GET => '/v1/ui/settings', undef, $anon)->{status}, 401, 'settings need credentials');
my $st = $s->req(GET => '/v1/ui/settings')->{json};
is($st->{preferences}{theme}, 'system', 'the default preferences');
ok(ids($st->{sections})->{organization}, 'owner: organization section');
ok(!ids($s->as($viewer, GET => '/v1/ui/settings')->{json}{sections})->{organization},
	'viewer: no organization section');
is($s->as($viewer, PATCH => '/v1/ui/settings', { preferences => { theme => 'dark' } })->{status}, 403,
	'a viewer cannot change the org settings');
$r = $s->req(PATCH => '/v1/ui/settings', { preferences => { theme => 'dark', week_start => 'monday' } });
is($r->{status}, 200, 'owner changes the org settings');
is($r->{json}{preferences}{theme}, 'dark', 'theme is dark');
is($s->as($viewer, GET => '/v1/ui/settings')->{json}{preferences}{week_start}, 'monday',
	'the whole org sees them');
is($s->as($okey, GET => '/v1/ui/settings')->{json}{preferences}{theme}, 'system',
	'another org keeps the defaults');
is($s->req(PATCH => '/v1/ui/settings', { preferences => [1] })->{status}, 400, 'preferences must be an object');
my ($audit) = $s->sql("SELECT COUNT(*) FROM audit_log WHERE action = 'ui.settings.update'");
is($audit, 1, 'the change is audited');

# Content a super admin replaces.
my $nav = { main_nav => [{ id => 'home', label => 'Home', path => '/' },
		{ id => 'blog', label => 'Blog', path => '/blog' }],
	sidebar_nav => [{ id => 'runs', label => 'Runs', path => '/app/runs', permission => 'runs.read' }],
	footer_nav => [] };
is($s->as($viewer, PUT => '/v1/ui/content/navigation', { content => $nav })->{status}, 403,
	'only a super admin replaces content');
is($s->req(PUT => '/v1/ui/content/navigation', { content => { main_nav => [] } })->{status}, 400,
	'a document missing its keys is refused');
is($s->req(PUT => '/v1/ui/content/nonsense', { content => $nav })->{status}, 404, 'unknown document');
is($s->req(PUT => '/v1/ui/content/navigation', { content => $nav })->{status}, 200, 'super admin replaces it');
$r = $s->req(GET => '/v1/ui/navigation', undef, $anon)->{json};
ok(ids($r->{main_nav})->{blog}, 'the new entry shows');
is(scalar @{ $r->{sidebar_nav} }, 0, 'anonymous still sees no app navigation');
is(scalar @{ $s->as($viewer, GET => '/v1/ui/navigation')->{json}{sidebar_nav} }, 1, 'viewer sees runs');

$s->finish;
done_testing;
