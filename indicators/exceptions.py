"""Errors of the indicators' API, rendered by apikit (``http_status``, ``error_id``)."""

from __future__ import annotations


class IndicatorError(Exception):
    http_status = 422
    error_id = "invalid_value"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class UnknownIndicator(IndicatorError):
    http_status = 404
    error_id = "not_found"
