"""The loops behind the table-backed workers: nudges are never lost."""

from __future__ import annotations

import asyncio
import time

from gateway.services.polling import Wakeup, work_forever


async def test_a_nudge_during_a_call_runs_the_next_call_at_once() -> None:
    wakeup = Wakeup()
    calls: list[float] = []

    async def run_once() -> int:
        calls.append(time.monotonic())
        if len(calls) == 1:
            # Work stored while this call was looking, too late for it to see.
            wakeup.set()
        return 0

    task = asyncio.create_task(work_forever(run_once, wakeup, idle_poll=60, name="test"))
    try:
        for _ in range(200):
            if len(calls) >= 2:
                break
            await asyncio.sleep(0.01)
        # Without the nudge the second call would come after the 60 s poll.
        assert len(calls) >= 2
        assert len(calls) == 2  # and then it waits: nothing nudged it again
    finally:
        task.cancel()
