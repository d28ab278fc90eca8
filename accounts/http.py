"""Thin HTTP resources of accounts: login, logout, me, users."""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from accounts import services
from accounts.models import User
from apikit import ANY_ROLE, RequestContext, RouteTable
from apikit.routes import SESSION_COOKIE, token_of, dumps

routes = RouteTable("accounts")


class Login(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=120)
    password: str = Field(min_length=1, max_length=1000)


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=120)
    password: str = Field(min_length=10, max_length=1000)
    role: Literal["operator", "supervisor", "auditor", "admin"]
    display_name: str = Field("", max_length=200)
    email: str | None = Field(None, max_length=320)
    sip_endpoint: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]{1,80}$")
    sip_secret: str | None = Field(None, min_length=8, max_length=120)


def user_out(u: User) -> dict[str, Any]:
    return {"id": u.id, "username": u.username, "display_name": u.display_name, "role": u.role,
            "email": u.email, "active": u.active, "sip_endpoint": u.sip_endpoint}


@routes.post("/api/v1/auth/login", roles=None, body=Login)
async def login(ctx: RequestContext) -> web.Response:
    """Log in: returns a bearer token and sets the session cookie."""
    user = await services.authenticate(ctx.session, ctx.body.username, ctx.body.password)
    hours = ctx.container.settings.session_hours
    token = await services.open_session(ctx.session, user, hours)
    response = web.json_response({"token": token, "user": user_out(user)}, dumps=dumps)
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="Strict",
                        max_age=int(hours * 3600), secure=ctx.request.secure)
    return response


@routes.post("/api/v1/auth/logout", roles=ANY_ROLE)
async def logout(ctx: RequestContext) -> web.Response:
    """Log out: the token stops working at once."""
    token = token_of(ctx.request)
    if token:
        await services.close_session(ctx.session, token)
    response = web.json_response({"logged_out": True})
    response.del_cookie(SESSION_COOKIE)
    return response


@routes.get("/api/v1/me", roles=ANY_ROLE)
async def me(ctx: RequestContext) -> dict[str, Any]:
    """The logged-in user."""
    return user_out(ctx.user)


@routes.get("/api/v1/users", roles=("supervisor", "admin"))
async def list_users(ctx: RequestContext) -> dict[str, Any]:
    """All accounts."""
    return {"items": [user_out(u) for u in await ctx.session.scalars(select(User).order_by(User.username))]}


@routes.post("/api/v1/users", roles=("admin",), body=UserCreate, status=201)
async def create_user(ctx: RequestContext) -> dict[str, Any]:
    """Create an individual account."""
    user = await services.create_user(ctx.session, **ctx.body.model_dump(), sip_realm=ctx.container.settings.sip_realm)
    ctx.audit("create", "user", user.id)
    await ctx.session.commit()
    hook = ctx.container.extras.get("operators_changed")
    if hook is not None and user.sip_endpoint:
        await hook()  # Asterisk learns the new softphone account
    out = user_out(user)
    if user.sip_endpoint:
        out["sip_secret"] = user.new_sip_secret  # shown once, to configure the softphone (only its hash is kept)
    return out
