/* gridmap one map: the area layers drawn from vector tiles (/tiles/<layer>/{z}/{x}/{y}.mvt) with
 * MapLibre GL JS, their labels, the choropleths and the live figures that colour them.
 *
 * Tiles hold geometry, code, name and households; the live figures (open, overdue, closure
 * rate) come from /tiles/figures.json once and then only for the grids an event touched, and are
 * applied as feature state - no tile is fetched again when an incident moves. */
import { GM, api, el, fmtArea, fmtInt, fmtPct, flagLabels, infoTable, label, pager, toast, byId, setText } from './gm-util.js';

const FONT = ['Noto Sans CJK SC Regular'];
const HALO = '#050a14';

// Fixed class breaks so the legend stays the same while panning; the last class is closed at
// the top where the value is a rate (a closure rate never passes 100%).
export const CHOROPLETHS = {
  none: { title: '无' },
  households: {
    title: '户数',
    expression: ['get', 'households'],
    breaks: [200, 300, 400, 500, 600],
    colors: ['#143d59', '#1b5e84', '#2386b0', '#2bb0d8', '#5fd3f0', '#a0ecff'],
    label: fmtInt,
  },
  open: {
    title: '未结事件',
    expression: ['coalesce', ['feature-state', 'open'], 0],
    breaks: [1, 3, 6, 11, 21],
    colors: ['#1b2a1f', '#5c4d0b', '#8f5f00', '#c0580a', '#e8340c', '#ff1f5a'],
    label: fmtInt,
  },
  closure_rate: {
    title: '结案率',
    expression: ['coalesce', ['feature-state', 'rate'], -1],
    breaks: [0.5, 0.7, 0.85, 0.95],
    colors: ['#d7263d', '#f46036', '#f4b400', '#9bc53d', '#3ddc97'],
    top: 1,
    noData: '无可计算事件',
    label: (v) => Math.round(v * 100) + '%',
  },
};

export const STYLE = {
  district: '#ffd166',
  street: '#f4a261',
  community: '#9aa9c9',
  grid: '#35d0ff',
  exclusive: '#c77dff',
  micro: '#7ee0c3',
  road: '#3a4a66',
  overdue: '#ff3b3b',
};

/** The MapLibre style: background (and the configured base map), then every tile layer.
 * `tiles.layers` come from /tiles/layers.json (one source per layer); an offline package gives
 * `tiles.url` instead (one pmtiles:// source holding every layer). */
