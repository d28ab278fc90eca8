"""The flat, pivot-ready tables of a month (SPEC §7): one row per ticket, call, mail and
chat with its facts, one row per indicator and month, one per volume cell, one per month of
operational figures, and the escalations in progress.

Pivot-ready means: one header row, one typed value per cell, no merged cells, and — for
every indicator — a numerator column and a denominator column of 0/1 on the rows it is
computed from, so that a pivot table's SUM(numerator) / SUM(denominator) gives the
indicator exactly (the tests check it). The rows come from the same queries and rules as the
indicators (the call rows from the journal's facts, lost calls from ``compute.lost_calls``).

Personal data stays out: no caller numbers, names or mail addresses — only whether a call
was anonymous. Timestamps are local (Europe/Paris) wall-clock times.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from indicators import compute as q
from indicators.catalogue import INDICATORS
from indicators.periods import Periods, month_key
from indicators.services import STATUS_FR, Dashboard
from indicators.settings import IndicatorSettings
from telephony.models import Call
from ticket_core.business_time import BusinessCalendar
from ticket_core.journal import EventKind as K
from ticket_core.models import Application, Audience, JournalEvent, RequestType, Ticket

E = JournalEvent.__table__
T = Ticket.__table__
C = Call.__table__

CHANNEL_FR = {"phone": "téléphone", "mail": "courriel", "chat": "chat", "portal": "portail"}
STATUS_TICKET_FR = {
    "new": "nouveau", "in_progress": "en cours", "resolved": "résolu", "escalated_n2": "escaladé N2",
    "returned_to_n1": "retourné au N1", "info_requested": "complément demandé", "escalated_n3": "escaladé N3",
    "technically_closed": "clôture technique", "closed": "clos", "merged": "fusionné",
}
OUTCOME_FR = {"answered": "décroché", "abandoned": "abandonné", "lost": "perdu", "outside_hours": "hors heures",
              "callback_requested": "rappel demandé", "in_progress": "en cours"}


@dataclass(frozen=True)
class Column:
    name: str
    kind: str = "text"  # text | int | float | pct | datetime | flag
    width: float = 14


@dataclass
class Sheet:
    name: str  # worksheet / CSV file name (short, no accents in the file name)
    title: str  # French
    columns: list[Column]
    rows: list[tuple] = field(default_factory=list)
    table: str = ""  # Excel table name

    def column_index(self, name: str) -> int:
        return [c.name for c in self.columns].index(name)


def _local(at: datetime | str | None, zone: Any) -> datetime | None:
    """An instant as a naive local wall-clock time (Excel has no time zones)."""
    if at is None:
        return None
    if isinstance(at, str):  # an aggregate over a timestamp, as SQLite returns it
        at = datetime.fromisoformat(at)
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(zone).replace(tzinfo=None)


def _aware(at: datetime | str | None) -> datetime | None:
    if at is None:
        return None
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _flag(cond: bool) -> int:
    return 1 if cond else 0


# -----------------------------------------------------------------------------------------


def indicator_sheet(dash: Dashboard) -> Sheet:
    cols = [Column("Indicateur", width=10), Column("Libellé", width=44), Column("Famille", width=8),
            Column("Mois", width=9), Column("Numérateur", "float"), Column("Dénominateur", "float"),
            Column("Valeur", "pct", 10), Column("Objectif", width=22), Column("Objectif (valeur)", "pct", 10),
            Column("Comparaison", width=8), Column("Atteint", width=8), Column("Statut", width=14),
            Column("Pénalisable", width=9), Column("Mois consécutifs sous l'objectif", "int", 12),
            Column("Valeur même mois année précédente", "pct", 12), Column("Raison (pas de données)", width=60)]
    rows = []
    for ind in INDICATORS:
        for key in dash.keys:
            p = dash.point(ind.id, key)
            if p is None:
                continue
            prev = dash.year_before(ind.id, key)
            met = {"met": "oui", "missed": "non"}.get(p.status, "")
            rows.append((
                ind.id, ind.name, ind.family, key, p.numerator, p.denominator, p.value, ind.target_label,
                ind.target.as_float if ind.target else None, ind.target.op if ind.target else "", met,
                STATUS_FR[p.status], "oui" if ind.penalised else "non", p.run if ind.penalised else None,
                prev.value if prev else None, p.reason or "",
            ))
    return Sheet("Indicateurs", "Indicateurs par mois", cols, rows, "Indicateurs")


def volume_sheet(dash: Dashboard) -> Sheet:
    raw = dash.raw
    labels = raw.labels if raw else {}
    cols = [Column("Mois", width=9), Column("Canal"), Column("Public", width=16), Column("Application", width=30),
            Column("Type de demande", width=40), Column("Doublon fusionné", width=10), Column("Tickets", "int", 10)]
    rows = []
    for v in (raw.volumes if raw else []):
        rows.append((
            raw.periods.keys[v.period], CHANNEL_FR.get(v.channel, v.channel),
            labels.get("audience", {}).get(v.audience or "", v.audience or "non renseigné"),
            labels.get("application", {}).get(v.application or "", v.application or "non qualifié"),
            labels.get("request_type", {}).get(v.request_type or "", v.request_type or "non qualifié"),
            "oui" if v.duplicate else "non", v.tickets,
        ))
    rows.sort(key=lambda r: (r[0], r[1], r[2], r[3], r[4], r[5]))
    return Sheet("Volumes", "Tickets créés par mois, canal, public, application et type", cols, rows, "Volumes")


def operational_sheet(dash: Dashboard) -> Sheet:
    cols = [Column("Mois", width=9), Column("Tickets", "int"), Column("Doublons fusionnés", "int"),
            Column("Téléphone", "int"), Column("Courriel", "int"), Column("Chat", "int"),
            Column("Appels reçus", "int"), Column("Appels hors heures", "int"), Column("Appels présentés", "int"),
            Column("Appels décrochés", "int"), Column("Appels abandonnés", "int"), Column("Abandons courts", "int"),
            Column("Appels coupés par le service", "int"), Column("Demandes de rappel", "int"),
            Column("Attente moyenne (s)", "float"), Column("Communication moyenne (s)", "float"),
            Column("Chats", "int"), Column("Durée moyenne de chat (s)", "float"), Column("Escalades N2", "int"),
            Column("Tickets résolus", "int"), Column("Résolus N1", "int"), Column("Résolus N2", "int"),
            Column("Résolus N3", "int"), Column("Opérateurs", "int"), Column("Heures connectées", "float"),
            Column("Heures occupées", "float"), Column("Taux d'occupation", "pct"),
            Column("Source de l'occupation", width=22), Column("Tickets cumulés (année contractuelle)", "int"),
            Column("Douzièmes facturés (tickets)", "int"), Column("Extensions nécessaires", "int"),
            Column("Projection annuelle", "int"), Column("Extensions projetées", "int")]
    rows = []
    for key in dash.keys:
        o = dash.operational[key]
        pk = dash.package.get(key)
        rows.append((
            key, o.tickets, o.duplicates, o.by_channel.get("phone", 0), o.by_channel.get("mail", 0),
            o.by_channel.get("chat", 0), o.calls_received, o.calls_outside_hours, o.calls_presented, o.calls_answered,
            o.calls_abandoned, o.calls_short_abandons, o.calls_lost_by_service, o.calls_callback_requested,
            o.mean_wait_seconds, o.mean_talk_seconds, o.chats, o.mean_chat_seconds, o.escalated, o.resolved,
            o.resolved_by_n1, o.resolved_by_n2, o.resolved_by_n3, o.operators, o.logged_in_hours, o.busy_hours,
            o.occupancy, {"states": "états des opérateurs", "talk": "temps de communication"}.get(
                o.occupancy_source or "", ""),
            pk.consumed if pk else None, pk.allowance_to_date if pk else None, pk.extensions_needed if pk else None,
            pk.projected_year if pk else None, pk.projected_extensions if pk else None,
        ))
    return Sheet("Exploitation", "Indicateurs opérationnels par mois", cols, rows, "Exploitation")


# -----------------------------------------------------------------------------------------


async def ticket_sheets(conn: AsyncConnection, month: Periods, s: IndicatorSettings, calendar: BusinessCalendar,
                        now: datetime, traffic: q.DrillTraffic = q.DrillTraffic()) -> tuple[Sheet, Sheet]:
    """One row per ticket created in the month, and one per mail (a mail is a ticket of the
    mail channel), with the 0/1 columns of T2-IQ05, 07, 08, 09 and 10. A switchover drill's
    test ticket is listed, flagged, with every indicator column at 0 (the indicators leave
    it out)."""
    zone = calendar.hours.zone
    app, aud, rt = Application.__table__, Audience.__table__, RequestType.__table__
    q_ = (
        select(T, app.c.label.label("app"), aud.c.label.label("aud"), rt.c.label.label("rtype"),
               rt.c.category.label("category"), rt.c.excluded_from_resolution_indicators.label("rt_excluded"))
        .select_from(T.outerjoin(app, app.c.id == T.c.application_id).outerjoin(aud, aud.c.code == T.c.audience_code)
                     .outerjoin(rt, rt.c.id == T.c.request_type_id))
        .where(month.within(T.c.created_at))
        .order_by(T.c.created_at, T.c.id)
    )
    rows = list(await conn.execute(q_))
    refs = {}
    merged_ids = {r.merged_into_id for r in rows if r.merged_into_id}
    if merged_ids:
        for chunk in _chunks(sorted(merged_ids), 500):
            for r in await conn.execute(select(T.c.id, T.c.reference).where(T.c.id.in_(chunk))):
                refs[r.id] = r.reference
    resolved_in = month
    cols = [Column("Référence", width=16), Column("Mois de création", width=9), Column("Canal", width=10),
            Column("Public", width=14), Column("Application", width=28), Column("Type de demande", width=36),
            Column("Catégorie", width=10), Column("Criticité", "int", 8), Column("Sévérité", "int", 8),
            Column("Priorité", "int", 8), Column("Classe de priorité", width=12), Column("Statut", width=16),
            Column("Niveau actuel", width=8), Column("Créé le", "datetime", 17), Column("Pris en charge le", "datetime", 17),
            Column("Traité ou escaladé le", "datetime", 17), Column("Échéance de traitement", "datetime", 17),
            Column("Résolu le", "datetime", 17), Column("Résolu par", width=8), Column("Clos le", "datetime", 17),
            Column("Escaladé", "flag", 8), Column("Renvoyé pour information manquante", "flag", 10),
            Column("Contacts", "int", 8), Column("Fusionné dans", width=16), Column("Hors fusion", "flag", 8),
            Column("T2-IQ07 numérateur", "flag", 10), Column("T2-IQ07 dénominateur", "flag", 10),
            Column("T2-IQ08 numérateur", "flag", 10), Column("T2-IQ08 dénominateur", "flag", 10),
            Column("T2-IQ09 numérateur", "flag", 10), Column("T2-IQ09 dénominateur", "flag", 10),
            Column("T2-IQ10 numérateur (résolu ce mois)", "flag", 12),
            Column("T2-IQ10 dénominateur (résolu ce mois)", "flag", 12), Column("Exercice de bascule", "flag", 10)]
    mail_cols = [Column("Référence", width=16), Column("Mois de réception", width=9), Column("Public", width=14),
                 Column("Type de demande", width=36), Column("Reçu le", "datetime", 17),
                 Column("Reçu hors heures d'ouverture", "flag", 10),
                 Column("Échéance de prise en charge", "datetime", 17), Column("Pris en charge le", "datetime", 17),
                 Column("Délai de prise en charge (heures ouvrées)", "float", 14),
                 Column("Pris en charge à temps", "flag", 10), Column("En attente", "flag", 10),
                 Column("Doublon fusionné", "flag", 10), Column("T2-IQ05 numérateur", "flag", 10),
                 Column("T2-IQ05 dénominateur", "flag", 10), Column("Exercice de bascule", "flag", 10)]
    tickets, mails = [], []
    for r in rows:
        key = month.keys[month.index_of(r.created_at) or 0]
        drill = r.id in traffic.ticket_ids
        n = 0 if drill else 1  # a drill's ticket counts in no indicator
        merged = r.merged_into_id is not None
        excluded = merged or bool(r.rt_excluded)
        fcr = r.resolved_by_level == "N1" and not r.escalated and r.contacts == 1
        in_time = r.handled_at is not None and r.handled_at <= r.handling_due_at
        pending = r.handled_at is None and r.handling_due_at is not None and r.handling_due_at > now
        critical = not merged and r.priority is not None and r.priority <= 2
        normal = not merged and ((r.priority is not None and r.priority >= 3)
                                 or (r.priority is None and s.unqualified_as_normal))
        resolved_here = r.resolved_at is not None and resolved_in.index_of(r.resolved_at) is not None and not excluded
        prio_class = "critique" if r.priority is not None and r.priority <= 2 else (
            "normale" if r.priority is not None else "non qualifiée")
        tickets.append((
            r.reference, key, CHANNEL_FR.get(r.channel, r.channel), r.aud or "", r.app or "", r.rtype or "",
            r.category or "", r.criticality, r.severity, r.priority, prio_class,
            STATUS_TICKET_FR.get(r.status, r.status), r.level, _local(r.created_at, zone),
            _local(r.taken_in_charge_at, zone), _local(r.handled_at, zone), _local(r.handling_due_at, zone),
            _local(r.resolved_at, zone), r.resolved_by_level or "", _local(r.closed_at, zone),
            _flag(r.escalated), _flag(r.escalation_bounced), r.contacts, refs.get(r.merged_into_id, ""),
            _flag(not excluded), n * _flag(not excluded and fcr), n * _flag(not excluded),
            n * _flag(critical and in_time), n * _flag(critical and not pending),
            n * _flag(normal and in_time), n * _flag(normal and not pending),
            n * _flag(resolved_here and r.resolved_by_level == "N1"), n * _flag(resolved_here), _flag(drill),
        ))
        if r.channel == "mail":
            taken_in_time = r.taken_in_charge_at is not None and r.taken_in_charge_at <= r.taken_in_charge_due_at
            mail_pending = r.taken_in_charge_at is None and (r.taken_in_charge_due_at or now) > now
            delay = None
            if r.taken_in_charge_at is not None:
                delay = round(calendar.business_seconds_between(r.created_at, r.taken_in_charge_at) / 3600, 3)
            mails.append((
                r.reference, key, r.aud or "", r.rtype or "", _local(r.created_at, zone),
                _flag(not calendar.is_open(r.created_at)), _local(r.taken_in_charge_due_at, zone),
                _local(r.taken_in_charge_at, zone), delay, _flag(taken_in_time), _flag(mail_pending), _flag(merged),
                n * _flag(taken_in_time), n * _flag(not mail_pending), _flag(drill),
            ))
    return (Sheet("Tickets", "Tickets créés dans le mois", cols, tickets, "Tickets"),
            Sheet("Mails", "Mails reçus dans le mois", mail_cols, mails, "Mails"))


async def resolved_elsewhere(conn: AsyncConnection, month: Periods, zone: Any,
                             traffic: q.DrillTraffic = q.DrillTraffic()) -> Sheet:
    """Tickets resolved in the month but created before it: with the month's creations
    they make T2-IQ10's rows complete."""
    excluded = q._excluded(T, await q.excluded_request_types(conn))
    rows = await conn.execute(
        select(T.c.reference, T.c.created_at, T.c.resolved_at, T.c.resolved_by_level)
        .where(month.within(T.c.resolved_at), T.c.created_at < month.start, ~excluded, traffic.kept(T))
        .order_by(T.c.resolved_at))
    cols = [Column("Référence", width=16), Column("Créé le", "datetime", 17), Column("Résolu le", "datetime", 17),
            Column("Résolu par", width=8), Column("T2-IQ10 numérateur (résolu ce mois)", "flag", 12),
            Column("T2-IQ10 dénominateur (résolu ce mois)", "flag", 12)]
    return Sheet("Resolus", "Tickets créés avant le mois et résolus dans le mois", cols, [
        (r.reference, _local(r.created_at, zone), _local(r.resolved_at, zone), r.resolved_by_level,
         _flag(r.resolved_by_level == "N1"), 1) for r in rows], "Resolus")


