"""Pacing outbound sends: an overall rate per account and a least interval per chat.

Slots are handed out under a lock and waited for outside it, so a chat that must wait
does not hold up the others. The limits hold within one process; several workers each
keep their own pace (the platforms' 429 answers, honoured by the delivery worker, catch
what that misses).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class RateLimiter:
    def __init__(
        self,
        per_second: float,
        *,
        per_chat_interval: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._interval = 1.0 / per_second
        self._chat_interval = per_chat_interval
        self._clock = clock
        self._sleep = sleep
        self._next = 0.0
        self._next_by_chat: dict[str, float] = {}
        self._lock = asyncio.Lock()

    async def acquire(self, chat: str) -> float:
        """Wait for this chat's next slot; returns how long it waited."""
        async with self._lock:
            now = self._clock()
            start = max(now, self._next, self._next_by_chat.get(chat, 0.0))
            self._next = start + self._interval
            if self._chat_interval:
                if len(self._next_by_chat) > 10_000:
                    self._next_by_chat = {k: v for k, v in self._next_by_chat.items() if v > now}
                self._next_by_chat[chat] = start + self._chat_interval
        delay = start - now
        if delay > 0:
            await self._sleep(delay)
        return delay
