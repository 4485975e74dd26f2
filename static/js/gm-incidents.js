/* gridmap one map: incidents. Clustered markers (leaflet.markercluster) for the current view and
 * filters, server-made clusters when the answer is `aggregated`, a heat map (leaflet.heat) from
 * /api/incidents/heat, and live changes from the EventSource on /api/stream. */
(function () {
  'use strict';
  var GM = window.GridMap;

  // Keep popups clear of the header and the side panels when Leaflet pans them into view.
  var POPUP_OPTIONS = {
    maxWidth: 460,
    minWidth: 300,
    autoPanPaddingTopLeft: L.point(360, 100),
    autoPanPaddingBottomRight: L.point(430, 50),
  };
  GM.POPUP_OPTIONS = POPUP_OPTIONS;

  var WINDOWS = { '24h': 24, '7d': 24 * 7, '30d': 24 * 30, all: 0 };

  function Incidents(map) {
    this.map = map;
    this.markers = {}; // id -> marker, for live status changes
    this.held = null;
    this.pending = null;
    this.aggregated = false;
    this.cluster = L.markerClusterGroup({
      maxClusterRadius: 48,
      showCoverageOnHover: false,
      spiderfyOnMaxZoom: true,
      chunkedLoading: true,
      iconCreateFunction: clusterIcon,
    });
    this.serverClusters = L.layerGroup();
    this.layer = L.layerGroup([this.cluster, this.serverClusters]);
    this.fresh = L.layerGroup(); // rings around incidents that just arrived
    this.heat = L.heatLayer([], {
      radius: 22,
      blur: 18,
      minOpacity: 0.35,
      gradient: { 0.2: '#1d4ed8', 0.45: '#06b6d4', 0.65: '#a3e635', 0.8: '#facc15', 1: '#ef4444' },
    });
    this.heatHeld = null;
  }

  function clusterIcon(cluster) {
    var children = cluster.getAllChildMarkers();
    var overdue = 0;
    children.forEach(function (marker) {
      if (marker.gmProps && marker.gmProps.overdue) overdue += 1;
    });
    return countIcon(children.length, overdue);
  }

  function countIcon(count, overdue) {
    var size = count < 10 ? 34 : count < 100 ? 42 : count < 1000 ? 52 : 62;
    var node = GM.el('div', { class: 'gm-cluster' + (overdue ? ' gm-cluster-overdue' : '') }, [
      GM.el('span', { text: count >= 10000 ? Math.round(count / 1000) + 'k' : String(count) }),
    ]);
    return L.divIcon({ html: node, className: 'gm-cluster-wrap', iconSize: [size, size] });
  }

  /** Current filter values from the filter panel. */
  Incidents.prototype.filters = function () {
    var statuses = [];
    document.querySelectorAll('#gm-status input:checked').forEach(function (box) {
      statuses.push(box.value);
    });
    var all = document.querySelectorAll('#gm-status input').length;
    var types = [];
    var typeSelect = GM.byId('gm-type');
    if (typeSelect && typeSelect.value) types.push(typeSelect.value);
    var since = '';
    var until = '';
    var windowKey = (GM.byId('gm-window') || {}).value || 'all';
    if (windowKey === 'custom') {
      var from = GM.byId('gm-since').value;
      var to = GM.byId('gm-until').value;
      if (from) since = new Date(from).toISOString();
      if (to) until = new Date(to).toISOString();
    } else if (WINDOWS[windowKey]) {
      since = new Date(Date.now() - WINDOWS[windowKey] * 3600 * 1000).toISOString();
    }
    var grid = ((GM.byId('gm-grid') || {}).value || '').trim();
    return {
      status: statuses.length === all ? [] : statuses,
      nothing: all > 0 && statuses.length === 0,
      statusList: statuses,
      type: types,
      since: since,
      until: until,
      grid: grid,
    };
  };

  Incidents.prototype.params = function (bounds) {
    var f = this.filters();
    return {
      bbox: GM.bboxParam(bounds),
      zoom: this.map.getZoom(),
      status: f.status,
      type: f.type,
      since: f.since,
      until: f.until,
      grid: f.grid,
    };
  };

  /** Does a live event pass the filters on screen? */
  Incidents.prototype.matches = function (event) {
    var f = this.filters();
    if (f.statusList.indexOf(event.status) < 0 && f.status.length) return false;
    if (f.type.length && f.type.indexOf(event.type) < 0) return false;
    if (f.grid && event.grid_code !== f.grid) return false;
    if (f.since && event.at && new Date(event.at) < new Date(f.since)) return false;
    return true;
  };

  Incidents.prototype.refresh = function (force) {
    var map = this.map;
    if (this.filters().nothing) {
      // Every status unticked: nothing to ask the server for.
      this.show({ features: [] });
      this.heat.setLatLngs([]);
      this.held = this.heatHeld = null;
      return Promise.resolve();
    }
    var tasks = [];
    if (map.hasLayer(this.layer)) tasks.push(this.refreshMarkers(force));
    if (map.hasLayer(this.heat)) tasks.push(this.refreshHeat(force));
    return Promise.all(tasks);
  };

  Incidents.prototype.refreshMarkers = function (force) {
    var map = this.map;
    var zoom = map.getZoom();
    var view = map.getBounds();
    // Individual incidents are held for the padded view; refetch when leaving it or zooming
    // (the server's own clustering depends on the zoom).
    if (!force && this.held && this.held.bounds.contains(view) &&
        (this.held.zoom === zoom || (!this.aggregated && zoom > this.held.zoom))) {
      return Promise.resolve();
    }
    var self = this;
    return GM.fetchView(this, {
      view: view,
      zoom: zoom,
      force: force,
      url: function (wanted) {
        return '/api/incidents' + GM.query(self.params(wanted));
      },
      onData: function (collection) {
        self.show(collection || { features: [] });
      },
      failure: '事件加载失败：',
    });
  };

  Incidents.prototype.show = function (collection) {
    var self = this;
    var features = collection.features || [];
    var wasAggregated = this.aggregated;
    this.aggregated = !!collection.aggregated;
    this.serverClusters.clearLayers();
    var total = 0;
    if (this.aggregated) {
      this.cluster.clearLayers();
      this.markers = {};
      features.forEach(function (feature) {
        var c = feature.geometry.coordinates;
        var p = feature.properties || {};
        var marker = L.marker([c[1], c[0]], { icon: countIcon(p.count || 0, p.overdue || 0) });
        marker.on('click', function () {
          self.map.setView(marker.getLatLng(), Math.min(self.map.getZoom() + 2, 18));
        });
        marker.bindTooltip(function () {
          return GM.el('span', { text: GM.fmtInt(p.count) + ' 件，超期 ' + GM.fmtInt(p.overdue) + ' 件' });
        }, { className: 'gm-tooltip' });
        self.serverClusters.addLayer(marker);
        total += p.count || 0;
      });
    } else {
      // Update in place: markers that stay keep their open popup (nobody reading one should
      // lose it because the view reloaded), only the difference is added or removed.
      if (wasAggregated) this.markers = {};
      var previous = this.markers;
      var next = {};
      var added = [];
      features.forEach(function (feature) {
        var props = feature.properties || {};
        var marker = previous[props.id];
        if (marker) {
          L.extend(marker.gmProps, props);
          marker.setStyle(markerStyle(marker.gmProps));
        } else {
          marker = self.makeMarker(props, feature.geometry.coordinates);
          added.push(marker);
        }
        next[props.id] = marker;
      });
      var removed = Object.keys(previous)
        .filter(function (id) {
          return !next[id];
        })
        .map(function (id) {
          return previous[id];
        });
      this.markers = next;
      this.cluster.removeLayers(removed);
      this.cluster.addLayers(added);
      this.cluster.refreshClusters();
      total = features.length;
    }
    GM.stats.incidents = total;
    GM.stats.aggregated = this.aggregated;
    if (GM.updateStatusBar) GM.updateStatusBar();
  };

  Incidents.prototype.makeMarker = function (props, coords) {
    var marker = L.circleMarker([coords[1], coords[0]], markerStyle(props));
    marker.gmProps = props;
    this.markers[props.id] = marker;
    marker.bindPopup(function () {
      return incidentPopup(marker.gmProps);
    }, POPUP_OPTIONS);
    return marker;
  };

  function markerStyle(props) {
    return {
      radius: props.overdue ? 9 : 7,
      color: props.overdue ? '#ff1f1f' : '#0b1020',
      weight: props.overdue ? 3 : 1.5,
      fillColor: GM.statusColor(props.status),
      fillOpacity: 0.95,
    };
  }

  function incidentPopup(props) {
    var statusName = props.status_name || GM.statusName(props.status);
    var box = GM.el('div', { class: 'gm-popup' }, [
      GM.el('div', { class: 'gm-popup-title' }, [
        GM.el('span', { class: 'gm-dot', style: 'background:' + GM.statusColor(props.status) }),
        GM.el('span', { text: (props.type_name || props.type || '事件') + ' #' + props.id }),
        props.overdue ? GM.el('span', { class: 'gm-badge gm-bad', text: '超期' }) : null,
      ]),
      GM.infoTable([
        ['状态', statusName],
        ['上报时间', GM.fmtTime(props.created_at)],
        ['办理时限', GM.fmtTime(props.due_at)],
        ['所属网格', props.grid_code],
        ['地址', props.address],
      ]),
      GM.el('div', { class: 'gm-desc', text: props.description || '' }),
    ]);
    var more = GM.el('div', { class: 'gm-history' });
    box.appendChild(more);
    // History and the actions this user may take come from the incident itself.
    GM.api('/api/incidents/' + encodeURIComponent(props.id))
      .then(function (detail) {
        renderDetail(more, detail || {});
      })
      .catch(function () {});
    return box;
  }

  function renderDetail(container, detail) {
    var history = detail.history || [];
    if (history.length) {
      container.appendChild(GM.el('div', { class: 'gm-subtitle', text: '办理过程' }));
      container.appendChild(
        GM.el(
          'ol',
          { class: 'gm-steps' },
          history.map(function (step) {
            var state = GM.statusName(step.state);
            var text = GM.fmtTime(step.at) + ' ' + (state || '') + ' · ' + (step.actor || '') +
              (step.note ? ' · ' + step.note : '');
            return GM.el('li', { text: text });
          })
        )
      );
    }
    var actions = detail.allowed_actions || [];
    if (!actions.length) return;
    var note = GM.el('input', { class: 'gm-input', placeholder: '办理意见（可选）', maxlength: '500' });
    var buttons = actions.map(function (action) {
      var code = typeof action === 'string' ? action : action.action || action.code;
      var names = detail.action_names || {};
      var label = typeof action === 'string' ? names[code] || GM.actionName(code) : action.name || code;
      return GM.el('button', {
        class: 'gm-button',
        text: label,
        onclick: function () {
          GM.api('/api/incidents/' + encodeURIComponent(detail.id) + '/transition', {
            method: 'POST',
            body: { action: code, note: note.value },
          })
            .then(function () {
              GM.toast('已提交：' + label);
            })
            .catch(function (error) {
              GM.toast('办理失败：' + error.message);
            });
        },
      });
    });
    container.appendChild(GM.el('div', { class: 'gm-actions' }, [note].concat(buttons)));
  }

  Incidents.prototype.refreshHeat = function (force) {
    var map = this.map;
    var zoom = map.getZoom();
    var view = map.getBounds();
    if (!force && this.heatHeld && this.heatHeld.zoom === zoom && this.heatHeld.bounds.contains(view)) {
      return Promise.resolve();
    }
    var wanted = view.pad(GM.VIEW_PAD);
    var self = this;
    return GM.api('/api/incidents/heat' + GM.query(this.params(wanted)))
      .then(function (answer) {
        var points = (answer && answer.points) || [];
        var max = 1;
        points.forEach(function (p) {
          if (p[2] > max) max = p[2];
        });
        self.heat.setOptions({ max: max });
        self.heat.setLatLngs(points);
        self.heatHeld = { bounds: wanted, zoom: zoom };
        GM.stats.heatPoints = points.length;
      })
      .catch(function (error) {
        GM.toast('热力图加载失败：' + error.message);
      });
  };

  Incidents.prototype.filterGrid = function (code) {
    GM.byId('gm-grid').value = code;
    this.refresh(true);
  };

  /** A change arrived over the stream: show it at once, then fill in details. */
  Incidents.prototype.onEvent = function (event) {
    GM.stats.sseEvents += 1;
    GM.stats.lastEvent = event;
    var self = this;
    var existing = this.markers[event.id];
    var visible = this.matches(event);
    if (existing) {
      L.extend(existing.gmProps, {
        status: event.status,
        status_name: GM.statusName(event.status),
        overdue: event.overdue,
      });
      if (visible) {
        existing.setStyle(markerStyle(existing.gmProps));
        if (existing.isPopupOpen()) existing.getPopup().update();
      }
      else {
        this.cluster.removeLayer(existing);
        delete this.markers[event.id];
      }
      this.cluster.refreshClusters(existing);
    } else if (visible && event.lat !== undefined && event.lon !== undefined) {
      var props = {
        id: event.id,
        status: event.status,
        type: event.type,
        type_name: GM.typeName(event.type),
        overdue: event.overdue,
        grid_code: event.grid_code,
        created_at: event.at,
      };
      var marker = this.makeMarker(props, [event.lon, event.lat]);
      if (!this.aggregated) this.cluster.addLayer(marker);
      GM.stats.incidents += 1;
      this.flash([event.lat, event.lon]);
    }
    var item = GM.feed.add(event);
    // The event carries no text; fetch the incident for its description and address.
    GM.api('/api/incidents/' + encodeURIComponent(event.id))
      .then(function (detail) {
        if (!detail) return;
        var marker = self.markers[event.id];
        if (marker) {
          L.extend(marker.gmProps, detail);
          if (marker.isPopupOpen()) marker.getPopup().update();
        }
        GM.feed.fill(item, detail);
      })
      .catch(function () {});
    if (GM.header) GM.header.refreshSoon();
  };

  Incidents.prototype.flash = function (latlng) {
    var ring = L.circleMarker(latlng, {
      radius: 18,
      color: '#ffffff',
      weight: 3,
      fill: false,
      className: 'gm-flash',
      interactive: false,
    });
    this.fresh.addLayer(ring);
    var fresh = this.fresh;
    setTimeout(function () {
      fresh.removeLayer(ring);
    }, 60000);
  };

  /** Follow /api/stream; the browser's EventSource resumes with Last-Event-ID by itself. */
  Incidents.prototype.listen = function () {
    var self = this;
    if (!window.EventSource) return;
    var source = new EventSource('/api/stream');
    this.source = source;
    source.addEventListener('incident', function (message) {
      var event;
      try {
        event = JSON.parse(message.data);
      } catch (error) {
        return;
      }
      self.onEvent(event);
    });
    source.onopen = function () {
      GM.setLive(true);
    };
    source.onerror = function () {
      GM.setLive(false);
    };
  };

  GM.Incidents = Incidents;
})();
