"""P6 (issue 7): latency from an ACD event to the wallboard's DOM update in the browser,
median and p99, beside a bare server-sent-events echo to the same browser measured in the
same run. A measurement, not a test: no assertions, no thresholds.

    .venv/bin/python bench/wallboard_latency.py [--events 200] [--no-postgres]

What is timed, for each event: the ACD domain event's instant (``at``, the service's
clock) → the moment a ``MutationObserver`` in the supervisor's page sees the "calls
waiting" figure change (``Date.now()``; the browser and Python read the same system
clock). Events alternate a call entering the queue (0 → 1 waiting) and that call being
abandoned (1 → 0), one at a time, 40–120 ms apart; each path in between is the product's
own: journal commit, ACD listener, compact snapshot on the bus, the hub's recompute of
today's figures from the journal, the SSE push, the page's rendering.

Scenarios:
- ``same instance, SQLite``: the browser watches the instance that runs the ACD (bus in
  process);
- ``two instances, PostgreSQL``: instance A runs the ACD, the browser watches instance B
  (LISTEN/NOTIFY between them), on a new database of the machine's PostgreSQL (dropped
  afterwards);
- baseline: an aiohttp SSE endpoint that pushes ``{"sent": time.time()}`` to a page that
  writes it into the DOM (no database, no bus, no figures): the floor of SSE + browser.

Headless Chromium from Debian (``/usr/bin/chromium``), driven by Playwright; everything
binds 127.0.0.1. Server and browser share the machine's cores: figures are end to end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiohttp import web  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PG_SERVER = os.environ.get("GUICHET_TEST_PG", "postgresql://postgres@/postgres?host=/var/run/postgresql")
PASSWORD = "bench password 2026"

OBSERVER = """() => {
  window.__lat = []; const seen = {};
  const target = document.getElementById('total-attente');
  new MutationObserver(() => {
    const d = window.guichetWallboard.data(); const tr = d && d.trigger;
    if (tr && !seen[tr.at]) { seen[tr.at] = 1; window.__lat.push(Date.now() - tr.at); }
  }).observe(target, {childList: true, characterData: true, subtree: true});
}"""

ECHO_PAGE = """<!doctype html><html><body><span id="v">-</span><script>
window.__lat = []; const v = document.getElementById('v');
new MutationObserver(() => { window.__lat.push(Date.now() - Number(v.dataset.sent)); })
  .observe(v, {childList: true, characterData: true, subtree: true});
