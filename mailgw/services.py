"""The mail gateway's service layer: one received mail → one durable unit of work.

``MailService.ingest`` takes the raw bytes of a mail (from the SMTP intake or the IMAP
poller) and, in ONE transaction, stores the raw message and what was read from it, finds
the ticket it answers or creates one (channel ``mail``, requester found or created by
the From address, ``created_at`` = receipt time, so the 1-business-hour T2-IQ05 clock
runs from receipt), journals ``mail_received``, queues the acknowledgement in the outbox
when one is due, and, for IMAP, records the mailbox UID. Only after that commit does the
SMTP intake answer 250 or the poller flag the mail on the server.

Exactly once: the same bytes are stored once (unique SHA-256 per direction), so an SMTP
client retrying after a lost 250 and a mailbox re-listed under a new UIDVALIDITY find the
mail already there; the IMAP UID row says "ingested, flag it" after a crash between the
commit and the flag. A mail the parser cannot read, or that trips a bug, is still kept
raw with a ticket flagged ``needs_attention``; only when nothing can be written (database
down) does the intake answer 4xx, and the sender retries.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.orm import undefer

from mailgw import outbound, texts
from mailgw.exceptions import NoRecipient, RecipientNotAllowed, TemporaryIntakeFailure
from mailgw.models import INBOUND, KIND_ACK, KIND_MAIL, KIND_REPLY, ImapUid, MailAttachment, MailMessage
from mailgw.parsing import ParsedAttachment, ParsedMail, clean_text, one_line, parse_message, subject_by_regex
from mailgw.settings import MailSettings
from mailgw.storage import AttachmentStore
from mailgw.threads import find_thread, references_in
from ticket_core import journal
from ticket_core.journal import EventKind, Fact
from ticket_core.models import Requester, Ticket
from ticket_core.exceptions import InvalidValue
from ticket_core.services import SYSTEM, Actor, normalise_email

log = logging.getLogger("guichet.mail")

# Fault-injection points of the crash tests (tests/integration/mail): a named coroutine
# run at the critical points of exactly-once ingestion. Always empty in production.
fault_points: dict[str, Callable[[dict[str, Any]], Awaitable[None]]] = {}

# Mails up to this size are parsed in the event loop; larger ones in a worker thread.
INLINE_PARSE_LIMIT = 256 * 1024


async def fault(name: str, **info: Any) -> None:
    hook = fault_points.get(name)
    if hook is not None:
        await hook(info)


@dataclass(frozen=True)
class ImapRef:
    mailbox_key: str
    uidvalidity: int
    uid: int


@dataclass
class IngestResult:
    mail_id: int
    ticket_id: int
    reference: str
    duplicate: bool = False
    threaded: bool = False
    needs_attention: bool = False
    ack_status: str | None = None


@dataclass
class _StoredAttachment:
    part: ParsedAttachment
    sha256: str
    stored: bool
    reason: str | None


class MailService:
    def __init__(self, container: Any, settings: MailSettings, *,
                 on_outbox: Callable[[], None] | None = None) -> None:
        self.container = container
        self.settings = settings
        self.store = AttachmentStore(settings.attachments_root(container.settings.data_dir))
        self.on_outbox = on_outbox or (lambda: None)
        # Parsing and file writes run off the event loop, in threads of their own: the
        # default executor is shared (and small on small machines); a busy one must not
        # hold the intake up.
        self.executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="mail-intake")

    async def _in_thread(self, func: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.executor, func, *args)

    @property
    def clock(self) -> Callable[[], datetime]:
        return self.container.clock

    # --- intake ------------------------------------------------------------------------------

    async def ingest(self, raw: bytes, *, source: str, envelope_from: str | None = None,
                     envelope_to: list[str] | tuple[str, ...] = (), received_at: datetime | None = None,
                     imap: ImapRef | None = None) -> IngestResult:
        """Make the mail durable with its ticket (see the module docstring). Raises
        ``TemporaryIntakeFailure`` only when nothing could be written."""
        received_at = received_at or self.clock()
        sha = hashlib.sha256(raw).hexdigest()
        if len(raw) <= INLINE_PARSE_LIMIT:
            parsed = parse_message(raw, envelope_from)  # a few ms: cheaper than a thread hop
        else:
            parsed = await self._in_thread(parse_message, raw, envelope_from)
        result: IngestResult | None = None
        for attempt in range(1, 4):
            try:
                result = await self._ingest(raw, sha, parsed, source=source, envelope_from=envelope_from,
                                            envelope_to=list(envelope_to), received_at=received_at, imap=imap)
                break
            except (IntegrityError, StaleDataError, OperationalError):
                # Another transaction committed meanwhile the same bytes (a retry on another
                # connection or instance), the same new requester (two mails from one new
                # sender at once) or a change to the ticket being joined; or the database
                # was locked or deadlocked: the duplicate is answered as such, the rest is
                # retried and then finds what the other transaction did.
                result = await self._duplicate_or_none(sha, imap)
                if result is not None:
                    break
                log.info("mail intake: concurrent insert, retrying (attempt %d)", attempt)
            except (asyncio.CancelledError, KeyboardInterrupt):
                raise
            except Exception as exc:  # noqa: BLE001 - never lose a mail to a bug: keep it raw
                log.exception("mail intake failed on the full path; keeping the mail raw")
                result = await self._fallback(raw, sha, source, envelope_from, envelope_to, received_at, imap,
                                              f"internal_error:{type(exc).__name__}")
                break
        if result is None:
            log.error("mail intake: still conflicting after 3 attempts; keeping the mail raw")
            await asyncio.sleep(0.1)
            result = await self._fallback(raw, sha, source, envelope_from, envelope_to, received_at, imap,
                                          "integrity_error")
        if result.ack_status == "queued":
            self.on_outbox()
        return result

    async def _duplicate(self, session: Any, sha: str, imap: ImapRef | None) -> IngestResult | None:
        existing = await session.scalar(
            select(MailMessage).where(MailMessage.direction == INBOUND, MailMessage.sha256 == sha))
        if existing is None:
            return None
        if imap is not None:
            await self._record_uid(session, imap, existing.id)
        ticket = await session.get(Ticket, existing.ticket_id) if existing.ticket_id else None
        await session.commit()
        log.info("mail %s received again (same bytes): not stored twice", existing.id)
        return IngestResult(existing.id, existing.ticket_id or 0, ticket.reference if ticket else "",
                            duplicate=True, needs_attention=existing.needs_attention, ack_status=existing.ack_status)

    async def _duplicate_or_none(self, sha: str, imap: ImapRef | None) -> IngestResult | None:
        try:
            async with self.container.session_factory() as session:
                return await self._duplicate(session, sha, imap)
        except Exception:  # noqa: BLE001
            log.exception("mail intake: duplicate lookup failed")
            raise TemporaryIntakeFailure("database unavailable") from None

    async def _record_uid(self, session: Any, imap: ImapRef, mail_id: int) -> None:
        key = (imap.mailbox_key, imap.uidvalidity, imap.uid)
        if await session.get(ImapUid, key) is None:
            session.add(ImapUid(mailbox_key=imap.mailbox_key, uidvalidity=imap.uidvalidity, uid=imap.uid,
                                mail_id=mail_id, ingested_at=self.clock()))

    async def _ingest(self, raw: bytes, sha: str, parsed: ParsedMail, *, source: str, envelope_from: str | None,
                      envelope_to: list[str], received_at: datetime, imap: ImapRef | None) -> IngestResult:
        s = self.settings
        async with self.container.session_factory() as session:
            dup = await self._duplicate(session, sha, imap)
            if dup is not None:
                return dup
            tickets = await self.container.tickets(session)
            prefix = self.container.settings.ticket_prefix
            match = await find_thread(session, parsed, prefix)
            if match.how == "message_id":
                copy = await self._same_message(session, parsed, sha, imap)
                if copy is not None:
                    return copy
            requester = None
            if parsed.from_address:
                requester = await tickets.find_or_create_requester(
                    email=parsed.from_address, display_name=parsed.from_name[:200])
            mail = self._inbound_row(raw, sha, parsed, source=source, envelope_from=envelope_from,
                                     envelope_to=envelope_to, received_at=received_at)
            if match.ticket is not None:
                ticket = match.ticket
                session.add(mail)
                mail.ticket_id = ticket.id
                await session.flush()
            else:
                description = parsed.text
                if parsed.needs_attention:
                    description = f"{texts.UNREADABLE_DESCRIPTION}\n\n{description}".strip()
                if match.closed is not None:
                    description = (texts.PREVIOUS_TICKET_CLOSED.format(reference=match.closed.reference)
                                   + "\n\n" + description).strip()
                subject = parsed.subject or (texts.UNREADABLE_SUBJECT if parsed.needs_attention else texts.NO_SUBJECT)
                ticket = await tickets.create_ticket(
                    channel="mail", requester_id=requester.id if requester else None, subject=subject,
                    description=description, source_ref=(parsed.message_id or f"sha256:{sha}")[:200],
                    received_at=received_at, needs_attention=parsed.needs_attention,
                )
                mail.ticket_id = ticket.id
                session.add(mail)
                await session.flush()
            stored = await self._in_thread(self._store_attachments, parsed.attachments) if parsed.attachments else []
            for item in stored:
                session.add(MailAttachment(
                    mail_id=mail.id, position=item.part.position, filename=item.part.filename,
                    content_type=item.part.content_type, content_id=item.part.content_id, inline=item.part.inline,
                    size=len(item.part.data), sha256=item.sha256, stored=item.stored, skipped_reason=item.reason,
                ))
            if match.ticket is not None:
                await tickets.record_contact(ticket.id, channel="mail", note=f"courriel #{mail.id}")
                names = ", ".join(i.part.filename for i in stored)
                await tickets.add_note(ticket.id, SYSTEM, texts.INBOUND_NOTE.format(
                    sender=parsed.from_address or "?", subject=parsed.subject or texts.NO_SUBJECT,
                    attachments=texts.INBOUND_NOTE_ATTACHMENTS.format(names=names) if names else "",
                    body=parsed.text[:20000] or "-"))
                if parsed.needs_attention and not ticket.needs_attention:
                    ticket.needs_attention = True
            for item in stored:
                if not item.stored:
                    await tickets.add_note(ticket.id, SYSTEM, texts.ATTACHMENT_OVER_QUOTA.format(name=item.part.filename))
            self._journal(session, mail, ticket, parsed.from_domain, source=source, threaded=match.ticket is not None,
                          received_at=received_at)
            mail.ack_status = await self._acknowledge(session, mail, parsed, ticket, threaded=match.ticket is not None)
            if imap is not None:
                await self._record_uid(session, imap, mail.id)
            await fault("before_commit", mail_id=mail.id, ticket=ticket.reference, source=source)
            await session.commit()
            log.info("mail %s from %s: ticket %s (%s)", mail.id, parsed.from_domain or "?", ticket.reference,
                     f"joined by {match.how}" if match.ticket is not None else "new")
            return IngestResult(mail.id, ticket.id, ticket.reference, threaded=match.ticket is not None,
                                needs_attention=parsed.needs_attention, ack_status=mail.ack_status)

    async def _same_message(self, session: Any, parsed: ParsedMail, sha: str,
                            imap: ImapRef | None) -> IngestResult | None:
        """Another copy of a mail already received (same Message-ID, sender, subject and
        text; other trace headers: delivered twice by two routes). Not a second contact:
        answered as a duplicate. A mere Message-ID collision with different content is a
        new mail (it joins that ticket as a reply would)."""
        existing = await session.scalar(
            select(MailMessage).where(MailMessage.direction == INBOUND, MailMessage.message_id == parsed.message_id)
            .options(undefer(MailMessage.text_body)).order_by(MailMessage.id).limit(1))
        if existing is None or (existing.from_address, existing.subject, existing.text_body) != (
                parsed.from_address, parsed.subject[:500], parsed.text):
            return None
        if imap is not None:
            await self._record_uid(session, imap, existing.id)
        ticket = await session.get(Ticket, existing.ticket_id) if existing.ticket_id else None
        await session.commit()
        log.info("mail %s received again by another route (same Message-ID and content)", existing.id)
        return IngestResult(existing.id, existing.ticket_id or 0, ticket.reference if ticket else "",
                            duplicate=True, needs_attention=existing.needs_attention, ack_status=existing.ack_status)

    def _inbound_row(self, raw: bytes, sha: str, parsed: ParsedMail, *, source: str, envelope_from: str | None,
                     envelope_to: list[str], received_at: datetime) -> MailMessage:
        return MailMessage(
            direction=INBOUND, kind=KIND_MAIL, source=source, created_at=received_at,
            message_id=parsed.message_id, in_reply_to=parsed.in_reply_to, reference_ids=" ".join(parsed.references),
            from_address=parsed.from_address, from_name=parsed.from_name, reply_to=parsed.reply_to,
            counterpart=parsed.from_address, to_addresses=parsed.to, cc_addresses=parsed.cc,
            envelope_from=one_line(envelope_from, 320) or None, envelope_to=[one_line(a, 320) for a in envelope_to][:50],
            subject=parsed.subject[:500], text_body=parsed.text, html_raw=parsed.html_raw,
            html_sanitized=parsed.html_sanitized, size=len(raw), sha256=sha, raw=raw,
            needs_attention=parsed.needs_attention, problems=parsed.problems[:50], automatic=parsed.automatic,
        )

    def _store_attachments(self, parts: list[ParsedAttachment]) -> list[_StoredAttachment]:
        out: list[_StoredAttachment] = []
        used = 0
        for part in parts:
            digest = hashlib.sha256(part.data).hexdigest()
            if used + len(part.data) > self.settings.attachments_quota:
                out.append(_StoredAttachment(part, digest, False, "quota"))
                continue
            used += len(part.data)
            self.store.put(part.data)
            out.append(_StoredAttachment(part, digest, True, None))
        return out

    def _journal(self, session: Any, mail: MailMessage, ticket: Ticket, from_domain: str | None, *, source: str,
                 threaded: bool, received_at: datetime) -> None:
        # Ids and sizes only: the addresses stay in mail_messages and requesters, which
        # can be purged without rewriting the journal.
        journal.append(session, Fact(
            kind=EventKind.MAIL_RECEIVED, occurred_at=received_at, channel="mail", ticket_id=ticket.id,
            queue=ticket.audience_code,
            data={"mail_id": mail.id, "message_id": (mail.message_id or "")[:200] or None, "size": mail.size,
                  "from_domain": from_domain, "source": source, "threaded": threaded,
                  "needs_attention": mail.needs_attention, "automatic": mail.automatic},
        ), site=self.container.settings.site)

    async def _acknowledge(self, session: Any, mail: MailMessage, parsed: ParsedMail, ticket: Ticket, *,
                           threaded: bool) -> str:
        """Queue the acknowledgement, or say why none is sent (no mail loops)."""
        s = self.settings
        if not s.acknowledge:
            return "disabled"
        if threaded:
            return "threaded"
        if parsed.automatic:
            return "automatic"
        to = parsed.reply_to or parsed.from_address
        if not to or parsed.needs_attention:
            return "no_address"
        if s.own_address(to) or s.own_address(parsed.from_address):
            return "own_address"
        cs = self.container.settings
        return await queue_acknowledgement(
            session, s, ticket=ticket, to=to, subject=parsed.subject, in_reply_to=parsed.message_id,
            references=parsed.references, now=self.clock(), opening=cs.opening_time, closing=cs.closing_time)

    async def _fallback(self, raw: bytes, sha: str, source: str, envelope_from: str | None,
                        envelope_to: Any, received_at: datetime, imap: ImapRef | None, why: str) -> IngestResult:
        """The minimal path: the raw mail and a ticket flagged for attention, no parsing."""
        try:
            async with self.container.session_factory() as session:
                dup = await self._duplicate(session, sha, imap)
                if dup is not None:
                    return dup
                tickets = await self.container.tickets(session)
                parsed = ParsedMail(problems=[why], needs_attention=True)
                try:
                    parsed.subject = subject_by_regex(raw)
                except Exception:  # noqa: BLE001
                    pass
                ticket = await tickets.create_ticket(
                    channel="mail", subject=parsed.subject or texts.UNREADABLE_SUBJECT,
                    description=texts.UNREADABLE_DESCRIPTION, source_ref=f"sha256:{sha}"[:200],
                    received_at=received_at, needs_attention=True)
                mail = self._inbound_row(raw, sha, parsed, source=source, envelope_from=envelope_from,
                                         envelope_to=list(envelope_to), received_at=received_at)
                mail.ticket_id = ticket.id
                mail.ack_status = "no_address"
                session.add(mail)
                await session.flush()
                self._journal(session, mail, ticket, None, source=source, threaded=False, received_at=received_at)
                if imap is not None:
                    await self._record_uid(session, imap, mail.id)
                await session.commit()
                return IngestResult(mail.id, ticket.id, ticket.reference, needs_attention=True, ack_status="no_address")
        except Exception:  # noqa: BLE001
            log.exception("mail intake: the mail could not be stored at all")
            raise TemporaryIntakeFailure("the mail could not be stored; the sender will retry") from None

    # --- operators' replies ------------------------------------------------------------------

    async def enqueue_reply(self, session: Any, *, ticket: Ticket, actor: Actor, body: str,
                            subject: str | None = None, to: str | None = None) -> MailMessage:
        """An operator's answer by mail, in the request's transaction: queued in the
        outbox, traced in the ticket's history (which takes the ticket in charge)."""
        body = clean_text(body).replace("\r\n", "\n").strip()
        if not body:
            raise InvalidValue("a reply cannot be empty", field="body")
        inbound = list(await session.scalars(
            select(MailMessage).where(MailMessage.ticket_id == ticket.id, MailMessage.direction == INBOUND)
            .order_by(MailMessage.id.desc())))
        allowed: set[str] = set()
        for m in inbound:
            allowed.update(a for a in (m.counterpart, m.reply_to) if a)
        requester = await session.get(Requester, ticket.requester_id) if ticket.requester_id else None
        if requester is not None:
            allowed.update(e.address for e in requester.emails)
        last = inbound[0] if inbound else None
        default = (last.reply_to or last.counterpart) if last else (
            requester.emails[0].address if requester is not None and requester.emails else None)
        target = normalise_email(clean_text(to)) if to else default
        if to and not target:
            raise RecipientNotAllowed(f"invalid mail address {to!r}", field="to")
        if not target:
            raise NoRecipient("this ticket has no mail address to answer", field="to")
        if target not in allowed:
            raise RecipientNotAllowed("replies go to the addresses of the ticket only", field="to")
        base = last.subject if last and last.subject else ticket.subject
        if subject:
            final_subject = one_line(subject, 300)
        else:
            final_subject = texts.REPLY_SUBJECT.format(reference=ticket.reference, subject=_strip_prefixes(
                base, ticket.reference))[:300]
        if ticket.reference not in references_in(final_subject, self.container.settings.ticket_prefix):
            final_subject = f"[{ticket.reference}] {final_subject}"[:300]
        now = self.clock()
        msg = outbound.reply(
            self.settings, ticket=ticket, to=target, subject=final_subject, body=body,
            in_reply_to=last.message_id if last else None,
            references=(last.reference_ids.split() if last and last.reference_ids else []), now=now,
            signature=self.settings.from_name)
        row = outbound.outbox_row(msg, kind=KIND_REPLY, ticket_id=ticket.id, to=target,
                                  envelope_from=self.settings.support_address, now=now, sent_by=actor.user_id,
                                  body=body)
        session.add(row)
        await session.flush()
        tickets = await self.container.tickets(session)
        await tickets.add_note(ticket.id, actor, texts.REPLY_NOTE.format(to=target, subject=final_subject, body=body))
        return row


