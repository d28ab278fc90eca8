"""ACD errors as the HTTP layer renders them."""

from __future__ import annotations

from acd.domain import AcdError


class AcdUnavailable(Exception):
    error_id = "acd_unavailable"
    http_status = 503
    message = "the ACD is not running on this instance"
    field = None
    details = None


class SiteNotActive(Exception):
    """This instance is the standby site of a pair: the ACD runs on the other site."""

    error_id = "site_not_active"
    http_status = 409
    message = "this site is the standby site: operators work on the active site"
    field = None
    details = None


def as_http(exc: AcdError) -> Exception:
    """Give a domain refusal an HTTP rendering (409: the state does not allow it)."""
    status = 404 if exc.error_id.endswith("_not_found") else 422 if exc.error_id.startswith("invalid") else 409
    exc.http_status = status  # type: ignore[attr-defined]
    exc.message = exc.detail or exc.error_id  # type: ignore[attr-defined]
    exc.field = None  # type: ignore[attr-defined]
    exc.details = None  # type: ignore[attr-defined]
    return exc
