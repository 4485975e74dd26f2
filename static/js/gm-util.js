/* gridmap one map: small helpers shared by the other scripts (DOM building, API calls, formats).
 * Every piece of text reaches the page through textContent, never parsed as markup, so HTML or
 * script inside data (incident descriptions, addresses, names) stays inert text. */
(function () {
  'use strict';
  var GM = (window.GridMap = window.GridMap || {});

  // Figures the tests and the benchmark read from the running page.
  GM.stats = { requests: 0, inflight: 0, bytes: 0, grids: 0, incidents: 0, sseEvents: 0, errors: [] };

  /** el('div', {class: 'x', text: 'hello', onclick: fn}, [children]) -> HTMLElement. */
  GM.el = function (tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      var value = attrs[key];
      if (value === undefined || value === null) return;
      if (key === 'text') node.textContent = String(value);
      else if (key === 'class') node.className = value;
      else if (key.slice(0, 2) === 'on') node.addEventListener(key.slice(2), value);
      else if (key === 'style') node.style.cssText = value;
      else node.setAttribute(key, value);
    });
    (children || []).forEach(function (child) {
      if (child === null || child === undefined) return;
      node.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
    });
    return node;
  };

  GM.byId = function (id) {
    return document.getElementById(id);
  };

  GM.setText = function (id, text) {
    var node = GM.byId(id);
    if (node) node.textContent = text;
  };

  /** GET/POST JSON from the API with the session cookie; rejects with the API's error message. */
  GM.api = function (path, options) {
    options = options || {};
    var init = {
      method: options.method || 'GET',
      credentials: 'same-origin',
      headers: { Accept: 'application/json' },
      signal: options.signal,
    };
    if (options.body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(options.body);
    }
    GM.stats.requests += 1;
    GM.stats.inflight += 1;
    var done = function () {
      GM.stats.inflight -= 1;
    };
    return fetch(path, init)
      .then(function (response) {
        if (response.status === 401) {
          window.location.href = '/login?next=' + encodeURIComponent(window.location.pathname);
          throw new Error('未登录');
        }
        return response.text().then(function (body) {
          GM.stats.bytes += body.length;
          var data = null;
          try {
            data = body ? JSON.parse(body) : null;
          } catch (error) {
            data = null;
          }
          if (!response.ok) {
            var message = (data && data.error) || response.status + ' ' + response.statusText;
            GM.stats.errors.push(path + ': ' + message);
            throw new Error(message);
          }
          return data;
        });
      })
      .finally(done);
  };

  /**
   * Fetch data for the padded map view into `owner` (which holds `pending` and `held`): a request
   * already on its way for this zoom and a view around this one is reused (unless `force`), an
   * older one is aborted; `onData` runs only for the newest answer, after `owner.held` is set.
   */
  GM.fetchView = function (owner, options) {
    var view = options.view;
    var zoom = options.zoom;
    var asked = owner.pending && owner.pending.extent;
    if (!options.force && asked && asked.zoom === zoom && asked.bounds.contains(view)) {
      return owner.pending.promise;
    }
    if (owner.pending) owner.pending.abort();
    var controller = new AbortController();
    owner.pending = controller;
    var wanted = view.pad(GM.VIEW_PAD);
    controller.extent = { bounds: wanted, zoom: zoom };
    controller.promise = GM.api(options.url(wanted), { signal: controller.signal })
      .then(function (data) {
        if (owner.pending !== controller) return;
        owner.pending = null;
        owner.held = { bounds: wanted, zoom: zoom };
        options.onData(data);
      })
      .catch(function (error) {
        if (error.name !== 'AbortError') GM.toast(options.failure + error.message);
      });
    return controller.promise;
  };

  /** Query string from an object, skipping empty values. */
  GM.query = function (params) {
    var parts = [];
    Object.keys(params).forEach(function (key) {
      var value = params[key];
      if (value === undefined || value === null || value === '') return;
      if (Array.isArray(value)) {
        if (!value.length) return;
        value = value.join(',');
      }
      parts.push(encodeURIComponent(key) + '=' + encodeURIComponent(value));
    });
    return parts.length ? '?' + parts.join('&') : '';
  };

  GM.bboxParam = function (bounds) {
    return [bounds.getWest(), bounds.getSouth(), bounds.getEast(), bounds.getNorth()]
      .map(function (v) {
        return v.toFixed(5);
      })
      .join(',');
  };

  GM.fmtInt = function (value) {
    if (value === null || value === undefined || isNaN(value)) return '—';
    return Number(value).toLocaleString('zh-CN');
  };

  GM.fmtPct = function (value) {
    if (value === null || value === undefined || isNaN(value)) return '—';
    return (Number(value) * 100).toFixed(1) + '%';
  };

  GM.fmtArea = function (m2) {
    if (m2 === null || m2 === undefined || isNaN(m2)) return '—';
    return m2 >= 1e5 ? (m2 / 1e6).toFixed(2) + ' 平方公里' : Math.round(m2).toLocaleString('zh-CN') + ' 平方米';
  };

  GM.fmtTime = function (iso) {
    if (!iso) return '—';
    var date = new Date(iso);
    if (isNaN(date.getTime())) return String(iso);
    var pad = function (n) {
      return (n < 10 ? '0' : '') + n;
    };
    return (
      date.getFullYear() + '-' + pad(date.getMonth() + 1) + '-' + pad(date.getDate()) + ' ' +
      pad(date.getHours()) + ':' + pad(date.getMinutes())
    );
  };

  GM.debounce = function (fn, ms) {
    var timer = null;
    return function () {
      var args = arguments;
      clearTimeout(timer);
      timer = setTimeout(function () {
        fn.apply(null, args);
      }, ms);
    };
  };

  /** A table (for popups and panels): rows of [label, value]. */
  GM.infoTable = function (rows) {
    return GM.el(
      'table',
      { class: 'gm-info' },
      rows.map(function (row) {
        return GM.el('tr', { class: row[2] || '' }, [
          GM.el('th', { text: row[0] }),
          GM.el('td', { text: row[1] === undefined || row[1] === null ? '—' : row[1] }),
        ]);
      })
    );
  };

  // Chinese labels for codes the API may send without a name.
  GM.STATUS_NAMES = {
    reported: '上报',
    accepted: '受理',
    dispatched: '派遣',
    handling: '处置',
    resolved: '反馈',
    verified: '核查',
    closed: '结案',
    rejected: '不予受理',
    rework: '返工',
    returned: '返工',
  };
  GM.STATUS_COLORS = {
    reported: '#ff4d4f',
    accepted: '#ff9f1c',
    dispatched: '#ffd60a',
    handling: '#2ec4ff',
    resolved: '#3ddc97',
    verified: '#7bd88f',
    closed: '#6c7a89',
    rejected: '#8d99ae',
    rework: '#e040fb',
    returned: '#e040fb',
  };
  GM.LEVEL_NAMES = {
    room: '室',
    unit: '单元',
    building: '楼栋',
    door: '门牌',
    compound: '小区',
    road: '道路',
    community: '社区',
    town: '街道',
    district: '区县',
    none: '未匹配',
  };
  GM.KIND_NAMES = { comprehensive: '综合网格', exclusive: '专属网格' };

  GM.statusColor = function (status) {
    return GM.STATUS_COLORS[status] || '#ff4d4f';
  };

  /** Normalise config lists that may hold strings or {code, name} objects. */
  GM.codeList = function (items, names) {
    return (items || []).map(function (item) {
      if (typeof item === 'string') return { code: item, name: (names && names[item]) || item };
      return { code: item.code, name: item.name || (names && names[item.code]) || item.code };
    });
  };
})();
