"""The IMAP poller (aioimaplib): reads an existing mailbox and ingests each mail once.

Per round: UID SEARCH for the mails not yet processed (no processed keyword, or every mail
when processed mails are moved away), then for each UID in order: if the bookkeeping table
already has it (under the current UIDVALIDITY) it was committed before a crash and is only
flagged; else it is fetched with BODY.PEEK (not marking it read), ingested with its UID in
the same transaction, and only then flagged (and moved). A crash at any point leaves the
mail either not committed (fetched again) or committed and recorded (flagged, not
ingested again): no duplicate, no miss. A new UIDVALIDITY is logged; the mails re-listed
under it are recognised by their bytes (``MailService``).

Between rounds the poller waits in IDLE when the server offers it (renewed every poll
interval), else sleeps for the poll interval. Connection failures are retried with a
growing delay.
"""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
from datetime import UTC, datetime
from typing import Any

import aioimaplib
from sqlalchemy import select

from mailgw.models import ImapMailbox, ImapUid
from mailgw.services import ImapRef, MailService, fault
from mailgw.settings import MailSettings

log = logging.getLogger("guichet.mail.imap")

_UIDVALIDITY = re.compile(rb"UIDVALIDITY (\d+)")
_PERMANENTFLAGS = re.compile(rb"PERMANENTFLAGS \(([^)]*)\)")
_INTERNALDATE = re.compile(rb'INTERNALDATE "([^"]+)"')


class ImapError(Exception):
    pass


def _quote(name: str) -> str:
    if re.fullmatch(r"[A-Za-z0-9._/$-]+", name):
        return name
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _check(response: Any, what: str) -> Any:
    if response.result != "OK":
        raise ImapError(f"{what}: {response.result} {response.lines[-1:]!r}")
    return response


def parse_internaldate(value: bytes) -> datetime | None:
    try:
        return datetime.strptime(value.decode().strip(), "%d-%b-%Y %H:%M:%S %z").astimezone(UTC)
    except ValueError:
        return None


def parse_fetch(lines: list[Any]) -> tuple[bytes | None, datetime | None]:
    raw = next((bytes(line) for line in lines if isinstance(line, bytearray)), None)
    meta = b" ".join(line for line in lines if isinstance(line, bytes))
    found = _INTERNALDATE.search(meta)
    return raw, parse_internaldate(found.group(1)) if found else None


