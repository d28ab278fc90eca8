"""Messages between application instances.

Several instances on one database must show the same live figures, but only one of them
runs the ACD (the decision-maker) and the Stasis application: it publishes what happened
(a compact ACD snapshot after every batch of events, the call just bridged to an
operator) and every instance relays it to the browsers connected to it.

- :class:`PostgresBus`: PostgreSQL ``LISTEN``/``NOTIFY`` on one channel, through a
  dedicated asyncpg connection (``add_listener``), reconnected with backoff. A NOTIFY
  payload must stay under 8000 bytes: a larger message is cut into numbered chunks
  (``#origin:id:i:n:`` + a slice of its ASCII JSON) and put together again by the
  receivers. Nothing is persisted: a message is state that the next one supersedes
  (the ACD instance republishes its snapshot every few seconds), so a message lost while
  a connection is down costs a few seconds of staleness, not a wrong figure.
- :class:`LocalBus`: in process (SQLite: one instance).

Both deliver a published message to the local subscribers at once (without a round trip
through the database) and skip their own messages when the database echoes them.
Messages are JSON objects; ``"t"`` names the type, ``"o"`` the origin instance (added here).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("guichet.console.bus")

Handler = Callable[[dict[str, Any]], None]

#: Largest NOTIFY payload sent (PostgreSQL refuses 8000 bytes and more).
MAX_PAYLOAD = 7800
_PARTS_TTL = 30.0


class _BaseBus:
    def __init__(self, origin: str | None = None) -> None:
        self.origin = origin or secrets.token_hex(4)
        self._handlers: list[Handler] = []
        self._ids = itertools.count(1)

    @property
    def connected(self) -> bool:
        return True

    def subscribe(self, handler: Handler) -> None:
        self._handlers.append(handler)

    def _deliver(self, message: dict[str, Any]) -> None:
        for handler in list(self._handlers):
            try:
                handler(message)
            except Exception:  # noqa: BLE001 - one subscriber must not starve the others
                log.exception("bus subscriber failed on %s", message.get("t"))

    def _stamp(self, message: dict[str, Any]) -> dict[str, Any]:
        return {**message, "o": self.origin}

    def publish(self, message: dict[str, Any]) -> None:
        """Deliver to this instance's subscribers now, and to the other instances."""
        stamped = self._stamp(message)
        asyncio.get_running_loop().call_soon(self._deliver, stamped)
        self._send_remote(stamped)

    def _send_remote(self, message: dict[str, Any]) -> None:
        return None

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


class LocalBus(_BaseBus):
    """One instance: messages stay in the process."""

    kind = "local"


def encode(message: dict[str, Any], message_id: str, limit: int = MAX_PAYLOAD) -> list[str]:
    """The NOTIFY payloads of one message: itself, or numbered chunks of its JSON."""
    text = json.dumps(message, separators=(",", ":"), ensure_ascii=True)
    if len(text) <= limit:
        return [text]
    head = 64  # room for the "#origin:id:i:n:" prefix
    size = limit - head
    parts = [text[i:i + size] for i in range(0, len(text), size)]
    return [f"#{message['o']}:{message_id}:{i}:{len(parts)}:{p}" for i, p in enumerate(parts)]


class Reassembler:
    """Puts chunked messages together again; forgets incomplete ones after a while."""

    def __init__(self) -> None:
        self._parts: dict[tuple[str, str], tuple[float, list[str | None]]] = {}

    def feed(self, payload: str) -> dict[str, Any] | None:
        if not payload.startswith("#"):
            return json.loads(payload)
        origin, message_id, i, n, data = payload[1:].split(":", 4)
        key, now = (origin, message_id), time.monotonic()
        for stale in [k for k, (at, _) in self._parts.items() if now - at > _PARTS_TTL]:
            del self._parts[stale]
        _, parts = self._parts.setdefault(key, (now, [None] * int(n)))
        parts[int(i)] = data
        if any(p is None for p in parts):
            return None
        del self._parts[key]
        return json.loads("".join(parts))  # type: ignore[arg-type]


