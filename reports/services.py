"""Generating reports: the monthly report (DOCX, PPTX, XLSX, CSV, JSON) and the daily point
prod (HTML, text, JSON), each step logged (``guichet.reports`` INFO lines: step n/N, what,
how long) and recorded on the report's row so that the API shows the progress of a
generation while it runs. Files are kept in the database (any instance serves them) and,
when asked, written to a folder.

Scheduled generations claim their period first (a unique ``schedule_key``): with several
application instances, one generates, the others see the claim and skip.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time as _time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from indicators import compute as q
from indicators import periods as P
from indicators.services import IndicatorService
from reports import content, daily as daily_render, exports, slides, word, xlsx
from reports.models import DONE, FAILED, RUNNING, GeneratedReport, ReportFile, ReportNote
from reports.settings import ReportSettings
from ticket_core.journal import EventKind as K
from ticket_core.models import CalendarExceptionRow, JournalEvent, Problem, Ticket

log = logging.getLogger("guichet.reports")

MEDIA = {
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".zip": "application/zip",
    ".json": "application/json",
    ".html": "text/html; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".csv": "text/csv; charset=utf-8",
    ".pdf": "application/pdf",
}


class ReportError(Exception):
    http_status = 422
    error_id = "report_error"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class ReportNotValidatable(ReportError):
    http_status = 409
    error_id = "report_not_validatable"


@dataclass
class Generated:
    report_id: int
    files: dict[str, bytes]
    summary: dict[str, Any]


class Progress:
    """Logs each step and records it on the report's row (its own short transaction)."""

    def __init__(self, svc: ReportService, report_id: int, label: str, total: int,
                 echo: Callable[[str], None] | None = None, record: bool = True) -> None:
        self.svc, self.report_id, self.label, self.total = svc, report_id, label, total
        self.record = record  # False: log only (the row's steps are its generation's)
        self.n = 0
        self.t0 = _time.perf_counter()
        self.echo = echo
        self.steps: list[dict[str, Any]] = []

    async def step(self, what: str, work: Awaitable[Any]) -> Any:
        self.n += 1
        started = _time.perf_counter()
        line = f"{self.label} : étape {self.n}/{self.total} — {what}…"
        log.info(line)
        if self.echo:
            self.echo(line)
        result = await work
        seconds = round(_time.perf_counter() - started, 3)
        self.steps.append({"step": self.n, "total": self.total, "label": what, "seconds": seconds,
                           "at": datetime.now(UTC).isoformat(timespec="seconds")})
        log.info("%s : étape %d/%d — %s terminée en %.1f s", self.label, self.n, self.total, what, seconds)
        if self.echo:
            self.echo(f"{self.label} : étape {self.n}/{self.total} — {what} terminée en {seconds:.1f} s")
        if not self.record:
            return result
        async with self.svc.container.session_factory() as session:
            row = await session.get(GeneratedReport, self.report_id)
            row.steps = list(self.steps)
            await session.commit()
        return result


