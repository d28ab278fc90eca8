"""``python -m web_pages``: the portal on its own — its pages, the mail form, the chat
(users and operators) and the login route operators need, on one port, over the same
database as the main job (migrated and seeded at start). No telephony, no other API.

    python -m web_pages [--host 127.0.0.1] [--port 8081]

Settings as for the main job (``GUICHET_DATABASE_URL``, ``GUICHET_CHAT_*``, the opening
hours…). Stop with Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from aiohttp import web

from apikit import CONTAINER, install

PORTAL_MODULES = ("accounts.http", "chatgw.http", "web_pages.http")


def create_portal_app(container: object) -> web.Application:
    """The portal's application: only the modules it needs."""
    import importlib

    app = web.Application(client_max_size=256 * 1024)
    app[CONTAINER] = container
    modules = [importlib.import_module(name) for name in PORTAL_MODULES]
    install(app, [m.routes for m in modules if hasattr(m, "routes")])
    for module in modules:
        if hasattr(module, "setup"):
            module.setup(app)

    async def health(_: web.Request) -> web.Response:
        return web.json_response({"status": "up", "service": "portal"})

    app.router.add_get("/health", health)
    return app


async def serve(host: str | None, port: int) -> None:
    from chatgw import runtime
    from guichet.bootstrap import build_container
    from guichet.cli import prepare_database
    from guichet.settings import load_settings

    settings = load_settings({"telephony": False})
    container = build_container(settings)
    await prepare_database(container)
    stop_chat = await runtime.start(container)
    runner = web.AppRunner(create_portal_app(container), access_log=None)
    await runner.setup()
    bind = host or settings.http_host
    await web.TCPSite(runner, bind, port).start()
    print(f"Guichet portal serving on http://{bind}:{port}/ (chat, mail form, legal pages; "
          f"database: {settings.effective_database_url.split('://')[0]})", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()
    await stop_chat()
    await container.close()


def main(argv: list[str] | None = None) -> int:
    from guichet.settings import SettingsError

    parser = argparse.ArgumentParser(prog="python -m web_pages", description="Guichet's assistance portal, on its own")
    parser.add_argument("--host", default=None, help="address to bind (default: GUICHET_HTTP_HOST, 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8081)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        asyncio.run(serve(args.host, args.port))
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
