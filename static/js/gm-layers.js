/* gridmap one map: the area layers (districts, streets, communities, grids, exclusive grids, roads).
 * Each layer fetches /api/layers/<name>?bbox=&zoom= for the padded view when the map moves, and
 * only when the view leaves what it already holds or the zoom changes (the server simplifies the
 * geometry for the zoom). */
(function () {
  'use strict';
  var GM = window.GridMap;

  // Fixed class breaks so the legend stays the same while panning.
  GM.CHOROPLETHS = {
    none: { title: '无' },
    households: {
      title: '户数',
      field: 'households',
      breaks: [200, 300, 400, 500, 600],
      colors: ['#143d59', '#1b5e84', '#2386b0', '#2bb0d8', '#5fd3f0', '#a0ecff'],
      label: GM.fmtInt,
    },
    open: {
      title: '未结事件',
      field: 'open',
      breaks: [1, 3, 6, 11, 21],
      colors: ['#1b2a1f', '#5c4d0b', '#8f5f00', '#c0580a', '#e8340c', '#ff1f5a'],
      label: GM.fmtInt,
    },
    closure_rate: {
      title: '结案率',
      field: 'closure_rate',
      breaks: [0.5, 0.7, 0.85, 0.95, 1.0],
      colors: ['#d7263d', '#f46036', '#f4b400', '#9bc53d', '#3ddc97', '#00e0a4'],
      label: function (v) {
        return Math.round(v * 100) + '%';
      },
    },
  };

  // Data is asked for the view plus this share on each side, so small pans need no request.
  GM.VIEW_PAD = 0.2;

  // Below the grid zoom the same switch colours communities from their KPI row (about 25 grids
  // each, hence wider classes); households are not in the KPI, so that one needs grids.
  GM.COMMUNITY_BREAKS = { open: [5, 15, 30, 60, 120], closure_rate: [0.5, 0.7, 0.85, 0.95, 1.0] };

  GM.choroplethColor = function (key, value, breaks) {
    var scheme = GM.CHOROPLETHS[key];
    if (!scheme || !scheme.field || value === null || value === undefined) return null;
    breaks = breaks || scheme.breaks;
    var i = 0;
    while (i < breaks.length && value >= breaks[i]) i += 1;
    return scheme.colors[i];
  };

  /** Is the choropleth drawn on communities now (zoomed out past the grids)? */
  GM.communityChoropleth = function () {
    var key = GM.state.choropleth;
    return !!(GM.map && GM.COMMUNITY_BREAKS[key] && GM.map.getZoom() < GM.MIN_ZOOM.grid);
  };

  /** KPI rows of every community, code -> row, for the community choropleth. */
  GM.communityKpi = {};
  GM.loadCommunityKpi = function () {
    return GM.api('/api/kpi?level=community').then(function (answer) {
      var rows = {};
      ((answer && answer.rows) || []).forEach(function (row) {
        rows[row.code] = row;
      });
      GM.communityKpi = rows;
      if (GM.layers && GM.layers.community) GM.layers.community.restyle();
    });
  };

  var STYLES = {
    district: { color: '#ffd166', weight: 4, opacity: 0.95, fill: false, dashArray: null },
    street: { color: '#f4a261', weight: 2.5, opacity: 0.85, fill: false, dashArray: '8 6' },
    community: { color: '#9aa9c9', weight: 1.5, opacity: 0.8, fill: false, dashArray: '3 4' },
    grid: { color: '#35d0ff', weight: 1.2, opacity: 0.9, fillColor: '#35d0ff', fillOpacity: 0.08 },
    exclusive: {
      color: '#c77dff',
      weight: 2,
      opacity: 1,
      fillColor: 'url(#gm-hatch)',
      fillOpacity: 0.9,
    },
    roads: { color: '#3a4a66', weight: 1.6, opacity: 0.9, fill: false, interactive: false },
  };
  GM.LAYER_STYLES = STYLES;

  // Below these zooms a layer is not requested: 10,000 grids of ~150 m would not fit a 2 MB
  // answer at zoom 14 on a 1920 px screen (map_bench); communities carry the picture there.
  GM.MIN_ZOOM = { district: 0, street: 9, community: 11, grid: 15, exclusive: 15, roads: 0 };

  /** Add the hatch pattern used for exclusive grids to the SVG renderer once it is on the map. */
  GM.addHatchPattern = function (renderer) {
    var svg = renderer._container;
    if (!svg || svg.querySelector('#gm-hatch')) return;
    var ns = 'http://www.w3.org/2000/svg';
    var defs = document.createElementNS(ns, 'defs');
    var pattern = document.createElementNS(ns, 'pattern');
    pattern.setAttribute('id', 'gm-hatch');
    pattern.setAttribute('patternUnits', 'userSpaceOnUse');
    pattern.setAttribute('width', '10');
    pattern.setAttribute('height', '10');
    pattern.setAttribute('patternTransform', 'rotate(45)');
    var back = document.createElementNS(ns, 'rect');
    back.setAttribute('width', '10');
    back.setAttribute('height', '10');
    back.setAttribute('fill', 'rgba(157, 78, 221, 0.25)');
    var line = document.createElementNS(ns, 'rect');
    line.setAttribute('width', '3');
    line.setAttribute('height', '10');
    line.setAttribute('fill', 'rgba(199, 125, 255, 0.85)');
    pattern.appendChild(back);
    pattern.appendChild(line);
    defs.appendChild(pattern);
    svg.insertBefore(defs, svg.firstChild);
  };

  function gridPopup(props) {
    var kind = GM.KIND_NAMES[props.kind] || props.kind;
    var rows = [
      ['网格编码', props.grid_code],
      ['类型', kind],
      ['所属社区', props.community_code],
    ];
    if (props.kind === 'exclusive') rows.push(['所在综合网格', props.host_grid_code]);
    rows.push(
      ['户数', GM.fmtInt(props.households)],
      ['人口', GM.fmtInt(props.population)],
      ['面积', GM.fmtArea(props.area_m2)],
      ['未结事件', GM.fmtInt(props.open)],
      ['超期事件', GM.fmtInt(props.overdue), props.overdue > 0 ? 'gm-bad' : ''],
      ['结案率', GM.fmtPct(props.closure_rate)]
    );
    if (props.flags) rows.push(['规划提示', String(props.flags).split(';').join('、'), 'gm-bad']);
    var box = GM.el('div', { class: 'gm-popup' }, [
      GM.el('div', { class: 'gm-popup-title', text: kind + ' ' + props.grid_code }),
      GM.infoTable(rows),
      GM.el('button', {
        class: 'gm-link',
        text: '只看本网格事件',
        onclick: function () {
          if (GM.incidents) GM.incidents.filterGrid(props.grid_code);
        },
      }),
    ]);
    return box;
  }

  function adminPopup(props, title) {
    return GM.el('div', { class: 'gm-popup' }, [
      GM.el('div', { class: 'gm-popup-title', text: (props.name || '') + '（' + title + '）' }),
      GM.infoTable([
        ['代码', props.code],
        ['上级代码', props.parent_code],
      ]),
    ]);
  }

  /** One bbox/zoom-driven GeoJSON layer. */
  function AreaLayer(name, title, renderer) {
    this.name = name;
    this.title = title;
    this.byCode = {};
    this.held = null; // {bounds, zoom} of what is loaded
    this.pending = null;
    this.count = 0;
    var self = this;
    this.layer = L.geoJSON(null, {
      renderer: renderer,
      style: function (feature) {
        return self.style(feature);
      },
      onEachFeature: function (feature, layer) {
        var props = feature.properties || {};
        if (name === 'grid' || name === 'exclusive') {
          self.byCode[props.grid_code] = layer;
          layer.bindPopup(function () {
            return gridPopup(props);
          }, GM.POPUP_OPTIONS);
          layer.bindTooltip(function () {
            return GM.el('span', { text: props.grid_code + ' · ' + GM.fmtInt(props.households) + '户' });
          }, { sticky: true, className: 'gm-tooltip' });
        } else if (name !== 'roads') {
          self.byCode[props.code] = layer;
          layer.bindPopup(function () {
            return adminPopup(props, title);
          });
        }
      },
    });
  }

  AreaLayer.prototype.style = function (feature) {
    var base = STYLES[this.name];
    var props = feature.properties || {};
    var style = L.extend({}, base);
    if (this.name === 'community' && GM.communityChoropleth()) {
      var key = GM.state.choropleth;
      var row = GM.communityKpi[props.code];
      var fill = row && GM.choroplethColor(key, row[GM.CHOROPLETHS[key].field], GM.COMMUNITY_BREAKS[key]);
      if (fill) L.extend(style, { fill: true, fillColor: fill, fillOpacity: 0.6 });
    }
    if (this.name === 'grid' || this.name === 'exclusive') {
      if (props.kind === 'exclusive') L.extend(style, STYLES.exclusive);
      var color = GM.choroplethColor(GM.state.choropleth, props[GM.CHOROPLETHS[GM.state.choropleth].field]);
      if (color && props.kind !== 'exclusive') {
        style.fillColor = color;
        style.fillOpacity = 0.62;
      }
      if (props.overdue > 0) {
        style.color = '#ff3b3b';
        style.weight = 2.2;
      }
    }
    return style;
  };

  AreaLayer.prototype.restyle = function () {
    var self = this;
    this.layer.eachLayer(function (layer) {
      self.layer.resetStyle(layer);
    });
  };

  AreaLayer.prototype.active = function (map) {
    return map.hasLayer(this.layer);
  };

  AreaLayer.prototype.refresh = function (map, force) {
    var zoom = map.getZoom();
    if (zoom < GM.MIN_ZOOM[this.name]) {
      this.layer.clearLayers();
      this.byCode = {};
      this.held = null;
      this.count = 0;
      this.report();
      return Promise.resolve();
    }
    var view = map.getBounds();
    if (!force && this.held && this.held.zoom === zoom && this.held.bounds.contains(view)) {
      return Promise.resolve();
    }
    var self = this;
    return GM.fetchView(this, {
      view: view,
      zoom: zoom,
      force: force,
      url: function (wanted) {
        return '/api/layers/' + self.name + GM.query({ bbox: GM.bboxParam(wanted), zoom: zoom });
      },
      onData: function (collection) {
        self.layer.clearLayers();
        self.byCode = {};
        var features = (collection && collection.features) || [];
        self.layer.addData(collection);
        self.count = features.length;
        self.report();
        if (self.onLoaded) self.onLoaded(features);
      },
      failure: '图层“' + self.title + '”加载失败：',
    });
  };

  AreaLayer.prototype.report = function () {
    if (this.name === 'grid') GM.stats.grids = this.count;
    if (this.name === 'exclusive') GM.stats.exclusive = this.count;
    if (GM.updateStatusBar) GM.updateStatusBar();
  };

  GM.AreaLayer = AreaLayer;
})();
