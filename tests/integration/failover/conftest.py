"""A site pair on one machine, for the failover tests (one per test module):

- PostgreSQL: a primary and a real synchronous streaming standby (pgpair.py), the
  "primary" site's and the "backup" site's servers;
- two Asterisks (telephony/asterisk_process.py) on their own ports, each with the same
  operators' accounts (softphones register to both sites);
- two ``guichet serve`` processes (``GUICHET_SITE=primary|backup``, ``GUICHET_FAILOVER=1``)
  attached to their site's Asterisk, both with the application URL naming both
  PostgreSQL servers (``target_session_attrs=read-write``: whichever accepts writes).

The backup reaches the primary's application through :class:`FlakyProxy`, which the
flapping test uses to make the primary's health come and go as the backup sees it.

Callers and softphones are pjsua2 peers (tests/support/sip_peers.py): the tests point
them at the site they expect to be active — in production the carrier's trunk fails
over to the site whose Asterisk does not answer 503, and softphones register to both.

Timings are short: probes every second, a site failed after 3 failed rounds, lease 8 s
(shared CI machines are slow: a shorter lease makes a busy but healthy site fence itself).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from telephony import prompts
from telephony.asterisk_config import AsteriskSettings
from telephony.asterisk_process import AsteriskProcess
from tests.integration.failover.pgpair import PgPair
from tests.support.net import free_port
from tests.support.sip_peers import PJSUA2_DIR, SipPeers

pytestmark = pytest.mark.asterisk

REPO = Path(__file__).resolve().parents[3]
PASSWORD = "correct horse battery"
ADMIN_PASSWORD = "admin password 1"
OPERATORS = ("op1", "op2")

FAST = {
    "GUICHET_FAILOVER_PROBE_INTERVAL": "1", "GUICHET_FAILOVER_PROBE_TIMEOUT": "3",
    "GUICHET_FAILOVER_FAILURES_TO_SWITCH": "3", "GUICHET_FAILOVER_FAILURE_WINDOW": "15",
    "GUICHET_FAILOVER_LEASE_TTL": "8", "GUICHET_FAILOVER_LEASE_MARGIN": "2",
    "GUICHET_FAILOVER_HANDOVER_TIMEOUT": "30", "GUICHET_FAILOVER_MIN_SECONDS_BETWEEN_SWITCHOVERS": "5",
    "GUICHET_FAILOVER_RECORD_EVERY": "5", "GUICHET_FAILOVER_SLOW_CHECKS_EVERY": "5", "GUICHET_FAILOVER_DRILL_CALL_TIMEOUT": "40",
    "GUICHET_FAILOVER_DRILL_SWITCH_TIMEOUT": "40",
}


# ----------------------------------------------------------------------------- a flaky path


class FlakyProxy:
    """A TCP relay on loopback. ``pattern`` (cycled, one entry per new connection):
    True relays the connection, False closes it at once (the probe fails)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.pattern: list[bool] = [True]
        self.connections = 0
        self.refused = 0
        self._closed = False
        threading.Thread(target=self._accept, daemon=True, name="flaky-proxy").start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            relay = self.pattern[self.connections % len(self.pattern)]
            self.connections += 1
            if not relay:
                self.refused += 1
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._closed = True
        self.sock.close()


# ----------------------------------------------------------------------------- one site


