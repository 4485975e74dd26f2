/* gridmap one map: the planner workspace (规划工作台) - re-partition as a background job, watch its
 * progress, compare the plan with the current version on the map, publish it, roll back.
 *
 * Everything it shows comes from the server: option defaults and bounds (/api/plans/options),
 * labels (/api/meta: plan_diff, flags, site_categories, job_states, export_formats), the plan's
 * summary and diff (/api/plans/<id>), its grids (/api/plans/<id>/grids). The running plan's id is
 * kept in localStorage, so a reload picks the progress bar up where it was. */
import { GM, api, byId, el, fmtInt, fmtPct, fmtTime, label, toast } from './gm-util.js';

const STORAGE_KEY = 'gridmap.plan';
const POLL_MS = 1000;
// Presentation only: a colour per diff status (the statuses and their names come from the server).
const DIFF_COLORS = { kept: '#6c7a89', changed: '#ffb020', new: '#3ddc97', retired: '#ff4d4f' };
const FINAL = ['done', 'failed', 'cancelled'];

const ws = {
  options: null,
  plan: null,
  locks: new Set(),
  lockMode: false,
  overlay: false,
  timer: null,
};
GM.workspace = ws; // read by the browser test

const jobLabel = (status) => label('job_states', status);
const diffLabel = (status) => label('plan_diff', status);

/** Wait until the map page has started (gm-main.js sets GM.state.ready). */
function whenReady() {
  return new Promise((resolve) => {
    const check = () => (GM.state && GM.state.ready && GM.map && GM.config ? resolve() : setTimeout(check, 200));
    check();
  });
}

async function start() {
  await whenReady();
  const role = (GM.config.user && GM.config.user.role) || '';
  if (!['planner', 'admin'].includes(role)) return;
  const open = byId('gm-ws-open');
  if (open) open.addEventListener('click', () => toggle(true));
  byId('gm-ws-close').addEventListener('click', () => toggle(false));
  ws.options = await api('/api/plans/options');
  // Grids an earlier plan locked stay locked unless the planner releases them here.
  ws.locks = new Set(ws.options.current_locks || []);
  buildForm();
  addLayers();
  showLocks();
  hookClicks();
  await history();
  const saved = localStorage.getItem(STORAGE_KEY);
  if (saved) {
    toggle(true);
    ws.restoring = true;
    await follow(Number(saved));
  }
  // After a publish or a roll back the page reloads: show the history it changed.
  if (sessionStorage.getItem(STORAGE_KEY + '.show') === 'history') {
    sessionStorage.removeItem(STORAGE_KEY + '.show');
    toggle(true);
    byId('gm-ws-history').scrollIntoView({ block: 'start' });
  }
  GM.workspace.started = true;
}

function toggle(on) {
  byId('gm-ws').hidden = !on;
  document.body.classList.toggle('gm-ws-on', on);
}

/* ---- the form: inputs, options, locks ------------------------------------------------------ */

function numberInput(name, step) {
  const bounds = ws.options.bounds[name] || {};
  const value = ws.options.defaults[name];
  const input = el('input', {
    class: 'gm-input',
    type: 'number',
    id: 'gm-ws-' + name,
    step: step || '1',
    min: bounds.minimum !== undefined ? bounds.minimum : bounds.exclusiveMinimum,
    max: bounds.maximum,
    placeholder: value === null ? '不限' : '',
  });
  input.value = value === null || value === undefined ? '' : value;
  return input;
}

function row(text, control, hint) {
  return el('label', { class: 'gm-ws-row' }, [el('span', { class: 'gm-ws-label', text }), control, hint ? el('span', { class: 'gm-muted', text: hint }) : null]);
}

