"""A whole contact center for call-flow tests: the real Asterisk of the module (from the
telephony fixtures), a fresh database, the Stasis application with the ACD, operators with
softphone accounts, and helpers that read the journal.

Opening hours are "always open" here (every day 00:00–23:59:59) so the tests do not
depend on when they run; the closed-hours test adds a closure exception for today.
Settings can be overridden per test: ``@pytest.mark.call_center(overflow_after=5)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from accounts.services import create_user
from callback.settings import CallbackSettings
from acd.models import OperatorSkill
from guichet.bootstrap import Container, build_container
from guichet.settings import load_settings
from guichet.telephony_runtime import Telephony, start_telephony
from telephony import models as calls
from telephony import prompts
from telephony.ari import AriClient, AriError
from tests.conftest import _pg_admin, _sa_url, PG_SERVER  # noqa: F401
from tests.integration.telephony.conftest import (  # noqa: F401  (fixtures)
    ari,
    asterisk,
    asterisk_operators,
    asterisk_settings,
    sip_peers,
)
from ticket_core.models import JournalEvent, Ticket

PASSWORD = "correct horse battery"
ALWAYS_OPEN = {"opening_days": "mon-sun", "opening_time": "00:00", "closing_time": "23:59:59"}


@pytest.fixture(scope="session")
def sounds_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return prompts.build(tmp_path_factory.mktemp("sounds") / "fr")


@dataclass
class CallCenter:
    container: Container
    telephony: Telephony
    operators: dict[str, int]  # endpoint → user id
    secrets: dict[str, str]

    @property
    def acd(self) -> Any:
        return self.container.extras["acd"]

    def secret(self, endpoint: str) -> str:
        return self.secrets[endpoint]

    async def login(self, *endpoints: str) -> None:
        for ep in endpoints:
            self.acd.acd.login(str(self.operators[ep]), self.container.clock())
        await self.acd.flush()
        await self.telephony.app.dispatch()

    async def login_unpause(self, endpoint: str) -> None:
        self.acd.acd.unpause(str(self.operators[endpoint]), self.container.clock())
        await self.acd.flush()
        await self.telephony.app.dispatch()

    async def pause(self, endpoint: str, reason: str = "pause") -> None:
        self.acd.acd.pause(str(self.operators[endpoint]), reason, self.container.clock())
        await self.acd.flush()

    async def set_skills(self, endpoint: str, skills: dict[str, int]) -> None:
        async with self.container.session_factory() as s:
            uid = self.operators[endpoint]
            for row in await s.scalars(select(OperatorSkill).where(OperatorSkill.user_id == uid)):
                await s.delete(row)
            for audience, level in skills.items():
                s.add(OperatorSkill(user_id=uid, audience=audience, level=level))
            await s.commit()
            await self.acd.load_roster(s)

    async def calls(self) -> list[calls.Call]:
        async with self.container.session_factory() as s:
            return list(await s.scalars(select(calls.Call).order_by(calls.Call.received_at)))

    async def wait_calls(self, count: int, timeout: float = 15) -> list[calls.Call]:
        deadline = time.monotonic() + timeout
        while True:
            rows = await self.calls()
            if len(rows) >= count or time.monotonic() > deadline:
                return rows
            await asyncio.sleep(0.1)

    async def facts(self, call_id: str | None = None, kind: str | None = None) -> list[JournalEvent]:
        async with self.container.session_factory() as s:
            stmt = select(JournalEvent).order_by(JournalEvent.id)
            if call_id:
                stmt = stmt.where(JournalEvent.call_id == call_id)
            if kind:
                stmt = stmt.where(JournalEvent.kind == kind)
            return list(await s.scalars(stmt))

    async def wait_fact(self, kind: str, *, call_id: str | None = None, count: int = 1,
                        timeout: float = 20) -> list[JournalEvent]:
        deadline = time.monotonic() + timeout
        while True:
            rows = await self.facts(call_id, kind)
            if len(rows) >= count:
                return rows
            if time.monotonic() > deadline:
                kinds = [e.kind for e in await self.facts(call_id)]
                raise AssertionError(f"no {count}× {kind} within {timeout}s; journal: {kinds}")
            await asyncio.sleep(0.1)

    async def ticket_of(self, call_id: str) -> Ticket | None:
        async with self.container.session_factory() as s:
            call = await s.get(calls.Call, call_id)
            return await s.get(Ticket, call.ticket_id) if call and call.ticket_id else None


def _database_url(backend: str, template_databases: dict[str, str], tmp_path: Path) -> tuple[str, str | None]:
    if backend == "sqlite":
        target = tmp_path / "guichet.sqlite3"
        shutil.copyfile(template_databases["sqlite"], target)
        return f"sqlite+aiosqlite:///{target}", None
    import uuid

    name = f"guichet_c_{uuid.uuid4().hex[:10]}"
    return _sa_url(PG_SERVER, name), name


@pytest.fixture
async def call_center(request: pytest.FixtureRequest, asterisk, asterisk_operators, template_databases,
                      tmp_path: Path, sounds_dir: Path) -> AsyncIterator[CallCenter]:
    backend = getattr(request, "param", "sqlite")
    url, pg_name = _database_url(backend, template_databases, tmp_path)
    if pg_name:
        await _pg_admin(f'CREATE DATABASE "{pg_name}" TEMPLATE "{template_databases["postgresql"]}"')
    marker = request.node.get_closest_marker("call_center")
    marker_kwargs = dict(marker.kwargs) if marker else {}
    callback_settings = CallbackSettings(**{"virtual_hold_after": 0, **marker_kwargs.pop("callback", {})})
    overrides = {
        **ALWAYS_OPEN, "database_url": url, "data_dir": str(tmp_path / "var"),
        "stasis_app": asterisk.settings.app_name, "ivr_timeout": 3, "announce_every": 0,
        "ring_timeout": 8, "wrap_up_seconds": 0, "asterisk_manage": False,
        **marker_kwargs,
    }
    container = build_container(load_settings(overrides))
    secrets = dict(asterisk_operators)
    operators: dict[str, int] = {}
    async with container.session_factory() as s:
        for endpoint, secret in asterisk_operators:
            if endpoint.startswith("carrier"):
                continue  # the users' side of the callback trunk, not an operator
            user = await create_user(s, username=f"agent-{endpoint}", password=PASSWORD, role="operator",
                                     sip_endpoint=endpoint, sip_secret=secret)
            operators[endpoint] = user.id
            for audience in ("avocat", "administration", "citoyen"):
                s.add(OperatorSkill(user_id=user.id, audience=audience, level=3))
        await s.commit()
    await container.start_acd(callback_settings=callback_settings)
    telephony = await start_telephony(container, asterisk=asterisk, sounds_dir=sounds_dir)
    await telephony.stream.wait_connected()
    try:
        yield CallCenter(container, telephony, operators, secrets)
    finally:
        await telephony.stop()
        await container.close()
        # Leave Asterisk clean for the next test: no channel survives.
        cleaner = AriClient(asterisk.settings.ari_url, asterisk.settings.ari_user,
                            asterisk.settings.ari_password, app=asterisk.settings.app_name)
        try:
            for channel in await cleaner.list_channels():
                with contextlib.suppress(AriError):
                    await cleaner.hangup(channel["id"])
        finally:
            await cleaner.close()
        if pg_name:
            await _pg_admin(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
