/* tilgang dashboard: plain JavaScript, no build step. Polls the /api endpoints the runtime serves. */
'use strict';

const OUTCOMES = ['APPLIED', 'UNCHANGED', 'SKIPPED', 'FAILED', 'PLANNED', 'HELD'];
const COLORS = { APPLIED: '#1e8449', UNCHANGED: '#7fb3d5', SKIPPED: '#aab7b8', FAILED: '#c0392b', PLANNED: '#d68910', HELD: '#8e44ad' };
const POLL_MS = 2000;
const cards = new Map();

const $ = (sel, root = document) => root.querySelector(sel);
const el = (tag, attrs = {}, ...children) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null) e.setAttribute(k, v);
  }
  for (const c of children.flat()) if (c !== undefined && c !== null) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
};
const fmt = (n) => (n === undefined || n === null ? '–' : Number(n).toLocaleString('en'));
const time = (iso) => (iso ? new Date(iso).toLocaleTimeString('en-GB') : '');
const dateTime = (iso) => (iso ? new Date(iso).toLocaleString('en-GB') : '');

async function getJson(url, init) {
  const r = await fetch(url, init);
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.error || `${r.status} ${r.statusText}`);
  return body;
}

function toast(text) {
  const t = $('#toast');
  t.textContent = text;
  t.classList.add('show');
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => t.classList.remove('show'), 4000);
}

async function action(url, question) {
  if (!window.confirm(question)) return undefined;
  try {
    const r = await getJson(url, { method: 'POST', headers: { 'x-tilgang-action': '1' } });
    await refreshStatus();
    return r;
  } catch (e) {
    toast(`failed: ${e.message}`);
    return undefined;
  }
}

function chart(title, series, height = 130) {
  const box = el('div', { class: 'chart' });
  const opts = {
    width: 420, height,
    legend: { show: true },
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: true } },
    axes: [{}, { size: 44 }],
    series: [{}, ...series],
  };
  const empty = [[], ...series.map(() => [])];
  const plot = new uPlot(opts, empty, box);
  return { node: [el('div', { class: 'chart-title' }, title), box], plot };
}

function card(name) {
  if (cards.has(name)) return cards.get(name);
  const figures = el('div', { class: 'figures' },
    ...[['lag', 'consumer lag'], ['rate', 'results/s'], ['hour', 'results, last hour'], ['dlq', 'dead letters']].map(([f, label]) =>
      el('div', { class: 'figure' }, el('div', { class: 'label' }, label), el('div', { class: 'value', 'data-field': f }, '–'))));
  const redrive = el('button', { class: 'redrive', 'data-owner': name, onclick: async () => {
    const n = cards.get(name).dlq;
    const r = await action(`/api/dlq/${encodeURIComponent(name)}/redrive`, `Send the ${n} dead-lettered person(s) of ${name} back to ${name}?`);
    if (r) toast(r.people ? `run ${r.runId}: ${r.people} person(s) sent back to ${name}` : 'nothing to redrive');
  } }, 'Redrive DLQ');
  const release = el('button', { class: 'release danger', 'data-target': name, onclick: async () => {
    const r = await action(`/api/guard/${encodeURIComponent(name)}/release`, `Release the mass-change guard of ${name}? The held destructive operations (disables) will be applied.`);
    if (r) toast(`${name}: released; ${r.people} held person(s) reprocessed in run ${r.runId}`);
  } }, 'Release guard');
  const outcomes = chart('results per second by outcome (10 s buckets, from the results store)',
    OUTCOMES.map((o) => ({ label: o.toLowerCase(), stroke: COLORS[o], width: 1.5, fill: `${COLORS[o]}22`, value: (u, v) => (v == null ? '–' : v.toFixed(2)) })));
  const lag = chart('consumer lag (events behind)', [{ label: 'lag', stroke: '#2e86c1', width: 1.5, fill: '#2e86c122' }], 100);
  const node = el('article', { class: 'card', id: `target-${name}`, 'data-target': name },
    el('h2', {}, name), figures,
    el('div', { class: 'outcomes', 'data-field': 'outcomes' }),
    el('div', { class: 'actions' }, el('span', { class: 'guard', 'data-field': 'guard' }, 'guard: …'), release, redrive),
    ...outcomes.node, ...lag.node);
  $('#targets').append(node);
  const c = { node, outcomes: outcomes.plot, lag: lag.plot, dlq: 0 };
  fit(c);
  cards.set(name, c);
  return c;
}

/** Charts as wide as their card. */
function fit(c) {
  const width = Math.max(300, c.node.clientWidth - 34);
  c.outcomes.setSize({ width, height: 130 });
  c.lag.setSize({ width, height: 100 });
}
window.addEventListener('resize', () => { for (const c of cards.values()) fit(c); });

function setField(root, field, text) {
  const f = root.querySelector(`[data-field="${field}"]`);
  if (f && f.textContent !== String(text)) f.textContent = text;
}

