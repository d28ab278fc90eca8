"""The reports' API and pages: list what was generated (with each step of a running
generation), download files, generate a monthly report or a point prod on demand (in the
background: ``202`` then poll), write the supervisors' notes of a month's report.

Auditors, supervisors and admins read and download; supervisors and admins generate and
write notes. Every download is traced in the audit log (the exports hold ticket data).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from apikit import CONTAINER, RequestContext, RouteTable
from indicators.http import READERS, ROLE_FR, guarded, html
from indicators.periods import day_label, month_label, parse_month
from indicators.schemas import Day, Month
from indicators.templates import environment
from reports import content
from reports.models import GeneratedReport, ReportFile
from reports.services import ReportError, ReportService
from ticket_core import audit

log = logging.getLogger("guichet.reports")

routes = RouteTable("reports")
WRITERS = ("supervisor", "admin")
TASKS: web.AppKey[set] = web.AppKey("report_tasks", set)


class MonthlyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    month: Month | None = Field(None, description="YYYY-MM; default: the last complete month")


class DailyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    day: Day | None = Field(None, description="YYYY-MM-DD; default: today")


class ListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str | None = Field(None, pattern=r"^(monthly|daily)$")
    limit: int = Field(50, ge=1, le=500)


class NoteBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    section: str = Field(pattern=r"^(faits_marquants|dysfonctionnements|actions_correctives|avancement)$")
    text: str = Field(max_length=20000)


def service(container: Any) -> ReportService:
    return ReportService.from_container(container)


async def _out(svc: ReportService, r: GeneratedReport) -> dict[str, Any]:
    files = await svc.files_of(r.id)
    return {"id": r.id, "kind": r.kind, "period": r.period, "trigger": r.trigger, "requested_by": r.requested_by,
            "status": r.status, "started_at": r.started_at, "finished_at": r.finished_at, "steps": r.steps,
            "summary": r.summary, "error": r.error, "validated_at": r.validated_at, "validated_by": r.validated_by,
            "files": [{"name": name, "media_type": media, "size": size, "sha256": sha,
                       "url": f"/api/v1/reports/{r.id}/files/{name}"} for _id, name, media, size, sha in files]}


def _background(ctx: RequestContext, coro: Any) -> None:
    tasks: set = ctx.container.extras.setdefault("report_tasks", set())
    task = asyncio.get_running_loop().create_task(coro)
    tasks.add(task)

    def done(t: asyncio.Task) -> None:
        tasks.discard(t)
        if not t.cancelled() and t.exception() is not None:
            log.error("report generation failed: %s", t.exception())

    task.add_done_callback(done)


@routes.get("/api/v1/reports", roles=READERS, query=ListQuery)
async def list_reports(ctx: RequestContext) -> dict[str, Any]:
    """Generated reports, newest first, with their files and steps."""
    svc = service(ctx.container)
    return {"items": [await _out(svc, r) for r in await svc.list(ctx.query.kind, ctx.query.limit)]}


@routes.get("/api/v1/reports/{report_id:\\d+}", roles=READERS)
async def get_report(ctx: RequestContext) -> dict[str, Any]:
    """One generation: status, steps done so far (progress), files."""
    svc = service(ctx.container)
    row = await ctx.session.get(GeneratedReport, _report_id(ctx.match("report_id")))
    if row is None:
        raise _not_found()
    return await _out(svc, row)


def _report_id(value: str) -> int:
    """A report id as the database can hold it (no overflow on absurd ones): 0 finds nothing."""
    return int(value) if len(value) <= 15 else 0


def _not_found() -> Exception:
    from ticket_core.exceptions import NotFound

    return NotFound("no such report or file", field="report_id")


@routes.get("/api/v1/reports/{report_id:\\d+}/files/{name}", roles=READERS)
async def download(ctx: RequestContext) -> web.Response:
    """A report's file (DOCX, PPTX, XLSX, CSV ZIP, JSON, HTML, text)."""
    row = await ctx.session.scalar(select(ReportFile).where(ReportFile.report_id == _report_id(ctx.match("report_id")),
                                                            ReportFile.name == ctx.match("name")))
    if row is None:
        raise _not_found()
    ctx.audit("export", "report_file", f"{row.report_id}/{row.name}")
    disposition = "inline" if row.name.endswith((".html", ".txt", ".json")) else "attachment"
    return web.Response(body=row.content, content_type=row.media_type.split(";")[0],
                        charset="utf-8" if "charset" in row.media_type else None,
                        headers={"Content-Disposition": f'{disposition}; filename="{row.name}"',
                                 "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"})


