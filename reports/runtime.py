"""The reports' schedule, started by ``guichet serve``: the point prod every business day
at ``daily_time`` (07:00 Paris by default) and the previous month's report on the n-th
business day of the month at ``monthly_time`` (2nd business day, 07:30). A report missed
while the service was stopped is made at the next start (the monthly one until the month
ends, the point prod the same day). With several instances, each scheduled report is made
once: the first instance to claim it (a unique key) generates it. A failed scheduled
generation is not retried automatically (it is logged and shown on the reports page):
a supervisor generates it on demand.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select

from indicators.periods import month_key, shift_month
from reports.delivery import queue_report_mails
from reports.models import GeneratedReport
from reports.services import ReportService
from reports.settings import ReportSettings, load_report_settings
from ticket_core.business_time import BusinessCalendar

log = logging.getLogger("guichet.reports")


def nth_business_day(calendar: BusinessCalendar, year: int, month: int, n: int) -> date | None:
    day = date(year, month, 1)
    count = 0
    while day.month == month:
        if calendar.is_business_day(day):
            count += 1
            if count == n:
                return day
        day += timedelta(days=1)
    return None


def _at(value: str) -> time:
    h, m = value.split(":")
    return time(int(h), int(m))


async def due(svc: ReportService, rs: ReportSettings, now: datetime) -> list[tuple[str, Any]]:
    """What the schedule should generate at ``now`` and has not yet: [(schedule key, args)]."""
    zone = svc.zone
    local = now.astimezone(zone)
    today = local.date()
    calendar = await svc.indicators.calendar()
    wanted: list[tuple[str, Any]] = []
    if calendar.is_business_day(today) and local.time() >= _at(rs.daily_time):
        wanted.append((f"daily:{today.isoformat()}", today))
    nth = nth_business_day(calendar, today.year, today.month, rs.monthly_business_day)
    if nth is not None and (today > nth or (today == nth and local.time() >= _at(rs.monthly_time))):
        month = shift_month(today.year, today.month, -1)
        wanted.append((f"monthly:{month_key(*month)}", month))
    if not wanted:
        return []
    async with svc.container.session_factory() as session:
        taken = set(await session.scalars(select(GeneratedReport.schedule_key).where(
            GeneratedReport.schedule_key.in_([k for k, _ in wanted]))))
    return [(k, a) for k, a in wanted if k not in taken]


async def tick(svc: ReportService, rs: ReportSettings, now: datetime) -> list[str]:
    """Generate what is due; the keys generated here (not by another instance)."""
    made = []
    for key, arg in await due(svc, rs, now):
        if key.startswith("daily:"):
            done = await svc.generate_daily(arg, trigger="schedule", requested_by="planification", schedule_key=key)
        else:
            done = await svc.generate_monthly(arg, trigger="schedule", requested_by="planification", schedule_key=key)
        if done is not None:
            made.append(key)
            kind, period = key.split(":", 1)
            try:
                await queue_report_mails(svc.container, rs, kind=kind, period=period, files=done.files)
            except Exception:  # noqa: BLE001 - the report is made and stored; only its mail failed
                log.exception("report %s: made, but its mails could not be queued", key)
    return made


async def start(container: Any) -> Callable[[], Awaitable[None]]:
    rs = load_report_settings()
    svc = ReportService.from_container(container)

    async def loop() -> None:
        while True:
            try:
                # On a site pair only the active site makes scheduled reports (the standby
                # may lose its connection to the database first); a missed one is made
                # after a switchover.
                made = await tick(svc, rs, container.clock()) if container.site_is_active() else []
                if made:
                    log.info("schedule: generated %s", ", ".join(made))
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the schedule must survive one failed report
                log.exception("report schedule: a scheduled generation failed")
            await asyncio.sleep(rs.tick_seconds)

    task = asyncio.get_running_loop().create_task(loop()) if rs.schedule else None
    if task is not None:
        log.info("report schedule: point prod at %s every business day, monthly report on business day %d at %s",
                 rs.daily_time, rs.monthly_business_day, rs.monthly_time)

    async def stop() -> None:
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        pending = list(container.extras.get("report_tasks", ()))
        for t in pending:
            t.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    return stop
