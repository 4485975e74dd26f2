/* gridmap field page (网格员移动端, /field): my tasks, address look-up, my grids on the map,
 * reporting with a photo at a GPS fix or a tapped point, patrol check-in.
 *
 * Everything comes from this server: the user and datum (/api/config), every label and limit
 * (/api/meta), the incident categories (/api/taxonomy), my grids (/api/field/grids), my tasks
 * (/api/field/tasks), what is at a point (/api/locate). The page decides nothing: whether a
 * point is in my grids, which actions I may take and what a photo may be are the server's
 * answers. Text from data reaches the page through textContent only.
 *
 * MapLibre (most of the page's weight) is imported only when the map is first opened, so the
 * task list and the look-up work first on a slow line. */
import { GM, api, byId, el, fmtTime, label, loadMeta, query, setText, toast } from './gm-util.js';

const F = (GM.field = { tasks: [], grids: [], place: null, map: null, pending: null });
GM.stats.field = { taskLoads: 0, reports: 0, photos: 0, checkins: 0, lookups: 0, events: 0 };

/** A message that is not an error (toast() also records errors for the tests). */
function notice(text) {
  const box = byId('gm-toasts');
  const item = el('div', { class: 'gm-toast f-good', text });
  box.appendChild(item);
  setTimeout(() => item.remove(), 5000);
}

/* ---- views ----------------------------------------------------------------------------- */

function show(view) {
  for (const section of document.querySelectorAll('.f-view')) section.hidden = section.dataset.view !== view;
  for (const tab of document.querySelectorAll('.f-tab')) tab.classList.toggle('f-active', tab.dataset.tab === view || (view === 'report' && tab.dataset.tab === 'map'));
  F.view = view;
  if (view === 'map') ensureMap().then((map) => map.resize()).catch((error) => toast('地图加载失败：' + error.message));
}

/* ---- start -------------------------------------------------------------------------------- */

async function start() {
  const config = (GM.config = await api('/api/config'));
  await loadMeta(config);
  const user = config.user || {};
  setText('f-city', (config.city || '') + ' 网格员工作台');
  setText('f-user', (user.name || '') + (user.role ? '（' + label('roles', user.role) + '）' : ''));
  for (const tab of document.querySelectorAll('.f-tab')) tab.addEventListener('click', () => show(tab.dataset.tab));
  byId('f-tasks-refresh').addEventListener('click', () => loadTasks());
  byId('f-lookup').addEventListener('submit', (event) => {
    event.preventDefault();
    lookup(byId('f-q').value.trim());
  });
  byId('f-gps').addEventListener('click', locateMe);
  byId('f-report-here').addEventListener('click', () => openReport());
  byId('f-checkin').addEventListener('click', checkIn);
  byId('f-report').addEventListener('submit', (event) => {
    event.preventDefault();
    submitReport();
  });
  byId('f-report-cancel').addEventListener('click', () => show('map'));
  byId('f-photo').addEventListener('change', previewPhoto);
  if (config.notice) toast(config.notice);
  await Promise.all([loadTasks(), loadGrids(), loadCategories()]);
  listen();
  document.body.setAttribute('data-ready', '1');
}

async function loadGrids() {
  try {
    const answer = await api('/api/field/grids');
    F.grids = answer.grids || [];
    F.gridBox = answer.bbox;
    const prefixes = answer.prefixes || [];
    setText('f-grids', prefixes.length ? `我的网格：${prefixes.join('、')}（${F.grids.length} 个网格）` : '');
  } catch (error) {
    if (error.status !== 409) toast('网格加载失败：' + error.message);
  }
}

async function loadCategories() {
  const taxonomy = await api('/api/taxonomy');
  const select = byId('f-category');
  for (const major of taxonomy.majors || []) {
    const group = el('optgroup', { label: `${major.name}（${major.kind_name}）` });
    for (const sub of major.subclasses || []) group.appendChild(el('option', { value: sub.code, text: sub.name }));
    select.appendChild(group);
  }
}

/* ---- my tasks ----------------------------------------------------------------------------- */