@routes.post("/api/v1/reports/{report_id:\\d+}/validate", roles=WRITERS)
async def validate(ctx: RequestContext) -> dict[str, Any]:
    """The steering committee validated this monthly report: its PDF edition (report and
    slides, "version validée … par …" on the cover) is made with LibreOffice and stored with
    it; answered once the PDFs are stored (a few seconds). One validated report per month."""
    svc = service(ctx.container)
    row = await svc.validate(_report_id(ctx.match("report_id")), by=ctx.user.display_name or ctx.user.username)
    ctx.audit("validate", "report", str(row.id))
    return await _out(svc, row)


@routes.post("/api/v1/reports/monthly", roles=WRITERS, body=MonthlyRequest, status=202)
async def generate_monthly(ctx: RequestContext) -> dict[str, Any]:
    """Generate a month's report in the background; poll ``GET /api/v1/reports/{id}``."""
    svc = service(ctx.container)
    month = parse_month(ctx.body.month) if ctx.body.month else svc.indicators.default_end()
    now = ctx.container.clock().astimezone(svc.zone)
    if month > (now.year, now.month):
        raise ReportError("a month not begun yet has no report", "month")
    rid = await svc.claim("monthly", f"{month[0]:04d}-{month[1]:02d}", "api", ctx.user.username, None)
    _background(ctx, svc.generate_monthly(month, trigger="api", requested_by=ctx.user.username, report_id=rid))
    return {"id": rid, "status": "running", "url": f"/api/v1/reports/{rid}"}


@routes.post("/api/v1/reports/daily", roles=WRITERS, body=DailyRequest, status=202)
async def generate_daily(ctx: RequestContext) -> dict[str, Any]:
    """Generate a point prod in the background; poll ``GET /api/v1/reports/{id}``."""
    svc = service(ctx.container)
    today = ctx.container.clock().astimezone(svc.zone).date()
    day = date.fromisoformat(ctx.body.day) if ctx.body.day else today
    if day > today:
        raise ReportError("a point prod is made on the day or after it, not before", "day")
    rid = await svc.claim("daily", day.isoformat(), "api", ctx.user.username, None)
    _background(ctx, svc.generate_daily(day, trigger="api", requested_by=ctx.user.username, report_id=rid))
    return {"id": rid, "status": "running", "url": f"/api/v1/reports/{rid}"}


def _month_param(ctx: RequestContext) -> str:
    value = ctx.match("month")
    try:
        parse_month(value)
    except ValueError as exc:
        raise ReportError(str(exc), "month") from None
    return value


@routes.get("/api/v1/reports/notes/{month}", roles=READERS)
async def get_notes(ctx: RequestContext) -> dict[str, Any]:
    """The supervisors' texts for a month's report, by section."""
    _month_param(ctx)
    svc = service(ctx.container)
    notes = await svc.notes(ctx.match("month"))
    return {"month": ctx.match("month"), "sections": {k: {"title": v, "text": notes.get(k, "")}
                                                      for k, v in content.NOTE_SECTIONS.items()}}


@routes.patch("/api/v1/reports/notes/{month}", roles=WRITERS, body=NoteBody)
async def set_note(ctx: RequestContext) -> dict[str, Any]:
    """Write (or, with an empty text, remove) one section's text of a month's report."""
    svc = service(ctx.container)
    await svc.set_note(_month_param(ctx), ctx.body.section, ctx.body.text, ctx.user.username)
    return await get_notes(ctx)


# --- pages ---------------------------------------------------------------------------------

