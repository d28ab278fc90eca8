"""The wallboard's figures: today (the Europe/Paris day of ``now``) from the events journal,
beside the live state of the ACD.

Definitions (the same as the monthly indicators', see ``console.settings``):

- a call of today is a ``call_presented`` fact of today; its outcome is its first
  ``call_answered``, ``call_abandoned``, ``call_lost`` or ``callback_requested`` fact; a
  call without one is *pending* (still waiting or ringing);
- *answered in time*: answered after a wait strictly below ``pickup_seconds`` (40 s);
- *short abandons* (wait below ``short_abandon_seconds``, default 0 = none) are misdials:
  out of every figure but their own;
- *decided* = presented − short abandons − pending: a call still waiting is not counted
  yet (it may still be answered in time), so the service level does not dip while a call
  rings; at the end of the day decided = presented and the figures are SPEC's:
  **service level** = answered in time / decided (target ≥ 80 %), **abandonment** =
  abandoned / decided (≤ 10 %), a virtual-hold acceptance counting as an abandonment only
  when ``callback_requested_is_abandoned``;
- the half-hour chart buckets calls by the time they were presented.

Live state (calls waiting, longest wait, operators by state, time in state) comes from the
ACD's snapshot, in the compact form the ACD instance publishes on the bus
(:func:`compact_snapshot` / :func:`expand_snapshot`): every instance renders the same
snapshot and reads the same journal, so two instances show the same figures.

Backlogs come from their tables: callbacks (``callbacks``), mails not taken in charge
(tickets of channel ``mail``; their ``taken_in_charge_due_at`` is the 1-business-hour
target), chats waiting (``chat_conversations`` when the chat package is installed, else
chat tickets not taken in charge — the hook is :func:`chat_backlog`).

Everything here reads; nothing writes.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from acd.models import OperatorSkill
from accounts.models import User
from console import strings
from console.settings import Definitions
from ticket_core.journal import EventKind
from ticket_core.models import Audience, JournalEvent, Ticket
from ticket_core.workflow import OPEN_STATUSES

K = EventKind
OUTCOME_KINDS = (K.CALL_ANSWERED.value, K.CALL_ABANDONED.value, K.CALL_LOST.value, K.CALLBACK_REQUESTED.value)
SLOT = timedelta(minutes=30)
STATE_CODES = {"logged_out": "L", "available": "A", "ringing": "R", "on_call": "C", "wrap_up": "W", "paused": "P"}
CODE_STATES = {v: k for k, v in STATE_CODES.items()}
STATE_ORDER = ["on_call", "ringing", "wrap_up", "available", "paused", "logged_out"]
OPEN = sorted(s.value for s in OPEN_STATUSES)


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _from_ms(ms: int | float) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def day_bounds(now: datetime, zone: ZoneInfo) -> tuple[date, datetime, datetime]:
    """The local day of ``now`` and its bounds in UTC (23 or 25 hours on DST days)."""
    day = now.astimezone(zone).date()
    start = datetime.combine(day, time(0), zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), zone).astimezone(UTC)
    return day, start, end


# ------------------------------------------------------------------------------ snapshot


def compact_snapshot(acd: Any, now: datetime, *, seq: int = 0, trigger: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ACD's live state, small enough for a NOTIFY (about 60 bytes per operator)."""
    snap = acd.snapshot(now)
    at = _ms(now)
    queues = {}
    for audience, q in snap["queues"].items():
        waiting = q["waiting"] + q["ringing"]
        oldest = at - int(q["longest_wait_seconds"] * 1000) if waiting else 0
        queues[audience] = [waiting, q["ringing"], q["on_call"], oldest]
    operators = {}
    for op_id, o in snap["operators"].items():
        call_queue = None
        if o["call_id"]:
            try:
                call_queue = acd.call(o["call_id"]).audience
            except Exception:  # noqa: BLE001 - the call may have just left
                call_queue = None
        since = _ms(datetime.fromisoformat(o["since"])) if o["since"] else 0
        operators[op_id] = [STATE_CODES.get(o["state"], "L"), since, o["pause_reason"], call_queue, o["call_id"]]
    out: dict[str, Any] = {"t": "acd", "n": seq, "at": at, "q": queues, "p": operators}
    if trigger:
        out["tr"] = trigger
    return out


