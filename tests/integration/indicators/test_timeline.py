"""Every indicator on a small hand-computed timeline (``timeline.py``: the computation is
written there, call by call and ticket by ticket), on SQLite and on PostgreSQL: values,
"no data" for a month without calls, the same month a year before, the quality-incentive
run, settings that change the definitions, pending mails, the point prod's window, and the
flat exports whose pivot sums give the indicators back."""

from __future__ import annotations

from datetime import date, timedelta
from fractions import Fraction

import pytest

from indicators.services import IndicatorService, daily_window
from indicators.settings import IndicatorSettings
from reports.services import ReportService
from reports.settings import ReportSettings
from tests.integration.indicators import timeline as tl
from ticket_core import journal
from ticket_core.journal import EventKind as K
from ticket_core.journal import Fact


def _service(container, settings: IndicatorSettings = tl.SETTINGS) -> IndicatorService:
    svc = IndicatorService.from_container(container, settings=settings)
    container.extras["indicators"] = svc
    return svc


@pytest.fixture
async def built(container, clock):
    ids = await tl.build(container, clock)
    return container, clock, ids


async def test_april_figures_match_the_hand_computation(built):
    container, clock, _ = built
    dash = await _service(container).dashboard((2026, 4), 13)
    for iid, (num, den, status) in tl.EXPECTED.items():
        p = dash.point(iid, "2026-04")
        assert (p.numerator, p.denominator, p.status) == (num, den, status), iid
        assert p.exact == Fraction(num, den), iid
    # T8: the shares behind "missed" although 80 % are very satisfied
    t8 = dash.point("T8-IQ01", "2026-04")
    assert t8.details["unsatisfied"] == 1 and t8.details["satisfied"] == 1
    # details the pages show
    assert dash.point("T2-IQ01", "2026-04").details["short_abandons"] == 1
    assert dash.point("T2-IQ04", "2026-04").details["anonymous"] == 1


async def test_no_data_is_never_a_hundred_percent(built):
    container, _, _ = built
    dash = await _service(container).dashboard((2026, 4), 13)
    march = dash.point("T2-IQ01", "2026-03")  # a month without any call
    assert march.status == "no_data" and march.value is None and march.denominator == 0
    assert "Aucun appel présenté" in march.reason
    for iid in ("T3-IQ01", "T3-IQ02", "T4-IQ01", "T4-IQ04", "T5-IQ01", "T6-IQ01", "T7-IQ05"):
        p = dash.point(iid, "2026-04")
        assert p.status == "no_data" and p.value is None and p.reason, iid
    # facts of the failover module exist only from April: March has no data for T1, not 0 %
    assert dash.point("T1-IQ01", "2026-03").status == "no_data"
    assert dash.point("T1-IQ02", "2026-03").status == "no_data"
    assert dash.point("T3-IQ03", "2026-03").status == "no_data"


async def test_same_month_last_year_and_incentive_run(built):
    container, _, _ = built
    dash = await _service(container).dashboard((2026, 4), 13)
    # April 2025: two calls answered in 5 and 10 s → 100 %
    prev = dash.year_before("T2-IQ01", "2026-04")
    assert (prev.numerator, prev.denominator, prev.status) == (2, 2, "met")
    # Dec, Jan, Feb: one call answered in 50 s each → 0 / 1 → runs 1, 2, 3; March: no call,
    # no data, the run stops; April: below target again → 1.
    runs = {k: dash.point("T2-IQ01", k).run for k in ("2025-12", "2026-01", "2026-02", "2026-03", "2026-04")}
    assert runs == {"2025-12": 1, "2026-01": 2, "2026-02": 3, "2026-03": 0, "2026-04": 1}
    assert dash.point("T2-IQ01", "2026-02").to_json()["incentive"].startswith("Réfactions possibles et résiliation")
    alerts = {a["indicator"]: a["run"] for a in dash.incentive()}
    assert alerts["T2-IQ01"] == 1 and "T2-IQ06" not in alerts  # T2-IQ06 is not penalised
    assert dash.point("T2-IQ06", "2026-04").run == 0


async def test_operational_figures_and_package(built):
    container, _, _ = built
    dash = await _service(container).dashboard((2026, 4), 13)
    op = dash.operational["2026-04"]
    # 14 tickets created, the duplicate T6 not counted: phone T1 T2 T4 T5 T7 T8 T9, mail ×5, chat T3
    assert (op.tickets, op.duplicates) == (13, 1)
    assert op.by_channel == {"chat": 1, "mail": 5, "phone": 7}
    assert (op.calls_received, op.calls_answered, op.calls_outside_hours) == (14, 6, 1)
    assert op.escalated == 3 and (op.resolved_by_n1, op.resolved_by_n2) == (7, 2)
    pk = dash.package["2026-04"]
    assert (pk.consumed, pk.months_elapsed, pk.allowance_to_date, pk.extensions_needed) == (13, 4, 4000, 0)


