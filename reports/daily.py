"""The daily morning summary, "point prod" (SPEC §7): the previous day's indicators (from the
previous business day through yesterday, so Monday's covers the weekend's mails), the month
to date, yesterday's volumes, the escalations in progress at N2/N3 and today's opening
hours. As a standalone HTML page (to mail or print), plain text and JSON.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from indicators.catalogue import BY_ID
from indicators.compute import OpenEscalation, PhoneCounts, TicketCounts
from indicators.periods import day_label
from indicators.services import STATUS_FR, Point
from indicators.templates import environment
from reports.content import n, ratio_text, value_text
from reports.settings import ReportSettings

STATUS_WHERE = {"escalated_n2": "N2", "escalated_n3": "N3", "info_requested": "complément demandé par le N2"}


@dataclass
class DailyData:
    today: date
    first: date
    last: date
    points: dict[str, Point]
    month_points: dict[str, Point]
    calls: PhoneCounts
    tickets: TicketCounts
    escalations: list[OpenEscalation]
    escalation_hours: dict[int, float]
    zone: Any
    opening: list[tuple[datetime, datetime]]
    generated_at: datetime
    settings: ReportSettings
    hours_per_day: float = 9.0

    @property
    def period_text(self) -> str:
        if self.first == self.last:
            return f"activité du {day_label(self.first)}"
        return f"activité du {day_label(self.first)} au {day_label(self.last)}"


TEMPLATE = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>Point prod du {{ d.today_label }}</title>
<style>{{ css|safe }}</style></head>
<body><header class="bandeau"><span class="titre">{{ d.service }}</span><span class="note">{{ d.recipient }}</span></header>
<main>
<h1>Point prod du {{ d.today_label }}</h1>
<p class="chapeau">Indicateurs de l'{{ d.period }} ; escalades en cours au {{ d.generated }}.</p>
<h2>Ouverture du service aujourd'hui</h2>
<p>{{ d.opening }}</p>
<h2>Indicateurs</h2>
<table><thead><tr><th>Indicateur</th><th>Libellé</th><th class="n">Numérateur / dénominateur</th><th class="n">Valeur</th>
<th class="c">Objectif</th><th class="c">Résultat</th><th class="n">Cumul du mois</th></tr></thead><tbody>
{% for r in d.rows %}<tr><td>{{ r.id }}</td><td>{{ r.name }}</td><td class="n">{{ r.ratio }}</td><td class="n">{{ r.value }}</td>
<td class="c">{{ r.target }}</td><td class="c"><span class="statut {{ r.status }}">{{ r.status_fr }}</span></td>
<td class="n">{{ r.month }}</td></tr>{% endfor %}</tbody></table>
<h2>Volumes</h2>
<table><tbody>{% for label, value in d.volumes %}<tr><td>{{ label }}</td><td class="n">{{ value }}</td></tr>{% endfor %}</tbody></table>
<h2>Escalades en cours au N2 et au N3 ({{ d.escalation_count }})</h2>
<p>{{ d.escalation_summary }}</p>
<table><thead><tr><th>Ticket</th><th>Chez</th><th>Objet</th><th class="c">Priorité</th><th>Réf. GLPI</th><th class="c">Escaladé le</th>
<th class="n">Jours ouvrés</th><th class="n">Relances</th><th class="c">Dernière relance</th></tr></thead><tbody>
{% for e in d.escalations %}<tr><td>{{ e.ref }}</td><td>{{ e.where }}</td><td>{{ e.subject }}</td><td class="c">{{ e.priority }}</td>
<td>{{ e.glpi }}</td><td class="c">{{ e.since }}</td><td class="n">{{ e.days }}</td><td class="n">{{ e.reminders }}</td>
<td class="c">{{ e.last }}</td></tr>{% endfor %}</tbody></table>
<p class="note">Document généré automatiquement le {{ d.generated }} par Guichet.</p>
</main></body></html>
"""


