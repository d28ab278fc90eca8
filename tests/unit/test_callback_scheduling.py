"""Callback scheduling rules with a fixed calendar: hand-computed instants (UTC)."""

from datetime import UTC, date, datetime

from callback.scheduling import first_attempt_due, may_place_now, next_attempt_due, recovery_deadline
from ticket_core.business_time import BusinessCalendar, CalendarException

CAL = BusinessCalendar()
DELAY, CUTOFF = 300.0, 900.0


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def test_given_call_lost_at_1000_then_called_back_five_business_minutes_later():
    # Tuesday 3 March 2026, 10:00 Paris = 09:00 UTC.
    assert first_attempt_due(CAL, utc(2026, 3, 3, 9, 0), delay_seconds=DELAY, cutoff_seconds=CUTOFF) == utc(2026, 3, 3, 9, 5)


def test_given_call_lost_friday_1725_before_whit_monday_then_called_back_tuesday_0830():
    # Friday 22 May 2026 17:25 Paris (CEST) = 15:25 UTC; Monday 25 May is Whit Monday.
    due = first_attempt_due(CAL, utc(2026, 5, 22, 15, 25), delay_seconds=DELAY, cutoff_seconds=CUTOFF)
    assert due == utc(2026, 5, 26, 6, 30)  # Tuesday 08:30 Paris


def test_given_call_lost_at_1712_then_not_placed_in_the_last_fifteen_minutes():
    # Tuesday 17:12 + 5 min = 17:17, 13 min before 17:30 → Wednesday 08:30 (07:30 UTC in March).
    due = first_attempt_due(CAL, utc(2026, 3, 3, 16, 12), delay_seconds=DELAY, cutoff_seconds=CUTOFF)
    assert due == utc(2026, 3, 4, 7, 30)
    # 17:05 + 5 min = 17:10 leaves 20 minutes: placed the same day.
    due = first_attempt_due(CAL, utc(2026, 3, 3, 16, 5), delay_seconds=DELAY, cutoff_seconds=CUTOFF)
    assert due == utc(2026, 3, 3, 16, 10)


def test_given_call_lost_at_night_then_called_back_next_opening_plus_delay():
    # Wednesday 03:00 Paris: the delay runs in business time → 08:35.
    due = first_attempt_due(CAL, utc(2026, 3, 4, 2, 0), delay_seconds=DELAY, cutoff_seconds=CUTOFF)
    assert due == utc(2026, 3, 4, 7, 35)


def test_given_saturday_opening_then_callback_placed_on_saturday():
    cal = BusinessCalendar(exceptions=[CalendarException(day=date(2026, 3, 7), kind="opening")])
    # Friday 17:25 → Saturday 08:30 (the supervisor opened that Saturday).
    due = first_attempt_due(cal, utc(2026, 3, 6, 16, 25), delay_seconds=DELAY, cutoff_seconds=CUTOFF)
    assert due == utc(2026, 3, 7, 7, 30)


def test_given_failed_attempt_then_retry_after_spacing_inside_hours():
    assert next_attempt_due(CAL, utc(2026, 3, 3, 9, 0), spacing_seconds=900, cutoff_seconds=CUTOFF) == utc(2026, 3, 3, 9, 15)
    # failed at 17:00 Paris → 17:15 is inside the cutoff → next morning 08:30
    assert next_attempt_due(CAL, utc(2026, 3, 3, 16, 0), spacing_seconds=900, cutoff_seconds=CUTOFF) == utc(2026, 3, 4, 7, 30)


def test_recovery_window_ends_with_next_business_day():
    # Lost Friday 22 May 2026 → Tuesday 26 May 17:30 Paris = 15:30 UTC.
    assert recovery_deadline(CAL, utc(2026, 5, 22, 15, 25)) == utc(2026, 5, 26, 15, 30)


def test_may_place_now_only_when_open_and_before_cutoff():
    assert may_place_now(CAL, utc(2026, 3, 3, 9, 0), CUTOFF)
    assert not may_place_now(CAL, utc(2026, 3, 3, 16, 20), CUTOFF)  # 17:20 Paris
    assert not may_place_now(CAL, utc(2026, 3, 7, 9, 0), CUTOFF)  # Saturday
