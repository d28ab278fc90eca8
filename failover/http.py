"""HTTP resources of the site pair: health (for the other site), status, manual
switchover and failback, the drills calendar and records, running a drill, and the
indicators T1-IQ01/02 (per month) and T3-IQ03 (per semester)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from apikit import ANY_ROLE, RequestContext, RouteTable
from failover import indicators
from failover import models as m
from failover.fencing import db_now
from failover.services import (
    add_plan,
    drill_out,
    plan_out,
    request_switchover,
    site_out,
    start_drill,
    switchover_out,
)
from ticket_core.exceptions import InvalidValue, NotFound, TransitionNotAllowed

routes = RouteTable("failover")
SUPERVISION = ("supervisor", "admin")
READ = ("supervisor", "auditor", "admin")


class SwitchoverBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to: str | None = Field(None, description="the site to make active (default: the other one)")
    reason: str = Field(min_length=3, max_length=300)


class FailbackBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field("retour sur le site principal", min_length=3, max_length=300)


class PlanBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    planned_for: datetime
    note: str = Field("", max_length=2000)


class DrillBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    plan_id: int | None = Field(None, ge=1, le=2**62)


class SemesterQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    semester: str | None = Field(None, pattern=r"^(19|20|21)\d{2}-S[12]$")


class MonthQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    month: str = Field(pattern=r"^(19|20|21)\d{2}-(0[1-9]|1[0-2])$")
    checks: str = Field("", description="comma-separated probe checks counted (default: all)")


class ListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    limit: int = Field(50, ge=1, le=1000)


def _controller(ctx: RequestContext) -> Any:
    controller = ctx.container.extras.get("failover")
    if controller is None:
        raise TransitionNotAllowed("the failover module is not running on this site (GUICHET_FAILOVER=0)",
                                   field="failover")
    return controller


def _zone(ctx: RequestContext) -> ZoneInfo:
    return ZoneInfo(ctx.container.settings.timezone)


def _id(ctx: RequestContext, name: str) -> int:
    value = int(ctx.match(name))
    if value > 2**62:
        raise NotFound(f"no such {name.removesuffix('_id')}", field=name)
    return value


def _by(ctx: RequestContext) -> str:
    return ctx.user.username if ctx.user else "anonymous"


@routes.get("/api/v1/failover/health", roles=None)
async def health(ctx: RequestContext) -> dict[str, Any]:
    """This site's own report (state, checks): what the other site probes. No personal data."""
    controller = ctx.container.extras.get("failover")
    if controller is None:
        return {"site": ctx.container.settings.site, "state": "standalone", "active": True, "healthy": True,
                "checks": {}}
    return controller.report(public=True)


@routes.get("/api/v1/failover/status", roles=ANY_ROLE)
async def status(ctx: RequestContext) -> dict[str, Any]:
    """Both sites' last reports, the lease (who is active, since when) and the last switchovers."""
    from failover.fencing import _view

    lease = await ctx.session.get(m.FailoverLease, "acd")
    now = await db_now(ctx.session)
    sites = list(await ctx.session.scalars(select(m.FailoverSite).order_by(m.FailoverSite.site)))
    last = list(await ctx.session.scalars(select(m.Switchover).order_by(m.Switchover.id.desc()).limit(10)))
    controller = ctx.container.extras.get("failover")
    return {
        "this_site": ctx.container.settings.site,
        "active_site": lease.holder if lease and lease.expires_at and lease.expires_at > now else None,
        "lease": _view(lease, now).out() if lease else None,
        "sites": [site_out(s) for s in sites],
        "switchovers": [switchover_out(s) for s in last],
        "controller": controller.report() if controller else None,
    }


@routes.post("/api/v1/failover/switchover", roles=SUPERVISION, body=SwitchoverBody, status=202)
async def switchover(ctx: RequestContext) -> dict[str, Any]:
    """Manual switchover: the active site hands over to ``to`` (default: the one not active)."""
    c = _controller(ctx)
    b: SwitchoverBody = ctx.body
    to = b.to
    if to is None:
        view = await c.lease_view_in(ctx.session)
        to = c.peer if view.holder == c.site else c.site
    return {"lease": await request_switchover(c, ctx.session, to=to, kind=m.MANUAL, by=_by(ctx), reason=b.reason)}


@routes.post("/api/v1/failover/failback", roles=SUPERVISION, body=FailbackBody, status=202)
async def failback(ctx: RequestContext) -> dict[str, Any]:
    """Failback: the preferred site becomes active again."""
    c = _controller(ctx)
    return {"lease": await request_switchover(c, ctx.session, to=c.settings.preferred_site, kind=m.FAILBACK,
                                              by=_by(ctx), reason=ctx.body.reason)}


