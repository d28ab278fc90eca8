"""A synthetic ticket's life, written as the rows and journal facts ``ticket_core.services``
writes for the same actions (same kinds, same data keys, same field updates), validated by
the real workflow table (``ticket_core.workflow``), and cut at the generation horizon: what
would happen after it has not happened yet, so the last month keeps tickets in progress.

Plain tuples and dicts only: at scale 100 a month is over a million facts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ticket_core.journal import EventKind
from ticket_core.workflow import TRANSITIONS, Action, Status, next_status

_SPECIFIC = {
    Action.ESCALATE: EventKind.TICKET_ESCALATED.value,
    Action.REQUEST_INFO: EventKind.TICKET_BOUNCED.value,
    Action.REMIND: EventKind.TICKET_REMINDED.value,
    Action.RESOLVE: EventKind.TICKET_RESOLVED.value,
    Action.TECHNICAL_CLOSURE: EventKind.TICKET_RESOLVED.value,
    Action.CLOSE: EventKind.TICKET_CLOSED.value,
    Action.MERGE: EventKind.TICKET_MERGED.value,
}

# Shared, never mutated: most facts carry one of a handful of data dicts.
_LEVEL_DATA: dict[str, dict[str, Any]] = {lvl: {"level": lvl} for lvl in ("N1", "N2", "N3")}
_TRANSITION_DATA: dict[tuple[str, str, str], dict[str, Any]] = {}


def _transition_data(action: str, old: str, new: str) -> dict[str, Any]:
    key = (action, old, new)
    data = _TRANSITION_DATA.get(key)
    if data is None:
        data = _TRANSITION_DATA[key] = {"action": action, "from": old, "to": new}
    return data


class Story:
    """One ticket being generated: its row (``row``, the ticket table's columns but ``id``,
    ``reference`` and ``requester_id``), its database id once inserted."""

    __slots__ = ("seq", "id", "reference", "row", "person", "survivor", "kind", "extra")

    def __init__(self, seq: int, row: dict[str, Any], person: int | None, kind: str) -> None:
        self.seq = seq
        self.id: int | None = None
        self.reference: str | None = None
        self.row = row
        self.person = person
        self.survivor: Story | None = None  # merged duplicates: the ticket kept
        self.kind = kind
        self.extra: Any = None


class Out:
    """What one chunk (a day) produces: journal facts and history rows, in generation order.

    A fact: (occurred_at, seq, kind, channel, story, call_id, operator_id, queue, data).
    A history row: (story, at, actor_id, action, field, old, new, note).
    ``elsewhere``: facts journaled by the other site of the pair (during a drill), as
    (occurred_at, kind, site, data). ``surveys``: (story, ``demo.satisfaction.Answer``).
    """

    __slots__ = ("events", "history", "keep_history", "_n", "elsewhere", "surveys")

    def __init__(self, keep_history: bool) -> None:
        self.events: list[tuple] = []
        self.history: list[tuple] = []
        self.keep_history = keep_history
        self._n = 0
        self.elsewhere: list[tuple] = []
        self.surveys: list[tuple] = []

    def fact(self, at: datetime, kind: str, *, channel: str | None = None, story: Story | None = None,
             call_id: str | None = None, operator_id: int | None = None, queue: str | None = None,
             data: dict[str, Any] | None = None) -> None:
        self._n += 1
        self.events.append((at, self._n, kind, channel, story, call_id, operator_id, queue,
                            _EMPTY if data is None else data))


_EMPTY: dict[str, Any] = {}


class Life:
    """Applies actions to a story in time order, like ``TicketService`` would."""

    __slots__ = ("story", "out", "horizon", "status", "level", "row", "actor")

    def __init__(self, story: Story, out: Out, horizon: datetime) -> None:
        self.story = story
        self.out = out
        self.horizon = horizon
        self.status = Status.NEW
        self.level = "N1"
        self.row = story.row
        self.actor: int | None = None

    # --- facts ----------------------------------------------------------------------------

    def _fact(self, at: datetime, kind: str, data: dict[str, Any] | None = None, *,
              operator_id: int | None = None, call_id: str | None = None) -> None:
        self.out.fact(at, kind, channel=self.row["channel"], story=self.story, call_id=call_id,
                      operator_id=operator_id, queue=self.row["audience_code"], data=data)

    def _history(self, at: datetime, action: str, field: str | None = None, old: Any = None,
                 new: Any = None, note: str = "", actor: int | None = -1) -> None:
        if self.out.keep_history:
            self.out.history.append((self.story, at, self.actor if actor == -1 else actor, action, field,
                                     None if old is None else str(old), None if new is None else str(new), note))

    # --- actions --------------------------------------------------------------------------

    def created(self, at: datetime, *, call_id: str | None = None) -> None:
        row = self.row
        self._history(at, "create", note=f"channel={row['channel']}", actor=None)
        self._fact(at, EventKind.TICKET_CREATED.value,
                   {"reference": self.story.reference, "source_ref": row["source_ref"]}, call_id=call_id)

    def taken_in_charge(self, at: datetime, operator_id: int, username: str) -> bool:
        if at >= self.horizon:
            return False
        self.actor = operator_id
        self.row["taken_in_charge_at"] = at
        self.row["assignee_id"] = operator_id
        self.row["updated_at"] = at
        self._fact(at, EventKind.TICKET_TAKEN_IN_CHARGE.value, {"by": username}, operator_id=operator_id)
        return True

    def qualify(self, at: datetime, changes: dict[str, Any], operator: tuple[int, str] | None = None) -> bool:
        """The operator's qualification; as their first action it also takes the ticket in
        charge (journaled after the qualification, as the service does)."""
        if at >= self.horizon:
            return False
        row = self.row
        if operator is not None:
            self.actor = operator[0]
        for name, value in changes.items():
            self._history(at, "qualify", field=name, old=row[name], new=value)
            row[name] = value
        row["updated_at"] = at
        self._fact(at, EventKind.TICKET_QUALIFIED.value, changes)
        if operator is not None and row["taken_in_charge_at"] is None:
            self.taken_in_charge(at, *operator)
        return True

    def act(self, at: datetime, action: Action, *, note: str = "", into: Story | None = None,
            escalation_info: dict[str, Any] | None = None, glpi_reference: str | None = None) -> bool:
        """One workflow action at ``at``; False (and nothing written) past the horizon."""
        if at >= self.horizon:
            return False
        row = self.row
        old = self.status
        target = next_status(old, action)  # raises on a transition the workflow forbids
        data = _transition_data(action.value, old.value, target.value)
        if action is Action.ESCALATE:
            row["escalation_info"] = {**row["escalation_info"], **(escalation_info or {})}
            if glpi_reference:
                row["glpi_reference"] = glpi_reference
            row["escalated"] = True
        elif action is Action.REQUEST_INFO:
            row["escalation_bounced"] = True
        elif action is Action.PROVIDE_INFO and escalation_info:
            row["escalation_info"] = {**row["escalation_info"], **escalation_info}
        elif action is Action.MERGE:
            assert into is not None
            data = {**data, "into": into.reference}
            self.story.survivor = into
        elif action is Action.REOPEN:
            row["contacts"] += 1
            row["resolved_at"] = None
            row["resolved_by_level"] = None
        if action in (Action.RESOLVE, Action.TECHNICAL_CLOSURE):
            row["resolved_at"] = at
            row["resolved_by_level"] = "N1" if action is Action.RESOLVE else self.level
        if action in (Action.RESOLVE, Action.ESCALATE) and row["handled_at"] is None:
            row["handled_at"] = at
        if action is Action.CLOSE:
            row["closed_at"] = at
        level = TRANSITIONS[action].level
        if level:
            self.level = level
        if target != old:
            self._history(at, action.value, field="status", old=old.value, new=target.value, note=note)
        else:
            self._history(at, action.value, note=note)
        self.status = target
        row["status"] = target.value
        row["level"] = self.level
        row["updated_at"] = at
        self._fact(at, EventKind.TICKET_TRANSITIONED.value, data)
        specific = _SPECIFIC.get(action)
        if specific:
            if action is Action.REMIND:
                sdata = {"level": self.level, "note": note[:200]}
            else:
                sdata = _LEVEL_DATA[row["resolved_by_level"] or self.level]
            self._fact(at, specific, sdata)
        return True

    def merged_in(self, at: datetime, duplicate_reference: str) -> None:
        """History row the service writes on the ticket kept by a merge."""
        self._history(at, "merge_in", note=duplicate_reference)
