"""The events journal: one append-only table of typed facts (DESIGN.md).

Every package appends here, inside the same transaction as the change the fact describes,
so the journal and the tickets never disagree. Each kind declares the data keys it must
carry; the indicators (T2-IQ01…) are queries over these kinds only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ticket_core.db import utcnow
from ticket_core.exceptions import InvalidValue
from ticket_core.models import JournalEvent


class EventKind(StrEnum):
    # calls (telephony/, acd/)
    CALL_RECEIVED = "call_received"  # reached the service during opening hours
    CALL_RECEIVED_OUTSIDE_HOURS = "call_received_outside_hours"
    CALL_PRESENTED = "call_presented"  # entered a queue
    CALL_OFFERED = "call_offered"  # an operator's phone rang
    CALL_OFFER_FAILED = "call_offer_failed"  # …and was not answered (timeout, declined, busy)
    CALL_ANSWERED = "call_answered"  # an operator's leg was bridged with it
    CALL_ABANDONED = "call_abandoned"  # caller hung up while waiting
    CALL_LOST = "call_lost"  # ended unanswered for another reason
    CALL_ENDED = "call_ended"
    CALLBACK_REQUESTED = "callback_requested"
    CALLBACK_ATTEMPTED = "callback_attempted"
    CALL_RECOVERED = "call_recovered"
    OPERATOR_STATE_CHANGED = "operator_state_changed"
    # mail, chat
    MAIL_RECEIVED = "mail_received"
    MAIL_SENT = "mail_sent"
    CHAT_STARTED = "chat_started"
    CHAT_ANSWERED = "chat_answered"
    CHAT_ENDED = "chat_ended"
    # tickets
    TICKET_CREATED = "ticket_created"
    TICKET_TAKEN_IN_CHARGE = "ticket_taken_in_charge"
    TICKET_QUALIFIED = "ticket_qualified"
    TICKET_TRANSITIONED = "ticket_transitioned"
    TICKET_ESCALATED = "ticket_escalated"
    TICKET_BOUNCED = "ticket_bounced"  # N2 asked for missing information (T2-IQ06)
    TICKET_REMINDED = "ticket_reminded"  # relance to N2/N3
    TICKET_RESOLVED = "ticket_resolved"
    TICKET_CLOSED = "ticket_closed"
    TICKET_MERGED = "ticket_merged"
    # service, sites, surveys
    SERVICE_OPENED = "service_opened"
    SERVICE_CLOSED = "service_closed"
    PROBE_RESULT = "probe_result"
    SITE_SWITCHED_OVER = "site_switched_over"
    DRILL_DONE = "drill_done"
    SURVEY_ANSWERED = "survey_answered"


# Data keys each kind must carry (beyond the common columns).
REQUIRED_DATA: dict[EventKind, tuple[str, ...]] = {
    EventKind.CALL_ANSWERED: ("wait_seconds",),
    EventKind.CALL_ABANDONED: ("wait_seconds",),
    EventKind.CALL_LOST: ("reason",),
    EventKind.TICKET_TRANSITIONED: ("action", "from", "to"),
    EventKind.OPERATOR_STATE_CHANGED: ("old", "new"),
    EventKind.PROBE_RESULT: ("check", "ok"),
    EventKind.SURVEY_ANSWERED: ("rating",),
}


@dataclass
class Fact:
    """A fact to journal; built by any package, written by ``append``."""

    kind: EventKind
    occurred_at: datetime | None = None
    channel: str | None = None
    ticket_id: int | None = None
    call_id: str | None = None
    operator_id: int | None = None
    queue: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


def append(session: AsyncSession, fact: Fact, *, site: str) -> JournalEvent:
    """Add the fact to the session's transaction (the caller commits)."""
    try:
        kind = EventKind(fact.kind)
    except ValueError:
        raise InvalidValue(f"unknown event kind {fact.kind!r}", field="kind") from None
    missing = [k for k in REQUIRED_DATA.get(kind, ()) if k not in fact.data]
    if missing:
        raise InvalidValue(f"event {kind.value} lacks {', '.join(missing)}", field="data")
    now = utcnow()
    row = JournalEvent(
        occurred_at=fact.occurred_at or now,
        recorded_at=now,
        kind=kind.value,
        site=site,
        channel=fact.channel,
        ticket_id=fact.ticket_id,
        call_id=fact.call_id,
        operator_id=fact.operator_id,
        queue=fact.queue,
        data=fact.data,
    )
    session.add(row)
    return row