function buildForm() {
  const o = ws.options;
  const form = byId('gm-ws-form');
  form.textContent = '';
  // Inputs: the current version, or uploaded files.
  const sources = el('div', { class: 'gm-ws-sources' });
  for (const source of o.sources) {
    const radio = el('input', { type: 'radio', name: 'gm-ws-source', value: source });
    radio.checked = source === o.defaults.source;
    radio.addEventListener('change', () => (byId('gm-ws-files').hidden = source !== 'upload'));
    sources.appendChild(el('label', { class: 'gm-check' }, [radio, el('span', { text: label('plan_sources', source) })]));
  }
  const files = el('div', { id: 'gm-ws-files', class: 'gm-ws-files', hidden: true });
  for (const name of o.input_files) {
    const required = o.required_uploads.includes(name);
    const input = el('input', { type: 'file', id: 'gm-ws-file-' + name, accept: o.input_suffixes.join(',') });
    files.appendChild(row(label('plan_inputs', name), input, required ? '必填' : '可选'));
  }
  const categories = el('div', { class: 'gm-checks gm-ws-categories', id: 'gm-ws-categories' });
  for (const category of o.site_categories) {
    const box = el('input', { type: 'checkbox', value: category });
    box.checked = o.defaults.exclusive_categories.includes(category);
    categories.appendChild(el('label', { class: 'gm-check' }, [box, el('span', { text: label('site_categories', category) })]));
  }
  const micro = el('input', { class: 'gm-input', id: 'gm-ws-micro_households', maxlength: '20' });
  micro.value = o.defaults.micro_households ? o.defaults.micro_households.join('-') : 'off';
  form.append(
    el('div', { class: 'gm-ws-title', text: '输入' }),
    sources,
    files,
    el('div', { class: 'gm-ws-title', text: '划分参数' }),
    el('div', { class: 'gm-ws-grid' }, [
      row('户数下限', numberInput('min_households')),
      row('户数上限', numberInput('max_households')),
      row('人口上限', numberInput('max_population')),
      row('面积上限（km²）', numberInput('max_area_km2', '0.01')),
      row('微网格户数', micro, '如 30-150，off 为不划分'),
    ]),
    el('div', { class: 'gm-ws-title', text: '专属网格认定' }),
    categories,
    el('div', { class: 'gm-ws-grid' }, [
      row('占地不少于（m²）', numberInput('exclusive_min_area_m2', '100')),
      row('或人数不少于', numberInput('exclusive_min_headcount')),
      row('专属/综合比例提示线', numberInput('exclusive_ratio_limit', '0.01')),
    ]),
    el('div', { class: 'gm-ws-title' }, [
      el('span', { text: '锁定网格 ' }),
      el('span', { class: 'gm-muted', id: 'gm-ws-lock-count', text: '0 个' }),
    ]),
    el('div', { class: 'gm-ws-actions' }, [
      el('button', { type: 'button', class: 'gm-button gm-small', id: 'gm-ws-lock-mode', text: '点选地图网格锁定', onclick: () => setLockMode(!ws.lockMode) }),
      el('button', { type: 'button', class: 'gm-link', text: '清空', onclick: () => { ws.locks.clear(); showLocks(); } }),
    ]),
    el('ul', { class: 'gm-ws-locks', id: 'gm-ws-locks' }),
    el('div', { class: 'gm-ws-actions' }, [el('button', { type: 'submit', class: 'gm-button', id: 'gm-ws-run', text: '开始划分' })])
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    run().catch((error) => showError('提交失败：' + error.message));
  });
}

function setLockMode(on) {
  ws.lockMode = on;
  const button = byId('gm-ws-lock-mode');
  button.textContent = on ? '完成锁定（再次点击网格可取消）' : '点选地图网格锁定';
  button.classList.toggle('gm-ws-active', on);
  GM.map.getCanvas().style.cursor = on ? 'crosshair' : '';
}

function showLocks() {
  const list = byId('gm-ws-locks');
  list.textContent = '';
  for (const code of [...ws.locks].sort()) {
    list.appendChild(
      el('li', {}, [
        el('span', { text: gridName(code) }),
        el('button', { type: 'button', class: 'gm-link', text: '移除', onclick: () => { ws.locks.delete(code); showLocks(); } }),
      ])
    );
  }
  byId('gm-ws-lock-count').textContent = `${ws.locks.size} 个`;
  GM.map.setFilter('ws-locked', ['in', ['get', 'code'], ['literal', [...ws.locks]]]);
}

