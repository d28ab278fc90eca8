"""Tables of the mail gateway: every mail received or sent (raw bytes included), their
attachments, and the IMAP bookkeeping (UIDVALIDITY and the UIDs already ingested).

Raw messages live in the database, in the same row and transaction as the parsed mail
and next to its ticket: one commit makes the raw mail, its ticket, its journal fact and
its acknowledgement (in the outbox) durable together, the PostgreSQL standby of the
backup site receives them with the rest, and purge or export handle one store. Attachment
files under the data folder are a cache of the raw message (rebuilt from it on demand).
"""

from __future__ import annotations

from datetime import datetime
from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, deferred, mapped_column

from ticket_core.db import Base, JSONType, UTCDateTime
from ticket_core.models import BigId

# Directions and kinds.
INBOUND, OUTBOUND = "in", "out"
KIND_MAIL, KIND_ACK, KIND_REPLY = "mail", "ack", "reply"
# Outbox states.
PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"


class MailMessage(Base):
    """One mail, inbound (SMTP or IMAP) or outbound (acknowledgement, operator reply)."""

    __tablename__ = "mail_messages"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    direction: Mapped[str] = mapped_column(String(3))  # in | out
    kind: Mapped[str] = mapped_column(String(10))  # mail | ack | reply
    source: Mapped[str] = mapped_column(String(10))  # smtp | imap | api | system
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)  # receipt / queued
    message_id: Mapped[str | None] = mapped_column(String(500), index=True)
    in_reply_to: Mapped[str | None] = mapped_column(String(500))
    reference_ids: Mapped[str] = mapped_column(Text, default="")  # References, space-separated
    from_address: Mapped[str | None] = mapped_column(String(320))
    from_name: Mapped[str] = mapped_column(String(200), default="")
    reply_to: Mapped[str | None] = mapped_column(String(320))
    # The other party: the sender of an inbound mail, the recipient of an outbound one
    # (the per-address acknowledgement rate limit counts on it).
    counterpart: Mapped[str | None] = mapped_column(String(320), index=True)
    to_addresses: Mapped[list[str]] = mapped_column(JSONType, default=list)
    cc_addresses: Mapped[list[str]] = mapped_column(JSONType, default=list)
    envelope_from: Mapped[str | None] = mapped_column(String(320))
    envelope_to: Mapped[list[str]] = mapped_column(JSONType, default=list)
    subject: Mapped[str] = mapped_column(String(500), default="")
    text_body: Mapped[str] = deferred(mapped_column(Text, default="", nullable=False))
    # The HTML as received (never displayed) and as sanitized by nh3 (what is shown).
    html_raw: Mapped[str | None] = deferred(mapped_column(Text))
    html_sanitized: Mapped[str | None] = deferred(mapped_column(Text))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    raw: Mapped[bytes] = deferred(mapped_column(LargeBinary, nullable=False))
    needs_attention: Mapped[bool] = mapped_column(Boolean, default=False)
    problems: Mapped[list[str]] = mapped_column(JSONType, default=list)  # parser defects
    # Why the mail is automatic (auto_submitted, precedence, list, null_sender…), if it is.
    automatic: Mapped[str | None] = mapped_column(String(40))
    # Inbound: what happened to its acknowledgement (queued | threaded | automatic |
    # rate_limited | own_address | no_address | disabled).
    ack_status: Mapped[str | None] = mapped_column(String(20))
    # Outbound delivery (the outbox).
    status: Mapped[str | None] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    __table_args__ = (
        # The same bytes twice are the same mail (an SMTP client retrying after a lost
        # 250, a mailbox re-listed with a new UIDVALIDITY): stored once.
        UniqueConstraint("direction", "sha256", name="uq_mail_messages_direction_sha256"),
        Index("ix_mail_messages_outbox", "status", "next_attempt_at"),
    )


class MailAttachment(Base):
    __tablename__ = "mail_attachments"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    mail_id: Mapped[int] = mapped_column(ForeignKey("mail_messages.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # order in the message, for re-extraction
    filename: Mapped[str] = mapped_column(String(255))  # made safe; shown and downloaded
    content_type: Mapped[str] = mapped_column(String(200))
    content_id: Mapped[str | None] = mapped_column(String(300))
    inline: Mapped[bool] = mapped_column(Boolean, default=False)
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))  # also the stored file's name
    stored: Mapped[bool] = mapped_column(Boolean, default=True)
    skipped_reason: Mapped[str | None] = mapped_column(String(40))  # quota


class ImapMailbox(Base):
    """The UIDVALIDITY last seen for a polled mailbox: a new value means the server
    renumbered it, and UIDs recorded under the old one no longer name the same mails."""

    __tablename__ = "mail_imap_mailboxes"
    key: Mapped[str] = mapped_column(String(400), primary_key=True)  # user@host:port/mailbox
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ImapUid(Base):
    """A mail ingested from IMAP, written in the same transaction as its ticket; the mail
    is flagged (or moved) on the server only after that commit (exactly once)."""

    __tablename__ = "mail_imap_uids"
    mailbox_key: Mapped[str] = mapped_column(String(400), primary_key=True)
    uidvalidity: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    uid: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    mail_id: Mapped[int | None] = mapped_column(ForeignKey("mail_messages.id", ondelete="SET NULL"))
    ingested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    flagged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

