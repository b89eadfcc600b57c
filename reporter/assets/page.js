(function () {
  'use strict';
  var UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  var COLORS = {'completed': 'green', 'completed-with-failures': 'yellow',
                'running': 'blue', 'listing-failed': 'red'};
  var refreshes = 0;
  var VERBS = [['start', 'Start'], ['retry-failed', 'Retry failed'], ['pause', 'Pause'],
               ['resume', 'Resume'], ['cancel', 'Cancel'], ['limits', 'Limits']];
  var csrf = null;      /* the session's CSRF token (api/session) */
  var msgs = {};        /* task -> the last action's message, kept across refreshes */
  var armed = {};       /* task -> until when its Cancel waits for the confirming click */
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
    var tr = el('tr', 'task'), td, bar, fill, p = percent(t), a, msg;
    var ctl = t.taskstate ? t.taskstate.state : null;
    tr.setAttribute('data-task', t.task);
    tr.setAttribute('data-state', t.state);
    if (ctl) tr.setAttribute('data-ctl-state', ctl);
    td = el('td');
    td.appendChild(el('div', 'name', t.task));
    if (t.src && t.dst)
      td.appendChild(el('div', 'route', loc(t.src) + ' → ' + loc(t.dst)));
    tr.appendChild(td);
    td = el('td', 'state', t.state);
    if (ctl) {
      a = el('span', 'ctl ' + ctl, ctl);
      a.setAttribute('data-testid', 'ctl-state');
      td.appendChild(document.createTextNode(' '));
      td.appendChild(a);
    }
    tr.appendChild(td);
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
    ['csv', 'jsonl'].forEach(function (f, i) {
      var a = el('a', f, f.toUpperCase());
      a.href = 'api/tasks/' + seg(t.task) + '/failed.' + f;
      a.setAttribute('data-action', 'export-' + f);
      a.setAttribute('data-task', t.task);
      if (i) td.appendChild(document.createTextNode(' '));
      td.appendChild(a);
    });
    tr.appendChild(td);
    td = el('td', 'actions');
    a = el('a', 'details', 'Details');
    a.href = 'task/' + seg(t.task);
    a.setAttribute('data-action', 'details');
    a.setAttribute('data-task', t.task);
    td.appendChild(a);
    VERBS.forEach(function (v) {
      var b = el('button', 'op', v[1]);
      b.type = 'button';
      b.setAttribute('data-action', v[0]);
      b.setAttribute('data-task', t.task);
      if (v[0] === 'cancel' && armed[t.task] > Date.now()) arm(b, true);
      td.appendChild(document.createTextNode(' '));
      td.appendChild(b);
    });
    msg = el('div', 'action-msg', msgs[t.task] || '');
    msg.setAttribute('data-task', t.task);
    msg.setAttribute('role', 'status');
    td.appendChild(msg);
    tr.appendChild(td);
    return tr;
  }
  function show(tasks) {
    var body = document.getElementById('tasks'), tr, td, i;
    while (body.firstChild) body.removeChild(body.firstChild);
    if (!tasks.length) {
      tr = el('tr');
      td = el('td', 'empty', 'No tasks yet.');
      td.colSpan = 10;
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
  /* ---- the console: session, actions, new task ---- */
  function post(u, body) {
    var h = {'Content-Type': 'application/json'};
    if (csrf) h['X-CSRF-Token'] = csrf;
    return fetch(u, {method: 'POST', headers: h, credentials: 'same-origin',
                     referrerPolicy: 'same-origin', cache: 'no-store',
                     body: body === undefined ? '' : JSON.stringify(body)})
        .then(function (r) {
          return r.json().catch(function () { return {}; }).then(function (j) {
            if (!r.ok) throw new Error(j.error || 'HTTP ' + r.status);
            return j;
          });
        });
  }
  function session(s) {
    var who = document.getElementById('session-who');
    var form = document.getElementById('login-form');
    var out = document.getElementById('logout');
    csrf = s.csrf || null;
    document.body.setAttribute('data-role', s.role);
    document.body.className = 'role-' + s.role;
    who.textContent = s.name ? s.name + ' (' + s.role + ')' : '';
    form.hidden = !!s.name || !s.tokens;   /* no tokens configured: nobody can log in */
    out.hidden = !s.name;
  }
  function loadSession() {
    return get('api/session').then(session).catch(function () {});
  }
  /* Polls the task's action log until the master's ack of command id: every
   * second for a minute, then every 5 s up to 10 minutes (a master taking
   * over); waiting(s) is told after 30 s, done(null) at the end. */
  function awaitAck(task, id, done, waiting) {
    var tries = 0;
    function again() {
      tries++;
      if (tries === 30 && waiting) waiting();
      if (tries >= 168) return done(null);
      setTimeout(once, tries < 60 ? 1000 : 5000);
    }
    function once() {
      get('api/tasks/' + seg(task) + '/actions').then(function (r) {
        var a = r.actions.filter(function (x) { return x.id === id; })[0];
        if (a && a.ack) return done(a.ack);
        again();
      }).catch(again);
    }
    once();
  }
  function say(task, text, bad) {
    var els = document.querySelectorAll('.action-msg'), i;
    msgs[task] = text;
    for (i = 0; i < els.length; i++) {
      if (els[i].getAttribute('data-task') !== task) continue;
      els[i].textContent = text;
      els[i].className = 'action-msg' + (bad ? ' bad' : '');
    }
  }
  /* Cancel is for good: a second click within 5 s confirms it. The armed
   * state is kept by task, as the rows are redrawn every 2 s. */
  function arm(b, on) {
    b.setAttribute('data-armed', on ? '1' : '0');
    b.textContent = on ? 'Really cancel?' : 'Cancel';
  }
  function act(b) {
    var task = b.getAttribute('data-task'), v = b.getAttribute('data-action');
    /* Limits: the form above the table (it outlives the table's redraws). */
    if (v === 'limits') {
      document.getElementById('limits-name').value = task;
      document.getElementById('limits-task').open = true;
      document.getElementById('limits-bandwidth').focus();
      return;
    }
    if (v === 'cancel' && !(armed[task] > Date.now())) {
      armed[task] = Date.now() + 5000;
      arm(b, true);
      setTimeout(function () {
        var x = document.querySelectorAll('button[data-action="cancel"]'), i;
        for (i = 0; i < x.length; i++)
          if (x[i].getAttribute('data-task') === task && !(armed[task] > Date.now())) arm(x[i], false);
      }, 5000);
      return;
    }
    if (v === 'cancel') {
      delete armed[task];
      arm(b, false);
    }
    say(task, v + ': sending…');
    post('api/tasks/' + seg(task) + '/' + v).then(function (r) {
      say(task, v + ': sent, waiting for the master…');
      awaitAck(task, r.id, function (ack) {
        if (!ack) say(task, v + ': no answer from the master', true);
        else if (ack.ok) say(task, v + ': done');
        else say(task, v + ': refused: ' + ack.error, true);
      }, function () { say(task, v + ': sent, still waiting for the master…'); });
    }).catch(function (e) { say(task, v + ': ' + e.message, true); });
  }
  function list(s) {
    return s.split(/[\n,]/).map(function (x) { return x.trim(); })
        .filter(function (x) { return x; });
  }
  function val(id) { return document.getElementById(id).value.trim(); }
  function where(store, bucket, prefix) {
    return val(store) + ':' + val(bucket) + (val(prefix) ? '/' + val(prefix) : '');
  }
  function create(ev) {
    var err = document.getElementById('new-error');
    var st = document.getElementById('new-status');
    var spec = {name: val('new-name'),
                source: where('new-source-store', 'new-source-bucket', 'new-source-prefix'),
                destination: where('new-dest-store', 'new-dest-bucket', 'new-dest-prefix'),
                same_name: val('new-same-name')};
    ev.preventDefault();
    if (val('new-qps-limit')) spec.qps_limit = Number(val('new-qps-limit'));
    if (val('new-bandwidth-limit')) spec.bandwidth_limit = val('new-bandwidth-limit');
    if (list(val('new-include')).length) spec.include = list(val('new-include'));
    if (list(val('new-exclude')).length) spec.exclude = list(val('new-exclude'));
    err.textContent = '';
    st.textContent = 'sending…';
    post('api/tasks', spec).then(function (r) {
      st.textContent = 'sent, waiting for the master…';
      awaitAck(spec.name, r.id, function (ack) {
        st.textContent = '';
        if (!ack) err.textContent = 'no answer from the master';
        else if (ack.ok) st.textContent = 'task ' + spec.name + ' created';
        else err.textContent = ack.error;
      }, function () { st.textContent = 'sent, still waiting for the master…'; });
    }).catch(function (e) { st.textContent = ''; err.textContent = e.message; });
  }
  function stores() {
    get('api/stores').then(function (r) {
      ['new-source-store', 'new-dest-store'].forEach(function (id) {
        var s = document.getElementById(id);
        while (s.firstChild) s.removeChild(s.firstChild);
        r.stores.forEach(function (n) {
          var o = el('option', '', n);
          o.value = n;
          s.appendChild(o);
        });
      });
    }).catch(function () {});
  }
  document.getElementById('tasks').addEventListener('click', function (ev) {
    var b = ev.target;
    if (b.tagName === 'BUTTON' && b.getAttribute('data-action')) act(b);
  });
  document.getElementById('login-form').addEventListener('submit', function (ev) {
    var t = document.getElementById('login-token');
    ev.preventDefault();
    post('login', {token: t.value}).then(function (s) {
      t.value = '';
      document.getElementById('login-error').textContent = '';
      session(s);
    }).catch(function (e) {
      document.getElementById('login-error').textContent = e.message;
    });
  });
  document.getElementById('logout').addEventListener('click', function () {
    post('logout').then(loadSession, loadSession);
  });
  document.getElementById('new-form').addEventListener('submit', create);
  /* Live limits: fields left empty keep the task's current values. */
  document.getElementById('limits-form').addEventListener('submit', function (ev) {
    var err = document.getElementById('limits-error');
    var st = document.getElementById('limits-status');
    var task = val('limits-name'), lim = {};
    ev.preventDefault();
    if (val('limits-qps')) lim.qps = Number(val('limits-qps'));
    if (val('limits-bandwidth')) lim.bandwidth = val('limits-bandwidth');
    if (val('limits-schedule')) lim.schedule = list(val('limits-schedule'));
    err.textContent = '';
    st.textContent = 'sending…';
    post('api/tasks/' + seg(task) + '/limits', {limits: lim}).then(function (r) {
      st.textContent = 'sent, waiting for the master…';
      awaitAck(task, r.id, function (ack) {
        st.textContent = '';
        if (!ack) err.textContent = 'no answer from the master yet';
        else if (ack.ok) st.textContent = 'limits of ' + task + ' set';
        else err.textContent = ack.error;
      });
    }).catch(function (e) { st.textContent = ''; err.textContent = e.message; });
  });
  loadSession();
  stores();
  setInterval(refresh, 2000);
})();
