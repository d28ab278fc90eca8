"""Thin HTTP resources of the ticket core: tickets, requesters, problems, catalogue,
calendar, business time and the events journal. Logic lives in ``services``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from apikit import ANY_ROLE, RequestContext, RouteTable
from ticket_core import calendar_store, schemas
from ticket_core.exceptions import InvalidValue, NotFound
from ticket_core.models import (
    Application,
    Audience,
    AuditEntry,
    JournalEvent,
    Problem,
    Requester,
    RequestType,
    Severity,
    Ticket,
)
from ticket_core.priority import priority
from ticket_core.workflow import allowed_actions

routes = RouteTable("tickets")

DESK = ("operator", "supervisor", "admin")  # the help desk's people: they write
READERS = ANY_ROLE  # auditors (the public body's staff) read everything
MANAGERS = ("supervisor", "admin")


# --- tickets ------------------------------------------------------------------------------


@routes.post("/api/v1/tickets", roles=DESK, body=schemas.TicketCreate, status=201)
async def create_ticket(ctx: RequestContext) -> dict[str, Any]:
    """Create a ticket (any channel), finding or creating the requester."""
    b: schemas.TicketCreate = ctx.body
    svc = await ctx.container.tickets(ctx.session)
    requester_id = b.requester_id
    if requester_id is None and (b.phone or b.email):
        requester = await svc.find_or_create_requester(phone=b.phone, email=b.email, audience=b.audience)
        requester_id = requester.id if requester else None
    ticket = await svc.create_ticket(channel=b.channel, actor=ctx.actor, audience=b.audience,
                                     requester_id=requester_id, subject=b.subject, description=b.description)
    ctx.audit("create", "ticket", ticket.reference)
    return schemas.ticket_out(ticket, allowed_actions=allowed_actions(ticket.status))


@routes.get("/api/v1/tickets", roles=READERS, query=schemas.TicketQuery)
async def list_tickets(ctx: RequestContext) -> dict[str, Any]:
    """List tickets, newest first, with filters."""
    q: schemas.TicketQuery = ctx.query
    stmt = select(Ticket)
    for column, value in ((Ticket.status, q.status), (Ticket.channel, q.channel), (Ticket.level, q.level),
                          (Ticket.requester_id, q.requester_id), (Ticket.assignee_id, q.assignee_id)):
        if value is not None:
            stmt = stmt.where(column == value)
    if q.created_from:
        stmt = stmt.where(Ticket.created_at >= q.created_from)
    if q.created_to:
        stmt = stmt.where(Ticket.created_at < q.created_to)
    rows = list(await ctx.session.scalars(stmt.order_by(Ticket.id.desc()).limit(q.limit).offset(q.offset)))
    ctx.audit("read", "ticket_list", "-", filters=q.model_dump(mode="json", exclude_none=True), count=len(rows))
    return {"items": [schemas.ticket_out(t) for t in rows], "limit": q.limit, "offset": q.offset}


async def _ticket(ctx: RequestContext) -> Ticket:
    svc = await ctx.container.tickets(ctx.session)
    return await svc.get_by_reference(ctx.match("reference"))


@routes.get("/api/v1/tickets/{reference}", roles=READERS)
async def get_ticket(ctx: RequestContext) -> dict[str, Any]:
    """One ticket with the actions its status allows."""
    ticket = await _ticket(ctx)
    ctx.audit("read", "ticket", ticket.reference)
    return schemas.ticket_out(ticket, allowed_actions=allowed_actions(ticket.status))


@routes.patch("/api/v1/tickets/{reference}/qualification", roles=DESK, body=schemas.Qualification)
async def qualify_ticket(ctx: RequestContext) -> dict[str, Any]:
    """Qualify: audience, application, component, request type, criticality, severity."""
    svc = await ctx.container.tickets(ctx.session)
    ticket = await svc.get_by_reference(ctx.match("reference"))
    ticket = await svc.qualify(ticket.id, ctx.actor, **ctx.body.model_dump(exclude_unset=True))
    ctx.audit("update", "ticket", ticket.reference, fields=sorted(ctx.body.model_fields_set))
    return schemas.ticket_out(ticket, allowed_actions=allowed_actions(ticket.status))


@routes.post("/api/v1/tickets/{reference}/actions", roles=DESK, body=schemas.TicketAction)
async def act_on_ticket(ctx: RequestContext) -> dict[str, Any]:
    """Apply a workflow action (take, resolve, escalate, send_back, …, remind)."""
    b: schemas.TicketAction = ctx.body
    svc = await ctx.container.tickets(ctx.session)
    ticket = await svc.get_by_reference(ctx.match("reference"))
    ticket = await svc.transition(ticket.id, b.action, ctx.actor, note=b.note,
                                  escalation_info=b.escalation_info, glpi_reference=b.glpi_reference,
                                  merge_into=b.merge_into)
    ctx.audit("update", "ticket", ticket.reference, workflow_action=b.action)
    return schemas.ticket_out(ticket, allowed_actions=allowed_actions(ticket.status))


@routes.post("/api/v1/tickets/{reference}/assignee", roles=DESK, body=schemas.Assignment)
async def assign_ticket(ctx: RequestContext) -> dict[str, Any]:
    """Assign the ticket to a user (or none)."""
    svc = await ctx.container.tickets(ctx.session)
    ticket = await svc.get_by_reference(ctx.match("reference"))
    ticket = await svc.assign(ticket.id, ctx.body.assignee_id, ctx.actor)
    return schemas.ticket_out(ticket, allowed_actions=allowed_actions(ticket.status))


@routes.post("/api/v1/tickets/{reference}/notes", roles=DESK, body=schemas.Note, status=201)
async def add_note(ctx: RequestContext) -> dict[str, Any]:
    """Add a note to the ticket's history."""
    svc = await ctx.container.tickets(ctx.session)
    ticket = await svc.get_by_reference(ctx.match("reference"))
    await svc.add_note(ticket.id, ctx.actor, ctx.body.note)
    return {"reference": ticket.reference}


