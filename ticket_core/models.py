"""Tables of the ticket core: catalogue, requesters, tickets and their history, problems,
the events journal, the audit log and calendar exceptions."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ticket_core.db import Base, JSONType, UTCDateTime

# 64-bit ids on PostgreSQL (the journal grows by millions a year at scale); SQLite needs
# plain INTEGER for its rowid autoincrement.
BigId = BigInteger().with_variant(Integer(), "sqlite")


# --- catalogue (SPEC §2, §5): data, not code -----------------------------------------


class Audience(Base):
    __tablename__ = "audiences"
    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    label: Mapped[str] = mapped_column(String(200))
    ivr_digit: Mapped[str | None] = mapped_column(String(1), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Application(Base):
    __tablename__ = "applications"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    label: Mapped[str] = mapped_column(String(200))
    # 1 high, 2 medium, 3 low: the default when no component is given.
    criticality: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    components: Mapped[list[ApplicationComponent]] = relationship(
        back_populates="application", lazy="selectin", order_by="ApplicationComponent.code"
    )
    __table_args__ = (CheckConstraint("criticality BETWEEN 1 AND 3", name="criticality"),)


class ApplicationComponent(Base):
    """The configuration table of SPEC §5: which part of an application is how critical."""

    __tablename__ = "application_components"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(60))
    label: Mapped[str] = mapped_column(String(200))
    criticality: Mapped[int] = mapped_column(Integer)
    application: Mapped[Application] = relationship(back_populates="components")
    __table_args__ = (
        UniqueConstraint("application_id", "code", name="uq_application_components_app_code"),
        CheckConstraint("criticality BETWEEN 1 AND 3", name="criticality"),
    )


class Severity(Base):
    __tablename__ = "severities"
    level: Mapped[int] = mapped_column(Integer, primary_key=True)  # 1 blocking .. 3 minor
    code: Mapped[str] = mapped_column(String(40), unique=True)
    label: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")


class RequestType(Base):
    __tablename__ = "request_types"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    label: Mapped[str] = mapped_column(String(200))
    # information | help | incident | legal | merge — drives indicator rules.
    category: Mapped[str] = mapped_column(String(20))
    # Merges are excluded from first-contact resolution and autonomy (T2-IQ07/10).
    excluded_from_resolution_indicators: Mapped[bool] = mapped_column(Boolean, default=False)
    # "Legal follow-up": the operator redirects the user to the court registry.
    redirect_to: Mapped[str | None] = mapped_column(String(200))
    # Fields N2 needs when this type is escalated (T2-IQ06: escalation quality).
    escalation_fields: Mapped[list[str]] = mapped_column(JSONType, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


# --- requesters ------------------------------------------------------------------------


class Requester(Base):
    __tablename__ = "requesters"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    audience_code: Mapped[str | None] = mapped_column(ForeignKey("audiences.code"))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    organisation: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    anonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    phones: Mapped[list[RequesterPhone]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="RequesterPhone.id"
    )
    emails: Mapped[list[RequesterEmail]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="RequesterEmail.id"
    )


class RequesterPhone(Base):
    __tablename__ = "requester_phones"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("requesters.id", ondelete="CASCADE"))
    number: Mapped[str] = mapped_column(String(40), unique=True)  # normalised


class RequesterEmail(Base):
    __tablename__ = "requester_emails"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("requesters.id", ondelete="CASCADE"))
    address: Mapped[str] = mapped_column(String(320), unique=True)  # lower-cased


# --- tickets -----------------------------------------------------------------------------


class TicketSequence(Base):
    """Per-year counter behind human references (GU-2026-000123); incremented inside the
    ticket's own transaction so references have no gaps from rolled-back work."""

    __tablename__ = "ticket_sequences"
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


