// The list pages: deployments, schedules (next fire time in the schedule's
// zone and the viewer's), secrets and environments (names only), channels,
// alert rules, and for admins the members and API keys of the organization.
import { api, all } from './api.js';
import { h, clear, badge, time, when, table, errorBox, notice, enc } from './ui.js';

// Heading, then the table of GET path's items, or the API's error.
async function listPage(view, title, path, columns, empty, intro) {
	document.title = `${title} · dagy`;
	view.append(h('h1', { tabindex: '-1' }, title));
	if (intro) view.append(intro);
	const box = h('div', {});
	view.append(box);
	const load = async () => {
		try {
			const items = await all(path);
			clear(box).append(table(title, columns, items, empty));
		} catch (e) {
			clear(box).append(errorBox(e));
		}
	};
	await load();
	return load;
}

const yes = b => (b ? 'yes' : 'no');
const mono = x => h('span', { class: 'mono' }, x);

export async function deployments(view) {
	await listPage(view, 'Deployments', '/v1/deployments', [
		['Deployment', d => mono(d.deployment_name)],
		['Flow', d => h('a', { href: `#/flows/${enc(d.flow_name)}` }, d.flow_name)],
		['Version', d => d.flow_version],
		['Environment', d => d.environment || '—'],
		['Schedule', d => d.schedule ? mono(d.schedule) : '—'],
		['Mode', d => d.execution_mode || '—'],
		['Updated', d => time(d.updated_at)],
	], 'No deployments yet.');
}

export async function schedules(view) {
	const mine = Intl.DateTimeFormat().resolvedOptions().timeZone;
	await listPage(view, 'Schedules', '/v1/schedules', [
		['Schedule', x => mono(x.schedule_id)],
		['Flow', x => h('a', { href: `#/flows/${enc(x.flow_name)}` }, x.flow_name)],
		['When', x => mono(x.mode === 'cron' ? x.cron_expression : x.mode === 'interval' ?
			`every ${x.interval_seconds} s` : x.mode === 'one_time' ? `once at ${x.one_time_at}` : x.mode)],
		['Enabled', x => yes(x.enabled)],
		[`Next (schedule's zone)`, x => x.next_run_at ?
			h('time', { datetime: x.next_run_at }, when(x.next_run_at, x.timezone)) : '—'],
		[`Next (yours: ${mine})`, x => x.next_run_at ?
			h('time', { datetime: x.next_run_at }, when(x.next_run_at, mine)) : '—'],
		['Last run', x => x.last_run_id ? h('a', { href: `#/runs/${enc(x.last_run_id)}` }, when(x.last_run_at)) : '—'],
	], 'No schedules yet.');
}

export async function secrets(view) {
	await listPage(view, 'Secrets', '/v1/secrets', [
		['Name', x => mono(x.secret_name)],
		['Environment', x => x.environment || '—'],
		['Created', x => time(x.created_at)],
		['Updated', x => time(x.updated_at)],
	], 'No secrets yet.', h('p', { class: 'stamp' }, 'Names only: the dashboard never reads secret values.'));
}

export async function environments(view) {
	await listPage(view, 'Environments', '/v1/environments', [
		['Environment', x => mono(x.env_name)],
		['Executor', x => x.default_executor || '—'],
		['Protected', x => yes(x.is_protected)],
		['Created', x => time(x.created_at)],
	], 'No environments yet.');
}

export async function channels(view) {
	await listPage(view, 'Channels', '/v1/channels', [
		['Channel', x => x.name],
		['Type', x => x.channel_type],
		['Enabled', x => yes(x.enabled)],
		['Created', x => time(x.created_at)],
	], 'No notification channels yet.');
}

export async function alertRules(view) {
	await listPage(view, 'Alert rules', '/v1/alert-rules', [
		['Rule', x => x.name],
		['Trigger', x => x.trigger],
		['Flow', x => x.flow_name || 'any'],
		['Channels', x => (x.channel_ids || []).join(', ')],
		['Enabled', x => yes(x.enabled)],
		['Created', x => time(x.created_at)],
	], 'No alert rules yet.');
}

