"""The live channel: one hub per application instance, and the server-sent-events stream
its browsers listen to (``GET /api/v1/console/live?vue=supervision|console``).

Why server-sent events: the pages only *receive* live data (every action goes through the
JSON API, with its roles, validation and audit), SSE is plain HTTP that the login cookie
authenticates, browsers reconnect by themselves, and a stream survives proxies that do not
speak websocket. Each (re)connection starts with the full current state, so nothing is
lost while a browser is away.

How a fact reaches a browser::

    ACD instance: AcdService.flush() ─ journal committed ─> listener ─> compact snapshot ─┐
                  StasisApp.on_answered (ticket committed) ─> "appel" ─────────────────────┤
                                                                                          bus (LISTEN/NOTIFY)
    every instance: bus message ─> hub ─┬─ console streams: operator state, queue strip (no I/O)
                                        └─ recompute (coalesced): today's figures from the
                                           journal + the snapshot ─> wallboard streams

A periodic refresh (``refresh_seconds``) catches what changes without an ACD event (mails,
chats, callbacks) and the passing of time; the ACD instance republishes its snapshot every
``snapshot_every`` seconds so an instance started later, or reconnected, catches up.
Pushed data carries no personal data: the console fetches numbers and requesters through
the audited JSON routes when told a call was bridged (``appel``) or its work changed
(``travail``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from sqlalchemy import select

from accounts import services as accounts
from accounts.exceptions import AuthenticationRequired
from apikit import CONTAINER
from apikit.routes import error_response, token_of
from console import wallboard as wb
from console.bus import _BaseBus, make_bus
from console.settings import ConsoleSettings, definitions, load_console_settings

log = logging.getLogger("guichet.console")

EXTRAS_KEY = "console"
# ACD events that change today's call figures (the others only change the live snapshot).
CALL_EVENTS = frozenset({"CallQueued", "CallAnswered", "CallAbandoned", "CallLost", "CallEnded"})
# …and those that change the callback worklist (a lost call registered, recovered by an answer).
CALLBACK_EVENTS = frozenset({"CallAnswered", "CallAbandoned", "CallLost"})
SUPERVISION_ROLES = ("supervisor", "auditor", "admin")
CONSOLE_VIEWERS = ("supervisor", "auditor", "admin")  # may watch any operator's console


class Subscriber:
    """One browser stream. Pending events are coalesced by key: a slow browser gets the
    latest wallboard, not every intermediate one."""

    def __init__(self, view: str, operator_id: str | None, user_id: int) -> None:
        self.view = view
        self.operator_id = operator_id
        self.user_id = user_id
        self.pending: dict[str, tuple[str, str]] = {}
        self.wake = asyncio.Event()
        self.closed = False
        self.last_state: Any = None
        self.last_queues: Any = None

    def push(self, event: str, data: str, key: str | None = None) -> None:
        self.pending.pop(key or event, None)  # re-inserted last: keeps the order of arrival
        self.pending[key or event] = (event, data)
        self.wake.set()

    def close(self) -> None:
        self.closed = True
        self.wake.set()

    def take(self) -> list[tuple[str, str]]:
        items = list(self.pending.values())
        self.pending.clear()
        self.wake.clear()
        return items


def _without_at(state: Any) -> Any:
    return {k: v for k, v in state.items() if k != "at"} if isinstance(state, dict) else state


def _dumps(value: Any) -> str:
    from apikit.routes import dumps

    return dumps(value)


class ConsoleHub:
    def __init__(self, container: Any, settings: ConsoleSettings | None = None, *, bus: _BaseBus | None = None) -> None:
        self.container = container
        self.settings = settings or load_console_settings()
        self.defs = definitions(self.settings)
        url = container.settings.effective_database_url
        self.bus = bus or make_bus(url, self.settings.bus, self.settings.channel)
        self.subscribers: set[Subscriber] = set()
        self.snapshot: dict[str, Any] | None = None
        self.snapshot_origin: str | None = None
        self.wallboard: dict[str, Any] | None = None
        self.wallboard_json: str | None = None
        self.queue_labels: dict[str, str] = {}
        self.work_signature: str | None = None
        self._trigger: dict[str, Any] | None = None
        self._acd: Any = None
        self._telephony: Any = None
        self._seq = 0
        self._dirty = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._last_publish = 0.0
        self._last_refresh = 0.0
        self._computing = asyncio.Lock()
        self.recomputes = 0
        self._fig: wb.DayFigures | None = None
        self._context_at = 0.0
        self._context_dirty = True
        self._calls_dirty = True

    # --- life cycle ------------------------------------------------------------------------

    async def start(self) -> None:
        self.bus.subscribe(self._on_message)
        await self.bus.start()
        self.attach()
        self._tasks = [asyncio.create_task(self._recompute_loop(), name="console-recompute"),
                       asyncio.create_task(self._timer_loop(), name="console-timer")]
        self.bus.publish({"t": "hello"})  # an ACD instance answers with its snapshot

    async def stop(self) -> None:
        self.close_streams()
        if self._acd is not None:
            with contextlib.suppress(ValueError):
                self._acd.listeners.remove(self._on_acd_events)
        if self._telephony is not None:
            with contextlib.suppress(ValueError):
                self._telephony.app.on_answered.remove(self._on_answered)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.bus.stop()

    def close_streams(self) -> None:
        for sub in list(self.subscribers):
            sub.close()

    def attach(self) -> None:
        """Listen to this instance's ACD and Stasis application, when it runs them (checked
        again on every timer tick: a standby site may start its ACD later)."""
        acd = self.container.extras.get("acd")
        if acd is not None and acd is not self._acd:
            if self._acd is not None:
                with contextlib.suppress(ValueError):
                    self._acd.listeners.remove(self._on_acd_events)
            acd.listeners.append(self._on_acd_events)
            self._acd = acd
            if acd.acd is not None:
                self.publish_snapshot()
        telephony = self.container.extras.get("telephony")
        if telephony is not None and telephony is not self._telephony:
            telephony.app.on_answered.append(self._on_answered)
            self._telephony = telephony

    # --- publishing (the instance that runs the ACD) -----------------------------------------

    def _on_acd_events(self, events: list[Any]) -> None:
        kinds = sorted({type(e).__name__ for e in events})
        last = max(e.at for e in events)
        self.publish_snapshot({"k": kinds, "at": wb._ms(last)})

    def publish_snapshot(self, trigger: dict[str, Any] | None = None) -> None:
        acd = self._acd
        if acd is None or acd.acd is None:
            return
        self._seq += 1
        self._last_publish = time.monotonic()
        self.bus.publish(wb.compact_snapshot(acd.acd, acd.clock(), seq=self._seq, trigger=trigger))

    def _on_answered(self, info: dict[str, Any]) -> None:
        # No number on the bus: the console reads it through the audited call route.
        self.bus.publish({"t": "appel", "op": str(info.get("operator_id")), "call": info.get("call_id"),
                          "ticket": info.get("ticket"), "aud": info.get("audience")})

    def work_changed(self) -> None:
        """Something in the operators' work changed (a mail taken, a chat started): every
        instance refreshes its figures and tells its consoles."""
        self.bus.publish({"t": "work"})

    # --- receiving (every instance) ----------------------------------------------------------

    def _on_message(self, msg: dict[str, Any]) -> None:
        kind = msg.get("t")
        if kind == "acd":
            if self.snapshot is not None and msg["at"] < self.snapshot["at"] and msg.get("o") == self.snapshot_origin:
                return  # older than what we have
            self.snapshot, self.snapshot_origin = msg, msg.get("o")
            trigger = msg.get("tr")
            if trigger:
                self._trigger = trigger
                kinds = set(trigger.get("k", ()))
                if kinds & CALL_EVENTS:
                    self._calls_dirty = True
                if kinds & CALLBACK_EVENTS:
                    self._context_dirty = True
            self._fanout_live()
            if self.subscribers:
                if (self._calls_dirty or self._context_dirty) and self._fig is not None and self._has("supervision"):
                    # The live figures at once (no I/O); today's counts follow the queries.
                    self._publish_board(self._fig, self.live(), trigger)
                self._dirty.set()
        elif kind == "appel":
            data = _dumps({"call_id": msg.get("call"), "ticket": msg.get("ticket"), "audience": msg.get("aud")})
            for sub in list(self.subscribers):
                if sub.view == "console" and sub.operator_id == msg.get("op"):
                    sub.push("appel", data, key=f"appel:{msg.get('call')}")
        elif kind == "work":
            self._context_dirty = True
            if self.subscribers:
                self._dirty.set()
        elif kind in ("hello", "bus_reconnected"):
            if self._acd is not None:
                self.publish_snapshot()

    def live(self) -> wb.Live:
        return wb.expand_snapshot(self.snapshot)

    def operator_state(self, operator_id: str | None) -> dict[str, Any]:
        """An operator's live state as the console shows it."""
        live = self.live()
        fresh = self._fresh(live)
        lo = live.operators.get(str(operator_id)) if fresh else None
        return {"at": self.container.clock().isoformat(), "known": fresh, "state": lo.state if lo else "logged_out",
                "since": lo.since.isoformat() if lo and lo.since else None,
                "pause_reason": lo.pause_reason if lo else None,
                "call_id": lo.call_id if lo else None, "call_queue": lo.call_queue if lo else None}

    def queue_strip(self) -> list[dict[str, Any]]:
        live = self.live()
        fresh = self._fresh(live)
        codes = list(self.queue_labels) or sorted(live.queues)
        return [{"code": c, "label": self.queue_labels.get(c, c),
                 "waiting": live.queues[c].waiting if fresh and c in live.queues else None,
                 "oldest_entered_at": live.queues[c].oldest_entered_at.isoformat()
                 if fresh and c in live.queues and live.queues[c].oldest_entered_at else None}
                for c in codes]

    def _fresh(self, live: wb.Live) -> bool:
        if not live.known or live.at is None:
            return False
        return (self.container.clock() - live.at).total_seconds() <= self.settings.stale_after

    def _fanout_live(self) -> None:
        """Operator states and the queue strip to the consoles: from the snapshot, no I/O."""
        strip = None
        for sub in list(self.subscribers):
            if sub.view != "console":
                continue
            state = self.operator_state(sub.operator_id)
            if _without_at(state) != _without_at(sub.last_state):
                sub.last_state = state
                sub.push("etat", _dumps(state))
            strip = strip if strip is not None else self.queue_strip()
            if strip != sub.last_queues:
                sub.last_queues = strip
                sub.push("files", _dumps(strip))

    # --- computing ---------------------------------------------------------------------------

    async def _recompute_loop(self) -> None:
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            try:
                await self.recompute()
            except Exception:  # noqa: BLE001 - the next trigger tries again
                log.exception("wallboard recompute failed")

    async def _timer_loop(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            try:
                self.attach()
                now = time.monotonic()
                if self._acd is not None and now - self._last_publish >= self.settings.snapshot_every:
                    self.publish_snapshot()
                if self.subscribers and now - self._last_refresh >= self.settings.refresh_seconds:
                    self._dirty.set()
                self._fanout_live()  # staleness shows even when nothing arrives
            except Exception:  # noqa: BLE001 - the timer must survive anything
                log.exception("console timer failed")

    async def recompute(self, *, full: bool = False) -> dict[str, Any]:
        """Today's figures beside the snapshot, pushed to the wallboards; the work
        signature to the consoles.

        What changes without ACD events (backlogs, roster, calendar) is reloaded every
        ``refresh_seconds`` or when told the work changed; today's calls only after an ACD
        event about a call; an event about operators alone needs no query at all."""
        async with self._computing:
            self.recomputes += 1
            container = self.container
            now = container.clock()
            zone = container.settings.opening_hours.zone
            # The snapshot and what caused it are taken together, before the queries.
            trigger, self._trigger = self._trigger, None
            live = self.live()
            fig = self._fig
            stale = (fig is None or full or self._context_dirty or fig.day != wb.day_bounds(now, zone)[0]
                     or time.monotonic() - self._context_at >= self.settings.refresh_seconds)
            calls_dirty, self._calls_dirty = self._calls_dirty, False
            self._context_dirty = False if stale else self._context_dirty
            signature = self.work_signature
            if stale or calls_dirty:
                async with container.session_factory() as session:
                    if stale:
                        calendar = await container.calendar(session)
                        fresh = await wb.load_context(session, now, zone, calendar)
                        if fig is not None and fig.day == fresh.day and not calls_dirty:
                            fresh.rows, fresh.per_operator = fig.rows, fig.per_operator
                        else:
                            calls_dirty = True
                        fig = fresh
                        self._context_at = time.monotonic()
                        if self._has("console"):
                            signature = await self._work_signature(session)
                    if calls_dirty:
                        await wb.load_calls(session, fig, now, zone)
                self._fig = fig
                self._last_refresh = time.monotonic()
            self.queue_labels = dict(fig.queues)
            payload = self._publish_board(fig, live, trigger)
            if signature != self.work_signature:
                self.work_signature = signature
                for sub in list(self.subscribers):
                    if sub.view == "console":
                        sub.push("travail", _dumps({"signature": signature}))
            self._fanout_live()
            return payload

    def _publish_board(self, fig: wb.DayFigures, live: wb.Live, trigger: dict[str, Any] | None) -> dict[str, Any]:
        container = self.container
        payload = wb.build(fig, live, container.clock(), container.settings.opening_hours.zone, self.defs,
                           stale_after=self.settings.stale_after)
        if trigger:
            payload["trigger"] = trigger  # what caused it (the latency benchmark reads it)
        self.wallboard = payload
        self.wallboard_json = _dumps(payload)
        for sub in list(self.subscribers):
            if sub.view == "supervision":
                sub.push("tableau", self.wallboard_json)
        return payload

    def refresh_soon(self) -> None:
        """Reload everything from the database at the next recompute (soon)."""
        self._context_dirty = True
        self._dirty.set()

    def _has(self, view: str) -> bool:
        return any(s.view == view for s in self.subscribers)

    async def _work_signature(self, session: Any) -> str:
        """A digest of the team's work lists (mail queue, callback worklist, chats): the
        consoles refetch them when it changes."""
        from callback import models as cb
        from ticket_core.models import Ticket

        digest = hashlib.sha256()
        for row in await session.execute(
                select(Ticket.id, Ticket.taken_in_charge_due_at).where(
                    Ticket.channel == "mail", Ticket.taken_in_charge_at.is_(None),
                    Ticket.taken_in_charge_due_at.is_not(None), Ticket.status.in_(wb.OPEN)).order_by(Ticket.id)):
            digest.update(repr(tuple(row)).encode())
        for row in await session.execute(
                select(cb.Callback.id, cb.Callback.state, cb.Callback.next_attempt_at, cb.Callback.attempts)
                .where(cb.Callback.state.in_(cb.OPEN_STATES)).order_by(cb.Callback.id)):
            digest.update(repr(tuple(row)).encode())
        try:
            from chatgw.models import ChatConversation as C
        except ImportError:
            pass
        else:
            for row in await session.execute(
                    select(C.id, C.status, C.operator_id).where(C.status != "ended").order_by(C.id)):
                digest.update(repr(tuple(row)).encode())
        return digest.hexdigest()[:16]

    async def current_wallboard(self, max_age: float = 1.0) -> dict[str, Any]:
        """The latest figures; computed now when older than ``max_age`` seconds (the
        figures of an instance nobody watches are not kept up to date)."""
        if self.wallboard is None or time.monotonic() - self._last_refresh > max_age:
            self._calls_dirty = True
            return await self.recompute(full=True)
        return self.wallboard

    # --- streams -------------------------------------------------------------------------

    def add(self, sub: Subscriber) -> None:
        self.subscribers.add(sub)

    def remove(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)


def hub_of(container: Any) -> ConsoleHub:
    hub = container.extras.get(EXTRAS_KEY)
    if hub is None:
        raise web.HTTPServiceUnavailable(text="console hub not started")
    return hub


def notify_work_changed(container: Any) -> None:
    """For other packages (mail, chat gateways): their operators' work changed; the
    consoles and wallboards refresh at once instead of at the next periodic refresh."""
    hub = container.extras.get(EXTRAS_KEY)
    if hub is not None:
        hub.work_changed()


def _sse(event: str, data: str) -> bytes:
    lines = "".join(f"data: {line}\n" for line in data.split("\n"))
    return f"event: {event}\n{lines}\n".encode()


async def _user(container: Any, token: str | None) -> Any:
    if not token:
        raise AuthenticationRequired("log in first")
    async with container.session_factory() as session:
        return await accounts.user_for_token(session, token)


async def live_stream(request: web.Request) -> web.StreamResponse:
    """``GET /api/v1/console/live?vue=supervision`` (supervisors, auditors, admins) or
    ``?vue=console[&operateur=ID]`` (an operator: their own; the others: anyone's).
    Server-sent events: ``tableau`` (the wallboard), ``etat`` (the operator's state),
    ``files`` (calls waiting per queue), ``appel`` (a call bridged to the operator),
    ``travail`` (the work lists changed), ``fin`` (session over)."""
    container = request.app[CONTAINER]
    token = token_of(request)
    try:
        user = await _user(container, token)
    except AuthenticationRequired as exc:
        return error_response(401, exc.error_id, exc.message)
    view = request.query.get("vue", "supervision")
    operator_id: str | None = None
    if view == "supervision":
        if user.role not in SUPERVISION_ROLES:
            return error_response(403, "forbidden", f"role {user.role} may not watch the wallboard")
    elif view == "console":
        wanted = request.query.get("operateur")
        if user.role == "operator":
            if wanted and wanted != str(user.id):
                return error_response(403, "forbidden", "operators watch their own console only")
            operator_id = str(user.id)
        elif user.role in CONSOLE_VIEWERS:
            if not (wanted and wanted.isdigit()):
                return error_response(422, "invalid_field", "operateur: give the operator's id", field="operateur")
            operator_id = wanted
        else:
            return error_response(403, "forbidden", f"role {user.role} may not watch a console")
    else:
        return error_response(422, "invalid_field", "vue: supervision or console", field="vue")
    hub = hub_of(container)
    response = web.StreamResponse(headers={
        "Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-store",
        "X-Accel-Buffering": "no", "X-Content-Type-Options": "nosniff"})
    await response.prepare(request)
    sub = Subscriber(view, operator_id, user.id)
    hub.add(sub)
    heartbeat = hub.settings.heartbeat_seconds
    try:
        await response.write(b"retry: 2000\n\n")
        if view == "supervision":
            sub.push("tableau", _dumps(await hub.current_wallboard()))
        else:
            sub.last_state = hub.operator_state(operator_id)
            sub.push("etat", _dumps(sub.last_state))
            if not hub.queue_labels:
                await hub.current_wallboard(max_age=60)
            sub.last_queues = hub.queue_strip()
            sub.push("files", _dumps(sub.last_queues))
            sub.push("travail", _dumps({"signature": hub.work_signature}))
            hub.refresh_soon()  # computes the work signature now that a console listens
        checked = time.monotonic()
        while not sub.closed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(sub.wake.wait(), heartbeat)
            items = sub.take()
            if not items and not sub.closed:
                await response.write(b": ping\n\n")
            for event, data in items:
                await response.write(_sse(event, data))
            if time.monotonic() - checked >= heartbeat:
                checked = time.monotonic()
                try:
                    await _user(container, token)  # logged out or expired: the stream ends
                except AuthenticationRequired:
                    await response.write(_sse("fin", '{"reason": "session"}'))
                    break
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        hub.remove(sub)
    return response


async def start_hub(container: Any, settings: ConsoleSettings | None = None) -> Callable[[], Awaitable[None]]:
    """Start this instance's hub unless one runs already; returns its stop function."""
    if container.extras.get(EXTRAS_KEY) is not None:
        async def noop() -> None:
            return None
        return noop
    hub = ConsoleHub(container, settings)
    container.extras[EXTRAS_KEY] = hub
    await hub.start()

    async def stop() -> None:
        await hub.stop()
        if container.extras.get(EXTRAS_KEY) is hub:
            container.extras.pop(EXTRAS_KEY, None)

    return stop