async function refreshStatus() {
  const { status, samples, targets } = await getJson('/api/status');
  for (const name of targets) card(name);
  if (!status) return;
  const p = status.producer;
  setField(document, 'producer', 'error' in p ? `unknown (${p.error})` : `${p.capped ? '≥ ' : ''}${fmt(p.behind)} entries behind the change log`);
  setField(document, 'writeback', `lag ${fmt(status.writeback.lag.lag)}, ${fmt(status.writeback.dlq)} dead letter(s)`);
  setField(document, 'history', `lag ${fmt(status.history.lag.lag)}`);
  setField(document, 'updated', time(status.at));
  for (const t of status.targets) {
    const c = card(t.name);
    c.dlq = t.dlq;
    const hour = OUTCOMES.reduce((n, o) => n + (t.lastHour[o] || 0), 0);
    setField(c.node, 'lag', fmt(t.lag.lag));
    setField(c.node, 'rate', t.eventsPerSecond.toFixed(2));
    setField(c.node, 'hour', fmt(hour));
    setField(c.node, 'dlq', fmt(t.dlq));
    const oc = c.node.querySelector('[data-field="outcomes"]');
    oc.replaceChildren(...OUTCOMES.filter((o) => t.lastHour[o]).flatMap((o) => [el('span', { 'data-outcome': o }, `${o.toLowerCase()} `, el('b', {}, fmt(t.lastHour[o]))), ' · ']).slice(0, -1));
    if (!oc.childNodes.length) oc.textContent = 'no results in the last hour';
    const g = c.node.querySelector('[data-field="guard"]');
    g.className = `guard ${t.guard.tripped ? 'tripped' : 'open'}`;
    g.textContent = t.guard.tripped ? `guard HOLDING ${t.guard.held} person(s): ${t.guard.reason}` : `guard open (${t.guard.counted} destructive in ${t.guard.windowMinutes} min)`;
    c.node.querySelector('button.release').disabled = !t.guard.tripped;
    c.node.querySelector('button.redrive').disabled = t.dlq === 0;
    const pts = samples.filter((s) => t.name in s.lag);
    c.lag.setData([pts.map((s) => s.t / 1000), pts.map((s) => s.lag[t.name])]);
  }
}

async function refreshSeries() {
  const s = await getJson('/api/series?minutes=15');
  const step = s.bucketSeconds;
  const end = Math.floor(s.now / step) * step;
  const xs = [];
  for (let x = end - s.minutes * 60; x <= end; x += step) xs.push(x);
  for (const [name, c] of cards) {
    const by = s.targets[name] || {};
    const ys = OUTCOMES.map((o) => {
      const m = new Map((by[o] || []).map(([t, n]) => [t, n]));
      return xs.map((x) => (m.get(x) || 0) / step);
    });
    c.outcomes.setData([xs, ...ys]);
  }
}

async function refreshFailures() {
  const rows = await getJson('/api/failures');
  const body = $('#failures tbody');
  body.replaceChildren(...(rows.length ? rows.map((f) => el('tr', {},
    el('td', {}, dateTime(f.at)), el('td', {}, f.target),
    el('td', {}, el('a', { href: '#', class: 'mono', onclick: (e) => { e.preventDefault(); showPerson('idautoID', f.personId); } }, f.personId)),
    el('td', { class: 'err' }, f.error ? `${f.error.code}: ${f.error.message}` : ''), el('td', { class: 'mono' }, f.runId || 'live'))) : [el('tr', {}, el('td', { colspan: 5, class: 'empty' }, 'no failures stored'))]));
}

function counterText(counters) {
  return Object.entries(counters).map(([target, c]) => {
    const parts = Object.entries(c).filter(([k, v]) => v && k !== 'total').map(([k, v]) => `${k} ${v}`);
    return `${target}: ${c.total ?? 0} (${parts.join(', ') || 'nothing'})`;
  });
}

async function refreshRuns() {
  const rows = await getJson('/api/runs');
  $('#runs tbody').replaceChildren(...(rows.length ? rows.map((r) => el('tr', { 'data-run': r.runId },
    el('td', { class: 'mono' }, r.runId), el('td', {}, [r.mode || '', r.source || '', r.logOnly ? 'log only' : ''].filter(Boolean).join(', ')),
    el('td', {}, r.published === null ? '' : fmt(r.published)), el('td', {}, fmt(r.results)),
    el('td', {}, ...counterText(r.counters).map((t) => el('div', {}, t))), el('td', {}, dateTime(r.last)))) : [el('tr', {}, el('td', { colspan: 6, class: 'empty' }, 'no runs stored'))]));
}

