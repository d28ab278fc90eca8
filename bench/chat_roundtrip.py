"""P4: chat round-trip latency with many concurrent chats through the gateway, beside a
bare websocket echo server measured in the same run. A measurement, not a test: no
assertions, no thresholds.

    .venv/bin/python bench/chat_roundtrip.py [--chats 1000] [--messages 10] [--think 2]
                                             [--database-url URL]

``--think S``: each user waits a random 0…2·S seconds (mean S) before each message, like a
person typing; 0 sends as fast as the replies come back (the gateway saturated: the latency
is then mostly queueing).

Baseline: an aiohttp websocket server that echoes each frame (no parsing, no database),
in its own process; ``--chats`` clients each send ``--messages`` frames one after the
other and time the echo.

Gateway: the portal on its own (``python -m web_pages``, its own process, SQLite in a
temporary folder unless ``--database-url``), ``ceil(chats / 3)`` operators holding three
chats each (the default capacity). Every chat is started, offered, accepted; then each user
sends ``--messages`` messages one after the other; the operator's client answers each one
as soon as it arrives. Round trip = user sends → message committed, acknowledged and
relayed → operator answers → answer committed and relayed → user receives it: two durable
writes and four websocket hops. The user's acknowledgement (one durable write, two hops)
is timed too. Clients run in this process (2 cores shared with the server: the figures
are pessimistic).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import math
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, time as dtime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = max(0, min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1))
    return ordered[k]


def summary(name: str, values: list[float], seconds: float) -> str:
    ms = [v * 1000 for v in values]
    return (f"{name:<44} n={len(ms):>6}  median {statistics.median(ms):7.2f} ms  p99 {percentile(ms, 99):7.2f} ms  "
            f"max {max(ms):8.2f} ms  ({len(ms) / seconds:,.0f}/s)")


# --- the baseline: a bare echo server ----------------------------------------------------------


def serve_echo(port: int) -> None:
    async def echo(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            if msg.type is aiohttp.WSMsgType.TEXT:
                await ws.send_str(msg.data)
        return ws

    app = web.Application()
    app.router.add_get("/echo", echo)
    print("echo ready", flush=True)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def progress(text: str) -> None:
    print(f"[chat_roundtrip {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


async def wait_ready(proc: subprocess.Popen, log: Path, marker: str, timeout: float = 180) -> None:
    """The server writes to a file (a pipe nobody reads would block it once full)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if marker in log.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            raise RuntimeError(f"server exited (code {proc.returncode}):\n{log.read_text(errors='replace')[-3000:]}")
        await asyncio.sleep(0.2)
    raise RuntimeError("server did not start in time")


async def think(seconds: float, rng: random.Random) -> None:
    if seconds > 0:
        await asyncio.sleep(rng.uniform(0, 2 * seconds))


async def bench_echo(chats: int, messages: int, pause: float) -> tuple[list[float], float]:
    port = free_port()
    log = Path(tempfile.mkstemp(prefix="guichet-bench-echo-", suffix=".log")[1])
    proc = subprocess.Popen([sys.executable, __file__, "--serve-echo", str(port)], stdout=log.open("w"),
                            stderr=subprocess.STDOUT)
    try:
        await wait_ready(proc, log, "echo ready")
        progress(f"echo server up: {chats} clients x {messages} messages")
        await asyncio.sleep(0.3)
        latencies: list[float] = []
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
            sockets = await asyncio.gather(*[http.ws_connect(f"http://127.0.0.1:{port}/echo") for _ in range(chats)])
            start = time.perf_counter()

            async def one(ws: aiohttp.ClientWebSocketResponse, n: int) -> None:
                rng = random.Random(n)
                for i in range(messages):
                    await think(pause, rng)
                    t = time.perf_counter()
                    await ws.send_str(f'{{"type":"message","text":"ping {n}-{i}","id":"m{n}-{i}"}}')
                    await ws.receive(timeout=60)
                    latencies.append(time.perf_counter() - t)

            await asyncio.gather(*[one(ws, n) for n, ws in enumerate(sockets)])
            elapsed = time.perf_counter() - start
            await asyncio.gather(*[ws.close() for ws in sockets])
        return latencies, elapsed
    finally:
        proc.terminate()
        proc.wait(10)
        log.unlink(missing_ok=True)


# --- the gateway --------------------------------------------------------------------------------------


