"""``guichet demo-data``: deterministic, realistic synthetic history, month by month.

For each calendar month (Europe/Paris, or the settings' zone) of the range, in one
transaction: requesters, tickets, calls, journal facts and (at scale <= 1) ticket history,
shaped like what the real services write, drawn from ``demo.profile`` with
``random.Random`` seeded by (seed, month) — never the global generator, never the wall clock
(``recorded_at`` = ``occurred_at``). A month's data therefore does not depend on which other
months are generated, and re-running skips the months that already hold demo data (tickets
with ``source_ref`` ``demo:…`` or calls ``demo-…`` in that month): nothing is deleted, nothing
duplicated.

Everything a ticket will live (escalations, N2 delays, closure) is generated with the ticket;
what would happen after the end of the range (the horizon) is left undone, so the last month
ends with tickets still in progress. Rows are written day by day with SQLAlchemy Core
``insert(table)`` statements compiled once and run by the driver's executemany in batches
(see ``Writer``); the ids the generator needs beforehand come from the tables' own
sequences on PostgreSQL (``IdAllocator``), so they stay right, and the reference counter
(``ticket_sequences``) is advanced in the same transaction: tickets created afterwards by
the real service continue the numbering.

Shapes follow the real writers: ``ticket_core.services`` for tickets (references, SLA
clocks, transitions and their facts), ``telephony.stasis`` and ``acd.services`` for calls
(phone tickets created by the system at answer, dated at the call's reception, assigned to
the operator; ``call_ended`` only for answered calls; the same data keys), the callback
service's ``call_recovered`` facts when a lost caller calls again and is answered before
the end of the next business day (T2-IQ04 counts those facts), the failover module's probes,
openings and closings and switchover drills (``demo.service``: T1-IQ01/02, T3-IQ03), and
the chat gateway's survey answers on a share of the resolved tickets
(``demo.satisfaction``: T8-IQ01). Those two draw from random streams of their own, so the
calls and tickets of a seed do not depend on them; probes, openings and drills depend on
the calendar only, not on ``--scale``.

Known approximations (see ``demo.profile`` for the figures): every operator has every
audience skill; per-call operator states (ringing, on call, wrap-up) are not journaled, only
login, lunch pause and logout; chats are all answered; lost calls are renewed only by the
caller calling again (no ``lost_calls``/``callbacks`` rows, no callback attempts);
``recorded_at`` equals ``occurred_at``; probe rounds every five minutes rather than every
minute; drills run on demand (no drill calendar) and their test contacts make no ticket;
only the survey invitations that were answered are written (see ``demo.service`` and
``demo.satisfaction``).
"""

from __future__ import annotations

import asyncio
import heapq
import json
import math
import re
import sys
import time as _time
from bisect import bisect_right
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import accumulate
from operator import itemgetter
from random import Random
from typing import Any

from sqlalchemy import Column, DateTime, MetaData, Table, func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from demo import people
from demo import profile as P
from demo.lifecycle import Life, Out, Story
from demo.satisfaction import DATA as _SURVEY_DATA
from demo.satisfaction import SurveyMonth
from demo.service import ServiceMonth, ServiceStats, plan_month
from demo.timegrid import MonthGrid, build_grid
from failover.settings import FailoverSettings
from guichet.settings import Settings
from ticket_core.business_time import BusinessCalendar
from ticket_core.db import UTCDateTime
from ticket_core.journal import REQUIRED_DATA, EventKind
from ticket_core.priority import priority as compute_priority
from ticket_core.workflow import Action

#: Password of every demo account. DEMO ONLY: it is public (it is in the source); never run
#: demo-data on a database reachable by anyone who should not log in as these accounts.
DEMO_PASSWORD = "demo-guichet-2026"
SUPERVISOR_USERNAME = "superviseur"
AUDITOR_USERNAME = "auditeur"
#: Ticket history rows are written up to this scale (at scale 100 they would double the rows).
HISTORY_MAX_SCALE = 1.0
BATCH = 50_000  # rows per executemany on SQLite (PostgreSQL: one COPY per table and day)

HOUR = 3600.0
_json_dumps = json.dumps  # what SQLAlchemy's JSON type writes
_MS = timedelta(milliseconds=1)


class DemoDataError(Exception):
    """Bad arguments or a database that cannot take demo data; the message says why."""


# ----------------------------------------------------------------------------------------
# entry point
# ----------------------------------------------------------------------------------------


async def run_demo_data(settings: Settings, *, months: int, scale: float, seed: int,
                        end: str | None) -> int:
    """Generate ``months`` months of history ending with ``end`` (YYYY-MM; default the last
    full month before today). Progress on stderr. 0 on success, 2 on bad arguments, 1 when
    the database refuses."""
    try:
        last = parse_end(end, settings.timezone)
        if not isinstance(months, int) or months < 1:
            raise DemoDataError(f"--months must be at least 1, not {months!r}")
        if not isinstance(scale, (int, float)) or not math.isfinite(scale) or scale <= 0:
            raise DemoDataError(f"--scale must be a number above 0, not {scale!r}")
        if scale > 1000:
            raise DemoDataError(f"--scale {scale} is beyond what this generator is meant for (<= 1000)")
    except DemoDataError as exc:
        print(f"demo-data: {exc}", file=sys.stderr)
        return 2
    month_list = _month_range(last, months)
    try:
        summary = await generate(settings, month_list, scale=float(scale), seed=seed)
    except DemoDataError as exc:
        print(f"demo-data: {exc}", file=sys.stderr)
        return 1
    _print_summary(summary)
    return 0


def parse_end(end: str | None, timezone: str = "Europe/Paris") -> tuple[int, int]:
    """``YYYY-MM`` → (year, month); None → the last full month before today (local)."""
    if end is None:
        from zoneinfo import ZoneInfo

        today = datetime.now(ZoneInfo(timezone)).date()
        return (today.year - 1, 12) if today.month == 1 else (today.year, today.month - 1)
    match = re.fullmatch(r"(\d{4})-(\d{2})", end.strip()) if isinstance(end, str) else None
    if not match or not 1 <= int(match[2]) <= 12 or not 2000 <= int(match[1]) <= 2100:
        raise DemoDataError(f"--end must be a month YYYY-MM between 2000-01 and 2100-12, not {end!r}")
    return int(match[1]), int(match[2])


def _month_range(last: tuple[int, int], months: int) -> list[tuple[int, int]]:
    y, m = last
    out = []
    for _ in range(months):
        out.append((y, m))
        y, m = (y - 1, 12) if m == 1 else (y, m - 1)
    return out[::-1]


# ----------------------------------------------------------------------------------------
# bulk-write tables: the models' columns with plain timestamps (naive UTC at rest, as
# UTCDateTime stores them), so that a million rows do not go through a type decorator each.
# ----------------------------------------------------------------------------------------


def _plain(table: Table, md: MetaData) -> Table:
    cols = []
    for c in table.columns:
        typ = DateTime() if isinstance(c.type, UTCDateTime) else c.type
        cols.append(Column(c.name, typ, primary_key=c.primary_key, autoincrement=c.autoincrement))
    return Table(table.name, md, *cols)


def _tables() -> dict[str, Table]:
    import guichet.schema  # noqa: F401  (registers every table)
    from accounts.models import User
    from acd.models import OperatorSkill
    from chatgw.models import SatisfactionAnswer, SatisfactionInvitation
    from failover.models import Drill, Switchover
    from telephony.models import Call
    from ticket_core.models import (
        Application, ApplicationComponent, Audience, JournalEvent, Requester, RequesterEmail,
        RequesterPhone, RequestType, Ticket, TicketHistory, TicketSequence,
    )

    md = MetaData()
    models = {
        "users": User, "operator_skills": OperatorSkill, "calls": Call, "events": JournalEvent,
        "tickets": Ticket, "ticket_history": TicketHistory, "ticket_sequences": TicketSequence,
        "requesters": Requester, "requester_phones": RequesterPhone, "requester_emails": RequesterEmail,
        "applications": Application, "application_components": ApplicationComponent,
        "request_types": RequestType, "audiences": Audience,
        "satisfaction_invitations": SatisfactionInvitation, "satisfaction_answers": SatisfactionAnswer,
        "failover_drills": Drill, "failover_switchovers": Switchover,
    }
    return {name: _plain(model.__table__, md) for name, model in models.items()}


T = _tables()


def _naive(at: datetime | None) -> datetime | None:
    return None if at is None else at.replace(tzinfo=None)


async def _insert(conn: AsyncConnection, table: Table, rows: list[dict[str, Any]]) -> None:
    for i in range(0, len(rows), BATCH):
        await conn.execute(table.insert(), rows[i:i + BATCH])