class PostgresBus(_BaseBus):
    """LISTEN/NOTIFY on a dedicated asyncpg connection."""

    kind = "postgresql"

    def __init__(self, dsn: str, channel: str, origin: str | None = None, *, queue_size: int = 1000) -> None:
        super().__init__(origin)
        self.dsn = dsn
        self.channel = channel
        self._conn: Any = None
        self._outbox: asyncio.Queue[tuple[dict[str, Any], str]] = asyncio.Queue(queue_size)
        self._reassembler = Reassembler()
        self._tasks: list[asyncio.Task[None]] = []
        self._up = asyncio.Event()
        self._lost = asyncio.Event()
        self._stopping = False

    @property
    def connected(self) -> bool:
        return self._conn is not None and not self._conn.is_closed()

    async def start(self, timeout: float = 5.0) -> None:
        self._tasks = [asyncio.create_task(self._keep_connected(), name="console-bus-connect"),
                       asyncio.create_task(self._sender(), name="console-bus-send")]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._up.wait(), timeout)  # else it keeps trying meanwhile

    async def stop(self) -> None:
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close(timeout=2)
            self._conn = None

    def _send_remote(self, message: dict[str, Any]) -> None:
        if not self.connected:
            return  # superseded by the next snapshot once the connection is back
        try:
            self._outbox.put_nowait((message, f"{next(self._ids)}"))
        except asyncio.QueueFull:
            log.warning("console bus: outbox full, message %s dropped", message.get("t"))

    async def _connect(self) -> None:
        import asyncpg

        conn = await asyncpg.connect(self.dsn, timeout=5)
        await conn.add_listener(self.channel, self._on_notify)
        conn.add_termination_listener(lambda _c: self._lost.set())
        self._conn = conn

    async def _keep_connected(self) -> None:
        delay = 0.2
        first = True
        while not self._stopping:
            self._lost.clear()
            try:
                await self._connect()
            except Exception as exc:  # noqa: BLE001 - keep trying, the database may come back
                log.warning("console bus: cannot listen on PostgreSQL (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            delay = 0.2
            self._up.set()
            if not first:
                self._deliver({"t": "bus_reconnected", "o": self.origin})
            first = False
            await self._lost.wait()
            old, self._conn = self._conn, None
            if old is not None:
                with contextlib.suppress(Exception):
                    old.terminate()
            log.warning("console bus: connection lost, reconnecting")

    async def _sender(self) -> None:
        while True:
            message, message_id = await self._outbox.get()
            conn = self._conn
            if conn is None or conn.is_closed():
                continue
            try:
                for payload in encode(message, message_id):
                    await conn.execute("SELECT pg_notify($1, $2)", self.channel, payload)
            except Exception as exc:  # noqa: BLE001 - the connection watcher reconnects
                log.warning("console bus: NOTIFY failed (%s)", exc)

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            message = self._reassembler.feed(payload)
        except (ValueError, json.JSONDecodeError):
            log.warning("console bus: unreadable payload ignored")
            return
        if message is None or message.get("o") == self.origin:
            return  # incomplete yet, or our own (already delivered locally)
        self._deliver(message)


def asyncpg_dsn(database_url: str) -> str:
    """``postgresql+asyncpg://…`` (SQLAlchemy) → ``postgresql://…`` (asyncpg)."""
    from sqlalchemy.engine import make_url

    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def make_bus(database_url: str, kind: str, channel: str) -> _BaseBus:
    is_pg = database_url.startswith("postgresql")
    if kind == "postgresql" and not is_pg:
        raise ValueError("GUICHET_CONSOLE_BUS=postgresql needs a PostgreSQL database")
    if kind == "local" or not is_pg:
        return LocalBus()
    return PostgresBus(asyncpg_dsn(database_url), channel)