function gridName(code) {
  const community = (GM.names || {})[String(code).slice(0, 12)];
  return community ? `${community} ${String(code).slice(12)}号（${code}）` : code;
}

/** A click on the map while choosing locks toggles the grid; otherwise the map's popups. */
function hookClicks() {
  const incidents = GM.incidents;
  const original = incidents.handledClick.bind(incidents);
  incidents.handledClick = (event) => {
    if (!ws.lockMode) return original(event);
    const hits = GM.map.queryRenderedFeatures(event.point, { layers: ['exclusive-fill', 'grids-fill'] });
    if (hits.length) {
      const code = hits[0].properties.code;
      if (ws.locks.has(code)) ws.locks.delete(code);
      else ws.locks.add(code);
      showLocks();
    }
    return true;
  };
}

function formParams() {
  const value = (name) => byId('gm-ws-' + name).value.trim();
  const number = (name) => (value(name) === '' ? null : Number(value(name)));
  return {
    source: document.querySelector('input[name="gm-ws-source"]:checked').value,
    min_households: number('min_households'),
    max_households: number('max_households'),
    max_population: number('max_population'),
    max_area_km2: number('max_area_km2'),
    micro_households: value('micro_households') || 'off',
    locks: [...ws.locks].sort(),
    exclusive_categories: [...document.querySelectorAll('#gm-ws-categories input:checked')].map((box) => box.value),
    exclusive_min_area_m2: number('exclusive_min_area_m2'),
    exclusive_min_headcount: number('exclusive_min_headcount'),
    exclusive_ratio_limit: number('exclusive_ratio_limit'),
  };
}

/* ---- running and following a plan ---------------------------------------------------------- */

async function run() {
  const params = formParams();
  let answer;
  if (params.source === 'upload') {
    const body = new FormData();
    for (const [key, value] of Object.entries(params)) {
      if (value === null) continue;
      body.append(key, Array.isArray(value) ? value.join(',') : String(value));
    }
    for (const name of ws.options.input_files) {
      const file = byId('gm-ws-file-' + name).files[0];
      if (file) body.append(name, file);
    }
    const response = await fetch('/api/plans', { method: 'POST', body, credentials: 'same-origin', headers: { Accept: 'application/json' } });
    answer = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(answer.error || response.status + ' ' + response.statusText);
  } else {
    answer = await api('/api/plans', { method: 'POST', body: Object.fromEntries(Object.entries(params).filter(([, v]) => v !== null)) });
  }
  setLockMode(false);
  showOverlay(false);
  localStorage.setItem(STORAGE_KEY, String(answer.id));
  await follow(answer.id);
}

async function follow(id) {
  clearTimeout(ws.timer);
  let plan;
  try {
    plan = await api('/api/plans/' + id);
  } catch (error) {
    if (error.status === 404) {
      localStorage.removeItem(STORAGE_KEY);
      return;
    }
    throw error;
  }
  ws.plan = plan;
  if (ws.restoring) {
    ws.restoring = false;
    fillForm(plan.params || {});
  }
  showProgress(plan);
  if (!FINAL.includes(plan.status)) {
    ws.timer = setTimeout(() => follow(id).catch((error) => toast('方案状态获取失败：' + error.message)), POLL_MS);
    return;
  }
  if (plan.status === 'done') await showResult(plan);
}

