"""The Stasis application: what happens to a call from the moment Asterisk hands it over.

    StasisStart(inbound) → answer → opening hours? ─ closed → "ferme", hang up
                                      │ open
                                      v
                    IVR (1 avocat, 2 administration, 3 citoyen; timeout → default)
                                      v
              queue (ACD) + music on hold + position announcements every N s
                                      v
        ACD offer → originate to the operator's endpoint, into this app
             ├─ operator answers (StasisStart "operator") → bridge both, ticket
             └─ no answer / busy / declined → next offer
        caller hangs up while waiting → abandoned; either side hangs up when bridged → ended

Every handler runs under ``_guard``: an exception never leaves a caller in silence — the
caller is put back in the queue with music, or hears the incident message.

Channel arguments (``appArgs``) tell the legs apart: ``inbound`` (the support number),
``operator,<call_id>`` (a leg we originated), ``feature,<login|logout|pause|unpause>``
(the operator's feature codes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from acd import domain as d
from acd.services import AcdService
from telephony import models as calls
from telephony.ari import AriClient, AriError, AriNotFound
from telephony.prompts import media
from ticket_core import journal
from ticket_core.journal import EventKind, Fact
from ticket_core.services import normalise_phone

log = logging.getLogger("guichet.stasis")

# Q.850 causes of a failed operator leg → the ACD's ring failure reasons.
_CAUSE_REASONS = {17: "busy", 21: "declined", 18: "timeout", 19: "timeout", 20: "unreachable",
                  3: "unreachable", 1: "unreachable", 27: "unreachable", 38: "unreachable"}


@dataclass
class StasisSettings:
    app: str
    sounds_dir: Path
    ivr_timeout: float = 10.0
    default_audience: str = "citoyen"
    announce_every: float = 30.0
    tick_seconds: float = 0.25


@dataclass
class Leg:
    """A caller's channel as the app follows it."""

    call_id: str  # = the caller's Asterisk channel id
    channel_id: str
    caller_number: str | None
    caller_raw: str
    received_at: datetime
    state: str = "ivr"  # ivr | queued | ringing | bridged | ended | closing
    audience: str | None = None
    bridge_id: str | None = None
    operator_channel_id: str | None = None
    operator_id: str | None = None
    ended_by_system: bool = False  # Asterisk itself hung up (shutdown), not the caller
    dtmf: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)


@dataclass
class OperatorLeg:
    channel_id: str
    call_id: str
    operator_id: str
    answered: bool = False


