"""Pure parts of the indicators: periods in Paris time, targets on exact fractions, the
evaluation rules (no data, incentive runs, semester drills, satisfaction), the recovery
window, the survey scale, and the French definitions that follow the settings."""

from __future__ import annotations

from datetime import UTC, date, datetime
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest

from guichet.settings import SettingsError
from indicators import compute as q
from indicators import periods as P
from indicators.catalogue import BY_ID, COMPUTED, INDICATORS, PENALISED, fmt_percent, incentive_text
from indicators.definitions import Clocks, glossary, settings_table, wording
from indicators.services import Evaluator, Raw
from indicators.settings import IndicatorSettings, load_indicator_settings
from ticket_core.business_time import BusinessCalendar

PARIS = ZoneInfo("Europe/Paris")


def test_months_start_at_paris_midnight_across_dst():
    p = P.months((2026, 4), 3, PARIS)
    assert p.keys == ("2026-02", "2026-03", "2026-04")
    # 1 Feb and 1 Mar 00:00 CET = 23:00 UTC the day before; 1 Apr 00:00 CEST = 22:00 UTC
    assert p.bounds == (datetime(2026, 1, 31, 23, tzinfo=UTC), datetime(2026, 2, 28, 23, tzinfo=UTC),
                        datetime(2026, 3, 31, 22, tzinfo=UTC), datetime(2026, 4, 30, 22, tzinfo=UTC))
    assert p.index_of(datetime(2026, 3, 31, 21, 59, 59, tzinfo=UTC)) == 1
    assert p.index_of(datetime(2026, 3, 31, 22, 0, tzinfo=UTC)) == 2
    assert p.index_of(datetime(2026, 4, 30, 22, 0, tzinfo=UTC)) is None
    assert P.month_label("2026-08") == "août 2026" and P.month_label("2026-02", short=True) == "févr. 2026"
    assert P.day_label(date(2026, 11, 1)) == "dimanche 1er novembre 2026"
    with pytest.raises(ValueError):
        P.parse_month("2026-13")


def test_targets_compare_exact_fractions():
    t = BY_ID["T2-IQ01"].target
    assert t.met(Fraction(4, 5)) and not t.met(Fraction(7999, 10000))
    assert BY_ID["T2-IQ02"].target.met(Fraction(1, 10)) and not BY_ID["T2-IQ02"].target.met(Fraction(101, 1000))
    assert not BY_ID["T2-IQ06"].target.met(Fraction(9, 10))  # "> 90 %": strictly
    assert BY_ID["T3-IQ03"].target.met(Fraction(2, 1))  # more drills than expected is fine
    assert fmt_percent(Fraction(1, 3)) == "33,3\u202f%"
    assert set(PENALISED) >= {"T1-IQ01", "T2-IQ01", "T2-IQ10", "T3-IQ03", "T7-IQ05"}
    assert "T2-IQ06" not in PENALISED and "T8-IQ01" not in PENALISED
    assert len(INDICATORS) == 31 and "T2-IQ04" in COMPUTED and "T4-IQ01" not in COMPUTED


def _raw(presented: list[int], in_time: list[int]) -> Raw:
    n = len(presented)
    keys = tuple(f"2026-{m:02d}" for m in range(1, n + 1))
    p = P.months((2026, n), n, PARIS)
    contacts = {i: q.PhoneCounts(presented=presented[i], answered_in_time=in_time[i], received=presented[i])
                for i in range(n) if presented[i]}
    assert p.keys == keys
    return Raw(p, datetime(2027, 1, 1, tzinfo=UTC), contacts, [], {}, {}, {}, {}, {}, {}, {}, {}, [], {}, {})


def test_incentive_runs_count_consecutive_months_below_target():
    # months: 90 %, 70 %, 70 %, 70 %, 70 %, no call, 70 %, 85 %
    raw = _raw([10, 10, 10, 10, 10, 0, 10, 20], [9, 7, 7, 7, 7, 0, 7, 17])
    series = Evaluator(IndicatorSettings()).evaluate(raw)
    pts = series["T2-IQ01"]
    assert [pts[k].run for k in raw.periods.keys] == [0, 1, 2, 3, 4, 0, 1, 0]
    assert [pts[k].status for k in raw.periods.keys][5] == "no_data"
    assert incentive_text(1).startswith("Mise en observation")
    assert incentive_text(2).startswith("Réfactions possibles et mise en demeure")
    assert incentive_text(4) == incentive_text(3)
    # a non-penalised indicator has no run
    assert all(p.run == 0 for p in series["T2-IQ06"].values())