def _view(d: DailyData) -> dict[str, Any]:
    rows = []
    for iid, p in d.points.items():
        ind = BY_ID[iid]
        m = d.month_points.get(iid)
        rows.append({"id": iid, "name": ind.name, "ratio": ratio_text(p), "value": value_text(p),
                     "target": ind.target_label, "status": p.status, "status_fr": STATUS_FR[p.status],
                     "month": value_text(m) if m else "–"})
    c, t = d.calls, d.tickets
    volumes = [("Tickets créés", n(t.tickets)), ("Appels reçus (heures d'ouverture)", n(c.received)),
               ("Appels décrochés", n(c.answered)), ("Appels abandonnés", n(c.abandoned)),
               ("Appels reçus service fermé", n(c.outside_hours)), ("Mails reçus", n(t.mails)),
               ("Conversations de chat", n(c.chats))]
    by = Counter(e.status for e in d.escalations)
    summary = (f"{n(by.get('escalated_n2', 0))} au N2, {n(by.get('escalated_n3', 0))} au N3, "
               f"{n(by.get('info_requested', 0))} en attente d'un complément demandé par le N2.")
    esc = []
    for e in sorted(d.escalations, key=lambda x: x.escalated_at or x.created_at):
        hours = d.escalation_hours.get(e.ticket_id)
        esc.append({"ref": e.reference, "where": STATUS_WHERE.get(e.status, e.status), "subject": e.subject,
                    "priority": e.priority or "–", "glpi": e.glpi_reference or "–",
                    "since": (e.escalated_at or e.created_at).astimezone(d.zone).strftime("%d/%m/%Y"),
                    "days": n(round(hours / d.hours_per_day, 1)) if hours is not None else "–",
                    "reminders": e.reminders,
                    "last": e.last_reminder_at.astimezone(d.zone).strftime("%d/%m/%Y") if e.last_reminder_at else "–"})
    if d.opening:
        opening = "Ouvert " + ", ".join(f"de {a:%H:%M} à {b:%H:%M}" for a, b in d.opening) + "."
    else:
        opening = "Service fermé aujourd'hui (week-end, jour férié ou fermeture exceptionnelle)."
    gen = d.generated_at.astimezone(d.zone)
    return {"today_label": day_label(d.today), "period": d.period_text, "rows": rows, "volumes": volumes,
            "escalations": esc, "escalation_count": len(esc), "escalation_summary": summary, "opening": opening,
            "generated": f"{day_label(gen.date())} à {gen:%H:%M}", "service": d.settings.service_name,
            "recipient": d.settings.recipient}


def render_html(d: DailyData) -> str:
    return environment().from_string(TEMPLATE).render(d=_view(d))


def render_text(d: DailyData) -> str:
    v = _view(d)
    lines = [f"Point prod du {v['today_label']}", f"Indicateurs de l'{v['period']}.", "", v["opening"], "",
             "INDICATEURS"]
    for r in v["rows"]:
        lines.append(f"- {r['id']} {r['name']} : {r['value']} ({r['ratio']}), objectif {r['target']}, "
                     f"{r['status_fr']} ; cumul du mois {r['month']}")
    lines += ["", "VOLUMES"] + [f"- {a} : {b}" for a, b in v["volumes"]]
    lines += ["", f"ESCALADES EN COURS ({v['escalation_count']}) : {v['escalation_summary']}"]
    for e in v["escalations"][:50]:
        lines.append(f"- {e['ref']} ({e['where']}) {e['subject']} — escaladé le {e['since']}, {e['days']} j ouvrés, "
                     f"{e['reminders']} relance(s)")
    if len(v["escalations"]) > 50:
        lines.append(f"… et {len(v['escalations']) - 50} autres (voir la page HTML).")
    lines += ["", f"Généré le {v['generated']}."]
    return "\n".join(lines) + "\n"


def to_json(d: DailyData) -> dict[str, Any]:
    return {
        "day": d.today.isoformat(), "from": d.first.isoformat(), "to": d.last.isoformat(),
        "indicators": {i: p.to_json() for i, p in d.points.items()},
        "month_to_date": {i: p.to_json() for i, p in d.month_points.items()},
        "calls": {"received": d.calls.received, "answered": d.calls.answered, "abandoned": d.calls.abandoned,
                  "outside_hours": d.calls.outside_hours},
        "tickets": d.tickets.tickets, "mails": d.tickets.mails, "chats": d.calls.chats,
        "escalations_in_progress": [
            {"reference": e.reference, "status": e.status, "level": e.level, "subject": e.subject,
             "escalated_at": e.escalated_at, "reminders": e.reminders,
             "business_hours": round(d.escalation_hours.get(e.ticket_id) or 0.0, 2)} for e in d.escalations],
        "opening_today": [(a.isoformat(), b.isoformat()) for a, b in d.opening],
    }
