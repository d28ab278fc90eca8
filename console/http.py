"""The console's HTTP surface.

JSON routes (``routes``, in the OpenAPI document, each with its roles):

| route | operator | supervisor | auditor | admin |
| --- | --- | --- | --- | --- |
| ``GET /api/v1/console/wallboard`` | | ✓ | ✓ | ✓ |
| ``GET /api/v1/console/operators/{id}/work`` | own | ✓ | ✓ | ✓ |
| ``GET /api/v1/console/calls/{call_id}`` (number, requester, previous tickets) | own calls | ✓ | ✓ | ✓ |
| ``GET /api/v1/console/tickets/{reference}`` (the ticket form's context) | ✓ | ✓ | ✓ | ✓ |
| ``GET /api/v1/console/mail-queue`` | ✓ | ✓ | ✓ | ✓ |
| ``POST /api/v1/console/tickets/{reference}/take`` (assign to me + take) | ✓ | ✓ | | ✓ |

The rest goes through the owners' routes: operator state (``acd``), qualification and
workflow actions (``tickets``), the callback worklist (``callbacks``). Reads of personal
data are traced in the audit log.

``setup(app)`` adds the pages (French): ``/console/connexion``, ``/console`` (an
operator's console; others add ``?operateur=ID``, auditors read only) and
``/console/supervision`` (the wallboard: supervisors, auditors, admins); the static files
under ``/static/console/``; the live stream ``/api/v1/console/live`` (``console.live``);
and the hub's start and stop with the application.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from aiohttp import web

from accounts import services as accounts
from accounts.exceptions import AuthenticationRequired, Forbidden
from accounts.models import User
from apikit import ANY_ROLE, CONTAINER, RequestContext, RouteTable
from apikit.routes import token_of
from console import strings, work
from console.live import EXTRAS_KEY, SUPERVISION_ROLES, hub_of, live_stream, start_hub
from telephony import models as calls
from ticket_core.exceptions import NotFound

HERE = Path(__file__).parent
STATIC = HERE / "static"
DESK = ("operator", "supervisor", "admin")

routes = RouteTable("console")

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


# --- JSON -----------------------------------------------------------------------------------


@routes.get("/api/v1/console/wallboard", roles=SUPERVISION_ROLES)
async def wallboard(ctx: RequestContext) -> dict[str, Any]:
    """Today's figures per queue and per operator, the half-hour chart and the alerts."""
    return await hub_of(ctx.container).current_wallboard()


def _own_or_viewer(ctx: RequestContext, operator_id: int) -> None:
    if ctx.user.role == "operator" and ctx.user.id != operator_id:
        raise Forbidden("operators see their own work only")


@routes.get("/api/v1/console/operators/{operator_id:\\d+}/work", roles=ANY_ROLE)
async def operator_work(ctx: RequestContext) -> dict[str, Any]:
    """An operator's live state, current call, chats held and open tickets."""
    operator_id = int(ctx.match("operator_id"))
    _own_or_viewer(ctx, operator_id)
    user = await ctx.session.get(User, operator_id)
    if user is None or user.role != "operator":
        raise NotFound("no such operator", field="operator_id")
    hub = hub_of(ctx.container)
    ctx.audit("read", "operator_work", operator_id)
    return {
        "operator": {"id": user.id, "name": user.display_name or user.username},
        "state": hub.operator_state(str(operator_id)),
        "chats": await work.operator_chats(ctx.session, operator_id),
        "open_tickets": await work.open_tickets(ctx.session, operator_id),
    }


@routes.get("/api/v1/console/calls/{call_id:[A-Za-z0-9._-]+}", roles=ANY_ROLE)
async def call_context(ctx: RequestContext) -> dict[str, Any]:
    """A call with the caller's number, the audience chosen in the IVR, its ticket, the
    requester and their previous tickets (operators: their own calls)."""
    call = await ctx.session.get(calls.Call, ctx.match("call_id"))
    if call is None:
        raise NotFound("no such call", field="call_id")
    if ctx.user.role == "operator" and call.operator_id != ctx.user.id:
        raise Forbidden("operators see their own calls only")
    ctx.audit("read", "call", call.id)
    return await work.call_context(ctx.session, call)


@routes.get("/api/v1/console/tickets/{reference}", roles=ANY_ROLE)
async def ticket_context(ctx: RequestContext) -> dict[str, Any]:
    """The ticket form's context: the ticket with its labels, the requester, previous tickets."""
    tickets = await ctx.container.tickets(ctx.session)
    ticket = await tickets.get_by_reference(ctx.match("reference"))
    ctx.audit("read", "ticket", ticket.reference)
    return await work.ticket_context(ctx.session, ticket)


