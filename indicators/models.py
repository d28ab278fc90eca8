"""Indexes the indicators need on tables owned by other packages (created by migration
0006). No table of its own: indicators are queries.

- ``calls (caller_number, answered_at)``: a lost call's first later answered call from the
  same number (T2-IQ04) is one index seek, even for numbers that call hundreds of times;
- ``tickets (resolved_at)``: the tickets resolved in a month (T2-IQ10) are an index range.
"""

from __future__ import annotations

from sqlalchemy import Index

from telephony.models import Call
from ticket_core.models import Ticket

CALLS_NUMBER_ANSWERED = Index("ix_calls_caller_number_answered_at", Call.__table__.c.caller_number,
                              Call.__table__.c.answered_at)
TICKETS_RESOLVED = Index("ix_tickets_resolved_at", Ticket.__table__.c.resolved_at)
