"""T1-IQ01 (availability), T1-IQ02 (opening on time) and T3-IQ03 (drills per semester)
computed from journal facts (failover/indicators.py), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from failover import indicators
from failover import models as m
from failover.services import add_plan
from ticket_core import journal
from ticket_core.journal import EventKind, Fact

PARIS = ZoneInfo("Europe/Paris")


def paris(day: int, hour: int, minute: int = 0, second: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=PARIS).astimezone(UTC)


def fact(session, kind: EventKind, at: datetime, **data) -> None:
    journal.append(session, Fact(kind=kind, occurred_at=at, data=data), site="primary")


async def test_availability_counts_failures_until_the_next_probe_within_opening_hours_only(container):
    async with container.session_factory() as s:
        for at, ok in [(paris(3, 8, 30), True), (paris(3, 9, 0), False), (paris(3, 9, 10), True),
                       (paris(3, 18, 0), False), (paris(3, 18, 5), True)]:
            fact(s, EventKind.PROBE_RESULT, at, check="sip", ok=ok)
        # another check failing while sip is down: the union is counted once
        fact(s, EventKind.PROBE_RESULT, paris(3, 9, 5), check="ari", ok=False)
        fact(s, EventKind.PROBE_RESULT, paris(3, 9, 8), check="ari", ok=True)
        await s.commit()
        cal = await container.calendar(s)
        start, end = indicators.month_bounds("2026-03", PARIS)
        a = await indicators.availability(s, cal, start, end, now=paris(1, 0, month=4))
    assert a.opening_seconds == 22 * 9 * 3600  # 22 working days in March 2026, no holiday
    assert a.down_seconds == 600
    assert a.value == pytest.approx(1 - 600 / (22 * 9 * 3600))
    assert (a.probes, a.failures) == (7, 3)


async def test_availability_gap_longer_than_the_limit_is_not_counted_as_down(container):
    async with container.session_factory() as s:
        fact(s, EventKind.PROBE_RESULT, paris(3, 10, 0), check="app", ok=False)  # then silence
        await s.commit()
        cal = await container.calendar(s)
        start, end = indicators.month_bounds("2026-03", PARIS)
        a = await indicators.availability(s, cal, start, end, now=paris(1, 0, month=4), max_gap=900)
    assert a.down_seconds == 900


async def test_opening_on_time_compares_facts_with_the_calendar(container):
    async with container.session_factory() as s:
        fact(s, EventKind.SERVICE_OPENED, paris(2, 8, 30, 10))
        fact(s, EventKind.SERVICE_CLOSED, paris(2, 17, 30, 5))
        fact(s, EventKind.SERVICE_OPENED, paris(3, 8, 35))  # five minutes late
        await s.commit()
        cal = await container.calendar(s)
        start, end = indicators.month_bounds("2026-03", PARIS)
        o = await indicators.openings(s, cal, start, end, now=paris(3, 12))
    assert (o.expected, o.on_time) == (3, 2)
    assert [x["what"] for x in o.missed] == ["opening"]


async def test_drills_per_semester_against_the_calendar_or_the_setting(container):
    async with container.session_factory() as s:
        for day in (paris(10, 14), paris(15, 14, month=5)):
            await add_plan(s, planned_for=day, note="", user_id=None, zone=PARIS)
        fact(s, EventKind.DRILL_DONE, paris(10, 15), drill_id=1, ok=True)
        fact(s, EventKind.DRILL_DONE, paris(15, 15, month=5), drill_id=2, ok=False)
        fact(s, EventKind.DRILL_DONE, paris(2, 15, month=7), drill_id=3, ok=True)
        await s.commit()
        s1 = await indicators.drills(s, "2026-S1", zone=PARIS, default_expected=4)
        s2 = await indicators.drills(s, "2026-S2", zone=PARIS, default_expected=2)
    assert (s1.done, s1.expected, s1.value) == (1, 2, 0.5)  # the calendar says two
    assert (s2.done, s2.expected, s2.value) == (1, 2, 0.5)  # no calendar: the setting
    assert m.semester_of(paris(30, 23, month=6), PARIS) == "2026-S1"
    assert m.semester_of(paris(1, 0, month=7), PARIS) == "2026-S2"