const ROLE_NAMES = ['viewer', 'developer', 'admin', 'owner'];

export async function members(view, ctx) {
	const org = ctx.me.org_id;
	const base = `/v1/orgs/${enc(org)}/members`;
	const out = h('div', { class: 'out', 'aria-live': 'polite' });
	const email = h('input', { id: 'm-email', type: 'email', required: true });
	const role = h('select', { id: 'm-role' }, ROLE_NAMES.map(r => h('option', { value: r }, r)));
	role.value = 'viewer';
	let reload = null;
	const form = h('form', { class: 'card inline', 'aria-label': 'Add a member' },
		h('div', { class: 'field' }, h('label', { for: 'm-email' }, 'Email'), email),
		h('div', { class: 'field' }, h('label', { for: 'm-role' }, 'Role'), role),
		h('button', { type: 'submit' }, 'Add member'));
	form.addEventListener('submit', async e => {
		e.preventDefault();
		clear(out);
		try {
			await api('POST', base, { body: { email: email.value, role: role.value } });
			out.append(notice(`${email.value} added as ${role.value}.`));
			email.value = '';
			await reload();
		} catch (err) {
			out.append(errorBox(err));
		}
	});
	reload = await listPage(view, 'Members', base, [
		['Email', m => m.email],
		['Role', m => {
			const sel = h('select', { 'aria-label': `Role of ${m.email}` }, ROLE_NAMES.map(r => h('option', { value: r }, r)));
			sel.value = m.role;
			const save = h('button', { type: 'button' }, 'Change');
			save.addEventListener('click', async () => {
				clear(out);
				try {
					await api('PATCH', `${base}/${enc(m.email)}/role`, { body: { role: sel.value } });
					out.append(notice(`${m.email} is now ${sel.value}.`));
				} catch (err) {
					out.append(errorBox(err));
				}
			});
			return h('span', { class: 'rowbtns' }, sel, save);
		}],
		['Status', m => badge(m.status)],
		['Joined', m => time(m.joined_at)],
	], 'No members.', h('div', {}, out, form));
}

export async function apiKeys(view) {
	const out = h('div', { class: 'out', 'aria-live': 'polite' });
	const name = h('input', { id: 'k-name', required: true, maxlength: '200' });
	let reload = null;
	const form = h('form', { class: 'card inline', 'aria-label': 'Create an API key' },
		h('div', { class: 'field' }, h('label', { for: 'k-name' }, 'Name'), name),
		h('button', { type: 'submit' }, 'Create key'));
	form.addEventListener('submit', async e => {
		e.preventDefault();
		clear(out);
		try {
			const k = await api('POST', '/v1/api-keys', { body: { name: name.value } });
			out.append(h('div', { class: 'notice', role: 'status' },
				h('p', {}, `Key “${k.name}” created. Copy it now; it is not shown again:`),
				h('code', { class: 'secret', tabindex: '0' }, k.key)));
			name.value = '';
			await reload();
		} catch (err) {
			out.append(errorBox(err));
		}
	});
	reload = await listPage(view, 'API keys', '/v1/api-keys', [
		['Name', k => k.name],
		['Prefix', k => mono(k.key_prefix)],
		['Created by', k => k.created_by || '—'],
		['Created', k => time(k.created_at)],
		['Last used', k => time(k.last_used_at)],
		['', k => {
			const b = h('button', { type: 'button', class: 'danger' }, 'Delete');
			b.addEventListener('click', async () => {
				if (!confirm(`Delete the API key “${k.name}”? Clients using it stop working.`)) return;
				clear(out);
				try {
					await api('DELETE', `/v1/api-keys/${enc(k.key_id)}`);
					out.append(notice(`Key “${k.name}” deleted.`));
					await reload();
				} catch (err) {
					out.append(errorBox(err));
				}
			});
			return b;
		}],
	], 'No API keys.', h('div', {}, out, form));
}
