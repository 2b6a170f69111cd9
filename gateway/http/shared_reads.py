"""Identical reads asked at once share one read: every open console reads the queue about
150 ms after each live event, so with thirty of them a message that arrives means thirty
reads of the same page, each queried, shaped and encoded on its own (bench/console_streams.py
--consoles). Here the first read of a kind starts at once; those asked while it runs wait
for it to end and then share one read, which starts after all of them asked. So each caller
gets what the database held after its request came, never an older answer, and a kind of
read is made at most twice at a time, however many ask.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable


class SharedReads:
    def __init__(self) -> None:
        self._running: dict[Hashable, asyncio.Future[bytes]] = {}
        self._next: dict[Hashable, asyncio.Future[bytes]] = {}
        self.reads = 0  # made, not asked: for tests and benchmarks

    async def read(self, key: Hashable, make: Callable[[], Awaitable[bytes]]) -> bytes:
        """What `make` returns, made after this call began, shared with the calls of the
        same `key` that wait for the same read. A caller that leaves (its client gone)
        does not cancel the read for the others."""
        running = self._running.get(key)
        if running is None:
            shared = self._start(key, make)
        else:
            shared = self._next.get(key)
            if shared is None:
                shared = asyncio.ensure_future(self._after(key, running, make))
                shared.add_done_callback(_retrieved)
                self._next[key] = shared
        return await asyncio.shield(shared)

    def _start(self, key: Hashable, make: Callable[[], Awaitable[bytes]]) -> asyncio.Future[bytes]:
        self.reads += 1
        task = asyncio.ensure_future(make())
        self._running[key] = task
        task.add_done_callback(_retrieved)
        task.add_done_callback(lambda done: self._finished(key, done))
        return task

    def _finished(self, key: Hashable, done: asyncio.Future[bytes]) -> None:
        if self._running.get(key) is done:
            del self._running[key]

    async def _after(
        self, key: Hashable, running: asyncio.Future[bytes], make: Callable[[], Awaitable[bytes]]
    ) -> bytes:
        # Whatever the read before ends with, this one starts after it; from now on, new
        # callers wait for this one.
        await asyncio.wait([running])
        del self._next[key]
        return await self._start(key, make)


def _retrieved(done: asyncio.Future[bytes]) -> None:
    """Its error reached whoever awaited it; one nobody awaited any more is not logged as
    never retrieved."""
    if not done.cancelled():
        done.exception()
