/* gridmap one map: the panels around the map - header counters and clock, live feed, address
 * search with candidates, KPI table (clickable, paged), legend and status bar. */
import { GM, api, byId, debounce, el, fmtClock, fmtInt, fmtPct, fmtTime, infoTable, label, pager, query, setText, stateColor, toast, typeLabel } from './gm-util.js';
import { CHOROPLETHS, STYLE, zoomToUnit } from './gm-map.js';
import { HEAT_LEGEND } from './gm-incidents.js';

GM.setLive = (on) => {
  const node = byId('gm-live');
  if (!node) return;
  node.className = on ? 'gm-live gm-live-on' : 'gm-live';
  node.textContent = on ? '● 实时连接' : '○ 连接中断，重连中';
};

const unitName = (code) => (GM.names || {})[code] || code;

/** Where an incident is, by name: community (and street) rather than codes. */
export function placeName(item) {
  const grid = String(item.grid_code || '');
  const community = item.community_code || grid.slice(0, 12);
  const street = community.slice(0, 9);
  const parts = [GM.names[street], GM.names[community]].filter(Boolean);
  return parts.length ? parts.join(' · ') : grid || '城市范围外';
}

/* Header: clock and city-wide counters (sum of the district KPI rows). */
export const header = {
  start() {
    const tick = () => {
      const now = new Date();
      setText('gm-time', fmtClock(now));
      setText('gm-date', `${now.getFullYear()}年${now.getMonth() + 1}月${now.getDate()}日 星期${'日一二三四五六'.charAt(now.getDay())}`);
    };
    tick();
    setInterval(tick, 1000);
    this.refresh();
    setInterval(() => this.refresh(), 60000);
  },
  refreshSoon: debounce(() => header.refresh(), 800),
  refresh() {
    return api('/api/kpi?level=district')
      .then((answer) => {
        // The server sums the units and applies the same formula (answer.city).
        const sum = (answer && answer.city) || {};
        setText('gm-open', fmtInt(sum.open));
        setText('gm-overdue', fmtInt(sum.overdue));
        setText('gm-total', fmtInt(sum.total));
        setText('gm-closure', fmtPct(sum.closure_rate));
        GM.stats.counters = sum;
      })
      .catch((error) => toast('统计数据加载失败：' + error.message));
  },
};
GM.header = header;

/* Live feed: the newest events on top, text only, places by name. */
export const feed = {
  add(event) {
    const list = byId('gm-feed');
    const verb = event.event === 'created' ? '新上报' : label('states', event.status);
    const item = el('li', { class: 'gm-feed-item' + (event.overdue ? ' gm-feed-overdue' : '') }, [
      el('div', { class: 'gm-feed-head' }, [
        el('span', { class: 'gm-dot', style: 'background:' + stateColor(event.status) }),
        el('span', { class: 'gm-feed-verb', text: verb }),
        el('span', { class: 'gm-feed-type', text: typeLabel(event.type) }),
        el('span', { class: 'gm-feed-time', text: fmtTime(event.at).slice(11) }),
      ]),
      el('div', { class: 'gm-feed-text', text: placeName(event) }),
    ]);
    item.addEventListener('click', () => {
      if (event.lon !== undefined) GM.map.flyTo({ center: [event.lon, event.lat], zoom: Math.max(GM.map.getZoom(), 15.5) });
    });
    if (!list) return item;
    list.insertBefore(item, list.firstChild);
    while (list.children.length > 30) list.removeChild(list.lastChild);
    const empty = byId('gm-feed-empty');
    if (empty) empty.remove();
    // The event carries no text; the incident has the description and address.
    api('/api/incidents/' + encodeURIComponent(event.id))
      .then((detail) => {
        const text = item.querySelector('.gm-feed-text');
        text.textContent = placeName(detail) + (detail.address ? ' · ' + detail.address : '') + (detail.description ? ' · ' + detail.description : '');
      })
      .catch(() => {});
    return item;
  },
};
GM.feed = feed;

