"""Fixtures of the chat and portal integration tests: a running chat hub with test
settings, operators with skills and tokens, and websocket helpers."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import WSMsgType

from accounts.services import create_user, open_session
from acd.models import OperatorSkill
from chatgw import runtime
from chatgw.settings import ChatSettings

PASSWORD = "correct horse battery"


@pytest.fixture
def chat_settings() -> ChatSettings:
    return ChatSettings(max_concurrent_chats=2, offer_timeout=30, resume_window=60, operator_grace=30,
                        max_message_chars=200, max_frame_bytes=2048, messages_per_minute=60, message_burst=5,
                        flood_refusals=5, starts_per_ip=50, forms_per_ip=3, surveys_per_ip=50)


@pytest.fixture
async def hub(container, chat_settings):
    stop = await runtime.start(container, chat_settings)
    yield container.extras["chat"]
    await stop()


@pytest.fixture
async def chat_client(hub, client):
    """The application's test client, with the hub above (created first)."""
    return client


async def make_operator(container, username: str, skills: dict[str, int], role: str = "operator") -> dict[str, Any]:
    async with container.session_factory() as s:
        user = await create_user(s, username=username, password=PASSWORD, role=role, display_name=username.title())
        for audience, level in skills.items():
            s.add(OperatorSkill(user_id=user.id, audience=audience, level=level))
        token = await open_session(s, user, 8)
        await s.commit()
    return {"id": user.id, "token": token, "headers": {"Authorization": f"Bearer {token}"}}


async def frame(ws, kind: str | tuple[str, ...], timeout: float = 5.0, skipped: list | None = None) -> dict[str, Any]:
    """The next frame of that type (others are skipped, and collected if asked)."""
    kinds = (kind,) if isinstance(kind, str) else kind
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        msg = await ws.receive(timeout=max(0.05, deadline - loop.time()))
        if msg.type is not WSMsgType.TEXT:
            raise AssertionError(f"expected {kinds}, got {msg.type} {msg.data!r} {msg.extra!r}")
        data = msg.json()
        if data["type"] in kinds:
            return data
        if skipped is not None:
            skipped.append(data)


async def closed(ws, timeout: float = 5.0) -> tuple[int, str]:
    """Read until the server closes; returns (code, reason)."""
    while True:
        msg = await ws.receive(timeout=timeout)
        if msg.type is WSMsgType.CLOSE:  # the code and reason the server sent
            return msg.data, msg.extra or ""
        if msg.type in (WSMsgType.CLOSING, WSMsgType.CLOSED):
            return ws.close_code, ""


async def position_reaches(ws, position: int, timeout: float = 5.0) -> None:
    while (await frame(ws, "queued", timeout))["position"] != position:
        pass


async def start_chat(client, audience: str = "citoyen", message: str = "Bonjour, je n'arrive pas à me connecter.",
                     **extra: Any):
    ws = await client.ws_connect("/chat/ws")
    await ws.send_json({"type": "start", "audience": audience, "message": message, **extra})
    started = await frame(ws, "started")
    return ws, started


async def operator_ready(client, operator: dict[str, Any]):
    ws = await client.ws_connect("/chat/operator/ws", headers=operator["headers"])
    hello = await frame(ws, "hello")
    await ws.send_json({"type": "available"})
    await frame(ws, "status")
    return ws, hello
