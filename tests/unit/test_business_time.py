"""Business time (HO): SPEC §3 R-CAL, issue 2 item 4. Expectations computed by hand.

Paris is UTC+1 in winter (CET) and UTC+2 in summer (CEST); in 2026 the clocks change on
Sunday 29 March and Sunday 25 October. So 08:30 Paris = 07:30 UTC in winter, 06:30 UTC in summer.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from ticket_core.business_time import (
    HORIZON_DAYS,
    BusinessCalendar,
    CalendarException,
    NoBusinessTimeError,
    OpeningHours,
    parse_opening_hours,
)

PARIS = ZoneInfo("Europe/Paris")
UTC = timezone.utc
HOUR = 3600
DAY_HO = 9 * HOUR  # 08:30-17:30


def paris(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=PARIS)


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=UTC)


@pytest.fixture(scope="module")
def cal() -> BusinessCalendar:
    return BusinessCalendar()


# --- nights and weekends -----------------------------------------------------------------------


def test_given_friday_1700_when_adding_one_hour_then_due_monday_0900(cal):
    due = cal.add_business_hours(paris(2026, 1, 9, 17, 0), 1)
    assert due == paris(2026, 1, 12, 9, 0)
    assert due.tzinfo is UTC and due == utc(2026, 1, 12, 8, 0)


def test_given_friday_1630_when_adding_one_hour_then_due_friday_1730_not_monday(cal):
    assert cal.add_business_hours(paris(2026, 1, 9, 16, 30), 1) == utc(2026, 1, 9, 16, 30)


def test_given_tuesday_0300_request_when_adding_one_hour_then_due_tuesday_0930(cal):
    due = cal.add_business_hours(paris(2026, 1, 13, 3, 0), 1)
    assert due == paris(2026, 1, 13, 9, 30) == utc(2026, 1, 13, 8, 30)


def test_given_saturday_1000_mail_when_adding_one_hour_then_due_monday_0930(cal):
    due = cal.add_business_hours(paris(2026, 1, 10, 10, 0), 1)
    assert due == paris(2026, 1, 12, 9, 30) == utc(2026, 1, 12, 8, 30)


def test_given_friday_1700_and_monday_0900_then_one_business_hour_between(cal):
    assert cal.business_seconds_between(paris(2026, 1, 9, 17), paris(2026, 1, 12, 9)) == 3600


def test_given_whole_week_then_five_times_nine_hours(cal):
    # Monday 12 January 2026 00:00 to the next Monday 00:00, no holiday in between.
    assert cal.business_seconds_between(paris(2026, 1, 12), paris(2026, 1, 19)) == 5 * DAY_HO


def test_given_end_before_start_then_zero_business_seconds(cal):
    assert cal.business_seconds_between(paris(2026, 1, 13, 12), paris(2026, 1, 13, 10)) == 0
    assert cal.business_seconds_between(paris(2026, 1, 13, 12), paris(2026, 1, 13, 12)) == 0
    assert list(cal.open_intervals(paris(2026, 1, 13, 12), paris(2026, 1, 13, 10))) == []


def test_given_opening_and_closing_instants_then_interval_is_half_open(cal):
    assert not cal.is_open(paris(2026, 1, 13, 8, 29, 59))
    assert cal.is_open(paris(2026, 1, 13, 8, 30))
    assert cal.is_open(paris(2026, 1, 13, 17, 29, 59))
    assert not cal.is_open(paris(2026, 1, 13, 17, 30))
    assert not cal.is_open(paris(2026, 1, 17, 10))  # Saturday


def test_given_open_instant_then_next_opening_is_itself_and_next_closing_is_1730(cal):
    at = paris(2026, 1, 13, 10, 15)
    assert cal.next_opening(at) == at
    assert cal.next_closing(at) == paris(2026, 1, 13, 17, 30)


def test_given_friday_evening_then_next_opening_monday_0830_and_next_closing_monday_1730(cal):
    at = paris(2026, 1, 9, 18)
    assert cal.next_opening(at) == utc(2026, 1, 12, 7, 30)
    assert cal.next_closing(at) == utc(2026, 1, 12, 16, 30)


def test_given_instant_in_any_zone_then_same_result_in_utc(cal):
    same_instant = [
        paris(2026, 1, 9, 17),
        utc(2026, 1, 9, 16),
        datetime(2026, 1, 10, 1, tzinfo=timezone(timedelta(hours=9))),  # Tokyo-like
        datetime(2026, 1, 9, 11, tzinfo=ZoneInfo("America/New_York")),
    ]
    results = {cal.add_business_hours(at, 1) for at in same_instant}
    assert results == {utc(2026, 1, 12, 8)}


def test_given_adding_zero_outside_hours_then_next_opening(cal):
    assert cal.add_business_seconds(paris(2026, 1, 10, 10), 0) == utc(2026, 1, 12, 7, 30)
    assert cal.add_business_seconds(paris(2026, 1, 13, 10), 0) == utc(2026, 1, 13, 9)


def test_given_open_intervals_over_a_weekend_then_clipped_in_utc(cal):
    got = list(cal.open_intervals(paris(2026, 1, 9, 12), paris(2026, 1, 12, 10)))
    assert got == [(utc(2026, 1, 9, 11), utc(2026, 1, 9, 16, 30)), (utc(2026, 1, 12, 7, 30), utc(2026, 1, 12, 9))]


# --- public holidays of metropolitan France ------------------------------------------------------


def test_given_easter_monday_2026_then_closed(cal):
    assert cal.holiday_name(date(2026, 4, 6)) == "Lundi de Pâques"
    assert cal.window(date(2026, 4, 6)) == []
    assert not cal.is_open(paris(2026, 4, 6, 10))
    # Friday 3 April 17:00 (Good Friday is a working day outside Alsace-Moselle) -> Tuesday 09:00.
    assert cal.add_business_hours(paris(2026, 4, 3, 17), 1) == paris(2026, 4, 7, 9) == utc(2026, 4, 7, 7)


def test_given_good_friday_then_open_because_national_list_not_alsace_moselle(cal):
    assert cal.holiday_name(date(2026, 4, 3)) is None
    assert cal.is_open(paris(2026, 4, 3, 10))
    assert cal.holiday_name(date(2026, 12, 26)) is None


def test_given_ascension_thursday_2026_then_closed(cal):
    assert cal.holiday_name(date(2026, 5, 14)) == "Ascension"
    assert cal.window(date(2026, 5, 14)) == []
    assert cal.add_business_hours(paris(2026, 5, 13, 17), 1) == paris(2026, 5, 15, 9) == utc(2026, 5, 15, 7)


def test_given_whit_monday_2026_then_closed(cal):
    assert cal.holiday_name(date(2026, 5, 25)) == "Lundi de Pentecôte"
    assert cal.add_business_hours(paris(2026, 5, 22, 17), 1) == paris(2026, 5, 26, 9) == utc(2026, 5, 26, 7)
    # Friday 22 May 08:30 to Tuesday 26 May 17:30: Friday + Tuesday only.
    assert cal.business_seconds_between(paris(2026, 5, 22, 8, 30), paris(2026, 5, 26, 17, 30)) == 2 * DAY_HO


def test_given_14_july_2026_on_tuesday_then_closed(cal):
    assert date(2026, 7, 14).weekday() == 1
    assert cal.holiday_name(date(2026, 7, 14)) == "Fête nationale"
    assert cal.add_business_hours(paris(2026, 7, 13, 17), 1) == paris(2026, 7, 15, 9) == utc(2026, 7, 15, 7)
    assert cal.business_seconds_between(paris(2026, 7, 13, 8, 30), paris(2026, 7, 15, 17, 30)) == 2 * DAY_HO


def test_given_1_may_2027_on_saturday_then_closed_and_friday_rolls_to_monday(cal):
    assert date(2027, 5, 1).weekday() == 5
    assert cal.holiday_name(date(2027, 5, 1)) == "Fête du Travail"
    assert cal.window(date(2027, 5, 1)) == []
    assert cal.add_business_hours(paris(2027, 4, 30, 17), 1) == paris(2027, 5, 3, 9) == utc(2027, 5, 3, 7)


def test_given_saturday_opening_on_1_may_2027_holiday_then_supervisor_exception_wins():
    cal = BusinessCalendar(exceptions=[CalendarException(date(2027, 5, 1), "opening", note="ordered")])
    assert cal.holiday_name(date(2027, 5, 1)) == "Fête du Travail"
    assert cal.window(date(2027, 5, 1)) == [(utc(2027, 5, 1, 6, 30), utc(2027, 5, 1, 15, 30))]
    assert cal.add_business_hours(paris(2027, 4, 30, 17), 1) == paris(2027, 5, 1, 9) == utc(2027, 5, 1, 7)


def test_given_opening_exception_on_weekday_holiday_then_open():
    cal = BusinessCalendar(exceptions=[CalendarException(date(2026, 7, 14), "opening", time(9), time(12))])
    assert cal.window(date(2026, 7, 14)) == [(paris(2026, 7, 14, 9), paris(2026, 7, 14, 12))]


def test_given_year_2026_then_252_open_days_matching_an_independent_count(cal):
    # By hand: 2026 starts on a Thursday and has 365 days = 52 weeks + 1 Thursday, so
    # 52 * 5 + 1 = 261 weekdays. Holidays on a weekday: 1 Jan (Thu), 6 Apr (Easter Monday),
    # 1 May (Fri), 8 May (Fri), 14 May (Ascension), 25 May (Whit Monday), 14 Jul (Tue),
    # 11 Nov (Wed), 25 Dec (Fri) = 9. (15 Aug is a Saturday, 1 Nov a Sunday.) 261 - 9 = 252.
    hand_written_holidays = {
        date(2026, 1, 1), date(2026, 4, 6), date(2026, 5, 1), date(2026, 5, 8), date(2026, 5, 14),
        date(2026, 5, 25), date(2026, 7, 14), date(2026, 8, 15), date(2026, 11, 1),
        date(2026, 11, 11), date(2026, 12, 25),
    }  # fmt: skip
    days = [date(2026, 1, 1) + timedelta(days=i) for i in range(365)]
    independent = sum(1 for d in days if d.weekday() < 5 and d not in hand_written_holidays)
    assert independent == 252
    assert sum(1 for d in days if cal.is_business_day(d)) == 252
    assert {d for d in days if cal.holiday_name(d)} == hand_written_holidays
    assert cal.business_seconds_between(paris(2026, 1, 1), paris(2027, 1, 1)) == 252 * DAY_HO


# --- DST ----------------------------------------------------------------------------------------


def test_given_friday_before_march_dst_change_when_adding_one_hour_then_monday_0900_summer_time(cal):
    # Sunday 29 March 2026: 02:00 CET -> 03:00 CEST.
    friday, monday = paris(2026, 3, 27, 17), paris(2026, 3, 30, 9)
    assert friday == utc(2026, 3, 27, 16) and monday == utc(2026, 3, 30, 7)
    assert cal.business_seconds_between(friday, monday) == 3600
    assert cal.add_business_hours(friday, 1) == utc(2026, 3, 30, 7)
    assert cal.window(date(2026, 3, 27)) == [(utc(2026, 3, 27, 7, 30), utc(2026, 3, 27, 16, 30))]
    assert cal.window(date(2026, 3, 30)) == [(utc(2026, 3, 30, 6, 30), utc(2026, 3, 30, 15, 30))]


def test_given_friday_to_monday_across_march_dst_then_utc_intervals_shift_by_one_hour(cal):
    got = list(cal.open_intervals(paris(2026, 3, 27, 8), paris(2026, 3, 30, 18)))
    assert got == [(utc(2026, 3, 27, 7, 30), utc(2026, 3, 27, 16, 30)), (utc(2026, 3, 30, 6, 30), utc(2026, 3, 30, 15, 30))]
    assert cal.business_seconds_between(paris(2026, 3, 27, 8), paris(2026, 3, 30, 18)) == 2 * DAY_HO
    # Friday 12:00 + 9 HO = 5h30 on Friday + 3h30 on Monday = Monday 12:00 Paris = 10:00 UTC.
    assert cal.add_business_hours(paris(2026, 3, 27, 12), 9) == utc(2026, 3, 30, 10)


def test_given_friday_before_october_dst_change_when_adding_one_hour_then_monday_0900_winter_time(cal):
    # Sunday 25 October 2026: 03:00 CEST -> 02:00 CET.
    friday, monday = paris(2026, 10, 23, 17), paris(2026, 10, 26, 9)
    assert friday == utc(2026, 10, 23, 15) and monday == utc(2026, 10, 26, 8)
    assert cal.business_seconds_between(friday, monday) == 3600
    assert cal.add_business_hours(friday, 1) == utc(2026, 10, 26, 8)


def test_given_friday_to_monday_across_october_dst_then_utc_intervals_shift_by_one_hour(cal):
    got = list(cal.open_intervals(paris(2026, 10, 23, 8), paris(2026, 10, 26, 18)))
    assert got == [(utc(2026, 10, 23, 6, 30), utc(2026, 10, 23, 15, 30)), (utc(2026, 10, 26, 7, 30), utc(2026, 10, 26, 16, 30))]
    assert cal.business_seconds_between(paris(2026, 10, 23, 8), paris(2026, 10, 26, 18)) == 2 * DAY_HO


# --- supervisor exceptions ------------------------------------------------------------------------


def test_given_saturday_opening_exception_then_saturday_counted():
    cal = BusinessCalendar(exceptions=[CalendarException(date(2026, 1, 10), "opening")])
    assert cal.window(date(2026, 1, 10)) == [(utc(2026, 1, 10, 7, 30), utc(2026, 1, 10, 16, 30))]
    assert cal.add_business_hours(paris(2026, 1, 9, 17), 1) == paris(2026, 1, 10, 9) == utc(2026, 1, 10, 8)
    assert cal.business_seconds_between(paris(2026, 1, 12), paris(2026, 1, 19)) == 5 * DAY_HO
    assert cal.business_seconds_between(paris(2026, 1, 5), paris(2026, 1, 12)) == 6 * DAY_HO
    # The next Saturday has no exception: closed.
    assert not cal.is_open(paris(2026, 1, 17, 10))


def test_given_saturday_opening_with_own_hours_then_only_those_hours():
    cal = BusinessCalendar(exceptions=[CalendarException(date(2026, 1, 10), "opening", time(9), time(12))])
    assert cal.business_seconds_between(paris(2026, 1, 10), paris(2026, 1, 11)) == 3 * HOUR
    assert cal.add_business_hours(paris(2026, 1, 9, 17), 4) == paris(2026, 1, 12, 9)  # 0.5 + 3 + 0.5


def test_given_opening_exception_on_normal_weekday_then_it_replaces_the_hours():
    cal = BusinessCalendar(exceptions=[CalendarException(date(2026, 1, 13), "opening", opens=time(10))])
    assert cal.window(date(2026, 1, 13)) == [(paris(2026, 1, 13, 10), paris(2026, 1, 13, 17, 30))]


def test_given_whole_day_closure_then_day_skipped():
    cal = BusinessCalendar(exceptions=[CalendarException(date(2026, 1, 14), "closure", note="strike")])
    assert cal.window(date(2026, 1, 14)) == []
    assert cal.add_business_hours(paris(2026, 1, 13, 17), 1) == paris(2026, 1, 15, 9)
    assert cal.business_seconds_between(paris(2026, 1, 12), paris(2026, 1, 19)) == 4 * DAY_HO


def test_given_partial_closure_then_day_split_in_two_windows():
    cal = BusinessCalendar(exceptions=[CalendarException(date(2026, 1, 15), "closure", time(12), time(14))])
    assert cal.window(date(2026, 1, 15)) == [
        (utc(2026, 1, 15, 7, 30), utc(2026, 1, 15, 11)),
        (utc(2026, 1, 15, 13), utc(2026, 1, 15, 16, 30)),
    ]
    assert not cal.is_open(paris(2026, 1, 15, 13))
    assert cal.next_opening(paris(2026, 1, 15, 13)) == paris(2026, 1, 15, 14)
    assert cal.next_closing(paris(2026, 1, 15, 10)) == paris(2026, 1, 15, 12)
    assert cal.add_business_hours(paris(2026, 1, 15, 11, 30), 1) == paris(2026, 1, 15, 14, 30)
    assert cal.business_seconds_between(paris(2026, 1, 15), paris(2026, 1, 16)) == 7 * HOUR


def test_given_closure_with_only_a_start_then_closed_until_end_of_day():
    cal = BusinessCalendar(exceptions=[CalendarException(date(2026, 1, 15), "closure", opens=time(15))])
    assert cal.window(date(2026, 1, 15)) == [(paris(2026, 1, 15, 8, 30), paris(2026, 1, 15, 15))]


def test_given_closure_and_opening_on_same_saturday_then_closure_wins():
    cal = BusinessCalendar(
        exceptions=[
            CalendarException(date(2026, 1, 10), "opening"),
            CalendarException(date(2026, 1, 10), "closure", time(8), time(10)),
        ]
    )
    assert cal.window(date(2026, 1, 10)) == [(paris(2026, 1, 10, 10), paris(2026, 1, 10, 17, 30))]


def test_given_exception_with_start_after_end_then_value_error():
    with pytest.raises(ValueError, match="2026-01-10"):
        CalendarException(date(2026, 1, 10), "opening", time(12), time(9))
    with pytest.raises(ValueError, match="kind"):
        CalendarException(date(2026, 1, 10), "holiday")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="empty"):
        BusinessCalendar(exceptions=[CalendarException(date(2026, 1, 10), "opening", opens=time(18))])


# --- lost calls: end of the next business day -------------------------------------------------------


def test_given_friday_before_whit_monday_then_end_of_next_business_day_is_tuesday_1730(cal):
    assert cal.end_of_next_business_day(paris(2026, 5, 22, 15)) == paris(2026, 5, 26, 17, 30)
    assert cal.end_of_next_business_day(paris(2026, 5, 22, 15)) == utc(2026, 5, 26, 15, 30)


def test_given_ordinary_tuesday_then_end_of_next_business_day_is_wednesday_1730(cal):
    assert cal.end_of_next_business_day(paris(2026, 1, 13, 10)) == utc(2026, 1, 14, 16, 30)
    # A Saturday: Monday.
    assert cal.end_of_next_business_day(paris(2026, 1, 10, 10)) == paris(2026, 1, 12, 17, 30)


# --- bad input --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda c, n: c.is_open(n),
        lambda c, n: c.next_opening(n),
        lambda c, n: c.next_closing(n),
        lambda c, n: list(c.open_intervals(n, paris(2026, 1, 20))),
        lambda c, n: c.business_seconds_between(paris(2026, 1, 1), n),
        lambda c, n: c.business_seconds_between(n, paris(2026, 1, 20)),
        lambda c, n: c.add_business_seconds(n, 60),
        lambda c, n: c.add_business_hours(n, 1),
        lambda c, n: c.end_of_next_business_day(n),
    ],
)
def test_given_naive_datetime_then_value_error(cal, call):
    with pytest.raises(ValueError, match="timezone-aware"):
        call(cal, datetime(2026, 1, 13, 10))


def test_given_negative_or_non_finite_amount_then_value_error(cal):
    with pytest.raises(ValueError, match=">= 0"):
        cal.add_business_seconds(paris(2026, 1, 13, 10), -1)
    with pytest.raises(ValueError, match="finite"):
        cal.add_business_hours(paris(2026, 1, 13, 10), float("nan"))


def test_given_calendar_with_no_opening_day_then_search_stops_at_horizon():
    cal = BusinessCalendar(OpeningHours(weekdays=frozenset()))
    with pytest.raises(NoBusinessTimeError, match=str(HORIZON_DAYS)):
        cal.next_opening(paris(2026, 1, 13, 10))
    with pytest.raises(NoBusinessTimeError):
        cal.add_business_hours(paris(2026, 1, 13, 10), 1)
    with pytest.raises(NoBusinessTimeError):
        cal.end_of_next_business_day(paris(2026, 1, 13, 10))
    assert cal.business_seconds_between(paris(2026, 1, 1), paris(2027, 1, 1)) == 0


def test_given_long_run_of_empty_days_shorter_than_horizon_then_search_continues():
    closures = [CalendarException(date(2026, 1, 1) + timedelta(days=i), "closure") for i in range(300)]
    cal = BusinessCalendar(exceptions=closures)
    # 1 Jan + 300 days = 28 October 2026 (Wednesday).
    assert cal.next_opening(paris(2026, 1, 1)) == paris(2026, 10, 28, 8, 30)


# --- settings ---------------------------------------------------------------------------------------


def test_given_default_setting_strings_then_default_opening_hours():
    assert parse_opening_hours("08:30", "17:30", "mon,tue,wed,thu,fri") == OpeningHours()
    assert parse_opening_hours(weekdays="mon-fri") == OpeningHours()
    assert parse_opening_hours(weekdays="Lun, Mar, Mer, Jeu, Ven") == OpeningHours()
    assert parse_opening_hours("9:00", "18:00:00", "sat,sun", "UTC") == OpeningHours(
        frozenset({5, 6}), time(9), time(18), "UTC"
    )


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"opens": "25:00"}, "'25:00'"),
        ({"closes": "17h30"}, "'17h30'"),
        ({"weekdays": "mon,fun"}, "'fun'"),
        ({"weekdays": "mon-fnd"}, "'fnd'"),
        ({"weekdays": ""}, "weekdays"),
        ({"opens": "18:00"}, "'18:00'"),
        ({"timezone": "Europe/Pariss"}, "'Europe/Pariss'"),
    ],
)
def test_given_bad_setting_string_then_value_error_naming_it(kwargs, named):
    with pytest.raises(ValueError, match=named):
        parse_opening_hours(**kwargs)


def test_given_invalid_opening_hours_object_then_value_error():
    with pytest.raises(ValueError, match="before"):
        OpeningHours(opens=time(18))
    with pytest.raises(ValueError, match="weekdays"):
        OpeningHours(weekdays=frozenset({7}))
    with pytest.raises(ValueError, match="Mars/Olympus"):
        OpeningHours(timezone="Mars/Olympus")


# --- properties: add and between round-trip ----------------------------------------------------------


def _random_instant(rng: random.Random) -> datetime:
    # Anywhere in 2026-2027 (both DST changes, all holidays), to the microsecond, in a random zone.
    base = utc(2026, 1, 1) + timedelta(microseconds=rng.randrange(2 * 365 * 86400 * 10**6))
    zone = rng.choice([UTC, PARIS, ZoneInfo("America/Cayenne"), timezone(timedelta(hours=5, minutes=30))])
    return base.astimezone(zone)


def test_property_given_random_instants_when_adding_then_between_returns_the_amount():
    cal = BusinessCalendar(
        exceptions=[
            CalendarException(date(2026, 6, 13), "opening"),
            CalendarException(date(2026, 9, 16), "closure", time(12), time(14)),
            CalendarException(date(2027, 2, 3), "closure"),
        ]
    )
    rng = random.Random(20260406)
    for _ in range(400):
        start = _random_instant(rng)
        amount = rng.randrange(0, 60 * HOUR * 10**6) / 10**6  # up to ~6.7 business days, in µs
        due = cal.add_business_seconds(start, amount)
        assert due.tzinfo is UTC
        assert due >= start
        assert cal.business_seconds_between(start, due) == pytest.approx(amount, abs=1e-6)
        # The deadline is an open instant or a closing instant, never inside closed time.
        assert cal.is_open(due) or any(e == due for _, e in cal.window(due.astimezone(PARIS).date()))
        if amount > 0:
            assert cal.add_business_seconds(start, amount + 1) > due


def test_property_given_random_pairs_when_between_then_adding_it_back_reaches_the_end():
    cal = BusinessCalendar()
    rng = random.Random(1789)
    checked = 0
    for _ in range(400):
        start = _random_instant(rng)
        # Absolute arithmetic (in UTC): aware + timedelta in a DST zone would add wall time.
        end = (start.astimezone(UTC) + timedelta(seconds=rng.randrange(1, 20 * 86400))).astimezone(start.tzinfo)
        seconds = cal.business_seconds_between(start, end)
        # Same total as the independent sum over the clipped intervals.
        assert seconds == pytest.approx(sum((e - s).total_seconds() for s, e in cal.open_intervals(start, end)), abs=1e-6)
        assert 0 <= seconds <= (end.astimezone(UTC) - start.astimezone(UTC)).total_seconds()
        if cal.is_open(end):
            assert cal.add_business_seconds(start, seconds) == end
            checked += 1
        elif seconds > 0:
            # end outside hours: adding the amount back gives the last closing before end.
            due = cal.add_business_seconds(start, seconds)
            assert due <= end and cal.business_seconds_between(due, end) == 0
    assert checked > 50  # the property was really exercised
