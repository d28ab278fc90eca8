"""Record ARI events in tests and wait for them.

    recorder = AriRecorder(app_handler)            # app_handler optional: the app under test
    stream = ari.events(recorder.handle, on_connected=recorder.connected_hook)
    await stream.start()
    start = await recorder.wait_for("StasisStart", lambda e: e["args"][:1] == ["inbound"])
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

Event = dict[str, Any]


class AriRecorder:
    """Keeps every event (with the ``time.monotonic()`` it was handled at) and lets tests
    wait for one. Forwards each event to ``app_handler`` after recording it."""

    def __init__(self, app_handler: Callable[[Event], Awaitable[None]] | None = None) -> None:
        self.app_handler = app_handler
        self.events: list[tuple[float, Event]] = []
        self.connected_at: list[float] = []
        self._changed = asyncio.Condition()

    async def handle(self, event: Event) -> None:
        async with self._changed:
            self.events.append((time.monotonic(), event))
            self._changed.notify_all()
        if self.app_handler is not None:
            await self.app_handler(event)

    async def connected_hook(self) -> None:
        """Use as ``on_connected``: counts (re)connections."""
        async with self._changed:
            self.connected_at.append(time.monotonic())
            self._changed.notify_all()

    def of_type(self, kind: str) -> list[Event]:
        return [e for _, e in self.events if e.get("type") == kind]

    async def wait_for(self, kind: str, predicate: Callable[[Event], bool] | None = None,
                       timeout: float = 10.0) -> Event:
        """The first recorded event of type ``kind`` matching ``predicate`` (waits)."""

        def find() -> Event | None:
            for _, e in self.events:
                if e.get("type") == kind and (predicate is None or predicate(e)):
                    return e
            return None

        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(lambda: find() is not None), timeout)
            except TimeoutError:
                seen = [e.get("type") for _, e in self.events[-15:]]
                raise AssertionError(f"no {kind} event within {timeout}s; last events: {seen}") from None
            event = find()
            assert event is not None
            return event

    async def wait_connections(self, count: int, timeout: float = 20.0) -> None:
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(lambda: len(self.connected_at) >= count), timeout)
            except TimeoutError:
                raise AssertionError(f"{len(self.connected_at)} connections, expected {count}") from None
