"""The wallboard's figures against a timeline computed by hand: journal facts written
directly, on SQLite and PostgreSQL (the ``db_url`` fixture runs each test on both).

The day: Tuesday 3 March 2026 (Paris, UTC+1), opening 08:30–17:30; now 11:40.

    call  queue           presented  outcome                       wait    operator
    c0    avocat          (Mon 16:00) answered                     5 s     A   ← yesterday: not counted
    c11   citoyen         00:30      answered                      1 s     A   ← 23:30 UTC the day before: today
    c1    avocat          08:35      answered                      10 s    A   in time
    c2    avocat          08:50      answered                      55 s    B   late
    c3    citoyen         09:05      abandoned                     30 s
    c4    citoyen         09:10      abandoned                     2 s         (a misdial if short abandons ≥ 5 s)
    c5    administration  09:40      callback requested            70 s
    c6    administration  10:05      lost (no operator)            3 s
    c7    avocat          11:20      answered                      39.9 s  A   in time (strictly under 40)
    c8    avocat          11:25      answered                      40.0 s  B   late (40 s is not "under 40")
    c9    citoyen         11:38      — still waiting
    c10   (IVR hang-up: call_lost, never presented: not counted)

Hand-computed: avocat 4 presented, 4 answered, 2 in time → 2/4 = 50 %, abandonment 0;
citoyen 4 presented, 1 pending → 3 decided, 1 in time → 33.3 %, 2 abandoned → 66.7 %;
administration 2 presented, 0 answered → 0 %, abandonment 0 (a callback request is not an
abandonment by default; 1/2 when it is); total 10 presented, 9 decided, 3 in time, 2
abandoned → 33.3 % and 22.2 %.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from console import wallboard as wb
from console.settings import Definitions
from telephony import models as calls
from tests.integration.console.conftest import PARIS, add_facts, call, make_users, paris
from ticket_core.journal import EventKind, Fact

NOW = paris(2026, 3, 3, 11, 40)


async def _timeline(container, a: int, b: int) -> None:
    d = lambda h, m, s=0: paris(2026, 3, 3, h, m, s)  # noqa: E731
    facts = [
        call("call_presented", "c0", paris(2026, 3, 2, 16, 0), "avocat"),
        call("call_answered", "c0", paris(2026, 3, 2, 16, 0, 5), "avocat", a, wait_seconds=5.0),
        call("call_presented", "c11", d(0, 30), "citoyen"),
        call("call_answered", "c11", d(0, 30, 1), "citoyen", a, wait_seconds=1.0),
        call("call_presented", "c1", d(8, 35), "avocat"),
        call("call_offered", "c1", d(8, 35, 2), "avocat", a, wait_seconds=2.0),
        call("call_answered", "c1", d(8, 35, 10), "avocat", a, wait_seconds=10.0),
        call("call_ended", "c1", d(8, 37, 10), "avocat", a, talk_seconds=120.0),
        call("call_presented", "c2", d(8, 50), "avocat"),
        call("call_answered", "c2", d(8, 50, 55), "avocat", b, wait_seconds=55.0),
        call("call_ended", "c2", d(8, 55, 55), "avocat", b, talk_seconds=300.0),
        call("call_presented", "c3", d(9, 5), "citoyen"),
        call("call_abandoned", "c3", d(9, 5, 30), "citoyen", wait_seconds=30.0),
        call("call_presented", "c4", d(9, 10), "citoyen"),
        call("call_abandoned", "c4", d(9, 10, 2), "citoyen", wait_seconds=2.0),
        call("call_presented", "c5", d(9, 40), "administration"),
        call("callback_requested", "c5", d(9, 41, 10), "administration", wait_seconds=70.0),
        call("call_presented", "c6", d(10, 5), "administration"),
        call("call_lost", "c6", d(10, 5, 3), "administration", reason="no_operator", wait_seconds=3.0),
        call("call_presented", "c7", d(11, 20), "avocat"),
        call("call_answered", "c7", d(11, 20, 39.9), "avocat", a, wait_seconds=39.9),
        call("call_presented", "c8", d(11, 25), "avocat"),
        call("call_answered", "c8", d(11, 25, 40), "avocat", b, wait_seconds=40.0),
        call("call_presented", "c9", d(11, 38), "citoyen"),
        call("call_lost", "c10", d(11, 0), "citoyen", reason="hung_up_in_ivr"),
        Fact(kind=EventKind.OPERATOR_STATE_CHANGED, occurred_at=d(8, 30), operator_id=a,
             data={"old": "logged_out", "new": "available"}),
    ]
    await add_facts(container, facts)


@pytest.fixture
async def day(container, clock):
    clock.now = NOW
    users = await make_users(container, ("alice", "operator"), ("bruno", "operator"), ("chloe", "operator"))
    await _timeline(container, users["alice"].id, users["bruno"].id)
    return users


async def _figures(container, live: dict | None = None, d: Definitions = Definitions()):
    async with container.session_factory() as s:
        cal = await container.calendar(s)
        fig = await wb.load_day(s, NOW, PARIS, cal)
    return wb.build(fig, wb.expand_snapshot(live), NOW, PARIS, d)


def _queue(payload, code):
    return next(q for q in payload["queues"] if q["code"] == code)


async def test_given_hand_timeline_then_per_queue_and_total_figures_match(container, day):
    p = await _figures(container)
    avocat, citoyen, admin, total = _queue(p, "avocat"), _queue(p, "citoyen"), _queue(p, "administration"), p["total"]
    assert [q["code"] for q in p["queues"]] == ["avocat", "administration", "citoyen"]  # IVR order
    assert (avocat["presented"], avocat["answered"], avocat["answered_in_time"], avocat["abandoned"]) == (4, 4, 2, 0)
    assert (avocat["service_level"], avocat["abandonment"]) == (0.5, 0.0)
    assert avocat["mean_wait_answered"] == pytest.approx((10 + 55 + 39.9 + 40) / 4)
    assert (citoyen["presented"], citoyen["pending"], citoyen["decided"], citoyen["answered_in_time"],
            citoyen["abandoned"]) == (4, 1, 3, 1, 2)
    assert citoyen["service_level"] == pytest.approx(1 / 3)
    assert citoyen["abandonment"] == pytest.approx(2 / 3)
    assert (admin["presented"], admin["answered"], admin["lost"], admin["callback_requested"]) == (2, 0, 1, 1)
    assert (admin["service_level"], admin["abandonment"]) == (0.0, 0.0)
    assert (total["presented"], total["decided"], total["answered"], total["answered_in_time"],
            total["abandoned"], total["pending"]) == (10, 9, 5, 3, 2, 1)
    assert total["service_level"] == pytest.approx(3 / 9)
    assert total["abandonment"] == pytest.approx(2 / 9)
    # Without a snapshot (no ACD heard from): live figures are unknown, not zero.
    assert (total["waiting"], avocat["waiting"], p["live"]["known"]) == (None, None, False)


async def test_given_definitions_changed_then_short_abandons_and_callback_requests_follow(container, day):
    p = await _figures(container, d=Definitions(short_abandon_seconds=5, callback_requested_is_abandoned=True))
    citoyen, admin, total = _queue(p, "citoyen"), _queue(p, "administration"), p["total"]
    # c4 (2 s) is a misdial: out of presented, decided and abandoned.
    assert (citoyen["presented"], citoyen["short_abandons"], citoyen["decided"], citoyen["abandoned"]) == (3, 1, 2, 1)
    assert (citoyen["service_level"], citoyen["abandonment"]) == (0.5, 0.5)
    assert admin["abandonment"] == 0.5  # c5's virtual hold now counts
    assert (total["presented"], total["decided"], total["abandoned"]) == (9, 8, 2)
    p = await _figures(container, d=Definitions(pickup_seconds=60))
    assert p["total"]["answered_in_time"] == 5


async def test_given_hand_timeline_then_half_hour_chart_and_operators_match(container, day):
    p = await _figures(container)
    c = p["chart"]
    # From the first activity (00:30) to closing (17:30): 34 half hours.
    assert (c["slots"][0], c["slots"][-1], len(c["slots"])) == ("00:30", "17:00", 34)
    at = {slot: i for i, slot in enumerate(c["slots"])}
    assert c["answered_in_time"][at["00:30"]] == 1
    i = at["08:30"]
    assert (c["presented"][i], c["answered_in_time"][i], c["answered_late"][i]) == (2, 1, 1)
    assert c["service_level"][i] == 0.5
    i = at["09:00"]
    assert (c["presented"][i], c["abandoned"][i], c["service_level"][i]) == (2, 2, 0.0)
    assert c["lost"][at["09:30"]] == 1 and c["lost"][at["10:00"]] == 1  # callback requested, no operator
    i = at["11:00"]
    assert (c["answered_in_time"][i], c["answered_late"][i]) == (1, 1)
    i = at["11:30"]
    assert (c["presented"][i], c["pending"][i], c["service_level"][i]) == (1, 1, None)
    assert sum(c["presented"]) == 10
    ops = {o["name"]: o for o in p["operators"]}
    assert (ops["Alice"]["answered_today"], ops["Alice"]["talk_seconds_today"]) == (3, 120.0)
    assert (ops["Bruno"]["answered_today"], ops["Bruno"]["talk_seconds_today"]) == (2, 300.0)
    assert ops["Chloe"]["answered_today"] == 0


async def test_given_snapshot_then_live_figures_operators_by_state_and_alerts(container, day):
    a, b, c = str(day["alice"].id), str(day["bruno"].id), str(day["chloe"].id)
    at = wb._ms(NOW)
    live = {"t": "acd", "at": at - 1500,
            "q": {"avocat": [0, 0, 1, 0], "administration": [0, 0, 0, 0], "citoyen": [2, 1, 0, at - 95_000]},
            "p": {a: ["C", at - 30_000, None, "avocat", "c-live"], b: ["P", at - 600_000, "formation", None, None],
                  c: ["R", at - 4_000, None, "citoyen", "c9"]}}
    p = await _figures(container, live)
    citoyen, total = _queue(p, "citoyen"), p["total"]
    assert p["live"]["ok"] is True
    assert (citoyen["waiting"], citoyen["longest_wait_seconds"]) == (2, pytest.approx(95.0))
    assert (total["waiting"], total["longest_wait_seconds"]) == (2, pytest.approx(95.0))
    assert citoyen["operators"] == {"on_call": 1, "ringing": 1, "wrap_up": 0, "available": 0, "paused": 1,
                                    "logged_out": 0}
    ops = {o["name"]: o for o in p["operators"]}
    assert (ops["Alice"]["state"], ops["Alice"]["queue"]) == ("on_call", "avocat")
    assert (ops["Bruno"]["state"], ops["Bruno"]["pause_reason"]) == ("paused", "formation")
    assert ops["Bruno"]["since"] == (NOW - timedelta(minutes=10)).isoformat()
    assert [o["state"] for o in p["operators"]] == ["on_call", "ringing", "paused"]
    kinds = {(x["kind"], x["queue"]) for x in p["alerts"]}
    assert ("service_level", "avocat") in kinds and ("service_level", "*") in kinds
    assert ("abandonment", "citoyen") in kinds and ("abandonment", "avocat") not in kinds
    assert ("long_wait", "citoyen") in kinds
    assert ("no_operator", "citoyen") not in kinds  # somebody is ringing for it
    assert all(x["level"] == "critique" for x in p["alerts"][:3])
    # The same snapshot 30 s old: stale, shown as unknown with an alert.
    p = await _figures(container, {**live, "at": at - 30_000})
    assert p["total"]["waiting"] is None and p["live"]["ok"] is False
    assert p["alerts"][0]["kind"] == "stale"


async def test_given_mails_callbacks_and_chats_then_backlogs_per_queue(container, clock, day):
    from callback import models as cb

    async with container.session_factory() as s:
        svc = await container.tickets(s)
        clock.now = paris(2026, 3, 3, 10, 0)
        late = await svc.create_ticket(channel="mail", audience="avocat", subject="Mot de passe")  # due 11:00
        clock.now = paris(2026, 3, 3, 11, 30)
        soon = await svc.create_ticket(channel="mail", subject="Question")  # due 12:30, no audience
        taken = await svc.create_ticket(channel="mail", audience="citoyen", subject="Déjà pris")
        await s.commit()
    clock.now = NOW
    async with container.session_factory() as s:
        svc = await container.tickets(s)
        from accounts.services import actor_of

        await svc.transition(taken.id, "take", actor_of(day["alice"]))
        for i, (audience, state, when) in enumerate([("citoyen", cb.SCHEDULED, NOW - timedelta(minutes=5)),
                                                     ("citoyen", cb.SCHEDULED, NOW + timedelta(minutes=5)),
                                                     ("avocat", cb.DIALING, NOW), ("avocat", cb.DONE, NOW)]):
            s.add(calls.Call(id=f"lost{i}", site="primary", caller_number=f"+3361234567{i}", audience=audience,
                             received_at=NOW - timedelta(hours=1), outcome=calls.ABANDONED))
            await s.flush()
            lost = cb.LostCall(call_id=f"lost{i}", caller_number=f"+3361234567{i}", audience=audience,
                               lost_at=NOW - timedelta(hours=1), reason="abandoned", status=cb.PENDING)
            s.add(lost)
            await s.flush()
            s.add(cb.Callback(lost_call_id=lost.id, number=lost.caller_number, audience=audience, kind="lost_call",
                              state=state, due_at=when, next_attempt_at=when, created_at=NOW - timedelta(hours=1)))
        await s.commit()
    chats = False
    try:
        from chatgw.models import ChatConversation
    except ImportError:
        pass
    else:
        chats = True
        async with container.session_factory() as s:
            svc = await container.tickets(s)
            for i, (audience, status, op) in enumerate([("avocat", "waiting", None), ("avocat", "waiting", None),
                                                        ("citoyen", "active", day["alice"].id)]):
                t = await svc.create_ticket(channel="chat", audience=audience)
                s.add(ChatConversation(public_id=f"pub{i}", token_hash=f"{i:064d}", site="primary", ticket_id=t.id,
                                       audience=audience, status=status, entered_at=NOW, operator_id=op))
            await s.commit()
    p = await _figures(container)
    avocat, citoyen, total = _queue(p, "avocat"), _queue(p, "citoyen"), p["total"]
    assert (avocat["mails_waiting"], citoyen["mails_waiting"], total["mails_waiting"], total["mails_late"]) == (1, 0, 2, 1)
    assert total["mails_first_due"] == paris(2026, 3, 3, 11, 0).isoformat()
    assert total["mails_first_remaining"] == pytest.approx(-40 * 60)
    assert (citoyen["callbacks_pending"], avocat["callbacks_pending"], total["callbacks_late"]) == (2, 1, 1)
    assert any(x["kind"] == "mail_late" for x in p["alerts"])
    if chats:
        assert (avocat["chats_waiting"], total["chats_waiting"]) == (2, 2)
        assert {o["name"]: o["chats"] for o in p["operators"]}["Alice"] == 1
    assert late.reference and soon.reference


def test_given_dst_day_then_day_bounds_and_slots_follow_paris():
    # Sunday 29 March 2026: clocks go forward at 02:00, the day lasts 23 hours.
    now = paris(2026, 3, 29, 12, 0)
    day, start, end = wb.day_bounds(now, PARIS)
    assert (end - start) == timedelta(hours=23)
    slots = wb.day_slots([], day, PARIS, [], now)
    assert [s.astimezone(PARIS).strftime("%H:%M") for s in (slots[0], slots[-1])] == ["08:00", "17:30"]
