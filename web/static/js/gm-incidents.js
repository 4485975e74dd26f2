/* gridmap one map: incidents. Points clustered by MapLibre for the view and filters (or the
 * server's own clusters when the answer is `aggregated`), a heat map from /api/incidents/heat,
 * and live changes from the EventSource on /api/stream, which reconnects by itself after a
 * server restart. */
import { GM, api, byId, debounce, el, fmtInt, fmtTime, infoTable, label, query, stateColor, toast, typeLabel } from './gm-util.js';
import { figuresChanged } from './gm-map.js';

const WINDOWS = { '24h': 24, '7d': 24 * 7, '30d': 24 * 30, all: 0 };
const EMPTY = { type: 'FeatureCollection', features: [] };
const HEAT_LEGEND = ['#1d4ed8', '#06b6d4', '#a3e635', '#facc15', '#ef4444'];

/** The API's zoom counts 256-px tiles; MapLibre's counts 512-px ones. */
const apiZoom = () => Math.round((GM.map.getZoom() + 1) * 2) / 2;

function bboxParam(bounds) {
  return [bounds.getWest(), bounds.getSouth(), bounds.getEast(), bounds.getNorth()].map((v) => v.toFixed(5)).join(',');
}

/** The view padded by a fifth on each side, so small pans need no request. */
function paddedBounds() {
  const b = GM.map.getBounds();
  const dx = (b.getEast() - b.getWest()) * 0.2;
  const dy = (b.getNorth() - b.getSouth()) * 0.2;
  return new GM.maplibregl.LngLatBounds([b.getWest() - dx, b.getSouth() - dy], [b.getEast() + dx, b.getNorth() + dy]);
}

export class Incidents {
  constructor(map) {
    this.map = map;
    this.features = new Map(); // id -> GeoJSON feature of the points on screen
    this.aggregated = false;
    this.held = null;
    this.controller = null;
    this.heatOn = false;
    this.pointsOn = true;
    map.addSource('incidents', {
      type: 'geojson',
      data: EMPTY,
      cluster: true,
      clusterRadius: 48,
      clusterMaxZoom: 16,
      clusterProperties: { overdue: ['+', ['case', ['get', 'overdue'], 1, 0]] },
    });
    map.addSource('incident-cells', { type: 'geojson', data: EMPTY });
    map.addSource('heat', { type: 'geojson', data: EMPTY });
    map.addSource('fresh', { type: 'geojson', data: EMPTY });
    const countSize = ['step', ['get', 'point_count'], 16, 10, 20, 100, 25, 1000, 30];
    const cellSize = ['step', ['get', 'count'], 16, 10, 20, 100, 25, 1000, 30];
    map.addLayer({
      id: 'heat',
      type: 'heatmap',
      source: 'heat',
      layout: { visibility: 'none' },
      paint: {
        'heatmap-weight': ['/', ['get', 'n'], ['get', 'max']],
        'heatmap-radius': 26,
        'heatmap-intensity': 1.1,
        'heatmap-opacity': 0.8,
        'heatmap-color': ['interpolate', ['linear'], ['heatmap-density'], 0, 'rgba(0,0,0,0)', 0.2, HEAT_LEGEND[0], 0.45, HEAT_LEGEND[1], 0.65, HEAT_LEGEND[2], 0.8, HEAT_LEGEND[3], 1, HEAT_LEGEND[4]],
      },
    });
    const clusterPaint = (overdue) => ({
      'circle-color': ['case', ['>', overdue, 0], 'rgba(255,60,60,0.92)', 'rgba(255,176,32,0.92)'],
      'circle-stroke-color': ['case', ['>', overdue, 0], 'rgba(255,60,60,0.35)', 'rgba(255,176,32,0.35)'],
      'circle-stroke-width': 7,
    });
    map.addLayer({ id: 'incident-clusters', type: 'circle', source: 'incidents', filter: ['has', 'point_count'], paint: { ...clusterPaint(['get', 'overdue']), 'circle-radius': countSize } });
    map.addLayer({ id: 'incident-cells', type: 'circle', source: 'incident-cells', paint: { ...clusterPaint(['get', 'overdue']), 'circle-radius': cellSize } });
    const countText = (field) => ({
      'text-field': ['case', ['>=', field, 10000], ['concat', ['to-string', ['round', ['/', field, 1000]]], 'k'], ['to-string', field]],
      'text-font': ['Noto Sans CJK SC Bold'],
      'text-size': 14,
      'text-allow-overlap': true,
      // Counts never push a place name off the map.
      'text-ignore-placement': true,
    });
    map.addLayer({ id: 'incident-cluster-count', type: 'symbol', source: 'incidents', filter: ['has', 'point_count'], layout: countText(['get', 'point_count']), paint: { 'text-color': '#1a1000' } });
    map.addLayer({ id: 'incident-cell-count', type: 'symbol', source: 'incident-cells', layout: countText(['get', 'count']), paint: { 'text-color': '#1a1000' } });
    map.addLayer({
      id: 'incident-points',
      type: 'circle',
      source: 'incidents',
      filter: ['!', ['has', 'point_count']],
      paint: {
        'circle-color': ['get', 'color'],
        'circle-radius': ['case', ['get', 'overdue'], 8, 6.5],
        'circle-stroke-color': ['case', ['get', 'overdue'], '#ff1f1f', '#0b1020'],
        'circle-stroke-width': ['case', ['get', 'overdue'], 3, 1.5],
      },
    });
    map.addLayer({ id: 'incident-fresh', type: 'circle', source: 'fresh', paint: { 'circle-radius': 18, 'circle-color': 'rgba(0,0,0,0)', 'circle-stroke-color': '#ffffff', 'circle-stroke-width': 3 } });
    for (const layer of ['incident-clusters', 'incident-cells', 'incident-points']) {
      map.on('mouseenter', layer, () => (map.getCanvas().style.cursor = 'pointer'));
      map.on('mouseleave', layer, () => (map.getCanvas().style.cursor = ''));
    }
    this.fresh = [];
    setInterval(() => this.pulse(), 700);
  }