async function loadTasks() {
  let answer;
  try {
    answer = await api('/api/field/tasks');
  } catch (error) {
    toast('任务加载失败：' + error.message);
    return;
  }
  F.tasks = answer.tasks || [];
  GM.stats.field.taskLoads += 1;
  setText('f-task-count', `${F.tasks.length} 件`);
  renderTasks();
  if (F.map && F.map.getSource('tasks')) F.map.getSource('tasks').setData(taskPoints());
}

/** "剩 3 小时" / "超期 2 小时": how far the deadline is (presentation of the server's due_at). */
function dueText(task) {
  if (!task.due_at) return '无时限';
  const hours = (new Date(task.due_at).getTime() - Date.now()) / 3600000;
  const span = Math.abs(hours) >= 48 ? Math.round(Math.abs(hours) / 24) + ' 天' : Math.max(1, Math.round(Math.abs(hours))) + ' 小时';
  return `时限 ${fmtTime(task.due_at)}（${task.overdue ? '已超期 ' : '剩 '}${span}）`;
}

function renderTasks() {
  const list = byId('f-tasks');
  list.textContent = '';
  if (!F.tasks.length) {
    list.appendChild(el('li', { class: 'f-muted', text: '暂无待办任务。' }));
    return;
  }
  for (const task of F.tasks) list.appendChild(taskCard(task));
}

function taskCard(task) {
  const chips = [el('span', { class: 'f-chip', text: task.status_name || label('states', task.status) })];
  if (task.overdue) chips.push(el('span', { class: 'f-chip f-bad', text: '超期' }));
  if (task.rework) chips.push(el('span', { class: 'f-chip f-warn', text: '返工' }));
  const card = el('li', { class: 'f-card' + (task.overdue ? ' f-overdue' : ''), 'data-id': task.id }, [
    el('div', { class: 'f-card-head' }, [el('span', { class: 'f-card-title', text: `#${task.id} ${task.type_name || task.type}` }), el('span', {}, chips)]),
    el('div', { class: 'f-desc', text: task.description }),
    el('div', { class: 'f-muted', text: [task.address, task.grid_code ? '网格 ' + task.grid_code : ''].filter(Boolean).join(' · ') }),
    el('div', { class: 'f-due' + (task.overdue ? ' f-bad' : ''), text: dueText(task) }),
  ]);
  const photos = el('div', { class: 'f-photos' });
  if (task.photos) {
    const more = el('button', { type: 'button', class: 'f-button f-small', text: `查看照片（${task.photos}）`, onclick: () => showPhotos(task.id, photos, more) });
    card.appendChild(more);
  }
  card.appendChild(photos);
  const actions = el('div', { class: 'f-actions' });
  for (const action of task.allowed_actions || []) {
    actions.appendChild(
      el('button', {
        type: 'button',
        class: 'f-button' + (action === (task.allowed_actions || [])[0] ? ' f-primary' : ''),
        'data-action': action,
        text: label('actions', action),
        onclick: () => (action === 'resolve' ? askNote(card, task, action) : act(task, action, '')),
      })
    );
  }
  const fileInput = el('input', { type: 'file', accept: (GM.meta.photos && GM.meta.photos.media_types || []).join(',') || 'image/*', 'aria-label': '添加照片' });
  fileInput.addEventListener('change', async () => {
    if (!fileInput.files.length) return;
    if (await uploadPhoto(task.id, fileInput.files[0])) loadTasks();
  });
  actions.appendChild(el('label', { class: 'f-button f-file-button' }, [el('span', { text: '添加照片' }), fileInput]));
  actions.appendChild(el('button', { type: 'button', class: 'f-button', text: '地图', onclick: () => focusTask(task) }));
  card.appendChild(actions);
  return card;
}

