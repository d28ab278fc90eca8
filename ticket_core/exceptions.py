"""Errors of the ticket core. Each has a stable id (for API clients), an HTTP status and,
when a single input is at fault, the field; the HTTP layer renders any exception that
carries ``error_id`` and ``http_status`` the same way, whatever package raised it."""

from __future__ import annotations


class TicketCoreError(Exception):
    error_id = "ticket_core_error"
    http_status = 400

    def __init__(self, message: str, *, field: str | None = None, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details


class NotFound(TicketCoreError):
    error_id = "not_found"
    http_status = 404


class UnknownCatalogueEntry(TicketCoreError):
    error_id = "unknown_catalogue_entry"
    http_status = 422


class TransitionNotAllowed(TicketCoreError):
    error_id = "transition_not_allowed"
    http_status = 409


class InvalidValue(TicketCoreError):
    error_id = "invalid_value"
    http_status = 422


class MissingEscalationInformation(TicketCoreError):
    error_id = "missing_escalation_information"
    http_status = 422


class ConcurrentUpdate(TicketCoreError):
    error_id = "concurrent_update"
    http_status = 409
