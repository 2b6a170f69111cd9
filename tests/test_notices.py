"""Notices between processes (storage.notices) on a real PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections import Counter
from collections.abc import AsyncIterator

from storage.database import driver_dsn
from storage.notices import OUTBOX, STORED, Notifier, listen


async def until(check, within: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "not within the time"
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def listening(db_url: str) -> AsyncIterator[tuple[Notifier, Counter]]:
    """A notifier, and the notices a listener heard on each channel."""
    dsn = driver_dsn(db_url)
    heard: Counter = Counter()
    handlers = {STORED: lambda: heard.update([STORED]), OUTBOX: lambda: heard.update([OUTBOX])}
    task = asyncio.create_task(listen(dsn, handlers))
    notifier = Notifier(dsn)
    try:
        # On connecting, every handler is called once: work stored while nobody listened.
        await until(lambda: heard == Counter({STORED: 1, OUTBOX: 1}))
        yield notifier, heard
    finally:
        await notifier.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_notice_wakes_the_listener_of_its_channel_only(db_url):
    async with listening(db_url) as (notifier, heard):
        notifier.notify(OUTBOX)
        await until(lambda: heard[OUTBOX] == 2)
        notifier.notify(STORED)
        await until(lambda: heard[STORED] == 2)
        assert heard == Counter({STORED: 2, OUTBOX: 2})


async def test_work_stored_while_a_notice_is_sent_gets_one_more_after_it(db_url):
    async with listening(db_url) as (notifier, heard):
        for _ in range(25):
            notifier.notify(STORED)
        await asyncio.sleep(0)  # the first notice is on its way
        for _ in range(25):
            notifier.notify(STORED)
        await notifier.close()
        await until(lambda: heard[STORED] == 3)
    # The first may have been read before the later commits: one more covers them all.
    assert notifier.sent == 2


async def test_a_notifier_without_its_database_loses_no_more_than_the_nudge():
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    notifier = Notifier(f"postgresql://atende@127.0.0.1:{port}/atende")
    notifier.notify(STORED)  # nothing listens there: logged, and the workers' poll finds it
    await notifier.close()
    assert notifier.sent == 0