export function buildStyle(config, tiles) {
  const origin = location.origin;
  const sources = {};
  const one = !!tiles.url;
  const promote = {};
  for (const layer of tiles.layers) {
    promote[layer.name] = 'code';
    if (layer.label_layer) promote[layer.label_layer] = 'code';
  }
  if (one) sources.city = { type: 'vector', url: tiles.url, promoteId: promote };
  for (const layer of one ? [] : tiles.layers) {
    sources[layer.name] = {
      type: 'vector',
      tiles: [origin + layer.tiles],
      minzoom: layer.min_zoom,
      maxzoom: tiles.max_zoom,
      bounds: tiles.bounds,
      promoteId: { [layer.name]: 'code', ...(layer.label_layer ? { [layer.label_layer]: 'code' } : {}) },
    };
  }
  const sourceOf = (name) => (one ? 'city' : name);
  const layers = [{ id: 'background', type: 'background', paint: { 'background-color': '#0b1221' } }];
  const basemap = config.basemap || {};
  if (basemap.url) {
    sources.basemap = { type: 'raster', tiles: [basemap.url], tileSize: 256, attribution: basemap.attribution || '' };
    layers.push({ id: 'basemap', type: 'raster', source: 'basemap', paint: { 'raster-opacity': 0.75 } });
  }
  const line = (id, source, paint, extra) =>
    Object.assign({ id, type: 'line', source: sourceOf(source), 'source-layer': source, paint, layout: { 'line-join': 'round' } }, extra || {});
  const overdueOr = (color) => ['case', ['>', ['coalesce', ['feature-state', 'overdue'], 0], 0], STYLE.overdue, color];
  layers.push(
    {
      id: 'grids-fill',
      type: 'fill',
      source: sourceOf('grids'),
      'source-layer': 'grids',
      paint: { 'fill-color': STYLE.grid, 'fill-opacity': 0.06 },
    },
    {
      id: 'exclusive-fill',
      type: 'fill',
      source: sourceOf('exclusive'),
      'source-layer': 'exclusive',
      paint: { 'fill-color': 'rgba(157, 78, 221, 0.35)' }, // hatched once the image is added
    },
    line('roads-line', 'roads', {
      'line-color': STYLE.road,
      'line-width': ['interpolate', ['linear'], ['zoom'], 10, 1, 16, 5],
    }),
    line('grids-line', 'grids', {
      'line-color': overdueOr(STYLE.grid),
      'line-width': ['interpolate', ['linear'], ['zoom'], 10, ['case', ['>', ['coalesce', ['feature-state', 'overdue'], 0], 0], 0.9, 0.25], 15, ['case', ['>', ['coalesce', ['feature-state', 'overdue'], 0], 0], 2.6, 1.2]],
      'line-opacity': ['interpolate', ['linear'], ['zoom'], 10, 0.55, 13, 0.9],
    }),
    line('micro-line', 'micro_grids', { 'line-color': STYLE.micro, 'line-width': 0.8, 'line-dasharray': [2, 2] }),
    line('exclusive-line', 'exclusive', { 'line-color': overdueOr(STYLE.exclusive), 'line-width': ['interpolate', ['linear'], ['zoom'], 10, 0.6, 15, 2] }),
    line('communities-line', 'communities', {
      'line-color': STYLE.community,
      'line-width': ['interpolate', ['linear'], ['zoom'], 9, 0.6, 15, 2],
      'line-dasharray': [3, 2],
    }),
    line('streets-line', 'streets', {
      'line-color': STYLE.street,
      'line-width': ['interpolate', ['linear'], ['zoom'], 7, 1, 15, 3.5],
      'line-dasharray': [4, 2],
    }),
    line('districts-line', 'districts', { 'line-color': STYLE.district, 'line-width': ['interpolate', ['linear'], ['zoom'], 7, 2, 15, 5] }),
    // Names: roads along their line, grid codes from the zoom where a code fits its grid.
    {
      id: 'roads-label',
      type: 'symbol',
      source: sourceOf('roads'),
      'source-layer': 'roads',
      minzoom: 12.5,
      layout: {
        'symbol-placement': 'line',
        'text-field': ['get', 'name'],
        'text-font': FONT,
        'text-size': 14,
        'symbol-spacing': 400,
      },
      paint: { 'text-color': '#b8c7e6', 'text-halo-color': HALO, 'text-halo-width': 2 },
    },
    {
      id: 'grids-label',
      type: 'symbol',
      source: sourceOf('grids'),
      'source-layer': 'grids',
      minzoom: 15.5,
      layout: { 'text-field': ['get', 'code'], 'text-font': FONT, 'text-size': 12, 'text-max-width': 20 },
      paint: { 'text-color': '#8fe6ff', 'text-halo-color': HALO, 'text-halo-width': 1.5 },
    },
    labelLayer('communities', 12.5, 24, 15, '#d6def0', sourceOf),
    labelLayer('streets', 10.5, 15, 19, '#ffc48a', sourceOf),
    labelLayer('districts', 0, 12.5, 24, '#ffe08a', sourceOf)
  );
  return {
    version: 8,
    // No "glyphs": MapLibre draws every label with the machine's own fonts (localIdeographFontFamily),
    // so no glyph request leaves the machine.
    sources,
    layers,
  };
}

function labelLayer(name, minzoom, maxzoom, size, color, sourceOf) {
  return {
    id: `${name}-label`,
    type: 'symbol',
    source: sourceOf(name),
    'source-layer': `${name}_label`,
    minzoom,
    maxzoom,
    layout: { 'text-field': ['get', 'name'], 'text-font': FONT, 'text-size': size, 'text-letter-spacing': 0.08, 'text-padding': 4 },
    paint: { 'text-color': color, 'text-halo-color': HALO, 'text-halo-width': 2.2 },
  };
}

/** A 12 px diagonal hatch for exclusive grids (an image MapLibre repeats as fill-pattern). */
export function addHatch(map) {
  const size = 12;
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = size;
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = 'rgba(157, 78, 221, 0.25)';
  ctx.fillRect(0, 0, size, size);
  ctx.strokeStyle = 'rgba(199, 125, 255, 0.9)';
  ctx.lineWidth = 3;
  ctx.beginPath();
  ctx.moveTo(-2, size + 2);
  ctx.lineTo(size + 2, -2);
  ctx.moveTo(-2, 2);
  ctx.lineTo(2, -2);
  ctx.moveTo(size - 2, size + 2);
  ctx.lineTo(size + 2, size - 2);
  ctx.stroke();
  map.addImage('gm-hatch', ctx.getImageData(0, 0, size, size));
  map.setPaintProperty('exclusive-fill', 'fill-pattern', 'gm-hatch');
}

/* ---- choropleth ------------------------------------------------------------------------- */