/* Address search: the match, or candidates to choose from; a road or compound is outlined. */
export const search = {
  start() {
    byId('gm-search').addEventListener('submit', (event) => {
      event.preventDefault();
      this.run(byId('gm-q').value.trim());
    });
    GM.map.addSource('search', { type: 'geojson', data: { type: 'FeatureCollection', features: [] } });
    GM.map.addLayer({ id: 'search-fill', type: 'fill', source: 'search', filter: ['==', ['geometry-type'], 'Polygon'], paint: { 'fill-color': '#fff200', 'fill-opacity': 0.16 } });
    GM.map.addLayer({ id: 'search-line', type: 'line', source: 'search', filter: ['!=', ['geometry-type'], 'Point'], paint: { 'line-color': '#fff200', 'line-width': 5, 'line-dasharray': [2, 1] } });
    GM.map.addLayer({ id: 'search-point', type: 'circle', source: 'search', filter: ['==', ['geometry-type'], 'Point'], paint: { 'circle-radius': 11, 'circle-color': '#fff200', 'circle-stroke-color': '#ffffff', 'circle-stroke-width': 3 } });
  },
  run(text) {
    const out = byId('gm-search-result');
    out.textContent = '';
    if (!text) return Promise.resolve();
    out.appendChild(el('div', { class: 'gm-muted', text: '正在匹配…' }));
    return api('/api/geocode' + query({ q: text }))
      .then((answer) => this.show(answer || {}))
      .catch((error) => {
        out.textContent = '';
        out.appendChild(el('div', { class: 'gm-bad', text: '匹配失败：' + error.message }));
      });
  },
  show(answer) {
    const out = byId('gm-search-result');
    const match = answer.match || {};
    out.textContent = '';
    const level = match.level || 'none';
    const confidence = Number(match.confidence) || 0;
    const rows = [
      ['标准地址', match.label || match.address || '未找到'],
      ['匹配级别', label('levels', level), level === 'none' ? 'gm-bad' : ''],
      ['置信度', (confidence * 100).toFixed(0) + '%', confidence < 0.6 ? 'gm-warn' : ''],
      ['所属网格', match.grid_code ? `${unitName(String(match.grid_code).slice(0, 12))} ${match.grid_code}` : null],
    ];
    if (match.approximate) rows.push(['说明', '位置为近似点（道路或小区范围内）', 'gm-warn']);
    out.appendChild(infoTable(rows));
    GM.stats.lastGeocode = match;
    const candidates = match.candidates || [];
    if (candidates.length) {
      out.appendChild(el('div', { class: 'gm-subtitle', text: `可能的地点（${candidates.length}）` }));
      out.appendChild(
        el(
          'ul',
          { class: 'gm-candidates' },
          candidates.map((c) =>
            el('li', { onclick: () => { byId('gm-q').value = c.label; this.run(c.label); } }, [
              el('span', { text: c.label }),
              el('span', { class: 'gm-muted', text: ` ${label('levels', c.level)} · ${(Number(c.confidence) * 100).toFixed(0)}%` }),
            ])
          )
        )
      );
    }
    const features = [];
    if (match.highlight) features.push({ type: 'Feature', properties: {}, geometry: match.highlight });
    else if (answer.grid) features.push({ type: 'Feature', properties: {}, geometry: answer.grid.geometry });
    if (match.lon !== null && match.lon !== undefined) features.push({ type: 'Feature', properties: {}, geometry: { type: 'Point', coordinates: [match.lon, match.lat] } });
    GM.map.getSource('search').setData({ type: 'FeatureCollection', features });
    if (features.length) {
      const bounds = new GM.maplibregl.LngLatBounds();
      const extend = (c) => (typeof c[0] === 'number' ? bounds.extend(c) : c.forEach(extend));
      features.forEach((f) => extend(f.geometry.coordinates));
      GM.map.fitBounds(bounds, { padding: GM.padding(), maxZoom: 17, duration: 600 });
    }
  },
};

/* KPI panel: a level's rows sorted by open incidents, every row clickable, paged. */
export const kpi = {
  start() {
    byId('gm-kpi-level').addEventListener('change', () => this.refresh());
    this.refresh();
    setInterval(() => this.refresh(), 60000);
  },
  refresh() {
    const level = byId('gm-kpi-level').value;
    byId('gm-kpi-csv').setAttribute('href', '/api/kpi' + query({ level, format: 'csv' }));
    return api('/api/kpi' + query({ level }))
      .then((answer) => {
        const rows = ((answer && answer.rows) || []).slice();
        rows.sort((a, b) => (b.open || 0) - (a.open || 0) || (b.overdue || 0) - (a.overdue || 0));
        const body = byId('gm-kpi-rows');
        pager(byId('gm-kpi-pager'), rows, GM.wall ? 14 : 12, (page) => {
          body.textContent = '';
          for (const row of page) body.appendChild(kpiRow(row, level));
          if (!rows.length) body.appendChild(el('tr', {}, [el('td', { colspan: '5', class: 'gm-muted', text: '暂无数据' })]));
        }, '行');
      })
      .catch((error) => toast('考核指标加载失败：' + error.message));
  },
};

