"""Request and response shapes of the ticket core's API (validated by pydantic; the same
models feed the OpenAPI document)."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any, Literal

from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ticket_core.models import Requester, Ticket, TicketHistory


# Database ids are 64-bit: a larger number is a bad request, not a server error.
Id = Annotated[int, Field(ge=1, le=2**62)]
# Instants must carry their UTC offset: a naive time is ambiguous around DST changes.
Instant = AwareDatetime


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TicketCreate(Strict):
    channel: Literal["phone", "mail", "chat"]
    audience: str | None = None
    requester_id: Id | None = None
    phone: str | None = Field(None, max_length=40, description="find or create the requester by number")
    email: str | None = Field(None, max_length=320, description="find or create the requester by address")
    subject: str = Field("", max_length=300)
    description: str = Field("", max_length=100_000)


class Qualification(Strict):
    audience: str | None = None
    application: str | None = None
    component: str | None = None
    request_type: str | None = None
    criticality: int | None = Field(None, ge=1, le=3)
    severity: int | None = Field(None, ge=1, le=3)
    subject: str | None = Field(None, max_length=300)
    description: str | None = Field(None, max_length=100_000)


class TicketAction(Strict):
    action: Literal["take", "resolve", "escalate", "send_back", "request_info", "provide_info",
                    "pass_to_n3", "back_to_n2", "technical_closure", "close", "reopen", "merge", "remind"]
    note: str = Field("", max_length=10_000)
    escalation_info: dict[str, str] | None = None
    glpi_reference: str | None = Field(None, max_length=60)
    merge_into: str | None = Field(None, max_length=30)


class Assignment(Strict):
    assignee_id: Id | None


class Note(Strict):
    note: str = Field(min_length=1, max_length=10_000)


class ProblemLink(Strict):
    problem_id: Id | None


class ProblemCreate(Strict):
    title: str = Field(min_length=1, max_length=300)
    description: str = Field("", max_length=100_000)


class TicketQuery(Strict):
    status: str | None = None
    channel: str | None = None
    level: str | None = None
    requester_id: Id | None = None
    assignee_id: Id | None = None
    created_from: Instant | None = None
    created_to: Instant | None = None
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0, le=10**9)


class RequesterCreate(Strict):
    audience: str | None = None
    display_name: str = Field("", max_length=200)
    organisation: str = Field("", max_length=200)
    phone: str | None = Field(None, max_length=40)
    email: str | None = Field(None, max_length=320)


class RequesterQuery(Strict):
    phone: str | None = None
    email: str | None = None


class ContactPoint(Strict):
    phone: str | None = Field(None, max_length=40)
    email: str | None = Field(None, max_length=320)


class CalendarExceptionCreate(Strict):
    day: date = Field(ge=date(2000, 1, 1), le=date(2100, 12, 31))
    kind: Literal["opening", "closure"]
    opens: time | None = None
    closes: time | None = None
    note: str = Field("", max_length=300)


class CalendarQuery(Strict):
    start: date = Field(ge=date(2000, 1, 1), le=date(2100, 12, 31))
    end: date = Field(ge=date(2000, 1, 1), le=date(2100, 12, 31))


class BusinessTimeQuery(Strict):
    start: Instant
    end: Instant | None = None
    hours: float | None = Field(None, ge=0, le=2_500, description="at most about a year of business hours")


class ApplicationCreate(Strict):
    code: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,59}$")
    label: str = Field(min_length=1, max_length=200)
    criticality: int = Field(ge=1, le=3)


class RequestTypeCreate(Strict):
    code: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,59}$")
    label: str = Field(min_length=1, max_length=200)
    category: Literal["information", "help", "incident", "legal", "merge"]
    excluded_from_resolution_indicators: bool = False
    redirect_to: str | None = Field(None, max_length=200)
    escalation_fields: list[str] = Field(default_factory=list)


class AudienceCreate(Strict):
    code: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,39}$")
    label: str = Field(min_length=1, max_length=200)
    ivr_digit: str | None = Field(None, pattern=r"^[0-9]$")


class EventQuery(Strict):
    kind: str | None = None
    since: Instant | None = None
    until: Instant | None = None
    ticket_id: Id | None = None
    call_id: str | None = None
    after_id: int = Field(0, ge=0, le=2**62)
    limit: int = Field(200, ge=1, le=5000)


# --- rendering ----------------------------------------------------------------------------


def ticket_out(t: Ticket, *, allowed_actions: list[str] | None = None) -> dict[str, Any]:
    out = {
        "id": t.id, "reference": t.reference, "channel": t.channel, "status": t.status,
        "level": t.level, "subject": t.subject, "description": t.description,
        "audience": t.audience_code, "application_id": t.application_id,
        "component_id": t.component_id, "request_type_id": t.request_type_id,
        "criticality": t.criticality, "severity": t.severity, "priority": t.priority,
        "requester_id": t.requester_id, "assignee_id": t.assignee_id, "problem_id": t.problem_id,
        "merged_into_id": t.merged_into_id, "glpi_reference": t.glpi_reference,
        "escalation_info": t.escalation_info or {}, "needs_attention": t.needs_attention,
        "contacts": t.contacts, "escalated": t.escalated, "escalation_bounced": t.escalation_bounced,
        "created_at": t.created_at, "updated_at": t.updated_at,
        "taken_in_charge_at": t.taken_in_charge_at, "taken_in_charge_due_at": t.taken_in_charge_due_at,
        "handled_at": t.handled_at, "handling_due_at": t.handling_due_at,
        "resolved_at": t.resolved_at, "resolved_by_level": t.resolved_by_level, "closed_at": t.closed_at,
        "source_ref": t.source_ref,
    }
    if allowed_actions is not None:
        out["allowed_actions"] = allowed_actions
    return out


def requester_out(r: Requester) -> dict[str, Any]:
    return {
        "id": r.id, "audience": r.audience_code, "display_name": r.display_name,
        "organisation": r.organisation, "phones": [p.number for p in r.phones],
        "emails": [e.address for e in r.emails], "created_at": r.created_at,
        "anonymised_at": r.anonymised_at,
    }


def history_out(h: TicketHistory) -> dict[str, Any]:
    return {"id": h.id, "at": h.at, "actor_id": h.actor_id, "action": h.action, "field": h.field,
            "old": h.old_value, "new": h.new_value, "note": h.note}
