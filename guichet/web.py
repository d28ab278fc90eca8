"""The web application: mounts every package's route table, the OpenAPI document and the
health check."""

from __future__ import annotations

from aiohttp import web

import accounts.http
import acd.http
import ticket_core.http
from apikit import CONTAINER, install, openapi_document
from guichet.bootstrap import Container

VERSION = "0.1.0"
OPENAPI: web.AppKey[dict] = web.AppKey("openapi", dict)

ROUTE_TABLES = [accounts.http.routes, ticket_core.http.routes, acd.http.routes]


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


def create_app(container: Container) -> web.Application:
    app = web.Application(client_max_size=2 * 1024 * 1024)
    app[CONTAINER] = container
    mounted = install(app, ROUTE_TABLES)
    app[OPENAPI] = openapi_document(mounted, title="Guichet API", version=VERSION)
    app.router.add_get("/api/openapi.json", _openapi)
    app.router.add_get("/health", _health)
    return app