class Writer:
    """Bulk writes for the big tables, on the month's connection and transaction. SQLite:
    each ``insert(table)`` is compiled once, then run by the driver's executemany in
    batches; PostgreSQL: asyncpg's binary ``COPY`` (``copy_records_to_table``). Either way
    the rows are tuples converted here (timestamps as SQLite's stored text or naive UTC
    datetimes, JSON as text), skipping SQLAlchemy's per-row bind processing, which costs
    more than the database itself at this volume. The values are exactly what the models'
    types store (``ticket_core.db.UTCDateTime``: naive UTC; SQLite's DATETIME text)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self.sqlite = conn.dialect.name == "sqlite"
        self._compiled: dict[tuple[str, tuple[str, ...]], tuple[str, list[int] | None]] = {}
        self._json: dict[int, str] = {}
        self._json_keep: list[Any] = []

    def dt(self, at: datetime | None) -> Any:
        if at is None:
            return None
        if at.tzinfo is not UTC:
            if at.tzinfo is None:
                raise ValueError(f"naive datetime {at!r} where an instant is required")
            at = at.astimezone(UTC)
        if self.sqlite:  # SQLAlchemy's SQLite DATETIME storage format
            return at.isoformat(" ", "microseconds")[:26]
        return at.replace(tzinfo=None)

    def json(self, value: Any) -> str:
        """JSON text; the shared constant dicts are encoded once per chunk."""
        key = id(value)
        cached = self._json.get(key)
        if cached is None:
            cached = self._json[key] = _json_dumps(value)
            self._json_keep.append(value)  # keeps the id valid while cached
        return cached

    def forget_json(self) -> None:
        self._json.clear()
        self._json_keep.clear()

    def _statement(self, table: Table, columns: tuple[str, ...]) -> tuple[str, list[int] | None]:
        key = (table.name, columns)
        found = self._compiled.get(key)
        if found is None:
            compiled = table.insert().compile(dialect=self.conn.dialect, column_keys=list(columns))
            order = list(compiled.positiontup or [])
            if order == list(columns):
                found = (str(compiled), None)
            else:
                found = (str(compiled), [columns.index(c) for c in order])
            self._compiled[key] = found
        return found

    async def insert(self, table: Table, columns: tuple[str, ...], rows: list[tuple]) -> None:
        if not rows:
            return
        if not self.sqlite:
            # PostgreSQL: binary COPY on the same connection, inside the same transaction.
            raw = (await self.conn.get_raw_connection()).driver_connection
            await raw.copy_records_to_table(table.name, records=rows, columns=list(columns))
            return
        sql, order = self._statement(table, columns)
        if order is not None:
            rows = [tuple(r[i] for i in order) for r in rows]
        for i in range(0, len(rows), BATCH):
            await self.conn.exec_driver_sql(sql, rows[i:i + BATCH])


class IdAllocator:
    """Primary keys for the rows whose ids the generator needs before writing (tickets,
    requesters), without a RETURNING round trip per row.

    PostgreSQL: drawn from the column's own sequence (``nextval``), so the sequence stays
    right and concurrent writers never collide. SQLite: max(id) + 1 onwards, which is what
    its rowid would give; read only after the month's transaction has written (the reference
    counter is advanced first), so SQLite's write lock is held and no other writer can
    interleave.
    """

    def __init__(self) -> None:
        self._next: dict[str, int] = {}

    async def take(self, conn: AsyncConnection, table: Table, n: int) -> list[int]:
        if n <= 0:
            return []
        if conn.dialect.name == "postgresql":
            result = await conn.execute(
                text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)"),
                {"t": table.name, "n": n})
            return sorted(r[0] for r in result)
        if table.name not in self._next:
            self._next[table.name] = (await conn.scalar(select(func.coalesce(func.max(table.c.id), 0)))) + 1
        first = self._next[table.name]
        self._next[table.name] = first + n
        return list(range(first, first + n))


# ----------------------------------------------------------------------------------------
# catalogue, accounts
# ----------------------------------------------------------------------------------------


@dataclass
class Catalogue:
    applications: dict[str, tuple[int, int]]  # code -> (id, criticality)
    components: dict[tuple[str, str], tuple[int, int]]  # (app code, comp code) -> (id, criticality)
    request_types: dict[str, tuple[int, str, list[str]]]  # code -> (id, category, escalation fields)
    audiences: list[str]


async def _load_catalogue(conn: AsyncConnection) -> Catalogue:
    apps = {r.code: (r.id, r.criticality) for r in await conn.execute(
        select(T["applications"]).where(T["applications"].c.active.is_(True)))}
    by_id = {v[0]: k for k, v in apps.items()}
    comps = {}
    for r in await conn.execute(select(T["application_components"])):
        if r.application_id in by_id:
            comps[(by_id[r.application_id], r.code)] = (r.id, r.criticality)
    rtypes = {r.code: (r.id, r.category, list(r.escalation_fields or [])) for r in await conn.execute(
        select(T["request_types"]).where(T["request_types"].c.active.is_(True)))}
    auds = [r.code for r in await conn.execute(
        select(T["audiences"].c.code).where(T["audiences"].c.active.is_(True)).order_by(T["audiences"].c.code))]
    missing = [a for a in P.AUDIENCE_WEIGHTS if a not in auds]
    if missing:
        raise DemoDataError(f"the catalogue lacks the audience(s) {', '.join(missing)}: the demo needs them active")
    for audience, mix in P.APPLICATION_MIX.items():
        if not any(code in apps for code in mix):
            raise DemoDataError(f"no active application for audience {audience} (expected one of {', '.join(mix)})")
    for audience, mix in P.REQUEST_TYPE_MIX.items():
        if not any(code in rtypes for code in mix):
            raise DemoDataError(f"no active request type for audience {audience}")
    return Catalogue(apps, comps, rtypes, auds)


def operator_pool_size(scale: float) -> int:
    """Operators to create: enough for the busiest day of the busiest month, plus absences."""
    busiest_day_calls = P.MEAN_REQUESTS_PER_MONTH * scale * 0.85 / 21 * 1.3 * 1.25
    return max(4, math.ceil(1.25 * _staff_for(busiest_day_calls)))


def _staff_for(day_calls: float) -> int:
    erlangs = day_calls * P.PEAK_HOUR_SHARE * P.HANDLING_SECONDS / HOUR
    return math.ceil(erlangs + 1.8 * math.sqrt(erlangs) + 1.5)


@dataclass
class Operator:
    id: int
    username: str


async def _ensure_accounts(conn: AsyncConnection, n_ops: int, audiences: list[str],
                           created_at: datetime) -> tuple[list[Operator], list[str]]:
    """Demo operators op01… (with skills), a supervisor and an auditor when missing.
    Returns the operators and what was created (for the report)."""
    from accounts.services import hash_password

    users = T["users"]
    width = max(2, len(str(n_ops)))
    wanted = [f"op{i:0{width}d}" for i in range(1, n_ops + 1)]
    existing = {r.username: r for r in await conn.execute(
        select(users.c.id, users.c.username, users.c.role, users.c.sip_endpoint).where(users.c.username.in_(wanted)))}
    wrong = [u for u, r in existing.items() if r.role != "operator"]
    if wrong:
        raise DemoDataError(f"user(s) {', '.join(sorted(wrong))} exist but are not operators: "
                            "rename them or run demo-data on another database")
    endpoints = {r[0] for r in await conn.execute(
        select(users.c.sip_endpoint).where(users.c.sip_endpoint.in_(wanted)))}
    created: list[str] = []
    pw_hash: str | None = None
    new_rows = []
    for name in wanted:
        if name in existing:
            continue
        pw_hash = pw_hash or hash_password(DEMO_PASSWORD)
        n = int(name[2:])
        first, last = people.names(n * 7 + 1)
        new_rows.append({
            "username": name, "display_name": f"{first} {last} (démo)", "email": None,
            "password_hash": pw_hash, "role": "operator", "active": True,
            "sip_endpoint": None if name in endpoints else name, "created_at": _naive(created_at),
        })
    if new_rows:
        await _insert(conn, users, new_rows)
        created.append(f"{len(new_rows)} operator(s)")
    for role, name in (("supervisor", SUPERVISOR_USERNAME), ("auditor", AUDITOR_USERNAME)):
        has_role = await conn.scalar(select(users.c.id).where(users.c.role == role).limit(1))
        taken = await conn.scalar(select(users.c.id).where(users.c.username == name).limit(1))
        if has_role is None and taken is None:
            pw_hash = pw_hash or hash_password(DEMO_PASSWORD)
            await _insert(conn, users, [{
                "username": name, "display_name": f"{name.capitalize()} (démo)", "email": None,
                "password_hash": pw_hash, "role": role, "active": True, "sip_endpoint": None,
                "created_at": _naive(created_at)}])
            created.append(f"{role} {name!r}")
    ops = [Operator(r.id, r.username) for r in await conn.execute(
        select(users.c.id, users.c.username).where(users.c.username.in_(wanted)).order_by(users.c.username))]
    skills = T["operator_skills"]
    have = {(r.user_id, r.audience) for r in await conn.execute(
        select(skills.c.user_id, skills.c.audience).where(skills.c.user_id.in_([o.id for o in ops])))}
    rows = []
    for i, op in enumerate(ops):
        primary = audiences[i % len(audiences)]
        for aud in audiences:
            if (op.id, aud) not in have:
                rows.append({"user_id": op.id, "audience": aud, "level": 5 if aud == primary else 3})
    if rows:
        await _insert(conn, skills, rows)
    if pw_hash:
        created.append(f"password {DEMO_PASSWORD!r} (demo only)")
    return ops, created


async def _month_has_demo_data(conn: AsyncConnection, start: datetime, end: datetime) -> bool:
    t, c = T["tickets"], T["calls"]
    hit = await conn.scalar(select(t.c.id).where(
        t.c.created_at >= _naive(start), t.c.created_at < _naive(end), t.c.source_ref.like("demo:%")).limit(1))
    if hit is not None:
        return True
    hit = await conn.scalar(select(c.c.id).where(
        c.c.received_at >= _naive(start), c.c.received_at < _naive(end), c.c.id.like("demo-%")).limit(1))
    return hit is not None


async def _reserve_references(conn: AsyncConnection, year: int, n: int) -> int:
    """Advance the year's counter by ``n``; the first number reserved."""
    seq = T["ticket_sequences"]
    ins = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    await conn.execute(ins(seq).values(year=year, last=0).on_conflict_do_nothing())
    last = (await conn.execute(update(seq).where(seq.c.year == year)
                               .values(last=seq.c.last + n).returning(seq.c.last))).scalar_one()
    return last - n + 1


