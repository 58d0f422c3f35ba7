// The dashboard's shell: sign-in and sign-out, who is signed in (GET
// /v1/me), the navigation a role may use, and a hash router that gives
// each page the main element and stops the previous page's polling.
import { api, session } from './api.js';
import { h, clear, errorBox, notice } from './ui.js';
import * as runs from './runs.js';
import * as run from './run.js';
import * as flows from './flows.js';
import * as pages from './pages.js';

// The role matrix of GET /v1/orgs/{org_id}/roles, to decide what to show;
// the API decides what is allowed and the pages show its refusals.
const ROLES = {
	viewer: ['flows.read', 'runs.read', 'schedules.read', 'environments.read', 'billing.read'],
	developer: ['flows.read', 'flows.write', 'runs.read', 'runs.trigger', 'runs.cancel',
		'schedules.read', 'schedules.write', 'secrets.read', 'secrets.write', 'notifications.read',
		'environments.read', 'sensors.read', 'sensors.write'],
	admin: ['flows.read', 'flows.write', 'flows.delete', 'runs.read', 'runs.trigger', 'runs.cancel',
		'schedules.read', 'schedules.write', 'api_keys.read', 'api_keys.write', 'admin.members',
		'admin.api_keys', 'admin.audit', 'secrets.read', 'secrets.write', 'notifications.read',
		'notifications.write', 'environments.read', 'environments.write', 'sensors.read',
		'sensors.write', 'billing.read'],
};
ROLES.owner = [...ROLES.admin, 'flows.delete', 'schedules.delete', 'api_keys.delete',
	'secrets.delete', 'billing.write'];

const NAV = [
	['#/runs', 'Runs', 'runs.read'],
	['#/flows', 'Flows', 'flows.read'],
	['#/deployments', 'Deployments', 'flows.read'],
	['#/schedules', 'Schedules', 'schedules.read'],
	['#/secrets', 'Secrets', 'secrets.read'],
	['#/environments', 'Environments', 'environments.read'],
	['#/channels', 'Channels', 'notifications.read'],
	['#/alert-rules', 'Alert rules', 'notifications.read'],
	['#/members', 'Members', 'admin.members'],
	['#/api-keys', 'API keys', 'admin.api_keys'],
];

const ROUTES = [
	[/^\/runs\/([^/]+)$/, run.render],
	[/^\/runs$/, runs.render],
	[/^\/flows\/([^/]+)$/, flows.renderFlow],
	[/^\/flows$/, flows.renderList],
	[/^\/deployments$/, pages.deployments],
	[/^\/schedules$/, pages.schedules],
	[/^\/secrets$/, pages.secrets],
	[/^\/environments$/, pages.environments],
	[/^\/channels$/, pages.channels],
	[/^\/alert-rules$/, pages.alertRules],
	[/^\/members$/, pages.members],
	[/^\/api-keys$/, pages.apiKeys],
];

const main = document.getElementById('main');
const header = document.getElementById('top');
let ctx = null;
let stop = null;
let navigations = 0;

function can(perm) {
	return !!ctx && (ROLES[ctx.me.role] || []).includes(perm);
}

function drawHeader() {
	const nav = clear(document.getElementById('nav'));
	nav.append(h('ul', {}, NAV.filter(n => can(n[2])).map(([href, text]) =>
		h('li', {}, h('a', { href, 'data-nav': href }, text)))));
	const who = clear(document.getElementById('who'));
	who.append(h('span', { class: 'email' }, ctx.me.user_email), ' ', h('span', { class: 'role' }, ctx.me.role));
	header.hidden = false;
}

function markNav(path) {
	for (const a of document.querySelectorAll('#nav a')) {
		const on = path === a.dataset.nav.slice(1) || path.startsWith(`${a.dataset.nav.slice(1)}/`);
		if (on) a.setAttribute('aria-current', 'page');
		else a.removeAttribute('aria-current');
	}
}

