/**
 * The console's script, served as `/console.js`: search, pagination,
 * explanations and live updates from `/v1/events`. Plain browser
 * JavaScript, no build step; every value goes into the page as text
 * (`textContent`), never as HTML.
 */
export const CONSOLE_SCRIPT = String.raw`'use strict';
(function () {
  var pageSize = Number(document.body.dataset.pageSize) || 50;
  var current = { page: 1, filters: {} };
  var total = 0;
  var refreshTimer = null;

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }
  function row(cells) {
    var tr = document.createElement('tr');
    cells.forEach(function (c) { var td = document.createElement('td'); if (typeof c === 'string') td.textContent = c; else td.appendChild(c); tr.appendChild(td); });
    return tr;
  }
  function getJson(url) {
    return fetch(url, { headers: { Accept: 'application/json' }, credentials: 'same-origin' }).then(function (r) {
      return r.json().then(function (body) { if (!r.ok) throw new Error(body.error || ('HTTP ' + r.status)); return body; });
    });
  }
  function query(params) {
    var q = new URLSearchParams();
    Object.keys(params).forEach(function (k) { if (params[k] !== '' && params[k] !== undefined) q.set(k, String(params[k])); });
    return q.toString();
  }
  function link(text, cls, onClick) {
    var a = el('a', text, cls);
    a.href = '#';
    a.addEventListener('click', function (ev) { ev.preventDefault(); onClick(); });
    return a;
  }
  function replaceBody(tableId, rows) {
    var tbody = document.querySelector('#' + tableId + ' tbody');
    tbody.replaceChildren.apply(tbody, rows);
  }

  function loadNodes() {
    var params = Object.assign({}, current.filters, { page: current.page, per_page: pageSize });
    return getJson('v1/nodes?' + query(params)).then(function (p) {
      total = p.total;
      replaceBody('nodes', p.nodes.map(function (n) {
        var tr = row([n.group, link(n.id, 'node-link', function () { explain(n.group, n.node); }), n.exporter_type, n.address, n.status]);
        tr.dataset.group = n.group;
        tr.dataset.node = n.node;
        return tr;
      }));
      var pages = Math.max(1, Math.ceil(p.total / p.page_size));
      document.getElementById('pager').textContent = 'page ' + p.page + ' of ' + pages + ' (' + p.total + ' nodes)';
    });
  }
  function loadGroups() {
    var maxGroups = Number(document.body.dataset.maxGroups) || 200;
    return getJson('v1/groups').then(function (groups) {
      document.getElementById('groups-more').textContent = groups.length > maxGroups ? maxGroups + ' of ' + groups.length + ' groups shown; search by group for the others' : '';
      replaceBody('groups', groups.slice(0, maxGroups).map(function (g) {
        var tr = row([link(g.name, 'group-link', function () { search({ group: g.name }); }), String(g.nodes), g.exporter_types.join(', ')]);
        tr.dataset.group = g.name;
        return tr;
      }));
    });
  }
  function loadInvalid() {
    return getJson('v1/invalid?per_page=100').then(function (p) {
      document.getElementById('invalid-count').textContent = String(p.total);
      replaceBody('invalid', p.documents.map(function (d) { return row([el('code', d.key), d.reason, d.detail]); }));
    });
  }
  function loadStatus() {
    return getJson('readyz').catch(function () { return null; }).then(function (s) {
      if (!s) return;
      document.getElementById('status-etcd').textContent = s.etcd_connected ? 'connected' : ('not connected' + (s.etcd_error ? ': ' + s.etcd_error : ''));
      document.getElementById('status-revision').textContent = String(s.revision);
      document.getElementById('status-staleness').textContent = s.staleness_seconds === null ? 'never' : s.staleness_seconds.toFixed(1) + ' s ago';
    });
  }
  function refresh() {
    refreshTimer = null;
    return Promise.all([loadNodes(), loadGroups(), loadInvalid(), loadStatus()]).then(function () {
      document.body.dataset.refreshed = String(Date.now());
    }, function (err) { document.getElementById('status-live').textContent = 'refresh failed: ' + err.message; });
  }
  function scheduleRefresh() {
    if (refreshTimer === null) refreshTimer = setTimeout(refresh, 200);
  }
  function search(filters) {
    current = { page: 1, filters: filters };
    var form = document.getElementById('search');
    Array.prototype.forEach.call(form.elements, function (i) { if (i.name) i.value = filters[i.name] || ''; });
    return loadNodes();
  }

  function labelTable(labels) {
    var t = el('table');
    t.appendChild(row(['from', 'label', 'what happened', 'rule']));
    labels.forEach(function (l) {
      var what = l.action + (l.to && l.to !== l.name ? ' → ' + l.to : '');
      var tr = row([l.source, l.name, what, l.rule]);
      tr.className = l.action;
      t.appendChild(tr);
    });
    return t;
  }
  function explain(group, node) {
    return getJson('v1/explain/' + encodeURIComponent(group) + '/' + encodeURIComponent(node)).then(function (x) {
      var body = document.getElementById('explain-body');
      var parts = [];
      parts.push(el('p', x.served ? 'Served.' : 'Not served: ' + x.problem.reason + ' (' + x.problem.detail + ')', x.served ? 'kept' : 'dropped'));
      var g = x.group_document;
      parts.push(el('p', 'Group document: ' + g.document + (g.problem ? ' (' + g.problem.reason + ': ' + g.problem.detail + ')' : '') + '; scrape credentials: ' + g.credentials + '.'));
      if (x.address) parts.push(el('p', 'Address rule: ' + x.address.rule + (x.address.value ? ' → ' + x.address.value : '')));
      if (x.labels.length > 0) parts.push(labelTable(x.labels));
      if (x.document) { parts.push(el('h3', 'Document')); parts.push(el('pre', JSON.stringify(x.document, null, 2))); }
      if (x.target) { parts.push(el('h3', 'Target')); parts.push(el('pre', JSON.stringify(x.target, null, 2))); }
      body.replaceChildren.apply(body, parts);
      document.getElementById('explain-title').textContent = group + ' / ' + node;
      document.getElementById('explain').hidden = false;
    });
  }

  document.getElementById('search').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var filters = {};
    Array.prototype.forEach.call(ev.target.elements, function (i) { if (i.name && i.value.trim() !== '') filters[i.name] = i.value.trim(); });
    search(filters);
  });
  document.getElementById('prev').addEventListener('click', function () { if (current.page > 1) { current.page--; loadNodes(); } });
  document.getElementById('next').addEventListener('click', function () { if (current.page * pageSize < total) { current.page++; loadNodes(); } });
  document.querySelectorAll('#nodes tbody tr').forEach(function (tr) {
    tr.querySelector('.node-link').addEventListener('click', function (ev) { ev.preventDefault(); explain(tr.dataset.group, tr.dataset.node); });
  });
  document.querySelectorAll('#groups tbody tr').forEach(function (tr) {
    tr.querySelector('.group-link').addEventListener('click', function (ev) { ev.preventDefault(); search({ group: tr.dataset.group }); });
  });
  total = Number((document.getElementById('pager').textContent.match(/\((\d+) nodes\)/) || [0, 0])[1]);

  if (window.EventSource) {
    var live = document.getElementById('status-live');
    var events = new EventSource('v1/events');
    events.addEventListener('sync', function (e) { live.textContent = 'on (revision ' + e.lastEventId + ')'; document.body.dataset.live = 'on'; });
    ['added', 'changed', 'removed', 'reset'].forEach(function (type) {
      events.addEventListener(type, function (e) { live.textContent = 'on (revision ' + e.lastEventId + ')'; scheduleRefresh(); });
    });
    events.onerror = function () { live.textContent = 'reconnecting…'; document.body.dataset.live = 'off'; };
  }
})();
`;