async def _set_last_reference(conn: AsyncConnection, year: int, last: int) -> None:
    seq = T["ticket_sequences"]
    await conn.execute(update(seq).where(seq.c.year == year).values(last=last))


async def _requester_ids(w: Writer, first_seen: dict[int, datetime],
                         ids_from: IdAllocator) -> tuple[dict[int, int], int]:
    """Requester id of each person (found by phone number, created when unknown), and how
    many were created."""
    conn = w.conn
    phones = T["requester_phones"]
    numbers = {people.phone_number(p): p for p in first_seen}
    found: dict[int, int] = {}
    keys = list(numbers)
    for i in range(0, len(keys), 500):
        for number, rid in await conn.execute(
                select(phones.c.number, phones.c.requester_id).where(phones.c.number.in_(keys[i:i + 500]))):
            found[numbers[number]] = rid
    missing = [p for p in first_seen if p not in found]
    if missing:
        ids = await ids_from.take(conn, T["requesters"], len(missing))
        pairs = list(zip(missing, ids, strict=True))
        await w.insert(T["requesters"], _REQUESTER_COLS, [
            (rid, people.audience_of(p), people.display_name(p), people.organisation(p), w.dt(first_seen[p]), None)
            for p, rid in pairs])
        await w.insert(phones, ("requester_id", "number"), [(rid, people.phone_number(p)) for p, rid in pairs])
        await w.insert(T["requester_emails"], ("requester_id", "address"), [(rid, people.email(p)) for p, rid in pairs])
        found.update(pairs)
    return found, len(missing)


def _defaults(table: Table) -> dict[str, Any]:
    """Scalar column defaults (None otherwise), for columns added to a model after this
    generator was written: the rows still get what the ORM would have put."""
    out: dict[str, Any] = {}
    for c in table.columns:
        default = c.default
        out[c.name] = default.arg if default is not None and getattr(default, "is_scalar", False) else None
    return out


_REQUESTER_COLS = ("id", "audience_code", "display_name", "organisation", "created_at", "anonymised_at")
_TICKET_COLS = tuple(c.name for c in T["tickets"].columns)
_TICKET_DT = frozenset(c.name for c in T["tickets"].columns if isinstance(c.type, DateTime))
_TICKET_JSON = frozenset({"escalation_info"})
_TICKET_DEFAULTS = _defaults(T["tickets"])
_CALL_DEFAULTS = _defaults(T["calls"])
_CALL_COLS = tuple(c.name for c in T["calls"].columns)
_EVENT_COLS = ("occurred_at", "recorded_at", "kind", "site", "channel", "ticket_id", "call_id", "operator_id",
               "queue", "data")
_HISTORY_COLS = ("ticket_id", "at", "actor_id", "action", "field", "old_value", "new_value", "note")
_INVITATION_COLS = ("ticket_id", "token_hash", "source", "created_at")
_ANSWER_COLS = ("ticket_id", "rating", "comment", "source", "answered_at")


# ----------------------------------------------------------------------------------------
# the month's plan: parameters and arrivals
# ----------------------------------------------------------------------------------------


def _clamp(x: float, lo: float, hi: float) -> float:
    return lo if x < lo else hi if x > hi else x


@dataclass
class MonthParams:
    requests: int
    answered_within_40: float  # share of answered calls answered in under 40 s
    failed: float  # abandoned + lost, share of presented calls
    recovery: float  # failed calls renewed by the same number, answered
    escalation: float
    bounce: float
    mail_in_time: float
    late: dict[str, float]

    @classmethod
    def draw(cls, rng: Random, year: int, month: int, scale: float) -> MonthParams:
        f = P.month_volume_factor(year, month)
        noise = _clamp(rng.gauss(1.0, P.VOLUME_NOISE), 0.85, 1.15)
        stress = P.MONTH_FACTORS[month] - 1.0  # busy months are served less well
        return cls(
            requests=max(1, round(P.MEAN_REQUESTS_PER_MONTH * scale * f * noise)),
            answered_within_40=_clamp(0.915 - 0.15 * stress + rng.gauss(0, 0.012), 0.75, 0.985),
            failed=_clamp(0.08 + 0.04 * stress + rng.gauss(0, 0.007), 0.03, 0.15),
            recovery=_clamp(rng.gauss(0.955, 0.02), 0.85, 0.995),
            escalation=_clamp(rng.gauss(0.095, 0.01), 0.06, 0.13),
            bounce=_clamp(rng.gauss(0.07, 0.025), 0.01, 0.2),
            mail_in_time=_clamp(rng.gauss(0.915, 0.025), 0.80, 0.98),
            late={"critical": _clamp(rng.gauss(0.007, 0.005), 0.0, 0.04),
                  "normal": _clamp(rng.gauss(0.08, 0.025), 0.02, 0.2)},
        )


class CallSeed:
    __slots__ = ("seq", "kind", "received", "audience", "person", "wait", "reason", "presented",
                 "answered", "offered", "ended", "talk", "wrap", "operator", "story", "id")

    def __init__(self, seq: int, kind: str, received: datetime, audience: str | None, person: int | None,
                 wait: float = 0.0, reason: str | None = None) -> None:
        self.seq = seq
        self.kind = kind  # answered | abandoned | lost | outside_hours
        self.received = received
        self.audience = audience
        self.person = person
        self.wait = wait
        self.reason = reason
        self.presented: datetime | None = None
        self.answered: datetime | None = None
        self.offered: datetime | None = None
        self.ended: datetime | None = None
        self.talk = 0.0
        self.wrap = 0.0
        self.operator: Operator | None = None
        self.story: Story | None = None
        self.id = ""


class MailSeed:
    __slots__ = ("seq", "received", "audience", "person", "survivor", "taken", "merge_at")

    def __init__(self, seq: int, received: datetime, audience: str, person: int,
                 survivor: Story | None = None, taken: datetime | None = None,
                 merge_at: datetime | None = None) -> None:
        self.seq = seq
        self.received = received
        self.audience = audience
        self.person = person
        self.survivor = survivor
        self.taken = taken
        self.merge_at = merge_at


class ChatSeed:
    __slots__ = ("seq", "started", "audience", "person")

    def __init__(self, seq: int, started: datetime, audience: str, person: int) -> None:
        self.seq = seq
        self.started = started
        self.audience = audience
        self.person = person


def _cum(weights: dict[str, float]) -> tuple[list[str], list[float]]:
    keys = list(weights)
    return keys, list(accumulate(weights[k] for k in keys))


def _pick(rng: Random, table: tuple[list[str], list[float]]) -> str:
    keys, cum = table
    return keys[bisect_right(cum, rng.random() * cum[-1])]


def _lognormal_hours(rng: Random, spec: tuple[float, float]) -> float:
    median, sigma = spec
    return median * HOUR * math.exp(rng.gauss(0.0, sigma))


def _ms(seconds: float) -> timedelta:
    return timedelta(milliseconds=round(seconds * 1000))


# ----------------------------------------------------------------------------------------
# generation context
# ----------------------------------------------------------------------------------------


@dataclass
class Stats:
    month: str = ""
    tickets: int = 0
    by_channel: Counter = field(default_factory=Counter)
    by_audience: Counter = field(default_factory=Counter)
    calls: Counter = field(default_factory=Counter)
    within_40: int = 0
    events: int = 0
    history: int = 0
    requesters: int = 0
    merged: int = 0
    recovered: int = 0
    escalated: int = 0
    fcr: int = 0
    surveys: Counter = field(default_factory=Counter)  # answers by rating
    service: ServiceStats = field(default_factory=ServiceStats)  # probes, openings, drills
    seconds: float = 0.0
    skipped: bool = False

    @property
    def rows(self) -> int:
        return (self.tickets + sum(self.calls.values()) + self.events + self.history + self.requesters * 3
                + 2 * sum(self.surveys.values()) + 3 * self.service.drills)

    @property
    def presented(self) -> int:
        return self.calls["answered"] + self.calls["abandoned"] + self.calls["lost"]


@dataclass
class Summary:
    months: list[Stats]
    seconds: float
    accounts: list[str]
    operators: int