async def test_settings_change_the_definitions(built):
    container, _, _ = built
    # threshold 0: c04 counts (presented 13, abandoned 5, received 14, lost 7 of which 4
    # recovered); a callback request counts as an abandonment: +1 (c13).
    s = IndicatorSettings(short_abandon_seconds=0, callback_requested_is_abandoned=True, cache_seconds=0)
    dash = await _service(container, s).dashboard((2026, 4), 13)
    got = {i: (dash.point(i, "2026-04").numerator, dash.point(i, "2026-04").denominator)
           for i in ("T2-IQ01", "T2-IQ02", "T2-IQ03", "T2-IQ04")}
    assert got == {"T2-IQ01": (4, 13), "T2-IQ02": (6, 13), "T2-IQ03": (6, 14), "T2-IQ04": (4, 7)}
    # the pickup threshold moved to 41 s: c02 (answered at exactly 40 s) is now in time
    s41 = IndicatorSettings(short_abandon_seconds=5, pickup_seconds=41, cache_seconds=0)
    p = (await _service(container, s41).dashboard((2026, 4), 13)).point("T2-IQ01", "2026-04")
    assert (p.numerator, p.denominator) == (5, 12)
    # a recovery window of 2 business days: c14 (lost Tue 7) is recovered by c15 (Thu 9)
    s2 = IndicatorSettings(short_abandon_seconds=5, recovery_business_days=2, cache_seconds=0)
    p = (await _service(container, s2).dashboard((2026, 4), 13)).point("T2-IQ04", "2026-04")
    assert (p.numerator, p.denominator) == (5, 6)


async def test_a_mail_not_yet_due_is_pending_not_late(built):
    container, clock, _ = built
    clock.now = tl.at("2026-04-30", "17:10:00")  # M5 received at 17:00, due Mon 4 May 09:00
    p = (await _service(container).dashboard((2026, 4), 13)).point("T2-IQ05", "2026-04")
    assert (p.numerator, p.denominator, p.details["pending"]) == (3, 4, 1)


async def test_point_prod_after_easter_covers_friday_to_monday(built):
    container, clock, _ = built
    svc = _service(container)
    calendar = await svc.calendar()
    # Tuesday 7 April 2026: the previous business day is Friday 3 (Monday 6 is Easter Monday)
    assert daily_window(calendar, date(2026, 4, 7)) == (date(2026, 4, 3), date(2026, 4, 6))
    reports = ReportService(container, ReportSettings(schedule=False), svc)
    data = await reports.daily_data(date(2026, 4, 7))
    # Fri 3: c06 answered in 20 s, c07 abandoned, c08 lost; Sat 4: c11 outside hours.
    p = data.points["T2-IQ01"]
    assert (p.numerator, p.denominator) == (1, 3)
    assert (data.calls.received, data.calls.outside_hours) == (3, 1)
    assert data.tickets.mails == 2  # M2 (Fri 18:00) and M1 (Mon 20:00)
    # escalations in progress now: T5 at N3 only
    assert [e.status for e in data.escalations] == ["escalated_n3"]
    done = await reports.generate_daily(date(2026, 4, 7), trigger="test")
    text = done.files["point-prod-2026-04-07.txt"].decode()
    assert "Point prod du mardi 7 avril 2026" in text and "vendredi 3 avril 2026 au lundi 6 avril 2026" in text


async def test_exports_pivot_back_to_the_indicators(built):
    """Summing each indicator's numerator and denominator columns of the flat exports gives
    the indicator (what a pivot table does)."""
    container, _, ids = built
    svc = _service(container)
    reports = ReportService(container, ReportSettings(schedule=False), svc)
    dash = await svc.dashboard((2026, 4), 13, keep_raw=True)
    facts = await reports.month_facts((2026, 4))
    sheets = {s.name: s for s in await reports.month_sheets((2026, 4), dash, facts)}

    def total(sheet: str, column: str) -> int:
        s = sheets[sheet]
        i = s.column_index(column)
        return sum(r[i] or 0 for r in s.rows)

    for iid, sheet in (("T2-IQ01", "Appels"), ("T2-IQ02", "Appels"), ("T2-IQ03", "Appels"), ("T2-IQ04", "Appels"),
                       ("T2-IQ05", "Mails"), ("T2-IQ07", "Tickets"), ("T2-IQ08", "Tickets"), ("T2-IQ09", "Tickets")):
        num, den, _ = tl.EXPECTED[iid]
        assert (total(sheet, f"{iid} numérateur"), total(sheet, f"{iid} dénominateur")) == (num, den), iid
    # T2-IQ10: tickets created and resolved in April, plus those resolved in April but created
    # before (none here)
    n10 = total("Tickets", "T2-IQ10 numérateur (résolu ce mois)") + total("Resolus", "T2-IQ10 numérateur (résolu ce mois)")
    d10 = total("Tickets", "T2-IQ10 dénominateur (résolu ce mois)") + total("Resolus", "T2-IQ10 dénominateur (résolu ce mois)")
    assert (n10, d10) == (7, 9)
    assert len(sheets["Tickets"].rows) == 14 and len(sheets["Mails"].rows) == 5 and len(sheets["Appels"].rows) == 15
    rows = {r[0]: r for r in sheets["Appels"].rows}
    assert rows["c03"][7] == "décroché" and rows["c04"][sheets["Appels"].column_index("Abandon court")] == 1
    ind = sheets["Indicateurs"]
    april = [r for r in ind.rows if r[3] == "2026-04" and r[0] == "T2-IQ01"][0]
    assert april[4:7] == (4, 12, pytest.approx(1 / 3))
    assert [(r[1], r[2]) for r in sheets["Escalades"].rows] == [("escaladé N3", "N3")]