const es = new EventSource('/sse'); window.__open = false; es.onopen = () => { window.__open = true; };
es.onmessage = (e) => { const d = JSON.parse(e.data); v.dataset.sent = d.sent; v.textContent = d.n; };
</script></body></html>"""


def summary(values: list[float]) -> dict[str, float]:
    s = sorted(values)
    if not s:
        return {"n": 0}
    p99 = s[min(len(s) - 1, max(0, round(0.99 * len(s)) - 1))]
    return {"n": len(s), "median_ms": statistics.median(s), "p99_ms": p99, "min_ms": s[0], "max_ms": s[-1],
            "mean_ms": statistics.fmean(s)}


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}"


async def prepare(url: str, data_dir: str) -> Any:
    from accounts.services import create_user
    from acd.models import OperatorSkill
    from guichet.bootstrap import build_container
    from guichet.cli import prepare_database
    from guichet.settings import load_settings

    container = build_container(load_settings({"database_url": url, "data_dir": data_dir}))
    await prepare_database(container)
    async with container.session_factory() as s:
        await create_user(s, username="sup", password=PASSWORD, role="supervisor")
        for i in range(1, 6):
            user = await create_user(s, username=f"op{i}", password=PASSWORD, role="operator", sip_endpoint=f"op{i}")
            s.add(OperatorSkill(user_id=user.id, audience="avocat", level=3))
        await s.commit()
    return container


async def wallboard_page(browser: Any, base: str) -> Any:
    page = await (await browser.new_context(viewport={"width": 1920, "height": 1080})).new_page()
    await page.goto(f"{base}/console/connexion?suite=/console/supervision")
    await page.fill("#identifiant", "sup")
    await page.fill("#mot-de-passe", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base}/console/supervision")
    await page.wait_for_function("() => document.getElementById('direct').dataset.status === 'on' && "
                                 "document.getElementById('total-attente').textContent === '0'")
    await page.evaluate(OBSERVER)
    return page


async def drive(acd_container: Any, page: Any, events: int) -> list[float]:
    from acd import domain as d

    acd = acd_container.extras["acd"]
    rng = random.Random(6)
    call_id = None
    for i in range(events):
        now = acd.clock()
        if call_id is None:
            call_id = f"bench-{i}"
            acd.acd.enqueue(d.Call(call_id, "avocat", "+33612345678"), now)
        else:
            acd.acd.abandon(call_id, now)
            call_id = None
        await acd.flush()
        await page.wait_for_function(f"() => window.__lat.length >= {i + 1}", timeout=10_000)
        await asyncio.sleep(rng.uniform(0.04, 0.12))
    return list(await page.evaluate("window.__lat"))


async def same_instance(browser: Any, events: int) -> list[float]:
    import guichet.web

    with tempfile.TemporaryDirectory(prefix="guichet-p6-") as tmp:
        container = await prepare(f"sqlite+aiosqlite:///{tmp}/g.sqlite3", tmp)
        await container.start_acd()
        runner, base = await serve(guichet.web.create_app(container))
        try:
            page = await wallboard_page(browser, base)
            out = await drive(container, page, events)
            await page.context.close()
            return out
        finally:
            await runner.cleanup()
            await container.close()


async def two_instances(browser: Any, events: int) -> list[float]:
    import asyncpg

    import guichet.web
    from guichet.bootstrap import build_container
    from guichet.settings import load_settings

    name = f"guichet_p6_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG_SERVER)
    await admin.execute(f'CREATE DATABASE "{name}"')
    base_dsn, _, query = PG_SERVER.partition("?")
    url = base_dsn.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1) + f"/{name}" + (
        f"?{query}" if query else "")
    try:
        with tempfile.TemporaryDirectory(prefix="guichet-p6-") as tmp:
            a = await prepare(url, f"{tmp}/a")
            b = build_container(load_settings({"database_url": url, "data_dir": f"{tmp}/b"}))
            await a.start_acd()
            runner_a, _ = await serve(guichet.web.create_app(a))
            runner_b, base_b = await serve(guichet.web.create_app(b))
            try:
                page = await wallboard_page(browser, base_b)
                out = await drive(a, page, events)
                await page.context.close()
                return out
            finally:
                await runner_b.cleanup()
                await runner_a.cleanup()
                await a.close()
                await b.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def baseline(browser: Any, events: int) -> list[float]:
    queues: list[asyncio.Queue] = []

    async def page_handler(_: web.Request) -> web.Response:
        return web.Response(text=ECHO_PAGE, content_type="text/html")

    async def sse(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"})
        await resp.prepare(request)
        q: asyncio.Queue = asyncio.Queue()
        queues.append(q)
        try:
            while (item := await q.get()) is not None:
                await resp.write(f"data: {json.dumps(item)}\n\n".encode())
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            queues.remove(q)
        return resp

    async def stop_streams(_: web.Application) -> None:
        for q in list(queues):
            q.put_nowait(None)

    app = web.Application()
    app.on_shutdown.append(stop_streams)
    app.router.add_get("/", page_handler)
    app.router.add_get("/sse", sse)
    runner, base = await serve(app)
    rng = random.Random(6)
    try:
        page = await (await browser.new_context()).new_page()
        await page.goto(base)
        await page.wait_for_function("() => window.__open")
        for i in range(events):
            for q in list(queues):
                q.put_nowait({"sent": time.time() * 1000, "n": i})
            await page.wait_for_function(f"() => window.__lat.length >= {i + 1}", timeout=10_000)
            await asyncio.sleep(rng.uniform(0.04, 0.12))
        out = list(await page.evaluate("window.__lat"))
        await page.context.close()
        return out
    finally:
        await runner.cleanup()


def line(label: str, s: dict[str, float]) -> str:
    if not s.get("n"):
        return f"  {label:<38} (not measured)"
    return (f"  {label:<38} median {s['median_ms']:6.1f} ms   p99 {s['p99_ms']:6.1f} ms   "
            f"min {s['min_ms']:5.1f}   max {s['max_ms']:6.1f}   n={s['n']}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--no-postgres", action="store_true", help="skip the two-instance PostgreSQL scenario")
    args = parser.parse_args()
    import logging

    logging.basicConfig(level=logging.WARNING)
    from playwright.async_api import async_playwright

    print(f"P6 wallboard latency: {args.events} ACD events per scenario; load {open('/proc/loadavg').read().strip()}")
    results: dict[str, Any] = {}
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            results["baseline_sse_echo"] = summary(await baseline(browser, args.events))
            results["same_instance_sqlite"] = summary(await same_instance(browser, args.events))
            if not args.no_postgres:
                results["two_instances_postgresql"] = summary(await two_instances(browser, args.events))
        finally:
            await browser.close()
    print(line("baseline: bare SSE echo → DOM", results["baseline_sse_echo"]))
    print(line("ACD event → wallboard DOM, 1 instance", results["same_instance_sqlite"]))
    if "two_instances_postgresql" in results:
        print(line("ACD event on A → wallboard DOM on B (PG)", results["two_instances_postgresql"]))
    print(f"  load at end {open('/proc/loadavg').read().strip()}")
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    (out / "wallboard_latency.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