class MonthGenerator:
    """Generates and writes one month (one transaction)."""

    def __init__(self, *, settings: Settings, calendar: BusinessCalendar, catalogue: Catalogue,
                 operators: list[Operator], scale: float, seed: int, year: int, month: int,
                 horizon: datetime, failover: FailoverSettings | None = None,
                 supervisor: tuple[int | None, str] | None = None) -> None:
        self.settings = settings
        self.cal = calendar
        self.cat = catalogue
        self.ops = operators
        self.scale = scale
        self.year, self.month = year, month
        self.horizon = horizon
        self.site = settings.site
        self.prefix = settings.ticket_prefix
        self.zone = calendar.hours.zone
        self.rng = Random(f"guichet-demo/{seed}/{year:04d}-{month:02d}")
        self.params = MonthParams.draw(self.rng, year, month, scale)
        self.grid: MonthGrid = build_grid(
            year, month, calendar, weekday_factors=P.WEEKDAY_FACTORS, open_weight=P.open_hour_weight,
            closed_mail_weight=P.closed_mail_weight, outside_call_weight=P.outside_call_weight,
            mail_outside_share=P.MAIL_OUTSIDE_SHARE)
        self.keep_history = scale <= HISTORY_MAX_SCALE
        self.stats = Stats(month=f"{year:04d}-{month:02d}")
        self.pools = {a: people.pool_size(a, scale) for a in P.AUDIENCE_WEIGHTS}
        self._seq = 0
        self._call_n = 0
        self._mail_n = 0
        self._chat_n = 0
        self.hours_critical = settings.sla_critical_hours
        self.hours_normal = settings.sla_normal_hours
        self.hours_mail = settings.sla_mail_hours
        # mixes restricted to what the catalogue has
        self.audience_table = _cum(P.AUDIENCE_WEIGHTS)
        self.channel_tables = {a: _cum(m) for a, m in P.CHANNEL_MIX.items()}
        self.app_tables = {a: _cum({k: v for k, v in m.items() if k in catalogue.applications})
                           for a, m in P.APPLICATION_MIX.items()}
        self.rtype_tables = {a: _cum({k: v for k, v in m.items() if k in catalogue.request_types})
                             for a, m in P.REQUEST_TYPE_MIX.items()}
        self.severity_tables = {c: _cum({"1": w[0], "2": w[1], "3": w[2]}) for c, w in P.SEVERITY_MIX.items()}
        self.esc_mult = self.params.escalation / P.expected_escalation_propensity()
        self.pending_mails: dict[date, list[MailSeed]] = defaultdict(list)
        self.pending_lost: dict[int, list[tuple[datetime, datetime, CallSeed]]] = defaultdict(list)
        self.ids = IdAllocator()
        self.writer: Writer | None = None
        # The service's records and the surveys: their own random streams (see their modules).
        fs = failover or FailoverSettings()
        by_id, by = supervisor or (None, SUPERVISOR_USERNAME)
        self.service: ServiceMonth = plan_month(
            seed=seed, year=year, month=month, windows=self.grid.windows, calendar=calendar,
            checks=tuple(fs.checks), site=self.site, peer=_peer_site(self.site, fs),
            drills_per_semester=fs.drills_per_semester, by=by, by_id=by_id)
        self.stats.service = self.service.stats
        self.surveys = SurveyMonth(seed, year, month, horizon)

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _person(self, audience: str) -> int:
        return people.draw_person(self.rng, audience, self.pools[audience])

    def _local_date(self, at: datetime) -> date:
        return at.astimezone(self.zone).date()

    def add_bh(self, at: datetime, seconds: float) -> datetime:
        return self.cal.add_business_seconds(at, max(0.0, seconds))

    # --- arrivals -------------------------------------------------------------------------

    def plan(self) -> dict[date, tuple[list[CallSeed], list[MailSeed], list[ChatSeed]]]:
        rng, grid, prm = self.rng, self.grid, self.params
        audiences = [_pick(rng, self.audience_table) for _ in range(prm.requests)]
        channels = [_pick(rng, self.channel_tables[a]) for a in audiences]
        if not grid.open_calls:  # a month without any opening: everything comes by mail
            channels = ["mail"] * len(channels)
        calls: list[CallSeed] = []
        mails: list[MailSeed] = []
        chats: list[ChatSeed] = []
        n_phone = channels.count("phone")
        failed_total = n_phone * prm.failed / (1 - prm.failed)
        chain_p = min(0.5, failed_total * prm.recovery / max(1, n_phone))
        for audience, channel in zip(audiences, channels, strict=True):
            if channel == "mail":
                mails.append(MailSeed(self._next_seq(), grid.mails.draw(rng), audience, self._person(audience)))
                continue
            if channel == "chat":
                chats.append(ChatSeed(self._next_seq(), grid.open_calls.draw(rng), audience, self._person(audience)))
                continue
            at = grid.open_calls.draw(rng)
            anonymous = rng.random() < P.ANONYMOUS_SHARE
            person = None if anonymous else self._person(audience)
            call = CallSeed(self._next_seq(), "answered", at, audience, person, wait=self._answer_wait())
            calls.append(call)
            if person is not None and rng.random() < chain_p:
                failed = self._failed_call(audience, person)
                gap = failed.wait + P.IVR_SECONDS[1] + 60
                delay = rng.uniform(gap, 5400) if rng.random() < 0.65 else rng.uniform(9000, 32400)
                t0 = grid.sub_business_seconds(at, max(delay, gap))
                if t0 is not None:
                    failed.received = t0
                    calls.append(failed)
        phone_audiences = [c.audience for c in calls] or list(P.AUDIENCE_WEIGHTS)
        for _ in range(round(failed_total * (1 - prm.recovery))):
            audience = phone_audiences[int(rng.random() * len(phone_audiences))]
            person = None if rng.random() < 0.15 else self._person(audience)
            failed = self._failed_call(audience, person)
            failed.received = grid.open_calls.draw(rng)
            calls.append(failed)
        if grid.outside_calls:
            for _ in range(round(n_phone * P.OUTSIDE_CALL_RATE)):
                audience = phone_audiences[int(rng.random() * len(phone_audiences))]
                person = None if rng.random() < 0.05 else self._person(audience)
                calls.append(CallSeed(self._next_seq(), "outside_hours", grid.outside_calls.draw(rng), None, person))
        by_day: dict[date, tuple[list, list, list]] = {d: ([], [], []) for d in grid.days}
        for c in calls:
            by_day[self._local_date(c.received)][0].append(c)
        for m in mails:
            by_day[self._local_date(m.received)][1].append(m)
        for ch in chats:
            by_day[self._local_date(ch.started)][2].append(ch)
        return by_day

    def _answer_wait(self) -> float:
        rng = self.rng
        if rng.random() < self.params.answered_within_40:
            if rng.random() < 0.55:
                return rng.uniform(2.0, 10.0)
            while True:
                w = 10.0 + rng.expovariate(1 / 12.0)
                if w < 38.0:
                    return w
        return min(900.0, 40.0 + rng.expovariate(1 / 75.0))

    def _failed_call(self, audience: str, person: int | None) -> CallSeed:
        rng = self.rng
        if rng.random() < P.LOST_SHARE_OF_FAILED:
            if rng.random() < P.LOST_MAX_WAIT_SHARE:
                return CallSeed(self._next_seq(), "lost", self.grid.start, audience, person,
                                wait=P.MAX_WAIT_SECONDS, reason="max_wait")
            return CallSeed(self._next_seq(), "lost", self.grid.start, audience, person,
                            wait=rng.uniform(3.0, 20.0), reason="no_operator")
        if rng.random() < 0.1:
            wait = rng.uniform(1.0, 5.0)  # hung up at once (misdial)
        else:
            wait = min(P.MAX_WAIT_SECONDS - 1, 55.0 * math.exp(rng.gauss(0, 0.7)))
        return CallSeed(self._next_seq(), "abandoned", self.grid.start, audience, person, wait=wait)

    # --- operators ----------------------------------------------------------------------------

    def rosters(self, by_day: dict) -> dict[date, list[dict[str, Any]]]:
        """Who works each open day: staffed from the day's calls, login at opening, a lunch
        pause, logout at closing (or after their last call)."""
        rng = self.rng
        out: dict[date, list[dict[str, Any]]] = {}
        for d in self.grid.days:
            windows = self.grid.windows[d]
            if not windows:
                continue
            answered = sum(1 for c in by_day[d][0] if c.kind == "answered")
            staff = min(len(self.ops), max(2, _staff_for(answered)))
            chosen = sorted(rng.sample(range(len(self.ops)), staff))
            opens, closes = windows[0][0], windows[-1][1]
            lunch_from = datetime.combine(d, time(11, 45), self.zone).astimezone(UTC)
            plans = []
            for k in chosen:
                pause_at = lunch_from + timedelta(seconds=int(rng.uniform(0, 135 * 60)))
                pause_len = timedelta(seconds=int(rng.uniform(40 * 60, 60 * 60)))
                if not (opens < pause_at and pause_at + pause_len < closes):
                    pause_at = None
                plans.append({"op": self.ops[k], "login": opens - timedelta(seconds=int(rng.uniform(0, 300))),
                              "pause_plan": pause_at, "pause_len": pause_len, "pause": None,
                              "free": None, "closes": closes})
            out[d] = plans
        return out

    def simulate_phone(self, calls: list[CallSeed], plans: list[dict[str, Any]]) -> None:
        """Distribute the day's answered calls: longest-idle free operator; when none is free
        the caller waits longer than planned. Sets presented/offered/answered/ended."""
        rng = self.rng
        for c in calls:
            c.presented = c.received + _ms(rng.uniform(*P.IVR_SECONDS))
        answered = sorted((c for c in calls if c.kind == "answered"),
                          key=lambda c: (c.presented + _ms(c.wait), c.seq))
        heap = [(p["login"], i) for i, p in enumerate(plans)]
        heapq.heapify(heap)
        for p in plans:
            p["free"] = p["login"]
        for c in answered:
            want = c.presented + _ms(c.wait)
            ring = _ms(rng.uniform(*P.RING_SECONDS))
            while True:
                free, i = heap[0]
                p = plans[i]
                offered = max(want - ring, free, c.presented)
                if p["pause"] is None and p["pause_plan"] is not None and offered >= p["pause_plan"]:
                    heapq.heappop(heap)
                    start = max(p["pause_plan"], free)
                    p["pause"] = (start, start + p["pause_len"])
                    p["free"] = start + p["pause_len"]
                    heapq.heappush(heap, (p["free"], i))
                    continue
                break
            heapq.heappop(heap)
            c.offered = offered
            c.answered = offered + ring
            c.wait = round((c.answered - c.presented).total_seconds(), 3)
            factor = P.TALK_AUDIENCE_FACTOR.get(c.audience or "", 1.0)
            c.talk = round(min(3600.0, max(45.0, P.TALK_MEDIAN_SECONDS * factor * math.exp(rng.gauss(0, P.TALK_SIGMA)))), 1)
            c.ended = c.answered + _ms(c.talk)
            c.wrap = rng.uniform(*P.WRAP_UP_SECONDS)
            c.operator = p["op"]
            p["free"] = c.ended + _ms(c.wrap)
            heapq.heappush(heap, (p["free"], i))
        for p in plans:
            if p["pause"] is None and p["pause_plan"] is not None:
                start = max(p["pause_plan"], p["free"])
                if start + p["pause_len"] < p["closes"]:
                    p["pause"] = (start, start + p["pause_len"])
                    p["free"] = max(p["free"], start + p["pause_len"])
            p["logout"] = max(p["closes"] + timedelta(seconds=int(rng.uniform(0, 240))),
                              p["free"] + timedelta(seconds=int(rng.uniform(5, 60))))
        for c in calls:
            if c.kind != "answered":
                c.ended = c.presented + _ms(c.wait)  # abandoned or cut: the call ends there

    # --- tickets ----------------------------------------------------------------------------

    def _new_story(self, channel: str, created: datetime, audience: str | None, person: int | None,
                   source_ref: str, kind: str) -> Story:
        row = {
            "channel": channel, "status": "new", "level": "N1", "subject": "", "description": "",
            "audience_code": audience, "application_id": None, "component_id": None,
            "request_type_id": None, "criticality": None, "severity": None, "priority": None,
            "assignee_id": None, "problem_id": None, "merged_into_id": None, "source_ref": source_ref,
            "glpi_reference": None, "escalation_info": {}, "needs_attention": False, "contacts": 1,
            "escalated": False, "escalation_bounced": False, "created_at": created, "updated_at": created,
            "taken_in_charge_at": None,
            "taken_in_charge_due_at": self.cal.add_business_hours(created, self.hours_mail) if channel == "mail" else None,
            "handled_at": None, "handling_due_at": self.cal.add_business_hours(created, self.hours_normal),
            "resolved_at": None, "resolved_by_level": None, "closed_at": None, "version": 1,
        }
        return Story(self._next_seq(), row, person, kind)

    def _qualification(self, audience: str) -> tuple[dict[str, Any], str, str, int]:
        """The operator's qualification: changes dict (as the service journals it), the request
        type code, its category, the priority."""
        rng = self.rng
        app_code = _pick(rng, self.app_tables[audience])
        rtype = _pick(rng, self.rtype_tables[audience])
        app_id, crit = self.cat.applications[app_code]
        changes: dict[str, Any] = {"application_id": app_id}
        comp = P.COMPONENT_FOR.get((app_code, rtype))
        if comp and (app_code, comp) in self.cat.components:
            comp_id, crit = self.cat.components[(app_code, comp)]
            changes["component_id"] = comp_id
        rtype_id, category, _fields = self.cat.request_types[rtype]
        changes["request_type_id"] = rtype_id
        severity = int(_pick(rng, self.severity_tables.get(category, self.severity_tables["help"])))
        changes["severity"] = severity
        changes["criticality"] = crit
        prio = compute_priority(crit, severity)
        changes["priority"] = prio
        return changes, rtype, category, prio

    def _qualify(self, life: Life, at: datetime, audience: str, with_audience: bool,
                 op: Operator) -> tuple[str, str, int] | None:
        changes, rtype, category, prio = self._qualification(audience)
        if with_audience:
            changes = {"audience_code": audience, **changes}
        subject = self.rng.choice(P.SUBJECTS.get(rtype, ["Demande d'assistance"]))
        if not life.qualify(at, changes, (op.id, op.username)):
            return None
        life.row["subject"] = subject
        life.row["handling_due_at"] = self.cal.add_business_hours(
            life.row["created_at"], self.hours_critical if prio <= 2 else self.hours_normal)
        return rtype, category, prio

    def _escalation_info(self, story: Story, rtype: str) -> dict[str, str]:
        person = story.person
        values = {
            "identifiant": f"{people.audience_of(person)}-{person}" if person is not None else "inconnu",
            "organisation": people.organisation(person) if person is not None else "",
            "numero_dossier": f"{self.rng.randrange(1, 2600000):07d}",
            "juridiction": self.rng.choice(["TA Paris", "TA Lyon", "TA Marseille", "CAA Nantes", "CAA Bordeaux",
                                            "TA Montreuil", "Conseil d'État", "CNDA"]),
            "message_erreur": self.rng.choice(["Erreur 500", "Accès refusé", "Délai dépassé", "Session expirée"]),
            "document": self.rng.choice(["Mémoire", "Ordonnance", "Courrier du greffe", "Avis d'audience"]),
            "adresse_courriel": people.email(person) if person is not None else "",
            "identifiant_a_fusionner": f"{people.audience_of(person)}-{person + 100}" if person is not None else "inconnu",
        }
        fields = self.cat.request_types[rtype][2]
        info = {f: values.get(f) or "non communiqué" for f in fields}
        info["resume"] = f"Escalade N2 : {rtype}"
        return info

    def handle(self, life: Life, story: Story, out: Out, *, contact_end: datetime, rtype: str,
               category: str, prio: int, day: date, is_mail: bool) -> None:
        """From the end of the first contact: N1 resolution or escalation, and what follows."""
        rng, prm, row = self.rng, self.params, story.row
        cls = "critical" if prio <= 2 else "normal"
        due = row["handling_due_at"]
        p_esc = 0.0 if rtype == "suivi-juridique" else min(0.95, P.ESCALATION_PROPENSITY.get(rtype, 0.05) * self.esc_mult)
        u = rng.random()
        disposition = "escalate" if u < p_esc else "second" if u < p_esc + P.SECOND_CONTACT_SHARE else "fcr"
        v = rng.random()
        if v < prm.late[cls]:
            handled = max(contact_end + timedelta(seconds=60),
                          self.add_bh(due, rng.uniform(0.05, 6.0 if cls == "normal" else 3.0) * HOUR))
        elif v < prm.late[cls] + P.DEFERRED_SHARE[cls]:
            median = 0.5 if cls == "critical" else 1.2
            handled = self.add_bh(contact_end, _lognormal_hours(rng, (median, 0.8)))
            if handled >= due > contact_end + timedelta(seconds=120):
                handled = due - timedelta(seconds=rng.uniform(30, 110))
        else:
            handled = contact_end
        if handled > contact_end + timedelta(seconds=1):
            if not life.act(contact_end, Action.TAKE):
                return
        if disposition != "escalate":
            if not life.act(handled, Action.RESOLVE):
                return
            if is_mail:
                out.fact(handled, EventKind.MAIL_SENT.value, channel="mail", story=story, queue=row["audience_code"],
                         data=_REPLY)
            if disposition == "second":
                back = self.add_bh(handled, rng.uniform(2, 20) * HOUR)
                if not life.act(back, Action.REOPEN, note="nouveau contact de l'usager"):
                    return
                again = self.add_bh(back, _lognormal_hours(rng, (1.0, 0.8)))
                if not life.act(again, Action.RESOLVE):
                    return
                life.act(again + timedelta(seconds=rng.uniform(5, 120)), Action.CLOSE)
                return
            if rng.random() < P.IMMEDIATE_CLOSE_SHARE:
                life.act(handled + timedelta(seconds=rng.uniform(5, 120)), Action.CLOSE)
            else:
                life.act(self.add_bh(handled, rng.uniform(2, 12) * HOUR), Action.CLOSE)
            return
        # escalation to N2
        glpi = f"GLPI-{handled.astimezone(self.zone):%Y}-{rng.randrange(10**6):06d}"
        if not life.act(handled, Action.ESCALATE, escalation_info=self._escalation_info(story, rtype),
                        glpi_reference=glpi):
            return
        self.stats.escalated += 1
        closed_at = self._n2_life(life, handled)
        # the requester writes again while N2 holds it: a duplicate, merged into this one
        if rng.random() < P.DUPLICATE_SHARE_OF_ESCALATED:
            stage_end = min(closed_at or self.horizon, self.horizon)
            received = handled + (stage_end - handled) * rng.uniform(0.2, 0.8)
            if received < self.grid.end and self._local_date(received) > day:
                taken = self.add_bh(received, self._mail_delay())
                merge_at = taken + timedelta(seconds=rng.uniform(60, 300))
                if merge_at < stage_end and merge_at < self.horizon:
                    row["contacts"] += 1
                    self.pending_mails[self._local_date(received)].append(MailSeed(
                        self._next_seq(), received, row["audience_code"], story.person, survivor=story,
                        taken=taken, merge_at=merge_at))

    def _n2_life(self, life: Life, escalated_at: datetime) -> datetime | None:
        """N2 (and N3) until technical closure and N1's administrative closure; reminders
        while they hold it. Returns the closure instant, None if past the horizon."""
        rng, prm = self.rng, self.params
        t = escalated_at

        def stage(start: datetime, spec: tuple[float, float], action: Action, **kw: Any) -> datetime | None:
            end = self.add_bh(start, _lognormal_hours(rng, spec))
            k = 1
            while True:
                r = self.add_bh(start, k * P.REMIND_EVERY_HOURS * HOUR)
                if r >= end:
                    break
                if not life.act(r, Action.REMIND, note=f"Relance {life.level} ({life.row['glpi_reference']})"):
                    return None
                k += 1
            return end if life.act(end, action, **kw) else None

        if rng.random() < prm.bounce:
            b = stage(t, P.BOUNCE_AFTER, Action.REQUEST_INFO, note="Information manquante")
            if b is None:
                return None
            got = self.add_bh(b, _lognormal_hours(rng, P.INFO_PROVIDED_AFTER))
            if not life.act(got, Action.PROVIDE_INFO, escalation_info={"complement": "Capture d'écran transmise"}):
                return None
            t = got
        r = rng.random()
        if r < P.SEND_BACK_SHARE:
            s = stage(t, (8.0, 0.8), Action.SEND_BACK, note="Réponse N1 attendue")
            if s is None:
                return None
            res = self.add_bh(s, _lognormal_hours(rng, (2.0, 0.8)))
            if not life.act(res, Action.RESOLVE):
                return None
            close = res + timedelta(seconds=rng.uniform(5, 120))
            return close if life.act(close, Action.CLOSE) else None
        if r < P.SEND_BACK_SHARE + P.PASS_TO_N3_SHARE:
            p3 = stage(t, (10.0, 0.8), Action.PASS_TO_N3)
            if p3 is None:
                return None
            if rng.random() < P.BACK_TO_N2_SHARE:
                b2 = stage(p3, (20.0, 0.8), Action.BACK_TO_N2)
                if b2 is None:
                    return None
                tc = stage(b2, (8.0, 0.8), Action.TECHNICAL_CLOSURE)
            else:
                tc = stage(p3, P.N3_RESOLUTION, Action.TECHNICAL_CLOSURE)
        else:
            tc = stage(t, P.N2_RESOLUTION, Action.TECHNICAL_CLOSURE)
        if tc is None:
            return None
        close = self.add_bh(tc, rng.uniform(0.1, 6.0) * HOUR)
        return close if life.act(close, Action.CLOSE) else None

    def _mail_delay(self) -> float:
        """Business seconds from a mail's arrival to its taking in charge."""
        rng = self.rng
        if rng.random() < self.params.mail_in_time:
            while True:
                d = 60.0 + rng.expovariate(1 / 900.0)
                if d < 3540.0:
                    return d
        return 3600.0 + 60.0 + rng.expovariate(1 / 7200.0)

    def _pick_operator(self, at: datetime, rosters: dict[date, list[dict[str, Any]]]) -> Operator:
        plans = rosters.get(self._local_date(at))
        if plans:
            return plans[int(self.rng.random() * len(plans))]["op"]
        return self.ops[int(self.rng.random() * len(self.ops))]

    # --- one day --------------------------------------------------------------------------

    def build_day(self, day: date, calls: list[CallSeed], mails: list[MailSeed], chats: list[ChatSeed],
                  rosters: dict[date, list[dict[str, Any]]]) -> tuple[list[Story], list[CallSeed], Out, list]:
        """Everything of one day but the references and the ids: stories (sorted by creation),
        calls, and a function that builds the lives once references are known."""
        plans = rosters.get(day, [])
        calls.sort(key=lambda c: (c.received, c.seq))
        if plans:
            self.simulate_phone([c for c in calls if c.kind != "outside_hours"], plans)
        stories: list[Story] = []
        for c in calls:
            self._call_n += 1
            c.id = f"demo-{self.year:04d}{self.month:02d}-{self._call_n:07d}"
            if c.kind == "answered":
                c.story = self._new_story("phone", c.received, c.audience, c.person, f"demo:call:{c.id}", "phone")
                c.story.extra = c
                stories.append(c.story)
            elif c.kind == "outside_hours":
                c.ended = c.received + _ms(self.rng.uniform(12.0, 30.0))
        chat_meta = []
        for ch in sorted(chats, key=lambda x: (x.started, x.seq)):
            self._chat_n += 1
            cid = f"demo-{self.year:04d}{self.month:02d}-t{self._chat_n:06d}"
            wait = round(self.rng.uniform(5.0, 90.0), 1)
            answered = ch.started + _ms(wait)
            s = self._new_story("chat", answered, ch.audience, ch.person, f"demo:chat:{cid}", "chat")
            s.extra = (ch, cid, wait)
            stories.append(s)
            chat_meta.append(s)
        for m in sorted(mails + self.pending_mails.pop(day, []), key=lambda x: (x.received, x.seq)):
            self._mail_n += 1
            mid = f"demo-{self.year:04d}{self.month:02d}-m{self._mail_n:06d}"
            s = self._new_story("mail", m.received, None, m.person, f"demo:mail:{mid}",
                                "duplicate" if m.survivor else "mail")
            s.extra = (m, mid)
            stories.append(s)
        stories.sort(key=lambda s: (s.row["created_at"], s.seq))
        return stories, calls, Out(self.keep_history), plans

    async def lives(self, day: date, stories: list[Story], calls: list[CallSeed], out: Out,
                    plans: list[dict[str, Any]], rosters: dict[date, list[dict[str, Any]]]) -> None:
        """Every fact of the day's calls and operators, and the life of its tickets. Yields to
        the event loop now and then so the previous day's writes progress meanwhile."""
        rng = self.rng
        for p in plans:  # operator states, with the data keys acd.services journals
            op = p["op"]
            out.fact(p["login"], _OSC, operator_id=op.id, data=_state("logged_out", "available", "login", None))
            since = p["login"]
            if p["pause"]:
                start, end = p["pause"]
                out.fact(start, _OSC, operator_id=op.id,
                         data=_state("available", "paused", "pause", start - since, pause_reason="déjeuner"))
                out.fact(end, _OSC, operator_id=op.id, data=_state("paused", "available", "unpause", end - start))
                since = end
            out.fact(p["logout"], _OSC, operator_id=op.id,
                     data=_state("available", "logged_out", "logout", p["logout"] - since))
        self._recoveries(out, calls)
        for i, c in enumerate(calls):
            self._call_facts(out, c, len(plans))
            if i % 200 == 199:
                await asyncio.sleep(0)
        for i, s in enumerate(stories):
            if i % 100 == 99:
                await asyncio.sleep(0)
            life = Life(s, out, self.horizon)
            if s.kind == "phone":
                c: CallSeed = s.extra
                op = c.operator
                # as telephony does: created by the system at answer, dated when the call
                # was received, assigned to the operator who answered
                life.created(c.received, call_id=c.id)
                s.row["assignee_id"] = op.id
                q = self._qualify(life, c.answered + _ms(c.talk * rng.uniform(0.3, 0.9)), c.audience, False, op)
                if q is None:
                    continue
                self.handle(life, s, out, contact_end=c.ended + _ms(c.wrap), rtype=q[0], category=q[1],
                            prio=q[2], day=day, is_mail=False)
            elif s.kind == "chat":
                ch, cid, wait = s.extra
                op = self._pick_operator(ch.started, rosters)
                duration = round(min(3600.0, 540.0 * math.exp(rng.gauss(0, 0.5))), 1)
                answered = s.row["created_at"]
                ended = answered + _ms(duration)
                out.fact(ch.started, EventKind.CHAT_STARTED.value, channel="chat", queue=ch.audience,
                         data={"chat_id": cid})
                out.fact(answered, EventKind.CHAT_ANSWERED.value, channel="chat", story=s, operator_id=op.id,
                         queue=ch.audience, data={"chat_id": cid, "wait_seconds": wait})
                life.created(answered)
                s.row["assignee_id"] = op.id
                q = self._qualify(life, answered + _ms(duration * rng.uniform(0.3, 0.9)), ch.audience, False, op)
                out.fact(ended, EventKind.CHAT_ENDED.value, channel="chat", story=s, operator_id=op.id,
                         queue=ch.audience, data={"chat_id": cid, "duration_seconds": duration})
                s.extra = (ch, cid, wait, ended)  # the survey is offered when the chat ends
                if q is None:
                    continue
                self.handle(life, s, out, contact_end=ended + timedelta(seconds=rng.uniform(20, 90)), rtype=q[0],
                            category=q[1], prio=q[2], day=day, is_mail=False)
            else:
                m, mid = s.extra
                received = m.received
                out.fact(received, EventKind.MAIL_RECEIVED.value, channel="mail", story=s,
                         data={"mail_id": mid})
                life.created(received)
                ack = received + timedelta(seconds=rng.uniform(2, 30))
                if ack < self.horizon:
                    out.fact(ack, EventKind.MAIL_SENT.value, channel="mail", story=s, data=_ACK)
                if m.survivor is not None:
                    self._duplicate(life, s, m, out, rosters)
                    continue
                taken = self.add_bh(received, self._mail_delay())
                op = self._pick_operator(taken, rosters)
                q = self._qualify(life, taken, m.audience, True, op)
                if q is None:
                    continue
                reply = self.add_bh(taken, min(3 * HOUR, 480.0 * math.exp(rng.gauss(0, 0.7))))
                self.handle(life, s, out, contact_end=reply, rtype=q[0], category=q[1], prio=q[2], day=day,
                            is_mail=True)
        self._surveys(stories, out)

    def _surveys(self, stories: list[Story], out: Out) -> None:
        """The day's tickets' survey answers, once their whole life is known (resolved or
        not by the horizon): the fact now, the rows once the tickets have their ids."""
        for s in stories:
            row = s.row
            chat_end = s.extra[3] if s.kind == "chat" else None
            answer = self.surveys.answer(row, chat_end)
            if answer is None:
                continue
            out.fact(answer.answered, _K_SURVEY, channel=row["channel"], story=s, queue=row["audience_code"],
                     data=_SURVEY_DATA[(answer.rating, answer.source)])
            out.surveys.append((s, answer))

    def _duplicate(self, life: Life, s: Story, m: MailSeed, out: Out, rosters: dict) -> None:
        survivor = m.survivor
        assert survivor is not None and m.taken is not None and m.merge_at is not None
        op = self._pick_operator(m.taken, rosters)
        changes = {"audience_code": m.audience, "request_type_id": survivor.row["request_type_id"]}
        life.qualify(m.taken, changes, (op.id, op.username))
        life.row["subject"] = survivor.row["subject"]
        life.act(m.merge_at, Action.MERGE, into=survivor)
        if out.keep_history:
            out.history.append((survivor, m.merge_at, op.id, "merge_in", None, None, None, s.reference))
        self.stats.merged += 1

    def _call_facts(self, out: Out, c: CallSeed, logged_in: int) -> None:
        """The facts telephony and the ACD journal for a call (``telephony.stasis``,
        ``acd.services``): same kinds, same data keys."""
        ph = "phone"
        anonymous = _ANONYMOUS if c.person is None else _NOT_ANONYMOUS
        if c.kind == "outside_hours":
            out.fact(c.received, _K_OUTSIDE, channel=ph, call_id=c.id, data=anonymous)
            return
        q = c.audience
        out.fact(c.received, _K_RECEIVED, channel=ph, call_id=c.id, data=anonymous)
        out.fact(c.presented, _K_PRESENTED, channel=ph, call_id=c.id, queue=q,
                 data={"skilled_operators_logged_in": logged_in})
        if c.kind == "answered":
            op = c.operator.id
            out.fact(c.offered, _K_OFFERED, channel=ph, call_id=c.id, operator_id=op, queue=q,
                     data={"attempt": 1, "overflow": False,
                           "wait_seconds": round((c.offered - c.presented).total_seconds(), 3)})
            out.fact(c.answered, _K_ANSWERED, channel=ph, call_id=c.id, operator_id=op, queue=q,
                     data={"wait_seconds": c.wait, "attempt": 1, "overflow": False})
            out.fact(c.ended, _K_ENDED, channel=ph, call_id=c.id, operator_id=op, queue=q,
                     data={"talk_seconds": c.talk})
            return
        wait = round(c.wait, 3)
        if c.kind == "abandoned":
            out.fact(c.ended, _K_ABANDONED, channel=ph, call_id=c.id, queue=q,
                     data={"wait_seconds": wait, "attempts": 0})
        else:
            out.fact(c.ended, _K_LOST, channel=ph, call_id=c.id, queue=q,
                     data={"reason": c.reason, "wait_seconds": wait, "attempts": 0})

    def _recoveries(self, out: Out, calls: list[CallSeed]) -> None:
        """``call_recovered`` facts as the callback service writes them when the same number
        calls again and is answered before the end of the next business day (T2-IQ04)."""
        moments = []
        for c in calls:
            if c.person is None or c.kind == "outside_hours":
                continue
            if c.kind == "answered":
                moments.append((c.answered, 1, c.seq, c))
            else:
                moments.append((c.ended, 0, c.seq, c))
        moments.sort(key=lambda m: (m[0], m[1], m[2]))
        for at, is_answer, _seq, c in moments:
            number = c.person
            if not is_answer:
                self.pending_lost[number].append((at, self.cal.end_of_next_business_day(at), c))
                continue
            pending = self.pending_lost.get(number)
            if not pending:
                continue
            keep = []
            for lost_at, recover_by, lost in pending:
                if lost_at < at <= recover_by:
                    out.fact(at, _K_RECOVERED, channel="phone", call_id=lost.id, queue=lost.audience,
                             data={"lost_call_id": None, "by": "inbound_call", "recovering_call_id": c.id,
                                   "delay_seconds": round((at - lost_at).total_seconds(), 3)})
                    self.stats.recovered += 1
                elif recover_by >= at:
                    keep.append((lost_at, recover_by, lost))
            if keep:
                self.pending_lost[number] = keep
            else:
                del self.pending_lost[number]

    # --- writing ------------------------------------------------------------------------------

    async def write(self, conn: AsyncConnection) -> Stats:
        """Generate and write the month on ``conn`` (inside the caller's transaction).

        Day by day; a day's rows are written by a background task while the next day is
        generated (the generation yields regularly), and the task is awaited before the
        connection is used again, so the connection never runs two statements at once."""
        started = _time.perf_counter()
        by_day = self.plan()
        rosters = self.rosters(by_day)
        # Locks the year's reference counter for the month's transaction; numbers are then
        # handed out here and the counter set once at the end.
        next_ref = await _reserve_references(conn, self.year, 0)
        await self._number_drills(conn)
        pending: asyncio.Task | None = None
        try:
            for day in self.grid.days:
                calls, mails, chats = by_day[day]
                stories, calls, out, plans = self.build_day(day, calls, mails, chats, rosters)
                for s in stories:
                    s.reference = f"{self.prefix}-{self.year}-{next_ref:06d}"
                    next_ref += 1
                await self.lives(day, stories, calls, out, plans, rosters)
                self.service.day(day, out.fact, out.elsewhere)  # probes, openings, a drill
                if pending is not None:
                    await pending
                pending = None
                batches = await self._prepare(conn, stories, calls, out)
                pending = asyncio.create_task(self._write_rows(batches))
                await asyncio.sleep(0)
            if pending is not None:
                await pending
                pending = None
        finally:
            if pending is not None:  # an error elsewhere: let the write finish before rollback
                await asyncio.gather(pending, return_exceptions=True)
        await self._write_drills(conn)
        await _set_last_reference(conn, self.year, next_ref - 1)
        self.stats.seconds = _time.perf_counter() - started
        return self.stats

    async def _number_drills(self, conn: AsyncConnection) -> None:
        """Ids of the month's drills (their facts name them), and the lease epochs of their
        switchovers: each takeover is the next epoch after the history's last one."""
        drills = self.service.drills
        if not drills:
            return
        for d, i in zip(drills, await self.ids.take(conn, T["failover_drills"], len(drills)), strict=True):
            d.id = i
        sw = T["failover_switchovers"]
        epoch = await conn.scalar(select(func.coalesce(func.max(sw.c.epoch), 0)))
        for d in drills:
            d.epoch = epoch + 1
            epoch += 2

    async def _write_drills(self, conn: AsyncConnection) -> None:
        drills, switches = self.service.drill_rows()
        for table, rows in ((T["failover_drills"], drills), (T["failover_switchovers"], switches)):
            await _insert(conn, table, [{k: _naive(v) if isinstance(v, datetime) else v for k, v in r.items()}
                                        for r in rows])

    async def _prepare(self, conn: AsyncConnection, stories: list[Story], calls: list[CallSeed],
                       out: Out) -> list[tuple[Table, tuple[str, ...], list[tuple]]]:
        """Requesters (looked up and created now), ids, and the day's rows as tuples in the
        order foreign keys need them (tickets, calls, events, history)."""
        st = self.stats
        w = self.writer if self.writer is not None and self.writer.conn is conn else Writer(conn)
        self.writer = w
        dt, js = w.dt, w.json
        first_seen: dict[int, datetime] = {}
        for s in stories:
            if s.person is not None and s.person not in first_seen:
                first_seen[s.person] = s.row["created_at"]
        rids, created = await _requester_ids(w, first_seen, self.ids) if first_seen else ({}, 0)
        st.requesters += created
        ids = await self.ids.take(conn, T["tickets"], len(stories))
        for s, i in zip(stories, ids, strict=True):
            s.id = i
        rows = []
        for s in stories:
            r = s.row
            r["id"] = s.id
            r["reference"] = s.reference
            r["requester_id"] = rids.get(s.person) if s.person is not None else None
            r["merged_into_id"] = s.survivor.id if s.survivor is not None else None
            for c in _TICKET_COLS:
                if c not in r:
                    r[c] = _TICKET_DEFAULTS[c]
            rows.append(tuple(dt(r[c]) if c in _TICKET_DT else js(r[c]) if c in _TICKET_JSON else r[c]
                              for c in _TICKET_COLS))
            st.tickets += 1
            st.by_channel[r["channel"]] += 1
            st.by_audience[r["audience_code"] or "?"] += 1
            if (r["status"] == "closed" and r["resolved_by_level"] == "N1" and r["contacts"] == 1
                    and not r["escalated"]):
                st.fcr += 1
        batches: list[tuple[Table, tuple[str, ...], list[tuple]]] = [(T["tickets"], _TICKET_COLS, rows)]
        call_rows = []
        site = self.site
        for c in calls:
            st.calls[c.kind] += 1
            answered = c.kind == "answered"
            if answered and c.wait < 40:
                st.within_40 += 1
            number = people.phone_number(c.person) if c.person is not None else None
            values = {
                "id": c.id, "site": site, "direction": "inbound", "caller_number": number,
                "caller_raw": people.raw_caller_id(number) if number else "anonymous",
                "audience": c.audience, "received_at": dt(c.received), "presented_at": dt(c.presented),
                "answered_at": dt(c.answered), "ended_at": dt(c.ended),
                "wait_seconds": round(c.wait, 3) if c.kind != "outside_hours" else None,
                "outcome": c.kind, "lost_reason": c.reason,
                "operator_id": c.operator.id if answered else None,
                "ticket_id": c.story.id if answered else None,
                "requester_id": rids.get(c.person) if answered and c.person is not None else None,
                "channel_id": None, "operator_channel_id": None, "bridge_id": None,
                "attempts": 1 if answered else 0,
            }
            call_rows.append(tuple(values[k] if k in values else _CALL_DEFAULTS[k] for k in _CALL_COLS))
        batches.append((T["calls"], _CALL_COLS, call_rows))
        out.events.sort(key=_EVENT_ORDER)
        ev_rows = []
        for at, _n, kind, channel, story, call_id, op, queue, data in out.events:
            when = dt(at)
            ev_rows.append((when, when, kind, site, channel, story.id if story is not None else None, call_id,
                            op, queue, js(data)))
        if out.elsewhere:  # the other site's facts (a drill day): in time order with the rest
            for at, kind, other, data in out.elsewhere:
                when = dt(at)
                ev_rows.append((when, when, kind, other, None, None, None, None, None, js(data)))
            ev_rows.sort(key=itemgetter(0))
        batches.append((T["events"], _EVENT_COLS, ev_rows))
        st.events += len(ev_rows)
        if out.surveys:  # after the tickets they answer (foreign keys)
            batches.append((T["satisfaction_invitations"], _INVITATION_COLS, [
                (s.id, a.token_hash(s.reference), a.source, dt(a.invited)) for s, a in out.surveys]))
            batches.append((T["satisfaction_answers"], _ANSWER_COLS, [
                (s.id, a.rating, a.comment, a.source, dt(a.answered)) for s, a in out.surveys]))
            st.surveys.update(a.rating for _s, a in out.surveys)
        if out.history:
            batches.append((T["ticket_history"], _HISTORY_COLS, [
                (s.id, dt(at), actor, action, fld, old, new, note)
                for s, at, actor, action, fld, old, new, note in out.history]))
            st.history += len(out.history)
        w.forget_json()
        return batches

    async def _write_rows(self, batches: list[tuple[Table, tuple[str, ...], list[tuple]]]) -> None:
        assert self.writer is not None
        for table, columns, rows in batches:
            await self.writer.insert(table, columns, rows)