/** Resolving takes a note of what was done. */
function askNote(card, task, action) {
  if (card.querySelector('.f-note')) return;
  const note = el('textarea', { class: 'f-input', rows: 2, maxlength: (GM.meta.limits && GM.meta.limits.note) || 1000, placeholder: '处置情况（可选）' });
  const box = el('div', { class: 'f-note' }, [
    note,
    el('div', { class: 'f-actions' }, [
      el('button', { type: 'button', class: 'f-button f-primary', text: '确认' + label('actions', action), onclick: () => act(task, action, note.value.trim()) }),
      el('button', { type: 'button', class: 'f-button', text: '取消', onclick: () => box.remove() }),
    ]),
  ]);
  card.appendChild(box);
  note.focus();
}

async function act(task, action, note) {
  try {
    await api(`/api/incidents/${task.id}/transition`, { method: 'POST', body: { action, note } });
    notice(`#${task.id} ${label('actions', action)}：已提交`);
  } catch (error) {
    toast(`#${task.id} ${label('actions', action)}失败：${error.message}`);
  }
  await loadTasks();
}

async function showPhotos(incidentId, box, button) {
  try {
    const answer = await api(`/api/incidents/${incidentId}/photos`);
    box.textContent = '';
    for (const photo of answer.photos || []) {
      box.appendChild(el('a', { href: photo.url, target: '_blank', rel: 'noopener' }, [el('img', { src: photo.url, alt: '现场照片', loading: 'lazy' })]));
    }
    button.remove();
  } catch (error) {
    toast('照片加载失败：' + error.message);
  }
}

async function focusTask(task) {
  show('map');
  const map = await ensureMap();
  map.jumpTo({ center: [task.lon, task.lat], zoom: Math.max(map.getZoom(), 16) });
}

/* ---- photos ------------------------------------------------------------------------------- */

/** A phone photo shrunk to at most 1600 px as JPEG (a few hundred kB instead of several MB on a
 * slow line). The server checks what arrives; this only saves bytes. */
async function shrink(file) {
  const longest = 1600;
  try {
    const bitmap = await createImageBitmap(file);
    const scale = Math.min(1, longest / Math.max(bitmap.width, bitmap.height));
    const canvas = document.createElement('canvas');
    canvas.width = Math.max(1, Math.round(bitmap.width * scale));
    canvas.height = Math.max(1, Math.round(bitmap.height * scale));
    canvas.getContext('2d').drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', 0.8));
    if (blob && blob.size < file.size) return blob;
  } catch (error) {
    // Not a picture the browser can read: send it as it is and let the server say why.
  }
  return file;
}

async function uploadPhoto(incidentId, file) {
  const blob = await shrink(file);
  const limits = GM.meta.photos || {};
  if (limits.max_bytes && blob.size > limits.max_bytes) {
    toast(`照片过大（${Math.round(blob.size / 1024)} KB），上限 ${Math.round(limits.max_bytes / 1048576)} MB`);
    return false;
  }
  const form = new FormData();
  form.append('photo', blob, blob === file ? file.name : 'photo.jpg');
  const response = await fetch(`/api/incidents/${incidentId}/photos`, { method: 'POST', body: form, credentials: 'same-origin', headers: { Accept: 'application/json' } });
  let data = null;
  try {
    data = await response.json();
  } catch (error) {
    data = null;
  }
  if (!response.ok) {
    toast('照片上传失败：' + ((data && data.error) || response.status));
    return false;
  }
  GM.stats.field.photos += 1;
  return data;
}

function previewPhoto() {
  const input = byId('f-photo');
  const preview = byId('f-photo-preview');
  if (F.previewUrl) URL.revokeObjectURL(F.previewUrl);
  setText('f-photo-name', input.files.length ? input.files[0].name : '未选择');
  if (!input.files.length) {
    preview.hidden = true;
    return;
  }
  F.previewUrl = URL.createObjectURL(input.files[0]);
  preview.src = F.previewUrl;
  preview.hidden = false;
}

/* ---- address look-up ---------------------------------------------------------------------- */

