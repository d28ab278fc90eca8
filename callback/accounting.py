"""T2-IQ04 from the journal: lost calls renewed / lost calls, for a period.

Lost calls are the ``call_abandoned`` and ``call_lost`` facts of the period (anonymous
ones included: counted, never recoverable); a lost call is renewed when a
``call_recovered`` fact names it (written by the callback service when a callback was
answered, or when the same number called again and was answered, within the window).
Accepted virtual-hold offers (``callback_requested``) are not lost calls by default;
``include_callback_requests`` counts them (the definitions page shows the choice).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ticket_core.journal import EventKind
from ticket_core.models import JournalEvent


@dataclass(frozen=True)
class Ratio:
    numerator: int
    denominator: int

    @property
    def value(self) -> float | None:
        return None if self.denominator == 0 else self.numerator / self.denominator


async def recovered_calls(session: AsyncSession, start: datetime, end: datetime, *,
                          include_callback_requests: bool = False) -> Ratio:
    kinds = [EventKind.CALL_ABANDONED.value, EventKind.CALL_LOST.value]
    if include_callback_requests:
        kinds.append(EventKind.CALLBACK_REQUESTED.value)
    lost = (select(JournalEvent.call_id).where(JournalEvent.kind.in_(kinds), JournalEvent.occurred_at >= start,
                                                JournalEvent.occurred_at < end).subquery())
    recovered = select(JournalEvent.call_id).where(JournalEvent.kind == EventKind.CALL_RECOVERED.value)
    denominator = await session.scalar(select(func.count()).select_from(lost))
    numerator = await session.scalar(select(func.count()).select_from(lost).where(lost.c.call_id.in_(recovered)))
    return Ratio(int(numerator or 0), int(denominator or 0))
