"""The events websocket's dispatch rules, against a scripted websocket server on loopback
(no Asterisk needed): per-channel order, no head-of-line blocking between channels, the
reconciliation hook before any event, reconnection after the server drops the socket."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from telephony.ari import AriClient
from tests.support.net import free_port


class FakeAri:
    """Serves /ari/events; each connection sends the next scripted batch, then stays open
    until ``drop()`` closes it from the server side."""

    def __init__(self) -> None:
        self.batches: list[list[dict[str, Any]]] = []
        self.connections = 0
        self.api_keys: list[str] = []
        self._current: web.WebSocketResponse | None = None

    async def events(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.connections += 1
        self.api_keys.append(request.query.get("api_key", ""))
        self._current = ws
        for event in self.batches.pop(0) if self.batches else []:
            await ws.send_str(json.dumps(event))
        async for _ in ws:
            pass
        return ws

    async def drop(self) -> None:
        if self._current is not None:
            await self._current.close()


@pytest.fixture
async def fake_ari() -> AsyncIterator[tuple[FakeAri, str]]:
    fake = FakeAri()
    app = web.Application()
    app.router.add_get("/ari/events", fake.events)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield fake, f"http://127.0.0.1:{port}/ari"
    finally:
        await runner.cleanup()


def ev(kind: str, channel: str, n: int) -> dict[str, Any]:
    return {"type": kind, "channel": {"id": channel}, "n": n}


async def test_given_slow_handler_on_one_channel_when_events_arrive_then_others_are_not_delayed(
    fake_ari: tuple[FakeAri, str],
) -> None:
    fake, url = fake_ari
    fake.batches = [[ev("StasisStart", "slow", 1), ev("ChannelDtmfReceived", "slow", 2),
                     ev("StasisStart", "fast", 3), ev("StasisEnd", "slow", 4), ev("StasisEnd", "fast", 5)]]
    handled: list[tuple[str, int, float]] = []
    reconciled_at: list[float] = []

    async def handler(event: dict[str, Any]) -> None:
        if event["channel"]["id"] == "slow" and event["n"] == 1:
            await asyncio.sleep(0.5)  # a slow REST round trip on one channel
        handled.append((event["channel"]["id"], event["n"], time.monotonic()))

    async def on_connected() -> None:
        await asyncio.sleep(0.2)  # reconciliation takes a while
        reconciled_at.append(time.monotonic())

    async with AriClient(url, "u", "p", app="app") as ari:
        async with ari.events(handler, on_connected=on_connected) as stream:
            await stream.wait_connected()
            for _ in range(100):
                if len(handled) == 5:
                    break
                await asyncio.sleep(0.02)
    assert fake.api_keys == ["u:p"]
    assert [n for ch, n, _ in handled if ch == "slow"] == [1, 2, 4]  # in order per channel
    assert [n for ch, n, _ in handled if ch == "fast"] == [3, 5]
    fast_done = max(t for ch, _, t in handled if ch == "fast")
    slow_first = min(t for ch, _, t in handled if ch == "slow")
    assert fast_done < slow_first  # not stuck behind the slow channel
    assert reconciled_at and min(t for _, _, t in handled) >= reconciled_at[0]


async def test_given_server_drops_socket_when_listening_then_client_reconnects_and_hook_runs_again(
    fake_ari: tuple[FakeAri, str],
) -> None:
    fake, url = fake_ari
    fake.batches = [[ev("StasisStart", "a", 1)], [ev("StasisStart", "b", 2)]]
    seen: list[int] = []
    hooks: list[float] = []

    async def handler(event: dict[str, Any]) -> None:
        seen.append(event["n"])

    async def on_connected() -> None:
        hooks.append(time.monotonic())

    async with AriClient(url, "u", "p", app="app") as ari:
        async with ari.events(handler, on_connected=on_connected, backoff_initial=0.05) as stream:
            await stream.wait_connected()
            await fake.drop()
            for _ in range(200):
                if stream.connect_count == 2 and seen == [1, 2]:
                    break
                await asyncio.sleep(0.02)
            assert stream.connect_count == 2
    assert seen == [1, 2]
    assert len(hooks) == 2
    assert fake.connections == 2