async def call_sheet(conn: AsyncConnection, month: Periods, s: IndicatorSettings, calendar: BusinessCalendar,
                     now: datetime, traffic: q.DrillTraffic = q.DrillTraffic()) -> Sheet:
    """One row per call with a fact in the month, built from the journal's facts (as the
    indicators are), with the caller's anonymity, operator and ticket from the calls table."""
    zone = calendar.hours.zone
    kind = E.c.kind
    wait = E.c.data["wait_seconds"].as_float()
    talk = E.c.data["talk_seconds"].as_float()
    reason = E.c.data["reason"].as_string()
    kinds = [K.CALL_RECEIVED.value, K.CALL_RECEIVED_OUTSIDE_HOURS.value, K.CALL_PRESENTED.value,
             K.CALL_ANSWERED.value, K.CALL_ABANDONED.value, K.CALL_LOST.value, K.CALL_ENDED.value]

    def first(k: str, value: Any = None) -> Any:
        return func.min(case((kind == k, value if value is not None else E.c.occurred_at)))

    facts = (
        select(E.c.call_id.label("call_id"),
               first(K.CALL_RECEIVED.value).label("received_at"),
               first(K.CALL_RECEIVED_OUTSIDE_HOURS.value).label("outside_at"),
               first(K.CALL_PRESENTED.value).label("presented_at"),
               first(K.CALL_ANSWERED.value).label("answered_at"),
               first(K.CALL_ANSWERED.value, wait).label("answer_wait"),
               first(K.CALL_ABANDONED.value).label("abandoned_at"),
               first(K.CALL_ABANDONED.value, wait).label("abandon_wait"),
               first(K.CALL_LOST.value).label("lost_at"),
               func.max(case((kind == K.CALL_LOST.value, reason))).label("lost_reason"),
               first(K.CALL_LOST.value, wait).label("lost_wait"),
               func.max(case((kind == K.CALL_ENDED.value, talk))).label("talk"),
               func.min(E.c.queue).label("queue"))
        .where(kind.in_(kinds), month.within(E.c.occurred_at), E.c.call_id.is_not(None))
        .group_by(E.c.call_id)
        .subquery()
    )
    q_ = (select(facts, C.c.caller_number.is_(None).label("anonymous"), C.c.operator_id, C.c.outcome,
                 C.c.direction, T.c.reference)
          .select_from(facts.outerjoin(C, C.c.id == facts.c.call_id).outerjoin(T, T.c.id == C.c.ticket_id)))
    lost = {lc.call_id: lc for lc in await q.lost_calls(conn, month, s, calendar)}
    def ts(value: Any) -> datetime | None:
        return _local(value, zone)

    cols = [Column("Identifiant", width=28), Column("Mois", width=9), Column("File (public)", width=14),
            Column("Reçu le", "datetime", 17), Column("Reçu hors heures d'ouverture", "flag", 10),
            Column("Présenté le", "datetime", 17), Column("Décroché le", "datetime", 17),
            Column("Issue", width=14), Column("Attente (s)", "float", 10),
            Column("Abandon court", "flag", 9), Column("Motif de perte", width=16),
            Column("Appel anonyme", "flag", 9), Column("Communication (s)", "float", 12),
            Column("Opérateur (identifiant)", "int", 10), Column("Ticket", width=16),
            Column("Perdu récupéré le", "datetime", 17), Column("Fin de la fenêtre de récupération", "datetime", 17),
            Column("T2-IQ01 numérateur", "flag", 10), Column("T2-IQ01 dénominateur", "flag", 10),
            Column("T2-IQ02 numérateur", "flag", 10), Column("T2-IQ02 dénominateur", "flag", 10),
            Column("T2-IQ03 numérateur", "flag", 10), Column("T2-IQ03 dénominateur", "flag", 10),
            Column("T2-IQ04 numérateur", "flag", 10), Column("T2-IQ04 dénominateur", "flag", 10),
            Column("Exercice de bascule", "flag", 10)]
    out = []
    short_t = s.short_abandon_seconds
    for r in await conn.execute(q_):
        received = ts(r.received_at) or ts(r.outside_at) or ts(r.presented_at)
        short = r.abandoned_at is not None and short_t > 0 and (r.abandon_wait or 0.0) < short_t
        presented = r.presented_at is not None and not short
        answered = r.answered_at is not None
        cb = r.lost_reason == "callback_requested"
        abandoned = r.abandoned_at is not None and not short
        if answered:
            outcome = "décroché"
        elif r.outside_at is not None:
            outcome = "hors heures"
        elif abandoned or short:
            outcome = "abandonné"
        elif cb:
            outcome = "rappel demandé"
        elif r.lost_at is not None:
            outcome = "perdu"
        else:
            outcome = OUTCOME_FR.get(r.outcome or "", r.outcome or "")
        wait = r.answer_wait if answered else r.abandon_wait if r.abandoned_at is not None else r.lost_wait
        lc = lost.get(r.call_id)
        counted_lost = lc is not None and not (not lc.recovered and lc.window_end > now and not lc.anonymous)
        anchor = _aware(r.received_at or r.outside_at or r.presented_at or r.answered_at or r.abandoned_at
                        or r.lost_at)
        idx = month.index_of(anchor) if anchor is not None else None
        drill = r.call_id in traffic.call_ids
        n = 0 if drill else 1  # a drill's test call counts in no indicator
        out.append((
            r.call_id, month.keys[idx or 0], r.queue or "", received, _flag(r.outside_at is not None),
            ts(r.presented_at), ts(r.answered_at), outcome, None if wait is None else round(float(wait), 3),
            _flag(short), r.lost_reason or "", _flag(bool(r.anonymous)), r.talk, r.operator_id, r.reference or "",
            _local(lc.recovered_at, zone) if lc else None, _local(lc.window_end, zone) if lc else None,
            n * _flag(answered and (r.answer_wait or 0.0) < s.pickup_seconds), n * _flag(presented),
            n * _flag(abandoned or (cb and s.callback_requested_is_abandoned)), n * _flag(presented),
            n * _flag(answered), n * _flag(r.received_at is not None and not short),
            n * _flag(counted_lost and lc.recovered), n * _flag(counted_lost), _flag(drill),
        ))
    out.sort(key=lambda row: (row[3] or datetime.min, row[0]))
    return Sheet("Appels", "Appels du mois (faits du journal)", cols, out, "Appels")


