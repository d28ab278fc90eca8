"""Which ticket a mail belongs to.

In order: a Message-ID it answers (In-Reply-To, then References from the most recent)
that we sent or received; its own Message-ID, already received by another path (the
same mail by SMTP and IMAP); a ticket reference (``GU-2026-000123``) in its subject.
A merged ticket leads to the ticket it was merged into; a closed ticket is not reopened
by mail: the mail makes a new ticket that names it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mailgw.models import MailMessage
from mailgw.parsing import ParsedMail
from ticket_core.models import Ticket
from ticket_core.workflow import Status


@dataclass
class ThreadMatch:
    ticket: Ticket | None = None  # the open ticket the mail joins
    how: str | None = None  # in_reply_to | references | message_id | subject
    closed: Ticket | None = None  # the closed ticket it answers (a new ticket is made)


def references_in(subject: str, prefix: str) -> list[str]:
    pattern = re.compile(rf"(?<![A-Za-z0-9]){re.escape(prefix)}-(\d{{4}})-(\d{{6}})(?!\d)", re.IGNORECASE)
    return [f"{prefix}-{year}-{number}" for year, number in pattern.findall(subject or "")]


async def _follow_merges(session: AsyncSession, ticket: Ticket) -> Ticket:
    for _ in range(10):
        if ticket.status != Status.MERGED.value or ticket.merged_into_id is None:
            break
        survivor = await session.get(Ticket, ticket.merged_into_id)
        if survivor is None:
            break
        ticket = survivor
    return ticket


async def find_thread(session: AsyncSession, parsed: ParsedMail, prefix: str) -> ThreadMatch:
    candidates: list[tuple[Ticket, str]] = []
    ids = parsed.thread_ids
    if ids:
        rows = (await session.execute(
            select(MailMessage.message_id, MailMessage.ticket_id)
            .where(MailMessage.message_id.in_(ids), MailMessage.ticket_id.is_not(None))
            .order_by(MailMessage.id.desc())
        )).all()
        by_id: dict[str, int] = {}
        for mid, ticket_id in rows:
            by_id.setdefault(mid, ticket_id)
        for mid in ids:
            if mid in by_id:
                ticket = await session.get(Ticket, by_id[mid])
                if ticket is not None:
                    how = "in_reply_to" if mid == parsed.in_reply_to else "references"
                    candidates.append((ticket, how))
                    break
    if not candidates and parsed.message_id:
        ticket_id = await session.scalar(
            select(MailMessage.ticket_id).where(
                MailMessage.message_id == parsed.message_id, MailMessage.ticket_id.is_not(None))
            .order_by(MailMessage.id).limit(1))
        if ticket_id is not None:
            ticket = await session.get(Ticket, ticket_id)
            if ticket is not None:
                candidates.append((ticket, "message_id"))
    if not candidates:
        for reference in references_in(parsed.subject, prefix):
            ticket = await session.scalar(select(Ticket).where(Ticket.reference == reference.upper()))
            if ticket is not None:
                candidates.append((ticket, "subject"))
                break
    if not candidates:
        return ThreadMatch()
    ticket, how = candidates[0]
    ticket = await _follow_merges(session, ticket)
    if ticket.status in (Status.CLOSED.value, Status.MERGED.value):
        return ThreadMatch(closed=ticket, how=how)
    return ThreadMatch(ticket=ticket, how=how)
