"""The portal's mail form: checking a submission and turning it into a ticket.

A submission takes the same path as a mail: a ticket of channel ``mail`` (so the
one-business-hour "taken in charge" clock of T2-IQ05 runs), a ``mail_received`` fact with
``{"source": "portal"}``, the submission kept as received (``portal_submissions``) and the
acknowledgement mail with the reference queued in the mail gateway's outbox (sent by the
main job's outbox sender, with the gateway's rate limit per address) — all in one
transaction, committed before the reference is shown. Operators answer the ticket by mail
like any other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from chatgw.models import PortalSubmission
from chatgw.schemas import clean_text
from chatgw.settings import ChatSettings
from mailgw.services import queue_acknowledgement
from mailgw.settings import MailSettings
from ticket_core import journal
from ticket_core.journal import EventKind, Fact
from ticket_core.models import Application, Audience, Ticket
from ticket_core.services import SYSTEM, TicketService, normalise_email
from web_pages.strings import ERRORS, group

HONEYPOT = "champ_controle"
FIELDS = ("audience", "nom", "courriel", "application", "objet", "message")
MIN_MESSAGE = 10


@dataclass
class FormResult:
    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    honeypot: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors and not self.honeypot


async def choices(session: AsyncSession) -> tuple[list[Audience], list[Application]]:
    audiences = list(await session.scalars(select(Audience).where(Audience.active.is_(True)).order_by(Audience.ivr_digit, Audience.code)))
    applications = list(await session.scalars(select(Application).where(Application.active.is_(True)).order_by(Application.label)))
    return audiences, applications


def check(data: dict[str, Any], settings: ChatSettings, audiences: set[str], applications: set[str]) -> FormResult:
    values = {name: clean_text(str(data.get(name, "") or "")).strip() for name in FIELDS}
    result = FormResult(values)
    if str(data.get(HONEYPOT, "") or "").strip():
        result.honeypot = True
    e = result.errors
    if values["audience"] not in audiences:
        e["audience"] = ERRORS["audience_required"]
    if not values["nom"]:
        e["nom"] = ERRORS["name_required"]
    elif len(values["nom"]) > settings.form_max_name:
        e["nom"] = ERRORS["name_too_long"].format(limit=group(settings.form_max_name))
    if not values["courriel"]:
        e["courriel"] = ERRORS["email_required"]
    elif len(values["courriel"]) > 320 or normalise_email(values["courriel"]) is None:
        e["courriel"] = ERRORS["email_invalid"]
    if values["application"] and values["application"] not in applications:
        e["application"] = ERRORS["application_unknown"]
    if not values["objet"]:
        e["objet"] = ERRORS["subject_required"]
    elif len(values["objet"]) > settings.form_max_subject:
        e["objet"] = ERRORS["subject_too_long"].format(limit=group(settings.form_max_subject))
    if not values["message"]:
        e["message"] = ERRORS["message_required"]
    elif len(values["message"]) < MIN_MESSAGE:
        e["message"] = ERRORS["message_too_short"]
    elif len(values["message"]) > settings.form_max_message:
        e["message"] = ERRORS["message_too_long"].format(limit=group(settings.form_max_message),
                                                         count=group(len(values["message"])))
    return result


async def submit(session: AsyncSession, tickets: TicketService, values: dict[str, str], *, raw: str,
                 site: str, now: datetime, mail: MailSettings | None = None, opening: str = "08:30",
                 closing: str = "17:30") -> Ticket:
    """Ticket + ``mail_received`` {source: portal} + the submission + the acknowledgement
    (when ``mail`` settings are given and acknowledgements are on), in the caller's
    transaction (the caller commits)."""
    requester = await tickets.find_or_create_requester(email=values["courriel"], audience=values["audience"],
                                                       display_name=values["nom"])
    ticket = await tickets.create_ticket(
        channel="mail", audience=values["audience"], requester_id=requester.id if requester else None,
        subject=values["objet"], description=values["message"], source_ref="portal", received_at=now)
    submission = PortalSubmission(ticket_id=ticket.id, received_at=now, raw=raw, fields=dict(values))
    session.add(submission)
    await session.flush()
    ticket.source_ref = f"portal:{submission.id}"
    ack = "disabled"
    to = normalise_email(values["courriel"])
    if mail is not None and mail.acknowledge and to:
        ack = "own_address" if mail.own_address(to) else await queue_acknowledgement(
            session, mail, ticket=ticket, to=to, subject=values["objet"], in_reply_to=None, references=[],
            now=now, opening=opening, closing=closing)
    journal.append(session, Fact(kind=EventKind.MAIL_RECEIVED, occurred_at=now, channel="mail", ticket_id=ticket.id,
                                 queue=ticket.audience_code,
                                 data={"source": "portal", "submission": submission.id, "acknowledgement": ack}),
                   site=site)
    if values.get("application"):
        # The user's own choice of application, as a first qualification.
        await tickets.qualify(ticket.id, SYSTEM, application=values["application"])
    await session.flush()
    return ticket


def raw_body(body: bytes) -> str:
    """The request body as received (it is size-checked before), for the record."""
    return body.decode("utf-8", "replace").replace("\x00", "")