class Problem(Base):
    __tablename__ = "problems"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="open")  # open | solved
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Ticket(Base):
    __tablename__ = "tickets"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    reference: Mapped[str] = mapped_column(String(30), unique=True)
    channel: Mapped[str] = mapped_column(String(10))  # phone | mail | chat | portal
    status: Mapped[str] = mapped_column(String(30), index=True)
    level: Mapped[str] = mapped_column(String(2), default="N1")  # who holds it now
    subject: Mapped[str] = mapped_column(String(300), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    audience_code: Mapped[str | None] = mapped_column(ForeignKey("audiences.code"))
    application_id: Mapped[int | None] = mapped_column(ForeignKey("applications.id"))
    component_id: Mapped[int | None] = mapped_column(ForeignKey("application_components.id"))
    request_type_id: Mapped[int | None] = mapped_column(ForeignKey("request_types.id"))
    criticality: Mapped[int | None] = mapped_column(Integer)
    severity: Mapped[int | None] = mapped_column(ForeignKey("severities.level"))
    priority: Mapped[int | None] = mapped_column(Integer, index=True)
    requester_id: Mapped[int | None] = mapped_column(ForeignKey("requesters.id"), index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    problem_id: Mapped[int | None] = mapped_column(ForeignKey("problems.id"))
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    source_ref: Mapped[str | None] = mapped_column(String(200), index=True)  # call/mail/chat id
    glpi_reference: Mapped[str | None] = mapped_column(String(60))
    escalation_info: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    needs_attention: Mapped[bool] = mapped_column(Boolean, default=False)
    contacts: Mapped[int] = mapped_column(Integer, default=1)  # >1: not first-contact
    escalated: Mapped[bool] = mapped_column(Boolean, default=False)  # ever escalated to N2
    escalation_bounced: Mapped[bool] = mapped_column(Boolean, default=False)  # T2-IQ06
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # SLA clocks, computed at write time in business time (SPEC §6).
    taken_in_charge_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    taken_in_charge_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # resolved or escalated
    handling_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by_level: Mapped[str | None] = mapped_column(String(2))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        CheckConstraint("priority IS NULL OR priority BETWEEN 1 AND 5", name="priority"),
        CheckConstraint("criticality IS NULL OR criticality BETWEEN 1 AND 3", name="criticality"),
    )


class TicketHistory(Base):
    """Every change to a ticket, field by field, with who and when."""

    __tablename__ = "ticket_history"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(40))
    field: Mapped[str | None] = mapped_column(String(60))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str] = mapped_column(Text, default="")


# --- the events journal and the audit log -------------------------------------------------


class JournalEvent(Base):
    """Append-only typed facts; every indicator is a query over these (DESIGN.md)."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(40))
    site: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str | None] = mapped_column(String(10))
    ticket_id: Mapped[int | None] = mapped_column(BigId)
    call_id: Mapped[str | None] = mapped_column(String(80))
    operator_id: Mapped[int | None] = mapped_column(Integer)
    queue: Mapped[str | None] = mapped_column(String(40))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    __table_args__ = (
        Index("ix_events_kind_occurred_at", "kind", "occurred_at"),
        Index("ix_events_ticket_id", "ticket_id"),
        Index("ix_events_call_id", "call_id"),
    )


class AuditEntry(Base):
    """Who read or changed personal data, when, from where (R-GDPR)."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    user_id: Mapped[int | None] = mapped_column(Integer)
    username: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(20))  # read | create | update | delete | export
    subject_type: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[str] = mapped_column(String(80))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    remote_addr: Mapped[str | None] = mapped_column(String(64))


class CalendarExceptionRow(Base):
    """Saturday openings and exceptional closures entered by a supervisor (SPEC §3)."""

    __tablename__ = "calendar_exceptions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    kind: Mapped[str] = mapped_column(String(10))  # opening | closure
    opens: Mapped[time | None] = mapped_column(Time)
    closes: Mapped[time | None] = mapped_column(Time)
    note: Mapped[str] = mapped_column(String(300), default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (CheckConstraint("kind IN ('opening', 'closure')", name="kind"),)
