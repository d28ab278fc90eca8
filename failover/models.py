"""Tables of the site pair.

- ``failover_lease``: one row per fenced role (``acd``): which site holds it, until when
  (database time), its epoch (a fencing token, +1 at each acquisition), and a pending
  handover request (manual switchover, failback, drill). Replicated with everything else,
  so it survives the promotion of the standby.
- ``failover_sites``: each site's last self-report (state, checks, the addresses drills
  reach it at), written at every probe round; the API of either site shows both.
- ``failover_switchovers``: every change of active site, with its measured duration.
- ``failover_drill_plans`` (the drills calendar) and ``failover_drills`` (who ran which
  drill, when, how long, what passed).

Probe results are facts of the journal only (``probe_result``), as are the service's
openings and closings; switchovers and drills are journaled too (``site_switched_over``,
``drill_done``) — the tables hold their details for the API.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ticket_core.db import Base, JSONType, UTCDateTime
from ticket_core.models import BigId

# site states (failover_sites.state)
ACTIVE = "active"  # holds the lease; ACD and telephony running
STANDBY = "standby"  # ready to take over
ACTIVATING = "activating"
FENCED = "fenced"  # lost its lease: deactivated itself
STOPPED = "stopped"

# switchover kinds
AUTOMATIC = "automatic"  # the active site failed
MANUAL = "manual"  # a supervisor asked
FAILBACK = "failback"  # back to the preferred site
DRILL = "drill"
SELF_RELEASE = "self_release"  # the active site saw itself failing and handed over

# drill status
RUNNING = "running"
PASSED = "passed"
FAILED = "failed"

# plan status
PLANNED = "planned"
DONE = "done"
CANCELLED = "cancelled"


class FailoverLease(Base):
    __tablename__ = "failover_lease"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(40))
    epoch: Mapped[int] = mapped_column(Integer, default=0)
    acquired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    renewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    requested_holder: Mapped[str | None] = mapped_column(String(40))
    requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    requested_by: Mapped[str | None] = mapped_column(String(120))
    request_kind: Mapped[str | None] = mapped_column(String(20))
    request_reason: Mapped[str | None] = mapped_column(String(300))


class FailoverSite(Base):
    __tablename__ = "failover_sites"
    site: Mapped[str] = mapped_column(String(40), primary_key=True)
    state: Mapped[str] = mapped_column(String(20))
    epoch: Mapped[int | None] = mapped_column(Integer)
    healthy: Mapped[bool] = mapped_column(Boolean, default=False)
    checks: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    peer_checks: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    endpoints: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Switchover(Base):
    __tablename__ = "failover_switchovers"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    from_site: Mapped[str | None] = mapped_column(String(40))
    to_site: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(String(300), default="")
    requested_by: Mapped[str | None] = mapped_column(String(120))
    # when the failure was first seen (automatic) or the switchover asked for (the others)
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    seconds: Mapped[float] = mapped_column(Float)
    promoted: Mapped[bool] = mapped_column(Boolean, default=False)
    promotion_seconds: Mapped[float | None] = mapped_column(Float)
    activation_seconds: Mapped[float | None] = mapped_column(Float)
    epoch: Mapped[int] = mapped_column(Integer)
    calls_lost: Mapped[int] = mapped_column(Integer, default=0)
    drill_id: Mapped[int | None] = mapped_column(Integer)
    __table_args__ = (Index("ix_failover_switchovers_completed_at", "completed_at"),)


class DrillPlan(Base):
    __tablename__ = "failover_drill_plans"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    semester: Mapped[str] = mapped_column(String(7), index=True)  # 2026-S1
    planned_for: Mapped[datetime] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default=PLANNED)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    drill_id: Mapped[int | None] = mapped_column(Integer)


class Drill(Base):
    __tablename__ = "failover_drills"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("failover_drill_plans.id"))
    semester: Mapped[str] = mapped_column(String(7), index=True)
    trigger: Mapped[str] = mapped_column(String(20))  # manual | scheduled
    started_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    started_by_name: Mapped[str] = mapped_column(String(120))
    from_site: Mapped[str] = mapped_column(String(40))
    target_site: Mapped[str] = mapped_column(String(40))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    seconds: Mapped[float | None] = mapped_column(Float)
    switchover_seconds: Mapped[float | None] = mapped_column(Float)
    failback_seconds: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(20), default=RUNNING)
    # [{"name": "call", "ok": true, "seconds": 12.3, "detail": "GU-2026-000123"}, …]
    checks: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    error: Mapped[str] = mapped_column(Text, default="")


def semester_of(at: datetime, zone: Any) -> str:
    local = at.astimezone(zone)
    return f"{local.year}-S{1 if local.month <= 6 else 2}"
