"""The pages' templates (jinja2, French) and their stylesheet, kept in Python so they ship
with the package whatever the packaging. Server-rendered, no script from elsewhere: charts
are inline SVG drawn by matplotlib.
"""

from __future__ import annotations

from jinja2 import ChoiceLoader, DictLoader, Environment, select_autoescape

CSS = """
:root { --bleu: #000091; --rouge: #e1000f; --vert: #18753c; --gris: #3a3a3a; --clair: #f5f5fe; }
* { box-sizing: border-box; }
body { font-family: Arial, "Liberation Sans", "DejaVu Sans", sans-serif; color: var(--gris); margin: 0;
       background: #fff; font-size: 15px; line-height: 1.45; }
header.bandeau { border-top: 6px solid var(--bleu); border-bottom: 1px solid #ddd; padding: 12px 28px;
                 display: flex; justify-content: space-between; align-items: baseline; flex-wrap: wrap; gap: 8px; }
header.bandeau .titre { font-weight: bold; color: var(--bleu); font-size: 18px; }
header.bandeau nav a { margin-left: 18px; color: var(--bleu); text-decoration: none; }
header.bandeau nav a[aria-current="page"] { font-weight: bold; text-decoration: underline; }
main { padding: 16px 28px 40px; max-width: 1400px; margin: 0 auto; }
h1 { color: var(--bleu); font-size: 26px; margin: 8px 0 4px; }
h2 { color: var(--bleu); font-size: 20px; margin: 28px 0 8px; border-bottom: 1px solid #e5e5e5; padding-bottom: 4px; }
h3 { font-size: 16px; margin: 18px 0 6px; }
p.chapeau { color: #555; margin-top: 0; }
table { border-collapse: collapse; width: 100%; margin: 8px 0 16px; font-size: 14px; }
th { background: var(--bleu); color: #fff; text-align: left; padding: 6px 8px; font-weight: bold; }
td { border-bottom: 1px solid #e5e5e5; padding: 5px 8px; vertical-align: top; }
tr:nth-child(even) td { background: var(--clair); }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.c, th.c { text-align: center; }
.statut { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12.5px; white-space: nowrap; }
.statut.met { background: #d5f0dc; color: #0b4d20; }
.statut.missed { background: #fbd5d5; color: #8a0009; }
.statut.no_data { background: #eee; color: #555; }
.statut.in_progress { background: #fff3c4; color: #5c4a00; }
.statut.measured { background: #e8edff; color: var(--bleu); }
.grille { display: grid; grid-template-columns: repeat(auto-fill, minmax(430px, 1fr)); gap: 18px; }
.carte { border: 1px solid #e5e5e5; border-radius: 4px; padding: 10px 12px; }
.carte h3 { margin: 0 0 4px; font-size: 15px; }
.carte h3 a { color: var(--bleu); text-decoration: none; }
.carte .valeur { font-size: 24px; font-weight: bold; color: var(--bleu); }
.carte .valeur.missed { color: var(--rouge); }
.carte svg { width: 100%; height: auto; }
.chiffres { display: grid; grid-template-columns: repeat(auto-fill, minmax(210px, 1fr)); gap: 12px; margin: 10px 0; }
.chiffres div { background: var(--clair); border-left: 4px solid var(--bleu); padding: 8px 10px; }
.chiffres strong { display: block; font-size: 22px; color: var(--bleu); }
.alerte { border-left: 4px solid var(--rouge); background: #fff4f4; padding: 8px 12px; margin: 10px 0; }
.note { color: #666; font-size: 13px; }
form.filtre { display: flex; gap: 10px; align-items: end; flex-wrap: wrap; margin: 8px 0 12px; }
label { display: block; font-size: 13px; }
input, select, button, textarea { font: inherit; padding: 5px 8px; border: 1px solid #999; border-radius: 3px; }
button { background: var(--bleu); color: #fff; border: none; padding: 7px 14px; cursor: pointer; }
a { color: var(--bleu); }
dl.defs dt { font-weight: bold; color: var(--bleu); margin-top: 12px; }
dl.defs dd { margin: 2px 0 0 0; }
.svg-large svg { width: 100%; max-width: 1000px; height: auto; }
@media print { header.bandeau nav, form.filtre { display: none; } }
"""

BASE = """<!doctype html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{% block title %}{{ title }}{% endblock %} — Guichet</title>
<style>{{ css|safe }}</style>
</head>
<body>
<header class="bandeau">
  <span class="titre">Guichet — indicateurs de service</span>
  {% if user %}<nav aria-label="Navigation principale">
    <a href="/indicateurs" {% if nav == 'dashboard' %}aria-current="page"{% endif %}>Tableau de bord</a>
    <a href="/indicateurs/definitions" {% if nav == 'definitions' %}aria-current="page"{% endif %}>Définitions</a>
    <a href="/rapports" {% if nav == 'reports' %}aria-current="page"{% endif %}>Rapports</a>
    <span class="note">{{ user.display_name or user.username }} ({{ role_fr }})</span>
  </nav>{% endif %}
</header>
<main>
{% block main %}{% endblock %}
</main>
</body>
</html>
"""