@dataclass
class Site:
    name: str
    env: dict[str, str]
    log: Path
    asterisk: AsteriskProcess
    http_port: int
    smtp_port: int
    proc: subprocess.Popen[bytes] | None = None
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def sip_address(self) -> str:
        return self.asterisk.settings.sip_address

    def start(self) -> None:
        out = self.log.open("ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "guichet.cli", "serve"], cwd=REPO,
                                     env={**os.environ, **self.env}, stdout=out, stderr=subprocess.STDOUT)

    def wait_state(self, *states: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"site {self.name} exited: {self.tail()}")
            try:
                last = self.get("/api/v1/failover/health")
                if last.get("state") in states:
                    return last
            except (OSError, urllib.error.URLError, ValueError):
                pass
            time.sleep(0.2)
        raise AssertionError(f"site {self.name} not {states} after {timeout}s (last {last}):\n{self.tail()}")

    def get(self, path: str, token: str | None = None) -> Any:
        return self.request("GET", path, token=token)[1]

    def request(self, method: str, path: str, body: Any = None, token: str | None = None,
                timeout: float = 30) -> tuple[int, Any]:
        req = urllib.request.Request(self.base + path, method=method,
                                     data=None if body is None else json.dumps(body).encode())
        req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(req, timeout=timeout) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def login(self, username: str, password: str = PASSWORD) -> str:
        status, body = self.request("POST", "/api/v1/auth/login", {"username": username, "password": password})
        assert status == 200, body
        self.tokens[username] = body["token"]
        return body["token"]

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
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

    def tail(self, n: int = 60) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


@dataclass
class SitePair:
    pg: PgPair
    primary: Site
    backup: Site
    proxy: FlakyProxy
    users: dict[str, int]  # username → id
    secrets: dict[str, str]  # endpoint → SIP password
    root: Path

    def peers(self, site: Site, name: str) -> SipPeers:
        return SipPeers(site.sip_address, self.root / "sip" / name)

    async def db(self, sql: str, **params: Any) -> list[Any]:
        """Query the shared database (whichever server accepts writes)."""
        from sqlalchemy import text

        from ticket_core.db import create_engine

        engine = create_engine(self.pg.url)
        try:
            async with engine.connect() as conn:
                return list(await conn.execute(text(sql), params))
        finally:
            await engine.dispose()

    async def wait_db(self, sql: str, predicate: Any = bool, timeout: float = 40, **params: Any) -> list[Any]:
        deadline = time.monotonic() + timeout
        rows: list[Any] = []
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                rows = await self.db(sql, **params)
                if predicate(rows):
                    return rows
            await asyncio.sleep(0.2)
        raise AssertionError(f"timed out on {sql!r}: {rows}")


def _asterisk(root: Path, name: str, entity: str, operators: list[tuple[str, str]]) -> AsteriskProcess:
    settings = AsteriskSettings(
        run_dir=root / f"asterisk-{name}", ari_password=secrets.token_urlsafe(16),
        sip_port=free_port(socket.SOCK_DGRAM), http_port=free_port(), app_name="guichet",
        support_number="3900", operators=operators, entity_id=entity, system_name=f"guichet-{name}",
        rtp_start=10000 if name == "primary" else 12000, rtp_end=11998 if name == "primary" else 13998,
    )
    return AsteriskProcess(settings, die_with_parent=True)


async def _seed(url: str, operators: dict[str, str]) -> dict[str, int]:
    from accounts.services import create_user
    from acd.models import OperatorSkill
    from ticket_core.catalogue import seed_catalogue
    from ticket_core.db import create_engine, session_factory

    engine = create_engine(url)
    users: dict[str, int] = {}
    try:
        async with session_factory(engine)() as s:
            await seed_catalogue(s)
            sup = await create_user(s, username="superviseur", password=PASSWORD, role="supervisor")
            users["superviseur"] = sup.id
            for endpoint, secret in operators.items():
                user = await create_user(s, username=endpoint, password=PASSWORD, role="operator",
                                         sip_endpoint=endpoint, sip_secret=secret)
                users[endpoint] = user.id
                for audience in ("avocat", "administration", "citoyen"):
                    s.add(OperatorSkill(user_id=user.id, audience=audience, level=3))
            await s.commit()
    finally:
        await engine.dispose()
    return users


