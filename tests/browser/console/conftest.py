"""Browser tests of the console and the wallboard: Debian's headless Chromium driven by
Playwright (``executable_path=/usr/bin/chromium``, installed by
``scripts/test-deps.d/chromium``; never ``playwright install``), the application served on
a loopback port, and — for the call tests — the real Asterisk, Stasis application and
pjsua2 softphones of the ``call_center`` fixture.

Screenshots go to the test's folder and are copied to ``/tmp/guichet-screens/``."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

import guichet.web
from tests.integration.calls.conftest import call_center, sounds_dir  # noqa: F401  (fixtures)
from tests.integration.telephony.conftest import (  # noqa: F401  (fixtures)
    ari,
    asterisk,
    asterisk_operators,
    asterisk_settings,
    sip_peers,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENS = Path("/tmp/guichet-screens")
PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def console_mounted(monkeypatch: pytest.MonkeyPatch) -> None:
    if "console.http" not in guichet.web.ROUTE_MODULES:
        monkeypatch.setattr(guichet.web, "ROUTE_MODULES", [*guichet.web.ROUTE_MODULES, "console.http"])


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} missing: run scripts/test-deps.d/chromium (the test command does)")
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()


@contextlib.asynccontextmanager
async def served(container: Any) -> AsyncIterator[str]:
    """The whole application on a free loopback port; its base URL."""
    runner = web.AppRunner(guichet.web.create_app(container), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


async def open_as(browser: Any, base: str, username: str, password: str, path: str,
                  viewport: tuple[int, int] = (1600, 900)) -> Any:
    """A fresh browser context logged in through the login page, on ``path``."""
    context = await browser.new_context(viewport={"width": viewport[0], "height": viewport[1]}, locale="fr-FR",
                                        timezone_id="Europe/Paris")
    page = await context.new_page()
    page.on("console", lambda m: m.type == "error" and print(f"[{username} console] {m.text}"))
    page.on("pageerror", lambda e: print(f"[{username} page error] {e}"))
    await page.goto(f"{base}/console/connexion?suite={path}")
    await page.fill("#identifiant", username)
    await page.fill("#mot-de-passe", password)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base}{path}")
    return page


AXE = Path(os.environ.get("GUICHET_AXE_DIR", "/var/cache/guichet/axe-core-4.14.1")) / "node_modules/axe-core/axe.min.js"


async def accessibility_problems(page: Any) -> list[str]:
    """axe-core's serious and critical WCAG 2 A/AA violations on the page (axe-core is
    installed by ``scripts/test-deps.d/chromium``; injected here, never from a CDN)."""
    if not AXE.exists():
        pytest.fail(f"{AXE} missing: run scripts/test-deps.d/chromium")
    await page.evaluate(AXE.read_text())
    found = await page.evaluate("""async () => (await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa']}))
        .violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
        .map(v => v.id + ': ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', '))""")
    return list(found)


@pytest.fixture
def screenshot(tmp_path: Path) -> Any:
    async def save(page: Any, name: str) -> Path:
        path = tmp_path / f"{name}.png"
        await page.screenshot(path=str(path), full_page=True)
        SCREENS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, SCREENS / path.name)
        return path
    return save
