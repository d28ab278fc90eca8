/* Guichet console and wallboard: shared helpers. No library; every text comes from the
   page (data-textes), user data is written with textContent only. */
"use strict";

var G = (function () {
  var body = document.body;
  var T = JSON.parse(body.getAttribute("data-textes") || "{}");
  var offset = 0; // server clock - browser clock (ms)

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        var v = attrs[k];
        if (v === null || v === undefined || v === false) return;
        if (k === "text") node.textContent = v;
        else if (k === "cls") node.className = v;
        else if (k === "on") Object.keys(v).forEach(function (e) { node.addEventListener(e, v[e]); });
        else node.setAttribute(k, v === true ? "" : v);
      });
    }
    (children || []).forEach(function (c) {
      if (c === null || c === undefined) return;
      node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return node;
  }

  function setText(id, text) {
    var node = typeof id === "string" ? document.getElementById(id) : id;
    if (node && node.textContent !== String(text)) node.textContent = text;
    return node;
  }

  function replaceChildren(node, children) {
    while (node.firstChild) node.removeChild(node.firstChild);
    children.forEach(function (c) { node.appendChild(c); });
  }

  function fmt(template, values) {
    return String(template).replace(/\{(\w+)\}/g, function (_, k) { return values[k] === undefined ? "" : values[k]; });
  }

  function now() { return Date.now() + offset; }

  function syncClock(serverIso) {
    if (!serverIso) return;
    var server = Date.parse(serverIso);
    if (!isNaN(server)) offset = server - Date.now();
  }

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function duration(seconds) {
    if (seconds === null || seconds === undefined || isNaN(seconds)) return T.none || "—";
    var s = Math.max(0, Math.floor(seconds));
    if (s < 60) return s + " s";
    if (s < 3600) return Math.floor(s / 60) + " min " + pad(s % 60) + " s";
    return Math.floor(s / 3600) + " h " + pad(Math.floor((s % 3600) / 60));
  }

  function shortDuration(seconds) {
    if (seconds === null || seconds === undefined || isNaN(seconds)) return T.none || "—";
    var s = Math.max(0, Math.floor(seconds));
    if (s < 3600) return Math.floor(s / 60) + ":" + pad(s % 60);
    return Math.floor(s / 3600) + ":" + pad(Math.floor((s % 3600) / 60)) + ":" + pad(s % 60);
  }

  function since(iso) {
    if (!iso) return null;
    return (now() - Date.parse(iso)) / 1000;
  }

  function time(iso) {
    if (!iso) return "";
    var d = new Date(iso);
    return pad(d.getHours()) + ":" + pad(d.getMinutes());
  }

  function date(iso) {
    if (!iso) return "";
    var d = new Date(iso);
    return pad(d.getDate()) + "/" + pad(d.getMonth() + 1) + "/" + d.getFullYear();
  }

  function percent(v) {
    if (v === null || v === undefined) return T.none || "—";
    return (Math.round(v * 1000) / 10).toString().replace(".", ",") + " %";
  }

  function phone(raw) {
    if (!raw) return T.unknown_caller || "";
    var digits = String(raw).replace(/[^\d+]/g, "");
    if (/^\+33\d{9}$/.test(digits)) digits = "0" + digits.slice(3);
    if (/^0\d{9}$/.test(digits)) return digits.replace(/(\d{2})(?=\d)/g, "$1 ").trim();
    return raw;
  }

  function api(method, url, bodyValue) {
    var opts = { method: method, credentials: "same-origin", headers: { "Accept": "application/json" } };
    if (bodyValue !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(bodyValue);
    }
    return fetch(url, opts).then(function (resp) {
      return resp.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        if (resp.status === 401) { toLogin(); }
        if (!resp.ok) {
          var err = new Error((data && data.message) || ("HTTP " + resp.status));
          err.status = resp.status; err.data = data;
          throw err;
        }
        return data;
      });
    });
  }

  function toLogin() {
    if (window.location.pathname === "/console/connexion") return;
    window.location.assign("/console/connexion?suite=" + encodeURIComponent(window.location.pathname + window.location.search));
  }

  /* The live stream: server-sent events, reconnected by the browser; shows its status. */
  function live(url, handlers, statusNode) {
    var source = null;
    var lastMessage = 0;
    function status(s, label) {
      if (!statusNode) return;
      statusNode.setAttribute("data-status", s);
      statusNode.textContent = label;
    }
    function open() {
      source = new EventSource(url);
      source.onopen = function () { status("on", T.live); };
      source.onerror = function () {
        if (source.readyState === EventSource.CLOSED) {
          // refused (session ended, rights): check the session, then retry
          status("retry", T.reconnecting);
          api("GET", "/api/v1/me").then(function () { setTimeout(open, 3000); }, function () {});
        } else {
          status("retry", T.reconnecting);
        }
      };
      Object.keys(handlers).forEach(function (event) {
        source.addEventListener(event, function (e) {
          lastMessage = Date.now();
          var data = null;
          try { data = JSON.parse(e.data); } catch (err) { return; }
          handlers[event](data);
        });
      });
      source.addEventListener("fin", function () { source.close(); toLogin(); });
    }
    open();
    return { status: status, close: function () { if (source) source.close(); } };
  }

  var logout = document.getElementById("deconnexion");
  if (logout) {
    logout.addEventListener("click", function () {
      api("POST", "/api/v1/auth/logout").then(function () {}, function () {}).then(function () {
        window.location.assign("/console/connexion");
      });
    });
  }

  return {
    T: T, el: el, setText: setText, replaceChildren: replaceChildren, fmt: fmt, now: now, syncClock: syncClock,
    duration: duration, shortDuration: shortDuration, since: since, time: time, date: date, percent: percent,
    phone: phone, api: api, live: live, toLogin: toLogin, pad: pad
  };
})();
