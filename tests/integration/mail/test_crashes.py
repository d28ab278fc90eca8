"""Crashes, for real: ``guichet serve`` in its own process, killed with SIGKILL at the
critical points of exactly-once ingestion (a fault point makes it wait there, the test
kills it), then started again.

- SMTP: killed after DATA but before the commit → the client never got a 250, nothing
  was stored; the client retries against the restarted app → exactly one ticket.
- IMAP: killed after a mail's commit but before it was flagged, then before another
  mail's commit → after the restart every mail is a ticket exactly once, all flagged."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import smtplib
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
from sqlalchemy import select

from mailgw.models import ImapUid
from tests.integration.mail.conftest import (
    IMAP_PASSWORD,
    IMAP_USER,
    SUPPORT,
    events,
    mail,
    mails,
    smtp_send,
    tickets,
    wait_until,
)
from tests.support.net import free_port

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]


class App:
    """``guichet serve`` (telephony off) as a separate process."""

    def __init__(self, env: dict[str, str], log: Path, fault: str | None = None) -> None:
        self.env = dict(env)
        self.log = log
        self.marker = log.with_suffix(".fault")
        if fault:
            self.env.update({"GUICHET_TEST_MAIL_FAULT": fault, "GUICHET_TEST_MAIL_FAULT_MARKER": str(self.marker)})
        self.proc: subprocess.Popen[bytes] | None = None

    async def start(self, timeout: float = 180) -> App:
        base = {k: v for k, v in os.environ.items() if not k.startswith("GUICHET_")}
        out = self.log.open("ab")
        self.proc = subprocess.Popen([sys.executable, str(HERE / "serve_with_faults.py")], cwd=REPO,
                                     env={**base, **self.env}, stdout=out, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{self.env['GUICHET_HTTP_PORT']}/health"
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise AssertionError(f"app exited: {self.log.read_text()[-3000:]}")
                try:
                    async with http.get(url) as r:
                        if r.status == 200 and "Mail: " in self.log.read_text():
                            return self
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.2)
        raise AssertionError(f"app did not start: {self.log.read_text()[-3000:]}")

    async def wait_fault(self, timeout: float = 90) -> dict:
        deadline = time.monotonic() + timeout
        while not self.marker.exists():
            if time.monotonic() > deadline:
                raise AssertionError(f"fault point not reached: {self.log.read_text()[-3000:]}")
            await asyncio.sleep(0.05)
        return json.loads(self.marker.read_text())

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def _env(db_url: str, tmp_path: Path, relay_port: int, **mail: str) -> dict[str, str]:
    env = {
        "GUICHET_DATABASE_URL": db_url, "GUICHET_DATA_DIR": str(tmp_path / "var"),
        "GUICHET_HTTP_PORT": str(free_port()), "GUICHET_TELEPHONY": "0",
        "GUICHET_ADMIN_PASSWORD": "admin password 1",
        "GUICHET_MAIL_SUPPORT_ADDRESS": SUPPORT, "GUICHET_MAIL_ACCEPTED_DOMAINS": "support.test",
        "GUICHET_MAIL_HOSTNAME": "guichet.test", "GUICHET_MAIL_RELAY_HOST": "127.0.0.1",
        "GUICHET_MAIL_RELAY_PORT": str(relay_port), "GUICHET_MAIL_RELAY_STARTTLS": "0",
        "GUICHET_MAIL_OUTBOX_RETRY_SECONDS": "1",
    }
    env.update({f"GUICHET_MAIL_{k.upper()}": v for k, v in mail.items()})
    return env


def _send_until_answer(port: int, raw: bytes) -> tuple[str, object]:
    try:
        return "answered", smtp_send(port, raw)
    except (smtplib.SMTPServerDisconnected, ConnectionError) as exc:
        return "disconnected", type(exc).__name__


async def test_given_app_killed_between_receipt_and_commit_then_no_250_and_the_retry_makes_exactly_one_ticket(
        db_url, container, tmp_path, relay):
    port = free_port()
    env = _env(db_url, tmp_path, relay.port, smtp_port=str(port))
    raw = mail(message_id="<crash-1@cabinet.fr>")
    app = await App(env, tmp_path / "app1.log", fault="before_commit:1").start()
    try:
        sending = asyncio.create_task(asyncio.to_thread(_send_until_answer, port, raw))
        reached = await app.wait_fault()
        assert reached["source"] == "smtp"
        app.kill()  # the ticket was written but not committed; the client still waits
        outcome, detail = await sending
        assert outcome == "disconnected", detail  # no 250: the client keeps the mail
    finally:
        app.stop()
    assert await tickets(container) == [] and await mails(container) == []
    assert await events(container, "mail_received") == []

    app = await App(env, tmp_path / "app2.log").start()
    try:
        code, text = await asyncio.to_thread(smtp_send, port, raw)  # the client retries
        [ticket] = await tickets(container)
        assert code == 250 and ticket.reference in text
        assert ticket.reference.endswith("-000001")  # the rolled-back number was not burnt
        [ack] = await relay.wait_for(1)
        assert ticket.reference in ack.message["Subject"]
        code, _ = await asyncio.to_thread(smtp_send, port, raw)  # and once more: still one
        assert code == 250
        assert len(await tickets(container)) == 1 and len(await mails(container, "in")) == 1
        assert len(await events(container, "mail_received")) == 1
    finally:
        app.stop()


async def _flags(mailbox, n):
    flags = await asyncio.to_thread(mailbox.flags)
    return {uid: "$GuichetIngested" in f for uid, f in flags.items()}


async def test_given_imap_poller_killed_mid_batch_then_no_duplicate_and_no_miss(
        db_url, container, tmp_path, relay, dovecot, mailbox):
    env = _env(db_url, tmp_path, relay.port, smtp_enabled="0", imap_host="127.0.0.1", imap_port=str(dovecot.port),
               imap_ssl="0", imap_user=IMAP_USER, imap_password=IMAP_PASSWORD, imap_mailbox=mailbox.name,
               poll_interval="30", outbox_claim_lease="6", relay_timeout="5")
    mailbox.append(*(mail(subject=f"Courriel {n}", sender=f"u{n}@exemple.fr") for n in range(1, 6)))

    # 1. Killed after the 3rd mail's commit, before it was flagged on the server.
    app = await App(env, tmp_path / "app1.log", fault="imap_after_commit:3").start()
    try:
        assert (await app.wait_fault())["uid"] == 3
        app.kill()
    finally:
        app.stop()
    assert [t.subject for t in await tickets(container)] == ["Courriel 1", "Courriel 2", "Courriel 3"]
    assert await _flags(mailbox, 5) == {1: True, 2: True, 3: False, 4: False, 5: False}

    # 2. Restarted, killed before the 5th mail's commit (the 3rd is only flagged, the 4th ingested).
    app = await App(env, tmp_path / "app2.log", fault="before_commit:2").start()
    try:
        assert (await app.wait_fault())["source"] == "imap"
        app.kill()
    finally:
        app.stop()
    assert len(await tickets(container)) == 4
    assert await _flags(mailbox, 5) == {1: True, 2: True, 3: True, 4: True, 5: False}

    # 3. Restarted cleanly: the last one comes in; each mail is a ticket exactly once.
    app = await App(env, tmp_path / "app3.log").start()
    try:
        await wait_until(lambda: _all_flagged(mailbox), timeout=90, what="all flagged")
        await wait_until(lambda: _acks_sent(container), timeout=90, what="acknowledgements sent")
    finally:
        app.stop()
    assert [t.subject for t in await tickets(container)] == [f"Courriel {n}" for n in range(1, 6)]
    assert len(await events(container, "mail_received")) == 5
    async with container.session_factory() as s:
        uids = list(await s.scalars(select(ImapUid).order_by(ImapUid.uid)))
    assert [u.uid for u in uids] == [1, 2, 3, 4, 5] and all(u.flagged_at for u in uids)
    # Each acknowledgement was queued once, with its ticket, and left; one whose sender was
    # killed between the relay's 250 and its commit may leave twice (at least once).
    outbox = await mails(container, "out")
    assert len(outbox) == 5 and all(m.status == "sent" for m in outbox)
    assert sorted({m.rcpt_tos[0] for m in relay.messages}) == [f"u{n}@exemple.fr" for n in range(1, 6)]


async def _all_flagged(mailbox):
    flags = await _flags(mailbox, 5)
    return len(flags) == 5 and all(flags.values())


async def _acks_sent(container):
    outbox = await mails(container, "out")
    return len(outbox) == 5 and all(m.status == "sent" for m in outbox)
