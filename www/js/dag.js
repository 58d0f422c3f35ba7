// Draws a flow's DAG as SVG: a small layered layout (a step's layer is its
// longest path from a root; order within a layer by the mean position of
// its neighbours, swept down and up), top to bottom, each step coloured by
// its status and focusable to pick it.
import { s } from './ui.js';

const W = 168, H = 46, GX = 24, GY = 44, PAD = 12;

export function layout(nodes) {
	const byId = new Map(nodes.map(n => [n.id, n]));
	const deps = n => (n.depends_on || []).filter(d => byId.has(d));
	const layer = new Map();
	const depth = (id, seen = new Set()) => {
		if (layer.has(id)) return layer.get(id);
		if (seen.has(id)) return 0; // a cycle cannot be registered; stay finite anyway
		seen.add(id);
		const ds = deps(byId.get(id));
		const l = ds.length ? 1 + Math.max(...ds.map(d => depth(d, seen))) : 0;
		layer.set(id, l);
		return l;
	};
	nodes.forEach(n => depth(n.id));
	const rows = [];
	for (const n of nodes) (rows[layer.get(n.id)] ||= []).push(n.id);
	const children = new Map(nodes.map(n => [n.id, []]));
	nodes.forEach(n => deps(n).forEach(d => children.get(d).push(n.id)));
	const pos = new Map();
	const place = () => rows.forEach(r => r.forEach((id, i) => pos.set(id, i - (r.length - 1) / 2)));
	const mean = ids => ids.length ? ids.reduce((a, id) => a + pos.get(id), 0) / ids.length : null;
	const order = (l, nbrs) => {
		const m = new Map(rows[l].map(id => [id, mean(nbrs(id))]));
		rows[l].sort((a, b) => (m.get(a) ?? pos.get(a)) - (m.get(b) ?? pos.get(b)));
		place();
	};
	place();
	for (let k = 0; k < 2; k++) {
		for (let l = 1; l < rows.length; l++) order(l, id => deps(byId.get(id)));
		for (let l = rows.length - 2; l >= 0; l--) order(l, id => children.get(id));
	}
	const widest = Math.max(1, ...rows.map(r => r.length));
	const width = widest * (W + GX) - GX + 2 * PAD;
	const xy = new Map();
	rows.forEach((r, l) => r.forEach(id => xy.set(id, {
		x: PAD + (pos.get(id) + (widest - 1) / 2) * (W + GX),
		y: PAD + l * (H + GY),
	})));
	return { xy, width, height: Math.max(1, rows.length * (H + GY) - GY) + 2 * PAD, deps };
}

// nodes: the flow spec's nodes; status: step_id -> status; onPick(step_id),
// or null for a graph that only shows (its steps then take no focus).
export function drawDag(nodes, status, onPick, selected) {
	const { xy, width, height, deps } = layout(nodes);
	const svg = s('svg', {
		class: 'dag', width, height, viewBox: `0 0 ${width} ${height}`, role: 'group',
		'aria-label': onPick ? 'Steps as a graph; Tab to a step, Enter shows its log' : 'Steps as a graph',
	});
	svg.append(s('defs', {}, s('marker', {
		id: 'arrow', viewBox: '0 0 10 10', refX: '9', refY: '5', markerWidth: '7', markerHeight: '7',
		orient: 'auto-start-reverse',
	}, s('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrowhead' }))));
	for (const n of nodes) {
		const b = xy.get(n.id);
		for (const d of deps(n)) {
			const a = xy.get(d);
			const x1 = a.x + W / 2, y1 = a.y + H, x2 = b.x + W / 2, y2 = b.y;
			const my = (y1 + y2) / 2;
			svg.append(s('path', {
				class: 'edge', d: `M${x1},${y1} C${x1},${my} ${x2},${my} ${x2},${y2 - 2}`,
				'marker-end': 'url(#arrow)',
			}));
		}
	}
	for (const n of nodes) {
		const { x, y } = xy.get(n.id);
		const st = status.get(n.id) || 'pending';
		const label = n.id.length > 22 ? `${n.id.slice(0, 21)}…` : n.id;
		const g = s('g', {
			class: `node st-${st}${selected === n.id ? ' selected' : ''}${onPick ? ' pick' : ''}`,
			tabindex: onPick ? '0' : null, role: onPick ? 'button' : 'img',
			'aria-label': `step ${n.id}: ${st}`, 'data-step': n.id, transform: `translate(${x},${y})`,
		},
		s('title', {}, `${n.id} (${n.type || 'step'}): ${st}`),
		s('rect', { width: W, height: H, rx: '6' }),
		s('text', { x: W / 2, y: '19', class: 'name' }, label),
		s('text', { x: W / 2, y: '36', class: 'state' }, st.replace('_', ' ')));
		if (onPick) {
			g.addEventListener('click', () => onPick(n.id));
			g.addEventListener('keydown', e => {
				if (e.key === 'Enter' || e.key === ' ') {
					e.preventDefault();
					onPick(n.id);
				}
			});
		}
		svg.append(g);
	}
	return svg;
}
