"""Errors of the chat gateway and the survey, rendered by the HTTP layer from
``error_id``/``http_status`` like every package's."""

from __future__ import annotations

from ticket_core.exceptions import TicketCoreError


class ChatError(TicketCoreError):
    error_id = "chat_error"


class ChatClosed(ChatError):
    """Outside opening hours (the calendar decides)."""

    error_id = "chat_closed"
    http_status = 409


class ChatUnavailable(ChatError):
    error_id = "chat_unavailable"
    http_status = 503


class MessageNotSaved(ChatError):
    error_id = "message_not_saved"
    http_status = 503


class SurveyNotFound(ChatError):
    error_id = "survey_not_found"
    http_status = 404


class SurveyAlreadyAnswered(ChatError):
    error_id = "survey_already_answered"
    http_status = 409


class RateLimited(ChatError):
    error_id = "rate_limited"
    http_status = 429