@routes.post("/api/v1/tickets/{reference}/problem", roles=DESK, body=schemas.ProblemLink)
async def link_problem(ctx: RequestContext) -> dict[str, Any]:
    """Link the ticket to a problem (or unlink it)."""
    svc = await ctx.container.tickets(ctx.session)
    ticket = await svc.get_by_reference(ctx.match("reference"))
    ticket = await svc.link_problem(ticket.id, ctx.body.problem_id, ctx.actor)
    return schemas.ticket_out(ticket)


@routes.get("/api/v1/tickets/{reference}/history", roles=READERS)
async def ticket_history(ctx: RequestContext) -> dict[str, Any]:
    """Every change of the ticket, oldest first."""
    svc = await ctx.container.tickets(ctx.session)
    ticket = await svc.get_by_reference(ctx.match("reference"))
    ctx.audit("read", "ticket_history", ticket.reference)
    return {"items": [schemas.history_out(h) for h in await svc.history(ticket.id)]}


# --- problems -------------------------------------------------------------------------------


@routes.post("/api/v1/problems", roles=DESK, body=schemas.ProblemCreate, status=201)
async def create_problem(ctx: RequestContext) -> dict[str, Any]:
    """Open a problem (the unknown cause of several incidents)."""
    svc = await ctx.container.tickets(ctx.session)
    p = await svc.create_problem(ctx.actor, ctx.body.title, ctx.body.description)
    return {"id": p.id, "title": p.title, "status": p.status, "created_at": p.created_at}


@routes.get("/api/v1/problems", roles=READERS)
async def list_problems(ctx: RequestContext) -> dict[str, Any]:
    """Problems with the references of their incidents."""
    problems = list(await ctx.session.scalars(select(Problem).order_by(Problem.id.desc()).limit(500)))
    items = []
    for p in problems:
        refs = list(await ctx.session.scalars(select(Ticket.reference).where(Ticket.problem_id == p.id)))
        items.append({"id": p.id, "title": p.title, "status": p.status, "created_at": p.created_at,
                      "tickets": refs})
    return {"items": items}


# --- requesters -----------------------------------------------------------------------------


@routes.post("/api/v1/requesters", roles=DESK, body=schemas.RequesterCreate, status=201)
async def create_requester(ctx: RequestContext) -> dict[str, Any]:
    """Create a requester (or return the one owning this number or address)."""
    b: schemas.RequesterCreate = ctx.body
    svc = await ctx.container.tickets(ctx.session)
    if not (b.phone or b.email):
        raise InvalidValue("give a phone number or a mail address", field="phone")
    requester = await svc.find_or_create_requester(phone=b.phone, email=b.email, audience=b.audience,
                                                   display_name=b.display_name)
    if requester is None:
        raise InvalidValue("neither the number nor the address is usable", field="phone")
    if b.organisation and not requester.organisation:
        requester.organisation = b.organisation
    ctx.audit("create", "requester", requester.id)
    return schemas.requester_out(requester)


@routes.get("/api/v1/requesters", roles=READERS, query=schemas.RequesterQuery)
async def find_requester(ctx: RequestContext) -> dict[str, Any]:
    """Find the requester owning a phone number or a mail address."""
    q: schemas.RequesterQuery = ctx.query
    svc = await ctx.container.tickets(ctx.session)
    requester = await svc.find_requester(phone=q.phone, email=q.email)
    ctx.audit("read", "requester_search", requester.id if requester else "-", found=requester is not None)
    return {"items": [schemas.requester_out(requester)] if requester else []}