@dataclass
class LiveQueue:
    waiting: int = 0
    ringing: int = 0
    on_call: int = 0
    oldest_entered_at: datetime | None = None


@dataclass
class LiveOperator:
    state: str = "logged_out"
    since: datetime | None = None
    pause_reason: str | None = None
    call_queue: str | None = None
    call_id: str | None = None


@dataclass
class Live:
    at: datetime | None = None
    queues: dict[str, LiveQueue] = field(default_factory=dict)
    operators: dict[str, LiveOperator] = field(default_factory=dict)
    known: bool = False  # False: no snapshot (no ACD running, or none heard from yet)


def expand_snapshot(compact: dict[str, Any] | None) -> Live:
    if not compact:
        return Live()
    queues = {a: LiveQueue(v[0], v[1], v[2], _from_ms(v[3]) if v[3] else None) for a, v in compact["q"].items()}
    ops = {}
    for op_id, v in compact["p"].items():
        ops[str(op_id)] = LiveOperator(CODE_STATES.get(v[0], "logged_out"), _from_ms(v[1]) if v[1] else None,
                                       v[2], v[3], v[4] if len(v) > 4 else None)
    return Live(_from_ms(compact["at"]), queues, ops, True)


# ------------------------------------------------------------------------------ calls today


@dataclass(frozen=True)
class CallRow:
    call_id: str
    queue: str
    presented_at: datetime
    outcome: str | None  # answered | abandoned | lost | callback_requested | None (pending)
    wait: float | None
    operator_id: int | None
    reason: str | None = None


async def day_calls(session: AsyncSession, start: datetime, end: datetime) -> list[CallRow]:
    """Every call presented in ``[start, end)`` with its outcome, in two indexed queries
    (``kind, occurred_at`` then ``call_id``)."""
    E = JournalEvent
    presented = list(await session.execute(
        select(E.call_id, E.queue, E.occurred_at)
        .where(E.kind == K.CALL_PRESENTED.value, E.occurred_at >= start, E.occurred_at < end)
        .order_by(E.id)))
    if not presented:
        return []
    ids = select(E.call_id).where(E.kind == K.CALL_PRESENTED.value, E.occurred_at >= start, E.occurred_at < end)
    outcomes: dict[str, tuple[str, dict[str, Any], int | None]] = {}
    for call_id, kind, data, operator_id in await session.execute(
            select(E.call_id, E.kind, E.data, E.operator_id)
            .where(E.call_id.in_(ids), E.kind.in_(OUTCOME_KINDS), E.occurred_at >= start)
            .order_by(E.id)):
        outcomes.setdefault(call_id, (kind, data or {}, operator_id))  # the first outcome wins
    rows = []
    seen: set[str] = set()
    for call_id, queue, at in presented:
        if call_id in seen:
            continue
        seen.add(call_id)
        kind, data, operator_id = outcomes.get(call_id, (None, {}, None))
        outcome = {K.CALL_ANSWERED.value: "answered", K.CALL_ABANDONED.value: "abandoned",
                   K.CALL_LOST.value: "lost", K.CALLBACK_REQUESTED.value: "callback_requested"}.get(kind or "")
        wait = data.get("wait_seconds")
        rows.append(CallRow(call_id, queue or "", at, outcome, float(wait) if wait is not None else None,
                            operator_id, data.get("reason")))
    return rows


