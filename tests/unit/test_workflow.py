import pytest

from ticket_core.exceptions import TransitionNotAllowed
from ticket_core.workflow import Status, allowed_actions, next_status

S = Status
ALLOWED = [
    (S.NEW, "take", S.IN_PROGRESS),
    (S.NEW, "resolve", S.RESOLVED),
    (S.NEW, "escalate", S.ESCALATED_N2),
    (S.IN_PROGRESS, "resolve", S.RESOLVED),
    (S.IN_PROGRESS, "escalate", S.ESCALATED_N2),
    (S.ESCALATED_N2, "send_back", S.RETURNED_TO_N1),
    (S.ESCALATED_N2, "request_info", S.INFO_REQUESTED),
    (S.ESCALATED_N2, "pass_to_n3", S.ESCALATED_N3),
    (S.ESCALATED_N2, "technical_closure", S.TECHNICALLY_CLOSED),
    (S.ESCALATED_N2, "remind", S.ESCALATED_N2),
    (S.INFO_REQUESTED, "provide_info", S.ESCALATED_N2),
    (S.RETURNED_TO_N1, "take", S.IN_PROGRESS),
    (S.RETURNED_TO_N1, "resolve", S.RESOLVED),
    (S.RETURNED_TO_N1, "escalate", S.ESCALATED_N2),
    (S.ESCALATED_N3, "back_to_n2", S.ESCALATED_N2),
    (S.ESCALATED_N3, "technical_closure", S.TECHNICALLY_CLOSED),
    (S.ESCALATED_N3, "remind", S.ESCALATED_N3),
    (S.TECHNICALLY_CLOSED, "close", S.CLOSED),
    (S.RESOLVED, "close", S.CLOSED),
    (S.RESOLVED, "reopen", S.IN_PROGRESS),
] + [(s, "merge", S.MERGED) for s in S if s not in (S.CLOSED, S.MERGED)]


@pytest.mark.parametrize(("source", "action", "target"), ALLOWED)
def test_allowed_transition_reaches_its_target(source, action, target):
    assert next_status(source, action) is target
    assert action in allowed_actions(source)


FORBIDDEN = [
    (S.NEW, "close"), (S.NEW, "technical_closure"), (S.NEW, "pass_to_n3"), (S.NEW, "remind"),
    (S.IN_PROGRESS, "send_back"), (S.RESOLVED, "escalate"), (S.ESCALATED_N2, "resolve"),
    (S.ESCALATED_N2, "close"), (S.ESCALATED_N3, "send_back"), (S.ESCALATED_N3, "request_info"),
    (S.INFO_REQUESTED, "technical_closure"), (S.TECHNICALLY_CLOSED, "reopen"),
    (S.CLOSED, "reopen"), (S.CLOSED, "merge"), (S.MERGED, "take"), (S.CLOSED, "remind"),
]


@pytest.mark.parametrize(("source", "action"), FORBIDDEN)
def test_forbidden_transition_is_refused_with_what_is_allowed(source, action):
    with pytest.raises(TransitionNotAllowed) as err:
        next_status(source, action)
    assert err.value.error_id == "transition_not_allowed"
    assert err.value.details["allowed"] == allowed_actions(source)
    assert action not in allowed_actions(source)


def test_every_pair_not_listed_as_allowed_is_refused():
    allowed = {(s, a) for s, a, _ in ALLOWED}
    from ticket_core.workflow import Action

    for status in S:
        for action in Action:
            if (status, action.value) in allowed:
                continue
            with pytest.raises(TransitionNotAllowed):
                next_status(status, action)


def test_unknown_action_is_refused():
    with pytest.raises(TransitionNotAllowed):
        next_status(S.NEW, "explode")
