"""A month's opening windows (from the real business calendar) and arrival samplers over them.

Arrivals are drawn from 15-minute slots weighted by the weekday and hour-of-day profiles of
``demo.profile``: open slots for calls and chats, every slot for mails (about 30 % while
closed), closed slots for the calls that hear the closed message.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import accumulate
from random import Random

from ticket_core.business_time import BusinessCalendar

SLOT = timedelta(minutes=15)


def month_bounds(year: int, month: int, calendar: BusinessCalendar) -> tuple[datetime, datetime]:
    """[first local midnight of the month, first local midnight of the next), in UTC."""
    zone = calendar.hours.zone
    start = datetime(year, month, 1, tzinfo=zone)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def month_days(year: int, month: int) -> list[date]:
    day = date(year, month, 1)
    out = []
    while day.month == month:
        out.append(day)
        day += timedelta(days=1)
    return out


class Sampler:
    """Instants drawn from weighted slots (start, length in seconds), whole seconds."""

    def __init__(self, slots: list[tuple[datetime, float]], weights: list[float]) -> None:
        pairs = [(s, w) for s, w in zip(slots, weights, strict=True) if w > 0 and s[1] >= 1]
        self.slots = [s for s, _ in pairs]
        self.cum = list(accumulate(w for _, w in pairs))
        self.total = self.cum[-1] if self.cum else 0.0

    def __bool__(self) -> bool:
        return self.total > 0

    def draw(self, rng: Random) -> datetime:
        i = bisect_right(self.cum, rng.random() * self.total)
        start, length = self.slots[min(i, len(self.slots) - 1)]
        return start + timedelta(seconds=int(rng.random() * length))


@dataclass
class MonthGrid:
    year: int
    month: int
    start: datetime
    end: datetime
    days: list[date]
    windows: dict[date, list[tuple[datetime, datetime]]]  # open intervals per local day (UTC)
    open_calls: Sampler
    mails: Sampler
    outside_calls: Sampler

    def __post_init__(self) -> None:
        self._flat = [w for d in self.days for w in self.windows[d]]
        self._starts = [s for s, _ in self._flat]

    def sub_business_seconds(self, at: datetime, seconds: float) -> datetime | None:
        """The instant ``seconds`` of business time before ``at`` (which is open), or None when
        that falls before the month's first opening."""
        i = bisect_right(self._starts, at) - 1
        if i < 0:
            return None
        s, e = self._flat[i]
        pos = min(at, e)
        avail = (pos - s).total_seconds()
        while seconds > avail:
            seconds -= avail
            i -= 1
            if i < 0:
                return None
            s, pos = self._flat[i]
            avail = (pos - s).total_seconds()
        return pos - timedelta(seconds=seconds)


def build_grid(
    year: int,
    month: int,
    calendar: BusinessCalendar,
    *,
    weekday_factors: tuple[float, ...],
    open_weight: Callable[[float], float],
    closed_mail_weight: Callable[[float, int, bool], float],
    outside_call_weight: Callable[[float, int, bool], float],
    mail_outside_share: float,
) -> MonthGrid:
    zone = calendar.hours.zone
    start, end = month_bounds(year, month, calendar)
    days = month_days(year, month)
    windows = {d: calendar.window(d) for d in days}

    open_slots: list[tuple[datetime, float]] = []
    open_w: list[float] = []
    for d in days:
        for ws, we in windows[d]:
            t = ws
            while t < we:
                length = min(SLOT, we - t).total_seconds()
                local = (t + timedelta(seconds=length / 2)).astimezone(zone)
                hour = local.hour + local.minute / 60
                open_slots.append((t, length))
                open_w.append(weekday_factors[d.weekday()] * open_weight(hour) * length)
                t += SLOT

    # Closed slots: every 15 minutes of the month outside the open windows (clipped to them).
    closed_slots: list[tuple[datetime, float]] = []
    mail_w: list[float] = []
    call_w: list[float] = []
    flat = [w for d in days for w in windows[d]]
    wi = 0
    t = start
    while t < end:
        slot_end = min(t + SLOT, end)
        pieces = []
        cursor = t
        while wi < len(flat) and flat[wi][1] <= cursor:
            wi += 1
        j = wi
        while cursor < slot_end:
            if j < len(flat) and flat[j][0] < slot_end:
                ws, we = flat[j]
                if ws > cursor:
                    pieces.append((cursor, ws))
                cursor = max(cursor, we)
                j += 1
            else:
                pieces.append((cursor, slot_end))
                cursor = slot_end
        for ps, pe in pieces:
            length = (pe - ps).total_seconds()
            if length <= 0:
                continue
            local = (ps + (pe - ps) / 2).astimezone(zone)
            hour = local.hour + local.minute / 60
            business_day = bool(windows.get(local.date()))
            closed_slots.append((ps, length))
            mail_w.append(closed_mail_weight(hour, local.weekday(), business_day) * length)
            call_w.append(outside_call_weight(hour, local.weekday(), business_day) * length)
        t = slot_end

    # Mails: open slots with the open profile, closed slots scaled so that the closed share is
    # the configured one.
    total_open, total_closed = sum(open_w), sum(mail_w)
    if total_open > 0 and total_closed > 0:
        k = mail_outside_share * total_open / ((1 - mail_outside_share) * total_closed)
    else:
        k = 1.0
    mails = Sampler(open_slots + closed_slots, open_w + [w * k for w in mail_w])
    return MonthGrid(
        year=year, month=month, start=start, end=end, days=days, windows=windows,
        open_calls=Sampler(open_slots, open_w), mails=mails,
        outside_calls=Sampler(closed_slots, call_w),
    )