@dataclass
class Counts:
    presented: int = 0
    short_abandons: int = 0
    answered: int = 0
    answered_in_time: int = 0
    abandoned: int = 0
    lost: int = 0
    callback_requested: int = 0
    pending: int = 0
    wait_answered_seconds: float = 0.0

    def add(self, row: CallRow, d: Definitions) -> None:
        self.presented += 1
        if row.outcome is None:
            self.pending += 1
        elif row.outcome == "answered":
            self.answered += 1
            self.wait_answered_seconds += row.wait or 0.0
            if (row.wait or 0.0) < d.pickup_seconds:
                self.answered_in_time += 1
        elif row.outcome == "abandoned":
            if (row.wait or 0.0) < d.short_abandon_seconds:
                self.short_abandons += 1
            else:
                self.abandoned += 1
        elif row.outcome == "lost":
            self.lost += 1
        elif row.outcome == "callback_requested":
            self.callback_requested += 1

    def merge(self, other: Counts) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def decided(self) -> int:
        return self.presented - self.short_abandons - self.pending

    def abandoned_counted(self, d: Definitions) -> int:
        return self.abandoned + (self.callback_requested if d.callback_requested_is_abandoned else 0)

    def service_level(self) -> float | None:
        return self.answered_in_time / self.decided if self.decided > 0 else None

    def abandonment(self, d: Definitions) -> float | None:
        return self.abandoned_counted(d) / self.decided if self.decided > 0 else None

    def to_json(self, d: Definitions) -> dict[str, Any]:
        return {
            "presented": self.presented - self.short_abandons, "short_abandons": self.short_abandons,
            "answered": self.answered, "answered_in_time": self.answered_in_time,
            "abandoned": self.abandoned_counted(d), "lost": self.lost,
            "callback_requested": self.callback_requested, "pending": self.pending, "decided": self.decided,
            "service_level": self.service_level(), "abandonment": self.abandonment(d),
            "mean_wait_answered": (self.wait_answered_seconds / self.answered) if self.answered else None,
        }


def day_slots(windows: list[tuple[datetime, datetime]], day: date, zone: ZoneInfo,
              activity: list[datetime], now: datetime) -> list[datetime]:
    """Half-hour slot starts (UTC) for today's chart: the opening hours of the day (08:00–18:00
    when closed or open around the clock), widened to every slot with activity and to now."""
    def local(h: int, m: int = 0) -> datetime:
        return datetime.combine(day, time(h, m), zone).astimezone(UTC)

    day_start, day_end = local(0), datetime.combine(day + timedelta(days=1), time(0), zone).astimezone(UTC)
    if windows and sum((b - a).total_seconds() for a, b in windows) <= 12 * 3600:
        first, last = min(a for a, _ in windows), max(b for _, b in windows)
    else:
        first, last = local(8), local(18)
    points = [*activity, *([now] if day_start <= now < day_end else [])]
    if points:
        first, last = min(first, min(points)), max(last, max(points) + timedelta(seconds=1))

    def floor(at: datetime) -> datetime:
        loc = at.astimezone(zone)
        return loc.replace(minute=0 if loc.minute < 30 else 30, second=0, microsecond=0).astimezone(UTC)

    slots, at = [], floor(max(first, day_start))
    while at < min(last, day_end):
        slots.append(at)
        at += SLOT  # Paris is a whole number of hours from UTC: UTC half hours are local ones
    return slots


def chart(rows: list[CallRow], slots: list[datetime], zone: ZoneInfo, d: Definitions) -> dict[str, Any]:
    counts = [Counts() for _ in slots]
    for row in rows:
        i = _slot_index(slots, row.presented_at) if slots else None
        if i is not None:
            counts[i].add(row, d)
    return {
        "slots": [s.astimezone(zone).strftime("%H:%M") for s in slots],
        "starts": [s.isoformat() for s in slots],
        "presented": [c.presented - c.short_abandons for c in counts],
        "answered_in_time": [c.answered_in_time for c in counts],
        "answered_late": [c.answered - c.answered_in_time for c in counts],
        "abandoned": [c.abandoned_counted(d) for c in counts],
        "lost": [c.lost + (0 if d.callback_requested_is_abandoned else c.callback_requested) for c in counts],
        "pending": [c.pending for c in counts],
        "service_level": [c.service_level() for c in counts],
    }


