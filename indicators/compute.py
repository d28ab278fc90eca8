"""The queries behind every indicator: set-based SQL, grouped by period in the database.

Each function takes a read connection, the ``Periods`` to cover (13 months and the year
before = 25 months, or one day for the point prod) and the definitions, and returns raw
counts per period index. Timestamps are mapped to periods by a ``CASE`` over the UTC
boundaries (``Periods.bucket``) inside an index range scan: one pass over the journal's
call facts for T2-IQ01…03, one over the tickets for T2-IQ05/07/08/09 (their business-hour
deadlines are stored on the ticket at write time, so the query compares two columns), one
over the tickets resolved for T2-IQ10…

Per-row Python only where the rule needs the business calendar and the rows are few or
cannot be avoided: the recovery window of lost calls (end of the next business day,
computed once per local day, not per call), failing availability probes, opening and
closing facts (a few a day), drills.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Float, and_, case, cast, extract, false, func, inspect, literal, or_, select, true
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement

import guichet.schema  # noqa: F401  (every table registered: calls, users…)
from indicators.periods import Periods
from indicators.settings import IndicatorSettings
from telephony.models import Call
from ticket_core.business_time import BusinessCalendar
from ticket_core.journal import EventKind
from ticket_core.models import Application, Audience, JournalEvent, RequestType, Ticket

E = JournalEvent.__table__
T = Ticket.__table__
C = Call.__table__
RT = RequestType.__table__

K = EventKind


def count_if(cond: ColumnElement) -> ColumnElement:
    return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)


def sum_if(cond: ColumnElement, value: ColumnElement) -> ColumnElement:
    return func.coalesce(func.sum(case((cond, value), else_=0.0)), 0.0)


def _seconds(conn: AsyncConnection, start: ColumnElement, end: ColumnElement) -> ColumnElement:
    """SQL: seconds from ``start`` to ``end`` (both timestamps)."""
    if conn.dialect.name == "postgresql":
        return extract("epoch", end - start)
    return (func.julianday(end) - func.julianday(start)) * 86400.0


class NoIndex(ColumnElement):
    """``column`` that SQLite must not look up in an index (``+column``, its documented way
    to disqualify a term): where the index would be the wrong path. Plain elsewhere."""

    inherit_cache = True

    def __init__(self, column: ColumnElement) -> None:
        self.column = column
        self.type = column.type


@compiles(NoIndex)
def _no_index(element: NoIndex, compiler: Any, **kw: Any) -> str:
    return compiler.process(element.column, **kw)


@compiles(NoIndex, "sqlite")
def _no_index_sqlite(element: NoIndex, compiler: Any, **kw: Any) -> str:
    return "+" + compiler.process(element.column, **kw)


def per_period_queries(conn: AsyncConnection) -> bool:
    """How a query is split by period. PostgreSQL: one statement, ``GROUP BY`` the period
    (a hash aggregate). SQLite: its ``GROUP BY`` sorts every row first, so the same
    aggregate runs once per period as an index range scan with no sort at all (measured
    2 to 5 times faster at 100× volume, bench/indicators_scale.py)."""
    return conn.dialect.name == "sqlite"


async def by_period(conn: AsyncConnection, p: Periods, column: ColumnElement,
                    build: Any) -> list[tuple[int, Any]]:
    """[(period index, row)] of ``build(where)`` — a SELECT of aggregates (and possibly its
    own GROUP BY) over the rows where ``where`` holds — for each period."""
    if per_period_queries(conn):
        out = []
        for i in range(len(p)):
            a, b = p.span(i)
            for row in await conn.execute(build(and_(column >= a, column < b))):
                out.append((i, row))
        return out
    bucket = p.bucket(column).label("p")
    stmt = build(p.within(column)).add_columns(bucket).group_by(bucket)
    return [(int(row.p), row) for row in await conn.execute(stmt)]


async def excluded_request_types(conn: AsyncConnection) -> list[int]:
    """Request types excluded from the resolution indicators (the "fusion" requests): a
    handful of ids, read once so that the ticket scans need no join."""
    return [r[0] for r in await conn.execute(select(RT.c.id).where(RT.c.excluded_from_resolution_indicators == true()))]


# -----------------------------------------------------------------------------------------
# the switchover drills' own contacts: left out of every indicator
# -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DrillTraffic:
    """The test call, mail and chat of each switchover drill (recorded on the drill by the
    failover module): real contacts through the service, kept in the journal and shown in
    the exports, but not users' requests, so no indicator, volume or package count has them."""

    call_ids: frozenset[str] = frozenset()
    ticket_ids: frozenset[int] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.call_ids or self.ticket_ids)

    def facts(self) -> ColumnElement:
        """The journal facts of these contacts."""
        conds = []
        if self.call_ids:
            conds.append(E.c.call_id.in_(sorted(self.call_ids)))
        if self.ticket_ids:
            conds.append(E.c.ticket_id.in_(sorted(self.ticket_ids)))
        return or_(*conds) if conds else false()

    def kept(self, t: Any) -> ColumnElement:
        """Tickets that are not drill contacts (a few ids: cheap on a ticket scan)."""
        return t.c.id.not_in(sorted(self.ticket_ids)) if self.ticket_ids else true()


