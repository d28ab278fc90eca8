"""Thin HTTP resources of callbacks: the worklist, triggering, rescheduling and closing a
callback, the unrecovered lost calls, and T2-IQ04 for a month."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from apikit import ANY_ROLE, RequestContext, RouteTable
from callback import models as m
from callback.accounting import recovered_calls
from callback.services import callback_out, lost_out
from ticket_core.exceptions import InvalidValue

routes = RouteTable("callbacks")
DESK = ("operator", "supervisor", "admin")


class CallbackQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    state: Literal["scheduled", "dialing", "done", "exhausted", "cancelled", "open"] = "open"
    limit: int = Field(100, ge=1, le=1000)


class LostQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["pending", "recovered", "unrecovered", "not_recoverable", "all"] = "unrecovered"
    limit: int = Field(200, ge=1, le=5000)


class Reschedule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    at: datetime


class Close(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(min_length=1, max_length=2000)


class MonthQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    month: str = Field(pattern=r"^\d{4}-\d{2}$")
    include_callback_requests: bool = False


def _service(ctx: RequestContext) -> Any:
    return ctx.container.extras["callbacks"]


@routes.get("/api/v1/callbacks", roles=ANY_ROLE, query=CallbackQuery)
async def worklist(ctx: RequestContext) -> dict[str, Any]:
    """The callback worklist, next due first."""
    q: CallbackQuery = ctx.query
    states = m.OPEN_STATES if q.state == "open" else (q.state,)
    rows = await ctx.session.execute(select(m.Callback, m.LostCall).join(m.LostCall)
                                     .where(m.Callback.state.in_(states))
                                     .order_by(m.Callback.next_attempt_at).limit(q.limit))
    ctx.audit("read", "callback_list", "-", state=q.state)
    return {"items": [callback_out(cb, lost) for cb, lost in rows]}


@routes.post("/api/v1/callbacks/{callback_id:\\d+}/trigger", roles=DESK)
async def trigger(ctx: RequestContext) -> dict[str, Any]:
    """Place the callback as soon as an operator with the skill is free."""
    cb = await _service(ctx).trigger(ctx.session, int(ctx.match("callback_id")))
    return callback_out(cb)


@routes.post("/api/v1/callbacks/{callback_id:\\d+}/reschedule", roles=DESK, body=Reschedule)
async def reschedule(ctx: RequestContext) -> dict[str, Any]:
    """Move the next attempt (kept inside opening hours)."""
    if ctx.body.at.tzinfo is None:
        raise InvalidValue("give the time with its UTC offset", field="at")
    cb = await _service(ctx).reschedule(ctx.session, int(ctx.match("callback_id")), ctx.body.at)
    return callback_out(cb)


@routes.post("/api/v1/callbacks/{callback_id:\\d+}/close", roles=DESK, body=Close)
async def close(ctx: RequestContext) -> dict[str, Any]:
    """Close a callback without placing it (with the reason)."""
    cb = await _service(ctx).close(ctx.session, int(ctx.match("callback_id")), ctx.user.id, ctx.body.note)
    return callback_out(cb)


@routes.get("/api/v1/lost-calls", roles=ANY_ROLE, query=LostQuery)
async def lost_calls(ctx: RequestContext) -> dict[str, Any]:
    """Lost calls by status (default: the unrecovered ones, the worklist of failures)."""
    q: LostQuery = ctx.query
    if q.status == "unrecovered":
        await _service(ctx).expire_windows()
    stmt = select(m.LostCall).order_by(m.LostCall.lost_at.desc()).limit(q.limit)
    if q.status != "all":
        stmt = stmt.where(m.LostCall.status == q.status)
    rows = await ctx.session.scalars(stmt)
    ctx.audit("read", "lost_call_list", "-", status=q.status)
    return {"items": [lost_out(x) for x in rows]}


@routes.get("/api/v1/lost-calls/recovery", roles=("supervisor", "auditor", "admin"), query=MonthQuery)
async def recovery(ctx: RequestContext) -> dict[str, Any]:
    """T2-IQ04 for a calendar month (Europe/Paris): lost calls renewed / lost calls."""
    q: MonthQuery = ctx.query
    year, month = map(int, q.month.split("-"))
    if not 1 <= month <= 12:
        raise InvalidValue("month must be YYYY-MM", field="month")
    zone = ctx.container.settings.opening_hours.zone
    start = datetime.combine(date(year, month, 1), time(0), zone)
    end = datetime.combine(date(year + month // 12, month % 12 + 1, 1), time(0), zone)
    ratio = await recovered_calls(ctx.session, start, end, include_callback_requests=q.include_callback_requests)
    return {"indicator": "T2-IQ04", "month": q.month, "numerator": ratio.numerator,
            "denominator": ratio.denominator, "value": ratio.value, "target": 0.95,
            "met": None if ratio.value is None else ratio.value >= 0.95}
