"""The chat dispatcher (pure): queues per audience, skills with levels, least loaded then
longest idle, capacity per operator, offers that expire or are declined, resume windows,
operators lost and their chats requeued."""

from datetime import UTC, datetime, timedelta

import pytest

from chatgw.dispatch import (
    AUTO_PAUSE_REASON,
    ChatAnswered,
    ChatDispatcher,
    ChatEnded,
    ChatOffered,
    ChatRequeued,
    DispatchError,
    DispatchSettings,
    OfferFailed,
)

T0 = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
AUDIENCES = ["avocat", "administration", "citoyen"]


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def make(**settings) -> ChatDispatcher:
    return ChatDispatcher(AUDIENCES, DispatchSettings(**settings))


def online(d: ChatDispatcher, op: str, skills: dict[str, int], now: datetime = T0, capacity: int | None = None):
    d.register_operator(op, skills, capacity)
    d.operator_connected(op, now)
    d.make_available(op, now)


def offers_of(events) -> list[tuple[str, str]]:
    return [(e.conversation_id, e.operator_id) for e in events if isinstance(e, ChatOffered)]


def serve(d: ChatDispatcher, now: datetime) -> list[tuple[str, str]]:
    """Dispatch and accept every offer at once."""
    done = []
    for offer in d.dispatch(now):
        d.accept(offer.conversation_id, offer.operator_id, now)
        done.append((offer.conversation_id, offer.operator_id))
    d.check_invariants()
    return done


def test_given_skilled_operators_then_highest_level_gets_the_chat_first():
    d = make()
    online(d, "1", {"citoyen": 2})
    online(d, "2", {"citoyen": 5})
    d.enqueue("c1", "citoyen", at(1))
    assert offers_of(d.dispatch(at(1))) == [("c1", "2")]


def test_given_same_level_then_least_loaded_then_longest_idle():
    d = make()
    online(d, "1", {"citoyen": 3}, at(0))
    online(d, "2", {"citoyen": 3}, at(5))
    d.enqueue("c1", "citoyen", at(10))
    assert serve(d, at(10)) == [("c1", "1")]  # idle since 0, longer than 2 (since 5)
    d.enqueue("c2", "citoyen", at(11))
    assert serve(d, at(11)) == [("c2", "2")]  # 1 now holds one chat: 2 is less loaded
    d.enqueue("c3", "citoyen", at(12))
    assert serve(d, at(12)) == [("c3", "1")]  # both hold one: 1's last chat is older


def test_given_capacity_three_then_a_fourth_chat_waits_with_its_position():
    d = make(max_chats=3)
    online(d, "1", {"avocat": 3})
    for i in range(5):
        d.enqueue(f"c{i}", "avocat", at(i))
    served = []  # one offer at a time per operator: one chat per round
    for _ in range(5):
        served += serve(d, at(10))
    assert served == [("c0", "1"), ("c1", "1"), ("c2", "1")]
    assert d.operator("1")["load"] == 3
    assert d.position("c3") == 1 and d.position("c4") == 2
    d.end("c1", at(20), "operator_closed")
    assert serve(d, at(20)) == [("c3", "1")]
    assert d.position("c4") == 1


def test_serve_helper_accepts_one_offer_per_dispatch():
    # (the helper above: each dispatch makes at most one offer per free operator)
    d = make()
    online(d, "1", {"citoyen": 1})
    online(d, "2", {"citoyen": 1})
    d.enqueue("a", "citoyen", at(1))
    d.enqueue("b", "citoyen", at(2))
    d.enqueue("c", "citoyen", at(3))
    assert sorted(serve(d, at(4))) == [("a", "1"), ("b", "2")]


def test_oldest_chat_across_queues_is_served_first():
    d = make()
    d.enqueue("young", "avocat", at(5))
    d.enqueue("old", "citoyen", at(1))
    online(d, "1", {"avocat": 1, "citoyen": 1}, at(6))
    assert offers_of(d.dispatch(at(6))) == [("old", "1")]


def test_given_no_skill_then_the_chat_waits_until_overflow():
    d = make(overflow_after=60)
    online(d, "1", {"avocat": 3})
    d.enqueue("c1", "citoyen", at(0))
    assert d.dispatch(at(30)) == []
    offers = d.dispatch(at(60))
    assert offers_of(offers) == [("c1", "1")] and offers[0].overflow


def test_declined_offer_goes_to_someone_else_then_back_when_nobody_else_is_left():
    d = make()
    online(d, "1", {"citoyen": 5})
    online(d, "2", {"citoyen": 1})
    d.enqueue("c1", "citoyen", at(0))
    assert offers_of(d.dispatch(at(1))) == [("c1", "1")]
    failed = d.decline("c1", "1", at(2))
    assert isinstance(failed[0], OfferFailed) and failed[0].reason == "declined"
    assert offers_of(d.dispatch(at(2))) == [("c1", "2")]
    d.decline("c1", "2", at(3))
    # Everyone who could take it declined: a new round, best operator first.
    assert offers_of(d.dispatch(at(3))) == [("c1", "1")]
    d.check_invariants()


def test_expired_offers_pause_an_absent_operator():
    d = make(offer_timeout=30, max_missed_offers=2)
    online(d, "1", {"citoyen": 3})
    d.enqueue("c1", "citoyen", at(0))
    d.dispatch(at(0))
    events = d.tick(at(30))
    assert [e.reason for e in events if isinstance(e, OfferFailed)] == ["timeout"]
    assert d.position("c1") == 1  # back in the queue, at its place
    d.dispatch(at(30))
    d.tick(at(60))
    view = d.operator("1")
    assert view["status"] == "paused" and view["pause_reason"] == AUTO_PAUSE_REASON
    assert d.dispatch(at(61)) == []