async def drill_traffic(conn: AsyncConnection) -> DrillTraffic:
    try:
        from failover import models as fm
    except ImportError:  # pragma: no cover - the failover package is part of the product
        return DrillTraffic()
    calls: set[str] = set()
    references: set[str] = set()
    for (checks,) in await conn.execute(select(fm.Drill.__table__.c.checks)):
        for step in checks or []:
            if isinstance(step, dict):
                if step.get("call_id"):
                    calls.add(str(step["call_id"]))
                if step.get("ticket"):
                    references.add(str(step["ticket"]))
    ids: set[int] = set()
    for chunk in [sorted(references)[i:i + 500] for i in range(0, len(references), 500)]:
        ids.update(await conn.scalars(select(T.c.id).where(T.c.reference.in_(chunk))))
    if calls:  # the test call's ticket, when the drill recorded only the call
        ids.update(i for i in await conn.scalars(select(C.c.ticket_id).where(C.c.id.in_(sorted(calls)))) if i)
    return DrillTraffic(frozenset(calls), frozenset(ids))


def _minus(counts: dict[int, Any], test: dict[int, Any]) -> dict[int, Any]:
    """``counts`` less ``test``, field by field, per period (dataclasses of numbers)."""
    out = dict(counts)
    for i, t in test.items():
        c = out.get(i)
        if c is None:
            continue
        values = {f.name: getattr(c, f.name) - getattr(t, f.name) for f in fields(c)}
        left = type(c)(**values)
        if any(values.values()):
            out[i] = left
        else:
            del out[i]
    return out


# -----------------------------------------------------------------------------------------
# calls, chats, mails received (journal): T2-IQ01, 02, 03 and the contact volumes
# -----------------------------------------------------------------------------------------


@dataclass
class PhoneCounts:
    received: int = 0
    outside_hours: int = 0
    presented: int = 0
    answered: int = 0
    answered_in_time: int = 0
    abandoned: int = 0  # wait >= short threshold
    short_abandons: int = 0
    callback_requested: int = 0
    lost_by_service: int = 0  # cut (max wait, no operator…), not virtual hold, not IVR
    ivr_hangups: int = 0
    talk_seconds: float = 0.0
    talked: int = 0
    wait_answered_seconds: float = 0.0
    chats: int = 0
    chats_answered: int = 0
    chat_wait_seconds: float = 0.0
    chat_seconds: float = 0.0
    chats_ended: int = 0
    mails_received: int = 0

    # T2-IQ01/02: presented calls, short abandons excluded
    @property
    def presented_counted(self) -> int:
        return self.presented - self.short_abandons

    @property
    def received_counted(self) -> int:
        return self.received - self.short_abandons


_CALL_KINDS = (K.CALL_RECEIVED, K.CALL_RECEIVED_OUTSIDE_HOURS, K.CALL_PRESENTED, K.CALL_ANSWERED,
               K.CALL_ABANDONED, K.CALL_LOST, K.CALL_ENDED, K.CHAT_STARTED, K.CHAT_ANSWERED, K.CHAT_ENDED,
               K.MAIL_RECEIVED)


def _number(conn: AsyncConnection, kind: ColumnElement) -> ColumnElement:
    """SQL: the one number a contact fact carries — talk seconds of ``call_ended``, duration of
    ``chat_ended``, wait of the others — read with a single JSON extraction per row."""
    key = case((kind == K.CALL_ENDED.value, "talk_seconds"), (kind == K.CHAT_ENDED.value, "duration_seconds"),
               else_="wait_seconds")
    if conn.dialect.name == "postgresql":
        return cast(E.c.data.op("->>")(key), Float)
    return cast(func.json_extract(E.c.data, literal("$.") + key), Float)


async def contacts(conn: AsyncConnection, p: Periods, s: IndicatorSettings,
                   traffic: DrillTraffic = DrillTraffic()) -> dict[int, PhoneCounts]:
    if per_period_queries(conn):
        counts = await _contacts_by_range(conn, p, s)
    else:
        counts = await _contacts_grouped(conn, p, s)
    if traffic:
        # The drills' few facts counted apart and taken off: the main scans stay as they
        # are (index-only on SQLite), whatever the number of drills.
        counts = _minus(counts, await _contacts_grouped(conn, p, s, only=traffic.facts()))
    return counts


async def _contacts_by_range(conn: AsyncConnection, p: Periods, s: IndicatorSettings) -> dict[int, PhoneCounts]:
    """SQLite: one small aggregate per period and kind, each an index range scan of
    ``(kind, occurred_at)`` — the kinds that are only counted never leave the index."""
    kind, at = E.c.kind, E.c.occurred_at
    wait = E.c.data["wait_seconds"].as_float()
    talk = E.c.data["talk_seconds"].as_float()
    duration = E.c.data["duration_seconds"].as_float()
    reason = E.c.data["reason"].as_string()
    out: dict[int, PhoneCounts] = {}
    for i in range(len(p)):
        a, b = p.span(i)
        c = PhoneCounts()

        async def one(k: EventKind, *columns: ColumnElement, group: ColumnElement | None = None) -> list[Any]:
            stmt = select(func.count(), *columns).where(kind == k.value, at >= a, at < b)
            if group is not None:
                stmt = select(group, func.count()).where(kind == k.value, at >= a, at < b).group_by(group)
            return list(await conn.execute(stmt))

        (c.received,), = [tuple(r) for r in await one(K.CALL_RECEIVED)]
        (c.outside_hours,), = [tuple(r) for r in await one(K.CALL_RECEIVED_OUTSIDE_HOURS)]
        (c.presented,), = [tuple(r) for r in await one(K.CALL_PRESENTED)]
        n, in_time, total = (await one(K.CALL_ANSWERED, count_if(wait < s.pickup_seconds),
                                       func.coalesce(func.sum(wait), 0.0)))[0]
        c.answered, c.answered_in_time, c.wait_answered_seconds = int(n), int(in_time), float(total)
        n, short = (await one(K.CALL_ABANDONED, count_if(wait < s.short_abandon_seconds)
                              if s.short_abandon_seconds > 0 else literal(0)))[0]
        c.short_abandons, c.abandoned = int(short), int(n) - int(short)
        for r, m in await one(K.CALL_LOST, group=reason):
            if r == "callback_requested":
                c.callback_requested += int(m)
            elif r == "hung_up_in_ivr":
                c.ivr_hangups += int(m)
            else:
                c.lost_by_service += int(m)
        _n, talked, total = (await one(K.CALL_ENDED, count_if(talk > 0),
                                       func.coalesce(func.sum(case((talk > 0, talk), else_=0.0)), 0.0)))[0]
        c.talked, c.talk_seconds = int(talked), float(total)
        (c.chats,), = [tuple(r) for r in await one(K.CHAT_STARTED)]
        n, total = (await one(K.CHAT_ANSWERED, func.coalesce(func.sum(wait), 0.0)))[0]
        c.chats_answered, c.chat_wait_seconds = int(n), float(total)
        n, total = (await one(K.CHAT_ENDED, func.coalesce(func.sum(duration), 0.0)))[0]
        c.chats_ended, c.chat_seconds = int(n), float(total)
        (c.mails_received,), = [tuple(r) for r in await one(K.MAIL_RECEIVED)]
        if any(getattr(c, f) for f in ("received", "outside_hours", "presented", "chats", "mails_received",
                                       "answered", "talked")):
            out[i] = c
    return out


