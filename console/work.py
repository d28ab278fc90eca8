"""What an operator works on: the context of a ticket (the call just bridged, a mail taken
in charge) with the requester's previous tickets, the chats the operator holds, the mail
queue with each mail's remaining business time, and the operator's open tickets.

Reads only, except :func:`take_in_charge`. The HTTP layer checks roles and traces the
reads of personal data in the audit log.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from console.wallboard import OPEN, business_remaining
from telephony import models as calls
from ticket_core.models import (
    Application,
    ApplicationComponent,
    Requester,
    RequesterEmail,
    RequestType,
    Ticket,
)
from ticket_core.schemas import requester_out, ticket_out
from ticket_core.workflow import N1_WORKING, allowed_actions

PREVIOUS_TICKETS = 10
N1_OPEN = sorted(s.value for s in N1_WORKING)


async def _labels(session: AsyncSession, ticket: Ticket) -> dict[str, Any]:
    app = await session.get(Application, ticket.application_id) if ticket.application_id else None
    comp = await session.get(ApplicationComponent, ticket.component_id) if ticket.component_id else None
    rtype = await session.get(RequestType, ticket.request_type_id) if ticket.request_type_id else None
    return {
        "application": app.code if app else None, "application_label": app.label if app else None,
        "component": comp.code if comp else None, "component_label": comp.label if comp else None,
        "request_type": rtype.code if rtype else None, "request_type_label": rtype.label if rtype else None,
        "redirect_to": rtype.redirect_to if rtype else None,
        "escalation_fields": list(rtype.escalation_fields or []) if rtype else [],
    }


async def previous_tickets(session: AsyncSession, requester_id: int, *, exclude: int | None = None,
                           limit: int = PREVIOUS_TICKETS) -> list[dict[str, Any]]:
    stmt = (select(Ticket, RequestType.label).outerjoin(RequestType, Ticket.request_type_id == RequestType.id)
            .where(Ticket.requester_id == requester_id).order_by(Ticket.id.desc()).limit(limit + 1))
    out = []
    for t, rtype_label in await session.execute(stmt):
        if t.id == exclude:
            continue
        out.append({"reference": t.reference, "created_at": t.created_at, "channel": t.channel,
                    "status": t.status, "level": t.level, "subject": t.subject,
                    "request_type_label": rtype_label, "priority": t.priority})
    return out[:limit]


async def ticket_context(session: AsyncSession, ticket: Ticket) -> dict[str, Any]:
    """The ticket form's data: the ticket with its labels and allowed actions, the
    requester and their previous tickets."""
    requester = await session.get(Requester, ticket.requester_id) if ticket.requester_id else None
    return {
        "ticket": {**ticket_out(ticket, allowed_actions=allowed_actions(ticket.status)),
                   **(await _labels(session, ticket))},
        "requester": requester_out(requester) if requester else None,
        "previous_tickets": await previous_tickets(session, requester.id, exclude=ticket.id) if requester else [],
    }


async def call_context(session: AsyncSession, call: calls.Call) -> dict[str, Any]:
    """The pop-up of a call bridged to an operator: number, audience chosen in the IVR,
    times, and the ticket's context (``None`` until the ticket is created)."""
    ticket = await session.get(Ticket, call.ticket_id) if call.ticket_id else None
    out: dict[str, Any] = {
        "call": {"id": call.id, "caller_number": call.caller_number, "caller_raw": call.caller_raw,
                 "audience": call.audience, "received_at": call.received_at, "presented_at": call.presented_at,
                 "answered_at": call.answered_at, "ended_at": call.ended_at, "wait_seconds": call.wait_seconds,
                 "outcome": call.outcome, "operator_id": call.operator_id},
    }
    if ticket is not None:
        out.update(await ticket_context(session, ticket))
    else:
        out.update({"ticket": None, "requester": None, "previous_tickets": []})
        if call.requester_id:
            requester = await session.get(Requester, call.requester_id)
            out["requester"] = requester_out(requester) if requester else None
            out["previous_tickets"] = await previous_tickets(session, call.requester_id)
    return out


