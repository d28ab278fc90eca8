"""The ACD's service layer: owns the one in-memory ``Acd`` of this instance, loads its
roster from the database, and turns every domain event into journal facts and ``calls``
rows in one transaction — the ACD decides, this module remembers.

Operator states survive a restart of the application: they are rebuilt from the last
``operator_state_changed`` fact of each operator (the journal is the truth).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd import domain as d
from acd.models import OperatorSkill
from accounts.models import User
from ticket_core import journal
from ticket_core.journal import EventKind, Fact
from ticket_core.models import Audience, JournalEvent
from telephony import models as calls

log = logging.getLogger("guichet.acd")


class AcdService:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        site: str,
        settings: d.AcdSettings,
        clock: Callable[[], datetime],
        audiences: Iterable[str] = (),
    ) -> None:
        self.session_factory = session_factory
        self.site = site
        self.clock = clock
        self.acd_settings = settings
        self.acd: d.Acd | None = None
        self._audiences = list(audiences)
        self.listeners: list[Callable[[list[d.Event]], Any]] = []  # wallboard, console…
        # Called inside the journaling transaction for each event (the callback registry).
        self.recorders: list[Callable[[AsyncSession, d.Event, Any], Awaitable[None]]] = []
        # ACD calls with this prefix are callbacks (no caller channel): their facts are
        # journaled by the callback service, not as inbound calls.
        self.virtual_prefix = "cb-"

    # --- start-up ----------------------------------------------------------------------

    async def start(self) -> None:
        async with self.session_factory() as session:
            audiences = self._audiences or list(await session.scalars(
                select(Audience.code).where(Audience.active.is_(True)).order_by(Audience.code)))
            self.acd = d.Acd(audiences, self.acd_settings)
            await self.load_roster(session)
            await self._restore_operator_states(session)

    async def load_roster(self, session: AsyncSession) -> None:
        """(Re)register every active operator with a softphone endpoint and their skills."""
        assert self.acd is not None
        users = list(await session.scalars(select(User).where(
            User.role == "operator", User.active.is_(True), User.sip_endpoint.is_not(None))))
        skills: dict[int, dict[str, int]] = {}
        for row in await session.scalars(select(OperatorSkill)):
            if row.audience in self.acd.audiences:
                skills.setdefault(row.user_id, {})[row.audience] = row.level
        for user in users:
            self.acd.register_operator(str(user.id), user.display_name or user.username,
                                       user.sip_endpoint, skills.get(user.id, {}))

    async def ensure_known(self, operator_id: str) -> None:
        """Reload the roster when an operator is not known yet (created since start-up,
        possibly on another instance)."""
        assert self.acd is not None
        try:
            self.acd.operator(operator_id)
        except d.AcdError:
            async with self.session_factory() as session:
                await self.load_roster(session)

    async def _restore_operator_states(self, session: AsyncSession) -> None:
        assert self.acd is not None
        last = (select(JournalEvent.operator_id, func.max(JournalEvent.id).label("id"))
                .where(JournalEvent.kind == EventKind.OPERATOR_STATE_CHANGED.value,
                       JournalEvent.site == self.site)
                .group_by(JournalEvent.operator_id).subquery())
        rows = await session.scalars(select(JournalEvent).join(last, JournalEvent.id == last.c.id))
        now = self.clock()
        for event in rows:
            op = str(event.operator_id)
            state = event.data.get("new")
            try:
                self.acd.operator(op)
            except d.AcdError:
                continue  # no longer an operator
            if state in (None, d.OperatorState.LOGGED_OUT.value):
                continue
            # On call or ringing before the restart: the telephony reconciliation puts the
            # call back; until then the operator is logged in and, to be safe, paused.
            self.acd.login(op, now)
            if state == d.OperatorState.PAUSED.value:
                self.acd.pause(op, event.data.get("pause_reason") or "pause", now)
        # Restoring is not a change of state: nothing to journal.
        self.acd.pull_events()

    # --- commands ----------------------------------------------------------------------

    def operator_for_endpoint(self, endpoint: str) -> d.OperatorView | None:
        assert self.acd is not None
        for op_id in list(self.acd.snapshot(self.clock())["operators"]):
            view = self.acd.operator(op_id)
            if view.endpoint == endpoint:
                return view
        return None

    async def flush(self) -> list[d.Event]:
        """Journal every event the ACD recorded since the last flush, in one transaction."""
        assert self.acd is not None
        events = self.acd.pull_events()
        if not events:
            return events
        # Shielded: the task that flushes may be cancelled (a caller hanging up cancels the
        # call's tasks), but the events it took belong to every call and must be written.
        await asyncio.shield(self._write(events))
        for listener in self.listeners:
            try:
                listener(events)
            except Exception:  # noqa: BLE001 - a display must never break call handling
                log.exception("ACD listener failed")
        return events

    async def _write(self, events: list[d.Event]) -> None:
        async with self.session_factory() as session:
            await self.journal_events(session, events)
            await session.commit()

    async def journal_events(self, session: AsyncSession, events: Iterable[d.Event]) -> None:
        """Write the facts of these ACD events in the caller's transaction."""
        for event in events:
            await self._record(session, event)

    async def _record(self, session: AsyncSession, e: d.Event) -> None:
        def fact(kind: EventKind, *, call_id: str | None = None, operator_id: str | None = None,
                 queue: str | None = None, **data: Any) -> None:
            journal.append(session, Fact(
                kind=kind, occurred_at=e.at, channel="phone" if call_id else None, call_id=call_id,
                operator_id=int(operator_id) if operator_id else None, queue=queue, data=data,
            ), site=self.site)

        call_id = getattr(e, "call_id", None)
        if call_id and call_id.startswith(self.virtual_prefix):
            if isinstance(e, d.OperatorStateChanged):
                pass  # operator facts are journaled whatever the call
            else:
                for recorder in self.recorders:
                    await recorder(session, e, None)
                return
        call = await session.get(calls.Call, call_id) if call_id and not isinstance(e, d.OperatorStateChanged) else None
        if isinstance(e, d.CallLost) and e.reason == "callback_requested":
            # Virtual hold accepted: the caller keeps their place and will be called back.
            # Not an abandonment by default (the indicators' definitions decide).
            fact(EventKind.CALLBACK_REQUESTED, call_id=e.call_id, queue=e.audience,
                 wait_seconds=round(e.wait_seconds, 3))
            if call:
                call.outcome, call.ended_at, call.wait_seconds = calls.CALLBACK_REQUESTED, e.at, e.wait_seconds
        elif isinstance(e, d.CallQueued):
            if not e.restored:
                fact(EventKind.CALL_PRESENTED, call_id=e.call_id, queue=e.audience,
                     skilled_operators_logged_in=e.skilled_operators_logged_in)
                if call:
                    call.presented_at, call.audience = e.entered_at, e.audience
        elif isinstance(e, d.CallOffered):
            fact(EventKind.CALL_OFFERED, call_id=e.call_id, operator_id=e.operator_id, queue=e.audience,
                 attempt=e.attempt, overflow=e.overflow, wait_seconds=round(e.wait_seconds, 3))
            if call:
                call.attempts = e.attempt
        elif isinstance(e, d.CallAnswered):
            fact(EventKind.CALL_ANSWERED, call_id=e.call_id, operator_id=e.operator_id, queue=e.audience,
                 wait_seconds=round(e.wait_seconds, 3), attempt=e.attempt, overflow=e.overflow)
            if call:
                call.answered_at, call.wait_seconds = e.at, e.wait_seconds
                call.outcome, call.operator_id = calls.ANSWERED, int(e.operator_id)
        elif isinstance(e, d.CallAbandoned):
            fact(EventKind.CALL_ABANDONED, call_id=e.call_id, queue=e.audience,
                 wait_seconds=round(e.wait_seconds, 3), attempts=e.attempts)
            if call:
                call.outcome, call.ended_at, call.wait_seconds = calls.ABANDONED, e.at, e.wait_seconds
        elif isinstance(e, d.CallLost):
            fact(EventKind.CALL_LOST, call_id=e.call_id, queue=e.audience, reason=e.reason,
                 wait_seconds=round(e.wait_seconds, 3), attempts=e.attempts)
            if call:
                call.outcome, call.ended_at, call.wait_seconds = calls.LOST, e.at, e.wait_seconds
                call.lost_reason = e.reason
        elif isinstance(e, d.CallEnded):
            fact(EventKind.CALL_ENDED, call_id=e.call_id, operator_id=e.operator_id, queue=e.audience,
                 talk_seconds=round(e.talk_seconds, 3))
            if call:
                call.ended_at = e.at
        elif isinstance(e, d.OfferFailed):
            fact(EventKind.CALL_OFFER_FAILED, call_id=e.call_id, operator_id=e.operator_id, queue=e.audience,
                 reason=e.reason, ring_seconds=round(e.ring_seconds, 3), attempt=e.attempt)
        elif isinstance(e, d.OperatorStateChanged):
            fact(EventKind.OPERATOR_STATE_CHANGED, operator_id=e.operator_id, call_id=None,
                 old=str(e.old), new=str(e.new), reason=e.reason, pause_reason=e.pause_reason,
                 seconds_in_old_state=e.seconds_in_old_state, call=e.call_id)
        for recorder in self.recorders:
            await recorder(session, e, call)