export function setChoropleth(key) {
  GM.state.choropleth = key;
  const scheme = CHOROPLETHS[key];
  const map = GM.map;
  if (!scheme || !scheme.expression) {
    map.setPaintProperty('grids-fill', 'fill-color', STYLE.grid);
    map.setPaintProperty('grids-fill', 'fill-opacity', 0.06);
    return;
  }
  const step = ['step', scheme.expression, scheme.colors[0]];
  scheme.breaks.forEach((b, i) => step.push(b, scheme.colors[i + 1]));
  const color = scheme.noData ? ['case', ['<', scheme.expression, 0], 'rgba(0,0,0,0)', step] : step;
  map.setPaintProperty('grids-fill', 'fill-color', color);
  map.setPaintProperty('grids-fill', 'fill-opacity', 0.68);
}

/* ---- live figures ----------------------------------------------------------------------- */

const FIGURE_SOURCES = { grid: ['grids', 'exclusive', 'micro_grids'], community: ['communities'], street: ['streets'], district: ['districts'] };
GM.figures = { grid: {}, community: {}, street: {}, district: {} };

function applyFigures(answer) {
  const map = GM.map;
  for (const [level, sources] of Object.entries(FIGURE_SOURCES)) {
    const rows = answer[level] || {};
    for (const [code, values] of Object.entries(rows)) {
      GM.figures[level][code] = values;
      const state = { open: values[0], overdue: values[1], rate: values[2] === null ? -1 : values[2] };
      for (const source of sources) {
        if (map.getSource(source)) map.setFeatureState({ source, sourceLayer: source, id: code }, state);
      }
    }
  }
  GM.stats.figureUpdates += 1;
}

/** All figures of the version (start-up, a reconnect, a new version). */
export async function loadFigures() {
  const answer = await api('/tiles/figures.json');
  applyFigures(answer);
  return answer;
}

const pendingGrids = new Set();
const flushFigures = () => {
  const grids = [...pendingGrids];
  pendingGrids.clear();
  if (!grids.length) return;
  api('/tiles/figures.json?grids=' + encodeURIComponent(grids.join(',')))
    .then(applyFigures)
    .catch((error) => toast('网格统计更新失败：' + error.message));
};
let flushTimer = null;

/** An event touched this grid: fetch its figures (and its units') soon, batched. */
export function figuresChanged(gridCode) {
  if (!gridCode) return;
  pendingGrids.add(gridCode);
  clearTimeout(flushTimer);
  flushTimer = setTimeout(flushFigures, 300);
}

/* ---- popups for areas -------------------------------------------------------------------- */

export async function gridPopup(code, lngLat) {
  const box = el('div', { class: 'gm-popup' }, [el('div', { class: 'gm-muted', text: '加载中…' })]);
  const popup = new GM.maplibregl.Popup({ maxWidth: '460px', className: 'gm-maplibre-popup' })
    .setLngLat(lngLat)
    .setDOMContent(box)
    .addTo(GM.map);
  try {
    // The grid and its staff (网格力量) in parallel; staff missing must not lose the grid.
    const staffAnswer = api('/api/staff?grid=' + encodeURIComponent(code)).catch(() => null);
    const grid = await api('/api/grids/' + encodeURIComponent(code));
    const kind = label('kinds', grid.kind);
    const names = GM.names || {};
    const k = grid.kpi || {};
    const rows = [
      ['网格编码', grid.grid_code],
      ['类型', kind],
      ['所属社区', names[grid.community_code] || grid.community_code],
      ['所属街道', names[String(grid.community_code || '').slice(0, 9)]],
    ];
    if (grid.host_grid_code) rows.push(['所在综合网格', grid.host_grid_code]);
    rows.push(
      ['户数', fmtInt(grid.households)],
      ['人口', fmtInt(grid.population)],
      ['面积', fmtArea(grid.area_m2)],
      ['未结事件', fmtInt(k.open)],
      ['超期事件', fmtInt(k.overdue), k.overdue > 0 ? 'gm-bad' : ''],
      ['结案率', fmtPct(k.closure_rate)]
    );
    if (grid.flags) rows.push(['规划提示', flagLabels(grid.flags).join('、'), 'gm-bad']);
    box.textContent = '';
    box.appendChild(el('div', { class: 'gm-popup-title', text: (grid.name || kind) + '' }));
    box.appendChild(infoTable(rows));
    const staff = await staffAnswer;
    if (staff) {
      const members = staff.staff.map((m) => [m.role_name, m.name + (m.phone ? ' ' + m.phone : '')]);
      box.appendChild(el('div', { class: 'gm-field-label', text: '网格力量' }));
      box.appendChild(members.length ? infoTable(members) : el('div', { class: 'gm-muted gm-staff-none', text: '尚未登记网格员' }));
    }
    box.appendChild(
      el('button', { class: 'gm-link', type: 'button', text: '只看本网格事件', onclick: () => GM.incidents && GM.incidents.filterGrid(code) })
    );
  } catch (error) {
    box.textContent = '网格信息加载失败：' + error.message;
  }
  return popup;
}