async function lookup(text) {
  const box = byId('f-lookup-result');
  if (!text) return;
  box.textContent = '';
  box.appendChild(el('div', { class: 'f-muted', text: '查询中…' }));
  let answer;
  try {
    answer = await api('/api/geocode' + query({ q: text }));
  } catch (error) {
    box.textContent = '';
    box.appendChild(el('div', { class: 'f-status f-bad', text: '查询失败：' + error.message }));
    return;
  }
  GM.stats.field.lookups += 1;
  const match = answer.match || {};
  box.textContent = '';
  const found = match.level && match.level !== 'none' && match.lon !== null;
  if (found) {
    const result = el('div', { class: 'f-result', id: 'f-match' }, [
      el('h2', { text: match.address || match.label || text }),
      kv([
        ['匹配', `${label('levels', match.level)} · 可信度 ${Math.round((match.confidence || 0) * 100)}%`],
        match.approximate ? ['说明', '位置为道路/小区代表点，非门牌'] : null,
      ]),
    ]);
    box.appendChild(result);
    placeInto(result, match.lon, match.lat, GM.config.datum);
  } else {
    box.appendChild(el('div', { class: 'f-result' }, [el('h2', { text: '未找到唯一的标准地址' }), el('div', { class: 'f-muted', text: match.reason || '' })]));
  }
  const candidates = (match.candidates || []).filter((c) => c.lon !== null);
  if (candidates.length) {
    const list = el('ul', { class: 'f-list f-cands', id: 'f-candidates' });
    for (const c of candidates) {
      list.appendChild(
        el('li', {
          onclick: () => {
            byId('f-q').value = c.label;
            lookup(c.label);
          },
        }, [el('div', { text: c.label }), el('div', { class: 'f-muted', text: `${label('levels', c.level)} · ${Math.round(c.confidence * 100)}%${c.grid_code ? ' · 网格 ' + c.grid_code : ''}` })])
      );
    }
    box.appendChild(el('div', { class: 'f-result' }, [el('h2', { text: found ? '其他可能的地址' : '您要找的是不是：' }), list]));
  }
}

function kv(rows) {
  const dl = el('dl', { class: 'f-kv' });
  for (const row of rows) {
    if (!row) continue;
    dl.appendChild(el('dt', { text: row[0] }));
    dl.appendChild(el('dd', { class: row[2] || '', text: row[1] === null || row[1] === undefined || row[1] === '' ? '—' : row[1] }));
  }
  return dl;
}

/** The grid, its divisions and staff at a point, as the server locates it, into `box`. */
async function placeInto(box, lon, lat, crs) {
  const holder = el('div', { class: 'f-muted', text: '正在确定所属网格…' });
  box.appendChild(holder);
  let place;
  try {
    place = await api('/api/locate' + query({ lon, lat, crs }));
  } catch (error) {
    holder.textContent = error.status === 404 ? '该位置不在任何网格内' : '网格查询失败：' + error.message;
    return null;
  }
  holder.remove();
  box.appendChild(placeView(place));
  box.appendChild(
    el('div', { class: 'f-actions' }, [
      el('button', {
        type: 'button',
        class: 'f-button',
        text: '在地图上查看',
        onclick: async () => {
          show('map');
          const map = await ensureMap();
          map.jumpTo({ center: [lon, lat], zoom: 17 });
          pick(lon, lat, crs, place, 'address');
        },
      }),
    ])
  );
  return place;
}

function placeView(place) {
  const unit = (code, name) => (code ? (name ? `${name}（${code}）` : code) : null);
  const wrap = el('div', { class: 'f-place' }, [
    kv([
      ['所属网格', place.grid_code, ''],
      ['社区', unit(place.community_code, place.community_name)],
      ['街道', unit(place.street_code, place.street_name)],
      ['本人网格', place.mine ? '是，可在此上报、签到' : '否', place.mine ? 'f-mine' : 'f-notmine'],
    ]),
  ]);
  const staff = el('ul', { class: 'f-list f-staff' });
  for (const member of place.staff || []) {
    staff.appendChild(
      el('li', {}, [
        el('span', { text: `${member.name} · ${member.role_name}` }),
        member.phone ? el('a', { href: 'tel:' + member.phone, text: member.phone }) : el('span', { class: 'f-muted', text: '—' }),
      ])
    );
  }
  if (!(place.staff || []).length) staff.appendChild(el('li', { class: 'f-muted', text: '该网格尚未登记网格员' }));
  wrap.appendChild(el('div', { class: 'f-label', text: '网格力量' }));
  wrap.appendChild(staff);
  return wrap;
}

