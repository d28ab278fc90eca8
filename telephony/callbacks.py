"""Placing callbacks through Asterisk: the operator first, then the user.

A due callback enters the ACD as a *virtual* call (id ``cb-<callback>-<attempt>``, no
caller channel) at its place: the lost-call callback at its due time, the virtual-hold
callback at the caller's original place in the queue. When the ACD offers it, the
operator's phone rings; once the operator answers, the user is dialled with the support
number as caller ID and both are bridged — no user is ever called with no one to talk to.
The callback service (``callback/``) records attempts and outcomes.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from acd import domain as d
from callback import services as cbs
from callback.settings import CallbackSettings
from telephony.ari import AriError

if TYPE_CHECKING:
    from telephony.stasis import StasisApp

log = logging.getLogger("guichet.callbacks")

_USER_CAUSES = {17: "busy", 18: "no_answer", 19: "no_answer", 21: "no_answer", 16: "no_answer"}


@dataclass
class CallbackCall:
    acd_call_id: str
    callback_id: int
    number: str
    audience: str
    operator_id: str | None = None
    operator_channel: str | None = None
    user_channel: str | None = None
    bridge_id: str | None = None
    state: str = "queued"  # queued | ringing_operator | dialing_user | bridged | ended


def dialable(number: str) -> dict[str, str]:
    """Placeholders for the dial template: ``number`` as stored (E.164), ``national``."""
    national = "0" + number[3:] if re.fullmatch(r"\+33\d{9}", number) else number.lstrip("+")
    return {"number": number, "national": national}


class CallbackDialer:
    def __init__(self, app: StasisApp, service: cbs.CallbackService, settings: CallbackSettings,
                 support_number: str) -> None:
        self.app = app
        self.service = service
        self.settings = settings
        self.support_number = support_number
        self.calls: dict[str, CallbackCall] = {}  # by ACD call id
        self.channels: dict[str, str] = {}  # channel id → ACD call id
        self._task: asyncio.Task[None] | None = None
        self._scans = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="callback-dialer")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()

    @property
    def acd(self) -> d.Acd:
        assert self.app.acd.acd is not None
        return self.app.acd.acd

    def _now(self) -> Any:
        return self.app.clock()

    # --- the worklist into the ACD ----------------------------------------------------------

    async def _loop(self) -> None:
        while True:
            try:
                await self.scan()
            except Exception:  # noqa: BLE001 - the dialer must outlive any one failure
                log.exception("callback scan failed")
            await asyncio.sleep(self.settings.scan_seconds)

    async def scan(self) -> None:
        self._scans += 1
        if self._scans % 100 == 1:
            await self.service.expire_windows()  # pending lost calls past their window
        open_now = await self.service.may_place_now()
        queued = {c.callback_id: c for c in self.calls.values()}
        for cb_call in list(queued.values()):
            if cb_call.state != "queued":
                continue
            cancelled = not await self.service.is_open(cb_call.callback_id)
            if cancelled or not open_now:
                self._remove_from_queue(cb_call, "cancelled" if cancelled else "window_closed")
                if not cancelled:
                    await self.service.not_placed(cb_call.callback_id)
        if open_now:
            for cb in await self.service.due(self._now(), exclude=set(queued)):
                call_id = cbs.acd_call_id(cb)
                entered = cb.queue_entered_at or cb.next_attempt_at
                audience = cb.audience if cb.audience in self.acd.audiences else self.app.settings.default_audience
                self.acd.restore_waiting(d.Call(call_id, audience, cb.number), entered)
                self.calls[call_id] = CallbackCall(call_id, cb.id, cb.number, audience)
                await self.service.mark_dialing(cb.id)
                log.info("callback %s queued (%s, place %s)", cb.id, cb.kind, entered.isoformat())
        await self.app.acd.flush()
        await self.app.dispatch()

    def _remove_from_queue(self, cb_call: CallbackCall, reason: str) -> None:
        try:
            self.acd.cut(cb_call.acd_call_id, self._now(), reason)
        except d.AcdError:
            pass
        self.calls.pop(cb_call.acd_call_id, None)

    # --- ringing the operator ---------------------------------------------------------------

    def owns_call(self, acd_call_id: str) -> bool:
        return acd_call_id.startswith(cbs.VIRTUAL_PREFIX)

    def owns_channel(self, channel_id: str) -> bool:
        return channel_id in self.channels

    async def ring_operator(self, offer: d.CallOffered) -> None:
        cb_call = self.calls.get(offer.call_id)
        if cb_call is None:
            return
        channel_id = f"{self.app.settings.app}-cbop-{uuid.uuid4().hex[:12]}"
        cb_call.state, cb_call.operator_id, cb_call.operator_channel = "ringing_operator", offer.operator_id, channel_id
        self.channels[channel_id] = offer.call_id
        try:
            await self.app.ari.originate(
                endpoint=f"PJSIP/{offer.endpoint}", app=self.app.settings.app,
                app_args=f"cbop,{offer.call_id}", caller_id=f'"Rappel {offer.audience}" <{cb_call.number}>',
                timeout=int(offer.ring_timeout) + 5, channel_id=channel_id)
        except AriError as exc:
            log.warning("callback: originate to operator %s failed: %s", offer.endpoint, exc)
            self.channels.pop(channel_id, None)
            await self._operator_failed(cb_call, "unreachable")

    async def _operator_failed(self, cb_call: CallbackCall, reason: str) -> None:
        cb_call.state, cb_call.operator_channel = "queued", None
        try:
            self.acd.ring_failed(cb_call.acd_call_id, cb_call.operator_id, self._now(), reason)
        except d.AcdError:
            return
        await self.app.acd.flush()
        await self.app.dispatch()

    async def offer_expired(self, acd_call_id: str) -> None:
        """The ACD's ring timeout fired: cancel the operator's ringing leg."""
        cb_call = self.calls.get(acd_call_id)
        if cb_call and cb_call.state == "ringing_operator" and cb_call.operator_channel:
            channel = cb_call.operator_channel
            self.channels.pop(channel, None)
            cb_call.state, cb_call.operator_channel = "queued", None
            await self.app._safe_hangup(channel)

    # --- Stasis events -------------------------------------------------------------------------

    async def on_stasis_start(self, role: str, channel: dict[str, Any], acd_call_id: str) -> None:
        cb_call = self.calls.get(acd_call_id)
        if role == "cbop":
            if cb_call is None or cb_call.operator_channel != channel["id"] or cb_call.state != "ringing_operator":
                await self.app._safe_hangup(channel["id"])
                return
            await self._operator_answered(cb_call, channel["id"])
        elif role == "cbuser":
            if cb_call is None or cb_call.user_channel != channel["id"] or cb_call.state != "dialing_user":
                await self.app._safe_hangup(channel["id"])
                return
            await self._user_answered(cb_call, channel["id"])

    async def _operator_answered(self, cb_call: CallbackCall, channel_id: str) -> None:
        try:
            self.acd.ring_answered(cb_call.acd_call_id, cb_call.operator_id, self._now())
        except d.AcdError:
            await self.app._safe_hangup(channel_id)
            return
        await self.app.acd.flush()
        await self.service.attempt_started(cb_call.callback_id, int(cb_call.operator_id))
        cb_call.state = "dialing_user"
        bridge_id = f"{self.app.settings.app}-cbbr-{uuid.uuid4().hex[:12]}"
        cb_call.bridge_id = bridge_id
        await self.app.ari.create_bridge(bridge_id, "mixing")
        await self.app.ari.add_channels(bridge_id, [channel_id])
        await self.app._safe(self.app.ari.start_bridge_moh(bridge_id))  # the operator waits with music
        user_channel = f"{self.app.settings.app}-cbus-{uuid.uuid4().hex[:12]}"
        cb_call.user_channel = user_channel
        self.channels[user_channel] = cb_call.acd_call_id
        endpoint = self.settings.dial_template.format(**dialable(cb_call.number))
        try:
            await self.app.ari.originate(
                endpoint=endpoint, app=self.app.settings.app, app_args=f"cbuser,{cb_call.acd_call_id}",
                caller_id=f'"{self.settings.caller_id_name}" <{self.support_number}>',
                timeout=self.settings.user_ring_timeout, channel_id=user_channel)
        except AriError as exc:
            log.warning("callback %s: dialling the user failed: %s", cb_call.callback_id, exc)
            self.channels.pop(user_channel, None)
            await self._attempt_over(cb_call, "failed")

    async def _user_answered(self, cb_call: CallbackCall, channel_id: str) -> None:
        cb_call.state = "bridged"
        await self.app._safe(self.app.ari.stop_bridge_moh(cb_call.bridge_id))
        await self.app.ari.add_channels(cb_call.bridge_id, [channel_id])
        ticket_id = await self._open_ticket(cb_call)
        await self.service.attempt_ended(cb_call.callback_id, "answered", operator_id=int(cb_call.operator_id),
                                         ticket_id=ticket_id)

    async def _open_ticket(self, cb_call: CallbackCall) -> int:
        async with self.app.session_factory() as session:
            svc = await self.app._tickets(session)
            requester = await svc.find_or_create_requester(phone=cb_call.number, audience=cb_call.audience)
            ticket = await svc.create_ticket(
                channel="phone", audience=cb_call.audience, requester_id=requester.id if requester else None,
                source_ref=f"callback:{cb_call.callback_id}", subject="Rappel après appel perdu")
            ticket.assignee_id = int(cb_call.operator_id)
            await session.commit()
            return ticket.id

    async def channel_gone(self, channel_id: str, event: dict[str, Any]) -> None:
        acd_call_id = self.channels.pop(channel_id, None)
        cb_call = self.calls.get(acd_call_id or "")
        if cb_call is None:
            return
        if channel_id == cb_call.operator_channel:
            if cb_call.state == "ringing_operator":
                cause = event.get("cause")
                reason = {17: "busy", 21: "declined", 20: "unreachable"}.get(cause, "timeout")
                await self._operator_failed(cb_call, reason)
            elif cb_call.state == "dialing_user":
                # The operator gave up while the user's phone rang.
                if cb_call.user_channel:
                    self.channels.pop(cb_call.user_channel, None)
                    await self.app._safe_hangup(cb_call.user_channel)
                await self._attempt_over(cb_call, "cancelled")
            elif cb_call.state == "bridged":
                await self._end_bridged(cb_call, other=cb_call.user_channel)
        elif channel_id == cb_call.user_channel:
            if cb_call.state == "dialing_user":
                cause = event.get("cause")
                await self._attempt_over(cb_call, _USER_CAUSES.get(cause, "failed") if isinstance(cause, int) else "no_answer")
            elif cb_call.state == "bridged":
                await self._end_bridged(cb_call, other=cb_call.operator_channel)

    async def _attempt_over(self, cb_call: CallbackCall, outcome: str) -> None:
        """The user did not answer (or the operator gave up): free the operator."""
        log.info("callback %s attempt: %s", cb_call.callback_id, outcome)
        await self._end_bridged(cb_call, other=cb_call.operator_channel)
        await self.service.attempt_ended(cb_call.callback_id, outcome, operator_id=int(cb_call.operator_id))

    async def _end_bridged(self, cb_call: CallbackCall, other: str | None) -> None:
        if cb_call.state == "ended":
            return
        cb_call.state = "ended"
        self.calls.pop(cb_call.acd_call_id, None)
        for channel in (cb_call.operator_channel, cb_call.user_channel):
            if channel:
                self.channels.pop(channel, None)
        if other:
            await self.app._safe_hangup(other)
        if cb_call.bridge_id:
            await self.app._safe(self.app.ari.destroy_bridge(cb_call.bridge_id))
        try:
            self.acd.call_ended(cb_call.acd_call_id, self._now())
        except d.AcdError:
            pass
        await self.app.acd.flush()
        await self.app.dispatch()