async def mail_queue(session: AsyncSession, calendar: Any, now: datetime, *, limit: int = 200) -> dict[str, Any]:
    """Mails not taken in charge, most urgent first, with the business seconds left to
    their 1-business-hour target (negative: late) and whether the clock runs now."""
    rows = list(await session.execute(
        select(Ticket).where(Ticket.channel == "mail", Ticket.taken_in_charge_at.is_(None),
                             Ticket.taken_in_charge_due_at.is_not(None), Ticket.status.in_(OPEN))
        .order_by(Ticket.taken_in_charge_due_at, Ticket.id).limit(limit)))
    tickets = [r[0] for r in rows]
    senders = await _senders(session, tickets)
    items = []
    for t in tickets:
        remaining = business_remaining(calendar, now, t.taken_in_charge_due_at)
        items.append({"reference": t.reference, "subject": t.subject, "audience": t.audience_code,
                      "received_at": t.created_at, "due_at": t.taken_in_charge_due_at,
                      "remaining_seconds": round(remaining, 1), "late": remaining <= 0,
                      "from": senders.get(t.id), "status": t.status, "priority": t.priority})
    return {"items": items, "clock_running": calendar.is_open(now), "at": now}


async def _senders(session: AsyncSession, tickets: list[Ticket]) -> dict[int, str]:
    """Who wrote each mail: the mail gateway's first inbound message when it is installed,
    else the requester's first address (HOOK until the mail gateway lands)."""
    out: dict[int, str] = {}
    ids = [t.id for t in tickets]
    if not ids:
        return out
    try:
        from mailgw.models import MailMessage
    except ImportError:
        MailMessage = None  # noqa: N806
    if MailMessage is not None:
        for ticket_id, address, name in await session.execute(
                select(MailMessage.ticket_id, MailMessage.from_address, MailMessage.from_name)
                .where(MailMessage.ticket_id.in_(ids), MailMessage.direction == "in").order_by(MailMessage.id)):
            if ticket_id not in out and address:
                out[ticket_id] = f"{name} <{address}>" if name else address
    by_requester = {t.requester_id: t.id for t in tickets if t.id not in out and t.requester_id}
    if by_requester:
        for requester_id, address in await session.execute(
                select(RequesterEmail.requester_id, RequesterEmail.address)
                .where(RequesterEmail.requester_id.in_(list(by_requester))).order_by(RequesterEmail.id)):
            out.setdefault(by_requester[requester_id], address)
    return out


async def operator_chats(session: AsyncSession, operator_id: int) -> dict[str, Any]:
    """The chats the operator holds and how many wait, from the chat package's tables
    (HOOK: empty until the chat gateway is installed)."""
    try:
        from chatgw.models import ChatConversation as C
    except ImportError:
        return {"available": False, "items": [], "waiting": 0}
    from sqlalchemy import func

    rows = await session.execute(
        select(C, Ticket.reference).join(Ticket, Ticket.id == C.ticket_id)
        .where(C.status == "active", C.operator_id == operator_id).order_by(C.answered_at))
    waiting = await session.scalar(select(func.count()).select_from(C).where(C.status == "waiting"))
    return {"available": True, "waiting": int(waiting or 0), "items": [
        {"conversation": c.public_id, "reference": ref, "audience": c.audience, "visitor_name": c.visitor_name,
         "entered_at": c.entered_at, "answered_at": c.answered_at} for c, ref in rows]}


async def open_tickets(session: AsyncSession, operator_id: int, *, limit: int = 20) -> list[dict[str, Any]]:
    """The operator's tickets still at N1 (new, in progress, returned by N2), newest first."""
    rows = await session.execute(
        select(Ticket).where(Ticket.assignee_id == operator_id, Ticket.status.in_(N1_OPEN))
        .order_by(Ticket.id.desc()).limit(limit))
    return [{"reference": t.reference, "channel": t.channel, "status": t.status, "subject": t.subject,
             "audience": t.audience_code, "created_at": t.created_at, "priority": t.priority,
             "handling_due_at": t.handling_due_at} for (t,) in rows]


async def take_in_charge(tickets: Any, ticket: Ticket, actor: Any) -> Ticket:
    """Assign the ticket to the operator and take it (stops a mail's 1-hour clock), in the
    caller's transaction."""
    if ticket.assignee_id != actor.user_id:
        ticket = await tickets.assign(ticket.id, actor.user_id, actor)
    if "take" in allowed_actions(ticket.status):
        ticket = await tickets.transition(ticket.id, "take", actor)
    return ticket
