"""Answers to the satisfaction survey (T8-IQ01), written as ``chatgw.services.answer_survey``
writes one: the invitation it answers (``satisfaction_invitations``: a tokenised link issued
at the end of a chat, or sent by mail once the ticket is resolved), the answer
(``satisfaction_answers``, one per ticket) and ``survey_answered`` {rating, source} with the
ticket's channel and audience.

A share of the resolved tickets is answered, in the ratings of the real survey
(``chatgw.models.RATINGS``), drawn from the month's own ``Random`` (the calls and tickets of a
seed stay the same) and scaled with the volume like the tickets. Only the invitations that
were answered are written (the unanswered ones are read by nothing).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from random import Random
from typing import Any

from demo import profile as P
from ticket_core.journal import REQUIRED_DATA, EventKind

RATINGS = ("tres_satisfait", "satisfait", "insatisfait")  # chatgw.models.RATINGS
#: The fact's data, shared (one dict per rating and source: encoded once per day).
DATA = {(r, s): {"rating": r, "source": s} for r in RATINGS for s in ("chat", "mail")}


def _clamp(x: float, spec: tuple[float, float, float, float]) -> float:
    return min(spec[3], max(spec[2], x))


@dataclass(frozen=True)
class Answer:
    source: str  # chat | mail
    invited: datetime
    answered: datetime
    rating: str
    comment: str
    nonce: int

    def token_hash(self, reference: str) -> str:
        """The link's hash, as ``chatgw.services.hash_token`` stores it (the link itself, like
        any, is nowhere: nobody can answer again)."""
        return hashlib.sha256(f"demo.{reference}.{self.nonce:032x}".encode()).hexdigest()


class SurveyMonth:
    """The month's survey: who answers, when, and how satisfied."""

    def __init__(self, seed: int, year: int, month: int, horizon: datetime) -> None:
        self.rng = Random(f"guichet-demo/{seed}/{year:04d}-{month:02d}/surveys")
        rng = self.rng
        self.horizon = horizon
        self.share = _clamp(rng.gauss(*P.SURVEY_SHARE[:2]), P.SURVEY_SHARE)
        self.very = _clamp(rng.gauss(*P.VERY_SATISFIED[:2]), P.VERY_SATISFIED)
        self.unsatisfied = _clamp(rng.gauss(*P.UNSATISFIED[:2]), P.UNSATISFIED)

    def answer(self, row: dict[str, Any], chat_end: datetime | None) -> Answer | None:
        """The answer of a ticket's requester, or None (not resolved, not answered, or not
        yet at the horizon)."""
        rng = self.rng
        resolved = row["resolved_at"]
        if resolved is None:
            return None
        share = self.share * (P.SURVEY_CHAT_FACTOR if chat_end is not None else 1.0)
        if rng.random() >= share:
            return None
        if chat_end is not None:  # the link offered when the chat ends, answered at once
            source, invited = "chat", chat_end
            answered = invited + timedelta(seconds=round(rng.uniform(*P.SURVEY_CHAT_SECONDS), 3))
        else:  # the link mailed once resolved, answered when the mail is read
            source, invited = "mail", resolved + timedelta(seconds=round(rng.uniform(5.0, 90.0), 3))
            median, sigma = P.SURVEY_DELAY
            hours = min(P.SURVEY_MAX_DAYS * 24, median * math.exp(rng.gauss(0.0, sigma)))
            answered = invited + timedelta(seconds=round(hours * 3600, 3))
        rating = self._rating(row)
        comment = rng.choice(P.COMMENTS[rating]) if rng.random() < P.COMMENT_SHARE[rating] else ""
        nonce = rng.getrandbits(128)
        if answered >= self.horizon:
            return None
        return Answer(source, invited, answered, rating, comment, nonce)

    def _rating(self, row: dict[str, Any]) -> str:
        very, unsatisfied = self.very, self.unsatisfied
        handled, due = row["handled_at"], row["handling_due_at"]
        if row["escalated"] or row["contacts"] > 1 or (handled is not None and handled > due):
            very -= P.HARD_CASE_VERY_DROP
            unsatisfied *= P.HARD_CASE_UNSATISFIED_FACTOR
        u = self.rng.random()
        return "tres_satisfait" if u < very else "insatisfait" if u >= 1.0 - unsatisfied else "satisfait"


# The shapes above must satisfy the journal's contract.
assert all(k in DATA[("satisfait", "mail")] for k in REQUIRED_DATA[EventKind.SURVEY_ANSWERED])