async def prepare_database(url: str, data_dir: str, operators: int) -> list[str]:
    """Migrations, catalogue, an opening exception for today (the bench runs at any hour),
    and the operators with their skills and session tokens."""
    from accounts.models import LoginSession, User
    from accounts.services import hash_password
    from acd.models import OperatorSkill
    from guichet.bootstrap import build_container
    from guichet.cli import prepare_database as migrate
    from guichet.settings import load_settings
    from ticket_core.models import CalendarExceptionRow

    container = build_container(load_settings({"database_url": url, "data_dir": data_dir, "telephony": False}))
    await migrate(container)
    tokens = []
    now = datetime.now(UTC)
    password_hash = hash_password("bench password 123")
    async with container.session_factory() as s:
        for day in (date.today() - timedelta(days=1), date.today(), date.today() + timedelta(days=1)):
            s.add(CalendarExceptionRow(day=day, kind="opening", opens=dtime(0, 0), closes=dtime(23, 59, 59),
                                       note="bench", created_at=now))
        for i in range(operators):
            user = User(username=f"bench-op{i:04d}", display_name=f"Op {i}", password_hash=password_hash,
                        role="operator", active=True, created_at=now)
            s.add(user)
            await s.flush()
            for audience in ("avocat", "administration", "citoyen"):
                s.add(OperatorSkill(user_id=user.id, audience=audience, level=3))
            token = secrets.token_urlsafe(32)
            s.add(LoginSession(token_hash=hashlib.sha256(token.encode()).hexdigest(), user_id=user.id,
                               created_at=now, expires_at=now + timedelta(hours=4)))
            tokens.append(token)
        await s.commit()
    await container.close()
    return tokens


async def bench_gateway(chats: int, messages: int, database_url: str, pause: float) -> dict[str, object]:
    operators = math.ceil(chats / 3)
    with tempfile.TemporaryDirectory(prefix="guichet-bench-chat-") as tmp:
        url = database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'guichet.sqlite3'}"
        progress(f"preparing the database ({operators} operators)")
        tokens = await prepare_database(url, tmp, operators)
        port = free_port()
        log = Path(tmp) / "portal.log"
        env = {**os.environ, "GUICHET_DATABASE_URL": url, "GUICHET_DATA_DIR": tmp,
               "GUICHET_OPENING_DAYS": "mon-sun", "GUICHET_OPENING_TIME": "00:00", "GUICHET_CLOSING_TIME": "23:59:59",
               "GUICHET_CHAT_STARTS_PER_IP": str(chats * 10), "GUICHET_CHAT_MESSAGES_PER_MINUTE": "100000",
               "GUICHET_CHAT_MESSAGE_BURST": "1000", "GUICHET_CHAT_OUTBOUND_QUEUE": "10000",
               "GUICHET_CHAT_OFFER_TIMEOUT": "600", "PYTHONPATH": str(ROOT)}
        proc = subprocess.Popen([sys.executable, "-m", "web_pages", "--port", str(port)], cwd=ROOT, env=env,
                                stdout=log.open("w"), stderr=subprocess.STDOUT)
        try:
            await wait_ready(proc, log, "portal serving")
            progress(f"portal up: starting {chats} chats")
            result = await _drive(port, tokens, chats, messages, pause)
            lines = log.read_text(errors="replace").splitlines()
            errors = [i for i, line in enumerate(lines) if " ERROR " in line]
            result["server_errors"] = ["\n".join(lines[i:i + 30]) for i in errors[:1]] + [lines[i] for i in errors[1:]]
            return result
        finally:
            proc.terminate()  # the portal finishes closing the chats first: give it time
            try:
                proc.wait(180)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


