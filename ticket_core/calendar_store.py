"""Loads the business calendar with the supervisor's dated exceptions from the database,
and stores new ones (SPEC §3: Saturday openings ordered ten days ahead, closures)."""

from __future__ import annotations

from datetime import date, time

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ticket_core.business_time import BusinessCalendar, CalendarException, OpeningHours
from ticket_core.db import utcnow
from ticket_core.exceptions import InvalidValue, NotFound
from ticket_core.models import CalendarExceptionRow


async def load_calendar(session: AsyncSession, hours: OpeningHours) -> BusinessCalendar:
    rows = await session.scalars(select(CalendarExceptionRow).order_by(CalendarExceptionRow.day))
    return BusinessCalendar(hours, [
        CalendarException(day=r.day, kind=r.kind, opens=r.opens, closes=r.closes, note=r.note)
        for r in rows
    ])


async def add_exception(
    session: AsyncSession,
    *,
    day: date,
    kind: str,
    opens: time | None = None,
    closes: time | None = None,
    note: str = "",
    created_by: int | None = None,
) -> CalendarExceptionRow:
    if kind not in ("opening", "closure"):
        raise InvalidValue("kind must be 'opening' or 'closure'", field="kind")
    if (opens is None) != (closes is None):
        raise InvalidValue("give both opens and closes, or neither", field="opens")
    if opens is not None and closes is not None and opens >= closes:
        raise InvalidValue("opens must be before closes", field="closes")
    row = CalendarExceptionRow(day=day, kind=kind, opens=opens, closes=closes, note=note,
                               created_by=created_by, created_at=utcnow())
    session.add(row)
    await session.flush()
    return row


async def delete_exception(session: AsyncSession, exception_id: int) -> None:
    row = await session.get(CalendarExceptionRow, exception_id)
    if row is None:
        raise NotFound(f"no calendar exception {exception_id}", field="exception_id")
    await session.delete(row)
    await session.flush()