function showProgress(plan) {
  const box = byId('gm-ws-job');
  box.hidden = false;
  const running = !FINAL.includes(plan.status);
  byId('gm-ws-run').disabled = running;
  const pct = Math.round(100 * (plan.progress || 0));
  box.textContent = '';
  box.setAttribute('data-status', plan.status);
  box.append(
    el('div', { class: 'gm-ws-job-head' }, [
      el('span', { class: 'gm-ws-title', text: `方案 ${plan.id}` }),
      el('span', { class: 'gm-ws-status gm-ws-status-' + plan.status, text: jobLabel(plan.status) }),
      running ? el('button', { type: 'button', class: 'gm-link', id: 'gm-ws-cancel', text: '取消', onclick: () => cancel(plan.id) }) : null,
    ]),
    el('div', { class: 'gm-ws-bar' }, [el('div', { class: 'gm-ws-bar-fill', id: 'gm-ws-bar-fill', style: `width:${pct}%` })]),
    el('div', { class: 'gm-muted', id: 'gm-ws-message', text: `${pct}% · ${plan.message || (plan.status === 'queued' ? '排队等待空闲的计算进程' : '')}` }),
    el('div', { class: 'gm-muted', id: 'gm-ws-params', text: paramsText(plan.params || {}) })
  );
  if (plan.status === 'failed') box.appendChild(el('div', { class: 'gm-bad', id: 'gm-ws-error', text: plan.error || '失败' }));
  if (plan.status === 'cancelled') box.appendChild(el('div', { class: 'gm-warn', text: '已取消，当前版本未受影响。' }));
  if (plan.status !== 'done') byId('gm-ws-result').hidden = true;
}

function paramsText(p) {
  const parts = [`${label('plan_sources', p.source)}`, `户数 ${p.min_households}–${p.max_households}`];
  if (p.max_population) parts.push(`人口 ≤ ${fmtInt(p.max_population)}`);
  if (p.max_area_km2) parts.push(`面积 ≤ ${p.max_area_km2} km²`);
  parts.push(p.micro_households ? `微网格 ${p.micro_households.join('–')} 户` : '不划微网格');
  if ((p.locks || []).length) parts.push(`锁定 ${p.locks.length} 个网格`);
  return `参数：${parts.join('，')}`;
}

/** The form as a restored plan was started (after a reload). */
function fillForm(p) {
  const set = (name, value) => {
    const input = byId('gm-ws-' + name);
    if (input && value !== undefined) input.value = value === null ? '' : value;
  };
  for (const name of ['min_households', 'max_households', 'max_population', 'max_area_km2', 'exclusive_min_area_m2', 'exclusive_min_headcount', 'exclusive_ratio_limit']) set(name, p[name]);
  set('micro_households', p.micro_households ? p.micro_households.join('-') : 'off');
  for (const box of document.querySelectorAll('#gm-ws-categories input')) box.checked = (p.exclusive_categories || []).includes(box.value);
  ws.locks = new Set(p.locks || []);
  showLocks();
}

async function cancel(id) {
  try {
    await api(`/api/plans/${id}/cancel`, { method: 'POST', body: {} });
  } catch (error) {
    toast('取消失败：' + error.message);
  }
  await follow(id);
}

function showError(text) {
  const box = byId('gm-ws-job');
  box.hidden = false;
  box.textContent = '';
  box.appendChild(el('div', { class: 'gm-bad', id: 'gm-ws-error', text }));
}

/* ---- the result: diff, report, preview, publish -------------------------------------------- */