async def _contacts_grouped(conn: AsyncConnection, p: Periods, s: IndicatorSettings,
                            only: ColumnElement | None = None) -> dict[int, PhoneCounts]:
    """PostgreSQL: one pass over the contact facts of the periods, grouped by period and kind
    only (the flags the indicators need are conditional sums), so that the planner sees a
    few hundred groups and aggregates in a hash table, in parallel workers."""
    kind = E.c.kind
    with_number = kind.in_([K.CALL_ANSWERED.value, K.CALL_ENDED.value, K.CHAT_ANSWERED.value, K.CHAT_ENDED.value,
                            K.CALL_ABANDONED.value])
    num = case((with_number, _number(conn, kind)))  # the JSON is read only for the facts that carry a number
    reason = E.c.data["reason"].as_string()
    is_lost = kind == K.CALL_LOST.value
    bucket = p.bucket(E.c.occurred_at).label("p")
    q = (
        select(bucket, kind, func.count().label("n"),
               func.coalesce(func.sum(num), 0.0).label("total"),
               count_if(and_(kind == K.CALL_ENDED.value, num > 0)).label("positive"),
               count_if(and_(kind == K.CALL_ANSWERED.value, num < s.pickup_seconds)).label("fast"),
               count_if(and_(kind == K.CALL_ABANDONED.value, num < s.short_abandon_seconds)
                        if s.short_abandon_seconds > 0 else false()).label("short"),
               count_if(and_(is_lost, reason == "callback_requested")).label("callback"),
               count_if(and_(is_lost, reason == "hung_up_in_ivr")).label("ivr"))
        .where(kind.in_([k.value for k in _CALL_KINDS]), p.within(E.c.occurred_at),
               *([only] if only is not None else []))
        .group_by(bucket, kind)
    )
    out: dict[int, PhoneCounts] = defaultdict(PhoneCounts)
    for r in await conn.execute(q):
        c = out[int(r.p)]
        n, total = int(r.n), float(r.total or 0.0)
        k = r.kind
        if k == K.CALL_RECEIVED.value:
            c.received += n
        elif k == K.CALL_RECEIVED_OUTSIDE_HOURS.value:
            c.outside_hours += n
        elif k == K.CALL_PRESENTED.value:
            c.presented += n
        elif k == K.CALL_ANSWERED.value:
            c.answered += n
            c.answered_in_time += int(r.fast)
            c.wait_answered_seconds += total
        elif k == K.CALL_ABANDONED.value:
            c.short_abandons += int(r.short)
            c.abandoned += n - int(r.short)
        elif k == K.CALL_LOST.value:
            c.callback_requested += int(r.callback)
            c.ivr_hangups += int(r.ivr)
            c.lost_by_service += n - int(r.callback) - int(r.ivr)
        elif k == K.CALL_ENDED.value:
            c.talk_seconds += total  # talk time is never negative: the sum over the talked calls
            c.talked += int(r.positive)
        elif k == K.CHAT_STARTED.value:
            c.chats += n
        elif k == K.CHAT_ANSWERED.value:
            c.chats_answered += n
            c.chat_wait_seconds += total
        elif k == K.CHAT_ENDED.value:
            c.chat_seconds += total
            c.chats_ended += n
        elif k == K.MAIL_RECEIVED.value:
            c.mails_received += n
    return dict(out)


# -----------------------------------------------------------------------------------------
# lost calls and their recovery: T2-IQ04
# -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LostCall:
    period: int
    call_id: str | None
    lost_at: datetime
    kind: str  # abandoned | lost
    reason: str | None
    anonymous: bool
    window_end: datetime
    recovered_at: datetime | None  # within the window, else None

    @property
    def recovered(self) -> bool:
        return self.recovered_at is not None