class StasisApp:
    """Wires ARI events to the ACD. One per application instance (the ACD decision-maker)."""

    def __init__(
        self,
        ari: AriClient,
        acd: AcdService,
        settings: StasisSettings,
        *,
        session_factory: Any,
        site: str,
        clock: Callable[[], datetime],
        calendar: Callable[[Any], Awaitable[Any]],
        tickets: Callable[[Any], Awaitable[Any]],
        ivr_digits: dict[str, str],
    ) -> None:
        self.ari = ari
        self.acd = acd
        self.settings = settings
        self.session_factory = session_factory
        self.site = site
        self.clock = clock
        self._calendar = calendar
        self._tickets = tickets
        self.ivr_digits = ivr_digits  # "1" → "avocat"…
        self.legs: dict[str, Leg] = {}  # by caller channel id
        self.op_legs: dict[str, OperatorLeg] = {}  # by operator channel id
        self._playbacks: dict[str, asyncio.Future[None]] = {}
        self._ticker: asyncio.Task[None] | None = None
        self._dispatch_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()
        self.on_answered: list[Callable[[dict[str, Any]], Any]] = []  # the console's pop-up
        self.dialer: Any = None  # telephony.callbacks.CallbackDialer, when callbacks are on
        self.virtual_hold_after: float = 0.0  # seconds; 0: no callback offer while waiting

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        self._ticker = asyncio.create_task(self._tick_loop(), name="acd-tick")

    async def stop(self) -> None:
        if self._ticker:
            self._ticker.cancel()
        for leg in self.legs.values():
            for task in leg.tasks:
                task.cancel()

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.tick_seconds)
            try:
                await self._tick()
            except Exception:  # noqa: BLE001 - the ticker must survive anything
                log.exception("tick failed")

    async def _tick(self) -> None:
        assert self.acd.acd is not None
        events = self.acd.acd.tick(self.clock())
        for e in events:
            if isinstance(e, d.OfferFailed) and self.dialer and self.dialer.owns_call(e.call_id):
                await self.dialer.offer_expired(e.call_id)
            elif isinstance(e, d.OfferFailed):
                await self._hangup_operator_leg(e.call_id, e.operator_id)
            elif isinstance(e, d.CallLost):
                leg = self.legs.get(e.call_id)
                if leg:
                    leg.state = "closing"
                    self._spawn(leg, self._say_and_hangup(leg, "aucun_conseiller"))
        if events:
            await self.acd.flush()
        # Also on a quiet tick: a call may have become eligible for overflow by waiting.
        await self.dispatch()

    # --- reconciliation ------------------------------------------------------------------

    async def on_connected(self) -> None:
        """On every (re)connect: rebuild what Asterisk still has instead of forgetting it.

        Callers still in the app go back to their queue at their place (or stay bridged with
        their operator); calls whose channels vanished meanwhile are closed as lost; operator
        legs that were ringing for a decision we no longer hold are hung up."""
        assert self.acd.acd is not None
        from sqlalchemy import select

        app_channels = {c["id"]: c for c in await self.ari.list_app_channels(self.settings.app)}
        all_channels = {c["id"]: c for c in await self.ari.list_channels()}
        bridges = {b["id"]: b for b in await self.ari.list_bridges()}
        now = self.clock()
        # Legs we follow in memory whose channel is gone (Asterisk restarted, or the
        # websocket was down when they hung up): treat as hang-ups now.
        for leg in list(self.legs.values()):
            if leg.channel_id not in all_channels:
                await self._caller_gone(leg, vanished=True)
        async with self.session_factory() as session:
            rows = list(await session.scalars(select(calls.Call).where(
                calls.Call.site == self.site, calls.Call.ended_at.is_(None),
                calls.Call.outcome.in_([calls.IN_PROGRESS, calls.ANSWERED]))))
        adopted_operator_channels: set[str] = set()
        for row in rows:
            if row.id in self.legs:
                if self.legs[row.id].operator_channel_id:
                    adopted_operator_channels.add(self.legs[row.id].operator_channel_id)
                continue
            channel = app_channels.get(row.channel_id or "")
            if channel is None:
                await self._close_vanished(row, now)
                continue
            leg = Leg(call_id=row.id, channel_id=row.channel_id, caller_number=row.caller_number,
                      caller_raw=row.caller_raw or "", received_at=row.received_at, audience=row.audience)
            self.legs[leg.call_id] = leg
            operator_alive = row.operator_channel_id in app_channels
            if row.answered_at and row.bridge_id in bridges and operator_alive and row.operator_id:
                leg.state, leg.bridge_id = "bridged", row.bridge_id
                leg.operator_channel_id, leg.operator_id = row.operator_channel_id, str(row.operator_id)
                self.op_legs[row.operator_channel_id] = OperatorLeg(
                    row.operator_channel_id, row.id, str(row.operator_id), answered=True)
                adopted_operator_channels.add(row.operator_channel_id)
                await self.acd.ensure_known(str(row.operator_id))
                self.acd.acd.restore_on_call(d.Call(row.id, row.audience or self.settings.default_audience,
                                                    row.caller_number or ""), str(row.operator_id), row.answered_at)
                log.info("re-attached bridged call %s", row.id)
            elif row.answered_at:
                # Answered, but the operator's leg is gone: end it for the caller too.
                leg.state = "bridged"
                await self._safe_hangup(leg.channel_id)
            else:
                leg.audience = row.audience or self.settings.default_audience
                if row.presented_at is None:
                    self._spawn(leg, self._enqueue(leg))  # was in the IVR: presented now
                    continue
                leg.state = "queued"
                self.acd.acd.restore_waiting(d.Call(row.id, leg.audience, row.caller_number or ""),
                                             row.presented_at)
                await self._safe(self.ari.start_moh(leg.channel_id))
                if self.settings.announce_every > 0:
                    self._spawn(leg, self._announcer(leg))
                log.info("re-attached waiting call %s to queue %s", row.id, leg.audience)
        # Operator legs ringing for offers made before the restart: the offer is gone.
        prefix = f"{self.settings.app}-op-"
        for cid in all_channels:
            if cid.startswith(prefix) and cid not in adopted_operator_channels and cid not in self.op_legs:
                await self._safe_hangup(cid)
        # Callers in the app that we have no row for (should not happen): serve them.
        for cid, channel in app_channels.items():
            if cid.startswith(prefix) or cid in self.legs:
                continue
            await self._guard(self._on_stasis_start, {"type": "StasisStart", "channel": channel, "args": []})
        await self.acd.flush()
        await self.dispatch()

    async def _close_vanished(self, row: calls.Call, now: datetime) -> None:
        """A call that ended while nobody was listening: journal what we can tell."""
        async with self.session_factory() as session:
            call = await session.get(calls.Call, row.id)
            if call is None or call.ended_at is not None:
                return
            call.ended_at = now
            if call.answered_at is not None:
                journal.append(session, Fact(kind=EventKind.CALL_ENDED, occurred_at=now, channel="phone",
                                             call_id=call.id, operator_id=call.operator_id, queue=call.audience,
                                             data={"talk_seconds": (now - call.answered_at).total_seconds(),
                                                   "ended_while_disconnected": True}), site=self.site)
            else:
                entered = call.presented_at or call.received_at
                call.outcome, call.lost_reason = calls.LOST, "ended_while_disconnected"
                journal.append(session, Fact(kind=EventKind.CALL_LOST, occurred_at=now, channel="phone",
                                             call_id=call.id, queue=call.audience,
                                             data={"reason": "ended_while_disconnected",
                                                   "wait_seconds": (now - entered).total_seconds()}),
                               site=self.site)
            await session.commit()

    # --- event routing -----------------------------------------------------------------

    async def on_event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        handler = {
            "StasisStart": self._on_stasis_start,
            "StasisEnd": self._on_channel_gone,
            "ChannelDestroyed": self._on_channel_gone,
            "ChannelDtmfReceived": self._on_dtmf,
            "PlaybackFinished": self._on_playback_finished,
            "ChannelHangupRequest": self._on_hangup_request,
        }.get(kind)
        if handler is None:
            return
        await self._guard(handler, event)

    async def _guard(self, handler: Callable[[dict[str, Any]], Awaitable[None]], event: dict[str, Any]) -> None:
        try:
            await handler(event)
        except Exception:  # noqa: BLE001 - fall back instead of leaving a caller in silence
            log.exception("handler %s failed on %s", handler.__name__, event.get("type"))
            channel_id = (event.get("channel") or {}).get("id")
            leg = self.legs.get(channel_id) if channel_id else None
            if leg is not None and leg.state not in ("ended", "closing", "bridged", "virtual"):
                await self._fallback(leg)

    async def _fallback(self, leg: Leg) -> None:
        """Back into the queue with music if possible; otherwise the incident message."""
        assert self.acd.acd is not None
        try:
            if leg.state == "ivr":
                leg.audience = leg.audience or self.settings.default_audience
                await self._enqueue(leg)
            else:
                await self.ari.start_moh(leg.channel_id)
        except Exception:  # noqa: BLE001
            log.exception("fallback to queue failed for %s: incident message", leg.call_id)
            with contextlib.suppress(d.AcdError):
                self.acd.acd.cut(leg.call_id, self.clock(), "technical_error")
                await self.acd.flush()
            leg.state = "closing"
            self._background(self._say_and_hangup(leg, "incident"))

    def _spawn(self, leg: Leg, coro: Awaitable[Any]) -> None:
        async def run() -> None:
            try:
                await coro
            except asyncio.CancelledError:
                raise
            except AriNotFound:
                pass  # the channel went away meanwhile: its hang-up event tells the rest
            except Exception:  # noqa: BLE001
                log.exception("call task failed for %s", leg.call_id)
                if leg.state not in ("ended", "closing", "bridged", "virtual"):
                    await self._fallback(leg)

        task = asyncio.create_task(run())
        leg.tasks.append(task)

    async def _on_stasis_start(self, event: dict[str, Any]) -> None:
        channel = event["channel"]
        args = event.get("args") or []
        role = args[0] if args else "inbound"
        if role == "operator" and len(args) >= 2:
            await self._on_operator_answered(channel, args[1])
        elif role == "feature" and len(args) >= 2:
            await self._on_feature(channel, args[1])
        elif role in ("cbop", "cbuser") and len(args) >= 2:
            if self.dialer is None:
                await self._safe_hangup(channel["id"])
            else:
                await self.dialer.on_stasis_start(role, channel, args[1])
        else:
            await self._on_inbound(channel)

    # --- inbound calls -----------------------------------------------------------------

    async def _on_inbound(self, channel: dict[str, Any]) -> None:
        now = self.clock()
        raw = (channel.get("caller") or {}).get("number") or ""
        leg = Leg(call_id=channel["id"], channel_id=channel["id"], caller_number=normalise_phone(raw),
                  caller_raw=raw, received_at=now)
        self.legs[leg.call_id] = leg
        async with self.session_factory() as session:
            session.add(calls.Call(id=leg.call_id, site=self.site, caller_number=leg.caller_number,
                                   caller_raw=raw[:80], received_at=now, outcome=calls.IN_PROGRESS,
                                   channel_id=leg.channel_id))
            calendar = await self._calendar(session)
            is_open = calendar.is_open(now)
            kind = EventKind.CALL_RECEIVED if is_open else EventKind.CALL_RECEIVED_OUTSIDE_HOURS
            journal.append(session, Fact(kind=kind, occurred_at=now, channel="phone", call_id=leg.call_id,
                                         data={"anonymous": leg.caller_number is None}), site=self.site)
            if not is_open:
                call = await session.get(calls.Call, leg.call_id)
                call.outcome = calls.OUTSIDE_HOURS
            await session.commit()
        await self.ari.answer(leg.channel_id)
        if not is_open:
            leg.state = "closing"
            self._spawn(leg, self._say_and_hangup(leg, "ferme"))  # a task: see _background
            return
        self._spawn(leg, self._ivr(leg))

    async def _ivr(self, leg: Leg) -> None:
        await self.ari.set_language(leg.channel_id, "fr")
        playback = await self._play(leg, "bienvenue", "menu")
        digit: str | None = None
        try:
            digit = await asyncio.wait_for(leg.dtmf.get(), timeout=self.settings.ivr_timeout)
        except TimeoutError:
            pass
        if playback:
            await self._stop_playback(playback)
        if leg.state != "ivr":
            return  # hung up meanwhile
        leg.audience = self.ivr_digits.get(digit or "", self.settings.default_audience)
        await self._enqueue(leg)

    async def _enqueue(self, leg: Leg) -> None:
        assert self.acd.acd is not None
        acd = self.acd.acd
        leg.state = "queued"
        acd.enqueue(d.Call(leg.call_id, leg.audience or self.settings.default_audience, leg.caller_number or ""),
                    self.clock())
        await self.acd.flush()
        if not self._anyone_could_answer(leg.audience):
            # Nobody is logged in who could ever take it: say so rather than let the caller
            # wait for nothing; the call is lost (and will be called back).
            acd.cut(leg.call_id, self.clock(), "no_operator")
            await self.acd.flush()
            leg.state = "closing"
            self._background(self._say_and_hangup(leg, "aucun_conseiller"))
            return
        await self.ari.start_moh(leg.channel_id)
        if self.settings.announce_every > 0:
            self._spawn(leg, self._announcer(leg))
        if self.dialer is not None and self.virtual_hold_after > 0 and leg.caller_number:
            self._spawn(leg, self._virtual_hold(leg))
        await self.dispatch()

    async def _virtual_hold(self, leg: Leg) -> None:
        """After a while in the queue, offer a callback that keeps the caller's place."""
        assert self.acd.acd is not None
        await asyncio.sleep(self.virtual_hold_after)
        if leg.state != "queued":
            return
        while not leg.dtmf.empty():
            leg.dtmf.get_nowait()  # keys pressed earlier are not an answer to this offer
        await self.ari.stop_moh(leg.channel_id)
        playback = await self._play(leg, "rappel_offre")
        try:
            digit = await asyncio.wait_for(leg.dtmf.get(), timeout=10)
        except TimeoutError:
            digit = None
        if playback:
            await self._stop_playback(playback)
        if leg.state != "queued":
            return  # answered or gone meanwhile
        if digit != "1":
            await self.ari.start_moh(leg.channel_id)
            return
        leg.state = "virtual"  # the hang-up that follows is ours, not an abandonment
        try:
            self.acd.acd.cut(leg.call_id, self.clock(), "callback_requested")
        except d.AcdError:
            return
        await self.acd.flush()  # journals callback_requested; the callback keeps the place
        await self._play_then_hangup(leg.channel_id, "rappel_confirme")

    def _anyone_could_answer(self, audience: str | None) -> bool:
        assert self.acd.acd is not None
        acd = self.acd.acd
        if audience and acd.has_logged_in_operator_for(audience):
            return True
        overflow = self.acd.acd_settings.overflow_after is not None
        return overflow and any(op["state"] != d.OperatorState.LOGGED_OUT.value
                                for op in acd.snapshot(self.clock())["operators"].values())

    async def _announcer(self, leg: Leg) -> None:
        assert self.acd.acd is not None
        while True:
            await asyncio.sleep(self.settings.announce_every)
            if leg.state != "queued":
                return
            try:
                position = self.acd.acd.position(leg.call_id)
                wait = self.acd.acd.expected_wait(leg.call_id, self.clock())
            except d.AcdError:
                return
            if position < 1:
                continue
            await self.ari.stop_moh(leg.channel_id)
            if leg.state != "queued":
                return
            items = [media(self.settings.sounds_dir, "position"), f"number:{position}"]
            if wait is not None and wait >= 60:
                items += [media(self.settings.sounds_dir, "attente_estimee"), f"number:{round(wait / 60)}",
                          media(self.settings.sounds_dir, "minutes")]
            elif wait is not None:
                items.append(media(self.settings.sounds_dir, "moins_une_minute"))
            playback = await self.ari.play(leg.channel_id, items)
            await self._wait_playback(playback, timeout=20)
            if leg.state == "queued":
                await self.ari.start_moh(leg.channel_id)

    # --- distribution ----------------------------------------------------------------------

    async def dispatch(self) -> None:
        """Carry out the ACD's offers: ring each chosen operator's phone."""
        assert self.acd.acd is not None
        async with self._dispatch_lock:
            offers = self.acd.acd.dispatch(self.clock())
            await self.acd.flush()
        for offer in offers:
            await self._ring(offer)

    async def _ring(self, offer: d.CallOffered) -> None:
        if self.dialer is not None and self.dialer.owns_call(offer.call_id):
            await self.dialer.ring_operator(offer)
            return
        leg = self.legs.get(offer.call_id)
        if leg is None:
            return
        leg.state = "ringing"
        channel_id = f"{self.settings.app}-op-{uuid.uuid4().hex[:12]}"
        self.op_legs[channel_id] = OperatorLeg(channel_id, offer.call_id, offer.operator_id)
        leg.operator_channel_id, leg.operator_id = channel_id, offer.operator_id
        # The operator's phone shows the caller's number, and the audience as the name.
        caller_id = f'"{offer.audience}" <{leg.caller_raw or "anonymous"}>'
        try:
            await self.ari.originate(
                endpoint=f"PJSIP/{offer.endpoint}", app=self.settings.app,
                app_args=f"operator,{offer.call_id}", caller_id=caller_id,
                timeout=int(offer.ring_timeout) + 5, channel_id=channel_id,
            )
        except AriError as exc:
            log.warning("originate to %s failed: %s", offer.endpoint, exc)
            self.op_legs.pop(channel_id, None)
            await self._offer_failed(offer.call_id, offer.operator_id, "unreachable")

    async def _offer_failed(self, call_id: str, operator_id: str, reason: str) -> None:
        assert self.acd.acd is not None
        try:
            self.acd.acd.ring_failed(call_id, operator_id, self.clock(), reason)
        except d.AcdError:
            return  # stale: the ACD already moved on (tick timeout, abandon)
        leg = self.legs.get(call_id)
        if leg and leg.state == "ringing":
            leg.state = "queued"
        await self.acd.flush()
        await self.dispatch()

    async def _on_operator_answered(self, channel: dict[str, Any], call_id: str) -> None:
        assert self.acd.acd is not None
        op_leg = self.op_legs.get(channel["id"])
        leg = self.legs.get(call_id)
        if op_leg is None or leg is None or leg.state != "ringing" or leg.operator_channel_id != channel["id"]:
            await self._safe_hangup(channel["id"])  # a late answer to an offer already gone
            return
        try:
            self.acd.acd.ring_answered(call_id, op_leg.operator_id, self.clock())
        except d.AcdError:
            await self._safe_hangup(channel["id"])
            return
        op_leg.answered = True
        leg.state = "bridged"
        for task in leg.tasks:
            task.cancel()
        bridge_id = f"{self.settings.app}-br-{uuid.uuid4().hex[:12]}"
        await self.ari.stop_moh(leg.channel_id)
        await self.ari.create_bridge(bridge_id, "mixing")
        await self.ari.add_channels(bridge_id, [leg.channel_id, channel["id"]])
        leg.bridge_id = bridge_id
        await self.acd.flush()  # call_answered, with the wait
        ticket_ref = await self._open_ticket(leg, op_leg, bridge_id)
        for listener in self.on_answered:
            try:
                listener({"call_id": call_id, "operator_id": op_leg.operator_id, "caller": leg.caller_raw,
                          "audience": leg.audience, "ticket": ticket_ref})
            except Exception:  # noqa: BLE001
                log.exception("answer listener failed")

    async def _open_ticket(self, leg: Leg, op_leg: OperatorLeg, bridge_id: str) -> str:
        async with self.session_factory() as session:
            svc = await self._tickets(session)
            requester = await svc.find_or_create_requester(phone=leg.caller_number, audience=leg.audience)
            ticket = await svc.create_ticket(channel="phone", audience=leg.audience,
                                             requester_id=requester.id if requester else None,
                                             source_ref=f"call:{leg.call_id}", call_id=leg.call_id,
                                             received_at=leg.received_at)
            ticket.assignee_id = int(op_leg.operator_id)
            call = await session.get(calls.Call, leg.call_id)
            if call:
                call.ticket_id, call.requester_id = ticket.id, ticket.requester_id
                call.bridge_id, call.operator_channel_id = bridge_id, op_leg.channel_id
            await session.commit()
            return ticket.reference

    # --- hang-ups -----------------------------------------------------------------------

    async def _on_hangup_request(self, event: dict[str, Any]) -> None:
        log.debug("hangup request %s cause=%s soft=%s", (event.get("channel") or {}).get("id"),
                 event.get("cause"), event.get("soft"))
        leg = self.legs.get((event.get("channel") or {}).get("id"))
        if leg is not None and event.get("soft"):
            # A soft hang-up comes from Asterisk itself (shutdown, restart), not the caller.
            leg.ended_by_system = True

    async def _on_channel_gone(self, event: dict[str, Any]) -> None:
        log.debug("gone %s %s cause=%s %s", event.get("type"), (event.get("channel") or {}).get("id"),
                 event.get("cause"), event.get("cause_txt"))
        channel = event.get("channel") or {}
        cid = channel.get("id")
        if self.dialer is not None and self.dialer.owns_channel(cid):
            await self.dialer.channel_gone(cid, event)
        elif cid in self.op_legs:
            await self._operator_leg_gone(cid, event)
        elif cid in self.legs:
            leg = self.legs[cid]
            await self._caller_gone(leg, vanished=leg.ended_by_system)

    async def _caller_gone(self, leg: Leg, *, vanished: bool = False) -> None:
        """The caller's channel ended. ``vanished``: found gone at a reconnect (Asterisk
        restarted, say) — the service lost the call, the caller did not abandon it."""
        assert self.acd.acd is not None
        previous, leg.state = leg.state, "ended"
        self.legs.pop(leg.call_id, None)
        for task in leg.tasks:
            task.cancel()
        now = self.clock()
        if previous in ("queued", "ringing"):
            try:
                if vanished:
                    self.acd.acd.cut(leg.call_id, now, "ended_while_disconnected")
                else:
                    self.acd.acd.abandon(leg.call_id, now)
            except d.AcdError:
                pass
            if previous == "ringing" and leg.operator_channel_id:
                await self._safe_hangup(leg.operator_channel_id)
        elif previous == "bridged":
            try:
                self.acd.acd.call_ended(leg.call_id, now)
            except d.AcdError:
                pass
            if leg.operator_channel_id:
                await self._safe_hangup(leg.operator_channel_id)
            if leg.bridge_id:
                await self._safe(self.ari.destroy_bridge(leg.bridge_id))
        elif previous == "ivr":
            await self._journal_ivr_hangup(leg, now)
        await self._close_call_row(leg.call_id, now)
        await self.acd.flush()
        await self.dispatch()

    async def _journal_ivr_hangup(self, leg: Leg, now: datetime) -> None:
        # Received but never presented: lost before reaching a queue.
        async with self.session_factory() as session:
            journal.append(session, Fact(kind=EventKind.CALL_LOST, occurred_at=now, channel="phone",
                                         call_id=leg.call_id, data={"reason": "hung_up_in_ivr", "wait_seconds": 0.0}),
                           site=self.site)
            call = await session.get(calls.Call, leg.call_id)
            if call:
                call.outcome, call.lost_reason = calls.LOST, "hung_up_in_ivr"
            await session.commit()

    async def _close_call_row(self, call_id: str, now: datetime) -> None:
        async with self.session_factory() as session:
            call = await session.get(calls.Call, call_id)
            if call and call.ended_at is None:
                call.ended_at = now
                await session.commit()

    async def _operator_leg_gone(self, channel_id: str, event: dict[str, Any]) -> None:
        assert self.acd.acd is not None
        op_leg = self.op_legs.pop(channel_id)
        leg = self.legs.get(op_leg.call_id)
        if not op_leg.answered:
            cause = event.get("cause")
            reason = _CAUSE_REASONS.get(cause, "timeout") if isinstance(cause, int) else "timeout"
            if leg and leg.operator_channel_id == channel_id:
                leg.operator_channel_id = None
                await self._offer_failed(op_leg.call_id, op_leg.operator_id, reason)
            return
        # The operator hung up a bridged call: end it for the caller too.
        if leg and leg.state == "bridged":
            leg.state = "ended"
            self.legs.pop(leg.call_id, None)
            try:
                self.acd.acd.call_ended(leg.call_id, self.clock())
            except d.AcdError:
                pass
            await self._safe_hangup(leg.channel_id)
            if leg.bridge_id:
                await self._safe(self.ari.destroy_bridge(leg.bridge_id))
            await self._close_call_row(leg.call_id, self.clock())
            await self.acd.flush()
            await self.dispatch()

    async def _hangup_operator_leg(self, call_id: str, operator_id: str) -> None:
        for cid, op_leg in list(self.op_legs.items()):
            if op_leg.call_id == call_id and op_leg.operator_id == operator_id and not op_leg.answered:
                self.op_legs.pop(cid, None)
                leg = self.legs.get(call_id)
                if leg and leg.operator_channel_id == cid:
                    leg.operator_channel_id = None
                    if leg.state == "ringing":
                        leg.state = "queued"
                await self._safe_hangup(cid)

    # --- operators' feature codes --------------------------------------------------------

    async def _on_feature(self, channel: dict[str, Any], feature: str) -> None:
        assert self.acd.acd is not None
        endpoint = _endpoint_of(channel)
        view = self.acd.operator_for_endpoint(endpoint) if endpoint else None
        await self.ari.answer(channel["id"])
        await self.ari.set_language(channel["id"], "fr")
        if view is None:
            self._background(self._play_then_hangup(channel["id"], "operateur_inconnu"))
            return
        now = self.clock()
        acd = self.acd.acd
        prompt = {"login": "operateur_connecte", "logout": "operateur_deconnecte",
                  "pause": "operateur_pause", "unpause": "operateur_disponible"}.get(feature, "operateur_inconnu")
        try:
            if feature == "login":
                acd.login(view.operator_id, now)
            elif feature == "logout":
                acd.logout(view.operator_id, now)
            elif feature == "pause":
                acd.pause(view.operator_id, "pause", now)
            elif feature == "unpause":
                acd.unpause(view.operator_id, now)
        except d.AcdError as exc:
            log.info("feature %s for %s refused: %s", feature, endpoint, exc.error_id)
        await self.acd.flush()
        # Not awaited here: this handler runs in the channel's event lane, where the
        # PlaybackFinished we would wait for is queued behind us.
        self._background(self._play_then_hangup(channel["id"], prompt))
        await self.dispatch()

    def _background(self, coro: Awaitable[Any]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- sounds -------------------------------------------------------------------------------

    async def _play(self, leg: Leg, *names: str) -> str | None:
        return await self.ari.play(leg.channel_id, [media(self.settings.sounds_dir, n) for n in names])

    async def _say_and_hangup(self, leg: Leg, name: str) -> None:
        await self._play_then_hangup(leg.channel_id, name)

    async def _play_then_hangup(self, channel_id: str, name: str) -> None:
        try:
            await self.ari.stop_moh(channel_id)
        except AriError:
            pass
        playback = await self.ari.play(channel_id, [media(self.settings.sounds_dir, name)])
        await self._wait_playback(playback, timeout=30)
        await self._safe_hangup(channel_id)

    async def _wait_playback(self, playback_id: str | None, *, timeout: float) -> None:
        if not playback_id:
            return
        fut = self._playbacks.setdefault(playback_id, asyncio.get_running_loop().create_future())
        try:
            await asyncio.wait_for(asyncio.shield(fut), timeout)
        except TimeoutError:
            pass
        finally:
            self._playbacks.pop(playback_id, None)

    async def _stop_playback(self, playback_id: str) -> None:
        await self._safe(self.ari.stop_playback(playback_id))

    async def _on_playback_finished(self, event: dict[str, Any]) -> None:
        pid = (event.get("playback") or {}).get("id")
        fut = self._playbacks.get(pid) if pid else None
        if fut is None and pid:
            fut = self._playbacks.setdefault(pid, asyncio.get_running_loop().create_future())
        if fut and not fut.done():
            fut.set_result(None)

    async def _on_dtmf(self, event: dict[str, Any]) -> None:
        leg = self.legs.get((event.get("channel") or {}).get("id"))
        if leg is not None:
            leg.dtmf.put_nowait(event.get("digit", ""))

    # --- helpers --------------------------------------------------------------------------------

    async def _safe_hangup(self, channel_id: str) -> None:
        await self._safe(self.ari.hangup(channel_id))

    @staticmethod
    async def _safe(coro: Awaitable[Any]) -> None:
        try:
            await coro
        except AriNotFound:
            pass
        except AriError as exc:
            log.warning("ARI call failed: %s", exc)


def _endpoint_of(channel: dict[str, Any]) -> str | None:
    """``PJSIP/op01-00000004`` → ``op01``."""
    name = channel.get("name") or ""
    if not name.startswith("PJSIP/"):
        return None
    return name[len("PJSIP/"):].rsplit("-", 1)[0]