class ReportService:
    def __init__(self, container: Any, settings: ReportSettings, indicators: IndicatorService | None = None) -> None:
        self.container = container
        self.settings = settings
        self.indicators = indicators or IndicatorService.from_container(container)
        self.zone = container.settings.opening_hours.zone

    @classmethod
    def from_container(cls, container: Any) -> ReportService:
        from reports.settings import load_report_settings

        found = container.extras.get("reports")
        if found is None:
            found = container.extras["reports"] = cls(container, load_report_settings())
        return found

    # --- records ----------------------------------------------------------------------------

    async def claim(self, kind: str, period: str, trigger: str, requested_by: str,
                    schedule_key: str | None) -> int | None:
        async with self.container.session_factory() as session:
            row = GeneratedReport(kind=kind, period=period, trigger=trigger, requested_by=requested_by[:120],
                                  status=RUNNING, started_at=self.container.clock(), steps=[], summary={},
                                  schedule_key=schedule_key)
            session.add(row)
            try:
                await session.commit()
            except IntegrityError:
                return None  # another instance claimed this scheduled run
            return row.id

    async def _close(self, report_id: int, *, files: dict[str, bytes] | None = None,
                     summary: dict[str, Any] | None = None, error: str | None = None) -> None:
        async with self.container.session_factory() as session:
            row = await session.get(GeneratedReport, report_id)
            row.finished_at = self.container.clock()
            row.status = FAILED if error else DONE
            row.error = error
            row.summary = summary or {}
            for name, data in (files or {}).items():
                suffix = Path(name).suffix
                session.add(ReportFile(report_id=report_id, name=name, media_type=MEDIA.get(suffix, "application/"
                                                                                               "octet-stream"),
                                       size=len(data), sha256=hashlib.sha256(data).hexdigest(), content=data))
            await session.commit()

    async def _interrupted(self, report_id: int, label: str) -> None:
        """The service stopped during a generation: say so on its record (best effort)."""
        log.warning("%s : interrompu par l'arrêt du service", label)
        try:
            await asyncio.shield(self._close(report_id, error="interrompu par l'arrêt du service"))
        except Exception:  # noqa: BLE001 - the database may be gone already
            pass

    async def list(self, kind: str | None = None, limit: int = 50) -> list[GeneratedReport]:
        async with self.container.session_factory() as session:
            stmt = select(GeneratedReport).order_by(GeneratedReport.id.desc()).limit(limit)
            if kind:
                stmt = stmt.where(GeneratedReport.kind == kind)
            return list(await session.scalars(stmt))

    async def file_content(self, report_id: int, name: str) -> bytes:
        async with self.container.session_factory() as session:
            return await session.scalar(select(ReportFile.content).where(ReportFile.report_id == report_id,
                                                                         ReportFile.name == name))

    async def files_of(self, report_id: int) -> list[tuple[int, str, str, int, str]]:
        async with self.container.session_factory() as session:
            rows = await session.execute(select(ReportFile.id, ReportFile.name, ReportFile.media_type, ReportFile.size,
                                                ReportFile.sha256).where(ReportFile.report_id == report_id)
                                         .order_by(ReportFile.id))
            return [tuple(r) for r in rows]

    # --- notes ------------------------------------------------------------------------------

    async def set_note(self, period: str, section: str, text: str, author: str) -> None:
        if section not in content.NOTE_SECTIONS:
            raise ReportError(f"unknown section {section!r} (one of {', '.join(content.NOTE_SECTIONS)})", "section")
        P.parse_month(period)
        async with self.container.session_factory() as session:
            row = await session.scalar(select(ReportNote).where(ReportNote.period == period,
                                                                ReportNote.section == section))
            if row is None:
                row = ReportNote(period=period, section=section, text="", author="", updated_at=self.container.clock())
                session.add(row)
            row.text, row.author, row.updated_at = text, author[:120], self.container.clock()
            if not text.strip():
                await session.execute(delete(ReportNote).where(ReportNote.period == period,
                                                               ReportNote.section == section))
            await session.commit()

    async def notes(self, period: str) -> dict[str, str]:
        async with self.container.session_factory() as session:
            rows = await session.execute(select(ReportNote.section, ReportNote.text).where(ReportNote.period == period))
            return {r.section: r.text for r in rows}

    # --- monthly ----------------------------------------------------------------------------

    async def month_facts(self, month: tuple[int, int]) -> content.MonthFacts:
        zone = self.zone
        per = P.months(month, 1, zone)
        start, end = per.start, per.end
        ind = self.indicators
        escalations = await ind.escalations_in_progress()
        calendar = await ind.calendar()
        now = self.container.clock()
        hours = {e.ticket_id: calendar.business_seconds_between(e.escalated_at or e.created_at, now) / 3600
                 for e in escalations}
        first_day = date(*month, 1)
        last_day = (end.astimezone(zone) - timedelta(seconds=1)).date()
        days = P.days(first_day, last_day, zone)
        async with self.container.engine.connect() as conn:
            exc = [(r.day, r.kind, r.note) for r in await conn.execute(
                select(CalendarExceptionRow.day, CalendarExceptionRow.kind, CalendarExceptionRow.note)
                .where(CalendarExceptionRow.day >= first_day, CalendarExceptionRow.day <= last_day)
                .order_by(CalendarExceptionRow.day))]
            problems = [(r.created_at, r.title) for r in await conn.execute(
                select(Problem.created_at, Problem.title).where(Problem.created_at >= start, Problem.created_at < end)
                .order_by(Problem.created_at))]
            site = []
            for r in await conn.execute(select(JournalEvent.occurred_at, JournalEvent.kind, JournalEvent.data).where(
                    JournalEvent.kind.in_([K.SITE_SWITCHED_OVER.value, K.DRILL_DONE.value]),
                    JournalEvent.occurred_at >= start, JournalEvent.occurred_at < end).order_by(JournalEvent.occurred_at)):
                data = r.data or {}
                if r.kind == K.DRILL_DONE.value:
                    site.append((r.occurred_at, "exercice de bascule vers le site de secours"
                                 + (" réussi" if data.get("ok", True) else " en échec")))
                else:
                    to = data.get("to") or data.get("site") or "le site de secours"
                    site.append((r.occurred_at, f"bascule du service vers {to}"))
            bucket = days.bucket(Ticket.created_at).label("p")
            daily = {int(r.p): int(r.n) for r in await conn.execute(
                select(bucket, func.count().label("n")).where(days.within(Ticket.created_at),
                                                               Ticket.merged_into_id.is_(None)).group_by(bucket))}
        return content.MonthFacts(
            escalations=escalations, escalation_hours=hours, notes=await self.notes(P.month_key(*month)),
            calendar_exceptions=exc, problems=problems, site_events=site,
            daily_tickets=[(date.fromisoformat(k), daily.get(i, 0)) for i, k in enumerate(days.keys)], zone=zone,
            hours_per_day=_hours_per_day(calendar))

    async def generate_monthly(self, month: tuple[int, int], *, trigger: str = "cli", requested_by: str = "système",
                               out_dir: Path | None = None, schedule_key: str | None = None,
                               echo: Callable[[str], None] | None = None, report_id: int | None = None,
                               ) -> Generated | None:
        key = P.month_key(*month)

        async def produce(progress: Progress) -> tuple[dict[str, bytes], dict[str, Any]]:
            ind = self.indicators
            dash = await progress.step("calcul des indicateurs sur 13 mois et l'année précédente",
                                       ind.dashboard(month, keep_raw=True, use_cache=False))
            facts = await progress.step("faits du mois et escalades en cours", self.month_facts(month))
            report = await progress.step("graphiques et contenu", asyncio.to_thread(
                content.build_monthly, dash, facts, self.settings, self.container.clock()))
            docx = await progress.step("document Word (DOCX)", asyncio.to_thread(word.render, report))
            pptx = await progress.step("présentation PowerPoint (PPTX)", asyncio.to_thread(slides.render, report))
            sheets = await progress.step("tables détaillées (tickets, appels, mails, chats)",
                                         self.month_sheets(month, dash, facts))
            book = await progress.step("classeur XLSX", asyncio.to_thread(
                xlsx.xlsx, sheets, title=f"Exports {key}", subject=self.settings.service_name))
            csvs = await progress.step("fichiers CSV", asyncio.to_thread(xlsx.csv_zip, sheets, f"exports-{key}"))
            files = {
                f"rapport-mensuel-{key}.docx": docx,
                f"rapport-mensuel-{key}.pptx": pptx,
                f"exports-{key}.xlsx": book,
                f"exports-{key}-csv.zip": csvs,
                f"indicateurs-{key}.json": json.dumps(dash.to_json(), ensure_ascii=False, default=str,
                                                      indent=1).encode("utf-8"),
            }
            summary = self._summary(dash, facts, sheets)
            await progress.step("enregistrement des fichiers", self._store(progress.report_id, files, summary, out_dir))
            log.info("%s : terminé en %.1f s (%s)", progress.label, _time.perf_counter() - progress.t0,
                     ", ".join(f"{n} {len(b) // 1024} Kio" for n, b in files.items()))
            return files, summary

        return await self._generate("monthly", key, f"rapport mensuel {key}", 9, produce, trigger=trigger,
                                    requested_by=requested_by, schedule_key=schedule_key, echo=echo,
                                    report_id=report_id)

    async def _generate(self, kind: str, key: str, label: str, steps: int,
                        produce: Callable[[Progress], Awaitable[tuple[dict[str, bytes], dict[str, Any]]]], *,
                        trigger: str, requested_by: str, schedule_key: str | None,
                        echo: Callable[[str], None] | None, report_id: int | None) -> Generated | None:
        """One generation: claimed first (unless the API claimed it already), made by
        ``produce`` step by step, and a failure or a stop of the service written on its record."""
        if report_id is None:
            report_id = await self.claim(kind, key, trigger, requested_by, schedule_key)
            if report_id is None:
                log.info("%s : déjà pris en charge par une autre instance", label)
                return None
        progress = Progress(self, report_id, label, steps, echo)
        try:
            files, summary = await produce(progress)
            return Generated(report_id, files, summary)
        except asyncio.CancelledError:
            await self._interrupted(report_id, label)
            raise
        except Exception as exc:
            log.exception("%s : échec", label)
            await self._close(report_id, error=f"{type(exc).__name__}: {exc}")
            raise

    async def month_sheets(self, month: tuple[int, int], dash: Any, facts: content.MonthFacts) -> list[exports.Sheet]:
        per = P.months(month, 1, self.zone)
        ind = self.indicators
        calendar = await ind.calendar()
        now = self.container.clock()
        async with self.container.engine.connect() as conn:
            traffic = await q.drill_traffic(conn)
            tickets, mails = await exports.ticket_sheets(conn, per, ind.settings, calendar, now, traffic)
            resolved = await exports.resolved_elsewhere(conn, per, self.zone, traffic)
            calls = await exports.call_sheet(conn, per, ind.settings, calendar, now, traffic)
            chats = await exports.chat_sheet(conn, per, self.zone, traffic)
        return [exports.indicator_sheet(dash), tickets, resolved, calls, mails, chats,
                exports.escalation_sheet(facts.escalations, self.zone, facts.escalation_hours),
                exports.volume_sheet(dash), exports.operational_sheet(dash)]

    @staticmethod
    def _summary(dash: Any, facts: content.MonthFacts, sheets: list[exports.Sheet]) -> dict[str, Any]:
        latest = {i: dash.latest(i) for i in dash.points}
        return {
            "month": dash.end,
            "indicators": {i: {"value": p.value, "status": p.status} for i, p in latest.items() if p and p.has_value},
            "missed": [i for i, p in latest.items() if p and p.status == "missed"],
            "incentive": dash.incentive(),
            "tickets": dash.operational[dash.end].tickets,
            "escalations_in_progress": len(facts.escalations),
            "rows": {s.name: len(s.rows) for s in sheets},
        }

    async def _store(self, report_id: int, files: dict[str, bytes], summary: dict[str, Any],
                     out_dir: Path | None) -> None:
        if out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
            for name, data in files.items():
                (out_dir / name).write_bytes(data)
        await self._close(report_id, files=files, summary=summary)

    # --- validation -------------------------------------------------------------------------

    async def validate(self, report_id: int, *, by: str, echo: Callable[[str], None] | None = None) -> GeneratedReport:
        """The steering committee validated this monthly report: the cover of its DOCX and
        PPTX (as generated) says so, both are converted to PDF and stored beside them, and
        the report records who validated it and when. One validated edition per month."""
        from reports import pdf

        async with self.container.session_factory() as session:
            row = await session.get(GeneratedReport, report_id)
            if row is None:
                from ticket_core.exceptions import NotFound

                raise NotFound("no such report", field="report_id")
            if row.kind != "monthly" or row.status != DONE:
                raise ReportNotValidatable("only a monthly report generated without error can be validated")
            if row.validated_at is not None:
                raise ReportNotValidatable(f"report {row.id} was validated on {row.validated_at:%Y-%m-%d} "
                                           f"by {row.validated_by}")
            other = await session.scalar(select(GeneratedReport.id).where(
                GeneratedReport.kind == "monthly", GeneratedReport.period == row.period,
                GeneratedReport.validated_at.is_not(None)))
            if other is not None:
                raise ReportNotValidatable(f"the report of {row.period} is already validated (report {other})")
            files = {f.name: f.content for f in await session.scalars(select(ReportFile).where(
                ReportFile.report_id == report_id, ReportFile.name.in_(
                    [f"rapport-mensuel-{row.period}.docx", f"rapport-mensuel-{row.period}.pptx"])))}
            period = row.period
        if len(files) != 2:
            raise ReportNotValidatable("the report's DOCX or PPTX is missing")
        soffice = pdf.find_soffice(self.settings.soffice)
        now = self.container.clock()
        stamp = f"version validée en comité de pilotage le {P.day_label(now.astimezone(self.zone).date())} par {by}"
        progress = Progress(self, report_id, f"validation du rapport {period}", 2, echo, record=False)
        docx = files[f"rapport-mensuel-{period}.docx"]
        pptx = files[f"rapport-mensuel-{period}.pptx"]
        stamped = await progress.step("mention de validation", asyncio.to_thread(lambda: {
            f"rapport-mensuel-{period}-valide.docx": pdf.stamp_docx(docx, stamp),
            f"presentation-{period}-valide.pptx": pdf.stamp_pptx(pptx, stamp)}))
        pdfs = await progress.step("édition PDF (LibreOffice)", asyncio.to_thread(pdf.to_pdf, stamped, soffice))
        async with self.container.session_factory() as session:
            row = await session.get(GeneratedReport, report_id)
            if row.validated_at is not None:
                raise ReportNotValidatable(f"report {row.id} was validated meanwhile by {row.validated_by}")
            row.validated_at, row.validated_by = now, by[:120]
            for name, data in pdfs.items():
                session.add(ReportFile(report_id=report_id, name=name, media_type=MEDIA[".pdf"], size=len(data),
                                       sha256=hashlib.sha256(data).hexdigest(), content=data))
            await session.commit()
            log.info("rapport %s validé par %s : %s", period, by, ", ".join(pdfs))
            return row

    # --- daily ------------------------------------------------------------------------------

    async def generate_daily(self, today: date | None = None, *, trigger: str = "cli", requested_by: str = "système",
                             out_dir: Path | None = None, schedule_key: str | None = None,
                             echo: Callable[[str], None] | None = None, report_id: int | None = None,
                             ) -> Generated | None:
        today = today or self.container.clock().astimezone(self.zone).date()
        key = today.isoformat()

        async def produce(progress: Progress) -> tuple[dict[str, bytes], dict[str, Any]]:
            data = await progress.step("indicateurs de la veille, du mois en cours et escalades en cours",
                                       self.daily_data(today))

            def render() -> dict[str, bytes]:
                return {f"point-prod-{key}.html": daily_render.render_html(data).encode("utf-8"),
                        f"point-prod-{key}.txt": daily_render.render_text(data).encode("utf-8"),
                        f"point-prod-{key}.json": json.dumps(daily_render.to_json(data), ensure_ascii=False,
                                                             default=str, indent=1).encode("utf-8")}

            files = await progress.step("mise en forme (HTML, texte, JSON)", asyncio.to_thread(render))
            summary = {"day": key, "from": data.first.isoformat(), "to": data.last.isoformat(),
                       "missed": [i for i, p in data.points.items() if p.status == "missed"],
                       "escalations_in_progress": len(data.escalations)}
            await progress.step("enregistrement", self._store(progress.report_id, files, summary, out_dir))
            return files, summary

        return await self._generate("daily", key, f"point prod {key}", 3, produce, trigger=trigger,
                                    requested_by=requested_by, schedule_key=schedule_key, echo=echo,
                                    report_id=report_id)

    async def daily_data(self, today: date) -> daily_render.DailyData:
        from indicators.services import daily_window

        ind = self.indicators
        calendar = await ind.calendar()
        first, last = daily_window(calendar, today)
        start, end = P.local_midnight(first, self.zone), P.local_midnight(today, self.zone)
        key = first.isoformat() if first == last else f"{first.isoformat()}/{last.isoformat()}"
        points, raw = await ind.period_points(start, end, key)
        month_start = P.local_midnight(date(last.year, last.month, 1), self.zone)
        mtd, _ = await ind.period_points(month_start, end, "mois")
        escalations = await ind.escalations_in_progress()
        now = self.container.clock()
        hours = {e.ticket_id: calendar.business_seconds_between(e.escalated_at or e.created_at, now) / 3600
                 for e in escalations}
        pc = raw.contacts.get(0) or q.PhoneCounts()
        tc = raw.created.get(0) or q.TicketCounts()
        windows = calendar.window(today)
        return daily_render.DailyData(
            today=today, first=first, last=last, points=points, month_points=mtd, calls=pc, tickets=tc,
            escalations=escalations, escalation_hours=hours, zone=self.zone,
            opening=[(a.astimezone(self.zone), b.astimezone(self.zone)) for a, b in windows],
            generated_at=now, settings=self.settings, hours_per_day=_hours_per_day(calendar))


def _hours_per_day(calendar: Any) -> float:
    h = calendar.hours
    return (h.closes.hour * 60 + h.closes.minute - h.opens.hour * 60 - h.opens.minute) / 60
