"""Alembic environment: async engines (aiosqlite, asyncpg), every package's metadata."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from sqlalchemy import event
from sqlalchemy.engine import Connection

from guichet.schema import metadata
from ticket_core.db import create_engine

config = context.config


def _run(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=sqlite,  # SQLite cannot ALTER much
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
        if sqlite:
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"migration left rows whose foreign keys point nowhere: {broken[:5]}")


def _transactional_sqlite(engine: Any) -> None:
    """The sqlite3 driver does not open a transaction before DDL, so a failed migration
    would leave half its changes behind: here (the migrations' engine only) every
    transaction starts with an explicit BEGIN, as SQLAlchemy's documentation advises, and a
    failed upgrade rolls back whole."""

    @event.listens_for(engine.sync_engine, "connect")
    def _no_implicit_transactions(dbapi_connection: Any, _record: Any) -> None:
        # Batch mode rebuilds a table (copy, DROP, rename): with foreign keys enforced, the
        # DROP of a referenced table (users, tickets…) fails. The pragma only works outside
        # a transaction, so here; the keys are checked before the migration commits.
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=OFF")
        cursor.close()
        dbapi_connection.isolation_level = None

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN")


async def _run_async() -> None:
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    if engine.dialect.name == "sqlite":
        _transactional_sqlite(engine)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    asyncio.run(_run_async())
