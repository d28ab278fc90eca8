"""Shared fixtures: a freshly migrated database on SQLite *and* on PostgreSQL for each
test that asks for ``db_url`` (or anything built on it), a container with a settable
clock, and an HTTP client on the real aiohttp application.

PostgreSQL is reached over its unix socket (the tests run in a loopback-only network
namespace); ``GUICHET_TEST_PG`` overrides the server DSN. Each test session migrates one
template database per backend once, then each test gets a copy: ``CREATE DATABASE …
TEMPLATE`` on PostgreSQL, a file copy on SQLite.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from guichet.bootstrap import Container, build_container
from guichet.settings import load_settings
from ticket_core.catalogue import seed_catalogue
from ticket_core.migrate import upgrade

PG_SERVER = os.environ.get("GUICHET_TEST_PG", "postgresql://postgres@/postgres?host=/var/run/postgresql")
BACKENDS = ["sqlite", "postgresql"]


def _sa_url(dsn: str, dbname: str) -> str:
    base, _, query = dsn.partition("?")
    base = base.rsplit("/", 1)[0]
    return f"{base.replace('postgresql://', 'postgresql+asyncpg://', 1)}/{dbname}" + (f"?{query}" if query else "")


async def _pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_SERVER)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _seeded(url: str) -> None:
    upgrade(url)

    async def seed() -> None:
        from ticket_core.db import create_engine, session_factory

        engine = create_engine(url)
        async with session_factory(engine)() as session:
            await seed_catalogue(session)
            await session.commit()
        await engine.dispose()

    asyncio.run(seed())


@pytest.fixture(scope="session")
def template_databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """One migrated, seeded template per backend for the whole session."""
    templates: dict[str, str] = {}
    sqlite_file = tmp_path_factory.mktemp("sqlite-template") / "template.sqlite3"
    _seeded(f"sqlite+aiosqlite:///{sqlite_file}")
    templates["sqlite"] = str(sqlite_file)
    pg_name = f"guichet_tpl_{uuid.uuid4().hex[:8]}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{pg_name}"'))
    _seeded(_sa_url(PG_SERVER, pg_name))
    templates["postgresql"] = pg_name
    yield templates
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def db_url(backend: str, template_databases: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """A fresh migrated database with the starting catalogue, for one test."""
    if backend == "sqlite":
        target = tmp_path / "guichet.sqlite3"
        shutil.copyfile(template_databases["sqlite"], target)
        yield f"sqlite+aiosqlite:///{target}"
        return
    name = f"guichet_t_{uuid.uuid4().hex[:10]}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template_databases["postgresql"]}"'))
    yield _sa_url(PG_SERVER, name)
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def pg_server_dsn() -> str:
    return PG_SERVER


@dataclass
class Clock:
    """A settable clock: tests move time on purpose instead of sleeping."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> datetime:
        self.now += timedelta(**kw)
        return self.now


@pytest.fixture
def clock() -> Clock:
    # Tuesday 3 March 2026, 10:00 Paris (09:00 UTC): the service is open.
    return Clock(datetime(2026, 3, 3, 9, 0, tzinfo=UTC))


@pytest.fixture
async def container(db_url: str, tmp_path: Path, clock: Clock) -> AsyncIterator[Container]:
    settings = load_settings({"database_url": db_url, "data_dir": str(tmp_path / "var")})
    c = build_container(settings, clock=clock)
    yield c
    await c.close()


@pytest.fixture
async def client(container: Container) -> AsyncIterator[TestClient]:
    from guichet.web import create_app

    await container.start_acd()
    async with TestClient(TestServer(create_app(container), host="127.0.0.1")) as c:
        yield c