_EVENT_ORDER = itemgetter(0, 1)  # occurred_at, then generation order


_OSC = EventKind.OPERATOR_STATE_CHANGED.value
_K_RECEIVED = EventKind.CALL_RECEIVED.value
_K_OUTSIDE = EventKind.CALL_RECEIVED_OUTSIDE_HOURS.value
_K_PRESENTED = EventKind.CALL_PRESENTED.value
_K_OFFERED = EventKind.CALL_OFFERED.value
_K_ANSWERED = EventKind.CALL_ANSWERED.value
_K_ABANDONED = EventKind.CALL_ABANDONED.value
_K_LOST = EventKind.CALL_LOST.value
_K_ENDED = EventKind.CALL_ENDED.value
_K_RECOVERED = EventKind.CALL_RECOVERED.value
_K_SURVEY = EventKind.SURVEY_ANSWERED.value
_ANONYMOUS = {"anonymous": True}
_NOT_ANONYMOUS = {"anonymous": False}


def _state(old: str, new: str, reason: str, in_old: timedelta | None, *, pause_reason: str | None = None
           ) -> dict[str, Any]:
    return {"old": old, "new": new, "reason": reason, "pause_reason": pause_reason,
            "seconds_in_old_state": None if in_old is None else round(in_old.total_seconds(), 3), "call": None}