@pytest.fixture(scope="module")
def site_pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SitePair]:
    if not (PJSUA2_DIR / "pjsua2.py").exists():
        pytest.fail(f"pjsua2 missing in {PJSUA2_DIR}: run scripts/build-pjsua2")
    root = tmp_path_factory.mktemp("site-pair")
    # cached between runs (by the texts' digest): espeak-ng is slow on a busy machine
    sounds = prompts.build(Path(tempfile.gettempdir()) / "guichet-failover-sounds" / "fr")
    pg = PgPair.create()
    started: list[Any] = []
    try:
        from ticket_core.migrate import upgrade

        upgrade(pg.url)
        op_secrets = {ep: f"pw-{ep}-{secrets.token_hex(4)}" for ep in OPERATORS}
        users = asyncio.run(_seed(pg.url, op_secrets))
        asterisks = {name: _asterisk(root, name, entity, list(op_secrets.items()))
                     for name, entity in (("primary", "02:00:00:00:00:0a"), ("backup", "02:00:00:00:00:0b"))}
        for a in asterisks.values():
            if not a.binary.exists():
                pytest.fail(f"{a.binary} missing: run scripts/build-asterisk")
            a.start()
            started.append(a)
        ports = {name: (free_port(), free_port()) for name in asterisks}  # http, smtp
        proxy = FlakyProxy(ports["primary"][0])
        started.append(proxy)
        sites: dict[str, Site] = {}
        for name, peer in (("primary", "backup"), ("backup", "primary")):
            a = asterisks[name].settings
            http, smtp = ports[name]
            data = root / f"var-{name}"
            (data / "sounds").mkdir(parents=True)
            (data / "sounds" / "fr").symlink_to(sounds, target_is_directory=True)
            own_pg, peer_pg = (pg.primary, pg.standby) if name == "primary" else (pg.standby, pg.primary)
            peer_url = (f"http://127.0.0.1:{proxy.port}" if name == "backup"
                        else f"http://127.0.0.1:{ports[peer][0]}")
            env = {
                "GUICHET_SITE": name, "GUICHET_FAILOVER": "1", "GUICHET_DATABASE_URL": pg.url,
                "GUICHET_DATA_DIR": str(data), "GUICHET_HTTP_PORT": str(http), "GUICHET_ASTERISK_MANAGE": "0",
                "GUICHET_ARI_PORT": str(a.http_port), "GUICHET_ARI_USERNAME": a.ari_user,
                "GUICHET_ARI_PASSWORD": a.ari_password, "GUICHET_STASIS_APP": a.app_name,
                "GUICHET_SIP_PORT": str(a.sip_port),
                "GUICHET_OPENING_DAYS": "mon-sun", "GUICHET_OPENING_TIME": "00:00",
                "GUICHET_CLOSING_TIME": "23:59:59", "GUICHET_IVR_TIMEOUT": "2", "GUICHET_ANNOUNCE_EVERY": "0",
                "GUICHET_WRAP_UP_SECONDS": "0", "GUICHET_RING_TIMEOUT": "8", "GUICHET_ADMIN_PASSWORD": ADMIN_PASSWORD,
                "GUICHET_MAIL_SMTP_PORT": str(smtp), "GUICHET_CHAT_PORTAL_URL": f"http://127.0.0.1:{http}",
                "GUICHET_FAILOVER_PREFERRED_SITE": "primary", "GUICHET_FAILOVER_PEER_SITE": peer,
                "GUICHET_FAILOVER_PEER_URL": peer_url,
                "GUICHET_FAILOVER_PEER_SIP_ADDRESS": asterisks[peer].settings.sip_address,
                "GUICHET_FAILOVER_PEER_SMTP_ADDRESS": f"127.0.0.1:{ports[peer][1]}",
                "GUICHET_FAILOVER_LOCAL_DATABASE_DSN": own_pg.app_dsn,
                "GUICHET_FAILOVER_PEER_DATABASE_DSN": peer_pg.app_dsn,
                **FAST,
            }
            sites[name] = Site(name, env, root / f"app-{name}.log", asterisks[name], http, smtp)
        pair = SitePair(pg, sites["primary"], sites["backup"], proxy, users, op_secrets, root)
        started += [pair.backup, pair.primary]
        pair.primary.start()
        pair.primary.wait_state("active", timeout=90)
        pair.backup.start()
        pair.backup.wait_state("standby", timeout=90)
        yield pair
    finally:
        for thing in reversed(started):
            with contextlib.suppress(Exception):
                thing.stop() if not isinstance(thing, FlakyProxy) else thing.close()
        pg.destroy()
