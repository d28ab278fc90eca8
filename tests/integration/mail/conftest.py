"""Fixtures of the mail gateway's tests: the gateway running in the test's event loop on
a fresh database (SQLite and PostgreSQL), a second aiosmtpd instance as the outbound
relay that keeps what it receives, real SMTP clients (smtplib, in a worker thread so the
server keeps running), and a private Dovecot for the IMAP poller."""

from __future__ import annotations

import asyncio
import imaplib
import smtplib
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP as AioSMTP
from sqlalchemy import func, select

from mailgw.models import MailMessage
from mailgw.runtime import MailGateway
from mailgw.settings import MailSettings
from tests.support.dovecot import Dovecot
from tests.support.net import free_port
from ticket_core.models import JournalEvent, Ticket

SUPPORT = "support@support.test"
IMAP_USER, IMAP_PASSWORD = "guichet", "imap password 1"
WATCHDOG_SECONDS = 400  # far beyond the slowest test on a loaded machine (about 90 s)


@pytest.fixture(autouse=True)
async def _watchdog() -> AsyncIterator[None]:
    """A test stuck on an await that never completes fails instead of hanging the suite,
    and shows where every thread and task was (printed into its captured output)."""
    import faulthandler
    import sys
    import threading

    loop = asyncio.get_running_loop()
    done = threading.Event()

    def watch() -> None:
        if done.wait(WATCHDOG_SECONDS):
            return
        print(f"\n=== watchdog: test still running after {WATCHDOG_SECONDS} s; threads:", flush=True)
        faulthandler.dump_traceback(file=sys.__stdout__, all_threads=True)
        print("=== asyncio tasks:", flush=True)
        for task in list(asyncio.all_tasks(loop)):
            task.print_stack(file=sys.stdout)
        loop.call_soon_threadsafe(lambda: [t.cancel() for t in asyncio.all_tasks(loop)])

    threading.Thread(target=watch, name="mail-test-watchdog", daemon=True).start()
    yield
    done.set()


# --- the outbound relay -------------------------------------------------------------------


@dataclass
class Captured:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        return message_from_bytes(self.raw, policy=policy.default)  # type: ignore[return-value]


