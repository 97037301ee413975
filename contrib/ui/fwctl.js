// The fwctl dashboard: plain JavaScript against fwctld's REST API on the
// same origin (docs/api.md). Live events come from GET /v1/events read
// with fetch (EventSource cannot send a token); counters are polled and
// shown as rates with a sparkline per rule.
'use strict';

const POLL_MS = 2000;		// counters
const SPARK_N = 60;		// samples kept per rule (2 minutes)
const EVENTS_SHOWN = 50;

const state = {
	token: sessionStorage.getItem('fwctl-token') || '',
	lastEventId: null,
	prev: null,		// {t, rules: {name: {packets, bytes}}, nat: ...}
	hist: {},		// rule name -> [packets/s ...]
	sets: [],
	refreshing: null,
};

const $ = (sel) => document.querySelector(sel);

function el(tag, attrs, ...kids) {
	const e = document.createElement(tag);
	for (const [k, v] of Object.entries(attrs || {})) {
		if (k === 'class')
			e.className = v;
		else if (k.startsWith('on'))
			e.addEventListener(k.slice(2), v);
		else
			e.setAttribute(k, v);
	}
	for (const k of kids)
		if (k !== null && k !== undefined)
			e.append(k instanceof Node ? k : String(k));
	return e;
}

function say(text, ok) {
	const m = $('#msg');
	m.textContent = text;
	m.className = ok ? 'ok' : 'err';
}

async function api(method, path, body, ctype) {
	const headers = { Accept: 'application/json' };
	if (state.token)
		headers.Authorization = 'Bearer ' + state.token;
	const opts = { method, headers, cache: 'no-store' };
	if (body !== undefined) {
		headers['Content-Type'] = ctype || 'application/json';
		opts.body = typeof body === 'string' ? body : JSON.stringify(body);
	}
	const r = await fetch(path, opts);
	let j = null;
	try {
		j = await r.json();
	} catch (e) {
		j = null;
	}
	if (!r.ok) {
		const why = j && j.detail ? j.detail : r.status + ' ' + r.statusText;
		const err = new Error(why);
		err.status = r.status;
		throw err;
	}
	return j;
}

// ---- rendering ----

function verdictCell(v, isDefault) {
	return el('td', { class: 'v-' + v + (isDefault ? ' default' : ''),
	    title: isDefault ? 'no policy: the default' : 'policy' }, v);
}

// The verdict for from -> to that no rule decides, as the compiler
// chooses it: the pair's policy, then one with "any", then the default.
function policyFor(policies, from, to) {
	const tries = [[from, to], [from, 'any'], ['any', to], ['any', 'any']];
	for (const [f, t] of tries) {
		const p = policies.find((x) => x.from === f && x.to === t);
		if (p)
			return [p.verdict, false];
	}
	return [from === 'self' ? 'accept' : 'drop', true];
}

function renderMatrix(zones, policies) {
	const names = zones.map((z) => z.name).concat(['self']);
	const t = $('#matrix');
	t.replaceChildren();
	t.append(el('tr', {}, el('th', {}, 'from \\ to'),
	    ...names.map((n) => el('th', {}, n))));
	for (const f of names) {
		const tr = el('tr', { 'data-zone': f }, el('th', { class: 'row' }, f));
		for (const to of names) {
			if (f === to && f === 'self') {
				tr.append(el('td', {}, '–'));
				continue;
			}
			const [v, d] = policyFor(policies, f, to);
			tr.append(verdictCell(v, d));
		}
		t.append(tr);
	}
}

function ports(p) {
	if (p === undefined)
		return '';
	return Array.isArray(p) ? p.join(',') : p;
}

function matchText(r) {
	const m = [];
	if (r.proto)
		m.push(r.proto);
	if (r.sport !== undefined)
		m.push('sport ' + ports(r.sport));
	if (r.dport !== undefined)
		m.push('dport ' + ports(r.dport));
	if (r.src !== undefined)
		m.push('src ' + ports(r.src));
	if (r.dst !== undefined)
		m.push('dst ' + ports(r.dst));
	if (r.state)
		m.push('state ' + r.state.join(','));
	if (r.log)
		m.push('log');
	return m.join(' ');
}

function human(n) {
	if (n >= 1e9)
		return (n / 1e9).toFixed(1) + 'G';
	if (n >= 1e6)
		return (n / 1e6).toFixed(1) + 'M';
	if (n >= 1e3)
		return (n / 1e3).toFixed(1) + 'k';
	return n >= 10 || n === 0 ? Math.round(n).toString() : n.toFixed(1);
}

