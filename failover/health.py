"""Health checks of one site, each bounded by a timeout, none raising: every check returns
a :class:`CheckResult`.

- ``app``: the site's application answers ``GET /api/v1/failover/health`` (for the other
  site; a site's own application is up by definition when it runs the check);
- ``ari``: Asterisk's ARI answers ``/ari/asterisk/ping`` with our credentials;
- ``sip``: Asterisk's SIP stack answers an ``OPTIONS`` (failover/sip.py);
- ``database``: the application's database accepts a write transaction (on PostgreSQL:
  the server it reaches is not in recovery);
- ``smtp``: the mail intake greets with a ``220`` banner;
- ``chat``: the chat's user websocket (``/chat/ws``) accepts a connection.

``pg_server_state`` probes one PostgreSQL server directly (``primary``, ``standby`` or
``down``): the backup site watches the primary's server and its own standby with it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from failover import sip


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    seconds: float
    detail: str = ""

    def out(self) -> dict[str, Any]:
        return {"ok": self.ok, "ms": round(self.seconds * 1000, 1), "detail": self.detail}


async def run_check(name: str, probe: Callable[[], Awaitable[str]], timeout: float) -> CheckResult:
    """Run ``probe`` (returns a short detail, raises on failure) within ``timeout``."""
    t0 = time.monotonic()
    try:
        detail = await asyncio.wait_for(probe(), timeout)
        return CheckResult(name, True, time.monotonic() - t0, detail or "")
    except TimeoutError:
        return CheckResult(name, False, time.monotonic() - t0, f"no answer within {timeout:g}s")
    except Exception as exc:  # noqa: BLE001 - a check reports any failure
        return CheckResult(name, False, time.monotonic() - t0, f"{type(exc).__name__}: {exc}"[:300])


def _session(timeout: float) -> aiohttp.ClientSession:
    # trust_env=False: an http_proxy of the environment must never capture the probes
    return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout), trust_env=False)


async def check_ari(url: str, user: str, password: str, timeout: float) -> CheckResult:
    async def probe() -> str:
        async with _session(timeout) as http:
            async with http.get(f"{url}/asterisk/ping", auth=aiohttp.BasicAuth(user, password)) as r:
                if r.status != 200:
                    raise RuntimeError(f"HTTP {r.status}")
                return ""
    return await run_check("ari", probe, timeout)


async def check_sip(host: str, port: int, timeout: float) -> CheckResult:
    async def probe() -> str:
        status = await sip.options_ping(host, port, timeout)
        if status >= 500:
            raise RuntimeError(f"OPTIONS answered {status}")
        return str(status)
    return await run_check("sip", probe, timeout)


async def check_database(engine: AsyncEngine, timeout: float) -> CheckResult:
    async def probe() -> str:
        async with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                if await conn.scalar(text("SELECT pg_is_in_recovery()")):
                    raise RuntimeError("the server reached is a standby (read-only)")
                port = await conn.scalar(text("SELECT inet_server_port()"))
                return f"port {port}" if port else ""
            await conn.execute(text("SELECT 1"))
            return ""
    return await run_check("database", probe, timeout)


async def pg_server_state(dsn: str, timeout: float) -> str:
    """``primary``, ``standby`` or ``down`` for one PostgreSQL server."""
    import asyncpg

    async def probe() -> str:
        conn = await asyncpg.connect(dsn, timeout=timeout)
        try:
            return "standby" if await conn.fetchval("SELECT pg_is_in_recovery()") else "primary"
        finally:
            await conn.close(timeout=timeout)

    try:
        return await asyncio.wait_for(probe(), timeout)
    except Exception:  # noqa: BLE001
        return "down"


async def promote(dsn: str, timeout: float) -> None:
    """``SELECT pg_promote(true, timeout)`` on the server: returns once it accepts writes."""
    import asyncpg

    conn = await asyncpg.connect(dsn, timeout=timeout)
    try:
        if not await conn.fetchval("SELECT pg_is_in_recovery()"):
            return  # already a primary (promoted by someone else)
        if not await conn.fetchval("SELECT pg_promote(true, $1)", int(max(1, timeout))):
            raise RuntimeError("pg_promote() did not complete in time")
    finally:
        await conn.close(timeout=timeout)


async def check_smtp(host: str, port: int, timeout: float) -> CheckResult:
    async def probe() -> str:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            banner = await reader.readline()
            if not banner.startswith(b"220"):
                raise RuntimeError(f"banner {banner[:60]!r}")
            writer.write(b"QUIT\r\n")
            await writer.drain()
            return ""
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass
    return await run_check("smtp", probe, timeout)


async def check_chat(ws_url: str, timeout: float) -> CheckResult:
    async def probe() -> str:
        async with _session(timeout) as http:
            async with http.ws_connect(ws_url, heartbeat=None) as ws:
                await ws.close()
                return ""
    return await run_check("chat", probe, timeout)


async def fetch_peer_health(peer_url: str, timeout: float) -> tuple[CheckResult, dict[str, Any] | None]:
    """The other site's application and its own report of itself."""
    report: dict[str, Any] | None = None

    async def probe() -> str:
        nonlocal report
        async with _session(timeout) as http:
            async with http.get(f"{peer_url}/api/v1/failover/health") as r:
                if r.status != 200:
                    raise RuntimeError(f"HTTP {r.status}")
                report = await r.json()
                return str(report.get("state", ""))
    result = await run_check("app", probe, timeout)
    return result, report