LOGIN = """{% extends "base.html" %}
{% block main %}
<h1>Connexion</h1>
<p class="chapeau">Les tableaux de bord et les rapports sont réservés aux auditeurs de la personne publique, aux
superviseurs et aux administrateurs.</p>
{% if error %}<p class="alerte" role="alert">{{ error }}</p>{% endif %}
<form method="post" action="/indicateurs/connexion" style="max-width: 360px">
  <input type="hidden" name="next" value="{{ next }}">
  <p><label for="u">Identifiant</label><input id="u" name="username" autocomplete="username" required style="width:100%"></p>
  <p><label for="p">Mot de passe</label><input id="p" name="password" type="password" autocomplete="current-password" required style="width:100%"></p>
  <p><button type="submit">Se connecter</button></p>
</form>
{% endblock %}
"""

ERROR = """{% extends "base.html" %}
{% block main %}
<h1>{{ title }}</h1>
<p>{{ message }}</p>
<p><a href="/indicateurs">Retour au tableau de bord</a></p>
{% endblock %}
"""

DASHBOARD = """{% extends "base.html" %}
{% block main %}
<h1>Tableau de bord des niveaux de service</h1>
<p class="chapeau">Indicateurs de {{ month_label }} et des 12 mois précédents, comparés au même mois de l'année
précédente. Calculés le {{ generated }} à partir du journal des événements et des tickets. Lecture seule.</p>
<form class="filtre" method="get" action="/indicateurs">
  <div><label for="fin">Dernier mois</label><input id="fin" type="month" name="fin" value="{{ end }}"></div>
  <div><button type="submit">Afficher</button></div>
</form>
{% if alerts %}<div class="alerte"><strong>Incitation à la qualité.</strong>
<ul>{% for a in alerts %}<li>{{ a.indicator }} {{ a.name }} : {{ a.run }} mois consécutif{{ 's' if a.run > 1 }} sous
l'objectif — {{ a.action|lower }}.</li>{% endfor %}</ul></div>{% endif %}
<div class="chiffres">
{% for label, value in figures %}<div><strong>{{ value }}</strong>{{ label }}</div>{% endfor %}
</div>
<h2>Indicateurs de {{ month_label }}</h2>
<table>
<thead><tr><th>Indicateur</th><th>Libellé</th><th class="n">Numérateur / dénominateur</th><th class="n">Valeur</th>
<th class="c">Objectif</th><th class="c">Résultat</th><th class="n">{{ prev_label }}</th><th class="c">Mois sous l'objectif</th></tr></thead>
<tbody>
{% for r in rows %}<tr>
<td><a href="/indicateurs/{{ r.id }}?fin={{ end }}">{{ r.id }}</a></td><td>{{ r.name }}{% if r.reason %}<br><span class="note">{{ r.reason }}</span>{% endif %}</td>
<td class="n">{{ r.ratio }}</td><td class="n">{{ r.value }}</td><td class="c">{{ r.target }}</td>
<td class="c"><span class="statut {{ r.status }}">{{ r.status_fr }}</span></td><td class="n">{{ r.prev }}</td>
<td class="c">{{ r.run }}</td></tr>{% endfor %}
</tbody></table>
<h2>Évolution sur 13 mois</h2>
<p class="note">Trait bleu : mois ; tirets gris : même mois de l'année précédente ; pointillés rouges : objectif ;
points rouges : objectif non atteint.</p>
<div class="grille">
{% for c in cards %}<section class="carte" aria-label="{{ c.id }}">
<h3><a href="/indicateurs/{{ c.id }}?fin={{ end }}">{{ c.id }} — {{ c.name }}</a></h3>
<div class="valeur {{ c.status }}">{{ c.value }}</div><div class="note">objectif {{ c.target }}</div>
{{ c.svg|safe }}
</section>{% endfor %}
</div>
<h2>Volumes</h2>
<div class="svg-large">{{ volumes_svg|safe }}</div>
<table>
<thead><tr><th>Mois</th><th class="n">Téléphone</th><th class="n">Courriel</th><th class="n">Chat</th><th class="n">Total</th>
<th class="n">Appels reçus</th><th class="n">Décrochés</th><th class="n">Communication moyenne</th><th class="n">Occupation</th>
<th class="n">Forfait consommé</th><th class="n">Extensions</th></tr></thead>
<tbody>{% for v in volumes %}<tr><td>{{ v.month }}</td><td class="n">{{ v.phone }}</td><td class="n">{{ v.mail }}</td>
<td class="n">{{ v.chat }}</td><td class="n">{{ v.total }}</td><td class="n">{{ v.received }}</td><td class="n">{{ v.answered }}</td>
<td class="n">{{ v.talk }}</td><td class="n">{{ v.occupancy }}</td><td class="n">{{ v.package }}</td><td class="n">{{ v.extensions }}</td></tr>{% endfor %}</tbody>
</table>
<h2>Indicateurs sans données</h2>
<table><thead><tr><th>Indicateur</th><th>Libellé</th><th>Raison</th></tr></thead><tbody>
{% for r in nodata %}<tr><td>{{ r.id }}</td><td>{{ r.name }}</td><td>{{ r.reason }}</td></tr>{% endfor %}
</tbody></table>
{% endblock %}
"""