_ACK = {"kind": "acknowledgement"}
_REPLY = {"kind": "reply"}

# The shapes above must satisfy the journal's contract.
assert all(k in _state("a", "b", "c", None) for k in REQUIRED_DATA[EventKind.OPERATOR_STATE_CHANGED])


# ----------------------------------------------------------------------------------------
# orchestration
# ----------------------------------------------------------------------------------------


async def generate(settings: Settings, month_list: list[tuple[int, int]], *, scale: float, seed: int,
                   progress: bool = True) -> Summary:
    from guichet.bootstrap import build_container
    from guichet.cli import prepare_database

    started = _time.perf_counter()
    failover = _failover_settings()
    container = build_container(settings)
    try:
        await prepare_database(container)
        async with container.session_factory() as session:
            calendar = await container.calendar(session)
        first_start, _ = _bounds(month_list[0], calendar)
        _, horizon = _bounds(month_list[-1], calendar)
        async with container.engine.begin() as conn:
            catalogue = await _load_catalogue(conn)
            operators, created = await _ensure_accounts(conn, operator_pool_size(scale), catalogue.audiences,
                                                        first_start)
            supervisor = await _supervisor(conn)
        if progress:
            print(f"demo-data: {len(month_list)} month(s) {month_list[0][0]:04d}-{month_list[0][1]:02d} … "
                  f"{month_list[-1][0]:04d}-{month_list[-1][1]:02d}, scale {scale:g}, seed {seed}, "
                  f"{len(operators)} operators" + (f"; created {', '.join(created)}" if created else ""),
                  file=sys.stderr, flush=True)
        results: list[Stats] = []
        for year, month in month_list:
            start, end = _bounds((year, month), calendar)
            async with container.engine.connect() as conn:
                exists = await _month_has_demo_data(conn, start, end)
            if exists:
                st = Stats(month=f"{year:04d}-{month:02d}", skipped=True)
                results.append(st)
                if progress:
                    print(f"  {st.month}: demo data already present, skipped", file=sys.stderr, flush=True)
                continue
            gen = MonthGenerator(settings=settings, calendar=calendar, catalogue=catalogue, operators=operators,
                                 scale=scale, seed=seed, year=year, month=month, horizon=horizon,
                                 failover=failover, supervisor=supervisor)
            async with container.engine.begin() as conn:
                st = await gen.write(conn)
            results.append(st)
            if progress:
                print(_month_line(st), file=sys.stderr, flush=True)
        return Summary(results, _time.perf_counter() - started, created, len(operators))
    except DemoDataError:
        raise
    except Exception as exc:  # the database refused: say what, not a traceback
        raise DemoDataError(f"{type(exc).__name__}: {exc}") from exc
    finally:
        await container.close()


