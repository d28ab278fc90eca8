"""The backup site's contractual indicators, computed from the journal:

- T1-IQ01 channel availability (:func:`availability`) = time available / opening time,
  from ``probe_result`` facts: a failing probe makes the platform unavailable until the
  next probe of the same check (whichever site recorded it), at most ``max_gap`` seconds
  (a longer silence is unobserved, not unavailable) — the same rule as ``indicators/``;
- T1-IQ02 opening on time (:func:`openings`): each opening and closing of the calendar
  (holidays and exceptions included) must have its ``service_opened`` /
  ``service_closed`` fact within ``tolerance`` seconds;
- T3-IQ03 drills (:func:`drills`) = drills done (``drill_done`` with ``ok``) / drills
  expected in the semester (the drills calendar, else the setting).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from failover import models as m
from ticket_core.business_time import BusinessCalendar
from ticket_core.journal import EventKind
from ticket_core.models import JournalEvent


def month_bounds(month: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """``2026-03`` → [1 March 00:00, 1 April 00:00) local, as aware datetimes."""
    year, mon = (int(x) for x in month.split("-"))
    start = datetime(year, mon, 1, tzinfo=zone)
    end = datetime(year + (mon == 12), 1 if mon == 12 else mon + 1, 1, tzinfo=zone)
    return start, end


def semester_bounds(semester: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """``2026-S1`` → [1 January, 1 July) local; ``2026-S2`` → [1 July, 1 January)."""
    year, half = int(semester[:4]), int(semester[-1])
    if half == 1:
        return datetime(year, 1, 1, tzinfo=zone), datetime(year, 7, 1, tzinfo=zone)
    return datetime(year, 7, 1, tzinfo=zone), datetime(year + 1, 1, 1, tzinfo=zone)


def _ratio(num: float, den: float) -> float | None:
    return None if den <= 0 else num / den


@dataclass
class Availability:
    opening_seconds: float
    down_seconds: float
    probes: int
    failures: int
    down: list[tuple[datetime, datetime]] = field(default_factory=list)

    @property
    def value(self) -> float | None:
        return _ratio(self.opening_seconds - self.down_seconds, self.opening_seconds)

    def out(self) -> dict[str, Any]:
        return {"indicator": "T1-IQ01", "value": self.value, "opening_seconds": round(self.opening_seconds, 1),
                "available_seconds": round(self.opening_seconds - self.down_seconds, 1),
                "down_seconds": round(self.down_seconds, 1), "probes": self.probes, "failures": self.failures,
                "down": [{"from": a, "to": b} for a, b in self.down]}


def _union(spans: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    out: list[tuple[datetime, datetime]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


async def availability(session: AsyncSession, calendar: BusinessCalendar, start: datetime, end: datetime, *,
                       now: datetime, checks: list[str] | None = None, max_gap: float = 900.0) -> Availability:
    gap = timedelta(seconds=max_gap)
    end = min(end, now)
    rows = list(await session.scalars(select(JournalEvent).where(
        JournalEvent.kind == EventKind.PROBE_RESULT.value, JournalEvent.occurred_at >= start - gap,
        JournalEvent.occurred_at < end).order_by(JournalEvent.occurred_at, JournalEvent.id)))
    by_check: dict[str, list[tuple[datetime, bool]]] = {}
    probes = failures = 0
    for r in rows:
        check = str((r.data or {}).get("check"))
        if checks and check not in checks:
            continue
        ok = (r.data or {}).get("ok") is not False
        by_check.setdefault(check, []).append((r.occurred_at, ok))
        if r.occurred_at >= start:
            probes += 1
            failures += not ok
    spans = []
    for results in by_check.values():
        for i, (at, ok) in enumerate(results):
            if ok:
                continue
            stop = at + gap
            if i + 1 < len(results):
                stop = min(stop, results[i + 1][0])
            spans.append((at, min(stop, max(now, at))))
    down = []
    down_seconds = 0.0
    for a, b in _union(spans):
        lo, hi = max(a, start), min(b, end)
        if lo < hi:
            seconds = calendar.business_seconds_between(lo, hi)
            if seconds > 0:
                down.append((lo, hi))
                down_seconds += seconds
    return Availability(calendar.business_seconds_between(start, end) if end > start else 0.0, down_seconds,
                        probes, failures, down)


@dataclass
class Openings:
    expected: int = 0
    on_time: int = 0
    missed: list[dict[str, Any]] = field(default_factory=list)

    @property
    def value(self) -> float | None:
        return _ratio(self.on_time, self.expected)

    def out(self) -> dict[str, Any]:
        return {"indicator": "T1-IQ02", "value": self.value, "expected": self.expected, "on_time": self.on_time,
                "missed": self.missed}


async def openings(session: AsyncSession, calendar: BusinessCalendar, start: datetime, end: datetime, *,
                   now: datetime, tolerance: float = 60.0) -> Openings:
    tol = timedelta(seconds=tolerance)
    kinds = {EventKind.SERVICE_OPENED.value: "opening", EventKind.SERVICE_CLOSED.value: "closing"}
    facts: dict[str, list[datetime]] = {k: [] for k in kinds}
    for kind, at in await session.execute(select(JournalEvent.kind, JournalEvent.occurred_at).where(
            JournalEvent.kind.in_(list(kinds)), JournalEvent.occurred_at >= start - tol,
            JournalEvent.occurred_at < end + tol)):
        facts[kind].append(at)
    out = Openings()
    zone = calendar.hours.zone
    day = start.astimezone(zone).date()
    while datetime(day.year, day.month, day.day, tzinfo=zone) < end:
        for ws, we in calendar.window(day):
            for kind, instant in ((EventKind.SERVICE_OPENED.value, ws), (EventKind.SERVICE_CLOSED.value, we)):
                if not start <= instant < end or instant + tol > now:
                    continue
                out.expected += 1
                if any(abs(t - instant) <= tol for t in facts[kind]):
                    out.on_time += 1
                else:
                    out.missed.append({"what": kinds[kind], "scheduled_at": instant})
        day += timedelta(days=1)
    return out


@dataclass
class Drills:
    semester: str
    done: int
    expected: int
    drills: list[dict[str, Any]]

    @property
    def value(self) -> float | None:
        return _ratio(self.done, self.expected)

    def out(self) -> dict[str, Any]:
        return {"indicator": "T3-IQ03", "semester": self.semester, "value": self.value, "done": self.done,
                "expected": self.expected, "drills": self.drills}


async def drills(session: AsyncSession, semester: str, *, zone: ZoneInfo, default_expected: int) -> Drills:
    start, end = semester_bounds(semester, zone)
    planned = await session.scalar(select(func.count()).select_from(m.DrillPlan).where(
        m.DrillPlan.semester == semester, m.DrillPlan.status != m.CANCELLED))
    expected = int(planned or 0) or default_expected
    done = []
    for fact in await session.scalars(select(JournalEvent).where(
            JournalEvent.kind == EventKind.DRILL_DONE.value, JournalEvent.occurred_at >= start,
            JournalEvent.occurred_at < end).order_by(JournalEvent.occurred_at)):
        data = fact.data or {}
        done.append({"at": fact.occurred_at, "drill_id": data.get("drill_id"), "ok": data.get("ok") is not False,
                     "by": data.get("by"), "seconds": data.get("seconds")})
    return Drills(semester, sum(1 for d in done if d["ok"]), expected, done)