def _slot_index(starts: list[datetime], at: datetime) -> int | None:
    i = bisect_right(starts, at) - 1
    if i < 0 or (i == len(starts) - 1 and at >= starts[i] + SLOT):
        return None
    return i


# ------------------------------------------------------------------------------ operators today


async def operators_today(session: AsyncSession, start: datetime, end: datetime) -> dict[str, dict[str, float]]:
    """Per operator: calls answered today and talk seconds of the calls ended today."""
    E = JournalEvent
    out: dict[str, dict[str, float]] = defaultdict(lambda: {"answered": 0, "talk_seconds": 0.0})
    for operator_id, n in await session.execute(
            select(E.operator_id, func.count()).where(E.kind == K.CALL_ANSWERED.value, E.occurred_at >= start,
                                                      E.occurred_at < end, E.operator_id.is_not(None))
            .group_by(E.operator_id)):
        out[str(operator_id)]["answered"] = int(n)
    for operator_id, data in await session.execute(
            select(E.operator_id, E.data).where(E.kind == K.CALL_ENDED.value, E.occurred_at >= start,
                                                E.occurred_at < end, E.operator_id.is_not(None))):
        out[str(operator_id)]["talk_seconds"] += float((data or {}).get("talk_seconds") or 0.0)
    return dict(out)


@dataclass(frozen=True)
class RosterEntry:
    id: str
    name: str
    skills: dict[str, int]


async def roster(session: AsyncSession) -> list[RosterEntry]:
    users = list(await session.execute(
        select(User.id, User.display_name, User.username).where(User.role == "operator", User.active.is_(True))
        .order_by(User.display_name, User.username)))
    skills: dict[int, dict[str, int]] = defaultdict(dict)
    for user_id, audience, level in await session.execute(
            select(OperatorSkill.user_id, OperatorSkill.audience, OperatorSkill.level)):
        skills[user_id][audience] = level
    return [RosterEntry(str(uid), name or username, dict(skills.get(uid, {}))) for uid, name, username in users]


async def queues(session: AsyncSession) -> list[tuple[str, str]]:
    rows = await session.execute(select(Audience.code, Audience.label, Audience.ivr_digit)
                                 .where(Audience.active.is_(True)))
    ordered = sorted(rows, key=lambda r: (r.ivr_digit is None, r.ivr_digit or "", r.code))
    return [(r.code, strings.QUEUES.get(r.code, r.label)) for r in ordered]


# ------------------------------------------------------------------------------ backlogs


@dataclass
class Backlog:
    waiting: int = 0
    late: int = 0  # past their target (mails) or their planned time (callbacks)
    first_due: datetime | None = None  # mails: the most urgent target


async def callback_backlog(session: AsyncSession, now: datetime) -> dict[str | None, Backlog]:
    """Callbacks still to place (scheduled or dialling) per audience, and how many are past
    their planned time."""
    from callback import models as cb

    out: dict[str | None, Backlog] = {}
    for audience, n in await session.execute(
            select(cb.Callback.audience, func.count()).where(cb.Callback.state.in_(cb.OPEN_STATES))
            .group_by(cb.Callback.audience)):
        out[audience] = Backlog(int(n))
    for audience, n in await session.execute(
            select(cb.Callback.audience, func.count())
            .where(cb.Callback.state == cb.SCHEDULED, cb.Callback.next_attempt_at < now)
            .group_by(cb.Callback.audience)):
        out.setdefault(audience, Backlog()).late = int(n)
    return out


