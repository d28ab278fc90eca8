"""The public portal's pages (French) and its one JSON route.

Pages: home (``/``), the mail form (``/contact``, 24/7), the live chat (``/chat``, during
opening hours: the business calendar decides; outside them the page offers the form),
legal notices, personal data (GDPR notice), cookies, accessibility statement, site map,
the satisfaction survey (``/enquete/<token>``) and a minimal operator chat page
(``/operateur/chat``). Static files are served from this package (no CDN, no third-party
request of any kind); every page carries a strict Content-Security-Policy, so user text can
never run as script even if it were ever rendered as markup (it is not: templates escape,
scripts use ``textContent``).
"""

from __future__ import annotations

import hashlib
import logging
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from apikit import CONTAINER, RequestContext, RouteTable
from chatgw.exceptions import RateLimited, SurveyAlreadyAnswered, SurveyNotFound
from chatgw.hub import EXTRAS_KEY
from chatgw.models import RATINGS
from chatgw.ratelimit import client_address
from chatgw.schemas import clean_text
from chatgw.services import RATING_LABELS, answer_survey, survey_by_token
from chatgw.settings import ChatSettings, load_chat_settings
from mailgw.runtime import gateway_settings, wake_outbox
from ticket_core.exceptions import InvalidValue
from web_pages import forms
from web_pages.strings import AUDIENCE_HELP, ERRORS, days_text, group, hm, when

log = logging.getLogger("guichet.portal")

HERE = Path(__file__).parent
STATIC = HERE / "static"
routes = RouteTable("portal")

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
    "Cache-Control": "no-store",
}
NAV = [("/", "Accueil"), ("/contact", "Nous écrire"), ("/chat", "Discuter en direct")]
FOOTER = [("/mentions-legales", "Mentions légales"), ("/donnees-personnelles", "Données personnelles"),
          ("/cookies", "Gestion des cookies"), ("/accessibilite", "Accessibilité"), ("/plan-du-site", "Plan du site")]

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
    return f"/static/portail/{name}?v={static_version()}"


_env.globals.update(static=static_url, nav=NAV, footer=FOOTER, group=group)


@lru_cache(maxsize=1)
def _fallback_settings() -> ChatSettings:
    return load_chat_settings()


def chat_settings(app: web.Application) -> ChatSettings:
    hub = app[CONTAINER].extras.get(EXTRAS_KEY)
    return hub.settings if hub is not None else _fallback_settings()


def _limiter(app: web.Application, name: str) -> Any:
    hub = app[CONTAINER].extras.get(EXTRAS_KEY)
    return getattr(hub, name) if hub is not None else None


async def _opening(request: web.Request) -> dict[str, Any]:
    container = request.app[CONTAINER]
    now = container.clock()
    hours = container.settings.opening_hours
    async with container.session_factory() as session:
        calendar = await container.calendar(session)
    is_open = calendar.is_open(now)
    try:
        change = calendar.next_closing(now) if is_open else calendar.next_opening(now)
    except ValueError:
        change = None
    return {
        "chat_open": is_open,
        "next_change": when(change, hours.zone) if change else "",
        "hours": f"{days_text(hours.weekdays)}, de {hm(hours.opens)} à {hm(hours.closes)}, hors jours fériés",
    }


async def render(request: web.Request, template: str, *, status: int = 200, title: str,
                 extra_headers: dict[str, str] | None = None, **context: Any) -> web.Response:
    settings = chat_settings(request.app)
    base = {"s": settings, "title": title, "path": request.path, **(await _opening(request))}
    html = _env.get_template(template).render(**base, **context)
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8",
                        headers={**HEADERS, **(extra_headers or {})})


# --- pages ---------------------------------------------------------------------------------------


async def home(request: web.Request) -> web.Response:
    return await render(request, "accueil.html", title="Accueil")


async def _form_context(request: web.Request) -> dict[str, Any]:
    container = request.app[CONTAINER]
    async with container.session_factory() as session:
        audiences, applications = await forms.choices(session)
    return {
        "audiences": [(a.code, *AUDIENCE_HELP.get(a.code, (a.label, ""))) for a in audiences],
        "applications": [(a.code, a.label) for a in applications],
    }


