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


async def _sql(url: str, *statements: str) -> list:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            out = [list(await conn.execute(text(s))) if s.lstrip().upper().startswith("SELECT")
                   else await conn.execute(text(s)) for s in statements]
        return [r for r in out if isinstance(r, list)]
    finally:
        await engine.dispose()


def test_given_softphone_secrets_in_clear_when_upgrading_then_only_their_digest_remains(empty_db):
    """0010 rebuilds ``users`` on SQLite while other tables point at it (foreign keys)."""
    from accounts.services import softphone_ha1

    upgrade(empty_db, "0003")
    asyncio.run(_sql(
        empty_db,
        "INSERT INTO users (id, username, display_name, password_hash, role, active, sip_endpoint, sip_secret, "
        "created_at) VALUES (7, 'op07', 'op07', 'x', 'operator', true, 'op07', 'secret-du-poste', "
        "'2026-01-01 00:00:00')",
        "INSERT INTO login_sessions (user_id, token_hash, created_at, expires_at) "
        "VALUES (7, 'abc', '2026-01-01 00:00:00', '2026-01-02 00:00:00')"))
    upgrade(empty_db)
    [users, sessions] = asyncio.run(_sql(empty_db, "SELECT sip_realm, sip_ha1 FROM users WHERE id = 7",
                                         "SELECT user_id FROM login_sessions"))
    assert users == [("guichet", softphone_ha1("op07", "guichet", "secret-du-poste"))]
    assert sessions == [(7,)]  # the rows that point at the rebuilt table are still there
    downgrade(empty_db, "base")
    assert asyncio.run(_tables(empty_db)) == set()


def test_given_a_migration_that_fails_midway_then_nothing_of_it_remains(empty_db, tmp_path):
    """A migration is one transaction on both databases: a failure leaves the schema as it
    was, so the next start can simply try again."""
    import shutil

    from alembic import command

    from ticket_core.migrate import MIGRATIONS, alembic_config

    upgrade(empty_db)
    scripts = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, scripts)
    (scripts / "versions" / "0999_broken.py").write_text(
        "import sqlalchemy as sa\nfrom alembic import op\n"
        "revision = '0999'\ndown_revision = '0010'\nbranch_labels = None\ndepends_on = None\n"
        "def upgrade():\n"
        "    with op.batch_alter_table('users') as b:\n"
        "        b.add_column(sa.Column('half_done', sa.String(10)))\n"
        "    op.execute('SELECT * FROM no_such_table')\n"
        "def downgrade():\n    pass\n")
    cfg = alembic_config(empty_db)
    cfg.set_main_option("script_location", str(scripts))
    with pytest.raises(Exception, match="no_such_table"):
        command.upgrade(cfg, "heads")
    columns = asyncio.run(_columns(empty_db, "users"))
    assert "half_done" not in columns and "sip_ha1" in columns
    [versions] = asyncio.run(_sql(empty_db, "SELECT version_num FROM alembic_version"))
    assert ("0999",) not in versions


async def _columns(url: str, table: str) -> set[str]:
    engine = create_engine(url)
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda c: {col["name"] for col in inspect(c).get_columns(table)})
    await engine.dispose()
    return names