export function adminPopup(level, props, lngLat) {
  const figures = GM.figures[level][props.code] || [0, 0, null];
  const parent = props.code.length > 6 ? (GM.names || {})[props.code.slice(0, props.code.length - 3)] : null;
  const box = el('div', { class: 'gm-popup' }, [
    el('div', { class: 'gm-popup-title', text: `${props.name}（${label('levels', level)}）` }),
    infoTable([
      ['代码', props.code],
      ['上级', parent],
      ['未结事件', fmtInt(figures[0])],
      ['超期事件', fmtInt(figures[1]), figures[1] > 0 ? 'gm-bad' : ''],
      ['结案率', fmtPct(figures[2])],
    ]),
  ]);
  return new GM.maplibregl.Popup({ maxWidth: '420px' }).setLngLat(lngLat).setDOMContent(box).addTo(GM.map);
}

/** Click on the map: the incident layers first (gm-incidents), then grid, then admin unit. */
export function bindAreaClicks(map) {
  map.on('click', (event) => {
    if (GM.incidents && GM.incidents.handledClick(event)) return;
    const hits = map.queryRenderedFeatures(event.point, { layers: ['exclusive-fill', 'grids-fill'] });
    if (hits.length) {
      gridPopup(hits[0].properties.code, event.lngLat);
      return;
    }
    for (const [level, layer] of [['community', 'communities'], ['street', 'streets'], ['district', 'districts']]) {
      const features = map.querySourceFeatures(layer, { sourceLayer: layer }).filter((f) => f.geometry && containsPoint(f, event.lngLat));
      if (features.length) {
        adminPopup(level, features[0].properties, event.lngLat);
        return;
      }
    }
  });
  for (const layer of ['grids-fill', 'exclusive-fill']) {
    map.on('mouseenter', layer, () => (map.getCanvas().style.cursor = 'pointer'));
    map.on('mouseleave', layer, () => (map.getCanvas().style.cursor = ''));
  }
}

function containsPoint(feature, lngLat) {
  const polys = feature.geometry.type === 'Polygon' ? [feature.geometry.coordinates] : feature.geometry.coordinates;
  return polys.some((rings) => inRing(rings[0], lngLat.lng, lngLat.lat));
}

function inRing(ring, x, y) {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i];
    const [xj, yj] = ring[j];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** Fly to a unit by code (KPI rows, planner lists, feed items). */
export async function zoomToUnit(code) {
  try {
    const unit = await api('/tiles/extent/' + encodeURIComponent(code));
    const [w, s, e, n] = unit.bbox;
    GM.map.fitBounds([[w, s], [e, n]], { padding: GM.padding(), maxZoom: 17, duration: 800 });
  } catch (error) {
    toast('无法定位 ' + code + '：' + error.message);
  }
}

/* ---- planner: the grids in view that the partitioner flagged ---------------------------- */

export const planner = {
  start(config) {
    const role = (config.user && config.user.role) || '';
    if (!['planner', 'admin'].includes(role)) return;
    byId('gm-planner').hidden = false;
    const version = config.version || {};
    setText('gm-version', version.id ? `第 ${version.id} 版` + (version.note ? ' · ' + version.note : '') : '未发布');
    this.active = true;
  },
  update() {
    if (!this.active || GM.map.getZoom() < 12) {
      if (this.active) setText('gm-flagged-count', '放大到 12 级后列出');
      return;
    }
    const seen = new Map();
    for (const f of GM.map.queryRenderedFeatures({ layers: ['grids-fill'] })) seen.set(f.properties.code, f.properties);
    const flagged = [...seen.values()].filter((p) => p.flags).sort((a, b) => (a.code < b.code ? -1 : 1));
    setText('gm-flagged-count', `${fmtInt(flagged.length)} / ${fmtInt(seen.size)} 个网格`);
    const list = byId('gm-flagged');
    pager(byId('gm-flagged-pager'), flagged, 15, (rows) => {
      list.textContent = '';
      for (const p of rows) {
        list.appendChild(
          el('li', { onclick: () => zoomToUnit(p.code) }, [
            el('span', { class: 'gm-name', text: p.name || ((GM.names || {})[p.code.slice(0, 12)] || '') + ' ' + p.code.slice(12) }),
            el('span', { class: 'gm-muted', text: `${fmtInt(p.households)}户 · ${flagLabels(p.flags).join('、')}` }),
          ])
        );
      }
    }, '个');
  },
};
