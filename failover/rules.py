"""When to switch over: pure decisions, no I/O (unit-tested in tests/unit/test_failover_rules.py).

Each site calls :func:`decide` after every probe round with what it knows — its own
health, the other site's, the lease — and does what the decision says. Flapping is
prevented at four levels:

1. a site is *failed* only after ``failures_to_switch`` failed rounds in a row, all
   within ``failure_window`` seconds: one good round resets the count, so a health that
   comes and goes never reaches it;
2. a hold-down: no automatic switchover sooner than ``min_seconds_between_switchovers``
   after the previous one — except when the lease has expired (nobody serves: someone
   must);
3. no automatic failback unless enabled, and then only after the preferred site has been
   healthy for ``failback_after`` seconds;
4. the lease itself: a site acts only on a lease it holds, the other one only when it has
   expired or was handed over — two sites never both decide to be active.

Times are seconds on one clock (the runtime uses ``time.time()``).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import StrEnum

AUTOMATIC, MANUAL, FAILBACK, DRILL, SELF_RELEASE, INITIAL, RESUME = (
    "automatic", "manual", "failback", "drill", "self_release", "initial", "resume")


@dataclass(frozen=True)
class RuleSettings:
    failures_to_switch: int = 3
    failure_window: float = 60.0
    min_seconds_between_switchovers: float = 600.0
    auto_failback: bool = False
    failback_after: float = 1800.0
    #: A site that is not the preferred one takes a lease nobody has taken for this long
    #: (the preferred site never started, and has not been seen failing either).
    free_lease_grace: float = 30.0

    @classmethod
    def from_settings(cls, s: object) -> RuleSettings:
        return cls(
            failures_to_switch=s.failures_to_switch, failure_window=s.failure_window,  # type: ignore[attr-defined]
            min_seconds_between_switchovers=s.min_seconds_between_switchovers,  # type: ignore[attr-defined]
            auto_failback=s.auto_failback, failback_after=s.failback_after,  # type: ignore[attr-defined]
            free_lease_grace=max(2 * s.lease_ttl, 3 * s.probe_interval * s.failures_to_switch),  # type: ignore[attr-defined]
        )


class HealthHistory:
    """The results of the probe rounds of one thing (a site, a database): ok or not."""

    def __init__(self, maxlen: int = 500) -> None:
        self._rounds: deque[tuple[float, bool]] = deque(maxlen=maxlen)

    def record(self, at: float, ok: bool) -> None:
        self._rounds.append((at, ok))

    @property
    def last(self) -> bool | None:
        return self._rounds[-1][1] if self._rounds else None

    @property
    def last_at(self) -> float | None:
        return self._rounds[-1][0] if self._rounds else None

    def streak(self) -> list[float]:
        """Times of the current run of failures (oldest first); empty when the last was ok."""
        out: list[float] = []
        for at, ok in reversed(self._rounds):
            if ok:
                break
            out.append(at)
        return out[::-1]

    def failing(self, now: float, n: int, window: float) -> bool:
        """The last ``n`` rounds all failed, the oldest of them at most ``window`` ago."""
        streak = self.streak()
        if len(streak) < n:
            return False
        return streak[-n] >= now - window

    def first_failure(self) -> float | None:
        streak = self.streak()
        return streak[0] if streak else None

    def healthy_since(self) -> float | None:
        """Start of the current run of good rounds (None when the last one failed)."""
        since = None
        for at, ok in reversed(self._rounds):
            if not ok:
                break
            since = at
        return since


@dataclass(frozen=True)
class LeaseState:
    holder: str | None
    expired: bool  # no holder, or its time is past (database time)
    requested_holder: str | None = None
    request_kind: str | None = None
    request_live: bool = False  # a request younger than the handover timeout
    free_since: float | None = None  # when this site first saw it free


@dataclass(frozen=True)
class Situation:
    now: float
    me: str
    peer: str
    preferred: bool  # this site is the preferred one
    active: bool  # this site holds the lease and is activated
    lease: LeaseState | None  # None: the database cannot be written from here
    own: HealthHistory  # this site, critical checks
    own_but_database: HealthHistory  # this site, critical checks except the database
    peer_health: HealthHistory  # the other site, critical checks (as seen from here)
    peer_database: HealthHistory  # the other site's PostgreSQL server
    local_database_is_standby: bool = False
    last_switchover_at: float | None = None


class Act(StrEnum):
    NONE = "none"
    ACQUIRE = "acquire"  # take the (free, expired or handed-over) lease and activate
    PROMOTE = "promote"  # promote the local standby, then take over
    REQUEST_HANDOVER = "request_handover"  # ask the holder to hand over (it may be dead: then the lease expires)
    RELEASE = "release"  # deactivate and hand the lease over
    REFUSE_REQUEST = "refuse_request"  # an automatic request this site's own checks contradict


@dataclass(frozen=True)
class Decision:
    act: Act
    reason: str
    kind: str | None = None  # switchover kind when it leads to one
    detected_at: float | None = None  # when the failure was first seen


def _hold_down_passed(sit: Situation, rs: RuleSettings) -> bool:
    return sit.last_switchover_at is None or sit.now - sit.last_switchover_at >= rs.min_seconds_between_switchovers


def decide(sit: Situation, rs: RuleSettings) -> Decision:
    n, window = rs.failures_to_switch, rs.failure_window
    lease = sit.lease
    own_fit = sit.own.last is True
    peer_failed = sit.peer_health.failing(sit.now, n, window)

    if lease is None:
        # The shared database cannot be written: if the other site's server is the one
        # that failed and ours is its standby, promote ours (this is how the data moves).
        if (sit.local_database_is_standby and sit.peer_database.failing(sit.now, n, window)
                and sit.own_but_database.last is True):
            return Decision(Act.PROMOTE, "the primary database failed: promote the standby", AUTOMATIC,
                            sit.peer_database.first_failure())
        return Decision(Act.NONE, "database unreachable")

    if sit.active:
        if lease.request_live and lease.requested_holder == sit.peer:
            if lease.request_kind == AUTOMATIC and own_fit:
                return Decision(Act.REFUSE_REQUEST, "the other site sees this one failing, its own checks pass")
            if sit.peer_health.last is not True:
                # Handing over to a site that cannot serve would stop the service.
                return Decision(Act.REFUSE_REQUEST, "the requested site is not healthy")
            return Decision(Act.RELEASE, f"handover requested ({lease.request_kind})", lease.request_kind)
        if (sit.own.failing(sit.now, n, window) and sit.peer_health.last is True
                and _hold_down_passed(sit, rs)):
            return Decision(Act.RELEASE, "this site failed its checks: hand over to the other one",
                            SELF_RELEASE, sit.own.first_failure())
        return Decision(Act.NONE, "active")

    free = lease.holder is None or lease.expired
    if lease.holder == sit.me and not lease.expired:
        # Ours from before a restart of this application.
        return (Decision(Act.ACQUIRE, "the lease is this site's (restart)", RESUME) if own_fit
                else Decision(Act.NONE, "own site unhealthy"))
    if free:
        if lease.request_live and lease.requested_holder not in (None, sit.me):
            return Decision(Act.NONE, "handed over to the other site")
        if not own_fit:
            return Decision(Act.NONE, "own site unhealthy: cannot take over")
        if lease.request_live and lease.requested_holder == sit.me:
            return Decision(Act.ACQUIRE, f"handed over to this site ({lease.request_kind})", lease.request_kind)
        kind = AUTOMATIC if lease.holder == sit.peer else INITIAL
        if sit.preferred:
            return Decision(Act.ACQUIRE, "the lease is free: the preferred site takes it", kind,
                            sit.peer_health.first_failure() if kind == AUTOMATIC else None)
        if peer_failed:
            return Decision(Act.ACQUIRE, "the active site failed and its lease expired", kind,
                            sit.peer_health.first_failure())
        if lease.free_since is not None and sit.now - lease.free_since >= rs.free_lease_grace:
            return Decision(Act.ACQUIRE, "nobody took the free lease", kind,
                            sit.peer_health.first_failure())
        return Decision(Act.NONE, "the lease is free: waiting for the preferred site")

    # Held by the other site and not expired.
    if lease.request_live and lease.requested_holder == sit.me:
        return Decision(Act.NONE, "waiting for the other site to hand over")
    if peer_failed:
        if not own_fit:
            return Decision(Act.NONE, "the active site failed, but this one is unhealthy too")
        if not _hold_down_passed(sit, rs):
            return Decision(Act.NONE, "the active site failed: hold-down after the last switchover")
        return Decision(Act.REQUEST_HANDOVER, "the active site failed its checks", AUTOMATIC,
                        sit.peer_health.first_failure())
    if rs.auto_failback and sit.preferred and own_fit and sit.peer_health.last is True:
        since = sit.own.healthy_since()
        if since is not None and sit.now - since >= rs.failback_after and _hold_down_passed(sit, rs):
            return Decision(Act.REQUEST_HANDOVER, "the preferred site is healthy again: failback", FAILBACK)
    return Decision(Act.NONE, "standby")
