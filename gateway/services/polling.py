"""The loop every table-backed worker runs: take a batch; when there is none, wait until
woken or until the next poll. The queues live in the database, so a worker that was not
woken (another process stored the work) finds it at its next poll."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog
from sqlalchemy.exc import DBAPIError, OperationalError

log = structlog.get_logger(__name__)


class Wakeup:
    """A nudge from this process that work was stored, so a worker need not wait its poll."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def set(self) -> None:
        self._event.set()

    def clear(self) -> None:
        self._event.clear()

    async def wait(self, seconds: float) -> None:
        """Until set (since the last `clear`) or `seconds` passed."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout=seconds)


async def work_forever(
    run_once: Callable[[], Awaitable[int]],
    wakeup: Wakeup,
    *,
    idle_poll: float,
    name: str,
) -> None:
    """Call `run_once` (which returns how much it did) until cancelled.

    The nudge is cleared before each call, never after: work stored while a call was
    looking (too late for it to see) leaves the nudge set, so the loop goes round again
    at once instead of sleeping its poll out beside it.
    """
    while True:
        wakeup.clear()
        try:
            done = await run_once()
        except (OperationalError, DBAPIError, OSError) as exc:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                # A rollback that failed while stopping must not swallow the stop.
                raise asyncio.CancelledError from exc
            # The database is away; the work waits in it, so try again shortly.
            log.warning("worker_database_error", worker=name, error=str(exc))
            await asyncio.sleep(idle_poll * 5)
            continue
        if not done:
            await wakeup.wait(idle_poll)