@routes.get("/api/v1/requesters/{requester_id:\\d+}", roles=READERS)
async def get_requester(ctx: RequestContext) -> dict[str, Any]:
    """A requester with their tickets, newest first."""
    requester = await ctx.session.get(Requester, int(ctx.match("requester_id")))
    if requester is None:
        raise NotFound("no such requester", field="requester_id")
    tickets = await ctx.session.scalars(select(Ticket).where(Ticket.requester_id == requester.id)
                                        .order_by(Ticket.id.desc()).limit(100))
    ctx.audit("read", "requester", requester.id)
    return {**schemas.requester_out(requester), "tickets": [schemas.ticket_out(t) for t in tickets]}


@routes.post("/api/v1/requesters/{requester_id:\\d+}/contact-points", roles=DESK, body=schemas.ContactPoint)
async def add_contact_point(ctx: RequestContext) -> dict[str, Any]:
    """Add a phone number or a mail address to a requester."""
    svc = await ctx.container.tickets(ctx.session)
    requester = await svc.add_contact_point(int(ctx.match("requester_id")), phone=ctx.body.phone,
                                            email=ctx.body.email)
    ctx.audit("update", "requester", requester.id)
    return schemas.requester_out(requester)


# --- catalogue ----------------------------------------------------------------------------


@routes.get("/api/v1/catalogue", roles=READERS)
async def get_catalogue(ctx: RequestContext) -> dict[str, Any]:
    """Audiences, applications with components, request types, severities, priority matrix."""
    s = ctx.session
    return {
        "audiences": [{"code": a.code, "label": a.label, "ivr_digit": a.ivr_digit, "active": a.active}
                      for a in await s.scalars(select(Audience).order_by(Audience.code))],
        "applications": [{"code": a.code, "label": a.label, "criticality": a.criticality, "active": a.active,
                          "components": [{"code": c.code, "label": c.label, "criticality": c.criticality}
                                         for c in a.components]}
                         for a in await s.scalars(select(Application).order_by(Application.code))],
        "request_types": [{"code": r.code, "label": r.label, "category": r.category,
                           "excluded_from_resolution_indicators": r.excluded_from_resolution_indicators,
                           "redirect_to": r.redirect_to, "escalation_fields": r.escalation_fields, "active": r.active}
                          for r in await s.scalars(select(RequestType).order_by(RequestType.code))],
        "severities": [{"level": v.level, "code": v.code, "label": v.label}
                       for v in await s.scalars(select(Severity).order_by(Severity.level))],
        "priority_matrix": {str(c): {str(v): priority(c, v) for v in (1, 2, 3)} for c in (1, 2, 3)},
    }


@routes.post("/api/v1/catalogue/audiences", roles=MANAGERS, body=schemas.AudienceCreate, status=201)
async def add_audience(ctx: RequestContext) -> dict[str, Any]:
    """Add an audience (the catalogue is data)."""
    b: schemas.AudienceCreate = ctx.body
    ctx.session.add(Audience(code=b.code, label=b.label, ivr_digit=b.ivr_digit, active=True))
    await ctx.session.flush()
    return b.model_dump()


@routes.post("/api/v1/catalogue/applications", roles=MANAGERS, body=schemas.ApplicationCreate, status=201)
async def add_application(ctx: RequestContext) -> dict[str, Any]:
    """Add an application with its default criticality."""
    b: schemas.ApplicationCreate = ctx.body
    ctx.session.add(Application(code=b.code, label=b.label, criticality=b.criticality, active=True))
    await ctx.session.flush()
    return b.model_dump()


@routes.post("/api/v1/catalogue/request-types", roles=MANAGERS, body=schemas.RequestTypeCreate, status=201)
async def add_request_type(ctx: RequestContext) -> dict[str, Any]:
    """Add a request type with the fields N2 needs when it is escalated."""
    b: schemas.RequestTypeCreate = ctx.body
    ctx.session.add(RequestType(active=True, **b.model_dump()))
    await ctx.session.flush()
    return b.model_dump()


# --- calendar and business time -------------------------------------------------------------


@routes.get("/api/v1/calendar", roles=READERS, query=schemas.CalendarQuery)
async def get_calendar(ctx: RequestContext) -> dict[str, Any]:
    """Opening windows, holidays and exceptions, day by day (at most 366 days)."""
    q: schemas.CalendarQuery = ctx.query
    if q.end < q.start or (q.end - q.start).days > 366:
        raise InvalidValue("end must be after start and within 366 days", field="end")
    cal = await ctx.container.calendar(ctx.session)
    days = []
    day = q.start
    while day <= q.end:
        days.append({"day": day, "holiday": cal.holiday_name(day),
                     "windows": [{"opens": a, "closes": b} for a, b in cal.window(day)]})
        day += timedelta(days=1)
    rows = await ctx.session.scalars(select(calendar_store.CalendarExceptionRow)
                                     .where(calendar_store.CalendarExceptionRow.day.between(q.start, q.end)))
    return {"days": days, "exceptions": [
        {"id": r.id, "day": r.day, "kind": r.kind, "opens": r.opens, "closes": r.closes, "note": r.note}
        for r in rows]}


