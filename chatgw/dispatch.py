"""The chat dispatcher: the pure routing core of live chat.

No I/O, no asyncio, no clock reads: every command takes ``now`` (an aware UTC datetime).
The hub (``chatgw.hub``) owns one :class:`ChatDispatcher`, feeds it what happens on the
websockets and carries out what it decides; the service layer journals its events.

Why not ``acd.domain.Acd`` as is: an ACD operator holds one call at a time (ringing,
on call, wrap-up), while a chat operator holds up to ``max_chats`` conversations at once
(default 3) and is never "on call" as a whole. The rules are the ACD's, applied per slot:

* Queues per audience; across queues the oldest waiting chat is served first
  (``entered_at``, then arrival order). A chat put back in the queue (declined offer,
  operator lost) keeps its ``entered_at``, so it keeps its place.
* Choice of operator among those *available* (connected, not paused, no offer pending,
  fewer chats than their capacity) with the chat's skill: highest skill level first, then
  the least loaded, then the longest idle — the longest since a chat was last given to
  them (or since they became available) — then the operator id (deterministic). A chat
  that has waited ``overflow_after`` seconds may go, when no skilled operator is
  available, to any available operator (``ChatOffered.overflow``).
* One offer at a time per operator; an offer expires after ``offer_timeout``. A declined
  or expired offer puts the chat back at its place and remembers the operator: the chat is
  not offered to them again unless every other operator who could take it has declined it.
  ``max_missed_offers`` consecutive expired offers pause the operator (reason ``absent``).
* A waiting chat's position is 1 + the chats waiting before it in its own queue.
* A user whose connection drops has ``resume_window`` seconds to come back; then the chat
  ends (``user_left``, or ``abandoned`` if nobody had answered). An operator whose last
  connection drops keeps their chats for ``operator_grace`` seconds; then those chats go
  back to the queue at their place (``ChatRequeued``) and the operator is offline.

Complexity: per offer O(Q · (d + m)) with Q queues, d declined chats at the head of a
queue and m operators; ``position`` is O(log n); ``tick`` is O(pending timers). The
numbers of a help desk (and of one a hundred times larger: a few thousand waiting chats,
a few hundred operators) keep this far below a millisecond per decision.
"""

from __future__ import annotations

import itertools
from bisect import bisect_left, insort
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Iterable, Mapping

AUTO_PAUSE_REASON = "absent"
OFFER_FAILURE_REASONS = frozenset({"timeout", "declined", "unreachable", "withdrawn"})


class DispatchError(Exception):
    """A command the dispatcher refuses; ``error_id`` is stable."""

    def __init__(self, error_id: str, detail: str = "") -> None:
        super().__init__(f"{error_id}: {detail}" if detail else error_id)
        self.error_id = error_id
        self.detail = detail


class OperatorStatus(StrEnum):
    OFFLINE = "offline"  # no connection (after the grace period) or never came
    AVAILABLE = "available"  # takes new chats up to capacity
    PAUSED = "paused"  # connected, keeps the chats held, takes no new ones


class ChatStatus(StrEnum):
    WAITING = "waiting"
    OFFERED = "offered"
    ACTIVE = "active"


@dataclass(frozen=True)
class DispatchSettings:
    max_chats: int = 3
    offer_timeout: float = 30.0
    overflow_after: float | None = 120.0
    max_missed_offers: int = 2  # 0: never auto-pause
    resume_window: float = 120.0
    operator_grace: float = 60.0

    def __post_init__(self) -> None:
        if self.max_chats < 1:
            raise DispatchError("invalid_settings", "max_chats must be >= 1")
        if self.offer_timeout <= 0 or self.resume_window < 0 or self.operator_grace < 0:
            raise DispatchError("invalid_settings", "timeouts must be positive")
        if self.overflow_after is not None and self.overflow_after < 0:
            raise DispatchError("invalid_settings", "overflow_after must be >= 0 or None")


# --------------------------------------------------------------------------- events


@dataclass(frozen=True, kw_only=True)
class Event:
    at: datetime
    conversation_id: str


@dataclass(frozen=True, kw_only=True)
class ChatQueued(Event):
    audience: str
    entered_at: datetime
    restored: bool = False


