/* gridmap one map: the panels around the map (header counters and clock, live feed, address
 * search, KPI table, planner workspace, legend, status bar, messages). */
(function () {
  'use strict';
  var GM = window.GridMap;

  GM.toast = function (text) {
    GM.stats.errors.push(text);
    var box = GM.byId('gm-toasts');
    if (!box) return;
    var item = GM.el('div', { class: 'gm-toast', text: text });
    box.appendChild(item);
    setTimeout(function () {
      item.remove();
    }, 6000);
  };

  GM.setLive = function (on) {
    var node = GM.byId('gm-live');
    if (!node) return;
    node.className = on ? 'gm-live gm-live-on' : 'gm-live';
    node.textContent = on ? '● 实时连接' : '○ 连接中断，重连中';
  };

  GM.typeName = function (code) {
    var types = (GM.config && GM.config.incident_types) || [];
    for (var i = 0; i < types.length; i += 1) if (types[i].code === code) return types[i].name;
    return code;
  };

  GM.statusName = function (code) {
    var statuses = GM.codeList((GM.config && GM.config.statuses) || [], GM.STATUS_NAMES);
    for (var i = 0; i < statuses.length; i += 1) if (statuses[i].code === code) return statuses[i].name;
    return GM.STATUS_NAMES[code] || code;
  };

  GM.actionName = function (code) {
    var actions = (GM.config && GM.config.actions) || [];
    for (var i = 0; i < actions.length; i += 1) if (actions[i].code === code) return actions[i].name;
    return code;
  };

  /* Header: clock and city-wide counters (sum of the district KPI rows). */
  GM.header = {
    start: function () {
      var tick = function () {
        var now = new Date();
        var pad = function (n) {
          return (n < 10 ? '0' : '') + n;
        };
        GM.setText('gm-time', pad(now.getHours()) + ':' + pad(now.getMinutes()) + ':' + pad(now.getSeconds()));
        GM.setText(
          'gm-date',
          now.getFullYear() + '年' + (now.getMonth() + 1) + '月' + now.getDate() + '日 星期' +
            '日一二三四五六'.charAt(now.getDay())
        );
      };
      tick();
      setInterval(tick, 1000);
      this.refresh();
      setInterval(this.refresh.bind(this), 60000);
      this.refreshSoon = GM.debounce(this.refresh.bind(this), 800);
    },
    refreshSoon: function () {},
    refresh: function () {
      return GM.api('/api/kpi?level=district')
        .then(function (answer) {
          var sum = { total: 0, open: 0, closed: 0, overdue: 0 };
          ((answer && answer.rows) || []).forEach(function (row) {
            Object.keys(sum).forEach(function (key) {
              sum[key] += Number(row[key]) || 0;
            });
          });
          GM.setText('gm-open', GM.fmtInt(sum.open));
          GM.setText('gm-overdue', GM.fmtInt(sum.overdue));
          GM.setText('gm-total', GM.fmtInt(sum.total));
          GM.setText('gm-closure', sum.total ? GM.fmtPct(sum.closed / sum.total) : '—');
          GM.stats.counters = sum;
        })
        .catch(function (error) {
          GM.toast('统计数据加载失败：' + error.message);
        });
    },
  };

  /* Live feed: the newest events on top, text only. */
  GM.feed = {
    add: function (event) {
      var list = GM.byId('gm-feed');
      var verb = event.event === 'created' ? '新上报' : GM.statusName(event.status);
      var item = GM.el('li', { class: 'gm-feed-item' + (event.overdue ? ' gm-feed-overdue' : '') }, [
        GM.el('div', { class: 'gm-feed-head' }, [
          GM.el('span', { class: 'gm-dot', style: 'background:' + GM.statusColor(event.status) }),
          GM.el('span', { class: 'gm-feed-verb', text: verb }),
          GM.el('span', { class: 'gm-feed-type', text: GM.typeName(event.type) || '' }),
          GM.el('span', { class: 'gm-feed-time', text: GM.fmtTime(event.at).slice(11) }),
        ]),
        GM.el('div', { class: 'gm-feed-text', text: '网格 ' + (event.grid_code || '—') }),
      ]);
      item.addEventListener('click', function () {
        if (event.lat !== undefined) GM.map.setView([event.lat, event.lon], Math.max(GM.map.getZoom(), 16));
      });
      if (list) {
        list.insertBefore(item, list.firstChild);
        while (list.children.length > 30) list.removeChild(list.lastChild);
        var empty = GM.byId('gm-feed-empty');
        if (empty) empty.remove();
      }
      return item;
    },
    fill: function (item, detail) {
      var text = item.querySelector('.gm-feed-text');
      var where = detail.address || '网格 ' + (detail.grid_code || '—');
      text.textContent = where + (detail.description ? ' · ' + detail.description : '');
    },
  };

  /* Address search: geocode, zoom, highlight the grid, show level and confidence. */
  GM.search = {
    marker: null,
    highlight: null,
    start: function () {
      var form = GM.byId('gm-search');
      var self = this;
      form.addEventListener('submit', function (event) {
        event.preventDefault();
        self.run(GM.byId('gm-q').value.trim());
      });
    },
    run: function (text) {
      var out = GM.byId('gm-search-result');
      out.textContent = '';
      if (!text) return Promise.resolve();
      out.appendChild(GM.el('div', { class: 'gm-muted', text: '正在匹配…' }));
      var self = this;
      return GM.api('/api/geocode' + GM.query({ q: text }))
        .then(function (answer) {
          self.show(answer || {});
        })
        .catch(function (error) {
          out.textContent = '';
          out.appendChild(GM.el('div', { class: 'gm-bad', text: '匹配失败：' + error.message }));
        });
    },
    show: function (answer) {
      var out = GM.byId('gm-search-result');
      var match = answer.match || {};
      out.textContent = '';
      if (this.marker) GM.map.removeLayer(this.marker);
      if (this.highlight) GM.map.removeLayer(this.highlight);
      var level = match.level || 'none';
      var confidence = Number(match.confidence) || 0;
      out.appendChild(
        GM.infoTable([
          ['标准地址', match.address || '未找到'],
          ['匹配级别', GM.LEVEL_NAMES[level] || level, level === 'none' ? 'gm-bad' : ''],
          ['置信度', (confidence * 100).toFixed(0) + '%', confidence < 0.6 ? 'gm-warn' : ''],
          ['所属网格', match.grid_code],
        ])
      );
      GM.stats.lastGeocode = match;
      if (answer.grid) {
        this.highlight = L.geoJSON(answer.grid, {
          style: { color: '#fff200', weight: 5, fillColor: '#fff200', fillOpacity: 0.18, dashArray: '10 6' },
          interactive: false,
        }).addTo(GM.map);
      }
      if (match.lat !== undefined && match.lat !== null && match.lon !== undefined) {
        this.marker = L.circleMarker([match.lat, match.lon], {
          radius: 11,
          color: '#ffffff',
          weight: 3,
          fillColor: '#fff200',
          fillOpacity: 1,
        })
          .bindTooltip(function () {
            return GM.el('span', { text: match.address || '' });
          }, { permanent: true, direction: 'top', className: 'gm-tooltip' })
          .addTo(GM.map);
      }
      if (this.highlight) GM.map.fitBounds(this.highlight.getBounds(), { maxZoom: 17, padding: [80, 80] });
      else if (this.marker) GM.map.setView(this.marker.getLatLng(), 17);
    },
  };

  /* KPI panel: table for a level, sorted by open incidents, and the CSV download. */
  GM.kpi = {
    start: function () {
      var self = this;
      GM.byId('gm-kpi-level').addEventListener('change', function () {
        self.refresh();
      });
      this.refresh();
      setInterval(this.refresh.bind(this), 60000);
    },
    refresh: function () {
      var level = GM.byId('gm-kpi-level').value;
      GM.byId('gm-kpi-csv').setAttribute('href', '/api/kpi' + GM.query({ level: level, format: 'csv' }));
      return GM.api('/api/kpi' + GM.query({ level: level }))
        .then(function (answer) {
          var rows = ((answer && answer.rows) || []).slice();
          rows.sort(function (a, b) {
            return (b.open || 0) - (a.open || 0) || (b.overdue || 0) - (a.overdue || 0);
          });
          var body = GM.byId('gm-kpi-rows');
          body.textContent = '';
          rows.slice(0, 12).forEach(function (row) {
            body.appendChild(
              GM.el('tr', { class: row.overdue > 0 ? 'gm-row-warn' : '' }, [
                GM.el('td', { class: 'gm-name', text: row.name || row.code, title: row.code }),
                GM.el('td', { text: GM.fmtInt(row.open) }),
                GM.el('td', { class: row.overdue > 0 ? 'gm-bad' : '', text: GM.fmtInt(row.overdue) }),
                GM.el('td', { text: GM.fmtPct(row.closure_rate) }),
                GM.el('td', { text: GM.fmtPct(row.on_time_rate) }),
              ])
            );
          });
          if (!rows.length) {
            body.appendChild(GM.el('tr', {}, [GM.el('td', { colspan: '5', class: 'gm-muted', text: '暂无数据' })]));
          }
        })
        .catch(function (error) {
          GM.toast('考核指标加载失败：' + error.message);
        });
    },
  };

  /* Planner workspace: current version and the loaded grids a planner should look at. */
  GM.planner = {
    thresholds: { minHouseholds: 300, maxHouseholds: 500, maxPopulation: 2500 },
    start: function (config) {
      var panel = GM.byId('gm-planner');
      var role = (config.user && config.user.role) || '';
      if (['planner', 'admin'].indexOf(role) < 0) return;
      panel.hidden = false;
      var version = config.version || {};
      GM.setText('gm-version', version.id ? '第 ' + version.id + ' 版' + (version.note ? ' · ' + version.note : '') : '未发布');
    },
    /** Flags of a grid: the partitioner's own, or the household/population band it falls outside. */
    flagsOf: function (props) {
      if (props.flags) return String(props.flags).split(';').filter(Boolean);
      var t = this.thresholds;
      var flags = [];
      if (props.kind === 'exclusive') return flags;
      if (props.households < t.minHouseholds) flags.push('户数偏少');
      if (props.households > t.maxHouseholds) flags.push('户数偏多');
      if (props.population > t.maxPopulation) flags.push('人口超限');
      return flags;
    },
    update: function (features) {
      var panel = GM.byId('gm-planner');
      if (!panel || panel.hidden) return;
      var list = GM.byId('gm-flagged');
      list.textContent = '';
      var self = this;
      var flagged = features.filter(function (f) {
        return self.flagsOf(f.properties || {}).length;
      });
      GM.setText('gm-flagged-count', flagged.length + ' / ' + features.length);
      flagged.slice(0, 40).forEach(function (feature) {
        var props = feature.properties;
        list.appendChild(
          GM.el(
            'li',
            {
              onclick: function () {
                var layer = GM.layers.grid.byCode[props.grid_code];
                if (layer) {
                  GM.map.fitBounds(layer.getBounds(), { maxZoom: 17 });
                  layer.openPopup();
                }
              },
            },
            [
              GM.el('span', { class: 'gm-code', text: props.grid_code }),
              GM.el('span', { text: GM.fmtInt(props.households) + '户 · ' + self.flagsOf(props).join('、') }),
            ]
          )
        );
      });
    },
  };

  /* Legend: layer styles, incident states and the active choropleth scale. */
  GM.legend = {
    render: function () {
      var box = GM.byId('gm-legend');
      if (!box) return;
      box.textContent = '';
      var S = GM.LAYER_STYLES;
      var line = function (style, label) {
        return GM.el('div', { class: 'gm-legend-row' }, [
          GM.el('span', {
            class: 'gm-swatch gm-swatch-line',
            style: 'border-top:' + Math.max(2, style.weight) + 'px ' + (style.dashArray ? 'dashed ' : 'solid ') + style.color,
          }),
          GM.el('span', { text: label }),
        ]);
      };
      box.appendChild(line(S.district, '区界'));
      box.appendChild(line(S.street, '街道（镇）界'));
      box.appendChild(line(S.community, '社区（村）界'));
      box.appendChild(
        GM.el('div', { class: 'gm-legend-row' }, [
          GM.el('span', { class: 'gm-swatch', style: 'border:2px solid ' + S.grid.color + ';background:rgba(53,208,255,.15)' }),
          GM.el('span', { text: '综合网格' }),
        ])
      );
      box.appendChild(
        GM.el('div', { class: 'gm-legend-row' }, [
          GM.el('span', { class: 'gm-swatch gm-swatch-hatch' }),
          GM.el('span', { text: '专属网格' }),
        ])
      );
      box.appendChild(
        GM.el('div', { class: 'gm-legend-row' }, [
          GM.el('span', { class: 'gm-swatch', style: 'border:3px solid #ff3b3b' }),
          GM.el('span', { text: '有超期事件的网格' }),
        ])
      );
      box.appendChild(line(S.roads, '道路'));
      var key = GM.state.choropleth;
      var scheme = GM.CHOROPLETHS[key];
      if (scheme && scheme.field) {
        var onCommunities = GM.communityChoropleth();
        var breaks = onCommunities ? GM.COMMUNITY_BREAKS[key] : scheme.breaks;
        var title = (onCommunities ? '社区着色：' : '网格着色：') + scheme.title;
        box.appendChild(GM.el('div', { class: 'gm-legend-title', text: title }));
        if (!onCommunities && GM.map && GM.map.getZoom() < GM.MIN_ZOOM.grid) {
          box.appendChild(GM.el('div', { class: 'gm-muted', text: '放大到 ' + GM.MIN_ZOOM.grid + ' 级显示网格' }));
        }
        scheme.colors.forEach(function (color, i) {
          var low = i === 0 ? null : breaks[i - 1];
          var high = i < breaks.length ? breaks[i] : null;
          var label =
            low === null ? '< ' + scheme.label(high) : high === null ? '≥ ' + scheme.label(low) : scheme.label(low) + ' – ' + scheme.label(high);
          box.appendChild(
            GM.el('div', { class: 'gm-legend-row' }, [
              GM.el('span', { class: 'gm-swatch', style: 'background:' + color }),
              GM.el('span', { text: label }),
            ])
          );
        });
      }
      box.appendChild(GM.el('div', { class: 'gm-legend-title', text: '事件状态' }));
      var statuses = GM.codeList((GM.config && GM.config.statuses) || Object.keys(GM.STATUS_NAMES).slice(0, 9), GM.STATUS_NAMES);
      var grid = GM.el('div', { class: 'gm-legend-grid' });
      statuses.forEach(function (s) {
        grid.appendChild(
          GM.el('div', { class: 'gm-legend-row' }, [
            GM.el('span', { class: 'gm-dot gm-dot-big', style: 'background:' + GM.statusColor(s.code) }),
            GM.el('span', { text: s.name }),
          ])
        );
      });
      grid.appendChild(
        GM.el('div', { class: 'gm-legend-row' }, [
          GM.el('span', { class: 'gm-dot gm-dot-big gm-dot-overdue' }),
          GM.el('span', { text: '超期' }),
        ])
      );
      box.appendChild(grid);
    },
  };

  GM.updateStatusBar = function () {
    if (!GM.map) return;
    var parts = [
      '缩放 ' + GM.map.getZoom(),
      '网格 ' + GM.fmtInt(GM.stats.grids),
      '事件 ' + GM.fmtInt(GM.stats.incidents) + (GM.stats.aggregated ? '（服务端聚合）' : ''),
    ];
    if (GM.map.getZoom() < GM.MIN_ZOOM.grid) parts.push('放大到 ' + GM.MIN_ZOOM.grid + ' 级显示网格');
    GM.setText('gm-statusbar-view', parts.join(' · '));
  };
})();
