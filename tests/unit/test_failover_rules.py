"""The switchover rules (failover/rules.py): pure decisions with hysteresis."""

from __future__ import annotations

import pytest

from failover.rules import (
    AUTOMATIC,
    FAILBACK,
    MANUAL,
    Act,
    HealthHistory,
    LeaseState,
    RuleSettings,
    Situation,
    decide,
)

RS = RuleSettings(failures_to_switch=3, failure_window=30, min_seconds_between_switchovers=300,
                  auto_failback=False, failback_after=600, free_lease_grace=20)


def history(*results: bool, start: float = 0.0, step: float = 5.0) -> HealthHistory:
    h = HealthHistory()
    for i, ok in enumerate(results):
        h.record(start + i * step, ok)
    return h


def situation(**kw) -> Situation:
    base = dict(
        now=100.0, me="backup", peer="primary", preferred=False, active=False,
        lease=LeaseState(holder="primary", expired=False),
        own=history(True, True, True), own_but_database=history(True, True, True),
        peer_health=history(True, True, True), peer_database=history(True, True, True),
        local_database_is_standby=True, last_switchover_at=None,
    )
    base.update(kw)
    return Situation(**base)


# ---------------------------------------------------------------- the history


def test_given_n_failures_in_a_row_within_the_window_then_failing():
    h = history(True, False, False, False, start=80)
    assert h.failing(now=100, n=3, window=30)
    assert h.first_failure() == 85


def test_given_failures_interrupted_by_one_success_then_not_failing():
    h = history(False, False, True, False, False, start=80)
    assert not h.failing(now=105, n=3, window=30)


def test_given_old_failures_outside_the_window_then_not_failing():
    h = history(False, False, False, step=30)  # at 0, 30, 60
    assert not h.failing(now=100, n=3, window=30)


def test_healthy_since_is_the_start_of_the_current_good_run():
    h = history(False, True, True, step=10)
    assert h.healthy_since() == 10
    assert history(True, False).healthy_since() is None


# ---------------------------------------------------------------- standby site


def test_given_healthy_active_peer_then_standby_does_nothing():
    assert decide(situation(), RS).act is Act.NONE


def test_given_peer_failed_three_rounds_then_handover_is_requested_with_the_first_failure_time():
    d = decide(situation(peer_health=history(True, False, False, False, start=80)), RS)
    assert d.act is Act.REQUEST_HANDOVER and d.kind == AUTOMATIC
    assert d.detected_at == 85


def test_given_peer_failed_two_rounds_only_then_nothing():
    assert decide(situation(peer_health=history(True, True, False, False, start=80)), RS).act is Act.NONE


@pytest.mark.parametrize("pattern", [
    (False, False, True) * 6,
    (False, True) * 9,
    (True, False, False) * 6,
])
def test_given_flapping_peer_health_then_never_any_switchover(pattern):
    """Health that comes and goes: at no point of the sequence does the standby act."""
    h = HealthHistory()
    for i, ok in enumerate(pattern):
        now = 100.0 + 5 * i
        h.record(now, ok)
        d = decide(situation(now=now, peer_health=h), RS)
        assert d.act is Act.NONE, (i, d)


def test_given_a_recent_switchover_then_hold_down_prevents_another_automatic_one():
    failed = history(False, False, False, start=90)
    d = decide(situation(now=100, peer_health=failed, last_switchover_at=50), RS)
    assert d.act is Act.NONE and "hold-down" in d.reason
    d = decide(situation(now=400, peer_health=history(False, False, False, start=390),
                         last_switchover_at=50), RS)
    assert d.act is Act.REQUEST_HANDOVER


def test_given_expired_lease_of_failed_peer_then_take_over_even_during_hold_down():
    d = decide(situation(now=100, peer_health=history(False, False, False, start=90), last_switchover_at=90,
                         lease=LeaseState(holder="primary", expired=True)), RS)
    assert d.act is Act.ACQUIRE and d.kind == AUTOMATIC and d.detected_at == 90


def test_given_unhealthy_own_site_then_never_takes_over():
    d = decide(situation(own=history(True, False), peer_health=history(False, False, False, start=90),
                         lease=LeaseState(holder="primary", expired=True)), RS)
    assert d.act is Act.NONE


def test_given_free_lease_then_the_preferred_site_takes_it_at_once():
    d = decide(situation(me="primary", peer="backup", preferred=True, lease=LeaseState(None, True)), RS)
    assert d.act is Act.ACQUIRE and d.kind == "initial"


