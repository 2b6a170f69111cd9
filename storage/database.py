"""Opening the database: the configured server, or the embedded one."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """An asyncpg engine; `url` is a postgresql+asyncpg:// URL."""
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        # A server that vanished must surface as an error quickly, not hang a request.
        connect_args={"timeout": 5, "command_timeout": 30},
    )


def driver_dsn(engine: AsyncEngine) -> str:
    """The engine's database as a plain postgresql:// DSN, for asyncpg used directly."""
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


def session_factory(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)


async def ping(engine: AsyncEngine) -> None:
    """Raise if the database cannot answer a trivial query."""
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
