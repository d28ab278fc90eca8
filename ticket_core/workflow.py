"""The ticket status workflow of SPEC §5, as data. Pure: no I/O.

    new ──take──> in_progress ──resolve──> resolved ──close──> closed
     │  └────────────resolve──────────────^   ^  │reopen
     │                                        │  v
     └──escalate──> escalated_n2 ──send_back──> returned_to_n1 ──(take|resolve|escalate)
                     │   ^  │──request_info──> info_requested ──provide_info──> escalated_n2
                     │   │  └──technical_closure──> technically_closed ──close──> closed
                     │ back_to_n2                        ^
                     └──pass_to_n3──> escalated_n3 ──────┘ technical_closure

The help desk owns every ticket until it is closed (administrative closure by N1), even
while N2 or N3 holds it. ``merge`` ends a duplicate in any open status; ``remind``
("relance") is allowed while N2 or N3 holds the ticket and changes no status.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ticket_core.exceptions import TransitionNotAllowed


class Status(StrEnum):
    NEW = "new"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"  # resolved by N1
    ESCALATED_N2 = "escalated_n2"
    RETURNED_TO_N1 = "returned_to_n1"  # N2 sent it back: it needs an N1 answer
    INFO_REQUESTED = "info_requested"  # N2 asks N1 for more information
    ESCALATED_N3 = "escalated_n3"
    TECHNICALLY_CLOSED = "technically_closed"  # solved by N2 or N3
    CLOSED = "closed"  # administrative closure by N1
    MERGED = "merged"  # duplicate folded into another ticket


class Action(StrEnum):
    TAKE = "take"
    RESOLVE = "resolve"
    ESCALATE = "escalate"
    SEND_BACK = "send_back"
    REQUEST_INFO = "request_info"
    PROVIDE_INFO = "provide_info"
    PASS_TO_N3 = "pass_to_n3"
    BACK_TO_N2 = "back_to_n2"
    TECHNICAL_CLOSURE = "technical_closure"
    CLOSE = "close"
    REOPEN = "reopen"
    MERGE = "merge"
    REMIND = "remind"


OPEN_STATUSES = frozenset(Status) - {Status.CLOSED, Status.MERGED}
N1_WORKING = frozenset({Status.NEW, Status.IN_PROGRESS, Status.RETURNED_TO_N1})


@dataclass(frozen=True)
class Transition:
    action: Action
    sources: frozenset[Status]
    target: Status | None  # None: status unchanged (reminders)
    level: str | None  # who holds the ticket afterwards; None: unchanged


TRANSITIONS: dict[Action, Transition] = {
    t.action: t
    for t in (
        Transition(Action.TAKE, frozenset({Status.NEW, Status.RETURNED_TO_N1}), Status.IN_PROGRESS, "N1"),
        Transition(Action.RESOLVE, N1_WORKING, Status.RESOLVED, "N1"),
        Transition(Action.ESCALATE, N1_WORKING, Status.ESCALATED_N2, "N2"),
        Transition(Action.SEND_BACK, frozenset({Status.ESCALATED_N2}), Status.RETURNED_TO_N1, "N1"),
        Transition(Action.REQUEST_INFO, frozenset({Status.ESCALATED_N2}), Status.INFO_REQUESTED, "N1"),
        Transition(Action.PROVIDE_INFO, frozenset({Status.INFO_REQUESTED}), Status.ESCALATED_N2, "N2"),
        Transition(Action.PASS_TO_N3, frozenset({Status.ESCALATED_N2}), Status.ESCALATED_N3, "N3"),
        Transition(Action.BACK_TO_N2, frozenset({Status.ESCALATED_N3}), Status.ESCALATED_N2, "N2"),
        Transition(
            Action.TECHNICAL_CLOSURE,
            frozenset({Status.ESCALATED_N2, Status.ESCALATED_N3}),
            Status.TECHNICALLY_CLOSED,
            "N1",
        ),
        Transition(
            Action.CLOSE, frozenset({Status.RESOLVED, Status.TECHNICALLY_CLOSED}), Status.CLOSED, "N1"
        ),
        Transition(Action.REOPEN, frozenset({Status.RESOLVED}), Status.IN_PROGRESS, "N1"),
        Transition(Action.MERGE, OPEN_STATUSES, Status.MERGED, None),
        Transition(
            Action.REMIND, frozenset({Status.ESCALATED_N2, Status.ESCALATED_N3}), None, None
        ),
    )
}


def next_status(current: Status | str, action: Action | str) -> Status:
    """The status after ``action``, or ``TransitionNotAllowed`` naming what is allowed."""
    try:
        act = Action(action)
    except ValueError:
        raise TransitionNotAllowed(
            f"unknown action {action!r}", field="action", allowed=sorted(a.value for a in Action)
        ) from None
    status = Status(current)
    transition = TRANSITIONS[act]
    if status not in transition.sources:
        raise TransitionNotAllowed(
            f"cannot {act.value} a ticket that is {status.value}",
            field="action",
            status=status.value,
            allowed=allowed_actions(status),
        )
    return transition.target or status


def allowed_actions(status: Status | str) -> list[str]:
    st = Status(status)
    return [a.value for a, t in TRANSITIONS.items() if st in t.sources]