INDICATOR = """{% extends "base.html" %}
{% block main %}
<p><a href="/indicateurs?fin={{ end }}">← Tableau de bord</a></p>
<h1>{{ ind.id }} — {{ ind.name }}</h1>
<p class="chapeau">Objectif : {{ ind.target_label }} — {{ 'pénalisable' if ind.penalised else 'non pénalisable' }}.
Définition du marché : {{ ind.tender }}.</p>
{% if wording %}<dl class="defs"><dt>Numérateur</dt><dd>{{ wording.numerator }}</dd>
<dt>Dénominateur</dt><dd>{{ wording.denominator }}</dd>
{% for r in wording.rules %}<dd>{{ r }}</dd>{% endfor %}
<dt>Source</dt><dd>{{ wording.source }}</dd></dl>{% endif %}
<div class="svg-large">{{ svg|safe }}</div>
<table>
<thead><tr><th>Mois</th><th class="n">Numérateur</th><th class="n">Dénominateur</th><th class="n">Valeur</th><th class="c">Résultat</th>
<th class="n">Même mois, année précédente</th><th class="c">Mois consécutifs sous l'objectif</th><th>Précisions</th></tr></thead>
<tbody>{% for r in rows %}<tr><td>{{ r.month }}</td><td class="n">{{ r.num }}</td><td class="n">{{ r.den }}</td>
<td class="n">{{ r.value }}</td><td class="c"><span class="statut {{ r.status }}">{{ r.status_fr }}</span></td>
<td class="n">{{ r.prev }}</td><td class="c">{{ r.run }}</td><td class="note">{{ r.note }}</td></tr>{% endfor %}</tbody>
</table>
{% endblock %}
"""

DEFINITIONS = """{% extends "base.html" %}
{% block main %}
<h1>Définitions des indicateurs</h1>
<p class="chapeau">Le marché laisse certaines définitions ouvertes ; voici celles que le logiciel applique, avec les
réglages en vigueur. Chaque indicateur est calculé à partir des faits enregistrés (journal des événements, tickets,
appels), par mois civil (heure de Paris), sur 13 mois glissants.</p>
<h2>Termes</h2>
<dl class="defs">{% for t in terms %}<dt id="{{ t.key }}">{{ t.name }}</dt><dd>{{ t.text }}</dd>{% endfor %}</dl>
<h2>Indicateurs</h2>
<table><thead><tr><th>Indicateur</th><th>Numérateur</th><th>Dénominateur</th><th>Règles</th><th class="c">Objectif</th>
<th class="c">Pénalisable</th></tr></thead><tbody>
{% for r in rows %}<tr><td><strong>{{ r.id }}</strong><br>{{ r.name }}</td>
<td>{{ r.numerator }}</td><td>{{ r.denominator }}</td>
<td>{% for x in r.rules %}{{ x }}{% if not loop.last %}<br>{% endif %}{% endfor %}{% if r.reason %}<span class="note">{{ r.reason }}</span>{% endif %}</td>
<td class="c">{{ r.target }}</td><td class="c">{{ r.penalised }}</td></tr>{% endfor %}
</tbody></table>
<h2>Réglages</h2>
<p class="note">Modifiables par variables d'environnement (ou la section correspondante du fichier de réglages) ;
ils s'appliquent à tous les mois recalculés.</p>
<table><thead><tr><th>Variable</th><th class="n">Valeur</th><th>Signification</th></tr></thead><tbody>
{% for v, val, meaning in settings %}<tr><td><code>{{ v }}</code></td><td class="n">{{ val }}</td><td>{{ meaning }}</td></tr>{% endfor %}
</tbody></table>
<h2>Incitation au maintien de la qualité</h2>
<ul>{% for k, v in incentive %}<li>{{ k }} mois consécutif{{ 's' if k > 1 }} sous l'objectif : {{ v|lower }}.</li>{% endfor %}</ul>
{% endblock %}
"""

TEMPLATES = {"base.html": BASE, "login.html": LOGIN, "error.html": ERROR, "dashboard.html": DASHBOARD,
             "indicator.html": INDICATOR, "definitions.html": DEFINITIONS}


def environment(extra: dict[str, str] | None = None) -> Environment:
    loader = ChoiceLoader([DictLoader(extra or {}), DictLoader(TEMPLATES)])
    env = Environment(loader=loader, autoescape=select_autoescape(default=True, default_for_string=True))
    env.globals["css"] = CSS
    return env