class ImapPoller:
    def __init__(self, service: MailService, settings: MailSettings) -> None:
        self.service = service
        self.settings = settings
        self.clock = service.clock
        self.session_factory = service.container.session_factory
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()
        self.rounds = 0  # completed poll rounds (for tests and health)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="mail-imap")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    def _site_active(self) -> bool:
        return self.service.container.site_is_active()

    async def _run(self) -> None:
        delay = 1.0
        while True:
            client = None
            if not self._site_active():
                # The standby site of a pair leaves the mailbox to the active site: one
                # poller per mailbox (UID bookkeeping makes a second one harmless, not useful).
                await asyncio.sleep(min(self.settings.poll_interval, 5.0))
                continue
            try:
                client = await self._connect()
                delay = 1.0
                await self._serve(client)
            except asyncio.CancelledError:
                if client is not None:
                    await self._logout(client)
                raise
            except Exception as exc:  # noqa: BLE001 - reconnect whatever happened
                log.warning("IMAP %s: %s: %s; retrying in %.0f s", self.settings.imap_key,
                            type(exc).__name__, exc, delay)
            self.connected.clear()
            if client is not None:
                await self._logout(client)
            await asyncio.sleep(delay)
            delay = min(delay * 2, max(self.settings.poll_interval, 1.0))

    async def _logout(self, client: aioimaplib.IMAP4) -> None:
        try:
            await asyncio.wait_for(client.logout(), 2)
        except Exception:  # noqa: BLE001
            pass

    async def _connect(self) -> aioimaplib.IMAP4:
        s = self.settings
        holder: dict[str, Any] = {}

        def lost(_exc: Exception | None) -> None:
            # Wake an IDLE wait at once when the server goes away.
            client = holder.get("client")
            if client is not None:
                client.protocol.idle_queue.put_nowait(aioimaplib.STOP_WAIT_SERVER_PUSH)

        if s.imap_ssl:
            client: aioimaplib.IMAP4 = aioimaplib.IMAP4_SSL(s.imap_host, s.imap_port, timeout=s.imap_timeout,
                                                             ssl_context=ssl.create_default_context())
        else:
            client = aioimaplib.IMAP4(s.imap_host, s.imap_port, timeout=s.imap_timeout, conn_lost_cb=lost)
        holder["client"] = client
        await client.wait_hello_from_server()
        _check(await client.login(s.imap_user, s.imap_password), "LOGIN")
        return client

    async def _serve(self, client: aioimaplib.IMAP4) -> None:
        s = self.settings
        if s.imap_move_to:
            await client.create(_quote(s.imap_move_to))  # NO when it exists: fine
        selected = _check(await client.select(_quote(s.imap_mailbox)), "SELECT")
        meta = b" ".join(line for line in selected.lines if isinstance(line, bytes | bytearray))
        found = _UIDVALIDITY.search(meta)
        if not found:
            raise ImapError("the server gave no UIDVALIDITY")
        uidvalidity = int(found.group(1))
        flags = _PERMANENTFLAGS.search(meta)
        keywords_allowed = flags is None or b"\\*" in flags.group(1)
        flag = s.imap_processed_flag if keywords_allowed or s.imap_processed_flag.startswith("\\") else "\\Seen"
        await self._check_uidvalidity(uidvalidity)
        self.connected.set()
        log.info("IMAP %s selected (UIDVALIDITY %d, IDLE %s)", s.imap_key, uidvalidity,
                 "yes" if client.has_capability("IDLE") and s.imap_idle else "no")
        while self._site_active():
            count = await self.poll_once(client, uidvalidity, flag)
            self.rounds += 1
            if count >= s.imap_batch:
                continue  # more waiting: no pause
            await self._wait_for_news(client)

    async def _check_uidvalidity(self, uidvalidity: int) -> None:
        key = self.settings.imap_key
        async with self.session_factory() as session:
            row = await session.get(ImapMailbox, key)
            if row is None:
                session.add(ImapMailbox(key=key, uidvalidity=uidvalidity, updated_at=self.clock()))
            elif row.uidvalidity != uidvalidity:
                log.warning("IMAP %s: UIDVALIDITY changed %d → %d: the mailbox was renumbered; mails "
                            "already ingested are recognised by their content", key, row.uidvalidity, uidvalidity)
                row.uidvalidity, row.updated_at = uidvalidity, self.clock()
            await session.commit()

    async def poll_once(self, client: aioimaplib.IMAP4, uidvalidity: int, flag: str) -> int:
        s = self.settings
        if s.imap_move_to:
            criteria: tuple[str, ...] = ("ALL",)
        elif flag == "\\Seen":
            criteria = ("UNSEEN",)
        else:
            criteria = ("UNKEYWORD", flag)
        response = _check(await client.uid_search(*criteria, charset=None), "UID SEARCH")
        uids: list[int] = []
        for line in response.lines[:-1]:  # the last line is the tagged status text
            if not isinstance(line, bytes | bytearray):
                continue
            line = bytes(line).strip()
            if line.upper().startswith(b"SEARCH"):  # aioimaplib may or may not strip the name
                line = line[6:].strip()
            if re.fullmatch(rb"[0-9 ]*", line):
                uids.extend(int(x) for x in line.split())
        uids = sorted(set(uids))[: s.imap_batch]
        if not uids:
            return 0
        key = s.imap_key
        async with self.session_factory() as session:
            known = set(await session.scalars(select(ImapUid.uid).where(
                ImapUid.mailbox_key == key, ImapUid.uidvalidity == uidvalidity, ImapUid.uid.in_(uids))))
        for uid in uids:
            if uid not in known:
                fetched = _check(await client.uid("fetch", str(uid), "(UID INTERNALDATE BODY.PEEK[])"), "UID FETCH")
                raw, internaldate = parse_fetch(fetched.lines)
                if raw is None:
                    continue  # expunged meanwhile
                now = self.clock()
                received = min(internaldate, now) if internaldate else now
                result = await self.service.ingest(raw, source="imap", received_at=received,
                                                   imap=ImapRef(key, uidvalidity, uid))
                log.info("IMAP uid %d → ticket %s%s", uid, result.reference, " (duplicate)" if result.duplicate else "")
                await fault("imap_after_commit", uid=uid, mail_id=result.mail_id)
            await self._mark_processed(client, uid, flag)
            async with self.session_factory() as session:
                row = await session.get(ImapUid, (key, uidvalidity, uid))
                if row is not None and row.flagged_at is None:
                    row.flagged_at = self.clock()
                    await session.commit()
        return len(uids)

    async def _mark_processed(self, client: aioimaplib.IMAP4, uid: int, flag: str) -> None:
        s = self.settings
        _check(await client.uid("store", str(uid), "+FLAGS.SILENT", f"({flag})"), "UID STORE")
        if not s.imap_move_to:
            return
        target = _quote(s.imap_move_to)
        if client.has_capability("MOVE"):
            _check(await client.uid("move", str(uid), target), "UID MOVE")
            return
        _check(await client.uid("copy", str(uid), target), "UID COPY")
        _check(await client.uid("store", str(uid), "+FLAGS.SILENT", "(\\Deleted)"), "UID STORE")
        if client.has_capability("UIDPLUS"):
            _check(await client.uid("expunge", str(uid)), "UID EXPUNGE")
        else:
            _check(await client.expunge(), "EXPUNGE")

    async def _wait_for_news(self, client: aioimaplib.IMAP4) -> None:
        s = self.settings
        if not (s.imap_idle and client.has_capability("IDLE")):
            await asyncio.sleep(s.poll_interval)
            return
        idle = await client.idle_start(timeout=s.poll_interval)
        try:
            while client.has_pending_idle():
                try:
                    pushed = await client.wait_server_push(timeout=s.poll_interval + 10)
                except TimeoutError:
                    break
                if pushed == aioimaplib.STOP_WAIT_SERVER_PUSH:
                    break
                if any(b"EXISTS" in line or b"RECENT" in line for line in pushed
                       if isinstance(line, bytes | bytearray)):
                    break
        finally:
            if client.has_pending_idle():
                client.idle_done()
            await asyncio.wait_for(idle, timeout=s.imap_timeout)