REPORTS_PAGE = """{% extends "base.html" %}
{% block main %}
<h1>Rapports</h1>
<p class="chapeau">Rapports mensuels (Word, PowerPoint, classeur XLSX et CSV) et points prod quotidiens, générés
automatiquement ({{ schedule }}) ou à la demande.</p>
{% if can_generate %}<form class="filtre" method="post" action="/rapports/generer">
  <div><label for="mois">Rapport mensuel du mois</label><input id="mois" type="month" name="mois" value="{{ last_month }}"></div>
  <div><button type="submit" name="type" value="mensuel">Générer le rapport mensuel</button></div>
  <div><button type="submit" name="type" value="quotidien">Générer le point prod du jour</button></div>
</form>{% endif %}
<p><a href="/rapports/point-prod">Point prod du jour (calculé maintenant)</a></p>
<table><thead><tr><th>N°</th><th>Type</th><th>Période</th><th>Demandé par</th><th>Début</th><th>État</th><th>Fichiers</th></tr></thead>
<tbody>{% for r in reports %}<tr><td>{{ r.id }}</td><td>{{ r.kind }}</td><td>{{ r.period }}</td><td>{{ r.by }}</td>
<td>{{ r.started }}</td><td>{{ r.status }}{% if r.step %}<br><span class="note">{{ r.step }}</span>{% endif %}
{% if r.validated %}<br><strong>{{ r.validated }}</strong>{% elif r.can_validate %}
<form method="post" action="/rapports/{{ r.id }}/valider"><button type="submit">Valider (édition PDF)</button></form>{% endif %}</td>
<td>{% for f in r.files %}<a href="{{ f.url }}">{{ f.name }}</a> <span class="note">({{ f.size }})</span><br>{% endfor %}</td></tr>{% endfor %}
</tbody></table>
{% endblock %}
"""

ENV = environment({"reports.html": REPORTS_PAGE})
STATUS_FR = {"running": "en cours", "done": "terminé", "failed": "échec"}
KIND_FR = {"monthly": "rapport mensuel", "daily": "point prod"}


async def reports_page(request: web.Request, user: Any) -> web.Response:
    container = request.app[CONTAINER]
    svc = service(container)
    items = []
    listed = await svc.list(limit=60)
    validated_periods = {r.period for r in listed if r.kind == "monthly" and r.validated_at is not None}
    for r in listed:
        files = await svc.files_of(r.id)
        local = r.started_at.astimezone(svc.zone)
        step = ""
        if r.status == "running" and r.steps:
            last = r.steps[-1]
            step = f"étape {last['step']}/{last['total']} terminée : {last['label']}"
        elif r.status == "failed":
            step = r.error or ""
        validated = ""
        if r.validated_at is not None:
            validated = f"validé le {r.validated_at.astimezone(svc.zone):%d/%m/%Y} par {r.validated_by}"
        items.append({"id": r.id, "kind": KIND_FR.get(r.kind, r.kind), "validated": validated,
                      "can_validate": user.role in WRITERS and r.kind == "monthly" and r.status == "done"
                      and r.period not in validated_periods,
                      "period": month_label(r.period) if r.kind == "monthly" else day_label(date.fromisoformat(r.period)),
                      "by": r.requested_by, "started": f"{local:%d/%m/%Y %H:%M}", "status": STATUS_FR.get(r.status, r.status),
                      "step": step, "files": [{"name": name, "size": f"{size // 1024} Kio" if size >= 1024 else f"{size} o",
                                               "url": f"/rapports/{r.id}/{name}"} for _i, name, _m, size, _s in files]})
    rs = svc.settings
    end = svc.indicators.default_end()
    body = ENV.get_template("reports.html").render(
        title="Rapports", nav="reports", user=user, role_fr=ROLE_FR.get(user.role, user.role), reports=items,
        can_generate=user.role in WRITERS, last_month=f"{end[0]:04d}-{end[1]:02d}",
        schedule=(f"point prod chaque jour ouvré à {rs.daily_time}, rapport mensuel le {rs.monthly_business_day}e jour "
                  f"ouvré du mois à {rs.monthly_time}") if rs.schedule else "planification désactivée")
    return web.Response(text=body, content_type="text/html", charset="utf-8", headers={"Cache-Control": "no-store"})


