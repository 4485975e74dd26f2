/* gridmap one map: start-up. Reads /api/config, sets the base map (plain background by default,
 * or the configured tiles), builds the layers, the layer control, the filters, and starts the
 * live stream. GridMap.start(map) is called by the page with the Leaflet map folium made. */
(function () {
  'use strict';
  var GM = window.GridMap;

  GM.state = { choropleth: 'none', ready: false };

  var LAYER_TITLES = {
    district: '区',
    street: '街道（镇）',
    community: '社区（村）',
    grid: '综合网格',
    exclusive: '专属网格',
    roads: '道路',
  };
  // Drawing order, bottom first.
  var ORDER = ['roads', 'grid', 'exclusive', 'community', 'street', 'district'];

  GM.start = function (map) {
    GM.map = map;
    // With no tile layer Leaflet knows no zoom range; marker clustering needs one.
    if (map.options.maxZoom === undefined) map.setMaxZoom(19);
    if (map.options.minZoom === undefined) map.setMinZoom(8);
    map.attributionControl.setPrefix(false);
    GM.header.start();
    GM.api('/api/config')
      .then(function (config) {
        GM.config = config || {};
        setup(map, GM.config);
      })
      .catch(function (error) {
        GM.toast('页面启动失败：' + ((error && error.message) || error));
        if (window.console) console.error(error);
      });
  };

  function setup(map, config) {
    GM.setText('gm-city', config.city || '');
    document.title = (config.city || '') + ' 网格化治理一张图';
    var user = config.user || {};
    GM.setText('gm-user', (user.name || '') + (user.role ? '（' + user.role + '）' : ''));
    var version = config.version || {};
    GM.setText('gm-statusbar-version', version.id ? '网格版本 ' + version.id : '尚未发布网格');
    GM.setText('gm-statusbar-datum', '坐标 ' + String(config.datum || 'wgs84').toUpperCase());

    // Base maps: a plain background always; tiles only when configured.
    var baseLayers = {};
    var blank = L.layerGroup();
    baseLayers['纯色底图'] = blank;
    var basemap = config.basemap || {};
    if (basemap.url) {
      var tiles = L.tileLayer(basemap.url, { attribution: basemap.attribution || '', maxZoom: 19 });
      baseLayers['瓦片底图'] = tiles;
      tiles.addTo(map);
      document.body.classList.add('gm-has-tiles');
    } else {
      blank.addTo(map);
    }

    // Panes keep the drawing order whatever order the answers arrive in.
    GM.layers = {};
    var overlays = {};
    ORDER.forEach(function (name, i) {
      var pane = map.createPane('gm-' + name);
      pane.style.zIndex = 380 + i;
      var renderer = L.svg({ padding: 0.3, pane: 'gm-' + name });
      var layer = new GM.AreaLayer(name, LAYER_TITLES[name], renderer);
      layer.layer.options.pane = 'gm-' + name;
      GM.layers[name] = layer;
      renderer.on('add', function () {
        GM.addHatchPattern(renderer);
      });
    });
    // Layer control entries, top first as people read them.
    ['district', 'street', 'community', 'grid', 'exclusive', 'roads'].forEach(function (name) {
      var layer = GM.layers[name];
      if (!layer) return;
      var configured = (config.layers || []).filter(function (l) {
        return l && l.name === name;
      })[0];
      overlays[(configured && configured.title) || layer.title] = layer.layer;
      layer.layer.addTo(map);
    });
    GM.layers.grid.onLoaded = function (features) {
      GM.planner.update(features);
    };

    GM.incidents = new GM.Incidents(map);
    overlays['事件（聚合点）'] = GM.incidents.layer;
    overlays['事件热力图'] = GM.incidents.heat;
    GM.incidents.layer.addTo(map);
    GM.incidents.fresh.addTo(map);

    var control = L.control.layers(baseLayers, overlays, { collapsed: false, sortLayers: false });
    control.addTo(map);
    GM.byId('gm-layer-control').appendChild(control.getContainer());

    buildFilters(config);
    GM.legend.render();
    GM.search.start();
    GM.kpi.start();
    GM.planner.start(config);

    map.on('overlayadd', function (event) {
      // The heat map is always asked afresh (filters may have changed while it was off).
      if (event.layer === GM.incidents.heat) GM.incidents.refreshHeat(true);
      else refreshAll(false);
    });
    map.on('moveend', GM.debounce(function () {
      refreshAll(false);
    }, 150));
    map.on('zoomend', function () {
      GM.updateStatusBar();
      // Crossing the grid zoom moves the choropleth between communities and grids.
      GM.layers.community.restyle();
      GM.legend.render();
    });
    setInterval(function () {
      if (GM.COMMUNITY_BREAKS[GM.state.choropleth]) GM.loadCommunityKpi();
    }, 60000);

    // Keep the city clear of the side panels.
    // (No animation: the first data calls below must already see the city's view.)
    if (config.bounds) {
      map.fitBounds(config.bounds, { paddingTopLeft: [350, 20], paddingBottomRight: [420, 20], animate: false });
    } else if (config.center) map.setView(config.center, 12, { animate: false });
    refreshAll(false).then(function () {
      GM.state.ready = true;
      document.body.setAttribute('data-ready', '1');
    });
    GM.incidents.listen();
  }

  function refreshAll(force) {
    var map = GM.map;
    var tasks = [];
    Object.keys(GM.layers).forEach(function (name) {
      var layer = GM.layers[name];
      if (layer.active(map)) tasks.push(layer.refresh(map, force));
    });
    tasks.push(GM.incidents.refresh(force));
    GM.updateStatusBar();
    return Promise.all(tasks);
  }
  GM.refreshAll = refreshAll;

  function buildFilters(config) {
    var statusBox = GM.byId('gm-status');
    GM.codeList(config.statuses || Object.keys(GM.STATUS_NAMES).slice(0, 9), GM.STATUS_NAMES).forEach(function (s) {
      var box = GM.el('input', { type: 'checkbox', value: s.code });
      box.checked = true;
      statusBox.appendChild(
        GM.el('label', { class: 'gm-check' }, [
          box,
          GM.el('span', { class: 'gm-dot', style: 'background:' + GM.statusColor(s.code) }),
          GM.el('span', { text: s.name }),
        ])
      );
    });
    var typeSelect = GM.byId('gm-type');
    GM.codeList(config.incident_types || []).forEach(function (t) {
      typeSelect.appendChild(GM.el('option', { value: t.code, text: t.name }));
    });
    var changed = GM.debounce(function () {
      GM.incidents.refresh(true);
    }, 250);
    ['gm-status', 'gm-type', 'gm-since', 'gm-until', 'gm-grid'].forEach(function (id) {
      GM.byId(id).addEventListener('change', changed);
    });
    GM.byId('gm-window').addEventListener('change', function () {
      GM.byId('gm-custom-window').hidden = this.value !== 'custom';
      changed();
    });
    GM.byId('gm-grid-clear').addEventListener('click', function () {
      GM.byId('gm-grid').value = '';
      changed();
    });
    document.querySelectorAll('input[name="gm-choropleth"]').forEach(function (radio) {
      radio.addEventListener('change', function () {
        GM.state.choropleth = this.value;
        if (GM.COMMUNITY_BREAKS[this.value]) GM.loadCommunityKpi();
        GM.layers.community.restyle();
        GM.layers.grid.restyle();
        if (GM.layers.exclusive) GM.layers.exclusive.restyle();
        GM.legend.render();
      });
    });
    GM.byId('gm-collapse').addEventListener('click', function () {
      document.body.classList.toggle('gm-panels-hidden');
    });
  }
})();
