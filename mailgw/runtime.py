"""The mail gateway in the main job: the SMTP intake (in the application's event loop),
the IMAP poller when a mailbox is configured, and the outbox sender. ``guichet serve``
calls ``start(container)`` and awaits the returned function at shutdown."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from guichet.settings import load_section
from mailgw.imap import ImapPoller
from mailgw.outbound import OutboxSender, Relay
from mailgw.services import MailService
from mailgw.settings import MailSettings
from mailgw.smtp import start_smtp_server

log = logging.getLogger("guichet.mail")


class MailGateway:
    def __init__(self, container: Any, settings: MailSettings) -> None:
        self.container = container
        self.settings = settings
        self.relay = Relay(settings)
        self.outbox = OutboxSender(container.session_factory, settings, self.relay, site=container.settings.site,
                                   clock=container.clock, site_active=container.site_is_active)
        self.service = MailService(container, settings, on_outbox=self.outbox.wake)
        self.smtp: asyncio.Server | None = None
        self.smtp_error: str | None = None
        self.imap: ImapPoller | None = None

    @property
    def smtp_port(self) -> int | None:
        if self.smtp is None or not self.smtp.sockets:
            return None
        return int(self.smtp.sockets[0].getsockname()[1])

    async def start(self) -> MailGateway:
        s = self.settings
        if s.smtp_enabled:
            try:
                self.smtp = await start_smtp_server(self.service, s)
            except OSError as exc:
                # The other channels keep working; the operator sees why mail does not.
                log.error("SMTP intake NOT started on %s:%d (GUICHET_MAIL_SMTP_HOST/_PORT): %s",
                          s.smtp_host, s.smtp_port, exc)
                self.smtp_error = str(exc)
        if s.imap_host:
            self.imap = ImapPoller(self.service, s)
            self.imap.start()
        self.outbox.start()
        self.container.extras["mail"] = self
        return self

    async def stop(self) -> None:
        if self.smtp is not None:
            self.smtp.close()
            await self.smtp.wait_closed()
            self.smtp = None
        if self.imap is not None:
            await self.imap.stop()
        await self.outbox.stop()
        self.service.executor.shutdown(wait=False, cancel_futures=True)
        self.relay.executor.shutdown(wait=False, cancel_futures=True)
        if self.container.extras.get("mail") is self:
            del self.container.extras["mail"]


def gateway_settings(container: Any) -> MailSettings:
    """The mail settings in force: the running gateway's, else those of the environment
    (the portal on its own, the command line)."""
    gateway = container.extras.get("mail")
    return gateway.settings if gateway is not None else load_section(MailSettings, "mail")


def wake_outbox(container: Any) -> None:
    """Mails just committed to the outbox: send them now when the gateway runs in this
    process (otherwise its sender finds them at its next round)."""
    gateway = container.extras.get("mail")
    if gateway is not None:
        gateway.outbox.wake()


async def start(container: Any, settings: MailSettings | None = None) -> Callable[[], Awaitable[None]]:
    settings = settings or load_section(MailSettings, "mail")
    gateway = await MailGateway(container, settings).start()
    parts = []
    if gateway.smtp is not None:
        parts.append(f"SMTP intake on {settings.smtp_host}:{gateway.smtp_port} for "
                     f"{', '.join(settings.accepted_domains or [settings.support_domain])}"
                     + (" (STARTTLS)" if settings.tls_enabled else ""))
    elif gateway.smtp_error:
        parts.append(f"SMTP intake NOT started on {settings.smtp_host}:{settings.smtp_port}: {gateway.smtp_error}")
    if gateway.imap is not None:
        parts.append(f"IMAP polling of {settings.imap_mailbox} on {settings.imap_host}:{settings.imap_port}")
    parts.append(f"relay {settings.relay_host}:{settings.relay_port}" if settings.relay_host
                 else "no relay: outgoing mails wait in the outbox")
    print("Mail: " + "; ".join(parts), flush=True)
    return gateway.stop