function parseHash() {
	let raw = location.hash.replace(/^#/, '');
	if (!raw || raw === '/signin') raw = '/runs';
	const [path, q] = raw.split('?');
	return { path, query: new URLSearchParams(q || '') };
}

async function route() {
	// In-page anchors (the skip link) are not pages.
	if (location.hash && !location.hash.startsWith('#/')) return undefined;
	if (stop) {
		stop();
		stop = null;
	}
	if (!session.token) return signIn();
	if (!ctx) {
		try {
			ctx = { me: await api('GET', '/v1/me'), can };
		} catch (e) {
			if (!session.token) return undefined; // expired: onExpired shows the sign-in
			clear(main).append(errorBox(e));
			return undefined;
		}
		drawHeader();
	}
	const { path, query } = parseHash();
	markNav(path);
	clear(main);
	const hit = ROUTES.find(([re]) => re.test(path));
	if (!hit) {
		main.append(h('h1', {}, 'Not found'), h('p', {}, 'No such page. ', h('a', { href: '#/runs' }, 'Runs')));
		return undefined;
	}
	const args = path.match(hit[0]).slice(1).map(decodeURIComponent);
	const view = h('div', { class: 'view' });
	main.append(view);
	const nav = ++navigations;
	let done = null;
	try {
		done = (await hit[1](view, ctx, query, ...args)) || null;
	} catch (e) {
		view.append(errorBox(e));
	}
	// Left for another page while this one was loading: stop it at once.
	if (nav !== navigations) {
		if (done) done();
		return undefined;
	}
	stop = done;
	// A new page takes focus at its heading, unless the user already moved
	// into it while it loaded.
	const at = document.activeElement;
	if (!at || at === document.body || !main.contains(at)) (view.querySelector('h1') || main).focus();
	return undefined;
}

function signIn(message) {
	navigations++;
	ctx = null;
	header.hidden = true;
	document.title = 'Sign in · dagy';
	clear(main);
	const out = h('div', { class: 'out', 'aria-live': 'polite' });
	if (message) out.append(errorBox({ message }));
	const email = h('input', { id: 'email', type: 'email', name: 'email', autocomplete: 'username', required: true });
	const password = h('input', { id: 'password', type: 'password', name: 'password', autocomplete: 'current-password', required: true });
	const key = h('input', { id: 'apikey', type: 'password', name: 'apikey', autocomplete: 'off', required: true });
	const finish = async token => {
		ctx = { me: await api('GET', '/v1/me', { token }), can };
		session.token = token;
		drawHeader();
		location.hash = '#/runs';
		if (parseHash().path === '/runs') route();
	};
	const submit = fn => async e => {
		e.preventDefault();
		clear(out);
		const b = e.target.querySelector('button');
		b.disabled = true;
		try {
			await fn();
		} catch (err) {
			out.append(errorBox(err));
		} finally {
			b.disabled = false;
		}
	};
	main.append(h('section', { class: 'signin' },
		h('h1', { tabindex: '-1' }, 'Sign in to dagy'),
		out,
		h('form', { id: 'login', onsubmit: submit(async () => {
			const r = await api('POST', '/v1/auth/login', { token: null,
				body: { email: email.value, password: password.value } });
			await finish(r.access_token);
		}) },
		h('label', { for: 'email' }, 'Email'), email,
		h('label', { for: 'password' }, 'Password'), password,
		h('button', { type: 'submit', class: 'primary' }, 'Sign in')),
		h('details', {}, h('summary', {}, 'Use an API key instead'),
			h('form', { id: 'keylogin', onsubmit: submit(() => finish(key.value.trim())) },
				h('label', { for: 'apikey' }, 'API key'), key,
				h('button', { type: 'submit' }, 'Sign in with the key')))));
	main.querySelector('h1').focus();
}

async function signOut() {
	const token = session.token;
	if (stop) {
		stop();
		stop = null;
	}
	let msg = 'Signed out.';
	// Logout ends access tokens; an API key stays valid until deleted.
	if (token && token.startsWith('dagy_at_')) {
		try {
			await api('POST', '/v1/auth/logout', { token });
		} catch (e) {
			msg = `Signed out here, but the API said: ${e.message}`;
		}
	} else if (token) {
		msg = 'Signed out. The API key itself stays valid until it is deleted.';
	}
	session.token = null;
	history.replaceState(null, '', '#/signin');
	signIn();
	clear(main.querySelector('.out')).append(notice(msg));
}

session.onExpired = err => {
	session.token = null;
	if (stop) {
		stop();
		stop = null;
	}
	signIn(`Your session ended: ${err.message}`);
};

document.getElementById('signout').addEventListener('click', signOut);
window.addEventListener('hashchange', route);
route();
