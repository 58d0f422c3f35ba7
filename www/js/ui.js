// Small DOM helpers shared by the pages: element building (text only, never
// HTML strings), times, status badges, tables, error and notice boxes.
import { ApiError } from './api.js';

export function h(tag, attrs = {}, ...children) {
	const el = document.createElement(tag);
	for (const [k, v] of Object.entries(attrs || {})) {
		if (v === undefined || v === null || v === false) continue;
		if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
		else if (k === 'class') el.className = v;
		else if (k in el && typeof v !== 'string') el[k] = v;
		else el.setAttribute(k, v === true ? '' : v);
	}
	append(el, children);
	return el;
}

function append(el, children) {
	for (const c of children) {
		if (c === undefined || c === null || c === false) continue;
		if (Array.isArray(c)) append(el, c);
		else el.append(c instanceof Node ? c : String(c));
	}
}

const SVG = 'http://www.w3.org/2000/svg';
export function s(tag, attrs = {}, ...children) {
	const el = document.createElementNS(SVG, tag);
	for (const [k, v] of Object.entries(attrs || {})) {
		if (v === undefined || v === null) continue;
		if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
		else el.setAttribute(k, v);
	}
	append(el, children);
	return el;
}

export function clear(el) {
	while (el.firstChild) el.firstChild.remove();
	return el;
}

// An ISO time as the viewer's local time (title: UTC), or a dash.
export function when(iso, zone) {
	if (!iso) return '—';
	const d = new Date(iso);
	if (Number.isNaN(d.getTime())) return iso;
	return new Intl.DateTimeFormat(undefined, {
		year: 'numeric', month: 'short', day: '2-digit', hour: '2-digit',
		minute: '2-digit', second: '2-digit', timeZone: zone, timeZoneName: zone ? 'short' : undefined,
	}).format(d);
}

export function time(iso) {
	return iso ? h('time', { datetime: iso, title: iso }, when(iso)) : '—';
}

export function seconds(x) {
	if (x === null || x === undefined) return '—';
	if (x < 60) return `${x.toFixed(x < 10 ? 2 : 1)} s`;
	const m = Math.floor(x / 60);
	if (m < 60) return `${m} min ${Math.round(x % 60)} s`;
	return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function badge(status) {
	return h('span', { class: `badge st-${status}` }, status);
}

// A table inside a keyboard-scrollable region (narrow screens scroll it).
export function table(label, columns, rows, empty = 'Nothing here yet.') {
	if (!rows.length) return h('p', { class: 'empty' }, empty);
	return h('div', { class: 'scroll', role: 'region', 'aria-label': label, tabindex: '0' },
		h('table', {},
			h('thead', {}, h('tr', {}, columns.map(c => h('th', { scope: 'col' }, c[0])))),
			h('tbody', {}, rows.map(r => h('tr', {}, columns.map(c => h('td', {}, c[1](r))))))));
}

// The API's message for an ApiError; anything else is a bug of the page,
// also reported on the console so that it is noticed.
export function errorBox(err) {
	if (!(err instanceof ApiError)) console.error(err);
	return h('p', { class: 'error', role: 'alert' }, err.message || String(err));
}

export function notice(text) {
	return h('p', { class: 'notice', role: 'status' }, text);
}

export function enc(x) {
	return encodeURIComponent(x);
}

export function json(x) {
	return h('pre', { class: 'json', tabindex: '0' }, JSON.stringify(x, null, 2));
}
