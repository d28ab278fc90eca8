"""The ACD's pure routing core.

No I/O, no asyncio, no clock reads: every command that depends on time takes ``now``, an
aware UTC ``datetime``. The Stasis app (``telephony/``) drives one :class:`Acd` object per
group of queues it is the decision-maker for; this module never talks to Asterisk.

Public surface
==============

Values
    :class:`Call` (call id, audience, caller number, priority), :class:`AcdSettings`
    (per-ACD defaults, optionally overridden per queue), :class:`OperatorState`,
    :class:`CallState`, :class:`AcdError` (``error_id`` is stable, e.g. ``"operator_not_found"``),
    read-only views :class:`OperatorView` and :class:`CallView`.

Roster
    ``register_operator(operator_id, display_name, endpoint, skills)`` adds or updates an
    operator's profile (skills ``{audience: level 1..5}``, higher = more expert). It is not a
    state change and records no event.

Commands (each validates everything first and raises :class:`AcdError` before touching any
state, so a failed command never leaves a half-applied state)
    ``login(op, now)``, ``logout(op, now)``, ``pause(op, reason, now)``, ``unpause(op, now)``,
    ``enqueue(call, now)``, ``abandon(call_id, now)``, ``cut(call_id, now, reason)``,
    ``dispatch(now) -> list[CallOffered]``, ``ring_answered(call_id, op, now)``,
    ``ring_failed(call_id, op, now, reason)``, ``call_ended(call_id, now)``,
    ``end_wrap_up(op, now)``, ``tick(now)``,
    ``restore_waiting(call, entered_at)``, ``restore_on_call(call, op, answered_at)``.

Queries
    ``position(call_id)``, ``expected_wait(call_id, now)``,
    ``mean_handling_time(audience, now)``, ``has_logged_in_operator_for(audience)``,
    ``snapshot(now)`` (needs ``now`` for the longest wait), ``operator(op) -> OperatorView``,
    ``call(call_id) -> CallView``, ``audiences``, ``queue_settings(audience)``,
    ``pull_events()``, ``check_invariants()`` (for tests and debugging).

Idempotence: ``pause`` of an operator already paused for the same reason records nothing
(another reason records the change); every other repeated command is refused with its id
(``operator_already_logged_in``, ``operator_not_paused``, ``call_exists``...).

Events
    Every command appends the domain events it produced to ``self.events`` (like an aggregate
    in "Architecture Patterns with Python") and also returns them, except ``dispatch`` which
    returns only its :class:`CallOffered` events (the offers the app must carry out; the
    matching :class:`OperatorStateChanged` events are recorded too). The service layer journals
    what ``pull_events()`` hands it, and acts on what commands return. Events are frozen
    dataclasses carrying every fact the indicators need: the time (``at``), the queue
    (``audience``), the call and operator ids, the caller number, ``entered_at`` and the wait in
    seconds. Restored facts carry ``restored=True`` (``CallQueued``) or
    ``reason="restored"`` (``OperatorStateChanged``) so that the journal does not count a
    presentation twice.

Decisions
=========

* Order of service: across all queues, the waiting call with the smallest key
  ``(-priority, entered_at, seq)`` first, i.e. oldest first (first come, first served);
  ``Call.priority`` (default 0, higher first) is the hook for priority calls.
* Choice of operator: among *available* operators with the call's skill, the highest level,
  then the longest idle (``idle_since`` = end of the last wrap-up, or login; a failed ring,
  a pause or an unpause do not change it), then the operator id (deterministic). A call that
  has waited ``overflow_after`` seconds or more may go, when no skilled operator is available,
  to any available logged-in operator (longest idle first): ``CallOffered.overflow`` is True.
* An operator gets one offer at a time (``ringing``). A failed ring (``timeout``, ``declined``,
  ``busy``, ``unreachable``) puts the call back at its place (it keeps ``entered_at``) and
  remembers the operator as having declined it: the call is not offered to them again unless
  no other operator who could ever take it is logged in and not paused.
* Consecutive misses (reasons in ``AcdSettings.auto_pause_reasons``, by default ``timeout``
  and ``unreachable``: the operator is not there) auto-pause the operator with reason
  ``"absent"`` after ``max_missed_rings`` (default 2). ``declined``/``busy`` neither count nor
  reset; an answer, a login or an unpause resets the count.
* Ring timeout: the offer carries ``expires_at``; ``tick`` fails offers past it with reason
  ``timeout`` (the app cancels the operator's leg when it sees that ``OfferFailed``). The app
  may also report ``ring_failed(..., "timeout")`` itself; whichever arrives first wins and the
  other raises ``offer_not_found``, which the app treats as stale.
* After a call, the operator is in ``wrap_up`` until ``now + wrap_up`` (per queue; 0 = none);
  ``tick`` or ``end_wrap_up`` ends it. ``pause`` or ``logout`` during wrap-up end it too.
  ``pause``/``logout`` while ``ringing`` fail the offer (no miss counted) and requeue the call;
  while ``on_call`` they raise ``operator_on_call`` (pause during the wrap-up instead).
* ``max_wait`` (per queue, default none): ``tick`` cuts a *waiting* call that has waited
  longer as :class:`CallLost` with reason ``"max_wait"``; a call that is ringing at that moment
  is left to ring and cut at the next tick if the ring fails. ``cut`` lets the app end a
  waiting call itself (closing time, no operator, error fallback) as lost with its reason.
* A call arriving with no operator logged in for its skill is queued anyway; the app asks
  ``has_logged_in_operator_for(audience)`` to decide what the caller hears.
* ``dispatch`` and ``tick`` are separate: the app calls ``tick(now)`` on a timer (about once a
  second) and ``dispatch(now)`` after every input and every tick.
* ``position(call_id)``: 1 + the number of waiting calls ahead of it in its own queue (calls of
  other queues that may overflow to the same operators are not counted); 0 while the call is
  ringing an operator.
* ``expected_wait(call_id, now)``: ``position × mean handling time / skilled operators logged
  in and not paused``, in seconds. The mean handling time (answer → end of wrap-up) is over the
  queue's last 50 calls finished within ``handling_time_window`` (1 h) before ``now``, else
  ``default_handling_time`` (180 s). ``None`` when no skilled operator is logged in and not
  paused (the wait is unknown); 0 while ringing.
* Reconciliation after a restart: ``restore_waiting`` requeues a caller found waiting in the
  Stasis app with its original ``entered_at``; ``restore_on_call`` puts a call found bridged
  back on its operator (logging them in if needed). ``restore_on_call`` takes the
  :class:`Call` rather than its id because the queue's wrap-up and the handling statistics
  need the audience.
* Waits are ``(now - entered_at).total_seconds()``, never negative.

Complexity
==========

Per queue, waiting calls are kept in a list sorted by key (``bisect``), so a call enters,
leaves or returns to its place in O(log n) comparisons plus a C ``memmove`` of at most n
pointers, and ``position`` is O(log n). Per audience, available skilled operators are kept
sorted by ``(-level, idle_since, id)``, and all available operators by ``(idle_since, id)``;
sets per audience hold the logged-in and the active (logged in, not paused) operators. An
operator's state change costs O(s · log m) (s = their skills, m = operators).

``dispatch`` returns at once when no operator is available. Otherwise, to make one offer it
looks at the head of each of the Q queues and takes the best available operator from the front
of the sorted lists: O(Q · log) per offer in the common case. It only walks further into a
queue past calls that have already been declined by every available candidate, and skips a
whole priority band as soon as a call with no declines cannot be served (younger calls of the
same band cannot be either). So the cost is O(offers · Q · (d + log n)), d = declined calls at
the heads, never O(calls × operators × queues). ``tick`` uses three heaps (ring expiries,
wrap-up ends, max-wait deadlines) with lazy deletion: O((due items + 1) · log n).
``snapshot`` is O(operators + calls) (it lists them). Memory is O(operators · skills + calls).

The design's "one ACD decision-maker per queue" maps to one :class:`Acd` per group of queues
that share operators (overflow crosses queues, so those must be decided by one object).
"""

