// The dashboard's one way to the public API: the session's token from
// sessionStorage, JSON in and out, and every failure as an ApiError that
// carries the API's own message.

const TOKEN = 'dagy.token';

export class ApiError extends Error {
	constructor(status, body) {
		const msg = body && typeof body.message === 'string' ? body.message :
			body && typeof body.error === 'string' ? body.error :
			status ? `HTTP ${status} with no message from the API` : 'no answer from the API';
		super(msg);
		this.status = status;
		this.code = body && body.error;
		this.details = body && body.details;
	}
}

export const session = {
	get token() { return sessionStorage.getItem(TOKEN); },
	set token(t) {
		if (t) sessionStorage.setItem(TOKEN, t);
		else sessionStorage.removeItem(TOKEN);
	},
	// Called when the API says the credential no longer works.
	onExpired: null,
};

// api('GET', '/v1/runs', {query}) or api('POST', '/v1/runs', {body}).
// Resolves to the decoded JSON (null for 204); rejects with ApiError.
export async function api(method, path, opt = {}) {
	const headers = { Accept: 'application/json' };
	const token = opt.token !== undefined ? opt.token : session.token;
	if (token) headers.Authorization = `Bearer ${token}`;
	const init = { method, headers, cache: 'no-store', credentials: 'omit' };
	if (opt.body !== undefined) {
		headers['Content-Type'] = 'application/json';
		init.body = JSON.stringify(opt.body);
	}
	let url = path;
	if (opt.query) {
		const q = new URLSearchParams();
		for (const [k, v] of Object.entries(opt.query))
			if (v !== undefined && v !== null && v !== '') q.set(k, v);
		const s = q.toString();
		if (s) url += `?${s}`;
	}
	let res;
	try {
		res = await fetch(url, init);
	} catch (e) {
		throw new ApiError(0, { message: `cannot reach the API (${e.message})` });
	}
	let data = null;
	if (res.status !== 204 && (res.headers.get('Content-Type') || '').includes('json')) {
		try {
			data = await res.json();
		} catch (e) {
			data = null;
		}
	}
	if (!res.ok) {
		const err = new ApiError(res.status, data);
		if (res.status === 401 && token && opt.token === undefined && session.onExpired)
			session.onExpired(err);
		throw err;
	}
	return data;
}

// Every item of a paged list, following next_token (at most `max` items).
export async function all(path, query = {}, max = 1000) {
	const items = [];
	let token;
	do {
		const page = await api('GET', path, { query: { ...query, limit: 100, next_token: token } });
		items.push(...(page.items || []));
		token = page.next_token;
	} while (token && items.length < max);
	return items;
}
