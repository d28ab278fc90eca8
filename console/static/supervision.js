/* Supervision wallboard: renders the "tableau" events of the live stream; waits and times
   in state tick every second from the instants the server sent. */
"use strict";
(function () {
  var T = G.T;
  var el = G.el;
  var data = null;
  var SVGNS = "http://www.w3.org/2000/svg";
  var DAYS = ["dimanche", "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi"];
  var MONTHS = ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
    "octobre", "novembre", "décembre"];

  function levelSL(v, target) {
    if (v === null || v === undefined) return "";
    if (v >= target) return "ok";
    return v >= target - 0.05 ? "warn" : "bad";
  }
  function levelAb(v, target) {
    if (v === null || v === undefined) return "";
    if (v <= target * 0.7) return "ok";
    return v <= target ? "warn" : "bad";
  }
  function setLevel(id, level) {
    var node = document.getElementById(id);
    if (level) node.setAttribute("data-level", level); else node.removeAttribute("data-level");
  }
  function gauge(barId, targetId, value, target, scale) {
    var bar = document.getElementById(barId);
    var w = value === null || value === undefined ? 0 : Math.min(1, value / scale) * 100;
    bar.style.width = w + "%";
    document.getElementById(targetId).style.left = Math.min(100, (target / scale) * 100) + "%";
  }
  function plural(n, one, many) { return n + " " + (n > 1 ? many : one); }

  function renderKpis(d) {
    var t = d.total, tg = d.targets, live = d.live.ok;
    G.setText("total-attente", live ? String(t.waiting) : T.none);
    var busy = d.queues.filter(function (q) { return q.waiting > 0; })
      .map(function (q) { return q.label + " " + q.waiting; });
    G.setText("total-attente-sub", !live ? T.stale : (busy.length ? busy.join(" · ") : "aucun appel en file"));
    var noOne = d.queues.some(function (q) { return q.waiting > 0 && q.operators.available === 0 && q.operators.ringing === 0; });
    setLevel("kpi-attente", !live ? "" : (t.waiting === 0 ? "ok" : (noOne ? "bad" : "warn")));

    G.setText("total-ns", G.percent(t.service_level));
    G.setText("total-ns-sub", t.decided ? (t.answered_in_time + " répondus en moins de " + tg.pickup_seconds + " s sur " +
      t.decided + " · objectif " + G.percent(tg.service_level)) : "aucun appel terminé · objectif " + G.percent(tg.service_level));
    setLevel("kpi-ns", levelSL(t.service_level, tg.service_level));
    gauge("total-ns-bar", "total-ns-target", t.service_level, tg.service_level, 1);

    G.setText("total-abandon", G.percent(t.abandonment));
    G.setText("total-abandon-sub", t.decided ? (plural(t.abandoned, "abandon", "abandons") + " sur " + t.decided +
      " · maximum " + G.percent(tg.abandonment)) : "maximum " + G.percent(tg.abandonment));
    setLevel("kpi-abandon", levelAb(t.abandonment, tg.abandonment));
    gauge("total-abandon-bar", "total-abandon-target", t.abandonment, tg.abandonment, Math.max(0.3, tg.abandonment * 3));

    G.setText("total-traites", String(t.answered));
    G.setText("total-traites-sub", "sur " + t.presented + " présentés" +
      (t.mean_wait_answered !== null ? " · attente moy. " + G.duration(t.mean_wait_answered) : ""));

    G.setText("total-rappels", String(t.callbacks_pending));
    G.setText("total-rappels-sub", t.callbacks_late ? t.callbacks_late + " en retard" : (t.callbacks_pending ? "dans les délais" : ""));
    setLevel("kpi-rappels", t.callbacks_late ? "warn" : "");

    G.setText("total-courriels", String(t.mails_waiting));
    var mailSub = "";
    if (t.mails_late) mailSub = t.mails_late + " hors délai (1 h ouvrée)";
    else if (t.mails_waiting && t.mails_first_remaining !== null) mailSub = "le plus urgent : " + G.fmt(T.remaining, { d: G.duration(t.mails_first_remaining) });
    G.setText("total-courriels-sub", mailSub);
    setLevel("kpi-courriels", t.mails_late ? "bad" : (t.mails_waiting ? "warn" : ""));

    G.setText("total-chats", String(t.chats_waiting));
    setLevel("kpi-chats", t.chats_waiting ? "warn" : "");
  }

  function renderAlerts(d) {
    var box = document.getElementById("alertes");
    var items = d.alerts.map(function (a) {
      return el("div", { cls: "alert", "data-level": a.level, "data-kind": a.kind, text: a.message });
    });
    G.replaceChildren(box, items);
  }

  function cell(text, cls) { return el("td", { cls: cls || "num", text: text }); }

  function opsCell(ops) {
    function one(n, state, title) {
      return el("span", { cls: n ? "" : "z", title: title }, [el("span", { cls: "dot s-" + state }), String(n)]);
    }
    return el("td", { cls: "num" }, [el("span", { cls: "ops" }, [
      one(ops.available, "available", T.states.available),
      one(ops.on_call + ops.ringing, "on_call", T.states.on_call),
      one(ops.wrap_up, "wrap_up", T.states.wrap_up),
      one(ops.paused, "paused", T.states.paused)
    ])]);
  }

  function queueRow(q, tg, live) {
    var ops = q.operators;
    var waitCls = !live ? "num" : (q.waiting === 0 ? "num zero" : (ops.available === 0 ? "num hot" : "num warm"));
    var sl = q.service_level, ab = q.abandonment;
    var slCls = "num " + ({ ok: "good", warn: "warm", bad: "hot" }[levelSL(sl, tg.service_level)] || "");
    var abCls = "num " + ({ ok: "good", warn: "warm", bad: "hot" }[levelAb(ab, tg.abandonment)] || "");
    var longest = el("td", { cls: q.oldest_entered_at ? "num" : "num zero", "data-depuis": q.oldest_entered_at || "",
      text: live ? (q.oldest_entered_at ? G.shortDuration(G.since(q.oldest_entered_at)) : "0:00") : T.none });
    return el("tr", { "data-file": q.code }, [
      el("td", { cls: "q-name", text: q.label }),
      cell(live ? String(q.waiting) : T.none, waitCls), longest,
      opsCell(ops),
      cell(String(q.presented), q.presented ? "num" : "num zero"), cell(String(q.answered), q.answered ? "num" : "num zero"),
      cell(String(q.abandoned), q.abandoned ? "num" : "num zero"),
      cell(G.percent(sl), slCls), cell(G.percent(ab), abCls),
      cell(String(q.callbacks_pending), q.callbacks_pending ? "num" : "num zero"),
      cell(String(q.mails_waiting), q.mails_waiting ? "num" : "num zero"),
      cell(String(q.chats_waiting), q.chats_waiting ? "num" : "num zero")
    ]);
  }

  function renderQueues(d) {
    var live = d.live.ok;
    G.replaceChildren(document.getElementById("files-corps"), d.queues.map(function (q) { return queueRow(q, d.targets, live); }));
    G.replaceChildren(document.getElementById("files-total"), [queueRow(d.total, d.targets, live)]);
    var note = document.getElementById("files-note");
    note.textContent = live ? "" : T.stale;
    Array.prototype.forEach.call(document.querySelectorAll(".pickup"), function (n) { n.textContent = d.targets.pickup_seconds; });
  }

  function renderOperators(d) {
    var counts = {};
    var rows = d.operators.map(function (o) {
      counts[o.state] = (counts[o.state] || 0) + 1;
      var stateCell = el("td", {}, [el("span", { cls: "state", "data-state": o.state, text: T.states[o.state] || o.state }),
        o.pause_reason ? el("span", { cls: "reason", text: o.pause_reason }) : null]);
      return el("tr", { cls: o.state === "logged_out" ? "off" : "", "data-conseiller": o.id }, [
        el("td", {}, [el("a", { href: "/console?operateur=" + encodeURIComponent(o.id), text: o.name })]),
        stateCell,
        el("td", { cls: "num", "data-depuis": o.state === "logged_out" ? "" : (o.since || ""),
          text: o.state === "logged_out" || !o.since ? "" : G.shortDuration(G.since(o.since)) }),
        el("td", { text: o.queue ? (labelOf(d, o.queue)) : "" }),
        el("td", { cls: "num", text: String(o.answered_today) }),
        el("td", { cls: "num", text: o.chats ? String(o.chats) : "" })
      ]);
    });
    G.replaceChildren(document.getElementById("conseillers"), rows);
    var parts = [];
    ["on_call", "ringing", "wrap_up", "available", "paused"].forEach(function (s) {
      if (counts[s]) parts.push(counts[s] + " " + (T.states[s] || s).toLowerCase());
    });
    G.setText("conseillers-resume", parts.length ? parts.join(" · ") : "aucun conseiller connecté");
  }

  function labelOf(d, code) {
    for (var i = 0; i < d.queues.length; i++) if (d.queues[i].code === code) return d.queues[i].label;
    return code;
  }

  function svg(tag, attrs, text) {
    var node = document.createElementNS(SVGNS, tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function niceMax(v) {
    // four equal steps of a round size: 1, 2, 3, 4, 5, 10, 15, 20, 25, 50, 75, 100…
    var steps = [1, 2, 3, 4, 5, 10, 15, 20, 25, 50, 75, 100, 150, 200, 250, 500, 750, 1000, 2500, 5000];
    for (var i = 0; i < steps.length; i++) if (steps[i] * 4 >= v) return steps[i] * 4;
    return Math.ceil(v / 4000) * 4000;
  }

  function renderChart(d) {
    var c = d.chart, n = c.slots.length;
    var W = 960, H = 250, L = 40, R = 44, TOP = 14, B = 28;
    var pw = W - L - R, ph = H - TOP - B;
    var root = svg("svg", { viewBox: "0 0 " + W + " " + H, preserveAspectRatio: "xMidYMid meet" });
    var totals = [];
    for (var i = 0; i < n; i++) totals.push(c.answered_in_time[i] + c.answered_late[i] + c.abandoned[i] + c.lost[i] + c.pending[i]);
    var max = niceMax(Math.max.apply(null, totals.concat([1])));
    var ticks = 4;
    for (var k = 0; k <= ticks; k++) {
      var y = TOP + ph - (ph * k) / ticks;
      root.appendChild(svg("line", { x1: L, x2: W - R, y1: y, y2: y, "class": k ? "grid" : "axis" }));
      root.appendChild(svg("text", { x: L - 6, y: y + 4, "text-anchor": "end" }, String(Math.round((max * k) / ticks))));
      root.appendChild(svg("text", { x: W - R + 6, y: y + 4 }, (25 * k) + " %"));
    }
    if (!n) { G.replaceChildren(document.getElementById("graphe"), [root]); return; }
    var band = pw / n, bw = Math.max(4, Math.min(28, band * 0.62));
    var nowMs = G.now();
    c.starts.forEach(function (s, i) {
      var start = Date.parse(s);
      if (nowMs >= start && nowMs < start + 1800000) {
        root.appendChild(svg("rect", { x: L + i * band, y: TOP, width: band, height: ph, "class": "now" }));
      }
    });
    var series = [["answered_in_time", "b-ok"], ["answered_late", "b-late"], ["abandoned", "b-ab"], ["lost", "b-lost"], ["pending", "b-wait"]];
    for (var j = 0; j < n; j++) {
      var x = L + j * band + (band - bw) / 2, acc = 0;
      series.forEach(function (sr) {
        var v = c[sr[0]][j];
        if (!v) return;
        var h = (ph * v) / max;
        var rect = svg("rect", { x: x, y: TOP + ph - ((acc + v) * ph) / max, width: bw, height: h, "class": sr[1] });
        rect.appendChild(svg("title", {}, c.slots[j] + " : " + v));
        root.appendChild(rect);
        acc += v;
      });
      if (c.slots[j].slice(3) === "00" || n <= 12) {
        root.appendChild(svg("text", { x: L + j * band + band / 2, y: H - 9, "text-anchor": "middle" }, c.slots[j].replace(":00", " h").replace(":", " h ")));
      }
    }
    var target = d.targets.service_level;
    var ty = TOP + ph - ph * target;
    root.appendChild(svg("line", { x1: L, x2: W - R, y1: ty, y2: ty, "class": "target" }));
    root.appendChild(svg("text", { x: W - R - 4, y: ty - 5, "text-anchor": "end", fill: "#b42318" }, "objectif " + G.percent(target)));
    var pts = [];
    c.service_level.forEach(function (v, i) {
      if (v === null || v === undefined) return;
      pts.push([L + i * band + band / 2, TOP + ph - ph * v]);
    });
    if (pts.length > 1) root.appendChild(svg("polyline", { points: pts.map(function (p) { return p.join(","); }).join(" "), "class": "sl" }));
    pts.forEach(function (p) { root.appendChild(svg("circle", { cx: p[0], cy: p[1], r: 3.5, "class": "sl-dot" })); });
    G.replaceChildren(document.getElementById("graphe"), [root]);
  }

  function render(d) {
    data = d;
    G.syncClock(d.at);
    renderKpis(d);
    renderAlerts(d);
    renderQueues(d);
    renderOperators(d);
    renderChart(d);
    tick();
  }

  function tick() {
    var now = new Date(G.now());
    G.setText("horloge", G.pad(now.getHours()) + ":" + G.pad(now.getMinutes()) + ":" + G.pad(now.getSeconds()));
    G.setText("date-du-jour", DAYS[now.getDay()] + " " + now.getDate() + " " + MONTHS[now.getMonth()] + " " + now.getFullYear());
    if (!data) return;
    Array.prototype.forEach.call(document.querySelectorAll("[data-depuis]"), function (node) {
      var iso = node.getAttribute("data-depuis");
      if (iso) G.setText(node, G.shortDuration(G.since(iso)));
    });
    var t = data.total;
    if (data.live.ok) {
      G.setText("total-attente-max", t.oldest_entered_at ? G.shortDuration(G.since(t.oldest_entered_at)) : "0:00");
      var wait = t.oldest_entered_at ? G.since(t.oldest_entered_at) : 0;
      setLevel("kpi-attente-max", wait > data.targets.alert_wait_seconds ? "bad" : (wait > data.targets.alert_wait_seconds / 2 ? "warn" : "ok"));
      G.setText("total-attente-max-sub", "seuil d'alerte " + G.duration(data.targets.alert_wait_seconds));
    } else {
      G.setText("total-attente-max", T.none);
      setLevel("kpi-attente-max", "");
    }
  }

  var status = document.getElementById("direct");
  var stream = G.live("/api/v1/console/live?vue=supervision", {
    tableau: function (d) {
      render(d);
      if (!d.live.ok) stream.status("stale", T.stale);
      else stream.status("on", T.live);
    }
  }, status);
  setInterval(tick, 1000);
  tick();
  window.guichetWallboard = { data: function () { return data; } };
})();
