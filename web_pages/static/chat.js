/* Chat du portail, côté usager.
   - Les textes reçus sont toujours insérés avec textContent : jamais interprétés comme du HTML.
   - Chaque message est affiché « en cours d'envoi » jusqu'à son accusé de réception (il est alors
     enregistré), puis classé selon son numéro d'ordre (seq) : les deux côtés voient le même ordre.
   - Si la connexion tombe, le navigateur se reconnecte et reprend la même conversation grâce au
     jeton gardé dans le stockage de session ; les messages non confirmés sont renvoyés avec le
     même identifiant (le serveur ne les enregistre qu'une fois). */
(function () {
  'use strict';
  var root = document.getElementById('chat');
  if (!root) { return; }
  var KEY = 'guichet-chat';
  var MAX = parseInt(root.getAttribute('data-max'), 10) || 2000;
  var $ = function (id) { return document.getElementById(id); };
  var startForm = $('chat-debut');
  var convo = $('chat-conversation');
  var list = $('chat-messages');
  var scroller = $('chat-journal');
  var stateLine = $('chat-etat');
  var typingLine = $('chat-indicateur');
  var sendForm = $('chat-envoi');
  var input = $('chat-texte');
  var counter = $('chat-compteur');
  var alertBox = $('chat-alerte');
  var endSection = $('chat-fin');

  var ws = null;
  var saved = null;
  try { saved = JSON.parse(sessionStorage.getItem(KEY) || 'null'); } catch (e) { saved = null; }
  var st = {
    token: saved && saved.token, reference: saved && saved.reference, lastSeq: 0,
    pending: [], bySeq: {}, ended: false, retries: 0, hello: null, counter: 0,
    typingSent: 0, typingTimer: null, peerTypingTimer: null
  };

  function store() {
    if (st.token) { sessionStorage.setItem(KEY, JSON.stringify({ token: st.token, reference: st.reference })); }
    else { sessionStorage.removeItem(KEY); }
  }
  function show(el, on) { if (el) { el.hidden = !on; } }
  function say(text) { stateLine.textContent = text; }
  function alertText(text) {
    alertBox.textContent = text;
    show(alertBox, !!text);
  }
  function ordinal(n) { return n === 1 ? '1re' : n + 'e'; }
  function hour(iso) {
    var d = iso ? new Date(iso) : new Date();
    return d.toLocaleTimeString('fr-FR', { hour: '2-digit', minute: '2-digit' });
  }
  function newId() { st.counter += 1; return 'u-' + Date.now().toString(36) + '-' + st.counter; }

  /* --- messages ------------------------------------------------------------------------ */
  function build(from, text, at) {
    var li = document.createElement('li');
    var own = from === 'user';
    li.className = 'message ' + (from === 'system' ? 'message--systeme' : own ? 'message--soi' : 'message--autre');
    if (from !== 'system') {
      var meta = document.createElement('p');
      meta.className = 'message__meta';
      var who = document.createElement('span');
      who.className = 'message__auteur';
      who.textContent = own ? 'Vous' : 'Conseiller';
      var time = document.createElement('time');
      time.textContent = ' · ' + hour(at);
      if (at) { time.setAttribute('datetime', at); }
      meta.appendChild(who);
      meta.appendChild(time);
      li.appendChild(meta);
    }
    var p = document.createElement('p');
    p.className = 'message__texte';
    p.textContent = text;
    li.appendChild(p);
    return li;
  }
  function place(li, seq) {
    li.setAttribute('data-seq', String(seq));
    var items = list.querySelectorAll('li[data-seq]');
    for (var i = 0; i < items.length; i += 1) {
      if (items[i] !== li && parseInt(items[i].getAttribute('data-seq'), 10) > seq) {
        list.insertBefore(li, items[i]);
        return;
      }
    }
    var firstPending = list.querySelector('li.message--en-attente');
    if (firstPending && firstPending !== li) { list.insertBefore(li, firstPending); } else { list.appendChild(li); }
  }
  function addMessage(m) {
    if (st.bySeq[m.seq]) { return; }
    var li = build(m.from, m.text, m.at);
    st.bySeq[m.seq] = li;
    place(li, m.seq);
    st.lastSeq = Math.max(st.lastSeq, m.seq);
    scroller.scrollTop = scroller.scrollHeight;
  }
  function setStatus(li, text) {
    var s = li.querySelector('.message__statut');
    if (!s) { s = document.createElement('p'); s.className = 'message__statut'; li.appendChild(s); }
    s.textContent = text;
  }
  function pendingById(id) {
    for (var i = 0; i < st.pending.length; i += 1) { if (st.pending[i].id === id) { return st.pending[i]; } }
    return null;
  }
  function sendPending(p) {
    if (ws && ws.readyState === WebSocket.OPEN) { ws.send(JSON.stringify({ type: 'message', text: p.text, id: p.id })); }
  }

  /* --- connection ----------------------------------------------------------------------- */
  function url() { return (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + root.getAttribute('data-ws'); }

  function connect(hello) {
    st.hello = hello;
    ws = new WebSocket(url());
    ws.onopen = function () { ws.send(JSON.stringify(st.hello())); };
    ws.onmessage = function (ev) {
      var f;
      try { f = JSON.parse(ev.data); } catch (e) { return; }
      handle(f);
    };
    ws.onclose = function (ev) {
      ws = null;
      if (st.ended || !st.token) { return; }
      if (ev.code === 4404) { st.token = null; store(); say('Cette conversation n\u2019est plus disponible.'); return; }
      if (ev.code === 4000) { say('Cette conversation a été reprise dans une autre fenêtre.'); return; }
      if (ev.reason && [1003, 1007, 1008, 1009].indexOf(ev.code) >= 0) { alertText(ev.reason); }
      st.retries += 1;
      var delay = Math.min(10000, 500 * Math.pow(2, Math.min(st.retries, 5)));
      say('Connexion interrompue : reconnexion en cours…');
      setTimeout(function () { connect(resumeFrame); }, delay);
    };
  }
  function resumeFrame() { return { type: 'resume', token: st.token, last_seq: st.lastSeq }; }

  function handle(f) {
    switch (f.type) {
      case 'started':
        st.token = f.token; st.reference = f.reference; store();
        openConversation();
        (f.messages || []).forEach(addMessage);
        say('Votre question est transmise. Recherche d\u2019un conseiller…');
        break;
      case 'resumed':
        st.retries = 0;
        alertText('');
        st.reference = f.reference; store();
        openConversation();
        (f.messages || []).forEach(addMessage);
        if (f.state === 'active') { say('Un conseiller vous répond.'); } else { queued(f.position, f.operators_available); }
        st.pending.forEach(sendPending);
        break;
      case 'queued': queued(f.position, f.operators_available); break;
      case 'assigned': say('Un conseiller vous répond.'); break;
      case 'ack': {
        var p = pendingById(f.id);
        if (p) {
          st.pending.splice(st.pending.indexOf(p), 1);
          p.li.classList.remove('message--en-attente');
          var s = p.li.querySelector('.message__statut');
          if (s) { s.parentNode.removeChild(s); }
          var when = p.li.querySelector('time');
          if (when && f.at) { when.textContent = ' · ' + hour(f.at); when.setAttribute('datetime', f.at); }
          if (!st.bySeq[f.seq]) { st.bySeq[f.seq] = p.li; place(p.li, f.seq); }
          else if (st.bySeq[f.seq] !== p.li) { p.li.parentNode.removeChild(p.li); }
          st.lastSeq = Math.max(st.lastSeq, f.seq);
        }
        break;
      }
      case 'message':
        typingLine.textContent = '';
        addMessage(f);
        break;
      case 'typing':
        clearTimeout(st.peerTypingTimer);
        typingLine.textContent = f.on ? 'Le conseiller écrit…' : '';
        if (f.on) { st.peerTypingTimer = setTimeout(function () { typingLine.textContent = ''; }, 8000); }
        break;
      case 'error':
        if (f.id) {
          var q = pendingById(f.id);
          if (q) {
            st.pending.splice(st.pending.indexOf(q), 1);
            q.li.classList.remove('message--en-attente');
            q.li.classList.add('message--echec');
            setStatus(q.li, 'Non envoyé : ' + f.message);
          }
        } else if (f.field && startForm) {
          fieldError(f.field === 'message' ? 'question' : f.field === 'email' ? 'courriel' : f.field, f.message);
        } else {
          alertText(f.message);
        }
        break;
      case 'closed':
        st.token = null; store();
        alertText(f.message + ' Vous pouvez nous écrire grâce au formulaire de contact.');
        break;
      case 'ended': ended(f); break;
      default: break;
    }
  }

  function queued(position, available) {
    if (!position) { return; }
    var text = 'Vous êtes ' + ordinal(position) + ' dans la file d\u2019attente.';
    if (available === false) {
      text += ' Aucun conseiller n\u2019est disponible pour le moment : vous pouvez patienter ou nous écrire.';
    } else {
      text += ' Un conseiller va vous répondre.';
    }
    say(text);
  }

  function openConversation() {
    show(startForm, false);
    show(convo, true);
    $('chat-reference').textContent = st.reference ? 'Référence de votre demande : ' + st.reference : '';
  }

  function ended(f) {
    st.ended = true;
    st.token = null; store();
    st.pending.forEach(function (p) { p.li.classList.add('message--echec'); setStatus(p.li, 'Non envoyé : la conversation est terminée.'); });
    show(sendForm, false);
    typingLine.textContent = '';
    say('La conversation est terminée.');
    show(endSection, true);
    $('chat-fin-texte').textContent = (st.reference ? 'Votre demande reste enregistrée sous la référence ' + st.reference + '. ' : '') +
      'La transcription de l\u2019échange est conservée avec votre demande.';
    var survey = $('chat-enquete');
    if (f.survey) {
      survey.setAttribute('data-token', f.survey);
      show(survey, true);
    }
    $('titre-fin').focus();
  }

  /* --- start form ----------------------------------------------------------------------- */
  function fieldError(name, message) {
    var box = $('erreur-' + name);
    var field = name === 'audience' ? null : $('champ-' + name);
    if (box) { box.textContent = message || ''; show(box, !!message); }
    if (field) {
      if (message) { field.setAttribute('aria-invalid', 'true'); } else { field.removeAttribute('aria-invalid'); }
    }
    return !message;
  }
  if (startForm && !st.token) {
    show(startForm, true);
    startForm.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var audience = startForm.querySelector('input[name="audience"]:checked');
      var question = $('champ-question').value.trim();
      var mail = $('champ-courriel').value.trim();
      var ok = fieldError('audience', audience ? '' : 'Indiquez qui vous êtes.');
      ok = fieldError('question', question ? (question.length > MAX ? 'Votre question ne doit pas dépasser ' + MAX + ' caractères.' : '') : 'Écrivez votre question.') && ok;
      ok = fieldError('courriel', !mail || /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(mail) ? '' : 'L\u2019adresse électronique n\u2019est pas valide (exemple : prenom.nom@domaine.fr).') && ok;
      if (!ok) {
        var first = startForm.querySelector('[aria-invalid="true"]') || (!audience && startForm.querySelector('input[name="audience"]'));
        if (first) { first.focus(); }
        return;
      }
      alertText('');
      var id = newId();
      var hello = { type: 'start', audience: audience.value, message: question, name: $('champ-nom').value.trim(), id: id };
      if (mail) { hello.email = mail; }
      say('Connexion…');
      connect(function () { return st.token ? resumeFrame() : hello; });
    });
  }
  if (st.token) {
    openConversation();
    say('Reprise de votre conversation…');
    connect(resumeFrame);
  }

  /* --- sending ---------------------------------------------------------------------------- */
  function updateCounter() {
    var left = MAX - input.value.length;
    counter.textContent = left.toLocaleString('fr-FR') + ' caractère' + (left > 1 ? 's' : '') + ' restant' + (left > 1 ? 's' : '') + '.';
  }
  function send() {
    var text = input.value.trim();
    if (!text || st.ended) { return; }
    if (text.length > MAX) { alertText('Votre message ne doit pas dépasser ' + MAX + ' caractères.'); return; }
    alertText('');
    var p = { id: newId(), text: text, li: build('user', text, null) };
    p.li.classList.add('message--en-attente');
    setStatus(p.li, 'Envoi en cours…');
    list.appendChild(p.li);
    scroller.scrollTop = scroller.scrollHeight;
    st.pending.push(p);
    sendPending(p);
    input.value = '';
    updateCounter();
    typing(false);
  }
  function typing(on) {
    if (!ws || ws.readyState !== WebSocket.OPEN) { return; }
    var now = Date.now();
    clearTimeout(st.typingTimer);
    if (on) {
      if (now - st.typingSent > 3000) { ws.send(JSON.stringify({ type: 'typing', on: true })); st.typingSent = now; }
      st.typingTimer = setTimeout(function () { typing(false); }, 4000);
    } else if (st.typingSent) {
      ws.send(JSON.stringify({ type: 'typing', on: false }));
      st.typingSent = 0;
    }
  }
  sendForm.addEventListener('submit', function (ev) { ev.preventDefault(); send(); });
  input.addEventListener('keydown', function (ev) {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); send(); }
  });
  input.addEventListener('input', function () { updateCounter(); typing(input.value.length > 0); });
  $('chat-terminer').addEventListener('click', function () {
    if (ws && ws.readyState === WebSocket.OPEN) { ws.send(JSON.stringify({ type: 'end' })); }
  });

  /* --- survey at the end of the chat --------------------------------------------------------- */
  var survey = $('chat-enquete');
  survey.addEventListener('submit', function (ev) {
    ev.preventDefault();
    var choice = survey.querySelector('input[name="note"]:checked');
    var box = $('erreur-note');
    if (!choice) { box.textContent = 'Choisissez l\u2019une des trois réponses.'; show(box, true); survey.querySelector('input[name="note"]').focus(); return; }
    show(box, false);
    fetch('/api/v1/surveys/' + encodeURIComponent(survey.getAttribute('data-token')), {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ rating: choice.value, comment: $('chat-commentaire').value.trim() })
    }).then(function (r) {
      if (r.ok || r.status === 409) {
        show(survey, false);
        show($('chat-enquete-merci'), true);
      } else {
        return r.json().then(function (b) { box.textContent = b.message || 'Votre avis n\u2019a pas pu être enregistré.'; show(box, true); });
      }
    }).catch(function () { box.textContent = 'Votre avis n\u2019a pas pu être envoyé : réessayez.'; show(box, true); });
  });
}());
