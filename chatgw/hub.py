"""The chat hub of this instance: the dispatcher, the live connections and the timers.

It feeds the pure :class:`~chatgw.dispatch.ChatDispatcher` what happens on the websockets,
makes its decisions durable through ``chatgw.services`` and tells the people concerned.
State changes (start, accept, close, timers…) run one at a time under a lock, in the
order: decide → write (one transaction) → notify. Messages do not take that lock: they go
through the ``MessageWriter`` (numbered, committed, then acknowledged and relayed).

Every connection has its own outbound queue drained by its own task, so a slow or stuck
client never delays anyone else; a client that lets its queue fill up is closed.

Scale: one hub per instance holds the connections it accepted. Several instances behind a
load balancer would each run their own queue; sharing one queue across instances (one
decision-maker per queue, messages relayed through PostgreSQL LISTEN/NOTIFY) is the next
step, not built yet.
"""

from __future__ import annotations

import asyncio
import json
import logging
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy import select

from accounts.models import User
from acd.models import OperatorSkill
from chatgw import services, strings
from chatgw.dispatch import (
    ChatAnswered,
    ChatDispatcher,
    ChatEnded,
    ChatOffered,
    ChatQueued,
    ChatRequeued,
    ChatStatus,
    DispatchError,
    DispatchSettings,
    OfferFailed,
    OperatorChanged,
)
from chatgw.exceptions import ChatClosed, MessageNotSaved
from chatgw.models import ChatConversation, ChatMessage
from chatgw.ratelimit import WindowLimiter
from chatgw.settings import ChatSettings
from ticket_core.exceptions import InvalidValue
from ticket_core.models import Audience, Ticket
from ticket_core.services import Actor

log = logging.getLogger("guichet.chat")

OPERATOR_ROLES = ("operator", "supervisor", "admin")
EXTRAS_KEY = "chat"  # the hub in ``Container.extras``


def close_reason(text: str) -> bytes:
    """A close reason within the protocol's 123 bytes, cut on a character boundary."""
    raw = text.encode("utf-8")
    if len(raw) <= 123:
        return raw
    return raw[:120].decode("utf-8", "ignore").encode("utf-8") + "…".encode("utf-8")[:3]


class Peer:
    """One websocket and its outbound queue."""

    def __init__(self, ws: web.WebSocketResponse, limit: int) -> None:
        self.ws = ws
        self.closed = False
        self._queue: asyncio.Queue[str | tuple[int, str]] = asyncio.Queue(maxsize=limit)
        self._task = asyncio.get_running_loop().create_task(self._drain())

    def send(self, frame: dict[str, Any]) -> None:
        if self.closed:
            return
        try:
            self._queue.put_nowait(json.dumps(frame, ensure_ascii=False, default=str))
        except asyncio.QueueFull:
            self._abort(1008, strings.CLOSE_SLOW)

    def close_after(self, code: int, reason: str) -> None:
        """Close once the frames queued before are sent."""
        if self.closed:
            return
        self.closed = True
        try:
            self._queue.put_nowait((code, reason))
        except asyncio.QueueFull:
            self._abort(code, reason, already_closed=True)

    def _abort(self, code: int, reason: str, already_closed: bool = False) -> None:
        self.closed = True
        self._task.cancel()
        asyncio.get_running_loop().create_task(self._close(code, reason))

    async def _close(self, code: int, reason: str) -> None:
        try:
            await self.ws.close(code=code, message=close_reason(reason))
        except Exception:  # noqa: BLE001 - the peer is gone anyway
            pass

    async def _drain(self) -> None:
        try:
            while True:
                item = await self._queue.get()
                if isinstance(item, tuple):
                    await self._close(*item)
                    return
                await self.ws.send_str(item)
        except (ConnectionError, RuntimeError, asyncio.CancelledError):
            self.closed = True
        except Exception:  # noqa: BLE001
            self.closed = True
            log.debug("chat peer send failed", exc_info=True)

    async def finish(self) -> None:
        """Called by the handler on its way out: let queued frames (and a close) go."""
        if not self.closed:
            self.closed = True
            try:
                self._queue.put_nowait((1000, ""))
            except asyncio.QueueFull:
                self._task.cancel()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), 5)
        except (asyncio.TimeoutError, asyncio.CancelledError):
            self._task.cancel()