@routes.get("/api/v1/failover/switchovers", roles=READ, query=ListQuery)
async def switchovers(ctx: RequestContext) -> dict[str, Any]:
    """Every switchover, newest first, with its measured duration."""
    rows = await ctx.session.scalars(select(m.Switchover).order_by(m.Switchover.id.desc()).limit(ctx.query.limit))
    return {"items": [switchover_out(s) for s in rows]}


@routes.get("/api/v1/failover/drills/plans", roles=READ, query=SemesterQuery)
async def plans(ctx: RequestContext) -> dict[str, Any]:
    """The drills calendar (of one semester, or all)."""
    stmt = select(m.DrillPlan).order_by(m.DrillPlan.planned_for)
    if ctx.query.semester:
        stmt = stmt.where(m.DrillPlan.semester == ctx.query.semester)
    return {"items": [plan_out(p) for p in await ctx.session.scalars(stmt)]}


@routes.post("/api/v1/failover/drills/plans", roles=SUPERVISION, body=PlanBody, status=201)
async def create_plan(ctx: RequestContext) -> dict[str, Any]:
    """Plan a drill (it counts as expected in its semester: T3-IQ03)."""
    b: PlanBody = ctx.body
    if b.planned_for.tzinfo is None:
        raise InvalidValue("give the time with its UTC offset", field="planned_for")
    if not 2000 <= b.planned_for.year <= 2999:
        raise InvalidValue("a date of this contract, please", field="planned_for")
    plan = await add_plan(ctx.session, planned_for=b.planned_for, note=b.note, user_id=ctx.user.id if ctx.user else None,
                          zone=_zone(ctx))
    return plan_out(plan)


@routes.post("/api/v1/failover/drills/plans/{plan_id:\\d+}/cancel", roles=SUPERVISION)
async def cancel_plan(ctx: RequestContext) -> dict[str, Any]:
    """Cancel a planned drill (no longer expected)."""
    plan = await ctx.session.get(m.DrillPlan, _id(ctx, "plan_id"))
    if plan is None:
        raise NotFound("no such drill plan", field="plan_id")
    if plan.status != m.PLANNED:
        raise TransitionNotAllowed(f"the plan is {plan.status}", field="plan_id")
    plan.status = m.CANCELLED
    return plan_out(plan)


@routes.post("/api/v1/failover/drills", roles=SUPERVISION, body=DrillBody, status=202)
async def run_drill(ctx: RequestContext) -> dict[str, Any]:
    """Run a drill now: switch to the other site, test call, mail and chat, switch back."""
    drill = await start_drill(_controller(ctx), ctx.session, user_id=ctx.user.id if ctx.user else None, by=_by(ctx),
                              plan_id=ctx.body.plan_id, trigger="manual")
    return drill_out(drill)


@routes.get("/api/v1/failover/drills", roles=READ, query=SemesterQuery)
async def drills(ctx: RequestContext) -> dict[str, Any]:
    """Drill records: who, when, how long, what passed."""
    stmt = select(m.Drill).order_by(m.Drill.id.desc())
    if ctx.query.semester:
        stmt = stmt.where(m.Drill.semester == ctx.query.semester)
    return {"items": [drill_out(d) for d in await ctx.session.scalars(stmt)]}


@routes.get("/api/v1/failover/drills/{drill_id:\\d+}", roles=READ)
async def drill(ctx: RequestContext) -> dict[str, Any]:
    row = await ctx.session.get(m.Drill, _id(ctx, "drill_id"))
    if row is None:
        raise NotFound("no such drill", field="drill_id")
    return drill_out(row)


@routes.get("/api/v1/failover/indicators/drills", roles=READ, query=SemesterQuery)
async def drills_indicator(ctx: RequestContext) -> dict[str, Any]:
    """T3-IQ03: drills done / drills expected, for a semester (default: the current one)."""
    from failover.settings import FailoverSettings
    from guichet.settings import load_section

    zone = _zone(ctx)
    semester = ctx.query.semester or m.semester_of(ctx.container.clock(), zone)
    controller = ctx.container.extras.get("failover")
    settings = controller.settings if controller else load_section(FailoverSettings, "failover")
    result = await indicators.drills(ctx.session, semester, zone=zone, default_expected=settings.drills_per_semester)
    return result.out()


@routes.get("/api/v1/failover/indicators/availability", roles=READ, query=MonthQuery)
async def availability_indicator(ctx: RequestContext) -> dict[str, Any]:
    """T1-IQ01 (availability over opening time) and T1-IQ02 (opening and closing on time) for a month."""
    calendar = await ctx.container.calendar(ctx.session)
    start, end = indicators.month_bounds(ctx.query.month, calendar.hours.zone)
    now = ctx.container.clock()
    checks = [c.strip() for c in ctx.query.checks.split(",") if c.strip()] or None
    avail = await indicators.availability(ctx.session, calendar, start, end, now=now, checks=checks)
    opening = await indicators.openings(ctx.session, calendar, start, end, now=now)
    return {"month": ctx.query.month, "availability": avail.out(), "opening_on_time": opening.out()}
