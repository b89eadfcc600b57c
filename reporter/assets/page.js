(function () {
  'use strict';
  var UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  var COLORS = {'completed': 'green', 'completed-with-failures': 'yellow',
                'running': 'blue', 'listing-failed': 'red'};
  var refreshes = 0;
  function bytes(b) {
    var u = 0;
    b = b > 0 ? b : 0;
    while (b >= 1024 && u + 1 < UNITS.length) { b /= 1024; u++; }
    return u ? b.toFixed(1) + ' ' + UNITS[u] : Math.round(b) + ' B';
  }
  function dur(s) {
    var f = Math.floor;
    if (s === null || s === undefined || s < 0) return '-';
    if (s >= 86400) return f(s / 86400) + 'd' + f(s % 86400 / 3600) + 'h';
    if (s >= 3600)
      return f(s / 3600) + 'h' + f(s % 3600 / 60) + 'm' + s % 60 + 's';
    if (s >= 60) return f(s / 60) + 'm' + s % 60 + 's';
    return s + 's';
  }
  function seg(s) {
    return encodeURIComponent(s).replace(/[!'()*]/g, function (c) {
      return '%' + c.charCodeAt(0).toString(16).toUpperCase();
    });
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = String(text);
    return e;
  }
  function reasons(o) {
    return Object.keys(o || {}).map(function (k) { return k + ' ' + o[k]; })
        .join(', ');
  }
  function loc(l) {
    return l.store + ':' + l.bucket + (l.prefix ? '/' + l.prefix : '');
  }
  function percent(t) {
    if (t.totals_known)
      return t.total_objects ? 100 * t.done_objects / t.total_objects : 100;
    return t.listed_objects ? 100 * t.done_objects / t.listed_objects : 0;
  }
  function row(t) {
    var tr = el('tr', 'task'), td, bar, fill, p = percent(t);
    tr.setAttribute('data-task', t.task);
    tr.setAttribute('data-state', t.state);
    td = el('td');
    td.appendChild(el('div', 'name', t.task));
    if (t.src && t.dst)
      td.appendChild(el('div', 'route', loc(t.src) + ' → ' + loc(t.dst)));
    tr.appendChild(td);
    tr.appendChild(el('td', 'state', t.state));
    td = el('td', 'progress');
    bar = el('div', 'bar');
    bar.setAttribute('data-percent', p.toFixed(1));
    fill = el('div', 'fill ' + (COLORS[t.state] || 'grey'));
    fill.style.width = Math.min(p, 100).toFixed(1) + '%';
    bar.appendChild(fill);
    td.appendChild(bar);
    td.appendChild(el('span', 'pct', t.totals_known ? p.toFixed(1) + '%' :
                                                   'listing…'));
    tr.appendChild(td);
    td = el('td', 'num objects',
            t.done_objects + ' / ' + (t.totals_known ? t.total_objects : '?'));
    td.appendChild(el('div', 'detail', 'copied ' + t.copied + ' · skipped ' +
                                       t.skipped + ' · failed ' + t.failed));
    tr.appendChild(td);
    tr.appendChild(el('td', 'num bytes', bytes(t.done_bytes) + ' / ' +
                      (t.totals_known ? bytes(t.total_bytes) : '?')));
    tr.appendChild(el('td', 'num rate', bytes(t.bytes_per_s) + '/s · ' +
                      t.objects_per_s.toFixed(1) + ' obj/s'));
    tr.appendChild(el('td', 'num eta', dur(t.eta_s)));
    td = el('td', 'failures', t.failed);
    if (t.failed)
      td.appendChild(el('div', 'reasons', reasons(t.failed_by_reason)));
    tr.appendChild(td);
    td = el('td', 'links');
    if (t.failed) {
      ['csv', 'jsonl'].forEach(function (f, i) {
        var a = el('a', f, f.toUpperCase());
        a.href = 'api/tasks/' + seg(t.task) + '/failed.' + f;
        if (i) td.appendChild(document.createTextNode(' '));
        td.appendChild(a);
      });
    } else {
      td.textContent = '—';
    }
    tr.appendChild(td);
    return tr;
  }
  function show(tasks) {
    var body = document.getElementById('tasks'), tr, td, i;
    while (body.firstChild) body.removeChild(body.firstChild);
    if (!tasks.length) {
      tr = el('tr');
      td = el('td', 'empty', 'No tasks yet.');
      td.colSpan = 9;
      tr.appendChild(td);
      body.appendChild(tr);
    }
    for (i = 0; i < tasks.length; i++) body.appendChild(row(tasks[i]));
  }
  function reporter(r) {
    document.getElementById('reporter').textContent =
        (r.caught_up ? 'caught up' : 'catching up') + ' · ' + r.records +
        ' records read' + (r.lag !== null ? ' · lag ' + r.lag : '') +
        (r.rejected ? ' · ' + r.rejected + ' rejected' : '');
  }
  function get(u) {
    return fetch(u, {cache: 'no-store'}).then(function (r) {
      if (!r.ok) throw new Error(u + ': HTTP ' + r.status);
      return r.json();
    });
  }
  function refresh() {
    var u = document.getElementById('updated');
    Promise.all([get('api/tasks'), get('api/reporter')]).then(function (v) {
      show(v[0]);
      reporter(v[1]);
      refreshes++;
      document.body.setAttribute('data-refreshes', String(refreshes));
      u.className = '';
      u.textContent = 'updated ' + new Date().toLocaleTimeString() +
                      ', every 2 s';
    }).catch(function (e) {
      u.className = 'stale';
      u.textContent = 'refresh failed (' + e.message +
                      '): the figures may be old';
    });
  }
  setInterval(refresh, 2000);
})();
