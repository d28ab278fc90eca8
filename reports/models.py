"""Generated reports, their files, and the comments supervisors write for the monthly report."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ticket_core.db import Base, JSONType, UTCDateTime
from ticket_core.models import BigId

RUNNING = "running"
DONE = "done"
FAILED = "failed"


class GeneratedReport(Base):
    """One generation of a report: on demand (API, command line) or scheduled."""

    __tablename__ = "generated_reports"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # monthly | daily
    period: Mapped[str] = mapped_column(String(20))  # 2026-10 | 2026-11-02
    trigger: Mapped[str] = mapped_column(String(20))  # schedule | api | cli
    requested_by: Mapped[str] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    summary: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    # "monthly:2026-10" for scheduled runs only: the unique claim that makes one instance
    # (of several) generate a scheduled report once.
    schedule_key: Mapped[str | None] = mapped_column(String(60), unique=True)
    # A monthly report validated by the steering committee: its PDF edition exists from then.
    validated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    validated_by: Mapped[str | None] = mapped_column(String(120))
    __table_args__ = (Index("ix_generated_reports_kind_period", "kind", "period"),)


class ReportFile(Base):
    __tablename__ = "report_files"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("generated_reports.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    media_type: Mapped[str] = mapped_column(String(120))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)


class ReportNote(Base):
    """A supervisor's text for one section of a month's report (analysis, corrective
    actions, main events, progress); the latest version is used."""

    __tablename__ = "report_notes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    period: Mapped[str] = mapped_column(String(7))
    section: Mapped[str] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(120))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (UniqueConstraint("period", "section", name="uq_report_notes_period_section"),)
