"""Thin HTTP resources of the chat: opening status (public), queues and transcripts
(help desk and auditors), survey invitations (help desk) and answers (public, by token);
``setup`` adds the two websocket endpoints and starts the hub with the application when
the main job has not started it already."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select

from apikit import ANY_ROLE, CONTAINER, RequestContext, RouteTable
from chatgw import runtime, schemas, services, ws
from chatgw.exceptions import RateLimited
from chatgw.hub import get_hub
from chatgw.models import ChatConversation, ChatMessage
from chatgw.ratelimit import client_address
from ticket_core.exceptions import NotFound

routes = RouteTable("chat")

DESK = ("operator", "supervisor", "admin")
_STOPPER: web.AppKey[dict] = web.AppKey("chat_runtime_stopper", dict)


@routes.get("/api/v1/chat/status", roles=None)
async def status(ctx: RequestContext) -> dict[str, Any]:
    """Whether the chat is open now (the business calendar decides), and the next change."""
    hub = get_hub(ctx.request.app)
    is_open, next_change = await hub.opening()
    return {"open": is_open, "next_change": next_change.isoformat() if next_change else None}


@routes.get("/api/v1/chat/queues", roles=ANY_ROLE)
async def queues(ctx: RequestContext) -> dict[str, Any]:
    """Chat queues (waiting, longest wait) and chat operators (status, load, capacity)."""
    return get_hub(ctx.request.app).snapshot()


def _conversation_out(conv: ChatConversation, messages: list[ChatMessage]) -> dict[str, Any]:
    return {"conversation": conv.public_id, "ticket_id": conv.ticket_id, "audience": conv.audience,
            "status": conv.status, "visitor_name": conv.visitor_name, "entered_at": conv.entered_at,
            "answered_at": conv.answered_at, "ended_at": conv.ended_at, "end_reason": conv.end_reason,
            "operator_id": conv.operator_id, "messages": [services.message_out(m) for m in messages]}


@routes.get("/api/v1/chat/conversations/{conversation_id}", roles=ANY_ROLE)
async def conversation(ctx: RequestContext) -> dict[str, Any]:
    """One chat with its transcript."""
    conv = await ctx.session.scalar(select(ChatConversation).where(
        ChatConversation.public_id == ctx.match("conversation_id")))
    if conv is None:
        raise NotFound("no such conversation", field="conversation_id")
    ctx.audit("read", "chat_conversation", conv.public_id)
    return _conversation_out(conv, await services.messages_of(ctx.session, conv.id))


@routes.get("/api/v1/chat/tickets/{reference}", roles=ANY_ROLE)
async def ticket_chats(ctx: RequestContext) -> dict[str, Any]:
    """The chats of a ticket, with their transcripts."""
    tickets = await ctx.container.tickets(ctx.session)
    ticket = await tickets.get_by_reference(ctx.match("reference"))
    convs = list(await ctx.session.scalars(select(ChatConversation).where(
        ChatConversation.ticket_id == ticket.id).order_by(ChatConversation.id)))
    ctx.audit("read", "chat_transcript", ticket.reference)
    return {"reference": ticket.reference,
            "items": [_conversation_out(c, await services.messages_of(ctx.session, c.id)) for c in convs]}


@routes.post("/api/v1/surveys/invitations", roles=DESK, body=schemas.SurveyInvitationBody, status=201)
async def survey_invitation(ctx: RequestContext) -> dict[str, Any]:
    """A satisfaction-survey link for a ticket (to put in a mail)."""
    tickets = await ctx.container.tickets(ctx.session)
    ticket = await tickets.get_by_reference(ctx.body.reference)
    token = await services.issue_survey(ctx.session, ticket.id, source=ctx.body.source, now=ctx.container.clock())
    base = get_hub(ctx.request.app).settings.portal_url.rstrip("/")
    return {"reference": ticket.reference, "token": token, "path": f"/enquete/{token}", "url": f"{base}/enquete/{token}"}


@routes.post("/api/v1/surveys/{token}", roles=None, body=schemas.SurveyAnswerBody, status=201)
async def survey_answer(ctx: RequestContext) -> dict[str, Any]:
    """Answer a satisfaction survey (very satisfied / satisfied / unsatisfied, optional comment)."""
    hub = get_hub(ctx.request.app)
    if not hub.survey_limiter.hit(client_address(ctx.request, hub.settings.trust_forwarded_for)):
        raise RateLimited("too many answers from this address: try again later")
    answer = await services.answer_survey(ctx.session, ctx.match("token"), rating=ctx.body.rating,
                                          comment=schemas.clean_text(ctx.body.comment), now=ctx.container.clock(),
                                          site=ctx.container.settings.site)
    return {"rating": answer.rating, "answered_at": answer.answered_at}


async def _start_hub(app: web.Application) -> None:
    app[_STOPPER]["stop"] = await runtime.start(app[CONTAINER])


async def _close_connections(app: web.Application) -> None:
    hub = app[CONTAINER].extras.get("chat")
    if hub is not None:
        await hub.close_connections()


async def _stop_hub(app: web.Application) -> None:
    stop = app[_STOPPER].pop("stop", None)
    if stop is not None:
        await stop()


def setup(app: web.Application) -> None:
    app[_STOPPER] = {}
    app.router.add_get("/chat/ws", ws.user_ws)
    app.router.add_get("/chat/operator/ws", ws.operator_ws)
    app.on_startup.append(_start_hub)
    app.on_shutdown.append(_close_connections)  # open websockets would hold the shutdown
    app.on_cleanup.append(_stop_hub)