async function showResult(plan) {
  const summary = plan.summary || {};
  const part = summary.partition || {};
  const counts = (summary.diff && summary.diff.counts) || {};
  const box = byId('gm-ws-result');
  box.hidden = false;
  box.textContent = '';
  const add = (...nodes) => box.append(...nodes.filter(Boolean)); // append() writes "null" for null
  const chips = el('div', { class: 'gm-ws-chips', id: 'gm-ws-counts' });
  for (const status of Object.keys(counts)) {
    chips.appendChild(
      el('span', { class: 'gm-ws-chip', 'data-status': status, style: 'border-color:' + DIFF_COLORS[status] }, [
        el('span', { class: 'gm-dot', style: 'background:' + DIFF_COLORS[status] }),
        el('span', { text: `${diffLabel(status)} ${fmtInt(counts[status])}` }),
      ])
    );
  }
  const micro = part.micro;
  add(
    el('div', { class: 'gm-ws-title', text: `与第 ${summary.base_version || '—'} 版对比` }),
    chips,
    el('div', { class: 'gm-muted', text: `综合网格 ${fmtInt(part.comprehensive)} 个，户数在区间内 ${fmtPct(part.share_in_band)}；专属网格 ${fmtInt(part.exclusive)} 个（比例 ${part.exclusive_ratio ?? '—'}）` + (micro ? `；微网格 ${fmtInt(micro.count)} 个` : '') }),
    summary.ok ? null : el('div', { class: 'gm-bad', text: '方案未通过全覆盖/无重叠校验，不能发布：' + (part.violations || []).slice(0, 3).join('；') }),
    ...(summary.warnings || []).map((w) => el('div', { class: 'gm-warn', text: w })),
    el('div', { class: 'gm-ws-actions' }, [
      el('button', { type: 'button', class: 'gm-button gm-small', id: 'gm-ws-preview', text: ws.overlay ? '隐藏对比图层' : '地图上对比', onclick: () => showOverlay(!ws.overlay) }),
      el('a', { class: 'gm-link', href: `/api/plans/${plan.id}/file`, download: `plan-${plan.id}.gpkg`, text: '下载方案 GeoPackage' }),
    ]),
    el('div', { class: 'gm-ws-legend' }, Object.keys(DIFF_COLORS).map((status) =>
      el('span', { class: 'gm-legend-row' }, [el('span', { class: 'gm-swatch', style: `border:2px solid ${DIFF_COLORS[status]};background:${DIFF_COLORS[status]}33` }), el('span', { text: diffLabel(status) })])
    )),
    el('div', { class: 'gm-ws-title', text: '各社区情况' }),
    reportTable(summary.communities || []),
    el('div', { class: 'gm-ws-title', text: '网格变化（户数）' }),
    el('ul', { class: 'gm-ws-changes', id: 'gm-ws-changes' }, [el('li', { class: 'gm-muted', text: '加载中…' })]),
    publishBox(plan)
  );
  const diff = await api(`/api/plans/${plan.id}/diff`);
  ws.diff = diff;
  const list = byId('gm-ws-changes');
  list.textContent = '';
  const moved = (diff.grids || []).filter((g) => g.status !== 'kept');
  for (const g of moved.slice(0, 200)) {
    const change = g.change > 0 ? '+' + fmtInt(g.change) : fmtInt(g.change);
    list.appendChild(
      el('li', { onclick: () => zoomTo(g.code), 'data-status': g.status }, [
        el('span', { class: 'gm-dot', style: 'background:' + DIFF_COLORS[g.status] }),
        el('span', { class: 'gm-name', text: gridName(g.code) }),
        el('span', { class: 'gm-muted', text: `${diffLabel(g.status)} ${g.households_before ?? '—'}→${g.households_after ?? '—'} 户（${change}）` }),
      ])
    );
  }
  if (!moved.length) list.appendChild(el('li', { class: 'gm-muted', text: '所有网格保持不变' }));
  if (moved.length > 200) list.appendChild(el('li', { class: 'gm-muted', text: `另有 ${moved.length - 200} 个，见下载的方案文件` }));
}

function reportTable(rows) {
  const table = el('table', { class: 'gm-kpi gm-ws-report', id: 'gm-ws-report' }, [
    el('thead', {}, [el('tr', {}, ['社区', '网格', '区间内', '专属比', '提示'].map((t) => el('th', { text: t })))]),
  ]);
  const body = el('tbody');
  for (const r of rows) {
    const flags = (r.flags || []).map((f) => `${f.label}×${f.count}`).join('、');
    body.appendChild(
      el('tr', { class: r.share_in_band !== null && r.share_in_band < 1 ? 'gm-row-warn' : '', onclick: () => zoomTo(r.code), title: r.code }, [
        el('td', { class: 'gm-name', text: r.name || r.code }),
        el('td', { text: fmtInt(r.grids) }),
        el('td', { text: fmtPct(r.share_in_band) }),
        el('td', { text: r.exclusive_ratio === null ? '—' : r.exclusive_ratio.toFixed(2) }),
        el('td', { class: 'gm-ws-flags' + (flags ? ' gm-warn' : ''), text: flags || '—' }),
      ])
    );
  }
  table.appendChild(body);
  return table;
}

