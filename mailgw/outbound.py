"""Mail out: building acknowledgements and operators' replies, and the outbox that
delivers them through the outbound SMTP relay.

A mail to send is a ``mail_messages`` row (direction ``out``, status ``pending``) written
in the same transaction as what caused it (the inbound mail's ticket, the operator's
reply), with its final bytes and Message-ID: a rolled-back ticket sends nothing, a
committed one is sent even after a crash. The sender claims due rows, hands them to the
relay (STARTTLS, AUTH from the settings) and, in one transaction, marks them sent and
journals ``mail_sent``. Temporary refusals are retried with a doubling delay; permanent
ones mark the row failed (and the ticket for attention, for an operator's reply).
Delivery is at least once: a crash between the relay's 250 and the commit resends the
same bytes and Message-ID, which receivers recognise.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import smtplib
import ssl
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import undefer

from mailgw import texts
from mailgw.models import FAILED, OUTBOUND, PENDING, SENDING, SENT, MailMessage
from mailgw.settings import MailSettings
from ticket_core import journal
from ticket_core.journal import EventKind, Fact
from ticket_core.models import Ticket

log = logging.getLogger("guichet.mail.outbound")

ACK_MAX_AGE = timedelta(days=1)

# --- building messages ---------------------------------------------------------------------


def _sender(settings: MailSettings) -> Address:
    local, domain = settings.support_address.split("@", 1)
    return Address(settings.from_name, local, domain)


def _references(parent_refs: list[str], parent_id: str | None) -> list[str]:
    refs = [r for r in parent_refs if r]
    if parent_id and parent_id not in refs:
        refs.append(parent_id)
    # RFC 5322 suggests keeping the first and the last ones when trimming.
    return refs if len(refs) <= 20 else [refs[0], *refs[-19:]]


def build_message(settings: MailSettings, *, to: str, subject: str, body: str, now: datetime,
                  in_reply_to: str | None, references: list[str], automatic: bool | str) -> EmailMessage:
    """``automatic``: True for an automatic answer ("auto-replied"), or the RFC 3834 value
    itself ("auto-generated" for a report nobody asked by mail); False for a person's mail."""
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = _sender(settings)
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid(domain=settings.hostname)
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references:
        msg["References"] = " ".join(references)
    if automatic:
        # RFC 3834: an automatic answer, never to be answered automatically; Exchange's
        # own header to the same effect.
        msg["Auto-Submitted"] = automatic if isinstance(automatic, str) else "auto-replied"
        msg["X-Auto-Response-Suppress"] = "All"
    msg.set_content(body, charset="utf-8", cte="quoted-printable")
    return msg


def outbox_row(msg: EmailMessage, *, kind: str, ticket_id: int | None, to: str, envelope_from: str, now: datetime,
               sent_by: int | None = None, body: str = "") -> MailMessage:
    raw = msg.as_bytes(policy=policy.SMTP)
    return MailMessage(
        direction=OUTBOUND, kind=kind, source="system" if sent_by is None else "api", ticket_id=ticket_id,
        created_at=now, message_id=str(msg["Message-ID"]).strip(),
        in_reply_to=str(msg["In-Reply-To"]).strip() if msg["In-Reply-To"] else None,
        reference_ids=str(msg["References"] or ""), from_address=None, from_name="", counterpart=to,
        to_addresses=[to], cc_addresses=[], envelope_from=envelope_from, envelope_to=[to],
        subject=str(msg["Subject"])[:500], text_body=body, html_raw=None, html_sanitized=None, size=len(raw), sha256=hashlib.sha256(raw).hexdigest(),
        raw=raw, needs_attention=False, problems=[], status=PENDING, attempts=0, sent_by=sent_by,
    )


def acknowledgement(settings: MailSettings, *, ticket: Ticket, to: str, subject: str, in_reply_to: str | None,
                    references: list[str], now: datetime, opening: str, closing: str,
                    signature: str) -> EmailMessage:
    return build_message(
        settings, to=to,
        subject=texts.ACK_SUBJECT.format(reference=ticket.reference, subject=subject or texts.NO_SUBJECT)[:300],
        body=texts.ACK_BODY.format(reference=ticket.reference, opening=opening, closing=closing,
                                   signature=signature),
        now=now, in_reply_to=in_reply_to, references=_references(references, in_reply_to), automatic=True,
    )


def reply(settings: MailSettings, *, ticket: Ticket, to: str, subject: str, body: str, in_reply_to: str | None,
          references: list[str], now: datetime, signature: str) -> EmailMessage:
    text = body.rstrip() + texts.REPLY_FOOTER.format(signature=signature, reference=ticket.reference)
    return build_message(settings, to=to, subject=subject, body=text, now=now, in_reply_to=in_reply_to,
                         references=_references(references, in_reply_to), automatic=False)


# --- the relay -------------------------------------------------------------------------------


class RelayError(Exception):
    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


class Relay:
    """The outbound SMTP relay (smtplib, in a worker thread: one delivery at a time)."""

    def __init__(self, settings: MailSettings) -> None:
        self.settings = settings
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mail-relay")

    @property
    def configured(self) -> bool:
        return bool(self.settings.relay_host)

    def _context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context()
        if not self.settings.relay_tls_verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    def _send(self, envelope_from: str, recipients: list[str], raw: bytes) -> None:
        s = self.settings
        try:
            if s.relay_ssl:
                client: smtplib.SMTP = smtplib.SMTP_SSL(s.relay_host, s.relay_port, timeout=s.relay_timeout,
                                                        local_hostname=s.hostname, context=self._context())
            else:
                client = smtplib.SMTP(s.relay_host, s.relay_port, timeout=s.relay_timeout,
                                      local_hostname=s.hostname)
            with client:
                client.ehlo()
                if s.relay_starttls and not s.relay_ssl:
                    client.starttls(context=self._context())
                    client.ehlo()
                if s.relay_user:
                    client.login(s.relay_user, s.relay_password)
                client.sendmail(envelope_from or "<>", recipients, raw)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise RelayError(f"recipients refused: {exc.recipients}", permanent=all(c >= 500 for c in codes)) from exc
        except smtplib.SMTPResponseException as exc:
            raise RelayError(f"{exc.smtp_code} {exc.smtp_error!r}", permanent=exc.smtp_code >= 500) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise RelayError(f"{type(exc).__name__}: {exc}", permanent=False) from exc

    async def send(self, envelope_from: str, recipients: list[str], raw: bytes) -> None:
        await asyncio.get_running_loop().run_in_executor(self.executor, self._send, envelope_from, recipients, raw)