const SVGNS = 'http://www.w3.org/2000/svg';

function sparkline(values) {
	const svg = document.createElementNS(SVGNS, 'svg');
	svg.setAttribute('class', 'spark');
	svg.setAttribute('viewBox', '0 0 120 22');
	svg.setAttribute('preserveAspectRatio', 'none');
	const bg = document.createElementNS(SVGNS, 'rect');
	bg.setAttribute('width', '120');
	bg.setAttribute('height', '22');
	svg.append(bg);
	const max = Math.max(1, ...values);
	const step = 120 / (SPARK_N - 1);
	const off = SPARK_N - values.length;
	const pts = values.map((v, i) =>
	    ((off + i) * step).toFixed(1) + ',' + (21 - (v / max) * 20).toFixed(1));
	const line = document.createElementNS(SVGNS, 'polyline');
	line.setAttribute('points', pts.join(' '));
	svg.append(line);
	return svg;
}

// Rates from two readings of the counters, and the history they feed.
function rates(rules, now) {
	const cur = {};
	const out = {};
	for (const r of rules)
		cur[r.name] = r.counters || { packets: 0, bytes: 0 };
	const prev = state.prev;
	for (const [name, c] of Object.entries(cur)) {
		let pps = 0;
		let bps = 0;
		if (prev && prev.rules[name] && now > prev.t) {
			const dt = (now - prev.t) / 1000;
			// a counter that went down started again (the rule changed)
			pps = Math.max(0, c.packets - prev.rules[name].packets) / dt;
			bps = Math.max(0, c.bytes - prev.rules[name].bytes) / dt;
		}
		out[name] = { pps, bps };
	}
	return { cur, out };
}

// Set through the CSSOM: the page's policy allows no style attributes.
function bar(frac) {
	const b = el('div', { class: 'bar' });
	b.style.width = Math.round(frac * 120) + 'px';
	return b;
}

function renderRules(rules, sample) {
	const now = Date.now();
	const { cur, out } = rates(rules, now);
	if (sample) {
		for (const r of rules) {
			const h = state.hist[r.name] || (state.hist[r.name] = []);
			h.push(out[r.name].pps);
			if (h.length > SPARK_N)
				h.shift();
		}
		state.prev = { t: now, rules: cur };
	}
	const maxRate = Math.max(1, ...rules.map((r) => out[r.name].pps));
	const tb = $('#rules tbody');
	tb.replaceChildren();
	for (const r of rules) {
		const rt = out[r.name];
		const del = el('button', { class: 'small', title: 'delete rule ' + r.name,
		    'data-delete': r.name, onclick: () => deleteRule(r.name) }, 'delete');
		tb.append(el('tr', { 'data-rule': r.name },
		    el('td', { class: 'num' }, r.position),
		    el('td', {}, r.name),
		    el('td', {}, r.from + ' → ' + r.to),
		    el('td', {}, matchText(r)),
		    el('td', { class: 'v-' + r.verdict }, r.verdict),
		    el('td', { class: 'num', 'data-pps': rt.pps.toFixed(2) }, human(rt.pps)),
		    el('td', { class: 'num' }, human(rt.bps)),
		    el('td', {}, sparkline(state.hist[r.name] || []),
			bar(rt.pps / maxRate)),
		    el('td', {}, del)));
	}
}

function timeLeft(ms) {
	const s = Math.max(0, Math.round(ms / 1000));
	if (s >= 86400)
		return Math.floor(s / 86400) + 'd ' + Math.floor((s % 86400) / 3600) + 'h';
	if (s >= 3600)
		return Math.floor(s / 3600) + 'h ' + Math.floor((s % 3600) / 60) + 'm';
	if (s >= 60)
		return Math.floor(s / 60) + 'm ' + (s % 60) + 's';
	return s + 's';
}