class RecoveryWindows:
    """End of the recovery window of a call lost at some instant: computed once per local
    day (the closing time of the N-th next business day)."""

    def __init__(self, calendar: BusinessCalendar, business_days: int) -> None:
        self.calendar = calendar
        self.n = business_days
        self.zone = calendar.hours.zone
        self._by_day: dict[date, datetime] = {}

    def end(self, lost_at: datetime) -> datetime:
        day = lost_at.astimezone(self.zone).date()
        found = self._by_day.get(day)
        if found is None:
            at = lost_at
            for _ in range(self.n):
                at = self.calendar.end_of_next_business_day(at)
                # the next step starts from the day that just ended
                at = at - timedelta(microseconds=1)
            found = self._by_day[day] = at + timedelta(microseconds=1)
        return found


async def lost_calls(conn: AsyncConnection, p: Periods, s: IndicatorSettings,
                     calendar: BusinessCalendar, traffic: DrillTraffic = DrillTraffic()) -> list[LostCall]:
    """Every lost call of the periods with its recovery (one row per lost call: about 8 %
    of the calls). Recovered by a ``call_recovered`` fact about it (a successful callback,
    or the callback registry's own match) or by a later answered call of the same number
    (inbound or callback), within the window."""
    e = E.alias("e")
    c = C.alias("c")
    a = C.alias("a")
    r = E.alias("r")
    kind = e.c.kind
    wait = e.c.data["wait_seconds"].as_float()
    reason = e.c.data["reason"].as_string()
    conds = []
    if s.short_abandon_seconds > 0:
        conds.append(and_(kind == K.CALL_ABANDONED.value, wait >= s.short_abandon_seconds))
    else:
        conds.append(kind == K.CALL_ABANDONED.value)
    if s.ivr_hangups_are_lost:
        conds.append(kind == K.CALL_LOST.value)
    else:
        conds.append(and_(kind == K.CALL_LOST.value, func.coalesce(reason, "") != "hung_up_in_ivr"))
    by_inbound = (
        select(func.min(a.c.answered_at))
        .where(a.c.caller_number == c.c.caller_number, a.c.answered_at > e.c.occurred_at, a.c.id != c.c.id)
        .scalar_subquery()
    )
    # the recovery facts (one per recovered call at most), read once and joined by call id
    by_fact = (
        select(r.c.call_id.label("call_id"), func.min(r.c.occurred_at).label("at"))
        .where(r.c.kind == K.CALL_RECOVERED.value, r.c.occurred_at >= p.start, r.c.call_id.is_not(None))
        .group_by(r.c.call_id)
        .subquery("recovered")
    )
    bucket = p.bucket(e.c.occurred_at).label("p")
    q = (
        select(bucket, e.c.call_id, e.c.occurred_at, kind, reason.label("reason"),
               c.c.caller_number.is_(None).label("anonymous"),
               by_inbound.label("by_inbound"), by_fact.c.at.label("by_fact"))
        .select_from(e.outerjoin(c, c.c.id == e.c.call_id).outerjoin(by_fact, by_fact.c.call_id == e.c.call_id))
        .where(kind.in_([K.CALL_ABANDONED.value, K.CALL_LOST.value]), p.within(e.c.occurred_at), or_(*conds))
        .order_by(e.c.occurred_at, e.c.id)
    )
    windows = RecoveryWindows(calendar, s.recovery_business_days)
    out = []
    for row in await conn.execute(q):
        if row.call_id in traffic.call_ids:
            continue  # a drill's test call
        lost_at = row.occurred_at
        end = windows.end(lost_at)
        anonymous = bool(row.anonymous)
        candidates = [t for t in (row.by_fact, None if anonymous else row.by_inbound)
                      if t is not None and t <= end]
        out.append(LostCall(int(row.p), row.call_id, lost_at,
                            "abandoned" if row.kind == K.CALL_ABANDONED.value else "lost",
                            row.reason, anonymous, end, min(candidates) if candidates else None))
    return out


@dataclass
class RecoveryCounts:
    lost: int = 0
    recovered: int = 0
    anonymous: int = 0
    pending: int = 0  # window still open, not recovered yet


def recovery_counts(rows: Iterable[LostCall], now: datetime) -> dict[int, RecoveryCounts]:
    out: dict[int, RecoveryCounts] = defaultdict(RecoveryCounts)
    for lc in rows:
        rc = out[lc.period]
        if not lc.recovered and lc.window_end > now and not lc.anonymous:
            rc.pending += 1  # may still be recovered: neither counted nor held against
            continue
        rc.lost += 1
        rc.recovered += lc.recovered
        rc.anonymous += lc.anonymous
    return dict(out)


# -----------------------------------------------------------------------------------------
# tickets: T2-IQ05, 07, 08, 09 (by creation), T2-IQ10 (by resolution), T2-IQ06 (escalation)
# -----------------------------------------------------------------------------------------


@dataclass
class TicketCounts:
    tickets: int = 0
    duplicates: int = 0  # merged into another ticket
    mails: int = 0
    mails_in_time: int = 0
    mails_pending: int = 0
    created_counted: int = 0  # T2-IQ07 denominator (merges excluded)
    first_contact: int = 0
    critical: int = 0
    critical_in_time: int = 0
    critical_pending: int = 0
    normal: int = 0
    normal_in_time: int = 0
    normal_pending: int = 0


def _excluded(t: Any, excluded_types: list[int]) -> ColumnElement:
    """Merges: duplicates merged into another ticket, and request types marked excluded
    from the resolution indicators (the "fusion" requests)."""
    cond = t.c.merged_into_id.is_not(None)
    if excluded_types:  # (a NULL request type is not excluded: never a NULL in the OR)
        cond = or_(cond, and_(t.c.request_type_id.is_not(None), t.c.request_type_id.in_(excluded_types)))
    return cond


