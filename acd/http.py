"""Thin HTTP resources of the ACD: live status, operators' state and skills."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete, select

from acd import domain as d
from acd.exceptions import AcdUnavailable, SiteNotActive, as_http
from acd.models import OperatorSkill
from accounts.exceptions import Forbidden
from accounts.models import User
from apikit import ANY_ROLE, RequestContext, RouteTable
from ticket_core.exceptions import NotFound, UnknownCatalogueEntry

routes = RouteTable("acd")


class StateChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Literal["login", "logout", "pause", "unpause", "end_wrap_up"]
    reason: str = Field("pause", max_length=60)


class Skills(BaseModel):
    model_config = ConfigDict(extra="forbid")
    skills: dict[str, int] = Field(description="audience → level 1 (novice) … 5 (expert)")


def _service(ctx: RequestContext) -> Any:
    svc = ctx.container.extras.get("acd")
    if svc is None or svc.acd is None:
        if not ctx.container.site_is_active():
            raise SiteNotActive()
        raise AcdUnavailable()
    return svc


@routes.get("/api/v1/acd/status", roles=ANY_ROLE)
async def status(ctx: RequestContext) -> dict[str, Any]:
    """Queues (waiting, longest wait, operators) and operators (state, time in state)."""
    svc = _service(ctx)
    return svc.acd.snapshot(svc.clock())


@routes.post("/api/v1/acd/operators/{operator_id:\\d+}/state", roles=("operator", "supervisor", "admin"),
             body=StateChange)
async def change_state(ctx: RequestContext) -> dict[str, Any]:
    """Log in, log out, pause (with a reason), unpause, end wrap-up. Operators act on themselves."""
    svc = _service(ctx)
    op = ctx.match("operator_id")
    if ctx.user.role == "operator" and str(ctx.user.id) != op:
        raise Forbidden("operators change their own state only")
    await svc.ensure_known(op)
    now, b = svc.clock(), ctx.body
    try:
        if b.action == "pause":
            svc.acd.pause(op, b.reason, now)
        else:
            getattr(svc.acd, b.action)(op, now)
    except d.AcdError as exc:
        raise as_http(exc) from None
    await svc.flush()
    dispatcher = ctx.container.extras.get("dispatch")
    if dispatcher is not None:
        await dispatcher()
    view = svc.acd.operator(op)
    return {"operator_id": op, "state": str(view.state), "pause_reason": view.pause_reason}


@routes.post("/api/v1/acd/operators/{operator_id:\\d+}/skills", roles=("supervisor", "admin"), body=Skills)
async def set_skills(ctx: RequestContext) -> dict[str, Any]:
    """Replace an operator's skills (audience → level)."""
    user_id = int(ctx.match("operator_id"))
    user = await ctx.session.get(User, user_id)
    if user is None or user.role != "operator":
        raise NotFound("no such operator", field="operator_id")
    from ticket_core.models import Audience

    known = set(await ctx.session.scalars(select(Audience.code)))
    for audience, level in ctx.body.skills.items():
        if audience not in known:
            raise UnknownCatalogueEntry(f"unknown audience {audience!r}", field="skills")
        if not 1 <= level <= 5:
            raise UnknownCatalogueEntry("levels go from 1 to 5", field="skills")
    await ctx.session.execute(delete(OperatorSkill).where(OperatorSkill.user_id == user_id))
    for audience, level in ctx.body.skills.items():
        ctx.session.add(OperatorSkill(user_id=user_id, audience=audience, level=level))
    await ctx.session.flush()
    svc = ctx.container.extras.get("acd")
    if svc is not None and svc.acd is not None:
        await svc.load_roster(ctx.session)
    return {"operator_id": user_id, "skills": ctx.body.skills}
