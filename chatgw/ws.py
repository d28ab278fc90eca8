"""The two websocket endpoints: ``/chat/ws`` for users (anonymous; a chat is resumed with
its token) and ``/chat/operator/ws`` for operators (the bearer token or the session
cookie of an operator, supervisor or admin).

Bad input closes that connection only, with a code and a French reason:
1009 a frame or a message over the size limits, 1003 a binary frame, 1007 a frame that is
not a JSON object of a known type with valid fields, 1008 a flood (too many frames refused
by the rate limit in a row), no first frame in time, or too many new chats from one
address. Frames refused by the rate limit get an ``error`` frame and are not saved.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web
from pydantic import TypeAdapter, ValidationError

from accounts import services as accounts
from accounts.exceptions import AuthenticationRequired
from apikit import CONTAINER
from apikit.routes import SESSION_COOKIE, error_response
from chatgw import schemas, strings
from chatgw.dispatch import DispatchError
from chatgw.exceptions import ChatClosed, ChatUnavailable
from chatgw.hub import OPERATOR_ROLES, ChatHub, LiveChat, Peer, get_hub
from chatgw.ratelimit import TokenBucket, client_address
from ticket_core.exceptions import TicketCoreError
from ticket_core.services import normalise_email

log = logging.getLogger("guichet.chat.ws")

HELLO_TIMEOUT = 30.0
HEARTBEAT = 25.0


async def _unstoppable(coro: Any) -> None:
    """Clean-up that must finish even when the handler is being cancelled (the server may
    cancel a handler whose connection was lost): it runs as its own task."""
    task = asyncio.ensure_future(coro)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        pass
    except Exception:  # noqa: BLE001
        log.exception("chat: clean-up failed")


class BadFrame(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class _Limits:
    """Per connection: messages on one bucket, everything else (typing…) on another; a
    run of refusals closes the connection."""

    def __init__(self, hub: ChatHub) -> None:
        s = hub.settings
        self.messages = TokenBucket(s.messages_per_minute / 60.0, s.message_burst)
        self.other = TokenBucket(5.0, 20)
        self.refused = 0
        self.flood = s.flood_refusals

    def allow(self, is_message: bool) -> bool:
        ok = (self.messages if is_message else self.other).take()
        if ok:
            self.refused = 0
            return True
        self.refused += 1
        if self.refused >= self.flood:
            raise BadFrame(1008, strings.CLOSE_FLOOD)
        return False


def _parse(msg: Any, adapter: TypeAdapter, hub: ChatHub) -> Any:
    s = hub.settings
    if msg.type is WSMsgType.BINARY:
        raise BadFrame(1003, strings.CLOSE_BINARY)
    if msg.type is not WSMsgType.TEXT:
        return None
    data: str = msg.data
    if len(data) > s.max_frame_bytes or len(data.encode("utf-8", "surrogatepass")) > s.max_frame_bytes:
        raise BadFrame(1009, strings.CLOSE_FRAME_TOO_BIG.format(limit=s.max_frame_bytes))
    try:
        obj = json.loads(data)
    except ValueError:
        raise BadFrame(1007, strings.CLOSE_NOT_JSON) from None
    if not isinstance(obj, dict):
        raise BadFrame(1007, strings.CLOSE_NOT_JSON)
    try:
        frame = adapter.validate_python(obj)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"] if not isinstance(p, int)) or "type"
        raise BadFrame(1007, strings.CLOSE_BAD_FRAME.format(detail=f"{where} ({err['type']})")) from None
    for name in ("text", "message"):
        value = getattr(frame, name, None)
        if isinstance(value, str) and len(value) > s.max_message_chars:
            raise BadFrame(1009, strings.CLOSE_TOO_BIG.format(limit=f"{s.max_message_chars:,}".replace(",", " ")))
    return frame


def _prepare_ws(hub: ChatHub) -> web.WebSocketResponse:
    # aiohttp's own cap (it closes with 1009 but no reason) sits well above ours, so that
    # frames over our limit get our reason.
    return web.WebSocketResponse(heartbeat=HEARTBEAT, max_msg_size=max(65536, 4 * hub.settings.max_frame_bytes))


def _hub_or_503(request: web.Request) -> ChatHub | web.Response:
    try:
        return get_hub(request.app)
    except ChatUnavailable:
        return error_response(503, "chat_unavailable", "the chat is not running")


async def user_ws(request: web.Request) -> web.StreamResponse:
    hub = _hub_or_503(request)
    if isinstance(hub, web.Response):
        return hub
    ws = _prepare_ws(hub)
    await ws.prepare(request)
    peer = Peer(ws, hub.settings.outbound_queue)
    hub.peers.add(peer)
    address = client_address(request, hub.settings.trust_forwarded_for)
    limits = _Limits(hub)
    chat: LiveChat | None = None
    try:
        while not peer.closed:
            msg = await ws.receive(timeout=None if chat else HELLO_TIMEOUT)
            if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                break
            frame = _parse(msg, schemas.UserFrame, hub)
            if frame is None:
                continue
            if chat is None:
                chat = await _user_hello(hub, peer, frame, address)
                continue
            if isinstance(frame, (schemas.StartFrame, schemas.ResumeFrame)):
                raise BadFrame(1008, strings.CLOSE_BAD_FRAME.format(detail="conversation déjà ouverte"))
            if not limits.allow(isinstance(frame, schemas.UserMessageFrame)):
                if isinstance(frame, schemas.UserMessageFrame):
                    peer.send({"type": "error", "code": "rate_limited", "message": strings.ERR_RATE_LIMITED,
                               "id": frame.id})
                continue
            if isinstance(frame, schemas.UserMessageFrame):
                text = schemas.clean_text(frame.text)
                if not text.strip():
                    peer.send({"type": "error", "code": "empty_message", "message": "Message vide.", "id": frame.id})
                    continue
                await hub.user_message(chat, text, frame.id)
            elif isinstance(frame, schemas.UserTypingFrame):
                hub.user_typing(chat, frame.on)
            elif isinstance(frame, schemas.EndFrame):
                await hub.user_end(chat)
    except BadFrame as bad:
        peer.close_after(bad.code, bad.reason)
    except asyncio.TimeoutError:
        peer.close_after(1008, strings.CLOSE_NO_HELLO)
    except Exception:  # noqa: BLE001 - a bug closes this connection only
        log.exception("chat user connection failed")
        peer.close_after(1011, "Erreur interne : la conversation peut être reprise.")
    finally:
        if chat is not None:
            await _unstoppable(hub.user_gone(chat, peer))
        hub.peers.discard(peer)
        await _unstoppable(peer.finish())
    return ws


async def _user_hello(hub: ChatHub, peer: Peer, frame: Any, address: str) -> LiveChat | None:
    if isinstance(frame, schemas.ResumeFrame):
        return await hub.user_resume(peer, frame.token, frame.last_seq)
    if not isinstance(frame, schemas.StartFrame):
        raise BadFrame(1008, strings.CLOSE_BAD_FRAME.format(detail="« start » ou « resume » attendu"))
    message = schemas.clean_text(frame.message)
    if not message.strip():
        peer.send({"type": "error", "code": "empty_message", "field": "message",
                   "message": "Écrivez votre question avant d'ouvrir la conversation."})
        return None
    email = None
    if frame.email and frame.email.strip():
        email = normalise_email(frame.email)
        if email is None:
            peer.send({"type": "error", "code": "invalid_email", "field": "email",
                       "message": "L'adresse électronique n'est pas valide (exemple : nom@domaine.fr)."})
            return None
    if not hub.start_limiter.hit(address):
        peer.send({"type": "error", "code": "rate_limited", "message": strings.CLOSE_TOO_MANY_STARTS})
        raise BadFrame(1008, strings.CLOSE_TOO_MANY_STARTS)
    try:
        return await hub.user_start(peer, audience=frame.audience, message=message,
                                    name=schemas.clean_text(frame.name).strip(), email=email, client_id=frame.id)
    except ChatClosed:
        _, next_opening = await hub.opening()
        peer.send({"type": "closed", "message": strings.CLOSE_CLOSED,
                   "next_opening": next_opening.isoformat() if next_opening else None})
        peer.close_after(1000, strings.CLOSE_CLOSED)
        return None
    except TicketCoreError as exc:
        peer.send({"type": "error", "code": exc.error_id, "field": exc.field, "message": exc.message})
        return None


async def _authenticate(request: web.Request, hub: ChatHub) -> Any:
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else None
    from_cookie = token is None
    token = token or request.cookies.get(SESSION_COOKIE)
    if not token:
        return error_response(401, "authentication_required", "log in first")
    if from_cookie:
        # A cookie is sent by the browser whoever opened the page: refuse other sites'
        # pages (cross-site websocket hijacking).
        origin = request.headers.get("Origin")
        if origin and urlsplit(origin).netloc != request.host:
            return error_response(403, "forbidden", "cross-site websocket refused")
    container = request.app[CONTAINER]
    async with hub.db_slots, container.session_factory() as session:
        try:
            user = await accounts.user_for_token(session, token)
        except AuthenticationRequired as exc:
            return error_response(401, exc.error_id, exc.message)
    if user.role not in OPERATOR_ROLES:
        return error_response(403, "forbidden", f"role {user.role} may not answer chats")
    return user


async def operator_ws(request: web.Request) -> web.StreamResponse:
    hub = _hub_or_503(request)
    if isinstance(hub, web.Response):
        return hub
    user = await _authenticate(request, hub)
    if isinstance(user, web.Response):
        return user
    ws = _prepare_ws(hub)
    await ws.prepare(request)
    peer = Peer(ws, hub.settings.outbound_queue)
    hub.peers.add(peer)
    limits = _Limits(hub)
    op = None
    try:
        op = await hub.operator_join(user, peer)
        while not peer.closed:
            msg = await ws.receive()
            if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                break
            frame = _parse(msg, schemas.OperatorFrame, hub)
            if frame is None:
                continue
            is_message = isinstance(frame, schemas.OperatorMessageFrame)
            if not limits.allow(is_message):
                if is_message:
                    peer.send({"type": "error", "code": "rate_limited", "message": strings.ERR_RATE_LIMITED,
                               "id": frame.id, "conversation": frame.conversation})
                continue
            try:
                await _operator_frame(hub, op, peer, frame)
            except DispatchError as exc:
                peer.send({"type": "error", "code": exc.error_id,
                           "message": exc.detail if exc.error_id == "not_held"
                           else strings.DISPATCH_ERRORS.get(exc.error_id,
                                                            strings.ERR_NOT_ALLOWED.format(detail=exc.error_id)),
                           "conversation": getattr(frame, "conversation", None), "id": getattr(frame, "id", None)})
    except BadFrame as bad:
        peer.close_after(bad.code, bad.reason)
    except Exception:  # noqa: BLE001
        log.exception("chat operator connection failed")
        peer.close_after(1011, "Erreur interne : reconnectez-vous.")
    finally:
        if op is not None:
            await _unstoppable(hub.operator_leave(op, peer))
        hub.peers.discard(peer)
        await _unstoppable(peer.finish())
    return ws


async def _operator_frame(hub: ChatHub, op: Any, peer: Peer, frame: Any) -> None:
    if isinstance(frame, schemas.AvailableFrame):
        await hub.operator_available(op)
    elif isinstance(frame, schemas.PauseFrame):
        await hub.operator_pause(op, frame.reason)
    elif isinstance(frame, schemas.AcceptFrame):
        await hub.operator_accept(op, frame.conversation)
    elif isinstance(frame, schemas.DeclineFrame):
        await hub.operator_decline(op, frame.conversation)
    elif isinstance(frame, schemas.OperatorMessageFrame):
        text = schemas.clean_text(frame.text)
        if not text.strip():
            peer.send({"type": "error", "code": "empty_message", "message": "Message vide.", "id": frame.id,
                       "conversation": frame.conversation})
            return
        await hub.operator_message(op, peer, frame.conversation, text, frame.id)
    elif isinstance(frame, schemas.OperatorTypingFrame):
        hub.operator_typing(op, frame.conversation, frame.on)
    elif isinstance(frame, schemas.CloseFrame):
        await hub.operator_close(op, frame.conversation)
