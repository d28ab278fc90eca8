"""Thin HTTP resources of the mail gateway: a ticket's mails, an operator's reply by mail,
attachment downloads and the raw message (supervisors). Every read of mail content is
traced in the audit log, committed before the answer."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.orm import undefer

from apikit import ANY_ROLE, RequestContext, RouteTable
from mailgw.exceptions import AttachmentNotFound, AttachmentNotStored, MailNotFound
from mailgw.models import MailAttachment, MailMessage
from mailgw.parsing import parse_message
from mailgw.schemas import ReplyCreate, mail_out
from mailgw.services import MailService
from mailgw.settings import MailSettings
from ticket_core.exceptions import TransitionNotAllowed
from ticket_core.workflow import Status

routes = RouteTable("mail")

DESK = ("operator", "supervisor", "admin")
SUPERVISORS = ("supervisor", "admin")


def _gateway(ctx: RequestContext) -> Any:
    return ctx.container.extras.get("mail")


def _service(ctx: RequestContext) -> MailService:
    gateway = _gateway(ctx)
    if gateway is not None:
        return gateway.service
    service = ctx.container.extras.get("mail_service")
    if service is None:  # the API without the gateway running (tests, read-only instances)
        from guichet.settings import load_section

        service = MailService(ctx.container, load_section(MailSettings, "mail"))
        ctx.container.extras["mail_service"] = service
    return service


def _download(body: bytes, filename: str, content_type: str) -> web.Response:
    ascii_name = filename.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
    return web.Response(body=body, content_type=content_type, headers={
        "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox; default-src 'none'",
        "Cache-Control": "no-store",
    })


MAX_ID = 2**62  # beyond any row; larger numbers would overflow the databases' integers


def _id(ctx: RequestContext, name: str) -> int | None:
    value = int(ctx.match(name))
    return value if value < MAX_ID else None


async def _mail(ctx: RequestContext, *columns: Any) -> MailMessage:
    mail_id = _id(ctx, "mail_id")
    mail = None
    if mail_id is not None:
        mail = await ctx.session.get(MailMessage, mail_id, options=[undefer(c) for c in columns])
    if mail is None:
        raise MailNotFound(f"no mail {ctx.match('mail_id')}", field="mail_id")
    return mail


@routes.get("/api/v1/tickets/{reference}/mails", roles=ANY_ROLE)
async def ticket_mails(ctx: RequestContext) -> dict[str, Any]:
    """The ticket's mails, received and sent, oldest first (HTML sanitized)."""
    tickets = await ctx.container.tickets(ctx.session)
    ticket = await tickets.get_by_reference(ctx.match("reference"))
    mails = list(await ctx.session.scalars(
        select(MailMessage).where(MailMessage.ticket_id == ticket.id)
        .options(undefer(MailMessage.text_body), undefer(MailMessage.html_sanitized))
        .order_by(MailMessage.id)))
    attachments: dict[int, list[MailAttachment]] = {m.id: [] for m in mails}
    if mails:
        for a in await ctx.session.scalars(select(MailAttachment).where(
                MailAttachment.mail_id.in_(list(attachments))).order_by(MailAttachment.position)):
            attachments[a.mail_id].append(a)
    ctx.audit("read", "ticket_mails", ticket.reference, count=len(mails))
    return {"items": [mail_out(m, attachments[m.id]) for m in mails]}


@routes.get("/api/v1/mails/{mail_id:\\d+}", roles=ANY_ROLE)
async def get_mail(ctx: RequestContext) -> dict[str, Any]:
    """One mail with its text, sanitized HTML and attachments."""
    mail = await _mail(ctx, MailMessage.text_body, MailMessage.html_sanitized)
    atts = list(await ctx.session.scalars(select(MailAttachment).where(MailAttachment.mail_id == mail.id)
                                          .order_by(MailAttachment.position)))
    ctx.audit("read", "mail", mail.id)
    return mail_out(mail, atts)


@routes.post("/api/v1/tickets/{reference}/mail-replies", roles=DESK, body=ReplyCreate, status=202)
async def reply_by_mail(ctx: RequestContext) -> dict[str, Any]:
    """Answer the requester by mail (queued in the outbox, sent through the relay)."""
    b: ReplyCreate = ctx.body
    tickets = await ctx.container.tickets(ctx.session)
    ticket = await tickets.get_by_reference(ctx.match("reference"))
    if ticket.status in (Status.CLOSED.value, Status.MERGED.value):
        raise TransitionNotAllowed(f"ticket {ticket.reference} is {ticket.status}", field="reference")
    service = _service(ctx)
    row = await service.enqueue_reply(ctx.session, ticket=ticket, actor=ctx.actor, body=b.body, subject=b.subject,
                                      to=b.to)
    ctx.audit("create", "mail", row.id, ticket=ticket.reference)
    await ctx.session.commit()  # durable before the sender is woken (and before answering)
    gateway = _gateway(ctx)
    if gateway is not None:
        gateway.outbox.wake()
    return mail_out(row)


@routes.get("/api/v1/mails/{mail_id:\\d+}/attachments/{attachment_id:\\d+}", roles=ANY_ROLE)
async def download_attachment(ctx: RequestContext) -> web.Response:
    """Download an attachment (as a file, never rendered inline)."""
    mail = await _mail(ctx, MailMessage.raw)
    attachment_id = _id(ctx, "attachment_id")
    att = await ctx.session.get(MailAttachment, attachment_id) if attachment_id is not None else None
    if att is None or att.mail_id != mail.id:
        raise AttachmentNotFound(f"no attachment {ctx.match('attachment_id')} in mail {mail.id}", field="attachment_id")
    if not att.stored:
        raise AttachmentNotStored(f"{att.filename} was over the per-mail quota: only in the raw message",
                                  field="attachment_id")
    service = _service(ctx)
    data = service.store.get(att.sha256)
    if data is None:
        # The files are a cache of the raw message: rebuild a missing one from it.
        parsed = parse_message(mail.raw)
        part = next((p for p in parsed.attachments if p.position == att.position), None)
        if part is None:
            raise AttachmentNotFound(f"attachment {att.id} cannot be rebuilt from the raw message",
                                     field="attachment_id")
        data = part.data
        service.store.put(data)
    ctx.audit("read", "mail_attachment", att.id, mail_id=mail.id, ticket_id=mail.ticket_id)
    return _download(data, att.filename, att.content_type)


@routes.get("/api/v1/mails/{mail_id:\\d+}/raw", roles=SUPERVISORS)
async def raw_mail(ctx: RequestContext) -> web.Response:
    """The message exactly as received or sent (message/rfc822), for supervisors."""
    mail = await _mail(ctx, MailMessage.raw)
    ctx.audit("read", "mail_raw", mail.id, ticket_id=mail.ticket_id)
    return _download(mail.raw, f"courriel-{mail.id}.eml", "message/rfc822")
