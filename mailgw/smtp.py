"""The SMTP intake: aiosmtpd's ``SMTP`` protocol served by ``loop.create_server`` in the
application's own event loop (no Controller thread), with our handler's hooks.

- RCPT: only recipients of the configured domains or addresses (550 otherwise: never an
  open relay, authenticated or not).
- DATA: over the size limit aiosmtpd answers 552 and nothing reaches the handler; else
  the raw bytes go to ``MailService.ingest``, and the answer is 250 only once the raw
  mail and its ticket are committed. When nothing could be made durable the answer is
  451 (the client keeps the mail and retries), never a 5xx that would lose it.
- STARTTLS when a certificate and key are configured; AUTH (PLAIN, LOGIN) over TLS only,
  against ``auth_users``, required or not (``auth_required``).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import ssl
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from mailgw import texts
from mailgw.exceptions import TemporaryIntakeFailure
from mailgw.services import MailService
from mailgw.settings import MailSettings

log = logging.getLogger("guichet.mail.smtp")

MAX_RECIPIENTS = 100


class IntakeHandler:
    """aiosmtpd hooks (``handle_*``): each returns the SMTP status line to send."""

    def __init__(self, service: MailService, settings: MailSettings) -> None:
        self.service = service
        self.settings = settings

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if not self.settings.accepts(address):
            log.info("recipient refused (not ours) from %s", session.peer)
            return texts.SMTP_RELAY_DENIED
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return texts.SMTP_TOO_MANY_RECIPIENTS
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content if envelope.original_content is not None else envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        raw = raw or b""
        if len(raw) > self.settings.max_message_size:
            return texts.SMTP_TOO_BIG
        try:
            result = await self.service.ingest(raw, source="smtp", envelope_from=envelope.mail_from,
                                               envelope_to=list(envelope.rcpt_tos))
        except TemporaryIntakeFailure:
            return texts.SMTP_TEMPORARY
        except Exception:  # noqa: BLE001 - answer 4xx: the client keeps the mail and retries
            log.exception("SMTP intake failed")
            return texts.SMTP_TEMPORARY
        return texts.SMTP_OK.format(reference=result.reference)

    async def handle_exception(self, error: Exception) -> str:
        log.exception("SMTP session error", exc_info=error)
        return texts.SMTP_TEMPORARY


class IntakeSMTP(SMTP):
    def __init__(self, handler: IntakeHandler, *, line_length_limit: int, **kwargs: Any) -> None:
        # Long lines (base64 without breaks, broken clients) are accepted rather than
        # refused with a 5xx: the size limit bounds the memory anyway.
        self.line_length_limit = line_length_limit
        super().__init__(handler, **kwargs)

    async def push(self, status: Any) -> None:
        # A line longer than the size limit (bare-LF mail from a broken client) makes a
        # message over the size limit: say so with 552 rather than "500 line too long".
        if isinstance(status, str) and status.startswith("500 Line too long"):
            status = texts.SMTP_TOO_BIG
        await super().push(status)


def tls_context(settings: MailSettings) -> ssl.SSLContext | None:
    if not settings.tls_enabled:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(settings.tls_cert), str(settings.tls_key))
    return ctx


def _authenticator(settings: MailSettings) -> Any:
    table = settings.auth_table

    def authenticate(server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user = auth_data.login.decode("utf-8", "replace")
        expected = table.get(user, "")
        given = auth_data.password.decode("utf-8", "replace")
        ok = bool(expected) and hmac.compare_digest(expected.encode(), given.encode())
        return AuthResult(success=ok, handled=False, auth_data=user if ok else None)

    return authenticate


async def start_smtp_server(service: MailService, settings: MailSettings) -> asyncio.Server:
    loop = asyncio.get_running_loop()
    handler = IntakeHandler(service, settings)
    tls = tls_context(settings)
    if settings.auth_users and tls is None:
        log.warning("GUICHET_MAIL_AUTH_USERS is set but STARTTLS is not configured: AUTH is never offered")

    def factory() -> IntakeSMTP:
        return IntakeSMTP(
            handler, line_length_limit=settings.max_message_size + 2,
            data_size_limit=settings.max_message_size, enable_SMTPUTF8=True, hostname=settings.hostname,
            ident="Guichet ESMTP", tls_context=tls, require_starttls=settings.require_starttls,
            timeout=settings.smtp_timeout, auth_required=settings.auth_required, auth_require_tls=True,
            authenticator=_authenticator(settings) if settings.auth_users else None, loop=loop,
        )

    return await loop.create_server(factory, host=settings.smtp_host, port=settings.smtp_port)