@dataclass
class CapturingRelay:
    """aiosmtpd as the relay: keeps every mail; ``refuse`` makes it answer DATA with
    that status instead (e.g. 451 or 554)."""

    messages: list[Captured] = field(default_factory=list)
    refuse: str | None = None
    refused: int = 0
    port: int = 0
    server: asyncio.Server | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse:
            self.refused += 1
            return self.refuse
        self.messages.append(Captured(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 2.0.0 Ok: queued"

    async def start(self) -> CapturingRelay:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(
            lambda: AioSMTP(self, hostname="relay.test", loop=loop), "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def wait_for(self, count: int, timeout: float = 45) -> list[Captured]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"relay got {len(self.messages)} mails, expected {count}")
            await asyncio.sleep(0.05)
        return self.messages


@pytest.fixture
async def relay() -> AsyncIterator[CapturingRelay]:
    r = await CapturingRelay().start()
    yield r
    await r.stop()


# --- the gateway ------------------------------------------------------------------------------


@pytest.fixture
def mail_settings(tmp_path: Path, relay: CapturingRelay) -> MailSettings:
    return MailSettings(
        smtp_port=free_port(), hostname="guichet.test", support_address=SUPPORT,
        accepted_domains=["support.test"], accepted_addresses=["portail@formulaires.test"],
        relay_host="127.0.0.1", relay_port=relay.port, relay_starttls=False, outbox_retry_seconds=1,
        attachments_dir=tmp_path / "attachments", ack_rate_limit=3, ack_rate_window=3600,
    )


@pytest.fixture
async def gateway(container: Any, mail_settings: MailSettings) -> AsyncIterator[MailGateway]:
    gw = await MailGateway(container, mail_settings).start()
    yield gw
    await gw.stop()


def smtp_send(port: int, raw: bytes | str, *, mail_from: str = "dupont@cabinet.fr",
              rcpt: list[str] | None = None, mail_options: list[str] | None = None) -> tuple[int, str]:
    """A real SMTP client: EHLO, MAIL, RCPT, DATA; returns the DATA answer (or the first
    refusal). Blocking: call it through ``asyncio.to_thread``."""
    with smtplib.SMTP("127.0.0.1", port, local_hostname="client.test", timeout=120) as client:
        client.ehlo()
        code, resp = client.mail(mail_from, mail_options or [])
        if code != 250:
            return code, resp.decode()
        for address in rcpt or [SUPPORT]:
            code, resp = client.rcpt(address)
            if code not in (250, 251):
                return code, resp.decode()
        if isinstance(raw, str):
            raw = raw.encode()
        code, resp = client.data(raw)
        return code, resp.decode()


async def send(gateway: MailGateway, raw: bytes | str, **kw: Any) -> tuple[int, str]:
    return await asyncio.to_thread(smtp_send, gateway.smtp_port, raw, **kw)


def mail(subject: str = "Connexion impossible", body: str = "Bonjour,\nje ne peux pas me connecter.\n", *,
         sender: str = "Maître Dupont <dupont@cabinet.fr>", headers: dict[str, str] | None = None,
         message_id: str | None = None) -> bytes:
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = sender
    msg["To"] = SUPPORT
    msg["Subject"] = subject
    msg["Date"] = "Tue, 03 Mar 2026 10:00:00 +0100"
    msg["Message-ID"] = message_id or f"<{uuid.uuid4().hex}@cabinet.fr>"
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    return msg.as_bytes()


# --- reading the database -----------------------------------------------------------------------


async def tickets(container: Any) -> list[Ticket]:
    async with container.session_factory() as s:
        return list(await s.scalars(select(Ticket).order_by(Ticket.id)))


async def mails(container: Any, direction: str | None = None) -> list[MailMessage]:
    from sqlalchemy.orm import undefer

    async with container.session_factory() as s:
        stmt = select(MailMessage).options(undefer(MailMessage.raw), undefer(MailMessage.text_body),
                                           undefer(MailMessage.html_raw), undefer(MailMessage.html_sanitized))
        if direction:
            stmt = stmt.where(MailMessage.direction == direction)
        return list(await s.scalars(stmt.order_by(MailMessage.id)))


async def events(container: Any, kind: str) -> list[JournalEvent]:
    async with container.session_factory() as s:
        return list(await s.scalars(select(JournalEvent).where(JournalEvent.kind == kind).order_by(JournalEvent.id)))


async def count(container: Any, model: Any) -> int:
    async with container.session_factory() as s:
        return int(await s.scalar(select(func.count()).select_from(model)))


async def wait_until(predicate: Any, timeout: float = 45, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


# --- Dovecot ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    server = Dovecot({IMAP_USER: IMAP_PASSWORD}).start()
    yield server
    server.stop()


@dataclass
class Mailbox:
    """A fresh mailbox of the test user, driven with the standard library's imaplib."""

    dovecot: Dovecot
    name: str

    def _client(self) -> imaplib.IMAP4:
        client = imaplib.IMAP4("127.0.0.1", self.dovecot.port)
        client.login(IMAP_USER, IMAP_PASSWORD)
        return client

    def create(self) -> Mailbox:
        client = self._client()
        typ, _ = client.create(self.name)
        assert typ == "OK"
        client.logout()
        return self

    def append(self, *raws: bytes, when: Any = None) -> None:
        client = self._client()
        for raw in raws:
            date = imaplib.Time2Internaldate(when) if when is not None else None
            typ, data = client.append(self.name, None, date, raw)
            assert typ == "OK", data
        client.logout()

    def flags(self, mailbox: str | None = None) -> dict[int, str]:
        """UID → FLAGS of every mail in the mailbox."""
        client = self._client()
        typ, _ = client.select(mailbox or self.name)
        if typ != "OK":  # not created yet
            client.logout()
            return {}
        typ, data = client.uid("FETCH", "1:*", "(UID FLAGS)")
        client.logout()
        out: dict[int, str] = {}
        for item in data:
            if not item:
                continue
            text = item.decode() if isinstance(item, bytes) else item[0].decode()
            import re

            found = re.search(r"UID (\d+)", text)
            flags = re.search(r"FLAGS \(([^)]*)\)", text)
            if found:
                out[int(found.group(1))] = flags.group(1) if flags else ""
        return out

    def recreate(self) -> None:
        """Delete and create again with the same mails: a new UIDVALIDITY."""
        client = self._client()
        client.select(self.name)
        typ, data = client.uid("FETCH", "1:*", "(BODY.PEEK[])")
        raws = [part[1] for part in data if isinstance(part, tuple)]
        client.close()
        client.delete(self.name)
        client.create(self.name)
        for raw in raws:
            client.append(self.name, None, None, raw)
        client.logout()

    def uidvalidity(self) -> int:
        client = self._client()
        client.select(self.name)
        value = int(client.response("UIDVALIDITY")[1][0])
        client.logout()
        return value


@pytest.fixture
def mailbox(dovecot: Dovecot) -> Mailbox:
    return Mailbox(dovecot, f"T{uuid.uuid4().hex[:10]}").create()


@pytest.fixture
def imap_settings(mail_settings: MailSettings, dovecot: Dovecot, mailbox: Mailbox) -> MailSettings:
    return mail_settings.model_copy(update={
        "smtp_enabled": False, "imap_host": "127.0.0.1", "imap_port": dovecot.port, "imap_ssl": False,
        "imap_user": IMAP_USER, "imap_password": IMAP_PASSWORD, "imap_mailbox": mailbox.name,
        "poll_interval": 30.0,
    })