from __future__ import annotations

import itertools
from bisect import bisect_left, insort
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from heapq import heappop, heappush
from typing import Any, Iterable, Mapping

__all__ = [
    "RING_FAILURE_REASONS",
    "AUTO_PAUSE_REASON",
    "AcdError",
    "AcdSettings",
    "Acd",
    "Call",
    "CallAbandoned",
    "CallAnswered",
    "CallEnded",
    "CallLost",
    "CallOffered",
    "CallQueued",
    "CallState",
    "CallView",
    "Event",
    "Offer",
    "OfferFailed",
    "OperatorState",
    "OperatorStateChanged",
    "OperatorView",
]

RING_FAILURE_REASONS = frozenset({"timeout", "declined", "busy", "unreachable"})
AUTO_PAUSE_REASON = "absent"
MIN_SKILL_LEVEL = 1
MAX_SKILL_LEVEL = 5
_HANDLING_SAMPLES = 50


class AcdError(Exception):
    """A command the ACD refuses. ``error_id`` is stable (API error codes, logs, tests)."""

    def __init__(self, error_id: str, detail: str = "") -> None:
        super().__init__(f"{error_id}: {detail}" if detail else error_id)
        self.error_id = error_id
        self.detail = detail


class OperatorState(StrEnum):
    LOGGED_OUT = "logged_out"
    AVAILABLE = "available"
    RINGING = "ringing"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"


class CallState(StrEnum):
    WAITING = "waiting"
    RINGING = "ringing"
    ON_CALL = "on_call"


@dataclass(frozen=True)
class AcdSettings:
    """Routing settings; durations in seconds.

    ``ring_timeout``, ``wrap_up``, ``overflow_after`` (None: never overflow), ``max_wait``
    (None: never cut), ``default_handling_time`` and ``handling_time_window`` may differ per
    queue (``Acd(queue_settings=...)``). ``max_missed_rings`` (None or 0: never auto-pause)
    and ``auto_pause_reasons`` concern operators and are read from the ACD-wide settings.
    """

    ring_timeout: float = 20.0
    wrap_up: float = 30.0
    overflow_after: float | None = 120.0
    max_wait: float | None = None
    max_missed_rings: int | None = 2
    auto_pause_reasons: frozenset[str] = frozenset({"timeout", "unreachable"})
    default_handling_time: float = 180.0
    handling_time_window: float = 3600.0

    def __post_init__(self) -> None:
        problems = []
        if not self.ring_timeout > 0:
            problems.append("ring_timeout must be > 0")
        if not self.wrap_up >= 0:
            problems.append("wrap_up must be >= 0")
        if self.overflow_after is not None and not self.overflow_after >= 0:
            problems.append("overflow_after must be >= 0 or None")
        if self.max_wait is not None and not self.max_wait > 0:
            problems.append("max_wait must be > 0 or None")
        if self.max_missed_rings is not None and self.max_missed_rings < 0:
            problems.append("max_missed_rings must be >= 0 or None")
        if not set(self.auto_pause_reasons) <= RING_FAILURE_REASONS:
            problems.append(f"auto_pause_reasons must be among {sorted(RING_FAILURE_REASONS)}")
        if not self.default_handling_time > 0:
            problems.append("default_handling_time must be > 0")
        if not self.handling_time_window > 0:
            problems.append("handling_time_window must be > 0")
        if problems:
            raise AcdError("invalid_settings", "; ".join(problems))


@dataclass(frozen=True)
class Call:
    """A call as the Stasis app knows it when it enters a queue."""

    call_id: str
    audience: str
    caller_number: str = ""
    priority: int = 0  # higher is served first; 0 for every call today


# --------------------------------------------------------------------------- events


@dataclass(frozen=True, kw_only=True)
class Event:
    at: datetime


@dataclass(frozen=True, kw_only=True)
class CallQueued(Event):
    """The call was presented: it entered its queue (``restored``: re-attached after a restart,
    already journaled before it)."""

    call_id: str
    audience: str
    caller_number: str
    priority: int
    entered_at: datetime
    skilled_operators_logged_in: int
    restored: bool = False