  /* ---- filters ---- */

  filters() {
    const boxes = [...document.querySelectorAll('#gm-status input')];
    const ticked = boxes.filter((b) => b.checked).map((b) => b.value);
    const type = (byId('gm-type') || {}).value || '';
    let since = '';
    let until = '';
    const windowKey = (byId('gm-window') || {}).value || 'all';
    if (windowKey === 'custom') {
      if (byId('gm-since').value) since = new Date(byId('gm-since').value).toISOString();
      if (byId('gm-until').value) until = new Date(byId('gm-until').value).toISOString();
    } else if (WINDOWS[windowKey]) {
      since = new Date(Date.now() - WINDOWS[windowKey] * 3600 * 1000).toISOString();
    }
    return {
      status: ticked.length === boxes.length ? [] : ticked,
      ticked,
      nothing: boxes.length > 0 && ticked.length === 0,
      type: type ? [type] : [],
      since,
      until,
      grid: ((byId('gm-grid') || {}).value || '').trim(),
    };
  }

  params(bounds) {
    const f = this.filters();
    return { bbox: bboxParam(bounds), zoom: apiZoom(), status: f.status, type: f.type, since: f.since, until: f.until, grid: f.grid };
  }

  matches(event) {
    const f = this.filters();
    if (f.status.length && !f.ticked.includes(event.status)) return false;
    if (f.type.length && !f.type.includes(event.type)) return false;
    if (f.grid && !String(event.grid_code || '').startsWith(f.grid)) return false;
    if (f.since && event.at && new Date(event.at) < new Date(f.since)) return false;
    return true;
  }

  /* ---- loading ---- */

  refresh(force) {
    if (this.filters().nothing) {
      this.show({ features: [] });
      this.map.getSource('heat').setData(EMPTY);
      this.held = null;
      return Promise.resolve();
    }
    const tasks = [];
    if (this.pointsOn) tasks.push(this.refreshPoints(force));
    if (this.heatOn) tasks.push(this.refreshHeat());
    return Promise.all(tasks);
  }

  refreshPoints(force) {
    const zoom = apiZoom();
    const view = this.map.getBounds();
    const held = this.held;
    const inside = held && held.bounds.contains(view.getNorthEast()) && held.bounds.contains(view.getSouthWest());
    if (!force && inside && (held.zoom === zoom || (!this.aggregated && zoom > held.zoom))) return Promise.resolve();
    if (this.controller) this.controller.abort();
    const controller = (this.controller = new AbortController());
    const wanted = paddedBounds();
    return api('/api/incidents' + query(this.params(wanted)), { signal: controller.signal })
      .then((answer) => {
        if (this.controller !== controller) return;
        this.controller = null;
        this.held = { bounds: wanted, zoom };
        this.show(answer || { features: [] });
      })
      .catch((error) => {
        if (error.name !== 'AbortError') toast('事件加载失败：' + error.message);
      });
  }