@dataclass(frozen=True, kw_only=True)
class ChatOffered(Event):
    audience: str
    operator_id: str
    entered_at: datetime
    wait_seconds: float
    attempt: int
    overflow: bool
    expires_at: datetime


@dataclass(frozen=True, kw_only=True)
class OfferFailed(Event):
    """``reason``: timeout, declined, unreachable (operator's connection lost), withdrawn
    (the chat ended or the operator paused while the offer was pending)."""

    operator_id: str
    reason: str
    consecutive_misses: int


@dataclass(frozen=True, kw_only=True)
class ChatAnswered(Event):
    """``reassigned``: answered before by an operator who was lost since."""

    audience: str
    operator_id: str
    wait_seconds: float
    attempt: int
    overflow: bool
    reassigned: bool = False


@dataclass(frozen=True, kw_only=True)
class ChatRequeued(Event):
    """The operator holding it was lost: the chat waits again, at its place."""

    audience: str
    operator_id: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class ChatEnded(Event):
    """``reason``: user_ended, operator_closed, user_left, or any reason given to ``end``.
    ``answered``: an operator had accepted it."""

    audience: str
    operator_id: str | None
    reason: str
    answered: bool
    wait_seconds: float
    talk_seconds: float | None


@dataclass(frozen=True, kw_only=True)
class OperatorChanged:
    at: datetime
    operator_id: str
    old: OperatorStatus
    new: OperatorStatus
    reason: str


# --------------------------------------------------------------------------- records


@dataclass(eq=False)
class _Op:
    operator_id: str
    skills: dict[str, int]
    capacity: int
    status: OperatorStatus = OperatorStatus.OFFLINE
    connections: int = 0
    lost_since: datetime | None = None  # last connection dropped: grace running
    idle_since: datetime | None = None
    chats: set[str] = field(default_factory=set)  # active conversations
    offer: str | None = None  # conversation offered, pending
    missed: int = 0
    pause_reason: str | None = None

    @property
    def load(self) -> int:
        return len(self.chats) + (1 if self.offer else 0)


@dataclass(eq=False)
class _Chat:
    conversation_id: str
    audience: str
    entered_at: datetime
    seq: int
    status: ChatStatus = ChatStatus.WAITING
    operator_id: str | None = None
    offered_at: datetime | None = None
    expires_at: datetime | None = None
    overflow: bool = False
    answered_at: datetime | None = None  # by the operator holding it now
    first_answered_at: datetime | None = None
    attempts: int = 0
    declined: set[str] = field(default_factory=set)
    user_connected: bool = True
    user_lost_since: datetime | None = None

    @property
    def key(self) -> tuple[datetime, int]:
        return (self.entered_at, self.seq)


def _seconds(delta: timedelta) -> float:
    return max(0.0, delta.total_seconds())


def _check_time(value: Any) -> None:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() != timedelta(0):
        raise DispatchError("invalid_time", f"now must be an aware UTC datetime, got {value!r}")


# --------------------------------------------------------------------------- the dispatcher


