/* gridmap offline package viewer: web/static/offline.html opens a .pmtiles file written by
 * `gridmap export-tiles` - chosen on the page, or named by ?file= (a server that answers range
 * requests) - and draws the same layers and Chinese labels as the live map, with no gridmap
 * server behind it (any static file server for web/static will do). */
import * as maplibregl from '../vendor/maplibre-gl/maplibre-gl.mjs';
import { GM, byId, el, setText, toast } from './gm-util.js';
import { STYLE, addHatch, buildStyle } from './gm-map.js';

const protocol = new window.pmtiles.Protocol();
maplibregl.addProtocol('pmtiles', protocol.tile);
GM.maplibregl = maplibregl;
GM.state = { choropleth: 'none', ready: false };

async function open(archive, label) {
  protocol.add(archive);
  const header = await archive.getHeader();
  const meta = await archive.getMetadata();
  GM.names = meta.names || {};
  const layers = (meta.vector_layers || []).map((l) => ({ name: l.id, title: l.description, label_layer: ['districts', 'streets', 'communities'].includes(l.id) ? l.id + '_label' : null }));
  const style = buildStyle({}, { url: 'pmtiles://' + archive.source.getKey(), layers });
  if (GM.map) GM.map.remove();
  const map = (GM.map = new maplibregl.Map({
    container: 'gm-map',
    style,
    bounds: [[header.minLon, header.minLat], [header.maxLon, header.maxLat]],
    fitBoundsOptions: { padding: { top: 30, bottom: 30, left: 30, right: 430 } },
    maxZoom: 19,
    dragRotate: false,
    attributionControl: false,
    localIdeographFontFamily: '"Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei", sans-serif',
    canvasContextAttributes: { preserveDrawingBuffer: true },
  }));
  map.on('error', (event) => GM.stats.errors.push('map: ' + ((event.error && event.error.message) || event)));
  await new Promise((resolve) => map.once('load', resolve));
  addHatch(map);
  setText('gm-city', meta.city || '离线网格图');
  setText('gm-offline-note', `${label} · 网格版本 ${meta.gridmap_version} · 离线包`);
  legend(layers);
  map.on('moveend', () => setText('gm-statusbar-view', `缩放 ${map.getZoom().toFixed(1)}`));
  map.once('idle', () => document.body.setAttribute('data-ready', '1'));
}

function legend(layers) {
  const box = byId('gm-legend');
  box.textContent = '';
  const colors = { districts: STYLE.district, streets: STYLE.street, communities: STYLE.community, grids: STYLE.grid, exclusive: STYLE.exclusive, micro_grids: STYLE.micro, roads: STYLE.road };
  for (const layer of layers) {
    box.appendChild(
      el('div', { class: 'gm-legend-row' }, [
        el('span', { class: 'gm-swatch gm-swatch-line', style: `border-top:3px solid ${colors[layer.name] || '#fff'}` }),
        el('span', { text: layer.title || layer.name }),
      ])
    );
  }
}

byId('gm-file').addEventListener('change', (event) => {
  const file = event.target.files[0];
  if (file) open(new window.pmtiles.PMTiles(new window.pmtiles.FileSource(file)), file.name).catch((error) => toast('无法打开：' + error.message));
});
const named = new URLSearchParams(location.search).get('file');
if (named) open(new window.pmtiles.PMTiles(named), named).catch((error) => toast('无法打开 ' + named + '：' + error.message));