async def contact_get(request: web.Request) -> web.Response:
    return await render(request, "contact.html", title="Nous écrire", values={}, errors={},
                        honeypot=forms.HONEYPOT, **(await _form_context(request)))


async def contact_post(request: web.Request) -> web.Response:
    container = request.app[CONTAINER]
    settings = chat_settings(request.app)
    context = await _form_context(request)
    limiter = _limiter(request.app, "form_limiter")
    address = client_address(request, settings.trust_forwarded_for)

    async def again(status: int, errors: dict[str, str], values: dict[str, str] | None = None) -> web.Response:
        return await render(request, "contact.html", status=status, title="Nous écrire (erreur)", values=values or {},
                            errors=errors, honeypot=forms.HONEYPOT, **context)

    if (request.content_length or 0) > settings.form_max_bytes:
        return await again(413, {"_form": ERRORS["too_large"]})
    body = await request.read()
    if len(body) > settings.form_max_bytes:
        return await again(413, {"_form": ERRORS["too_large"]})
    data = await request.post()
    result = forms.check(dict(data), settings, {c for c, *_ in context["audiences"]},
                         {c for c, _ in context["applications"]})
    if result.honeypot:
        log.info("portal form: honeypot filled, refused")
        return await again(400, {"_form": ERRORS["honeypot"]}, result.values)
    if result.errors:
        return await again(422, result.errors, result.values)
    if limiter is not None and not limiter.hit(address):
        minutes = max(1, round(limiter.retry_after(address) / 60))
        return await again(429, {"_form": ERRORS["rate_limited"].format(minutes=minutes)}, result.values)
    async with container.session_factory() as session:
        tickets = await container.tickets(session)
        ticket = await forms.submit(session, tickets, result.values, raw=forms.raw_body(body),
                                    site=container.settings.site, now=container.clock(),
                                    mail=gateway_settings(container), opening=container.settings.opening_time,
                                    closing=container.settings.closing_time)
        await session.commit()  # durable before the reference is shown
    wake_outbox(container)
    raise web.HTTPSeeOther(f"/contact/envoye/{ticket.reference}")


async def contact_sent(request: web.Request) -> web.Response:
    return await render(request, "contact_envoye.html", title="Demande envoyée",
                        reference=request.match_info["reference"])


async def chat_page(request: web.Request) -> web.Response:
    return await render(request, "chat.html", title="Discuter avec un conseiller",
                        max_chars=chat_settings(request.app).max_message_chars, **(await _form_context(request)))


async def legal(request: web.Request) -> web.Response:
    return await render(request, "mentions_legales.html", title="Mentions légales")


async def privacy(request: web.Request) -> web.Response:
    return await render(request, "donnees_personnelles.html", title="Données personnelles")


async def cookies(request: web.Request) -> web.Response:
    return await render(request, "cookies.html", title="Gestion des cookies")


async def accessibility(request: web.Request) -> web.Response:
    return await render(request, "accessibilite.html", title="Déclaration d'accessibilité")


async def sitemap(request: web.Request) -> web.Response:
    return await render(request, "plan_du_site.html", title="Plan du site")


SURVEY_HEADERS = {"Referrer-Policy": "no-referrer"}  # the link's token must not leak


async def _survey_view(request: web.Request) -> Any:
    container = request.app[CONTAINER]
    async with container.session_factory() as session:
        try:
            return await survey_by_token(session, request.match_info["token"])
        except SurveyNotFound:
            return None


async def survey_get(request: web.Request) -> web.Response:
    view = await _survey_view(request)
    if view is None:
        return await render(request, "enquete_introuvable.html", status=404, title="Lien d'enquête invalide",
                            extra_headers=SURVEY_HEADERS)
    return await render(request, "enquete.html", title="Votre avis", reference=view.ticket.reference,
                        answered=view.answer is not None, ratings=[(r, RATING_LABELS[r]) for r in RATINGS],
                        values={}, errors={}, extra_headers=SURVEY_HEADERS)


