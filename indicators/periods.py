"""Periods as UTC boundaries: calendar months (and days) of the business time zone.

A ``Periods`` is n consecutive half-open intervals ``[b0, b1), [b1, b2) … [bn-1, bn)``. In SQL
a timestamp column is mapped to its period index by one ``CASE`` over the boundaries and
filtered by ``b0 <= column < bn``, so every indicator is one ``GROUP BY`` over an index range
scan, the same on SQLite and PostgreSQL — no time-zone arithmetic in the database (months
begin at Paris midnight, which is 22:00 or 23:00 UTC the day before).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, literal
from sqlalchemy.sql.elements import ColumnElement

MONTHS_FR = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
             "septembre", "octobre", "novembre", "décembre")
MONTHS_FR_SHORT = ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août",
                   "sept.", "oct.", "nov.", "déc.")
DAYS_FR = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")


def month_key(year: int, month: int) -> str:
    return f"{year:04d}-{month:02d}"


def parse_month(value: str) -> tuple[int, int]:
    """``YYYY-MM`` → (year, month); ValueError with a French-free, clear message."""
    try:
        y, m = value.strip().split("-")
        year, month = int(y), int(m)
    except (AttributeError, ValueError):
        raise ValueError(f"a month is written YYYY-MM, not {value!r}") from None
    if not (1 <= month <= 12 and 2000 <= year <= 2100):
        raise ValueError(f"a month is written YYYY-MM (2000-01 … 2100-12), not {value!r}")
    return year, month


def shift_month(year: int, month: int, delta: int) -> tuple[int, int]:
    n = year * 12 + (month - 1) + delta
    return n // 12, n % 12 + 1


def month_label(key: str, short: bool = False) -> str:
    """``2026-10`` → ``octobre 2026`` (``oct. 2026`` when short)."""
    year, month = parse_month(key)
    return f"{(MONTHS_FR_SHORT if short else MONTHS_FR)[month - 1]} {year}"


def day_label(day: date) -> str:
    """``lundi 2 novembre 2026`` (``1er`` for the first of the month)."""
    d = "1er" if day.day == 1 else str(day.day)
    return f"{DAYS_FR[day.weekday()]} {d} {MONTHS_FR[day.month - 1]} {day.year}"


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)


@dataclass(frozen=True)
class Periods:
    bounds: tuple[datetime, ...]  # UTC, strictly increasing, len = n + 1
    keys: tuple[str, ...]  # one per period: "2026-10" or "2026-11-02"

    def __post_init__(self) -> None:
        if len(self.bounds) != len(self.keys) + 1 or not self.keys:
            raise ValueError("periods need n + 1 boundaries for n keys (n >= 1)")
        if any(a >= b for a, b in zip(self.bounds, self.bounds[1:], strict=False)):
            raise ValueError("period boundaries must increase")

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def start(self) -> datetime:
        return self.bounds[0]

    @property
    def end(self) -> datetime:
        return self.bounds[-1]

    def span(self, i: int) -> tuple[datetime, datetime]:
        return self.bounds[i], self.bounds[i + 1]

    def index_of(self, at: datetime) -> int | None:
        """The period holding ``at``, or None outside."""
        if at < self.bounds[0] or at >= self.bounds[-1]:
            return None
        return bisect_right(self.bounds, at) - 1

    def bucket(self, column: ColumnElement) -> ColumnElement:
        """SQL: the period index of ``column`` (NULL outside; combine with ``within``)."""
        if len(self.keys) == 1:
            # an expression, not a constant: GROUP BY 0 would mean "the 0th column" to SQLite
            return case((column < self.bounds[-1], 0), else_=0)
        # a balanced tree of CASEs: about log2(n) comparisons per row instead of n / 2
        def tree(lo: int, hi: int) -> ColumnElement:  # periods lo … hi (inclusive)
            if lo == hi:
                return literal(lo)
            mid = (lo + hi + 1) // 2  # the first period of the upper half
            return case((column < self.bounds[mid], tree(lo, mid - 1)), else_=tree(mid, hi))

        return tree(0, len(self.keys) - 1)

    def within(self, column: ColumnElement) -> ColumnElement:
        return and_(column >= self.bounds[0], column < self.bounds[-1])


def months(end: tuple[int, int], count: int, zone: ZoneInfo) -> Periods:
    """``count`` calendar months ending with ``end`` (included), oldest first."""
    first = shift_month(*end, -(count - 1))
    keys, bounds = [], []
    y, m = first
    for _ in range(count):
        keys.append(month_key(y, m))
        bounds.append(datetime(y, m, 1, tzinfo=zone).astimezone(UTC))
        y, m = shift_month(y, m, 1)
    bounds.append(datetime(y, m, 1, tzinfo=zone).astimezone(UTC))
    return Periods(tuple(bounds), tuple(keys))


def days(first: date, last: date, zone: ZoneInfo) -> Periods:
    """Every local day from ``first`` to ``last`` included."""
    keys, bounds = [], []
    d = first
    while d <= last:
        keys.append(d.isoformat())
        bounds.append(local_midnight(d, zone))
        d += timedelta(days=1)
    bounds.append(local_midnight(d, zone))
    return Periods(tuple(bounds), tuple(keys))


def single(start: datetime, end: datetime, key: str) -> Periods:
    return Periods((start, end), (key,))


def previous_month(now: datetime, zone: ZoneInfo) -> tuple[int, int]:
    local = now.astimezone(zone)
    return shift_month(local.year, local.month, -1)


def year_before(key: str) -> str:
    y, m = parse_month(key)
    return month_key(y - 1, m)


def keys_between(keys: Sequence[str], first: str, last: str) -> list[str]:
    return [k for k in keys if first <= k <= last]
