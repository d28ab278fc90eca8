"""The ticket core's service layer: every change to tickets and requesters goes through
here, inside one transaction with its history rows and journal facts, so a failure leaves
nothing half-written.

Channels (telephony, mail, chat) call ``create_ticket``; operators act through the API
(``qualify``, ``transition``, ``assign``…). The business calendar is passed in, already
loaded with the supervisor's exceptions (see ``ticket_core.calendar_store``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ticket_core import journal
from ticket_core.business_time import BusinessCalendar
from ticket_core.db import utcnow
from ticket_core.exceptions import (
    InvalidValue,
    MissingEscalationInformation,
    NotFound,
    TransitionNotAllowed,
    UnknownCatalogueEntry,
)
from ticket_core.journal import EventKind, Fact
from ticket_core.models import (
    Application,
    ApplicationComponent,
    Audience,
    Problem,
    Requester,
    RequesterEmail,
    RequesterPhone,
    RequestType,
    Severity,
    Ticket,
    TicketHistory,
    TicketSequence,
)
from ticket_core.priority import is_critical, priority
from ticket_core.workflow import TRANSITIONS, Action, Status, next_status

CHANNELS = ("phone", "mail", "chat")


@dataclass(frozen=True)
class Actor:
    """Who does something: a logged-in user, or the system (user_id None)."""

    user_id: int | None
    username: str
    role: str

    @property
    def is_operator_action(self) -> bool:
        # "Taken in charge" is the first action of a person of the help desk.
        return self.user_id is not None and self.role in ("operator", "supervisor", "admin")


SYSTEM = Actor(None, "system", "system")


@dataclass(frozen=True)
class SlaPolicy:
    critical_hours: float = 2.0
    normal_hours: float = 4.0
    mail_hours: float = 1.0


@dataclass
class TicketContext:
    """What a unit of work needs besides the session: injected by the bootstrap."""

    calendar: BusinessCalendar
    site: str = "primary"
    ticket_prefix: str = "GU"
    sla: SlaPolicy = field(default_factory=SlaPolicy)
    clock: Callable[[], datetime] = utcnow


def normalise_phone(raw: str | None) -> str | None:
    """French numbers to E.164 (+33…), others kept with digits and a leading +.
    Anonymous or unusable caller ids give None (SPEC R-CB: counted, not recoverable)."""
    if not raw:
        return None
    digits = re.sub(r"[^\d+]", "", raw.strip())
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    if re.fullmatch(r"0[1-9]\d{8}", digits):
        return "+33" + digits[1:]
    if re.fullmatch(r"\+\d{6,15}", digits):
        return digits
    if re.fullmatch(r"\d{3,15}", digits):
        return digits  # internal extensions, test numbers
    return None


def normalise_email(raw: str | None) -> str | None:
    if not raw:
        return None
    address = raw.strip().lower()
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", address):
        return None
    return address


class TicketService:
    def __init__(self, session: AsyncSession, ctx: TicketContext) -> None:
        self.session = session
        self.ctx = ctx

    # --- requesters ------------------------------------------------------------------

    async def find_requester(self, *, phone: str | None = None, email: str | None = None) -> Requester | None:
        number = normalise_phone(phone)
        if number:
            row = await self.session.scalar(
                select(Requester).join(RequesterPhone).where(RequesterPhone.number == number)
            )
            if row:
                return row
        address = normalise_email(email)
        if address:
            return await self.session.scalar(
                select(Requester).join(RequesterEmail).where(RequesterEmail.address == address)
            )
        return None

    async def find_or_create_requester(
        self,
        *,
        phone: str | None = None,
        email: str | None = None,
        audience: str | None = None,
        display_name: str = "",
    ) -> Requester | None:
        """The requester owning this number or address, created when unknown. None when
        neither is usable (anonymous call): the ticket then has no requester."""
        found = await self.find_requester(phone=phone, email=email)
        if found:
            if audience and not found.audience_code:
                await self._check_audience(audience)
                found.audience_code = audience
            return found
        number, address = normalise_phone(phone), normalise_email(email)
        if not number and not address:
            return None
        if audience:
            await self._check_audience(audience)
        requester = Requester(
            audience_code=audience, display_name=display_name, created_at=self.ctx.clock()
        )
        if number:
            requester.phones.append(RequesterPhone(number=number))
        if address:
            requester.emails.append(RequesterEmail(address=address))
        self.session.add(requester)
        await self.session.flush()
        return requester

    async def add_contact_point(
        self, requester_id: int, *, phone: str | None = None, email: str | None = None
    ) -> Requester:
        requester = await self._get(Requester, requester_id, "requester")
        if phone is not None:
            number = normalise_phone(phone)
            if not number:
                raise InvalidValue(f"unusable phone number {phone!r}", field="phone")
            requester.phones.append(RequesterPhone(number=number))
        if email is not None:
            address = normalise_email(email)
            if not address:
                raise InvalidValue(f"invalid mail address {email!r}", field="email")
            requester.emails.append(RequesterEmail(address=address))
        await self.session.flush()
        return requester

    # --- tickets -----------------------------------------------------------------------

    async def create_ticket(
        self,
        *,
        channel: str,
        actor: Actor = SYSTEM,
        audience: str | None = None,
        requester_id: int | None = None,
        subject: str = "",
        description: str = "",
        source_ref: str | None = None,
        received_at: datetime | None = None,
        needs_attention: bool = False,
        call_id: str | None = None,
    ) -> Ticket:
        if channel not in CHANNELS:
            raise InvalidValue(f"channel must be one of {', '.join(CHANNELS)}", field="channel")
        if audience:
            await self._check_audience(audience)
        if requester_id is not None:
            await self._get(Requester, requester_id, "requester")
        now = self.ctx.clock()
        created = received_at or now
        ticket = Ticket(
            reference=await self._next_reference(created),
            channel=channel,
            status=Status.NEW.value,
            level="N1",
            subject=subject[:300],
            description=description,
            audience_code=audience,
            requester_id=requester_id,
            source_ref=source_ref,
            needs_attention=needs_attention,
            created_at=created,
            updated_at=now,
            contacts=1,
            escalation_info={},
        )
        cal = self.ctx.calendar
        if channel == "mail":
            ticket.taken_in_charge_due_at = cal.add_business_hours(created, self.ctx.sla.mail_hours)
        ticket.handling_due_at = cal.add_business_hours(created, self._handling_hours(None))
        self.session.add(ticket)
        await self.session.flush()
        self._history(ticket, actor, "create", note=f"channel={channel}")
        self._fact(EventKind.TICKET_CREATED, ticket, occurred_at=created, call_id=call_id,
                   data={"reference": ticket.reference, "source_ref": source_ref})
        if actor.is_operator_action:
            self._taken_in_charge(ticket, actor, now)
        return ticket

    async def get_ticket(self, ticket_id: int) -> Ticket:
        return await self._get(Ticket, ticket_id, "ticket")

    async def get_by_reference(self, reference: str) -> Ticket:
        ticket = await self.session.scalar(select(Ticket).where(Ticket.reference == reference))
        if ticket is None:
            raise NotFound(f"no ticket {reference}", field="reference")
        return ticket

    async def qualify(
        self,
        ticket_id: int,
        actor: Actor,
        *,
        application: str | None = None,
        component: str | None = None,
        request_type: str | None = None,
        severity: int | None = None,
        criticality: int | None = None,
        audience: str | None = None,
        subject: str | None = None,
        description: str | None = None,
    ) -> Ticket:
        """Classify and prioritise. Criticality comes from the component, else the
        application, unless given explicitly; priority and the handling clock follow."""
        ticket = await self.get_ticket(ticket_id)
        self._require_open(ticket)
        changes: dict[str, Any] = {}
        if audience is not None:
            await self._check_audience(audience)
            changes["audience_code"] = audience
        app = None
        if application is not None:
            app = await self.session.scalar(select(Application).where(Application.code == application))
            if app is None or not app.active:
                raise UnknownCatalogueEntry(f"unknown application {application!r}", field="application")
            changes["application_id"] = app.id
        elif ticket.application_id:
            app = await self.session.get(Application, ticket.application_id)
        if component is not None:
            if app is None:
                raise InvalidValue("a component needs an application", field="component")
            comp = next((c for c in app.components if c.code == component), None)
            if comp is None:
                raise UnknownCatalogueEntry(f"unknown component {component!r} of {app.code}", field="component")
            changes["component_id"] = comp.id
            if criticality is None:
                criticality = comp.criticality
        elif app is not None and criticality is None and "application_id" in changes:
            criticality = app.criticality
        if request_type is not None:
            rtype = await self.session.scalar(select(RequestType).where(RequestType.code == request_type))
            if rtype is None or not rtype.active:
                raise UnknownCatalogueEntry(f"unknown request type {request_type!r}", field="request_type")
            changes["request_type_id"] = rtype.id
        if severity is not None:
            if await self.session.get(Severity, severity) is None:
                raise UnknownCatalogueEntry(f"unknown severity {severity!r}", field="severity")
            changes["severity"] = severity
        if criticality is not None:
            changes["criticality"] = criticality
        if subject is not None:
            changes["subject"] = subject[:300]
        if description is not None:
            changes["description"] = description
        crit = changes.get("criticality", ticket.criticality)
        sev = changes.get("severity", ticket.severity)
        if crit is not None and sev is not None:
            changes["priority"] = priority(crit, sev)
        now = self.ctx.clock()
        changed = {k: v for k, v in changes.items() if getattr(ticket, k) != v}
        for name, value in changed.items():
            self._history(ticket, actor, "qualify", field=name, old=getattr(ticket, name), new=value)
            setattr(ticket, name, value)
        if "priority" in changed:
            # The clock always runs from the ticket's creation: raising the priority of an
            # old ticket can make it late at once, which is what the contract measures.
            ticket.handling_due_at = self.ctx.calendar.add_business_hours(
                ticket.created_at, self._handling_hours(ticket.priority)
            )
        if changed:
            ticket.updated_at = now
            self._fact(EventKind.TICKET_QUALIFIED, ticket, data={
                k: v for k, v in changed.items() if k not in ("subject", "description")
            })
        if actor.is_operator_action:
            self._taken_in_charge(ticket, actor, now)
        await self.session.flush()
        return ticket

    async def transition(
        self,
        ticket_id: int,
        action: str,
        actor: Actor,
        *,
        note: str = "",
        escalation_info: dict[str, Any] | None = None,
        glpi_reference: str | None = None,
        merge_into: str | None = None,
    ) -> Ticket:
        ticket = await self.get_ticket(ticket_id)
        old = Status(ticket.status)
        target = next_status(old, action)
        act = Action(action)
        now = self.ctx.clock()
        data: dict[str, Any] = {"action": act.value, "from": old.value, "to": target.value}

        if act is Action.ESCALATE:
            info = {**(ticket.escalation_info or {}), **(escalation_info or {})}
            await self._check_escalation_info(ticket, info)
            ticket.escalation_info = info
            if glpi_reference:
                ticket.glpi_reference = glpi_reference
            ticket.escalated = True
        elif act is Action.REQUEST_INFO:
            # N2 bounced it for missing information: the escalation was not right (T2-IQ06).
            ticket.escalation_bounced = True
        elif act is Action.PROVIDE_INFO and escalation_info:
            ticket.escalation_info = {**(ticket.escalation_info or {}), **escalation_info}
        elif act is Action.MERGE:
            if not merge_into:
                raise InvalidValue("merge needs the reference of the ticket to keep", field="merge_into")
            survivor = await self.get_by_reference(merge_into)
            if survivor.id == ticket.id:
                raise InvalidValue("a ticket cannot be merged into itself", field="merge_into")
            if survivor.status not in {s.value for s in Status if s not in (Status.CLOSED, Status.MERGED)}:
                raise TransitionNotAllowed("cannot merge into a closed ticket", field="merge_into")
            ticket.merged_into_id = survivor.id
            survivor.contacts += ticket.contacts
            self._history(survivor, actor, "merge_in", note=ticket.reference)
            data["into"] = survivor.reference
        elif act is Action.REOPEN:
            ticket.contacts += 1  # a second contact: no longer first-contact resolution
            ticket.resolved_at = None
            ticket.resolved_by_level = None

        if act in (Action.RESOLVE, Action.TECHNICAL_CLOSURE):
            ticket.resolved_at = now
            ticket.resolved_by_level = "N1" if act is Action.RESOLVE else ticket.level
        if act in (Action.RESOLVE, Action.ESCALATE) and ticket.handled_at is None:
            ticket.handled_at = now  # "handled or escalated" (T2-IQ08/09)
        if act is Action.CLOSE:
            ticket.closed_at = now

        transition = TRANSITIONS[act]
        if transition.level:
            ticket.level = transition.level
        if target != old:
            self._history(ticket, actor, act.value, field="status", old=old.value, new=target.value, note=note)
        else:
            self._history(ticket, actor, act.value, note=note)
        ticket.status = target.value
        ticket.updated_at = now
        self._fact(EventKind.TICKET_TRANSITIONED, ticket, data=data)
        specific = {
            Action.ESCALATE: EventKind.TICKET_ESCALATED,
            Action.REQUEST_INFO: EventKind.TICKET_BOUNCED,
            Action.REMIND: EventKind.TICKET_REMINDED,
            Action.RESOLVE: EventKind.TICKET_RESOLVED,
            Action.TECHNICAL_CLOSURE: EventKind.TICKET_RESOLVED,
            Action.CLOSE: EventKind.TICKET_CLOSED,
            Action.MERGE: EventKind.TICKET_MERGED,
        }.get(act)
        if specific:
            self._fact(specific, ticket, data={"level": ticket.level, "note": note[:200]} if act is Action.REMIND else {"level": ticket.resolved_by_level or ticket.level})
        if actor.is_operator_action:
            self._taken_in_charge(ticket, actor, now)
        await self.session.flush()
        return ticket

    async def assign(self, ticket_id: int, assignee_id: int | None, actor: Actor) -> Ticket:
        from accounts.models import User  # accounts owns users; imported late to keep layers thin

        ticket = await self.get_ticket(ticket_id)
        self._require_open(ticket)
        if assignee_id is not None and await self.session.get(User, assignee_id) is None:
            raise NotFound(f"no user {assignee_id}", field="assignee_id")
        if ticket.assignee_id != assignee_id:
            self._history(ticket, actor, "assign", field="assignee_id", old=ticket.assignee_id, new=assignee_id)
            ticket.assignee_id = assignee_id
            ticket.updated_at = self.ctx.clock()
        if actor.is_operator_action:
            self._taken_in_charge(ticket, actor, self.ctx.clock())
        await self.session.flush()
        return ticket

    async def add_note(self, ticket_id: int, actor: Actor, note: str) -> Ticket:
        if not note.strip():
            raise InvalidValue("a note cannot be empty", field="note")
        ticket = await self.get_ticket(ticket_id)
        self._history(ticket, actor, "note", note=note)
        ticket.updated_at = self.ctx.clock()
        if actor.is_operator_action:
            self._taken_in_charge(ticket, actor, self.ctx.clock())
        await self.session.flush()
        return ticket

    async def record_contact(self, ticket_id: int, actor: Actor = SYSTEM, *, channel: str, note: str = "") -> Ticket:
        """The requester came back about the same ticket (a mail reply, a second call)."""
        ticket = await self.get_ticket(ticket_id)
        ticket.contacts += 1
        ticket.updated_at = self.ctx.clock()
        self._history(ticket, actor, "contact", note=f"channel={channel} {note}".strip())
        await self.session.flush()
        return ticket

    async def history(self, ticket_id: int) -> list[TicketHistory]:
        await self.get_ticket(ticket_id)
        rows = await self.session.scalars(
            select(TicketHistory).where(TicketHistory.ticket_id == ticket_id).order_by(TicketHistory.id)
        )
        return list(rows)

    # --- problems ------------------------------------------------------------------------

    async def create_problem(self, actor: Actor, title: str, description: str = "") -> Problem:
        if not title.strip():
            raise InvalidValue("a problem needs a title", field="title")
        problem = Problem(title=title[:300], description=description, created_at=self.ctx.clock(),
                          created_by=actor.user_id)
        self.session.add(problem)
        await self.session.flush()
        return problem

    async def link_problem(self, ticket_id: int, problem_id: int | None, actor: Actor) -> Ticket:
        ticket = await self.get_ticket(ticket_id)
        if problem_id is not None:
            await self._get(Problem, problem_id, "problem")
        self._history(ticket, actor, "link_problem", field="problem_id", old=ticket.problem_id, new=problem_id)
        ticket.problem_id = problem_id
        ticket.updated_at = self.ctx.clock()
        await self.session.flush()
        return ticket

    # --- internals -------------------------------------------------------------------------

    def _handling_hours(self, prio: int | None) -> float:
        if prio is not None and is_critical(prio):
            return self.ctx.sla.critical_hours
        return self.ctx.sla.normal_hours

    def _taken_in_charge(self, ticket: Ticket, actor: Actor, now: datetime) -> None:
        if ticket.taken_in_charge_at is not None:
            return
        ticket.taken_in_charge_at = now
        self._fact(EventKind.TICKET_TAKEN_IN_CHARGE, ticket, operator_id=actor.user_id,
                   data={"by": actor.username})

    async def _check_escalation_info(self, ticket: Ticket, info: dict[str, Any]) -> None:
        if ticket.request_type_id is None:
            raise MissingEscalationInformation(
                "qualify the request type before escalating", field="request_type"
            )
        rtype = await self.session.get(RequestType, ticket.request_type_id)
        missing = [f for f in (rtype.escalation_fields or []) if not str(info.get(f, "")).strip()]
        if missing:
            raise MissingEscalationInformation(
                f"N2 needs: {', '.join(missing)}", field=missing[0], missing=missing
            )

    async def _check_audience(self, code: str) -> None:
        row = await self.session.get(Audience, code)
        if row is None or not row.active:
            raise UnknownCatalogueEntry(f"unknown audience {code!r}", field="audience")

    async def _get(self, model: type, ident: int, name: str) -> Any:
        row = await self.session.get(model, ident)
        if row is None:
            raise NotFound(f"no {name} {ident}", field=f"{name}_id")
        return row

    def _require_open(self, ticket: Ticket) -> None:
        if ticket.status in (Status.CLOSED.value, Status.MERGED.value):
            raise TransitionNotAllowed(f"ticket {ticket.reference} is {ticket.status}", field="status")

    async def _next_reference(self, at: datetime) -> str:
        year = at.astimezone(self.ctx.calendar.hours.zone).year
        # Make sure the year's counter exists (a no-op after the first ticket of the year),
        # then UPDATE … RETURNING: the row lock on PostgreSQL and SQLite's write lock mean
        # two instances never hand out the same number.
        insert = pg_insert if self.session.bind.dialect.name == "postgresql" else sqlite_insert
        await self.session.execute(
            insert(TicketSequence).values(year=year, last=0).on_conflict_do_nothing()
        )
        result = await self.session.execute(
            update(TicketSequence).where(TicketSequence.year == year)
            .values(last=TicketSequence.last + 1).returning(TicketSequence.last)
        )
        number = result.scalar_one()
        return f"{self.ctx.ticket_prefix}-{year}-{number:06d}"

    def _history(self, ticket: Ticket, actor: Actor, action: str, *, field: str | None = None,
                 old: Any = None, new: Any = None, note: str = "") -> None:
        self.session.add(TicketHistory(
            ticket_id=ticket.id, at=self.ctx.clock(), actor_id=actor.user_id, action=action,
            field=field, old_value=None if old is None else str(old),
            new_value=None if new is None else str(new), note=note,
        ))

    def _fact(self, kind: EventKind, ticket: Ticket, *, occurred_at: datetime | None = None,
              call_id: str | None = None, operator_id: int | None = None,
              data: dict[str, Any] | None = None) -> None:
        journal.append(self.session, Fact(
            kind=kind, occurred_at=occurred_at or self.ctx.clock(), channel=ticket.channel,
            ticket_id=ticket.id, call_id=call_id, operator_id=operator_id,
            queue=ticket.audience_code, data=data or {},
        ), site=self.ctx.site)