function renderSets(sets) {
	state.sets = sets;
	const sel = $('#block-set');
	const chosen = sel.value;
	sel.replaceChildren();
	for (const s of sets.filter((x) => x.type !== 'port'))
		sel.append(el('option', { value: s.name }, s.name));
	if ([...sel.options].some((o) => o.value === chosen))
		sel.value = chosen;
	else if ([...sel.options].some((o) => o.value === 'blocklist'))
		sel.value = 'blocklist';
	const box = $('#sets');
	box.replaceChildren();
	for (const s of sets) {
		const ul = el('ul', {});
		for (const e of s.elements || []) {
			const key = typeof e === 'object' ? e.key : e;
			const li = el('li', { 'data-element': String(key) }, String(key));
			if (typeof e === 'object' && e.expires)
				li.append(el('span', { class: 'left', 'data-expires': e.expires },
				    timeLeft(e.expires - Date.now()) + ' left'));
			li.append(' ', el('button', { class: 'small', title: 'remove',
			    onclick: () => unblock(s.name, key) }, '×'));
			ul.append(li);
		}
		box.append(el('div', { class: 'set', 'data-set': s.name },
		    el('h3', {}, s.name + ' ', el('span', { class: 'left' },
			s.type + (s.timeout ? ', timeout ' + s.timeout : '') + ', ' +
			(s.elements || []).length + ' elements')), ul));
	}
}

function tickSets() {
	for (const e of document.querySelectorAll('[data-expires]'))
		e.textContent = timeLeft(Number(e.dataset.expires) - Date.now()) + ' left';
}

function renderNat(nats, counters) {
	const tb = $('#nat tbody');
	tb.replaceChildren();
	for (const n of nats) {
		const what = n.kind === 'forward' ? (n.proto || '') + ' ' + ports(n.dport) +
		    ' → ' + n.target + (n.target_port ? ':' + n.target_port : '') :
		    n.kind === 'snat' ? 'as ' + n.as : '';
		tb.append(el('tr', { 'data-nat': n.name }, el('td', {}, n.name),
		    el('td', {}, n.kind), el('td', {}, n.from + (n.to ? ' → ' + n.to : '')),
		    el('td', {}, what), el('td', { class: 'num' },
			counters[n.name] !== undefined ? human(counters[n.name]) : '')));
	}
}

function renderBanners(st) {
	const b = $('#banners');
	b.replaceChildren();
	if (st.pending) {
		b.append(el('div', { class: 'banner-pending', id: 'banner-pending' },
		    'Generation ' + st.pending.generation + ' awaits confirmation: reverted in ' +
		    st.pending.seconds_left + ' s unless confirmed. ',
		    el('button', { onclick: () => act('POST', '/v1/confirm', 'confirmed') }, 'confirm'),
		    ' ',
		    el('button', { onclick: () => act('POST', '/v1/revert', 'reverted') }, 'revert')));
	}
	if (st.drift)
		b.append(el('div', { class: 'banner-drift', id: 'banner-drift' },
		    'Drift: another program changed the table; fwctld\'s ruleset and the ' +
		    'kernel differ.'));
	if (st.filtering && !st.filtering.active)
		b.append(el('div', { class: 'banner-info' }, 'Nothing is filtered: ' +
		    st.filtering.detail));
	else if (st.live_changes)
		b.append(el('div', { class: 'banner-info' }, st.live_changes +
		    ' live change(s) not in the rules directory (fwctl diff, fwctl save).'));
}

// ---- data ----

async function refresh() {
	if (!state.token)
		return;
	try {
		const [st, zones, pol, rules, sets, nat, hist] = await Promise.all([
			api('GET', '/v1/status'), api('GET', '/v1/zones'),
			api('GET', '/v1/policies'), api('GET', '/v1/rules'),
			api('GET', '/v1/sets'), api('GET', '/v1/nat'),
			api('GET', '/v1/history?limit=1')]);
		$('#generation').textContent = st.generation;
		$('#version').textContent = st.version;
		$('#table').textContent = st.table;
		const h = hist.entries && hist.entries[0];
		$('#who').textContent = h ? 'by ' + h.who + ' (' + h.op + ')' : '';
		renderBanners(st);
		renderMatrix(zones.zones, pol.policies);
		renderRules(rules.rules, false);
		renderSets(sets.sets);
		renderNat(nat.nat, {});
	} catch (e) {
		say(e.status === 401 ? 'the token was refused' : 'cannot read the ruleset: ' +
		    e.message);
	}
}

function refreshSoon() {
	if (state.refreshing)
		return;
	state.refreshing = setTimeout(() => {
		state.refreshing = null;
		refresh();
	}, 100);
}

async function poll() {
	if (state.token) {
		try {
			const [rules, ctr] = await Promise.all([api('GET', '/v1/rules'),
			    api('GET', '/v1/counters')]);
			renderRules(rules.rules, true);
			const nat = {};
			for (const c of ctr.counters)
				if (c.kind === 'nat')
					nat[c.name] = c.packets;
			for (const tr of document.querySelectorAll('#nat tr[data-nat]'))
				if (nat[tr.dataset.nat] !== undefined)
					tr.lastChild.textContent = human(nat[tr.dataset.nat]);
		} catch (e) {
			// refresh() says what is wrong
		}
	}
	setTimeout(poll, POLL_MS);
}

