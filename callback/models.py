"""The lost-call registry and the callback worklist."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ticket_core.db import Base, UTCDateTime
from ticket_core.models import BigId

# lost call status
PENDING = "pending"  # recoverable, not recovered yet, window open
RECOVERED = "recovered"
UNRECOVERED = "unrecovered"  # window passed
NOT_RECOVERABLE = "not_recoverable"  # anonymous or unusable number

# callback state
SCHEDULED = "scheduled"
DIALING = "dialing"  # in the ACD or ringing
DONE = "done"  # answered by the user
EXHAUSTED = "exhausted"  # attempts limit reached
CANCELLED = "cancelled"  # the user called back first, or a supervisor closed it
OPEN_STATES = (SCHEDULED, DIALING)


class LostCall(Base):
    __tablename__ = "lost_calls"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id"), unique=True)
    caller_number: Mapped[str | None] = mapped_column(String(40))
    audience: Mapped[str | None] = mapped_column(String(40))
    lost_at: Mapped[datetime] = mapped_column(UTCDateTime)
    wait_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    reason: Mapped[str] = mapped_column(String(40))  # abandoned, no_operator, callback_requested…
    status: Mapped[str] = mapped_column(String(20))
    recover_by: Mapped[datetime | None] = mapped_column(UTCDateTime)
    recovered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    recovered_by: Mapped[str | None] = mapped_column(String(20))  # callback | inbound_call
    recovered_call_id: Mapped[str | None] = mapped_column(String(80))
    __table_args__ = (
        Index("ix_lost_calls_status_number", "status", "caller_number"),
        Index("ix_lost_calls_lost_at", "lost_at"),
    )


class Callback(Base):
    __tablename__ = "callbacks"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    lost_call_id: Mapped[int] = mapped_column(ForeignKey("lost_calls.id"), unique=True)
    number: Mapped[str] = mapped_column(String(40))
    audience: Mapped[str | None] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(20))  # lost_call | virtual_hold
    state: Mapped[str] = mapped_column(String(20), index=True)
    # When the callback may be placed; for virtual hold, the caller's place in the queue.
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    queue_entered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_outcome: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str] = mapped_column(Text, default="")
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))


class CallbackAttempt(Base):
    __tablename__ = "callback_attempts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    callback_id: Mapped[int] = mapped_column(ForeignKey("callbacks.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)  # 1, 2, 3…
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    outcome: Mapped[str | None] = mapped_column(String(20))  # answered, no_answer, busy, failed, cancelled
    user_answered: Mapped[bool] = mapped_column(Boolean, default=False)
