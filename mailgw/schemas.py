"""Request bodies and response shapes of the mail routes."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mailgw.models import MailAttachment, MailMessage


class ReplyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    body: str = Field(min_length=1, max_length=100_000, description="plain text; the signature and reference are added")
    subject: str | None = Field(None, max_length=300, description="default: Re: [reference] the last subject")
    to: str | None = Field(None, max_length=320, description="default: the last sender; only the ticket's addresses")


def attachment_out(a: MailAttachment) -> dict[str, Any]:
    return {"id": a.id, "filename": a.filename, "content_type": a.content_type, "size": a.size,
            "inline": a.inline, "content_id": a.content_id, "stored": a.stored, "skipped_reason": a.skipped_reason}


def mail_out(m: MailMessage, attachments: list[MailAttachment] | None = None, *, bodies: bool = True) -> dict[str, Any]:
    """A mail for the API: the sanitized HTML only, never the HTML as received."""
    out: dict[str, Any] = {
        "id": m.id, "direction": m.direction, "kind": m.kind, "source": m.source, "ticket_id": m.ticket_id,
        "created_at": m.created_at, "message_id": m.message_id, "in_reply_to": m.in_reply_to,
        "from_address": m.from_address, "from_name": m.from_name, "reply_to": m.reply_to,
        "to": m.to_addresses or [], "cc": m.cc_addresses or [], "subject": m.subject, "size": m.size,
        "needs_attention": m.needs_attention, "problems": m.problems or [], "automatic": m.automatic,
        "ack_status": m.ack_status, "status": m.status, "attempts": m.attempts, "sent_at": m.sent_at,
        "last_error": m.last_error,
    }
    if bodies:
        out["text"] = m.text_body
        out["html"] = m.html_sanitized
    if attachments is not None:
        out["attachments"] = [attachment_out(a) for a in attachments]
    return out
