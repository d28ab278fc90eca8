"""Lost-call callbacks on the real Asterisk with real SIP peers: the operator's phone rings
first, then the user's (through the "carrier" trunk, a registered pjsua2 peer that plays
the users' phones), and the journal says which lost calls were recovered and how."""

from __future__ import annotations

import asyncio
import secrets

import pytest
from sqlalchemy import select

from callback import models as m
from callback.accounting import recovered_calls
from tests.support.sip_peers import Answer, Ring

pytestmark = pytest.mark.asterisk

SUPPORT = "3900"
FAST = {"delay_seconds": 0, "cutoff_before_close_seconds": 0, "scan_seconds": 0.3, "retry_spacing_seconds": 1,
        "max_attempts": 2, "user_ring_timeout": 5, "dial_template": "PJSIP/{national}@carrier",
        "virtual_hold_after": 0}


@pytest.fixture(scope="module")
def asterisk_operators():
    """Operators op1..op3, plus the carrier trunk through which users are called back."""
    return [(f"op{i}", f"pw-op{i}-{secrets.token_hex(4)}") for i in range(1, 4)] + [
        ("carrier", f"pw-carrier-{secrets.token_hex(4)}")]


async def _callbacks(cc):
    async with cc.container.session_factory() as s:
        return list(await s.scalars(select(m.Callback).order_by(m.Callback.id)))


async def _lost(cc):
    async with cc.container.session_factory() as s:
        return list(await s.scalars(select(m.LostCall).order_by(m.LostCall.id)))


async def _wait(predicate, timeout=20.0):
    for _ in range(int(timeout * 10)):
        value = await predicate()
        if value:
            return value
        await asyncio.sleep(0.1)
    raise AssertionError("condition not met in time")


async def _abandon(cc, sip_peers, number, digit="1", after=3.0):
    call = await (await sip_peers.caller(number)).dial(SUPPORT, dtmf=[(0.3, digit)], hangup_after=after)
    await call.wait_answered()
    await call.wait_ended(timeout=20)
    await cc.wait_fact("call_abandoned")
    return call


@pytest.mark.call_center(callback=FAST)
async def test_given_abandoned_call_when_operator_frees_up_then_operator_rings_first_then_user_and_call_is_recovered(
        call_center, sip_peers):
    cc = call_center
    op = await sip_peers.operator("op1", cc.secret("op1"), behavior=Answer(after=0.5))
    user_phone = await sip_peers.operator("carrier", cc.secret("carrier"), behavior=Answer(after=1.0))
    await cc.login("op1")
    await cc.pause("op1")
    await _abandon(cc, sip_peers, "0612345678")
    [lost] = await _lost(cc)
    assert (lost.status, lost.reason, lost.caller_number) == ("pending", "abandoned", "+33612345678")
    await cc.login_unpause("op1")
    op_invite = await op.wait_invite(timeout=15)
    assert op_invite.number == "+33612345678" and op_invite.display.startswith("Rappel")
    user_invite = await user_phone.wait_invite(timeout=15)
    # Nobody is called with no one to talk to: the operator had answered before.
    assert user_invite.at > op._record(op_invite.call).answered_at
    assert user_invite.number == SUPPORT and "0612345678" in user_invite.to_header
    [recovered] = await cc.wait_fact("call_recovered")
    assert (recovered.call_id, recovered.data["by"]) == (lost.call_id, "callback")
    [attempt] = await cc.facts(kind="callback_attempted")
    assert attempt.data["outcome"] == "answered" and attempt.operator_id == cc.operators["op1"]
    [cb] = await _callbacks(cc)
    assert (cb.state, cb.attempts, cb.ticket_id is not None) == ("done", 1, True)
    async with cc.container.session_factory() as s:
        ratio = await recovered_calls(s, lost.lost_at.replace(hour=0, minute=0), lost.lost_at.replace(hour=23, minute=59))
    assert (ratio.numerator, ratio.denominator) == (1, 1)
    # Operator and user hear each other through the bridge.
    await asyncio.sleep(1.0)
    await op.hangup()


