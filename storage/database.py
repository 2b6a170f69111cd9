"""Opening the database: the configured server, or the embedded one."""

from __future__ import annotations

from typing import Any

from sqlalchemy import URL, event, make_url, text
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """An asyncpg engine; `url` is a postgresql+asyncpg:// URL."""
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        # No ping before each checkout: SQLAlchemy's cost three round trips per
        # transaction, on every request and every worker step. `_skip_closed` below
        # catches, for free, a connection the server already closed (restart, terminate);
        # one that dies unnoticed fails its first statement, SQLAlchemy then discards the
        # pool, the request answers 503 (gateway.http.middlewares) and workers retry.
        pool_pre_ping=False,
        # A server that vanished must surface as an error quickly, not hang a request.
        connect_args={"timeout": 5, "command_timeout": 30},
    )
    event.listen(engine.sync_engine, "checkout", _skip_closed)
    return engine


def _skip_closed(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    # asyncpg learns of a closed socket from the event loop, without a round trip;
    # DisconnectionError makes the pool replace the connection and check out again.
    if dbapi_connection.driver_connection.is_closed():
        raise DisconnectionError("the server closed this pooled connection")


def driver_dsn(url: str | URL) -> str:
    """A database URL (an engine's, or a postgresql+asyncpg:// one) as a plain
    postgresql:// DSN, for asyncpg used directly."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def session_factory(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)


async def ping(engine: AsyncEngine) -> None:
    """Raise if the database cannot answer a trivial query."""
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
