"""The web application: mounts every package's route table, the OpenAPI document and the
health check."""

from __future__ import annotations

from aiohttp import web

import importlib

from apikit import CONTAINER, RouteTable, install, openapi_document
from guichet.bootstrap import Container

VERSION = "0.1.0"
OPENAPI: web.AppKey[dict] = web.AppKey("openapi", dict)

# Every package's HTTP module (``routes = RouteTable(...)``) and, for pages, ``static``
# folders. A package not built yet is simply absent.
ROUTE_MODULES = [
    "accounts.http", "ticket_core.http", "acd.http", "callback.http", "mailgw.http",
    "chatgw.http", "indicators.http", "reports.http", "web_pages.http", "console.http", "failover.http",
]


def http_modules() -> list[object]:
    modules = []
    for name in ROUTE_MODULES:
        try:
            modules.append(importlib.import_module(name))
        except ModuleNotFoundError as exc:
            if exc.name in (name, name.rsplit(".", 1)[0]):
                continue  # that package has no HTTP module (yet)
            raise
    return modules


def route_tables() -> list[RouteTable]:
    return [m.routes for m in http_modules() if hasattr(m, "routes")]


async def _openapi(request: web.Request) -> web.Response:
    return web.json_response(request.app[OPENAPI])


async def _health(request: web.Request) -> web.Response:
    container: Container = request.app[CONTAINER]
    try:
        async with container.engine.connect() as conn:
            await conn.exec_driver_sql("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - the probe reports any failure
        return web.json_response({"status": "down", "database": str(exc)}, status=503)
    return web.json_response({"status": "up", "site": container.settings.site, "version": VERSION})


@web.middleware
async def json_errors(request: web.Request, handler):  # type: ignore[no-untyped-def]
    """Under /api/, aiohttp's own errors (no such route, wrong method, body too large)
    get the API's error shape too."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if not request.path.startswith("/api/") or exc.status < 400 or exc.content_type == "application/json":
            raise
        error_id = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}.get(exc.status, "http_error")
        return web.json_response({"error": error_id, "message": exc.reason}, status=exc.status)


def create_app(container: Container) -> web.Application:
    app = web.Application(client_max_size=2 * 1024 * 1024, middlewares=[json_errors])
    app[CONTAINER] = container
    modules = http_modules()
    mounted = install(app, [m.routes for m in modules if hasattr(m, "routes")])
    for module in modules:
        # Beyond JSON routes: websockets, pages, static files (``setup(app)``).
        if hasattr(module, "setup"):
            module.setup(app)
    app[OPENAPI] = openapi_document(mounted, title="Guichet API", version=VERSION)
    app.router.add_get("/api/openapi.json", _openapi)
    app.router.add_get("/health", _health)
    return app
