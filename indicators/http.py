"""The indicators' API (JSON) and the read-only pages for the public body's auditors:
the dashboard (the month's indicators, 13-month trends as inline SVG, volumes, package),
one page per indicator, and the definitions page. Auditors, supervisors and admins read;
operators do not.

Pages are served by ``setup(app)`` (aiohttp routes), authenticated by the session cookie of
``POST /api/v1/auth/login`` or the small login form at ``/indicateurs/connexion``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from aiohttp import web

from accounts import services as accounts
from accounts.exceptions import InvalidCredentials
from apikit import CONTAINER, RequestContext, RouteTable
from apikit.routes import SESSION_COOKIE, token_of
from indicators import charts
from indicators.catalogue import BY_ID, INDICATORS, INCENTIVE_LEVELS, fmt_percent
from indicators.definitions import glossary, settings_table, wording
from indicators.exceptions import IndicatorError, UnknownIndicator
from indicators.periods import day_label, month_label, parse_month
from indicators.schemas import DailyQuery, DashboardQuery
from indicators.services import STATUS_FR, DAILY_INDICATORS, Dashboard, IndicatorService, daily_window
from indicators.templates import environment

routes = RouteTable("indicators")

READERS = ("auditor", "supervisor", "admin")
ROLE_FR = {"auditor": "auditeur", "supervisor": "superviseur", "admin": "administrateur", "operator": "opérateur"}


def service(container: Any) -> IndicatorService:
    return IndicatorService.from_container(container)


def _month(value: str | None, svc: IndicatorService) -> tuple[int, int]:
    if not value:
        return svc.default_end()
    try:
        return parse_month(value)
    except ValueError as exc:
        raise IndicatorError(str(exc), "end") from None


# --- JSON API -----------------------------------------------------------------------------


@routes.get("/api/v1/indicators", roles=READERS, query=DashboardQuery)
async def dashboard(ctx: RequestContext) -> dict[str, Any]:
    """Every indicator of SPEC §6 on the rolling months (numerator, denominator, value, target,
    status, same month last year, incentive run), operational figures, ticket package."""
    svc = service(ctx.container)
    dash = await svc.dashboard(_month(ctx.query.end, svc), ctx.query.months)
    return dash.to_json()


@routes.get("/api/v1/indicators/definitions", roles=READERS)
async def definitions(ctx: RequestContext) -> dict[str, Any]:
    """The definitions in force: terms, each indicator's numerator and denominator in words,
    targets, settings."""
    svc = service(ctx.container)
    s, c = svc.settings, svc.clocks
    out = []
    for ind in INDICATORS:
        w = wording(ind.id, s, c)
        out.append({"id": ind.id, "name": ind.name, "family": ind.family, "target": ind.target_label,
                    "penalised": ind.penalised, "tender": ind.tender, "not_recorded": ind.not_recorded,
                    "numerator": w.numerator if w else None, "denominator": w.denominator if w else None,
                    "rules": list(w.rules) if w else [], "source": w.source if w else None})
    return {"terms": [{"key": t.key, "name": t.name, "text": t.text} for t in glossary(s, c)],
            "indicators": out, "settings": s.model_dump(),
            "settings_table": [{"variable": a, "value": b, "meaning": m} for a, b, m in settings_table(s, c)],
            "incentive": INCENTIVE_LEVELS}


@routes.get("/api/v1/indicators/daily", roles=READERS, query=DailyQuery)
async def daily(ctx: RequestContext) -> dict[str, Any]:
    """The point prod's indicators: from the previous business day through yesterday, and the
    month to date."""
    svc = service(ctx.container)
    today = date.fromisoformat(ctx.query.day) if ctx.query.day else ctx.container.clock().astimezone(svc.zone).date()
    calendar = await svc.calendar()
    first, last = daily_window(calendar, today)
    from indicators.periods import local_midnight

    start, end = local_midnight(first, svc.zone), local_midnight(today, svc.zone)
    points, _ = await svc.period_points(start, end, f"{first.isoformat()}/{last.isoformat()}")
    mtd, _ = await svc.period_points(local_midnight(date(last.year, last.month, 1), svc.zone), end, "mois")
    return {"day": today.isoformat(), "from": first.isoformat(), "to": last.isoformat(),
            "indicators": {i: points[i].to_json() for i in DAILY_INDICATORS},
            "month_to_date": {i: mtd[i].to_json() for i in DAILY_INDICATORS}}


@routes.get("/api/v1/indicators/{indicator_id}", roles=READERS, query=DashboardQuery)
async def one_indicator(ctx: RequestContext) -> dict[str, Any]:
    """One indicator on the rolling months."""
    iid = ctx.match("indicator_id")
    if iid not in BY_ID:
        raise UnknownIndicator(f"no indicator {iid}", "indicator_id")
    svc = service(ctx.container)
    dash = await svc.dashboard(_month(ctx.query.end, svc), ctx.query.months)
    return next(i for i in dash.to_json()["indicators"] if i["id"] == iid)


# --- pages ----------------------------------------------------------------------------------

ENV = environment()

Page = Callable[[web.Request, Any], Awaitable[web.StreamResponse]]


async def page_user(request: web.Request) -> Any:
    token = token_of(request)
    if not token:
        return None
    container = request.app[CONTAINER]
    async with container.session_factory() as session:
        return await accounts.user_for_token(session, token)


def html(template: str, status: int = 200, **values: Any) -> web.Response:
    return web.Response(text=ENV.get_template(template).render(**values), status=status,
                        content_type="text/html", charset="utf-8",
                        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
                                 "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                                                            "img-src 'self' data:; form-action 'self'; "
                                                            "frame-ancestors 'none'"})


def guarded(handler: Page, roles: tuple[str, ...] = READERS) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            user = await page_user(request)
        except Exception:  # noqa: BLE001 - an expired or unknown token: log in again
            user = None
        if user is None:
            raise web.HTTPFound(f"/indicateurs/connexion?next={request.path_qs}")
        if user.role not in roles:
            return html("error.html", 403, title="Accès refusé", user=user, role_fr=ROLE_FR.get(user.role, user.role),
                        message="Ces pages sont réservées aux auditeurs, aux superviseurs et aux administrateurs.")
        try:
            return await handler(request, user)
        except IndicatorError as exc:
            return html("error.html", 400, title="Requête invalide", user=user, role_fr=ROLE_FR.get(user.role),
                        message=exc.message)
    return wrapped


def _v(p: Any) -> str:
    return fmt_percent(p.value) if p is not None and p.has_value else "–"


def _n(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float) and not v.is_integer():
        return f"{v:,.1f}".replace(",", "\u202f").replace(".", ",")
    return f"{int(v):,}".replace(",", "\u202f")


def _ratio(p: Any) -> str:
    if p is None or p.numerator is None or p.denominator is None:
        return "–"
    return f"{_n(p.numerator)} / {_n(p.denominator)}"


def _trend_svg(dash: Dashboard, iid: str, size: tuple[float, float] = (5.2, 2.7)) -> str:
    ind = BY_ID[iid]
    keys = dash.shown
    vals = [dash.point(iid, k).value if dash.point(iid, k) else None for k in keys]
    prev = [dash.year_before(iid, k).value if dash.year_before(iid, k) else None for k in keys]
    svg = charts.trend(keys, vals, prev, target=ind.target.as_float if ind.target else None,
                       higher_is_better=(ind.target.op != "<=") if ind.target else True, fmt="svg", size=size)
    return charts.svg_inline(svg)


async def dashboard_page(request: web.Request, user: Any) -> web.Response:
    svc = service(request.app[CONTAINER])
    end = _month(request.query.get("fin"), svc)
    dash = await svc.dashboard(end)
    key = dash.end
    rows, nodata, cards = [], [], []
    for ind in INDICATORS:
        p = dash.latest(ind.id)
        if ind.not_recorded:
            nodata.append({"id": ind.id, "name": ind.name, "reason": ind.not_recorded})
            continue
        prev = dash.year_before(ind.id, key)
        rows.append({"id": ind.id, "name": ind.name, "ratio": _ratio(p), "value": _v(p), "target": ind.target_label,
                     "status": p.status, "status_fr": STATUS_FR[p.status], "prev": _v(prev),
                     "run": p.run if ind.penalised and p.has_value else "–",
                     "reason": p.reason if not p.has_value else ""})
        if any(dash.point(ind.id, k) and dash.point(ind.id, k).has_value for k in dash.shown):
            cards.append({"id": ind.id, "name": ind.name, "value": _v(p), "status": p.status,
                          "target": ind.target_label, "svg": _trend_svg(dash, ind.id)})
    op = dash.operational[key]
    pk = dash.package.get(key)
    figures = [("sollicitations en " + month_label(key), _n(op.tickets)),
               ("appels reçus / décrochés", f"{_n(op.calls_received)} / {_n(op.calls_answered)}"),
               ("mails reçus", _n(op.mails)), ("conversations de chat", _n(op.chats)),
               ("tickets escaladés au N2", _n(op.escalated))]
    if op.occupancy is not None:
        figures.append(("taux d'occupation des opérateurs", fmt_percent(op.occupancy)))
    if pk:
        figures.append((f"forfait consommé depuis {month_label(pk.year_start)}", f"{_n(pk.consumed)} / {_n(pk.package)}"))
        figures.append((f"extensions de {_n(dash.settings.extension_tickets)} tickets "
                        "nécessaires à ce jour", _n(pk.extensions_needed)))
        # What the public body must plan for: the year's pace, not only what is already over.
        figures.append((f"tickets projetés sur l'année au rythme actuel, soit {_n(pk.projected_extensions)} "
                        f"extension(s)", _n(pk.projected_year)))
    volumes = []
    for k in reversed(dash.shown):
        o, pkk = dash.operational[k], dash.package.get(k)
        volumes.append({"month": month_label(k, short=True), "phone": _n(o.by_channel.get("phone", 0)),
                        "mail": _n(o.by_channel.get("mail", 0)), "chat": _n(o.by_channel.get("chat", 0)),
                        "total": _n(o.tickets), "received": _n(o.calls_received), "answered": _n(o.calls_answered),
                        "talk": f"{int(o.mean_talk_seconds // 60)} min {int(o.mean_talk_seconds % 60):02d} s"
                        if o.mean_talk_seconds else "–",
                        "occupancy": fmt_percent(o.occupancy) if o.occupancy is not None else "–",
                        "package": f"{_n(pkk.consumed)} ({fmt_percent(pkk.consumption, 0)})" if pkk else "–",
                        "extensions": _n(pkk.extensions_needed) if pkk else "–"})
    vol_svg = charts.svg_inline(charts.stacked_volumes(
        dash.shown, {c: [dash.operational[k].by_channel.get(c, 0) for k in dash.shown] for c in ("phone", "mail", "chat")},
        title="Sollicitations par canal", fmt="svg", size=(9, 3)))
    local = dash.generated_at.astimezone(svc.zone)
    return html("dashboard.html", title="Tableau de bord", nav="dashboard", user=user,
                role_fr=ROLE_FR.get(user.role, user.role), month_label=month_label(key), end=key,
                prev_label=month_label(f"{int(key[:4]) - 1}{key[4:]}", short=True),
                generated=f"{day_label(local.date())} à {local:%H:%M}", rows=rows, nodata=nodata, cards=cards,
                figures=figures, volumes=volumes, volumes_svg=vol_svg, alerts=dash.incentive())


async def indicator_page(request: web.Request, user: Any) -> web.Response:
    iid = request.match_info["indicator_id"]
    ind = BY_ID.get(iid)
    if ind is None:
        return html("error.html", 404, title="Indicateur inconnu", user=user, role_fr=ROLE_FR.get(user.role),
                    message=f"Aucun indicateur {iid}.")
    svc = service(request.app[CONTAINER])
    dash = await svc.dashboard(_month(request.query.get("fin"), svc))
    rows = []
    for k in reversed(dash.shown):
        p = dash.point(iid, k)
        prev = dash.year_before(iid, k)
        note = p.reason or ""
        if p.details.get("pending"):
            note = (note + f" {p.details['pending']} en attente (échéance non passée).").strip()
        if p.details.get("short_abandons"):
            note = (note + f" {p.details['short_abandons']} abandons courts exclus.").strip()
        rows.append({"month": month_label(k), "num": _n(p.numerator), "den": _n(p.denominator), "value": _v(p),
                     "status": p.status, "status_fr": STATUS_FR[p.status], "prev": _v(prev),
                     "run": p.run if ind.penalised and p.has_value else "–", "note": note})
    svg = _trend_svg(dash, iid, size=(9, 3.4)) if not ind.not_recorded else ""
    return html("indicator.html", title=f"{iid} {ind.name}", nav="dashboard", user=user,
                role_fr=ROLE_FR.get(user.role, user.role), ind=ind, end=dash.end, rows=rows, svg=svg,
                wording=wording(iid, svc.settings, svc.clocks))


async def definitions_page(request: web.Request, user: Any) -> web.Response:
    svc = service(request.app[CONTAINER])
    s, c = svc.settings, svc.clocks
    rows = []
    for ind in INDICATORS:
        w = wording(ind.id, s, c)
        rows.append({"id": ind.id, "name": ind.name, "numerator": w.numerator if w else ind.tender,
                     "denominator": w.denominator if w else "", "rules": list(w.rules) if w else [],
                     "reason": "" if w else ind.not_recorded, "target": ind.target_label,
                     "penalised": "oui" if ind.penalised else "non"})
    return html("definitions.html", title="Définitions des indicateurs", nav="definitions", user=user,
                role_fr=ROLE_FR.get(user.role, user.role), terms=glossary(s, c), rows=rows,
                settings=settings_table(s, c), incentive=sorted(INCENTIVE_LEVELS.items()))


async def login_form(request: web.Request) -> web.Response:
    nxt = request.query.get("next", "/indicateurs")
    return html("login.html", title="Connexion", user=None, next=nxt if nxt.startswith("/") else "/indicateurs",
                error=None)


async def login_submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    username, password = str(form.get("username", "")), str(form.get("password", ""))
    nxt = str(form.get("next", "/indicateurs"))
    if not nxt.startswith("/") or nxt.startswith("//"):
        nxt = "/indicateurs"
    container = request.app[CONTAINER]
    async with container.session_factory() as session:
        try:
            user = await accounts.authenticate(session, username, password)
        except InvalidCredentials:
            return html("login.html", 401, title="Connexion", user=None, next=nxt,
                        error="Identifiant ou mot de passe incorrect.")
        hours = container.settings.session_hours
        token = await accounts.open_session(session, user, hours)
        await session.commit()
    response = web.HTTPSeeOther(nxt)
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="Strict", max_age=int(hours * 3600),
                        secure=request.secure, path="/")
    raise response


def setup(app: web.Application) -> None:
    app.router.add_get("/indicateurs", guarded(dashboard_page))
    app.router.add_get("/indicateurs/definitions", guarded(definitions_page))
    app.router.add_get("/indicateurs/connexion", login_form)
    app.router.add_post("/indicateurs/connexion", login_submit)
    app.router.add_get("/indicateurs/{indicator_id:T\\d-IQ\\d\\d}", guarded(indicator_page))
