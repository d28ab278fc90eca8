"""Errors of accounts, rendered by the HTTP layer from ``error_id``/``http_status``."""

from __future__ import annotations

from ticket_core.exceptions import TicketCoreError


class AccountError(TicketCoreError):
    error_id = "account_error"


class AuthenticationRequired(AccountError):
    error_id = "authentication_required"
    http_status = 401


class InvalidCredentials(AccountError):
    error_id = "invalid_credentials"
    http_status = 401


class Forbidden(AccountError):
    error_id = "forbidden"
    http_status = 403


class UsernameTaken(AccountError):
    error_id = "username_taken"
    http_status = 409
