"""Business time ("heures ouvrées", HO): the calendar every service level is measured in.

SPEC §3 (R-CAL) and §6 (R-SLA). Pure module: no I/O, no clock reads, no database.

The service is open on the configured weekdays between ``opens`` and ``closes`` local time
(default Monday-Friday 08:30-17:30 Europe/Paris, no lunch break), closed on the public holidays
of metropolitan France (``holidays.France()``, national list: Good Friday and 26 December, which
are only holidays in Alsace-Moselle, are working days), and adjusted by calendar exceptions
entered by a supervisor.

Rules for one local day, applied in this order:

1. If the day has one or more ``opening`` exceptions, its hours are the union of those
   exceptions' hours (a bound left empty takes the normal hours' bound). The exception wins over
   everything else: an opening ordered on a Saturday that is also a public holiday (1 May 2027)
   opens, so does one on a weekday holiday, and an opening on a normal weekday *replaces* that
   day's hours (e.g. opening 10:00-17:30 = late start).
2. Otherwise the day has the normal hours if it is an opening weekday and not a public holiday,
   and no hours at all else.
3. Every ``closure`` exception of the day is then cut out of those hours (a bound left empty
   reaches the start / end of the day, so a closure without hours closes the whole day). A
   closure therefore wins over an opening on the same day, and a partial closure may split the
   day in two intervals.

Instants in and out: every ``datetime`` argument must be timezone-aware (a naive one raises
``ValueError``); any zone is accepted; every datetime returned is in UTC. Open intervals are
half-open, ``[opening, closing)``: at 17:30 sharp the service is closed. Durations are computed
on absolute time, so they are right across DST changes (08:30 Paris = 07:30 UTC in winter,
06:30 UTC in summer). A calendar is immutable: to change exceptions, build a new one.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

__all__ = [
    "HORIZON_DAYS",
    "BusinessCalendar",
    "CalendarException",
    "NoBusinessTimeError",
    "OpeningHours",
    "parse_opening_hours",
]

UTC = timezone.utc

#: Longest run of consecutive days without any opening that a search walks through before
#: giving up (a calendar with no opening day must not loop forever).
HORIZON_DAYS = 400

_ONE_DAY = timedelta(days=1)
_ZERO = timedelta(0)

Interval = tuple[datetime, datetime]


class NoBusinessTimeError(ValueError):
    """No opening found within :data:`HORIZON_DAYS` consecutive days."""


# ---------------------------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------------------------

_DAY_NAMES: dict[str, int] = {}
for _i, _names in enumerate(
    (
        ("mon", "monday", "lun", "lundi"),
        ("tue", "tuesday", "mar", "mardi"),
        ("wed", "wednesday", "mer", "mercredi"),
        ("thu", "thursday", "jeu", "jeudi"),
        ("fri", "friday", "ven", "vendredi"),
        ("sat", "saturday", "sam", "samedi"),
        ("sun", "sunday", "dim", "dimanche"),
    )
):
    for _n in _names:
        _DAY_NAMES[_n] = _i

_TIME_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s*$")


def _zone(key: str) -> ZoneInfo:
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise ValueError(f"unknown time zone {key!r} (expected an IANA name such as 'Europe/Paris')") from exc


@dataclass(frozen=True)
class OpeningHours:
    """The normal opening hours (from settings). ``weekdays``: Monday=0 … Sunday=6.

    An empty ``weekdays`` is allowed here (a service opened only by calendar exceptions), but
    :func:`parse_opening_hours` refuses an empty setting, which is almost surely a mistake.
    """

    weekdays: frozenset[int] = frozenset({0, 1, 2, 3, 4})
    opens: time = time(8, 30)
    closes: time = time(17, 30)
    timezone: str = "Europe/Paris"

    def __post_init__(self) -> None:
        object.__setattr__(self, "weekdays", frozenset(self.weekdays))
        bad = sorted(d for d in self.weekdays if not isinstance(d, int) or not 0 <= d <= 6)
        if bad:
            raise ValueError(f"weekdays must be integers 0 (Monday) to 6 (Sunday), got {bad!r}")
        for name in ("opens", "closes"):
            value = getattr(self, name)
            if not isinstance(value, time) or value.tzinfo is not None:
                raise ValueError(f"{name} must be a naive datetime.time (local wall time), got {value!r}")
        if self.opens >= self.closes:
            raise ValueError(
                f"opening time {self.opens:%H:%M} must be before closing time {self.closes:%H:%M}"
            )
        _zone(self.timezone)

    @property
    def zone(self) -> ZoneInfo:
        return _zone(self.timezone)


def _parse_time(value: str, setting: str) -> time:
    match = _TIME_RE.match(value) if isinstance(value, str) else None
    if match is not None:
        hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
        if hour <= 23 and minute <= 59 and second <= 59:
            return time(hour, minute, second)
    raise ValueError(f"{setting}: invalid time {value!r} (expected HH:MM, e.g. '08:30')")


def _parse_weekdays(value: str, setting: str) -> frozenset[int]:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{setting}: no opening day given (expected e.g. 'mon,tue,wed,thu,fri' or 'mon-fri')")
    days: set[int] = set()
    for raw in value.split(","):
        item = raw.strip().lower()
        if "-" in item:
            first, _, last = (part.strip() for part in item.partition("-"))
            if first not in _DAY_NAMES or last not in _DAY_NAMES:
                bad = first if first not in _DAY_NAMES else last
                raise ValueError(f"{setting}: unknown day {bad!r} in {raw.strip()!r} (expected mon, tue, … sun)")
            a, b = _DAY_NAMES[first], _DAY_NAMES[last]
            days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
        elif item in _DAY_NAMES:
            days.add(_DAY_NAMES[item])
        else:
            raise ValueError(f"{setting}: unknown day {raw.strip()!r} (expected mon, tue, … sun)")
    return frozenset(days)


def parse_opening_hours(
    opens: str = "08:30",
    closes: str = "17:30",
    weekdays: str = "mon,tue,wed,thu,fri",
    timezone: str = "Europe/Paris",
) -> OpeningHours:
    """Build :class:`OpeningHours` from setting strings.

    ``opens``/``closes``: ``"HH:MM"`` (or ``"HH:MM:SS"``). ``weekdays``: comma-separated day
    names, English or French, short or long, with ranges (``"mon-fri"``, ``"lun,mar,mer"``).
    Raises ``ValueError`` naming the setting and the bad value.
    """
    parsed_opens = _parse_time(opens, "opens")
    parsed_closes = _parse_time(closes, "closes")
    days = _parse_weekdays(weekdays, "weekdays")
    try:
        _zone(timezone)
    except ValueError as exc:
        raise ValueError(f"timezone: {exc}") from None
    if parsed_opens >= parsed_closes:
        raise ValueError(f"opens/closes: opening time {opens!r} must be before closing time {closes!r}")
    return OpeningHours(weekdays=days, opens=parsed_opens, closes=parsed_closes, timezone=timezone)


@dataclass(frozen=True)
class CalendarException:
    """A dated exception entered by a supervisor.

    ``opening`` without hours = the normal hours that day (a bound left empty takes the normal
    bound); ``closure`` without hours = the whole day (a bound left empty reaches the start or
    end of the day, so ``closure`` with ``opens=time(14)`` only = closed from 14:00).
    ``opens``/``closes`` are local wall times in the calendar's zone.
    """

    day: date
    kind: Literal["opening", "closure"]
    opens: time | None = None
    closes: time | None = None
    note: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.day, date) or isinstance(self.day, datetime):
            raise ValueError(f"calendar exception day must be a datetime.date, got {self.day!r}")
        if self.kind not in ("opening", "closure"):
            raise ValueError(f"calendar exception kind must be 'opening' or 'closure', got {self.kind!r}")
        for name in ("opens", "closes"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, time) or value.tzinfo is not None):
                raise ValueError(f"calendar exception {name} must be a naive datetime.time or None, got {value!r}")
        if self.opens is not None and self.closes is not None and self.opens >= self.closes:
            raise ValueError(
                f"calendar exception on {self.day.isoformat()}: start {self.opens:%H:%M} "
                f"must be before end {self.closes:%H:%M}"
            )


# ---------------------------------------------------------------------------------------------
# Calendar
# ---------------------------------------------------------------------------------------------


def _require_aware(value: datetime, name: str) -> datetime:
    """Return ``value`` in UTC; refuse naive datetimes."""
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is UTC:
        return value
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"{name} must be a timezone-aware datetime, got naive {value.isoformat()}; "
            "attach a zone, e.g. datetime(..., tzinfo=ZoneInfo('Europe/Paris')) or timezone.utc"
        )
    return value.astimezone(UTC)


def _offset(t: time) -> timedelta:
    return timedelta(hours=t.hour, minutes=t.minute, seconds=t.second, microseconds=t.microsecond)


def _merge(spans: list[tuple[timedelta, timedelta]]) -> list[tuple[timedelta, timedelta]]:
    merged: list[tuple[timedelta, timedelta]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def _subtract(
    spans: list[tuple[timedelta, timedelta]], cut: tuple[timedelta, timedelta]
) -> list[tuple[timedelta, timedelta]]:
    out: list[tuple[timedelta, timedelta]] = []
    c0, c1 = cut
    for s, e in spans:
        if c1 <= s or c0 >= e:
            out.append((s, e))
            continue
        if s < c0:
            out.append((s, c0))
        if c1 < e:
            out.append((c1, e))
    return out


class BusinessCalendar:
    """Opening hours + French public holidays + supervisor exceptions, as business time.

    ``public_holidays`` (keyword only) replaces the holiday source; by default the national list
    of metropolitan France, ``holidays.France(language="fr")`` (not Alsace-Moselle). Any
    mapping ``date -> name`` works, e.g. ``holidays.France(subdiv="57")``.
    """

    def __init__(
        self,
        hours: OpeningHours = OpeningHours(),
        exceptions: Iterable[CalendarException] = (),
        *,
        public_holidays: Mapping[date, str] | None = None,
    ) -> None:
        self.hours = hours
        self._zone = hours.zone
        self._holidays: Mapping[date, str] = (
            holidays.France(language="fr") if public_holidays is None else public_holidays
        )
        given = list(exceptions)
        for exc in given:
            if not isinstance(exc, CalendarException):
                raise TypeError(f"exceptions must be CalendarException, got {type(exc).__name__}")
        self.exceptions: tuple[CalendarException, ...] = tuple(sorted(given, key=lambda x: x.day))
        self._by_day: dict[date, list[CalendarException]] = {}
        for exc in self.exceptions:
            if exc.kind == "opening":
                opens = hours.opens if exc.opens is None else exc.opens
                closes = hours.closes if exc.closes is None else exc.closes
                if opens >= closes:
                    raise ValueError(
                        f"opening exception on {exc.day.isoformat()}: with the normal hours filled in, "
                        f"{opens:%H:%M}-{closes:%H:%M} is empty"
                    )
            self._by_day.setdefault(exc.day, []).append(exc)
        self._windows: dict[date, tuple[Interval, ...]] = {}

    def __repr__(self) -> str:
        return f"BusinessCalendar({self.hours!r}, {len(self.exceptions)} exception(s))"

    # -- days -------------------------------------------------------------------------------

    def holiday_name(self, day: date) -> str | None:
        """Name of the public holiday on ``day`` (French), or ``None``."""
        if isinstance(day, datetime):
            raise TypeError("holiday_name takes a date, not a datetime")
        return self._holidays.get(day)

    def _day_windows(self, day: date) -> tuple[Interval, ...]:
        cached = self._windows.get(day)
        if cached is not None:
            return cached
        hours = self.hours
        day_exceptions = self._by_day.get(day, ())
        openings = [x for x in day_exceptions if x.kind == "opening"]
        spans: list[tuple[timedelta, timedelta]]
        if openings:
            spans = _merge(
                [
                    (
                        _offset(hours.opens if x.opens is None else x.opens),
                        _offset(hours.closes if x.closes is None else x.closes),
                    )
                    for x in openings
                ]
            )
        elif day.weekday() in hours.weekdays and day not in self._holidays:
            spans = [(_offset(hours.opens), _offset(hours.closes))]
        else:
            spans = []
        for x in day_exceptions:
            if x.kind == "closure" and spans:
                cut = (
                    _ZERO if x.opens is None else _offset(x.opens),
                    _ONE_DAY if x.closes is None else _offset(x.closes),
                )
                spans = _subtract(spans, cut)
        midnight = datetime(day.year, day.month, day.day)
        zone = self._zone
        result = tuple(
            (
                (midnight + s).replace(tzinfo=zone).astimezone(UTC),
                (midnight + e).replace(tzinfo=zone).astimezone(UTC),
            )
            for s, e in spans
        )
        self._windows[day] = result
        return result

    def window(self, day: date) -> list[Interval]:
        """Open intervals ``[opening, closing)`` of the local ``day``, in UTC, in order.

        Empty when closed all day; two intervals when a partial closure splits the day.
        """
        if isinstance(day, datetime) or not isinstance(day, date):
            raise TypeError(f"window takes a date, got {type(day).__name__}")
        return list(self._day_windows(day))

    def is_business_day(self, day: date) -> bool:
        """True when the local ``day`` has at least one open interval."""
        return bool(self.window(day))

    def _local_date(self, at_utc: datetime) -> date:
        return at_utc.astimezone(self._zone).date()

    def _windows_from(self, at_utc: datetime) -> Iterator[Interval]:
        """Open intervals ending after ``at_utc``, clipped to start at ``at_utc`` at the earliest.

        Endless; raises :class:`NoBusinessTimeError` after HORIZON_DAYS days in a row without
        any opening.
        """
        day = self._local_date(at_utc)
        empty_days = 0
        while True:
            found = False
            for start, end in self._day_windows(day):
                if end > at_utc:
                    found = True
                    yield (start if start > at_utc else at_utc), end
            if found:
                empty_days = 0
            else:
                empty_days += 1
                if empty_days > HORIZON_DAYS:
                    raise NoBusinessTimeError(
                        f"no opening in the {HORIZON_DAYS} days before {day.isoformat()} "
                        f"(searched from {at_utc.isoformat()}); check the opening hours and closures"
                    )
            day += _ONE_DAY

    # -- instants ---------------------------------------------------------------------------

    def is_open(self, at: datetime) -> bool:
        """True when ``at`` falls in an open interval (opening included, closing excluded)."""
        at_utc = _require_aware(at, "at")
        return any(s <= at_utc < e for s, e in self._day_windows(self._local_date(at_utc)))

    def next_opening(self, at: datetime) -> datetime:
        """First open instant at or after ``at`` (``at`` itself, in UTC, when open)."""
        at_utc = _require_aware(at, "at")
        return next(self._windows_from(at_utc))[0]

    def next_closing(self, at: datetime) -> datetime:
        """End of the open interval containing ``at``, or of the next one when closed."""
        at_utc = _require_aware(at, "at")
        return next(self._windows_from(at_utc))[1]

    def open_intervals(self, start: datetime, end: datetime) -> Iterator[Interval]:
        """Open intervals clipped to ``[start, end)``, in order, in UTC. Nothing when end <= start."""
        start_utc = _require_aware(start, "start")
        end_utc = _require_aware(end, "end")
        if end_utc <= start_utc:
            return iter(())
        return self._clipped(start_utc, end_utc)

    def _clipped(self, start_utc: datetime, end_utc: datetime) -> Iterator[Interval]:
        day = self._local_date(start_utc)
        last = self._local_date(end_utc)
        while day <= last:
            for s, e in self._day_windows(day):
                if e <= start_utc:
                    continue
                if s >= end_utc:
                    return
                yield (s if s > start_utc else start_utc), (e if e < end_utc else end_utc)
            day += _ONE_DAY

    def business_seconds_between(self, start: datetime, end: datetime) -> float:
        """Business seconds in ``[start, end)``; 0 when ``end <= start``. O(days spanned)."""
        start_utc = _require_aware(start, "start")
        end_utc = _require_aware(end, "end")
        if end_utc <= start_utc:
            return 0.0
        total = _ZERO
        for s, e in self._clipped(start_utc, end_utc):
            total += e - s
        return total.total_seconds()

    def add_business_seconds(self, start: datetime, seconds: float) -> datetime:
        """Instant reached after ``seconds`` of business time counted from ``start`` (UTC).

        Outside hours the count starts at the next opening (so adding 0 gives
        :meth:`next_opening`). When the amount ends exactly at a closing, that closing is
        returned (Friday 16:30 + 1 HO = Friday 17:30, not Monday 08:30). Microsecond resolution.
        """
        start_utc = _require_aware(start, "start")
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not math.isfinite(seconds):
            raise ValueError(f"seconds must be a finite number, got {seconds!r}")
        if seconds < 0:
            raise ValueError(f"seconds must be >= 0, got {seconds!r}")
        remaining = timedelta(seconds=seconds)
        for s, e in self._windows_from(start_utc):
            length = e - s
            if remaining <= length:
                return s + remaining
            remaining -= length
        raise AssertionError("unreachable")  # pragma: no cover - _windows_from is endless

    def add_business_hours(self, start: datetime, hours: float) -> datetime:
        """``start`` + ``hours`` HO (see :meth:`add_business_seconds`)."""
        if isinstance(hours, bool) or not isinstance(hours, (int, float)) or not math.isfinite(hours):
            raise ValueError(f"hours must be a finite number, got {hours!r}")
        return self.add_business_seconds(start, hours * 3600)

    def end_of_next_business_day(self, at: datetime) -> datetime:
        """Closing time (UTC) of the first business day strictly after ``at``'s local day.

        The "recovered within" window of lost calls (SPEC §6): a call lost on a Friday before
        a holiday Monday may be recovered until Tuesday 17:30.
        """
        at_utc = _require_aware(at, "at")
        day = self._local_date(at_utc)
        for _ in range(HORIZON_DAYS):
            day += _ONE_DAY
            windows = self._day_windows(day)
            if windows:
                return windows[-1][1]
        raise NoBusinessTimeError(
            f"no business day in the {HORIZON_DAYS} days after {at_utc.isoformat()}; "
            "check the opening hours and closures"
        )
