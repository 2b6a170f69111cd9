"""Opening the database: the configured server, or the embedded one."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from sqlalchemy import URL, event, make_url, text
from sqlalchemy.exc import DisconnectionError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session


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


@asynccontextmanager
async def driver_connection(engine: AsyncEngine) -> AsyncIterator[asyncpg.Connection]:
    """asyncpg's own connection, checked out of `engine`'s pool, outside any transaction:
    a statement on it is one round trip, where a session adds a BEGIN and a COMMIT and
    SQLAlchemy's handling of the statement and its rows.

    A connection that broke under it is dropped from the pool and the error raised as
    SQLAlchemy raises its own statements' (OperationalError, the connection invalidated),
    so that callers tell a database that went away from a bug as they always did."""
    async with engine.connect() as conn:
        driver = (await conn.get_raw_connection()).driver_connection
        try:
            yield driver
        except (asyncpg.InterfaceError, asyncpg.PostgresConnectionError, OSError) as exc:
            # asyncpg also raises InterfaceError for a statement misused on an open
            # connection: that is a bug, not the database going away.
            if isinstance(exc, asyncpg.InterfaceError) and not driver.is_closed():
                raise
            await conn.invalidate()
            raise OperationalError(None, None, exc, connection_invalidated=True) from exc


def driver_dsn(url: str | URL) -> str:
    """A database URL (an engine's, or a postgresql+asyncpg:// one) as a plain
    postgresql:// DSN, for asyncpg used directly."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def session_factory(engine: AsyncEngine) -> async_sessionmaker:
    # A Session class of its own, so that `on_commit` hears this factory's commits only
    # (a test process opens many).
    own = type("AtendeSession", (Session,), {})
    return async_sessionmaker(engine, expire_on_commit=False, sync_session_class=own)


def on_commit(sessions: async_sessionmaker, callback: Callable[[], None]) -> None:
    """Call `callback` after each commit of a session from `sessions` (session_factory's),
    once the transaction is durable. Writes without the sessions are not heard."""
    own = sessions.kw["sync_session_class"]
    if own is Session:
        raise ValueError("on_commit needs sessions from session_factory")
    event.listen(own, "after_commit", lambda session: callback())


async def ping(engine: AsyncEngine) -> None:
    """Raise if the database cannot answer a trivial query."""
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