@routes.get("/api/v1/console/mail-queue", roles=ANY_ROLE)
async def mail_queue(ctx: RequestContext) -> dict[str, Any]:
    """Mails not taken in charge, most urgent first, with the business time left to their
    1-business-hour target."""
    calendar = await ctx.container.calendar(ctx.session)
    out = await work.mail_queue(ctx.session, calendar, ctx.container.clock())
    ctx.audit("read", "mail_queue", "-", count=len(out["items"]))
    return out


@routes.post("/api/v1/console/tickets/{reference}/take", roles=DESK)
async def take(ctx: RequestContext) -> dict[str, Any]:
    """Assign the ticket to me and take it in charge (a mail's 1-hour clock stops)."""
    tickets = await ctx.container.tickets(ctx.session)
    ticket = await tickets.get_by_reference(ctx.match("reference"))
    ticket = await work.take_in_charge(tickets, ticket, ctx.actor)
    ctx.audit("update", "ticket", ticket.reference, workflow_action="take")
    out = await work.ticket_context(ctx.session, ticket)
    await ctx.session.commit()
    hub = ctx.container.extras.get(EXTRAS_KEY)
    if hub is not None:
        hub.work_changed()
    return out


# --- pages ----------------------------------------------------------------------------------

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@lru_cache(maxsize=1)
def static_version() -> str:
    digest = hashlib.sha256()
    for path in sorted(STATIC.rglob("*")):
        if path.is_file():
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


def static_url(name: str) -> str:
    return f"/static/console/{name}?v={static_version()}"


_env.globals.update(static=static_url, states=strings.STATES)


def render(template: str, *, status: int = 200, **context: Any) -> web.Response:
    html = _env.get_template(template).render(texts=json.dumps(strings.SCRIPT_TEXTS, ensure_ascii=False), **context)
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8", headers=HEADERS)


async def _page_user(request: web.Request) -> User | None:
    token = token_of(request)
    if not token:
        return None
    container = request.app[CONTAINER]
    try:
        async with container.session_factory() as session:
            return await accounts.user_for_token(session, token)
    except AuthenticationRequired:
        return None


def _to_login(request: web.Request) -> web.Response:
    raise web.HTTPSeeOther(f"/console/connexion?suite={quote(request.path_qs, safe='')}")


def _forbidden(user: User, message: str) -> web.Response:
    return render("refus.html", status=403, title="Accès refusé", user=user, message=message)


async def login_page(request: web.Request) -> web.Response:
    suite = request.query.get("suite", "")
    if not suite.startswith("/console") or suite.startswith("//"):
        suite = ""
    return render("connexion.html", title="Connexion", user=None, suite=suite)


async def console_page(request: web.Request) -> web.Response:
    user = await _page_user(request)
    if user is None:
        return _to_login(request)
    wanted = request.query.get("operateur", "")
    if user.role == "operator":
        if wanted and wanted != str(user.id):
            return _forbidden(user, "Chaque conseiller ne voit que sa propre console.")
        operator = user
    else:
        if not wanted.isdigit():
            raise web.HTTPSeeOther("/console/supervision")
        container = request.app[CONTAINER]
        async with container.session_factory() as session:
            operator = await session.get(User, int(wanted))
        if operator is None or operator.role != "operator":
            return _forbidden(user, "Ce conseiller n'existe pas.")
    hub = request.app[CONTAINER].extras.get(EXTRAS_KEY)
    settings = hub.settings if hub else None
    return render("console.html", title="Console", user=user, operator=operator,
                  own=operator.id == user.id, can_act=user.role in DESK and (operator.id == user.id or user.role != "operator"),
                  pause_choices=settings.pause_choices if settings else [])


async def supervision_page(request: web.Request) -> web.Response:
    user = await _page_user(request)
    if user is None:
        return _to_login(request)
    if user.role not in SUPERVISION_ROLES:
        return _forbidden(user, "Le tableau de supervision est réservé aux superviseurs et aux auditeurs.")
    return render("supervision.html", title="Supervision", user=user)


async def _start(app: web.Application) -> None:
    app[_STOP]["stop"] = await start_hub(app[CONTAINER])


async def _shutdown(app: web.Application) -> None:
    hub = app[CONTAINER].extras.get(EXTRAS_KEY)
    if hub is not None:
        hub.close_streams()  # open streams would hold the shutdown


async def _cleanup(app: web.Application) -> None:
    stop = app[_STOP].pop("stop", None)
    if stop is not None:
        await stop()


_STOP: web.AppKey[dict[str, Any]] = web.AppKey("console_stop", dict)


def setup(app: web.Application) -> None:
    app[_STOP] = {}
    app.router.add_get("/console/connexion", login_page)
    app.router.add_get("/console", console_page)
    app.router.add_get("/console/supervision", supervision_page)
    app.router.add_get("/api/v1/console/live", live_stream)
    app.router.add_static("/static/console/", STATIC)
    app.on_startup.append(_start)
    app.on_shutdown.append(_shutdown)
    app.on_cleanup.append(_cleanup)


__all__ = ["routes", "setup"]
