"""Applying atende's Alembic migrations over an open async engine."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(embedding_dim: int) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["embedding_dim"] = embedding_dim
    return config


async def upgrade(engine: AsyncEngine, embedding_dim: int, revision: str = "head") -> None:
    """Bring the schema to `revision`; a fresh database gets vectors of `embedding_dim`."""
    config = alembic_config(embedding_dim)

    def run(connection: Connection) -> None:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async with engine.begin() as conn:
        # One migrator at a time when several processes start together.
        await conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7402011)")
        await conn.run_sync(run)


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(
            lambda sync_conn: MigrationContext.configure(sync_conn).get_current_revision()
        )


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config(0)).get_current_head()