@routes.post("/api/v1/calendar/exceptions", roles=MANAGERS, body=schemas.CalendarExceptionCreate, status=201)
async def add_calendar_exception(ctx: RequestContext) -> dict[str, Any]:
    """Enter a dated opening (e.g. a Saturday) or an exceptional closure."""
    b: schemas.CalendarExceptionCreate = ctx.body
    row = await calendar_store.add_exception(ctx.session, day=b.day, kind=b.kind, opens=b.opens,
                                             closes=b.closes, note=b.note, created_by=ctx.actor.user_id)
    # Built once to reject exceptions the calendar cannot use (e.g. an empty window).
    try:
        await ctx.container.calendar(ctx.session)
    except ValueError as exc:
        raise InvalidValue(str(exc), field="opens") from None
    return {"id": row.id, "day": row.day, "kind": row.kind, "opens": row.opens, "closes": row.closes,
            "note": row.note}


@routes.delete("/api/v1/calendar/exceptions/{exception_id:\\d+}", roles=MANAGERS)
async def delete_calendar_exception(ctx: RequestContext) -> dict[str, Any]:
    """Remove a calendar exception."""
    await calendar_store.delete_exception(ctx.session, int(ctx.match("exception_id")))
    return {"deleted": int(ctx.match("exception_id"))}


@routes.get("/api/v1/business-time", roles=READERS, query=schemas.BusinessTimeQuery)
async def business_time(ctx: RequestContext) -> dict[str, Any]:
    """Business seconds between two instants, or the instant n business hours later."""
    q: schemas.BusinessTimeQuery = ctx.query
    for name, value in (("start", q.start), ("end", q.end)):
        if value is not None and not 2000 <= value.year <= 2100:
            raise InvalidValue("instants between the years 2000 and 2100 only", field=name)
    if q.end is not None and abs((q.end - q.start).days) > 5 * 366:
        raise InvalidValue("at most five years between start and end", field="end")
    cal = await ctx.container.calendar(ctx.session)
    if q.end is not None:
        return {"start": q.start, "end": q.end, "business_seconds": cal.business_seconds_between(q.start, q.end)}
    if q.hours is not None:
        return {"start": q.start, "hours": q.hours, "due": cal.add_business_hours(q.start, q.hours)}
    raise InvalidValue("give end or hours", field="end")


# --- journal and audit log ------------------------------------------------------------------


@routes.get("/api/v1/events", roles=("supervisor", "auditor", "admin"), query=schemas.EventQuery)
async def list_events(ctx: RequestContext) -> dict[str, Any]:
    """The events journal, in order, paged by id (after_id)."""
    q: schemas.EventQuery = ctx.query
    stmt = select(JournalEvent).where(JournalEvent.id > q.after_id)
    if q.kind:
        stmt = stmt.where(JournalEvent.kind == q.kind)
    if q.since:
        stmt = stmt.where(JournalEvent.occurred_at >= q.since)
    if q.until:
        stmt = stmt.where(JournalEvent.occurred_at < q.until)
    if q.ticket_id is not None:
        stmt = stmt.where(JournalEvent.ticket_id == q.ticket_id)
    if q.call_id is not None:
        stmt = stmt.where(JournalEvent.call_id == q.call_id)
    rows = await ctx.session.scalars(stmt.order_by(JournalEvent.id).limit(q.limit))
    return {"items": [{"id": e.id, "occurred_at": e.occurred_at, "kind": e.kind, "site": e.site,
                       "channel": e.channel, "ticket_id": e.ticket_id, "call_id": e.call_id,
                       "operator_id": e.operator_id, "queue": e.queue, "data": e.data} for e in rows]}


@routes.get("/api/v1/audit-log", roles=("auditor", "admin"), query=schemas.EventQuery)
async def list_audit(ctx: RequestContext) -> dict[str, Any]:
    """Who read or changed personal data."""
    q: schemas.EventQuery = ctx.query
    stmt = select(AuditEntry).where(AuditEntry.id > q.after_id)
    if q.since:
        stmt = stmt.where(AuditEntry.at >= q.since)
    rows = await ctx.session.scalars(stmt.order_by(AuditEntry.id).limit(q.limit))
    return {"items": [{"id": a.id, "at": a.at, "user_id": a.user_id, "username": a.username,
                       "action": a.action, "subject_type": a.subject_type, "subject_id": a.subject_id,
                       "detail": a.detail, "remote_addr": a.remote_addr} for a in rows]}

