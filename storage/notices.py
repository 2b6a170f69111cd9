"""Wake-ups across processes, on PostgreSQL's LISTEN/NOTIFY.

A gateway that does not run its own worker (ATENDE_RUN_WORKER=false) stores work that an
`atende worker` in another process takes. The work is in the database and a worker finds
it at its next poll; a notice sent after the commit lets it start at once instead. A
notice is only a nudge: one that is lost (a dropped connection, a worker starting) costs a
poll's wait, never a message, and a listener that (re)connects looks for work at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping

import asyncpg
import structlog

log = structlog.get_logger(__name__)

STORED = "atende_stored"  # messages stored: to embed, route and suggest
OUTBOX = "atende_outbox"  # answers queued for the customers

_CONNECT_TIMEOUT = 10.0
# Errors that say the server or the connection is away; anything else is a bug.
_AWAY: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
)


class Notifier:
    """Sends notices for work another process takes. `notify` is called after the commit
    that stored the work. Calls before a notice is sent share it; calls while one is being
    sent make one more after it (the one in flight may have been read before their
    commits), so stored work never waits behind a notice that could not see it."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._conn: asyncpg.Connection | None = None
        self._pending: set[str] = set()
        self._sender: asyncio.Task[None] | None = None
        self.sent = 0

    def notify(self, channel: str) -> None:
        self._pending.add(channel)
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send_pending(), name="notices")

    async def _send_pending(self) -> None:
        while self._pending:
            channel = self._pending.pop()
            try:
                if self._conn is None or self._conn.is_closed():
                    self._conn = await asyncpg.connect(self._dsn, timeout=_CONNECT_TIMEOUT)
                await self._conn.execute("SELECT pg_notify($1, '')", channel)
                self.sent += 1
            except _AWAY as exc:
                # The workers find the work at their next poll.
                log.warning("notice_not_sent", channel=channel, error=str(exc)[:200])
                await self._drop()

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(*_AWAY):
                await conn.close(timeout=2)

    async def close(self) -> None:
        if self._sender is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender
        await self._drop()


async def listen(
    dsn: str, handlers: Mapping[str, Callable[[], None]], *, retry_seconds: float = 5.0
) -> None:
    """Until cancelled, call `handlers[channel]()` for every notice on `channel`. Every
    handler is called on each (re)connection too: work stored while nobody listened."""
    while True:
        conn: asyncpg.Connection | None = None
        try:
            conn = await asyncpg.connect(dsn, timeout=_CONNECT_TIMEOUT)
            lost = asyncio.Event()
            conn.add_termination_listener(_caller(lost.set))
            for channel, handler in handlers.items():
                await conn.add_listener(channel, _caller(handler))
            log.info("notices_listening", channels=sorted(handlers))
            for handler in handlers.values():
                handler()
            await lost.wait()
            log.warning("notices_connection_lost")
        except _AWAY as exc:
            log.warning("notices_unavailable", error=str(exc)[:200])
        finally:
            if conn is not None:
                with contextlib.suppress(*_AWAY):
                    await conn.close(timeout=2)
        await asyncio.sleep(retry_seconds)


def _caller(handler: Callable[[], None]) -> Callable[..., None]:
    """asyncpg passes (connection, pid, channel, payload) to a notice's listener, and the
    connection to a termination's; a handler needs none of them."""
    return lambda *_: handler()