def test_answer_carries_the_wait_from_queue_entry():
    d = make()
    d.enqueue("c1", "avocat", at(0))
    online(d, "1", {"avocat": 1}, at(40))
    d.dispatch(at(40))
    (answered,) = d.accept("c1", "1", at(45))
    assert isinstance(answered, ChatAnswered) and answered.wait_seconds == 45 and not answered.reassigned


def test_accepting_someone_elses_offer_is_refused():
    d = make()
    online(d, "1", {"avocat": 1})
    online(d, "2", {"avocat": 1}, at(1))
    d.enqueue("c1", "avocat", at(2))
    d.dispatch(at(2))
    with pytest.raises(DispatchError) as err:
        d.accept("c1", "2", at(3))
    assert err.value.error_id == "offer_not_found"


def test_user_who_does_not_come_back_ends_the_chat_after_the_resume_window():
    d = make(resume_window=120)
    d.enqueue("c1", "citoyen", at(0))
    d.user_disconnected("c1", at(10))
    assert d.tick(at(100)) == []
    d.user_reconnected("c1", at(100))
    d.user_disconnected("c1", at(110))
    (ended,) = [e for e in d.tick(at(230)) if isinstance(e, ChatEnded)]
    assert ended.reason == "abandoned" and not ended.answered
    assert not d.has_chat("c1")


def test_user_left_after_an_answer_is_not_an_abandonment():
    d = make(resume_window=60)
    online(d, "1", {"citoyen": 1})
    d.enqueue("c1", "citoyen", at(0))
    serve(d, at(1))
    d.user_disconnected("c1", at(10))
    (ended,) = [e for e in d.tick(at(70)) if isinstance(e, ChatEnded)]
    assert ended.reason == "user_left" and ended.answered and ended.operator_id == "1"
    assert d.operator("1")["load"] == 0


def test_lost_operator_keeps_chats_during_grace_then_they_are_requeued_at_their_place():
    d = make(operator_grace=60)
    online(d, "1", {"citoyen": 1})
    d.enqueue("c1", "citoyen", at(0))
    serve(d, at(1))
    d.enqueue("c2", "citoyen", at(5))
    d.operator_disconnected("1", at(10))
    assert d.operator("1")["status"] == "paused"
    assert not [e for e in d.tick(at(30)) if isinstance(e, ChatRequeued)]
    d.operator_connected("1", at(40))  # came back in time: nothing lost
    d.operator_disconnected("1", at(50))
    events = d.tick(at(110))
    assert [e.conversation_id for e in events if isinstance(e, ChatRequeued)] == ["c1"]
    assert d.position("c1") == 1 and d.position("c2") == 2  # c1 entered first
    online(d, "2", {"citoyen": 1}, at(111))
    offers = d.dispatch(at(111))
    assert offers_of(offers) == [("c1", "2")]
    (answered,) = d.accept("c1", "2", at(112))
    assert answered.reassigned
    d.check_invariants()


def test_pause_withdraws_the_pending_offer_without_counting_a_miss():
    d = make()
    online(d, "1", {"citoyen": 1})
    d.enqueue("c1", "citoyen", at(0))
    d.dispatch(at(0))
    events = d.pause("1", at(1))
    assert [(e.reason, e.consecutive_misses) for e in events if isinstance(e, OfferFailed)] == [("withdrawn", 0)]
    assert d.position("c1") == 1


def test_ending_an_offered_chat_frees_the_operator():
    d = make()
    online(d, "1", {"citoyen": 1})
    d.enqueue("c1", "citoyen", at(0))
    d.dispatch(at(0))
    events = d.end("c1", at(1), "user_ended")
    assert [type(e).__name__ for e in events] == ["OfferFailed", "ChatEnded"]
    assert d.operator("1")["load"] == 0 and d.operator("1")["offer"] is None


def test_restored_chats_keep_their_entry_time_and_operator():
    d = make()
    d.register_operator("1", {"avocat": 2})
    d.restore_active("a1", "avocat", "1", at(0), at(5), at(100))
    d.restore_waiting("w1", "avocat", at(50), at(100))
    d.restore_waiting("w0", "avocat", at(10), at(100))
    assert d.position("w0") == 1 and d.position("w1") == 2
    assert d.operator("1")["chats"] == ["a1"]
    d.check_invariants()


def test_commands_refuse_naive_times_and_unknown_things():
    d = make()
    with pytest.raises(DispatchError):
        d.enqueue("c", "citoyen", datetime(2026, 1, 1))
    with pytest.raises(DispatchError):
        d.enqueue("c", "martien", T0)
    with pytest.raises(DispatchError):
        d.make_available("nobody", T0)
    with pytest.raises(DispatchError):
        d.register_operator("x", {"avocat": 9})


def test_many_chats_and_operators_stay_consistent():
    import random

    rng = random.Random(7)
    d = make(max_chats=3, offer_timeout=20)
    for i in range(30):
        online(d, str(i), {a: rng.randint(1, 5) for a in rng.sample(AUDIENCES, rng.randint(1, 3))})
    live: set[str] = set()
    for step in range(2000):
        now = at(step)
        r = rng.random()
        if r < 0.4:
            cid = f"c{step}"
            d.enqueue(cid, rng.choice(AUDIENCES), now)
            live.add(cid)
        elif r < 0.6 and live:
            cid = rng.choice(sorted(live))
            d.end(cid, now, "user_ended")
            live.discard(cid)
        for offer in d.dispatch(now):
            if rng.random() < 0.8:
                d.accept(offer.conversation_id, offer.operator_id, now)
            else:
                d.decline(offer.conversation_id, offer.operator_id, now)
        d.tick(now)
        d.check_invariants()
        for op in range(30):
            assert d.operator(str(op))["load"] <= 3