function publishBox(plan) {
  const published = plan.summary && plan.summary.published_version;
  if (published) return el('div', { class: 'gm-ws-published', id: 'gm-ws-published', text: `已发布为第 ${published} 版` });
  if (!(plan.summary && plan.summary.ok)) return null;
  const note = el('input', { class: 'gm-input', id: 'gm-ws-note', maxlength: String(((GM.meta.limits || {}).note) || 4000), placeholder: '发布说明，如：2027年度网格调整' });
  return el('div', { class: 'gm-ws-publish' }, [
    el('div', { class: 'gm-ws-title', text: '发布' }),
    note,
    el('button', {
      type: 'button',
      class: 'gm-button',
      id: 'gm-ws-publish',
      text: '发布为新版本',
      onclick: async (event) => {
        event.target.disabled = true;
        try {
          const answer = await api(`/api/plans/${plan.id}/publish`, { method: 'POST', body: { note: note.value } });
          toast(`已发布第 ${answer.version_id} 版，正在刷新地图…`);
          GM.workspace.published = answer.version_id;
          sessionStorage.setItem(STORAGE_KEY + '.show', 'history');
          setTimeout(() => location.reload(), 800);
        } catch (error) {
          event.target.disabled = false;
          toast('发布失败：' + error.message);
        }
      },
    }),
  ]);
}

/* ---- the map overlay: the plan's grids coloured by diff status ----------------------------- */

function addLayers() {
  const map = GM.map;
  const grids = map.getLayer('grids-line'); // one source per layer, or one offline package
  map.addLayer({ id: 'ws-locked', type: 'line', source: grids.source, 'source-layer': 'grids', filter: ['in', ['get', 'code'], ['literal', []]], paint: { 'line-color': '#ffffff', 'line-width': 4 } });
  map.addSource('ws-plan', { type: 'geojson', data: { type: 'FeatureCollection', features: [] } });
  const color = ['match', ['get', 'status'], ...Object.entries(DIFF_COLORS).flat(), '#ffffff'];
  map.addLayer({ id: 'ws-plan-fill', type: 'fill', source: 'ws-plan', layout: { visibility: 'none' }, paint: { 'fill-color': color, 'fill-opacity': ['match', ['get', 'status'], 'kept', 0.05, 0.35] } });
  map.addLayer({ id: 'ws-plan-line', type: 'line', source: 'ws-plan', layout: { visibility: 'none' }, paint: { 'line-color': color, 'line-width': ['match', ['get', 'status'], 'kept', 1, 2.5], 'line-dasharray': ['match', ['get', 'status'], 'retired', ['literal', [2, 2]], ['literal', [1, 0]]] } });
  map.addLayer({
    id: 'ws-plan-label',
    type: 'symbol',
    source: 'ws-plan',
    minzoom: 13,
    filter: ['!=', ['get', 'status'], 'kept'],
    layout: { visibility: 'none', 'text-field': ['get', 'label'], 'text-font': ['Noto Sans CJK SC Regular'], 'text-size': 13 },
    paint: { 'text-color': '#ffffff', 'text-halo-color': '#050a14', 'text-halo-width': 2 },
  });
}