def _failover_settings() -> FailoverSettings:
    """The site pair's settings (``GUICHET_FAILOVER_*``): the checks probed, the other site's
    name, the drills a semester — what the failover module and the indicators use."""
    from guichet.settings import load_section

    try:
        return load_section(FailoverSettings, "failover")
    except Exception as exc:  # noqa: BLE001 - invalid settings: say which, not a traceback
        raise DemoDataError(f"failover settings: {exc}") from exc


def _peer_site(site: str, fs: FailoverSettings) -> str:
    if fs.peer_site != site:
        return fs.peer_site
    return "backup" if site != "backup" else "primary"


async def _supervisor(conn: AsyncConnection) -> tuple[int | None, str]:
    """Who runs the drills: the demo supervisor, else the first active supervisor."""
    users = T["users"]
    query = select(users.c.id, users.c.username).where(users.c.role == "supervisor", users.c.active.is_(True))
    row = (await conn.execute(query.where(users.c.username == SUPERVISOR_USERNAME))).first()
    row = row or (await conn.execute(query.order_by(users.c.id).limit(1))).first()
    return (row.id, row.username) if row else (None, SUPERVISOR_USERNAME)


def _bounds(ym: tuple[int, int], calendar: BusinessCalendar) -> tuple[datetime, datetime]:
    from demo.timegrid import month_bounds

    return month_bounds(ym[0], ym[1], calendar)