async def tickets_created(conn: AsyncConnection, p: Periods, s: IndicatorSettings,
                          now: datetime, traffic: DrillTraffic = DrillTraffic()) -> dict[int, TicketCounts]:
    t = T
    excluded = _excluded(t, await excluded_request_types(conn))
    kept = t.c.merged_into_id.is_(None)
    is_mail = t.c.channel == "mail"
    taken_in_time = and_(t.c.taken_in_charge_at.is_not(None), t.c.taken_in_charge_at <= t.c.taken_in_charge_due_at)
    mail_pending = and_(t.c.taken_in_charge_at.is_(None), t.c.taken_in_charge_due_at > now)
    handled_in_time = and_(t.c.handled_at.is_not(None), t.c.handled_at <= t.c.handling_due_at)
    pending = and_(t.c.handled_at.is_(None), t.c.handling_due_at > now)
    critical = and_(kept, t.c.priority.is_not(None), t.c.priority <= 2)
    normal = and_(kept, or_(t.c.priority >= 3, t.c.priority.is_(None) if s.unqualified_as_normal else false()))
    fcr = and_(t.c.resolved_by_level == "N1", t.c.escalated == false(), t.c.contacts == 1)

    def build(where: ColumnElement) -> Any:
        return select(
            func.count().label("tickets"),
            count_if(t.c.merged_into_id.is_not(None)).label("duplicates"),
            count_if(is_mail).label("mails"),
            count_if(and_(is_mail, taken_in_time)).label("mails_in_time"),
            count_if(and_(is_mail, mail_pending)).label("mails_pending"),
            count_if(~excluded).label("created_counted"),
            count_if(and_(~excluded, fcr)).label("first_contact"),
            count_if(critical).label("critical"),
            count_if(and_(critical, handled_in_time)).label("critical_in_time"),
            count_if(and_(critical, pending)).label("critical_pending"),
            count_if(normal).label("normal"),
            count_if(and_(normal, handled_in_time)).label("normal_in_time"),
            count_if(and_(normal, pending)).label("normal_pending"),
        ).where(where, traffic.kept(t))

    fields = [f for f in TicketCounts.__dataclass_fields__]
    return {i: TicketCounts(**{f: int(getattr(r, f) or 0) for f in fields})
            for i, r in await by_period(conn, p, t.c.created_at, build) if r.tickets}


@dataclass
class ResolutionCounts:
    resolved: int = 0
    by_n1: int = 0
    by_n2: int = 0
    by_n3: int = 0


async def tickets_resolved(conn: AsyncConnection, p: Periods,
                           traffic: DrillTraffic = DrillTraffic()) -> dict[int, ResolutionCounts]:
    t = T
    excluded = _excluded(t, await excluded_request_types(conn))

    def build(where: ColumnElement) -> Any:
        return select(count_if(~excluded).label("resolved"),
                      count_if(and_(~excluded, t.c.resolved_by_level == "N1")).label("by_n1"),
                      count_if(and_(~excluded, t.c.resolved_by_level == "N2")).label("by_n2"),
                      count_if(and_(~excluded, t.c.resolved_by_level == "N3")).label("by_n3"),
                      ).where(t.c.resolved_at.is_not(None), where, traffic.kept(t))

    return {i: ResolutionCounts(int(r.resolved or 0), int(r.by_n1 or 0), int(r.by_n2 or 0), int(r.by_n3 or 0))
            for i, r in await by_period(conn, p, t.c.resolved_at, build) if r.resolved}


@dataclass
class EscalationCounts:
    escalated: int = 0
    not_bounced: int = 0


async def escalations(conn: AsyncConnection, p: Periods,
                      traffic: DrillTraffic = DrillTraffic()) -> dict[int, EscalationCounts]:
    """Tickets by the month of their first escalation to N2."""
    first = (
        select(E.c.ticket_id.label("ticket_id"), func.min(E.c.occurred_at).label("first_at"))
        .where(E.c.kind == K.TICKET_ESCALATED.value, E.c.occurred_at < p.end, E.c.ticket_id.is_not(None))
        .group_by(E.c.ticket_id)
        .having(func.min(E.c.occurred_at) >= p.start)
        .subquery()
    )
    bucket = p.bucket(first.c.first_at).label("p")
    q = (
        select(bucket, func.count().label("escalated"),
               count_if(T.c.escalation_bounced == false()).label("not_bounced"))
        .select_from(first.join(T, T.c.id == first.c.ticket_id))
        .where(traffic.kept(T))
        .group_by(bucket)
    )
    return {int(r["p"]): EscalationCounts(int(r["escalated"]), int(r["not_bounced"]))
            for r in (await conn.execute(q)).mappings()}


# -----------------------------------------------------------------------------------------
# availability, opening on time, drills, surveys: T1-IQ01/02, T3-IQ03, T8-IQ01
# -----------------------------------------------------------------------------------------


@dataclass
class Availability:
    probes: int = 0
    failures: int = 0
    opening_seconds: float = 0.0
    down_seconds: float = 0.0  # within opening hours

    @property
    def up_seconds(self) -> float:
        return max(0.0, self.opening_seconds - self.down_seconds)