@dataclass(frozen=True, kw_only=True)
class CallOffered(Event):
    """Ring ``endpoint`` for ``call_id`` (the app originates; the phone shows caller and
    audience). ``expires_at`` is when ``tick`` fails the ring as a timeout."""

    call_id: str
    audience: str
    caller_number: str
    entered_at: datetime
    operator_id: str
    display_name: str
    endpoint: str
    wait_seconds: float
    attempt: int
    overflow: bool
    skill_level: int
    ring_timeout: float
    expires_at: datetime


Offer = CallOffered


@dataclass(frozen=True, kw_only=True)
class CallAnswered(Event):
    call_id: str
    audience: str
    caller_number: str
    entered_at: datetime
    operator_id: str
    wait_seconds: float
    attempt: int
    overflow: bool


@dataclass(frozen=True, kw_only=True)
class CallAbandoned(Event):
    """The caller hung up before being answered (waiting, or while an operator was ringing)."""

    call_id: str
    audience: str
    caller_number: str
    entered_at: datetime
    wait_seconds: float
    attempts: int
    ringing_operator_id: str | None


@dataclass(frozen=True, kw_only=True)
class CallLost(Event):
    """The service ended the call unanswered (``reason``: ``max_wait`` or the app's own)."""

    call_id: str
    audience: str
    caller_number: str
    entered_at: datetime
    reason: str
    wait_seconds: float
    attempts: int


@dataclass(frozen=True, kw_only=True)
class CallEnded(Event):
    """An answered call ended (either side hung up)."""

    call_id: str
    audience: str
    caller_number: str
    operator_id: str
    answered_at: datetime
    talk_seconds: float


@dataclass(frozen=True, kw_only=True)
class OfferFailed(Event):
    """A ring did not end in an answer. ``reason``: one of RING_FAILURE_REASONS, or
    ``abandoned`` / ``call_lost`` (the call ended), ``operator_logged_out`` /
    ``operator_paused`` (the operator left). The app cancels the operator's leg if still up."""

    call_id: str
    audience: str
    operator_id: str
    reason: str
    ring_seconds: float
    attempt: int
    consecutive_misses: int


@dataclass(frozen=True, kw_only=True)
class OperatorStateChanged(Event):
    operator_id: str
    old: OperatorState
    new: OperatorState
    reason: str
    pause_reason: str | None
    call_id: str | None
    seconds_in_old_state: float | None


# --------------------------------------------------------------------------- views


@dataclass(frozen=True)
class OperatorView:
    operator_id: str
    display_name: str
    endpoint: str
    skills: Mapping[str, int]
    state: OperatorState
    state_since: datetime | None
    pause_reason: str | None
    idle_since: datetime | None
    wrap_up_until: datetime | None
    call_id: str | None
    consecutive_misses: int


@dataclass(frozen=True)
class CallView:
    call_id: str
    audience: str
    caller_number: str
    priority: int
    entered_at: datetime
    state: CallState
    operator_id: str | None
    attempts: int
    declined_by: frozenset[str]


# --------------------------------------------------------------------------- internal records


@dataclass(eq=False)
class _Operator:
    operator_id: str
    display_name: str
    endpoint: str
    skills: dict[str, int]
    state: OperatorState = OperatorState.LOGGED_OUT
    state_since: datetime | None = None
    pause_reason: str | None = None
    idle_since: datetime | None = None
    wrap_up_until: datetime | None = None
    call_id: str | None = None
    missed: int = 0
    # the call being handled (answer -> end of wrap-up), for handling-time statistics
    handling_started_at: datetime | None = None
    handling_audience: str | None = None
    # keys under which the operator sits in the sorted "available" lists
    avail_key: tuple | None = None
    skill_keys: dict[str, tuple] = field(default_factory=dict)


@dataclass(eq=False)
class _CallRecord:
    call: Call
    entered_at: datetime
    seq: int
    key: tuple
    state: CallState = CallState.WAITING
    operator_id: str | None = None
    offered_at: datetime | None = None
    expires_at: datetime | None = None
    offer_seq: int = 0
    overflow: bool = False
    answered_at: datetime | None = None
    attempts: int = 0
    declined: set[str] = field(default_factory=set)


def _seconds(delta: timedelta) -> float:
    return max(0.0, delta.total_seconds())


def _sorted_remove(items: list, key: tuple) -> None:
    i = bisect_left(items, key)
    if i >= len(items) or items[i] != key:  # pragma: no cover - an index bug
        raise AssertionError(f"index entry {key!r} missing")
    del items[i]


def _check_time(value: Any, name: str = "now") -> None:
    if (
        not isinstance(value, datetime)
        or value.tzinfo is None
        or value.utcoffset() != timedelta(0)
    ):
        raise AcdError("invalid_time", f"{name} must be an aware UTC datetime, got {value!r}")


# --------------------------------------------------------------------------- the ACD