async def chat_sheet(conn: AsyncConnection, month: Periods, zone: Any,
                     traffic: q.DrillTraffic = q.DrillTraffic()) -> Sheet:
    kind = E.c.kind
    chat_id = E.c.data["chat_id"].as_string()
    wait = E.c.data["wait_seconds"].as_float()
    duration = E.c.data["duration_seconds"].as_float()
    facts = (
        select(chat_id.label("chat_id"),
               func.min(case((kind == K.CHAT_STARTED.value, E.c.occurred_at))).label("started"),
               func.min(case((kind == K.CHAT_ANSWERED.value, E.c.occurred_at))).label("answered"),
               func.max(case((kind == K.CHAT_ANSWERED.value, wait))).label("wait"),
               func.max(case((kind == K.CHAT_ENDED.value, duration))).label("duration"),
               func.max(E.c.ticket_id).label("ticket_id"), func.max(E.c.operator_id).label("operator_id"),
               func.min(E.c.queue).label("queue"))
        .where(kind.in_([K.CHAT_STARTED.value, K.CHAT_ANSWERED.value, K.CHAT_ENDED.value]),
               month.within(E.c.occurred_at))
        .group_by(chat_id)
        .subquery()
    )
    rows = await conn.execute(select(facts, T.c.reference).select_from(
        facts.outerjoin(T, T.c.id == facts.c.ticket_id)).order_by(facts.c.started))
    cols = [Column("Conversation", width=26), Column("File (public)", width=14), Column("Commencée le", "datetime", 17),
            Column("Prise le", "datetime", 17), Column("Attente (s)", "float", 10), Column("Durée (s)", "float", 10),
            Column("Opérateur (identifiant)", "int", 10), Column("Ticket", width=16), Column("Chats", "int", 8),
            Column("Exercice de bascule", "flag", 10)]

    def ts(value: Any) -> datetime | None:
        return _local(value, zone)

    return Sheet("Chats", "Conversations de chat du mois", cols, [
        (r.chat_id, r.queue or "", ts(r.started), ts(r.answered), r.wait, r.duration, r.operator_id,
         r.reference or "", 0 if r.ticket_id in traffic.ticket_ids else 1, _flag(r.ticket_id in traffic.ticket_ids))
        for r in rows], "Chats")