async def mail_backlog(session: AsyncSession, now: datetime) -> dict[str | None, Backlog]:
    """Mails not taken in charge yet (tickets of channel mail whose 1-business-hour clock
    runs), per audience, with how many are past their target and the most urgent one."""
    out: dict[str | None, Backlog] = {}
    rows = await session.execute(
        select(Ticket.audience_code, func.count(), func.min(Ticket.taken_in_charge_due_at))
        .where(Ticket.channel == "mail", Ticket.taken_in_charge_at.is_(None),
               Ticket.taken_in_charge_due_at.is_not(None), Ticket.status.in_(OPEN))
        .group_by(Ticket.audience_code))
    for audience, n, first_due in rows:
        out[audience] = Backlog(int(n), 0, first_due)
    late = await session.execute(
        select(Ticket.audience_code, func.count())
        .where(Ticket.channel == "mail", Ticket.taken_in_charge_at.is_(None),
               Ticket.taken_in_charge_due_at <= now, Ticket.status.in_(OPEN))
        .group_by(Ticket.audience_code))
    for audience, n in late:
        out.setdefault(audience, Backlog()).late = int(n)
    return out


async def chat_backlog(session: AsyncSession) -> tuple[dict[str | None, Backlog], dict[str, int]]:
    """Chats waiting per audience, and chats held per operator.

    From the chat package's ``chat_conversations`` when installed; otherwise (HOOK until the
    chat gateway lands) from chat tickets not taken in charge, with no per-operator count."""
    waiting: dict[str | None, Backlog] = {}
    held: dict[str, int] = {}
    try:
        from chatgw.models import ChatConversation as C
    except ImportError:
        rows = await session.execute(
            select(Ticket.audience_code, func.count())
            .where(Ticket.channel == "chat", Ticket.taken_in_charge_at.is_(None), Ticket.status.in_(OPEN))
            .group_by(Ticket.audience_code))
        return {a: Backlog(int(n)) for a, n in rows}, held
    for audience, n in await session.execute(
            select(C.audience, func.count()).where(C.status == "waiting").group_by(C.audience)):
        waiting[audience] = Backlog(int(n))
    for operator_id, n in await session.execute(
            select(C.operator_id, func.count()).where(C.status == "active", C.operator_id.is_not(None))
            .group_by(C.operator_id)):
        held[str(operator_id)] = int(n)
    return waiting, held


# ------------------------------------------------------------------------------ assembly


@dataclass
class DayFigures:
    """What the database says about today (the same on every instance)."""

    day: date
    rows: list[CallRow]
    windows: list[tuple[datetime, datetime]]
    queues: list[tuple[str, str]]
    roster: list[RosterEntry]
    per_operator: dict[str, dict[str, float]]
    callbacks: dict[str | None, Backlog]
    mails: dict[str | None, Backlog]
    chats: dict[str | None, Backlog]
    chats_held: dict[str, int]
    mails_first_remaining: float | None = None  # business seconds to the most urgent target


async def load_day(session: AsyncSession, now: datetime, zone: ZoneInfo, calendar: Any) -> DayFigures:
    """Everything the database says about today."""
    fig = await load_context(session, now, zone, calendar)
    await load_calls(session, fig, now, zone)
    return fig


async def load_context(session: AsyncSession, now: datetime, zone: ZoneInfo, calendar: Any) -> DayFigures:
    """What changes without ACD events (queues, roster, opening hours, backlogs), with no
    calls yet: :func:`load_calls` adds them."""
    day, _, _ = day_bounds(now, zone)
    chats, held = await chat_backlog(session)
    mails = await mail_backlog(session, now)
    first_due = min((b.first_due for b in mails.values() if b.first_due), default=None)
    return DayFigures(
        day=day, rows=[], windows=list(calendar.window(day)),
        queues=await queues(session), roster=await roster(session), per_operator={},
        callbacks=await callback_backlog(session, now), mails=mails,
        chats=chats, chats_held=held,
        mails_first_remaining=business_remaining(calendar, now, first_due) if first_due else None,
    )


async def load_calls(session: AsyncSession, fig: DayFigures, now: datetime, zone: ZoneInfo) -> None:
    """Today's calls and per-operator figures (what ACD events change), in place."""
    _, start, end = day_bounds(now, zone)
    fig.rows = await day_calls(session, start, end)
    fig.per_operator = await operators_today(session, start, end)