@dataclass(eq=False)
class LiveChat:
    public_id: str
    db_id: int
    ticket_id: int
    reference: str
    audience: str
    token_hash: str
    preview: str
    visitor_name: str
    user: Peer | None = None
    operator_id: str | None = None
    client_ids: dict[str, int] = field(default_factory=dict)
    pending_ids: set[str] = field(default_factory=set)
    last_position: int = -1
    ended: bool = False


@dataclass(eq=False)
class LiveOperator:
    user_id: int
    username: str
    display_name: str
    role: str
    peers: set[Peer] = field(default_factory=set)

    @property
    def key(self) -> str:
        return str(self.user_id)

    def send(self, frame: dict[str, Any], *, exclude: Peer | None = None) -> None:
        for peer in list(self.peers):
            if peer is not exclude:
                peer.send(frame)


class ChatHub:
    def __init__(self, container: Any, settings: ChatSettings) -> None:
        self.container = container
        self.settings = settings
        self.clock: Callable[[], datetime] = container.clock
        self.site: str = container.settings.site
        self.zone = container.settings.opening_hours.zone
        self.dispatcher: ChatDispatcher | None = None
        self.writer = services.MessageWriter(container.session_factory, container.clock)
        self.chats: dict[str, LiveChat] = {}
        self.by_token: dict[str, str] = {}
        self.operators: dict[str, LiveOperator] = {}
        self.audience_labels: dict[str, str] = {}
        self._lock = asyncio.Lock()
        self._ticker: asyncio.Task | None = None
        self.peers: set[Peer] = set()
        self._positions_pending = False
        # Bursts of new chats wait here, not for a pooled connection (whose wait times out).
        self.db_slots = asyncio.Semaphore(settings.db_concurrency)
        # Per client address: new chats here; the portal's mail form and survey use the
        # other two (one set per instance, like the hub).
        self.start_limiter = WindowLimiter(settings.starts_per_ip, settings.ip_window)
        self.form_limiter = WindowLimiter(settings.forms_per_ip, settings.ip_window)
        self.survey_limiter = WindowLimiter(settings.surveys_per_ip, settings.ip_window)

    # --- life cycle -------------------------------------------------------------------------

    @property
    def dispatch_settings(self) -> DispatchSettings:
        s = self.settings
        return DispatchSettings(max_chats=s.max_concurrent_chats, offer_timeout=s.offer_timeout,
                                overflow_after=s.overflow_after or None, max_missed_offers=s.max_missed_offers,
                                resume_window=s.resume_window, operator_grace=s.operator_grace)

    async def start(self) -> None:
        async with self.container.session_factory() as session:
            rows = list(await session.scalars(select(Audience).where(Audience.active.is_(True))
                                              .order_by(Audience.code)))
            self.audience_labels = {a.code: a.label for a in rows}
            self.dispatcher = ChatDispatcher(list(self.audience_labels), self.dispatch_settings)
            await self._restore(session)
        self.writer.start()
        self._ticker = asyncio.get_running_loop().create_task(self._tick_forever(), name="chat-ticker")

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            try:
                await self._ticker
            except asyncio.CancelledError:
                pass
            self._ticker = None
        await self.close_connections()
        await self.writer.stop()

    async def close_connections(self) -> None:
        """Service restart: every connection is closed with 1012; users and operators
        reconnect and resume (the chats stay open in the database)."""
        for peer in list(self.peers):
            peer.close_after(1012, strings.CLOSE_SHUTDOWN)
        await asyncio.sleep(0)

    async def _restore(self, session: Any) -> None:
        """Waiting and active chats found in the database go back to the queue or to
        their operator (who has ``operator_grace`` to come back); users have
        ``resume_window`` to reconnect."""
        now = self.clock()
        assert self.dispatcher is not None
        for conv in await services.open_conversations(session, self.site):
            if conv.audience not in self.audience_labels:
                continue
            ticket = await session.get(Ticket, conv.ticket_id)
            chat = self._live(conv, ticket.reference, ticket.description)
            for m in await services.messages_of(session, conv.id):
                if m.client_id:
                    chat.client_ids[m.client_id] = m.seq
            self.writer.track(conv.id, await services.last_seq(session, conv.id))
            if conv.status == "active" and conv.operator_id is not None \
                    and await self._register_operator(session, conv.operator_id) is not None:
                self.dispatcher.restore_active(conv.public_id, conv.audience, str(conv.operator_id),
                                               conv.entered_at, conv.answered_at or now, now)
                chat.operator_id = str(conv.operator_id)
            else:
                self.dispatcher.restore_waiting(conv.public_id, conv.audience, conv.entered_at, now)
        self.dispatcher.pull_events()  # restoring is not news: nothing to journal
        if self.chats:
            log.info("chat: %d conversations restored", len(self.chats))

    def _live(self, conv: ChatConversation, reference: str, preview: str) -> LiveChat:
        chat = LiveChat(conv.public_id, conv.id, conv.ticket_id, reference, conv.audience, conv.token_hash,
                        textwrap.shorten(" ".join(preview.split()), 200, placeholder="…"), conv.visitor_name)
        self.chats[conv.public_id] = chat
        self.by_token[conv.token_hash] = conv.public_id
        return chat

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            try:
                await self.tick()
            except Exception:  # noqa: BLE001 - the ticker must survive
                log.exception("chat tick failed")

    async def tick(self) -> None:
        assert self.dispatcher is not None
        async with self._lock:
            now = self.clock()
            self.dispatcher.tick(now)
            self.dispatcher.dispatch(now)
            await self._apply(self.dispatcher.pull_events())

    # --- opening hours ----------------------------------------------------------------------

    async def opening(self) -> tuple[bool, datetime | None]:
        now = self.clock()
        async with self.container.session_factory() as session:
            calendar = await self.container.calendar(session)
        if calendar.is_open(now):
            return True, calendar.next_closing(now)
        try:
            return False, calendar.next_opening(now)
        except ValueError:
            return False, None

    # --- users ------------------------------------------------------------------------------

    async def user_start(self, peer: Peer, *, audience: str, message: str, name: str = "",
                         email: str | None = None, client_id: str | None = None) -> LiveChat:
        assert self.dispatcher is not None
        if audience not in self.audience_labels:
            raise InvalidValue(f"unknown audience {audience!r}", field="audience")
        async with self.db_slots, self.container.session_factory() as session:
            now = self.clock()
            calendar = await self.container.calendar(session)
            if not calendar.is_open(now):
                raise ChatClosed("the chat is open during opening hours only")
            tickets = await self.container.tickets(session)
            started = await services.start_conversation(
                session, tickets, site=self.site, audience=audience, message=message, name=name,
                email=email, client_id=client_id, now=now)
            await session.commit()
        conv = started.conversation
        chat = self._live(conv, started.ticket.reference, message)
        if client_id:
            chat.client_ids[client_id] = 1
        self.writer.track(conv.id, 1)
        chat.user = peer
        peer.send({"type": "started", "conversation": conv.public_id, "token": started.token,
                   "reference": started.ticket.reference,
                   "messages": [services.message_out(started.first_message)]})
        async with self._lock:
            self.dispatcher.enqueue(conv.public_id, audience, now)
            self.dispatcher.dispatch(now)
            await self._apply(self.dispatcher.pull_events())
        return chat

    async def user_resume(self, peer: Peer, token: str, last_seq: int) -> LiveChat | None:
        """Re-attach a user to their chat; None when it has ended (the peer was told)."""
        assert self.dispatcher is not None
        token_hash = services.hash_token(token)
        public_id = self.by_token.get(token_hash)
        chat = self.chats.get(public_id) if public_id else None
        if chat is None or chat.ended:
            await self._tell_ended(peer, token)
            return None
        async with self._lock:
            old, chat.user = chat.user, peer
            if old is not None and old is not peer:
                old.close_after(4000, strings.CLOSE_REPLACED)
            now = self.clock()
            if self.dispatcher.has_chat(chat.public_id):
                self.dispatcher.user_reconnected(chat.public_id, now)
            async with self.db_slots, self.container.session_factory() as session:
                missed = await services.messages_of(session, chat.db_id, last_seq)
            state = self.dispatcher.chat(chat.public_id)["status"] if self.dispatcher.has_chat(chat.public_id) else "ended"
            position = self.dispatcher.position(chat.public_id) if state == ChatStatus.WAITING else 0
            chat.last_position = position
            peer.send({"type": "resumed", "conversation": chat.public_id, "reference": chat.reference,
                       "state": "active" if state == ChatStatus.ACTIVE else "waiting", "position": position,
                       "operators_available": self.dispatcher.has_available_operator_for(chat.audience),
                       "messages": [services.message_out(m) for m in missed]})
            self._to_operator(chat, {"type": "user_status", "conversation": chat.public_id, "connected": True})
        return chat

    async def _tell_ended(self, peer: Peer, token: str) -> None:
        async with self.db_slots, self.container.session_factory() as session:
            conv = await services.conversation_by_token(session, token)
            if conv is None or conv.status != "ended":
                peer.send({"type": "error", "code": "unknown_conversation", "message": strings.CLOSE_UNKNOWN_TOKEN})
                peer.close_after(4404, strings.CLOSE_UNKNOWN_TOKEN)
                return
            survey = None
            if conv.answered_at is not None:
                from chatgw.models import SatisfactionAnswer

                if await session.get(SatisfactionAnswer, conv.ticket_id) is None:
                    survey = await services.issue_survey(session, conv.ticket_id, source="chat", now=self.clock())
                    await session.commit()
        peer.send({"type": "ended", "conversation": conv.public_id, "reason": conv.end_reason, "survey": survey})
        peer.close_after(1000, strings.CLOSE_ENDED)

    async def user_message(self, chat: LiveChat, text: str, client_id: str | None) -> None:
        if chat.ended:
            self._to_user(chat, {"type": "error", "code": "chat_ended", "message": strings.ERR_CHAT_ENDED,
                                 "id": client_id})
            return
        if client_id and client_id in chat.client_ids:  # a retry after a dropped connection
            self._to_user(chat, {"type": "ack", "id": client_id, "seq": chat.client_ids[client_id]})
            return
        if client_id and client_id in chat.pending_ids:
            return  # the first attempt's ack is on its way
        if client_id:
            chat.pending_ids.add(client_id)
        try:
            seq, at = await self.writer.append(chat.db_id, "user", text, client_id=client_id)
        except MessageNotSaved:
            self._to_user(chat, {"type": "error", "code": "not_saved", "message": strings.ERR_NOT_SAVED,
                                 "id": client_id})
            return
        finally:
            if client_id:
                chat.pending_ids.discard(client_id)
        if client_id:
            chat.client_ids[client_id] = seq
        self._to_user(chat, {"type": "ack", "id": client_id, "seq": seq, "at": at.isoformat()})
        self._to_operator(chat, {"type": "message", "conversation": chat.public_id, "seq": seq, "from": "user",
                                 "text": text, "at": at.isoformat()})

    def user_typing(self, chat: LiveChat, on: bool) -> None:
        if not chat.ended:
            self._to_operator(chat, {"type": "typing", "conversation": chat.public_id, "on": on})

    async def user_end(self, chat: LiveChat) -> None:
        await self._end(chat, "user_ended")

    async def user_gone(self, chat: LiveChat, peer: Peer) -> None:
        """The user's connection closed without ending the chat: the resume window runs."""
        assert self.dispatcher is not None
        async with self._lock:
            if chat.user is not peer:
                return  # already replaced by a resumed connection
            chat.user = None
            if chat.ended or not self.dispatcher.has_chat(chat.public_id):
                return
            self.dispatcher.user_disconnected(chat.public_id, self.clock())
            self._to_operator(chat, {"type": "user_status", "conversation": chat.public_id, "connected": False})

    # --- operators --------------------------------------------------------------------------

    async def _register_operator(self, session: Any, user_id: int) -> LiveOperator | None:
        assert self.dispatcher is not None
        user = await session.get(User, user_id)
        if user is None:
            return None
        skills = {row.audience: row.level for row in await session.scalars(
            select(OperatorSkill).where(OperatorSkill.user_id == user_id))}
        if not skills and user.role in ("supervisor", "admin") and self.settings.supervisor_skill_level:
            skills = {a: self.settings.supervisor_skill_level for a in self.audience_labels}
        self.dispatcher.register_operator(str(user_id), skills, self.settings.max_concurrent_chats)
        live = self.operators.get(str(user_id))
        if live is None:
            live = self.operators[str(user_id)] = LiveOperator(user.id, user.username,
                                                               user.display_name or user.username, user.role)
        return live

    async def operator_join(self, user: User, peer: Peer) -> LiveOperator:
        assert self.dispatcher is not None
        async with self._lock:
            async with self.container.session_factory() as session:
                op = await self._register_operator(session, user.id)
                assert op is not None
                op.peers.add(peer)
                self.dispatcher.operator_connected(op.key, self.clock())
                view = self.dispatcher.operator(op.key)
                conversations = [await self._conversation_frame(session, self.chats[cid])
                                 for cid in view["chats"] if cid in self.chats]
            offer = self._offer_frame(view["offer"]) if view["offer"] else None
            peer.send({"type": "hello", "operator": {"id": op.user_id, "username": op.username,
                                                     "display_name": op.display_name},
                       "status": view["status"], "capacity": view["capacity"], "load": view["load"],
                       "audiences": self.audience_labels, "skills": view["skills"],
                       "conversations": conversations, "offer": offer})
        return op

    async def operator_leave(self, op: LiveOperator, peer: Peer) -> None:
        assert self.dispatcher is not None
        async with self._lock:
            op.peers.discard(peer)
            try:
                self.dispatcher.operator_disconnected(op.key, self.clock())
            except DispatchError:
                return
            self.dispatcher.dispatch(self.clock())
            await self._apply(self.dispatcher.pull_events())

    async def operator_available(self, op: LiveOperator) -> None:
        await self._command(lambda now: self.dispatcher.make_available(op.key, now))

    async def operator_pause(self, op: LiveOperator, reason: str) -> None:
        await self._command(lambda now: self.dispatcher.pause(op.key, now, reason))

    async def operator_accept(self, op: LiveOperator, conversation: str) -> None:
        await self._command(lambda now: self.dispatcher.accept(conversation, op.key, now))

    async def operator_decline(self, op: LiveOperator, conversation: str) -> None:
        await self._command(lambda now: self.dispatcher.decline(conversation, op.key, now))

    async def operator_close(self, op: LiveOperator, conversation: str) -> None:
        chat = self._held(op, conversation)
        await self._end(chat, "operator_closed")

    async def operator_message(self, op: LiveOperator, peer: Peer, conversation: str, text: str,
                               client_id: str | None) -> None:
        chat = self._held(op, conversation)
        try:
            seq, at = await self.writer.append(chat.db_id, "operator", text, operator_id=op.user_id,
                                               client_id=client_id)
        except MessageNotSaved:
            peer.send({"type": "error", "code": "not_saved", "message": strings.ERR_NOT_SAVED, "id": client_id,
                       "conversation": conversation})
            return
        peer.send({"type": "ack", "conversation": conversation, "id": client_id, "seq": seq, "at": at.isoformat()})
        message = {"seq": seq, "from": "operator", "text": text, "at": at.isoformat()}
        op.send({"type": "message", "conversation": conversation, **message}, exclude=peer)
        self._to_user(chat, {"type": "message", **message})

    def operator_typing(self, op: LiveOperator, conversation: str, on: bool) -> None:
        chat = self._held(op, conversation)
        self._to_user(chat, {"type": "typing", "on": on})

    def _held(self, op: LiveOperator, conversation: str) -> LiveChat:
        chat = self.chats.get(conversation)
        if chat is None or chat.ended or chat.operator_id != op.key:
            raise DispatchError("not_held", strings.ERR_NO_SUCH_CONVERSATION)
        return chat

    async def _command(self, decide: Callable[[datetime], Any]) -> None:
        """Run a dispatcher command, then dispatch; apply every event they recorded (a
        refused command raises ``DispatchError`` and changes nothing)."""
        assert self.dispatcher is not None
        async with self._lock:
            now = self.clock()
            decide(now)
            self.dispatcher.dispatch(now)
            await self._apply(self.dispatcher.pull_events())

    async def _end(self, chat: LiveChat, reason: str) -> None:
        assert self.dispatcher is not None
        async with self._lock:
            if chat.ended or not self.dispatcher.has_chat(chat.public_id):
                return
            now = self.clock()
            self.dispatcher.end(chat.public_id, now, reason)
            self.dispatcher.dispatch(now)
            await self._apply(self.dispatcher.pull_events())

    # --- applying decisions -----------------------------------------------------------------

    async def _apply(self, events: list[Any]) -> None:
        for event in events:
            try:
                await self._apply_one(event)
            except Exception:  # noqa: BLE001 - one failed decision must not stop the others
                log.exception("chat: applying %s failed", type(event).__name__)
        self._schedule_positions()

    async def _apply_one(self, e: Any) -> None:
        if isinstance(e, OperatorChanged):
            op = self.operators.get(e.operator_id)
            if op is not None and self.dispatcher is not None:
                view = self.dispatcher.operator(e.operator_id)
                op.send({"type": "status", "status": str(e.new), "reason": e.reason,
                         "pause_reason": view["pause_reason"], "load": view["load"], "capacity": view["capacity"]})
            return
        chat = self.chats.get(e.conversation_id)
        if chat is None:
            return
        if isinstance(e, ChatQueued):
            return
        if isinstance(e, ChatOffered):
            op = self.operators.get(e.operator_id)
            if op is not None:
                op.send(self._offer_frame(e.conversation_id, e))
        elif isinstance(e, OfferFailed):
            op = self.operators.get(e.operator_id)
            if op is not None:
                op.send({"type": "offer_withdrawn", "conversation": e.conversation_id, "reason": e.reason})
        elif isinstance(e, ChatAnswered):
            await self._answered(chat, e)
        elif isinstance(e, ChatRequeued):
            await self._requeued(chat, e)
        elif isinstance(e, ChatEnded):
            await self._ended(chat, e)

    def _offer_frame(self, conversation: str, e: ChatOffered | None = None) -> dict[str, Any]:
        chat = self.chats[conversation]
        assert self.dispatcher is not None
        info = self.dispatcher.chat(conversation)
        now = self.clock()
        return {"type": "offer", "conversation": conversation, "reference": chat.reference,
                "audience": chat.audience, "audience_label": self.audience_labels.get(chat.audience, chat.audience),
                "preview": chat.preview, "visitor_name": chat.visitor_name,
                "wait_seconds": round(max(0.0, (now - info["entered_at"]).total_seconds()), 1),
                "expires_in": self.settings.offer_timeout, "overflow": bool(e.overflow) if e else False}

    async def _conversation_frame(self, session: Any, chat: LiveChat) -> dict[str, Any]:
        assert self.dispatcher is not None
        messages = await services.messages_of(session, chat.db_id)
        return {"type": "conversation", "conversation": chat.public_id, "reference": chat.reference,
                "audience": chat.audience, "audience_label": self.audience_labels.get(chat.audience, chat.audience),
                "visitor_name": chat.visitor_name, "user_connected": chat.user is not None,
                "messages": [services.message_out(m) for m in messages]}

    def _system_row(self, session: Any, chat: LiveChat, text: str) -> dict[str, Any]:
        """A system message written in the caller's transaction (its number reserved now)."""
        seq, at = self.writer.reserve(chat.db_id), self.clock()
        session.add(ChatMessage(conversation_id=chat.db_id, seq=seq, sender="system", body=text, created_at=at))
        return {"seq": seq, "from": "system", "text": text, "at": at.isoformat()}

    def _tell_both(self, chat: LiveChat, message: dict[str, Any]) -> None:
        self._to_user(chat, {"type": "message", **message})
        self._to_operator(chat, {"type": "message", "conversation": chat.public_id, **message})

    async def _answered(self, chat: LiveChat, e: ChatAnswered) -> None:
        op = self.operators.get(e.operator_id)
        actor = Actor(int(e.operator_id), op.username if op else "operator", op.role if op else "operator")
        # Relay from now on: every message is either read below or relayed (or both: the
        # clients keep one per number).
        chat.operator_id = e.operator_id
        async with self.container.session_factory() as session:
            conv = await session.get(ChatConversation, chat.db_id)
            tickets = await self.container.tickets(session)
            await services.record_answered(session, tickets, conv, site=self.site, operator=actor, at=e.at,
                                           wait_seconds=e.wait_seconds, attempt=e.attempt, overflow=e.overflow,
                                           reassigned=e.reassigned)
            joined = self._system_row(session, chat, strings.SYS_JOINED)
            await session.flush()
            frame = await self._conversation_frame(session, chat)
            await session.commit()
        self._to_user(chat, {"type": "assigned"})
        self._to_user(chat, {"type": "message", **joined})
        if op is not None:
            op.send(frame)

    async def _requeued(self, chat: LiveChat, e: ChatRequeued) -> None:
        lost = self.operators.get(e.operator_id)
        chat.operator_id = None
        async with self.container.session_factory() as session:
            conv = await session.get(ChatConversation, chat.db_id)
            await services.record_requeued(session, conv)
            notice = self._system_row(session, chat, strings.SYS_OPERATOR_LOST)
            await session.commit()
        if lost is not None:
            lost.send({"type": "requeued", "conversation": chat.public_id})
        chat.last_position = -1
        self._tell_both(chat, notice)

    async def _ended(self, chat: LiveChat, e: ChatEnded) -> None:
        chat.ended = True  # no new message from here on
        operator = self.operators.get(e.operator_id) if e.operator_id else None
        await self.writer.barrier()  # …and those in flight are committed: the transcript is whole
        names = {}
        async with self.container.session_factory() as session:
            conv = await session.get(ChatConversation, chat.db_id)
            if conv.operator_id:
                user = await session.get(User, conv.operator_id)
                if user is not None:
                    names[user.id] = user.username
            notice = self._system_row(session, chat, strings.SYS_ENDED.get(e.reason, strings.CLOSE_ENDED))
            await session.flush()
            tickets = await self.container.tickets(session)
            survey = await services.record_ended(
                session, tickets, conv, site=self.site, at=e.at, reason=e.reason, answered=e.answered,
                wait_seconds=e.wait_seconds, talk_seconds=e.talk_seconds,
                operator_id=int(e.operator_id) if e.operator_id else None, zone=self.zone, operator_names=names)
            await session.commit()
        self.writer.forget(chat.db_id)
        self.chats.pop(chat.public_id, None)
        self.by_token.pop(chat.token_hash, None)
        if chat.user is not None:
            chat.user.send({"type": "message", **notice})
            chat.user.send({"type": "ended", "conversation": chat.public_id, "reason": e.reason, "survey": survey})
            chat.user.close_after(1000, strings.CLOSE_ENDED)
        if operator is not None:
            operator.send({"type": "message", "conversation": chat.public_id, **notice})
            operator.send({"type": "ended", "conversation": chat.public_id, "reason": e.reason})

    # --- sending ----------------------------------------------------------------------------

    def _to_user(self, chat: LiveChat, frame: dict[str, Any]) -> None:
        if chat.user is not None:
            chat.user.send(frame)

    def _to_operator(self, chat: LiveChat, frame: dict[str, Any]) -> None:
        if chat.operator_id:
            op = self.operators.get(chat.operator_id)
            if op is not None:
                op.send(frame)

    def _schedule_positions(self) -> None:
        """Queue positions are sent at most five times a second, whatever the traffic."""
        if not self._positions_pending:
            self._positions_pending = True
            asyncio.get_running_loop().call_later(0.2, self._send_positions)

    def _send_positions(self) -> None:
        self._positions_pending = False
        if self.dispatcher is None:
            return
        available: dict[str, bool] = {}
        for cid in self.dispatcher.waiting():
            chat = self.chats.get(cid)
            if chat is None or chat.user is None:
                continue
            position = self.dispatcher.position(cid)
            if position != chat.last_position:
                chat.last_position = position
                if chat.audience not in available:
                    available[chat.audience] = self.dispatcher.has_available_operator_for(chat.audience)
                chat.user.send({"type": "queued", "position": position,
                                "operators_available": available[chat.audience]})

    def snapshot(self) -> dict[str, Any]:
        assert self.dispatcher is not None
        snap = self.dispatcher.snapshot(self.clock())
        snap["writer"] = {"batches": self.writer.batches, "messages": self.writer.messages}
        return snap


def get_hub(app: web.Application) -> ChatHub:
    from apikit import CONTAINER
    from chatgw.exceptions import ChatUnavailable

    hub = app[CONTAINER].extras.get(EXTRAS_KEY)
    if hub is None:
        raise ChatUnavailable("the chat is not running")
    return hub