def test_given_free_lease_and_healthy_preferred_peer_then_backup_waits_then_takes_it_after_grace():
    lease = LeaseState(None, True, free_since=95)
    assert decide(situation(now=100, lease=lease), RS).act is Act.NONE
    assert decide(situation(now=120, lease=lease), RS).act is Act.ACQUIRE


def test_given_database_unwritable_and_primary_database_failed_then_promote():
    d = decide(situation(lease=None, peer_database=history(True, False, False, False, start=80),
                         own=history(True, False), own_but_database=history(True, True)), RS)
    assert d.act is Act.PROMOTE and d.detected_at == 85


def test_given_database_unwritable_but_primary_database_answers_then_no_promotion():
    d = decide(situation(lease=None, peer_database=history(False, True, start=90)), RS)
    assert d.act is Act.NONE
    d = decide(situation(lease=None, local_database_is_standby=False,
                         peer_database=history(False, False, False, start=90)), RS)
    assert d.act is Act.NONE


def test_given_request_for_this_site_and_lease_released_then_acquire_with_the_request_kind():
    lease = LeaseState(holder=None, expired=True, requested_holder="backup", request_kind=MANUAL, request_live=True)
    d = decide(situation(lease=lease), RS)
    assert d.act is Act.ACQUIRE and d.kind == MANUAL


def test_given_lease_handed_to_the_other_site_then_this_one_does_not_take_it_back():
    lease = LeaseState(holder=None, expired=True, requested_holder="backup", request_kind=MANUAL, request_live=True)
    d = decide(situation(me="primary", peer="backup", preferred=True, lease=lease), RS)
    assert d.act is Act.NONE


# ---------------------------------------------------------------- active site


def active(**kw) -> Situation:
    base = dict(me="primary", peer="backup", preferred=True, active=True,
                lease=LeaseState(holder="primary", expired=False))
    base.update(kw)
    return situation(**base)


def test_given_manual_request_then_active_site_releases():
    lease = LeaseState("primary", False, requested_holder="backup", request_kind=MANUAL, request_live=True)
    d = decide(active(lease=lease), RS)
    assert d.act is Act.RELEASE and d.kind == MANUAL


def test_given_manual_request_to_an_unhealthy_site_then_refused():
    lease = LeaseState("primary", False, requested_holder="backup", request_kind=MANUAL, request_live=True)
    d = decide(active(lease=lease, peer_health=history(True, False)), RS)
    assert d.act is Act.REFUSE_REQUEST and "not healthy" in d.reason


def test_given_released_lease_keeps_its_last_holder_then_the_requested_site_takes_it():
    lease = LeaseState("primary", True, requested_holder="backup", request_kind=MANUAL, request_live=True)
    assert decide(situation(lease=lease), RS).act is Act.ACQUIRE
    d = decide(situation(me="primary", peer="backup", preferred=True, lease=lease), RS)
    assert d.act is Act.NONE


def test_given_automatic_request_but_own_checks_pass_then_refused():
    lease = LeaseState("primary", False, requested_holder="backup", request_kind=AUTOMATIC, request_live=True)
    assert decide(active(lease=lease), RS).act is Act.REFUSE_REQUEST


def test_given_own_checks_failing_and_healthy_peer_then_active_site_hands_over():
    d = decide(active(own=history(True, False, False, False, start=80)), RS)
    assert d.act is Act.RELEASE and d.detected_at == 85


def test_given_own_checks_failing_and_peer_unhealthy_too_then_keeps_serving():
    d = decide(active(own=history(False, False, False, start=90), peer_health=history(False)), RS)
    assert d.act is Act.NONE


def test_given_auto_failback_then_only_after_stable_health_and_hold_down():
    rs = RuleSettings(**{**RS.__dict__, "auto_failback": True})
    lease = LeaseState(holder="backup", expired=False)
    base = dict(me="primary", peer="backup", preferred=True, lease=lease)
    recent = history(True, True, start=500)
    assert decide(situation(now=510, own=recent, last_switchover_at=0, **base), rs).act is Act.NONE
    stable = history(*([True] * 200), start=0)
    d = decide(situation(now=1000, own=stable, last_switchover_at=0, **base), rs)
    assert d.act is Act.REQUEST_HANDOVER and d.kind == FAILBACK
    assert decide(situation(now=1000, own=stable, last_switchover_at=0, **base), RS).act is Act.NONE
