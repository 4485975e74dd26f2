/* gridmap one map: helpers shared by the page's modules (DOM building, API calls, formats, the
 * server's labels). Every piece of text reaches the page through textContent, never parsed as
 * markup, so HTML or script inside data (descriptions, addresses, names) stays inert text.
 *
 * Rules and labels come from the server (GET /api/meta): no state list, label or formula is kept
 * here. Colours are presentation and are handed out by position in the server's state list. */

// The page's shared state; the tests and the benchmark read GM.stats from the running page.
export const GM = (window.GridMap = window.GridMap || {});
GM.stats = {
  requests: 0,
  bytes: 0,
  tiles: 0,
  tileBytes: 0,
  incidents: 0,
  sseEvents: 0,
  figureUpdates: 0,
  errors: [],
};

/** el('div', {class: 'x', text: 'hello', onclick: fn}, [children]) -> HTMLElement. */
export function el(tag, attrs, children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'text') node.textContent = String(value);
    else if (key === 'class') node.className = value;
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else if (key === 'style') node.style.cssText = value;
    else node.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children || []) {
    if (child === null || child === undefined) continue;
    node.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return node;
}

export const byId = (id) => document.getElementById(id);

export function setText(id, text) {
  const node = byId(id);
  if (node) node.textContent = text;
}

/** Messages at the bottom of the screen (and in GM.stats.errors for the tests). */
export function toast(text) {
  GM.stats.errors.push(text);
  const box = byId('gm-toasts');
  if (!box) return;
  const item = el('div', { class: 'gm-toast', text });
  box.appendChild(item);
  setTimeout(() => item.remove(), 6000);
}

/** GET/POST JSON from the API with the session cookie; rejects with the API's error message. */
export async function api(path, options = {}) {
  const init = {
    method: options.method || 'GET',
    credentials: 'same-origin',
    headers: { Accept: 'application/json' },
    signal: options.signal,
  };
  if (options.body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(options.body);
  }
  GM.stats.requests += 1;
  const response = await fetch(path, init);
  if (response.status === 401 && !options.quiet401) {
    window.location.href = '/login?next=' + encodeURIComponent(location.pathname + location.search);
    throw new Error('未登录');
  }
  const body = await response.text();
  GM.stats.bytes += body.length;
  let data = null;
  try {
    data = body ? JSON.parse(body) : null;
  } catch (error) {
    data = null;
  }
  if (!response.ok) {
    const message = (data && data.error) || response.status + ' ' + response.statusText;
    const error = new Error(message);
    error.status = response.status;
    throw error;
  }
  return data;
}

/** Query string from an object, skipping empty values. */
export function query(params) {
  const parts = [];
  for (const [key, raw] of Object.entries(params)) {
    let value = raw;
    if (value === undefined || value === null || value === '') continue;
    if (Array.isArray(value)) {
      if (!value.length) continue;
      value = value.join(',');
    }
    parts.push(encodeURIComponent(key) + '=' + encodeURIComponent(value));
  }
  return parts.length ? '?' + parts.join('&') : '';
}

export function fmtInt(value) {
  if (value === null || value === undefined || Number.isNaN(Number(value))) return '—';
  return Number(value).toLocaleString('zh-CN');
}

export function fmtPct(value) {
  if (value === null || value === undefined || Number.isNaN(Number(value))) return '—';
  return (Number(value) * 100).toFixed(1) + '%';
}

export function fmtArea(m2) {
  if (m2 === null || m2 === undefined || Number.isNaN(Number(m2))) return '—';
  return m2 >= 1e5 ? (m2 / 1e6).toFixed(2) + ' 平方公里' : Math.round(m2).toLocaleString('zh-CN') + ' 平方米';
}

const pad = (n) => (n < 10 ? '0' : '') + n;

export function fmtTime(iso) {
  if (!iso) return '—';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

export function fmtClock(date) {
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

/** A table (for popups and panels): rows of [label, value, class]. */
export function infoTable(rows) {
  return el(
    'table',
    { class: 'gm-info' },
    rows.map((row) =>
      el('tr', { class: row[2] || '' }, [
        el('th', { text: row[0] }),
        el('td', { text: row[1] === undefined || row[1] === null || row[1] === '' ? '—' : row[1] }),
      ])
    )
  );
}

/* ---- labels and rules from the server ---------------------------------------------------- */

// Presentation only: colours handed out by position in the server's state list.
const PALETTE = ['#ff4d4f', '#ff9f1c', '#ffd60a', '#2ec4ff', '#3ddc97', '#7bd88f', '#6c7a89', '#8d99ae', '#e040fb', '#f78c6b'];

GM.meta = { labels: {}, states: [], open_states: [] };

/** Load /api/meta (labels, states, actions, roles, flags, KPI docs, limits). Until the server
 * has it, the same lists are taken from /api/config. */
export async function loadMeta(config) {
  let meta = null;
  try {
    meta = await api('/api/meta');
  } catch (error) {
    if (error.status !== 404) throw error;
  }
  if (!meta) {
    const states = (config.statuses || []).map((s) => s.code);
    meta = {
      labels: {
        states: Object.fromEntries((config.statuses || []).map((s) => [s.code, s.name])),
        actions: Object.fromEntries((config.actions || []).map((a) => [a.code, a.name])),
      },
      states,
      open_states: [],
    };
  }
  meta.labels = meta.labels || {};
  GM.meta = meta;
  return meta;
}

/** The Chinese label of `code` in the server's table `kind` (states, actions, roles, flags, ...). */
export function label(kind, code) {
  const table = (GM.meta.labels || {})[kind] || {};
  const found = table[code];
  if (found && typeof found === 'object') return found.name || found.label || code;
  return found || code;
}

/** An incident type's name: the server's label table, else the configured type list. */
export function typeLabel(code) {
  const table = (GM.meta.labels || {}).types || {};
  if (table[code]) return label('types', code);
  for (const t of (GM.config && GM.config.incident_types) || []) if (t.code === code) return t.name;
  return code;
}

export function stateColor(state) {
  const i = (GM.meta.states || []).indexOf(state);
  return i < 0 ? PALETTE[0] : PALETTE[i % PALETTE.length];
}

/** Flags of a grid as the planner reads them ("户数偏少、..."), from the server's labels. */
export function flagLabels(flags) {
  return String(flags || '')
    .split(/[;,]/)
    .filter(Boolean)
    .map((f) => label('flags', f));
}

/** A pager under a list: "N of M" and previous/next; `render(pageRows)` draws one page. */
export function pager(box, rows, pageSize, render, unit) {
  let page = 0;
  const pages = Math.max(1, Math.ceil(rows.length / pageSize));
  const draw = () => {
    const start = page * pageSize;
    render(rows.slice(start, start + pageSize));
    box.textContent = '';
    if (!rows.length) return;
    const shown = Math.min(rows.length, start + pageSize) - start;
    box.appendChild(
      el('span', {
        class: 'gm-muted',
        text: `第 ${start + 1}–${start + shown} 条，共 ${fmtInt(rows.length)} ${unit || '条'}`,
      })
    );
    if (pages > 1) {
      box.appendChild(
        el('button', { class: 'gm-link', type: 'button', text: '‹ 上一页', disabled: page === 0, onclick: () => { page -= 1; draw(); } })
      );
      box.appendChild(el('span', { class: 'gm-muted', text: `${page + 1}/${pages}` }));
      box.appendChild(
        el('button', { class: 'gm-link', type: 'button', text: '下一页 ›', disabled: page >= pages - 1, onclick: () => { page += 1; draw(); } })
      );
    }
  };
  draw();
}