async def survey_post(request: web.Request) -> web.Response:
    container = request.app[CONTAINER]
    settings = chat_settings(request.app)
    view = await _survey_view(request)
    if view is None:
        return await render(request, "enquete_introuvable.html", status=404, title="Lien d'enquête invalide",
                            extra_headers=SURVEY_HEADERS)
    data = await request.post()
    rating = str(data.get("note", ""))
    comment = clean_text(str(data.get("commentaire", ""))).strip()
    errors = {}
    if rating not in RATINGS:
        errors["note"] = ERRORS["rating_required"]
    if len(comment) > 2000:
        errors["commentaire"] = ERRORS["comment_too_long"].format(limit=group(2000))
    limiter = _limiter(request.app, "survey_limiter")
    if not errors and limiter is not None and not limiter.hit(client_address(request, settings.trust_forwarded_for)):
        errors["_form"] = ERRORS["rate_limited"].format(minutes=max(1, round(settings.ip_window / 60)))
    if errors:
        return await render(request, "enquete.html", status=422, title="Votre avis (erreur)",
                            reference=view.ticket.reference, answered=False,
                            ratings=[(r, RATING_LABELS[r]) for r in RATINGS],
                            values={"note": rating, "commentaire": comment}, errors=errors,
                            extra_headers=SURVEY_HEADERS)
    async with container.session_factory() as session:
        try:
            await answer_survey(session, request.match_info["token"], rating=rating, comment=comment,
                                now=container.clock(), site=container.settings.site)
            await session.commit()
        except SurveyAlreadyAnswered:
            pass
    return await render(request, "enquete_merci.html", title="Merci pour votre avis", reference=view.ticket.reference,
                        extra_headers=SURVEY_HEADERS)


async def operator_page(request: web.Request) -> web.Response:
    return await render(request, "operateur_chat.html", title="Chat : espace conseiller",
                        max_chars=chat_settings(request.app).max_message_chars,
                        extra_headers={"X-Robots-Tag": "noindex"})


# --- the same form as JSON (other front-ends, tests) ----------------------------------------------


class PortalMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    audience: str = Field(max_length=40)
    nom: str = Field(max_length=1000)
    courriel: str = Field(max_length=1000)
    application: str = Field("", max_length=60)
    objet: str = Field(max_length=1000)
    message: str = Field(max_length=100_000)
    champ_controle: str = Field("", max_length=1000)


@routes.post("/api/v1/portal/messages", roles=None, body=PortalMessage, status=201)
async def post_message(ctx: RequestContext) -> dict[str, Any]:
    """Send a request through the portal's mail form (24/7): returns the ticket reference."""
    settings = chat_settings(ctx.request.app)
    async with ctx.container.session_factory() as s:
        audiences, applications = await forms.choices(s)
    result = forms.check(ctx.body.model_dump(), settings, {a.code for a in audiences},
                         {a.code for a in applications})
    if result.honeypot:
        raise InvalidValue(ERRORS["honeypot"], field=forms.HONEYPOT)
    if result.errors:
        name, message = next(iter(result.errors.items()))
        raise InvalidValue(message, field=name, errors=result.errors)
    limiter = _limiter(ctx.request.app, "form_limiter")
    if limiter is not None and not limiter.hit(client_address(ctx.request, settings.trust_forwarded_for)):
        raise RateLimited("too many requests from this address: try again later")
    tickets = await ctx.container.tickets(ctx.session)
    ticket = await forms.submit(ctx.session, tickets, result.values, raw=ctx.body.model_dump_json(),
                                site=ctx.container.settings.site, now=ctx.container.clock(),
                                mail=gateway_settings(ctx.container), opening=ctx.container.settings.opening_time,
                                closing=ctx.container.settings.closing_time)
    await ctx.session.commit()  # durable before the outbox is woken and the reference given
    wake_outbox(ctx.container)
    return {"reference": ticket.reference}


def setup(app: web.Application) -> None:
    add = app.router.add_get
    add("/", home)
    add("/contact", contact_get)
    app.router.add_post("/contact", contact_post)
    add(r"/contact/envoye/{reference:[A-Z]{2,5}-\d{4}-\d{6}}", contact_sent)
    add("/chat", chat_page)
    add("/mentions-legales", legal)
    add("/donnees-personnelles", privacy)
    add("/cookies", cookies)
    add("/accessibilite", accessibility)
    add("/plan-du-site", sitemap)
    add(r"/enquete/{token:[A-Za-z0-9_-]{10,100}}", survey_get)
    app.router.add_post(r"/enquete/{token:[A-Za-z0-9_-]{10,100}}", survey_post)
    add("/operateur/chat", operator_page)
    app.router.add_static("/static/portail/", STATIC)
