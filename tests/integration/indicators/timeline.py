"""A small, hand-computed timeline for the indicators (April 2026, with a few calls in the
months before). Calls are written as the ACD and the Stasis app write them (journal facts
and ``calls`` rows); tickets go through the real ``TicketService`` with a settable clock, so
their SLA clocks are the ones the product computes.

Calendar facts used below (Europe/Paris, CEST = UTC+2 all April): Easter Monday 6 April
2026 and 1 May 2026 are public holidays; April 2026 has 22 weekdays, 21 business days.

Every expected figure is computed by hand in ``EXPECTED`` (see the comments there), with the
short-abandon threshold set to 5 s (``SETTINGS``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

from accounts.services import create_user
from indicators.settings import IndicatorSettings
from telephony import models as calls
from ticket_core import journal
from ticket_core.journal import EventKind as K
from ticket_core.journal import Fact
from ticket_core.services import SYSTEM, Actor

PARIS = ZoneInfo("Europe/Paris")
SETTINGS = IndicatorSettings(short_abandon_seconds=5, drills_per_semester=2, cache_seconds=0)
#: "now" when the indicators are computed: long after April's windows and deadlines.
NOW = datetime(2026, 5, 20, 10, 0, tzinfo=UTC)


def at(day: str, hhmmss: str) -> datetime:
    """Paris wall time → aware UTC."""
    h, m, *s = (int(x) for x in hhmmss.split(":"))
    y, mo, d = (int(x) for x in day.split("-"))
    return datetime(y, mo, d, h, m, s[0] if s else 0, tzinfo=PARIS).astimezone(UTC)


@dataclass
class CallSpec:
    id: str
    received: datetime
    number: str | None  # None: anonymous
    presented_after: float | None = 10.0  # seconds after reception; None: never presented
    outcome: str = "answered"  # answered | abandoned | lost | outside_hours | ivr
    wait: float = 0.0
    reason: str | None = None  # for lost
    talk: float = 300.0


# --- April 2026 calls (with the 5 s short-abandon threshold) ------------------------------
APRIL_CALLS = [
    CallSpec("c01", at("2026-04-01", "10:00:00"), "+33100000001", wait=12),        # answered in 12 s
    CallSpec("c02", at("2026-04-01", "10:05:00"), "+33100000001", wait=40.0),      # answered at exactly 40 s: late
    CallSpec("c03", at("2026-04-01", "17:29:40"), "+33100000007", wait=30),        # presented 17:29:50, answered
                                                                                   # 17:30:20 after closing: counted
    CallSpec("c04", at("2026-04-02", "11:00:00"), "+33100000008", presented_after=8, outcome="abandoned",
             wait=3),                                                              # short abandon (< 5 s): excluded
    CallSpec("c05", at("2026-04-02", "14:00:00"), "+33100000002", outcome="abandoned", wait=65),  # lost, recovered
    CallSpec("c06", at("2026-04-03", "09:00:00"), "+33100000002", wait=20),        # …by this call (window Fri 17:30)
    CallSpec("c07", at("2026-04-03", "15:00:00"), None, outcome="abandoned", wait=50),  # anonymous: never recovered
    CallSpec("c08", at("2026-04-03", "16:00:00"), "+33100000004", outcome="lost", wait=300, reason="max_wait"),
    CallSpec("c09", at("2026-04-07", "16:00:00"), "+33100000004", wait=55),        # recovers c08: Easter Monday
                                                                                   # moves the window to Tue 17:30
    CallSpec("c10", at("2026-04-07", "11:00:00"), "+33100000005", outcome="abandoned", wait=45),  # callback: fact
    CallSpec("c11", at("2026-04-04", "10:00:00"), "+33100000009", presented_after=None,
             outcome="outside_hours"),                                             # Saturday: closed message
    CallSpec("c12", at("2026-04-08", "10:00:00"), "+33100000010", presented_after=None, outcome="ivr"),
    CallSpec("c13", at("2026-04-08", "11:00:00"), "+33100000006", outcome="lost", wait=70,
             reason="callback_requested"),                                         # virtual hold, then called back
    CallSpec("c14", at("2026-04-07", "10:00:00"), "+33100000003", outcome="abandoned", wait=45),  # lost …
    CallSpec("c15", at("2026-04-09", "09:00:00"), "+33100000003", wait=10),        # … called again too late (Thu)
]
RECOVERED_FACTS = [("c10", at("2026-04-07", "14:00:00")), ("c13", at("2026-04-08", "14:00:00"))]

# Months before: one call answered late in Dec, Jan, Feb (T2-IQ01 0/1 each: three months
# below target), none in March (no data), two answered in time in April 2025 (last year).
EARLIER_CALLS = [
    CallSpec("d12", at("2025-12-10", "10:00:00"), "+33100000020", wait=50),
    CallSpec("j01", at("2026-01-14", "10:00:00"), "+33100000021", wait=50),
    CallSpec("f02", at("2026-02-11", "10:00:00"), "+33100000022", wait=50),
    CallSpec("y1", at("2025-04-09", "10:00:00"), "+33100000023", wait=5),
    CallSpec("y2", at("2025-04-10", "10:00:00"), "+33100000024", wait=10),
]


async def write_call(session, spec: CallSpec, site: str = "primary") -> None:
    def fact(kind: K, when: datetime, **data) -> None:
        journal.append(session, Fact(kind=kind, occurred_at=when, channel="phone", call_id=spec.id,
                                     queue="citoyen", data=data), site=site)

    row = calls.Call(id=spec.id, site=site, direction="inbound", caller_number=spec.number,
                     caller_raw=spec.number or "anonymous", audience="citoyen", received_at=spec.received,
                     outcome=calls.IN_PROGRESS, attempts=0)
    session.add(row)
    if spec.outcome == "outside_hours":
        fact(K.CALL_RECEIVED_OUTSIDE_HOURS, spec.received, anonymous=spec.number is None)
        row.outcome, row.ended_at = calls.OUTSIDE_HOURS, spec.received + timedelta(seconds=15)
        return
    fact(K.CALL_RECEIVED, spec.received, anonymous=spec.number is None)
    if spec.outcome == "ivr":
        end = spec.received + timedelta(seconds=6)
        fact(K.CALL_LOST, end, reason="hung_up_in_ivr", wait_seconds=0.0)
        row.outcome, row.lost_reason, row.ended_at = calls.LOST, "hung_up_in_ivr", end
        return
    presented = spec.received + timedelta(seconds=spec.presented_after)
    fact(K.CALL_PRESENTED, presented, skilled_operators_logged_in=2)
    row.presented_at = presented
    done = presented + timedelta(seconds=spec.wait)
    if spec.outcome == "answered":
        fact(K.CALL_ANSWERED, done, wait_seconds=spec.wait, attempt=1, overflow=False)
        end = done + timedelta(seconds=spec.talk)
        fact(K.CALL_ENDED, end, talk_seconds=spec.talk)
        row.answered_at, row.wait_seconds, row.outcome, row.ended_at = done, spec.wait, calls.ANSWERED, end
    elif spec.outcome == "abandoned":
        fact(K.CALL_ABANDONED, done, wait_seconds=spec.wait, attempts=0)
        fact(K.CALL_ENDED, done, talk_seconds=0.0)
        row.outcome, row.ended_at, row.wait_seconds = calls.ABANDONED, done, spec.wait
    else:
        fact(K.CALL_LOST, done, reason=spec.reason, wait_seconds=spec.wait, attempts=0)
        fact(K.CALL_ENDED, done, talk_seconds=0.0)
        row.outcome, row.ended_at, row.wait_seconds, row.lost_reason = calls.LOST, done, spec.wait, spec.reason


async def build(container, clock) -> dict[str, int]:
    """Writes the whole timeline; returns the ticket ids by name."""
    sf = container.session_factory
    async with sf() as session:
        op = await create_user(session, username="op-timeline", password="timeline-pass-1", role="operator")
        await session.commit()
    operator = Actor(op.id, op.username, "operator")

    async with sf() as session:
        for spec in APRIL_CALLS + EARLIER_CALLS:
            await write_call(session, spec)
        await session.flush()
        for call_id, when in RECOVERED_FACTS:
            journal.append(session, Fact(kind=K.CALL_RECOVERED, occurred_at=when, channel="phone", call_id=call_id,
                                         data={"by": "callback"}), site="primary")
        # availability probes on Wed 1 April, every 5 minutes from 08:30 to 17:25: the probes
        # of 10:00 and 10:05 fail, the one of 10:10 passes → 10 minutes unavailable.
        t = at("2026-04-01", "08:30:00")
        while t < at("2026-04-01", "17:30:00"):
            ok = t not in (at("2026-04-01", "10:00:00"), at("2026-04-01", "10:05:00"))
            journal.append(session, Fact(kind=K.PROBE_RESULT, occurred_at=t, data={"check": "ari", "ok": ok}),
                           site="primary")
            t += timedelta(minutes=5)
        # automatic opening and closing, every business day of April; Thursday 2 opens at 08:45.
        day = datetime(2026, 4, 1)
        while day.month == 4:
            d = day.date().isoformat()
            if day.weekday() < 5 and d != "2026-04-06":
                opened = at(d, "08:45:00") if d == "2026-04-02" else at(d, "08:30:05")
                journal.append(session, Fact(kind=K.SERVICE_OPENED, occurred_at=opened), site="primary")
                journal.append(session, Fact(kind=K.SERVICE_CLOSED, occurred_at=at(d, "17:30:02")), site="primary")
            day += timedelta(days=1)
        # switchover drills: one passed on Wed 15 April, one failed on Thu 16 (2 expected a semester)
        journal.append(session, Fact(kind=K.DRILL_DONE, occurred_at=at("2026-04-15", "19:00:00"),
                                     data={"drill_id": 1, "ok": True}), site="primary")
        journal.append(session, Fact(kind=K.DRILL_DONE, occurred_at=at("2026-04-16", "19:00:00"),
                                     data={"drill_id": 2, "ok": False}), site="primary")
        # satisfaction survey: 8 very satisfied, 1 satisfied, 1 unsatisfied (a 1 on a 1–3 scale)
        for i, rating in enumerate(["tres_satisfait"] * 8 + ["satisfait", 1]):
            journal.append(session, Fact(kind=K.SURVEY_ANSWERED, occurred_at=at("2026-04-15", "10:00:00")
                                         + timedelta(minutes=i), data={"rating": rating}), site="primary")
        await session.commit()

    ids: dict[str, int] = {}

    async def step(when: datetime, fn):
        clock.now = when
        async with sf() as session:
            svc = await container.tickets(session)
            result = await fn(svc)
            await session.commit()
            return result

    async def new(name: str, when: datetime, channel: str, actor: Actor = operator) -> None:
        async def create(svc):
            t = await svc.create_ticket(channel=channel, actor=actor, audience="citoyen", received_at=when,
                                        subject=f"ticket {name}")
            ids[name] = t.id
        await step(when, create)

    def act(name: str, when: datetime, action: str, actor: Actor = operator, **kw):
        return step(when, lambda svc: svc.transition(ids[name], action, actor, **kw))

    def qualify(name: str, when: datetime, **kw):
        return step(when, lambda svc: svc.qualify(ids[name], operator, **kw))

    # T1: priority 4 (criticality 2, severity 3), resolved by N1 at once: first contact, in time.
    await new("T1", at("2026-04-01", "10:00:22"), "phone")
    await qualify("T1", at("2026-04-01", "10:03:00"), criticality=2, severity=3, request_type="information")
    await act("T1", at("2026-04-01", "10:10:00"), "resolve")
    # T2: priority 2 (critical, due 12:05:50), resolved 11:00: in time, first contact.
    await new("T2", at("2026-04-01", "10:05:50"), "phone")
    await qualify("T2", at("2026-04-01", "10:07:00"), criticality=1, severity=2, request_type="depot")
    await act("T2", at("2026-04-01", "11:00:00"), "resolve")
    # T3 (chat): priority 4 at 09:05 (due 13:00), raised to 2 at 11:30 → due recomputed from
    # creation: 11:00, already past; escalated 11:45: late. N2 closes it Fri 3 April 10:00.
    await new("T3", at("2026-04-02", "09:00:00"), "chat")
    await qualify("T3", at("2026-04-02", "09:05:00"), criticality=2, severity=3, request_type="information")
    await qualify("T3", at("2026-04-02", "11:30:00"), severity=1)
    await act("T3", at("2026-04-02", "11:45:00"), "escalate")
    await act("T3", at("2026-04-03", "10:00:00"), "technical_closure", SYSTEM)
    await act("T3", at("2026-04-03", "10:05:00"), "close")
    # M2: mail on Friday 3 April at 18:00: 1 HO → Tue 7 April 09:30 (weekend, Easter Monday);
    # taken 09:10: in time. Resolved 09:40 (handling due Tue 12:30, unqualified = normal).
    await new("M2", at("2026-04-03", "18:00:00"), "mail", SYSTEM)
    await act("M2", at("2026-04-07", "09:10:00"), "take")
    await act("M2", at("2026-04-07", "09:40:00"), "resolve")
    # M1: mail on Easter Monday evening (holiday), 20:00: due Tue 09:30; taken 09:45: late.
    await new("M1", at("2026-04-06", "20:00:00"), "mail", SYSTEM)
    await act("M1", at("2026-04-07", "09:45:00"), "take")
    await act("M1", at("2026-04-07", "09:50:00"), "resolve")
    # T4: priority 3, escalated 09:30 (in time), bounced by N2 for missing information 14:00,
    # completed 14:30, closed by N2 Wed 8 April 10:00.
    await new("T4", at("2026-04-07", "09:00:00"), "phone")
    await qualify("T4", at("2026-04-07", "09:05:00"), criticality=2, severity=2, request_type="connexion")
    await act("T4", at("2026-04-07", "09:30:00"), "escalate", escalation_info={"identifiant": "av-123"})
    await act("T4", at("2026-04-07", "14:00:00"), "request_info", SYSTEM, note="numéro de dossier manquant")
    await act("T4", at("2026-04-07", "14:30:00"), "provide_info", escalation_info={"complement": "ok"})
    await act("T4", at("2026-04-08", "10:00:00"), "technical_closure", SYSTEM)
    # T5: priority 1, escalated 10:30 (in time), passed to N3: still in progress.
    await new("T5", at("2026-04-07", "10:00:00"), "phone")
    await qualify("T5", at("2026-04-07", "10:05:00"), criticality=1, severity=1, request_type="incident-acces")
    await act("T5", at("2026-04-07", "10:30:00"), "escalate",
              escalation_info={"identifiant": "x", "message_erreur": "Erreur 500"})
    await act("T5", at("2026-04-08", "09:30:00"), "pass_to_n3", SYSTEM)
    # T6: the same person again about T5: a duplicate merged into T5 (excluded everywhere).
    await new("T6", at("2026-04-08", "09:00:00"), "phone")
    t5_ref = await step(at("2026-04-08", "09:10:00"), lambda svc: _ref(svc, ids["T5"]))
    await act("T6", at("2026-04-08", "09:10:00"), "merge", merge_into=t5_ref)
    # M3: mail Wed 8 April 10:00, taken 10:30: in time.
    await new("M3", at("2026-04-08", "10:00:00"), "mail", SYSTEM)
    await act("M3", at("2026-04-08", "10:30:00"), "take")
    await act("M3", at("2026-04-08", "10:40:00"), "resolve")
    # T7: a "fusion" request (excluded from T2-IQ07/10), priority 4, resolved by N1.
    await new("T7", at("2026-04-08", "10:00:00"), "phone")
    await qualify("T7", at("2026-04-08", "10:05:00"), criticality=2, severity=3, request_type="fusion")
    await act("T7", at("2026-04-08", "10:20:00"), "resolve")
    # M4: mail Wed 8 April 16:50 → 40 min left that day + 20 min Thursday: due Thu 08:50;
    # taken 08:45: in time.
    await new("M4", at("2026-04-08", "16:50:00"), "mail", SYSTEM)
    await act("M4", at("2026-04-09", "08:45:00"), "take")
    await act("M4", at("2026-04-09", "08:55:00"), "resolve")
    # T8: priority 5, resolved 10:10, reopened 14:00 (a second contact), resolved again.
    await new("T8", at("2026-04-09", "10:00:00"), "phone")
    await qualify("T8", at("2026-04-09", "10:02:00"), criticality=3, severity=3, request_type="information")
    await act("T8", at("2026-04-09", "10:10:00"), "resolve")
    await act("T8", at("2026-04-09", "14:00:00"), "reopen")
    await act("T8", at("2026-04-09", "14:30:00"), "resolve")
    # T9: created by the system, never qualified nor handled: due 15:00, late.
    await new("T9", at("2026-04-09", "11:00:00"), "phone", SYSTEM)
    # M5: mail Thu 30 April 17:00, never taken: due Mon 4 May 09:00 (1 May is a holiday).
    await new("M5", at("2026-04-30", "17:00:00"), "mail", SYSTEM)
    clock.now = NOW
    return ids


async def _ref(svc, ticket_id: int) -> str:
    return (await svc.get_ticket(ticket_id)).reference


def f(n: int, d: int) -> Fraction:
    return Fraction(n, d)


# --- the hand computation (threshold 5 s, NOW = 20 May 2026) -------------------------------
#
# Calls facts of April: received c01–c10, c12–c15 = 14 (c11 is outside hours); presented: all
# but c11, c12 = 13; the short abandon c04 (3 s < 5 s) leaves 13 received, 12 presented.
# Answered: c01, c02, c03, c06, c09, c15 = 6; under 40 s: c01 (12), c03 (30), c06 (20), c15 (10)
# = 4 (c02 at exactly 40 s and c09 at 55 s are not).
# Abandoned (≥ 5 s): c05, c07, c10, c14 = 4 (c13's callback request is not an abandonment).
# Lost: c05 (recovered by c06 on Fri 3 before 17:30), c07 (anonymous), c08 (recovered by c09
# on Tue 7 16:00: the window after Fri 3 skips Easter Monday), c10 (call_recovered fact),
# c13 (call_recovered fact), c14 (c15 on Thu 9 is after the window, Wed 8 17:30) = 6 lost,
# 4 recovered.
# Mails: M1 late (09:45 > 09:30), M2 in time (09:10 ≤ Tue 09:30), M3, M4 in time, M5 never
# taken and past due → 3 / 5.
# Escalations first in April: T3, T4 (bounced), T5 → 2 / 3 not bounced.
# Created in April: T1, T2, T3, M2, M1, T4, T5, T6, M3, T7, M4, T8, T9, M5 = 14; merges
# excluded: T6 (duplicate) and T7 (fusion) → 12; first contact: T1, T2, M2, M1, M3, M4 = 6.
# Critical (priorities 1–2): T2 (in time), T3 (late: raised to 2 after its new due 11:00),
# T5 (in time) → 2 / 3. Normal (3–5 and unqualified, duplicates excluded): T1, M2, M1, T4, M3,
# T7, M4, T8 in time; T9, M5 late → 8 / 10.
# Resolved in April, merges excluded: T1, T2, T3 (N2), M2, M1, T4 (N2), M3, M4, T8 = 9; by N1: 7.
# Availability: opening time of April = 21 business days × 9 h = 680,400 s; down 600 s (probes
# of 10:00 and 10:05 failed, 10:10 passed) → 679,800 / 680,400.
# Opening on time: 21 openings + 21 closings = 42; Thursday 2 opened at 08:45 (> 60 s late)
# → 41 / 42.
# Drills: 1 passed of 2 expected in 2026-S1, the semester is not over: "in progress".
# Survey: 8 very satisfied of 10 = 80 % (target met) but 1 unsatisfied = 10 % > 5 % → missed.
EXPECTED = {
    "T1-IQ01": (679800, 680400, "met"),
    "T1-IQ02": (41, 42, "missed"),
    "T2-IQ01": (4, 12, "missed"),
    "T2-IQ02": (4, 12, "missed"),
    "T2-IQ03": (6, 13, "missed"),
    "T2-IQ04": (4, 6, "missed"),
    "T2-IQ05": (3, 5, "missed"),
    "T2-IQ06": (2, 3, "missed"),
    "T2-IQ07": (6, 12, "missed"),
    "T2-IQ08": (2, 3, "missed"),
    "T2-IQ09": (8, 10, "met"),
    "T2-IQ10": (7, 9, "missed"),
    "T3-IQ03": (1, 2, "in_progress"),
    "T8-IQ01": (8, 10, "missed"),
}