async def _drive(port: int, tokens: list[str], chats: int, messages: int, pause: float) -> dict[str, object]:
    base = f"http://127.0.0.1:{port}"
    rtt: list[float] = []
    acks: list[float] = []
    assigned = 0
    all_assigned = asyncio.Event()
    timings: dict[str, float] = {}

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        async def operator(token: str) -> None:
            ws = await http.ws_connect(f"{base}/chat/operator/ws", headers={"Authorization": f"Bearer {token}"},
                                       max_msg_size=0)
            await ws.send_json({"type": "available"})
            n = 0
            async for msg in ws:
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    break
                f = msg.json()
                if f["type"] == "offer":
                    await ws.send_json({"type": "accept", "conversation": f["conversation"]})
                elif f["type"] == "message" and f.get("from") == "user":
                    n += 1
                    await ws.send_json({"type": "message", "conversation": f["conversation"],
                                        "text": "pong " + f["text"][5:], "id": f"o{n}"})
                elif f["type"] == "bench-stop":
                    break

        op_tasks = [asyncio.create_task(operator(t)) for t in tokens]
        await asyncio.sleep(1.0)

        async def user(n: int) -> None:
            nonlocal assigned
            ws = await http.ws_connect(f"{base}/chat/ws", max_msg_size=0)
            await ws.send_json({"type": "start", "audience": ("avocat", "administration", "citoyen")[n % 3],
                                "message": f"bonjour {n}"})
            while True:
                f = await ws.receive_json(timeout=300)
                if f["type"] == "assigned":
                    break
                if f["type"] in ("error", "closed"):
                    raise RuntimeError(f"chat {n}: {f}")
            assigned += 1
            if assigned % 100 == 0:
                progress(f"{assigned} chats answered")
            if assigned == chats:
                timings["assigned"] = time.perf_counter()
                all_assigned.set()
            deadline = time.monotonic() + 600
            while not all_assigned.is_set():  # keep reading: pings are answered while reading
                if time.monotonic() > deadline:
                    all_assigned.set()  # go on with the chats answered so far
                    break
                try:
                    msg = await ws.receive(timeout=0.5)
                except asyncio.TimeoutError:
                    continue
                if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                    raise RuntimeError(f"chat {n}: closed while waiting ({msg.data!r} {msg.extra!r})")
            rng = random.Random(n)
            for i in range(messages):
                await think(pause, rng)
                t = time.perf_counter()
                await ws.send_json({"type": "message", "text": f"ping {n}-{i}", "id": f"u{i}"})
                acked = False
                while True:
                    f = await ws.receive_json(timeout=120)
                    if f["type"] == "ack" and f.get("id") == f"u{i}":
                        acks.append(time.perf_counter() - t)
                        acked = True
                    elif f["type"] == "message" and f.get("text") == f"pong {n}-{i}":
                        rtt.append(time.perf_counter() - t)
                        break
                    elif f["type"] == "error":
                        raise RuntimeError(f"chat {n}: {f}")
                assert acked
            await ws.send_json({"type": "end"})
            await ws.close()

        t0 = time.perf_counter()
        users = [asyncio.create_task(user(n)) for n in range(chats)]

        async def watch() -> None:
            await all_assigned.wait()
            progress(f"exchanging {messages} messages in each chat")

        watcher = asyncio.create_task(watch())
        results = await asyncio.gather(*users, return_exceptions=True)
        done = time.perf_counter()
        failures = [r for r in results if isinstance(r, BaseException)]
        watcher.cancel()
        for task in op_tasks:
            task.cancel()
        await asyncio.gather(*op_tasks, return_exceptions=True)
    return {"rtt": rtt, "acks": acks, "setup": timings.get("assigned", done) - t0,
            "exchange": done - timings.get("assigned", t0), "failures": failures}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chats", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=10)
    parser.add_argument("--think", type=float, default=2.0, help="mean pause before each message, seconds")
    parser.add_argument("--database-url", default="", help="default: SQLite in a temporary folder")
    parser.add_argument("--serve-echo", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_echo:
        serve_echo(args.serve_echo)
        return

    echo, echo_seconds = asyncio.run(bench_echo(args.chats, args.messages, args.think))
    gateway = asyncio.run(bench_gateway(args.chats, args.messages, args.database_url, args.think))
    backend = (args.database_url or "sqlite").split(":")[0].split("+")[0]
    print(f"\nP4 chat round trip: {args.chats} concurrent chats x {args.messages} messages "
          f"(mean pause {args.think:g} s), {math.ceil(args.chats / 3)} operators holding 3 chats each, "
          f"database {backend}, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(summary("baseline: bare websocket echo (1 hop)", echo, echo_seconds))
    if gateway["acks"]:
        print(summary("gateway: user message acknowledged (durable)", gateway["acks"], gateway["exchange"]))
    if gateway["rtt"]:
        print(summary("gateway: user -> operator -> user round trip", gateway["rtt"], gateway["exchange"]))
    print(f"{'':44} {args.chats} chats started, queued, offered and accepted in {gateway['setup']:.1f} s")
    if gateway["failures"]:
        print(f"{len(gateway['failures'])} chats failed, e.g. {gateway['failures'][0]!r}")
    if gateway.get("server_errors"):
        print(f"server errors ({len(gateway['server_errors'])}), first: {gateway['server_errors'][0]}")


if __name__ == "__main__":
    main()