class ChatDispatcher:
    def __init__(self, audiences: Iterable[str], settings: DispatchSettings | None = None) -> None:
        self.settings = settings or DispatchSettings()
        self._queues: dict[str, list[tuple[datetime, int, str]]] = {a: [] for a in dict.fromkeys(audiences)}
        self._ops: dict[str, _Op] = {}
        self._chats: dict[str, _Chat] = {}
        self._seq = itertools.count(1)
        self.events: list[Event | OperatorChanged] = []

    # --- queries -------------------------------------------------------------------------

    @property
    def audiences(self) -> tuple[str, ...]:
        return tuple(self._queues)

    def pull_events(self) -> list[Event | OperatorChanged]:
        out, self.events = self.events, []
        return out

    def has_chat(self, conversation_id: str) -> bool:
        return conversation_id in self._chats

    def chat(self, conversation_id: str) -> dict[str, Any]:
        c = self._chat(conversation_id)
        return {"conversation_id": c.conversation_id, "audience": c.audience, "status": str(c.status),
                "operator_id": c.operator_id, "entered_at": c.entered_at, "answered_at": c.answered_at,
                "attempts": c.attempts, "declined_by": sorted(c.declined), "user_connected": c.user_connected}

    def operator(self, operator_id: str) -> dict[str, Any]:
        op = self._op(operator_id)
        return {"operator_id": op.operator_id, "status": str(op.status), "connected": op.connections > 0,
                "chats": sorted(op.chats), "offer": op.offer, "load": op.load, "capacity": op.capacity,
                "skills": dict(op.skills), "idle_since": op.idle_since, "missed": op.missed,
                "pause_reason": op.pause_reason}

    def knows_operator(self, operator_id: str) -> bool:
        return operator_id in self._ops

    def position(self, conversation_id: str) -> int:
        """1 + chats waiting before it in its queue; 0 when offered or active."""
        c = self._chat(conversation_id)
        if c.status is not ChatStatus.WAITING:
            return 0
        return bisect_left(self._queues[c.audience], (*c.key, c.conversation_id)) + 1

    def waiting(self, audience: str | None = None) -> list[str]:
        queues = [self._queues[audience]] if audience else list(self._queues.values())
        return [cid for q in queues for (_, _, cid) in q]

    def has_available_operator_for(self, audience: str) -> bool:
        """Someone connected and not paused has this skill (busy or not)."""
        return any(op.status is OperatorStatus.AVAILABLE and audience in op.skills for op in self._ops.values())

    def snapshot(self, now: datetime) -> dict[str, Any]:
        queues = {}
        for audience, q in self._queues.items():
            oldest = self._chats[q[0][2]].entered_at if q else None
            queues[audience] = {"waiting": len(q), "longest_wait": _seconds(now - oldest) if oldest else 0.0}
        return {
            "queues": queues,
            "operators": {o: self.operator(o) for o in sorted(self._ops)},
            "active": sum(1 for c in self._chats.values() if c.status is ChatStatus.ACTIVE),
        }

    # --- roster --------------------------------------------------------------------------

    def register_operator(self, operator_id: str, skills: Mapping[str, int], capacity: int | None = None) -> None:
        """Add or update an operator's profile (skills: audience → level 1..5)."""
        skills = {a: int(lvl) for a, lvl in skills.items() if a in self._queues}
        if any(not 1 <= lvl <= 5 for lvl in skills.values()):
            raise DispatchError("invalid_skill_level", "levels go from 1 to 5")
        cap = capacity or self.settings.max_chats
        if cap < 1:
            raise DispatchError("invalid_capacity")
        op = self._ops.get(operator_id)
        if op is None:
            self._ops[operator_id] = _Op(operator_id, skills, cap)
        else:
            op.skills, op.capacity = skills, cap

    # --- operator commands ---------------------------------------------------------------

    def operator_connected(self, operator_id: str, now: datetime) -> None:
        _check_time(now)
        op = self._op(operator_id)
        op.connections += 1
        op.lost_since = None

    def operator_disconnected(self, operator_id: str, now: datetime) -> list[Event]:
        """One of the operator's connections closed. When it was the last, the pending
        offer fails (``unreachable``) and the grace period of their chats starts."""
        _check_time(now)
        op = self._op(operator_id)
        if op.connections == 0:
            raise DispatchError("operator_not_connected", operator_id)
        op.connections -= 1
        events: list[Event] = []
        if op.connections == 0:
            op.lost_since = now
            if op.offer:
                self._fail_offer(self._chats[op.offer], now, "unreachable", events, count_miss=False)
            if op.status is OperatorStatus.AVAILABLE:
                self._set_status(op, OperatorStatus.PAUSED, now, "connection_lost", pause_reason="connection_lost")
        return self._record(events)

    def make_available(self, operator_id: str, now: datetime) -> None:
        _check_time(now)
        op = self._op(operator_id)
        if op.connections == 0:
            raise DispatchError("operator_not_connected", operator_id)
        if op.status is OperatorStatus.AVAILABLE:
            return
        op.missed = 0
        if op.status is OperatorStatus.OFFLINE or op.idle_since is None:
            op.idle_since = now
        op.pause_reason = None
        self._set_status(op, OperatorStatus.AVAILABLE, now, "operator")

    def pause(self, operator_id: str, now: datetime, reason: str = "pause") -> list[Event]:
        """No new chat; the chats held stay. A pending offer is withdrawn (no miss)."""
        _check_time(now)
        op = self._op(operator_id)
        events: list[Event] = []
        if op.offer:
            self._fail_offer(self._chats[op.offer], now, "withdrawn", events, count_miss=False)
        if op.status is not OperatorStatus.PAUSED or op.pause_reason != reason:
            self._set_status(op, OperatorStatus.PAUSED, now, "operator", pause_reason=reason)
        return self._record(events)

    def accept(self, conversation_id: str, operator_id: str, now: datetime) -> list[Event]:
        _check_time(now)
        c, op = self._chat(conversation_id), self._op(operator_id)
        if c.status is not ChatStatus.OFFERED or c.operator_id != operator_id:
            raise DispatchError("offer_not_found", f"{conversation_id} is not offered to {operator_id}")
        op.offer = None
        op.chats.add(c.conversation_id)
        op.missed = 0
        op.idle_since = now
        reassigned = c.first_answered_at is not None
        c.status, c.answered_at, c.expires_at = ChatStatus.ACTIVE, now, None
        c.first_answered_at = c.first_answered_at or now
        return self._record([ChatAnswered(
            at=now, conversation_id=c.conversation_id, audience=c.audience, operator_id=operator_id,
            wait_seconds=_seconds(c.first_answered_at - c.entered_at), attempt=c.attempts, overflow=c.overflow,
            reassigned=reassigned)])

    def decline(self, conversation_id: str, operator_id: str, now: datetime) -> list[Event]:
        _check_time(now)
        c = self._chat(conversation_id)
        if c.status is not ChatStatus.OFFERED or c.operator_id != operator_id:
            raise DispatchError("offer_not_found", f"{conversation_id} is not offered to {operator_id}")
        events: list[Event] = []
        self._fail_offer(c, now, "declined", events, count_miss=False)
        return self._record(events)

    # --- chat commands -------------------------------------------------------------------

    def enqueue(self, conversation_id: str, audience: str, now: datetime) -> list[Event]:
        _check_time(now)
        return self._record([self._queue_new(conversation_id, audience, now, restored=False)])

    def restore_waiting(self, conversation_id: str, audience: str, entered_at: datetime,
                        now: datetime, *, user_connected: bool = False) -> list[Event]:
        """After a restart: the chat waits again with its original ``entered_at``."""
        _check_time(now)
        event = self._queue_new(conversation_id, audience, entered_at, restored=True)
        c = self._chats[conversation_id]
        if not user_connected:
            c.user_connected, c.user_lost_since = False, now
        return self._record([event])

    def restore_active(self, conversation_id: str, audience: str, operator_id: str, entered_at: datetime,
                       answered_at: datetime, now: datetime, *, user_connected: bool = False) -> None:
        """After a restart: the chat is held by its operator again (who must come back
        within the grace period, like after a dropped connection)."""
        _check_time(now)
        if audience not in self._queues:
            raise DispatchError("unknown_audience", audience)
        if conversation_id in self._chats:
            raise DispatchError("chat_exists", conversation_id)
        op = self._op(operator_id)
        c = _Chat(conversation_id, audience, entered_at, next(self._seq), status=ChatStatus.ACTIVE,
                  operator_id=operator_id, answered_at=answered_at, first_answered_at=answered_at, attempts=1)
        if not user_connected:
            c.user_connected, c.user_lost_since = False, now
        self._chats[conversation_id] = c
        op.chats.add(conversation_id)
        if op.connections == 0 and op.lost_since is None:
            op.lost_since = now

    def end(self, conversation_id: str, now: datetime, reason: str) -> list[Event]:
        _check_time(now)
        c = self._chat(conversation_id)
        events: list[Event] = []
        self._end(c, now, reason, events)
        return self._record(events)

    def user_disconnected(self, conversation_id: str, now: datetime) -> None:
        _check_time(now)
        c = self._chat(conversation_id)
        c.user_connected, c.user_lost_since = False, now

    def user_reconnected(self, conversation_id: str, now: datetime) -> None:
        _check_time(now)
        c = self._chat(conversation_id)
        c.user_connected, c.user_lost_since = True, None

    # --- decisions -----------------------------------------------------------------------

    def dispatch(self, now: datetime) -> list[ChatOffered]:
        """Make every offer possible now; returns the offers to carry out."""
        _check_time(now)
        offers: list[ChatOffered] = []
        while True:
            best: tuple[_Chat, _Op, bool] | None = None
            for audience in self._queues:
                found = self._first_servable(audience, now)
                if found and (best is None or found[0].key < best[0].key):
                    best = found
            if best is None:
                break
            offers.append(self._offer(*best, now))
        self._record(list(offers))
        return offers

    def tick(self, now: datetime) -> list[Event]:
        """Expire offers, resume windows and operators' grace periods."""
        _check_time(now)
        events: list[Event] = []
        s = self.settings
        for c in [c for c in self._chats.values() if c.status is ChatStatus.OFFERED and c.expires_at <= now]:
            self._fail_offer(c, now, "timeout", events, count_miss=True)
        for c in [c for c in self._chats.values()
                  if not c.user_connected and c.user_lost_since is not None
                  and _seconds(now - c.user_lost_since) >= s.resume_window]:
            self._end(c, now, "user_left", events)
        for op in [o for o in self._ops.values()
                   if o.connections == 0 and o.lost_since is not None
                   and _seconds(now - o.lost_since) >= s.operator_grace]:
            for cid in sorted(op.chats, key=lambda cid: self._chats[cid].key):
                c = self._chats[cid]
                op.chats.discard(cid)
                c.status, c.operator_id, c.answered_at = ChatStatus.WAITING, None, None
                c.declined.add(op.operator_id)
                insort(self._queues[c.audience], (*c.key, cid))
                events.append(ChatRequeued(at=now, conversation_id=cid, audience=c.audience,
                                           operator_id=op.operator_id, reason="operator_lost"))
            op.lost_since = None
            if op.status is not OperatorStatus.OFFLINE:
                self._set_status(op, OperatorStatus.OFFLINE, now, "connection_lost")
        return self._record(events)

    def check_invariants(self) -> None:
        """For tests: indexes agree with the records."""
        queued = {cid for q in self._queues.values() for (_, _, cid) in q}
        for cid, c in self._chats.items():
            assert (cid in queued) == (c.status is ChatStatus.WAITING), cid
            if c.status is ChatStatus.OFFERED:
                assert self._ops[c.operator_id].offer == cid
            if c.status is ChatStatus.ACTIVE:
                assert cid in self._ops[c.operator_id].chats
        for op in self._ops.values():
            for cid in op.chats:
                assert self._chats[cid].operator_id == op.operator_id
        for q in self._queues.values():
            assert q == sorted(q)

    # --- internals -----------------------------------------------------------------------

    def _op(self, operator_id: str) -> _Op:
        try:
            return self._ops[operator_id]
        except KeyError:
            raise DispatchError("operator_not_found", operator_id) from None

    def _chat(self, conversation_id: str) -> _Chat:
        try:
            return self._chats[conversation_id]
        except KeyError:
            raise DispatchError("chat_not_found", conversation_id) from None

    def _record(self, events: list[Any]) -> list[Any]:
        self.events.extend(events)
        return events

    def _set_status(self, op: _Op, new: OperatorStatus, now: datetime, reason: str,
                    pause_reason: str | None = None) -> None:
        old = op.status
        op.status = new
        op.pause_reason = pause_reason if new is OperatorStatus.PAUSED else None
        self.events.append(OperatorChanged(at=now, operator_id=op.operator_id, old=old, new=new, reason=reason))

    def _queue_new(self, conversation_id: str, audience: str, entered_at: datetime, *, restored: bool) -> ChatQueued:
        if audience not in self._queues:
            raise DispatchError("unknown_audience", audience)
        if conversation_id in self._chats:
            raise DispatchError("chat_exists", conversation_id)
        c = _Chat(conversation_id, audience, entered_at, next(self._seq))
        self._chats[conversation_id] = c
        insort(self._queues[audience], (*c.key, conversation_id))
        return ChatQueued(at=entered_at, conversation_id=conversation_id, audience=audience,
                          entered_at=entered_at, restored=restored)

    def _unqueue(self, c: _Chat) -> None:
        q = self._queues[c.audience]
        i = bisect_left(q, (*c.key, c.conversation_id))
        assert i < len(q) and q[i][2] == c.conversation_id
        del q[i]

    def _free(self, op: _Op) -> bool:
        return (op.status is OperatorStatus.AVAILABLE and op.connections > 0 and op.offer is None
                and op.load < op.capacity)

    def _could_take(self, op: _Op, c: _Chat) -> bool:
        """Connected, not paused, skilled: may be offered this chat some day."""
        return op.status is OperatorStatus.AVAILABLE and op.connections > 0 and c.audience in op.skills

    def _choose(self, c: _Chat, now: datetime) -> tuple[_Op, bool] | None:
        free = [op for op in self._ops.values() if self._free(op)]
        if not free:
            return None
        declined = c.declined
        if declined and all(op.operator_id in declined for op in self._ops.values() if self._could_take(op, c)):
            declined = set()  # everyone who could take it declined: start a new round
        skilled = [op for op in free if c.audience in op.skills and op.operator_id not in declined]
        if skilled:
            return min(skilled, key=lambda o: (-o.skills[c.audience], o.load, o.idle_since or now, o.operator_id)), False
        overflow = self.settings.overflow_after
        if overflow is not None and _seconds(now - c.entered_at) >= overflow:
            others = [op for op in free if op.operator_id not in declined]
            if others:
                return min(others, key=lambda o: (o.load, o.idle_since or now, o.operator_id)), True
        return None

    def _first_servable(self, audience: str, now: datetime) -> tuple[_Chat, _Op, bool] | None:
        for _, _, cid in self._queues[audience]:
            c = self._chats[cid]
            choice = self._choose(c, now)
            if choice:
                return c, choice[0], choice[1]
            if not c.declined:
                return None  # younger chats without declines cannot be served either
        return None

    def _offer(self, c: _Chat, op: _Op, overflow: bool, now: datetime) -> ChatOffered:
        self._unqueue(c)
        c.status, c.operator_id, c.offered_at = ChatStatus.OFFERED, op.operator_id, now
        c.expires_at = now + timedelta(seconds=self.settings.offer_timeout)
        c.attempts += 1
        c.overflow = overflow
        op.offer = c.conversation_id
        return ChatOffered(at=now, conversation_id=c.conversation_id, audience=c.audience,
                           operator_id=op.operator_id, entered_at=c.entered_at,
                           wait_seconds=_seconds(now - c.entered_at), attempt=c.attempts,
                           overflow=overflow, expires_at=c.expires_at)

    def _fail_offer(self, c: _Chat, now: datetime, reason: str, events: list[Event], *, count_miss: bool) -> None:
        op = self._ops[c.operator_id]
        op.offer = None
        if reason != "withdrawn":
            c.declined.add(op.operator_id)
        if count_miss:
            op.missed += 1
        events.append(OfferFailed(at=now, conversation_id=c.conversation_id, operator_id=op.operator_id,
                                  reason=reason, consecutive_misses=op.missed))
        c.status, c.operator_id, c.expires_at = ChatStatus.WAITING, None, None
        insort(self._queues[c.audience], (*c.key, c.conversation_id))
        limit = self.settings.max_missed_offers
        if count_miss and limit and op.missed >= limit and op.status is OperatorStatus.AVAILABLE:
            self._set_status(op, OperatorStatus.PAUSED, now, "missed_offers", pause_reason=AUTO_PAUSE_REASON)

    def _end(self, c: _Chat, now: datetime, reason: str, events: list[Event]) -> None:
        if c.status is ChatStatus.OFFERED:
            self._fail_offer(c, now, "withdrawn", events, count_miss=False)
        if c.status is ChatStatus.WAITING:
            self._unqueue(c)
        operator_id = c.operator_id
        if c.status is ChatStatus.ACTIVE and operator_id:
            self._ops[operator_id].chats.discard(c.conversation_id)
        answered = c.first_answered_at is not None
        if reason == "user_left" and not answered:
            reason = "abandoned"
        del self._chats[c.conversation_id]
        events.append(ChatEnded(
            at=now, conversation_id=c.conversation_id, audience=c.audience, operator_id=operator_id,
            reason=reason, answered=answered,
            wait_seconds=_seconds((c.first_answered_at or now) - c.entered_at),
            talk_seconds=_seconds(now - c.first_answered_at) if c.first_answered_at else None))
