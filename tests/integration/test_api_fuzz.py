"""Property-based fuzzing of the whole API from its own OpenAPI document (schemathesis):
whatever the input, no route answers with a server error, and every error has the API's
error shape. The app runs for real on loopback in a thread; requests carry an admin's
token so every route is reached past authentication."""

from __future__ import annotations

import asyncio
import socket
import threading
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings

from accounts.services import create_user
from guichet.bootstrap import build_container
from guichet.settings import load_settings

PASSWORD = "correct horse battery"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveApp:
    def __init__(self, db_file: Path, data_dir: Path) -> None:
        self.port = _free_port()
        self.db_file, self.data_dir = db_file, data_dir
        self.ready = threading.Event()
        self.loop = asyncio.new_event_loop()

    def start(self) -> None:
        threading.Thread(target=self._run, daemon=True).start()
        assert self.ready.wait(30), "the app did not start"

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._serve())
        self.loop.run_forever()

    async def _serve(self) -> None:
        from aiohttp import web

        from guichet.web import create_app

        settings_ = load_settings({"database_url": f"sqlite+aiosqlite:///{self.db_file}",
                                   "data_dir": str(self.data_dir)})
        container = build_container(settings_)
        async with container.session_factory() as s:
            await create_user(s, username="fuzz-admin", password=PASSWORD, role="admin")
            await s.commit()
        await container.start_acd()
        runner = web.AppRunner(create_app(container))
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.port).start()
        self.ready.set()


@pytest.fixture(scope="module")
def live_app(template_databases, tmp_path_factory):
    import shutil

    base = tmp_path_factory.mktemp("fuzz")
    db = base / "guichet.sqlite3"
    shutil.copyfile(template_databases["sqlite"], db)
    app = LiveApp(db, base / "var")
    app.start()
    token = requests.post(f"http://127.0.0.1:{app.port}/api/v1/auth/login",
                          json={"username": "fuzz-admin", "password": PASSWORD}, timeout=10).json()["token"]
    return app, token


def test_given_any_input_then_no_route_answers_a_server_error(live_app):
    app, token = live_app
    schema = schemathesis.openapi.from_url(f"http://127.0.0.1:{app.port}/api/openapi.json")
    failures: list[str] = []

    # Logging out would revoke the token the fuzzer uses; everything else is fair game.
    for operation in schema.get_all_operations():
        op = operation.ok()
        if op.path == "/api/v1/auth/logout":
            continue

        @settings(max_examples=8, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=op.as_strategy())
        def check(case) -> None:
            response = case.call(headers={"Authorization": f"Bearer {token}"}, timeout=15)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} → {response.status_code}: {response.text[:200]}")
            elif response.status_code >= 400:
                try:
                    body = response.json()
                except ValueError:
                    body = {"not json": response.text[:100]}
                if not isinstance(body, dict) or not {"error", "message"} <= set(body):
                    failures.append(f"{case.method} {case.formatted_path}: error without the API shape {body}")

        check()
    assert failures == []
