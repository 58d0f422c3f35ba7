// The runs page: filters by flow, status and creation time (kept in the
// URL), newest first, and kept current by polling the first page every
// two seconds; rows change in place so focus and scroll stay put.
import { api, all } from './api.js';
import { h, clear, badge, time, seconds, errorBox, enc } from './ui.js';

const STATUSES = ['created', 'queued', 'running', 'completed', 'failed', 'cancelled'];
const POLL_MS = 2000;

export async function render(view, ctx, query) {
	document.title = 'Runs · dagy';
	const f = {
		flow: query.get('flow') || '', status: query.get('status') || '',
		after: query.get('after') || '', before: query.get('before') || '',
	};
	const out = h('div', { class: 'out', 'aria-live': 'polite' });
	const flowSel = h('select', { id: 'f-flow', name: 'flow' }, h('option', { value: '' }, 'any flow'));
	const statusSel = h('select', { id: 'f-status', name: 'status' }, h('option', { value: '' }, 'any status'),
		STATUSES.map(x => h('option', { value: x }, x)));
	const after = h('input', { id: 'f-after', type: 'datetime-local', name: 'after', value: f.after });
	const before = h('input', { id: 'f-before', type: 'datetime-local', name: 'before', value: f.before });
	statusSel.value = f.status;
	const form = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter runs' },
		h('div', {}, h('label', { for: 'f-flow' }, 'Flow'), flowSel),
		h('div', {}, h('label', { for: 'f-status' }, 'Status'), statusSel),
		h('div', {}, h('label', { for: 'f-after' }, 'Created after'), after),
		h('div', {}, h('label', { for: 'f-before' }, 'Created before'), before),
		h('div', { class: 'buttons' }, h('button', { type: 'submit' }, 'Apply'),
			h('a', { href: '#/runs', class: 'button' }, 'Clear')));
	form.addEventListener('submit', e => {
		e.preventDefault();
		const q = new URLSearchParams();
		if (flowSel.value) q.set('flow', flowSel.value);
		if (statusSel.value) q.set('status', statusSel.value);
		if (after.value) q.set('after', after.value);
		if (before.value) q.set('before', before.value);
		location.hash = `#/runs${q.toString() ? `?${q}` : ''}`;
	});
	const stamp = h('p', { class: 'stamp' });
	const live = h('div', { class: 'out', 'aria-live': 'polite' });
	const tbody = h('tbody', { id: 'runs-body' });
	const more = h('button', { type: 'button', hidden: true }, 'Load older runs');
	const empty = h('p', { class: 'empty', hidden: true }, 'No runs match.');
	view.append(h('h1', { tabindex: '-1' }, 'Runs'), form, out, live,
		h('div', { class: 'scroll', role: 'region', 'aria-label': 'Runs', tabindex: '0' },
			h('table', { id: 'runs' },
				h('thead', {}, h('tr', {}, ['Run', 'Flow', 'Version', 'Status', 'Created', 'Duration']
					.map(c => h('th', { scope: 'col' }, c)))),
				tbody)), empty, more, stamp);

	all('/v1/flows', {}, 500).then(list => {
		for (const fl of list) flowSel.append(h('option', { value: fl.flow_name }, fl.flow_name));
		flowSel.value = f.flow;
	}).catch(e => out.append(errorBox(e)));
	if (f.flow && !flowSel.querySelector(`option[value="${CSS.escape(f.flow)}"]`)) {
		flowSel.append(h('option', { value: f.flow }, f.flow));
		flowSel.value = f.flow;
	}

	const lo = f.after ? new Date(f.after).getTime() : -Infinity;
	const hi = f.before ? new Date(f.before).getTime() : Infinity;
	const inRange = r => {
		const t = new Date(r.created_at).getTime();
		return t >= lo && t <= hi;
	};
	const rows = new Map();
	let token = null;
	let timer = null;
	let gone = false;

	const cells = r => [
		h('a', { href: `#/runs/${enc(r.run_id)}`, class: 'mono' }, r.run_slug || r.run_id),
		h('a', { href: `#/flows/${enc(r.flow_name)}` }, r.flow_name),
		r.flow_version, badge(r.status), time(r.created_at), seconds(r.duration_seconds),
	];
	const key = r => `${r.status}|${r.duration_seconds}|${r.started_at}`;
	const put = (r, top) => {
		const old = rows.get(r.run_id);
		if (old) {
			if (old.key === key(r)) return;
			const tds = old.tr.children;
			const fresh = cells(r);
			// Only the changing cells, so a focused run link keeps its focus.
			for (const i of [3, 5]) clear(tds[i]).append(fresh[i]);
			old.tr.dataset.status = r.status;
			old.key = key(r);
			return;
		}
		if (!inRange(r)) return;
		const tr = h('tr', { 'data-run': r.run_id, 'data-status': r.status },
			cells(r).map(c => h('td', {}, c)));
		rows.set(r.run_id, { tr, key: key(r) });
		if (top) tbody.prepend(tr);
		else tbody.append(tr);
	};
	const show = () => {
		empty.hidden = rows.size > 0;
		more.hidden = !token;
		stamp.textContent = `Updated ${new Date().toLocaleTimeString()}; refreshes every ${POLL_MS / 1000} s.`;
	};
	const q = extra => ({ flow_name: f.flow, status: f.status, limit: 50, ...extra });
	const older = async () => {
		// Pages come newest first; keep going while the time filter hides them all.
		let pages = 0;
		do {
			const page = await api('GET', '/v1/runs', { query: q({ next_token: token }) });
			for (const r of page.items) put(r, false);
			token = page.next_token;
			const last = page.items[page.items.length - 1];
			if (last && new Date(last.created_at).getTime() < lo) token = null;
		} while (token && rows.size === 0 && ++pages < 10);
		show();
	};
	const poll = async () => {
		timer = null;
		try {
			const page = await api('GET', '/v1/runs', { query: q() });
			for (const r of [...page.items].reverse()) put(r, true);
			show();
			clear(live);
		} catch (e) {
			clear(live).append(errorBox(e));
		}
		if (!gone) timer = setTimeout(poll, POLL_MS);
	};
	more.addEventListener('click', () => older().catch(e => clear(out).append(errorBox(e))));
	try {
		await older();
	} catch (e) {
		out.append(errorBox(e));
	}
	timer = setTimeout(poll, POLL_MS);
	return () => {
		gone = true;
		clearTimeout(timer);
	};
}