async def test_a_drills_test_contacts_count_in_no_indicator_but_stay_in_the_exports(built):
    """A switchover drill calls, mails and chats through the service (failover/); those
    contacts are recorded on the drill and left out of every indicator, volume and the
    package. Without the drill's record they would count: the figures below move."""
    from failover.models import Drill
    from ticket_core.services import SYSTEM

    container, clock, _ = built
    when = tl.at("2026-04-15", "12:00:00")
    async with container.session_factory() as session:
        # the test call, answered after 50 s (late: it would lower T2-IQ01)
        await tl.write_call(session, tl.CallSpec("x-drill", when, "+33999999999", wait=50))
        await session.commit()
    made = {}
    for name, channel, minutes in (("call", "phone", 2), ("mail", "mail", 3), ("chat", "chat", 4)):
        clock.now = when + timedelta(minutes=minutes)
        async with container.session_factory() as session:
            svc = await container.tickets(session)
            t = await svc.create_ticket(channel=channel, actor=SYSTEM, audience="citoyen", received_at=clock.now,
                                        subject=f"Exercice de bascule : {name}")
            kind = {"mail": K.MAIL_RECEIVED, "chat": K.CHAT_STARTED}.get(channel)
            if kind is not None:
                journal.append(session, Fact(kind=kind, occurred_at=clock.now, channel=channel, ticket_id=t.id,
                                             queue="citoyen", data={"source": "drill", "chat_id": "drill-chat"}),
                               site="primary")
            await session.commit()
            made[name] = t.reference
    clock.now = tl.NOW
    before = await _service(container).dashboard((2026, 4), 13)
    assert (before.point("T2-IQ01", "2026-04").numerator, before.point("T2-IQ01", "2026-04").denominator) == (4, 13)
    assert before.point("T2-IQ05", "2026-04").denominator == 6 and before.operational["2026-04"].tickets == 16
    async with container.session_factory() as session:
        session.add(Drill(semester="2026-S1", trigger="manual", started_by_name="superviseur", from_site="primary",
                          target_site="backup", started_at=when, ended_at=when + timedelta(minutes=6),
                          status="passed", checks=[
                              {"name": "call", "ok": True, "ticket": made["call"], "call_id": "x-drill"},
                              {"name": "mail", "ok": True, "ticket": made["mail"], "call_id": None},
                              {"name": "chat", "ok": True, "ticket": made["chat"], "call_id": None}]))
        await session.commit()
    dash = await _service(container).dashboard((2026, 4), 13)
    for iid, (num, den, status) in tl.EXPECTED.items():
        p = dash.point(iid, "2026-04")
        assert (p.numerator, p.denominator, p.status) == (num, den, status), iid
    op = dash.operational["2026-04"]
    assert (op.tickets, op.by_channel, op.calls_received) == (13, {"chat": 1, "mail": 5, "phone": 7}, 14)
    assert dash.package["2026-04"].consumed == 13
    # the exports list them, flagged, with every indicator column at 0: the pivots still hold
    reports = ReportService(container, ReportSettings(schedule=False), _service(container))
    facts = await reports.month_facts((2026, 4))
    sheets = {s.name: s for s in await reports.month_sheets((2026, 4), dash, facts)}
    calls_sheet, tickets_sheet = sheets["Appels"], sheets["Tickets"]
    drill_col = calls_sheet.column_index("Exercice de bascule")
    [x] = [r for r in calls_sheet.rows if r[0] == "x-drill"]
    assert x[drill_col] == 1 and x[calls_sheet.column_index("T2-IQ01 dénominateur")] == 0
    assert sum(r[calls_sheet.column_index("T2-IQ01 dénominateur")] for r in calls_sheet.rows) == 12
    flagged = {r[0] for r in tickets_sheet.rows if r[tickets_sheet.column_index("Exercice de bascule")]}
    assert flagged == set(made.values())
    assert sum(r[tickets_sheet.column_index("T2-IQ07 dénominateur")] for r in tickets_sheet.rows) == 12
    assert sum(r[sheets["Mails"].column_index("T2-IQ05 dénominateur")] for r in sheets["Mails"].rows) == 5