function sideBySide(desired, actual) {
  const flat = (v, prefix = '', out = new Map()) => {
    if (v === null || v === undefined || typeof v !== 'object') { if (prefix) out.set(prefix, v === null || v === undefined ? '∅' : String(v)); return out; }
    const entries = Array.isArray(v) ? v.map((x, i) => [String(i), x]) : Object.entries(v);
    for (const [k, x] of entries) flat(x, prefix ? `${prefix}.${k}` : k, out);
    return out;
  };
  const one = (v) => (Array.isArray(v) && v.length === 1 ? v[0] : v);
  const d = flat(one(desired));
  const a = flat(one(actual));
  const fields = [...new Set([...d.keys(), ...a.keys()])];
  return el('table', { class: 'side' }, el('thead', {}, el('tr', {}, el('th', {}, 'field'), el('th', {}, 'desired'), el('th', {}, 'actual'))),
    el('tbody', {}, ...fields.slice(0, 80).map((f) => el('tr', { class: d.has(f) && d.get(f) !== '' && d.get(f) !== (a.get(f) ?? '') ? 'differs' : '' },
      el('td', { class: 'mono' }, f), el('td', {}, d.get(f) ?? ''), el('td', {}, a.get(f) ?? '')))));
}

function renderPerson({ explain: x, history: h }) {
  const out = $('#person-result');
  if (x.duplicate) {
    out.replaceChildren(el('p', { class: 'err' }, `${x.duplicate.people.length} people have ${x.duplicate.keyField}=${x.duplicate.keyValue} (duplicate):`),
      el('ul', {}, ...x.duplicate.people.map((p) => el('li', {}, el('a', { href: '#', class: 'mono', onclick: (e) => { e.preventDefault(); showPerson('idautoID', p.id); } }, p.id), ` ${p.dn}`))));
    return;
  }
  const targets = x.targets.map((t) => {
    const r = t.result;
    const why = r.skipReason || (r.error ? `${r.error.code}: ${r.error.message}` : '');
    return el('div', { class: 'explain-target', 'data-target': t.target },
      el('h3', {}, `${t.target} `, el('span', { class: `outcome ${r.outcome}` }, r.outcome === 'PLANNED' ? 'would change' : r.outcome.toLowerCase()), why ? ` ${why}` : ''),
      t.entitlement ? el('div', { class: 'rule' }, `${t.entitlement.entitled ? 'entitled' : 'not entitled'}: ${t.entitlement.rule}`) : null,
      (r.operations || []).length ? el('ul', {}, ...r.operations.map((op) => el('li', {}, el('b', {}, op.kind), op.detail ? ` ${op.detail}` : '',
        ...(op.changes || []).map((c) => el('div', { class: 'mono' }, `${c.attribute}: ${c.from ?? '∅'} → ${c.to ?? '∅'}`))))) : null,
      t.entitlement && (t.desired !== null || t.actual !== null) ? sideBySide(t.desired, t.actual) : null);
  });
  const history = el('table', { id: 'history' }, el('thead', {}, el('tr', {}, ...['when', 'target', 'outcome', 'run', 'why', 'operations'].map((c) => el('th', {}, c)))),
    el('tbody', {}, ...(h && h.results.length ? h.results.map((r) => el('tr', { 'data-target': r.target, 'data-outcome': r.outcome },
      el('td', {}, dateTime(new Date(r.processedAt).toISOString())), el('td', {}, r.target), el('td', {}, el('span', { class: `outcome ${r.outcome}` }, r.outcome)),
      el('td', { class: 'mono' }, r.runId || 'live'), el('td', { class: r.error ? 'err' : '' }, r.skipReason || (r.error ? `${r.error.code}: ${r.error.message}` : '')),
      el('td', {}, (r.operations || []).map((o) => `${o.kind} ${o.outcome.toLowerCase()}`).join(', ')))) : [el('tr', {}, el('td', { colspan: 6, class: 'empty' }, 'no stored results'))])));
  out.replaceChildren(
    el('p', {}, el('b', {}, 'person '), el('span', { class: 'mono', 'data-field': 'person-id' }, x.personId), x.username ? ` (${x.username})` : ''),
    ...targets, el('h3', {}, 'History'), history);
}

async function showPerson(field, key) {
  $('#person-field').value = field;
  $('#person-key').value = key;
  const out = $('#person-result');
  out.replaceChildren(el('p', { class: 'empty' }, 'looking…'));
  try {
    renderPerson(await getJson(`/api/person?field=${encodeURIComponent(field)}&key=${encodeURIComponent(key)}`));
  } catch (e) {
    out.replaceChildren(el('p', { class: 'err' }, e.message));
  }
}

$('#person-form').addEventListener('submit', (e) => {
  e.preventDefault();
  showPerson($('#person-field').value, $('#person-key').value.trim());
});

function poll(fn, ms) {
  const run = async () => {
    try { await fn(); } catch (e) { console.warn(e); }
    setTimeout(run, ms);
  };
  run();
}
poll(refreshStatus, POLL_MS);
poll(refreshSeries, POLL_MS);
poll(refreshFailures, POLL_MS * 2);
poll(refreshRuns, POLL_MS * 2);