/* ---- the map ------------------------------------------------------------------------------ */

function ensureMap() {
  if (!F.mapReady) F.mapReady = loadMap();
  return F.mapReady;
}

async function loadMap() {
  const css = el('link', { rel: 'stylesheet', href: '/static/vendor/maplibre-gl/maplibre-gl.css' });
  document.head.appendChild(css);
  const [maplibregl, tiles] = await Promise.all([import('../vendor/maplibre-gl/maplibre-gl.mjs'), api('/tiles/layers.json')]);
  GM.maplibregl = maplibregl;
  F.tiles = tiles;
  const bounds = F.gridBox || tiles.bounds;
  const map = (F.map = GM.map = new maplibregl.Map({
    container: 'f-map',
    style: fieldStyle(tiles),
    bounds: [[bounds[0], bounds[1]], [bounds[2], bounds[3]]],
    fitBoundsOptions: { padding: 30 },
    minZoom: 6,
    maxZoom: 19,
    dragRotate: false,
    pitchWithRotate: false,
    touchPitch: false,
    attributionControl: false,
    localIdeographFontFamily: '"Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif',
    fadeDuration: 0,
  }));
  map.touchZoomRotate.disableRotation();
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'bottom-right');
  map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }), 'bottom-left');
  map.on('error', (event) => GM.stats.errors.push('map: ' + ((event && event.error && event.error.message) || event)));
  await new Promise((resolve) => map.once('load', resolve));
  map.on('click', (event) => tapped(event));
  map.getSource('tasks').setData(taskPoints());
  drawPicked(); // a point chosen while the map loaded
  map.once('idle', () => document.body.setAttribute('data-map-ready', '1'));
  return map;
}

/** Grids and divisions from this server's vector tiles; my grids filled, my tasks as points. */
function fieldStyle(tiles) {
  const origin = location.origin;
  const sources = {};
  for (const layer of tiles.layers) {
    sources[layer.name] = {
      type: 'vector',
      tiles: [origin + layer.tiles],
      minzoom: layer.min_zoom,
      maxzoom: tiles.max_zoom,
      bounds: tiles.bounds,
      promoteId: { [layer.name]: 'code' },
    };
  }
  sources.tasks = { type: 'geojson', data: { type: 'FeatureCollection', features: [] } };
  sources.picked = { type: 'geojson', data: { type: 'FeatureCollection', features: [] } };
  const has = (name) => !!sources[name];
  const mine = ['in', ['get', 'code'], ['literal', F.grids]];
  const layers = [{ id: 'background', type: 'background', paint: { 'background-color': '#0e1f35' } }];
  if (has('roads')) layers.push({ id: 'roads-line', type: 'line', source: 'roads', 'source-layer': 'roads', paint: { 'line-color': '#3a4f70', 'line-width': ['interpolate', ['linear'], ['zoom'], 10, 1, 17, 6] } });
  for (const name of ['grids', 'exclusive']) {
    if (!has(name)) continue;
    layers.push(
      { id: `${name}-fill`, type: 'fill', source: name, 'source-layer': name, paint: { 'fill-color': ['case', mine, '#2f80ed', '#35d0ff'], 'fill-opacity': ['case', mine, 0.28, 0.04] } },
      { id: `${name}-line`, type: 'line', source: name, 'source-layer': name, paint: { 'line-color': ['case', mine, '#7fb6ff', '#35d0ff'], 'line-width': ['case', mine, 2.4, 0.6], 'line-opacity': 0.9 } }
    );
  }
  if (has('communities')) layers.push({ id: 'communities-line', type: 'line', source: 'communities', 'source-layer': 'communities', paint: { 'line-color': '#9aa9c9', 'line-width': 1.2, 'line-dasharray': [3, 2] } });
  if (has('roads')) layers.push({ id: 'roads-label', type: 'symbol', source: 'roads', 'source-layer': 'roads', minzoom: 14, layout: { 'symbol-placement': 'line', 'text-field': ['get', 'name'], 'text-font': ['Noto Sans CJK SC Regular'], 'text-size': 13 }, paint: { 'text-color': '#c9d6ea', 'text-halo-color': '#0e1f35', 'text-halo-width': 2 } });
  if (has('grids')) layers.push({ id: 'grids-label', type: 'symbol', source: 'grids', 'source-layer': 'grids', minzoom: 15, filter: mine, layout: { 'text-field': ['slice', ['get', 'code'], 9], 'text-font': ['Noto Sans CJK SC Regular'], 'text-size': 12 }, paint: { 'text-color': '#cfe3ff', 'text-halo-color': '#0e1f35', 'text-halo-width': 1.5 } });
  layers.push(
    { id: 'tasks', type: 'circle', source: 'tasks', paint: { 'circle-radius': 7, 'circle-color': ['case', ['get', 'overdue'], '#ff5c5c', '#ffb020'], 'circle-stroke-width': 2, 'circle-stroke-color': '#fff' } },
    { id: 'picked', type: 'circle', source: 'picked', paint: { 'circle-radius': 9, 'circle-color': '#3ddc97', 'circle-stroke-width': 3, 'circle-stroke-color': '#0b1a2e' } }
  );
  return { version: 8, sources, layers };
}

