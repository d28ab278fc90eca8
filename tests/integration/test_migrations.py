"""Alembic migrations up, down and up again, on SQLite and on PostgreSQL."""

import asyncio
import uuid

import pytest
from sqlalchemy import inspect, text

from guichet.schema import metadata
from tests.conftest import _pg_admin, _sa_url
from ticket_core.db import create_engine
from ticket_core.migrate import downgrade, upgrade


async def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    await engine.dispose()
    return names - {"alembic_version"}


async def _journal_refuses_update(url: str) -> str:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(
                "INSERT INTO events (occurred_at, recorded_at, kind, site, data) "
                "VALUES ('2026-01-01 00:00:00', '2026-01-01 00:00:00', 'probe_result', 'primary', '{}')"))
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE events SET kind = 'call_answered'"))
        return "updated"
    except Exception as exc:  # noqa: BLE001
        return str(exc)
    finally:
        await engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db(request, tmp_path, pg_server_dsn):
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'm.sqlite3'}"
        return
    name = f"guichet_m_{uuid.uuid4().hex[:8]}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    yield _sa_url(pg_server_dsn, name)
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_given_empty_database_when_migrating_up_down_up_then_schema_matches_models(empty_db):
    upgrade(empty_db)
    assert asyncio.run(_tables(empty_db)) == set(metadata.tables)
    downgrade(empty_db, "base")
    assert asyncio.run(_tables(empty_db)) == set()
    upgrade(empty_db)
    assert asyncio.run(_tables(empty_db)) == set(metadata.tables)


def test_given_migrated_database_then_the_journal_is_append_only(empty_db):
    upgrade(empty_db)
    assert "append-only" in asyncio.run(_journal_refuses_update(empty_db))


def test_models_and_migrations_agree(empty_db):
    """Autogenerate finds nothing to add: no model change without its migration."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    upgrade(empty_db)

    async def diff():
        engine = create_engine(empty_db)
        async with engine.connect() as conn:
            d = await conn.run_sync(lambda c: compare_metadata(MigrationContext.configure(c), metadata))
        await engine.dispose()
        return d

    assert asyncio.run(diff()) == []