# --- the outbox ---------------------------------------------------------------------------------


class OutboxSender:
    def __init__(self, session_factory: Any, settings: MailSettings, relay: Relay, *, site: str,
                 clock: Callable[[], datetime], site_active: Callable[[], bool] = lambda: True) -> None:
        self.session_factory = session_factory
        self.settings = settings
        self.relay = relay
        self.site = site
        self.clock = clock
        #: Only the active site of a pair sends (claims would make a second sender safe, not useful).
        self.site_active = site_active
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.lease = timedelta(seconds=settings.outbox_claim_lease)

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="mail-outbox")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _run(self) -> None:
        if not self.relay.configured:
            log.warning("no outbound relay (GUICHET_MAIL_RELAY_HOST): mails wait in the outbox")
            return
        while True:
            try:
                while self.site_active() and await self.deliver_due():
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a database hiccup must not stop the sender
                log.exception("outbox: delivery round failed")
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=min(self.settings.outbox_retry_seconds, 30.0))
            except TimeoutError:
                pass
            self._wake.clear()

    async def deliver_due(self, limit: int = 20) -> int:
        """Deliver what is due now; returns how many were attempted."""
        now = self.clock()
        async with self.session_factory() as session:
            ids = list(await session.scalars(
                select(MailMessage.id).where(
                    MailMessage.direction == OUTBOUND,
                    or_(
                        (MailMessage.status == PENDING)
                        & (MailMessage.next_attempt_at.is_(None) | (MailMessage.next_attempt_at <= now)),
                        (MailMessage.status == SENDING) & (MailMessage.claimed_at < now - self.lease),
                    ),
                ).order_by(MailMessage.id).limit(limit)))
        done = 0
        for mail_id in ids:
            if await self._deliver(mail_id):
                done += 1
        return done

    async def _claim(self, mail_id: int) -> MailMessage | None:
        now = self.clock()
        async with self.session_factory() as session:
            result = await session.execute(
                update(MailMessage).where(
                    MailMessage.id == mail_id,
                    or_(MailMessage.status == PENDING,
                        (MailMessage.status == SENDING) & (MailMessage.claimed_at < now - self.lease)),
                ).values(status=SENDING, claimed_at=now, attempts=MailMessage.attempts + 1)
                .execution_options(synchronize_session=False))
            if result.rowcount != 1:
                await session.rollback()
                return None  # another instance took it
            mail = await session.get(MailMessage, mail_id, options=[undefer(MailMessage.raw)])
            assert mail is not None
            await session.commit()
            return mail

    async def _deliver(self, mail_id: int) -> bool:
        mail = await self._claim(mail_id)
        if mail is None:
            return False
        if mail.kind == "ack" and mail.created_at < self.clock() - ACK_MAX_AGE:
            # Queued while no relay worked for a day: an acknowledgement that late would
            # only confuse; the ticket itself is there.
            await self._failed(mail, "expired: not sent within a day", permanent=True)
            return True
        try:
            await self.relay.send(mail.envelope_from or "", list(mail.envelope_to or []), mail.raw)
        except RelayError as exc:
            await self._failed(mail, str(exc), permanent=exc.permanent)
            return True
        now = self.clock()
        async with self.session_factory() as session:
            row = await session.get(MailMessage, mail.id)
            assert row is not None
            row.status, row.sent_at, row.last_error, row.next_attempt_at = SENT, now, None, None
            ticket = await session.get(Ticket, row.ticket_id) if row.ticket_id else None
            journal.append(session, Fact(
                kind=EventKind.MAIL_SENT, occurred_at=now, channel="mail", ticket_id=row.ticket_id,
                operator_id=row.sent_by, queue=ticket.audience_code if ticket else None,
                data={"mail_id": row.id, "message_id": row.message_id, "kind": row.kind, "size": row.size},
            ), site=self.site)
            await session.commit()
        log.info("mail %s (%s) sent for ticket %s", mail.id, mail.kind, mail.ticket_id)
        return True

    async def _failed(self, mail: MailMessage, error: str, *, permanent: bool) -> None:
        now = self.clock()
        async with self.session_factory() as session:
            row = await session.get(MailMessage, mail.id)
            assert row is not None
            row.last_error = error[:2000]
            give_up = permanent or row.attempts >= self.settings.outbox_max_attempts
            if give_up:
                row.status = FAILED
                if row.kind != "ack" and row.ticket_id:
                    ticket = await session.get(Ticket, row.ticket_id)
                    if ticket is not None:
                        ticket.needs_attention = True  # an operator's reply did not leave
            else:
                row.status = PENDING
                delay = self.settings.outbox_retry_seconds * (2 ** max(row.attempts - 1, 0))
                row.next_attempt_at = now + timedelta(seconds=min(delay, 6 * 3600))
            await session.commit()
        log.warning("mail %s (%s) %s: %s", mail.id, mail.kind, "failed" if give_up else "deferred", error)