async def queue_acknowledgement(session: Any, s: MailSettings, *, ticket: Ticket, to: str, subject: str,
                                in_reply_to: str | None, references: list[str], now: datetime, opening: str,
                                closing: str) -> str:
    """Queue the acknowledgement of a new ticket in the outbox (in the caller's transaction),
    unless this address got ``ack_rate_limit`` of them within the window (a mail loop or a
    flood): "queued" or "rate_limited". The mail intake and the portal's form use it."""
    if s.ack_rate_limit == 0:
        return "rate_limited"
    recent = await session.scalar(select(func.count(MailMessage.id)).where(
        MailMessage.direction == "out", MailMessage.kind == KIND_ACK, MailMessage.counterpart == to,
        MailMessage.created_at >= now - timedelta(seconds=s.ack_rate_window)))
    if (recent or 0) >= s.ack_rate_limit:
        log.warning("acknowledgement to %s… suppressed: %d in the last %.0f s", to[:3], recent, s.ack_rate_window)
        return "rate_limited"
    msg = outbound.acknowledgement(
        s, ticket=ticket, to=to, subject=subject, in_reply_to=in_reply_to, references=references, now=now,
        opening=opening, closing=closing, signature=s.from_name)
    # RFC 3834: automatic answers go out with a null return path (no bounce loops).
    session.add(outbound.outbox_row(msg, kind=KIND_ACK, ticket_id=ticket.id, to=to, envelope_from="",
                                    now=now, body=""))
    return "queued"


def _strip_prefixes(subject: str, reference: str) -> str:
    import re

    value = subject or texts.NO_SUBJECT
    for _ in range(5):
        new = re.sub(r"^\s*((re|tr|fw|fwd|aw)\s*:\s*|\[[^\]]*\]\s*)", "", value, flags=re.IGNORECASE)
        new = re.sub(r"^accusé de réception\s*:\s*", "", new, flags=re.IGNORECASE)
        if new == value:
            break
        value = new
    return value.strip() or texts.NO_SUBJECT