// ---- live events: fetch, since EventSource cannot send the token ----

function logEvent(type, data) {
	const ol = $('#events');
	const t = new Date().toLocaleTimeString();
	const text = type === 'change' ? 'generation ' + data.generation + ': ' +
	    data.op + ' ' + (data.summary || '') + ' by ' + data.who :
	    type + ' ' + JSON.stringify(data);
	ol.prepend(el('li', { 'data-event': type }, el('span', { class: 't' }, t), text));
	while (ol.children.length > EVENTS_SHOWN)
		ol.lastChild.remove();
}

function onEvent(block) {
	let type = 'message';
	let data = '';
	for (const line of block.split('\n')) {
		if (line.startsWith('id: '))
			state.lastEventId = line.slice(4);
		else if (line.startsWith('event: '))
			type = line.slice(7);
		else if (line.startsWith('data: '))
			data += line.slice(6);
	}
	if (!data)
		return;
	let j = {};
	try {
		j = JSON.parse(data);
	} catch (e) {
		return;
	}
	logEvent(type, j);
	refreshSoon();
}

async function listen() {
	const live = $('#live');
	for (;;) {
		if (!state.token) {
			await new Promise((ok) => setTimeout(ok, 1000));
			continue;
		}
		const headers = { Authorization: 'Bearer ' + state.token };
		if (state.lastEventId)
			headers['Last-Event-ID'] = state.lastEventId;
		try {
			const r = await fetch('/v1/events', { headers, cache: 'no-store' });
			if (!r.ok)
				throw new Error(r.status);
			live.className = 'live on';
			const rd = r.body.getReader();
			const dec = new TextDecoder();
			let buf = '';
			for (;;) {
				const { value, done } = await rd.read();
				if (done)
					break;
				buf += dec.decode(value, { stream: true });
				let i;
				while ((i = buf.indexOf('\n\n')) >= 0) {
					onEvent(buf.slice(0, i));
					buf = buf.slice(i + 2);
				}
			}
		} catch (e) {
			// fall through: try again
		}
		live.className = 'live off';
		await new Promise((ok) => setTimeout(ok, 2000));
	}
}

// ---- changes ----

async function act(method, path, done, body, ctype) {
	try {
		const j = await api(method, path, body, ctype);
		say(done + (j && j.generation ? ' (generation ' + j.generation + ')' : ''), true);
		refreshSoon();
		return true;
	} catch (e) {
		say(e.status === 403 ? 'not allowed with this token: ' + e.message :
		    e.message);
		return false;
	}
}

function deleteRule(name) {
	act('DELETE', '/v1/rules/' + encodeURIComponent(name), 'rule ' + name + ' deleted');
}

function unblock(set, key) {
	act('DELETE', '/v1/sets/' + encodeURIComponent(set) + '/elements',
	    key + ' removed from ' + set, { elements: [key] });
}

function setup() {
	$('#token').value = state.token;
	$('#login').addEventListener('submit', (ev) => {
		ev.preventDefault();
		state.token = $('#token').value.trim();
		sessionStorage.setItem('fwctl-token', state.token);
		say('', true);
		refresh();
	});
	$('#add-rule').addEventListener('submit', async (ev) => {
		ev.preventDefault();
		const text = $('#rule-text').value.trim();
		if (text && await act('POST', '/v1/rules', 'rule added', text, 'text/plain'))
			$('#rule-text').value = '';
	});
	$('#block').addEventListener('submit', async (ev) => {
		ev.preventDefault();
		const addr = $('#block-addr').value.trim();
		const set = $('#block-set').value;
		const timeout = $('#block-timeout').value;
		if (!addr || !set)
			return say('an address and a set, please');
		const elem = timeout ? { key: addr, timeout } : addr;
		const q = $('#block-kill').checked ? '?kill_connections=1' : '';
		if (await act('POST', '/v1/sets/' + encodeURIComponent(set) + '/elements' + q,
		    addr + ' blocked in ' + set, { elements: [elem] }))
			$('#block-addr').value = '';
	});
	setInterval(tickSets, 1000);
	refresh();
	poll();
	listen();
}

document.addEventListener('DOMContentLoaded', setup);
