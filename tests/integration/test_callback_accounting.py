"""T2-IQ04 for a generated month equals a hand count (SQLite and PostgreSQL).

A month of calls is generated with a seeded random generator and fed through the ACD's
journaling and the callback service exactly as live calls are; the hand count applies
the definition independently: a lost call is renewed when the same (known) number is
answered later, before the end of the next business day."""

import random
from datetime import UTC, datetime, timedelta

from accounts.services import create_user
from acd import domain as d
from acd.domain import AcdSettings
from acd.services import AcdService
from callback.accounting import recovered_calls
from callback.settings import CallbackSettings
from callback.services import CallbackService
from telephony import models as calls
from ticket_core.business_time import BusinessCalendar


async def test_given_generated_month_then_recovered_rate_matches_hand_count(container):
    cal = BusinessCalendar(container.settings.opening_hours)
    rnd = random.Random(4)
    numbers = [f"+3361234{i:04d}" for i in range(40)]
    acd = AcdService(container.session_factory, site="primary", settings=AcdSettings(), clock=container.clock)
    cbs = CallbackService(container.session_factory, CallbackSettings(), site="primary", clock=container.clock,
                          calendar=container.calendar)
    acd.recorders.append(cbs.on_acd_event)
    generated = []  # (at, number | None, outcome)
    day = datetime(2026, 3, 2, tzinfo=UTC)
    while day < datetime(2026, 4, 4, tzinfo=UTC):
        for window_start, window_end in cal.window(day.date()):
            t = window_start
            while True:
                t += timedelta(minutes=rnd.randint(5, 40))
                if t >= window_end:
                    break
                number = None if rnd.random() < 0.05 else rnd.choice(numbers)
                outcome = rnd.choices(["answered", "abandoned", "lost"], [0.8, 0.15, 0.05])[0]
                generated.append((t, number, outcome))
        day += timedelta(days=1)
    async with container.session_factory() as s:
        operator = await create_user(s, username="op", password="correct horse battery", role="operator")
        for i, (at, number, outcome) in enumerate(generated):
            cid = f"gen-{i}"
            s.add(calls.Call(id=cid, site="primary", caller_number=number, audience="avocat", received_at=at,
                             presented_at=at, outcome=calls.IN_PROGRESS))
            await s.flush()
            common = dict(at=at + timedelta(seconds=30), call_id=cid, audience="avocat",
                          caller_number=number or "", entered_at=at)
            if outcome == "answered":
                event = d.CallAnswered(**common, operator_id=str(operator.id), wait_seconds=30.0, attempt=1, overflow=False)
            elif outcome == "abandoned":
                event = d.CallAbandoned(**common, wait_seconds=30.0, attempts=0, ringing_operator_id=None)
            else:
                event = d.CallLost(**common, reason="no_operator", wait_seconds=30.0, attempts=0)
            await acd.journal_events(s, [event])
        await s.commit()

    # The hand count, from the generated list alone.
    march = [(at, n, o) for at, n, o in generated if datetime(2026, 3, 1) <= at.replace(tzinfo=None) < datetime(2026, 4, 1)]
    lost = [(at + timedelta(seconds=30), n) for at, n, o in march if o != "answered"]
    answered = [(at + timedelta(seconds=30), n) for at, n, o in generated if o == "answered"]
    renewed = 0
    for lost_at, number in lost:
        if number is None:
            continue
        deadline = cal.end_of_next_business_day(lost_at)
        if any(n == number and lost_at < t <= deadline for t, n in answered):
            renewed += 1
    assert len(lost) > 50 and 0 < renewed < len(lost)
    start, end = datetime(2026, 2, 28, 23, tzinfo=UTC), datetime(2026, 3, 31, 22, tzinfo=UTC)  # Paris month
    async with container.session_factory() as s:
        ratio = await recovered_calls(s, start, end)
    assert (ratio.numerator, ratio.denominator) == (renewed, len(lost))