def _month_line(st: Stats) -> str:
    presented = st.presented or 1
    answered = st.calls["answered"] or 1
    return (f"  {st.month}: {st.tickets:,} tickets (phone {st.by_channel['phone']:,}, mail {st.by_channel['mail']:,}, "
            f"chat {st.by_channel['chat']:,}), {sum(st.calls.values()):,} calls (answered {st.calls['answered']:,}, "
            f"abandoned {st.calls['abandoned']:,}, lost {st.calls['lost']:,}, outside hours "
            f"{st.calls['outside_hours']:,}; <40 s {st.within_40 / presented:.1%} of presented, "
            f"{st.within_40 / answered:.1%} of answered; abandoned {st.calls['abandoned'] / presented:.1%}), "
            f"{st.events:,} events ({_service_line(st)}), {st.seconds:.1f} s, "
            f"{st.rows / max(st.seconds, 1e-9):,.0f} rows/s")


def _service_line(st: Stats) -> str:
    sv, answers = st.service, sum(st.surveys.values())
    very = st.surveys["tres_satisfait"] / answers if answers else 0.0
    return (f"{sv.probes:,} probes, {sv.failed_probes} failed, {sv.down_seconds / 60:.0f} min down; "
            f"{sv.boundaries} openings/closings, {sv.late_boundaries} late; {sv.drills} drill(s), "
            f"{sv.drills_ok} passed; {answers:,} surveys, {very:.0%} very satisfied")


def _print_summary(summary: Summary) -> None:
    done = [s for s in summary.months if not s.skipped]
    skipped = [s.month for s in summary.months if s.skipped]
    rows = sum(s.rows for s in done)
    calls = Counter()
    for s in done:
        calls.update(s.calls)
    line = (f"demo-data: done in {summary.seconds:.1f} s: {len(done)} month(s) generated"
            + (f", {len(skipped)} skipped ({', '.join(skipped)})" if skipped else "")
            + f"; {sum(s.tickets for s in done):,} tickets, {sum(calls.values()):,} calls, "
            f"{sum(s.events for s in done):,} events, {sum(s.history for s in done):,} history rows; "
            f"{rows / max(summary.seconds, 1e-9):,.0f} rows/s")
    print(line, file=sys.stderr, flush=True)
    if summary.accounts:
        print(f"demo-data: demo accounts use the password {DEMO_PASSWORD!r}: demo only, change or remove "
              "them before any real use", file=sys.stderr, flush=True)


__all__ = ["DEMO_PASSWORD", "DemoDataError", "generate", "operator_pool_size", "parse_end", "run_demo_data"]

if __name__ == "__main__":  # pragma: no cover
    from guichet.settings import load_settings

    sys.exit(asyncio.run(run_demo_data(load_settings(), months=1, scale=1.0, seed=2026, end=None)))
