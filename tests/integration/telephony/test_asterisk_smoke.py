"""Smoke tests of the telephony infrastructure on a real Asterisk with real SIP peers:
the ARI client (REST + events websocket, reconnect), the rendered configuration (support
number → Stasis, operators with digest auth, RFC 4733 DTMF) and the pjsua2 peers.

The Stasis logic here is a deliberately tiny app (answer, originate to the operator, bridge,
hang up the other leg); the product's app lives in telephony/stasis.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import pytest

from telephony.ari import AriClient, AriNotFound, AriUnauthorized
from telephony.asterisk_process import AsteriskProcess
from tests.support.ari_recorder import AriRecorder
from tests.support.sip_peers import Answer, Reject, Ring, SipPeers

pytestmark = pytest.mark.asterisk

CALLER_NUMBER = "0612345678"
CALLER_NAME = "Mme Durand"


class MiniApp:
    """Answer an inbound call, ring one operator into the app, bridge on its answer, and
    hang up the remaining leg when one side leaves."""

    def __init__(self, ari: AriClient, operator_endpoint: str) -> None:
        self.ari = ari
        self.operator_endpoint = operator_endpoint
        self.pairs: dict[str, str] = {}  # channel id -> the other leg's channel id
        self.bridges: dict[str, str] = {}  # channel id -> bridge id

    async def on_event(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        channel = event.get("channel", {})
        if kind == "StasisStart" and event["args"][:1] == ["inbound"]:
            await self.ari.answer(channel["id"])
            caller = channel["caller"]
            await self.ari.originate(
                f"PJSIP/{self.operator_endpoint}", app_args=["operator", channel["id"]],
                caller_id=f'"{caller["name"]}" <{caller["number"]}>', timeout=15,
                channel_id=f"op-{channel['id']}",
            )
        elif kind == "StasisStart" and event["args"][:1] == ["operator"]:
            caller_id = event["args"][1]
            bridge = await self.ari.create_bridge(bridge_type="mixing")
            await self.ari.add_channels(bridge["id"], [caller_id, channel["id"]])
            self.pairs[caller_id], self.pairs[channel["id"]] = channel["id"], caller_id
            self.bridges[caller_id] = self.bridges[channel["id"]] = bridge["id"]
        elif kind == "StasisEnd":
            other = self.pairs.pop(channel["id"], None)
            bridge_id = self.bridges.pop(channel["id"], None)
            if other:
                self.pairs.pop(other, None)
                self.bridges.pop(other, None)
                with contextlib.suppress(AriNotFound):  # it left at the same moment: the normal race
                    await self.ari.hangup(other)
            if bridge_id:
                with contextlib.suppress(AriNotFound):
                    await self.ari.destroy_bridge(bridge_id)


async def test_given_running_asterisk_when_pinging_ari_then_pong_and_wrong_password_gets_401(
    asterisk: AsteriskProcess, ari: AriClient
) -> None:
    pong = await ari.ping()
    assert pong["ping"] == "pong"
    assert pong["asterisk_id"] == asterisk.settings.entity_id
    info = await ari.info()
    assert int(info["system"]["version"].split(".")[0]) >= 22

    s = asterisk.settings
    async with AriClient(s.ari_url, s.ari_user, "wrong-password", app=s.app_name) as bad:
        with pytest.raises(AriUnauthorized) as excinfo:
            await bad.ping()
    assert excinfo.value.status == 401

    with pytest.raises(AriNotFound) as missing:
        await ari.get_channel("no-such-channel")
    assert missing.value.status == 404


async def test_given_registered_operator_when_call_arrives_then_operator_rings_with_caller_number(
    asterisk: AsteriskProcess, ari: AriClient, sip_peers: SipPeers
) -> None:
    endpoint, password = asterisk.settings.operators[0]
    operator = await sip_peers.operator(endpoint, password, behavior=Answer(after=0.3))
    app = MiniApp(ari, endpoint)
    recorder = AriRecorder(app.on_event)
    async with ari.events(recorder.handle, on_connected=recorder.connected_hook) as stream:
        await stream.wait_connected()
        caller = await sip_peers.caller(CALLER_NUMBER, name=CALLER_NAME)
        call = await caller.dial(asterisk.settings.support_number)

        start = await recorder.wait_for("StasisStart", lambda e: e["args"][:1] == ["inbound"])
        caller_channel = start["channel"]["id"]
        assert start["channel"]["caller"]["number"] == CALLER_NUMBER
        assert start["args"] == ["inbound", asterisk.settings.support_number]
        await call.wait_answered()

        invite = await operator.wait_invite()
        assert invite.number == CALLER_NUMBER
        assert invite.display == CALLER_NAME

        op_start = await recorder.wait_for("StasisStart", lambda e: e["args"][:1] == ["operator"])
        op_channel = op_start["channel"]["id"]
        assert op_start["args"] == ["operator", caller_channel]
        entered = {e["channel"]["id"] for e in recorder.of_type("ChannelEnteredBridge")}
        for _ in range(50):
            if {caller_channel, op_channel} <= entered:
                break
            await asyncio.sleep(0.05)
            entered = {e["channel"]["id"] for e in recorder.of_type("ChannelEnteredBridge")}
        assert {caller_channel, op_channel} <= entered

        await asyncio.sleep(1.0)  # let audio flow through the bridge both ways
        await call.hangup()
        record = await call.wait_ended()
        await recorder.wait_for("StasisEnd", lambda e: e["channel"]["id"] == caller_channel)
        await recorder.wait_for("StasisEnd", lambda e: e["channel"]["id"] == op_channel)
        op_call = await operator.wait_call(invite.call, lambda r: r.ended, timeout=10)

    assert record.ended_by == "local"
    assert op_call.ended_by == "remote"
    # Real media crossed the mixing bridge in both directions.
    assert record.rtp_tx > 20 and record.rtp_rx > 20, record
    assert op_call.rtp_tx > 20 and op_call.rtp_rx > 20, op_call
    assert record.answered_at is not None and record.started_at is not None
    assert invite.at >= record.started_at


async def test_given_caller_in_app_when_pressing_2_then_app_receives_dtmf_2(
    asterisk: AsteriskProcess, ari: AriClient, sip_peers: SipPeers
) -> None:
    async def answer(event: dict[str, Any]) -> None:
        if event["type"] == "StasisStart":
            await ari.answer(event["channel"]["id"])

    recorder = AriRecorder(answer)
    async with ari.events(recorder.handle) as stream:
        await stream.wait_connected()
        caller = await sip_peers.caller("0700000002")
        call = await caller.dial(asterisk.settings.support_number, dtmf=[(0.5, "2")], hangup_after=3.0)
        start = await recorder.wait_for("StasisStart")
        answered_at = await call.wait_answered()
        dtmf = await recorder.wait_for(
            "ChannelDtmfReceived", lambda e: e["channel"]["id"] == start["channel"]["id"])
        assert dtmf["digit"] == "2"
        received_at = next(t for t, e in recorder.events if e is dtmf)
        # sent 0.5 s after the 200 OK; RFC 4733 reports the digit when it ends (~0.1-0.2 s)
        assert 0.4 < received_at - answered_at < 5.0
        await call.wait_ended()
        await recorder.wait_for("StasisEnd")
    assert len(recorder.of_type("ChannelDtmfReceived")) == 1


async def test_given_busy_declining_or_silent_operator_when_originating_then_ari_reports_the_cause(
    asterisk: AsteriskProcess, ari: AriClient, sip_peers: SipPeers
) -> None:
    endpoint, password = asterisk.settings.operators[1]
    operator = await sip_peers.operator(endpoint, password)
    await operator.set_behavior(Answer(), next=[Reject(486), Reject(603), Ring()])
    recorder = AriRecorder()
    causes = {}
    async with ari.events(recorder.handle) as stream:
        await stream.wait_connected()
        for label, ring_timeout in (("busy", 10), ("declined", 10), ("no-answer", 2)):
            channel = await ari.originate(f"PJSIP/{endpoint}", app_args=["operator", label],
                                          caller_id='"Test" <0100000000>', timeout=ring_timeout)
            gone = await recorder.wait_for(
                "ChannelDestroyed", lambda e, c=channel["id"]: e["channel"]["id"] == c, timeout=15)
            causes[label] = gone["cause"]
    invites = operator.invites
    assert [i.behavior["action"] for i in invites] == ["reject", "reject", "ring"]
    assert all(i.number == "0100000000" for i in invites)
    # Q.850: 17 user busy, 21 call rejected, 19 no answer (the originate's ring timeout)
    assert causes == {"busy": 17, "declined": 21, "no-answer": 19}
    ringing = await operator.wait_call(invites[2].call, lambda r: r.ended, timeout=5)
    assert ringing.end_code == 487 and ringing.ended_by == "remote"  # CANCELled by Asterisk


async def test_given_registered_operator_when_dialing_login_code_then_app_gets_feature_login(
    asterisk: AsteriskProcess, ari: AriClient, sip_peers: SipPeers
) -> None:
    endpoint, password = asterisk.settings.operators[2]
    operator = await sip_peers.operator(endpoint, password)

    async def hang_up_features(event: dict[str, Any]) -> None:
        if event["type"] == "StasisStart":
            await ari.answer(event["channel"]["id"])
            await ari.hangup(event["channel"]["id"])

    recorder = AriRecorder(hang_up_features)
    async with ari.events(recorder.handle) as stream:
        await stream.wait_connected()
        call = await operator.dial("*50")  # digest-authenticated INVITE
        start = await recorder.wait_for("StasisStart")
        assert start["args"] == ["feature", "login"]
        assert start["channel"]["name"].startswith(f"PJSIP/{endpoint}-")
        record = await call.wait_ended()
    assert record.ended_by == "remote"


async def test_given_connected_app_when_asterisk_restarts_then_client_reconnects_and_reconciles(
    asterisk: AsteriskProcess, ari: AriClient
) -> None:
    reconciled: list[list[dict[str, Any]]] = []
    recorder = AriRecorder()

    async def on_connected() -> None:
        # What a real app does on every (re)connect: list the channels still in the app.
        reconciled.append(await ari.list_app_channels())
        await recorder.connected_hook()

    async with ari.events(recorder.handle, on_connected=on_connected, backoff_max=2.0) as stream:
        await recorder.wait_connections(1)
        assert stream.connect_count == 1
        t0 = time.monotonic()
        await asterisk.arestart()
        await recorder.wait_connections(2, timeout=20)
        reconnect_seconds = time.monotonic() - t0
        assert stream.connect_count == 2
        assert stream.connected.is_set()
        assert (await ari.ping())["ping"] == "pong"
    assert reconciled == [[], []]
    assert reconnect_seconds < 15