export function kpiRow(row, level) {
  const name = level === 'grid' ? `${unitName(String(row.code).slice(0, 12))} ${String(row.code).slice(12)}号` : row.name || unitName(row.code);
  return el('tr', { class: 'gm-kpi-row' + (row.overdue > 0 ? ' gm-row-warn' : ''), title: '定位到 ' + name, onclick: () => zoomToUnit(row.code) }, [
    el('td', { class: 'gm-name', text: name }),
    el('td', { text: fmtInt(row.open) }),
    el('td', { class: row.overdue > 0 ? 'gm-bad' : '', text: fmtInt(row.overdue) }),
    el('td', { text: fmtPct(row.closure_rate) }),
    el('td', { text: fmtPct(row.on_time_rate) }),
  ]);
}

/* Legend: layers, the active choropleth, the heat scale and incident states. */
export const legend = {
  render() {
    const box = byId('gm-legend');
    if (!box) return;
    box.textContent = '';
    const row = (swatch, text) => el('div', { class: 'gm-legend-row' }, [swatch, el('span', { text })]);
    const lineSwatch = (color, width, dashed) => el('span', { class: 'gm-swatch gm-swatch-line', style: `border-top:${width}px ${dashed ? 'dashed' : 'solid'} ${color}` });
    box.appendChild(row(lineSwatch(STYLE.district, 4), '区界'));
    box.appendChild(row(lineSwatch(STYLE.street, 3, true), '街道（镇）界'));
    box.appendChild(row(lineSwatch(STYLE.community, 2, true), '社区（村）界'));
    box.appendChild(row(el('span', { class: 'gm-swatch', style: `border:2px solid ${STYLE.grid};background:rgba(53,208,255,.15)` }), '综合网格'));
    box.appendChild(row(el('span', { class: 'gm-swatch gm-swatch-hatch' }), '专属网格'));
    box.appendChild(row(el('span', { class: 'gm-swatch', style: `border:3px solid ${STYLE.overdue}` }), '有超期事件的网格'));
    box.appendChild(row(lineSwatch(STYLE.road, 3), '道路'));
    const scheme = CHOROPLETHS[GM.state.choropleth];
    if (scheme && scheme.expression) {
      box.appendChild(el('div', { class: 'gm-legend-title', text: '网格着色：' + scheme.title }));
      scheme.colors.forEach((color, i) => {
        const low = i === 0 ? null : scheme.breaks[i - 1];
        const high = i < scheme.breaks.length ? scheme.breaks[i] : scheme.top;
        let text;
        if (low === null) text = '< ' + scheme.label(high);
        else if (high === undefined || high === null) text = '≥ ' + scheme.label(low);
        else text = scheme.label(low) + ' – ' + scheme.label(high);
        box.appendChild(row(el('span', { class: 'gm-swatch', style: 'background:' + color }), text));
      });
      if (scheme.noData) box.appendChild(row(el('span', { class: 'gm-swatch', style: 'border:1px solid #8ea3c7' }), scheme.noData));
    }
    if (GM.incidents && GM.incidents.heatOn) {
      box.appendChild(el('div', { class: 'gm-legend-title', text: '事件热力（每格事件数）' }));
      box.appendChild(el('div', { class: 'gm-heat-scale', style: `background:linear-gradient(90deg, ${HEAT_LEGEND.join(',')})` }));
      box.appendChild(
        el('div', { class: 'gm-heat-ticks' }, [el('span', { text: '少' }), el('span', { text: `最多 ${fmtInt(GM.stats.heatMax || 0)} 件` })])
      );
    }
    box.appendChild(el('div', { class: 'gm-legend-title', text: '事件状态' }));
    const grid = el('div', { class: 'gm-legend-grid' });
    for (const state of GM.meta.states || []) {
      grid.appendChild(row(el('span', { class: 'gm-dot gm-dot-big', style: 'background:' + stateColor(state) }), label('states', state)));
    }
    grid.appendChild(row(el('span', { class: 'gm-dot gm-dot-big gm-dot-overdue' }), '超期'));
    box.appendChild(grid);
  },
};
GM.legend = legend;

GM.updateStatusBar = () => {
  if (!GM.map) return;
  const parts = [`缩放 ${GM.map.getZoom().toFixed(1)}`, `事件 ${fmtInt(GM.stats.incidents)}${GM.stats.aggregated ? '（服务端聚合）' : ''}`];
  setText('gm-statusbar-view', parts.join(' · '));
};
