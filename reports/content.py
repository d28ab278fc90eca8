"""The monthly report's content, in French, built once from the indicators and rendered by
``docx`` (Word) and ``pptx`` (PowerPoint): titles, paragraphs, tables and charts.

Sections follow SPEC §7: activity, main events, progress, malfunctions with their analysis,
corrective actions, and the indicators — plus the quality incentive, the escalations in
progress, the ticket package and, in appendix, the definitions and the 13-month table.
The analysis and corrective actions are written by the service's supervisors (report
notes); the report states plainly when none was written.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from indicators import charts
from indicators.catalogue import BY_ID, FAMILIES, INDICATORS, fmt_percent, incentive_text
from indicators.definitions import glossary, wording
from indicators.periods import day_label, month_label, year_before
from indicators.services import STATUS_FR, Dashboard
from reports.settings import ReportSettings

NOTE_SECTIONS = {
    "faits_marquants": "Faits marquants",
    "dysfonctionnements": "Dysfonctionnements et analyse",
    "actions_correctives": "Actions correctives",
    "avancement": "Avancement des projets et évolutions",
}

T2 = [i.id for i in INDICATORS if i.family == "T2"]
#: Short names for charts.
SHORT = {
    "T1-IQ01": "Disponibilité", "T1-IQ02": "Ouverture à l'heure", "T2-IQ01": "Décroché en moins de 40 s",
    "T2-IQ02": "Abandon", "T2-IQ03": "Décroché global", "T2-IQ04": "Appels perdus récupérés",
    "T2-IQ05": "Mails pris en charge en 1 HO", "T2-IQ06": "Qualité des escalades",
    "T2-IQ07": "Résolution au premier contact", "T2-IQ08": "Critiques traités en 2 HO",
    "T2-IQ09": "Normaux traités en 4 HO", "T2-IQ10": "Autonomie (résolus par le N1)", "T3-IQ03": "Exercices de bascule",
    "T8-IQ01": "Très satisfaits",
}


def target_short(ind: Any) -> str:
    """The target as it fits a table cell."""
    return ind.target.label if ind.target else (ind.target_text or "mesuré")
CHANNELS = ("phone", "mail", "chat")


# --- blocks -------------------------------------------------------------------------------


@dataclass
class Paragraph:
    text: str
    style: str = "body"  # body | note | lead


@dataclass
class Bullets:
    items: list[str]


@dataclass
class TableBlock:
    columns: list[str]
    rows: list[list[str]]
    align: list[str]  # l | r | c per column
    widths: list[float]  # relative
    status: list[str | None] = field(default_factory=list)  # per row: met | missed | no_data… (colour)
    status_col: int | None = None
    caption: str = ""
    font_size: float = 8.5
    header_repeat: bool = True
    cells: list[list[str | None]] = field(default_factory=list)  # per cell status (colour), optional


@dataclass
class ChartBlock:
    png: bytes
    caption: str
    width_cm: float = 16.0


@dataclass
class ChartGrid:
    charts: list[ChartBlock]
    columns: int = 2


@dataclass
class Section:
    title: str
    blocks: list[Any] = field(default_factory=list)
    level: int = 1
    landscape: bool = False


@dataclass
class MonthFacts:
    """What the report needs beyond the indicators (gathered by ``services``)."""

    escalations: list[Any]  # compute.OpenEscalation
    escalation_hours: dict[int, float]
    notes: dict[str, str]
    calendar_exceptions: list[tuple[date, str, str]]  # day, kind, note
    problems: list[tuple[datetime, str]]
    site_events: list[tuple[datetime, str]]
    daily_tickets: list[tuple[date, int]]
    zone: Any
    hours_per_day: float = 9.0


@dataclass
class MonthlyReport:
    month: str
    title: str
    subtitle: str
    cover_lines: list[str]
    generated_at: datetime
    key_figures: list[tuple[str, str]]
    summary: list[str]
    sections: list[Section]
    charts: dict[str, bytes]
    indicator_table: TableBlock
    incentive_table: TableBlock
    escalation_table: TableBlock
    notable: list[str]
    malfunctions: list[str]


# --- formatting ---------------------------------------------------------------------------


def n(v: float | int | None) -> str:
    if v is None:
        return "–"
    if isinstance(v, float) and not v.is_integer():
        return f"{v:,.1f}".replace(",", "\u202f").replace(".", ",")
    return f"{int(v):,}".replace(",", "\u202f")


def pc(v: float | None, digits: int = 1) -> str:
    return fmt_percent(v, digits)


def delta(now: float | None, before: float | None) -> str:
    if now is None or not before:
        return "–"
    d = (now - before) / before
    sign = "+" if d >= 0 else "−"
    return f"{sign}{abs(d) * 100:.1f}\u202f%".replace(".", ",")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    m, s = divmod(int(round(seconds)), 60)
    return f"{m} min {s:02d} s" if m else f"{s} s"


def ratio_text(p: Any) -> str:
    if p is None or p.numerator is None or p.denominator is None:
        return "–"
    return f"{n(p.numerator)} / {n(p.denominator)}"


def value_text(p: Any) -> str:
    if p is None or not p.has_value:
        return "pas de données"
    return pc(p.value)


# --- builder ------------------------------------------------------------------------------


def build_monthly(dash: Dashboard, facts: MonthFacts, rs: ReportSettings, generated_at: datetime) -> MonthlyReport:
    month = dash.end
    label = month_label(month)
    prev_key = year_before(month)
    prev_label = month_label(prev_key)
    op = dash.operational[month]
    op_prev = dash.operational.get(prev_key)
    shown = dash.shown
    zone = facts.zone

    # ---- key figures and summary
    measured = [i for i in INDICATORS if i.penalised and dash.latest(i.id) and dash.latest(i.id).has_value]
    met = [i for i in measured if dash.latest(i.id).status == "met"]
    missed = [i for i in measured if dash.latest(i.id).status == "missed"]
    pkg = dash.package.get(month)
    in_progress = [e for e in facts.escalations]
    key_figures = [
        ("Sollicitations (tickets créés)", f"{n(op.tickets)} ({delta(op.tickets, op_prev.tickets if op_prev else None)}"
                                           f" par rapport à {prev_label})"),
        ("dont téléphone, courriel, chat", " / ".join(n(op.by_channel.get(c, 0)) for c in CHANNELS)),
        ("Appels reçus / décrochés", f"{n(op.calls_received)} / {n(op.calls_answered)}"),
        ("Attente moyenne avant décroché", duration(op.mean_wait_seconds)),
        ("Durée moyenne de communication", duration(op.mean_talk_seconds)),
        ("Indicateurs pénalisables atteints", f"{len(met)} sur {len(measured)} mesurés"),
        ("Escalades en cours (N2/N3)", n(len(in_progress))),
    ]
    if pkg:
        key_figures.append(("Forfait annuel consommé", f"{n(pkg.consumed)} / {n(pkg.package)} tickets "
                                                       f"({pc(pkg.consumption, 0)})"))
    summary = [
        f"En {label}, le support a enregistré {n(op.tickets)} sollicitations ({n(op.by_channel.get('phone', 0))} "
        f"par téléphone, {n(op.by_channel.get('mail', 0))} par courriel, {n(op.by_channel.get('chat', 0))} par chat), "
        f"soit {delta(op.tickets, op_prev.tickets if op_prev else None)} par rapport à {prev_label}.",
        f"{len(met)} des {len(measured)} indicateurs pénalisables mesurés atteignent leur objectif"
        + (" ; objectif non atteint : " + ", ".join(f"{i.id} ({i.name.lower()})" for i in missed) + "."
           if missed else "."),
    ]
    alerts = dash.incentive()
    if alerts:
        summary.append("Incitation à la qualité : " + " ; ".join(
            f"{a['indicator']} — {a['run']} mois consécutif{'s' if a['run'] > 1 else ''} sous l'objectif "
            f"({a['action'].lower()})" for a in alerts) + ".")
    if pkg:
        summary.append(
            f"Forfait : {n(pkg.consumed)} tickets consommés depuis le début de l'année contractuelle "
            f"({month_label(pkg.year_start)}), pour {n(pkg.allowance_to_date)} tickets facturés en douzièmes ; "
            + (f"{pkg.extensions_needed} extension(s) de {dash.settings.extension_tickets} tickets nécessaire(s). "
               if pkg.extensions_needed else "aucune extension nécessaire à ce jour. ")
            + f"Au rythme actuel, l'année atteindrait {n(pkg.projected_year)} tickets"
            + (f", soit {pkg.projected_extensions} extension(s)." if pkg.projected_extensions else "."))
    not_recorded = [i for i in INDICATORS if i.not_recorded]
    summary.append(f"{len(not_recorded)} indicateurs du marché ne sont pas encore mesurés par le logiciel, faute de "
                   "données enregistrées : ils figurent « pas de données » avec la raison (section 3.4).")

    # ---- charts
    ch: dict[str, bytes] = {}
    ch["volumes"] = charts.stacked_volumes(
        shown, {c: [dash.operational[k].by_channel.get(c, 0) for k in shown] for c in CHANNELS},
        title="Sollicitations par canal et par mois")
    targets_rows = []
    for iid in T2:
        ind = BY_ID[iid]
        p = dash.latest(iid)
        targets_rows.append((f"{iid}  {SHORT.get(iid, ind.name)}", p.value if p else None,
                             ind.target.as_float if ind.target else None, ind.target.op != "<=" if ind.target else True))
    ch["targets"] = charts.against_targets(targets_rows, title=f"Indicateurs de traitement — {label}",
                                           size=(6.6, 4.2))
    for iid in T2 + ["T1-IQ01", "T1-IQ02", "T8-IQ01"]:
        ind = BY_ID[iid]
        vals = [dash.point(iid, k).value if dash.point(iid, k) else None for k in shown]
        prev = [dash.year_before(iid, k).value if dash.year_before(iid, k) else None for k in shown]
        if all(v is None for v in vals):
            continue
        ch[f"trend-{iid}"] = charts.trend(shown, vals, prev, target=ind.target.as_float if ind.target else None,
                                          higher_is_better=(ind.target.op != "<=") if ind.target else True,
                                          title=f"{iid} — {SHORT.get(iid, ind.name)}", size=(5.2, 2.7))
    rt = op.by_request_type
    labels = dash.raw.labels if dash.raw else {}
    top = [(labels.get("request_type", {}).get(k, k), v) for k, v in list(rt.items())[:10]]
    if top:
        ch["request_types"] = charts.horizontal_counts(top, title="Sollicitations par type de demande (10 premiers)",
                                                       size=(6.4, 3.2))
    pk_keys = [k for k in shown if k in dash.package]
    if pk_keys:
        ch["package"] = charts.package_chart(pk_keys, [dash.package[k].consumed for k in pk_keys],
                                             [dash.package[k].allowance_to_date for k in pk_keys],
                                             dash.settings.package_tickets,
                                             year_starts=[dash.package[k].year_start for k in pk_keys],
                                             title="Consommation du forfait annuel de tickets")

    # ---- tables
    indicator_table = _indicator_table(dash, month)
    incentive_table = _incentive_table(dash, month)
    escalation_table = _escalation_table(facts, rs.escalations_listed)

    # ---- notable events (automatic) and malfunctions
    notable = _notable(dash, facts, month)
    malfunctions = []
    for i in missed:
        p = dash.latest(i.id)
        malfunctions.append(f"{i.id} {i.name} : {value_text(p)} pour un objectif {i.target_label} "
                            f"({ratio_text(p)}).")
    t1 = dash.latest("T1-IQ01")
    if t1 and t1.details.get("down_minutes"):
        malfunctions.append(f"Indisponibilité de la plate-forme pendant les heures d'ouverture : "
                            f"{n(t1.details['down_minutes'])} minutes.")

    # ---- sections
    sections: list[Section] = []
    s1 = Section("1. Synthèse du mois")
    s1.blocks.append(TableBlock(["Chiffre clé", "Valeur"], [[a, b] for a, b in key_figures], ["l", "l"], [1.2, 1.8],
                                caption=""))
    s1.blocks.append(Bullets(summary))
    sections.append(s1)

    s2 = Section("2. Activité")
    s2.blocks.append(Section("2.1 Volumes par canal", level=2))
    s2.blocks.append(ChartBlock(ch["volumes"], f"Sollicitations par canal sur 13 mois ({month_label(shown[0])} – "
                                               f"{label})."))
    vol_rows = []
    for k in shown:
        o = dash.operational[k]
        o_prev = dash.operational.get(year_before(k))
        vol_rows.append([month_label(k, short=True)] + [n(o.by_channel.get(c, 0)) for c in CHANNELS]
                        + [n(o.tickets), n(o_prev.tickets) if o_prev and o_prev.tickets else "–",
                           delta(o.tickets, o_prev.tickets if o_prev else None)])
    s2.blocks.append(TableBlock(["Mois", "Téléphone", "Courriel", "Chat", "Total", "Année précédente", "Évolution"],
                                vol_rows, ["l", "r", "r", "r", "r", "r", "r"], [1.3, 1, 1, 0.8, 1, 1.3, 1]))
    s2.blocks.append(Section("2.2 Répartition des sollicitations du mois", level=2))
    total = max(op.tickets, 1)
    for title, data, kind in (("Public", op.by_audience, "audience"), ("Application", op.by_application, "application")):
        s2.blocks.append(TableBlock([title, "Tickets", "Part"], [
            [labels.get(kind, {}).get(k, k), n(v), pc(v / total)] for k, v in data.items()],
            ["l", "r", "r"], [3, 1, 1]))
    if "request_types" in ch:
        s2.blocks.append(ChartBlock(ch["request_types"], "Les dix types de demande les plus fréquents du mois."))
    s2.blocks.append(TableBlock(["Type de demande", "Tickets", "Part"], [
        [labels.get("request_type", {}).get(k, k), n(v), pc(v / total)] for k, v in rt.items()],
        ["l", "r", "r"], [3, 1, 1]))
    s2.blocks.append(Section("2.3 Téléphonie, courriel et chat", level=2))
    phone_rows = [
        ["Appels reçus pendant les heures d'ouverture", n(op.calls_received),
         n(op_prev.calls_received) if op_prev else "–"],
        ["Appels reçus service fermé (message de fermeture)", n(op.calls_outside_hours),
         n(op_prev.calls_outside_hours) if op_prev else "–"],
        ["Appels présentés en file d'attente", n(op.calls_presented), n(op_prev.calls_presented) if op_prev else "–"],
        ["Appels décrochés", n(op.calls_answered), n(op_prev.calls_answered) if op_prev else "–"],
        ["Appels abandonnés", n(op.calls_abandoned), n(op_prev.calls_abandoned) if op_prev else "–"],
        ["Abandons courts (exclus des indicateurs)", n(op.calls_short_abandons),
         n(op_prev.calls_short_abandons) if op_prev else "–"],
        ["Appels coupés par le service (attente maximale, aucun opérateur)", n(op.calls_lost_by_service),
         n(op_prev.calls_lost_by_service) if op_prev else "–"],
        ["Demandes de rappel (attente virtuelle)", n(op.calls_callback_requested),
         n(op_prev.calls_callback_requested) if op_prev else "–"],
        ["Attente moyenne avant décroché", duration(op.mean_wait_seconds),
         duration(op_prev.mean_wait_seconds) if op_prev else "–"],
        ["Durée moyenne de communication", duration(op.mean_talk_seconds),
         duration(op_prev.mean_talk_seconds) if op_prev else "–"],
        ["Mails reçus", n(op.mails), n(op_prev.mails) if op_prev else "–"],
        ["Conversations de chat", n(op.chats), n(op_prev.chats) if op_prev else "–"],
        ["Durée moyenne d'une conversation de chat", duration(op.mean_chat_seconds),
         duration(op_prev.mean_chat_seconds) if op_prev else "–"],
        ["Tickets escaladés au N2", n(op.escalated), n(op_prev.escalated) if op_prev else "–"],
        ["Tickets résolus (N1 / N2 / N3)", f"{n(op.resolved_by_n1)} / {n(op.resolved_by_n2)} / {n(op.resolved_by_n3)}",
         f"{n(op_prev.resolved_by_n1)} / {n(op_prev.resolved_by_n2)} / {n(op_prev.resolved_by_n3)}" if op_prev else "–"],
    ]
    s2.blocks.append(TableBlock(["", label, prev_label], phone_rows, ["l", "r", "r"], [3.4, 1.1, 1.1]))
    s2.blocks.append(Section("2.4 Occupation des opérateurs", level=2))
    if op.occupancy is not None:
        src = ("temps passé en communication et en post-appel" if op.occupancy_source == "states"
               else "temps de communication seul (les états d'appel des opérateurs ne sont pas journalisés)")
        s2.blocks.append(Paragraph(
            f"{op.operators} opérateurs se sont connectés dans le mois, pour {n(op.logged_in_hours)} heures de "
            f"connexion ; taux d'occupation : {pc(op.occupancy)} ({src})."))
    else:
        s2.blocks.append(Paragraph("Aucune connexion d'opérateur enregistrée sur le mois."))
    s2.blocks.append(Section("2.5 Consommation du forfait de tickets", level=2))
    if pkg:
        if "package" in ch:
            s2.blocks.append(ChartBlock(ch["package"], "Tickets cumulés de l'année contractuelle, douzièmes facturés "
                                                       "et forfait annuel."))
        s2.blocks.append(TableBlock(["", "Valeur"], [
            ["Début de l'année contractuelle", month_label(pkg.year_start)],
            ["Tickets du mois", n(pkg.tickets_month)],
            ["Tickets cumulés", n(pkg.consumed)],
            ["Douzièmes facturés à ce jour", f"{pkg.months_elapsed} / 12 ({n(pkg.allowance_to_date)} tickets)"],
            ["Forfait annuel", f"{n(pkg.package)} tickets ({pc(pkg.consumption, 0)} consommés)"],
            ["Extensions de 500 tickets nécessaires à ce jour", n(pkg.extensions_needed)],
            ["Projection sur l'année (rythme actuel)", f"{n(pkg.projected_year)} tickets, "
                                                       f"{pkg.projected_extensions} extension(s)"],
        ], ["l", "r"], [2.6, 2]))
        if not dash.settings.count_merged_duplicates:
            s2.blocks.append(Paragraph("Les doublons fusionnés dans un autre ticket ne sont pas décomptés.", "note"))
    sections.append(s2)

    s3 = Section("3. Niveaux de service")
    s3.blocks.append(Section("3.1 Indicateurs du mois", level=2))
    s3.blocks.append(Paragraph(
        f"Valeurs de {label}, comparées à l'objectif contractuel et au même mois de l'année précédente. Les "
        "définitions précises (numérateur, dénominateur, règles) figurent en annexe A.", "note"))
    s3.blocks.append(indicator_table)
    s3.blocks.append(Section("3.2 Indicateurs de traitement contre leurs objectifs", level=2))
    s3.blocks.append(ChartBlock(ch["targets"], f"Indicateurs T2 de {label} : barre = valeur, trait noir = objectif."))
    s3.blocks.append(Section("3.3 Évolution sur 13 mois", level=2))
    trend_blocks = [ChartBlock(ch[f"trend-{i}"], "", 8.2) for i in T2 + ["T1-IQ01", "T1-IQ02", "T8-IQ01"]
                    if f"trend-{i}" in ch]
    s3.blocks.append(ChartGrid(trend_blocks, 2))
    s3.blocks.append(Paragraph("Trait bleu : mois ; tirets gris : même mois de l'année précédente ; pointillés rouges : "
                               "objectif ; points rouges : objectif non atteint.", "note"))
    s3.blocks.append(Section("3.4 Indicateurs sans données", level=2))
    nodata = []
    for ind in INDICATORS:
        p = dash.latest(ind.id)
        if p is not None and not p.has_value and p.status == "no_data":
            nodata.append([ind.id, ind.name, p.reason or ""])
    s3.blocks.append(TableBlock(["Indicateur", "Libellé", "Raison"], nodata, ["l", "l", "l"], [1.2, 2.2, 4]))
    sections.append(s3)

    s4 = Section("4. Incitation au maintien de la qualité")
    s4.blocks.append(Paragraph(
        "Pour chaque indicateur pénalisable, nombre de mois consécutifs sous l'objectif jusqu'au mois du rapport : "
        "1 mois = mise en observation et plan d'action validé en comité de pilotage ; 2 mois = réfactions possibles "
        "et mise en demeure ; 3 mois = réfactions possibles et résiliation pour faute possible."))
    s4.blocks.append(incentive_table)
    sections.append(s4)

    s5 = Section("5. Faits marquants")
    s5.blocks.append(Bullets(notable) if notable else Paragraph("Aucun fait marquant relevé automatiquement."))
    s5.blocks.extend(_note(facts, "faits_marquants"))
    sections.append(s5)

    s6 = Section("6. Dysfonctionnements, analyse et actions correctives")
    s6.blocks.append(Section("6.1 Écarts constatés", level=2))
    s6.blocks.append(Bullets(malfunctions) if malfunctions else Paragraph("Aucun indicateur pénalisable sous son "
                                                                          "objectif ce mois-ci."))
    s6.blocks.append(Section("6.2 Analyse", level=2))
    s6.blocks.extend(_note(facts, "dysfonctionnements"))
    s6.blocks.append(Section("6.3 Actions correctives", level=2))
    s6.blocks.extend(_note(facts, "actions_correctives"))
    sections.append(s6)

    s7 = Section("7. Escalades en cours au N2 et au N3")
    by_level = Counter(e.status for e in facts.escalations)
    ages = [facts.escalation_hours.get(e.ticket_id) or 0.0 for e in facts.escalations]
    s7.blocks.append(Paragraph(
        f"À la date du rapport, {n(len(facts.escalations))} tickets escaladés sont en cours : "
        f"{n(by_level.get('escalated_n2', 0))} au N2, {n(by_level.get('escalated_n3', 0))} au N3 et "
        f"{n(by_level.get('info_requested', 0))} en attente d'un complément demandé par le N2. "
        + (f"{n(sum(1 for a in ages if a > 5 * facts.hours_per_day))} sont escaladés depuis plus de 5 jours ouvrés. " if ages else "")
        + "Les plus anciens :"))
    s7.blocks.append(escalation_table)
    sections.append(s7)

    s8 = Section("8. Avancement des projets et évolutions")
    s8.blocks.extend(_note(facts, "avancement"))
    sections.append(s8)

    appendix = Section("Annexe A. Définitions des indicateurs")
    terms = glossary(dash.settings, dash.clocks)
    appendix.blocks.append(TableBlock(["Terme", "Définition"], [[t.name, t.text] for t in terms], ["l", "l"],
                                      [1.3, 5], font_size=8))
    rows = []
    for ind in INDICATORS:
        w = wording(ind.id, dash.settings, dash.clocks)
        if w:
            rows.append([f"{ind.id}\n{ind.name}", w.numerator, w.denominator, ind.target_label])
    appendix.blocks.append(TableBlock(["Indicateur", "Numérateur", "Dénominateur", "Objectif"], rows,
                                      ["l", "l", "l", "l"], [1.6, 2.4, 2.4, 1], font_size=8))
    sections.append(appendix)

    annex_b = Section("Annexe B. Indicateurs sur 13 mois", landscape=True)
    head = ["Indicateur"] + [month_label(k, short=True) for k in shown] + ["Objectif"]
    rows_b, cells_b = [], []
    for ind in INDICATORS:
        if ind.not_recorded:
            continue
        rows_b.append([ind.id] + [value_text(dash.point(ind.id, k)).replace("pas de données", "–") for k in shown]
                      + [target_short(ind)])
        cells_b.append([None] + [dash.point(ind.id, k).status if dash.point(ind.id, k) else None for k in shown]
                       + [None])
    annex_b.blocks.append(TableBlock(head, rows_b, ["l"] + ["r"] * len(shown) + ["c"], [1.3] + [1] * len(shown) + [1.0],
                                     font_size=7.5, cells=cells_b))
    annex_b.blocks.append(Paragraph("Vert : objectif atteint ; rouge : objectif non atteint ; « – » : pas de données sur "
                                    "le mois (dénominateur nul ou faits non enregistrés).", "note"))
    sections.append(annex_b)

    local = generated_at.astimezone(zone)
    cover = [rs.service_name, f"Destinataire : {rs.recipient}", f"Émetteur : {rs.contractor}",
             f"Période : du 1er au dernier jour de {label}",
             f"Document généré le {day_label(local.date())} à {local:%H:%M} — version projet, à valider en comité de "
             "pilotage"]
    return MonthlyReport(month, "Rapport mensuel d'activité", label.capitalize(), cover, generated_at, key_figures,
                         summary, sections, ch, indicator_table, incentive_table, escalation_table, notable,
                         malfunctions)


def _note(facts: MonthFacts, section: str) -> list[Any]:
    text = (facts.notes.get(section) or "").strip()
    if not text:
        return [Paragraph("Aucun élément n'a été saisi pour ce mois par le responsable du service.", "note")]
    return [Paragraph(part.strip()) for part in text.split("\n\n") if part.strip()]


def _indicator_table(dash: Dashboard, month: str) -> TableBlock:
    rows, status = [], []
    for ind in INDICATORS:
        if ind.not_recorded:
            continue
        p = dash.point(ind.id, month)
        prev = dash.year_before(ind.id, month)
        rows.append([ind.id, ind.name, ratio_text(p), value_text(p).replace("pas de données", "–"),
                     target_short(ind), STATUS_FR[p.status] if p else "–",
                     value_text(prev).replace("pas de données", "–"), "oui" if ind.penalised else "non"])
        status.append(p.status if p else None)
    return TableBlock(["Indicateur", "Libellé", "Numérateur / dénominateur", "Valeur", "Objectif", "Résultat",
                       "Année préc.", "Pénal."], rows, ["l", "l", "r", "r", "c", "c", "r", "c"],
                      [1.2, 2.45, 1.5, 0.8, 0.85, 1.05, 0.8, 0.8], status, 5, font_size=8)


def _incentive_table(dash: Dashboard, month: str) -> TableBlock:
    rows, status = [], []
    for ind in INDICATORS:
        if not ind.penalised:
            continue
        p = dash.point(ind.id, month)
        if p is None:
            continue
        if ind.not_recorded:
            continue
        run = p.run
        rows.append([ind.id, ind.name, value_text(p).replace("pas de données", "–"), target_short(ind),
                     str(run) if p.has_value else "–",
                     incentive_text(run) if run else ("pas de données" if not p.has_value else "—")])
        status.append("missed" if run else ("no_data" if not p.has_value else "met"))
    return TableBlock(["Indicateur", "Libellé", "Valeur", "Objectif", "Mois sous l'objectif",
                       "Conséquence possible"], rows, ["l", "l", "r", "c", "c", "l"],
                      [1.2, 2.6, 0.8, 0.8, 0.9, 2.6], status, 4, font_size=8)


def _escalation_table(facts: MonthFacts, limit: int) -> TableBlock:
    zone = facts.zone
    rows = []
    items = sorted(facts.escalations, key=lambda e: (e.escalated_at or e.created_at))[:limit]
    for e in items:
        hours = facts.escalation_hours.get(e.ticket_id)
        rows.append([e.reference, {"escalated_n2": "N2", "escalated_n3": "N3", "info_requested":
                                   "complément demandé"}.get(e.status, e.status), e.subject or "",
                     str(e.priority or "–"), e.glpi_reference or "–",
                     (e.escalated_at or e.created_at).astimezone(zone).strftime("%d/%m/%Y"),
                     n(round(hours / facts.hours_per_day, 1)) if hours is not None else "–", str(e.reminders)])
    return TableBlock(["Ticket", "Chez", "Objet", "Prio.", "Réf. GLPI", "Escaladé le", "Jours ouvrés",
                       "Relances"], rows, ["l", "c", "l", "c", "l", "c", "r", "r"],
                      [1.75, 0.55, 2.6, 0.5, 1.75, 1.05, 0.8, 0.75], font_size=8)


def _notable(dash: Dashboard, facts: MonthFacts, month: str) -> list[str]:
    out: list[str] = []
    for day, kind, note in facts.calendar_exceptions:
        what = "Ouverture exceptionnelle" if kind == "opening" else "Fermeture exceptionnelle"
        out.append(f"{what} le {day_label(day)}" + (f" : {note}" if note else "") + ".")
    for at, text in facts.site_events:
        out.append(f"{day_label(at.astimezone(facts.zone).date()).capitalize()} : {text}.")
    for at, title in facts.problems:
        out.append(f"Problème ouvert le {day_label(at.astimezone(facts.zone).date())} : {title}.")
    if facts.daily_tickets:
        busy = [(d, v) for d, v in facts.daily_tickets if v > 0]
        if busy:
            mean = sum(v for _, v in busy) / len(busy)
            peak_day, peak = max(busy, key=lambda x: x[1])
            out.append(f"Journée la plus chargée : {day_label(peak_day)}, {n(peak)} sollicitations "
                       f"(moyenne des jours d'activité : {n(round(mean))}).")
    op = dash.operational[month]
    prev = dash.operational.get(year_before(month))
    if prev and prev.tickets:
        d = (op.tickets - prev.tickets) / prev.tickets
        if abs(d) >= 0.1:
            out.append(f"Volume en {'hausse' if d > 0 else 'baisse'} de {abs(d) * 100:.0f} % par rapport au même mois "
                       "de l'année précédente.".replace(".", ",", 0))
    for ind in INDICATORS:
        p = dash.point(ind.id, month)
        if ind.penalised and p is not None and p.run == 1:
            out.append(f"{ind.id} passe sous son objectif ({value_text(p)} pour {ind.target_label}) : mise en "
                       "observation et plan d'action.")
    return out


def family_label(code: str) -> str:
    return FAMILIES.get(code, code)
