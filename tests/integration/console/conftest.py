"""Helpers for the console's tests: journal facts written directly (a hand-made
timeline), accounts, logins, an application with the console mounted, and a small
server-sent-events reader."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient, TestServer

import guichet.web
from accounts.services import create_user
from acd.models import OperatorSkill
from ticket_core import journal
from ticket_core.journal import EventKind, Fact

PASSWORD = "correct horse battery"
PARIS = ZoneInfo("Europe/Paris")


def paris(y: int, mo: int, d: int, h: int, mi: int = 0, s: float = 0) -> datetime:
    """A Paris wall-clock instant, as UTC."""
    whole = int(s)
    return datetime(y, mo, d, h, mi, whole, int((s - whole) * 1_000_000), tzinfo=PARIS).astimezone(UTC)


@pytest.fixture(autouse=True)
def console_mounted(monkeypatch: pytest.MonkeyPatch) -> None:
    """The console's HTTP module is mounted (as ``guichet.web`` does once it lists it)."""
    if "console.http" not in guichet.web.ROUTE_MODULES:
        monkeypatch.setattr(guichet.web, "ROUTE_MODULES", [*guichet.web.ROUTE_MODULES, "console.http"])


async def add_facts(container: Any, facts: list[Fact], site: str = "primary") -> None:
    async with container.session_factory() as s:
        for fact in facts:
            journal.append(s, fact, site=site)
        await s.commit()


def call(kind: str, call_id: str, at: datetime, queue: str, operator_id: int | None = None, **data: Any) -> Fact:
    return Fact(kind=EventKind(kind), occurred_at=at, channel="phone", call_id=call_id, queue=queue,
                operator_id=operator_id, data=data)


async def make_users(container: Any, *specs: tuple[str, str]) -> dict[str, Any]:
    """``("alice", "operator")``… → users by name; operators get an endpoint and every skill."""
    users = {}
    async with container.session_factory() as s:
        for name, role in specs:
            user = await create_user(s, username=name, password=PASSWORD, role=role,
                                     sip_endpoint=name if role == "operator" else None, display_name=name.capitalize())
            users[name] = user
            if role == "operator":
                for audience in ("avocat", "administration", "citoyen"):
                    s.add(OperatorSkill(user_id=user.id, audience=audience, level=3))
        await s.commit()
    return users


async def login(client: TestClient, username: str) -> dict[str, str]:
    r = await client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert r.status == 200, await r.text()
    client.session.cookie_jar.clear()
    return {"Authorization": f"Bearer {(await r.json())['token']}"}


@pytest.fixture
async def app_client(container: Any) -> AsyncIterator[TestClient]:
    """The whole application with this instance's ACD started (the console hub attaches)."""
    await container.start_acd()
    async with TestClient(TestServer(guichet.web.create_app(container), host="127.0.0.1")) as c:
        yield c


class Events:
    """Reads a server-sent-events response: ``await events.next("tableau")``."""

    def __init__(self, response: Any) -> None:
        self.response = response
        self.seen: list[tuple[str, Any]] = []

    async def _one(self) -> tuple[str, Any]:
        event, data = "message", []
        while True:
            line = (await self.response.content.readline()).decode()
            if line == "":
                raise EOFError("stream closed")
            line = line.rstrip("\n")
            if not line:
                if data:
                    return event, json.loads("\n".join(data))
                event = "message"
                continue
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "event":
                event = value
            elif name == "data":
                data.append(value)

    async def next(self, event: str, predicate: Any = None, timeout: float = 5.0) -> Any:
        async def find() -> Any:
            while True:
                name, data = await self._one()
                self.seen.append((name, data))
                if name == event and (predicate is None or predicate(data)):
                    return data
        return await asyncio.wait_for(find(), timeout)
