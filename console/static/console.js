/* Operator console: state, the call's ticket form (qualify, resolve, redirect, escalate),
   mails to take in charge, chats held, callbacks. Live events say *what* changed; the
   data itself comes from the JSON API (roles checked, reads of personal data audited). */
"use strict";
(function () {
  var T = G.T;
  var el = G.el;
  var body = document.body;
  var operatorId = body.getAttribute("data-operateur");
  var canAct = body.getAttribute("data-agir") === "oui";
  var catalogue = null;
  var state = { state: "logged_out", since: null, call_id: null };
  var current = null; // {ref, callId, ticket, context}
  var shownCall = null;
  var loadingCall = false;
  var critManual = false;
  var mails = { items: [], fetchedAt: 0, running: false };

  function $(id) { return document.getElementById(id); }

  function message(text, ok) {
    var node = $("message-ticket");
    node.textContent = text || "";
    node.className = "form-message" + (text ? (ok ? " ok" : " bad") : "");
  }

  function errorText(err) { return G.fmt(T.error, { message: err.message }); }

  /* --- state ------------------------------------------------------------------------- */

  var stateAt = 0;

  function renderState(s) {
    // The state comes from the live stream and from the work fetch: a fetch answered late
    // (computed before a newer live event) must not put an old state back on screen.
    var at = s.at ? Date.parse(s.at) : NaN;
    if (!isNaN(at)) {
      if (at < stateAt) return;
      stateAt = at;
    }
    state = s;
    G.syncClock(s.at);
    var badge = $("etat");
    badge.setAttribute("data-state", s.state);
    var label = T.states[s.state] || s.state;
    if (s.state === "paused" && s.pause_reason) label += " · " + reasonLabel(s.pause_reason);
    badge.textContent = label;
    tickState();
    if (current && current.callId && s.call_id !== current.callId) {
      $("titre-appel").textContent = "Appel terminé";
    }
    if (!canAct) return;
    var st = s.state;
    $("btn-disponible").disabled = !(st === "logged_out" || st === "paused" || st === "wrap_up");
    $("btn-pause").disabled = !(st === "available" || st === "paused" || st === "wrap_up");
    $("btn-fin-post-appel").hidden = st !== "wrap_up";
    $("btn-deconnecter-acd").disabled = st === "logged_out" || st === "on_call" || st === "ringing";
    $("btn-disponible").textContent = st === "logged_out" ? "Commencer le service" : "Disponible";
  }

  function reasonLabel(code) {
    var select = $("motif-pause");
    if (!select) return code;
    for (var i = 0; i < select.options.length; i++) if (select.options[i].value === code) return select.options[i].textContent;
    return code;
  }

  function tickState() {
    G.setText("etat-depuis", state.since && state.state !== "logged_out" ? G.shortDuration(G.since(state.since)) : "");
  }

  function changeState(action, reason) {
    var payload = { action: action };
    if (reason) payload.reason = reason;
    return G.api("POST", "/api/v1/acd/operators/" + operatorId + "/state", payload).then(null, function (err) {
      message(errorText(err), false);
    });
  }

  if (canAct) {
    $("btn-disponible").addEventListener("click", function () {
      var action = { logged_out: "login", paused: "unpause", wrap_up: "end_wrap_up" }[state.state];
      if (action) changeState(action);
    });
    $("btn-pause").addEventListener("click", function () {
      var reason = $("motif-pause").value;
      if (state.state === "logged_out") return;
      changeState("pause", reason);
    });
    $("btn-fin-post-appel").addEventListener("click", function () { changeState("end_wrap_up"); });
    $("btn-deconnecter-acd").addEventListener("click", function () { changeState("logout"); });
  }

  /* --- queue strip ----------------------------------------------------------------------- */

  function renderQueues(list) {
    var items = list.map(function (q) {
      var wait = q.oldest_entered_at ? G.since(q.oldest_entered_at) : 0;
      var cls = q.waiting ? (wait > 40 ? "late" : "busy") : "";
      return el("li", { cls: cls, "data-file": q.code }, [
        el("span", { text: q.label }),
        el("strong", { text: q.waiting === null ? T.none : String(q.waiting) }),
        el("span", { cls: "muted small", "data-depuis": q.waiting ? (q.oldest_entered_at || "") : "",
          text: q.waiting && q.oldest_entered_at ? G.shortDuration(wait) : "" })
      ]);
    });
    G.replaceChildren($("files"), items);
  }

  /* --- catalogue and the ticket form --------------------------------------------------------- */

  function option(value, label) { return el("option", { value: value, text: label }); }

  function fillCatalogue(cat) {
    catalogue = cat;
    var app = $("f-application");
    cat.applications.filter(function (a) { return a.active; }).forEach(function (a) { app.appendChild(option(a.code, a.label)); });
    var type = $("f-type");
    cat.request_types.filter(function (r) { return r.active; }).forEach(function (r) { type.appendChild(option(r.code, r.label)); });
    var crit = $("f-criticite");
    [1, 2, 3].forEach(function (c) { crit.appendChild(option(String(c), T.criticality[String(c)])); });
    var sev = $("f-severite");
    cat.severities.forEach(function (s) { sev.appendChild(option(String(s.level), s.label)); });
  }

  function appOf(code) { return catalogue.applications.filter(function (a) { return a.code === code; })[0]; }
  function typeOf(code) { return catalogue.request_types.filter(function (r) { return r.code === code; })[0]; }

  function fillComponents(appCode, selected) {
    var comp = $("f-composant");
    G.replaceChildren(comp, [option("", "— aucun —")]);
    var app = appCode ? appOf(appCode) : null;
    (app ? app.components : []).forEach(function (c) { comp.appendChild(option(c.code, c.label)); });
    comp.value = selected || "";
    comp.disabled = !app || !app.components.length;
  }

  function defaultCriticality() {
    if (critManual) return;
    var app = appOf($("f-application").value);
    if (!app) return;
    var comp = app.components.filter(function (c) { return c.code === $("f-composant").value; })[0];
    $("f-criticite").value = String(comp ? comp.criticality : app.criticality);
  }

  function updatePriority() {
    var out = $("f-priorite");
    var c = $("f-criticite").value, s = $("f-severite").value;
    if (!c || !s || !catalogue) {
      out.textContent = T.priority_unknown;
      out.removeAttribute("data-critical");
      out.setAttribute("data-priority", "");
      return;
    }
    var p = catalogue.priority_matrix[c][s];
    out.setAttribute("data-priority", String(p));
    out.setAttribute("data-critical", p <= 2 ? "oui" : "non");
    out.textContent = "P" + p + " · " + (p <= 2 ? T.priority_critical : T.priority_normal);
  }

  function updateRequestType() {
    var rt = typeOf($("f-type").value);
    var redirect = rt && rt.redirect_to;
    $("reorientation").hidden = !redirect;
    if (redirect) $("reorientation").textContent = "Demande hors périmètre du support : réorienter l'usager vers « " + redirect + " », puis résoudre.";
    $("btn-reorienter").hidden = !redirect || !canAct;
    $("btn-resoudre").hidden = !!redirect;
    if (!$("escalade").hidden) buildEscalationFields();
  }

  function buildEscalationFields() {
    var rt = typeOf($("f-type").value);
    var fields = rt ? rt.escalation_fields : [];
    var known = (current && current.ticket && current.ticket.escalation_info) || {};
    var nodes = fields.map(function (f) {
      var id = "esc-" + f;
      var previous = document.getElementById(id);
      return el("div", { cls: "field" }, [
        el("label", { "for": id, text: (T.escalation_fields[f] || f.replace(/_/g, " ")) + " *" }),
        el("input", { id: id, "data-champ": f, required: true, "aria-required": "true",
          value: previous ? previous.value : (known[f] || "") })
      ]);
    });
    if (!fields.length) nodes.push(el("p", { cls: "muted", text: "Ce type de demande n'exige pas d'information particulière." }));
    G.replaceChildren($("escalade-champs"), nodes);
  }

  $("f-application").addEventListener("change", function () { fillComponents(this.value); defaultCriticality(); updatePriority(); });
  $("f-composant").addEventListener("change", function () { defaultCriticality(); updatePriority(); });
  $("f-criticite").addEventListener("change", function () { critManual = true; updatePriority(); });
  $("f-severite").addEventListener("change", updatePriority);
  $("f-type").addEventListener("change", updateRequestType);

  function showForm(context, call) {
    var t = context.ticket;
    current = { ref: t ? t.reference : null, ticket: t, callId: call ? call.id : null, context: context };
    $("pas-d-appel").hidden = true;
    $("fiche").hidden = false;
    $("fermer-fiche").hidden = false;
    message("");
    var banner = document.querySelector(".call-banner");
    if (call) {
      G.setText("appel-numero", G.phone(call.caller_raw || call.caller_number));
      G.setText("appel-public", labelAudience(call.audience));
      G.setText("appel-heure", call.answered_at ? "Décroché à " + G.time(call.answered_at) +
        (call.wait_seconds !== null ? " · attente " + G.duration(call.wait_seconds) : "") : "");
      $("titre-appel").textContent = "Appel en cours";
      banner.classList.remove("pop"); void banner.offsetWidth; banner.classList.add("pop");
    } else if (t) {
      var who = context.requester ? (context.requester.emails[0] || context.requester.phones[0] || "") : "";
      G.setText("appel-numero", who ? (t.channel === "phone" ? G.phone(who) : who) : T.channels[t.channel]);
      G.setText("appel-public", t.audience ? labelAudience(t.audience) : T.channels[t.channel]);
      G.setText("appel-heure", "Reçu le " + G.date(t.created_at) + " à " + G.time(t.created_at));
      $("titre-appel").textContent = "Ticket " + t.reference;
    }
    G.setText("appel-ticket", t ? t.reference : "…");
    var r = context.requester;
    G.setText("demandeur-nom", r ? ([r.display_name, r.organisation].filter(Boolean).join(" — ") ||
      (r.phones.concat(r.emails).map(G.phone).join(", "))) : T.new_requester);
    var rows = context.previous_tickets.map(function (p) {
      return el("tr", {}, [el("td", { text: G.date(p.created_at) }), el("td", {}, [el("span", { cls: "ticket-ref", text: p.reference })]),
        el("td", { text: T.channels[p.channel] || p.channel }), el("td", { text: p.request_type_label || p.subject || T.none }),
        el("td", {}, [el("span", { cls: "badge " + (p.status === "resolved" || p.status === "closed" ? "badge-ok" : "badge-muted"),
          text: T.ticket_status[p.status] || p.status })])]);
    });
    if (!rows.length) rows = [el("tr", {}, [el("td", { colspan: "5", cls: "muted", text: T.no_previous })])];
    G.replaceChildren($("precedents"), rows);
    critManual = false;
    $("f-application").value = t && t.application ? t.application : "";
    fillComponents($("f-application").value, t && t.component);
    $("f-type").value = t && t.request_type ? t.request_type : "";
    $("f-criticite").value = t && t.criticality ? String(t.criticality) : "";
    if (t && t.criticality) critManual = true;
    $("f-severite").value = t && t.severity ? String(t.severity) : "";
    $("f-objet").value = t ? t.subject || "" : "";
    $("f-description").value = t ? t.description || "" : "";
    if (!$("f-criticite").value) defaultCriticality();
    $("escalade").hidden = true;
    updateRequestType();
    updatePriority();
    var open = t && t.allowed_actions && t.allowed_actions.indexOf("resolve") >= 0;
    setFormEnabled(!!(t && canAct && open));
    if (t && !open) message("Ce ticket est " + (T.ticket_status[t.status] || t.status).toLowerCase() + ".", true);
  }

  function labelAudience(code) {
    if (!code) return T.none;
    var a = catalogue && catalogue.audiences.filter(function (x) { return x.code === code; })[0];
    return a ? a.label : code;
  }

  function setFormEnabled(on) {
    Array.prototype.forEach.call(document.querySelectorAll("#form-ticket select, #form-ticket input, #form-ticket textarea, #form-ticket button"),
      function (n) { n.disabled = !on; });
    if (on) fillComponents($("f-application").value, $("f-composant").value);
  }

  function closeForm() {
    current = null;
    $("fiche").hidden = true;
    $("pas-d-appel").hidden = false;
    $("fermer-fiche").hidden = true;
    $("titre-appel").textContent = "Appel en cours";
  }
  $("fermer-fiche").addEventListener("click", closeForm);

  function loadCall(callId, attempt) {
    attempt = attempt || 0;
    if (!attempt) {
      // Already on screen (a push repeated, a reconnection): never reset what the operator typed.
      if (current && current.callId === callId && current.ref) return Promise.resolve();
      if (shownCall === callId && loadingCall) return Promise.resolve();
    }
    shownCall = callId;
    loadingCall = true;
    return G.api("GET", "/api/v1/console/calls/" + encodeURIComponent(callId)).then(function (ctx) {
      if (shownCall !== callId) return;
      if (current && current.callId === callId && current.ref) { loadingCall = false; return; }
      if (!ctx.ticket && attempt < 10) {
        G.setText("appel-numero", G.phone(ctx.call.caller_raw || ctx.call.caller_number));
        setTimeout(function () { loadCall(callId, attempt + 1); }, 400);
        return;
      }
      loadingCall = false;
      showForm(ctx, ctx.call);
    }, function (err) { loadingCall = false; message(errorText(err), false); });
  }

  function loadTicket(ref) {
    shownCall = null;
    return G.api("GET", "/api/v1/console/tickets/" + encodeURIComponent(ref)).then(function (ctx) { showForm(ctx, null); },
      function (err) { message(errorText(err), false); });
  }

  function qualification() {
    var q = {};
    var app = $("f-application").value, comp = $("f-composant").value, type = $("f-type").value;
    var crit = $("f-criticite").value, sev = $("f-severite").value;
    if (app) q.application = app;
    if (app && comp) q.component = comp;
    if (type) q.request_type = type;
    if (crit) q.criticality = parseInt(crit, 10);
    if (sev) q.severity = parseInt(sev, 10);
    q.subject = $("f-objet").value.trim();
    q.description = $("f-description").value;
    return q;
  }

  function invalid(node, on) { if (on) node.setAttribute("aria-invalid", "true"); else node.removeAttribute("aria-invalid"); }

  function requireQualified() {
    var missing = null;
    [["f-type", "Type de demande"], ["f-application", "Application"], ["f-severite", "Sévérité"]].forEach(function (f) {
      var node = $(f[0]);
      invalid(node, !node.value);
      if (!node.value && !missing) missing = f;
    });
    if (missing) {
      message("Renseignez « " + missing[1] + " » avant de clore la demande.", false);
      $(missing[0]).focus();
      return false;
    }
    return true;
  }

  function saveQualification() {
    return G.api("PATCH", "/api/v1/tickets/" + encodeURIComponent(current.ref) + "/qualification", qualification())
      .then(function (t) { current.ticket = Object.assign({}, current.ticket, t); return t; });
  }

  function act(action, extra) {
    return G.api("POST", "/api/v1/tickets/" + encodeURIComponent(current.ref) + "/actions", Object.assign({ action: action }, extra || {}));
  }

  function finished(text) {
    message(text, true);
    setFormEnabled(false);
    $("escalade").hidden = true;
    refreshWork();
  }

  function busy(fn) {
    return function () {
      if (!current || !current.ref) return;
      setFormEnabled(false);
      Promise.resolve(fn()).then(null, function (err) {
        setFormEnabled(true);
        var field = err.data && err.data.field;
        if (field && document.getElementById("esc-" + field)) invalid(document.getElementById("esc-" + field), true);
        message(errorText(err), false);
      });
    };
  }

  $("btn-enregistrer").addEventListener("click", busy(function () {
    return saveQualification().then(function () { setFormEnabled(true); message(T.saved, true); });
  }));
  $("btn-resoudre").addEventListener("click", busy(function () {
    if (!requireQualified()) { setFormEnabled(true); return; }
    return saveQualification().then(function () { return act("resolve", { note: $("f-description").value.slice(0, 10000) }); })
      .then(function (t) { finished(G.fmt(T.resolved, { ref: t.reference })); });
  }));
  $("btn-reorienter").addEventListener("click", busy(function () {
    if (!requireQualified()) { setFormEnabled(true); return; }
    var to = typeOf($("f-type").value).redirect_to;
    return saveQualification().then(function () { return act("resolve", { note: G.fmt(T.redirect_note, { to: to }) }); })
      .then(function (t) { finished(G.fmt(T.redirected, { ref: t.reference, to: to })); });
  }));
  $("btn-escalader").addEventListener("click", function () {
    if (!$("f-type").value) { invalid($("f-type"), true); message("Choisissez d'abord le type de demande : il dit ce dont le N2 a besoin.", false); $("f-type").focus(); return; }
    invalid($("f-type"), false);
    buildEscalationFields();
    $("escalade").hidden = false;
    var first = document.querySelector("#escalade-champs input");
    if (first) first.focus();
  });
  $("btn-annuler-escalade").addEventListener("click", function () { $("escalade").hidden = true; });
  $("btn-confirmer-escalade").addEventListener("click", busy(function () {
    if (!requireQualified()) { setFormEnabled(true); return; }
    var info = {}, missing = null;
    Array.prototype.forEach.call(document.querySelectorAll("#escalade-champs input[data-champ]"), function (input) {
      var v = input.value.trim();
      invalid(input, !v);
      if (!v && !missing) missing = input;
      info[input.getAttribute("data-champ")] = v;
    });
    if (missing) {
      setFormEnabled(true);
      message(G.fmt(T.required, { field: missing.previousSibling.textContent.replace(" *", "") }), false);
      missing.focus();
      return;
    }
    var extra = { escalation_info: info, note: $("f-note-escalade").value.trim() };
    if ($("f-glpi").value.trim()) extra.glpi_reference = $("f-glpi").value.trim();
    return saveQualification().then(function () { return act("escalate", extra); })
      .then(function (t) { finished(G.fmt(T.escalated, { ref: t.reference })); });
  }));

  /* --- work lists ---------------------------------------------------------------------------- */

  function none(text) { return el("li", { cls: "none", text: text }); }

  function renderMails(data) {
    mails = { items: data.items, fetchedAt: Date.now(), running: data.clock_running };
    G.setText("nb-courriels", String(data.items.length));
    G.setText("courriels-horloge", data.clock_running ? "Objectif : prise en charge en moins d'une heure ouvrée." : T.clock_stopped);
    var items = data.items.map(function (m, i) {
      return el("li", { cls: "stack", "data-ticket": m.reference }, [
        el("div", { cls: "line" }, [el("span", { cls: "title", text: m.subject || "(sans objet)" }),
          el("span", { cls: "badge remaining", "data-courriel": String(i) })]),
        el("div", { cls: "line" }, [
          el("span", { cls: "sub", text: [m.reference, m.from || "", "reçu le " + G.date(m.received_at) + " à " + G.time(m.received_at)].filter(Boolean).join(" · ") }),
          canAct ? el("button", { type: "button", cls: "btn btn-small btn-act", text: "Prendre en charge",
            on: { click: function () { take(m.reference); } } }) : null])
      ]);
    });
    G.replaceChildren($("courriels"), items.length ? items : [none("Aucun courriel en attente.")]);
    tickMails();
  }

  function tickMails() {
    var elapsed = mails.running ? (Date.now() - mails.fetchedAt) / 1000 : 0;
    Array.prototype.forEach.call(document.querySelectorAll("[data-courriel]"), function (node) {
      var m = mails.items[parseInt(node.getAttribute("data-courriel"), 10)];
      if (!m) return;
      var left = m.remaining_seconds - elapsed;
      node.className = "badge remaining " + (left <= 0 ? "badge-bad" : (left < 900 ? "badge-warn" : "badge-ok"));
      G.setText(node, left <= 0 ? G.fmt(T.overdue, { d: G.duration(-left) }) : G.fmt(T.remaining, { d: G.duration(left) }));
    });
  }

  function take(ref) {
    G.api("POST", "/api/v1/console/tickets/" + encodeURIComponent(ref) + "/take").then(function (ctx) {
      showForm(ctx, null);
      message(G.fmt(T.taken, { ref: ref }), true);
      refreshMails();
      refreshWork();
    }, function (err) { message(errorText(err), false); });
  }

  function renderCallbacks(data) {
    G.setText("nb-rappels", String(data.items.length));
    var items = data.items.map(function (cb) {
      var late = cb.state === "scheduled" && Date.parse(cb.next_attempt_at) < G.now();
      return el("li", {}, [
        el("div", { cls: "grow" }, [el("span", { cls: "title", text: G.phone(cb.number) + " · " + labelAudience(cb.audience) }),
          el("span", { cls: "sub", text: (cb.kind === "virtual_hold" ? "Rappel demandé" : "Appel perdu") +
            " · tentative " + (cb.attempts + 1) + " · prévu à " + G.time(cb.next_attempt_at) })]),
        el("span", { cls: "badge " + (cb.state === "dialing" ? "badge-ok" : (late ? "badge-warn" : "badge-muted")),
          text: T.callback_states[cb.state] || cb.state }),
        canAct && cb.state === "scheduled" ? el("button", { type: "button", cls: "btn btn-small btn-act", text: "Rappeler",
          on: { click: function () {
            G.api("POST", "/api/v1/callbacks/" + cb.id + "/trigger").then(function () { message(T.callback_triggered, true); refreshCallbacks(); },
              function (err) { message(errorText(err), false); });
          } } }) : null
      ]);
    });
    G.replaceChildren($("rappels"), items.length ? items : [none("Aucun rappel à effectuer.")]);
  }

  function renderWork(w) {
    var chats = w.chats;
    G.setText("nb-chats", String(chats.items.length));
    G.setText("chats-attente", chats.available ? (chats.waiting ? chats.waiting + " chat(s) en attente d'un conseiller." : "Aucun chat en attente.") : "Chat non installé sur ce serveur.");
    G.replaceChildren($("chats"), chats.items.length ? chats.items.map(function (c) {
      return el("li", {}, [el("div", { cls: "grow" }, [el("span", { cls: "title", text: (c.visitor_name || "Visiteur") + " · " + labelAudience(c.audience) }),
        el("span", { cls: "sub", text: c.reference + " · depuis " + G.time(c.answered_at || c.entered_at) })]),
        el("a", { cls: "btn btn-small", href: "/operateur/chat", text: "Répondre" })]);
    }) : [none("Aucun chat en cours.")]);
    G.replaceChildren($("mes-tickets"), w.open_tickets.length ? w.open_tickets.map(function (t) {
      return el("li", {}, [el("div", { cls: "grow" }, [el("span", { cls: "title", text: t.subject || (T.channels[t.channel] + " du " + G.date(t.created_at)) }),
        el("span", { cls: "sub", text: t.reference + " · " + (T.ticket_status[t.status] || t.status) + (t.priority ? " · P" + t.priority : "") })]),
        el("button", { type: "button", cls: "btn btn-small", text: "Ouvrir", on: { click: function () { loadTicket(t.reference); } } })]);
    }) : [none("Aucun ticket ouvert.")]);
    renderState(w.state);
  }

  function refreshMails() { return G.api("GET", "/api/v1/console/mail-queue").then(renderMails, function () {}); }
  function refreshCallbacks() { return G.api("GET", "/api/v1/callbacks?state=open&limit=50").then(renderCallbacks, function () {}); }
  function refreshWork() { return G.api("GET", "/api/v1/console/operators/" + operatorId + "/work").then(renderWork, function () {}); }

  /* --- live ----------------------------------------------------------------------------- */

  function onState(s) {
    renderState(s);
    if (s.call_id && s.state === "on_call" && s.call_id !== shownCall && s.call_id.indexOf("cb-") !== 0) loadCall(s.call_id);
  }

  G.api("GET", "/api/v1/catalogue").then(function (cat) {
    fillCatalogue(cat);
    refreshWork();
    refreshMails();
    refreshCallbacks();
    G.live("/api/v1/console/live?vue=console&operateur=" + encodeURIComponent(operatorId), {
      etat: onState,
      files: renderQueues,
      appel: function (a) { loadCall(a.call_id); },
      travail: function () { refreshMails(); refreshCallbacks(); refreshWork(); }
    }, $("direct"));
  });

  setInterval(function () {
    tickState();
    tickMails();
    Array.prototype.forEach.call(document.querySelectorAll("#files [data-depuis]"), function (node) {
      var iso = node.getAttribute("data-depuis");
      if (iso) G.setText(node, G.shortDuration(G.since(iso)));
    });
  }, 1000);
  window.guichetConsole = { current: function () { return current; } };
})();
