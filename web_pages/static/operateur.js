/* Espace conseiller du chat (minimal ; la console complète est un autre chantier).
   Connexion avec le compte du conseiller (cookie de session), puis websocket : se rendre
   disponible, recevoir les propositions, accepter ou refuser, répondre, clore.
   Les textes reçus sont insérés avec textContent, jamais comme du HTML. */
(function () {
  'use strict';
  var root = document.getElementById('operateur');
  if (!root) { return; }
  var $ = function (id) { return document.getElementById(id); };
  var MAX = parseInt(root.getAttribute('data-max'), 10) || 2000;
  var loginForm = $('op-connexion');
  var desk = $('op-poste');
  var alertBox = $('op-alerte');
  var stateLine = $('op-etat');
  var btnAvailable = $('op-dispo');
  var btnPause = $('op-pause');
  var offers = $('op-offres');
  var convs = $('op-conversations');
  var model = $('modele-conversation');
  var ws = null;
  var me = { status: 'offline', load: 0, capacity: 3 };
  var conversations = {};
  var early = {};  // messages relayed before their conversation's frame arrived
  var counter = 0;
  var retries = 0;

  function show(el, on) { el.hidden = !on; }
  function alertText(text) { alertBox.textContent = text || ''; show(alertBox, !!text); }
  function hour(iso) { return new Date(iso).toLocaleTimeString('fr-FR', { hour: '2-digit', minute: '2-digit' }); }
  var STATUS = { available: 'disponible', paused: 'en pause', offline: 'hors ligne' };
  function refreshState() {
    stateLine.textContent = 'Vous êtes ' + (STATUS[me.status] || me.status) + '. Conversations en cours : ' +
      me.load + ' sur ' + me.capacity + '.';
    show(btnAvailable, me.status !== 'available');
    show(btnPause, me.status === 'available');
    show($('op-aucune-offre'), !offers.children.length);
    show($('op-aucune-conversation'), !Object.keys(conversations).length);
  }
  function send(frame) { if (ws && ws.readyState === WebSocket.OPEN) { ws.send(JSON.stringify(frame)); } }

  /* --- login ---------------------------------------------------------------------------- */
  function start() {
    fetch('/api/v1/me', { credentials: 'same-origin' }).then(function (r) {
      if (r.status === 401) { show(loginForm, true); show(desk, false); return; }
      return r.json().then(function () { show(loginForm, false); connect(); });
    }).catch(function () { alertText('Le service ne répond pas.'); });
  }
  loginForm.addEventListener('submit', function (ev) {
    ev.preventDefault();
    fetch('/api/v1/auth/login', {
      method: 'POST', credentials: 'same-origin', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username: $('op-identifiant').value, password: $('op-mot-de-passe').value })
    }).then(function (r) {
      if (!r.ok) { alertText('Identifiant ou mot de passe incorrect.'); return; }
      alertText('');
      $('op-mot-de-passe').value = '';
      show(loginForm, false);
      connect();
    });
  });

  /* --- websocket -------------------------------------------------------------------------- */
  function connect() {
    ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + root.getAttribute('data-ws'));
    ws.onopen = function () { retries = 0; alertText(''); };
    ws.onmessage = function (ev) {
      var f;
      try { f = JSON.parse(ev.data); } catch (e) { return; }
      handle(f);
    };
    ws.onclose = function (ev) {
      ws = null;
      if (ev.reason) { alertText(ev.reason); }
      retries += 1;
      stateLine.textContent = 'Connexion interrompue : reconnexion en cours…';
      setTimeout(start, Math.min(10000, 500 * Math.pow(2, Math.min(retries, 5))));
    };
  }

  function handle(f) {
    switch (f.type) {
      case 'hello':
        show(desk, true);
        me.status = f.status; me.load = f.load; me.capacity = f.capacity;
        offers.textContent = '';
        (f.conversations || []).forEach(openConversation);
        if (f.offer) { addOffer(f.offer); }
        refreshState();
        break;
      case 'status':
        me.status = f.status; me.load = f.load; me.capacity = f.capacity;
        if (f.pause_reason === 'absent') { alertText('Vous avez été mis en pause : plusieurs propositions sont restées sans réponse.'); }
        refreshState();
        break;
      case 'offer': addOffer(f); break;
      case 'offer_withdrawn': removeOffer(f.conversation); break;
      case 'conversation': removeOffer(f.conversation); openConversation(f); me.load = Object.keys(conversations).length; refreshState(); break;
      case 'message': {
        var c = conversations[f.conversation];
        if (c) { addMessage(c, f); c.typing.textContent = ''; }
        else { (early[f.conversation] = early[f.conversation] || []).push(f); }
        break;
      }
      case 'ack': {
        var k = conversations[f.conversation];
        if (k && k.pending[f.id]) {
          var li = k.pending[f.id];
          delete k.pending[f.id];
          li.classList.remove('message--en-attente');
          var s = li.querySelector('.message__statut'); if (s) { s.parentNode.removeChild(s); }
          var when = li.querySelector('time');
          if (when && f.at) { when.textContent = ' · ' + hour(f.at); when.setAttribute('datetime', f.at); }
          if (!k.bySeq[f.seq]) { k.bySeq[f.seq] = li; place(k, li, f.seq); } else if (k.bySeq[f.seq] !== li) { li.parentNode.removeChild(li); }
        }
        break;
      }
      case 'typing': {
        var t = conversations[f.conversation];
        if (t) {
          clearTimeout(t.typingTimer);
          t.typing.textContent = f.on ? 'L\u2019usager écrit…' : '';
          if (f.on) { t.typingTimer = setTimeout(function () { t.typing.textContent = ''; }, 8000); }
        }
        break;
      }
      case 'user_status': {
        var u = conversations[f.conversation];
        if (u) { u.state.textContent = f.connected ? 'L\u2019usager est connecté.' : 'L\u2019usager s\u2019est déconnecté : il peut revenir dans quelques instants.'; }
        break;
      }
      case 'requeued':
      case 'ended': {
        var e = conversations[f.conversation];
        if (e) {
          e.state.textContent = f.type === 'ended' ? 'Conversation terminée.' : 'Conversation remise dans la file d\u2019attente.';
          e.form.hidden = true;
          delete conversations[f.conversation];
          setTimeout(function () { if (e.el.parentNode) { e.el.parentNode.removeChild(e.el); } refreshState(); }, 4000);
        }
        removeOffer(f.conversation);
        me.load = Object.keys(conversations).length;
        refreshState();
        break;
      }
      case 'error': {
        var x = f.conversation && conversations[f.conversation];
        if (x && f.id && x.pending[f.id]) {
          var pl = x.pending[f.id]; delete x.pending[f.id];
          pl.classList.add('message--echec');
          setStatus(pl, 'Non envoyé : ' + f.message);
        } else { alertText(f.message); }
        break;
      }
      default: break;
    }
  }

  /* --- offers ------------------------------------------------------------------------------- */
  function addOffer(f) {
    removeOffer(f.conversation);
    var li = document.createElement('li');
    li.className = 'offre';
    li.setAttribute('data-conversation', f.conversation);
    var title = document.createElement('p');
    var strong = document.createElement('strong');
    strong.textContent = f.reference + ' — ' + f.audience_label + (f.overflow ? ' (débordement)' : '');
    title.appendChild(strong);
    var info = document.createElement('p');
    info.textContent = (f.visitor_name ? f.visitor_name + ' · ' : '') + 'en attente depuis ' + Math.round(f.wait_seconds) + ' s';
    var preview = document.createElement('p');
    preview.className = 'message__texte';
    preview.textContent = f.preview;
    var actions = document.createElement('p');
    actions.className = 'actions';
    var ok = document.createElement('button');
    ok.type = 'button'; ok.className = 'bouton'; ok.textContent = 'Accepter';
    ok.setAttribute('aria-label', 'Accepter la conversation ' + f.reference);
    ok.addEventListener('click', function () { send({ type: 'accept', conversation: f.conversation }); });
    var no = document.createElement('button');
    no.type = 'button'; no.className = 'bouton bouton--secondaire'; no.textContent = 'Refuser';
    no.setAttribute('aria-label', 'Refuser la conversation ' + f.reference);
    no.addEventListener('click', function () { send({ type: 'decline', conversation: f.conversation }); removeOffer(f.conversation); });
    actions.appendChild(ok); actions.appendChild(no);
    li.appendChild(title); li.appendChild(info); li.appendChild(preview); li.appendChild(actions);
    offers.appendChild(li);
    refreshState();
  }
  function removeOffer(id) {
    var li = offers.querySelector('li[data-conversation="' + id + '"]');
    if (li) { li.parentNode.removeChild(li); }
    refreshState();
  }

  /* --- conversations ------------------------------------------------------------------------- */
  function build(from, text, at) {
    var li = document.createElement('li');
    li.className = 'message ' + (from === 'system' ? 'message--systeme' : from === 'operator' ? 'message--soi' : 'message--autre');
    if (from !== 'system') {
      var meta = document.createElement('p');
      meta.className = 'message__meta';
      var who = document.createElement('span');
      who.className = 'message__auteur';
      who.textContent = from === 'operator' ? 'Vous' : 'Usager';
      meta.appendChild(who);
      var time = document.createElement('time');
      time.textContent = at ? ' · ' + hour(at) : '';
      if (at) { time.setAttribute('datetime', at); }
      meta.appendChild(time);
      li.appendChild(meta);
    }
    var p = document.createElement('p');
    p.className = 'message__texte';
    p.textContent = text;
    li.appendChild(p);
    return li;
  }
  function setStatus(li, text) {
    var s = li.querySelector('.message__statut');
    if (!s) { s = document.createElement('p'); s.className = 'message__statut'; li.appendChild(s); }
    s.textContent = text;
  }
  function place(c, li, seq) {
    li.setAttribute('data-seq', String(seq));
    var items = c.list.querySelectorAll('li[data-seq]');
    for (var i = 0; i < items.length; i += 1) {
      if (items[i] !== li && parseInt(items[i].getAttribute('data-seq'), 10) > seq) { c.list.insertBefore(li, items[i]); return; }
    }
    var firstPending = c.list.querySelector('li.message--en-attente');
    if (firstPending && firstPending !== li) { c.list.insertBefore(li, firstPending); } else { c.list.appendChild(li); }
  }
  function addMessage(c, m) {
    if (c.bySeq[m.seq]) { return; }
    var li = build(m.from, m.text, m.at);
    c.bySeq[m.seq] = li;
    place(c, li, m.seq);
    c.list.parentNode.scrollTop = c.list.parentNode.scrollHeight;
  }
  function openConversation(f) {
    var c = conversations[f.conversation];
    if (!c) {
      var el = model.content.firstElementChild.cloneNode(true);
      var n = f.conversation;
      c = { id: n, el: el, list: el.querySelector('.messages__liste'), state: el.querySelector('.conv-etat'),
            typing: el.querySelector('.indicateur'), form: el.querySelector('form'), bySeq: {}, pending: {} };
      el.setAttribute('data-conversation', n);
      el.setAttribute('aria-labelledby', 'titre-' + n);
      var title = el.querySelector('.conv-titre');
      title.id = 'titre-' + n;
      title.textContent = f.reference + ' — ' + f.audience_label + (f.visitor_name ? ' — ' + f.visitor_name : '');
      c.list.parentNode.setAttribute('aria-label', 'Messages de la conversation ' + f.reference);
      var ta = el.querySelector('textarea');
      ta.id = 'reponse-' + n;
      el.querySelector('.conv-label').setAttribute('for', ta.id);
      el.querySelector('.conv-clore').addEventListener('click', function () { send({ type: 'close', conversation: n }); });
      c.form.addEventListener('submit', function (ev) { ev.preventDefault(); reply(c, ta); });
      ta.addEventListener('keydown', function (ev) { if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); reply(c, ta); } });
      ta.addEventListener('input', function () {
        var now = Date.now();
        if (!c.typingSent || now - c.typingSent > 3000) { send({ type: 'typing', conversation: n, on: true }); c.typingSent = now; }
      });
      conversations[n] = c;
      convs.appendChild(el);
    }
    c.state.textContent = f.user_connected === false ? 'L\u2019usager s\u2019est déconnecté : il peut revenir dans quelques instants.' : 'L\u2019usager est connecté.';
    (f.messages || []).concat(early[f.conversation] || []).forEach(function (m) { addMessage(c, m); });
    delete early[f.conversation];
    refreshState();
  }
  function reply(c, ta) {
    var text = ta.value.trim();
    if (!text) { return; }
    if (text.length > MAX) { alertText('Le message ne doit pas dépasser ' + MAX + ' caractères.'); return; }
    counter += 1;
    var id = 'o-' + Date.now().toString(36) + '-' + counter;
    var li = build('operator', text, null);
    li.classList.add('message--en-attente');
    setStatus(li, 'Envoi en cours…');
    c.list.appendChild(li);
    c.list.parentNode.scrollTop = c.list.parentNode.scrollHeight;
    c.pending[id] = li;
    send({ type: 'message', conversation: c.id, text: text, id: id });
    if (c.typingSent) { send({ type: 'typing', conversation: c.id, on: false }); c.typingSent = 0; }
    ta.value = '';
  }

  btnAvailable.addEventListener('click', function () { send({ type: 'available' }); });
  btnPause.addEventListener('click', function () { send({ type: 'pause', reason: 'pause' }); });
  start();
}());
