"""The callback service: registers lost calls, schedules and tracks callbacks, and decides
when a lost call is recovered (by an answered callback, or by the same number's answered
call within the window). Called by the ACD's journaling (same transaction) and by the
telephony's callback dialer; no ARI here."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd import domain as d
from callback import models as m
from callback import scheduling
from callback.settings import CallbackSettings
from telephony import models as calls
from ticket_core import journal
from ticket_core.business_time import BusinessCalendar
from ticket_core.exceptions import InvalidValue, NotFound, TransitionNotAllowed
from ticket_core.journal import EventKind, Fact

log = logging.getLogger("guichet.callback")

VIRTUAL_PREFIX = "cb-"  # ACD call ids of callbacks (no caller channel behind them)
CALLBACK_REQUESTED = "callback_requested"


def acd_call_id(cb: m.Callback) -> str:
    return f"{VIRTUAL_PREFIX}{cb.id}-{cb.attempts + 1}"


def callback_id_of(acd_call_id: str) -> int:
    return int(acd_call_id[len(VIRTUAL_PREFIX):].split("-")[0])


class CallbackService:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        settings: CallbackSettings,
        *,
        site: str,
        clock: Callable[[], datetime],
        calendar: Callable[[AsyncSession], Awaitable[BusinessCalendar]],
    ) -> None:
        self.session_factory = session_factory
        self.settings = settings
        self.site = site
        self.clock = clock
        self.calendar = calendar

    # --- from the ACD's journaling (inside its transaction) ----------------------------

    async def on_acd_event(self, session: AsyncSession, event: d.Event, call: calls.Call | None) -> None:
        if isinstance(event, (d.CallAbandoned, d.CallLost)) and call is not None:
            reason = "abandoned" if isinstance(event, d.CallAbandoned) else event.reason
            await self.register_lost(session, call, lost_at=event.at, wait=event.wait_seconds, reason=reason,
                                     queue_entered_at=event.entered_at)
        elif isinstance(event, d.CallAnswered) and call is not None and call.caller_number:
            await self._recover_by_inbound(session, call, event.at)

    async def register_lost(self, session: AsyncSession, call: calls.Call, *, lost_at: datetime, wait: float,
                            reason: str, queue_entered_at: datetime | None = None) -> m.LostCall:
        cal = await self.calendar(session)
        recoverable = call.caller_number is not None
        lost = m.LostCall(
            call_id=call.id, caller_number=call.caller_number, audience=call.audience, lost_at=lost_at,
            wait_seconds=wait, reason=reason,
            status=m.PENDING if recoverable else m.NOT_RECOVERABLE,
            recover_by=scheduling.recovery_deadline(cal, lost_at) if recoverable else None,
        )
        session.add(lost)
        await session.flush()
        if recoverable and self.settings.enabled:
            virtual = reason == CALLBACK_REQUESTED
            if virtual:
                due = lost_at  # placed at the caller's turn: its place in the queue is kept
            else:
                due = scheduling.first_attempt_due(
                    cal, lost_at, delay_seconds=self.settings.delay_seconds,
                    cutoff_seconds=self.settings.cutoff_before_close_seconds)
            session.add(m.Callback(
                lost_call_id=lost.id, number=call.caller_number, audience=call.audience,
                kind="virtual_hold" if virtual else "lost_call", state=m.SCHEDULED, due_at=due,
                next_attempt_at=due, queue_entered_at=queue_entered_at if virtual else None,
                attempts=0, created_at=self.clock(), note="",
            ))
        return lost

    async def _recover_by_inbound(self, session: AsyncSession, call: calls.Call, answered_at: datetime) -> None:
        """The same number called again and was answered: its pending lost calls are
        recovered, and their callbacks are no longer needed."""
        pending = await session.scalars(select(m.LostCall).where(
            m.LostCall.status == m.PENDING, m.LostCall.caller_number == call.caller_number,
            m.LostCall.lost_at < answered_at, m.LostCall.recover_by >= answered_at))
        for lost in pending:
            await self._mark_recovered(session, lost, at=answered_at, by="inbound_call", call_id=call.id)
            for cb in await session.scalars(select(m.Callback).where(
                    m.Callback.lost_call_id == lost.id, m.Callback.state.in_(m.OPEN_STATES))):
                cb.state, cb.closed_at, cb.last_outcome = m.CANCELLED, answered_at, "cancelled"
                cb.note = (cb.note + "\nLe demandeur a rappelé et a été pris en charge.").strip()

    async def _mark_recovered(self, session: AsyncSession, lost: m.LostCall, *, at: datetime, by: str,
                              call_id: str | None) -> None:
        lost.status, lost.recovered_at, lost.recovered_by, lost.recovered_call_id = m.RECOVERED, at, by, call_id
        journal.append(session, Fact(
            kind=EventKind.CALL_RECOVERED, occurred_at=at, channel="phone", call_id=lost.call_id,
            queue=lost.audience,
            data={"lost_call_id": lost.id, "by": by, "recovering_call_id": call_id,
                  "delay_seconds": round((at - lost.lost_at).total_seconds(), 3)},
        ), site=self.site)

    # --- for the dialer -------------------------------------------------------------------

    async def due(self, now: datetime, *, exclude: set[int] = frozenset(), limit: int = 50) -> list[m.Callback]:
        """Callbacks that may be placed now, oldest place first."""
        async with self.session_factory() as session:
            rows = await session.scalars(select(m.Callback).where(
                m.Callback.state == m.SCHEDULED, m.Callback.next_attempt_at <= now)
                .order_by(m.Callback.next_attempt_at, m.Callback.id).limit(limit + len(exclude)))
            return [cb for cb in rows if cb.id not in exclude][:limit]

    async def may_place_now(self) -> bool:
        async with self.session_factory() as session:
            cal = await self.calendar(session)
        return scheduling.may_place_now(cal, self.clock(), self.settings.cutoff_before_close_seconds)

    async def mark_dialing(self, callback_id: int) -> m.Callback:
        async with self.session_factory() as session:
            cb = await self._get(session, callback_id)
            cb.state = m.DIALING
            await session.commit()
            return cb

    async def attempt_started(self, callback_id: int, operator_id: int) -> int:
        """The operator took the callback: the user is being dialled now."""
        async with self.session_factory() as session:
            cb = await self._get(session, callback_id)
            cb.attempts += 1
            attempt = m.CallbackAttempt(callback_id=cb.id, number=cb.attempts, started_at=self.clock(),
                                        operator_id=operator_id)
            session.add(attempt)
            await session.commit()
            return cb.attempts

    async def attempt_ended(self, callback_id: int, outcome: str, *, operator_id: int | None,
                            ticket_id: int | None = None) -> m.Callback:
        """Record an attempt's outcome (answered, no_answer, busy, failed, cancelled); an
        answered callback recovers the lost call, a failed one is retried or exhausted."""
        now = self.clock()
        async with self.session_factory() as session:
            cb = await self._get(session, callback_id)
            attempt = await session.scalar(select(m.CallbackAttempt).where(
                m.CallbackAttempt.callback_id == cb.id).order_by(m.CallbackAttempt.id.desc()).limit(1))
            if attempt is not None and attempt.outcome is None:
                attempt.ended_at, attempt.outcome = now, outcome
                attempt.user_answered = outcome == "answered"
            lost = await session.get(m.LostCall, cb.lost_call_id)
            journal.append(session, Fact(
                kind=EventKind.CALLBACK_ATTEMPTED, occurred_at=now, channel="phone", call_id=lost.call_id,
                operator_id=operator_id, queue=cb.audience,
                data={"callback_id": cb.id, "attempt": cb.attempts, "outcome": outcome, "kind": cb.kind},
            ), site=self.site)
            cb.last_outcome = outcome
            if ticket_id:
                cb.ticket_id = ticket_id
            if outcome == "answered":
                cb.state, cb.closed_at = m.DONE, now
                if lost.status == m.PENDING:
                    await self._mark_recovered(session, lost, at=now, by="callback", call_id=None)
            elif cb.attempts >= self.settings.max_attempts:
                cb.state, cb.closed_at = m.EXHAUSTED, now
            else:
                cal = await self.calendar(session)
                cb.state = m.SCHEDULED
                cb.next_attempt_at = scheduling.next_attempt_due(
                    cal, now, spacing_seconds=self.settings.retry_spacing_seconds,
                    cutoff_seconds=self.settings.cutoff_before_close_seconds)
                cb.queue_entered_at = None  # a retry queues at its new time
            await session.commit()
            return cb

    async def not_placed(self, callback_id: int) -> None:
        """It was waiting for an operator when the window closed: next opening."""
        async with self.session_factory() as session:
            cb = await self._get(session, callback_id)
            if cb.state != m.DIALING:
                return
            cal = await self.calendar(session)
            cb.state = m.SCHEDULED
            cb.next_attempt_at = scheduling.placeable_from(cal, self.clock(), self.settings.cutoff_before_close_seconds)
            await session.commit()

    async def is_open(self, callback_id: int) -> bool:
        async with self.session_factory() as session:
            cb = await session.get(m.Callback, callback_id)
            return cb is not None and cb.state in m.OPEN_STATES

    async def expire_windows(self) -> int:
        """Pending lost calls whose recovery window has passed become unrecovered."""
        now = self.clock()
        async with self.session_factory() as session:
            rows = list(await session.scalars(select(m.LostCall).where(
                m.LostCall.status == m.PENDING, m.LostCall.recover_by < now)))
            for lost in rows:
                lost.status = m.UNRECOVERED
            await session.commit()
            return len(rows)

    # --- for people (API) ----------------------------------------------------------------

    async def trigger(self, session: AsyncSession, callback_id: int) -> m.Callback:
        cb = await self._get(session, callback_id)
        self._require_open(cb)
        cal = await self.calendar(session)
        if not scheduling.may_place_now(cal, self.clock(), 0):
            raise InvalidValue("the service is closed: a callback is only placed during opening hours",
                               field="callback_id")
        cb.state, cb.next_attempt_at = m.SCHEDULED, self.clock()
        return cb

    async def reschedule(self, session: AsyncSession, callback_id: int, at: datetime) -> m.Callback:
        cb = await self._get(session, callback_id)
        self._require_open(cb)
        cal = await self.calendar(session)
        cb.state = m.SCHEDULED
        cb.next_attempt_at = scheduling.placeable_from(cal, at, 0)
        return cb

    async def close(self, session: AsyncSession, callback_id: int, user_id: int, note: str) -> m.Callback:
        cb = await self._get(session, callback_id)
        self._require_open(cb)
        cb.state, cb.closed_at, cb.closed_by, cb.last_outcome = m.CANCELLED, self.clock(), user_id, "cancelled"
        cb.note = (cb.note + "\n" + note).strip()
        return cb

    @staticmethod
    def _require_open(cb: m.Callback) -> None:
        if cb.state not in m.OPEN_STATES:
            raise TransitionNotAllowed(f"callback {cb.id} is {cb.state}", field="callback_id")

    @staticmethod
    async def _get(session: AsyncSession, callback_id: int) -> m.Callback:
        cb = await session.get(m.Callback, callback_id)
        if cb is None:
            raise NotFound(f"no callback {callback_id}", field="callback_id")
        return cb


def callback_out(cb: m.Callback, lost: m.LostCall | None = None) -> dict[str, Any]:
    out = {"id": cb.id, "number": cb.number, "audience": cb.audience, "kind": cb.kind, "state": cb.state,
           "due_at": cb.due_at, "next_attempt_at": cb.next_attempt_at, "attempts": cb.attempts,
           "last_outcome": cb.last_outcome, "created_at": cb.created_at, "closed_at": cb.closed_at,
           "note": cb.note, "ticket_id": cb.ticket_id}
    if lost is not None:
        out["lost_call"] = lost_out(lost)
    return out


def lost_out(lost: m.LostCall) -> dict[str, Any]:
    return {"id": lost.id, "call_id": lost.call_id, "number": lost.caller_number, "audience": lost.audience,
            "lost_at": lost.lost_at, "wait_seconds": lost.wait_seconds, "reason": lost.reason,
            "status": lost.status, "recover_by": lost.recover_by, "recovered_at": lost.recovered_at,
            "recovered_by": lost.recovered_by}