def _union(intervals: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for a, b in sorted(intervals):
        if merged and a <= merged[-1][1]:
            if b > merged[-1][1]:
                merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return merged


def opening_seconds(calendar: BusinessCalendar, start: datetime, end: datetime) -> float:
    return calendar.business_seconds_between(start, end)


async def availability(conn: AsyncConnection, p: Periods, s: IndicatorSettings, calendar: BusinessCalendar,
                       now: datetime) -> dict[int, Availability]:
    check = E.c.data["check"].as_string()
    ok = E.c.data["ok"].as_boolean()
    gap = timedelta(seconds=s.probe_max_gap_seconds)
    base = [E.c.kind == K.PROBE_RESULT.value]
    if s.checks:
        base.append(check.in_(s.checks))
    counted = p.bucket(E.c.occurred_at).label("p")
    counts = {int(r.p): (int(r.n), int(r.failures)) for r in await conn.execute(
        select(counted, func.count().label("n"), count_if(ok == false()).label("failures"))
        .where(*base, p.within(E.c.occurred_at)).group_by(counted))}
    if not counts:
        return {}
    inner = (
        select(E.c.occurred_at.label("at"), ok.label("ok"),
               func.lead(E.c.occurred_at, type_=E.c.occurred_at.type).over(
                   partition_by=check, order_by=(E.c.occurred_at, E.c.id)).label("next_at"))
        .where(*base, E.c.occurred_at >= p.start - gap, E.c.occurred_at < p.end)
        .subquery()
    )
    failing = []
    for row in await conn.execute(select(inner.c.at, inner.c.next_at).where(inner.c.ok == false())):
        stop = row.at + gap
        if row.next_at is not None and row.next_at < stop:
            stop = row.next_at
        failing.append((row.at, min(stop, max(now, row.at))))
    down = _union(failing)
    out: dict[int, Availability] = {}
    for i, (n, failures) in counts.items():
        a, b = p.span(i)
        b = min(b, now)
        av = Availability(probes=n, failures=failures, opening_seconds=opening_seconds(calendar, a, b))
        for x, y in down:
            lo, hi = max(x, a), min(y, b)
            if lo < hi:
                av.down_seconds += calendar.business_seconds_between(lo, hi)
        out[i] = av
    return out


@dataclass
class Openings:
    expected: int = 0
    on_time: int = 0
    facts: int = 0
    late: list[str] = field(default_factory=list)  # French lines, for the report


async def openings(conn: AsyncConnection, p: Periods, s: IndicatorSettings, calendar: BusinessCalendar,
                   now: datetime) -> dict[int, Openings]:
    tol = timedelta(seconds=s.opening_tolerance_seconds)
    kinds = [K.SERVICE_OPENED.value, K.SERVICE_CLOSED.value]
    ever = await conn.scalar(select(func.min(E.c.occurred_at)).where(E.c.kind.in_(kinds)))
    if ever is None:
        return {}
    facts: dict[str, list[datetime]] = {K.SERVICE_OPENED.value: [], K.SERVICE_CLOSED.value: []}
    for row in await conn.execute(select(E.c.kind, E.c.occurred_at).where(
            E.c.kind.in_(kinds), E.c.occurred_at >= p.start - tol, E.c.occurred_at < p.end + tol)):
        facts[row.kind].append(row.occurred_at)
    zone = calendar.hours.zone
    out: dict[int, Openings] = {}
    for i in range(len(p)):
        a, b = p.span(i)
        if b <= ever or a >= now:
            continue  # before the service recorded its openings, or in the future
        op = Openings()
        op.facts = sum(1 for k in facts.values() for t in k if a <= t < b)
        day = a.astimezone(zone).date()
        while True:
            for ws, we in calendar.window(day):
                for kind, instant in ((K.SERVICE_OPENED.value, ws), (K.SERVICE_CLOSED.value, we)):
                    if not (a <= instant < b) or instant + tol > now or instant < ever - tol:
                        continue
                    op.expected += 1
                    if any(abs(t - instant) <= tol for t in facts[kind]):
                        op.on_time += 1
                    else:
                        local = instant.astimezone(zone)
                        what = "ouverture" if kind == K.SERVICE_OPENED.value else "fermeture"
                        op.late.append(f"{local:%d/%m/%Y} {what} prévue à {local:%H:%M} non faite à l'heure")
            day += timedelta(days=1)
            if datetime(day.year, day.month, day.day, tzinfo=zone) >= b:
                break
        out[i] = op
    return out


@dataclass
class Drills:
    done: int = 0  # in the semester, up to the period's end
    expected: int = 0
    semester_complete: bool = False
    details: list[str] = field(default_factory=list)


def semester_of(local: datetime) -> str:
    return f"{local.year}-S{1 if local.month <= 6 else 2}"


async def expected_drills(conn: AsyncConnection, semesters: Iterable[str], s: IndicatorSettings) -> dict[str, int]:
    """Drills expected per semester: the failover module's drill calendar (plans not
    cancelled) when it has any for the semester; else ``drills_per_semester`` when set; else
    the failover module's own setting; else 1."""
    default = s.drills_per_semester
    planned: dict[str, int] = {}
    try:
        from failover import models as fm
    except ImportError:
        fm = None
    if default is None:
        try:
            from failover.settings import FailoverSettings
            from guichet.settings import load_section

            default = load_section(FailoverSettings, "failover").drills_per_semester
        except Exception:  # noqa: BLE001 - no failover module, or its settings are elsewhere
            default = 1
    if fm is not None and hasattr(fm, "DrillPlan"):
        plan = fm.DrillPlan.__table__
        if await conn.run_sync(lambda c: inspect(c).has_table(plan.name)):
            for r in await conn.execute(select(plan.c.semester, func.count().label("n")).where(
                    plan.c.semester.in_(list(semesters)), plan.c.status != getattr(fm, "CANCELLED", "cancelled"))
                    .group_by(plan.c.semester)):
                planned[r.semester] = int(r.n)
    return {sem: planned.get(sem) or default for sem in semesters}


async def drills(conn: AsyncConnection, p: Periods, s: IndicatorSettings, zone: Any,
                 now: datetime) -> dict[int, Drills]:
    kinds = [K.DRILL_DONE.value, K.SITE_SWITCHED_OVER.value]
    ever = await conn.scalar(select(func.min(E.c.occurred_at)).where(E.c.kind.in_(kinds)))
    if ever is None:
        return {}
    first_local = p.start.astimezone(zone)
    sem_start = datetime(first_local.year, 1 if first_local.month <= 6 else 7, 1, tzinfo=zone)
    rows = list(await conn.execute(select(E.c.occurred_at, E.c.data).where(
        E.c.kind == K.DRILL_DONE.value, E.c.occurred_at >= sem_start, E.c.occurred_at < p.end)
        .order_by(E.c.occurred_at)))
    semesters = sorted({semester_of(p.span(i)[0].astimezone(zone)) for i in range(len(p))})
    expected = await expected_drills(conn, semesters, s)
    out: dict[int, Drills] = {}
    for i in range(len(p)):
        a, b = p.span(i)
        if b <= ever:
            continue  # before any drill or switchover was ever recorded
        local = a.astimezone(zone)
        s_start = datetime(local.year, 1 if local.month <= 6 else 7, 1, tzinfo=zone)
        s_end = datetime(local.year + (local.month > 6), 7 if local.month <= 6 else 1, 1, tzinfo=zone)
        d = Drills(expected=expected[semester_of(local)], semester_complete=b >= s_end)
        for r in rows:
            if s_start <= r.occurred_at < b and (r.data or {}).get("ok", True) is not False:
                d.done += 1
                d.details.append(f"{r.occurred_at.astimezone(zone):%d/%m/%Y} exercice de bascule réalisé")
        out[i] = d
    return out


@dataclass
class Surveys:
    answers: int = 0
    very_satisfied: int = 0
    satisfied: int = 0
    unsatisfied: int = 0
    invalid: int = 0


_VERY = {"tres_satisfait", "très_satisfait", "tres satisfait", "très satisfait", "very_satisfied"}
_SAT = {"satisfait", "satisfied"}
_UNSAT = {"pas_satisfait", "pas satisfait", "insatisfait", "unsatisfied", "not_satisfied"}


def survey_category(rating: Any, scale: Any = None) -> str | None:
    """very | satisfied | unsatisfied | None (unreadable). Numbers: the top of the scale
    (``scale``, default 3) is very satisfied, the one below satisfied, the rest unsatisfied."""
    if isinstance(rating, str):
        text = rating.strip().lower()
        if text in _VERY:
            return "very"
        if text in _SAT:
            return "satisfied"
        if text in _UNSAT:
            return "unsatisfied"
        try:
            rating = float(text)
        except ValueError:
            return None
    if isinstance(rating, bool) or not isinstance(rating, (int, float)):
        return None
    top = scale if isinstance(scale, (int, float)) and not isinstance(scale, bool) and scale >= 2 else 3
    if rating >= top:
        return "very"
    if rating >= top - 1:
        return "satisfied"
    return "unsatisfied" if rating >= 1 else None


async def surveys(conn: AsyncConnection, p: Periods) -> dict[int, Surveys]:
    rating = E.c.data["rating"].as_string()
    scale = E.c.data["scale"].as_string()
    bucket = p.bucket(E.c.occurred_at).label("p")
    q = (select(bucket, rating.label("rating"), scale.label("scale"), func.count().label("n"))
         .where(E.c.kind == K.SURVEY_ANSWERED.value, p.within(E.c.occurred_at))
         .group_by(bucket, rating, scale))
    out: dict[int, Surveys] = defaultdict(Surveys)
    for r in await conn.execute(q):
        sv = out[int(r.p)]
        n = int(r.n)
        try:
            sc = float(r.scale) if r.scale is not None else None
        except ValueError:
            sc = None
        cat = survey_category(r.rating, sc)
        sv.answers += n if cat else 0
        if cat == "very":
            sv.very_satisfied += n
        elif cat == "satisfied":
            sv.satisfied += n
        elif cat == "unsatisfied":
            sv.unsatisfied += n
        else:
            sv.invalid += n
    return dict(out)


# -----------------------------------------------------------------------------------------
# operational figures
# -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VolumeRow:
    period: int
    channel: str
    audience: str | None
    application: str | None
    request_type: str | None
    duplicate: bool
    tickets: int


async def volumes(conn: AsyncConnection, p: Periods, traffic: DrillTraffic = DrillTraffic()) -> list[VolumeRow]:
    """Tickets created per period × channel × audience × application × request type: a
    GROUP BY of a few thousand rows at most, aggregated further in Python (the catalogue's
    codes are looked up afterwards, no join)."""
    app = Application.__table__
    dup = T.c.merged_into_id.is_not(None).label("dup")

    def build(where: ColumnElement) -> Any:
        return (select(T.c.channel, T.c.audience_code, T.c.application_id, T.c.request_type_id, dup,
                       func.count().label("n"))
                .where(where, traffic.kept(T))
                .group_by(T.c.channel, T.c.audience_code, T.c.application_id, T.c.request_type_id, dup))

    apps = {r.id: r.code for r in await conn.execute(select(app.c.id, app.c.code))}
    rtypes = {r.id: r.code for r in await conn.execute(select(RT.c.id, RT.c.code))}
    return [VolumeRow(i, r.channel, r.audience_code, apps.get(r.application_id), rtypes.get(r.request_type_id),
                      bool(r.dup), int(r.n)) for i, r in await by_period(conn, p, T.c.created_at, build)]


async def catalogue_labels(conn: AsyncConnection) -> dict[str, dict[str, str]]:
    aud = Audience.__table__
    app = Application.__table__
    return {
        "audience": {r.code: r.label for r in await conn.execute(select(aud.c.code, aud.c.label))},
        "application": {r.code: r.label for r in await conn.execute(select(app.c.code, app.c.label))},
        "request_type": {r.code: r.label for r in await conn.execute(select(RT.c.code, RT.c.label))},
    }


@dataclass
class Occupancy:
    logged_in_seconds: float = 0.0
    busy_seconds: float = 0.0  # on call + wrap-up
    on_call_seconds: float = 0.0
    wrap_up_seconds: float = 0.0
    paused_seconds: float = 0.0
    operators: int = 0


async def occupancy(conn: AsyncConnection, p: Periods, s: IndicatorSettings) -> dict[int, Occupancy]:
    """Time in each operator state from consecutive ``operator_state_changed`` facts (the
    state entered lasts until the operator's next change, at most ``max_state_hours``)."""
    cap = s.max_state_hours * 3600.0
    margin = timedelta(seconds=cap)
    new_state = E.c.data["new"].as_string()
    inner = (
        select(E.c.operator_id.label("op"), E.c.occurred_at.label("at"), new_state.label("state"),
               func.lead(E.c.occurred_at, type_=E.c.occurred_at.type).over(
                   partition_by=E.c.operator_id, order_by=(E.c.occurred_at, E.c.id)).label("next_at"))
        .where(E.c.kind == K.OPERATOR_STATE_CHANGED.value, E.c.occurred_at >= p.start - margin,
               E.c.occurred_at < p.end + margin, E.c.operator_id.is_not(None))
        .subquery()
    )
    raw = _seconds(conn, inner.c.at, inner.c.next_at)
    dur = case((raw > cap, cap), else_=raw)
    bucket = p.bucket(inner.c.at).label("p")
    st = inner.c.state
    q = (
        select(bucket,
               sum_if(st != "logged_out", dur).label("logged_in_seconds"),
               sum_if(st.in_(["on_call", "wrap_up"]), dur).label("busy_seconds"),
               sum_if(st == "on_call", dur).label("on_call_seconds"),
               sum_if(st == "wrap_up", dur).label("wrap_up_seconds"),
               sum_if(st == "paused", dur).label("paused_seconds"),
               func.count(func.distinct(inner.c.op)).label("operators"))
        .where(inner.c.next_at.is_not(None), p.within(inner.c.at))
        .group_by(bucket)
    )
    return {int(r["p"]): Occupancy(**{k: (int(v) if k == "operators" else float(v or 0.0))
                                      for k, v in r.items() if k != "p"})
            for r in (await conn.execute(q)).mappings()}


# -----------------------------------------------------------------------------------------
# escalations in progress (point prod, monthly report)
# -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenEscalation:
    ticket_id: int
    reference: str
    status: str
    level: str
    subject: str
    priority: int | None
    application: str | None
    glpi_reference: str | None
    escalated_at: datetime | None
    reminders: int
    last_reminder_at: datetime | None
    created_at: datetime


IN_PROGRESS_STATUSES = ("escalated_n2", "escalated_n3", "info_requested")


async def escalations_in_progress(conn: AsyncConnection) -> list[OpenEscalation]:
    app = Application.__table__
    first = (select(func.min(E.c.occurred_at)).where(E.c.ticket_id == T.c.id,
                                                      E.c.kind == K.TICKET_ESCALATED.value).scalar_subquery())
    rem_n = (select(func.count()).where(E.c.ticket_id == T.c.id, E.c.kind == K.TICKET_REMINDED.value)
             .scalar_subquery())
    rem_last = (select(func.max(E.c.occurred_at)).where(E.c.ticket_id == T.c.id,
                                                         E.c.kind == K.TICKET_REMINDED.value).scalar_subquery())
    q = (
        select(T.c.id, T.c.reference, T.c.status, T.c.level, T.c.subject, T.c.priority, app.c.label.label("app"),
               T.c.glpi_reference, first.label("escalated_at"), rem_n.label("reminders"),
               rem_last.label("last_reminder_at"), T.c.created_at)
        .select_from(T.outerjoin(app, app.c.id == T.c.application_id))
        .where(T.c.status.in_(IN_PROGRESS_STATUSES))
        .order_by(T.c.created_at, T.c.id)
    )
    return [OpenEscalation(r.id, r.reference, r.status, r.level, r.subject, r.priority, r.app, r.glpi_reference,
                           r.escalated_at, int(r.reminders or 0), r.last_reminder_at, r.created_at)
            for r in await conn.execute(q)]


async def has_any(conn: AsyncConnection, kinds: Iterable[str], before: datetime) -> bool:
    return (await conn.scalar(select(literal(1)).where(E.c.kind.in_(list(kinds)), E.c.occurred_at < before)
                              .limit(1))) is not None


__all__ = [
    "Availability", "Drills", "EscalationCounts", "LostCall", "Occupancy", "OpenEscalation", "Openings",
    "PhoneCounts", "RecoveryCounts", "ResolutionCounts", "Surveys", "TicketCounts", "VolumeRow",
    "availability", "contacts", "drills", "escalations", "escalations_in_progress", "lost_calls", "occupancy",
    "openings", "recovery_counts", "surveys", "tickets_created", "tickets_resolved", "volumes", "true",
]