@pytest.mark.call_center(callback={**FAST, "delay_seconds": 3600})
async def test_given_user_calls_again_first_then_recovered_without_callback_and_callback_cancelled(
        call_center, sip_peers):
    cc = call_center
    op = await sip_peers.operator("op1", cc.secret("op1"), behavior=Answer(after=0.3))
    await cc.login("op1")
    await cc.pause("op1")
    await _abandon(cc, sip_peers, "0698765432")
    [cb] = await _callbacks(cc)
    assert cb.state == "scheduled"
    await cc.login_unpause("op1")
    again = await (await sip_peers.caller("0698765432")).dial(SUPPORT, dtmf=[(0.3, "1")])
    await again.wait_answered()
    await op.wait_invite(timeout=15)
    [recovered] = await cc.wait_fact("call_recovered")
    assert recovered.data["by"] == "inbound_call"
    [cb] = await _callbacks(cc)
    [lost] = await _lost(cc)
    assert (cb.state, lost.status, lost.recovered_by) == ("cancelled", "recovered", "inbound_call")
    await again.hangup()


@pytest.mark.call_center(callback=FAST)
async def test_given_user_never_answers_then_retried_up_to_the_limit_then_exhausted(call_center, sip_peers):
    cc = call_center
    await sip_peers.operator("op1", cc.secret("op1"), behavior=Answer(after=0.2))
    user_phone = await sip_peers.operator("carrier", cc.secret("carrier"), behavior=Ring())
    await cc.login("op1")
    await cc.pause("op1")
    await _abandon(cc, sip_peers, "0611223344")
    await cc.login_unpause("op1")
    await user_phone.wait_invite(1, timeout=20)
    await user_phone.wait_invite(2, timeout=30)
    attempts = await cc.wait_fact("callback_attempted", count=2, timeout=30)
    assert [a.data["outcome"] for a in attempts] == ["no_answer", "no_answer"]
    cb = (await _wait(lambda: _exhausted(cc)))
    assert (cb.state, cb.attempts, cb.last_outcome) == ("exhausted", 2, "no_answer")
    [lost] = await _lost(cc)
    assert lost.status == "pending" and lost.recovered_at is None  # unrecovered when its window ends
    assert await cc.facts(kind="call_recovered") == []


async def _exhausted(cc):
    rows = await _callbacks(cc)
    return rows[0] if rows and rows[0].state == "exhausted" else None


@pytest.mark.call_center(callback={**FAST, "virtual_hold_after": 3})
async def test_given_virtual_hold_accepted_then_call_ends_and_callback_comes_at_the_callers_turn(
        call_center, sip_peers):
    cc = call_center
    op = await sip_peers.operator("op1", cc.secret("op1"), behavior=Answer(after=0.3))
    user_phone = await sip_peers.operator("carrier", cc.secret("carrier"), behavior=Answer(after=0.5))
    await cc.login("op1")
    await cc.pause("op1")
    # A enters the queue first and accepts the callback offer (key 1 during the offer).
    a = await (await sip_peers.caller("0655443322")).dial(SUPPORT, dtmf=[(0.3, "1"), (5.5, "1")])
    await a.wait_answered()
    await asyncio.sleep(1.0)
    # B enters after A and keeps waiting on the line.
    b = await (await sip_peers.caller("0655443311")).dial(SUPPORT, dtmf=[(0.3, "1")])
    await b.wait_answered()
    rec = await a.wait_ended(timeout=30)
    assert rec.ended_by == "remote"  # the service confirmed and hung up
    [requested] = await cc.wait_fact("callback_requested")
    assert await cc.facts(requested.call_id, "call_abandoned") == []  # not an abandonment
    [cb] = await _wait(lambda: _callbacks(cc))
    assert cb.kind == "virtual_hold"
    await cc.login_unpause("op1")
    first = await op.wait_invite(1, timeout=15)
    assert first.display.startswith("Rappel") and first.number == "+33655443322"  # A's turn came first
    await user_phone.wait_invite(timeout=15)
    [recovered] = await cc.wait_fact("call_recovered")
    assert (recovered.call_id, recovered.data["by"]) == (requested.call_id, "callback")
    await op.hangup()
    second = await op.wait_invite(2, timeout=20)
    assert second.number == "0655443311"  # then B, who was still waiting
    await b.hangup()


@pytest.mark.call_center(callback=FAST)
async def test_given_anonymous_caller_abandons_then_counted_but_not_recoverable(call_center, sip_peers):
    cc = call_center
    await sip_peers.operator("op1", cc.secret("op1"))
    await cc.login("op1")
    await cc.pause("op1")
    await _abandon(cc, sip_peers, "anonymous")
    [lost] = await _lost(cc)
    assert (lost.status, lost.caller_number, lost.recover_by) == ("not_recoverable", None, None)
    assert await _callbacks(cc) == []
    async with cc.container.session_factory() as s:
        ratio = await recovered_calls(s, lost.lost_at.replace(hour=0, minute=0), lost.lost_at.replace(hour=23, minute=59))
    assert (ratio.numerator, ratio.denominator) == (0, 1)