async function showOverlay(on) {
  ws.overlay = on;
  const button = byId('gm-ws-preview');
  if (button) button.textContent = on ? '隐藏对比图层' : '地图上对比';
  if (on && ws.plan && ws.plan.status === 'done' && ws.overlayFor !== ws.plan.id) {
    const collection = await api(`/api/plans/${ws.plan.id}/grids`);
    for (const f of collection.features) {
      const p = f.properties;
      const change = p.change > 0 ? '+' + p.change : String(p.change ?? '');
      p.label = `${diffLabel(p.status)} ${change}户`;
    }
    GM.map.getSource('ws-plan').setData(collection);
    ws.features = collection.features;
    ws.overlayFor = ws.plan.id;
  }
  for (const id of ['ws-plan-fill', 'ws-plan-line', 'ws-plan-label']) GM.map.setLayoutProperty(id, 'visibility', on ? 'visible' : 'none');
}

function zoomTo(code) {
  const feature = (ws.features || []).find((f) => f.properties.code === code);
  if (!feature) {
    if (code.length === 12 || !ws.overlay) return import('./gm-map.js').then((m) => m.zoomToUnit(code));
    return null;
  }
  const bounds = new GM.maplibregl.LngLatBounds();
  const extend = (c) => (typeof c[0] === 'number' ? bounds.extend(c) : c.forEach(extend));
  extend(feature.geometry.coordinates);
  GM.map.fitBounds(bounds, { padding: GM.padding(), maxZoom: 16, duration: 600 });
  return null;
}

/* ---- versions: history, roll back, export -------------------------------------------------- */

async function history() {
  const answer = await api('/api/versions');
  const list = byId('gm-ws-versions');
  list.textContent = '';
  const formats = ws.options.export.formats;
  for (const v of answer.versions.slice().sort((a, b) => b.id - a.id)) {
    const format = el('select', { class: 'gm-input gm-inline', 'aria-label': '导出格式' }, formats.map((f) => el('option', { value: f, text: label('export_formats', f) })));
    const gbk = el('input', { type: 'checkbox', title: 'Shapefile/CSV 用 GBK 编码' });
    const link = el('a', { class: 'gm-link', text: '导出', href: '#' });
    const href = () => `/api/versions/${v.id}/export?format=${format.value}` + (gbk.checked ? '&encoding=gbk' : '');
    link.setAttribute('href', href());
    format.addEventListener('change', () => link.setAttribute('href', href()));
    gbk.addEventListener('change', () => link.setAttribute('href', href()));
    list.appendChild(
      el('li', { class: v.current ? 'gm-ws-current' : '', 'data-version': String(v.id) }, [
        el('div', { class: 'gm-ws-version-head' }, [
          el('strong', { text: `第 ${v.id} 版` }),
          v.current ? el('span', { class: 'gm-ws-status gm-ws-status-done', text: '当前' }) : el('button', { type: 'button', class: 'gm-button gm-small gm-ws-activate', text: '设为当前（回滚）', onclick: () => activate(v.id) }),
        ]),
        el('div', { class: 'gm-muted', text: `${fmtTime(v.published_at)} · ${v.published_by || '—'} · ${fmtInt((v.summary || {}).grids)} 个综合网格` }),
        v.note ? el('div', { class: 'gm-ws-note', text: v.note }) : null,
        el('div', { class: 'gm-ws-actions' }, [format, el('label', { class: 'gm-check' }, [gbk, el('span', { text: 'GBK' })]), link]),
      ])
    );
  }
}

async function activate(id) {
  if (!window.confirm(`将第 ${id} 版设为当前版本？未结事件将按该版本重新归属网格。`)) return;
  try {
    await api(`/api/versions/${id}/activate`, { method: 'POST', body: {} });
    toast(`第 ${id} 版已设为当前版本，正在刷新地图…`);
    GM.workspace.activated = id;
    sessionStorage.setItem(STORAGE_KEY + '.show', 'history');
    setTimeout(() => location.reload(), 800);
  } catch (error) {
    toast('回滚失败：' + error.message);
  }
}

start().catch((error) => {
  toast('规划工作台启动失败：' + ((error && error.message) || error));
  console.error(error);
});
