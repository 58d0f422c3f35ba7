// Flows: the list, and one flow with its spec, its versions, its DAG and a
// trigger form built from the spec's `params`.
import { api, all } from './api.js';
import { h, clear, badge, time, table, errorBox, enc, json } from './ui.js';
import { drawDag } from './dag.js';

export async function renderList(view) {
	document.title = 'Flows · dagy';
	view.append(h('h1', { tabindex: '-1' }, 'Flows'));
	const flows = await all('/v1/flows');
	view.append(table('Flows', [
		['Flow', f => h('a', { href: `#/flows/${enc(f.flow_name)}` }, f.flow_name)],
		['Latest version', f => f.flow_version],
		['Namespace', f => f.namespace || '—'],
		['Status', f => badge(f.status)],
		['Updated', f => time(f.updated_at)],
	], flows, 'No flows yet: register one with POST /v1/flows.'));
}

// An input for one parameter, typed after its declared type or default.
function paramInput(name, p, id) {
	const def = p && typeof p === 'object' ? p.default : p;
	const type = (p && p.type) || (def === undefined || def === null ? 'string' : typeof def);
	let input;
	if (type === 'boolean') {
		input = h('select', { id, name }, h('option', { value: 'true' }, 'true'), h('option', { value: 'false' }, 'false'));
		input.value = def === false ? 'false' : 'true';
	} else {
		const num = type === 'number' || type === 'integer';
		input = h('input', { id, name, type: num ? 'number' : 'text', step: num ? 'any' : undefined });
		if (def !== undefined && def !== null) input.value = String(def);
		else input.required = true;
	}
	input.dataset.kind = type;
	return input;
}

function paramValue(input) {
	const k = input.dataset.kind;
	if (k === 'boolean') return input.value === 'true';
	if ((k === 'number' || k === 'integer') && input.value !== '') return Number(input.value);
	return input.value;
}

export async function renderFlow(view, ctx, query, name) {
	document.title = `${name} · dagy`;
	const out = h('div', { class: 'out', 'aria-live': 'polite' });
	view.append(h('h1', { tabindex: '-1' }, 'Flow ', h('span', { class: 'mono' }, name)), out);
	const [latest, versions] = await Promise.all([
		api('GET', `/v1/flows/${enc(name)}/latest`),
		api('GET', `/v1/flows/${enc(name)}/versions`),
	]);
	const meta = [['Latest version', latest.flow_version], ['Status', badge(latest.status)],
		['Deployment', latest.deployment_name || '—'], ['Executor', latest.default_executor || '—'],
		['Namespace', latest.namespace || '—'], ['Updated', time(latest.updated_at || latest.created_at)],
		['Runs', h('a', { href: `#/runs?flow=${enc(name)}` }, 'runs of this flow')]];
	view.append(h('dl', { class: 'summary' }, meta.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])));

	if (ctx.can('runs.trigger')) view.append(triggerForm(name, latest, versions.items, out));

	const specBox = h('div', {});
	const showSpec = (f) => {
		clear(specBox).append(h('h3', {}, `Version ${f.flow_version}`),
			h('div', { class: 'scroll graph', role: 'region', 'aria-label': 'Graph', tabindex: '0' },
				drawDag(f.flow_spec.nodes || [], new Map(), null, null)),
			json(f.flow_spec));
	};
	view.append(h('section', { 'aria-labelledby': 'h-ver' }, h('h2', { id: 'h-ver' }, 'Versions'),
		table('Versions', [
			['Version', v => h('button', { type: 'button', class: 'linkish', onclick: async () => {
				try {
					showSpec(await api('GET', `/v1/flows/${enc(name)}/${enc(v.flow_version)}`));
				} catch (e) {
					clear(specBox).append(errorBox(e));
				}
			} }, v.flow_version)],
			['Registration', v => String(v.deployment_version ?? '—')],
			['Status', v => badge(v.status)],
			['Created', v => time(v.created_at)],
		], versions.items)),
	h('section', { 'aria-labelledby': 'h-spec' }, h('h2', { id: 'h-spec' }, 'Spec'), specBox));
	showSpec(latest);
}

function triggerForm(name, latest, versions, out) {
	const params = (latest.flow_spec && latest.flow_spec.params) || {};
	const ver = h('select', { id: 't-version', name: 'flow_version' },
		versions.map(v => h('option', { value: v.flow_version }, v.flow_version)));
	ver.value = latest.flow_version;
	const inputs = Object.entries(params).map(([p, d]) => [p, paramInput(p, d, `p-${p}`)]);
	const form = h('form', { id: 'trigger', class: 'card', 'aria-labelledby': 'h-trigger' },
		h('h2', { id: 'h-trigger' }, 'Trigger a run'),
		h('div', { class: 'field' }, h('label', { for: 't-version' }, 'Version'), ver),
		inputs.map(([p, input]) => h('div', { class: 'field' },
			h('label', { for: input.id }, p), input,
			params[p] && params[p].description ? h('small', {}, params[p].description) : null)),
		inputs.length ? null : h('p', { class: 'stamp' }, 'This flow declares no parameters.'),
		h('button', { type: 'submit', class: 'primary' }, 'Trigger'));
	form.addEventListener('submit', async e => {
		e.preventDefault();
		clear(out);
		const b = form.querySelector('button[type=submit]');
		b.disabled = true;
		try {
			const parameters = {};
			for (const [p, input] of inputs) parameters[p] = paramValue(input);
			const r = await api('POST', '/v1/runs', { body: { flow_name: name, flow_version: ver.value, parameters } });
			location.hash = `#/runs/${enc(r.run_id)}`;
		} catch (err) {
			out.append(errorBox(err));
		} finally {
			b.disabled = false;
		}
	});
	return form;
}