async def file_page(request: web.Request, user: Any) -> web.Response:
    container = request.app[CONTAINER]
    async with container.session_factory() as session:
        row = await session.scalar(select(ReportFile).where(ReportFile.report_id == _report_id(request.match_info["rid"]),
                                                            ReportFile.name == request.match_info["name"]))
        if row is None:
            return html("error.html", 404, title="Fichier introuvable", user=user, role_fr=ROLE_FR.get(user.role),
                        message="Ce fichier n'existe pas.")
        audit.record(session, user_id=user.id, username=user.username, action="export", subject_type="report_file",
                     subject_id=f"{row.report_id}/{row.name}", detail={}, remote_addr=request.remote)
        await session.commit()
        disposition = "inline" if row.name.endswith((".html", ".txt", ".json")) else "attachment"
        return web.Response(body=row.content, content_type=row.media_type.split(";")[0],
                            charset="utf-8" if "charset" in row.media_type else None,
                            headers={"Content-Disposition": f'{disposition}; filename="{row.name}"',
                                     "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"})


async def point_prod_page(request: web.Request, user: Any) -> web.Response:
    from reports.daily import render_html

    svc = service(request.app[CONTAINER])
    today = request.app[CONTAINER].clock().astimezone(svc.zone).date()
    if "jour" in request.query:
        try:
            today = date.fromisoformat(request.query["jour"])
            if not 2000 <= today.year <= 2100:
                raise ValueError(today)
        except ValueError:
            return html("error.html", 400, title="Date invalide", user=user, role_fr=ROLE_FR.get(user.role),
                        message="La date s'écrit AAAA-MM-JJ.")
    data = await svc.daily_data(today)
    return web.Response(text=render_html(data), content_type="text/html", charset="utf-8",
                        headers={"Cache-Control": "no-store"})


async def generate_page(request: web.Request, user: Any) -> web.StreamResponse:
    container = request.app[CONTAINER]
    svc = service(container)
    form = await request.post()
    tasks: set = container.extras.setdefault("report_tasks", set())
    if form.get("type") == "quotidien":
        today = container.clock().astimezone(svc.zone).date()
        rid = await svc.claim("daily", today.isoformat(), "api", user.username, None)
        coro = svc.generate_daily(today, trigger="api", requested_by=user.username, report_id=rid)
    else:
        try:
            month = parse_month(str(form.get("mois") or ""))
        except ValueError:
            return html("error.html", 400, title="Mois invalide", user=user, role_fr=ROLE_FR.get(user.role),
                        message="Le mois s'écrit AAAA-MM.")
        rid = await svc.claim("monthly", f"{month[0]:04d}-{month[1]:02d}", "api", user.username, None)
        coro = svc.generate_monthly(month, trigger="api", requested_by=user.username, report_id=rid)
    task = asyncio.get_running_loop().create_task(coro)
    tasks.add(task)
    task.add_done_callback(tasks.discard)
    raise web.HTTPSeeOther("/rapports")


async def validate_page(request: web.Request, user: Any) -> web.StreamResponse:
    from reports.pdf import PdfConversionFailed, PdfUnavailable
    from ticket_core.exceptions import NotFound

    container = request.app[CONTAINER]
    svc = service(container)
    rid = _report_id(request.match_info["rid"])
    try:
        await svc.validate(rid, by=user.display_name or user.username)
    except (ReportError, PdfUnavailable, PdfConversionFailed, NotFound) as exc:
        return html("error.html", getattr(exc, "http_status", 400), title="Validation impossible", user=user,
                    role_fr=ROLE_FR.get(user.role), message=exc.message)
    async with container.session_factory() as session:
        audit.record(session, user_id=user.id, username=user.username, action="validate", subject_type="report",
                     subject_id=str(rid), detail={}, remote_addr=request.remote)
        await session.commit()
    raise web.HTTPSeeOther("/rapports")


async def _stop_generations(app: web.Application) -> None:
    """Generations started by the API end with the application (their records say so)."""
    tasks = list(app[CONTAINER].extras.get("report_tasks", ()))
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def setup(app: web.Application) -> None:
    app.on_cleanup.append(_stop_generations)
    app.router.add_get("/rapports", guarded(reports_page))
    app.router.add_get("/rapports/point-prod", guarded(point_prod_page))
    app.router.add_post("/rapports/generer", guarded(generate_page, WRITERS))
    app.router.add_get("/rapports/{rid:\\d+}/{name}", guarded(file_page))
    app.router.add_post("/rapports/{rid:\\d+}/valider", guarded(validate_page, WRITERS))
