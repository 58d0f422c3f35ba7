// One run: its summary, the DAG coloured by step status, the steps with
// their actions, a timeline of step start and end, outputs, and the logs
// of one step or all of them with follow mode. Polls once a second while
// the run is not finished; redraws only what changed, keeping focus.
import { api } from './api.js';
import { h, s, clear, badge, time, seconds, errorBox, notice, table, enc, json } from './ui.js';
import { drawDag } from './dag.js';

const ACTIVE = ['created', 'queued', 'running'];
const POLL_MS = 1000;
const LOG_PAGE = 1000;

export async function render(view, ctx, query, runId) {
	const base = `/v1/runs/${enc(runId)}`;
	document.title = `Run ${runId} · dagy`;
	const out = h('div', { class: 'out', 'aria-live': 'polite' });
	const head = h('h1', { tabindex: '-1' }, 'Run ', h('span', { class: 'mono' }, runId));
	const summary = h('div', { class: 'summary' });
	const actions = h('div', { class: 'actions' });
	const graph = h('div', { class: 'scroll graph', role: 'region', 'aria-label': 'Graph', tabindex: '-1' });
	const stepsBox = h('div', {});
	const timeline = h('div', { class: 'timeline' });
	const outputs = h('div', {});
	const stepSel = h('select', { id: 'log-step' }, h('option', { value: '' }, 'all steps'));
	const follow = h('input', { id: 'log-follow', type: 'checkbox' });
	const logNote = h('span', { class: 'stamp', 'aria-live': 'polite' });
	const logPre = h('pre', { id: 'log', class: 'log', tabindex: '0', role: 'log', 'aria-label': 'Log lines' });
	view.append(head, out, summary, actions,
		h('section', { 'aria-labelledby': 'h-graph' }, h('h2', { id: 'h-graph' }, 'Graph'), graph),
		h('section', { 'aria-labelledby': 'h-steps' }, h('h2', { id: 'h-steps' }, 'Steps'), stepsBox),
		h('section', { 'aria-labelledby': 'h-time' }, h('h2', { id: 'h-time' }, 'Timeline'), timeline),
		h('section', { 'aria-labelledby': 'h-out' }, h('h2', { id: 'h-out' }, 'Outputs'), outputs),
		h('section', { 'aria-labelledby': 'h-logs', id: 'logs' }, h('h2', { id: 'h-logs' }, 'Logs'),
			h('div', { class: 'logbar' },
				h('label', { for: 'log-step' }, 'Step'), stepSel,
				h('span', { class: 'check' }, follow, h('label', { for: 'log-follow' }, 'Follow')),
				logNote),
			logPre));

	let run = null, steps = [], nodes = null, sig = '', outSig = '', timer = null, gone = false;
	let selected = '', logToken = null, logTimer = null, logGen = 0;

	// Keeps keyboard focus on the same control across a redraw.
	const keepFocus = fn => {
		const k = document.activeElement && document.activeElement.getAttribute &&
			document.activeElement.getAttribute('data-focus');
		fn();
		if (k) {
			const el = view.querySelector(`[data-focus="${CSS.escape(k)}"]`);
			if (el) el.focus();
		}
	};
	const act = (label, fn, key, cls) => {
		const b = h('button', { type: 'button', 'data-focus': key, class: cls }, label);
		b.addEventListener('click', async () => {
			b.disabled = true;
			clear(out);
			try {
				const msg = await fn();
				if (msg) out.append(notice(msg));
			} catch (e) {
				out.append(errorBox(e));
			} finally {
				b.disabled = false;
			}
			await refresh(true).catch(e => out.append(errorBox(e)));
		});
		return b;
	};

	const pick = id => {
		selected = id;
		stepSel.value = id;
		draw(true);
		loadLogs();
		document.getElementById('logs').scrollIntoView({ block: 'start' });
		logPre.focus({ preventScroll: true });
	};

	const drawSummary = () => {
		const dl = [
			['Status', badge(run.status)],
			['Flow', h('a', { href: `#/flows/${enc(run.flow_name)}` }, run.flow_name)],
			['Version', run.flow_version],
			['Deployment', run.deployment_name || '—'],
			['Trigger', run.trigger || '—'],
			['Created', time(run.created_at)],
			['Started', time(run.started_at)],
			['Ended', time(run.completed_at || run.cancelled_at)],
			['Duration', seconds(run.duration_seconds)],
		];
		clear(summary).append(h('dl', {}, dl.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])));
		if (run.error) summary.append(h('p', { class: 'error' }, run.error));
		if (run.parameters && Object.keys(run.parameters).length)
			summary.append(h('details', {}, h('summary', {}, 'Parameters'), json(run.parameters)));
	};

	const drawActions = () => {
		clear(actions);
		if (ACTIVE.includes(run.status) && ctx.can('runs.cancel'))
			actions.append(act('Cancel run', async () => {
				if (!confirm(`Cancel run ${runId}?`)) return null;
				await api('POST', `${base}/cancel`);
				return 'Run cancelled.';
			}, 'cancel', 'danger'));
		if (['failed', 'cancelled'].includes(run.status) && ctx.can('runs.trigger'))
			actions.append(act('Retry run', async () => {
				await api('POST', `${base}/retry`);
				return 'Run queued again: failed and cancelled steps run again.';
			}, 'retry'));
	};

	const drawSteps = () => {
		const decide = (st, verb) => act(verb === 'approve' ? 'Approve' : 'Reject', async () => {
			await api('POST', `${base}/steps/${enc(st.step_id)}/${verb}`);
			return `Step ${st.step_id} ${verb === 'approve' ? 'approved' : 'rejected'}.`;
		}, `${verb}:${st.step_id}`, verb === 'reject' ? 'danger' : '');
		clear(stepsBox).append(table('Steps', [
			['Step', st => h('span', { class: 'mono' }, st.step_id)],
			['Type', st => st.type],
			['Status', st => badge(st.status)],
			['Attempt', st => String(st.attempt)],
			['Exit', st => st.exit_code === null ? '—' : String(st.exit_code)],
			['Started', st => time(st.started_at)],
			['Duration', st => seconds(st.duration_seconds)],
			['Error', st => st.error || ''],
			['', st => h('span', { class: 'rowbtns' },
				h('button', { type: 'button', 'data-focus': `log:${st.step_id}`, 'data-log': st.step_id,
					onclick: () => pick(st.step_id) }, 'Log'),
				st.status === 'waiting_approval' && ctx.can('runs.trigger') ?
					[decide(st, 'approve'), decide(st, 'reject')] : null)],
		], steps, 'No steps yet.'));
	};

	const drawGraph = () => {
		const status = new Map(steps.map(st => [st.step_id, st.status]));
		const ns = nodes || steps.map(st => ({ id: st.step_id, type: st.type }));
		if (!ns.length) {
			clear(graph).append(h('p', { class: 'empty' }, 'No steps yet.'));
			return;
		}
		const svg = drawDag(ns, status, pick, selected);
		for (const g of svg.querySelectorAll('[data-step]'))
			g.setAttribute('data-focus', `node:${g.getAttribute('data-step')}`);
		clear(graph).append(svg);
	};

	const drawTimeline = () => {
		const ts = steps.filter(st => st.started_at);
		clear(timeline);
		if (!ts.length) {
			timeline.append(h('p', { class: 'empty' }, 'No step has started yet.'));
			return;
		}
		const now = Date.now();
		const t0 = Math.min(...ts.map(st => Date.parse(st.started_at)));
		const t1 = Math.max(t0 + 1, ...ts.map(st => st.finished_at ? Date.parse(st.finished_at) : now));
		const span = t1 - t0;
		timeline.append(h('p', { class: 'stamp' }, `From ${new Date(t0).toLocaleTimeString()} to `
			+ `${new Date(t1).toLocaleTimeString()} (${seconds(span / 1000)})`));
		for (const st of ts) {
			const a = Date.parse(st.started_at);
			const b = st.finished_at ? Date.parse(st.finished_at) : now;
			const x = ((a - t0) / span) * 1000;
			const w = Math.max(8, ((b - a) / span) * 1000);
			timeline.append(h('div', { class: 'tl-row' },
				h('span', { class: 'tl-label mono' }, st.step_id),
				h('span', { class: 'tl-track' },
					s('svg', { viewBox: '0 0 1000 10', preserveAspectRatio: 'none', role: 'img',
						'aria-label': `${st.step_id}: ${st.status}, ${seconds((b - a) / 1000)}` },
					s('rect', { x: Math.min(x, 992), y: '0', width: w, height: '10', class: `bar st-${st.status}` }))),
				h('span', { class: 'tl-dur' }, seconds((b - a) / 1000))));
		}
	};

	const loadOutputs = async () => {
		const o = await api('GET', `${base}/outputs`);
		const k = JSON.stringify(o.items);
		if (k === outSig) return;
		outSig = k;
		clear(outputs).append(table('Outputs', [
			['Step', x => h('span', { class: 'mono' }, x.step_id)],
			['Key', x => h('span', { class: 'mono' }, x.key)],
			['Value', x => h('span', { class: 'mono value' }, x.value)],
		], o.items, 'No outputs.'));
	};

	const draw = force => {
		const k = JSON.stringify([run, steps, selected]);
		if (!force && k === sig) return;
		sig = k;
		keepFocus(() => {
			drawSummary();
			drawActions();
			drawGraph();
			drawSteps();
			drawTimeline();
		});
		const have = new Set([...stepSel.options].map(o => o.value));
		for (const st of steps)
			if (!have.has(st.step_id)) stepSel.append(h('option', { value: st.step_id }, st.step_id));
	};

	const refresh = async restart => {
		const [r, st] = await Promise.all([api('GET', base), api('GET', `${base}/steps`)]);
		run = r;
		steps = st.items;
		draw(false);
		await loadOutputs();
		if (restart && ACTIVE.includes(run.status)) {
			if (!timer) schedule();
			if (follow.checked && !logTimer) loadLogs();
		}
	};
	const schedule = () => {
		timer = setTimeout(async () => {
			timer = null;
			try {
				await refresh(false);
			} catch (e) {
				clear(out).append(errorBox(e));
			}
			if (!gone && ACTIVE.includes(run.status)) schedule();
		}, POLL_MS);
	};

	const line = ev => h('span', { class: `ln stream-${ev.stream}` },
		h('span', { class: 'ts' }, new Date(ev.timestamp).toLocaleTimeString()), ' ',
		selected ? null : h('span', { class: 'sid' }, `[${ev.step_id}] `),
		ev.stream === 'stdout' ? null : h('span', { class: 'stream' }, `${ev.stream}: `),
		ev.message, '\n');
	const appendLines = events => {
		if (!events.length) return;
		const atEnd = logPre.scrollTop + logPre.clientHeight >= logPre.scrollHeight - 4;
		logPre.append(...events.map(line));
		if (follow.checked || atEnd) logPre.scrollTop = logPre.scrollHeight;
	};
	const logQuery = token => ({ step_id: selected, limit: LOG_PAGE, next_token: token });
	async function loadLogs() {
		const gen = ++logGen;
		clearTimeout(logTimer);
		logTimer = null;
		clear(logPre);
		logNote.textContent = 'Loading…';
		let token;
		try {
			for (;;) {
				const page = await api('GET', `${base}/logs`, { query: logQuery(token) });
				if (gen !== logGen) return;
				appendLines(page.events);
				token = page.next_token;
				if (!token || page.events.length < LOG_PAGE) break;
			}
		} catch (e) {
			logNote.textContent = '';
			logPre.append(errorBox(e));
			return;
		}
		if (!logPre.firstChild) logPre.append(h('span', { class: 'empty' }, 'No log lines yet.\n'));
		logToken = token;
		noteLogs();
		if (follow.checked && logToken) followLogs(gen);
	}
	const noteLogs = () => {
		logNote.textContent = logToken ? (follow.checked ? 'Following new lines.' : 'The run is still going.')
			: 'The run has ended; this is the whole log.';
	};
	const followLogs = gen => {
		logTimer = setTimeout(async () => {
			logTimer = null;
			if (gone || gen !== logGen || !follow.checked || !logToken) return;
			try {
				const page = await api('GET', `${base}/logs`, { query: logQuery(logToken) });
				if (gen !== logGen) return;
				const blank = logPre.querySelector('.empty');
				if (blank && page.events.length) blank.remove();
				appendLines(page.events);
				logToken = page.next_token;
				noteLogs();
			} catch (e) {
				logNote.textContent = e.message;
			}
			if (logToken) followLogs(gen);
		}, POLL_MS);
	};
	stepSel.addEventListener('change', () => {
		selected = stepSel.value;
		draw(true);
		loadLogs();
	});
	follow.addEventListener('change', () => {
		if (follow.checked) loadLogs();
		else {
			clearTimeout(logTimer);
			logTimer = null;
			noteLogs();
		}
	});

	// The graph's edges come from the version's spec; without it (the flow
	// was deleted) the steps are drawn alone.
	let specError = null;
	const first = await api('GET', base);
	try {
		const spec = await api('GET', `/v1/flows/${enc(first.flow_name)}/${enc(first.flow_version)}`);
		nodes = (spec.flow_spec && spec.flow_spec.nodes) || null;
	} catch (e) {
		specError = e;
	}
	selected = query.get('step') || '';
	await refresh(false);
	if (specError) graph.append(h('p', { class: 'stamp' }, `Drawn without edges: ${specError.message}`));
	follow.checked = ACTIVE.includes(run.status);
	stepSel.value = selected;
	loadLogs();
	if (ACTIVE.includes(run.status)) schedule();
	return () => {
		gone = true;
		clearTimeout(timer);
		clearTimeout(logTimer);
	};
}
