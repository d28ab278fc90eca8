"""One row per call: the facts of its life that the contact center keeps about it.

The journal holds the measured facts (presented, answered with wait…); this table holds
what is personal or changes (the caller's number, the Asterisk channel ids used to
re-attach the call after a restart) so it can be purged or anonymised on its own schedule
without touching the append-only journal."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ticket_core.db import Base, UTCDateTime
from ticket_core.models import BigId

# outcome values
IN_PROGRESS = "in_progress"
ANSWERED = "answered"
ABANDONED = "abandoned"
LOST = "lost"  # ended unanswered for another reason (no operator, max wait, failure)
OUTSIDE_HOURS = "outside_hours"
CALLBACK_REQUESTED = "callback_requested"


class Call(Base):
    __tablename__ = "calls"
    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    site: Mapped[str] = mapped_column(String(40))
    direction: Mapped[str] = mapped_column(String(10), default="inbound")  # inbound | callback
    caller_number: Mapped[str | None] = mapped_column(String(40))  # normalised; None: anonymous
    caller_raw: Mapped[str | None] = mapped_column(String(80))
    audience: Mapped[str | None] = mapped_column(String(40))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    presented_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    wait_seconds: Mapped[float | None] = mapped_column(Float)
    outcome: Mapped[str] = mapped_column(String(20), default=IN_PROGRESS)
    lost_reason: Mapped[str | None] = mapped_column(String(40))
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    requester_id: Mapped[int | None] = mapped_column(ForeignKey("requesters.id"))
    channel_id: Mapped[str | None] = mapped_column(String(80))  # the caller's Asterisk channel
    operator_channel_id: Mapped[str | None] = mapped_column(String(80))
    bridge_id: Mapped[str | None] = mapped_column(String(80))
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # operators rung
    __table_args__ = (
        Index("ix_calls_received_at", "received_at"),
        Index("ix_calls_caller_number", "caller_number"),
        Index("ix_calls_outcome", "outcome"),
    )


__all__ = ["Call", "BigId"]