function taskPoints() {
  return {
    type: 'FeatureCollection',
    features: F.tasks.map((t) => ({ type: 'Feature', properties: { id: t.id, overdue: !!t.overdue }, geometry: { type: 'Point', coordinates: [t.lon, t.lat] } })),
  };
}

function tapped(event) {
  const hit = F.map.queryRenderedFeatures(event.point, { layers: ['tasks'] })[0];
  if (hit) {
    show('tasks');
    const card = document.querySelector(`.f-card[data-id="${hit.properties.id}"]`);
    if (card) card.scrollIntoView({ block: 'center' });
    return;
  }
  pick(event.lngLat.lng, event.lngLat.lat, GM.config.datum, null, 'tap');
}

/** A chosen point (a tap, GPS or a looked-up address): marked, located, actions offered. GPS
 * points are WGS84; points on the map are in the display datum. */
async function pick(lon, lat, crs, known, how) {
  F.place = { lon, lat, crs, info: null, point: null };
  const mark = (point) => {
    F.place.point = point;
    drawPicked();
  };
  if (crs === GM.config.datum) mark([lon, lat]); // a tap: already where the map draws
  const sheet = byId('f-place');
  const box = byId('f-place-info');
  sheet.hidden = false;
  box.textContent = '';
  box.appendChild(el('div', { class: 'f-muted', text: `${how === 'gps' ? 'GPS 定位' : how === 'address' ? '查询地址' : '点选位置'} ${lon.toFixed(6)}, ${lat.toFixed(6)}` }));
  let place = known;
  if (!place) {
    try {
      place = await api('/api/locate' + query({ lon, lat, crs }));
    } catch (error) {
      place = null;
      box.appendChild(el('div', { class: 'f-status f-bad', text: error.status === 404 ? '该位置不在任何网格内' : error.message }));
    }
  }
  if (F.place.lon !== lon || F.place.lat !== lat) return; // another point was chosen meanwhile
  if (place && crs !== GM.config.datum) {
    // A GPS fix (WGS84) on a map in another datum (GCJ-02): the server says where to draw it.
    mark(place.point);
    if (F.map && how === 'gps') F.map.jumpTo({ center: place.point, zoom: Math.max(F.map.getZoom(), 17) });
  }
  if (place) box.appendChild(placeView(place));
  byId('f-report-here').disabled = !(place && place.mine);
  byId('f-checkin').disabled = !(place && place.mine);
  F.place.info = place; // last: whoever waits for it finds the sheet complete
}

