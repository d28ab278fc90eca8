"""Errors of the mail gateway. Like the ticket core's, each has a stable ``error_id`` and
an ``http_status``: the HTTP layer renders them the same way, whatever raised them."""

from __future__ import annotations

from ticket_core.exceptions import TicketCoreError


class MailError(TicketCoreError):
    error_id = "mail_error"
    http_status = 400


class MailNotFound(MailError):
    error_id = "mail_not_found"
    http_status = 404


class AttachmentNotFound(MailError):
    error_id = "attachment_not_found"
    http_status = 404


class AttachmentNotStored(MailError):
    """Over the per-mail quota: the attachment is only in the raw message."""

    error_id = "attachment_not_stored"
    http_status = 410


class NoRecipient(MailError):
    error_id = "no_recipient"
    http_status = 422


class RecipientNotAllowed(MailError):
    """Replies go to the addresses known for the ticket only: the API is not a way to
    send mail to anyone from the support address."""

    error_id = "recipient_not_allowed"
    http_status = 422


class TemporaryIntakeFailure(MailError):
    """The mail could not be made durable (database unavailable…): the SMTP client gets a
    4xx and retries; nothing was acknowledged."""

    error_id = "mail_intake_unavailable"
    http_status = 503