  show(collection) {
    const features = collection.features || [];
    this.aggregated = !!collection.aggregated;
    this.features.clear();
    if (this.aggregated) {
      this.map.getSource('incidents').setData(EMPTY);
      this.map.getSource('incident-cells').setData({ type: 'FeatureCollection', features });
      GM.stats.incidents = features.reduce((sum, f) => sum + (f.properties.count || 0), 0);
    } else {
      for (const f of features) {
        f.properties.color = stateColor(f.properties.status);
        this.features.set(f.properties.id, f);
      }
      this.map.getSource('incident-cells').setData(EMPTY);
      this.redraw();
      GM.stats.incidents = features.length;
    }
    GM.stats.aggregated = this.aggregated;
    if (GM.updateStatusBar) GM.updateStatusBar();
  }

  redraw() {
    this.map.getSource('incidents').setData({ type: 'FeatureCollection', features: [...this.features.values()] });
  }

  refreshHeat() {
    return api('/api/incidents/heat' + query(this.params(paddedBounds())))
      .then((answer) => {
        const points = (answer && answer.points) || [];
        const max = Math.max(1, ...points.map((p) => p[2]));
        this.map.getSource('heat').setData({
          type: 'FeatureCollection',
          features: points.map((p) => ({ type: 'Feature', properties: { n: p[2], max }, geometry: { type: 'Point', coordinates: [p[1], p[0]] } })),
        });
        GM.stats.heatPoints = points.length;
        GM.stats.heatMax = max;
        if (GM.legend) GM.legend.render();
      })
      .catch((error) => toast('热力图加载失败：' + error.message));
  }

  setHeat(on) {
    this.heatOn = on;
    this.map.setLayoutProperty('heat', 'visibility', on ? 'visible' : 'none');
    if (on) this.refreshHeat();
  }

  setPoints(on) {
    this.pointsOn = on;
    for (const layer of ['incident-clusters', 'incident-cells', 'incident-cluster-count', 'incident-cell-count', 'incident-points']) {
      this.map.setLayoutProperty(layer, 'visibility', on ? 'visible' : 'none');
    }
    if (on) this.refresh(true);
  }

  filterGrid(code) {
    byId('gm-grid').value = code;
    this.refresh(true);
  }

  /* ---- clicks and popups ---- */

  handledClick(event) {
    const map = this.map;
    const layers = ['incident-points', 'incident-clusters', 'incident-cells'].filter((l) => map.getLayoutProperty(l, 'visibility') !== 'none');
    const hit = map.queryRenderedFeatures(event.point, { layers })[0];
    if (!hit) return false;
    if (hit.layer.id === 'incident-points') {
      this.popup(hit.properties.id, hit.geometry.coordinates);
    } else if (hit.layer.id === 'incident-clusters') {
      map.getSource('incidents').getClusterExpansionZoom(hit.properties.cluster_id).then((zoom) => map.easeTo({ center: hit.geometry.coordinates, zoom: zoom + 0.5 }));
    } else {
      map.easeTo({ center: hit.geometry.coordinates, zoom: Math.min(map.getZoom() + 2, 17) });
    }
    return true;
  }

  async popup(id, lngLat) {
    const box = el('div', { class: 'gm-popup' }, [el('div', { class: 'gm-muted', text: '加载中…' })]);
    new GM.maplibregl.Popup({ maxWidth: '460px' }).setLngLat(lngLat).setDOMContent(box).addTo(this.map);
    try {
      const detail = await api('/api/incidents/' + encodeURIComponent(id));
      box.textContent = '';
      renderIncident(box, detail);
    } catch (error) {
      box.textContent = '事件加载失败：' + error.message;
    }
  }

  /* ---- live ---- */

  onEvent(event) {
    GM.stats.sseEvents += 1;
    GM.stats.lastEvent = event;
    figuresChanged(event.grid_code);
    const existing = this.features.get(event.id);
    if (existing) {
      if (this.matches(event)) {
        Object.assign(existing.properties, { status: event.status, overdue: !!event.overdue, color: stateColor(event.status) });
      } else {
        this.features.delete(event.id);
      }
      this.redraw();
    } else if (!this.aggregated && this.matches(event) && event.lon !== undefined) {
      this.features.set(event.id, {
        type: 'Feature',
        geometry: { type: 'Point', coordinates: [event.lon, event.lat] },
        properties: { id: event.id, status: event.status, type: event.type, overdue: !!event.overdue, grid_code: event.grid_code, color: stateColor(event.status) },
      });
      GM.stats.incidents += 1;
      this.redraw();
    } else if (this.aggregated) {
      this.refreshSoon();
    }
    if (event.event === 'created' && event.lon !== undefined) this.flash([event.lon, event.lat]);
    if (GM.feed) GM.feed.add(event);
    if (GM.header) GM.header.refreshSoon();
  }