/** The chosen point on the map, once the map's style (and its 'picked' source) has loaded: a
 * GPS fix can arrive while the map is still loading. */
function drawPicked() {
  const source = F.map && F.map.getSource('picked');
  const point = F.place && F.place.point;
  if (source && point) source.setData({ type: 'FeatureCollection', features: [{ type: 'Feature', properties: {}, geometry: { type: 'Point', coordinates: point } }] });
}

function locateMe() {
  if (!navigator.geolocation) {
    toast('此设备不支持定位，请在地图上点选位置');
    return;
  }
  navigator.geolocation.getCurrentPosition(
    (position) => {
      const { longitude, latitude } = position.coords;
      pick(longitude, latitude, 'wgs84', null, 'gps');
      if (F.map && GM.config.datum === 'wgs84') F.map.jumpTo({ center: [longitude, latitude], zoom: Math.max(F.map.getZoom(), 17) });
    },
    (error) => toast('定位失败：' + error.message + '；请在地图上点选位置'),
    { enableHighAccuracy: true, timeout: 15000, maximumAge: 30000 }
  );
}

/* ---- report here, check in ---------------------------------------------------------------- */

function openReport() {
  const place = F.place;
  if (!place || !place.info) return;
  const mine = place.info.mine ? '（本人网格）' : '';
  setText('f-report-place', `位置：网格 ${place.info.grid_code}${mine}`);
  setText('f-report-status', '');
  byId('f-report-status').className = 'f-status';
  show('report');
}

async function submitReport() {
  const place = F.place;
  const status = byId('f-report-status');
  const button = byId('f-report-submit');
  const say = (text, kind) => {
    status.textContent = text;
    status.className = 'f-status' + (kind ? ' f-' + kind : '');
  };
  if (!place || !place.info) {
    say('请先在地图上选择位置', 'bad');
    return;
  }
  const body = {
    category: byId('f-category').value,
    description: byId('f-description').value.trim(),
    lon: place.lon,
    lat: place.lat,
    crs: place.crs,
    channel: 'field',
  };
  button.disabled = true;
  say('正在提交…');
  try {
    const created = await api('/api/incidents', { method: 'POST', body });
    F.reportedAt = Date.now(); // committed from here on (the browser test times the map from it)
    GM.stats.field.reports += 1;
    F.lastReport = created;
    let text = created.duplicate_of ? `同一位置已有同类事件 #${created.duplicate_of}，本次上报已合并为重复件` : `已上报：事件 #${created.id}，网格 ${created.grid_code}`;
    const file = byId('f-photo').files[0];
    if (file) {
      say(text + '；正在上传照片…');
      const photo = await uploadPhoto(created.id, file);
      F.lastPhoto = photo;
      text += photo ? '；照片已上传' : '；照片未上传';
    }
    say(text, 'good');
    notice(text);
    byId('f-report').reset();
    previewPhoto();
    loadTasks();
  } catch (error) {
    say('上报失败：' + error.message, 'bad');
  } finally {
    button.disabled = false;
  }
}

async function checkIn() {
  const place = F.place;
  if (!place || !place.info) return;
  try {
    const done = await api('/api/patrols', { method: 'POST', body: { lon: place.lon, lat: place.lat, crs: place.crs } });
    GM.stats.field.checkins += 1;
    notice(`巡查签到成功：网格 ${done.grid_code}，${fmtTime(done.at)}`);
  } catch (error) {
    toast('签到失败：' + error.message);
  }
}

/* ---- live: tasks follow the event stream ------------------------------------------------ */

function listen() {
  if (!window.EventSource) return;
  let timer = null;
  const source = new EventSource('/api/stream');
  source.addEventListener('incident', () => {
    GM.stats.field.events += 1;
    clearTimeout(timer);
    timer = setTimeout(loadTasks, 1500); // a burst of events: one reload
  });
  source.onopen = () => byId('f-live').classList.add('f-on');
  source.onerror = () => byId('f-live').classList.remove('f-on');
}

start().catch((error) => {
  toast('页面启动失败：' + ((error && error.message) || error));
  console.error(error);
});
