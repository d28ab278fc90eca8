"""When a callback may be placed: pure rules over the business calendar, no I/O.

- A lost call is called back ``delay`` business seconds after it was lost (the user often
  calls again first), strictly inside opening hours, and never in the last ``cutoff``
  seconds before a closing: it then waits for the next opening. So a call lost on Friday
  at 17:25 before a holiday Monday is called back on Tuesday at 08:30.
- A failed attempt is retried ``spacing`` seconds later, with the same rules.
- A virtual-hold callback is due at once: its place in the queue decides when it is
  placed (when the caller's turn would have come).
- A lost call counts as recovered until the end of the next business day.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ticket_core.business_time import BusinessCalendar


def placeable_from(calendar: BusinessCalendar, at: datetime, cutoff_seconds: float) -> datetime:
    """The first instant at or after ``at`` when a callback may be started: open, and at
    least ``cutoff_seconds`` before the next closing."""
    moment = calendar.next_opening(at)
    for _ in range(400):  # the calendar raises first if it never opens
        closing = calendar.next_closing(moment)
        if (closing - moment).total_seconds() > cutoff_seconds:
            return moment
        moment = calendar.next_opening(closing + timedelta(microseconds=1))
    raise ValueError("no opening window long enough for a callback in the next 400 windows")


def first_attempt_due(calendar: BusinessCalendar, lost_at: datetime, *, delay_seconds: float,
                      cutoff_seconds: float) -> datetime:
    start = calendar.add_business_seconds(lost_at, delay_seconds) if delay_seconds else lost_at
    return placeable_from(calendar, start, cutoff_seconds)


def next_attempt_due(calendar: BusinessCalendar, failed_at: datetime, *, spacing_seconds: float,
                     cutoff_seconds: float) -> datetime:
    return placeable_from(calendar, failed_at + timedelta(seconds=spacing_seconds), cutoff_seconds)


def recovery_deadline(calendar: BusinessCalendar, lost_at: datetime) -> datetime:
    return calendar.end_of_next_business_day(lost_at)


def may_place_now(calendar: BusinessCalendar, now: datetime, cutoff_seconds: float) -> bool:
    return calendar.is_open(now) and (calendar.next_closing(now) - now).total_seconds() > cutoff_seconds