  refreshSoon = debounce(() => this.refresh(true), 1500);

  flash(coords) {
    this.fresh.push({ coords, until: Date.now() + 60000 });
    this.freshDrawn = -1;
  }

  pulse() {
    const now = Date.now();
    const before = this.fresh.length;
    this.fresh = this.fresh.filter((f) => f.until > now);
    const source = this.map.getSource('fresh');
    if (!source || (!before && !this.fresh.length)) return;
    // New data only when the set of rings changed; the blink itself is a paint change.
    if (before !== this.fresh.length || this.freshDrawn !== this.fresh.length) {
      source.setData({ type: 'FeatureCollection', features: this.fresh.map((f) => ({ type: 'Feature', properties: {}, geometry: { type: 'Point', coordinates: f.coords } })) });
      this.freshDrawn = this.fresh.length;
    }
    this.map.setPaintProperty('incident-fresh', 'circle-stroke-opacity', Math.floor(now / 700) % 2 === 0 ? 1 : 0.25);
  }

  /** Follow /api/stream. EventSource resumes with Last-Event-ID by itself after a network error;
   * when the server was away long enough for the browser to give up, open a new one. */
  listen() {
    if (!window.EventSource) return;
    const open = () => {
      const source = new EventSource('/api/stream');
      this.source = source;
      source.addEventListener('incident', (message) => {
        let event;
        try {
          event = JSON.parse(message.data);
        } catch (error) {
          return;
        }
        this.onEvent(event);
      });
      source.onopen = () => {
        if (GM.setLive) GM.setLive(true);
        if (this.wasDown && GM.onReconnect) GM.onReconnect();
        this.wasDown = false;
      };
      source.onerror = () => {
        if (GM.setLive) GM.setLive(false);
        this.wasDown = true;
        if (source.readyState === EventSource.CLOSED) setTimeout(open, 3000);
      };
    };
    open();
  }
}

/** The incident's popup: states, times, place by name, history and the actions this user may take. */
export function renderIncident(box, detail) {
  const names = GM.names || {};
  box.appendChild(
    el('div', { class: 'gm-popup-title' }, [
      el('span', { class: 'gm-dot', style: 'background:' + stateColor(detail.status) }),
      el('span', { text: (detail.type_name || typeLabel(detail.type)) + ' #' + detail.id }),
      detail.overdue ? el('span', { class: 'gm-badge gm-bad', text: '超期' }) : null,
    ])
  );
  box.appendChild(
    infoTable([
      ['状态', label('states', detail.status)],
      ['上报时间', fmtTime(detail.created_at)],
      ['办理时限', fmtTime(detail.due_at)],
      ['所属社区', names[detail.community_code] || names[String(detail.grid_code || '').slice(0, 12)]],
      ['所属网格', detail.grid_code],
      ['地址', detail.address],
    ])
  );
  box.appendChild(el('div', { class: 'gm-desc', text: detail.description || '' }));
  const history = detail.history || [];
  if (history.length) {
    box.appendChild(el('div', { class: 'gm-subtitle', text: '办理过程' }));
    box.appendChild(
      el(
        'ol',
        { class: 'gm-steps' },
        history.map((step) => el('li', { text: `${fmtTime(step.at)} ${label('states', step.state)} · ${step.actor || ''}${step.note ? ' · ' + step.note : ''}` }))
      )
    );
  }
  const actions = detail.allowed_actions || [];
  if (!actions.length) return;
  const note = el('input', { class: 'gm-input', placeholder: '办理意见（可选）', maxlength: '500' });
  const buttons = actions.map((action) => {
    const code = typeof action === 'string' ? action : action.action || action.code;
    const name = label('actions', code);
    return el('button', {
      class: 'gm-button',
      type: 'button',
      text: name,
      onclick: () =>
        api('/api/incidents/' + encodeURIComponent(detail.id) + '/transition', { method: 'POST', body: { action: code, note: note.value } })
          .then(() => toast('已提交：' + name))
          .catch((error) => toast('办理失败：' + error.message)),
    });
  });
  box.appendChild(el('div', { class: 'gm-actions' }, [note, ...buttons]));
}

export { HEAT_LEGEND, fmtInt };
