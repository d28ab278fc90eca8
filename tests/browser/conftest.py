"""Browser tests: the real application (the main job's ``create_app``) served on loopback
from a thread, with a fresh SQLite database and a clock that starts on a Tuesday at 10:00
Paris time and runs; Debian's Chromium driven by Playwright (``executable_path``, never a
downloaded browser); axe-core from the npm registry, installed by
``scripts/test-deps.d/chromium`` and injected into each page checked.

Screenshots go to the test session's temporary folder and are copied to
``$GUICHET_SCREENSHOTS`` (default ``/tmp/guichet-screens``) for people to look at.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("GUICHET_CHROMIUM", "/usr/bin/chromium")
AXE_JS = Path(os.environ.get("GUICHET_AXE_JS", "/var/cache/guichet/axe-core-4.14.1/node_modules/axe-core/axe.min.js"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENS = Path(os.environ.get("GUICHET_SCREENSHOTS", "/tmp/guichet-screens"))
PASSWORD = "correct horse battery"
START = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)  # Tuesday 10:00 in Paris: open


class RunningClock:
    """Starts at ``START`` and runs with real time (offers, resume windows…)."""

    def __init__(self, start: datetime = START) -> None:
        self.start, self.t0 = start, time.monotonic()

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self.t0)


@dataclass
class Portal:
    url: str
    loop: asyncio.AbstractEventLoop
    container: Any
    operator: dict[str, Any]
    supervisor: dict[str, Any]

    def run(self, coro: Any, timeout: float = 30) -> Any:
        """Run a coroutine on the server's loop (database checks, hub access)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    @property
    def hub(self) -> Any:
        return self.container.extras["chat"]


def _require_tools() -> None:
    missing = [str(p) for p in (Path(CHROMIUM), AXE_JS) if not p.exists()]
    if missing:
        pytest.fail(f"browser tests need {', '.join(missing)}: run scripts/test-deps.d/chromium", pytrace=False)


@pytest.fixture(scope="module")
def portal(template_databases: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    _require_tools()
    from accounts.services import create_user, open_session
    from acd.models import OperatorSkill
    from chatgw import runtime
    from chatgw.settings import ChatSettings
    from guichet.bootstrap import build_container
    from guichet.settings import load_settings
    from guichet.web import create_app
    from aiohttp import web

    folder = tmp_path_factory.mktemp("browser-db")
    db = folder / "guichet.sqlite3"
    shutil.copyfile(template_databases["sqlite"], db)
    ready = threading.Event()
    state: dict[str, Any] = {}

    async def main() -> None:
        settings = load_settings({"database_url": f"sqlite+aiosqlite:///{db}", "data_dir": str(folder / "var"),
                                  "telephony": False})
        container = build_container(settings, clock=RunningClock())
        async with container.session_factory() as s:
            op = await create_user(s, username="op01", password=PASSWORD, role="operator", display_name="Camille")
            for audience in ("avocat", "administration", "citoyen"):
                s.add(OperatorSkill(user_id=op.id, audience=audience, level=3))
            sup = await create_user(s, username="sup01", password=PASSWORD, role="supervisor")
            sup_token = await open_session(s, sup, 8)
            await s.commit()
        await container.start_acd()
        await runtime.start(container, ChatSettings(resume_window=120, operator_grace=60, offer_timeout=60))
        runner = web.AppRunner(create_app(container), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        stop = asyncio.Event()
        state.update(url=f"http://127.0.0.1:{port}", container=container, stop=stop,
                     operator={"id": op.id, "username": "op01"},
                     supervisor={"id": sup.id, "headers": {"Authorization": f"Bearer {sup_token}"}})
        ready.set()
        await stop.wait()
        await runner.cleanup()
        await container.extras["chat"].stop()
        await container.close()

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=lambda: loop.run_until_complete(main()), name="portal-server", daemon=True)
    thread.start()
    if not ready.wait(60):
        pytest.fail("the portal did not start")
    yield Portal(state["url"], loop, state["container"], state["operator"], state["supervisor"])
    loop.call_soon_threadsafe(state["stop"].set)
    thread.join(30)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    _require_tools()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def new_page(browser: Any) -> Iterator[Any]:
    """Pages in fresh browser contexts (French, Paris time), closed after the test."""
    contexts = []

    def make(width: int = 1280, height: int = 900) -> Any:
        ctx = browser.new_context(viewport={"width": width, "height": height}, locale="fr-FR",
                                  timezone_id="Europe/Paris")
        ctx.set_default_timeout(10_000)
        contexts.append(ctx)
        return ctx.new_page()

    yield make
    for ctx in contexts:
        ctx.close()


@pytest.fixture(scope="session")
def screens(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("screenshots")
    SCREENS.mkdir(parents=True, exist_ok=True)
    return folder


def screenshot(page: Any, folder: Path, name: str) -> Path:
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    shutil.copyfile(path, SCREENS / path.name)
    return path


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """Every axe-core rule (WCAG 2.0/2.1 A and AA, best practices) on the page as it is."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE_JS.read_text(encoding="utf-8"))  # evaluated by DevTools: not subject to the page's CSP
    result = page.evaluate("async () => { const r = await axe.run(document, {resultTypes: ['violations']});"
                           " return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
                           " nodes: v.nodes.map(n => n.target.join(' ') + ' :: ' + n.failureSummary)})); }")
    return result


def assert_accessible(page: Any, what: str) -> None:
    violations = axe_violations(page)
    assert violations == [], f"axe-core on {what}:\n" + "\n".join(
        f"- {v['id']} ({v['impact']}): {v['help']}\n    " + "\n    ".join(v["nodes"][:5]) for v in violations)