def business_remaining(calendar: Any, now: datetime, due: datetime) -> float:
    """Business seconds from ``now`` to ``due``; negative once past it."""
    if due >= now:
        return calendar.business_seconds_between(now, due)
    return -calendar.business_seconds_between(due, now)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f} %".replace(".", ",")


def _duration(seconds: float) -> str:
    seconds = int(max(0, seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d}"


def build(fig: DayFigures, live: Live, now: datetime, zone: ZoneInfo, d: Definitions,
          *, stale_after: float = 20.0) -> dict[str, Any]:
    """The wallboard's payload (JSON-ready, no personal data)."""
    per_queue: dict[str, Counts] = defaultdict(Counts)
    for row in fig.rows:
        per_queue[row.queue].add(row, d)
    codes = [c for c, _ in fig.queues]
    labels = dict(fig.queues)
    for extra in sorted(set(per_queue) - set(codes)):
        codes.append(extra)  # a queue no longer active that had calls today
        labels[extra] = strings.QUEUES.get(extra, extra)
    stale_seconds = (now - live.at).total_seconds() if live.known and live.at else None
    live_ok = live.known and stale_seconds is not None and stale_seconds <= stale_after

    operators = []
    for entry in fig.roster:
        lo = live.operators.get(entry.id) if live_ok else None
        state = lo.state if lo else "logged_out"
        today = fig.per_operator.get(entry.id, {})
        operators.append({
            "id": entry.id, "name": entry.name, "state": state,
            "since": lo.since.isoformat() if lo and lo.since else None,
            "pause_reason": lo.pause_reason if lo else None,
            "queue": lo.call_queue if lo else None,
            "skills": entry.skills,
            "answered_today": int(today.get("answered", 0)),
            "talk_seconds_today": round(float(today.get("talk_seconds", 0.0)), 1),
            "chats": fig.chats_held.get(entry.id, 0),
        })
    operators.sort(key=lambda o: (STATE_ORDER.index(o["state"]), o["since"] or "", o["name"]))

    total = Counts()
    queue_rows = []
    for code in codes:
        counts = per_queue.get(code, Counts())
        total.merge(counts)
        lq = live.queues.get(code) if live_ok else None
        by_state = {s: 0 for s in STATE_ORDER}
        for o in operators:
            if code in o["skills"]:
                by_state[o["state"]] += 1
        queue_rows.append({
            "code": code, "label": labels[code],
            "waiting": lq.waiting if lq else None,
            "oldest_entered_at": lq.oldest_entered_at.isoformat() if lq and lq.oldest_entered_at else None,
            "longest_wait_seconds": (now - lq.oldest_entered_at).total_seconds() if lq and lq.oldest_entered_at else (0.0 if lq else None),
            "operators": by_state,
            **counts.to_json(d),
            "callbacks_pending": fig.callbacks.get(code, Backlog()).waiting,
            "mails_waiting": fig.mails.get(code, Backlog()).waiting,
            "chats_waiting": fig.chats.get(code, Backlog()).waiting,
        })
    oldest = [q["oldest_entered_at"] for q in queue_rows if q["oldest_entered_at"]]
    everyone = {s: 0 for s in STATE_ORDER}
    for o in operators:
        everyone[o["state"]] += 1
    mails_first_due = min((b.first_due for b in fig.mails.values() if b.first_due), default=None)
    totals = {
        "code": "*", "label": strings.TOTAL,
        "waiting": sum(q["waiting"] or 0 for q in queue_rows) if live_ok else None,
        "oldest_entered_at": min(oldest) if oldest else None,
        "longest_wait_seconds": max((q["longest_wait_seconds"] or 0.0 for q in queue_rows), default=0.0) if live_ok else None,
        "operators": everyone,
        **total.to_json(d),
        "callbacks_pending": sum(b.waiting for b in fig.callbacks.values()),
        "callbacks_late": sum(b.late for b in fig.callbacks.values()),
        "mails_waiting": sum(b.waiting for b in fig.mails.values()),
        "mails_late": sum(b.late for b in fig.mails.values()),
        "mails_first_due": mails_first_due.isoformat() if mails_first_due else None,
        "mails_first_remaining": fig.mails_first_remaining,
        "chats_waiting": sum(b.waiting for b in fig.chats.values()),
    }
    activity = [r.presented_at for r in fig.rows]
    slots = day_slots(fig.windows, fig.day, zone, activity, now)
    payload = {
        "at": now.isoformat(), "day": fig.day.isoformat(),
        "live": {"known": live.known, "ok": live_ok, "at": live.at.isoformat() if live.at else None,
                 "stale_seconds": stale_seconds},
        "targets": {"service_level": d.service_level_target, "abandonment": d.abandonment_target,
                    "pickup_seconds": d.pickup_seconds, "alert_wait_seconds": d.alert_wait_seconds},
        "queues": queue_rows, "total": totals, "operators": operators,
        "chart": chart(fig.rows, slots, zone, d),
    }
    payload["alerts"] = alerts(payload, d, now)
    return payload


def alerts(payload: dict[str, Any], d: Definitions, now: datetime) -> list[dict[str, str]]:
    """Thresholds crossed, most serious first: ``critique`` (a contractual target missed
    today, mails past their target, no operator for waiting calls) or ``attention``."""
    out: list[dict[str, str]] = []
    t = strings.ALERTS
    live = payload["live"]
    if live["known"] and not live["ok"]:
        out.append({"level": "critique", "kind": "stale", "queue": "*",
                    "message": t["stale"].format(value=_duration(live["stale_seconds"] or 0))})
    for q in [*payload["queues"], payload["total"]]:
        name = q["label"]
        if q["decided"] >= d.alert_min_calls:
            if q["service_level"] is not None and q["service_level"] < d.service_level_target:
                out.append({"level": "critique", "kind": "service_level", "queue": q["code"], "message": t["service_level"].format(
                    queue=name, value=_pct(q["service_level"]), target=_pct(d.service_level_target))})
            if q["abandonment"] is not None and q["abandonment"] > d.abandonment_target:
                out.append({"level": "critique", "kind": "abandonment", "queue": q["code"], "message": t["abandonment"].format(
                    queue=name, value=_pct(q["abandonment"]), target=_pct(d.abandonment_target))})
        if q["code"] == "*":
            continue
        if (q["longest_wait_seconds"] or 0) > d.alert_wait_seconds:
            out.append({"level": "attention", "kind": "long_wait", "queue": q["code"], "message": t["long_wait"].format(
                queue=name, value=_duration(q["longest_wait_seconds"]), target=_duration(d.alert_wait_seconds))})
        if d.alert_no_operator and (q["waiting"] or 0) > 0 and q["operators"]["available"] == 0 \
                and q["operators"]["ringing"] == 0:
            out.append({"level": "critique", "kind": "no_operator", "queue": q["code"],
                        "message": t["no_operator"].format(queue=name, value=q["waiting"])})
    total = payload["total"]
    if total["mails_late"]:
        out.append({"level": "critique", "kind": "mail_late", "queue": "*",
                    "message": t["mail_late"].format(value=total["mails_late"])})
    elif total["mails_waiting"] and total["mails_first_remaining"] is not None \
            and total["mails_first_remaining"] < d.mail_warning_seconds:
        out.append({"level": "attention", "kind": "mail_soon", "queue": "*",
                    "message": t["mail_soon"].format(value=_duration(total["mails_first_remaining"]),
                                                     target=_duration(d.mail_warning_seconds))})
    if total["callbacks_late"]:
        out.append({"level": "attention", "kind": "callbacks_late", "queue": "*",
                    "message": t["callbacks_late"].format(value=total["callbacks_late"])})
    out.sort(key=lambda a: a["level"] != "critique")
    return out