def escalation_sheet(items: Iterable[q.OpenEscalation], zone: Any, hours: dict[int, float]) -> Sheet:
    cols = [Column("Référence", width=16), Column("Statut", width=18), Column("Niveau", width=8),
            Column("Objet", width=40), Column("Priorité", "int", 8), Column("Application", width=28),
            Column("Référence GLPI", width=20), Column("Créé le", "datetime", 17),
            Column("Escaladé le", "datetime", 17), Column("Heures ouvrées depuis l'escalade", "float", 12),
            Column("Relances", "int", 8), Column("Dernière relance", "datetime", 17)]
    return Sheet("Escalades", "Escalades en cours (N2/N3)", cols, [
        (e.reference, STATUS_TICKET_FR.get(e.status, e.status), e.level, e.subject, e.priority, e.application or "",
         e.glpi_reference or "", _local(e.created_at, zone), _local(e.escalated_at, zone),
         hours.get(e.ticket_id), e.reminders, _local(e.last_reminder_at, zone)) for e in items], "Escalades")


def _chunks(values: list, n: int) -> Iterable[list]:
    for i in range(0, len(values), n):
        yield values[i:i + n]


__all__ = ["Column", "Sheet", "call_sheet", "chat_sheet", "escalation_sheet", "indicator_sheet", "month_key",
           "operational_sheet", "resolved_elsewhere", "ticket_sheets", "volume_sheet", "and_"]