def test_zero_denominator_is_no_data_with_a_reason():
    raw = _raw([0], [0])
    pts = Evaluator(IndicatorSettings()).evaluate(raw)
    for iid in ("T2-IQ01", "T2-IQ04", "T2-IQ05", "T2-IQ07", "T2-IQ10", "T8-IQ01", "T1-IQ01", "T3-IQ03"):
        p = pts[iid]["2026-01"]
        assert p.status == "no_data" and p.value is None and p.reason, iid


def test_drills_in_progress_until_the_semester_ends():
    raw = _raw([0, 0, 0, 0, 0, 0], [0] * 6)
    raw.drills = {1: q.Drills(done=0, expected=1), 5: q.Drills(done=0, expected=1, semester_complete=True),
                  3: q.Drills(done=1, expected=1)}
    pts = Evaluator(IndicatorSettings()).evaluate(raw)["T3-IQ03"]
    assert pts["2026-02"].status == "in_progress" and pts["2026-02"].run == 0
    assert pts["2026-04"].status == "met"
    assert pts["2026-06"].status == "missed" and pts["2026-06"].run == 1


def test_survey_scale():
    assert q.survey_category("tres_satisfait") == "very" and q.survey_category("satisfait") == "satisfied"
    assert q.survey_category("pas satisfait") == "unsatisfied"
    assert [q.survey_category(v) for v in (3, 2, 1)] == ["very", "satisfied", "unsatisfied"]
    assert [q.survey_category(v, 5) for v in (5, 4, 3, 1)] == ["very", "satisfied", "unsatisfied", "unsatisfied"]
    assert q.survey_category("bof") is None and q.survey_category(True) is None


def test_recovery_window_skips_weekends_and_holidays():
    cal = BusinessCalendar()
    w = q.RecoveryWindows(cal, 1)
    # lost Friday 3 April 2026 16:05 → next business day is Tuesday 7 (Easter Monday 6)
    assert w.end(datetime(2026, 4, 3, 14, 5, tzinfo=UTC)) == datetime(2026, 4, 7, 15, 30, tzinfo=UTC)
    # lost Thursday 30 April 2026 → Friday 1 May is a holiday → Monday 4 May 17:30
    assert w.end(datetime(2026, 4, 30, 10, 0, tzinfo=UTC)) == datetime(2026, 5, 4, 15, 30, tzinfo=UTC)
    w2 = q.RecoveryWindows(cal, 2)
    assert w2.end(datetime(2026, 4, 3, 14, 5, tzinfo=UTC)) == datetime(2026, 4, 8, 15, 30, tzinfo=UTC)


def test_definitions_follow_the_settings():
    s = IndicatorSettings()
    terms = {t.key: t.text for t in glossary(s, Clocks())}
    assert "strictement inférieur à 40 secondes" in terms["pickup"]
    assert "40 s exactement n'est pas compté" in terms["pickup"]
    assert "seuil réglé à 0 seconde" in terms["short"]
    assert "n'est pas comptée comme un abandon" in terms["abandoned"]
    w = wording("T2-IQ01", s, Clocks())
    assert w.numerator.startswith("appels présentés décrochés") and w.denominator.startswith("appels présentés")
    s2 = IndicatorSettings(short_abandon_seconds=5, callback_requested_is_abandoned=True, pickup_seconds=30)
    assert "inférieure à 5 s" in wording("T2-IQ02", s2, Clocks()).rules[0]
    assert "30 s" in wording("T2-IQ01", s2, Clocks()).numerator
    assert "est comptée comme un abandon" in {t.key: t.text for t in glossary(s2, Clocks())}["abandoned"]
    for ind in INDICATORS:
        assert (wording(ind.id, s, Clocks()) is None) == (ind.not_recorded is not None), ind.id
    assert any(v == "GUICHET_INDICATORS_SHORT_ABANDON_SECONDS" for v, _, _ in settings_table(s, Clocks()))


def test_settings_from_the_environment(monkeypatch):
    monkeypatch.setenv("GUICHET_INDICATORS_SHORT_ABANDON_SECONDS", "5")
    monkeypatch.setenv("GUICHET_INDICATORS_AVAILABILITY_CHECKS", "sip, ari,ari")
    s = load_indicator_settings()
    assert s.short_abandon_seconds == 5 and s.checks == ("ari", "sip")
    monkeypatch.setenv("GUICHET_INDICATORS_PICKUP_SECONDS", "-1")
    with pytest.raises(SettingsError, match="GUICHET_INDICATORS_PICKUP_SECONDS"):
        load_indicator_settings()


def test_chart_ticks_keep_their_decimal_when_they_have_one():
    from indicators.charts import _pct_tick

    assert [_pct_tick(v) for v in (0.8, 0.775, 0.825, 1.0)] == ["80\u202f%", "77,5\u202f%", "82,5\u202f%", "100\u202f%"]
