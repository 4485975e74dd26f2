/* gridmap one map: start-up. Reads /api/config, /api/meta and /tiles/layers.json, builds the
 * MapLibre map from vector tiles, the incident layers, the panels, and follows the live stream.
 * `/?wall=1` turns the same page into the wall-screen mode (gm-wall.js). */
import * as maplibregl from '../vendor/maplibre-gl/maplibre-gl.mjs';
import { GM, api, byId, debounce, el, loadMeta, setText, stateColor, label, toast } from './gm-util.js';
import { addHatch, bindAreaClicks, buildStyle, loadFigures, planner, setChoropleth } from './gm-map.js';
import { Incidents } from './gm-incidents.js';
import { header, kpi, legend, search } from './gm-panels.js';
import { startWall } from './gm-wall.js';

GM.maplibregl = maplibregl;
GM.state = { choropleth: 'none', ready: false };
GM.wall = new URLSearchParams(location.search).get('wall') === '1';
GM.typeName = (code) => {
  for (const t of (GM.config && GM.config.incident_types) || []) if (t.code === code) return t.name;
  return code;
};

/** Room the side panels take, so fitted views stay clear of them. */
GM.padding = () => {
  if (GM.wall) return { top: 30, bottom: 30, left: 30, right: 760 };
  const hidden = document.body.classList.contains('gm-panels-hidden');
  return hidden ? 40 : { top: 30, bottom: 30, left: 360, right: 430 };
};

async function start() {
  if (GM.wall) document.body.classList.add('gm-wall');
  header.start();
  const config = (GM.config = await api('/api/config'));
  await loadMeta(config);
  let tiles;
  try {
    tiles = await api('/tiles/layers.json');
  } catch (error) {
    toast('尚未发布网格版本：' + error.message);
    return;
  }
  GM.tilesInfo = tiles;
  GM.names = tiles.names || {};
  setText('gm-city', config.city || '');
  document.title = (config.city || '') + (GM.wall ? ' 指挥大屏' : ' 网格化治理一张图');
  const user = config.user || {};
  setText('gm-user', (user.name || '') + (user.role ? '（' + label('roles', user.role) + '）' : ''));
  const version = config.version || {};
  setText('gm-statusbar-version', version.id ? '网格版本 ' + version.id : '尚未发布网格');
  setText('gm-statusbar-datum', '坐标 ' + String(config.datum || 'wgs84').toUpperCase());

  const [w, s, e, n] = tiles.bounds;
  const map = (GM.map = new maplibregl.Map({
    container: 'gm-map',
    style: buildStyle(config, tiles),
    bounds: [[w, s], [e, n]],
    fitBoundsOptions: { padding: GM.padding() },
    minZoom: 6,
    maxZoom: 19,
    dragRotate: false,
    pitchWithRotate: false,
    attributionControl: false,
    // Labels are drawn from the machine's own CJK fonts: no glyph files, no outside request.
    localIdeographFontFamily: '"Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei", sans-serif',
    canvasContextAttributes: { preserveDrawingBuffer: true },
  }));
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'bottom-right');
  map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }), 'bottom-right');
  map.on('error', (event) => {
    const message = (event && event.error && event.error.message) || String(event);
    GM.stats.errors.push('map: ' + message);
  });
  // Count tile bytes for the benchmark and the status bar.
  map.on('data', (event) => {
    if (event.dataType === 'source' && event.tile && event.tile.state === 'loaded' && !event.tile.gmCounted) {
      event.tile.gmCounted = true;
      GM.stats.tiles += 1;
    }
  });
  await new Promise((resolve) => map.once('load', resolve));
  addHatch(map); // drawn here, not fetched

  GM.incidents = new Incidents(map);
  search.start();
  bindAreaClicks(map);
  buildControls(config, tiles);
  legend.render();
  kpi.start();
  planner.start(config);
  if (GM.wall) startWall();

  const moved = debounce(() => {
    GM.incidents.refresh(false);
    planner.update();
    GM.updateStatusBar();
  }, 200);
  map.on('moveend', moved);
  map.on('zoomend', () => GM.updateStatusBar());
  await Promise.all([loadFigures().catch((error) => toast('网格统计加载失败：' + error.message)), GM.incidents.refresh(true)]);
  GM.incidents.listen();
  GM.onReconnect = reconnect;
  map.once('idle', () => {
    GM.state.ready = true;
    document.body.setAttribute('data-ready', '1');
    planner.update();
  });
}

/** After the server was away: take every figure, the incidents and the tiles again. */
function reconnect() {
  loadFigures().catch(() => {});
  GM.incidents.refresh(true);
  header.refresh();
  kpi.refresh();
  for (const layer of GM.tilesInfo.layers) {
    const source = GM.map.getSource(layer.name);
    if (source && source.reload) source.reload();
  }
  if (GM.wallRefresh) GM.wallRefresh();
}

function buildControls(config, tiles) {
  // Layer switches: every tile layer and the incident layers.
  const box = byId('gm-layer-control');
  const toggle = (text, checked, onchange) => {
    const input = el('input', { type: 'checkbox' });
    input.checked = checked;
    input.addEventListener('change', () => onchange(input.checked));
    box.appendChild(el('label', { class: 'gm-check' }, [input, el('span', { text })]));
  };
  const styleLayers = {
    districts: ['districts-line', 'districts-label'],
    streets: ['streets-line', 'streets-label'],
    communities: ['communities-line', 'communities-label'],
    grids: ['grids-fill', 'grids-line', 'grids-label'],
    exclusive: ['exclusive-fill', 'exclusive-line'],
    micro_grids: ['micro-line'],
    roads: ['roads-line', 'roads-label'],
  };
  for (const layer of tiles.layers) {
    toggle(layer.title, true, (on) => {
      for (const id of styleLayers[layer.name] || []) GM.map.setLayoutProperty(id, 'visibility', on ? 'visible' : 'none');
    });
  }
  toggle('事件（聚合点）', true, (on) => GM.incidents.setPoints(on));
  toggle('事件热力图', false, (on) => {
    GM.incidents.setHeat(on);
    legend.render();
  });

  const statusBox = byId('gm-status');
  for (const state of GM.meta.states || []) {
    const input = el('input', { type: 'checkbox', value: state });
    input.checked = true;
    statusBox.appendChild(
      el('label', { class: 'gm-check' }, [input, el('span', { class: 'gm-dot', style: 'background:' + stateColor(state) }), el('span', { text: label('states', state) })])
    );
  }
  const typeSelect = byId('gm-type');
  for (const t of config.incident_types || []) typeSelect.appendChild(el('option', { value: t.code, text: t.name }));
  const changed = debounce(() => GM.incidents.refresh(true), 250);
  for (const id of ['gm-status', 'gm-type', 'gm-since', 'gm-until', 'gm-grid']) byId(id).addEventListener('change', changed);
  byId('gm-window').addEventListener('change', (event) => {
    byId('gm-custom-window').hidden = event.target.value !== 'custom';
    changed();
  });
  byId('gm-grid-clear').addEventListener('click', () => {
    byId('gm-grid').value = '';
    changed();
  });
  for (const radio of document.querySelectorAll('input[name="gm-choropleth"]')) {
    radio.addEventListener('change', () => {
      setChoropleth(radio.value);
      legend.render();
    });
  }
  byId('gm-collapse').addEventListener('click', () => document.body.classList.toggle('gm-panels-hidden'));
}

start().catch((error) => {
  toast('页面启动失败：' + ((error && error.message) || error));
  console.error(error);
});
