"""Calls through the real Asterisk, the Stasis application and the ACD, with real SIP
peers (pjsua2) as callers and operators' softphones. Each test asserts what the journal
recorded against what the peers experienced."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest

from telephony import models as calls
from tests.support.sip_peers import Answer, Reject, Ring
from ticket_core.calendar_store import add_exception

pytestmark = pytest.mark.asterisk

SUPPORT = "3900"


def kinds(events):
    return [e.kind for e in events]


@pytest.mark.parametrize("call_center", ["sqlite", "postgresql"], indirect=True)
async def test_given_available_operator_when_lawyer_calls_then_answered_under_40s_with_ticket(
        call_center, sip_peers):
    cc = call_center
    op = await sip_peers.operator("op1", cc.secret("op1"), behavior=Answer(after=1.0))
    await cc.login("op1")
    caller = await sip_peers.caller("0612345678")
    call = await caller.dial(SUPPORT, dtmf=[(0.5, "1")])
    await call.wait_answered()
    invite = await op.wait_invite(timeout=15)
    # The operator's phone shows the caller's number, and the audience chosen in the IVR.
    assert (invite.number, invite.display) == ("0612345678", "avocat")
    [row] = await cc.wait_calls(1)
    [answered] = await cc.wait_fact("call_answered", call_id=row.id)
    await asyncio.sleep(1.5)  # talk a little: media must flow both ways through the bridge
    await call.hangup()
    await cc.wait_fact("call_ended", call_id=row.id)
    facts = await cc.facts(row.id)
    assert kinds(facts) == ["call_received", "call_presented", "call_offered", "call_answered",
                            "ticket_created", "call_ended"]
    presented = next(e for e in facts if e.kind == "call_presented")
    assert presented.queue == "avocat"
    # The wait the caller lived: from its key press to the operator picking up.
    op_answer = op._record(invite.call).answered_at
    dtmf_at = call.record.dtmf_sent[0][0]
    assert answered.data["wait_seconds"] == pytest.approx(op_answer - dtmf_at, abs=1.0)
    assert answered.data["wait_seconds"] < 40
    assert answered.operator_id == cc.operators["op1"]
    ticket = await cc.ticket_of(row.id)
    assert (ticket.channel, ticket.audience_code, ticket.assignee_id) == ("phone", "avocat", cc.operators["op1"])
    [row] = await cc.calls()
    assert (row.outcome, row.caller_number, row.audience) == ("answered", "+33612345678", "avocat")
    assert row.requester_id == ticket.requester_id is not None
    # Both parties heard each other: RTP flowed both ways once bridged.
    await op.wait_call(invite.call, lambda r: r.ended, 10)
    assert op._record(invite.call).rtp_rx > 25 and call.record.rtp_rx > 25  # > 0.5 s of 20 ms packets


async def test_given_operator_logs_in_after_45s_then_call_answered_late(call_center, sip_peers):
    cc = call_center
    op = await sip_peers.operator("op1", cc.secret("op1"), behavior=Answer(after=0.0))
    await cc.login("op1")
    await cc.pause("op1")  # logged in (the caller waits) but not taking calls
    caller = await sip_peers.caller("0145678901")
    call = await caller.dial(SUPPORT, dtmf=[(0.3, "2")])
    await call.wait_answered()
    [row] = await cc.wait_calls(1)
    await cc.wait_fact("call_presented", call_id=row.id)
    t_presented = time.monotonic()
    await asyncio.sleep(41)
    cc.acd.acd.unpause(str(cc.operators["op1"]), cc.container.clock())
    await cc.acd.flush()
    await cc.telephony.app.dispatch()
    await op.wait_invite(timeout=15)
    [answered] = await cc.wait_fact("call_answered", call_id=row.id)
    assert answered.data["wait_seconds"] == pytest.approx(time.monotonic() - t_presented, abs=1.5)
    assert answered.data["wait_seconds"] > 40  # counted late for T2-IQ01
    assert answered.queue == "administration"
    await call.hangup()


async def test_given_paused_operator_when_caller_hangs_up_while_waiting_then_abandoned_with_wait(
        call_center, sip_peers):
    cc = call_center
    await sip_peers.operator("op1", cc.secret("op1"))
    await cc.login("op1")
    await cc.pause("op1")
    caller = await sip_peers.caller("0611111111")
    call = await caller.dial(SUPPORT, dtmf=[(0.3, "3")], hangup_after=6.0)
    await call.wait_answered()
    rec = await call.wait_ended(timeout=20)
    [row] = await cc.wait_calls(1)
    [abandoned] = await cc.wait_fact("call_abandoned", call_id=row.id)
    # waited from its key press until it hung up
    lived = rec.ended_at - call.record.dtmf_sent[0][0]
    assert abandoned.data["wait_seconds"] == pytest.approx(lived, abs=1.0)
    assert kinds(await cc.facts(row.id)) == ["call_received", "call_presented", "call_abandoned"]
    [row] = await cc.calls()
    assert (row.outcome, row.ticket_id) == ("abandoned", None)


async def test_given_no_operator_logged_in_when_call_arrives_then_caller_is_told_and_call_is_lost(
        call_center, sip_peers):
    cc = call_center
    caller = await sip_peers.caller("0622222222")
    call = await caller.dial(SUPPORT, dtmf=[(0.3, "1")])
    await call.wait_answered()
    rec = await call.wait_ended(timeout=40)
    assert rec.ended_by == "remote"  # the service hung up after its message
    [row] = await cc.wait_calls(1)
    [lost] = await cc.wait_fact("call_lost", call_id=row.id)
    assert lost.data["reason"] == "no_operator"
    # the caller heard the message (RTP from Asterisk) before the hang-up
    assert rec.ended_at - rec.answered_at > 3
    assert rec.rtp_rx > 100


async def test_given_first_operator_declines_then_next_operator_rings_and_answers(call_center, sip_peers):
    cc = call_center
    await cc.set_skills("op1", {"avocat": 5})  # preferred: higher level
    await cc.set_skills("op2", {"avocat": 2})
    op1 = await sip_peers.operator("op1", cc.secret("op1"), behavior=Reject(486))
    op2 = await sip_peers.operator("op2", cc.secret("op2"), behavior=Answer(after=0.5))
    await cc.login("op1", "op2")
    caller = await sip_peers.caller("0633333333")
    call = await caller.dial(SUPPORT, dtmf=[(0.3, "1")])
    await call.wait_answered()
    first = await op1.wait_invite(timeout=15)
    second = await op2.wait_invite(timeout=15)
    assert second.at > first.at
    [row] = await cc.wait_calls(1)
    [answered] = await cc.wait_fact("call_answered", call_id=row.id)
    assert answered.operator_id == cc.operators["op2"]
    [failed] = await cc.facts(row.id, "call_offer_failed")
    assert (failed.operator_id, failed.data["reason"]) == (cc.operators["op1"], "busy")
    await call.hangup()


async def test_given_one_operator_and_two_callers_then_first_come_first_served(call_center, sip_peers):
    cc = call_center
    op = await sip_peers.operator("op1", cc.secret("op1"), behavior=Answer(after=0.5, hangup_after=2.0))
    await cc.login("op1")
    await cc.pause("op1")
    first = await (await sip_peers.caller("0644444441")).dial(SUPPORT, dtmf=[(0.3, "3")])
    await first.wait_answered()
    await asyncio.sleep(1.5)
    second = await (await sip_peers.caller("0644444442")).dial(SUPPORT, dtmf=[(0.3, "3")])
    await second.wait_answered()
    await cc.wait_fact("call_presented", count=2)
    cc.acd.acd.unpause(str(cc.operators["op1"]), cc.container.clock())
    await cc.acd.flush()
    await cc.telephony.app.dispatch()
    a = await op.wait_invite(1, timeout=15)
    b = await op.wait_invite(2, timeout=25)
    assert [a.number, b.number] == ["0644444441", "0644444442"]
    answered = await cc.wait_fact("call_answered", count=2)
    assert answered[0].data["wait_seconds"] < answered[1].data["wait_seconds"] + 10


async def test_given_paused_operator_then_skipped_for_an_available_one(call_center, sip_peers):
    cc = call_center
    await cc.set_skills("op1", {"citoyen": 5})
    await cc.set_skills("op2", {"citoyen": 1})
    op1 = await sip_peers.operator("op1", cc.secret("op1"))
    op2 = await sip_peers.operator("op2", cc.secret("op2"), behavior=Answer(after=0.3))
    await cc.login("op1", "op2")
    await cc.pause("op1", "formation")
    call = await (await sip_peers.caller("0655555555")).dial(SUPPORT, dtmf=[(0.3, "3")])
    await call.wait_answered()
    await op2.wait_invite(timeout=15)
    [answered] = await cc.wait_fact("call_answered")
    assert answered.operator_id == cc.operators["op2"]
    assert op1.invites == []
    await call.hangup()


@pytest.mark.call_center(overflow_after=4)
async def test_given_only_unskilled_operator_when_overflow_wait_passes_then_call_overflows(call_center, sip_peers):
    cc = call_center
    await cc.set_skills("op1", {"avocat": 3})  # no skill for administrations
    op1 = await sip_peers.operator("op1", cc.secret("op1"), behavior=Answer(after=0.2))
    await cc.login("op1")
    call = await (await sip_peers.caller("0666666666")).dial(SUPPORT, dtmf=[(0.3, "2")])
    await call.wait_answered()
    [row] = await cc.wait_calls(1)
    await cc.wait_fact("call_presented", call_id=row.id)
    t0 = time.monotonic()
    invite = await op1.wait_invite(timeout=15)
    assert invite.at - t0 >= 3.0  # not before the overflow wait
    [offer] = await cc.facts(row.id, "call_offered")
    assert offer.data["overflow"] is True
    [answered] = await cc.wait_fact("call_answered", call_id=row.id)
    assert answered.data["wait_seconds"] >= 4
    await call.hangup()


async def test_given_ivr_timeout_then_default_queue(call_center, sip_peers):
    cc = call_center
    op = await sip_peers.operator("op1", cc.secret("op1"), behavior=Answer(after=0.2))
    await cc.login("op1")
    call = await (await sip_peers.caller("0677777777")).dial(SUPPORT)  # presses nothing
    await call.wait_answered()
    invite = await op.wait_invite(timeout=20)
    assert invite.display == "citoyen"
    [presented] = await cc.wait_fact("call_presented")
    assert presented.queue == "citoyen"
    await call.hangup()


async def test_given_closed_day_when_call_arrives_then_closed_message_and_journaled_outside_hours(
        call_center, sip_peers):
    cc = call_center
    today = datetime.now(UTC).astimezone(cc.container.settings.opening_hours.zone).date()
    async with cc.container.session_factory() as s:
        await add_exception(s, day=today, kind="closure", note="test")
        await s.commit()
    await sip_peers.operator("op1", cc.secret("op1"))
    await cc.login("op1")
    call = await (await sip_peers.caller("0688888888")).dial(SUPPORT)
    await call.wait_answered()
    rec = await call.wait_ended(timeout=40)
    assert rec.ended_by == "remote"
    assert rec.ended_at - rec.answered_at > 5  # the whole closed message was played
    [row] = await cc.wait_calls(1)
    assert kinds(await cc.facts(row.id)) == ["call_received_outside_hours"]
    assert row.outcome == calls.OUTSIDE_HOURS


async def test_given_operator_hangs_up_first_then_caller_is_released_and_operator_wraps_up(call_center, sip_peers):
    cc = call_center
    op = await sip_peers.operator("op1", cc.secret("op1"), behavior=Answer(after=0.2, hangup_after=2.0))
    await cc.login("op1")
    call = await (await sip_peers.caller("0699999999")).dial(SUPPORT, dtmf=[(0.3, "1")])
    await call.wait_answered()
    await op.wait_invite(timeout=15)
    rec = await call.wait_ended(timeout=20)
    assert rec.ended_by == "remote"
    [ended] = await cc.wait_fact("call_ended")
    assert ended.data["talk_seconds"] == pytest.approx(2.0, abs=1.0)



async def test_given_feature_codes_dialled_on_the_softphone_then_operator_state_follows(call_center, sip_peers):
    cc = call_center
    phone = await sip_peers.operator("op3", cc.secret("op3"))
    op = str(cc.operators["op3"])
    for code, state in (("*50", "available"), ("*52", "paused"), ("*53", "available"), ("*51", "logged_out")):
        call = await phone.dial(code)
        rec = await call.wait_ended(timeout=20)
        assert rec.answered and rec.ended_by == "remote"  # confirmation played, then hung up
        assert cc.acd.acd.operator(op).state == state
    facts = await cc.facts(kind="operator_state_changed")
    assert [(f.data["old"], f.data["new"]) for f in facts] == [
        ("logged_out", "available"), ("available", "paused"), ("paused", "available"), ("available", "logged_out")]
    assert {f.operator_id for f in facts} == {cc.operators["op3"]}


async def test_given_unknown_phone_dials_feature_code_then_refused_politely(call_center, sip_peers):
    cc = call_center
    # op4 has a softphone account but is not an operator user here: a desk phone, say.
    async with cc.container.session_factory() as s:
        from accounts.models import User

        user = await s.get(User, cc.operators["op4"])
        user.role = "supervisor"
        await s.commit()
        await cc.acd.load_roster(s)
    cc.acd.acd._ops.pop(str(cc.operators["op4"]), None)  # forget the roster entry loaded at start
    phone = await sip_peers.operator("op4", cc.secret("op4"))
    rec = await (await phone.dial("*50")).wait_ended(timeout=20)
    assert rec.answered and rec.ended_by == "remote"
    assert await cc.facts(kind="operator_state_changed") == []


async def test_given_ivr_handler_crashes_then_caller_falls_back_to_the_default_queue_and_is_answered(
        call_center, sip_peers):
    cc = call_center
    op = await sip_peers.operator("op1", cc.secret("op1"), behavior=Answer(after=0.2))
    await cc.login("op1")

    async def broken_ivr(leg):
        raise RuntimeError("bug in the IVR")

    cc.telephony.app._ivr = broken_ivr
    call = await (await sip_peers.caller("0612300000")).dial(SUPPORT, dtmf=[(0.3, "1")])
    await call.wait_answered()
    invite = await op.wait_invite(timeout=15)
    assert invite.display == "citoyen"  # the default queue, not silence
    await cc.wait_fact("call_answered")
    await call.hangup()


async def test_given_ari_fails_to_start_music_then_caller_hears_the_incident_message_and_call_is_lost(
        call_center, sip_peers):
    """A fake failure (ARI answering 500) that the real Asterisk will not produce on demand."""
    from telephony.ari import AriError

    cc = call_center
    await sip_peers.operator("op1", cc.secret("op1"))
    await cc.login("op1")
    await cc.pause("op1")

    async def failing_moh(channel_id, moh_class=None):
        raise AriError(500, "POST", f"/channels/{channel_id}/moh", "Internal Server Error")

    cc.telephony.app.ari.start_moh = failing_moh
    call = await (await sip_peers.caller("0612300001")).dial(SUPPORT, dtmf=[(0.3, "1")])
    await call.wait_answered()
    rec = await call.wait_ended(timeout=30)
    assert rec.ended_by == "remote" and rec.ended_at - rec.answered_at > 3  # the message was played
    [row] = await cc.wait_calls(1)
    [lost] = await cc.wait_fact("call_lost", call_id=row.id)
    assert lost.data["reason"] == "technical_error"
