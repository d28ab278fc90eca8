"""Unit tests of the ACD's pure routing core (acd.domain): no Asterisk, no clock."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from acd.domain import (
    Acd,
    AcdError,
    AcdSettings,
    Call,
    CallAbandoned,
    CallAnswered,
    CallEnded,
    CallLost,
    CallOffered,
    CallQueued,
    CallState,
    OfferFailed,
    OperatorState,
    OperatorStateChanged,
)

AUDIENCES = ("avocat", "administration", "citoyen")
T0 = datetime(2025, 3, 3, 9, 0, tzinfo=timezone.utc)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def make_acd(**settings) -> Acd:
    return Acd(AUDIENCES, AcdSettings(**settings))


def add_op(acd: Acd, op_id: str, skills: dict[str, int], login_at: float | None = 0.0) -> None:
    acd.register_operator(op_id, op_id.title(), f"PJSIP/{op_id}", skills)
    if login_at is not None:
        acd.login(op_id, at(login_at))


def call(call_id: str, audience: str = "citoyen", number: str = "+33100000000", **kw) -> Call:
    return Call(call_id, audience, number, **kw)


def offered(offers: list[CallOffered]) -> list[tuple[str, str]]:
    return [(o.call_id, o.operator_id) for o in offers]


def state(acd: Acd, op_id: str) -> OperatorState:
    return acd.operator(op_id).state


# --------------------------------------------------------------------------- basics


def test_given_no_operator_when_call_arrives_then_call_waits():
    acd = make_acd()
    events = acd.enqueue(call("c1", "avocat"), at(0))
    assert events == [
        CallQueued(
            at=at(0),
            call_id="c1",
            audience="avocat",
            caller_number="+33100000000",
            priority=0,
            entered_at=at(0),
            skilled_operators_logged_in=0,
            restored=False,
        )
    ]
    assert acd.dispatch(at(1)) == []
    assert acd.has_logged_in_operator_for("avocat") is False
    assert acd.call("c1").state is CallState.WAITING
    assert acd.position("c1") == 1
    assert acd.expected_wait("c1", at(1)) is None


def test_given_available_operator_when_call_arrives_then_operator_rings_with_caller_and_audience():
    acd = make_acd()
    add_op(acd, "alice", {"citoyen": 3})
    acd.enqueue(call("c1", number="+33612345678"), at(5))
    [offer] = acd.dispatch(at(5))
    assert offer.endpoint == "PJSIP/alice"
    assert offer.caller_number == "+33612345678"
    assert offer.audience == "citoyen"
    assert offer.expires_at == at(25)
    assert offer.attempt == 1 and offer.overflow is False and offer.skill_level == 3
    assert state(acd, "alice") is OperatorState.RINGING
    assert acd.call("c1").state is CallState.RINGING
    assert acd.position("c1") == 0
    assert acd.expected_wait("c1", at(6)) == 0.0
    # the state change is recorded beside the offer, for the journal
    kinds = [type(e) for e in acd.pull_events()]
    assert kinds[-2:] == [CallOffered, OperatorStateChanged]


def test_given_call_waiting_when_operator_logs_in_then_call_offered():
    acd = make_acd()
    add_op(acd, "alice", {"citoyen": 1}, login_at=None)
    acd.enqueue(call("c1"), at(0))
    assert acd.has_logged_in_operator_for("citoyen") is False
    acd.login("alice", at(3))
    assert acd.has_logged_in_operator_for("citoyen") is True
    assert offered(acd.dispatch(at(3))) == [("c1", "alice")]


def test_given_two_callers_and_one_operator_then_first_come_first_served():
    acd = make_acd(wrap_up=0)
    add_op(acd, "alice", {"citoyen": 1})
    acd.enqueue(call("c1"), at(10))
    acd.enqueue(call("c2"), at(11))
    assert offered(acd.dispatch(at(11))) == [("c1", "alice")]
    assert acd.position("c2") == 1
    acd.ring_answered("c1", "alice", at(14))
    assert acd.dispatch(at(14)) == []
    acd.call_ended("c1", at(60))
    assert state(acd, "alice") is OperatorState.AVAILABLE
    assert offered(acd.dispatch(at(60))) == [("c2", "alice")]


def test_given_calls_in_several_queues_then_oldest_call_served_first():
    acd = make_acd()
    acd.enqueue(call("newer", "avocat"), at(5))
    acd.enqueue(call("older", "administration"), at(2))
    acd.enqueue(call("newest", "citoyen"), at(7))
    add_op(acd, "alice", {"avocat": 2, "administration": 1, "citoyen": 5}, login_at=8)
    assert offered(acd.dispatch(at(8))) == [("older", "alice")]


def test_given_several_operators_then_several_offers_in_one_dispatch():
    acd = make_acd()
    for name in ("alice", "bob", "carol"):
        add_op(acd, name, {"citoyen": 1})
    for i in range(5):
        acd.enqueue(call(f"c{i}"), at(i))
    offers = acd.dispatch(at(10))
    assert [o.call_id for o in offers] == ["c0", "c1", "c2"]
    assert len({o.operator_id for o in offers}) == 3
    assert [acd.position(c) for c in ("c3", "c4")] == [1, 2]
    acd.check_invariants()


def test_given_priority_call_then_served_before_older_calls():
    acd = make_acd()
    acd.enqueue(call("normal"), at(0))
    acd.enqueue(call("urgent", priority=1), at(30))
    assert acd.position("urgent") == 1 and acd.position("normal") == 2
    add_op(acd, "alice", {"citoyen": 1}, login_at=31)
    assert offered(acd.dispatch(at(31))) == [("urgent", "alice")]


# --------------------------------------------------------------------------- operator choice


def test_given_paused_operator_then_skipped():
    acd = make_acd()
    add_op(acd, "alice", {"citoyen": 5}, login_at=0)
    add_op(acd, "bob", {"citoyen": 1}, login_at=50)
    acd.pause("alice", "pause déjeuner", at(60))
    acd.enqueue(call("c1"), at(61))
    assert offered(acd.dispatch(at(61))) == [("c1", "bob")]
    assert acd.operator("alice").pause_reason == "pause déjeuner"


def test_given_higher_skill_level_then_preferred_over_longer_idle():
    acd = make_acd()
    add_op(acd, "novice", {"avocat": 1}, login_at=0)
    add_op(acd, "expert", {"avocat": 4}, login_at=100)
    acd.enqueue(call("c1", "avocat"), at(200))
    assert offered(acd.dispatch(at(200))) == [("c1", "expert")]


def test_given_equal_skill_then_longest_idle_preferred():
    acd = make_acd(wrap_up=10)
    add_op(acd, "alice", {"citoyen": 2}, login_at=0)
    add_op(acd, "bob", {"citoyen": 2}, login_at=5)
    acd.enqueue(call("c1"), at(10))
    assert offered(acd.dispatch(at(10))) == [("c1", "alice")]
    acd.ring_answered("c1", "alice", at(12))
    acd.call_ended("c1", at(40))
    acd.tick(at(50))  # alice idle since 50, bob since 5
    acd.enqueue(call("c2"), at(60))
    assert offered(acd.dispatch(at(60))) == [("c2", "bob")]


def test_given_skills_then_call_not_offered_to_unskilled_before_overflow():
    acd = make_acd(overflow_after=None)
    add_op(acd, "alice", {"citoyen": 5})
    acd.enqueue(call("c1", "avocat"), at(0))
    assert acd.dispatch(at(10_000)) == []
    assert acd.has_logged_in_operator_for("avocat") is False


def test_given_only_unskilled_operator_when_overflow_wait_passes_then_call_overflows():
    acd = make_acd(overflow_after=120)
    add_op(acd, "alice", {"citoyen": 3})
    acd.enqueue(call("c1", "avocat"), at(0))
    assert acd.dispatch(at(119.9)) == []
    [offer] = acd.dispatch(at(120))
    assert (offer.call_id, offer.operator_id, offer.overflow, offer.skill_level) == (
        "c1",
        "alice",
        True,
        0,
    )
    answered = acd.ring_answered("c1", "alice", at(125))[0]
    assert isinstance(answered, CallAnswered)
    assert answered.overflow is True and answered.wait_seconds == 125


def test_given_overflowed_call_then_skilled_operator_still_preferred():
    acd = make_acd(overflow_after=60)
    add_op(acd, "generalist", {"citoyen": 1}, login_at=0)
    add_op(acd, "lawyer", {"avocat": 1}, login_at=50)
    acd.enqueue(call("c1", "avocat"), at(0))
    [offer] = acd.dispatch(at(100))
    assert offer.operator_id == "lawyer" and offer.overflow is False


def test_given_operator_declines_then_next_operator_offered():
    acd = make_acd()
    add_op(acd, "alice", {"citoyen": 1}, login_at=0)
    add_op(acd, "bob", {"citoyen": 1}, login_at=5)
    acd.enqueue(call("c1"), at(10))
    assert offered(acd.dispatch(at(10))) == [("c1", "alice")]
    events = acd.ring_failed("c1", "alice", at(13), "declined")
    assert isinstance(events[0], OfferFailed)
    assert events[0].reason == "declined" and events[0].ring_seconds == 3
    assert state(acd, "alice") is OperatorState.AVAILABLE  # alice is still the longest idle...
    [offer] = acd.dispatch(at(13))
    assert (offer.operator_id, offer.attempt) == ("bob", 2)  # ...but bob is offered c1
    assert offer.entered_at == at(10)


def test_given_failed_ring_then_call_keeps_its_place_at_the_head():
    acd = make_acd()
    add_op(acd, "alice", {"citoyen": 1}, login_at=0)
    acd.enqueue(call("c1"), at(10))
    acd.dispatch(at(10))
    acd.enqueue(call("c2"), at(12))
    acd.ring_failed("c1", "alice", at(15), "busy")
    assert acd.position("c1") == 1 and acd.position("c2") == 2
    add_op(acd, "bob", {"citoyen": 1}, login_at=16)
    # bob takes c1 (oldest); alice, who declined c1, gets c2
    assert sorted(offered(acd.dispatch(at(16)))) == [("c1", "bob"), ("c2", "alice")]


def test_given_only_the_decliner_can_take_the_call_then_it_rings_again():
    acd = make_acd()
    add_op(acd, "alice", {"citoyen": 1})
    acd.enqueue(call("c1"), at(0))
    acd.dispatch(at(0))
    acd.ring_failed("c1", "alice", at(5), "declined")
    assert offered(acd.dispatch(at(5))) == [("c1", "alice")]


def test_given_decliner_and_busy_colleague_then_call_waits_for_colleague():
    acd = make_acd(wrap_up=0)
    add_op(acd, "alice", {"citoyen": 1}, login_at=0)
    add_op(acd, "bob", {"citoyen": 1}, login_at=1)
    acd.enqueue(call("c0"), at(2))
    acd.enqueue(call("c1"), at(3))
    assert sorted(offered(acd.dispatch(at(3)))) == [("c0", "alice"), ("c1", "bob")]
    acd.ring_answered("c0", "alice", at(4))
    acd.ring_failed("c1", "bob", at(5), "declined")
    assert acd.dispatch(at(5)) == []  # alice can take c1 when she is free
    acd.call_ended("c0", at(30))
    assert offered(acd.dispatch(at(30))) == [("c1", "alice")]


def test_given_ring_timeout_twice_then_operator_auto_paused():
    acd = make_acd()
    add_op(acd, "alice", {"citoyen": 1})
    acd.enqueue(call("c1"), at(0))
    acd.dispatch(at(0))
    acd.ring_failed("c1", "alice", at(20), "timeout")
    assert state(acd, "alice") is OperatorState.AVAILABLE
    assert acd.operator("alice").consecutive_misses == 1
    assert offered(acd.dispatch(at(20))) == [("c1", "alice")]  # no one else
    events = acd.ring_failed("c1", "alice", at(40), "timeout")
    assert events[0].consecutive_misses == 2
    change = events[-1]
    assert isinstance(change, OperatorStateChanged)
    assert (change.old, change.new, change.reason, change.pause_reason) == (
        OperatorState.RINGING,
        OperatorState.PAUSED,
        "missed_rings",
        "absent",
    )
    assert acd.dispatch(at(40)) == []
    assert acd.call("c1").state is CallState.WAITING
    acd.unpause("alice", at(100))
    assert acd.operator("alice").consecutive_misses == 0


def test_given_ring_expires_then_tick_fails_it_as_timeout():
    acd = make_acd(ring_timeout=15, max_missed_rings=1)
    add_op(acd, "alice", {"citoyen": 1})
    acd.enqueue(call("c1"), at(0))
    acd.dispatch(at(1))
    assert acd.tick(at(15.9)) == []
    events = acd.tick(at(16))
    assert [type(e) for e in events] == [OfferFailed, OperatorStateChanged]
    assert events[0].reason == "timeout" and events[0].ring_seconds == 15
    assert state(acd, "alice") is OperatorState.PAUSED
    # the app's own late report of the same timeout is stale
    with pytest.raises(AcdError) as err:
        acd.ring_failed("c1", "alice", at(16.2), "timeout")
    assert err.value.error_id == "offer_not_found"


def test_given_declines_then_operator_not_auto_paused_and_answer_resets_misses():
    acd = make_acd()
    add_op(acd, "alice", {"citoyen": 1})
    acd.enqueue(call("c1"), at(0))
    acd.dispatch(at(0))
    acd.ring_failed("c1", "alice", at(20), "timeout")
    for t in (21, 22, 23):
        acd.dispatch(at(t))
        acd.ring_failed("c1", "alice", at(t + 0.5), "declined")
    assert state(acd, "alice") is OperatorState.AVAILABLE
    acd.dispatch(at(30))
    acd.ring_answered("c1", "alice", at(31))
    assert acd.operator("alice").consecutive_misses == 0


# --------------------------------------------------------------------------- call outcomes


def test_answer_wait_seconds_are_exact_and_count_from_first_entry():
    acd = make_acd()
    add_op(acd, "alice", {"citoyen": 1}, login_at=0)
    add_op(acd, "bob", {"citoyen": 1}, login_at=1)
    acd.enqueue(call("c1"), at(0.25))
    acd.dispatch(at(2))
    acd.ring_failed("c1", "alice", at(9), "declined")
    acd.dispatch(at(9))
    events = acd.ring_answered("c1", "bob", at(41.5))
    answered = events[0]
    assert isinstance(answered, CallAnswered)
    assert answered.wait_seconds == 41.25
    assert (answered.entered_at, answered.operator_id, answered.attempt) == (at(0.25), "bob", 2)
    assert state(acd, "bob") is OperatorState.ON_CALL


def test_given_call_ends_then_wrap_up_ends_by_tick():
    acd = make_acd(wrap_up=30)
    add_op(acd, "alice", {"citoyen": 1})
    acd.enqueue(call("c1"), at(0))
    acd.dispatch(at(0))
    acd.ring_answered("c1", "alice", at(5))
    events = acd.call_ended("c1", at(65))
    assert isinstance(events[0], CallEnded) and events[0].talk_seconds == 60
    assert state(acd, "alice") is OperatorState.WRAP_UP
    assert acd.operator("alice").wrap_up_until == at(95)
    acd.enqueue(call("c2"), at(70))
    assert acd.dispatch(at(70)) == []
    assert acd.tick(at(94)) == []
    [change] = acd.tick(at(95))
    assert (change.new, change.reason) == (OperatorState.AVAILABLE, "wrap_up_timeout")
    assert acd.operator("alice").idle_since == at(95)
    assert offered(acd.dispatch(at(95))) == [("c2", "alice")]


def test_given_wrap_up_then_operator_may_end_it_early():
    acd = make_acd(wrap_up=30)
    add_op(acd, "alice", {"citoyen": 1})
    acd.enqueue(call("c1"), at(0))
    acd.dispatch(at(0))
    acd.ring_answered("c1", "alice", at(5))
    acd.call_ended("c1", at(20))
    acd.end_wrap_up("alice", at(25))
    assert state(acd, "alice") is OperatorState.AVAILABLE
    assert acd.tick(at(60)) == []  # the stale wrap-up timer does nothing


def test_given_abandon_while_ringing_then_operator_freed():
    acd = make_acd()
    add_op(acd, "alice", {"citoyen": 1})
    acd.enqueue(call("c1"), at(0))
    acd.dispatch(at(1))
    events = acd.abandon("c1", at(7))
    assert [type(e) for e in events] == [CallAbandoned, OfferFailed, OperatorStateChanged]
    assert events[0].wait_seconds == 7 and events[0].ringing_operator_id == "alice"
    assert events[1].reason == "abandoned"
    assert state(acd, "alice") is OperatorState.AVAILABLE
    assert acd.operator("alice").consecutive_misses == 0
    with pytest.raises(AcdError) as err:
        acd.call("c1")
    assert err.value.error_id == "call_not_found"
    assert acd.tick(at(60)) == []  # the stale ring timer does nothing


def test_given_abandon_while_waiting_then_wait_reported_and_queue_shrinks():
    acd = make_acd()
    acd.enqueue(call("c1"), at(0))
    acd.enqueue(call("c2"), at(1))
    [event] = acd.abandon("c1", at(33))
    assert isinstance(event, CallAbandoned)
    assert (event.wait_seconds, event.ringing_operator_id, event.attempts) == (33, None, 0)
    assert acd.position("c2") == 1


def test_given_max_wait_then_waiting_call_lost():
    acd = make_acd(max_wait=300)
    acd.enqueue(call("c1", "avocat"), at(0))
    acd.enqueue(call("c2", "avocat"), at(100))
    assert acd.tick(at(299)) == []
    [lost] = acd.tick(at(300))
    assert isinstance(lost, CallLost)
    assert (lost.call_id, lost.reason, lost.wait_seconds, lost.audience) == (
        "c1",
        "max_wait",
        300,
        "avocat",
    )
    assert acd.position("c2") == 1


def test_given_max_wait_while_ringing_then_cut_only_if_ring_fails():
    acd = make_acd(max_wait=60)
    add_op(acd, "alice", {"citoyen": 1})
    acd.enqueue(call("c1"), at(0))
    acd.enqueue(call("c2"), at(1))
    acd.dispatch(at(50))
    [lost] = acd.tick(at(61))  # c2 is cut; c1, ringing, is left to ring
    assert isinstance(lost, CallLost) and lost.call_id == "c2"
    assert acd.call("c1").state is CallState.RINGING
    acd.ring_failed("c1", "alice", at(62), "declined")
    [lost] = [e for e in acd.tick(at(63)) if isinstance(e, CallLost)]
    assert lost.call_id == "c1" and lost.wait_seconds == 63


def test_given_cut_by_the_app_then_call_lost_with_its_reason():
    acd = make_acd()
    add_op(acd, "alice", {"citoyen": 1})
    acd.enqueue(call("c1"), at(0))
    acd.dispatch(at(0))
    events = acd.cut("c1", at(4), "closing")
    assert [type(e) for e in events] == [CallLost, OfferFailed, OperatorStateChanged]
    assert events[0].reason == "closing" and events[1].reason == "call_lost"
    assert state(acd, "alice") is OperatorState.AVAILABLE


def test_given_operator_pauses_or_logs_out_while_ringing_then_call_requeued():
    acd = make_acd()
    add_op(acd, "alice", {"citoyen": 1}, login_at=0)
    add_op(acd, "bob", {"citoyen": 1}, login_at=1)
    acd.enqueue(call("c1"), at(2))
    acd.dispatch(at(2))
    events = acd.pause("alice", "réunion", at(3))
    assert events[0].reason == "operator_paused"
    assert offered(acd.dispatch(at(3))) == [("c1", "bob")]
    events = acd.logout("bob", at(4))
    assert events[0].reason == "operator_logged_out"
    assert acd.call("c1").state is CallState.WAITING and acd.position("c1") == 1
    assert state(acd, "bob") is OperatorState.LOGGED_OUT


# --------------------------------------------------------------------------- queries


def test_position_and_expected_wait():
    acd = make_acd(wrap_up=30, default_handling_time=180)
    add_op(acd, "alice", {"citoyen": 1}, login_at=0)
    add_op(acd, "bob", {"citoyen": 1}, login_at=0)
    acd.pause("bob", "formation", at(0))
    add_op(acd, "carol", {"avocat": 1}, login_at=0)
    acd.enqueue(call("first"), at(0))
    acd.dispatch(at(0))
    acd.ring_answered("first", "alice", at(10))
    for i in range(3):
        acd.enqueue(call(f"c{i}"), at(1 + i))
    assert [acd.position(f"c{i}") for i in range(3)] == [1, 2, 3]
    # one active skilled operator (bob is paused), no history: default 180 s per call
    assert acd.expected_wait("c2", at(5)) == 3 * 180
    acd.unpause("bob", at(5))
    assert offered(acd.dispatch(at(5))) == [("c0", "bob")]
    acd.ring_answered("c0", "bob", at(6))
    assert [acd.position(f"c{i}") for i in (1, 2)] == [1, 2]
    assert acd.expected_wait("c2", at(5)) == 2 * 180 / 2
    acd.call_ended("first", at(70))  # talk 60 s + wrap-up 30 s = 90 s handled
    acd.tick(at(100))
    assert acd.mean_handling_time("citoyen", at(100)) == 90
    assert acd.expected_wait("c1", at(100)) == 1 * 90 / 2
    # old history no longer counts
    assert acd.mean_handling_time("citoyen", at(100 + 3601)) == 180
    with pytest.raises(AcdError) as err:
        acd.position("first")
    assert err.value.error_id == "call_not_found"


def test_snapshot_for_the_wallboard():
    acd = make_acd()
    add_op(acd, "alice", {"citoyen": 1}, login_at=0)
    add_op(acd, "bob", {"avocat": 2}, login_at=None)
    acd.enqueue(call("c1"), at(10))
    acd.enqueue(call("c2"), at(20))
    acd.dispatch(at(20))
    snap = acd.snapshot(at(50))
    assert snap["queues"]["citoyen"] == {
        "waiting": 1,
        "ringing": 1,
        "on_call": 0,
        "longest_wait_seconds": 40.0,
        "operators_logged_in": 1,
        "operators_available": 0,
    }
    assert snap["queues"]["avocat"]["waiting"] == 0
    assert snap["queues"]["avocat"]["operators_logged_in"] == 0
    assert snap["operators"]["alice"]["state"] == "ringing"
    assert snap["operators"]["alice"]["since"] == at(20).isoformat()
    assert snap["operators"]["alice"]["call_id"] == "c1"
    assert snap["operators"]["bob"]["state"] == "logged_out"


# --------------------------------------------------------------------------- restart


def test_given_restart_then_restored_calls_keep_their_order_and_wait():
    before = make_acd()
    before.enqueue(call("old"), at(0))
    before.enqueue(call("young"), at(30))
    # the app restarts: a fresh ACD rebuilt from Asterisk's channels, in any order
    acd = make_acd(wrap_up=0)
    add_op(acd, "alice", {"citoyen": 1}, login_at=None)
    add_op(acd, "bob", {"citoyen": 1}, login_at=60)
    [restored] = acd.restore_waiting(call("young"), at(30))
    assert restored.restored is True and restored.entered_at == at(30)
    acd.restore_waiting(call("old"), at(0))
    events = acd.restore_on_call(call("talking"), "alice", at(40))
    assert [(e.old, e.new, e.reason) for e in events] == [
        (OperatorState.LOGGED_OUT, OperatorState.ON_CALL, "restored")
    ]
    assert acd.position("old") == 1 and acd.position("young") == 2
    assert offered(acd.dispatch(at(61))) == [("old", "bob")]
    assert acd.ring_answered("old", "bob", at(65))[0].wait_seconds == 65
    acd.call_ended("talking", at(100))
    assert state(acd, "alice") is OperatorState.AVAILABLE
    assert offered(acd.dispatch(at(100))) == [("young", "alice")]
    acd.check_invariants()


# --------------------------------------------------------------------------- invalid commands


def _ringing_acd() -> Acd:
    acd = make_acd()
    add_op(acd, "alice", {"citoyen": 1}, login_at=0)
    add_op(acd, "bob", {"citoyen": 1}, login_at=0)
    add_op(acd, "out", {"citoyen": 1}, login_at=None)
    acd.enqueue(call("c1"), at(1))
    acd.enqueue(call("c2"), at(2))
    acd.dispatch(at(2))  # c1 -> alice, c2 -> bob
    acd.ring_answered("c2", "bob", at(3))
    acd.enqueue(call("c3"), at(4))
    acd.pull_events()
    return acd


INVALID = [
    ("operator_not_found", lambda a: a.login("nobody", at(5))),
    ("operator_not_found", lambda a: a.ring_answered("c1", "nobody", at(5))),
    ("operator_logged_out", lambda a: a.pause("out", "pause", at(5))),
    ("operator_logged_out", lambda a: a.logout("out", at(5))),
    ("operator_already_logged_in", lambda a: a.login("alice", at(5))),
    ("operator_not_paused", lambda a: a.unpause("alice", at(5))),
    ("operator_on_call", lambda a: a.pause("bob", "pause", at(5))),
    ("operator_on_call", lambda a: a.logout("bob", at(5))),
    ("operator_not_in_wrap_up", lambda a: a.end_wrap_up("alice", at(5))),
    ("invalid_pause_reason", lambda a: a.pause("alice", "  ", at(5))),
    ("offer_not_found", lambda a: a.ring_answered("c3", "alice", at(5))),
    ("offer_not_found", lambda a: a.ring_answered("c1", "bob", at(5))),
    ("offer_not_found", lambda a: a.ring_failed("c2", "bob", at(5), "timeout")),
    ("invalid_ring_failure_reason", lambda a: a.ring_failed("c1", "alice", at(5), "bored")),
    ("call_not_found", lambda a: a.abandon("nope", at(5))),
    ("call_not_found", lambda a: a.ring_answered("nope", "alice", at(5))),
    ("call_answered", lambda a: a.abandon("c2", at(5))),
    ("call_answered", lambda a: a.cut("c2", at(5), "closing")),
    ("invalid_lost_reason", lambda a: a.cut("c3", at(5), "")),
    ("call_not_answered", lambda a: a.call_ended("c1", at(5))),
    ("call_exists", lambda a: a.enqueue(call("c3"), at(5))),
    ("call_exists", lambda a: a.restore_waiting(call("c1"), at(5))),
    ("queue_not_found", lambda a: a.enqueue(call("c9", "inconnu"), at(5))),
    ("queue_not_found", lambda a: a.has_logged_in_operator_for("inconnu")),
    ("operator_busy", lambda a: a.restore_on_call(call("c9"), "bob", at(5))),
    ("invalid_time", lambda a: a.enqueue(call("c9"), datetime(2025, 3, 3, 9, 0))),
    (
        "invalid_time",
        lambda a: a.dispatch(at(5).astimezone(timezone(timedelta(hours=1)))),
    ),
    ("invalid_skill", lambda a: a.register_operator("zed", "Zed", "PJSIP/zed", {"avocat": 6})),
    ("invalid_skill", lambda a: a.register_operator("alice", "A", "PJSIP/a", {"avocat": 0})),
    ("invalid_call", lambda a: a.enqueue(call(""), at(5))),
]


@pytest.mark.parametrize(("error_id", "command"), INVALID, ids=[e for e, _ in INVALID])
def test_invalid_commands_raise_with_ids_and_leave_state_unchanged(error_id, command):
    acd = _ringing_acd()
    before = acd.snapshot(at(5))
    calls_before = {c: acd.call(c) for c in ("c1", "c2", "c3")}
    ops_before = {o: acd.operator(o) for o in ("alice", "bob", "out")}
    with pytest.raises(AcdError) as err:
        command(acd)
    assert err.value.error_id == error_id
    assert acd.snapshot(at(5)) == before
    assert {c: acd.call(c) for c in ("c1", "c2", "c3")} == calls_before
    assert {o: acd.operator(o) for o in ("alice", "bob", "out")} == ops_before
    assert acd.events == []
    acd.check_invariants()


def test_invalid_settings_raise():
    with pytest.raises(AcdError) as err:
        AcdSettings(ring_timeout=0)
    assert err.value.error_id == "invalid_settings"
    with pytest.raises(AcdError) as err:
        Acd(["avocat"], queue_settings={"citoyen": AcdSettings()})
    assert err.value.error_id == "queue_not_found"


def test_per_queue_settings_override_defaults():
    acd = Acd(AUDIENCES, AcdSettings(), {"avocat": AcdSettings(ring_timeout=8, wrap_up=0)})
    add_op(acd, "alice", {"avocat": 1, "citoyen": 1})
    acd.enqueue(call("c1", "avocat"), at(0))
    [offer] = acd.dispatch(at(0))
    assert offer.ring_timeout == 8 and offer.expires_at == at(8)
    acd.ring_answered("c1", "alice", at(1))
    acd.call_ended("c1", at(2))
    assert state(acd, "alice") is OperatorState.AVAILABLE  # no wrap-up for avocat


def test_skills_updated_while_logged_in_take_effect():
    acd = make_acd()
    add_op(acd, "alice", {"citoyen": 1})
    acd.enqueue(call("c1", "avocat"), at(0))
    assert acd.dispatch(at(1)) == []
    acd.register_operator("alice", "Alice", "PJSIP/alice", {"citoyen": 1, "avocat": 2})
    assert offered(acd.dispatch(at(2))) == [("c1", "alice")]
    acd.check_invariants()


# --------------------------------------------------------------------------- property test


def reference_dispatch(acd, op_ids, call_ids, now, overflow_after):
    """The routing rules written naively (O(calls x operators) per offer), from the views."""
    views = [acd.operator(o) for o in op_ids]
    available = [o for o in views if o.state is OperatorState.AVAILABLE]
    active = [o for o in views if o.state not in (OperatorState.LOGGED_OUT, OperatorState.PAUSED)]
    waiting = [acd.call(c) for c in call_ids if acd.call(c).state is CallState.WAITING]
    waiting.sort(key=lambda c: (-c.priority, c.entered_at, int(c.call_id[1:])))
    by_idle = lambda o: (o.idle_since, o.operator_id)  # noqa: E731
    result = []
    while True:
        pick = None
        for c in waiting:
            overflow = (now - c.entered_at).total_seconds() >= overflow_after
            skilled = sorted(
                (o for o in available if c.audience in o.skills),
                key=lambda o: (-o.skills[c.audience], o.idle_since, o.operator_id),
            )
            anyone = sorted(available, key=by_idle) if overflow else []
            candidates = [o for o in skilled + anyone if o.operator_id not in c.declined_by]
            if not candidates and c.declined_by:
                pool = [o for o in active if overflow or c.audience in o.skills]
                if all(o.operator_id in c.declined_by for o in pool):
                    candidates = skilled + anyone
            if candidates:
                pick = (c, candidates[0])
                break
        if pick is None:
            return result
        c, o = pick
        result.append((c.call_id, o.operator_id))
        waiting.remove(c)
        available.remove(o)


@pytest.mark.parametrize("seed", [1, 7, 2024])
def test_random_operations_keep_the_invariants(seed):
    rng = random.Random(seed)
    acd = make_acd(
        ring_timeout=15,
        wrap_up=10,
        overflow_after=60,
        max_wait=400,
        max_missed_rings=3,
    )
    ops = [f"op{i}" for i in range(8)]
    for op_id in ops:
        skills = {a: rng.randint(1, 5) for a in AUDIENCES if rng.random() < 0.5}
        acd.register_operator(op_id, op_id, f"PJSIP/{op_id}", skills)
    t = 0.0
    next_call = 0
    enqueued: set[str] = set()
    outcomes: dict[str, list[str]] = {}
    ringing: dict[str, str] = {}  # call -> operator, from the events
    talking: dict[str, str] = {}  # call -> operator, from the events
    ok = refused = 0

    def apply(events):
        ended = []
        for e in events:
            if isinstance(e, CallOffered):
                assert e.call_id not in ringing and e.call_id not in talking, e
                busy = set(ringing.values()) | set(talking.values())
                assert e.operator_id not in busy, e
                ringing[e.call_id] = e.operator_id
            elif isinstance(e, OfferFailed):
                assert ringing.pop(e.call_id) == e.operator_id
            elif isinstance(e, CallAnswered):
                assert ringing.pop(e.call_id) == e.operator_id
                talking[e.call_id] = e.operator_id
                assert e.wait_seconds >= 0
                outcomes.setdefault(e.call_id, []).append("answered")
            elif isinstance(e, CallEnded):
                assert talking.pop(e.call_id) == e.operator_id
            elif isinstance(e, (CallAbandoned, CallLost)):
                # a ringing operator's OfferFailed follows in the same batch
                assert e.call_id not in talking
                ended.append(e.call_id)
                outcomes.setdefault(e.call_id, []).append(type(e).__name__)
        for call_id in ended:
            assert call_id not in ringing

    for _ in range(3000):
        t += rng.choice([0, 0, 0.5, 1, 2, 5, 13])
        now = at(t)
        live = list(acd._calls)  # noqa: SLF001 - test-only peek, read only
        action = rng.randrange(12)
        try:
            if action == 0:
                op_id = rng.choice(ops)
                if rng.random() < 0.6:
                    acd.login(op_id, now)
                else:
                    acd.logout(op_id, now)
            elif action == 1:
                op_id = rng.choice(ops)
                if rng.random() < 0.5:
                    acd.pause(op_id, rng.choice(["pause", "formation"]), now)
                else:
                    acd.unpause(op_id, now)
            elif action in (2, 3):
                call_id = f"c{next_call}"
                next_call += 1
                priority = rng.choice([0, 0, 0, 1])
                acd.enqueue(Call(call_id, rng.choice(AUDIENCES), "+3310", priority), now)
                enqueued.add(call_id)
            elif action == 4 and live:
                acd.abandon(rng.choice(live), now)
            elif action in (5, 6):
                expected = reference_dispatch(acd, ops, live, now, overflow_after=60)
                assert offered(acd.dispatch(now)) == expected
            elif action == 7 and live:
                # mostly a real offer, sometimes a wrong one that must be refused
                call_id = rng.choice(sorted(ringing) if ringing and rng.random() < 0.9 else live)
                op_id = ringing.get(call_id) if rng.random() < 0.9 else rng.choice(ops)
                acd.ring_answered(call_id, op_id or rng.choice(ops), now)
            elif action == 8 and live:
                call_id = rng.choice(sorted(ringing) if ringing and rng.random() < 0.8 else live)
                op_id = ringing.get(call_id) if rng.random() < 0.9 else rng.choice(ops)
                reason = rng.choice(sorted({"timeout", "declined", "busy", "unreachable"}))
                acd.ring_failed(call_id, op_id or rng.choice(ops), now, reason)
            elif action == 9 and live:
                pool = sorted(talking) if talking and rng.random() < 0.7 else live
                acd.call_ended(rng.choice(pool), now)
            elif action == 10:
                acd.end_wrap_up(rng.choice(ops), now)
            else:
                acd.tick(now)
            ok += 1
        except AcdError:
            refused += 1
            assert acd.events == []  # a refused command records nothing
        apply(acd.pull_events())
        acd.check_invariants()
        for call_id in list(ringing):
            assert acd.call(call_id).operator_id == ringing[call_id]
        for call_id, op_id in talking.items():
            assert acd.operator(op_id).state is OperatorState.ON_CALL
            assert acd.operator(op_id).call_id == call_id

    assert ok > 1000 and refused > 100
    for call_id in enqueued:
        ends = outcomes.get(call_id, [])
        still_there = call_id in acd._calls  # noqa: SLF001
        if still_there and acd.call(call_id).state is not CallState.ON_CALL:
            assert ends == [], (call_id, ends)
        else:
            assert len(ends) == 1, (call_id, ends)
    assert any(v == ["answered"] for v in outcomes.values())
    assert any(v == ["CallAbandoned"] for v in outcomes.values())
    assert any(v == ["CallLost"] for v in outcomes.values())


def test_many_calls_and_operators_are_routed_correctly():
    """A larger run (no timing assertion): every operator busy, FCFS kept per queue."""
    acd = make_acd(overflow_after=None)
    for i in range(300):
        add_op(acd, f"op{i:03d}", {AUDIENCES[i % 3]: 1 + i % 5}, login_at=i / 10)
    for i in range(3000):
        acd.enqueue(call(f"c{i:04d}", AUDIENCES[i % 3]), at(100 + i / 100))
    offers = acd.dispatch(at(200))
    assert len(offers) == 300
    assert len({o.operator_id for o in offers}) == 300
    for audience in AUDIENCES:
        served = [o.call_id for o in offers if o.audience == audience]
        assert served == sorted(served) and len(served) == 100
        first_waiting = f"c{300 + AUDIENCES.index(audience):04d}"
        assert acd.position(first_waiting) == 1
    assert acd.dispatch(at(201)) == []
    acd.check_invariants()
