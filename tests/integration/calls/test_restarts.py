"""Restarts do not forget calls: the application killed with SIGKILL while a caller waits
re-attaches the caller when it comes back; an Asterisk restart is reconnected to, and the
calls it dropped are recorded as lost by the service (not as abandoned by the caller)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from tests.support.sip_peers import Answer

pytestmark = pytest.mark.asterisk

PASSWORD = "correct horse battery"
REPO = Path(__file__).resolve().parents[3]


def _free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppProcess:
    """``guichet serve`` as its own process, attached to the test's Asterisk."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.proc: subprocess.Popen[bytes] | None = None
        self.base = f"http://127.0.0.1:{env['GUICHET_HTTP_PORT']}"

    async def start(self, timeout: float = 40) -> None:
        out = self.log.open("ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "guichet.cli", "serve"], cwd=REPO,
                                     env={**os.environ, **self.env}, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise AssertionError(f"app exited: {self.log.read_text()[-3000:]}")
                try:
                    async with http.get(self.base + "/health") as r:
                        if r.status == 200 and "ARI events connected" in self.log.read_text():
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.2)
        raise AssertionError(f"app did not start: {self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    async def api(self, method: str, path: str, token: str | None = None, **kw):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with aiohttp.ClientSession() as http:
            async with http.request(method, self.base + path, headers=headers, **kw) as r:
                return r.status, await r.json()


async def test_given_app_killed_while_caller_waits_when_restarted_then_caller_is_reattached_and_answered(
        asterisk, asterisk_operators, template_databases, tmp_path, sip_peers, sounds_dir):
    import shutil

    from accounts.services import create_user
    from acd.models import OperatorSkill
    from ticket_core.db import create_engine, session_factory

    db = tmp_path / "guichet.sqlite3"
    shutil.copyfile(template_databases["sqlite"], db)
    url = f"sqlite+aiosqlite:///{db}"
    engine = create_engine(url)
    async with session_factory(engine)() as s:
        secret = dict(asterisk_operators)["op1"]
        op = await create_user(s, username="agent1", password=PASSWORD, role="operator",
                               sip_endpoint="op1", sip_secret=secret)
        s.add(OperatorSkill(user_id=op.id, audience="avocat", level=3))
        await s.commit()
    a = asterisk.settings
    env = {
        "GUICHET_DATABASE_URL": url, "GUICHET_DATA_DIR": str(tmp_path / "var"),
        "GUICHET_HTTP_PORT": str(_free_tcp_port()), "GUICHET_ASTERISK_MANAGE": "0",
        "GUICHET_ARI_PORT": str(a.http_port), "GUICHET_ARI_USERNAME": a.ari_user,
        "GUICHET_ARI_PASSWORD": a.ari_password, "GUICHET_STASIS_APP": a.app_name,
        "GUICHET_OPENING_DAYS": "mon-sun", "GUICHET_OPENING_TIME": "00:00", "GUICHET_CLOSING_TIME": "23:59:59",
        "GUICHET_IVR_TIMEOUT": "3", "GUICHET_ANNOUNCE_EVERY": "0", "GUICHET_WRAP_UP_SECONDS": "0",
        "GUICHET_ADMIN_PASSWORD": "admin password 1",
    }
    app = AppProcess(env, tmp_path / "app.log")
    await app.start()
    try:
        status, body = await app.api("POST", "/api/v1/auth/login", json={"username": "agent1", "password": PASSWORD})
        token = body["token"]
        phone = await sip_peers.operator("op1", secret, behavior=Answer(after=0.3))
        for action in ("login", "pause"):
            status, body = await app.api("POST", f"/api/v1/acd/operators/{op.id}/state", token, json={"action": action})
            assert status == 200, body
        caller = await sip_peers.caller("0612121212")
        call = await caller.dial("3900", dtmf=[(0.3, "1")])
        await call.wait_answered()
        await _wait_kind(engine, "call_presented")

        app.kill()  # no goodbye: Asterisk keeps the caller in the Stasis app, with music
        await asyncio.sleep(2)
        assert not call.record.ended

        app2 = AppProcess(env, tmp_path / "app2.log")
        await app2.start()
        app = app2
        # The operator's state came back from the journal: still logged in and paused.
        status, body = await app.api("GET", "/api/v1/acd/status", token)
        assert body["operators"][str(op.id)]["state"] == "paused"
        assert body["queues"]["avocat"]["waiting"] == 1  # the caller was re-attached
        status, body = await app.api("POST", f"/api/v1/acd/operators/{op.id}/state", token,
                                     json={"action": "unpause"})
        assert status == 200, body
        invite = await phone.wait_invite(timeout=15)
        assert invite.number == "0612121212"
        answered = await _wait_kind(engine, "call_answered")
        lived = phone._record(invite.call).answered_at - call.record.dtmf_sent[0][0]
        assert answered[0]["wait_seconds"] == pytest.approx(lived, abs=1.0)
        assert len(await _wait_kind(engine, "call_presented")) == 1  # presented once, not twice
        await call.hangup()
    finally:
        app.stop()
        await engine.dispose()


async def _wait_kind(engine, kind: str, timeout: float = 20) -> list[dict]:
    from sqlalchemy import select

    from ticket_core.db import session_factory
    from ticket_core.models import JournalEvent

    deadline = time.monotonic() + timeout
    while True:
        async with session_factory(engine)() as s:
            rows = list(await s.scalars(select(JournalEvent).where(JournalEvent.kind == kind)))
        if rows or time.monotonic() > deadline:
            assert rows, f"no {kind} in the journal"
            return [r.data for r in rows]
        await asyncio.sleep(0.1)


async def test_given_asterisk_restarted_then_app_reconnects_and_dropped_call_is_lost_not_abandoned(
        call_center, sip_peers, asterisk):
    cc = call_center
    await sip_peers.operator("op1", cc.secret("op1"))
    await cc.login("op1")
    await cc.pause("op1")
    call = await (await sip_peers.caller("0613131313")).dial("3900", dtmf=[(0.3, "1")])
    await call.wait_answered()
    [row] = await cc.wait_calls(1)
    await cc.wait_fact("call_presented", call_id=row.id)
    connects = cc.telephony.stream.connect_count
    await asterisk.arestart()
    deadline = time.monotonic() + 30
    while cc.telephony.stream.connect_count == connects and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert cc.telephony.stream.connect_count == connects + 1
    [lost] = await cc.wait_fact("call_lost", call_id=row.id)
    assert lost.data["reason"] == "ended_while_disconnected"
    assert await cc.facts(row.id, "call_abandoned") == []
    # And the service works again: the registration comes back, a new call is answered.
    phone2 = await sip_peers.operator("op2", cc.secret("op2"), behavior=Answer(after=0.2))
    await cc.login("op2")
    call2 = await (await sip_peers.caller("0614141414")).dial("3900", dtmf=[(0.3, "1")])
    await call2.wait_answered()
    await phone2.wait_invite(timeout=15)
    await cc.wait_fact("call_answered")
    await call2.hangup()