class Acd:
    """Queues, operators and the routing decisions for a group of audiences."""

    def __init__(
        self,
        audiences: Iterable[str],
        settings: AcdSettings | None = None,
        queue_settings: Mapping[str, AcdSettings] | None = None,
    ) -> None:
        self.settings = settings or AcdSettings()
        audiences = list(dict.fromkeys(audiences))
        if not audiences or not all(isinstance(a, str) and a for a in audiences):
            raise AcdError("invalid_settings", "at least one non-empty audience is needed")
        unknown = set(queue_settings or {}) - set(audiences)
        if unknown:
            raise AcdError("queue_not_found", f"settings for unknown queues {sorted(unknown)}")
        self._queue_settings = {a: (queue_settings or {}).get(a, self.settings) for a in audiences}
        self._waiting: dict[str, list[tuple]] = {a: [] for a in audiences}
        self._handling: dict[str, deque[tuple[datetime, float]]] = {
            a: deque(maxlen=_HANDLING_SAMPLES) for a in audiences
        }
        self._ops: dict[str, _Operator] = {}
        self._calls: dict[str, _CallRecord] = {}
        self._available: list[tuple] = []  # (idle_since, id)
        self._skilled_available: defaultdict[str, list[tuple]] = defaultdict(list)
        self._logged_in_all: set[str] = set()
        self._logged_in: defaultdict[str, set[str]] = defaultdict(set)
        self._active_all: set[str] = set()  # logged in and not paused
        self._active: defaultdict[str, set[str]] = defaultdict(set)
        self._ring_heap: list[tuple[datetime, int, str]] = []
        self._wrap_heap: list[tuple[datetime, int, str]] = []
        self._max_wait_heap: list[tuple[datetime, int, str]] = []
        self._seq = itertools.count(1)
        self.events: list[Event] = []

    # ------------------------------------------------------------------ events

    def pull_events(self) -> list[Event]:
        """Hand over (and forget) the events recorded since the last call."""
        events, self.events = self.events, []
        return events

    def _record(self, events: list[Event]) -> list[Event]:
        self.events.extend(events)
        return events

    # ------------------------------------------------------------------ lookups

    @property
    def audiences(self) -> tuple[str, ...]:
        return tuple(self._waiting)

    def queue_settings(self, audience: str) -> AcdSettings:
        try:
            return self._queue_settings[audience]
        except KeyError:
            raise AcdError("queue_not_found", audience) from None

    def _op(self, operator_id: str) -> _Operator:
        try:
            return self._ops[operator_id]
        except (KeyError, TypeError):
            raise AcdError("operator_not_found", repr(operator_id)) from None

    def _rec(self, call_id: str) -> _CallRecord:
        try:
            return self._calls[call_id]
        except (KeyError, TypeError):
            raise AcdError("call_not_found", repr(call_id)) from None

    def operator(self, operator_id: str) -> OperatorView:
        op = self._op(operator_id)
        return OperatorView(
            operator_id=op.operator_id,
            display_name=op.display_name,
            endpoint=op.endpoint,
            skills=dict(op.skills),
            state=op.state,
            state_since=op.state_since,
            pause_reason=op.pause_reason,
            idle_since=op.idle_since,
            wrap_up_until=op.wrap_up_until,
            call_id=op.call_id,
            consecutive_misses=op.missed,
        )

    def call(self, call_id: str) -> CallView:
        rec = self._rec(call_id)
        return CallView(
            call_id=rec.call.call_id,
            audience=rec.call.audience,
            caller_number=rec.call.caller_number,
            priority=rec.call.priority,
            entered_at=rec.entered_at,
            state=rec.state,
            operator_id=rec.operator_id,
            attempts=rec.attempts,
            declined_by=frozenset(rec.declined),
        )

    def has_logged_in_operator_for(self, audience: str) -> bool:
        """Whether any operator with this skill is logged in (paused ones included)."""
        self.queue_settings(audience)
        return bool(self._logged_in.get(audience))

    # ------------------------------------------------------------------ indexes

    def _index(self, op: _Operator) -> None:
        if op.state is OperatorState.LOGGED_OUT:
            return
        oid = op.operator_id
        self._logged_in_all.add(oid)
        for audience in op.skills:
            self._logged_in[audience].add(oid)
        if op.state is OperatorState.PAUSED:
            return
        self._active_all.add(oid)
        for audience in op.skills:
            self._active[audience].add(oid)
        if op.state is OperatorState.AVAILABLE:
            key = (op.idle_since, oid)
            insort(self._available, key)
            op.avail_key = key
            for audience, level in op.skills.items():
                key = (-level, op.idle_since, oid)
                insort(self._skilled_available[audience], key)
                op.skill_keys[audience] = key

    def _unindex(self, op: _Operator) -> None:
        oid = op.operator_id
        self._logged_in_all.discard(oid)
        self._active_all.discard(oid)
        for audience in op.skills:
            self._logged_in[audience].discard(oid)
            self._active[audience].discard(oid)
        if op.avail_key is not None:
            _sorted_remove(self._available, op.avail_key)
            op.avail_key = None
        for audience, key in op.skill_keys.items():
            _sorted_remove(self._skilled_available[audience], key)
        op.skill_keys.clear()

    def _set_state(
        self,
        op: _Operator,
        new: OperatorState,
        now: datetime,
        reason: str,
        events: list[Event],
        pause_reason: str | None = None,
    ) -> None:
        old, old_since = op.state, op.state_since
        self._unindex(op)
        op.state = new
        op.state_since = now
        op.pause_reason = pause_reason if new is OperatorState.PAUSED else None
        if new is not OperatorState.WRAP_UP:
            op.wrap_up_until = None
        if new not in (OperatorState.RINGING, OperatorState.ON_CALL):
            op.call_id = None
        self._index(op)
        events.append(
            OperatorStateChanged(
                at=now,
                operator_id=op.operator_id,
                old=old,
                new=new,
                reason=reason,
                pause_reason=op.pause_reason,
                call_id=op.call_id,
                seconds_in_old_state=None if old_since is None else _seconds(now - old_since),
            )
        )

    def _add_waiting(self, rec: _CallRecord) -> None:
        rec.state = CallState.WAITING
        rec.operator_id = None
        insort(self._waiting[rec.call.audience], rec.key)

    def _remove_waiting(self, rec: _CallRecord) -> None:
        _sorted_remove(self._waiting[rec.call.audience], rec.key)

    def _finish_handling(self, op: _Operator, now: datetime) -> None:
        if op.handling_started_at is not None and op.handling_audience in self._handling:
            seconds = _seconds(now - op.handling_started_at)
            self._handling[op.handling_audience].append((now, seconds))
        op.handling_started_at = None
        op.handling_audience = None

    # ------------------------------------------------------------------ roster

    def register_operator(
        self,
        operator_id: str,
        display_name: str,
        endpoint: str,
        skills: Mapping[str, int],
    ) -> None:
        """Add an operator, or update a known one's name, endpoint and skills (any state)."""
        if not isinstance(operator_id, str) or not operator_id:
            raise AcdError("invalid_operator", "operator_id must be a non-empty string")
        if not isinstance(endpoint, str) or not endpoint:
            raise AcdError("invalid_operator", "endpoint must be a non-empty string")
        clean: dict[str, int] = {}
        for audience, level in dict(skills).items():
            if not isinstance(audience, str) or not audience:
                raise AcdError("invalid_skill", f"bad audience {audience!r}")
            if (
                isinstance(level, bool)
                or not isinstance(level, int)
                or not MIN_SKILL_LEVEL <= level <= MAX_SKILL_LEVEL
            ):
                raise AcdError("invalid_skill", f"{audience}: level {level!r} not in 1..5")
            clean[audience] = level
        op = self._ops.get(operator_id)
        if op is None:
            self._ops[operator_id] = _Operator(operator_id, display_name, endpoint, clean)
            return
        self._unindex(op)
        op.display_name, op.endpoint, op.skills = display_name, endpoint, clean
        self._index(op)

    # ------------------------------------------------------------------ operator commands

    def login(self, operator_id: str, now: datetime) -> list[Event]:
        _check_time(now)
        op = self._op(operator_id)
        if op.state is not OperatorState.LOGGED_OUT:
            raise AcdError("operator_already_logged_in", operator_id)
        events: list[Event] = []
        op.missed = 0
        op.idle_since = now
        self._set_state(op, OperatorState.AVAILABLE, now, "login", events)
        return self._record(events)

    def logout(self, operator_id: str, now: datetime) -> list[Event]:
        _check_time(now)
        op = self._op(operator_id)
        if op.state is OperatorState.LOGGED_OUT:
            raise AcdError("operator_logged_out", operator_id)
        if op.state is OperatorState.ON_CALL:
            raise AcdError("operator_on_call", operator_id)
        events: list[Event] = []
        if op.state is OperatorState.RINGING:
            self._withdraw_offer(op, now, "operator_logged_out", events)
        self._finish_handling(op, now)
        self._set_state(op, OperatorState.LOGGED_OUT, now, "logout", events)
        return self._record(events)

    def pause(self, operator_id: str, reason: str, now: datetime) -> list[Event]:
        _check_time(now)
        op = self._op(operator_id)
        if not isinstance(reason, str) or not reason.strip():
            raise AcdError("invalid_pause_reason", repr(reason))
        if op.state is OperatorState.LOGGED_OUT:
            raise AcdError("operator_logged_out", operator_id)
        if op.state is OperatorState.ON_CALL:
            raise AcdError("operator_on_call", operator_id)
        if op.state is OperatorState.PAUSED and op.pause_reason == reason:
            return []
        events: list[Event] = []
        if op.state is OperatorState.RINGING:
            self._withdraw_offer(op, now, "operator_paused", events)
        self._finish_handling(op, now)
        self._set_state(op, OperatorState.PAUSED, now, "pause", events, pause_reason=reason)
        return self._record(events)

    def unpause(self, operator_id: str, now: datetime) -> list[Event]:
        _check_time(now)
        op = self._op(operator_id)
        if op.state is not OperatorState.PAUSED:
            raise AcdError("operator_not_paused", operator_id)
        events: list[Event] = []
        op.missed = 0
        self._set_state(op, OperatorState.AVAILABLE, now, "unpause", events)
        return self._record(events)

    def end_wrap_up(self, operator_id: str, now: datetime) -> list[Event]:
        _check_time(now)
        op = self._op(operator_id)
        if op.state is not OperatorState.WRAP_UP:
            raise AcdError("operator_not_in_wrap_up", operator_id)
        events: list[Event] = []
        self._end_wrap_up(op, now, "wrap_up_ended", events)
        return self._record(events)

    def _end_wrap_up(self, op: _Operator, now: datetime, reason: str, events: list[Event]) -> None:
        self._finish_handling(op, now)
        op.idle_since = now
        self._set_state(op, OperatorState.AVAILABLE, now, reason, events)

    # ------------------------------------------------------------------ call commands

    def _check_new_call(self, call: Call) -> None:
        if not isinstance(call, Call):
            raise AcdError("invalid_call", repr(call))
        if not isinstance(call.call_id, str) or not call.call_id:
            raise AcdError("invalid_call", "call_id must be a non-empty string")
        if isinstance(call.priority, bool) or not isinstance(call.priority, int):
            raise AcdError("invalid_call", "priority must be an int")
        self.queue_settings(call.audience)
        if call.call_id in self._calls:
            raise AcdError("call_exists", call.call_id)

    def _new_record(self, call: Call, entered_at: datetime) -> _CallRecord:
        seq = next(self._seq)
        rec = _CallRecord(
            call=call,
            entered_at=entered_at,
            seq=seq,
            key=(-call.priority, entered_at, seq, call.call_id),
        )
        self._calls[call.call_id] = rec
        max_wait = self._queue_settings[call.audience].max_wait
        if max_wait is not None:
            deadline = entered_at + timedelta(seconds=max_wait)
            heappush(self._max_wait_heap, (deadline, seq, call.call_id))
        return rec

    def enqueue(self, call: Call, now: datetime) -> list[Event]:
        """The call is presented: it enters its audience's queue (even with no one logged in)."""
        _check_time(now)
        self._check_new_call(call)
        return self._record([self._queue(call, now, restored=False)])

    def restore_waiting(self, call: Call, entered_at: datetime) -> list[Event]:
        """Re-attach, after a restart, a caller still waiting since ``entered_at``."""
        _check_time(entered_at, "entered_at")
        self._check_new_call(call)
        return self._record([self._queue(call, entered_at, restored=True)])

    def _queue(self, call: Call, entered_at: datetime, restored: bool) -> CallQueued:
        rec = self._new_record(call, entered_at)
        self._add_waiting(rec)
        return CallQueued(
            at=entered_at,
            call_id=call.call_id,
            audience=call.audience,
            caller_number=call.caller_number,
            priority=call.priority,
            entered_at=entered_at,
            skilled_operators_logged_in=len(self._logged_in.get(call.audience, ())),
            restored=restored,
        )

    def restore_on_call(self, call: Call, operator_id: str, answered_at: datetime) -> list[Event]:
        """Re-attach, after a restart, a call found bridged with ``operator_id``.

        The operator, whatever their state, unless ringing or on another call, becomes
        ``on_call`` (logged in if they were not). No call event: the answer was journaled
        before the restart."""
        _check_time(answered_at, "answered_at")
        self._check_new_call(call)
        op = self._op(operator_id)
        if op.state in (OperatorState.RINGING, OperatorState.ON_CALL):
            raise AcdError("operator_busy", operator_id)
        rec = self._new_record(call, answered_at)
        rec.state = CallState.ON_CALL
        rec.operator_id = operator_id
        rec.answered_at = answered_at
        rec.attempts = 1
        events: list[Event] = []
        self._finish_handling(op, answered_at)
        op.call_id = call.call_id
        op.handling_started_at = answered_at
        op.handling_audience = call.audience
        self._set_state(op, OperatorState.ON_CALL, answered_at, "restored", events)
        return self._record(events)

    def abandon(self, call_id: str, now: datetime) -> list[Event]:
        """The caller hung up while waiting or while an operator was ringing."""
        _check_time(now)
        rec = self._rec(call_id)
        if rec.state is CallState.ON_CALL:
            raise AcdError("call_answered", call_id)
        events: list[Event] = []
        ringing = rec.operator_id
        self._end_unanswered(rec, now, "abandoned", events)
        events.insert(
            0,
            CallAbandoned(
                at=now,
                call_id=call_id,
                audience=rec.call.audience,
                caller_number=rec.call.caller_number,
                entered_at=rec.entered_at,
                wait_seconds=_seconds(now - rec.entered_at),
                attempts=rec.attempts,
                ringing_operator_id=ringing,
            ),
        )
        return self._record(events)

    def cut(self, call_id: str, now: datetime, reason: str) -> list[Event]:
        """The service ends an unanswered call itself (closing, no operator, error...)."""
        _check_time(now)
        if not isinstance(reason, str) or not reason.strip():
            raise AcdError("invalid_lost_reason", repr(reason))
        rec = self._rec(call_id)
        if rec.state is CallState.ON_CALL:
            raise AcdError("call_answered", call_id)
        events: list[Event] = []
        self._lose(rec, now, reason, events)
        return self._record(events)

    def _lose(self, rec: _CallRecord, now: datetime, reason: str, events: list[Event]) -> None:
        lost = CallLost(
            at=now,
            call_id=rec.call.call_id,
            audience=rec.call.audience,
            caller_number=rec.call.caller_number,
            entered_at=rec.entered_at,
            reason=reason,
            wait_seconds=_seconds(now - rec.entered_at),
            attempts=rec.attempts,
        )
        start = len(events)
        self._end_unanswered(rec, now, "call_lost", events)
        events.insert(start, lost)

    def _end_unanswered(
        self, rec: _CallRecord, now: datetime, offer_reason: str, events: list[Event]
    ) -> None:
        """Remove a waiting or ringing call; a ringing operator goes back to available."""
        if rec.state is CallState.RINGING:
            op = self._ops[rec.operator_id]
            events.append(self._offer_failed(rec, op, now, offer_reason))
            self._set_state(op, OperatorState.AVAILABLE, now, offer_reason, events)
        else:
            self._remove_waiting(rec)
        del self._calls[rec.call.call_id]

    def _offer_failed(
        self, rec: _CallRecord, op: _Operator, now: datetime, reason: str
    ) -> OfferFailed:
        return OfferFailed(
            at=now,
            call_id=rec.call.call_id,
            audience=rec.call.audience,
            operator_id=op.operator_id,
            reason=reason,
            ring_seconds=_seconds(now - rec.offered_at),
            attempt=rec.attempts,
            consecutive_misses=op.missed,
        )

    def _withdraw_offer(
        self, op: _Operator, now: datetime, reason: str, events: list[Event]
    ) -> None:
        """The ringing operator leaves (logout, pause): the call goes back to its place."""
        rec = self._calls[op.call_id]
        events.append(self._offer_failed(rec, op, now, reason))
        self._add_waiting(rec)
        op.call_id = None

    def ring_answered(self, call_id: str, operator_id: str, now: datetime) -> list[Event]:
        _check_time(now)
        op = self._op(operator_id)
        rec = self._rec(call_id)
        if rec.state is not CallState.RINGING or rec.operator_id != operator_id:
            raise AcdError("offer_not_found", f"{call_id} was not offered to {operator_id}")
        rec.state = CallState.ON_CALL
        rec.answered_at = now
        op.missed = 0
        op.handling_started_at = now
        op.handling_audience = rec.call.audience
        events: list[Event] = [
            CallAnswered(
                at=now,
                call_id=call_id,
                audience=rec.call.audience,
                caller_number=rec.call.caller_number,
                entered_at=rec.entered_at,
                operator_id=operator_id,
                wait_seconds=_seconds(now - rec.entered_at),
                attempt=rec.attempts,
                overflow=rec.overflow,
            )
        ]
        self._set_state(op, OperatorState.ON_CALL, now, "answered", events)
        return self._record(events)

    def ring_failed(
        self, call_id: str, operator_id: str, now: datetime, reason: str
    ) -> list[Event]:
        _check_time(now)
        if reason not in RING_FAILURE_REASONS:
            raise AcdError("invalid_ring_failure_reason", repr(reason))
        op = self._op(operator_id)
        rec = self._rec(call_id)
        if rec.state is not CallState.RINGING or rec.operator_id != operator_id:
            raise AcdError("offer_not_found", f"{call_id} was not offered to {operator_id}")
        events: list[Event] = []
        self._fail_ring(rec, op, now, reason, events)
        return self._record(events)

    def _fail_ring(
        self, rec: _CallRecord, op: _Operator, now: datetime, reason: str, events: list[Event]
    ) -> None:
        if reason in self.settings.auto_pause_reasons:
            op.missed += 1
        events.append(self._offer_failed(rec, op, now, reason))
        rec.declined.add(op.operator_id)
        self._add_waiting(rec)
        op.call_id = None
        limit = self.settings.max_missed_rings
        if limit and op.missed >= limit:
            self._set_state(
                op,
                OperatorState.PAUSED,
                now,
                "missed_rings",
                events,
                pause_reason=AUTO_PAUSE_REASON,
            )
        else:
            self._set_state(op, OperatorState.AVAILABLE, now, "ring_failed", events)

    def call_ended(self, call_id: str, now: datetime) -> list[Event]:
        """An answered call ended; its operator goes to wrap-up (or available if none)."""
        _check_time(now)
        rec = self._rec(call_id)
        if rec.state is not CallState.ON_CALL:
            raise AcdError("call_not_answered", call_id)
        op = self._ops[rec.operator_id]
        events: list[Event] = [
            CallEnded(
                at=now,
                call_id=call_id,
                audience=rec.call.audience,
                caller_number=rec.call.caller_number,
                operator_id=op.operator_id,
                answered_at=rec.answered_at,
                talk_seconds=_seconds(now - rec.answered_at),
            )
        ]
        del self._calls[call_id]
        op.call_id = None
        wrap_up = self._queue_settings[rec.call.audience].wrap_up
        if wrap_up > 0:
            op.wrap_up_until = now + timedelta(seconds=wrap_up)
            self._set_state(op, OperatorState.WRAP_UP, now, "call_ended", events)
            heappush(self._wrap_heap, (op.wrap_up_until, next(self._seq), op.operator_id))
        else:
            self._end_wrap_up(op, now, "call_ended", events)
        return self._record(events)

    # ------------------------------------------------------------------ routing

    def dispatch(self, now: datetime) -> list[CallOffered]:
        """Offer waiting calls to available operators; returns the offers to carry out."""
        _check_time(now)
        offers: list[CallOffered] = []
        events: list[Event] = []
        while self._available:
            best = None
            for audience, waiting in self._waiting.items():
                if not waiting:
                    continue
                found = self._first_servable(audience, waiting, now)
                if found is not None and (best is None or found[0].key < best[0].key):
                    best = found
            if best is None:
                break
            rec, op = best
            offers.append(self._offer(rec, op, now, events))
        self._record(events)
        return offers

    def _first_servable(
        self, audience: str, waiting: list[tuple], now: datetime
    ) -> tuple[_CallRecord, _Operator] | None:
        overflow_after = self._queue_settings[audience].overflow_after
        skilled = self._skilled_available.get(audience) or []
        i, n = 0, len(waiting)
        while i < n:
            key = waiting[i]
            rec = self._calls[key[-1]]
            waited = _seconds(now - rec.entered_at)
            overflow = overflow_after is not None and waited >= overflow_after
            op = self._choose_operator(rec, skilled, overflow)
            if op is not None:
                return rec, op
            if rec.declined:
                i += 1  # another operator may still suit a call behind it
            elif overflow:
                return None  # a fresh overflowed call takes anyone: no one is available
            else:
                # A fresh call of this band cannot be served: the younger calls of the band
                # cannot either (same skill, not overflowed sooner). Jump to the next band.
                i = bisect_left(waiting, (key[0] + 1,), i + 1)
        return None

    def _choose_operator(
        self, rec: _CallRecord, skilled: list[tuple], overflow: bool
    ) -> _Operator | None:
        declined = rec.declined
        for key in skilled:
            if key[-1] not in declined:
                return self._ops[key[-1]]
        if overflow:
            for key in self._available:
                if key[-1] not in declined:
                    return self._ops[key[-1]]
        if not declined:
            return None
        # Everyone available has declined it: ring them again only if no one else who could
        # take it is logged in and not paused.
        pool = self._active_all if overflow else self._active.get(rec.call.audience, set())
        if sum(1 for oid in declined if oid in pool) < len(pool):
            return None
        if skilled:
            return self._ops[skilled[0][-1]]
        if overflow and self._available:
            return self._ops[self._available[0][-1]]
        return None

    def _offer(
        self, rec: _CallRecord, op: _Operator, now: datetime, events: list[Event]
    ) -> CallOffered:
        audience = rec.call.audience
        ring_timeout = self._queue_settings[audience].ring_timeout
        self._remove_waiting(rec)
        rec.state = CallState.RINGING
        rec.operator_id = op.operator_id
        rec.offered_at = now
        rec.expires_at = now + timedelta(seconds=ring_timeout)
        rec.attempts += 1
        rec.offer_seq = next(self._seq)
        level = op.skills.get(audience, 0)
        rec.overflow = level == 0
        heappush(self._ring_heap, (rec.expires_at, rec.offer_seq, rec.call.call_id))
        offer = CallOffered(
            at=now,
            call_id=rec.call.call_id,
            audience=audience,
            caller_number=rec.call.caller_number,
            entered_at=rec.entered_at,
            operator_id=op.operator_id,
            display_name=op.display_name,
            endpoint=op.endpoint,
            wait_seconds=_seconds(now - rec.entered_at),
            attempt=rec.attempts,
            overflow=rec.overflow,
            skill_level=level,
            ring_timeout=ring_timeout,
            expires_at=rec.expires_at,
        )
        events.append(offer)
        op.call_id = rec.call.call_id
        self._set_state(op, OperatorState.RINGING, now, "offered", events)
        return offer

    def tick(self, now: datetime) -> list[Event]:
        """Apply the timers due at ``now``: ring timeouts, wrap-up ends, max-wait cuts."""
        _check_time(now)
        events: list[Event] = []
        while self._ring_heap and self._ring_heap[0][0] <= now:
            _, offer_seq, call_id = heappop(self._ring_heap)
            rec = self._calls.get(call_id)
            if rec is None or rec.state is not CallState.RINGING or rec.offer_seq != offer_seq:
                continue
            self._fail_ring(rec, self._ops[rec.operator_id], now, "timeout", events)
        while self._wrap_heap and self._wrap_heap[0][0] <= now:
            until, _, operator_id = heappop(self._wrap_heap)
            op = self._ops[operator_id]
            if op.state is not OperatorState.WRAP_UP or op.wrap_up_until != until:
                continue
            self._end_wrap_up(op, now, "wrap_up_timeout", events)
        deferred = []
        while self._max_wait_heap and self._max_wait_heap[0][0] <= now:
            item = heappop(self._max_wait_heap)
            rec = self._calls.get(item[2])
            if rec is None or rec.seq != item[1] or rec.state is CallState.ON_CALL:
                continue
            if rec.state is CallState.RINGING:
                deferred.append(item)  # let the ring finish; cut at a later tick if it fails
                continue
            self._lose(rec, now, "max_wait", events)
        for item in deferred:
            heappush(self._max_wait_heap, item)
        return self._record(events)

    # ------------------------------------------------------------------ queries

    def position(self, call_id: str) -> int:
        """1-based place among the waiting calls of its queue; 0 while ringing an operator."""
        rec = self._rec(call_id)
        if rec.state is CallState.ON_CALL:
            raise AcdError("call_answered", call_id)
        if rec.state is CallState.RINGING:
            return 0
        return bisect_left(self._waiting[rec.call.audience], rec.key) + 1

    def mean_handling_time(self, audience: str, now: datetime) -> float:
        """Mean answer-to-end-of-wrap-up time of the queue's recent calls (seconds)."""
        _check_time(now)
        settings = self.queue_settings(audience)
        window = settings.handling_time_window
        samples = [s for at, s in self._handling[audience] if _seconds(now - at) <= window]
        return sum(samples) / len(samples) if samples else settings.default_handling_time

    def expected_wait(self, call_id: str, now: datetime) -> float | None:
        """``position × mean handling time / active skilled operators`` in seconds."""
        _check_time(now)
        position = self.position(call_id)
        if position == 0:
            return 0.0
        audience = self._calls[call_id].call.audience
        operators = len(self._active.get(audience, ()))
        if operators == 0:
            return None
        return position * self.mean_handling_time(audience, now) / operators

    def snapshot(self, now: datetime) -> dict[str, Any]:
        """Plain data for the wallboard (JSON-ready: times as ISO strings, states as str)."""
        _check_time(now)
        queues: dict[str, dict[str, Any]] = {}
        oldest: dict[str, datetime] = {}
        for audience in self._waiting:
            queues[audience] = {
                "waiting": len(self._waiting[audience]),
                "ringing": 0,
                "on_call": 0,
                "longest_wait_seconds": 0.0,
                "operators_logged_in": len(self._logged_in.get(audience, ())),
                "operators_available": len(self._skilled_available.get(audience, ())),
            }
        for rec in self._calls.values():
            q = queues[rec.call.audience]
            if rec.state is CallState.ON_CALL:
                q["on_call"] += 1
                continue
            if rec.state is CallState.RINGING:
                q["ringing"] += 1
            a = rec.call.audience
            if a not in oldest or rec.entered_at < oldest[a]:
                oldest[a] = rec.entered_at
        for audience, entered_at in oldest.items():
            queues[audience]["longest_wait_seconds"] = _seconds(now - entered_at)
        operators = {
            op.operator_id: {
                "display_name": op.display_name,
                "state": str(op.state),
                "since": op.state_since.isoformat() if op.state_since else None,
                "seconds_in_state": _seconds(now - op.state_since) if op.state_since else None,
                "pause_reason": op.pause_reason,
                "call_id": op.call_id,
                "skills": dict(op.skills),
                "wrap_up_until": op.wrap_up_until.isoformat() if op.wrap_up_until else None,
            }
            for op in sorted(self._ops.values(), key=lambda o: o.operator_id)
        }
        return {"at": now.isoformat(), "queues": queues, "operators": operators}

    # ------------------------------------------------------------------ self-check

    def check_invariants(self) -> None:
        """Raise AssertionError if the indexes disagree with the records (tests, debugging)."""
        calls_by_op: dict[str, str] = {}
        for call_id, rec in self._calls.items():
            assert rec.call.call_id == call_id
            if rec.state is CallState.WAITING:
                assert rec.operator_id is None, call_id
                continue
            op = self._ops[rec.operator_id]
            assert rec.operator_id not in calls_by_op, f"{rec.operator_id} has two calls"
            calls_by_op[rec.operator_id] = call_id
            assert op.call_id == call_id, (call_id, op.call_id)
            expected = (
                OperatorState.RINGING if rec.state is CallState.RINGING else OperatorState.ON_CALL
            )
            assert op.state is expected, (call_id, op.state)
        for audience, waiting in self._waiting.items():
            assert waiting == sorted(waiting)
            expected = sorted(
                r.key
                for r in self._calls.values()
                if r.state is CallState.WAITING and r.call.audience == audience
            )
            assert waiting == expected, audience
        available, skilled = [], defaultdict(list)
        logged, active = set(), set()
        for op in self._ops.values():
            if op.state in (OperatorState.RINGING, OperatorState.ON_CALL):
                assert calls_by_op.get(op.operator_id) == op.call_id, op.operator_id
            else:
                assert op.call_id is None, op.operator_id
            assert (op.state is OperatorState.WRAP_UP) == (op.wrap_up_until is not None)
            assert (op.state is OperatorState.PAUSED) == (op.pause_reason is not None)
            if op.state is not OperatorState.LOGGED_OUT:
                logged.add(op.operator_id)
                if op.state is not OperatorState.PAUSED:
                    active.add(op.operator_id)
            if op.state is OperatorState.AVAILABLE:
                available.append((op.idle_since, op.operator_id))
                for audience, level in op.skills.items():
                    skilled[audience].append((-level, op.idle_since, op.operator_id))
        assert self._available == sorted(available)
        for audience in set(skilled) | set(self._skilled_available):
            assert self._skilled_available.get(audience, []) == sorted(skilled.get(audience, []))
        assert self._logged_in_all == logged and self._active_all == active
        for audience in set(self._logged_in) | set(self._active):
            with_skill = {o.operator_id for o in self._ops.values() if audience in o.skills}
            assert self._logged_in.get(audience, set()) == logged & with_skill
            assert self._active.get(audience, set()) == active & with_skill
